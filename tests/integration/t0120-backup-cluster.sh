#!/bin/bash
# A 3-member cluster: the backup prefers a follower with the highest applied
# index; a dead first endpoint, a stream cut in the middle and an etcd
# member killed mid-stream are survived by failing over; no endpoint at all
# is a clear "etcd unreachable" error with nothing published.
BASE_PORT=23300
. "$(dirname "$0")/lib.sh"
require_etcd

IC="m1=http://127.0.0.1:$((BASE_PORT + 11)),m2=http://127.0.0.1:$((BASE_PORT + 12)),m3=http://127.0.0.1:$((BASE_PORT + 13))"
for i in 1 2 3; do etcd_start m$i $((BASE_PORT + i)) $((BASE_PORT + 10 + i)) "$IC"; done
E1=http://127.0.0.1:$((BASE_PORT + 1)) E2=http://127.0.0.1:$((BASE_PORT + 2)) E3=http://127.0.0.1:$((BASE_PORT + 3))
ALL="$E1,$E2,$E3"
wait_healthy "$ALL" || bail "cluster did not start"
EP=$E1
load_keys "$E1" /c/ 20200 40 || bail "load failed"
load_keys "$E1" /c/ 3000 80 || bail "overwrites failed"
ctl del --prefix /c/0000 >/dev/null
LEASE=$(ctl lease grant 600 | awk '{print $2}')
ctl put --lease="$LEASE" /leased v >/dev/null
sleep 1
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster three --recipient "$T/k.pub")

check "backup of a 3-member cluster" "$EDR" backup --endpoints "$ALL" "${R[@]}"
LEADER=$(etcdctl --endpoints "$ALL" endpoint status -w json | python3 -c '
import json,sys
for s in json.load(sys.stdin):
    if s["Status"]["leader"] == s["Status"]["header"]["member_id"]: print("%016x" % s["Status"]["leader"])')
MEMBER=$(last_field "$T/repo/three" member_id)
check "default policy snapshots a follower (member $MEMBER, leader $LEADER)" test "$MEMBER" != "$LEADER"
check "--endpoint-policy leader works" "$EDR" backup --endpoints "$ALL" "${R[@]}" --endpoint-policy leader
M2=$(last_field "$T/repo/three" member_id)
check "--endpoint-policy leader snapshots the leader ($M2)" test "$M2" = "$LEADER"

"$EDR" export latest --repo "$T/repo" --cluster three --identity "$T/k.key" -o "$T/exp.db"
etcdctl --endpoints "$E2" snapshot save "$T/ref.db" >/dev/null 2>&1
REVA=$(snapctl snapshot status "$T/exp.db" -w json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["revision"], d["totalKey"])')
REVB=$(snapctl snapshot status "$T/ref.db" -w json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["revision"], d["totalKey"])')
check "same revision and total keys as etcdctl's snapshot ($REVA vs $REVB)" test "$REVA" = "$REVB"

DEAD=http://127.0.0.1:$((BASE_PORT + 50))
check "dead first endpoint: the backup comes from the next one" "$EDR" backup --endpoints "$DEAD,$E2" "${R[@]}" --endpoint-policy first
EPT=$(last_field "$T/repo/three" endpoint)
check "manifest names the live endpoint ($EPT)" test "$EPT" = "$E2"

# a stream cut after 1 MB: retried on the next endpoint
python3 "$SRCDIR/tests/integration/stallproxy.py" $((BASE_PORT + 60)) $((BASE_PORT + 1)) cut 1000000 "$T/cut.marker" &
_pids="$_pids $!"
sleep 0.5
PX=http://127.0.0.1:$((BASE_PORT + 60))
check "stream cut mid-snapshot: retried on another member" "$EDR" backup --endpoints "$PX,$E3" "${R[@]}" --endpoint-policy first
check "the cut really happened" test -e "$T/cut.marker"
EPT=$(last_field "$T/repo/three" endpoint)
check "the retried backup came from $E3 ($EPT)" test "$EPT" = "$E3"
check "the retried backup exports" "$EDR" export latest --repo "$T/repo" --cluster three --identity "$T/k.key" -o "$T/retried.db"

# a member killed in the middle of its stream (stalled by the proxy, then killed)
python3 "$SRCDIR/tests/integration/stallproxy.py" $((BASE_PORT + 61)) $((BASE_PORT + 3)) stall 1000000 "$T/stall.marker" &
_pids="$_pids $!"
PROXYPID=$!
sleep 0.5
PS=http://127.0.0.1:$((BASE_PORT + 61))
"$EDR" backup --endpoints "$PS,$E1" "${R[@]}" --endpoint-policy first --stall-timeout 3 >"$T/kill.out" 2>"$T/kill.err" &
BPID=$!
for _ in $(seq 100); do [ -e "$T/stall.marker" ] && break; sleep 0.1; done
etcd_kill m3
kill "$PROXYPID"
wait "$BPID"
check "member killed mid-stream: the backup retried on another member (exit $?)" grep -q retrying "$T/kill.err"
EPT=$(last_field "$T/repo/three" endpoint)
check "that backup came from $E1 ($EPT)" test "$EPT" = "$E1"

BEFORE=$(ls "$T/repo/three" | wc -l)
expect_fail "no endpoint reachable: etcd unreachable" 4 "127.0.0.1:$((BASE_PORT + 50))" \
    "$EDR" backup --endpoints "$DEAD,http://127.0.0.1:$((BASE_PORT + 51))" "${R[@]}"
check "nothing published by the failed run" test "$(ls "$T/repo/three" | wc -l)" = "$BEFORE"
done_testing
