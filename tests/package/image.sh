#!/bin/bash
# The container image's root, proven instead of hoped: builds the root the
# Dockerfile builds (Debian 12 minbase by debootstrap plus the packages of
# scripts/image/packages, then scripts/image/setup.sh run inside it, then the
# binary at /usr/bin/etcd-dr) and runs etcd-dr in it as the image runs it:
# chrooted, UID/GID 65532, an empty environment, its own PID namespace and
# /proc (restore reads /proc/self/fd), the root read-only, a fresh tmpfs on
# /tmp and a writable volume on /var/lib/etcd-dr (what the CronJob of
# examples/kubernetes gives it). Inside: keygen, a backup of a test etcd
# (started outside, on 127.0.0.1) to S3 over HTTPS trusted only through the
# root's CA bundle, list, verify, and a native restore into the volume; etcd
# then starts outside on the restored data dir and must serve the same keys.
# debootstrap downloads: its root is cached as a tarball under
# ~/.cache/etcd-dr/image-root/, keyed by the package list (EDR_DEBIAN_MIRROR
# picks the mirror). Needs root (chroot, mounts), debootstrap, node (S3).
# Ports BASE_PORT..+99: etcd +1/+2, restored member +11/+12, S3 front +20/+21.
BASE_PORT=21400
. "$(dirname "$0")/../integration/lib.sh"
require_etcd
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
s3_test_prepare
[ "$(id -u)" -eq 0 ] || bail "needs root (chroot and mounts)"
command -v debootstrap >/dev/null || bail "debootstrap is not installed"
PKGS=$SRCDIR/scripts/image/packages
UID_=65532

# ---- the recipe agrees with this test and with the CronJob ----------------------
# lines of the final stage of the Dockerfile this test stands for, and the CronJob's pod
python3 - "$SRCDIR/Dockerfile" "$SRCDIR/examples/kubernetes/cronjob.yaml" "$UID_" >"$T/recipe" <<'PY'
import re, sys, yaml
df = open(sys.argv[1]).read()
uid = int(sys.argv[3])
final = df[df.rindex("\nFROM "):]
def r(good, desc):
    print(("ok|" if good else "not ok|") + desc)
r(re.search(r"^FROM debian:12-slim$", final, re.M), "Dockerfile: the image is FROM debian:12-slim")
r("COPY scripts/image/setup.sh scripts/image/packages /tmp/image/\n" in final and
  "RUN sh /tmp/image/setup.sh /tmp/image/packages && rm -rf /tmp/image\n" in final,
  "Dockerfile: the root is made by scripts/image/setup.sh and packages, as here")
r(re.search(r"^COPY --from=build \S+ /usr/bin/etcd-dr$", final, re.M), "Dockerfile: the binary is /usr/bin/etcd-dr")
r(re.search(r"^USER %d:%d$" % (uid, uid), final, re.M), "Dockerfile: USER %d:%d" % (uid, uid))
r(re.search(r'^ENTRYPOINT \["/usr/bin/etcd-dr"\]$', final, re.M) and
  not re.search(r"^(CMD|ENTRYPOINT) [^\[]", final, re.M) and "SHELL" not in final,
  "Dockerfile: exec-form entry point, no shell at run time")
cj = [d for d in yaml.safe_load_all(open(sys.argv[2])) if d and d.get("kind") == "CronJob"][0]
pod = cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
psc = pod.get("securityContext", {})
r(psc.get("runAsNonRoot") is True and psc.get("runAsUser") == uid and psc.get("runAsGroup") == uid,
  "CronJob: runAsNonRoot as %d:%d, the image's user" % (uid, uid))
vols = {v["name"]: v for v in pod.get("volumes", [])}
for c in pod["containers"]:
    sc = c.get("securityContext", {})
    r(sc.get("readOnlyRootFilesystem") is True, "CronJob: read-only root file system")
    tmp = [m for m in c.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    r(len(tmp) == 1 and "emptyDir" in vols.get(tmp[0]["name"], {}), "CronJob: /tmp is an emptyDir")
    r("command" not in c and c.get("args", [""])[0] == "backup",
      "CronJob: the entry point runs etcd-dr backup (no command, no shell)")
PY
while IFS='|' read -r status desc; do
    if [ "$status" = ok ]; then ok "$desc"; else not_ok "$desc"; fi
done <"$T/recipe"
[ -s "$T/recipe" ] || not_ok "the Dockerfile and the CronJob could not be read"

# ---- the root -----------------------------------------------------------------
MIRROR=${EDR_DEBIAN_MIRROR:-http://deb.debian.org/debian}
list=$(sed -e 's/#.*//' "$PKGS" | tr -s ' \n' '\n' | sed '/^$/d' | sort | paste -sd, -)
key=$(printf 'bookworm minbase %s\n' "$list" | sha256sum | cut -c1-16)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/image-root
TARBALL=$CACHE/bookworm-minbase-$key.tar.gz
if [ ! -s "$TARBALL" ]; then
    diag "debootstrap bookworm minbase + $list (cached as $TARBALL)"
    mkdir -p "$CACHE"
    debootstrap --variant=minbase --include="$list" bookworm "$T/boot" "$MIRROR" \
        >"$T/debootstrap.log" 2>&1 || { tail -20 "$T/debootstrap.log" | sed 's/^/#   /'; bail "debootstrap failed"; }
    rm -f "$T/boot"/var/cache/apt/archives/*.deb
    tar -C "$T/boot" --numeric-owner -czf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL" ||
        bail "could not write $TARBALL"
    rm -rf "$T/boot"
    # the roots of older package lists
    find "$CACHE" -name 'bookworm-minbase-*.tar.gz' ! -path "$TARBALL" -delete
fi
R=$T/root
mkdir "$R"
tar -C "$R" --numeric-owner -xpzf "$TARBALL" || bail "could not unpack $TARBALL"
# what the Dockerfile does after FROM: the same script and list, then the binary
mkdir -p "$R/tmp/image"
cp "$SRCDIR/scripts/image/setup.sh" "$PKGS" "$R/tmp/image/"
check "scripts/image/setup.sh runs in the root" chroot "$R" sh /tmp/image/setup.sh /tmp/image/packages
rm -rf "$R/tmp/image"
install -m 0755 "$EDR" "$R/usr/bin/etcd-dr"
check "the user etcd-dr is UID/GID $UID_ with no login shell" \
    test "$(chroot "$R" getent passwd etcd-dr | cut -d: -f3,4,7)" = "$UID_:$UID_:/usr/sbin/nologin"
check "the root has no package lists left" test -z "$(ls -A "$R/var/lib/apt/lists" 2>/dev/null | grep -v '^partial$\|^lock$')"

# the volume on /var/lib/etcd-dr, owned by the user (as an fsGroup volume would be)
V=$T/volume
install -d -o "$UID_" -g "$UID_" -m 0700 "$V"
# the test CA, added to the root's bundle the way an image derived from this one would
P=$T/pki
mkdir -p "$P"
mkca ca
openssl req -newkey rsa:2048 -nodes -keyout "$P/s3-key.pem" -out "$P/s3.csr" -subj "/CN=s3" \
    >/dev/null 2>&1
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth" >"$P/s3.ext"
openssl x509 -req -in "$P/s3.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
    -out "$P/s3.pem" -days 2 -extfile "$P/s3.ext" >/dev/null 2>&1 || bail "no server certificate"
cp "$P/ca.pem" "$R/usr/local/share/ca-certificates/etcd-dr-test.crt"
check "update-ca-certificates adds the test CA to the root's bundle" \
    sh -c "chroot '$R' update-ca-certificates >/dev/null 2>&1 && grep -q \"\$(sed -n 2p '$P/ca.pem')\" '$R/etc/ssl/certs/ca-certificates.crt'"

# inroot ARGS...: etcd-dr ARGS in the image's conditions (see the header); the
# environment holds only HOME and the S3 credentials. VOL=ro mounts the volume
# read-only, as the CronJob mounts its Secrets: then /tmp is the only writable place.
inroot() {
    unshare --mount --pid --fork -- sh -c '
        R=$1 V=$2 CHROOT=$3 VOL=$4
        shift 4
        mount --bind "$R" "$R" && mount -o remount,bind,ro "$R" &&
            mount -t tmpfs -o mode=1777,size=64m tmpfs "$R/tmp" &&
            mount --bind "$V" "$R/var/lib/etcd-dr" &&
            mount -o "remount,bind,$VOL" "$R/var/lib/etcd-dr" &&
            mount -t proc proc "$R/proc" || exit 125
        exec env -i HOME=/var/lib/etcd-dr AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=sekret \
            "$CHROOT" --userspec='"$UID_:$UID_"' "$R" /usr/bin/etcd-dr "$@"' sh "$R" "$V" "$(command -v chroot)" "${VOL:-rw}" "$@"
}
inroot_ro() { VOL=ro inroot "$@"; }

check "etcd-dr --version runs in the root (every library found)" inroot --version
check "as UID $UID_, not root" sh -c "test \"\$(unshare --mount --fork chroot --userspec=$UID_:$UID_ '$R' id -u)\" = $UID_"
check "the root file system is read-only to it" \
    sh -c "! chroot --userspec=$UID_:$UID_ '$R' touch /usr/bin/x 2>/dev/null && ! unshare --mount --fork sh -c 'mount --bind \"$R\" \"$R\" && mount -o remount,bind,ro \"$R\" && touch \"$R/x\"' 2>/dev/null"

# ---- servers outside: etcd and S3 over HTTPS ----------------------------------
S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 20)) S3_BUCKETS=bkt
S3_TLS_CERT=$P/s3.pem S3_TLS_KEY=$P/s3-key.pem
s3_start || bail "$S3_WHY"
EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /img/ 2000 64 || bail "could not load keys"
ctl put /img/utf8 "grüße aus dem container" >/dev/null || bail "put failed"
dump "$EP" "$T/src.dump"

S3=(--repo s3://bkt/prod --cluster img --s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
check "keygen in the volume" inroot keygen -o /var/lib/etcd-dr/k
check "backup to S3 over HTTPS (CA from the root's bundle, no --s3-cacert), only /tmp writable" \
    inroot_ro backup --endpoints "$EP" "${S3[@]}" --recipient /var/lib/etcd-dr/k.pub --no-progress
check "the backup reached the bucket" sh -c "ls -R '$S3_DATA/bkt' | grep -q '\\.edr'"
check "list shows one backup" test "$(inroot_ro list "${S3[@]}" --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" = 1
check "verify latest --level content" inroot_ro verify latest "${S3[@]}" --identity /var/lib/etcd-dr/k.key --level content
check "native restore into the volume" inroot restore latest "${S3[@]}" \
    --identity /var/lib/etcd-dr/k.key --name m1 \
    --initial-cluster m1=http://127.0.0.1:$((BASE_PORT + 12)) --initial-cluster-token img \
    --data-dir /var/lib/etcd-dr/restored
check "the restored data dir belongs to UID $UID_" test "$(stat -c %u "$V/restored")" = "$UID_"
check "the volume holds the key pair and the data dir, nothing else" \
    test "$(ls -A "$V" | paste -sd' ' -)" = "k.key k.pub restored"
etcd_stop m1
etcd_start_dir m1r "$V/restored" $((BASE_PORT + 11)) $((BASE_PORT + 12))
if wait_healthy http://127.0.0.1:$((BASE_PORT + 11)); then
    dump http://127.0.0.1:$((BASE_PORT + 11)) "$T/r.dump"
    check "etcd on the restored data dir serves every key with its value and revisions" \
        cmp "$T/src.dump" "$T/r.dump"
else
    not_ok "etcd did not start on the restored data dir"
    tail -5 "$T/m1r-restored.log" | sed 's/^/#   /'
fi
etcd_stop m1r

# ---- failures --------------------------------------------------------------------
rm "$R/usr/local/share/ca-certificates/etcd-dr-test.crt"
chroot "$R" update-ca-certificates --fresh >/dev/null 2>&1
expect_fail "without the test CA in the bundle: a TLS error, exit 6" 6 "tls|TLS|certificate" \
    inroot list "${S3[@]}"
done_testing
