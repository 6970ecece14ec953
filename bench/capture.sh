#!/bin/bash
# Usage: bench/capture.sh [EVENTS=1000000] [BIG=2000]
#
# Change capture and point-in-time replay on one etcd 3.4 (127.0.0.1:25030):
# a full backup, then `etcd-dr capture --flush 5` running while
#   A. a load generator puts EVENTS small keys (20-60 byte values, 10 puts per
#      transaction, 4 connections) as fast as etcd takes them, and
#   B. BIG puts of 100 KiB values (2 connections).
# For each phase: the write rate etcd reached (events/s), capture's CPU
# seconds and peak RSS, and the RPO: every 0.5 s the load's current revision
# is sampled, and the time until a published segment holds it is measured
# (median and maximum). Then `etcd-dr restore --to-revision END` replays every
# captured event onto the backup: events/s of the replay.
# Prints a table and RESULT lines.
. "$(dirname "$0")/lib.sh"

EVENTS=${1:-1000000}
BIG=${2:-2000}
bench_init capture
note_load
etcd_up 25030 25031
"$EDR" keygen -o "$B_TMP/k" >/dev/null || bench_die "keygen failed"
REPO=(--repo "$B_TMP/repo" --cluster bench)
"$EDR" backup --endpoints "$EP" "${REPO[@]}" --recipient "$B_TMP/k.pub" -q || bench_die "backup failed"

"$EDR" capture --endpoints "$EP" "${REPO[@]}" --recipient "$B_TMP/k.pub" --flush 5 \
    --log-level info >"$B_TMP/capture.log" 2>&1 &
CAP=$!
_b_pids="$CAP $_b_pids"
sleep 1

# load PHASE COUNT VALUE_BYTES PUTS_PER_TXN THREADS: "events seconds"; meanwhile
# "time revision" samples every 0.5 s into $B_TMP/samples-PHASE
load() {
    python3 - "$EP" "$@" "$B_TMP" <<'PY'
import base64, http.client, json, os, random, sys, threading, time, urllib.parse
ep, phase, count, vbytes, per, threads, tmp = sys.argv[1], sys.argv[2], int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]), sys.argv[7]
u = urllib.parse.urlparse(ep)
done = threading.Event()
rev = [0]

def worker(wi):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    rnd = random.Random(wi)
    n = count // threads
    for start in range(0, n, per):
        ops = []
        for i in range(start, min(n, start + per)):
            k = "/%s/%d/%08d" % (phase, wi, i)
            size = vbytes if vbytes > 100 else rnd.randint(20, 60)
            v = os.urandom(size // 2).hex()[:size]
            ops.append({"requestPut": {"key": base64.b64encode(k.encode()).decode(),
                                       "value": base64.b64encode(v.encode()).decode()}})
        conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}),
                     {"Content-Type": "application/json"})
        r = conn.getresponse()
        body = json.loads(r.read())
        if r.status != 200:
            sys.exit("load: %d %s" % (r.status, body))
        rev[0] = max(rev[0], int(body["header"]["revision"]))

def sampler():
    with open("%s/samples-%s" % (tmp, phase), "w") as f:
        while not done.is_set():
            if rev[0]:
                f.write("%.3f %d\n" % (time.time(), rev[0]))
            time.sleep(0.5)

s = threading.Thread(target=sampler)
s.start()
t0 = time.time()
ws = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
for w in ws:
    w.start()
for w in ws:
    w.join()
t = time.time() - t0
done.set()
s.join()
print(count // threads * threads, "%.2f" % t)
PY
}

rev_now() {
    etcdctl --endpoints "$EP" endpoint status -w json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}

# wait_published REV: until a segment ends at or after REV (120 s)
wait_published() {
    for _ in $(seq 1 1200); do
        ls "$B_TMP/repo/bench/changes/"*.json 2>/dev/null | sed -n 's/.*-0*\([0-9]*\)\.json$/\1/p' |
            awk -v r="$1" '$1 >= r { f = 1 } END { exit !f }' && return 0
        sleep 0.1
    done
    bench_die "capture did not publish revision $1"
}

# rpo PHASE: median and max seconds from a sampled revision to the publication
# (manifest mtime) of the segment that holds it
rpo() {
    python3 - "$B_TMP/samples-$1" "$B_TMP/repo/bench/changes" <<'PY'
import glob, json, os, statistics, sys
segs = []
for f in glob.glob(sys.argv[2] + "/*.json"):
    m = json.load(open(f))
    segs.append((m["last_revision"], os.stat(f).st_mtime))
segs.sort()
lags = []
for line in open(sys.argv[1]):
    t, rev = line.split()
    t, rev = float(t), int(rev)
    pub = [mt for last, mt in segs if last >= rev]
    if pub:
        lags.append(min(pub) - t)
print("%.2f %.2f" % (statistics.median(lags), max(lags)) if lags else "nan nan")
PY
}

phase() {
    local name=$1 count=$2 vbytes=$3 per=$4 threads=$5 cpu0 cpu1 out end
    cpu0=$(proc_cpu "$CAP")
    etcd_cpu0=$(proc_cpu "$ETCD_PID")
    out=$(load "$name" "$count" "$vbytes" "$per" "$threads") || bench_die "load $name failed"
    end=$(rev_now)
    wait_published "$end"
    cpu1=$(proc_cpu "$CAP")
    # shellcheck disable=SC2086 # two numbers
    set -- $out
    P_EVENTS=$1
    P_RATE=$(python3 -c "print('%.0f' % ($1 / $2))")
    P_CPU=$(fsub "$cpu1" "$cpu0")
    P_ETCD_CPU=$(fsub "$(proc_cpu "$ETCD_PID")" "$etcd_cpu0")
    P_RSS=$(awk '/VmHWM/ { print $2 }' "/proc/$CAP/status")
    # shellcheck disable=SC2046 # two numbers
    set -- $(rpo "$name")
    P_RPO_MED=$1
    P_RPO_MAX=$2
    row "$name: events, events/s" "$P_EVENTS" "$P_RATE"
    row "$name: capture CPU s (etcd CPU s)" "$P_CPU" "($P_ETCD_CPU)"
    row "$name: capture peak RSS KiB" "$P_RSS"
    row "$name: RPO median, max s" "$P_RPO_MED" "$P_RPO_MAX"
    result "capture_${name}_events_per_s" "$P_RATE"
    result "capture_${name}_cpu_s" "$P_CPU"
    result "capture_${name}_rss_kib" "$P_RSS"
    result "capture_${name}_rpo_median_s" "$P_RPO_MED"
    result "capture_${name}_rpo_max_s" "$P_RPO_MAX"
}

row "" "value" ""
phase small "$EVENTS" 40 10 4
phase big "$BIG" 102400 1 2
END=$(rev_now)
kill -TERM "$CAP"
wait "$CAP"

timed replay "$EDR" restore --to-revision "$END" "${REPO[@]}" --identity "$B_TMP/k.key" \
    --data-dir "$B_TMP/restored" --json
replayed=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["changes_replayed"])' \
    <(grep -v '^etcd-dr' "$B_TMP/replay.log" | tail -n +1 | python3 -c 'import sys; d=sys.stdin.read(); print(d[d.index("{"):])') 2>/dev/null ||
    echo 0)
rate=$(python3 -c "print('%.0f' % ($replayed / $T_WALL))")
row "replay: events, s, events/s" "$replayed" "$T_WALL" "$rate"
row "replay: peak RSS KiB, CPU s" "$T_RSS" "$T_CPU"
result replay_events "$replayed"
result replay_events_per_s "$rate"
result replay_rss_kib "$T_RSS"
