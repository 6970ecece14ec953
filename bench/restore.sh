#!/bin/bash
# Usage: bench/restore.sh SIZE_MB [RUNS=3]
#
# Restore speed and memory for a 3-member cluster: fills a fresh etcd 3.4
# (127.0.0.1:25010) to SIZE_MB MiB and takes one `etcdctl snapshot save`. Then,
# RUNS times, alternating: `etcd-dr restore FILE.db --all-members` writes the
# three data dirs in one command, and three `etcdctl snapshot restore` runs write
# one data dir each (their wall times are summed, their peak RSS is the largest).
# The data dirs are removed between runs (not timed). Prints the medians, the
# ratio etcd-dr/etcdctl, the peak RSS and CPU seconds (user+system), as a table and RESULT lines.
. "$(dirname "$0")/lib.sh"

SIZE=${1:?usage: restore.sh SIZE_MB [RUNS]}
RUNS=${2:-3}
bench_init restore
note_load
etcd_up 25010 25011
load_report "$SIZE"
etcdctl --endpoints "$EP" snapshot save "$B_TMP/snap.db" >/dev/null 2>&1 || bench_die "snapshot save failed"
snap_bytes=$(stat -c %s "$B_TMP/snap.db")
# The load is done: stop etcd so that it does not compete for the disk.
for p in $_b_pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
_b_pids=
rm -rf "$B_TMP/etcd"

names=(a b c)
IC="a=http://127.0.0.1:25012,b=http://127.0.0.1:25013,c=http://127.0.0.1:25014"
peer() { echo "http://127.0.0.1:$((25012 + $1))"; }
for i in $(seq 1 "$RUNS"); do
    rm -rf "$B_TMP/edr" "$B_TMP/ctl"
    mkdir -p "$B_TMP/edr" "$B_TMP/ctl"
    sync
    timed etcd-dr "$EDR" restore "$B_TMP/snap.db" --all-members --initial-cluster "$IC" \
        --initial-cluster-token bench --data-dir "$B_TMP/edr/{name}"
    echo "# run $i: etcd-dr restore --all-members $T_WALL s, rss $T_RSS KiB" >&2
    sync
    sum=0
    rss=0
    cpu=0
    for m in 0 1 2; do
        timed etcdctl-one "$SNAPTOOL" snapshot restore "$B_TMP/snap.db" --name "${names[$m]}" \
            --initial-cluster "$IC" --initial-cluster-token bench \
            --initial-advertise-peer-urls "$(peer $m)" --data-dir "$B_TMP/ctl/${names[$m]}"
        sum=$(python3 -c "print('%.3f' % ($sum + $T_WALL))")
        cpu=$(python3 -c "print('%.2f' % ($cpu + $T_CPU))")
        [ "$T_RSS" -gt "$rss" ] && rss=$T_RSS
    done
    add_sample etcdctl "$sum" "$rss" "$cpu"
    echo "# run $i: 3 x etcdctl snapshot restore $sum s, rss $rss KiB" >&2
done
if [ ! -f "$B_TMP/edr/a/member/snap/db" ] || [ ! -f "$B_TMP/edr/c/member/snap/db" ]; then
    bench_die "etcd-dr restore wrote no member db"
fi

m_ctl=$(median etcdctl)
m_edr=$(median etcd-dr)
r=$(ratio "$m_edr" "$m_ctl")
rss_ctl=$(peak_rss etcdctl)
rss_edr=$(peak_rss etcd-dr)

echo
echo "restore of 3 members, db $(mib "$snap_bytes") MiB, median of $RUNS runs (machine shared: noisy)"
row "tool" "median s" "runs s" "ratio" "peak RSS MiB" "CPU s"
row "3 x etcdctl snapshot restore" "$m_ctl" "$(samples etcdctl)" "1.000" "$(kib2mib "$rss_ctl")" \
    "$(median etcdctl 3)"
row "etcd-dr restore --all-members" "$m_edr" "$(samples etcd-dr)" "$r" "$(kib2mib "$rss_edr")" \
    "$(median etcd-dr 3)"
result size_mb "$SIZE"
result snapshot_bytes "$snap_bytes"
result etcdctl_median_s "$m_ctl"
result etcddr_median_s "$m_edr"
result ratio "$r"
result etcdctl_rss_kib "$rss_ctl"
result etcddr_rss_kib "$rss_edr"
result etcdctl_cpu_s "$(median etcdctl 3)"
result etcddr_cpu_s "$(median etcd-dr 3)"
