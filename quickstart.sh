#!/bin/bash
# etcd-dr in five minutes on a fresh Debian 12 machine: install the
# dependencies, build, start a throwaway etcd on 127.0.0.1 with some data,
# back it up (encrypted) into ./demo-repo, list, verify and inspect it, then
# restore it natively into a new 3-member cluster, start that cluster and
# show the keys are back. Everything it starts is stopped at the end.
set -euo pipefail
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
"$top/scripts/install-deps.sh"
"$top/scripts/build.sh" "$top/build"
EDR="$top/build/etcd-dr"
DEMO="$top/demo"
rm -rf "$DEMO" "$top/demo-repo"
mkdir -p "$DEMO"
chmod 700 "$DEMO"
pids=()
stop_all() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 50); do
        alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && return
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}
trap stop_all EXIT
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "starting a throwaway etcd on 127.0.0.1:24379"
etcd --name demo --data-dir "$DEMO/source.etcd" \
    --listen-client-urls http://127.0.0.1:24379 --advertise-client-urls http://127.0.0.1:24379 \
    --listen-peer-urls http://127.0.0.1:24380 --initial-advertise-peer-urls http://127.0.0.1:24380 \
    --initial-cluster demo=http://127.0.0.1:24380 >"$DEMO/source.log" 2>&1 &
pids+=($!)
EP=http://127.0.0.1:24379
for _ in $(seq 50); do etcdctl --endpoints $EP endpoint health >/dev/null 2>&1 && break; sleep 0.2; done
for ns in default kube-system; do
    for i in $(seq 1 50); do etcdctl --endpoints $EP put "/registry/configmaps/$ns/cm-$i" "value-$i" >/dev/null; done
done
for i in $(seq 1 20); do etcdctl --endpoints $EP put "/registry/pods/default/pod-$i" "pod-$i" >/dev/null; done
etcdctl --endpoints $EP put /demo/hello "world" >/dev/null
echo "source has $(etcdctl --endpoints $EP get --prefix / --keys-only | grep -c .) keys"

step "etcd-dr keygen -o demo/backup   (backup.pub for backup hosts, backup.key for restores)"
"$EDR" keygen -o "$DEMO/backup"

step "etcd-dr backup --endpoints $EP --repo ./demo-repo --cluster demo --recipient demo/backup.pub"
"$EDR" backup --endpoints $EP --repo "$top/demo-repo" --cluster demo --recipient "$DEMO/backup.pub"

step "etcd-dr list --repo ./demo-repo --cluster demo"
"$EDR" list --repo "$top/demo-repo" --cluster demo

step "etcd-dr export latest ... -o demo/snapshot.db   (a plain etcd snapshot)"
"$EDR" export latest --repo "$top/demo-repo" --cluster demo --identity "$DEMO/backup.key" -o "$DEMO/snapshot.db"
etcdctl snapshot status "$DEMO/snapshot.db" -w table

step "etcd-dr verify latest --drill   (decrypt, check, boot a throwaway etcd on the backup, probe it)"
"$EDR" verify latest --repo "$top/demo-repo" --cluster demo --identity "$DEMO/backup.key" --drill

step "etcd-dr inspect latest   (what etcdctl snapshot status shows, plus Kubernetes counts)"
"$EDR" inspect latest --repo "$top/demo-repo" --cluster demo --identity "$DEMO/backup.key"

step "etcd-dr get latest /demo/hello"
"$EDR" get latest /demo/hello --repo "$top/demo-repo" --cluster demo --identity "$DEMO/backup.key"
echo

step "disaster: the source etcd is gone"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
rm -rf "$DEMO/source.etcd"

IC="m1=http://127.0.0.1:24481,m2=http://127.0.0.1:24482,m3=http://127.0.0.1:24483"
step "etcd-dr restore latest --all-members --initial-cluster $IC --data-dir demo/restored/{name} --start"
"$EDR" restore latest --repo "$top/demo-repo" --cluster demo --identity "$DEMO/backup.key" \
    --all-members --initial-cluster "$IC" --initial-cluster-token demo-restored \
    --data-dir "$DEMO/restored/{name}" --start \
    --listen-client-urls m1=http://127.0.0.1:24471,m2=http://127.0.0.1:24472,m3=http://127.0.0.1:24473
for p in $(pgrep -f "data-dir $DEMO/restored/"); do pids+=("$p"); done

NEW=http://127.0.0.1:24471,http://127.0.0.1:24472,http://127.0.0.1:24473
step "the restored 3-member cluster"
etcdctl --endpoints $NEW member list -w table
etcdctl --endpoints $NEW endpoint status -w table
echo "keys back: $(etcdctl --endpoints $NEW get --prefix / --keys-only | grep -c .)"
etcdctl --endpoints $NEW get /demo/hello

step "done: the demo cluster is stopped now; ./demo-repo and demo/ stay for a look"
