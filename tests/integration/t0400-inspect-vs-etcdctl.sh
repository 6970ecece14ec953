#!/bin/sh
# snapshot status of src/mvcc against etcdctl 3.4 on snapshots of a real etcd
# (puts, overwrites, deletes, a lease, a big value, compaction, auth), and the
# bolt writer's copy of each snapshot through etcdctl's integrity check; and
# the status verify computes while the snapshot streams past (a capture, no
# file) equal to the file's, number for number, without falling back.
# Ports 21110-21111. Skips without etcd unless CI is set.
set -u
TOOL="$EDR_BUILDDIR/tests/unit/mvcc/mvcc_status"
if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
    if [ -n "${CI:-}" ]; then echo "1..1"; echo "not ok 1 - etcd/etcdctl not found"; exit 1; fi
    echo "1..0 # SKIP etcd/etcdctl not found"; exit 0
fi
T=$(mktemp -d /tmp/edr-t0400-XXXXXX)
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM
export ETCDCTL_API=3
E="etcdctl --endpoints http://127.0.0.1:21110"
etcd --name t0400 --data-dir "$T/d" --listen-client-urls http://127.0.0.1:21110 \
    --advertise-client-urls http://127.0.0.1:21110 --listen-peer-urls http://127.0.0.1:21111 \
    --initial-advertise-peer-urls http://127.0.0.1:21111 \
    --initial-cluster t0400=http://127.0.0.1:21111 >"$T/etcd.log" 2>&1 &
PID=$!
for i in $(seq 50); do $E endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
n=0
fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); echo "not ok $n - $1"; fail=1; }
compare() { # name file
    want=$(etcdctl snapshot status -w json "$2" 2>/dev/null)
    got=$("$TOOL" status "$2")
    if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$1: $got"; else nok "$1: etcdctl '$want', ours '$got'"; fi
    "$TOOL" copy "$2" "$2.copy" 4096 && c=$(etcdctl snapshot status -w json "$2.copy" 2>&1)
    h1=$(echo "$want" | sed 's/,"totalSize.*//'); h2=$(echo "$c" | sed 's/,"totalSize.*//')
    if [ -n "$h1" ] && [ "$h1" = "$h2" ]; then ok "$1: writer copy passes etcdctl"; else nok "$1: writer copy: '$c'"; fi
    if d=$("$TOOL" diff "$2" 2>&1); then ok "$1: status from a stream capture = from the file"; else nok "$1: capture: $d"; fi
}
$E put /a/one v1 >/dev/null; $E put /a/two v2 >/dev/null; $E put /a/gone x >/dev/null
$E del /a/gone >/dev/null; $E put /a/two v2b >/dev/null
L=$($E lease grant 3600 | awk '{print $2}'); $E put --lease="$L" /a/leased lv >/dev/null
$E snapshot save "$T/s1.db" >/dev/null 2>&1
compare "small" "$T/s1.db"
head -c 300000 /dev/zero | tr '\0' 'v' | $E put /big/300k >/dev/null
for i in $(seq 1 150); do head -c $((i * 40)) /dev/zero | tr '\0' 'p' | $E put "/registry/pods/ns$((i % 3))/p$i" >/dev/null; done
for i in $(seq 1 50); do $E put "/registry/pods/ns$((i % 3))/p$i" "new$i" >/dev/null; done
$E compact 100 >/dev/null
$E snapshot save "$T/s2.db" >/dev/null 2>&1
compare "big value, overwrites, compaction" "$T/s2.db"
$E user add root:rootpw >/dev/null 2>&1; $E user grant-role root root >/dev/null 2>&1
$E auth enable >/dev/null 2>&1
$E --user root:rootpw put /after/auth z >/dev/null
$E --user root:rootpw snapshot save "$T/s3.db" >/dev/null 2>&1
compare "auth enabled" "$T/s3.db"
# churn: freed pages keep stale leaves; keys deleted and their tombstones
# compacted away must not come back as live from a stale page
A="--user root:rootpw"
for r in 1 2 3; do
    for i in $(seq 1 60); do head -c $((i * 97)) /dev/zero | tr '\0' "$r" | $E $A put "/churn/k$i" >/dev/null; done
done
for i in $(seq 1 60 | awk 'NR % 2'); do $E $A del "/churn/k$i" >/dev/null; done
$E $A compact "$($E $A get /after/auth -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')" >/dev/null
for i in 2 4 6 8 10; do $E $A del "/churn/k$i" >/dev/null; done # tombstones kept
$E $A snapshot save "$T/s4.db" >/dev/null 2>&1
compare "churn, deletes, tombstones compacted" "$T/s4.db"
echo "1..$n"
exit $fail
