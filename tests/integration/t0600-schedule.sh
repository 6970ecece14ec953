#!/bin/bash
# The schedule daemon against real etcd: cron with a seconds field, retention
# after each run, the metrics textfile (checked by a strict parser of the
# Prometheus text format), JSON log lines, SIGTERM between and during runs
# (exit 0, nothing partial left), failing runs while etcd is down and the
# recovery after it comes back, SIGHUP reloads (good and bad config), and the
# repository lock between the daemon and a manual backup.
BASE_PORT=23600
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /s/ 10000 100 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
L=(--repo "$T/repo" --cluster sch)

# write_conf FILE ENDPOINTS KEEP_LAST [extra [etcd] lines]
write_conf() {
    cat >"$1" <<EOF
# etcd-dr schedule test
[etcd]
endpoints = $2
${4:-}
[repo]
path = $T/repo
cluster = sch
recipient = $T/k.pub

[schedule]
backup = */2 * * * * *

[retention]
keep-last = $3

[metrics]
file = $T/metrics.prom
EOF
}

count() { "$EDR" list "${L[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
ids() { "$EDR" list "${L[@]}" --json | python3 -c 'import json,sys; print(" ".join(b["id"] for b in json.load(sys.stdin)))'; }
no_tmp() { ! ls -a "$T/repo/sch" | grep -q '\.tmp\.'; }
alive() { kill -0 "$1" 2>/dev/null; }
# wait_for SECONDS command...: poll every 0.2 s
wait_for() {
    local n=$(($1 * 5))
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.2; done
    return 1
}

# metric NAME: the value of NAME{cluster="sch"}, after a strict parse of the whole file
cat >"$T/prom.py" <<'PY'
"""Strict parser of the Prometheus text exposition format (0.0.4)."""
import math, re, sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}

def fail(lineno, msg):
    sys.exit("metrics line %d: %s" % (lineno, msg))

def parse_value(s, lineno):
    if s in ("NaN", "+Inf", "-Inf", "Inf"):
        return float(s.replace("Inf", "inf"))
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", s):
        fail(lineno, "bad value %r" % s)
    return float(s)

def parse_labels(s, lineno):
    labels, i = {}, 0
    while i < len(s):
        m = re.compile(LABEL + r'="').match(s, i)
        if not m:
            fail(lineno, "bad label at %r" % s[i:])
        name = m.group(0)[:-2]
        i = m.end()
        val = []
        while True:
            if i >= len(s):
                fail(lineno, "unterminated label value")
            c = s[i]
            if c == "\\":
                if i + 1 >= len(s) or s[i + 1] not in '\\"n':
                    fail(lineno, "bad escape in label value")
                val.append({"n": "\n"}.get(s[i + 1], s[i + 1]))
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                fail(lineno, "newline in label value")
            else:
                val.append(c)
                i += 1
        if name in labels:
            fail(lineno, "duplicate label %s" % name)
        labels[name] = "".join(val)
        if i < len(s):
            if s[i] != ",":
                fail(lineno, "expected ',' between labels")
            i += 1
    return labels

def parse(text):
    if text and not text.endswith("\n"):
        fail(text.count("\n") + 1, "file does not end with a newline")
    helps, types, samples, seen, done, current = {}, {}, {}, set(), set(), None
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line.strip() == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not re.fullmatch(NAME, parts[2]):
                    fail(lineno, "bad metric name in %s" % parts[1])
                name = parts[2]
                table = helps if parts[1] == "HELP" else types
                if name in table:
                    fail(lineno, "second %s for %s" % (parts[1], name))
                if parts[1] == "TYPE":
                    if len(parts) != 4 or parts[3] not in TYPES:
                        fail(lineno, "bad TYPE line")
                    if name in samples:
                        fail(lineno, "TYPE after samples of %s" % name)
                table[name] = parts[3] if len(parts) == 4 else ""
            continue
        m = re.fullmatch("(" + NAME + r")(\{(.*)\})?[ \t]+(\S+)([ \t]+(-?\d+))?", line)
        if not m:
            fail(lineno, "not a sample line: %r" % line)
        name = m.group(1)
        labels = parse_labels(m.group(3), lineno) if m.group(3) else {}
        value = parse_value(m.group(4), lineno)
        if name != current:
            if name in done:
                fail(lineno, "samples of %s are not contiguous" % name)
            if current is not None:
                done.add(current)
            current = name
        key = (name, tuple(sorted(labels.items())))
        if key in seen:
            fail(lineno, "duplicate series %s%s" % key)
        seen.add(key)
        if types.get(name) not in (None, "gauge", "untyped") or name not in types:
            fail(lineno, "%s has no TYPE gauge line before its samples" % name)
        samples.setdefault(name, []).append((labels, value))
    return samples

samples = parse(open(sys.argv[1]).read())
want = sys.argv[2]
for labels, value in samples.get(want, []):
    if labels == {"cluster": "sch"}:
        print(int(value) if value == math.floor(value) else value)
        sys.exit(0)
sys.exit("no sample %s{cluster=\"sch\"}" % want)
PY
metric() { python3 "$T/prom.py" "$T/metrics.prom" "$1"; }

# ---- 1. a daemon run of ~11 s: backups every 2 s, keep-last 3, JSON logs
C=$T/sched.conf
write_conf "$C" "$EP" 3
expect_fail "schedule without a config file" 2 "no config file given" "$EDR" schedule "${L[@]}"
printf '[repo]\npath = %s\n' "$T/repo" >"$T/nojobs.conf"
expect_fail "a config without [schedule] jobs is an error naming the file" 3 "nojobs.conf' has no job in \[schedule\]" \
    "$EDR" schedule --config "$T/nojobs.conf"
sed 's|^backup = .*|backup = */2 * * * * 8|' "$C" >"$T/badcron.conf"
expect_fail "a bad cron expression is a config error" 3 "badcron.conf': \[schedule\] backup: cron .*day-of-week field" \
    "$EDR" schedule --config "$T/badcron.conf"

T0=$(date +%s)
"$EDR" schedule --config "$C" --log-format json >"$T/d1.out" 2>"$T/d1.err" &
DPID=$!
_pids="$_pids $DPID"
sleep 11
check "the daemon is still running after 11 s" alive "$DPID"
kill -TERM "$DPID"
wait "$DPID"
RC=$?
check "SIGTERM stops the daemon with exit 0 (exit $RC)" test "$RC" -eq 0
NOK=$(grep -c "job 'backup' ok" "$T/d1.err")
check "between 3 and 6 backups were taken ($NOK)" test "$NOK" -ge 3 -a "$NOK" -le 6
check "exactly 3 are listed: retention keeps the last 3 ($(count))" test "$(count)" = 3
check "every stderr line is a JSON log record" python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
assert lines, "no log lines"
for l in lines:
    r = json.loads(l)
    assert set(r) >= {"time", "level", "msg"}, r
' "$T/d1.err"
check "the startup line names the job and its next run" \
    grep -q "schedule started: config '$C', time zone UTC: backup '\*/2 \* \* \* \* \*' next 20" "$T/d1.err"
check "nothing on stdout" test ! -s "$T/d1.out"
check "the metrics file parses strictly" metric etcd_dr_backup_last_failed
check "last_result is 0" test "$(metric etcd_dr_backup_last_failed)" = 0
LS=$(metric etcd_dr_backup_last_success_timestamp_seconds)
check "last_success is a timestamp of this run ($LS)" test "$LS" -ge "$T0" -a "$LS" -le "$(date +%s)"
check "the backups gauge says 3" test "$(metric etcd_dr_backups)" = 3
check "the revision gauge matches the newest manifest" \
    test "$(metric etcd_dr_backup_revision)" = "$(last_field "$T/repo/sch" revision)"
check "no temp file left" no_tmp

# ---- 2. SIGTERM during a stalled run, and a manual backup meanwhile (lock)
start_stalled() { # start_stalled PORT MARKER: proxy that stalls after 500 kB
    rm -f "$2"
    python3 "$SRCDIR/tests/integration/stallproxy.py" "$1" $((BASE_PORT + 1)) stall 500000 "$2" &
    _pids="$_pids $!"
    sleep 0.5
}
start_stalled $((BASE_PORT + 60)) "$T/mark1"
C2=$T/stall.conf
write_conf "$C2" "http://127.0.0.1:$((BASE_PORT + 60))" 3 "stall-timeout = 4
retries = 0"
BEFORE=$(ids)
LA0=$(metric etcd_dr_backup_last_attempt_timestamp_seconds)
"$EDR" schedule --config "$C2" 2>"$T/d2.err" &
DPID=$!
_pids="$_pids $DPID"
check "the daemon's backup is mid-stream (stalled)" wait_for 15 test -e "$T/mark1"
expect_fail "a manual backup while the daemon's run holds the lock gets exit 11" 11 "locked" \
    "$EDR" backup --config "$C" --endpoints "$EP" --metrics-file=
"$EDR" backup --config "$C" --endpoints "$EP" --metrics-file= --lock-wait 60 >"$T/manual.out" 2>"$T/manual.err" &
MPID=$!
sleep 0.5
kill -TERM "$DPID"
wait "$DPID"
RC=$?
check "SIGTERM during a run: the daemon exits 0 (exit $RC)" test "$RC" -eq 0
wait "$MPID"
RC=$?
check "the manual backup with --lock-wait ran after the daemon let go (exit $RC)" test "$RC" -eq 0
AFTER=$(ids)
NEW=$(for i in $AFTER; do case " $BEFORE " in *" $i "*) ;; *) echo "$i" ;; esac; done)
check "the aborted run left no backup: only the manual one is new ($NEW)" \
    test "$(echo "$NEW" | wc -w)" = 1 -a -n "$NEW" -a "$(echo "$AFTER" | wc -w)" = 4
check "no temp file after the aborted run" no_tmp
check "the aborted run is not reported as a failed run in the metrics" \
    test "$(metric etcd_dr_backup_last_attempt_timestamp_seconds)" = "$LA0" -a "$(metric etcd_dr_backup_last_failed)" = 0
"$EDR" prune "${L[@]}" --keep-last 3 >/dev/null

# ---- 3. etcd down: runs fail, the daemon keeps going; etcd back: a run succeeds
etcd_stop m1
LS0=$(metric etcd_dr_backup_last_success_timestamp_seconds)
"$EDR" schedule --config "$C" --connect-timeout 1 2>"$T/d3.err" &
DPID=$!
_pids="$_pids $DPID"
check "with etcd down, a run fails and says so in the metrics" \
    wait_for 20 sh -c "test \"\$(python3 '$T/prom.py' '$T/metrics.prom' etcd_dr_backup_last_failed)\" = 1"
check "last_success is unchanged" test "$(metric etcd_dr_backup_last_success_timestamp_seconds)" = "$LS0"
check "last_exit_code is 4 (etcd unreachable)" test "$(metric etcd_dr_backup_last_exit_code)" = 4
check "failed attempts are retried" grep -q "attempt 1 of 3 failed" "$T/d3.err"
check "the failed run is logged as an error" grep -q "error: job 'backup' failed after 3 attempts" "$T/d3.err"
sleep 3
check "the daemon keeps running while etcd is down" alive "$DPID"
check "no backup was added" test "$(count)" = 3
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not restart"
check "after etcd is back (same data dir) a run succeeds" \
    wait_for 30 sh -c "test \"\$(python3 '$T/prom.py' '$T/metrics.prom' etcd_dr_backup_last_failed)\" = 0"
check "last_success moved forward" test "$(metric etcd_dr_backup_last_success_timestamp_seconds)" -gt "$LS0"

# ---- 4. SIGHUP: a changed config takes effect; a broken one is refused
write_conf "$C" "$EP" 2
kill -HUP "$DPID"
check "SIGHUP reloads the configuration" wait_for 10 grep -q "reloaded: config '$C'" "$T/d3.err"
N0=$(grep -c "job 'backup' ok" "$T/d3.err")
wait_for 10 sh -c "test \$(grep -c \"job 'backup' ok\" '$T/d3.err') -gt $N0"
check "after the reload keep-last 2 holds ($(count))" test "$(count)" = 2
echo "bogus = 1" >>"$C"
kill -HUP "$DPID"
check "a broken config on SIGHUP is refused" \
    wait_for 10 grep -q "reload failed: $C:[0-9]*: unknown key 'bogus' in \[metrics\]; keeping the previous configuration" "$T/d3.err"
N0=$(grep -c "job 'backup' ok" "$T/d3.err")
check "and the daemon keeps running on the previous one" \
    wait_for 10 sh -c "test \$(grep -c \"job 'backup' ok\" '$T/d3.err') -gt $N0"
check "still keeping 2 ($(count))" test "$(count)" = 2
kill -TERM "$DPID"
wait "$DPID"
RC=$?
check "SIGTERM: exit 0 (exit $RC)" test "$RC" -eq 0

# ---- 5. a verify job between the backups (content level: the config has an identity)
write_conf "$C" "$EP" 3
sed -i "s|^backup = .*|backup = 0/4 * * * * *\nverify = 2/4 * * * * *|;s|^recipient = .*|&\nidentity = $T/k.key|" "$C"
"$EDR" schedule --config "$C" 2>"$T/d5.err" &
DPID=$!
_pids="$_pids $DPID"
check "the startup line names both jobs" \
    wait_for 5 grep -q "backup '0/4 \* \* \* \* \*' next 20[^;]*; verify '2/4 \* \* \* \* \*' next 20" "$T/d5.err"
check "a verify job runs" wait_for 15 grep -q "job 'verify' ok" "$T/d5.err"
kill -TERM "$DPID"
wait "$DPID"
RC=$?
check "SIGTERM: exit 0 (exit $RC)" test "$RC" -eq 0
check "the verify job recorded a content-level pass" python3 -c '
import glob, json, sys
recs = [json.load(open(f)) for f in glob.glob(sys.argv[1] + "/*.verify.json")]
assert any(r["ok"] is True and r["level"] == "content" for r in recs), recs
' "$T/repo/sch"
check "no temp file at the end" no_tmp
done_testing
