#!/bin/bash
# examples/prometheus/ with the real tools: promtool checks the rules and runs
# their unit tests (which must fail on a rule with a wrong threshold); a real
# backup, verify and capture against a real etcd write a metrics file that
# `promtool check metrics` accepts, whose every family is documented under
# Metrics in etcd-dr(1), and which holds every metric name the rules and the
# Grafana dashboard use. info shows the range the capture made recoverable.
BASE_PORT=26100
. "$(dirname "$0")/lib.sh"
require_etcd
if ! command -v promtool >/dev/null; then
    if [ -n "${CI:-}" ]; then bail "promtool not installed (CI is set; Debian: prometheus)"; fi
    echo "1..0 # SKIP promtool not installed (Debian: prometheus)"
    exit 0
fi

P=$SRCDIR/examples/prometheus
check "promtool check rules" promtool check rules "$P/etcd-dr.rules.yml"
check "promtool test rules: alerts fire and stay silent as expected" \
    sh -c "cd '$P' && promtool test rules tests.yml"
# the unit tests can fail: a threshold of 2 hours instead of 1 is caught
mkdir "$T/mut"
sed 's/> 2 \* 1800$/> 2 * 3600/' "$P/etcd-dr.rules.yml" >"$T/mut/etcd-dr.rules.yml"
cp "$P/tests.yml" "$T/mut/"
check "the mutation changed the rules" sh -c "! cmp -s '$P/etcd-dr.rules.yml' '$T/mut/etcd-dr.rules.yml'"
check "promtool test rules fails on a wrong threshold" \
    sh -c "cd '$T/mut' && ! promtool test rules tests.yml >/dev/null 2>&1"
check "the dashboard is JSON" python3 -m json.tool "$P/etcd-dr-dashboard.json"

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /registry/configmaps/default/cm- 200 60 || bail "load failed"

M="$T/etcd-dr.prom"
R=(--repo "$T/repo" --cluster prod)
"$EDR" backup --endpoints "$EP" "${R[@]}" --no-encrypt -q --metrics-file "$M" 2>/dev/null ||
    bail "backup failed"
# a failed run (no etcd there) keeps the last success and sets the failure
"$EDR" backup --endpoints http://127.0.0.1:$((BASE_PORT + 9)) --connect-timeout 1 --retries 0 \
    "${R[@]}" --no-encrypt -q --metrics-file "$M" >/dev/null 2>&1
"$EDR" verify latest "${R[@]}" -q --metrics-file "$M" >/dev/null || bail "verify failed"
"$EDR" capture --endpoints "$EP" "${R[@]}" --no-encrypt --flush 1 --metrics-file "$M" \
    >"$T/capture.log" 2>&1 &
CAP=$!
_pids="$_pids $CAP"
sleep 1
for i in $(seq 1 20); do ctl put "/registry/pods/default/p$i" "v$i" >/dev/null; done
for _ in $(seq 1 50); do grep -q etcd_dr_capture_events_total "$M" && break; sleep 0.2; done
kill "$CAP"
wait "$CAP" 2>/dev/null

# info shows what the capture made recoverable: up to etcd's current revision
REV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
"$EDR" info --repo "$T/repo" --json >"$T/info.json" 2>/dev/null
check "info: the captured changes make revisions up to $REV recoverable" python3 - "$T/info.json" "$REV" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["clusters"][0]
r = c["recoverable"]
assert c["cluster"] == "prod" and len(r) >= 1, c
assert r[-1]["to_revision"] == int(sys.argv[2]), r
assert r[-1]["from_revision"] <= c["newest"]["revision"], (r, c)
PY
check "the metrics file has the capture's samples" grep -q '^etcd_dr_capture_events_total{cluster="prod"} [1-9]' "$M"
check "the failed run set etcd_dr_backup_last_failed to 1" grep -q '^etcd_dr_backup_last_failed{cluster="prod"} 1$' "$M"
check "the last verify passed" grep -q '^etcd_dr_verify_last_success{cluster="prod"} 1$' "$M"
check "the lock is released after the run" grep -q '^etcd_dr_backup_lock_acquired_timestamp_seconds{cluster="prod"} 0$' "$M"
promtool check metrics <"$M" >"$T/lint" 2>&1
rc=$?
check "promtool check metrics accepts the file, no lint warning" sh -c "[ $rc = 0 ] && [ ! -s '$T/lint' ]"
[ -s "$T/lint" ] && sed 's/^/#   /' "$T/lint"

names_in() { grep -oE 'etcd_dr_[a-z_]+' "$@" | sort -u; }
grep -E '^# TYPE ' "$M" | awk '{print $3}' | sort -u >"$T/written"
check "the real file holds all 16 families" test "$(wc -l <"$T/written")" = 16
names_in "$P/etcd-dr.rules.yml" >"$T/rules"
names_in "$P/etcd-dr-dashboard.json" >"$T/dash"
check "every metric the rules use is written" sh -c "[ -z \"\$(comm -23 '$T/rules' '$T/written')\" ] || { comm -23 '$T/rules' '$T/written'; false; }"
check "every metric the dashboard uses is written" sh -c "[ -z \"\$(comm -23 '$T/dash' '$T/written')\" ] || { comm -23 '$T/dash' '$T/written'; false; }"
check "the dashboard shows every metric written" test -z "$(comm -13 "$T/dash" "$T/written")"
sed -n '/^\.Ss Metrics/,/^\.Sh /p' "$SRCDIR/man/etcd-dr.1" | sed -n 's/^\.It Li \(etcd_dr_[a-z_]*\) Pq \([a-z]*\)$/\1 \2/p' | sort >"$T/man"
grep -E '^# TYPE ' "$M" | awk '{print $3" "$4}' | sort >"$T/types"
check "etcd-dr(1) documents every family with its type" sh -c "diff '$T/man' '$T/types'"
tstamp=$(sed -n 's/^etcd_dr_backup_last_success_timestamp_seconds{cluster="prod"} //p' "$M")
now=$(date +%s)
check "timestamps are Unix seconds" test "$((now - tstamp))" -ge 0 -a "$((now - tstamp))" -lt 300
done_testing
