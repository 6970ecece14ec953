#!/bin/bash
# Backups on S3 through the command line: etcd 3.4 -> etcd-dr backup ->
# front.js (checks SigV4 like AWS, injects faults) -> s3rver. Whole flow
# (backup, list, export, restore), multipart uploads, wrong credentials, a
# missing bucket and a dead server, transient and permanent faults, servers
# killed mid-upload and restarted, SIGTERM while the server hangs, prune.
# Servers: s3/lib-s3.sh. Ports of its block (lib.sh): etcd +1/+2, restored member +11/+12, front +20,
# s3rver +21; nothing listens on +89.
BASE_PORT=23510
. "$(dirname "$0")/lib.sh"
require_etcd
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
s3_test_prepare

S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 20)) S3_BUCKETS=bkt
S3_FRONT_ARGS="--min-part-size 1048576" # parts below 1 MiB (but the last) are refused
s3_start || bail "$S3_WHY"
LOG=$T/requests.log

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=sekret
# Small parts and fast retries need the test build of etcd-dr (the same
# program, with the S3 limits lowered from EDR_S3_TEST_*:
# tests/unit/storage/s3_test_env.c); the shipped binary ignores these.
EDRT=$(dirname "$EDR")/tests/unit/storage/etcd-dr-s3test
[ -x "$EDRT" ] || bail "$EDRT is missing (make check builds it)"
export EDR_S3_TEST_SMALL_PARTS=1 EDR_S3_TEST_RETRY_MS=10
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION
S3=(--s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
SMALL=(--s3-part-size 1048576) # for the test build only

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
"$EDR" keygen -o "$T/k" >/dev/null || bail "keygen failed"

# bk CLUSTER [options]: back up into s3://bkt/prod, cluster CLUSTER
bk() {
    local c=$1
    shift
    "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod --cluster "$c" "${S3[@]}" \
        --recipient "$T/k.pub" "$@"
}
# bks CLUSTER [options]: the same with the test build and 1 MiB parts
bks() {
    local EDR=$EDRT
    bk "$@" "${SMALL[@]}"
}
# ids CLUSTER: the listed backup ids, one line
ids() {
    "$EDR" list --repo s3://bkt/prod --cluster "$1" "${S3[@]}" --json |
        python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(sys.stdin)))'
}
nids() { local v; v=$(ids "$1") || return 1; set -- $v; echo $#; }
# export_ CLUSTER ID FILE
export_() {
    "$EDR" export "$2" --repo s3://bkt/prod --cluster "$1" "${S3[@]}" --identity "$T/k.key" -o "$3"
}
# fault FIRST KIND REGEX: the front answers the FIRST requests matching REGEX with KIND
fault() {
    local re
    re=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$3")
    s3_front "faults?first=$1&rate=0&kind=$2&match=$re" >/dev/null
}
nofault() { s3_front "faults?first=0&rate=0&match=" >/dev/null; }
# objects PREFIX: the keys in the bucket under PREFIX (signed ListObjectsV2), one line
objects() {
    AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET \
        node "$S3DIR/s3req.js" GET "$S3_EP/bkt?list-type=2&prefix=$1" 2>/dev/null |
        python3 -c 'import re,sys; print(" ".join(re.findall(r"<Key>([^<]*)</Key>", sys.stdin.read())))'
}
count_log() { grep -cE -- "$1" "$LOG"; }
implemented() { "$EDR" help "$1" 2>/dev/null | grep -q '^  --'; }
status_of() { # status_of FILE.db: "revision totalKey" of etcdctl snapshot status
    snapctl snapshot status "$1" -w json 2>/dev/null |
        python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["revision"], d["totalKey"])'
}

# ---- 1. the whole flow -------------------------------------------------------
load_keys "$EP" /data/ 5000 30 || bail "loading keys failed"
ctl put /bin/tab "$(printf 'a\tb')" >/dev/null
check "backup to s3://bkt/prod succeeds" bk c1
ID=$(ids c1)
check "list --json shows exactly that backup ($ID)" test "$(nids c1)" = 1
REV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
MREV=$("$EDR" list --repo s3://bkt/prod --cluster c1 "${S3[@]}" --json |
    python3 -c 'import json,sys; b=json.load(sys.stdin)[-1]; print(b["revision"], b["encryption"]["enabled"])')
check "manifest: revision $REV, encrypted ($MREV)" test "$MREV" = "$REV True"
check "the bucket holds the data object and the manifest, no lock or leftover" \
    test "$(objects prod/)" = "prod/c1/$ID.edr prod/c1/$ID.json"
check "the list table names the backup" sh -c "'$EDR' list --repo s3://bkt/prod --cluster c1 $(printf "'%s' " "${S3[@]}") | grep -q '$ID'"
check "export latest from S3" export_ c1 latest "$T/exp.db"
ctl snapshot save "$T/ref.db" >/dev/null 2>&1
check "etcdctl snapshot status: revision and total keys equal etcdctl's snapshot ($(status_of "$T/ref.db"))" \
    test "$(status_of "$T/exp.db")" = "$(status_of "$T/ref.db")"
dump "$EP" "$T/src.dump"
if implemented restore; then
    check "restore latest from S3 into a fresh data dir" "$EDR" restore latest --repo s3://bkt/prod \
        --cluster c1 "${S3[@]}" --identity "$T/k.key" --name m1 \
        --initial-cluster m1=http://127.0.0.1:$((BASE_PORT + 12)) --initial-cluster-token t0510 \
        --data-dir "$T/r1"
    etcd_start_dir m1r "$T/r1" $((BASE_PORT + 11)) $((BASE_PORT + 12))
    if wait_healthy http://127.0.0.1:$((BASE_PORT + 11)); then
        dump http://127.0.0.1:$((BASE_PORT + 11)) "$T/r1.dump"
        check "the restored member serves every key with its value and revisions" cmp "$T/src.dump" "$T/r1.dump"
    else
        not_ok "the member restored from S3 did not become healthy"
        tail -5 "$T/m1r-restored.log" | sed 's/^/#   /'
    fi
    etcd_stop m1r
else
    not_ok "restore from S3: etcd-dr restore is missing"
fi
check "source has >= 5000 keys" test "$(wc -l <"$T/src.dump")" -ge 5000

# ---- 2. multipart upload -----------------------------------------------------
for i in $(seq 1 50); do # 5 MiB of values that compress to ~3.6 MiB
    head -c 75000 /dev/urandom | base64 -w0 | ctl put "/big/$i" >/dev/null || bail "put failed"
done
expect_fail "a part size below 5 MiB is refused by etcd-dr, whatever EDR_S3_TEST_* say" 2 \
    "below the 5 MiB minimum" bk mp "${SMALL[@]}"
p0=$(count_log 'partNumber=[0-9]+&uploadId=[^ ]* 200$')
c0=$(s3_stat completes)
check "backup with 1 MiB parts succeeds (test build)" "$EDRT" backup --endpoints "$EP" \
    --repo s3://bkt/prod --cluster mp "${S3[@]}" --recipient "$T/k.pub" "${SMALL[@]}"
parts=$(($(count_log 'partNumber=[0-9]+&uploadId=[^ ]* 200$') - p0))
check "the front saw >= 3 UploadPart requests ($parts) and one completion" \
    test "$parts" -ge 3 -a "$(($(s3_stat completes) - c0))" = 1
check "no multipart upload is left open" test -z "$(s3_uploads bkt prod/)"
check "the multipart object exports" export_ mp latest "$T/mp.db"
ctl snapshot save "$T/ref2.db" >/dev/null 2>&1
check "and equals etcdctl's snapshot in revision and total keys" \
    test "$(status_of "$T/mp.db")" = "$(status_of "$T/ref2.db")"
check "the snapshot is > 3 MiB ($(stat -c %s "$T/mp.db"))" test "$(stat -c %s "$T/mp.db")" -gt 3145728
if implemented verify; then
    check "verify latest on S3" "$EDR" verify latest --repo s3://bkt/prod --cluster mp "${S3[@]}" \
        --identity "$T/k.key"
else
    not_ok "verify latest on S3: etcd-dr verify is missing"
fi

# ---- 3. wrong credentials, missing bucket, dead server ----------------------
N1=$(nids c1)
AWS_SECRET_ACCESS_KEY=wrong expect_fail "a wrong secret key: exit 7 naming SignatureDoesNotMatch" 7 \
    "SignatureDoesNotMatch" bk c1
check "no new backup after it" test "$(nids c1)" = "$N1"
expect_fail "a missing bucket: exit 7 naming NoSuchBucket" 7 "NoSuchBucket" \
    "$EDR" backup --endpoints "$EP" --repo s3://nobkt/prod --cluster c1 "${S3[@]}" --recipient "$T/k.pub"
check "no new backup after it" test "$(nids c1)" = "$N1"
expect_fail "S3 server down: exit 7, unreachable" 7 "unreachable" \
    "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod --cluster c1 --s3-endpoint \
    http://127.0.0.1:$((BASE_PORT + 89)) --s3-path-style --s3-region us-east-1 --recipient "$T/k.pub"
check "no new backup after it, no lock or upload left" \
    test "$(nids c1)" = "$N1" -a "$(objects prod/c1/.lock)" = "" -a -z "$(s3_uploads bkt prod/)"

# ---- 4. faults -----------------------------------------------------------------
n=0
# faulty DESCRIPTION FIRST KIND REGEX: a backup under those faults succeeds
faulty() {
    local f0
    f0=$(s3_stat faults)
    fault "$2" "$3" "$4"
    check "$1: backup succeeds" bks ft
    n=$((n + 1))
    check "$1: the faults happened ($(($(s3_stat faults) - f0)) of $2)" test "$(($(s3_stat faults) - f0))" = "$2"
    nofault
}
faulty "503 SlowDown on the first 3 requests" 3 503 ''
faulty "connection cut on 2 part uploads" 2 reset 'partNumber='
faulty "500 on 2 completions" 2 500 '^POST .*uploadId='
faulty "completion done but its answer lost" 1 lost '^POST .*uploadId='
faulty "lock written but the answer lost" 1 lost '^PUT /bkt/prod/ft/\.lock'
check "list shows the $n backups" test "$(nids ft)" = "$n"
check "no multipart upload is left open" test -z "$(s3_uploads bkt prod/)"
fault 2 truncate '^GET /bkt/prod/ft/.*\.edr'
check "export resumes a download cut twice mid-body" export_ ft latest "$T/ft.db"
nofault
check "every backup made under faults exports" sh -c "for id in $(ids ft); do
    '$EDR' export \$id --repo s3://bkt/prod --cluster ft $(printf "'%s' " "${S3[@]}") --identity '$T/k.key' -o '$T/ft.db' || exit 1; done"
a0=$(s3_stat aborts)
fault 1000 500 'partNumber=2&'
expect_fail "500 forever on part 2: fails with one line naming InternalError" 7 "part 2: .*InternalError" \
    bks ft
nofault
check "the upload was aborted: ListMultipartUploads shows none" \
    test -z "$(s3_uploads bkt prod/)" -a "$(($(s3_stat aborts) - a0))" = 1
check "the lock was released" test -z "$(objects prod/ft/.lock)"
check "and list shows no new backup" test "$(nids ft)" = "$n"

# ---- 5. servers killed mid-upload ------------------------------------------------
fault 1000 stall 'partNumber=2&'
: >"$T/crash.err"
bks cr >/dev/null 2>"$T/crash.err" &
BPID=$!
for _ in $(seq 100); do grep -q 'partNumber=2&.* stall$' "$LOG" && break; sleep 0.1; done
check "part 1 stored, part 2 held by the front" grep -qE 'partNumber=1&.* 200$' "$LOG"
s3_stop KILL
wait "$BPID"
RC=$?
check "the backup fails (exit $RC) with one error line: unreachable" sh -c "test $RC = 7 &&
    test \$(grep -c '^etcd-dr: error:' '$T/crash.err') = 1 && grep -q '^etcd-dr: error: .*unreachable' '$T/crash.err'" ||
    sed 's/^/#   /' "$T/crash.err" | head -30
s3_start || bail "$S3_WHY"
check "after the restart, list shows nothing" test "$(nids cr)" = 0
check "and the abandoned upload is there" test "$(s3_uploads bkt prod/cr/ | wc -l)" = 1
check "the next backup succeeds" sh -c "'$EDRT' backup --endpoints '$EP' --repo s3://bkt/prod --cluster cr \
    $(printf "'%s' " "${S3[@]}" "${SMALL[@]}") --recipient '$T/k.pub' --log-level info 2>'$T/next.err'"
check "it took over the dead run's lock" grep -q "taking over the lock .* no longer running" "$T/next.err"
check "it aborted the abandoned upload" grep -q "aborted the incomplete upload of 'prod/cr/" "$T/next.err"
check "ListMultipartUploads shows none" test -z "$(s3_uploads bkt prod/)"
check "no lock is left" test -z "$(objects prod/cr/.lock)"
check "list shows the new backup only, and it exports" sh -c "test $(nids cr) = 1 &&
    '$EDR' export latest --repo s3://bkt/prod --cluster cr $(printf "'%s' " "${S3[@]}") --identity '$T/k.key' -o '$T/cr.db'"

# term_when_stalled PID FAULTS_BEFORE: once the front has held a request, SIGTERM
# to PID; success when PID is gone within 3 s (then `wait` gives its status),
# else it is killed (-9) and reaped.
term_when_stalled() {
    for _ in $(seq 100); do [ "$(s3_stat faults)" != "$2" ] && break; sleep 0.1; done
    kill -TERM "$1"
    for _ in $(seq 30); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1"
    wait "$1"
    return 1
}

# SIGTERM while the server hangs: the backup stops at once and undoes its upload
# and lock (the CLI hands its signal flag to the storage options, edr_storage_opts.interrupted).
f0=$(s3_stat faults)
fault 1000 stall 'partNumber=2&'
"$EDRT" backup --endpoints "$EP" --repo s3://bkt/prod --cluster term "${S3[@]}" \
    --recipient "$T/k.pub" "${SMALL[@]}" >/dev/null 2>"$T/term.err" &
BPID=$!
if ! term_when_stalled "$BPID" "$f0"; then
    not_ok "SIGTERM stops a backup stuck on a hung S3 server within 3 s"
    nofault
    bk term >/dev/null 2>&1 # takes over the lock, removes the upload
else
    wait "$BPID"
    RC=$?
    nofault
    check "SIGTERM stops a backup stuck on a hung S3 server: exit 15 ($RC), one error line" sh -c \
        "test $RC = 15 && test \$(grep -c '^etcd-dr: error:' '$T/term.err') = 1"
    check "it aborted its upload and removed its lock" \
        test -z "$(s3_uploads bkt prod/term/)" -a -z "$(objects prod/term/.lock)"
fi

# SIGTERM while an export waits for a hung GET: exit 15, no temp file left.
f0=$(s3_stat faults)
fault 1000 stall '^GET /bkt/prod/cr/[^?]*[.]edr'
"$EDR" export latest --repo s3://bkt/prod --cluster cr "${S3[@]}" --identity "$T/k.key" \
    -o "$T/term-exp.db" >/dev/null 2>"$T/term-exp.err" &
BPID=$!
if ! term_when_stalled "$BPID" "$f0"; then
    not_ok "SIGTERM stops an export stuck on a hung S3 server within 3 s"
else
    wait "$BPID"
    RC=$?
    check "SIGTERM stops an export stuck on a hung GET: exit 15 ($RC), one error line" sh -c \
        "test $RC = 15 && test \$(grep -c '^etcd-dr: error:' '$T/term-exp.err') = 1"
    check "and leaves neither the file nor its temp file" no_output "$T/term-exp.db"
fi
nofault

# ---- 6. prune ------------------------------------------------------------------
for i in 1 2 3 4; do
    ctl put /prune/$i x >/dev/null
    bk pr >/dev/null 2>&1 || not_ok "prune: backup $i failed"
    [ $i -lt 4 ] && sleep 1
done
check "4 backups to prune" test "$(nids pr)" = 4
PR=(--repo s3://bkt/prod --cluster pr "${S3[@]}" --keep-last 2 --json)
"$EDR" prune "${PR[@]}" --dry-run >"$T/dry.json" 2>"$T/dry.err"
pick() { python3 -c 'import json,sys; print(" ".join(sorted(b["id"] for b in json.load(open(sys.argv[1])) if b["action"] == sys.argv[2])))' "$@"; }
ALL=($(ids pr))
check "dry run: removes the 2 oldest, keeps the 2 newest" sh -c "test '$(pick "$T/dry.json" remove)' = '${ALL[0]} ${ALL[1]}' &&
    test '$(pick "$T/dry.json" keep)' = '${ALL[2]} ${ALL[3]}'"
check "dry run removes nothing" test "$(nids pr)" = 4
check "prune --keep-last 2 succeeds" sh -c "'$EDR' prune $(printf "'%s' " "${PR[@]}") >'$T/prune.json'"
check "it removed exactly the dry run's list" test "$(pick "$T/prune.json" remove)" = "$(pick "$T/dry.json" remove)"
check "list agrees" test "$(ids pr)" = "${ALL[2]} ${ALL[3]}"
check "the bucket holds only the kept backups' objects" test "$(objects prod/pr/)" = \
    "prod/pr/${ALL[2]}.edr prod/pr/${ALL[2]}.json prod/pr/${ALL[3]}.edr prod/pr/${ALL[3]}.json"

# --- captured changes on S3: capture, list, verify --chain, restore --to-revision
CR=(--repo s3://bkt/prod --cluster pitr "${S3[@]}")
check "backup before capture" "$EDR" backup --endpoints "$EP" "${CR[@]}" --recipient "$T/k.pub" -q
"$EDR" capture --endpoints "$EP" "${CR[@]}" --recipient "$T/k.pub" --flush 1 >"$T/capture.log" 2>&1 &
CAPP=$!
sleep 1
for i in $(seq 1 20); do ctl put "/pitr/$i" "v$i" >/dev/null; done
ctl del --prefix /pitr/1 >/dev/null
PEND=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
for _ in $(seq 1 40); do
    "$EDR" list "${CR[@]}" | grep -q "to $PEND is recoverable" && break
    sleep 0.5
done
kill -TERM "$CAPP"
wait "$CAPP"
check "capture on S3 exits 0 on SIGTERM" test $? -eq 0
check "list shows the captured range on S3" sh -c "'$EDR' list $(printf "'%s' " "${CR[@]}") | grep -q 'to $PEND is recoverable'"
check "verify --chain on S3" "$EDR" verify --chain "${CR[@]}" --identity "$T/k.key"
check "restore --to-revision from S3" "$EDR" restore --to-revision "$PEND" "${CR[@]}" --identity "$T/k.key" --data-dir "$T/pitr"
check "segments on S3 under changes/" test -n "$(objects prod/pitr/changes/ | tr ' ' '\n' | grep '\.json$')"

[ "$_tap_fail" -eq 0 ] || sed 's/^/# front: /' "$T/front.log" | tail -20
done_testing
