#!/bin/bash
# Native restore, end to end against etcd 3.4: a source with >= 20k keys,
# overwrites, deletes, leases, a compaction and auth enabled is backed up,
# then restored by etcd-dr into 1 and into 3 members that are started and
# compared key by key with the source; etcdctl snapshot restore of the same
# snapshot gives the same member ids, cluster id and data; --bump-revision
# with --mark-compacted; a plain etcdctl snapshot file; --output-archives.
BASE_PORT=24000
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /r/ 20500 30 || bail "load failed"
load_keys "$EP" /r/ 1500 50 || bail "overwrites failed"
ctl del --prefix /r/0205 >/dev/null
LEASE=$(ctl lease grant 7200 | awk '{print $2}')
for i in 1 2 3 4 5; do ctl put --lease="$LEASE" /leased/$i v$i >/dev/null; done
OLDREV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
ctl compact $((OLDREV - 10)) >/dev/null
ctl put /after/compaction yes >/dev/null
ctl user add root:rootpw >/dev/null 2>&1
ctl auth enable >/dev/null 2>&1
AUTH=(--user root:rootpw)
dumpa() { dump "$1" "$2" "${AUTH[@]}"; } # with auth
dumpa "$EP" "$T/src.dump"
SRCREV=$(etcdctl --endpoints "$EP" "${AUTH[@]}" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
diag "source: $(wc -l <"$T/src.dump") keys at revision $SRCREV"
check "source has >= 20000 keys" test "$(wc -l <"$T/src.dump")" -ge 20000

"$EDR" keygen -o "$T/k" >/dev/null
printf 'rootpw\n' >"$T/pw"; chmod 600 "$T/pw"
check "backup with auth" "$EDR" backup --endpoints "$EP" --user root --password-file "$T/pw" \
    --repo "$T/repo" --cluster src --recipient "$T/k.pub"
RR=(--repo "$T/repo" --cluster src --identity "$T/k.key")
etcd_stop src

# --- one member
P1=$((BASE_PORT + 11)) C1=$((BASE_PORT + 10))
check "restore into one member" "$EDR" restore latest "${RR[@]}" --name one \
    --initial-cluster one=http://127.0.0.1:$P1 --initial-cluster-token t1 --data-dir "$T/one"
check "data dir and files have etcd's modes" sh -c "test \$(stat -c %a '$T/one') = 700 && test \$(stat -c %a '$T/one/member/snap/db') = 600 && test \$(stat -c %a '$T'/one/member/wal/*.wal) = 600"
etcd_start_dir one "$T/one" $C1 $P1
if wait_healthy http://127.0.0.1:$C1 "${AUTH[@]}"; then
    dumpa http://127.0.0.1:$C1 "$T/one.dump"
    check "1 member: every key, value, create/mod revision and version equal the source" cmp "$T/src.dump" "$T/one.dump"
    check "1 member: member list is the new member" sh -c "etcdctl --endpoints http://127.0.0.1:$C1 ${AUTH[*]} member list | grep -q 'one, http://127.0.0.1:$P1'"
    check "1 member: leases survived" sh -c "etcdctl --endpoints http://127.0.0.1:$C1 ${AUTH[*]} lease list | grep -qi '$LEASE'"
    check "1 member: accepts writes" etcdctl --endpoints http://127.0.0.1:$C1 "${AUTH[@]}" put /new k
else
    not_ok "restored single member did not become healthy"; tail -5 "$T/one-restored.log" | sed 's/^/# /'
fi
etcd_stop one

# --- three members, all at once, and etcdctl's restore as reference
IC="a=http://127.0.0.1:$((BASE_PORT + 21)),b=http://127.0.0.1:$((BASE_PORT + 22)),c=http://127.0.0.1:$((BASE_PORT + 23))"
check "restore --all-members into three dirs" "$EDR" restore latest "${RR[@]}" --all-members \
    --initial-cluster "$IC" --initial-cluster-token t3 --data-dir "$T/three/{name}"
for m in a b c; do
    n=$(( $(printf '%d' "'$m") - 96 ))
    etcd_start_dir "$m" "$T/three/$m" $((BASE_PORT + 30 + n)) $((BASE_PORT + 20 + n))
done
E3="http://127.0.0.1:$((BASE_PORT + 31)),http://127.0.0.1:$((BASE_PORT + 32)),http://127.0.0.1:$((BASE_PORT + 33))"
if wait_healthy "$E3" "${AUTH[@]}"; then
    check "3 members: cluster healthy with a leader" sh -c "etcdctl --endpoints '$E3' ${AUTH[*]} endpoint status -w json | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if len(s)==3 and all(x[\"Status\"][\"leader\"] for x in s) else 1)'"
    check "3 members: member list has a, b, c" sh -c "test \$(etcdctl --endpoints '$E3' ${AUTH[*]} member list | grep -c 'started') = 3"
    for i in 1 2 3; do
        dumpa http://127.0.0.1:$((BASE_PORT + 30 + i)) "$T/three$i.dump"
        check "3 members: member $i serves exactly the source keys" cmp "$T/src.dump" "$T/three$i.dump"
    done
    etcdctl --endpoints "$E3" "${AUTH[@]}" member list -w json >"$T/ours.members"
else
    not_ok "restored 3-member cluster did not become healthy"
fi
for m in a b c; do etcd_stop $m; done

"$EDR" export latest "${RR[@]}" -o "$T/snap.db" >/dev/null 2>&1
for m in a b c; do
    n=$(( $(printf '%d' "'$m") - 96 ))
    snapctl snapshot restore "$T/snap.db" --name $m --initial-cluster "$IC" --initial-cluster-token t3 \
        --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 20 + n)) --data-dir "$T/ref/$m" >/dev/null 2>&1
done
for m in a b c; do
    n=$(( $(printf '%d' "'$m") - 96 ))
    etcd_start_dir "ref$m" "$T/ref/$m" $((BASE_PORT + 30 + n)) $((BASE_PORT + 20 + n))
done
if wait_healthy "$E3" "${AUTH[@]}"; then
    etcdctl --endpoints "$E3" "${AUTH[@]}" member list -w json >"$T/ref.members"
    same_ids() {
        python3 - "$T/ours.members" "$T/ref.members" <<'PY'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ids = lambda d: sorted(m["ID"] for m in d["members"])
sys.exit(0 if a["header"]["cluster_id"] == b["header"]["cluster_id"] and ids(a) == ids(b) else 1)
PY
    }
    check "member ids and cluster id equal etcdctl snapshot restore's" same_ids
    dumpa http://127.0.0.1:$((BASE_PORT + 31)) "$T/ref.dump"
    check "etcdctl's restore serves the same keys, values and revisions" cmp "$T/ref.dump" "$T/three1.dump"
else
    not_ok "etcdctl-restored reference cluster did not become healthy"
fi
for m in a b c; do etcd_stop ref$m; done

# --- bump revision and mark compacted
PB=$((BASE_PORT + 41)) CB=$((BASE_PORT + 40))
check "restore with --bump-revision 1000000 --mark-compacted" "$EDR" restore latest "${RR[@]}" --name bump \
    --initial-cluster bump=http://127.0.0.1:$PB --data-dir "$T/bump" --bump-revision 1000000 --mark-compacted
etcd_start_dir bump "$T/bump" $CB $PB
if wait_healthy http://127.0.0.1:$CB "${AUTH[@]}"; then
    NEWREV=$(etcdctl --endpoints http://127.0.0.1:$CB "${AUTH[@]}" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
    check "revision $NEWREV >= $SRCREV + 1000000" test "$NEWREV" -ge $((SRCREV + 1000000))
    timeout 10 etcdctl --endpoints http://127.0.0.1:$CB "${AUTH[@]}" watch --rev $((SRCREV - 5)) /r/ >"$T/watch.out" 2>&1
    check "a watch from an old revision is told it was compacted" grep -qi compacted "$T/watch.out"
else
    not_ok "bumped member did not become healthy"
fi
etcd_stop bump

# --- plain etcdctl snapshot file, and archives
check "restore from a plain etcdctl snapshot file, WAL in its own dir" "$EDR" restore "$T/snap.db" --name plain \
    --initial-cluster plain=http://127.0.0.1:$((BASE_PORT + 51)) --data-dir "$T/plain" --wal-dir "$T/plain-wal"
check "the WAL went to --wal-dir" sh -c "ls '$T'/plain-wal/*.wal >/dev/null && test ! -e '$T/plain/member/wal'"
etcd --name plain --data-dir "$T/plain" --wal-dir "$T/plain-wal" \
    --listen-client-urls http://127.0.0.1:$((BASE_PORT + 50)) --advertise-client-urls http://127.0.0.1:$((BASE_PORT + 50)) \
    --listen-peer-urls http://127.0.0.1:$((BASE_PORT + 51)) --logger zap --log-outputs "$T/plain.log" >>"$T/plain.out" 2>&1 &
_pids="$_pids $!"
PPID_PLAIN=$!
if wait_healthy http://127.0.0.1:$((BASE_PORT + 50)) "${AUTH[@]}"; then
    dumpa http://127.0.0.1:$((BASE_PORT + 50)) "$T/plain.dump"
    check "the member restored from the plain file serves the source keys" cmp "$T/src.dump" "$T/plain.dump"
else
    not_ok "the member restored from the plain file did not become healthy"
fi
kill "$PPID_PLAIN" 2>/dev/null; wait "$PPID_PLAIN" 2>/dev/null
check "--output-archives writes one tarball per member" "$EDR" restore latest "${RR[@]}" --all-members \
    --initial-cluster "$IC" --initial-cluster-token t3 --output-archives "$T/arch"
mkdir -p "$T/unpacked/a" && tar -xzf "$T/arch/a.tar.gz" -C "$T/unpacked/a"
check "the archive holds a complete data dir" test -f "$T/unpacked/a/member/snap/db"
"$EDR" restore latest "${RR[@]}" --all-members --initial-cluster "$IC" --initial-cluster-token t3 \
    --data-dir "$T/fresh/{name}" >/dev/null
check "the archive's db equals a direct restore's" cmp "$T/unpacked/a/member/snap/db" "$T/fresh/a/member/snap/db"
check "the archive's WAL equals a direct restore's" sh -c "cmp '$T'/unpacked/a/member/wal/*.wal '$T'/fresh/a/member/wal/*.wal"
for m in a b c; do mkdir -p "$T/unpacked/$m"; tar -xzf "$T/arch/$m.tar.gz" -C "$T/unpacked/$m"; done
for m in a b c; do
    n=$(( $(printf '%d' "'$m") - 96 ))
    etcd_start_dir "u$m" "$T/unpacked/$m" $((BASE_PORT + 30 + n)) $((BASE_PORT + 20 + n))
done
if wait_healthy "$E3" "${AUTH[@]}"; then
    dumpa http://127.0.0.1:$((BASE_PORT + 32)) "$T/unp.dump"
    check "unpacked archives start as a cluster serving the source keys" cmp "$T/src.dump" "$T/unp.dump"
else
    not_ok "cluster from unpacked archives did not become healthy"
fi
done_testing
