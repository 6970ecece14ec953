#!/bin/bash
# import --from gardener: a Gardener etcd-backup-restore history built from a
# real etcd the way etcd-backup-restore (v0.37.0) writes it, flat under
# <prefix>/v2/: full snapshots `Full-00000000-<rev>-<unix>[.gz|.Z]` and delta
# snapshots `Incr-<start>-<last>-<unix>[.gz|.Z|.zlib]`, each delta the JSON
# array of the watch events `{"etcdEvent":<event>,"time":<RFC 3339>}` followed
# by the raw SHA-256 of the array, then compressed (gzip and zlib with
# python's zlib, LZW as Go's compress/lzw writes it, checked with Go's reader
# when Go is installed). The events are those `etcdctl watch --rev` sends,
# which etcdctl prints in the same Go encoding Gardener uses. A second full
# snapshot is taken after writes that no delta holds (Gardener drops the
# events it buffered when it takes a full snapshot), and the deltas restart
# after it.
# Imported from a directory and from an S3 prefix, `verify --chain` passes, a
# second run stores nothing, and `restore --to-revision R` for revisions
# inside each delta, at their ends and at both full snapshots, started by
# etcd, gives the source's revision, `endpoint hashkv --rev R` and keys at R;
# a revision in no snapshot is not recoverable. Damaged histories (a full
# snapshot with a bad trailer, a delta with a bad hash, a gap, an overlap, a
# first delta after no full snapshot, events that do not match the name) are
# refused with one line naming the file, and nothing is stored.
BASE_PORT=25300
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"

load_keys "$EP" /base/ 100 20 || bail "load failed"
ctl put /pre/1 a >/dev/null && ctl put /pre/2 b >/dev/null
R0=$(rev)
# Gardener names a full snapshot after a Get made before the snapshot, so the
# name may say less than the snapshot holds (etcd-io/etcd#9037) and the first
# delta repeat what the snapshot holds: this one is named 2 revisions short
RN=$((R0 - 2))
ctl snapshot save "$T/full.db" >/dev/null 2>&1 || bail "snapshot save failed"
R=("$R0")
for p in 1 2; do
    mixed_writes $p || bail "workload $p failed"
    R+=("$(rev)")
done
# a full snapshot drops the events Gardener buffered since its last delta:
# these revisions are in no delta, and the next delta starts after it
for i in 1 2 3; do ctl put "/between/$i" v >/dev/null; done
R2B=$(rev)
ctl snapshot save "$T/full2.db" >/dev/null 2>&1 || bail "snapshot save failed"
for p in 3 4; do
    mixed_writes $p || bail "workload $p failed"
    R+=("$(rev)")
done
diag "full snapshots at $R0 (named $RN) and $R2B, deltas end at ${R[*]:1}"
# every event since the snapshot, as etcdctl receives them
timeout 5 etcdctl --endpoints "$EP" watch --prefix "" --rev $((RN + 1)) -w json >"$T/watch.json" 2>/dev/null

# gpy delta WATCH_JSON FILE LO HI: a delta of the events LO..HI;
# gpy compress SUFFIX IN OUT: IN compressed as Gardener does for SUFFIX
cat >"$T/gardener.py" <<'PY'
import datetime, gzip, hashlib, json, sys, zlib

def lzw(data):
    # Go's compress/lzw writer, LSB first, 8-bit literals: a clear code
    # first, 9-bit codes growing to 12, a clear code when the table is full,
    # the end code last
    out, acc, nacc, width, hi, table = bytearray(), 0, 0, 9, 257, {}
    def emit(c):
        nonlocal acc, nacc
        acc |= c << nacc
        nacc += width
        while nacc >= 8:
            out.append(acc & 255); acc >>= 8; nacc -= 8
    def inc():
        nonlocal hi, width, table
        hi += 1
        if hi == 1 << width:
            width += 1
        if hi == 4095:
            emit(256); width, hi, table = 9, 257, {}
            return False
        return True
    emit(256)
    code = data[0]
    for b in data[1:]:
        k = (code, b)
        if k in table:
            code = table[k]
            continue
        emit(code)
        code = b
        if inc():
            table[k] = hi
    emit(code)
    inc()
    emit(257)
    if nacc > 0:
        out.append(acc & 255)
    return bytes(out)

COMP = {"": lambda d: d, ".gz": gzip.compress, ".Z": lzw, ".zlib": zlib.compress}

if sys.argv[1] == "compress":
    sfx, src, dst = sys.argv[2:5]
    open(dst, "wb").write(COMP[sfx](open(src, "rb").read()))
    sys.exit(0)
watch, dst, lo, hi = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
events = []
for line in open(watch):
    if line.strip().startswith("{"):
        events += json.loads(line).get("Events") or []
t0 = datetime.datetime(2026, 12, 3, 10, 0, 0, tzinfo=datetime.timezone.utc)
items = []
for e in events:
    if lo <= e["kv"]["mod_revision"] <= hi:
        t = t0 + datetime.timedelta(seconds=e["kv"]["mod_revision"])
        items.append('{"etcdEvent":%s,"time":"%s"}' % (json.dumps(e, separators=(",", ":")),
                                                        t.strftime("%Y-%m-%dT%H:%M:%S.123456789Z")))
body = ("[" + ",".join(items) + "]").encode()
body += hashlib.sha256(body).digest()
tail = dst.rsplit("-", 1)[1]  # <unix>[.suffix]
sfx = "." + tail.split(".", 1)[1] if "." in tail else ""
open(dst, "wb").write(COMP[sfx](body))
PY
gpy() { python3 "$T/gardener.py" "$@"; }

G="$T/gardener/v2"
mkdir -p "$G"
NOW=$(date +%s)
FULL=$(printf 'Full-%08d-%08d-%d.gz' 0 "$RN" "$NOW")
FULL2=$(printf 'Full-%08d-%08d-%d.Z' 0 "$R2B" $((NOW + 10)))
gpy compress .gz "$T/full.db" "$G/$FULL" && gpy compress .Z "$T/full2.db" "$G/$FULL2" ||
    bail "compressing the full snapshots failed"
# the deltas, one in each compression
D=("$(printf 'Incr-%08d-%08d-%d' $((RN + 1)) "${R[1]}" $((NOW + 1)))"
    "$(printf 'Incr-%08d-%08d-%d.gz' $((R[1] + 1)) "${R[2]}" $((NOW + 2)))"
    "$(printf 'Incr-%08d-%08d-%d.Z' $((R2B + 1)) "${R[3]}" $((NOW + 11)))"
    "$(printf 'Incr-%08d-%08d-%d.zlib' $((R[3] + 1)) "${R[4]}" $((NOW + 12)))")
LO=($((RN + 1)) $((R[1] + 1)) $((R2B + 1)) $((R[3] + 1)))
for i in 0 1 2 3; do
    gpy delta "$T/watch.json" "$G/${D[i]}" "${LO[i]}" "${R[i + 1]}" || bail "making ${D[i]} failed"
done
ls "$G" | sed 's/^/# /'

# Go's compress/lzw must read the LZW deltas as etcd-backup-restore would
# (checked when a Go toolchain is at hand)
if command -v go >/dev/null 2>&1; then
    mkdir -p "$T/golzw"
    cat >"$T/golzw/main.go" <<'GO'
package main

import (
	"compress/lzw"
	"io"
	"os"
)

func main() {
	r := lzw.NewReader(os.Stdin, lzw.LSB, 8)
	if _, err := io.Copy(os.Stdout, r); err != nil {
		os.Exit(1)
	}
}
GO
    check "Go's compress/lzw reads the .Z delta" sh -c "cd '$T/golzw' && GO111MODULE=off go run main.go <'$G/${D[2]}' >'$T/golzw.out'"
    check "and finds its SHA-256 after the JSON" python3 -c "
import hashlib, sys
b = open('$T/golzw.out', 'rb').read()
sys.exit(hashlib.sha256(b[:-32]).digest() != b[-32:])"
fi

"$EDR" keygen -o "$T/k" >/dev/null
REPO=(--repo "$T/repo" --cluster g)

# damaged histories first, each into a repository of its own
damaged() { # damaged NAME: a copy of the history in $T/$1/v2, its repository $T/$1.repo
    rm -rf "$T/$1" "$T/$1.repo"
    mkdir -p "$T/$1"
    cp -a "$T/gardener/v2" "$T/$1/v2"
}
# neither a backup nor a change segment (list would show either)
nothing_stored() { ! find "$T/$1.repo" -name '*.json' 2>/dev/null | grep -q .; }

damaged badfull
python3 - "$T/badfull/v2/$FULL" <<'PY'
import gzip, sys
p = sys.argv[1]
b = bytearray(gzip.decompress(open(p, "rb").read()))
b[len(b) // 2] ^= 0x55
open(p, "wb").write(gzip.compress(bytes(b)))
PY
expect_fail "a full snapshot with a bad trailer is refused" 9 "'$FULL': sha256 mismatch" \
    "$EDR" import --from gardener "$T/badfull" --repo "$T/badfull.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored badfull

damaged badhash
python3 - "$T/badhash/v2/${D[0]}" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.index(b'"value":"') + 9
b[i] = ord("A") if b[i] != ord("A") else ord("B")
open(p, "wb").write(b)
PY
expect_fail "a delta with a bad hash is refused" 9 "'${D[0]}': sha256 mismatch" \
    "$EDR" import --from gardener "$T/badhash" --repo "$T/badhash.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored badhash

damaged gap
rm "$T/gap/v2/${D[2]}"
expect_fail "a gap between deltas is refused" 9 "gap: revisions $((R[2] + 1))-${R[3]} are in no delta snapshot, between '${D[1]}' and '${D[3]}'" \
    "$EDR" import --from gardener "$T/gap" --repo "$T/gap.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored gap

damaged overlap
OVL=$(printf 'Incr-%08d-%08d-%d.gz' "${R[1]}" "${R[2]}" $((NOW + 9)))
cp "$T/overlap/v2/${D[1]}" "$T/overlap/v2/$OVL"
expect_fail "overlapping deltas are refused" 9 "overlap: '$OVL' starts at revision ${R[1]}, '${D[0]}' already holds revisions up to ${R[1]}" \
    "$EDR" import --from gardener "$T/overlap" --repo "$T/overlap.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored overlap

damaged nofull
rm "$T/nofull/v2/$FULL"
expect_fail "a first delta that follows no full snapshot is refused" 9 "gap: '${D[0]}' starts at revision $((RN + 1))" \
    "$EDR" import --from gardener "$T/nofull" --repo "$T/nofull.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored nofull

damaged wrongname
mv "$T/wrongname/v2/${D[3]}" "$T/wrongname/v2/$(printf 'Incr-%08d-%08d-%d.zlib' $((R[3] + 1)) $((R[4] + 5)) $((NOW + 4)))"
expect_fail "a delta whose events do not match its name is refused" 9 "its events run from revision $((R[3] + 1)) to ${R[4]}" \
    "$EDR" import --from gardener "$T/wrongname" --repo "$T/wrongname.repo" --cluster g --recipient "$T/k.pub"
check "nothing of it is stored" nothing_stored wrongname

# the history whole
"$EDR" import --from gardener "$T/gardener" "${REPO[@]}" --recipient "$T/k.pub" >"$T/imp1.out" 2>"$T/imp1.err"
sed 's/^/# /' "$T/imp1.out"
check "import --from gardener imports the 2 full snapshots and the 4 deltas" \
    test "$(grep -c ' imported ' "$T/imp1.out")" = 6
check "the backups keep Gardener's time and origin" python3 - "$T/repo/g" "$NOW" "$FULL" "$FULL2" <<'PY'
import datetime, glob, json, sys
m = sorted((json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.json")
            if not f.endswith(".verify.json")), key=lambda x: x["revision"])
assert len(m) == 2, m
for x, name, t in zip(m, sys.argv[3:5], (int(sys.argv[2]), int(sys.argv[2]) + 10)):
    o = x["origin"]
    assert o["tool"] == "gardener", o
    assert o["source"].endswith("/v2/" + name), o
    want = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert o["time"] == want, (o["time"], want)
PY
"$EDR" import --from gardener "$T/gardener" "${REPO[@]}" --recipient "$T/k.pub" >"$T/imp2.out" 2>&1
check "a second run stores nothing" test "$(grep -c ' already imported ' "$T/imp2.out")" = 6
check "verify --chain (every record read back)" "$EDR" verify --chain "${REPO[@]}" --identity "$T/k.key"
"$EDR" list "${REPO[@]}" >"$T/list.out" 2>&1
check "list shows the range up to the last delta" grep -q "${R[4]}" "$T/list.out"

# the same history in S3 (s3rver behind the project's front): the same
# backup and the same change records
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
if s3_require; then
    S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 30)) S3_BUCKETS=bkt
    trap 's3_stop; cleanup' EXIT
    if s3_start; then
        s3_client_env
        S3=(--s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
        up=0
        for f in "$G"/*; do
            node "$SRCDIR/tests/integration/s3/s3req.js" PUT "$S3_EP/bkt/shoot--a/v2/$(basename "$f")" "$f" \
                >/dev/null 2>&1 || up=1
        done
        check "the history is uploaded to S3" test $up = 0
        RS=(--repo "$T/repo" --cluster gs3 --recipient "$T/k.pub")
        "$EDR" import --from gardener s3://bkt/shoot--a "${S3[@]}" "${RS[@]}" --json >"$T/s3.json" 2>"$T/s3.err"
        check "import --from gardener s3://bkt/shoot--a imports the 6 snapshots" python3 - "$T/s3.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert [x["result"] for x in r] == ["imported"] * 6, r
assert r[0]["source"].startswith("s3://bkt/shoot--a/v2/Full-"), r[0]
PY
        check "the same change records as the local import" python3 - "$T/repo" <<'PY'
import glob, json, sys
def recs(c):
    return sorted((j["first_revision"], j["records_sha256"]) for j in
                  (json.load(open(f)) for f in glob.glob("%s/%s/changes/*.json" % (sys.argv[1], c))))
a, b = recs("g"), recs("gs3")
assert len(a) == 4 and a == b, (a, b)
PY
        check "verify --chain of the S3 import" "$EDR" verify --chain --repo "$T/repo" --cluster gs3 --identity "$T/k.key"
    else
        not_ok "s3rver did not start: $S3_WHY"
    fi
    s3_stop
else
    if [ -n "${CI:-}" ]; then not_ok "S3 part: $S3_WHY"; else skip "S3 part: $S3_WHY"; fi
fi

# targets: the ends, each delta's last revision, one inside each delta, the
# second full snapshot; the revisions between the second delta and it are in
# no snapshot
TARGETS="$R0"
for i in 0 1 2 3; do TARGETS="$TARGETS $(((LO[i] + R[i + 1]) / 2)) ${R[i + 1]}"; done
TARGETS="$TARGETS $R2B"
expect_fail "a revision in no snapshot is not recoverable" 8 "not recoverable" \
    "$EDR" restore --to-revision $((R[2] + 1)) "${REPO[@]}" --identity "$T/k.key" --data-dir "$T/none"
for r in $TARGETS; do
    restore_at_rev "import --from gardener" "$r" "${REPO[@]}" --identity "$T/k.key"
done

done_testing
