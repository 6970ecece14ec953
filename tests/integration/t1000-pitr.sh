#!/bin/bash
# Point-in-time recovery against a real 3-member cluster: a full backup, then
# `capture` running throughout a workload of puts, overwrites, multi-key
# transactions, DeleteRange over many keys, leases granted, revoked and
# expiring, a compaction at C; capture killed with SIGKILL and restarted a dozen
# times, the member it watches killed under it. Then, for random target
# revisions R between the backup and the end (and both ends), `restore
# --to-revision R` started by etcd: `endpoint hashkv --rev R` equals the
# source's and a dump of every key (value, create/mod revision, version,
# lease) equals the source's `get --rev R`. The capture does not see
# compactions (they are not in the watch), so for R >= C the restored
# cluster is compacted at C before hashkv, as the source was; below C both
# sides are compared before any compaction. Also: --to-time, verify --chain,
# a compaction while capture is down (new chain after a fresh full backup),
# and segments removed, corrupted or from another cluster.
BASE_PORT=24800
. "$(dirname "$0")/lib.sh"
require_etcd

IC="m1=http://127.0.0.1:$((BASE_PORT + 2)),m2=http://127.0.0.1:$((BASE_PORT + 4)),m3=http://127.0.0.1:$((BASE_PORT + 6))"
EP1=http://127.0.0.1:$((BASE_PORT + 1)) EP2=http://127.0.0.1:$((BASE_PORT + 3)) EP3=http://127.0.0.1:$((BASE_PORT + 5))
ALL=$EP1,$EP2,$EP3
for i in 1 2 3; do etcd_start m$i $((BASE_PORT + 2 * i - 1)) $((BASE_PORT + 2 * i)) "$IC"; done
wait_healthy "$ALL" || bail "source cluster did not start"
EP=$EP2 # ctl() talks to m2: m1 is killed later

load_keys "$EP" /base/ 500 20 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
REPO=(--repo "$T/repo" --cluster prod)
check "full backup" "$EDR" backup --endpoints "$ALL" "${REPO[@]}" --recipient "$T/k.pub"
B0=$(last_field "$T/repo/prod" revision)
diag "backup at revision $B0"

CAP=(capture --endpoints "$ALL" --endpoint-policy first "${REPO[@]}" --recipient "$T/k.pub" --flush 1 --log-level info)
start_capture() { "$EDR" "${CAP[@]}" >>"$T/capture.log" 2>&1 & CAP_PID=$!; }
KILLS=0
# kill_loop N: SIGKILL the capture N times at random moments, restarting it
kill_loop() {
    for _ in $(seq 1 "$1"); do
        sleep "0.$((RANDOM % 9 + 1))"
        kill -9 "$CAP_PID" 2>/dev/null; wait "$CAP_PID" 2>/dev/null
        KILLS=$((KILLS + 1))
        start_capture
    done
}
start_capture
sleep 1

# workload PHASE: puts, overwrites, a multi-key txn, a DeleteRange over many keys,
# leases (kept, revoked, expiring)
workload() {
    local p=$1
    load_keys "$EP" "/w$p/" 300 10 >/dev/null || return 1
    load_keys "$EP" "/w$p/" 120 40 >/dev/null || return 1 # overwrites
    printf '\n\nput /txn%s/a 1\nput /txn%s/b 2\ndel /base/000%s01\n\n' "$p" "$p" "$p" | ctl txn >/dev/null
    ctl del --prefix "/w$p/0001" >/dev/null # 100 keys in one revision
    local keep rev_l exp
    keep=$(ctl lease grant 3600 | awk '{print $2}')
    rev_l=$(ctl lease grant 3600 | awk '{print $2}')
    exp=$(ctl lease grant 2 | awk '{print $2}')
    for i in 1 2 3; do
        ctl put --lease="$keep" "/lease$p/keep/$i" v >/dev/null
        ctl put --lease="$rev_l" "/lease$p/revoked/$i" v >/dev/null
        ctl put --lease="$exp" "/lease$p/expiring/$i" v >/dev/null
    done
    ctl lease revoke "$rev_l" >/dev/null
    echo "$keep" >"$T/keep_lease"
    for i in $(seq 1 20); do ctl put "/hot$p" "v$i" >/dev/null; done
}

workload 1 >"$T/w1.out" 2>&1 &
WL=$!
kill_loop 6
wait $WL || bail "workload 1 failed: $(tail -3 "$T/w1.out")"
KEEP_LEASE=$(cat "$T/keep_lease")
sleep 3 # the expiring lease goes (its keys are deleted by etcd)
ctl put /quiet/before yes >/dev/null
TREV=$(rev)
sleep 1.5
TTIME=$(date -u +%Y-%m-%dT%H:%M:%SZ)
sleep 1.5
MID=$(rev)

# phase-1 targets: compared at once (before the compaction)
declare -A H D
TARGETS="$B0 $TREV $MID"
for _ in 1 2 3; do TARGETS="$TARGETS $((B0 + 1 + RANDOM % (MID - B0)))"; done
for r in $TARGETS; do H[$r]=$(hashkv "$EP" "$r"); dump_rev "$EP" "$T/src-$r.dump" "$r"; done

C=$(rev)
ctl compact "$C" >/dev/null
diag "compacted at $C"
workload 2 >"$T/w2.out" 2>&1 &
WL=$!
kill_loop 6
wait $WL || bail "workload 2 failed: $(tail -3 "$T/w2.out")"
KEEP_LEASE=$(cat "$T/keep_lease")
# the member capture watches (--endpoint-policy first: m1) dies under it
kill -9 "$CAP_PID"; wait "$CAP_PID" 2>/dev/null
: >"$T/capture.log"
start_capture
for _ in $(seq 1 50); do grep -q "capturing changes from revision .* on $EP1" "$T/capture.log" && break; sleep 0.2; done
check "capture watches m1" grep -q "capturing changes from revision .* on $EP1" "$T/capture.log"
etcd_kill m1
for i in $(seq 1 30); do ctl put "/after-m1/$i" v >/dev/null; done
END=$(rev)
P2=""
for _ in 1 2 3; do P2="$P2 $((MID + 1 + RANDOM % (END - MID)))"; done
for r in $P2 $END; do H[$r]=$(hashkv "$EP" "$r"); dump_rev "$EP" "$T/src-$r.dump" "$r"; done
TARGETS="$TARGETS $P2 $END"
diag "revisions: backup $B0, --to-time target $TREV, compaction $C, end $END; targets $TARGETS"

# capture catches up, then stops cleanly on SIGTERM
recoverable_to() { "$EDR" list "${REPO[@]}" --json | python3 -c 'import json,sys; print(max([b.get("recoverable_to",{}).get("revision",0) for b in json.load(sys.stdin)] or [0]))'; }
for _ in $(seq 1 60); do [ "$(recoverable_to)" -ge "$END" ] && break; sleep 0.5; done
check "capture reached the end revision ($END) after $KILLS kills and a member failure" test "$(recoverable_to)" -ge "$END"
check "capture failed over when its member died" grep -q "continuing at revision [0-9]* on the next endpoint" "$T/capture.log"
kill -TERM "$CAP_PID"
wait "$CAP_PID"
check "capture exits 0 on SIGTERM" test $? -eq 0
check "no temp file or data without manifest in changes/" sh -c "! ls -A '$T/repo/prod/changes' | grep -v '^\.lock$' | grep -q '^\.' && for f in '$T/repo/prod/changes'/*.edr; do test -f \"\${f%.edr}.json\" || exit 1; done"
check "verify --chain (every record read back)" "$EDR" verify --chain "${REPO[@]}" --identity "$T/k.key"
check "verify --chain without the key (stored bytes)" "$EDR" verify --chain "${REPO[@]}"
check "list shows the recoverable range" test "$("$EDR" list "${REPO[@]}" | sed -n "s/.*any revision from $B0 (backup .*) to \([0-9]*\) is recoverable/\1/p")" -ge "$END"

# --- restore to each target, compare with the source
PC=$((BASE_PORT + 40)) PP=$((BASE_PORT + 41))
for r in $TARGETS; do
    rm -rf "$T/r$r"
    if ! "$EDR" restore --to-revision "$r" "${REPO[@]}" --identity "$T/k.key" --name x \
        --initial-cluster x=http://127.0.0.1:$PP --data-dir "$T/r$r" >"$T/restore-$r.out" 2>&1; then
        not_ok "restore --to-revision $r"; sed 's/^/# /' "$T/restore-$r.out"; continue
    fi
    etcd_start_dir r$r "$T/r$r" $PC $PP
    if ! wait_healthy http://127.0.0.1:$PC; then
        not_ok "revision $r: restored member did not start"; tail -5 "$T/r$r-restored.log" | sed 's/^/# /'
        etcd_stop r$r; continue
    fi
    # targets after C were measured on the compacted source
    if [ "$r" -gt "$C" ]; then etcdctl --endpoints http://127.0.0.1:$PC compact "$C" >/dev/null; fi
    check "revision $r: restored revision is $r" test "$(EP=http://127.0.0.1:$PC rev)" -eq "$r"
    check "revision $r: hashkv equals the source's" test "$(hashkv http://127.0.0.1:$PC "$r")" = "${H[$r]}"
    dump_rev http://127.0.0.1:$PC "$T/dst-$r.dump" "$r"
    check "revision $r: every key, value, revision, version and lease equal the source's" cmp "$T/src-$r.dump" "$T/dst-$r.dump"
    if [ "$r" = "$END" ]; then
        check "revision $r: the kept lease exists with its TTL" sh -c "etcdctl --endpoints http://127.0.0.1:$PC lease timetolive $KEEP_LEASE | grep -q 'granted with TTL(3600s)'"
        check "revision $r: writes after the restore work" etcdctl --endpoints http://127.0.0.1:$PC put /new v
    fi
    etcd_stop r$r
done

# --- three members at one target
r=$END
IC3="a=http://127.0.0.1:$((BASE_PORT + 51)),b=http://127.0.0.1:$((BASE_PORT + 53)),c=http://127.0.0.1:$((BASE_PORT + 55))"
check "restore --to-revision --all-members (3)" "$EDR" restore --to-revision "$r" "${REPO[@]}" --identity "$T/k.key" \
    --all-members --initial-cluster "$IC3" --data-dir "$T/three/{name}"
i=0
for m in a b c; do
    etcd_start_dir "t$m" "$T/three/$m" $((BASE_PORT + 50 + 2 * i)) $((BASE_PORT + 51 + 2 * i))
    i=$((i + 1))
done
E3=http://127.0.0.1:$((BASE_PORT + 50)),http://127.0.0.1:$((BASE_PORT + 52)),http://127.0.0.1:$((BASE_PORT + 54))
if wait_healthy "$E3"; then
    etcdctl --endpoints "$E3" compact "$C" >/dev/null
    for e in ${E3//,/ }; do check "3 members: hashkv on $e equals the source's" test "$(hashkv "$e" "$r")" = "${H[$r]}"; done
else
    not_ok "3 restored members did not become healthy"
fi
for m in a b c; do etcd_stop "t$m"; done

# --- --to-time
rm -rf "$T/rt"
check "restore --to-time $TTIME" sh -c "'$EDR' restore --to-time '$TTIME' --repo '$T/repo' --cluster prod --identity '$T/k.key' --data-dir '$T/rt' --json >'$T/rt.json'"
check "--to-time picked the last revision before that time ($TREV)" test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])' "$T/rt.json")" = "$TREV"

# --- damaged chains (copies of the repository)
SEGS=$(ls "$T/repo/prod/changes"/*.json | wc -l)
check "capture wrote several segments ($SEGS)" test "$SEGS" -ge 4
MIDSEG=$(ls "$T/repo/prod/changes"/*.json | sed -n 2p)
MIDNAME=$(basename "${MIDSEG%.json}")
cp -a "$T/repo" "$T/gap"
rm "$T/gap/prod/changes/$MIDNAME".*
expect_fail "verify --chain with a segment removed" 9 "problem" "$EDR" verify --chain --repo "$T/gap" --cluster prod --identity "$T/k.key"
check "the gap is named" sh -c "'$EDR' verify --chain --repo '$T/gap' --cluster prod 2>&1 | grep -q 'is missing or was replaced'"
expect_fail "restore --to-revision across the gap" 8 "not recoverable" "$EDR" restore --to-revision "$END" --repo "$T/gap" --cluster prod --identity "$T/k.key" --data-dir "$T/gapr"
cp -a "$T/repo" "$T/bad"
printf 'XXXX' | dd of="$T/bad/prod/changes/$MIDNAME.edr" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_fail "verify --chain with a corrupted segment" 9 "problem" "$EDR" verify --chain --repo "$T/bad" --cluster prod --identity "$T/k.key"
check "the corrupted segment is named" sh -c "'$EDR' verify --chain --repo '$T/bad' --cluster prod --identity '$T/k.key' 2>&1 | grep -q '$MIDNAME'"
expect_fail "restore through a corrupted segment" 9 "$MIDNAME" "$EDR" restore --to-revision "$END" --repo "$T/bad" --cluster prod --identity "$T/k.key" --data-dir "$T/badr"
check "a failed restore leaves no data dir" test ! -e "$T/badr"
cp -a "$T/repo" "$T/swap"
A=$(ls "$T/swap/prod/changes"/*.json | sed -n 2p) B=$(ls "$T/swap/prod/changes"/*.json | sed -n 3p)
for x in json edr; do
    mv "${A%.json}.$x" "$T/swap/tmp.$x" && mv "${B%.json}.$x" "${A%.json}.$x" && mv "$T/swap/tmp.$x" "${B%.json}.$x"
done
expect_fail "verify --chain with two segments swapped" 9 "problem" "$EDR" verify --chain --repo "$T/swap" --cluster prod --identity "$T/k.key"
check "the swapped segments are named" sh -c "'$EDR' verify --chain --repo '$T/swap' --cluster prod 2>&1 | grep -q \"$(basename "$A"): its name does not match\""
expect_fail "restore through swapped segments" 8 "not recoverable" "$EDR" restore --to-revision "$END" --repo "$T/swap" --cluster prod --identity "$T/k.key" --data-dir "$T/swapr"
mkdir -p "$T/other/stage/changes"
cp "$T/repo/prod/changes/$MIDNAME".* "$T/other/stage/changes/"
expect_fail "verify --chain with a segment from another cluster" 9 "problem" "$EDR" verify --chain --repo "$T/other" --cluster stage

# --- compaction while capture is down: a new full backup and a new chain
for i in $(seq 1 10); do ctl put "/down/$i" v >/dev/null; done
ctl compact "$(rev)" >/dev/null
ctl put /down/after yes >/dev/null
NB=$(ls "$T/repo/prod"/*.edr | wc -l)
start_capture
END2=$(rev)
for _ in $(seq 1 60); do [ "$(recoverable_to)" -ge "$END2" ] && break; sleep 0.5; done
ctl put /down/more yes >/dev/null
END3=$(rev)
for _ in $(seq 1 60); do [ "$(recoverable_to)" -ge "$END3" ] && break; sleep 0.5; done
# auth changes are not in the watch: capture polls etcd's auth revision (3.5+)
NB2=$(ls "$T/repo/prod"/*.edr | wc -l)
# this capture run sees the kept lease before the backup the auth change causes
ctl put --lease="$KEEP_LEASE" /before-auth/leased v >/dev/null
sleep 2
ctl user add pitr-user:pw >/dev/null
if [ "$(etcd_minor)" -ge 35 ]; then
    for _ in $(seq 1 100); do [ "$(ls "$T/repo/prod"/*.edr | wc -l)" -gt "$NB2" ] && break; sleep 0.3; done
    check "an auth change makes capture take a full backup" sh -c "test \$(ls '$T/repo/prod'/*.edr | wc -l) -gt $NB2 && grep -q 'users, roles or permissions changed' '$T/capture.log'"
    # ... and uses it again after that backup: the restore keeps its TTL from the backup
    ctl put --lease="$KEEP_LEASE" /after-auth/leased v >/dev/null
    END4=$(rev)
    for _ in $(seq 1 60); do [ "$(recoverable_to)" -ge "$END4" ] && break; sleep 0.5; done
    check "the chain goes on after the auth backup" test "$(recoverable_to)" -ge "$END4"
    rm -rf "$T/ra"
    "$EDR" restore --to-revision "$END4" "${REPO[@]}" --identity "$T/k.key" --name x \
        --initial-cluster x=http://127.0.0.1:$PP --data-dir "$T/ra" >/dev/null 2>&1
    etcd_start_dir ra "$T/ra" $PC $PP
    if wait_healthy http://127.0.0.1:$PC; then
        check "a lease seen before the base backup keeps its TTL" sh -c "etcdctl --endpoints http://127.0.0.1:$PC lease timetolive $KEEP_LEASE | grep -q 'granted with TTL(3600s)'"
    else
        not_ok "restored member (auth chain) did not start"
    fi
    etcd_stop ra
else
    sleep 1
    check "etcd 3.4: capture says auth changes are left to full backups" grep -q "no auth revision" "$T/capture.log"
fi
kill -TERM "$CAP_PID"; wait "$CAP_PID"
check "compaction while down: capture says so" grep -q "cannot continue the chain: revision .* is compacted" "$T/capture.log"
check "compaction while down: a new full backup was taken" test "$(ls "$T/repo/prod"/*.edr | wc -l)" -gt "$NB"
check "compaction while down: changes after it are recoverable" test "$(recoverable_to)" -ge "$END3"
check "verify --chain after a new chain" "$EDR" verify --chain "${REPO[@]}" --identity "$T/k.key"
rm -rf "$T/r3"
check "restore --to-revision on the new chain" "$EDR" restore --to-revision "$END3" "${REPO[@]}" --identity "$T/k.key" --data-dir "$T/r3"

# --- prune: changes no kept backup needs go, the others stay usable
cp -a "$T/repo" "$T/pruned"
PR=(--repo "$T/pruned" --cluster prod)
NBK=$(ls "$T/pruned/prod"/*.edr | wc -l)
NSEG=$(ls "$T/pruned/prod/changes"/*.json | wc -l)
NEWEST=$(last_field "$T/pruned/prod" revision)
# the segments reaching past the newest backup are the ones it needs
NEED=$(python3 -c 'import glob,json,sys; print(sum(json.load(open(f))["last_revision"] > int(sys.argv[2]) for f in glob.glob(sys.argv[1] + "/*.json")))' "$T/pruned/prod/changes" "$NEWEST")
check "prune keeping every backup and --keep-changes-within 1h keeps every segment" sh -c "'$EDR' prune ${PR[*]} --keep-last $NBK --keep-changes-within 1h && test \$(ls '$T/pruned/prod/changes'/*.json | wc -l) -eq $NSEG"
check "prune --keep-changes-within alone keeps every backup" sh -c "'$EDR' prune ${PR[*]} --keep-changes-within 1h && test \$(ls '$T/pruned/prod'/*.edr | wc -l) -eq $NBK"
check "prune --keep-last 1 removes the segments before the newest backup ($NSEG -> $NEED)" sh -c "'$EDR' prune ${PR[*]} --keep-last 1 >'$T/prune.out' && grep -q '^remove changes/' '$T/prune.out' && test \$(ls '$T/pruned/prod/changes'/*.json 2>/dev/null | wc -l) -eq $NEED"
check "after prune: verify --chain" "$EDR" verify --chain "${PR[@]}" --identity "$T/k.key"
if [ "$NEED" -gt 0 ]; then
    LAST=$(python3 -c 'import glob,json,sys; print(max(json.load(open(f))["last_revision"] for f in glob.glob(sys.argv[1] + "/*.json")))' "$T/pruned/prod/changes")
    rm -rf "$T/r4"
    check "after prune: restore --to-revision $LAST on the kept changes" "$EDR" restore --to-revision "$LAST" "${PR[@]}" --identity "$T/k.key" --data-dir "$T/r4"
fi
expect_fail "after prune: a revision of the removed chain is not recoverable" 8 "not recoverable" "$EDR" restore --to-revision "$MID" "${PR[@]}" --identity "$T/k.key" --data-dir "$T/r5"

for i in 2 3; do etcd_stop m$i; done
done_testing
