#!/bin/bash
# Usage: bench/backup.sh SIZE_MB [RUNS=3]
#
# Backup speed and memory: fills a fresh etcd 3.4 (127.0.0.1:25000) to SIZE_MB
# MiB, then alternates `etcdctl snapshot save FILE` and `etcd-dr backup` (zstd +
# encryption into a local repository) RUNS times each, in the same run. Prints
# the median wall time of each, the ratio etcd-dr/etcdctl, the peak RSS of each,
# the median CPU time (user+system, of the client only: etcd's own work to send
# the snapshot is not in it) and the stored size against the db size, as a table and RESULT lines.
# Extra etcd-dr backup options can be given in EDR_BACKUP_ARGS (e.g. "--threads 1").
. "$(dirname "$0")/lib.sh"

SIZE=${1:?usage: backup.sh SIZE_MB [RUNS]}
RUNS=${2:-3}
bench_init backup
note_load
etcd_up 25000 25001
load_report "$SIZE"
"$EDR" keygen -o "$B_TMP/k" >/dev/null || bench_die "keygen failed"

for i in $(seq 1 "$RUNS"); do
    rm -f "$B_TMP/snap.db"
    c0=$(proc_cpu "$ETCD_PID")
    timed etcdctl etcdctl --endpoints "$EP" snapshot save "$B_TMP/snap.db"
    c1=$(proc_cpu "$ETCD_PID")
    add_sample etcd-for-etcdctl 0 0 "$(fsub "$c1" "$c0")"
    echo "# run $i: etcdctl snapshot save $T_WALL s, rss $T_RSS KiB," \
        "cpu $T_CPU s (etcd $(fsub "$c1" "$c0") s)" >&2
    # shellcheck disable=SC2086 # EDR_BACKUP_ARGS is a list of options
    timed etcd-dr "$EDR" backup --endpoints "$EP" --repo "$B_TMP/repo" --cluster bench \
        --recipient "$B_TMP/k.pub" ${EDR_BACKUP_ARGS:-}
    c2=$(proc_cpu "$ETCD_PID")
    add_sample etcd-for-etcd-dr 0 0 "$(fsub "$c2" "$c1")"
    echo "# run $i: etcd-dr backup $T_WALL s, rss $T_RSS KiB," \
        "cpu $T_CPU s (etcd $(fsub "$c2" "$c1") s)" >&2
    sleep 1 # backup ids are per second
done

snap_bytes=$(stat -c %s "$B_TMP/snap.db")
stored=$(ls -t "$B_TMP"/repo/bench/*.edr | head -1)
stored_bytes=$(stat -c %s "$stored")
m_ctl=$(median etcdctl)
m_edr=$(median etcd-dr)
r=$(ratio "$m_edr" "$m_ctl")
rss_ctl=$(peak_rss etcdctl)
rss_edr=$(peak_rss etcd-dr)

echo
echo "backup, db $(mib "$snap_bytes") MiB, median of $RUNS runs (machine shared: noisy)"
row "tool" "median s" "runs s" "ratio" "peak RSS MiB" "stored MiB" "CPU s"
row "etcdctl snapshot save" "$m_ctl" "$(samples etcdctl)" "1.000" "$(kib2mib "$rss_ctl")" \
    "$(mib "$snap_bytes")" "$(median etcdctl 3)"
row "etcd-dr backup (zstd+enc)" "$m_edr" "$(samples etcd-dr)" "$r" "$(kib2mib "$rss_edr")" \
    "$(mib "$stored_bytes")" "$(median etcd-dr 3)"
echo "stored/db: $(ratio "$stored_bytes" "$snap_bytes"); etcd's own CPU s per snapshot (median):" \
    "$(median etcd-for-etcdctl 3) for etcdctl, $(median etcd-for-etcd-dr 3) for etcd-dr"
gib=$(python3 -c "print($snap_bytes / 1073741824)")
cpg_ctl=$(python3 -c "print('%.2f' % ($(median etcdctl 3) / $gib))")
cpg_edr=$(python3 -c "print('%.2f' % ($(median etcd-dr 3) / $gib))")
echo "client CPU s per GiB of db: etcdctl $cpg_ctl, etcd-dr $cpg_edr (ratio $(ratio "$cpg_edr" "$cpg_ctl"))"
result size_mb "$SIZE"
result snapshot_bytes "$snap_bytes"
result etcdctl_median_s "$m_ctl"
result etcddr_median_s "$m_edr"
result ratio "$r"
result etcdctl_rss_kib "$rss_ctl"
result etcddr_rss_kib "$rss_edr"
result etcdctl_cpu_s "$(median etcdctl 3)"
result etcddr_cpu_s "$(median etcd-dr 3)"
result etcdctl_cpu_s_per_gib "$cpg_ctl"
result etcddr_cpu_s_per_gib "$cpg_edr"
result stored_bytes "$stored_bytes"
result stored_ratio "$(ratio "$stored_bytes" "$snap_bytes")"
