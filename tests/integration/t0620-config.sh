#!/bin/bash
# The config file: `config check` on the documented example, errors naming
# file:line (unknown key or section, bad numbers, bad cron, bad values),
# warnings for missing referenced files, redaction, --json, and the
# precedence flag > environment > file > default, shown by `config check`
# and obeyed by a real backup that takes its repository from the file.
BASE_PORT=23620
. "$(dirname "$0")/lib.sh"
require_etcd

"$EDR" keygen -o "$T/k" >/dev/null
mkdir -p "$T/textfile"

# the example of the documentation, as written but for the local paths
CF=$T/etcd-dr.conf
cat >"$CF" <<EOF
[etcd]
endpoints = https://10.0.0.1:2379,https://10.0.0.2:2379
[repo]
path = $T/repo
cluster = prod
recipient = $T/k.pub
[schedule]
backup = */30 * * * *
[retention]
keep-last = 3
[metrics]
file = $T/textfile/etcd_dr.prom
EOF
check "config check accepts the example" sh -c "'$EDR' config check --config '$CF' >'$T/c1.out' 2>'$T/c1.err'"
has() { grep -qxF -- "$2" "$1" || { diag "missing in $1: $2"; return 1; }; }
check "it shows the endpoints with file:line" has "$T/c1.out" "[etcd] endpoints = https://10.0.0.1:2379,https://10.0.0.2:2379  ($CF:2)"
check "the repository path" has "$T/c1.out" "[repo] path = $T/repo  ($CF:4)"
check "the retention rule" has "$T/c1.out" "[retention] keep-last = 3  ($CF:10)"
check "the metrics file" has "$T/c1.out" "[metrics] file = $T/textfile/etcd_dr.prom  ($CF:12)"
check "defaults, marked as such" has "$T/c1.out" "[etcd] endpoint-policy = follower  (default)"
check "the schedule job with its next run" grep -q "^\[schedule\] backup = \*/30 \* \* \* \*  ($CF:8) next 20[0-9-]*T[0-9][0-9]:[03]0:00Z$" "$T/c1.out"
check "and says ok" has "$T/c1.out" "config '$CF': ok"
check "no warning when the referenced files exist" test ! -s "$T/c1.err"

sed "s|^recipient = .*|recipient = /etc/etcd-dr/backup.pub|" "$CF" >"$T/asis.conf"
check "the example with its original recipient path also passes" \
    sh -c "'$EDR' config check --config '$T/asis.conf' >'$T/c2.out' 2>'$T/c2.err'"
check "with a warning that the recipient file does not exist" \
    grep -q "warning: $T/asis.conf:6: 'recipient': file '/etc/etcd-dr/backup.pub' does not exist" "$T/c2.err"

check "--json" python3 -c '
import json, subprocess, sys
out = subprocess.run([sys.argv[1], "config", "check", "--config", sys.argv[2], "--json"],
                     capture_output=True, text=True, check=True).stdout
d = json.loads(out)
assert d["valid"] is True and d["config"] == sys.argv[2] and d["errors"] == [], d
s = {x["option"]: x for x in d["settings"]}
assert s["endpoints"]["source"] == "file" and s["endpoints"]["line"] == 2, s["endpoints"]
assert s["keep-last"]["value"] == "3" and s["keep-last"]["line"] == 10
assert s["compress-level"]["source"] == "default"
assert d["schedule"][0]["job"] == "backup" and d["schedule"][0]["line"] == 8
assert d["schedule"][0]["next"].endswith(":00Z"), d["schedule"]
' "$EDR" "$CF"

# ---- errors name file:line and exit 3
bad() { # bad NAME LINE_TO_ADD_AFTER PATTERN_AFTER_LINE: a copy of the example with one line changed
    sed "$2" "$CF" >"$T/$1.conf"
}
bad unknown "s|^cluster = prod|cluster = prod\nbogus = 1|"
expect_fail "an unknown key" 3 "unknown.conf:6: unknown key 'bogus' in \[repo\]" \
    "$EDR" config check --config "$T/unknown.conf"
bad section "s|^\[metrics\]|[metricz]|"
expect_fail "an unknown section" 3 "section.conf:11: unknown section \[metricz\]" \
    "$EDR" config check --config "$T/section.conf"
bad notint "s|^keep-last = 3|keep-last = three|"
expect_fail "a value that is not a number" 3 "notint.conf:10: 'keep-last' needs a whole number, not 'three'" \
    "$EDR" config check --config "$T/notint.conf"
bad range "s|^\[repo\]|[backup]\ncompress-level = 25\n[repo]|"
expect_fail "a number out of range" 3 "range.conf:4: 'compress-level': '25' is not a whole number from 1 to 19" \
    "$EDR" config check --config "$T/range.conf"
bad bump "s|^\[repo\]|[restore]\nbump-revision = -3\n[repo]|"
expect_fail "a bump that is neither a count nor auto" 3 "bump.conf:4: 'bump-revision': '-3' is neither a whole number from 0 to [0-9]+ nor auto" \
    "$EDR" config check --config "$T/bump.conf"
bad bumpauto "s|^\[repo\]|[restore]\nbump-revision = auto\n[repo]|"
check "bump-revision = auto is valid" "$EDR" config check --config "$T/bumpauto.conf"
bad cron "s|^backup = .*|backup = */30 * * *|"
expect_fail "a bad cron expression" 3 "cron.conf:8: \[schedule\] backup: cron '\*/30 \* \* \*'" \
    "$EDR" config check --config "$T/cron.conf"
bad cron2 "s|^backup = .*|backup = 0 0 30 2 *|"
expect_fail "a cron expression that never fires" 3 "cron2.conf:8: \[schedule\] backup: " \
    "$EDR" config check --config "$T/cron2.conf"
bad job "s|^backup = .*|restore = @daily|"
expect_fail "an unknown job" 3 "job.conf:8: unknown job 'restore'" \
    "$EDR" config check --config "$T/job.conf"
bad policy "s|^endpoints = .*|&\nendpoint-policy = random|"
expect_fail "a bad endpoint-policy" 3 "policy.conf:3: 'endpoint-policy': invalid value 'random' \(follower, leader, first\)" \
    "$EDR" config check --config "$T/policy.conf"
bad within "s|^keep-last = 3|keep-within = 2 days|"
expect_fail "a bad keep-within duration" 3 "within.conf:10: 'keep-within': invalid duration" \
    "$EDR" config check --config "$T/within.conf"
printf '[verify]\nlevel = deep\n' >"$T/level.conf"
expect_fail "a bad verify level" 3 "level.conf:2: 'level': invalid value 'deep' \(stored, content, drill\)" \
    "$EDR" config check --config "$T/level.conf"
printf '[etcd]\npassword = hunter2\n' >"$T/secret.conf"
expect_fail "a secret in the file is refused" 3 "secret.conf:2: 'password': secrets are not accepted" \
    "$EDR" config check --config "$T/secret.conf"
bad many "s|^keep-last = 3|keep-last = -5\nkeep-daily = 2000000|;s|^backup = .*|backup = 99 * * * *|"
"$EDR" config check --config "$T/many.conf" >/dev/null 2>"$T/many.err"
RC=$?
check "several problems: exit 3 ($RC)" test "$RC" = 3
check "each one is named with its line" sh -c "grep -q 'many.conf:10: .keep-last.: .-5. is not' '$T/many.err' &&
    grep -q 'many.conf:11: .keep-daily.: .2000000. is not' '$T/many.err' &&
    grep -q 'many.conf:8: \[schedule\] backup: cron' '$T/many.err' &&
    grep -q \"error: config '$T/many.conf': 3 problems\" '$T/many.err'"
expect_fail "config without an action" 2 "usage: etcd-dr config check" "$EDR" config --config "$CF"
expect_fail "config with an unknown action" 2 "unknown config action 'frob'" "$EDR" config frob --config "$CF"
expect_fail "config check without a file" 2 "no config file given" "$EDR" config check

# ---- secrets are shown as <redacted>
cat "$CF" >"$T/pw.conf"
printf '[etcd]\nuser = root\npassword-file = %s/pw-secret-path\n' "$T" >>"$T/pw.conf"
echo pw >"$T/pw-secret-path"
"$EDR" config check --config "$T/pw.conf" >"$T/pw.out" 2>&1
check "password-file is shown as <redacted>" has "$T/pw.out" "[etcd] password-file = <redacted>  ($T/pw.conf:15)"
check "its path appears nowhere" sh -c "! grep -q pw-secret-path '$T/pw.out'"
check "--json redacts it too" sh -c "'$EDR' config check --config '$T/pw.conf' --json | grep -q '\"<redacted>\"' &&
    ! '$EDR' config check --config '$T/pw.conf' --json | grep -q pw-secret-path"

# ---- precedence: flag > environment > file > default
cl() { "$EDR" config check --config "$CF" "$@" 2>/dev/null | grep '^\[repo\] cluster = '; }
check "file" test "$(cl)" = "[repo] cluster = prod  ($CF:5)"
check "environment over file" test "$(ETCD_DR_CLUSTER=envc cl)" = "[repo] cluster = envc  (env ETCD_DR_CLUSTER)"
check "flag over environment" test "$(ETCD_DR_CLUSTER=envc cl --cluster flagc)" = "[repo] cluster = flagc  (flag)"
sed '/^cluster = /d' "$CF" >"$T/nocl.conf"
check "default without any" test "$("$EDR" config check --config "$T/nocl.conf" | grep '^\[repo\] cluster')" = "[repo] cluster = default  (default)"
check "etcdctl's environment names count as environment" \
    test "$(ETCDCTL_ENDPOINTS=http://127.0.0.1:9 "$EDR" config check --config "$CF" | grep '^\[etcd\] endpoints')" = "[etcd] endpoints = http://127.0.0.1:9  (env ETCDCTL_ENDPOINTS)"
check "ETCD_DR_CONFIG names the file" sh -c "ETCD_DR_CONFIG='$CF' '$EDR' config check | grep -qxF '[repo] cluster = prod  ($CF:5)'"

# ---- a real backup takes repository, cluster and recipient from the file
EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /c/ 200 || bail "load failed"
cnt() { ls "$T/repo/$1" 2>/dev/null | grep -c '\.json$'; }
check "backup with the config file (endpoint by flag)" "$EDR" backup --config "$CF" --endpoints "$EP"
check "it went to the file's repository and cluster" test "$(cnt prod)" = 1
check "encrypted to the file's recipient" python3 -c '
import glob, json, sys
m = json.load(open(glob.glob(sys.argv[1] + "/*.json")[0]))
assert m["encryption"]["enabled"] is True and len(m["encryption"]["recipients"]) == 1, m
' "$T/repo/prod"
check "and it exports with the matching identity" "$EDR" export latest --config "$CF" --identity "$T/k.key" -o "$T/x.db"
check "environment over file: ETCD_DR_CLUSTER" env ETCD_DR_CLUSTER=envc "$EDR" backup --config "$CF" --endpoints "$EP"
check "went to cluster envc" test "$(cnt envc)" = 1 -a "$(cnt prod)" = 1
check "flag over environment: --cluster" env ETCD_DR_CLUSTER=envc "$EDR" backup --config "$CF" --endpoints "$EP" --cluster flagc
check "went to cluster flagc" test "$(cnt flagc)" = 1 -a "$(cnt envc)" = 1 -a "$(cnt prod)" = 1
check "environment over file: ETCD_DR_ENDPOINTS" env ETCD_DR_ENDPOINTS="$EP" "$EDR" backup --config "$CF"
check "went to the file's cluster" test "$(cnt prod)" = 2
sed "s|^endpoints = .*|endpoints = http://127.0.0.1:$((BASE_PORT + 9))|" "$CF" >"$T/down.conf"
expect_fail "the file's endpoints are used without flag or env (nothing listens there)" 4 \
    "127\.0\.0\.1:$((BASE_PORT + 9))" "$EDR" backup --config "$T/down.conf" --retries 0
expect_fail "a backup with a broken config file exits 3 naming the line" 3 "unknown.conf:6: unknown key 'bogus'" \
    "$EDR" backup --config "$T/unknown.conf" --endpoints "$EP"
printf '[log]\nformat = yaml\n' >"$T/badlog.conf"
expect_fail "a bad [log] value in the file is a config error naming its line" 3 "badlog.conf:2: \[log\] format: invalid value 'yaml'" \
    "$EDR" config check --config "$T/badlog.conf"
expect_fail "the same value as a flag is a usage error" 2 "invalid --log-format 'yaml'" \
    "$EDR" list --log-format yaml --repo "$T"
done_testing
