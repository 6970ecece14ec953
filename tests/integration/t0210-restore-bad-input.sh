#!/bin/bash
# Restore refuses bad input with a one-line error and a documented exit code,
# and leaves no data dir behind: sha256 mismatch, truncated snapshot, not a
# bbolt file, a corrupt page in the middle, a non-empty data dir without
# --force (and --force keeps the old dir aside), a malformed
# --initial-cluster, --name missing from it, a wrong identity key.
BASE_PORT=24100
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /b/ 3000 200 || bail "load failed"
ctl snapshot save "$T/good.db" >/dev/null 2>&1
etcd_stop src
"$EDR" keygen -o "$T/k" >/dev/null
"$EDR" keygen -o "$T/wrong" >/dev/null
IC=(--name m --initial-cluster m=http://127.0.0.1:$((BASE_PORT + 11)))
SIZE=$(stat -c %s "$T/good.db")

no_dir() { test ! -e "$1" && ! ls -a "$(dirname "$1")" | grep -q 'etcd-dr-tmp\|etcd-dr-spool\|etcd-dr-prepared'; }

cp "$T/good.db" "$T/flip.db"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(9000); b=f.read(1); f.seek(9000); f.write(bytes([b[0]^1]))' "$T/flip.db"
expect_fail "sha256 mismatch" 9 "sha256 mismatch" "$EDR" restore "$T/flip.db" "${IC[@]}" --data-dir "$T/d1"
check "no data dir after a sha256 mismatch" no_dir "$T/d1"

head -c $((SIZE / 2)) "$T/good.db" >"$T/trunc.db"
expect_fail "truncated snapshot" 9 "sha256|truncated|too short" "$EDR" restore "$T/trunc.db" "${IC[@]}" --data-dir "$T/d2"
check "no data dir after a truncated snapshot" no_dir "$T/d2"

head -c 65568 /dev/urandom >"$T/random.db"
expect_fail "not a bbolt file (random bytes, even with --skip-hash-check)" 9 "meta|magic|bbolt|invalid" \
    "$EDR" restore "$T/random.db" "${IC[@]}" --data-dir "$T/d3" --skip-hash-check
check "no data dir after a non-bbolt file" no_dir "$T/d3"

# a corrupt page in the middle, with a valid trailer recomputed over it
python3 - "$T/good.db" "$T/page.db" <<'PY'
import hashlib, struct, sys
d = bytearray(open(sys.argv[1], "rb").read()[:-32])
ps = struct.unpack_from("<I", d, 24)[0]
pages = len(d) // ps
# find a leaf page in the middle and break its element array
for p in range(pages // 2, pages):
    flags = struct.unpack_from("<H", d, p * ps + 8)[0]
    if flags == 0x02:
        struct.pack_into("<H", d, p * ps + 8, 0x20)  # invalid page type
        break
open(sys.argv[2], "wb").write(bytes(d) + hashlib.sha256(d).digest())
PY
expect_fail "a corrupt page in the middle" 9 "page [0-9]+" "$EDR" restore "$T/page.db" "${IC[@]}" --data-dir "$T/d4"
check "no data dir after a corrupt page" no_dir "$T/d4"

mkdir -p "$T/busy"; echo keep >"$T/busy/precious"
expect_fail "non-empty data dir without --force" 13 "not empty" "$EDR" restore "$T/good.db" "${IC[@]}" --data-dir "$T/busy"
check "the non-empty dir is untouched" test "$(cat "$T/busy/precious")" = keep
check "--force moves the old dir aside and restores" "$EDR" restore "$T/good.db" "${IC[@]}" --data-dir "$T/busy" --force
check "the old dir is kept aside, never deleted" sh -c "cat '$T'/busy.etcd-dr-old-*/precious | grep -q keep"
check "the forced restore wrote a member dir" test -f "$T/busy/member/snap/db"

expect_fail "malformed --initial-cluster" 2 "initial-cluster|URL|url" "$EDR" restore "$T/good.db" --name m \
    --initial-cluster "m=127.0.0.1:2380" --data-dir "$T/d5"
expect_fail "a URL with a path" 2 "path" "$EDR" restore "$T/good.db" --name m \
    --initial-cluster "m=http://127.0.0.1:2380/x" --data-dir "$T/d5"
expect_fail "duplicate peer URL" 2 "given for both" "$EDR" restore "$T/good.db" --name m \
    --initial-cluster "m=http://127.0.0.1:2380,n=http://127.0.0.1:2380" --data-dir "$T/d5"
expect_fail "--name missing from --initial-cluster" 2 "'x'" "$EDR" restore "$T/good.db" --name x \
    --initial-cluster "m=http://127.0.0.1:2380" --data-dir "$T/d5"
expect_fail "--bump-revision without --mark-compacted" 2 "together" "$EDR" restore "$T/good.db" "${IC[@]}" \
    --data-dir "$T/d5" --bump-revision 10
check "no data dir after usage errors" no_dir "$T/d5"

EP2=http://127.0.0.1:$((BASE_PORT + 3))
etcd_start src2 $((BASE_PORT + 3)) $((BASE_PORT + 4))
wait_healthy "$EP2" || bail "etcd did not start"
ctl --endpoints "$EP2" put /x y >/dev/null 2>&1
"$EDR" backup --endpoints "$EP2" --repo "$T/repo" --recipient "$T/k.pub" >/dev/null 2>&1
expect_fail "wrong identity key" 10 "not encrypted to key" "$EDR" restore latest --repo "$T/repo" \
    --identity "$T/wrong.key" "${IC[@]}" --data-dir "$T/d6"
check "no data dir after a wrong key" no_dir "$T/d6"
check "the right key restores" "$EDR" restore latest --repo "$T/repo" --identity "$T/k.key" "${IC[@]}" --data-dir "$T/d6"

mkdir -p "$T/small"
if mount -t tmpfs -o size=512k tmpfs "$T/small" 2>/dev/null; then
    trap "umount '$T/small' 2>/dev/null; cleanup" EXIT
    expect_fail "a full disk during restore is a local I/O error" 12 "No space left on device" \
        "$EDR" restore "$T/good.db" "${IC[@]}" --data-dir "$T/small/d7"
    check "nothing is left on the full disk" test -z "$(ls -A "$T/small")"
    umount "$T/small"
else
    ok "restore on a full disk # SKIP cannot mount a tmpfs here (needs root)"
fi
done_testing
