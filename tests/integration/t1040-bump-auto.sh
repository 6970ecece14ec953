#!/bin/bash
# restore --bump-revision auto on a real etcd holding Kubernetes-looking keys:
# backups at revisions A < B, then a restore of A from the repository with no
# bump option bumps by default (the backup holds /registry/ keys) past B and
# marks it compacted: the restored etcd's revision is above B, a watch from B
# is refused as compacted, new writes get revisions above B; the choice is
# explained on stderr and in --json; a point-in-time restore (--to-revision,
# with the capture's records) bumps relative to its target. --bump-revision 0
# opts out (revision A),
# a plain .db is never bumped by default and refuses an explicit auto.
# --drop-prefix leaves out every revision of the keys under the prefixes,
# with the counts in the summary and --json, and keeps every other key.
BASE_PORT=25440
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
for i in $(seq 1 20); do ctl put /registry/pods/default/p$i "pod $i" >/dev/null; done
ctl put /registry/configmaps/default/c1 cm >/dev/null
LEASE=$(ctl lease grant 3600 | awk '{print $2}')
ctl put --lease="$LEASE" /registry/masterleases/10.0.0.1 ip1 >/dev/null
ctl put --lease="$LEASE" /registry/masterleases/10.0.0.2 ip2 >/dev/null
ctl del /registry/masterleases/10.0.0.2 >/dev/null
for i in 1 2 3; do ctl put /registry/leases/kube-system/kube-scheduler "renew $i" >/dev/null; done
ctl put /other/key keep >/dev/null

"$EDR" keygen -o "$T/k" >/dev/null
RR=(--repo "$T/repo" --cluster k --identity "$T/k.key")
check "backup A" "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k --recipient "$T/k.pub" -q
A=$(last_field "$T/repo/k" revision)
AID=$(last_field "$T/repo/k" id)
# the change capture records the revisions too
"$EDR" capture --endpoints "$EP" --repo "$T/repo" --cluster k --recipient "$T/k.pub" --flush 1 \
    >>"$T/capture.log" 2>&1 &
CAP_PID=$!
_pids="$_pids $CAP_PID"
for i in 1 2 3 4 5; do ctl put /registry/configmaps/default/x$i "v$i" >/dev/null; done
load_keys "$EP" /registry/events/default/e 400 || bail "load failed"
sleep 1
check "backup B" "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k --recipient "$T/k.pub" -q
B=$(last_field "$T/repo/k" revision)
sleep 2
kill -TERM "$CAP_PID"
wait "$CAP_PID"
check "capture recorded the changes up to B" sh -c "ls '$T/repo/k/changes/' | grep -q '$(printf %020d "$B").json'"
diag "backup A $AID at revision $A, backup B at revision $B"
check "B is above A" test "$B" -gt "$A"
"$EDR" export "$AID" "${RR[@]}" -o "$T/a.db" -q
etcd_stop src

rev_of() { etcdctl --endpoints "$1" endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }

# --- the default on Kubernetes data from a repository: auto + --mark-compacted
P1=$((BASE_PORT + 11)) C1=$((BASE_PORT + 10)) E1=http://127.0.0.1:$((BASE_PORT + 10))
if "$EDR" restore "$AID" "${RR[@]}" --name r1 --initial-cluster r1=http://127.0.0.1:$P1 \
    --data-dir "$T/r1" --json >"$T/r1.json" 2>"$T/r1.err"; then
    ok "restore of A with no bump option"
else
    not_ok "restore of A with no bump option: $(cat "$T/r1.err")"
fi
check "stderr says what auto chose and why" grep -Eq \
    "^bump-revision: auto \(the default for Kubernetes data.*chose [0-9]+: highest recorded revision $B \((backup|capture at) .*\), restoring $A, margin [0-9]+ because " "$T/r1.err"
BUMPED=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["bump_revision"]; print(d["mode"], d["default"], d["highest_recorded"], d["restoring"], d["revision"])' "$T/r1.json")
diag "json bump_revision: $BUMPED"
read -r MODE DEF HIGH REST TO <<<"$BUMPED"
check "--json: mode auto, by default, highest B, restoring A" test "$MODE $DEF $HIGH $REST" = "auto True $B $A"
check "--json: the bumped revision is at least B + 10000" test "$TO" -ge $((B + 10000))
"$EDR" restore "$AID" "${RR[@]}" --name r9 --initial-cluster r9=http://127.0.0.1:$P1 \
    --data-dir "$T/r9" >"$T/r9.out" 2>&1
check "the summary says the revision was bumped" \
    grep -Eq "^  revision bumped to [0-9]+ \(by [0-9]+, auto\), marked compacted" "$T/r9.out"
etcd_start_dir r1 "$T/r1" "$C1" "$P1"
wait_healthy "$E1" || bail "restored member did not start"
R1=$(rev_of "$E1")
diag "restored revision $R1"
check "restored revision is above B" test "$R1" -gt "$B"
check "restored revision is the one --json gave" test "$R1" = "$TO"
timeout 10 etcdctl --endpoints "$E1" watch --rev "$B" /registry/ --prefix >"$T/watch.out" 2>&1
check "a watch from B is refused as compacted" grep -q "compacted" "$T/watch.out"
W=$(etcdctl --endpoints "$E1" put /registry/pods/default/new x -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])')
check "a new write gets a revision above B" test "$W" -gt "$B"
check "the data of A is there" sh -c "etcdctl --endpoints $E1 get /registry/pods/default/p20 --print-value-only | grep -qx 'pod 20'"
check "keys written after A are not" sh -c "test -z \"\$(etcdctl --endpoints $E1 get /registry/events/ --prefix --keys-only)\""
etcd_stop r1

# --- a point-in-time restore bumps relative to its target
X=$((A + 3))
P7=$((BASE_PORT + 71)) C7=$((BASE_PORT + 70)) E7=http://127.0.0.1:$((BASE_PORT + 70))
"$EDR" restore --to-revision "$X" "${RR[@]}" --name r7 --initial-cluster r7=http://127.0.0.1:$P7 \
    --data-dir "$T/r7" --json >"$T/r7.json" 2>"$T/r7.err" || not_ok "restore --to-revision $X: $(cat "$T/r7.err")"
check "--to-revision: restoring the target, highest B" test "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["bump_revision"]; print(d["mode"], d["restoring"], d["highest_recorded"], d["bump"] == d["highest_recorded"] - d["restoring"] + d["margin"])' "$T/r7.json")" = "auto $X $B True"
etcd_start_dir r7 "$T/r7" "$C7" "$P7"
wait_healthy "$E7" || bail "restored member did not start"
check "--to-revision: the revision is above B" test "$(rev_of "$E7")" -gt "$B"
check "--to-revision: the target's data" sh -c "etcdctl --endpoints $E7 get /registry/configmaps/default/x3 --print-value-only | grep -qx v3 && test -z \"\$(etcdctl --endpoints $E7 get /registry/configmaps/default/x4 --keys-only)\""
etcd_stop r7
"$EDR" restore --to-revision "$X" "${RR[@]}" --name r8 --initial-cluster r8=http://127.0.0.1:$P7 \
    --data-dir "$T/r8" --bump-revision 0 --drop-prefix /registry/configmaps/default/x --json \
    >"$T/r8.json" 2>"$T/r8.err" || not_ok "restore --to-revision --drop-prefix: $(cat "$T/r8.err")"
check "--to-revision --drop-prefix: the replayed keys are dropped too" test \
    "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["dropped"], d["changes_replayed"])' "$T/r8.json")" = \
    "[{'prefix': '/registry/configmaps/default/x', 'keys': 3, 'live': 3, 'revisions': 3}] 0"
etcd_start_dir r8 "$T/r8" "$C7" "$P7"
wait_healthy "$E7" || bail "restored member did not start"
check "--to-revision --drop-prefix: the dropped keys are gone, the others there" sh -c \
    "test \"\$(etcdctl --endpoints $E7 get /registry/ --prefix --keys-only | grep -c configmaps/default/x)\" = 0 && etcdctl --endpoints $E7 get /registry/pods/default/p1 --print-value-only | grep -qx 'pod 1'"
etcd_stop r8

# --- --bump-revision 0 opts out
P2=$((BASE_PORT + 21)) C2=$((BASE_PORT + 20)) E2=http://127.0.0.1:$((BASE_PORT + 20))
"$EDR" restore "$AID" "${RR[@]}" --name r2 --initial-cluster r2=http://127.0.0.1:$P2 \
    --data-dir "$T/r2" --bump-revision 0 >"$T/r2.out" 2>"$T/r2.err" || not_ok "restore --bump-revision 0: $(cat "$T/r2.err")"
check "--bump-revision 0: nothing about a bump" sh -c "! grep -q bump '$T/r2.err' '$T/r2.out'"
etcd_start_dir r2 "$T/r2" "$C2" "$P2"
wait_healthy "$E2" || bail "restored member did not start"
check "--bump-revision 0: the revision is A's" test "$(rev_of "$E2")" = "$A"
etcd_stop r2

# --- a plain .db: not bumped by default, auto refused
P3=$((BASE_PORT + 31)) C3=$((BASE_PORT + 30)) E3=http://127.0.0.1:$((BASE_PORT + 30))
"$EDR" restore "$T/a.db" --name r3 --initial-cluster r3=http://127.0.0.1:$P3 \
    --data-dir "$T/r3" >"$T/r3.out" 2>"$T/r3.err" || not_ok "restore of a plain .db: $(cat "$T/r3.err")"
check "plain .db: nothing about a bump" sh -c "! grep -q bump '$T/r3.err' '$T/r3.out'"
etcd_start_dir r3 "$T/r3" "$C3" "$P3"
wait_healthy "$E3" || bail "restored member did not start"
check "plain .db: the revision is A's" test "$(rev_of "$E3")" = "$A"
etcd_stop r3
expect_fail "plain .db with --bump-revision auto" 2 "auto needs a backup in a repository" \
    "$EDR" restore "$T/a.db" --name r4 --initial-cluster r4=http://127.0.0.1:$P3 --data-dir "$T/r4" \
    --bump-revision auto
check "nothing written" test ! -e "$T/r4"
expect_fail "--bump-revision 12x" 2 "invalid --bump-revision '12x'" \
    "$EDR" restore "$AID" "${RR[@]}" --data-dir "$T/r4" --bump-revision 12x
expect_fail "--bump-revision N without --mark-compacted" 2 "must be given together" \
    "$EDR" restore "$AID" "${RR[@]}" --data-dir "$T/r4" --bump-revision 5

# --- --drop-prefix
P5=$((BASE_PORT + 51)) C5=$((BASE_PORT + 50)) E5=http://127.0.0.1:$((BASE_PORT + 50))
if "$EDR" restore "$AID" "${RR[@]}" --name r5 --initial-cluster r5=http://127.0.0.1:$P5 \
    --data-dir "$T/r5" --drop-prefix /registry/masterleases/ \
    --drop-prefix /registry/leases/kube-system/ >"$T/r5.out" 2>"$T/r5.err"; then
    ok "restore with two --drop-prefix"
else
    not_ok "restore with --drop-prefix: $(cat "$T/r5.err")"
fi
sed 's/^/#   /' "$T/r5.out"
check "summary: masterleases, 2 keys (1 live, 3 revisions)" \
    grep -q "dropped /registry/masterleases/: 2 keys (1 live, 3 revisions)" "$T/r5.out"
check "summary: leases/kube-system, 1 key (1 live, 3 revisions)" \
    grep -q "dropped /registry/leases/kube-system/: 1 key (1 live, 3 revisions)" "$T/r5.out"
etcd_start_dir r5 "$T/r5" "$C5" "$P5"
wait_healthy "$E5" || bail "restored member did not start"
check "the dropped keys are gone" sh -c "test -z \"\$(etcdctl --endpoints $E5 get /registry/masterleases/ --prefix --keys-only)\" && test -z \"\$(etcdctl --endpoints $E5 get /registry/leases/ --prefix --keys-only)\""
check "every other key is there" sh -c "test \"\$(etcdctl --endpoints $E5 get /registry/pods/ --prefix --keys-only | grep -c .)\" = 20 && etcdctl --endpoints $E5 get /other/key --print-value-only | grep -qx keep && etcdctl --endpoints $E5 get /registry/configmaps/default/c1 --print-value-only | grep -qx cm"
etcd_stop r5
"$EDR" restore "$T/a.db" --name r6 --initial-cluster r6=http://127.0.0.1:$P5 --data-dir "$T/r6" \
    --drop-prefix /registry/masterleases/ --json >"$T/r6.json" 2>"$T/r6.err" || not_ok "restore --drop-prefix --json: $(cat "$T/r6.err")"
check "--json: the dropped counts" test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["dropped"])' "$T/r6.json")" = \
    "[{'prefix': '/registry/masterleases/', 'keys': 2, 'live': 1, 'revisions': 3}]"
done_testing
