#!/bin/bash
# Hostile cases, each a defect once: symlinks planted where etcd-dr writes
# (the repository lock, export's output and its old temp name, restore's
# archives, the metrics file) are never written through; restore archives
# are 0600; a symlinked cluster directory is listed and restored like any
# other; verify --all fails on every broken backup instead of warning; a
# data file renamed over another backup is caught by the manifest sealed
# inside it; only verdicts on a backup are recorded (not a bad key file or
# an unknown id); a restore --all-members that fails on its second member
# (disk full) leaves every member as it was; secrets are not printed by
# config check, not accepted in the config file, not handed to the drill's
# etcd or to hooks, and no core is dumped; a killed drill takes its etcd
# with it, and the next run removes what killed runs left.
BASE_PORT=24600
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /h/ 2000 100 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster c)
K=(--identity "$T/k.key")
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" -q || bail "backup failed"
ctl put /h/later x >/dev/null
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" -q || bail "backup failed"
IDS=($("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(sys.stdin)))'))
B1=${IDS[0]} B2=${IDS[1]}
victim() { printf 'precious\n' >"$T/victim"; }
intact() { test "$(cat "$T/victim")" = precious; }

# --- symlinks where etcd-dr writes
victim
ln -s "$T/victim" "$T/repo/c/.lock.new" && mv "$T/repo/c/.lock.new" "$T/repo/c/.lock"
expect_fail "a symlink planted as the repository lock: refused" 7 "lock file '.*/c/.lock'" \
    "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub"
check "... and its target was not truncated" intact
rm "$T/repo/c/.lock"

victim
ln -s "$T/victim" "$T/out.db.part"
ln -s "$T/victim" "$T/out.db"
check "export over a symlink (and one at the old FILE.part name)" \
    "$EDR" export "$B1" "${R[@]}" "${K[@]}" -o "$T/out.db" -q
check "... the link was replaced by the snapshot, its target untouched" \
    sh -c "test ! -L '$T/out.db' && test \$(( \$(stat -c %s '$T/out.db') % 512 )) = 32 && test \"\$(cat '$T/victim')\" = precious"
check "... the export is 0600" test "$(stat -c %a "$T/out.db")" = 600

victim
mkdir -p "$T/arch"
ln -s "$T/victim" "$T/arch/one.tar.gz.part"
ln -s "$T/victim" "$T/arch/one.tar.gz"
check "restore --output-archives over planted symlinks" "$EDR" restore "$B1" "${R[@]}" "${K[@]}" \
    --name one --initial-cluster one=http://127.0.0.1:$((BASE_PORT + 11)) --output-archives "$T/arch" -q
check "... their target untouched, the archive a real file" sh -c "test ! -L '$T/arch/one.tar.gz' && $(declare -f intact); T='$T' intact"
check "... and the archive (a whole plaintext database) is 0600 whatever the umask" \
    test "$(stat -c %a "$T/arch/one.tar.gz")" = 600

victim
ln -s "$T/victim" "$T/metrics.prom"
check "backup with --metrics-file a planted symlink" "$EDR" backup --endpoints "$EP" \
    --repo "$T/repo2" --cluster m --recipient "$T/k.pub" --metrics-file "$T/metrics.prom" -q
check "... the metrics file replaced the link, its target untouched" \
    sh -c "test ! -L '$T/metrics.prom' && grep -q etcd_dr '$T/metrics.prom' && test \"\$(cat '$T/victim')\" = precious"

# --- a cluster directory that is a link to another volume
mkdir -p "$T/elsewhere/c2" "$T/repo3"
ln -s "$T/elsewhere/c2" "$T/repo3/linked"
check "backup into a symlinked cluster directory" "$EDR" backup --endpoints "$EP" \
    --repo "$T/repo3" --cluster linked --recipient "$T/k.pub" -q
check "... list sees it" sh -c "'$EDR' list --repo '$T/repo3' --cluster linked --json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)) == 1 else 1)'"
check "... restore finds it" "$EDR" restore latest --repo "$T/repo3" --cluster linked "${K[@]}" \
    --name l --initial-cluster l=http://127.0.0.1:$((BASE_PORT + 12)) --data-dir "$T/linked-restore" -q

# --- verify --all over a damaged repository
cp -a "$T/repo" "$T/dmg"
"$EDR" backup --endpoints "$EP" --repo "$T/dmg" --cluster c --recipient "$T/k.pub" -q
IDS3=($("$EDR" list --repo "$T/dmg" --cluster c --json | python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(sys.stdin)))'))
head -c 100 "$T/dmg/c/$B1.json" >"$T/dmg/c/$B1.json.cut" && mv "$T/dmg/c/$B1.json.cut" "$T/dmg/c/$B1.json"
rm "$T/dmg/c/$B2.edr"
"$EDR" verify --all --repo "$T/dmg" --cluster c "${K[@]}" --json >"$T/all.json" 2>"$T/all.err"
RC=$?
check "verify --all with a truncated manifest and a missing data file: exit 9 ($RC)" test "$RC" = 9
check "... every backup is in the result, the two broken ones failed, the good one ok" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
res = {r["id"]: r["ok"] for r in d["results"]}
assert d["ok"] is False, d
assert res == {sys.argv[2]: False, sys.argv[3]: False, sys.argv[4]: True}, res
' "$T/all.json" "$B1" "$B2" "${IDS3[2]}"

# --- a backup's data renamed over another backup, outer manifest edited
cp -a "$T/repo" "$T/sub"
cp "$T/sub/c/$B2.edr" "$T/sub/c/$B1.edr"
python3 - "$T/sub/c/$B1.json" "$T/sub/c/$B2.json" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("stored_size", "stored_sha256", "db_size", "db_sha256"):
    a[k] = b[k]
json.dump(a, open(sys.argv[1], "w"))
PY
expect_fail "a data file renamed over another backup (manifest edited to match): exit 9" 9 \
    "manifest inside the backup does not match the one beside it \(id:" \
    "$EDR" verify "$B1" --repo "$T/sub" --cluster c "${K[@]}" --level content

# --- only verdicts on the backup are recorded
rm -f "$T/repo/c/"*.verify.json
cp "$T/k.key" "$T/loose.key"
chmod 644 "$T/loose.key"
expect_fail "verify with a world-readable key file: a key error" 10 "loose.key" \
    "$EDR" verify "$B1" "${R[@]}" --identity "$T/loose.key" --level content
check "... not recorded against the backup" test ! -e "$T/repo/c/$B1.verify.json"
expect_fail "verify of an unknown id" 8 "nosuch" "$EDR" verify nosuch "${R[@]}" "${K[@]}"
check "... writes no record at all" sh -c "! ls '$T'/repo/c/*.verify.json 2>/dev/null"
check "a real verdict is still recorded" sh -c "'$EDR' verify $B1 ${R[*]} ${K[*]} -q && test -e '$T/repo/c/$B1.verify.json'"

# --- secrets: never printed, never handed to children, no core dumps
SECRET=s3cr3t-$$-pw
printf '[etcd]\nuser = root:%s\n' "$SECRET" >"$T/pw.conf"
expect_fail "a config file with user = NAME:PASSWORD is refused" 3 "'user': a password" \
    "$EDR" config check --config "$T/pw.conf"
: >"$T/empty.conf"
ETCDCTL_USER="root:$SECRET" "$EDR" config check --config "$T/empty.conf" >"$T/cc.out" 2>&1
check "config check shows ETCDCTL_USER's name, not its password" \
    sh -c "grep -q 'root:<redacted>' '$T/cc.out' && ! grep -q '$SECRET' '$T/cc.out'"
printf '#!/bin/sh\nenv >"%s/child.env"\nexec sleep 2\n' "$T" >"$T/env-etcd"
chmod +x "$T/env-etcd"
ETCD_DR_PASSWORD=$SECRET AWS_SECRET_ACCESS_KEY=$SECRET ETCDCTL_USER="root:$SECRET" ETCD_NAME=x \
    "$EDR" verify "$B1" "${R[@]}" "${K[@]}" --drill --etcd-bin "$T/env-etcd" >/dev/null 2>&1
check "the drill's etcd gets no secret and no ETCD_* variable (etcd logs them with their values)" \
    sh -c "test -s '$T/child.env' && ! grep -q '$SECRET' '$T/child.env' && ! grep -q '^ETCD' '$T/child.env'"
ETCD_DR_PASSWORD=$SECRET AWS_SECRET_ACCESS_KEY=$SECRET "$EDR" backup --endpoints "$EP" \
    --repo "$T/repo4" --cluster h --recipient "$T/k.pub" -q --on-success "env >'$T/hook.env'"
check "a hook gets the result but not the run's secrets" \
    sh -c "grep -q '^ETCD_DR_RESULT=ok' '$T/hook.env' && ! grep -q '$SECRET' '$T/hook.env'"
printf '#!/bin/sh\nexec sleep 30\n' >"$T/slow-etcd"
chmod +x "$T/slow-etcd"
"$EDR" verify "$B1" "${R[@]}" "${K[@]}" --drill --etcd-bin "$T/slow-etcd" >/dev/null 2>&1 &
SPID=$!
_pids="$_pids $SPID"
for _ in $(seq 100); do pgrep -f "$T/slow-etcd" >/dev/null && break; sleep 0.1; done
check "no core dumps (RLIMIT_CORE 0): the process holds decrypted data and keys" \
    sh -c "grep 'Max core file size' /proc/$SPID/limits | grep -q '  0  *0 '"
kill $SPID 2>/dev/null
wait $SPID 2>/dev/null

# --- what killed runs leave is cleaned up by the next run
"$EDR" keygen -o "$T/k2" >/dev/null
(exec sleep 0) & DEAD=$!
wait $DEAD
mkdir -p "$T/rs" "$T/rs/m.etcd-dr-tmp-$DEAD/member"
echo plaintext >"$T/rs/.etcd-dr-prepared.db.tmp.$DEAD.0123456789abcdef"
check "a restore next to what a killed restore left" "$EDR" restore "$B1" "${R[@]}" "${K[@]}" --name m \
    --initial-cluster m=http://127.0.0.1:$((BASE_PORT + 13)) --data-dir "$T/rs/m" -q
check "... removed its temp dir and its plaintext db" sh -c "test \$(ls -A '$T/rs') = m"
mkdir -p "$T/drilltmp"
TMPDIR="$T/drilltmp" "$EDR" verify "$B1" "${R[@]}" "${K[@]}" --drill >/dev/null 2>&1 &
DPID=$!
for _ in $(seq 200); do pgrep -f "$T/drilltmp/etcd-dr-drill" >/dev/null && break; sleep 0.05; done
kill -9 $DPID
wait $DPID 2>/dev/null
sleep 0.5
check "a drill killed by SIGKILL does not leave its etcd running" sh -c "! pgrep -f '$T/[d]rilltmp/etcd-dr-drill'"
check "... the next drill removes the directory it left" sh -c \
    "TMPDIR='$T/drilltmp' '$EDR' verify $B1 ${R[*]} ${K[*]} --drill -q && test -z \"\$(ls -A '$T/drilltmp')\""

# --- smaller ones
expect_fail "a cluster name with '..' inside is refused up front" 2 "'\.\.' is not allowed" \
    "$EDR" backup --endpoints "$EP" --repo "$T/repo5" --cluster 'x..y' --recipient "$T/k.pub"
check "restore with a one-member --initial-cluster and no --name restores that member" \
    "$EDR" restore "$B1" "${R[@]}" "${K[@]}" --initial-cluster solo=http://127.0.0.1:$((BASE_PORT + 14)) \
    --data-dir "$T/solo" -q
expect_fail "a member name that is not a path component is refused" 2 "member name '\.\.' cannot be used in a path" \
    "$EDR" restore "$B1" "${R[@]}" "${K[@]}" --all-members --initial-cluster "..=http://127.0.0.1:$((BASE_PORT + 15))" \
    --data-dir "$T/names/{name}/d"
check "... and nothing was written" test ! -e "$T/names"
"$EDR" backup --endpoints "$EP" --repo "$T/repo6" --cluster p --recipient "$T/k.pub" -q
sleep 1
"$EDR" backup --endpoints "$EP" --repo "$T/repo6" --cluster p --recipient "$T/k.pub" --prune --keep-last 1 \
    --json >"$T/prune.json"
check "backup --prune --json prints one JSON document with the prune decisions in it" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["result"] == "ok" and [x["action"] for x in d["prune"]] == ["keep", "remove"], d
' "$T/prune.json"
check "--keep-yearly exists (the retention hint names it)" "$EDR" prune --repo "$T/repo6" --cluster p --keep-yearly 2 -q
cp -a "$T/repo" "$T/newbad"
echo '{"format": 1, "id": "broken' >"$T/newbad/c/${B2}.json"
"$EDR" export latest --repo "$T/newbad" --cluster c "${K[@]}" -o "$T/older.db" 2>"$T/newbad.err"
check "'latest' with the newest backup damaged says so, naming both" \
    sh -c "grep -q \"warning: the newest backup 'c/$B2' is DAMAGED\" '$T/newbad.err' && grep -q \"'latest' is the older 'c/$B1'\" '$T/newbad.err'"

LONG="$T/deep/$(python3 -c 'print("a/" * 3000)')"
expect_fail "a 6 KB --data-dir is refused whole" 2 "longer than 1024 bytes" \
    "$EDR" restore "$B1" "${R[@]}" "${K[@]}" --name solo --initial-cluster solo=http://127.0.0.1:$((BASE_PORT + 14)) \
    --data-dir "$LONG"
check "... before a single directory was made" test ! -e "$T/deep"
"$EDR" verify $'\xff\xfe' "${R[@]}" "${K[@]}" --json >"$T/nonascii.json" 2>"$T/nonascii.err"
RC=$?
check "a non-UTF-8 id: not found (exit $RC), said in one line, and the JSON result is there" sh -c \
    "test $RC = 8 && grep -q 'not printable ASCII' '$T/nonascii.err' && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d[\"results\"]) == 1 else 1)' '$T/nonascii.json'"

# --- restore --all-members, disk full on the second member: none changed
IC="a=http://127.0.0.1:$((BASE_PORT + 21)),b=http://127.0.0.1:$((BASE_PORT + 22)),c=http://127.0.0.1:$((BASE_PORT + 23))"
if [ "$(id -u)" = 0 ] && mkdir -p "$T/full/a" "$T/full/b" "$T/full/c" &&
    mount -t tmpfs -o size=512k tmpfs "$T/full/b" 2>/dev/null; then
    for m in a b c; do mkdir -p "$T/full/$m/data" && echo "old $m" >"$T/full/$m/data/marker"; done
    expect_fail "restore --all-members --force with member b's disk full: exit 12" 12 \
        "No space left on device" "$EDR" restore "$B1" "${R[@]}" "${K[@]}" --all-members --force \
        --initial-cluster "$IC" --data-dir "$T/full/{name}/data"
    check "... every member's old data dir is back in place, none half-restored" sh -c \
        "for m in a b c; do test \"\$(cat '$T'/full/\$m/data/marker)\" = \"old \$m\" && test ! -e '$T'/full/\$m/data/member || exit 1; done"
    check "... and nothing was left beside them" sh -c \
        "test \$(ls -A '$T/full/a' | wc -l) = 1 && test \$(ls -A '$T/full/c' | wc -l) = 1 && test \$(ls -A '$T/full/b' | wc -l) = 1"
    umount "$T/full/b"
else
    skip "restore --all-members with a full disk (needs root to mount a tmpfs)"
fi
done_testing
