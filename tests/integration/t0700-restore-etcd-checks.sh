#!/bin/bash
# A native restore checked by the etcd under test itself (run for every
# version of tests/etcd-versions): bbolt check (the bbolt that version links)
# on each restored db and etcd's own verifier (server/v3/verify with
# ExactIndex, 3.5+) on each data dir; the WAL equal byte for byte to that
# version's `snapshot restore`; members started with ETCD_VERIFY=all;
# `endpoint hashkv` at the backup revision equal to the source's on every
# member; meta/confState the new voters; writes replicate; a restart after a
# raft snapshot (--snapshot-count 5); a learner added, promoted and removed
# and a voter added and removed; verify --drill and restore --start on a
# backup with auth enabled.
BASE_PORT=24400
. "$(dirname "$0")/lib.sh"
require_etcd
MINOR=$(etcd_minor)

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /v/ 3000 40 || bail "load failed"
load_keys "$EP" /v/ 500 60 || bail "overwrites failed"
ctl del --prefix /v/0001 >/dev/null
LEASE=$(ctl lease grant 7200 | awk '{print $2}')
for i in 1 2 3; do ctl put --lease="$LEASE" /leased/$i v$i >/dev/null; done
REV=$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
ctl compact $((REV - 20)) >/dev/null
ctl put /after/compaction yes >/dev/null
ctl user add root:rootpw >/dev/null 2>&1
ctl auth enable >/dev/null 2>&1
AUTH=(--user root:rootpw)
actl() { etcdctl "${AUTH[@]}" "$@"; }
SRCREV=$(actl --endpoints "$EP" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
src_hashkv() { # src_hashkv ENDPOINT: "hash compact_revision" at the backup revision
    actl --endpoints "$1" endpoint hashkv --rev "$SRCREV" -w json |
        python3 -c 'import json,sys; d=json.load(sys.stdin)[0]["HashKV"]; print(d["hash"], d.get("compact_revision", 0))'
}
SRCHASH=$(src_hashkv "$EP")
diag "source: revision $SRCREV, hashkv $SRCHASH"
dumpa() { dump "$1" "$2" "${AUTH[@]}"; } # with auth
dumpa "$EP" "$T/src.dump"

"$EDR" keygen -o "$T/k" >/dev/null
printf 'rootpw\n' >"$T/pw"
chmod 600 "$T/pw"
check "backup with auth" "$EDR" backup --endpoints "$EP" --user root --password-file "$T/pw" \
    --repo "$T/repo" --cluster v --recipient "$T/k.pub"
RR=(--repo "$T/repo" --cluster v --identity "$T/k.key")
"$EDR" export latest "${RR[@]}" -o "$T/snap.db" -q
etcd_stop src

# --- a backup with auth on: the drill turns auth off in its private copy,
# restore --start checks the started member as a user of the backup
check "verify --drill on a backup with auth enabled" "$EDR" verify latest "${RR[@]}" --drill
PS=$((BASE_PORT + 41)) CS=$((BASE_PORT + 40))
SARGS=(--name s --initial-cluster s=http://127.0.0.1:$PS --data-dir "$T/started"
    --listen-client-urls http://127.0.0.1:$CS)
expect_fail "restore --start without a user, auth on: refused before writing" 2 \
    "has auth enabled: --start needs --user" "$EDR" restore latest "${RR[@]}" "${SARGS[@]}" --start
check "nothing was written" test ! -e "$T/started"
if "$EDR" restore latest "${RR[@]}" "${SARGS[@]}" --start --user root --password-file "$T/pw" \
    --json >"$T/started.json" 2>"$T/started.err"; then
    ok "restore --start with the backup's user: the member started and answered as that user"
    SPID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["members"][0]["pid"])' "$T/started.json")
    _pids="$_pids $SPID"
    check "the started member serves the data to that user" \
        sh -c "etcdctl ${AUTH[*]} --endpoints http://127.0.0.1:$CS get /after/compaction --print-value-only | grep -qx yes"
    kill "$SPID"
else
    not_ok "restore --start with a user failed: $(cat "$T/started.err")"
fi

IC="a=http://127.0.0.1:$((BASE_PORT + 21)),b=http://127.0.0.1:$((BASE_PORT + 22)),c=http://127.0.0.1:$((BASE_PORT + 23))"
check "restore --all-members into three data dirs" "$EDR" restore latest "${RR[@]}" --all-members \
    --initial-cluster "$IC" --initial-cluster-token tv --data-dir "$T/ours/{name}"
for m in a b c; do
    n=$(($(printf '%d' "'$m") - 96))
    snapctl snapshot restore "$T/snap.db" --name $m --initial-cluster "$IC" --initial-cluster-token tv \
        --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 20 + n)) --data-dir "$T/ref/$m" \
        >"$T/ref-$m.out" 2>&1 || diag "reference restore of $m failed: $(tail -1 "$T/ref-$m.out")"
done

# --- etcd's own checks on what etcd-dr wrote, before anything starts
for m in a b c; do
    cp "$T/ours/$m/member/snap/db" "$T/check.db"
    check "bbolt check ($("$BBOLT" version 2>/dev/null | head -1 | awk '{print $NF}')) on member $m's db" \
        sh -c "'$BBOLT' check '$T/check.db' | grep -qx OK"
    if [ -x "$ETCD_VERSION_DIR/etcd-verify" ]; then
        check "etcd's verifier (ExactIndex) accepts member $m's data dir" \
            sh -c "'$ETCD_VERSION_DIR/etcd-verify' '$T/ours/$m' | grep -qx OK"
    fi
done
[ -x "$ETCD_VERSION_DIR/etcd-verify" ] || diag "etcd $MINOR has no server/v3/verify package (3.5+ only)"
# the WAL: byte for byte the reference's on 3.5 and 3.6; 3.4 leaves the
# conf state out of its final snapshot record (etcd-dr writes it: 3.5+ need
# it, 3.4 accepts it), 3.7's protobuf omits zero-valued fields: there the
# decoded records must be equal
TOOLNAME=$(basename "$(command -v etcdutl || echo etcdctl)")
for m in a b c; do
    W1=$(ls "$T"/ours/$m/member/wal/*.wal) W2=$(ls "$T"/ref/$m/member/wal/*.wal)
    if [ "$MINOR" = 35 ] || [ "$MINOR" = 36 ]; then
        check "member $m: the WAL equals $TOOLNAME's byte for byte" cmp "$W1" "$W2"
    else
        V=""
        [ "$MINOR" = 34 ] && V=3.4
        check "member $m: the WAL holds $TOOLNAME's records (decoded; differs as doc/etcd-internals.md says)" \
            test "$(wal_content "$W1" $V)" = "$(wal_content "$W2" $V)"
    fi
done
check "the decoded WAL is not empty (3 conf changes, hard state, snapshot)" \
    test "$(wal_content "$(ls "$T"/ours/a/member/wal/*.wal)" | grep -c '^entry')" -ge 3
# the .snap: etcd up to 3.5 adds the members to its v2 store in id order, so
# the file is deterministic; 3.6+ add them in Go map order (RaftCluster.Store),
# so only the content can be compared: metadata, and every v2 node's path and value
snap_content() {
    python3 - "$1" <<'PY'
import json, sys
def fields(b):
    i, out = 0, {}
    while i < len(b):
        k, i = varint(b, i)
        if k & 7 == 0:
            v, i = varint(b, i)
        else:
            n, i = varint(b, i)
            v, i = b[i:i + n], i + n
        out[k >> 3] = v
    return out
def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
snap = fields(fields(open(sys.argv[1], "rb").read())[2])
nodes = []
def walk(n):
    nodes.append((n["Path"], n.get("Value", "")))
    for c in (n.get("Children") or {}).values(): walk(c)
walk(json.loads(snap[1])["Root"])
def msg(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        if k & 7 == 0:
            v, i = varint(b, i)
            if v == 0: continue
        else:
            n, i = varint(b, i); v = msg(b[i:i + n]); i += n
        out.append((k >> 3, v))
    return sorted(out, key=repr)
print(msg(snap[2]), sorted(nodes))  # 3.7 omits zero-valued fields in the metadata
PY
}
if [ "$MINOR" -le 35 ]; then
    check "the raft snapshot file equals the reference's byte for byte" \
        sh -c "for m in a b c; do cmp '$T'/ours/\$m/member/snap/*.snap '$T'/ref/\$m/member/snap/*.snap || exit 1; done"
else
    check "the raft snapshot file has the reference's metadata and v2 members (3.6+ order them at random)" \
        sh -c "$(declare -f snap_content); for m in a b c; do test \"\$(snap_content '$T'/ours/\$m/member/snap/*.snap)\" = \"\$(snap_content '$T'/ref/\$m/member/snap/*.snap)\" || exit 1; done"
fi
CONF=$("$BBOLT" get "$T/check.db" meta confState 2>/dev/null)
WANT=$(python3 -c '
import json, sys, subprocess
ids = sorted(int(json.loads(l.split("=", 1)[1])["id"]) for l in sys.stdin.read().split() if "=" in l)
print(json.dumps({"voters": ids, "auto_leave": False}, separators=(",", ":")))
' <<<"$("$BBOLT" keys "$T/check.db" members | while read -r k; do echo "$k=$("$BBOLT" get "$T/check.db" members "$k")"; done)")
check "meta/confState names the three new members as voters ($CONF)" test "$CONF" = "$WANT"

# --- start, with etcd's startup verification, and compare with the source
ours_start() {
    for m in a b c; do
        n=$(($(printf '%d' "'$m") - 96))
        etcd_start_dir "$m" "$T/ours/$m" $((BASE_PORT + 30 + n)) $((BASE_PORT + 20 + n)) --snapshot-count 5
    done
}
E3="http://127.0.0.1:$((BASE_PORT + 31)),http://127.0.0.1:$((BASE_PORT + 32)),http://127.0.0.1:$((BASE_PORT + 33))"
ours_start
if ! wait_healthy "$E3" "${AUTH[@]}"; then
    not_ok "the restored cluster did not become healthy"
    tail -5 "$T/a-restored.log" | sed 's/^/# /'
    done_testing
    exit 0
fi
ok "three restored members started with ETCD_VERIFY=all and elected a leader"
for i in 1 2 3; do
    e=http://127.0.0.1:$((BASE_PORT + 30 + i))
    check "member $i: hashkv at revision $SRCREV equals the source's ($SRCHASH)" test "$(src_hashkv "$e")" = "$SRCHASH"
    dumpa "$e" "$T/m$i.dump"
    check "member $i: every key, value, revision, version and lease equal the source's" cmp "$T/src.dump" "$T/m$i.dump"
done
check "the lease survived with its keys" sh -c "etcdctl ${AUTH[*]} --endpoints '$E3' lease timetolive $LEASE --keys | grep -q /leased/3"

# --- writes replicate, a raft snapshot is taken, and the members restart
E1=http://127.0.0.1:$((BASE_PORT + 31)) E3only=http://127.0.0.1:$((BASE_PORT + 33))
for i in $(seq 1 12); do actl --endpoints "$E1" put /new/$i w$i >/dev/null; done
got=""
for _ in $(seq 50); do
    got=$(actl --endpoints "$E3only" get /new/12 --consistency=s --print-value-only 2>/dev/null)
    [ "$got" = w12 ] && break
    sleep 0.1
done
check "writes on member a reach member c" test "$got" = w12
sleep 1
check "a raft snapshot was taken after the restore (--snapshot-count 5)" \
    sh -c "test \$(ls '$T'/ours/a/member/snap/*.snap | wc -l) -ge 1 && ls '$T'/ours/a/member/snap/*.snap | grep -qv '0000000000000003.snap\$'"
for m in a b c; do etcd_stop $m; done
ours_start
if wait_healthy "$E3" "${AUTH[@]}"; then
    ok "the members restart cleanly after new writes and a raft snapshot"
    check "the new writes survived the restart" test "$(actl --endpoints "$E3only" get /new/12 --print-value-only)" = w12
else
    not_ok "the members did not restart"
    tail -5 "$T/a-restored.log" | sed 's/^/# /'
fi

# --- membership changes on the restored cluster
member_id() { actl --endpoints "$E1" member list -w json | python3 -c '
import json, sys
for m in json.load(sys.stdin)["members"]:
    if m.get("name") == sys.argv[1] or sys.argv[2] in m.get("peerURLs", []): print("%x" % m["ID"])' "$1" "$2"; }
add_and_start() { # add_and_start NAME N [--learner]
    local name=$1 n=$2
    shift 2
    local added=1
    # etcd refuses a member add until every member has been connected for a while
    for _ in $(seq 40); do
        actl --endpoints "$E1" member add "$name" --peer-urls=http://127.0.0.1:$((BASE_PORT + 20 + n)) "$@" \
            >"$T/add-$name.out" 2>&1 && { added=0; break; }
        sleep 0.5
    done
    [ "$added" = 0 ] || return 1
    etcd_start_dir "$name" "$T/new-$name" $((BASE_PORT + 30 + n)) $((BASE_PORT + 20 + n)) \
        --initial-cluster "$IC,$name=http://127.0.0.1:$((BASE_PORT + 20 + n))" \
        --initial-cluster-state existing --initial-advertise-peer-urls http://127.0.0.1:$((BASE_PORT + 20 + n))
}
if add_and_start d 4 --learner; then
    ID=$(member_id d http://127.0.0.1:$((BASE_PORT + 24)))
    # ask the leader: a 3.4 follower forwards a promote to the leader without
    # the user's token, and it fails with "auth: user name is empty"
    LEADER_EP=$(actl --endpoints "$E3" endpoint status -w json | python3 -c '
import json, sys
for s in json.load(sys.stdin):
    if s["Status"]["leader"] == s["Status"]["header"]["member_id"]: print(s["Endpoint"])')
    promoted=1
    for _ in $(seq 30); do
        timeout 10 etcdctl "${AUTH[@]}" --endpoints "$LEADER_EP" member promote "$ID" >"$T/promote.out" 2>&1 &&
            { promoted=0; break; }
        sleep 0.5
    done
    check "a learner added to the restored cluster is promoted" test "$promoted" = 0
    check "four voting members" sh -c "etcdctl ${AUTH[*]} --endpoints '$E1' member list | grep -c ', started, .*false\$' | grep -qx 4"
    wait_healthy http://127.0.0.1:$((BASE_PORT + 34)) "${AUTH[@]}"
    check "the promoted member serves the restored data" sh -c "etcdctl ${AUTH[*]} --endpoints http://127.0.0.1:$((BASE_PORT + 34)) get /after/compaction --print-value-only | grep -qx yes"
    check "member remove of the new member" actl --endpoints "$E1" member remove "$ID"
    etcd_stop d
else
    not_ok "member add --learner failed: $(tail -1 "$T/add-d.out")"
fi
if add_and_start e 5; then
    ok "member add of a voter"
    ID=$(member_id e http://127.0.0.1:$((BASE_PORT + 25)))
    check "the cluster stays healthy with the new voter" wait_healthy "$E3" "${AUTH[@]}"
    check "member remove of the voter" actl --endpoints "$E1" member remove "$ID"
    etcd_stop e
else
    not_ok "member add failed: $(tail -1 "$T/add-e.out")"
fi
check "three members again" sh -c "test \$(etcdctl ${AUTH[*]} --endpoints '$E1' member list | wc -l) = 3"
for m in a b c; do etcd_stop $m; done
done_testing
