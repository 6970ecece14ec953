#!/bin/bash
# Backup of a single member with >= 20k keys across many revisions (puts,
# overwrites, deletes, leases), export, comparison with etcdctl's own
# snapshot, etcdctl restore of the export, and every kind of damaged backup.
BASE_PORT=23100
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"

load_keys "$EP" /data/ 20200 40 || bail "loading keys failed"
load_keys "$EP" /data/ 2000 60 || bail "overwrites failed"          # overwrites of the first 2000
ctl del --prefix /data/0199 >/dev/null                                 # deletes
LEASE=$(ctl lease grant 3600 | awk '{print $2}')
for i in 1 2 3; do ctl put --lease="$LEASE" /leased/$i v$i >/dev/null; done
ctl put /bin/tab "$(printf 'a\tb')" >/dev/null
REV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
diag "source revision $REV"

check "keygen writes a key pair" "$EDR" keygen -o "$T/k"
check "secret key is mode 0600" test "$(stat -c %a "$T/k.key")" = 600
check "backup succeeds" "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster c1 --recipient "$T/k.pub"
ID=$("$EDR" list --repo "$T/repo" --cluster c1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
check "list --json shows the backup" test -n "$ID"
MREV=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])' "$T/repo/c1/$ID.json")
check "manifest revision $MREV equals etcd's $REV" test "$MREV" = "$REV"
check "list table names the backup" sh -c "'$EDR' list --repo '$T/repo' --cluster c1 | grep -q '$ID'"

check "export to a plain snapshot" "$EDR" export latest --repo "$T/repo" --cluster c1 --identity "$T/k.key" -o "$T/exp.db"
ctl snapshot save "$T/ref.db" >/dev/null 2>&1
snapctl snapshot status "$T/exp.db" -w json >"$T/exp.status" 2>/dev/null
snapctl snapshot status "$T/ref.db" -w json >"$T/ref.status" 2>/dev/null
same_status() {
    python3 - "$T/exp.status" "$T/ref.status" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
keys = [k for k in ("hash", "revision", "totalKey", "totalSize", "version") if k in b]
print([(k, a.get(k), b[k]) for k in keys])
sys.exit(0 if all(a.get(k) == b[k] for k in keys) and len(keys) >= 4 else 1)
PY
}
# nothing was written between the backup and etcdctl's snapshot: the same
# numbers, by the status tool of the etcd under test
check "snapshot status of the export: same hash, revision, total keys and size as etcdctl's own snapshot" same_status
check "exported file ends with a valid sha256 trailer (size % 512 == 32)" \
    test $(( $(stat -c %s "$T/exp.db") % 512 )) -eq 32

dump "$EP" "$T/src.dump"
snapctl snapshot restore "$T/exp.db" --data-dir "$T/r1" --name r1 \
    --initial-cluster r1=http://127.0.0.1:$((BASE_PORT + 12)) \
    --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 12)) >/dev/null 2>&1
check "etcdctl snapshot restore accepts the export" test -d "$T/r1/member/wal"
etcd_start_dir r1 "$T/r1" $((BASE_PORT + 11)) $((BASE_PORT + 12))
if wait_healthy http://127.0.0.1:$((BASE_PORT + 11)); then
    dump http://127.0.0.1:$((BASE_PORT + 11)) "$T/r1.dump"
    check "restored member serves every key with its value and revisions" cmp "$T/src.dump" "$T/r1.dump"
    check "source has >= 20000 keys" test "$(wc -l <"$T/src.dump")" -ge 20000
else
    not_ok "restored member did not become healthy"
fi
etcd_stop r1

# stdout export and raw (tar.zst) export
check "export -o - streams the snapshot" sh -c "'$EDR' export '$ID' --repo '$T/repo' --cluster c1 --identity '$T/k.key' -o - | cmp - '$T/exp.db'"
mkfifo "$T/fifo"
timeout 120 sh -c 'cmp - "$1" <"$2"' sh "$T/exp.db" "$T/fifo" >"$T/fifo.cmp" 2>&1 &
cmp_pid=$!
check "export -o FIFO writes into the FIFO" "$EDR" export "$ID" --repo "$T/repo" --cluster c1 \
    --identity "$T/k.key" -o "$T/fifo"
wait "$cmp_pid"
check "what came out of the FIFO is the snapshot" test $? -eq 0 -a ! -s "$T/fifo.cmp"
check "and the FIFO is still a FIFO (no FILE.part renamed over it)" test -p "$T/fifo"
check "decrypt output opens with zstd -d | tar x" sh -c "'$EDR' decrypt latest --repo '$T/repo' --cluster c1 --identity '$T/k.key' -o '$T/raw.tzst' && mkdir '$T/x' && zstd -dc '$T/raw.tzst' | tar -x -C '$T/x' && cmp '$T/x/snapshot.db' '$T/exp.db'"

# damaged backups: each copy of the repository gets one fault
DATA="$T/repo/c1/$ID.edr"
SIZE=$(stat -c %s "$DATA")
damage() { # damage NAME OFFSET|truncate
    rm -rf "$T/bad"; cp -a "$T/repo" "$T/bad"
    local f="$T/bad/c1/$ID.edr"
    case $2 in
    truncate) truncate -s $((SIZE - 1)) "$f" ;;
    half) truncate -s $((SIZE / 2)) "$f" ;;
    *) python3 -c 'import sys; f=open(sys.argv[1],"r+b"); o=int(sys.argv[2]); f.seek(o); b=f.read(1); f.seek(o); f.write(bytes([b[0]^0xff]))' "$f" "$2" ;;
    esac
}
for where in 3 $((SIZE / 2)) $((SIZE - 5)) truncate half; do
    damage x "$where"
    expect_fail "export of a backup damaged at '$where' fails with an integrity error naming it" 9 "backup 'c1/$ID.edr'" \
        "$EDR" export latest --repo "$T/bad" --cluster c1 --identity "$T/k.key" -o "$T/bad.db"
    check "no output file left after the failure ($where)" no_output "$T/bad.db"
done
"$EDR" keygen -o "$T/other" >/dev/null
expect_fail "a wrong identity is a key error" 10 "not encrypted to key" \
    "$EDR" export latest --repo "$T/repo" --cluster c1 --identity "$T/other.key" -o "$T/w.db"
chmod 644 "$T/k.key"
expect_fail "a world-readable identity file is refused" 10 "readable by others" \
    "$EDR" export latest --repo "$T/repo" --cluster c1 --identity "$T/k.key" -o "$T/w.db"
chmod 600 "$T/k.key"
expect_fail "an encrypted backup without --identity is a key error" 10 "identity" \
    "$EDR" export latest --repo "$T/repo" --cluster c1 -o "$T/w.db"
expect_fail "a password on the command line is refused" 2 "secret on the command line" \
    "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster c1 --recipient "$T/k.pub" --password x
expect_fail "backup without a recipient is refused unless --no-encrypt" 2 "no recipient" \
    "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster c1
check "--no-encrypt backup works and is recorded" sh -c "'$EDR' backup --endpoints '$EP' --repo '$T/plain' --no-encrypt 2>/dev/null && grep -q '\"enabled\": false' '$T'/plain/default/*.json"
check "unencrypted export needs no identity" "$EDR" export latest --repo "$T/plain" -o "$T/plain.db"
done_testing
