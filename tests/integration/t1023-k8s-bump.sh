#!/bin/bash
# The automatic revision bump seen through a real kube-apiserver (1.34, on etcd
# 3.6 unless EDR_ETCD_VERSION says otherwise). Backups at revisions A < B with
# ConfigMap updates in between; a client saw resourceVersion B. Restoring A
# from the repository bumps by default (auto, marked compacted): the restored
# revision is above B, a watch from B through a new API server on it gets
# 410 Gone / "too old resource version" (the client relists instead of
# silently missing changes), etcd's own watch from B is compacted, and new
# writes get resourceVersions above B. The same restore with --bump-revision 0
# is the control: there, new writes reuse resourceVersions at or below B.
BASE_PORT=25800
EDR_ETCD_VERSION=${EDR_ETCD_VERSION:-3.6}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-k8s.sh"
require_etcd
k8s_setup

k8s_source_etcd
kapi_start k1 "$EP" $((BASE_PORT + 10)) || bail "kube-apiserver did not start"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")
bk() { "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q; }

kapi_py <<'PY' >"$T/w1.out" 2>&1 || bail "writing failed: $(tail -3 "$T/w1.out")"
for i in range(5):
    kapi_ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "c%d" % i}, "data": {"n": "0"}})
PY
bk || bail "backup A failed"
A=$(last_field "$T/repo/k8s" id)
REV_A=$(last_field "$T/repo/k8s" revision)
# a client keeps writing and reading; the last resourceVersion it saw is B
kapi_py "$T/rv_b" <<'PY' >"$T/w2.out" 2>&1 || bail "updating failed: $(tail -3 "$T/w2.out")"
import sys
for n in range(1, 41):
    kapi_ok("PATCH", "/api/v1/namespaces/default/configmaps/c%d" % (n % 5), {"data": {"n": str(n)}},
            "application/merge-patch+json")
lst = kapi_ok("GET", "/api/v1/namespaces/default/configmaps")
open(sys.argv[1], "w").write(lst["metadata"]["resourceVersion"])
PY
RV_B=$(cat "$T/rv_b")
kapi_stop k1
bk || bail "backup B failed"
REV_B=$(last_field "$T/repo/k8s" revision)
diag "backup A at $REV_A, the client saw $RV_B, backup B at $REV_B"
check "A < B" test "$REV_A" -lt "$RV_B" -a "$RV_B" -le "$REV_B"
etcd_stop src

# watch_from RV FILE: a watch on default/configmaps from RV through the API server up now,
# for up to 4 s: the HTTP status, then each event's type, code, reason and message, one a line
watch_from() {
    kapi_py "$1" "$2" <<'PY'
import json, os, socket, ssl, sys, urllib.error, urllib.request
rv, out = sys.argv[1], open(sys.argv[2], "w")
req = urllib.request.Request(os.environ["KAPI_URL"] + "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=" + rv,
                             headers={"Authorization": _auth})
try:
    with urllib.request.urlopen(req, context=_ctx, timeout=4) as r:
        out.write("%d\n" % r.status)
        for line in r:
            ev = json.loads(line)
            o = ev["object"]
            out.write("%s %s %s %s\n" % (ev["type"], o.get("code", "-"), o.get("reason", "-"), o.get("message", o.get("metadata", {}).get("name"))))
            out.flush()
except urllib.error.HTTPError as e:
    b = json.loads(e.read())
    out.write("%d\nHTTP %s %s %s\n" % (e.code, b.get("code"), b.get("reason"), b.get("message")))
except (socket.timeout, TimeoutError):
    out.write("timeout\n")
PY
}
# new_rv NAME: create a ConfigMap, print its resourceVersion
new_rv() {
    kapi_py "$1" <<'PY'
import sys
print(kapi_ok("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": sys.argv[1]}})["metadata"]["resourceVersion"])
PY
}

# --- restore A with the default: auto bump, marked compacted
CP=$((BASE_PORT + 3)) PP=$((BASE_PORT + 4))
check "restore A from the repository (no --bump-revision)" sh -c "'$EDR' restore '$A' ${R[*]} --name r1 \
    --initial-cluster r1=http://127.0.0.1:$PP --initial-cluster-token r1 --data-dir '$T/r1' 2>'$T/restore.err'"
sed 's/^/# /' "$T/restore.err"
BUMP=$(sed -n 's/^bump-revision: .*chose \([0-9][0-9]*\).*/\1/p' "$T/restore.err")
check "restore says what bump it chose and why" test -n "$BUMP"
check "the bump covers B: A + bump > B" test $((REV_A + ${BUMP:-0})) -gt "$REV_B"
etcd_start_dir r1 "$T/r1" $CP $PP
wait_healthy http://127.0.0.1:$CP || bail "the restored etcd did not start"
REV_R=$(etcd_revision http://127.0.0.1:$CP)
check "the restored revision ($REV_R) is above B ($REV_B)" test "$REV_R" -gt "$REV_B"
check "etcd's watch from B is compacted" sh -c "timeout 5 etcdctl --endpoints http://127.0.0.1:$CP watch --rev $RV_B /registry/configmaps/default/c1 2>&1 | grep -q 'compacted'"
kapi_start k2 http://127.0.0.1:$CP $((BASE_PORT + 11)) || bail "kube-apiserver did not start on the restored etcd"
watch_from "$RV_B" "$T/watch.out"
sed 's/^/# watch: /' "$T/watch.out"
check "a watch from B through the API server gets 410 Gone, too old resource version" \
    grep -Eq '^(ERROR|HTTP) 410 (Expired|Gone) too old resource version' "$T/watch.out"
check "the watch from B delivers no event" sh -c "! grep -Eq '^(ADDED|MODIFIED|DELETED) ' '$T/watch.out'"
NEW=$(new_rv after-restore)
check "a new write gets a resourceVersion ($NEW) above B ($REV_B)" test "${NEW:-0}" -gt "$REV_B"
kapi_stop k2
etcd_stop r1

# --- the control: --bump-revision 0 opts out, and revisions are reused
CP=$((BASE_PORT + 5)) PP=$((BASE_PORT + 6))
check "restore A with --bump-revision 0" "$EDR" restore "$A" "${R[@]}" --bump-revision 0 --name r2 \
    --initial-cluster r2=http://127.0.0.1:$PP --initial-cluster-token r2 --data-dir "$T/r2"
etcd_start_dir r2 "$T/r2" $CP $PP
wait_healthy http://127.0.0.1:$CP || bail "the second restored etcd did not start"
kapi_start k3 http://127.0.0.1:$CP $((BASE_PORT + 12)) || bail "kube-apiserver did not start on the second restored etcd"
NEW=$(new_rv after-plain-restore)
check "without the bump a new write reuses a resourceVersion ($NEW) a client saw (<= $RV_B)" test "${NEW:-0}" -le "$RV_B"
watch_from "$RV_B" "$T/watch0.out"
sed 's/^/# watch without bump: /' "$T/watch0.out"
check "without the bump the watch from B is not told 410" sh -c "! grep -q ' 410 ' '$T/watch0.out'"
kapi_stop k3
etcd_stop r2
done_testing
