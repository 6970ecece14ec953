#!/bin/bash
# Restores across etcd versions, the paths operators take: a backup of a
# 3.4 cluster restored natively into 3.5 members, 3.5 into 3.6, 3.6 into
# 3.7, each started and compared key by key with its source. The other way
# (3.7 data into 3.6, 3.6 into 3.5) etcd refuses, so etcd-dr refuses it
# first, in one line and before writing anything, whenever it knows the
# target version (--target-version, restore --start, verify --drill); etcd
# 3.6 is shown to really refuse 3.7 data. list and inspect name the etcd a
# backup came from. A backup holding a NOSPACE alarm is restored with a
# warning that the new cluster inherits it, and so is one taken during a
# downgrade. etcd 3.6.4 (3.6.0-3.6.4 need
# meta/confState) sets the storage version of a restored 3.4 backup.
BASE_PORT=24500
. "$(dirname "$0")/lib.sh"
require_etcd

vdir() { "$SRCDIR/scripts/etcd-versions.sh" --dir "$1"; }
for v in 3.4 3.5 3.6 3.7; do
    "$(vdir $v)/etcd" --version 2>/dev/null | grep -q "etcd Version: $v\." ||
        bail "etcd $v is not built in $(vdir $v) (scripts/etcd-versions.sh)"
done
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --identity "$T/k.key")

# source V N: a one-member etcd V with keys, overwrites, deletes, a lease and
# a compaction, backed up into cluster cV; its dump in $T/cV.dump
source_backup() {
    local v=$1 n=$2 ep=http://127.0.0.1:$((BASE_PORT + 10 * $2))
    PATH="$(vdir "$v"):$PATH" etcd_start "s$n" $((BASE_PORT + 10 * n)) $((BASE_PORT + 10 * n + 1))
    PATH="$(vdir "$v"):$PATH" wait_healthy "$ep" || { not_ok "etcd $v did not start"; return 1; }
    load_keys "$ep" /x/ 600 30 && load_keys "$ep" /x/ 100 50 || { not_ok "load into $v failed"; return 1; }
    etcdctl --endpoints "$ep" del --prefix /x/0005 >/dev/null
    local lease
    lease=$(etcdctl --endpoints "$ep" lease grant 7200 | awk '{print $2}')
    etcdctl --endpoints "$ep" put --lease="$lease" /leased "from $v" >/dev/null
    etcdctl --endpoints "$ep" compact 5 >/dev/null
    dump "$ep" "$T/c$v.dump"
    check "backup of an etcd $v cluster" "$EDR" backup --endpoints "$ep" --repo "$T/repo" \
        --cluster "c$v" --recipient "$T/k.pub"
    etcd_stop "s$n"
}

# upgrade FROM TO N: FROM's backup restored natively for TO, started by TO
upgrade() {
    local from=$1 to=$2 n=$3 cp=$((BASE_PORT + 10 * $3 + 5)) pp=$((BASE_PORT + 10 * $3 + 6))
    check "restore the $from backup for etcd $to (--target-version $to)" "$EDR" restore latest \
        "${R[@]}" --cluster "c$from" --target-version "$to" --name "u$n" \
        --initial-cluster "u$n=http://127.0.0.1:$pp" --data-dir "$T/up$n"
    PATH="$(vdir "$to"):$PATH" etcd_start_dir "u$n" "$T/up$n" "$cp" "$pp"
    if PATH="$(vdir "$to"):$PATH" wait_healthy "http://127.0.0.1:$cp"; then
        dump "http://127.0.0.1:$cp" "$T/up$n.dump"
        check "etcd $to serves every key of the $from backup with its revisions, version and lease" \
            cmp "$T/c$from.dump" "$T/up$n.dump"
        check "etcd $to accepts writes on the restored $from data" \
            etcdctl --endpoints "http://127.0.0.1:$cp" put /after/upgrade yes
    else
        not_ok "etcd $to did not start the restored $from backup"
        tail -3 "$T/u$n-restored.log" | sed 's/^/# /'
    fi
    etcd_stop "u$n"
}

source_backup 3.4 1 && upgrade 3.4 3.5 1
source_backup 3.5 2 && upgrade 3.5 3.6 2
source_backup 3.6 3 && upgrade 3.6 3.7 3
source_backup 3.7 4

# --- etcd 3.6.0-3.6.4 tell the storage version of a backend that has none
# (3.4/3.5 data) from meta/confState, which etcdutl's restore leaves as the
# source had it (a 3.4 backend has none) and etcd-dr writes for the new members
old364() { # old364 NAME DATADIR: start it with etcd 3.6.4; its log in $T/NAME.log
    timeout 20 "$(vdir 3.6.4)/etcd" --name "$1" --data-dir "$2" --listen-client-urls http://127.0.0.1:$((BASE_PORT + 70)) \
        --advertise-client-urls http://127.0.0.1:$((BASE_PORT + 70)) --listen-peer-urls http://127.0.0.1:$((BASE_PORT + 71)) \
        --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 71)) >"$T/$1.log" 2>&1 &
    local pid=$! i
    _pids="$_pids $pid"
    for i in $(seq 60); do
        grep -qs "updated storage version\|Failed to detect storage schema version" "$T/$1.log" && break
        sleep 0.25
    done
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
if "$(vdir 3.6.4)/etcd" --version 2>/dev/null | grep -q "etcd Version: 3.6.4"; then
    "$EDR" restore latest "${R[@]}" --cluster c3.4 --name o --initial-cluster o=http://127.0.0.1:$((BASE_PORT + 71)) \
        --data-dir "$T/o364" -q 2>/dev/null
    old364 o364 "$T/o364"
    check "etcd 3.6.4 sets the storage version of etcd-dr's restore of 3.4 data (meta/confState)" \
        sh -c "grep -q 'updated storage version' '$T/o364.log' && ! grep -q 'Failed to detect storage schema' '$T/o364.log'"
    "$EDR" export latest "${R[@]}" --cluster c3.4 -o "$T/c34.db" -q
    "$(vdir 3.6.4)/etcdutl" snapshot restore "$T/c34.db" --name r --initial-cluster r=http://127.0.0.1:$((BASE_PORT + 71)) \
        --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 71)) --data-dir "$T/r364" >/dev/null 2>&1
    old364 r364 "$T/r364"
    check "(etcdutl 3.6.4's own restore of it does not: 'Failed to detect storage schema version')" \
        grep -q "Failed to detect storage schema version" "$T/r364.log"
else
    not_ok "etcd 3.6.4 is not built (scripts/etcd-versions.sh)"
fi

# --- where each backup came from
check "list shows the etcd version of the backup" sh -c "'$EDR' list --repo '$T/repo' --cluster c3.6 | grep -q ' 3\.6\.'"
check "inspect shows it too, and the storage version 3.7 wrote" sh -c \
    "'$EDR' inspect latest --repo '$T/repo' --cluster c3.7 --identity '$T/k.key' | grep -q 'from etcd  *3\.7\.' &&
     '$EDR' inspect latest --repo '$T/repo' --cluster c3.7 --identity '$T/k.key' | grep -q 'storage version  *3\.7\.0'"

# --- newer data into an older etcd: refused before anything is written
expect_fail "3.7 backup, --target-version 3.6: refused" 13 \
    "backup holds etcd 3.7 data \(storage version 3.7.0\); etcd 3.6 cannot start it" \
    "$EDR" restore latest "${R[@]}" --cluster c3.7 --target-version 3.6 --name d \
    --initial-cluster d=http://127.0.0.1:$((BASE_PORT + 91)) --data-dir "$T/down1"
check "nothing was written" test ! -e "$T/down1"
expect_fail "3.7 backup, restore --start with etcd 3.6: refused" 13 "etcd 3\.6\.[0-9]+ cannot start it" \
    "$EDR" restore latest "${R[@]}" --cluster c3.7 --start --etcd-bin "$(vdir 3.6)/etcd" --name d \
    --initial-cluster d=http://127.0.0.1:$((BASE_PORT + 91)) --data-dir "$T/down2" \
    --listen-client-urls http://127.0.0.1:$((BASE_PORT + 90))
check "nothing was written" test ! -e "$T/down2"
expect_fail "3.6 backup, --target-version 3.5: refused" 13 "storage version 3.6.0\); etcd 3.5.35 cannot" \
    "$EDR" restore latest "${R[@]}" --cluster c3.6 --target-version 3.5.35 --name d \
    --initial-cluster d=http://127.0.0.1:$((BASE_PORT + 91)) --data-dir "$T/down3"
check "nothing was written" test ! -e "$T/down3"
expect_fail "3.6 backup, verify --drill with etcd 3.5: refused, not a failed drill" 13 \
    "etcd 3\.5\.[0-9]+ cannot start it" "$EDR" verify latest "${R[@]}" --cluster c3.6 --drill \
    --etcd-bin "$(vdir 3.5)/etcd"
check "and no verification was recorded for the backup" \
    sh -c "! ls '$T'/repo/c3.6/*.verify.json >/dev/null 2>&1"
# etcd itself does refuse: 3.6 on a native restore of the 3.7 backup
"$EDR" restore latest "${R[@]}" --cluster c3.7 --name d --initial-cluster d=http://127.0.0.1:$((BASE_PORT + 91)) \
    --data-dir "$T/down4" -q
timeout 30 "$(vdir 3.6)/etcd" --name d --data-dir "$T/down4" --listen-client-urls http://127.0.0.1:$((BASE_PORT + 90)) \
    --advertise-client-urls http://127.0.0.1:$((BASE_PORT + 90)) --listen-peer-urls http://127.0.0.1:$((BASE_PORT + 91)) \
    >"$T/down4.log" 2>&1
rc=$?
check "etcd 3.6 itself refuses the 3.7 data (exit $rc, not a timeout)" test "$rc" -ne 0 -a "$rc" -ne 124

# --- inherited state: a downgrade in progress (etcd 3.6 can downgrade to 3.5)
EPD=http://127.0.0.1:$((BASE_PORT + 85))
PATH="$(vdir 3.6):$PATH" etcd_start dg $((BASE_PORT + 85)) $((BASE_PORT + 86))
PATH="$(vdir 3.6):$PATH" wait_healthy "$EPD" || bail "etcd 3.6 did not start"
"$(vdir 3.6)/etcdctl" --endpoints "$EPD" downgrade enable 3.5 >"$T/dg.out" 2>&1
check "etcd 3.6 starts a downgrade to 3.5" grep -qi "downgrade enable success\|success" "$T/dg.out"
check "a backup of it" "$EDR" backup --endpoints "$EPD" --repo "$T/repo" --cluster dg --recipient "$T/k.pub" -q
etcd_stop dg
"$EDR" restore latest "${R[@]}" --cluster dg --name g --initial-cluster g=http://127.0.0.1:$((BASE_PORT + 87)) \
    --data-dir "$T/dg-restore" >/dev/null 2>"$T/dg.err"
check "restoring it warns that the new cluster inherits the downgrade" \
    grep -q "warning: the backup was taken during a downgrade to 3.5" "$T/dg.err"

# --- inherited state: a NOSPACE alarm
EPQ=http://127.0.0.1:$((BASE_PORT + 80))
PATH="$(vdir 3.5):$PATH" etcd_start q $((BASE_PORT + 80)) $((BASE_PORT + 81)) "" --quota-backend-bytes 1048576
PATH="$(vdir 3.5):$PATH" wait_healthy "$EPQ" || bail "etcd with a small quota did not start"
for i in $(seq 1 40); do
    head -c 60000 /dev/urandom | base64 -w0 | etcdctl --endpoints "$EPQ" put /big/$i >/dev/null 2>&1 || break
done
check "the small etcd raised NOSPACE" sh -c "etcdctl --endpoints '$EPQ' alarm list | grep -q NOSPACE"
check "a backup of it still works" "$EDR" backup --endpoints "$EPQ" --repo "$T/repo" --cluster full --recipient "$T/k.pub"
etcd_stop q
"$EDR" restore latest "${R[@]}" --cluster full --name f --initial-cluster f=http://127.0.0.1:$((BASE_PORT + 83)) \
    --data-dir "$T/full" >"$T/full.out" 2>"$T/full.err"
check "restoring it warns that the new cluster inherits the NOSPACE alarm" \
    grep -q "warning: the backup holds a NOSPACE alarm: the restored cluster accepts no writes" "$T/full.err"
done_testing
