#!/bin/bash
# Usage: bench/s3.sh SIZE_MB [RUNS=3]
#
# Cost of the S3 backend: fills a fresh etcd 3.4 (127.0.0.1:25030) to SIZE_MB
# MiB, then alternates `etcd-dr backup` into a local directory and into the
# test S3 server on loopback (tests/integration/s3: front.js on 25040, which
# checks SigV4, in front of npm's s3rver on 25041, both node, both on this
# machine's cores), RUNS times each, in the same run. Prints the median wall
# times, the ratio S3/local and the peak RSS of etcd-dr, its CPU seconds and
# those the two node servers used during each S3 backup (they share the cores),
# as a table and RESULT lines. For scale, each run also times one signed PUT
# of the same stored object by tests/integration/s3/s3req.js (node). Needs node and tests/integration/s3/node_modules (`npm ci` there).
# A third target, bench/s3sink.js on 25042, is an S3 endpoint that keeps
# nothing big (parts are read and dropped): backups to it show what the S3
# path costs etcd-dr itself when the server is not competing for the cores.
. "$(dirname "$0")/lib.sh"

SIZE=${1:?usage: s3.sh SIZE_MB [RUNS]}
RUNS=${2:-3}
bench_init s3
# shellcheck source=../tests/integration/s3/lib-s3.sh
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
s3_require || bench_die "$S3_WHY"
bench_on_exit s3_stop
# shellcheck disable=SC2034 # settings of lib-s3.sh
S3_DATA=$B_TMP/s3 S3_LOGDIR=$B_TMP S3_FPORT=25040 S3_SPORT=25041 S3_BUCKETS=bench
s3_start || bench_die "$S3_WHY"
node "$BENCH_DIR/s3sink.js" --port 25042 >"$B_TMP/s3sink.log" 2>&1 &
SINK_PID=$!
_b_pids="$_b_pids $SINK_PID"
s3_wait_port 25042 || bench_die "s3sink did not start"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=sekret
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
note_load
etcd_up 25030 25031
load_report "$SIZE"
"$EDR" keygen -o "$B_TMP/k" >/dev/null || bench_die "keygen failed"

for i in $(seq 1 "$RUNS"); do
    timed local "$EDR" backup --endpoints "$EP" --repo "$B_TMP/repo" --cluster bench \
        --recipient "$B_TMP/k.pub"
    echo "# run $i: etcd-dr backup to a directory $T_WALL s, rss $T_RSS KiB" >&2
    c0=$(proc_cpu "$S3_FPID" "$S3_SPID")
    timed s3 "$EDR" backup --endpoints "$EP" --repo s3://bench/prod --cluster bench \
        --s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1 --recipient "$B_TMP/k.pub"
    c1=$(proc_cpu "$S3_FPID" "$S3_SPID")
    add_sample node 0 0 "$(fsub "$c1" "$c0")"
    echo "# run $i: etcd-dr backup to S3 $T_WALL s, rss $T_RSS KiB, cpu $T_CPU s" \
        "(S3 servers $(fsub "$c1" "$c0") s)" >&2
    c0=$(proc_cpu "$SINK_PID")
    timed sink "$EDR" backup --endpoints "$EP" --repo s3://bench/prod --cluster bench \
        --s3-endpoint http://127.0.0.1:25042 --s3-path-style --s3-region us-east-1 \
        --recipient "$B_TMP/k.pub"
    add_sample sinknode 0 0 "$(fsub "$(proc_cpu "$SINK_PID")" "$c0")"
    echo "# run $i: etcd-dr backup to s3sink $T_WALL s, rss $T_RSS KiB, cpu $T_CPU s" >&2
    # the server's own cost: one signed PUT of the same stored bytes by node s3req.js
    stored=$(ls -t "$B_TMP"/repo/bench/*.edr | head -1)
    timed put node "$S3DIR/s3req.js" PUT "$S3_EP/bench/raw/obj$i" "$stored"
    echo "# run $i: one PUT of the $(mib "$(stat -c %s "$stored")") MiB object by s3req.js $T_WALL s" >&2
    sleep 1 # backup ids are per second
done
parts=$(s3_stat parts)

m_loc=$(median local)
m_s3=$(median s3)
r=$(ratio "$m_s3" "$m_loc")
rss_loc=$(peak_rss local)
rss_s3=$(peak_rss s3)

echo
echo "backup to S3 (loopback s3rver) vs a directory, db $(mib "$DB_BYTES") MiB, median of $RUNS runs (machine shared: noisy)"
row "target" "median s" "runs s" "ratio" "peak RSS MiB" "CPU s"
row "etcd-dr backup --repo DIR" "$m_loc" "$(samples local)" "1.000" "$(kib2mib "$rss_loc")" \
    "$(median local 3)"
row "etcd-dr backup --repo s3://" "$m_s3" "$(samples s3)" "$r" "$(kib2mib "$rss_s3")" \
    "$(median s3 3)"
row "  S3 servers (node) meanwhile" "" "" "" "" "$(median node 3)"
row "plain PUT of the object (s3req.js)" "$(median put)" "$(samples put)" "" "" ""
m_sink=$(median sink)
row "etcd-dr backup --repo s3:// (s3sink)" "$m_sink" "$(samples sink)" "$(ratio "$m_sink" "$m_loc")" \
    "$(kib2mib "$(peak_rss sink)")" "$(median sink 3)"
row "  s3sink (node) meanwhile" "" "" "" "" "$(median sinknode 3)"
echo "(stored object $(mib "$(stat -c %s "$stored")") MiB; $parts multipart parts uploaded in all)"
result size_mb "$SIZE"
result local_median_s "$m_loc"
result s3_median_s "$m_s3"
result ratio "$r"
result local_rss_kib "$rss_loc"
result s3_rss_kib "$rss_s3"
result s3_parts "$parts"
result local_cpu_s "$(median local 3)"
result s3_cpu_s "$(median s3 3)"
result s3_servers_cpu_s "$(median node 3)"
result plain_put_s "$(median put)"
result sink_median_s "$m_sink"
result sink_ratio "$(ratio "$m_sink" "$m_loc")"
result sink_rss_kib "$(peak_rss sink)"
result sink_server_cpu_s "$(median sinknode 3)"
