#!/bin/bash
# snapshot status of src/mvcc against the status tool of the etcd under test
# (etcdctl 3.4, etcdutl 3.5+: 3.6+ count live keys and print the storage
# version) on snapshots of a real etcd (puts, overwrites, deletes, a lease, a
# big value, compaction, auth), and the bolt writer's copy of each snapshot
# through that tool's integrity check; and the status verify computes while
# the snapshot streams past (a capture, no file) equal to the file's, number
# for number, without falling back.
BASE_PORT=24300
. "$(dirname "$0")/lib.sh"
require_etcd
TOOL="$EDR_BUILDDIR/tests/unit/mvcc/mvcc_status"
MINOR=$(($(etcd_minor) % 10))
E="etcdctl --endpoints http://127.0.0.1:$((BASE_PORT + 10))"
etcd_start t0400 $((BASE_PORT + 10)) $((BASE_PORT + 11))
wait_healthy http://127.0.0.1:$((BASE_PORT + 10)) || bail "etcd did not start"
nok() { not_ok "$@"; }
compare() { # name file
    want=$(snapctl snapshot status -w json "$2" 2>/dev/null)
    got=$("$TOOL" status "$2" "$MINOR")
    if [ -n "$want" ] && [ "$want" = "$got" ]; then ok "$1: $got"; else nok "$1: etcdctl '$want', ours '$got'"; fi
    "$TOOL" copy "$2" "$2.copy" 4096 && c=$(snapctl snapshot status -w json "$2.copy" 2>&1)
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
done_testing
