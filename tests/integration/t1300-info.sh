#!/bin/bash
# info over a repository of four clusters in different states, backed up from
# a real etcd: fresh (verified), stale (an imported snapshot three days old),
# broken (its last verify failed on damaged data) and unverified. Each gets its
# status, the exit status says whether any is stale or failing (16), the
# --json fields hold what the repository does; --max-age and a [schedule]
# backup cron set the age limit. list without a cluster, or with one that does
# not exist, names the clusters there are (exit 8); a repository with a
# "default" cluster lists it as before. The same on S3 (s3rver behind the
# SigV4-checking front of tests/integration/s3/).
BASE_PORT=26000
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /registry/configmaps/default/cm- 300 60 || bail "load failed"

R="$T/repo"
B=(--endpoints "$EP" --repo "$R" --no-encrypt -q)
"$EDR" backup "${B[@]}" --cluster fresh || bail "backup fresh failed"
"$EDR" verify latest --repo "$R" --cluster fresh -q || bail "verify fresh failed"
"$EDR" backup "${B[@]}" --cluster unverified || bail "backup unverified failed"
"$EDR" backup "${B[@]}" --cluster broken || bail "backup broken failed"
ctl snapshot save "$T/old.db" >/dev/null 2>&1 || bail "etcdctl snapshot save failed"
touch -d '3 days ago' "$T/old.db"
"$EDR" import --from etcdctl "$T/old.db" --repo "$R" --cluster stale --no-encrypt -q >/dev/null || bail "import failed"
# damage the broken cluster's data, then verify records the failure
f=$(ls "$R"/broken/*.edr)
python3 - "$f" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
for i in range(len(b) // 2, len(b) // 2 + 64):
    b[i] ^= 0xff
open(p, "wb").write(bytes(b))
PY
"$EDR" verify latest --repo "$R" --cluster broken -q >/dev/null 2>&1
check "verify of the damaged backup failed and was recorded" \
    grep -q '"ok": *false' "$(ls "$R"/broken/*.verify.json)"

# status of cluster C in info --json output file F
status() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([c["status"] for c in d["clusters"] if c["cluster"]==sys.argv[2]][0])' "$1" "$2"; }

"$EDR" info --repo "$R" --max-age 1d --json >"$T/i1.json" 2>"$T/i1.err"
rc=$?
check "info exits 16 when a cluster is stale or failing" test "$rc" = 16
"$EDR" info --repo "$R" --max-age 1d >"$T/i1.out" 2>/dev/null
check "the table says why broken is failing, below it" \
    grep -q '^broken: the last verification (.*, content) failed$' "$T/i1.out"
check "and why stale is stale" grep -q '^stale: newest backup older than allowed by --max-age 1d$' "$T/i1.out"
check "info --json names the four clusters, sorted" test "$(python3 -c 'import json,sys; print(" ".join(c["cluster"] for c in json.load(open(sys.argv[1]))["clusters"]))' "$T/i1.json")" = "broken fresh stale unverified"
check "fresh is ok" test "$(status "$T/i1.json" fresh)" = ok
check "stale (3 days, --max-age 1d) is stale" test "$(status "$T/i1.json" stale)" = stale
check "broken (last verify failed) is failing" test "$(status "$T/i1.json" broken)" = failing
check "unverified is never verified" test "$(status "$T/i1.json" unverified)" = "never verified"
check "the error line counts the clusters" grep -q '^etcd-dr: error: 2 clusters stale or failing$' "$T/i1.err"
REV=$(ls "$R"/fresh/*.json | grep -v verify | head -1 | xargs python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["revision"])')
STORED=$(cat "$R"/fresh/*.json | python3 -c '
import json,sys
dec = json.JSONDecoder(); s = sys.stdin.read(); i = 0; tot = 0
while i < len(s):
    while i < len(s) and s[i].isspace(): i += 1
    if i >= len(s): break
    o, i = dec.raw_decode(s, i)
    tot += o.get("stored_size", 0)
print(tot)')
check "--json fields of fresh: backups, revisions, stored bytes, last verify" python3 - "$T/i1.json" "$REV" "$STORED" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = [c for c in d["clusters"] if c["cluster"] == "fresh"][0]
assert c["backups"] == 1, c
assert c["newest"]["revision"] == int(sys.argv[2]) == c["oldest"]["revision"], c
assert 0 <= c["newest"]["age_seconds"] < 600, c
assert c["stored_bytes"] == int(sys.argv[3]) > 0, c
assert c["last_verify"]["ok"] is True and c["last_verify"]["level"] == "content", c
assert c["recoverable"] == [] and c["damaged"] == 0, c
assert d["max_age"] == "--max-age 1d" and d["problems"] == 2, d
s = [c for c in d["clusters"] if c["cluster"] == "stale"][0]
assert 3 * 86400 - 600 < s["newest"]["age_seconds"] < 3 * 86400 + 600, s
assert s["last_verify"] is None, s
b = [c for c in d["clusters"] if c["cluster"] == "broken"][0]
assert b["last_verify"]["ok"] is False and "failed" in b["reason"], b
PY

"$EDR" info --repo "$R" --max-age 1w --json >"$T/i2.json" 2>/dev/null
rc=$?
check "--max-age 1w: the old backup is no longer stale" test "$(status "$T/i2.json" stale)" = "never verified"
check "--max-age 1w: still exit 16 for the failing cluster" test "$rc" = 16

# the period of the [schedule] backup cron: hourly, stale after 2 hours
printf '[repo]\npath = %s\n[schedule]\nbackup = 0 * * * *\n' "$R" >"$T/c.conf"
"$EDR" info --config "$T/c.conf" --json >"$T/i3.json" 2>/dev/null
check "[schedule] backup hourly: the 3-day-old cluster is stale" test "$(status "$T/i3.json" stale)" = stale
check "[schedule] backup hourly: fresh is ok" test "$(status "$T/i3.json" fresh)" = ok
check "max_age names the schedule" grep -q "schedule '0 \* \* \* \*'" "$T/i3.json"

rm -rf "$R/broken" "$R/stale"
check "info exits 0 when no cluster is stale or failing" "$EDR" info --repo "$R" --max-age 1d
"$EDR" info --repo "$R" --max-age 1d >"$T/i4.out"
check "the table has its header" grep -Eq '^CLUSTER +STATUS +BACKUPS +STORED +OLDEST +NEWEST +AGE +REVISION +LAST VERIFIED +RECOVERABLE$' "$T/i4.out"
check "the table: unverified, never verified" grep -Eq '^unverified +never verified +1 ' "$T/i4.out"
check "the table: fresh is ok, with its revision and last verification" \
    grep -Eq "^fresh +ok +1 .* $REV +[0-9T:-]+Z content ok +-$" "$T/i4.out"
expect_fail "info rejects a bad --max-age" 2 "max-age.*invalid duration" "$EDR" info --repo "$R" --max-age 2x
printf '[schedule]\nmax-age = 2x\n' >"$T/bad.conf"
expect_fail "config check names a bad [schedule] max-age" 3 "bad.conf:2: 'max-age': invalid duration '2x'" \
    "$EDR" config check --config "$T/bad.conf"

# list without --cluster in a repository without "default"
expect_fail "list with no cluster names those there are" 8 \
    "no cluster given and no cluster 'default' in .*; it holds: fresh, unverified$" "$EDR" list --repo "$R"
expect_fail "list --cluster of a missing cluster names those there are" 8 \
    "no cluster 'nope' in .*; it holds: fresh, unverified$" "$EDR" list --repo "$R" --cluster nope
# a cluster whose backups are all gone keeps its lock file: it exists, empty
"$EDR" backup "${B[@]}" --cluster gone || bail "backup gone failed"
rm -f "$R"/gone/*.edr "$R"/gone/*.json
check "the lock file stays" test -f "$R/gone/.lock"
check "list of a cluster with no backup left: nothing, exit 0" \
    sh -c "'$EDR' list --repo '$R' --cluster gone | grep -q \"^no backups for cluster 'gone'\""
check "info does not count a lock alone as a cluster" \
    sh -c "'$EDR' info --repo '$R' --json | python3 -c 'import json,sys; sys.exit(0 if [c[\"cluster\"] for c in json.load(sys.stdin)[\"clusters\"]] == [\"fresh\", \"unverified\"] else 1)'"
check "list --cluster fresh still lists" sh -c "'$EDR' list --repo '$R' --cluster fresh | grep -q ' ok content'"
"$EDR" backup "${B[@]}" || bail "backup default failed"
check "with a 'default' cluster, list without --cluster lists it as before" \
    sh -c "'$EDR' list --repo '$R' --json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)) == 1 else 1)'"
mkdir "$T/empty-repo-dir"
check "an empty repository lists nothing, exit 0" "$EDR" list --repo "$T/empty-repo-dir"

# --- the same over S3 ---
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
if ! s3_require; then
    [ -n "${CI:-}" ] && bail "$S3_WHY (CI is set)"
    skip "S3: $S3_WHY"
    done_testing
    exit 0
fi
trap 's3_stop; cleanup' EXIT
S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 20)) S3_BUCKETS=bkt
s3_start || bail "$S3_WHY"
s3_client_env
S3=(--repo s3://bkt/dr --s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
"$EDR" backup --endpoints "$EP" "${S3[@]}" --cluster prod --no-encrypt -q 2>/dev/null || bail "S3 backup failed"
"$EDR" verify latest "${S3[@]}" --cluster prod -q >/dev/null || bail "S3 verify failed"
"$EDR" backup --endpoints "$EP" "${S3[@]}" --cluster staging --no-encrypt -q 2>/dev/null || bail "S3 backup failed"
"$EDR" info "${S3[@]}" --max-age 1d --json >"$T/s3.json"
check "S3: info exits 0 (ok and never verified)" test $? = 0
check "S3: prod is ok" test "$(status "$T/s3.json" prod)" = ok
check "S3: staging is never verified" test "$(status "$T/s3.json" staging)" = "never verified"
expect_fail "S3: list with no cluster names those there are" 8 \
    "no cluster given and no cluster 'default' in 's3://bkt/dr'; it holds: prod, staging$" "$EDR" list "${S3[@]}"
done_testing
