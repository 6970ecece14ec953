#!/bin/sh
# t0500: the S3 storage backend against s3rver behind tests/integration/s3/front.js,
# which checks SigV4 like AWS and adds multipart abort/list, conditional PUT and
# fault injection. Drives the backend with tests/unit/storage/s3_driver.
# Needs node and the npm packages of tests/integration/s3 (installed here with
# `npm ci` when missing). Without them the test is skipped, or fails when CI is set.
# Ports 21350 (front) and 21351 (s3rver) on 127.0.0.1. Servers: s3/lib-s3.sh.
set -u

SRCDIR=${EDR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILDDIR=${EDR_BUILDDIR:-$SRCDIR}
DRIVER=$BUILDDIR/tests/unit/storage/s3_driver
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
FPORT=${EDR_T0500_PORT:-$((21350 + ${EDR_PORT_SHIFT:-0}))}
EP=http://127.0.0.1:$FPORT

skip_or_fail() {
    if [ -n "${CI:-}" ]; then
        echo "1..1"
        echo "not ok 1 - $1"
        exit 1
    fi
    echo "1..0 # SKIP $1"
    exit 0
}

s3_require || skip_or_fail "$S3_WHY"
[ -x "$DRIVER" ] || skip_or_fail "$DRIVER not built"

TMP=$(mktemp -d /tmp/t0500.XXXXXX)
cleanup() {
    s3_stop
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    [ -f "$TMP/err" ] && sed 's/^/# /' "$TMP/err"
    [ -f "$TMP/out" ] && sed 's/^/# out: /' "$TMP/out"
}
check() { # description, then a command (or one string to eval) that must succeed
    d=$1
    shift
    rm -f "$TMP/err" "$TMP/out"
    if [ $# -eq 1 ]; then
        if eval "$1"; then ok "$d"; else nok "$d"; fi
    elif "$@"; then ok "$d"; else nok "$d"; fi
}

S3_DATA=$TMP/data S3_FPORT=$FPORT S3_BUCKETS=bkt S3_SECRET=sekret
S3_FRONT_ARGS="--min-part-size 100000"
s3_start || skip_or_fail "$S3_WHY"

echo "1..36"

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=sekret AWS_REGION=us-east-1
export EDR_S3_TEST_SMALL_PARTS=1 EDR_S3_TEST_RETRY_MS=10
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 2>/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
PART=300000
D() { "$DRIVER" -e "$EP" -p "$PART" "$@" >"$TMP/out" 2>"$TMP/err"; }
front() { s3_front "$1"; }
stat_of() { s3_stat "$1"; }

check "front.js signer matches AWS's published signatures" \
    "node --test '$S3DIR/selftest.js' >'$TMP/out' 2>&1"

head -c 1000003 /dev/urandom >"$TMP/big"
printf 'hello s3\n' >"$TMP/small"

check "small object: single PUT" D s3://bkt/pre put small.txt "$TMP/small" 0 1
check "small object reads back" "'$DRIVER' -e $EP s3://bkt/pre get small.txt '$TMP/small.out' 2>'$TMP/err' && cmp -s '$TMP/small' '$TMP/small.out'"
check "multipart: 4 parts written in 7777-byte chunks" D s3://bkt/pre put dir/big.bin "$TMP/big" 1000003 7777
check "multipart: completed with 4 parts, no upload left open" \
    "[ \"\$(front stats | grep -o '\"parts\":[0-9]*')\" = '\"parts\":4' ] && [ \"$(stat_of open_uploads)\" = 0 ]" 
check "multipart object reads back identical" "'$DRIVER' -e $EP s3://bkt/pre get dir/big.bin '$TMP/big.out' 2>'$TMP/err' && cmp -s '$TMP/big' '$TMP/big.out'"
check "get from an offset (Range)" "'$DRIVER' -e $EP s3://bkt/pre get dir/big.bin '$TMP/big.off' 654321 2>'$TMP/err' && tail -c +654322 '$TMP/big' | cmp -s - '$TMP/big.off'"
check "get from offset == size is empty" "'$DRIVER' -e $EP s3://bkt/pre get dir/big.bin '$TMP/big.end' 1000003 2>'$TMP/err' && [ ! -s '$TMP/big.end' ]"

for i in 1 2 3 4 5; do D s3://bkt/pre put "list/o$i" "$TMP/small"; done
D s3://bkt/other put x "$TMP/small"
check "list with pagination (2 keys a page) and prefix" "EDR_S3_TEST_MAX_KEYS=2 '$DRIVER' -e $EP s3://bkt/pre list list/ 2>'$TMP/err' | sort | tr '\n' ' ' | grep -qx 'list/o1 9 list/o2 9 list/o3 9 list/o4 9 list/o5 9 '"
check "list of the whole repository stays under its prefix" "'$DRIVER' -e $EP s3://bkt/pre list '' 2>'$TMP/err' | sort | head -2 | tr '\n' ' ' | grep -qx 'dir/big.bin 1000003 list/o1 9 '"
check "stat of an object" "'$DRIVER' -e $EP s3://bkt/pre stat dir/big.bin | grep -qx 'exists=1 size=1000003 mtime_set=1'"
check "del, then stat says missing" "'$DRIVER' -e $EP s3://bkt/pre del list/o1 && '$DRIVER' -e $EP s3://bkt/pre stat list/o1 | grep -qx 'exists=0 size=0 mtime_set=0'"
check "del of a missing object is fine" D s3://bkt/pre del list/nope
check "get of a missing object: EDR_E_NOTFOUND (8)" "'$DRIVER' -e $EP s3://bkt/pre get nope '$TMP/x' 2>'$TMP/err'; [ \$? = 8 ] && grep -q \"^error: s3 GET 's3://bkt/pre/nope': NoSuchKey: The specified key does not exist.\$\" '$TMP/err'"

check "wrong secret: SignatureDoesNotMatch, exit 7" "AWS_SECRET_ACCESS_KEY=wrong '$DRIVER' -e $EP s3://bkt/pre list '' 2>'$TMP/err'; [ \$? = 7 ] && grep -q \"^error: s3 GET 's3://bkt/': SignatureDoesNotMatch: The request signature we calculated\" '$TMP/err' && grep -q '^hint: the secret access key' '$TMP/err'"
check "unknown key id: InvalidAccessKeyId" "AWS_ACCESS_KEY_ID=nobody '$DRIVER' -e $EP s3://bkt/pre put a '$TMP/small' 2>'$TMP/err'; [ \$? = 7 ] && grep -q \"^error: s3 PUT 's3://bkt/pre/a': InvalidAccessKeyId: The AWS Access Key Id you provided does not exist in our records.\$\" '$TMP/err'"
echo "sekret" >"$TMP/secret"
check "secret from a file (-s), key id from the environment" "AWS_SECRET_ACCESS_KEY= '$DRIVER' -e $EP -s '$TMP/secret' s3://bkt/pre stat small.txt 2>'$TMP/err' | grep -q exists=1"
front "faults?clock_offset=3600" >/dev/null
check "clock skew: RequestTimeTooSkewed with the server's message" "'$DRIVER' -e $EP s3://bkt/pre del x 2>'$TMP/err'; [ \$? = 7 ] && grep -q 'RequestTimeTooSkewed: The difference between the request time and the current time is too large.\$' '$TMP/err' && grep -q '^hint: .*clock' '$TMP/err'"
front "faults?clock_offset=0" >/dev/null
check "no such bucket" "'$DRIVER' -e $EP s3://nobkt/p list '' 2>'$TMP/err'; [ \$? = 7 ] && grep -q \"^error: s3 bucket 'nobkt': NoSuchBucket: \" '$TMP/err'"
check "unreachable endpoint" "'$DRIVER' -e http://127.0.0.1:1 s3://bkt/p stat x 2>'$TMP/err'; [ \$? = 7 ] && grep -q \"^error: s3 endpoint 'http://127.0.0.1:1': unreachable: \" '$TMP/err'"

# Retries.
front "faults?first=3&kind=503&match=partNumber" >/dev/null
check "503 SlowDown on the first 3 part uploads: retried, upload succeeds" D s3://bkt/pre put r1 "$TMP/big"
front "faults?first=2&kind=reset&match=partNumber" >/dev/null
check "connection cut on 2 part uploads: retried, upload succeeds" "'$DRIVER' -e $EP -p $PART s3://bkt/pre put r2 '$TMP/big' 2>'$TMP/err' && '$DRIVER' -e $EP s3://bkt/pre get r2 '$TMP/r2' && cmp -s '$TMP/big' '$TMP/r2'"
front "faults?first=2&kind=truncate&match=%5EGET%20%2Fbkt%2Fpre%2Fdir" >/dev/null
before=$(stat_of ranged_gets)
check "GET cut twice mid-body resumes with Range, identical bytes" "'$DRIVER' -e $EP s3://bkt/pre get dir/big.bin '$TMP/big.rs' 2>'$TMP/err' && cmp -s '$TMP/big' '$TMP/big.rs' && [ \$(( \$(front stats | grep -o '\"ranged_gets\":[0-9]*' | cut -d: -f2) - $before )) = 2 ]"
aborts=$(stat_of aborts)
front "faults?first=100&kind=500&match=partNumber" >/dev/null
check "500 forever on parts: fails after 5 tries and aborts the upload" "'$DRIVER' -e $EP -p $PART s3://bkt/pre put r3 '$TMP/big' 2>'$TMP/err'; [ \$? = 7 ] && grep -q 'InternalError' '$TMP/err' && [ \$(front stats | grep -o '\"aborts\":[0-9]*' | cut -d: -f2) = $((aborts + 1)) ]"
faults=$(stat_of faults)
front "faults?first=1&kind=lost&match=%5EPOST%20.*uploadId%3D" >/dev/null
check "completion done upstream but its answer lost: the retry's NoSuchUpload is recognised" "'$DRIVER' -e $EP -p $PART s3://bkt/pre put r6 '$TMP/big' 2>'$TMP/err' && [ \$(front stats | grep -o '\"faults\":[0-9]*' | cut -d: -f2) = $((faults + 1)) ] && '$DRIVER' -e $EP s3://bkt/pre get r6 '$TMP/r6' && cmp -s '$TMP/big' '$TMP/r6'"
front "faults?first=0&match=" >/dev/null
check "stream freed without finish aborts the upload, object absent" "D s3://bkt/pre putabort r4 '$TMP/big'; [ \$(front stats | grep -o '\"aborts\":[0-9]*' | cut -d: -f2) = $((aborts + 2)) ] && '$DRIVER' -e $EP s3://bkt/pre stat r4 | grep -q exists=0"
aborts=$(stat_of aborts)
faults=$(stat_of faults)
front "faults?first=1000&kind=stall&match=partNumber%3D2%26" >/dev/null
"$DRIVER" -e "$EP" -p "$PART" s3://bkt/pre put r7 "$TMP/big" 2>"$TMP/err7" &
DPID=$!
i=0
while [ $i -lt 100 ] && [ "$(stat_of faults)" = "$faults" ]; do sleep 0.1; i=$((i + 1)); done
kill -TERM $DPID
t0=$(date +%s)
wait $DPID
rc=$?
t1=$(date +%s)
front "faults?first=0&match=" >/dev/null
check "SIGTERM while the server hangs on a part: stops in <= 3 s, exit 15, upload aborted" "[ $rc = 15 ] && [ $((t1 - t0)) -le 3 ] && grep -q \"^error: part 2: s3 PUT 's3://bkt/pre/r7': interrupted\$\" '$TMP/err7' && [ \$(front stats | grep -o '\"aborts\":[0-9]*' | cut -d: -f2) = $((aborts + 1)) ]"
front "faults?min_part=500000" >/dev/null
check "parts below the server minimum: EntityTooSmall at completion" "D s3://bkt/pre put r5 '$TMP/big'; [ \$? = 7 ] && grep -q 'EntityTooSmall' '$TMP/err'"
front "faults?min_part=100000" >/dev/null

# Abandoned uploads.
"$DRIVER" -e "$EP" -p "$PART" s3://bkt/pre putleak leak/a "$TMP/big" 2>"$TMP/err"
check "cleanup keeps young uploads, aborts old ones" "'$DRIVER' -e $EP s3://bkt/pre cleanup leak/ 3600 2>'$TMP/err' && [ \$(front stats | grep -o '\"open_uploads\":[0-9]*' | cut -d: -f2) = 1 ] && '$DRIVER' -e $EP s3://bkt/pre cleanup '' 0 2>'$TMP/err' && [ \$(front stats | grep -o '\"open_uploads\":[0-9]*' | cut -d: -f2) = 0 ]"

# Locks.
"$DRIVER" -e "$EP" s3://bkt/pre lock .lock alice 0 60 3 >"$TMP/lock1" 2>&1 &
LPID=$!
sleep 1
check "a held lock refuses a second run (EDR_E_LOCK, 11)" "'$DRIVER' -e $EP s3://bkt/pre lock .lock bob 0 60 0 2>'$TMP/err'; [ \$? = 11 ] && grep -q \"^error: repository 's3://bkt/pre/.lock' is locked by alice (host \" '$TMP/err'"
check "waiting for the lock succeeds once it is released" "'$DRIVER' -e $EP s3://bkt/pre lock .lock bob 10 60 0 2>'$TMP/err' | grep -q locked"
wait $LPID
"$DRIVER" -e "$EP" s3://bkt/pre lockleak .lock crashed 1 >/dev/null 2>&1
sleep 2
check "a stale lock is taken over with a warning" "'$DRIVER' -e $EP s3://bkt/pre lock .lock carol 0 60 0 >'$TMP/out' 2>'$TMP/err' && grep -q locked '$TMP/out' && grep -q \"warning: taking over the stale lock 's3://bkt/pre/.lock' of crashed\" '$TMP/err'"
"$DRIVER" -e "$EP" s3://bkt/pre lockleak .lock3 gone 3600 >/dev/null 2>&1
check "a lock whose holder died on this machine is taken over at once" "'$DRIVER' -e $EP s3://bkt/pre lock .lock3 frank 0 60 0 >'$TMP/out' 2>'$TMP/err' && grep -q locked '$TMP/out' && grep -q \"warning: taking over the lock 's3://bkt/pre/.lock3' of gone (host .*, pid [0-9]*): that process is no longer running\" '$TMP/err'"
# A run longer than its lock's time to live keeps the lock: with a TTL of 6 s
# and an upload of 4 parts over about 10 s, the lock written at 0 s would be
# stale at 6 s; refreshed before each part (a third of the TTL after the last
# write), it still holds at 7.5 s.
"$DRIVER" -e "$EP" -p "$PART" -d 1000 s3://bkt/pre lockput .lock4 slow 6 slow.bin "$TMP/big" \
    >"$TMP/lp.out" 2>"$TMP/lp.err" &
LPID=$!
for _ in $(seq 50); do grep -q locked "$TMP/lp.out" && break; sleep 0.1; done
sleep 7.5
check "a long run's lock is refreshed: still held after its TTL" "'$DRIVER' -e $EP s3://bkt/pre lock .lock4 grace 0 6 0 >'$TMP/out' 2>'$TMP/err'; [ \$? = 11 ] && grep -q 'is locked by slow' '$TMP/err'"
wait $LPID
LRC=$?
check "the long upload succeeds and releases its lock" "[ $LRC = 0 ] && '$DRIVER' -e $EP s3://bkt/pre stat slow.bin | grep -q size=1000003 && '$DRIVER' -e $EP s3://bkt/pre stat .lock4 | grep -q exists=0 && ! grep -q warning '$TMP/lp.err'"
front "faults?conditional=0" >/dev/null
"$DRIVER" -e "$EP" s3://bkt/pre lock .lock2 dave 0 60 3 >/dev/null 2>&1 &
LPID=$!
sleep 1
check "server ignoring If-None-Match: the lock is still read first and refused" "'$DRIVER' -e $EP s3://bkt/pre lock .lock2 erin 0 60 0 2>'$TMP/err'; [ \$? = 11 ] && grep -q 'is locked by dave' '$TMP/err'"
wait $LPID
front "faults?conditional=1" >/dev/null

if [ $failed -ne 0 ]; then
    sed 's/^/# front: /' "$TMP/front.log"
    exit 1
fi
exit 0
