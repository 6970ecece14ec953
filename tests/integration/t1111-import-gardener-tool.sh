#!/bin/bash
# import --from gardener on what Gardener's own tool wrote: etcdbrctl
# (etcd-backup-restore v0.37.0, built by scripts/etcd-backup-restore.sh and
# cached) runs `snapshot` against a real etcd with its Local store, once per
# compression policy (none, gzip, lzw, zlib), all four at once, a delta every
# second. Writes go on in three phases with pauses between, so each store
# gets a full snapshot and several deltas. Each store is imported into its
# own cluster: every file is taken (the full snapshot as a backup, every
# delta as changes), `verify --chain` passes, a second run stores nothing,
# and `restore --to-revision R` at phase ends and inside a phase, started by
# etcd, gives the source's revision, `endpoint hashkv --rev R` and keys at R.
# A fifth store takes a full snapshot every minute while writes go on: the
# deltas before and after that scheduled full snapshot import too, and
# revisions on both sides of it restore. A sixth store starts on the etcd
# before any write: its history restores from its first full snapshot on.
BASE_PORT=26300
. "$(dirname "$0")/lib.sh"
require_etcd

"$SRCDIR/scripts/etcd-backup-restore.sh" >"$T/etcdbr-build.log" 2>&1 ||
    bail "etcd-backup-restore did not build (scripts/etcd-backup-restore.sh): $(tail -3 "$T/etcdbr-build.log" | tr '\n' ' ')"
ETCDBR="$("$SRCDIR/scripts/etcd-backup-restore.sh" --dir)/etcdbrctl"
[ -x "$ETCDBR" ] || bail "no etcdbrctl at $ETCDBR"
diag "etcdbrctl from $ETCDBR"

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
# a store whose first full snapshot is of the etcd before any write: a db
# with no key revision (revision 0) that Gardener names after revision 1
HOME=$T "$ETCDBR" snapshot --storage-provider Local --store-container store --store-prefix empty \
    --endpoints "$EP" --delta-snapshot-period 1s --schedule "0 0 1 1 *" \
    --garbage-collection-period 0 --snapstore-temp-directory "$T" >"$T/etcdbr-empty.log" 2>&1 &
_pids="$_pids $!" BR_PIDS="$!"
for i in $(seq 1 300); do ls "$T"/store/empty/v2/Full-* >/dev/null 2>&1 && break; sleep 0.1; done
ls "$T"/store/empty/v2/Full-* >/dev/null 2>&1 || bail "etcdbrctl (empty) took no full snapshot"
load_keys "$EP" /base/ 100 20 || bail "load failed"
R0=$(rev)

"$EDR" keygen -o "$T/k" >/dev/null
# the Local store lives under $HOME/<container>/<prefix>/v2/
POLICIES="none gzip lzw zlib"
declare -A SUFFIX=([none]="" [gzip]=.gz [lzw]=.Z [zlib]=.zlib)
for p in $POLICIES; do
    comp=()
    [ "$p" = none ] || comp=(--compress-snapshots --compression-policy "$p")
    HOME=$T "$ETCDBR" snapshot --storage-provider Local --store-container store --store-prefix "$p" \
        --endpoints "$EP" --delta-snapshot-period 1s --schedule "0 0 1 1 *" \
        --garbage-collection-period 0 --snapstore-temp-directory "$T" "${comp[@]}" \
        >"$T/etcdbr-$p.log" 2>&1 &
    _pids="$_pids $!" BR_PIDS="$BR_PIDS $!"
done
# and one store with a full snapshot every minute, for the deltas around a
# scheduled full snapshot
HOME=$T "$ETCDBR" snapshot --storage-provider Local --store-container store --store-prefix sched \
    --endpoints "$EP" --delta-snapshot-period 1s --schedule "* * * * *" \
    --garbage-collection-period 0 --snapstore-temp-directory "$T" >"$T/etcdbr-sched.log" 2>&1 &
SCHED_PID=$!
_pids="$_pids $SCHED_PID"
V2() { echo "$T/store/$1/v2"; }
# wait_files POLICY PATTERN REV [SECONDS]: up to SECONDS (30) for a snapshot
# file whose name ends at REV or later
wait_files() {
    local i f last
    for i in $(seq 1 $((${4:-30} * 10))); do
        last=0
        for f in "$(V2 "$1")"/$2-*; do
            [ -e "$f" ] || continue
            f=$(basename "$f")
            f=${f#*-*-}
            f=$((10#${f%%-*}))
            [ "$f" -gt "$last" ] && last=$f
        done
        [ "$last" -ge "$3" ] && return 0
        sleep 0.1
    done
    return 1
}
for p in $POLICIES sched; do
    wait_files "$p" Full "$R0" || bail "etcdbrctl ($p) took no full snapshot: $(tail -3 "$T/etcdbr-$p.log" | tr '\n' ' ')"
done

# three phases of writes, each ending in a delta of every store; the target
# revisions: each phase's end and one inside the second phase
R=("$R0")
for ph in 1 2 3; do
    [ "$ph" = 2 ] && MID_LO=$(rev)
    mixed_writes $ph || bail "workload $ph failed"
    [ "$ph" = 2 ] && MID=$(((MID_LO + $(rev)) / 2))
    R+=("$(rev)")
    for p in $POLICIES empty; do
        wait_files "$p" Incr "${R[ph]}" || bail "etcdbrctl ($p) wrote no delta up to ${R[ph]}: $(tail -3 "$T/etcdbr-$p.log" | tr '\n' ' ')"
    done
    sleep 1.5
done
for p in $BR_PIDS; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
diag "full snapshots at $R0, phases end at ${R[*]:1}, inside phase 2: $MID"

for p in $POLICIES; do
    n=$(find "$(V2 "$p")" -type f | wc -l)
    check "etcdbrctl ($p) wrote a full snapshot and deltas named *${SUFFIX[$p]:-(no suffix)}" python3 - "$(V2 "$p")" "${SUFFIX[$p]}" <<'PY'
import os, re, sys
names = sorted(os.listdir(sys.argv[1]))
pat = re.compile(r"^(Full|Incr)-\d{8}-\d{8}-\d+" + re.escape(sys.argv[2]) + "$")
assert all(pat.match(n) for n in names), names
assert sum(n.startswith("Full-") for n in names) == 1, names
assert sum(n.startswith("Incr-") for n in names) >= 3, names
PY
    if "$EDR" import --from gardener "$(V2 "$p")" --repo "$T/repo" --cluster "g$p" --recipient "$T/k.pub" \
        --json >"$T/imp-$p.json" 2>"$T/imp-$p.err"; then
        check "import ($p): the $n files imported, the full snapshot as a backup" python3 - "$T/imp-$p.json" "$n" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == int(sys.argv[2]) and all(x["result"] == "imported" for x in r), r
assert [x["kind"] for x in r].count("full") == 1 and r[0]["kind"] == "full", r
PY
    else
        not_ok "import --from gardener ($p): $(head -1 "$T/imp-$p.err")"
    fi
    check "verify --chain ($p)" "$EDR" verify --chain --repo "$T/repo" --cluster "g$p" --identity "$T/k.key"
    check "list ($p) shows changes up to ${R[3]} or later" sh -c \
        "'$EDR' list --repo '$T/repo' --cluster g$p | grep -Eq 'revisions [0-9]+\.\.[0-9]+' && \
         [ \$('$EDR' list --repo '$T/repo' --cluster g$p | sed -n 's/.*revisions [0-9]*\.\.\([0-9]*\).*/\1/p' | head -1) -ge ${R[3]} ]"
done
"$EDR" import --from gardener "$(V2 gzip)" --repo "$T/repo" --cluster ggzip --recipient "$T/k.pub" \
    --json >"$T/imp2.json" 2>&1
check "a second import stores nothing" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert r and all(x["result"] == "already imported" for x in r), r' "$T/imp2.json"

# a scheduled full snapshot while writes go on (one every 0.2 s): Gardener
# names it after a Get made before the snapshot, and drops the events it
# buffered since its last delta; the deltas restart after it
( i=0; while :; do ctl put "/tick/$((i++))" v >/dev/null 2>&1; sleep 0.2; done ) &
TICK=$!
_pids="$_pids $TICK"
wait_files sched Full $((R[3] + 1)) 70 || bail "etcdbrctl (sched) took no full snapshot after ${R[3]} in 70 s"
sleep 2.5
kill "$TICK" 2>/dev/null
wait "$TICK" 2>/dev/null
RT=$(rev)
wait_files sched Incr "$RT" || bail "etcdbrctl (sched) wrote no delta up to $RT"
kill "$SCHED_PID" 2>/dev/null
wait "$SCHED_PID" 2>/dev/null
# from the names: the scheduled full snapshot's revision and the end of the
# last delta before it
read -r F2 BEFORE < <(python3 - "$(V2 sched)" <<'PY'
import os, sys
n = [x.split("-") for x in sorted(os.listdir(sys.argv[1]))]
f2 = max(int(x[2]) for x in n if x[0] == "Full")
print(f2, max(int(x[2]) for x in n if x[0] == "Incr" and int(x[2]) <= f2))
PY
)
diag "scheduled full snapshot named $F2, the delta before it ends at $BEFORE, writes end at $RT"
if "$EDR" import --from gardener "$(V2 sched)" --repo "$T/repo" --cluster gsched --recipient "$T/k.pub" \
    --json >"$T/imp-sched.json" 2>"$T/imp-sched.err"; then
    check "import (scheduled full): 2 full snapshots and every delta imported" python3 - "$T/imp-sched.json" "$(find "$(V2 sched)" -type f | wc -l)" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
assert len(r) == int(sys.argv[2]) and all(x["result"] == "imported" for x in r), r
assert [x["kind"] for x in r].count("full") >= 2, r
PY
else
    not_ok "import --from gardener (scheduled full): $(head -1 "$T/imp-sched.err")"
fi
check "verify --chain (scheduled full)" "$EDR" verify --chain --repo "$T/repo" --cluster gsched --identity "$T/k.key"
# the revision the scheduled full snapshot holds (its name may say less)
F2=$("$EDR" list --repo "$T/repo" --cluster gsched --json | python3 -c 'import json,sys; print(max(b["revision"] for b in json.load(sys.stdin)))')
diag "the scheduled full snapshot holds revision $F2"
if [ $((BEFORE + 1)) -lt "$F2" ]; then
    expect_fail "a revision between the last delta and the scheduled full snapshot is not recoverable" 8 \
        "not recoverable" "$EDR" restore --to-revision $((BEFORE + 1)) --repo "$T/repo" --cluster gsched \
        --identity "$T/k.key" --data-dir "$T/none"
fi
for r in "$BEFORE" "$F2" $(((F2 + RT) / 2)) "$RT"; do
    restore_at_rev "scheduled full" "$r" --repo "$T/repo" --cluster gsched --identity "$T/k.key"
done

# the history that starts on the etcd before any write restores from its
# first full snapshot on
"$EDR" import --from gardener "$(V2 empty)" --repo "$T/repo" --cluster gempty --recipient "$T/k.pub" \
    >"$T/imp-empty.out" 2>&1 || not_ok "import --from gardener (empty start): $(tail -1 "$T/imp-empty.out")"
check "list (empty start): the changes continue the first full snapshot" \
    sh -c "'$EDR' list --repo '$T/repo' --cluster gempty | grep -q 'is recoverable'"
for r in "${R[1]}" "$MID"; do
    restore_at_rev "empty start" "$r" --repo "$T/repo" --cluster gempty --identity "$T/k.key"
done

# policy:revision pairs restored and compared with the source
for t in none:"${R[1]}" none:"$MID" gzip:"${R[3]}" lzw:"$MID" zlib:"${R[2]}"; do
    p=${t%%:*}
    restore_at_rev "$p" "${t#*:}" --repo "$T/repo" --cluster "g$p" --identity "$T/k.key"
done

done_testing
