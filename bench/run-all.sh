#!/bin/bash
# Usage: bench/run-all.sh [--big] [RUNS=3]
#
# Runs backup.sh, restore.sh, verify.sh and s3.sh at 128 MiB, and capture.sh with
# 200,000 events; with --big also
# backup.sh, restore.sh and verify.sh at 1024 MiB, and verify.sh on Kubernetes-like
# data (BENCH_DATA=k8s, results named verify_k8s_1024_*) (about 10 GB free in /tmp and
# a few minutes of loading each). Each script starts and kills its own etcd.
# Prints every script's table, then all RESULT lines again prefixed with the
# script and size (RESULT backup_128_ratio=1.02). A script that fails is
# reported and the others still run; the exit status is then 1.
set -u
here=$(cd "$(dirname "$0")" && pwd)
big=
if [ "${1:-}" = --big ]; then
    big=1
    shift
fi
RUNS=${1:-3}
out=$(mktemp /tmp/edr-bench-all.XXXXXX)
trap 'rm -f "$out"' EXIT
failed=0

run() { # SCRIPT SIZE [TAG [SECOND_ARG]]: TAG names the results (default SCRIPT)
    local tag=${3:-$1}
    echo "=== $tag $2 MiB ($RUNS runs) ==="
    if "$here/$1.sh" "$2" "${4:-$RUNS}" >"$out.one"; then
        cat "$out.one"
        sed -n "s/^RESULT /RESULT ${tag}_$2_/p" "$out.one" >>"$out"
    else
        cat "$out.one"
        echo "=== $tag $2 MiB FAILED ==="
        echo "RESULT ${tag}_$2_failed=1" >>"$out"
        failed=1
    fi
    rm -f "$out.one"
    echo
}

for s in backup restore verify s3; do run "$s" 128; done
# change capture and replay: 200,000 small events and 200 of 100 KiB ("MiB" reads "events" here)
run capture 200000 capture 200
if [ -n "$big" ]; then
    for s in backup restore verify; do run "$s" 1024; done
    BENCH_DATA=k8s run verify 1024 verify_k8s # Kubernetes-like objects (bench/lib.sh)
fi
echo "=== all results ==="
cat "$out"
exit $failed
