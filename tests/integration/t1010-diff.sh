#!/bin/bash
# diff A B against a real etcd: two encrypted backups with Kubernetes-like keys
# in between which objects are added, removed and changed (and one rewritten
# with the same value, which counts as changed: its mod revision moved);
# the counts per resource and namespace, the key list, --prefix, --json, a
# backup against a plain snapshot file, and a missing backup (exit 8).
BASE_PORT=24900
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start d1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")
bk() { "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q; }

for i in 1 2 3; do ctl put "/registry/pods/default/p$i" "pod$i" >/dev/null; done
ctl put /registry/secrets/kube-system/token t1 >/dev/null
ctl put /registry/configmaps/default/cm same >/dev/null
ctl put /registry/namespaces/default ns >/dev/null
ctl put /registry/apiextensions.k8s.io/customresourcedefinitions/a.example.com crd >/dev/null
ctl put /not/kubernetes x >/dev/null
bk || bail "first backup failed"
A=$(ls "$T/repo/k8s"/*.json | grep -v verify | head -1 | xargs basename | sed 's/\.json$//')
sleep 1
ctl put /registry/pods/default/p4 pod4 >/dev/null              # added
ctl del /registry/pods/default/p1 >/dev/null                   # removed
ctl put /registry/secrets/kube-system/token t2 >/dev/null      # changed
ctl put /registry/configmaps/default/cm same >/dev/null        # rewritten, same value
ctl put /registry/pods/prod/web web >/dev/null                 # added, other namespace
ctl del /registry/apiextensions.k8s.io/customresourcedefinitions/a.example.com >/dev/null
bk || bail "second backup failed"
etcdctl --endpoints "$EP" snapshot save "$T/b.db" >/dev/null 2>&1 || bail "snapshot save failed"

check "diff two backups" sh -c "'$EDR' diff $A latest ${R[*]} >'$T/d.out'"
check "summary: 2 added, 2 removed, 2 changed, 4 unchanged" grep -q ": 2 added, 2 removed, 2 changed, 4 unchanged$" "$T/d.out"
check "added keys are listed" sh -c "grep -qx '+ /registry/pods/default/p4' '$T/d.out' && grep -qx '+ /registry/pods/prod/web' '$T/d.out'"
check "removed keys are listed" sh -c "grep -qx -- '- /registry/pods/default/p1' '$T/d.out' && grep -qx -- '- /registry/apiextensions.k8s.io/customresourcedefinitions/a.example.com' '$T/d.out'"
check "a changed value and a rewrite with the same value are changed" sh -c "grep -q '^~ /registry/secrets/kube-system/token  (mod revision' '$T/d.out' && grep -q '^~ /registry/configmaps/default/cm' '$T/d.out'"
check "grouped by resource and namespace" sh -c "grep -Eq '^pods +default +1 +1 +0$' '$T/d.out' && grep -Eq '^pods +prod +1 +0 +0$' '$T/d.out' && grep -Eq '^apiextensions.k8s.io/customresourcedefinitions +- +0 +1 +0$' '$T/d.out'"
check "unchanged keys are not listed" sh -c "! grep -q 'not/kubernetes\|p2\$' '$T/d.out'"

"$EDR" diff "$A" latest "${R[@]}" --json --prefix /registry/pods/ >"$T/d.json"
check "--json --prefix: only pods, counted" python3 - "$T/d.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert (d["added"], d["removed"], d["changed"], d["unchanged"]) == (2, 1, 0, 2), d
assert sorted((k["key"], k["change"]) for k in d["keys"]) == [
    ("/registry/pods/default/p1", "removed"), ("/registry/pods/default/p4", "added"),
    ("/registry/pods/prod/web", "added")], d["keys"]
assert {(g["resource"], g["namespace"]) for g in d["groups"]} == {("pods", "default"), ("pods", "prod")}
PY
check "a backup against a plain snapshot of the same state: no difference" sh -c "'$EDR' diff latest '$T/b.db' ${R[*]} | grep -q ': 0 added, 0 removed, 0 changed, 8 unchanged$'"
expect_fail "a backup that does not exist" 8 "nosuch" "$EDR" diff nosuch latest "${R[@]}"
expect_fail "one argument only" 2 "usage" "$EDR" diff latest "${R[@]}"
etcd_stop d1
done_testing
