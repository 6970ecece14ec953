#!/bin/bash
# verify (stored, content, drill), inspect, get and ls against real etcd:
# inspect gives exactly etcdctl's snapshot status; get/ls equal what the live
# cluster answered at the backup's revision; every kind of damage fails
# verify with the documented exit code and a message naming the place.
BASE_PORT=24200
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /registry/configmaps/default/cm- 6000 60 || bail "load failed"
load_keys "$EP" /registry/configmaps/kube-system/cm- 3000 60 || bail "load failed"
load_keys "$EP" /registry/pods/default/pod- 4000 80 || bail "load failed"
load_keys "$EP" /registry/apiextensions.k8s.io/customresourcedefinitions/crd- 20 80 || bail "load failed"
load_keys "$EP" /plain/ 7000 40 || bail "load failed"
ctl put /registry/configmaps/default/cm-000005 first-version >/dev/null
OLDREV=$(ctl get /registry/configmaps/default/cm-000005 -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')
ctl put /registry/configmaps/default/cm-000005 second-version >/dev/null
ctl del --prefix /plain/0001 >/dev/null
ctl compact $((OLDREV - 20)) >/dev/null
LEASE=$(ctl lease grant 3600 | awk '{print $2}')
ctl put --lease="$LEASE" /registry/leases/kube-node-lease/n1 x >/dev/null
REV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')

"$EDR" keygen -o "$T/k" >/dev/null
"$EDR" keygen -o "$T/wrong" >/dev/null
R=(--repo "$T/repo" --cluster v)
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" -q || bail "backup failed"
ctl put /later x >/dev/null
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" -q || bail "backup failed"
IDS=($("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(sys.stdin)))'))
B1=${IDS[0]} B2=${IDS[1]}
K=(--identity "$T/k.key")

check "verify without a key checks the stored level" sh -c "'$EDR' verify $B1 ${R[*]} | grep -q '^ok *stored'"
check "verify --level content passes" sh -c "'$EDR' verify $B1 ${R[*]} ${K[*]} --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"ok\"] and d[\"results\"][0][\"level\"]==\"content\" else 1)'"
check "verify --drill boots etcd and passes, reporting the RTO" sh -c "'$EDR' verify $B1 ${R[*]} ${K[*]} --drill --json | python3 -c 'import json,sys; d=json.load(sys.stdin)[\"results\"][0]; sys.exit(0 if d[\"ok\"] and d[\"rto_seconds\"] > 0 else 1)'"
check "list shows the last verification" sh -c "'$EDR' list ${R[*]} --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[0][\"last_verify\"][\"ok\"] and d[0][\"last_verify\"][\"level\"]==\"drill\" else 1)'"
expect_fail "--drill without an etcd binary fails clearly" 14 "etcd binary" \
    "$EDR" verify $B1 "${R[@]}" "${K[@]}" --drill --etcd-bin /nonexistent/etcd
# SIGTERM while the drill waits for its etcd (a stand-in that never answers):
# exit 15, the stand-in stopped, the drill directory gone
# (its sleep is this test's port base: unique while the versions run in parallel)
printf '#!/bin/sh\nexec sleep %s\n' "$BASE_PORT" >"$T/fake-etcd"
chmod +x "$T/fake-etcd"
mkdir -p "$T/drilltmp"
TMPDIR="$T/drilltmp" "$EDR" verify $B1 "${R[@]}" "${K[@]}" --drill --etcd-bin "$T/fake-etcd" \
    >/dev/null 2>"$T/drill-term.err" &
DPID=$!
SLEEPING="sleep ${BASE_PORT%?}[${BASE_PORT: -1}]"
for _ in $(seq 100); do pgrep -f "$SLEEPING" >/dev/null && break; sleep 0.1; done
kill -TERM "$DPID"
wait "$DPID"
RC=$?
check "SIGTERM during a drill: exit 15 ($RC) and one error line" sh -c \
    "test $RC = 15 && test \$(grep -c '^etcd-dr: error:.*interrupted' '$T/drill-term.err') = 1"
check "the drill's etcd was stopped" sh -c "! pgrep -f '$SLEEPING'"
check "and its directory removed" test -z "$(ls -A "$T/drilltmp")"
# a TMPDIR too small for the decrypted snapshot: said before any work, exit
# 12; verify --level content and inspect work on the stream and need no room
mkdir -p "$T/small"
if mount -t tmpfs -o size=256k tmpfs "$T/small" 2>/dev/null; then
    TMPDIR="$T/small" expect_fail "ls with a too small TMPDIR: exit 12, says how much is needed" \
        12 "not enough space in '$T/small' .* MiB needed" "$EDR" ls $B1 /plain/ "${R[@]}" "${K[@]}"
    TMPDIR="$T/small" check "verify --level content needs no room in TMPDIR (no plaintext copy)" \
        "$EDR" verify $B1 "${R[@]}" "${K[@]}"
    TMPDIR="$T/small" check "inspect needs none either" "$EDR" inspect $B1 "${R[@]}" "${K[@]}"
    check "nothing is left there" test -z "$(ls -A "$T/small")"
    umount "$T/small"
else
    ok "ls with a too small TMPDIR # SKIP cannot mount a tmpfs here (needs root)"
    ok "verify --level content needs no room in TMPDIR # SKIP cannot mount a tmpfs here"
    ok "inspect needs none either # SKIP cannot mount a tmpfs here"
fi

# inspect == etcdctl snapshot status, on the backup and on the exported file
"$EDR" export $B1 "${R[@]}" "${K[@]}" -o "$T/b1.db" -q
snapctl snapshot status "$T/b1.db" -w json >"$T/ctl.json" 2>/dev/null
"$EDR" inspect $B1 "${R[@]}" "${K[@]}" --json >"$T/ins.json"
"$EDR" inspect "$T/b1.db" --json >"$T/insf.json"
same4() {
    python3 - "$T/ctl.json" "$1" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
# etcdutl 3.6+ also print the storage version as "version"
keys = [k for k in ("hash", "revision", "totalKey", "totalSize", "version") if k in a]
print([(k, a[k], b.get(k)) for k in keys])
sys.exit(0 if all(a[k] == b.get(k) for k in keys) else 1)
PY
}
check "inspect on the backup: hash, revision, total keys, total size (3.6+: version) equal etcd's status tool's" same4 "$T/ins.json"
check "inspect on the exported .db: the same four numbers" same4 "$T/insf.json"
# the backup is inspected on the stream, the .db file by reading it: the
# same report in every field, Kubernetes view included
check "inspect on the stream = inspect of the file, field for field" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
a.pop("source"); b.pop("source")
# only a backup knows which etcd made it (its manifest), a plain .db does not
assert a["details"].pop("etcd_version") != "" and b["details"].pop("etcd_version") == "", (a, b)
assert a["kubernetes"]["objects"] > 0, a
assert a == b, (a, b)
' "$T/ins.json" "$T/insf.json"
k8s() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["kubernetes"]; r={x["name"]:x["count"] for x in d["resources"]}; n={x["name"]:x["count"] for x in d["namespaces"]}; print(r.get(sys.argv[2]), n.get(sys.argv[3]))' "$T/ins.json" "$1" "$2"; }
check "Kubernetes view: 9000 configmaps, 4000 pods, 20 CRDs, namespaces counted" test "$(k8s configmaps default) $(k8s pods kube-system) $(k8s apiextensions.k8s.io/customresourcedefinitions x)" = "9000 10000 4000 3000 20 None"
check "inspect's revision is the source's ($REV)" sh -c "grep -q '\"revision\": $REV' '$T/ins.json'"

# get and ls against the live cluster at the backup's revision
V=$("$EDR" get $B1 /registry/configmaps/default/cm-000005 "${R[@]}" "${K[@]}")
check "get prints the value at the backup's revision" test "$V" = second-version
V2=$(ctl get /registry/configmaps/default/cm-000005 --rev "$REV" --print-value-only)
check "get equals etcdctl get --rev $REV" test "$V" = "$V2"
V3=$("$EDR" get $B1 /registry/configmaps/default/cm-000005 --rev "$OLDREV" "${R[@]}" "${K[@]}")
check "get --rev reads an older revision still in the history" test "$V3" = first-version
check "get -o json has the metadata" sh -c "'$EDR' get $B1 /registry/configmaps/default/cm-000005 -o json ${R[*]} ${K[*]} | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"value\"]==\"second-version\" and d[\"version\"]==3 else 1)'"
LS=$("$EDR" ls $B1 /plain/ "${R[@]}" "${K[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
LIVE=$(ctl get --prefix /plain/ --keys-only --rev "$REV" | grep -c .)
check "ls /plain/ lists as many keys as etcd had at the backup ($LS vs $LIVE)" test "$LS" = "$LIVE"
"$EDR" ls $B1 /registry/pods/ "${R[@]}" "${K[@]}" --json | python3 -c 'import json,sys; print("\n".join(sorted(x["key"]+" "+str(x["mod_revision"]) for x in json.load(sys.stdin))))' >"$T/ls.txt"
ctl get --prefix /registry/pods/ --rev "$REV" -w json | python3 -c 'import json,sys,base64; print("\n".join(sorted(base64.b64decode(k["key"]).decode()+" "+str(k["mod_revision"]) for k in json.load(sys.stdin)["kvs"])))' >"$T/live.txt"
check "ls keys and mod revisions equal the live cluster's" cmp "$T/ls.txt" "$T/live.txt"
expect_fail "get of a missing key" 8 "not found" "$EDR" get $B1 /nope "${R[@]}" "${K[@]}"
expect_fail "get below the compaction" 8 "compacted" "$EDR" get $B1 /plain/000001 --rev 2 "${R[@]}" "${K[@]}"
check "no plaintext left in TMPDIR after inspect/get/ls" sh -c "! ls -a \${TMPDIR:-/tmp} | grep -q etcd-dr-spool"

# damage: every case on a fresh copy of the repository
DATA="$T/repo/v/$B2.edr"
SIZE=$(stat -c %s "$DATA")
HDR=124 CH=65553
diag "data file $SIZE bytes, $(( (SIZE - HDR) / CH + 1 )) chunks"
fresh() { rm -rf "$T/bad"; cp -a "$T/repo" "$T/bad"; }
flip() { python3 -c 'import sys; f=open(sys.argv[1],"r+b"); o=int(sys.argv[2]); f.seek(o); b=f.read(1); f.seek(o); f.write(bytes([b[0]^0x40]))' "$T/bad/v/$B2.edr" "$1"; }
BV=(--repo "$T/bad" --cluster v)
case_fail() { # case_fail NAME EXIT PATTERN: content verify fails, stored too (unless key case)
    expect_fail "content verify: $1" "$2" "$3" "$EDR" verify "$B2" "${BV[@]}" "${K[@]}"
}
fresh; flip 20
case_fail "a flipped byte in the header" 9 "$B2.*(authentication failed|header)"
expect_fail "stored verify catches the header flip without a key" 9 "sha256 mismatch" "$EDR" verify "$B2" "${BV[@]}"
fresh; flip $((HDR + 100))
case_fail "a flipped byte in the first chunk" 9 "chunk 1: authentication failed"
fresh; flip $((HDR + CH * 3 + 500))
case_fail "a flipped byte in a middle chunk" 9 "chunk 4: authentication failed"
fresh; flip $((SIZE - 3))
case_fail "a flipped byte in the last chunk" 9 "chunk [0-9]+: authentication failed"
expect_fail "stored verify catches it too" 9 "sha256 mismatch" "$EDR" verify "$B2" "${BV[@]}"
fresh; truncate -s $((SIZE - 1)) "$T/bad/v/$B2.edr"
case_fail "truncated by one byte" 9 "authentication failed|truncated"
fresh; truncate -s $((SIZE / 2)) "$T/bad/v/$B2.edr"
case_fail "truncated by half" 9 "authentication failed|truncated"
expect_fail "stored verify catches truncation" 9 "size" "$EDR" verify "$B2" "${BV[@]}"
fresh; cp "$T/repo/v/$B1.edr" "$T/bad/v/$B2.edr"
case_fail "the data file of another backup swapped in" 9 "does not match the manifest"
fresh; python3 -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); h=d["stored_sha256"]; d["stored_sha256"]=("0" if h[0]!="0" else "1")+h[1:]; json.dump(d,open(p,"w"))' "$T/bad/v/$B2.json"
case_fail "a manifest whose hash was edited" 9 "does not match the manifest"
expect_fail "stored verify catches the edited manifest" 9 "sha256 mismatch" "$EDR" verify "$B2" "${BV[@]}"
fresh
expect_fail "content verify with a wrong identity key" 10 "not encrypted to key" "$EDR" verify "$B2" "${BV[@]}" --identity "$T/wrong.key"

# verify --all names only the bad backup; JUnit for CI
fresh; flip $((HDR + 100))
"$EDR" verify --all "${BV[@]}" "${K[@]}" --junit "$T/junit.xml" >"$T/all.out" 2>&1
RC=$?
check "verify --all exits non-zero with one bad backup (exit $RC)" test "$RC" = 9
check "it names the bad backup as FAIL" grep -q "^FAIL .*$B2" "$T/all.out"
check "and the good one as ok" grep -q "^ok .*$B1" "$T/all.out"
check "JUnit XML has 2 tests and 1 failure" sh -c "python3 -c 'import xml.etree.ElementTree as E,sys; r=E.parse(sys.argv[1]).getroot(); sys.exit(0 if r.get(\"tests\")==\"2\" and r.get(\"failures\")==\"1\" else 1)' '$T/junit.xml'"

# a db corrupted before encryption: stored and decrypted fine, but not a sound db
python3 - "$T/b1.db" "$T/corrupt.db" <<'PY'
import hashlib, struct, sys
d = bytearray(open(sys.argv[1], "rb").read()[:-32])
ps = struct.unpack_from("<I", d, 24)[0]
for p in range(len(d) // ps // 2, len(d) // ps):
    if struct.unpack_from("<H", d, p * ps + 8)[0] == 0x02:
        struct.pack_into("<Q", d, p * ps, 7)  # page id no longer its own
        break
open(sys.argv[2], "wb").write(bytes(d) + hashlib.sha256(d).digest())
PY
"$EDR" import "$T/corrupt.db" --repo "$T/crepo" --cluster v --recipient "$T/k.pub" -q 2>/dev/null
check "import stored the corrupted db" test "$(ls "$T/crepo/v" | grep -c '\.edr$')" = 1
expect_fail "--drill fails on a backup whose db was corrupted before encryption" 9 "page [0-9]+" \
    "$EDR" verify latest --repo "$T/crepo" --cluster v "${K[@]}" --drill
check "... while its stored bytes verify fine" "$EDR" verify latest --repo "$T/crepo" --cluster v --level stored
# content level: the checks on the stream meet a page the capture could not
# place (its id is not its own) and check a spooled copy, which names it
expect_fail "verify --level content fails on it, naming the page" 9 "page [0-9]+: id mismatch" \
    "$EDR" verify latest --repo "$T/crepo" --cluster v "${K[@]}"
check "... after saying it checks a spooled copy" sh -c \
    "'$EDR' verify latest --repo '$T/crepo' --cluster v ${K[*]} --log-level info 2>&1 | grep -q 'checking a spooled copy'"
# a sound db the capture does not take (1 KiB pages): verified from a spool,
# with the numbers of the 4 KiB original
if [ -x "${EDR_BUILDDIR:-}/tests/unit/mvcc/mvcc_status" ]; then
    "$EDR_BUILDDIR/tests/unit/mvcc/mvcc_status" copy "$T/b1.db" "$T/p1k.db" 1024
    python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); open(sys.argv[1],"ab").write(hashlib.sha256(d).digest())' "$T/p1k.db"
    "$EDR" import "$T/p1k.db" --repo "$T/krepo" --cluster v --recipient "$T/k.pub" -q 2>/dev/null
    "$EDR" verify latest --repo "$T/krepo" --cluster v "${K[@]}" --json --log-level info \
        >"$T/p1k.json" 2>"$T/p1k.err"
    "$EDR" verify $B1 "${R[@]}" "${K[@]}" --json >"$T/p4k.json"
    check "a 1 KiB-page copy verifies from a spooled copy, same hash and keys as the original" \
        python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["results"][0]
b = json.load(open(sys.argv[2]))["results"][0]
assert a["ok"] and b["ok"], (a, b)
assert "checking a spooled copy" in open(sys.argv[3]).read()
for f in ("hash", "revision", "total_keys", "live_keys"):
    assert a[f] == b[f], (f, a[f], b[f])
' "$T/p1k.json" "$T/p4k.json" "$T/p1k.err"
else
    ok "a 1 KiB-page copy verifies from a spooled copy # SKIP mvcc_status not built"
fi
done_testing
