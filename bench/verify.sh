#!/bin/bash
# Usage: bench/verify.sh SIZE_MB [RUNS=3]
#
# Verify speed: fills a fresh etcd 3.4 (127.0.0.1:25020) to SIZE_MB MiB, takes
# one `etcd-dr backup` into a local repository and exports it to a plain .db
# file (`etcd-dr export`). Then, RUNS times, alternating: `etcd-dr verify latest
# --level content` (decrypt, decompress, check every page and key of the
# stored backup) and `etcdctl snapshot status` on the exported file (reads the
# whole db to hash it). Prints the median wall times, MB/s of db verified (10^6
# bytes per second; also from the JSON duration_seconds, which leaves out
# process start), the ratio etcd-dr/etcdctl and peak RSS. As etcdctl cannot
# read the repository, the table also has `etcd-dr export` + `etcdctl snapshot
# status` of that export (timed in the same runs): the same work done with
# etcdctl's check.
. "$(dirname "$0")/lib.sh"

SIZE=${1:?usage: verify.sh SIZE_MB [RUNS]}
RUNS=${2:-3}
bench_init verify
note_load
etcd_up 25020 25021
load_report "$SIZE"
"$EDR" keygen -o "$B_TMP/k" >/dev/null || bench_die "keygen failed"
R=(--repo "$B_TMP/repo" --cluster bench)
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$B_TMP/k.pub" >/dev/null 2>&1 ||
    bench_die "backup failed"
"$EDR" export latest "${R[@]}" --identity "$B_TMP/k.key" -o "$B_TMP/exp.db" >"$B_TMP/exp.log" 2>&1 ||
    bench_die "export failed: $(cat "$B_TMP/exp.log")"
db_bytes=$(stat -c %s "$B_TMP/exp.db")
# etcd is not needed any more: stop it so that it does not compete
for p in $_b_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
_b_pids=
rm -rf "$B_TMP/etcd"

for i in $(seq 1 "$RUNS"); do
    : >"$B_TMP/etcd-dr.log"
    timed etcd-dr "$EDR" verify latest "${R[@]}" --identity "$B_TMP/k.key" --level content --json
    d=$(python3 -c '
import json, sys
t = open(sys.argv[1]).read()
print(json.JSONDecoder().raw_decode(t[t.index("{"):])[0]["results"][0]["duration_seconds"])' \
        "$B_TMP/etcd-dr.log")
    echo "$d" >>"$B_TMP/times/duration"
    echo "# run $i: etcd-dr verify --level content $T_WALL s (duration_seconds $d), rss $T_RSS KiB" >&2
    timed etcdctl etcdctl snapshot status "$B_TMP/exp.db" -w json
    echo "# run $i: etcdctl snapshot status $T_WALL s, rss $T_RSS KiB" >&2
    rm -f "$B_TMP/exp2.db"
    timed export "$EDR" export latest "${R[@]}" --identity "$B_TMP/k.key" -o "$B_TMP/exp2.db"
    w=$T_WALL
    r2=$T_RSS
    c=$T_CPU
    timed status2 etcdctl snapshot status "$B_TMP/exp2.db" -w json
    add_sample export+status "$(python3 -c "print('%.3f' % ($w + $T_WALL))")" \
        "$((r2 > T_RSS ? r2 : T_RSS))" "$(python3 -c "print('%.2f' % ($c + $T_CPU))")"
    echo "# run $i: etcd-dr export + etcdctl snapshot status $w + $T_WALL s" >&2
done

m_ctl=$(median etcdctl)
m_edr=$(median etcd-dr)
m_dur=$(median duration)
m_es=$(median export+status)
r=$(ratio "$m_edr" "$m_ctl")
rss_ctl=$(peak_rss etcdctl)
rss_edr=$(peak_rss etcd-dr)

echo
echo "verify, db $(mib "$db_bytes") MiB, median of $RUNS runs (machine shared: noisy)"
row "tool" "median s" "runs s" "ratio" "MB/s" "peak RSS MiB" "CPU s"
row "etcdctl snapshot status (.db)" "$m_ctl" "$(samples etcdctl)" "1.000" \
    "$(mbps "$db_bytes" "$m_ctl")" "$(kib2mib "$rss_ctl")" "$(median etcdctl 3)"
row "etcd-dr verify --level content" "$m_edr" "$(samples etcd-dr)" "$r" \
    "$(mbps "$db_bytes" "$m_edr")" "$(kib2mib "$rss_edr")" "$(median etcd-dr 3)"
row "  (its duration_seconds)" "$m_dur" "" "" "$(mbps "$db_bytes" "$m_dur")" "" ""
row "etcd-dr export + etcdctl status" "$m_es" "$(samples export+status)" "$(ratio "$m_es" "$m_ctl")" \
    "$(mbps "$db_bytes" "$m_es")" "$(kib2mib "$(peak_rss export+status)")" "$(median export+status 3)"
echo "(etcd-dr verify / (export + etcdctl status): $(ratio "$m_edr" "$m_es"); one export alone: $(median export) s)"
result size_mb "$SIZE"
result db_bytes_verified "$db_bytes"
result etcdctl_status_median_s "$m_ctl"
result etcddr_verify_median_s "$m_edr"
result etcddr_verify_duration_s "$m_dur"
result ratio "$r"
result etcddr_verify_mbps "$(mbps "$db_bytes" "$m_edr")"
result etcddr_verify_duration_mbps "$(mbps "$db_bytes" "$m_dur")"
result etcdctl_status_mbps "$(mbps "$db_bytes" "$m_ctl")"
result etcdctl_rss_kib "$rss_ctl"
result etcddr_rss_kib "$rss_edr"
result export_s "$(median export)"
result export_status_s "$m_es"
result ratio_vs_export_status "$(ratio "$m_edr" "$m_es")"
result etcdctl_cpu_s "$(median etcdctl 3)"
result etcddr_cpu_s "$(median etcd-dr 3)"
