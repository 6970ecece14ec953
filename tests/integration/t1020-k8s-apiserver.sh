#!/bin/bash
# A real kube-apiserver (1.34, on etcd 3.6 unless EDR_ETCD_VERSION says
# otherwise) writes namespaces, ConfigMaps, Secrets, ServiceAccounts, a
# Deployment, a CustomResourceDefinition and custom resources (stored as JSON),
# some with labels, annotations and ownerReferences. Backup A; then objects
# are created, updated and deleted through the API; backup B.
# - diff A B --json lists exactly those changes among the test's objects, with
#   the resourceVersions the API server returned as mod revisions, and nothing
#   else but keys the API server maintains on its own (leases, events, ...);
# - B is restored natively, etcd starts on the restored data dir, a NEW API
#   server on it serves every object as the first one did: the same objects
#   (nothing missing, nothing extra), each with the same uid, resourceVersion,
#   labels, annotations, ownerReferences and data.
BASE_PORT=25000
EDR_ETCD_VERSION=${EDR_ETCD_VERSION:-3.6}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-k8s.sh"
require_etcd
k8s_setup

k8s_source_etcd
kapi_start k1 "$EP" $((BASE_PORT + 10)) || bail "kube-apiserver did not start"
check "anonymous requests get 401" test "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$K8S/serving.crt" "$KAPI_URL/api/v1/namespaces")" = 401

# the objects of the test, through the API (JSON in)
kapi_py <<'PY' >"$T/create.out" 2>&1 || bail "creating objects failed: $(tail -3 "$T/create.out")"
import base64, time
b64 = lambda s: base64.b64encode(s.encode()).decode()
for ns, extra in (("edr-a", {"labels": {"team": "a"}, "annotations": {"edr/note": "first"}}),
                  ("edr-b", {})):
    kapi_ok("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                           "metadata": dict(name=ns, **extra)})
dep = kapi_ok("POST", "/apis/apps/v1/namespaces/edr-a/deployments", {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"edr/owner": "ops"}},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
owner = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"],
          "controller": True, "blockOwnerDeletion": True}]
for ns in ("edr-a", "edr-b"):
    for i in range(1, 5):
        md = {"name": "cm-%d" % i}
        if i == 1:
            md.update(labels={"tier": "front", "n": str(i)}, annotations={"edr/checksum": "abc%d" % i})
        if i == 4 and ns == "edr-a":
            md["ownerReferences"] = owner
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md,
                "data": {"key": "value %s %d" % (ns, i), "multi": "line1\nline2\n"}}
        if i == 2:
            body["binaryData"] = {"blob": base64.b64encode(bytes(range(256))).decode()}
        kapi_ok("POST", "/api/v1/namespaces/%s/configmaps" % ns, body)
    for i in range(1, 4):
        kapi_ok("POST", "/api/v1/namespaces/%s/secrets" % ns, {
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s-%d" % i, "labels": {"kind": "pw"} if i == 1 else {}},
            "type": "Opaque", "data": {"password": b64("hunter%d-%s" % (i, ns)), "user": b64("u%d" % i)}})
    for i in (1, 2):
        kapi_ok("POST", "/api/v1/namespaces/%s/serviceaccounts" % ns, {
            "apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa-%d" % i}})
kapi_ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.edr.example.com", "labels": {"edr": "crd"}},
    "spec": {"group": "edr.example.com", "scope": "Namespaced",
             "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}})
for _ in range(150):  # the CRD is served once it is Established
    crd = kapi_ok("GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.edr.example.com")
    if any(c["type"] == "Established" and c["status"] == "True" for c in (crd.get("status") or {}).get("conditions") or []) \
            and kapi("GET", "/apis/edr.example.com/v1/widgets")[0] == 200:
        break
    time.sleep(0.2)
else:
    sys.exit("the CRD never became established")
cm1 = kapi_ok("GET", "/api/v1/namespaces/edr-a/configmaps/cm-1")
for ns, name, size in (("edr-a", "w1", 3), ("edr-a", "w2", 5), ("edr-b", "w3", 7)):
    md = {"name": name, "labels": {"size": str(size)}}
    if name == "w1":
        md["ownerReferences"] = [{"apiVersion": "v1", "kind": "ConfigMap", "name": "cm-1",
                                  "uid": cm1["metadata"]["uid"]}]
        md["annotations"] = {"edr/why": "owned by cm-1"}
    kapi_ok("POST", "/apis/edr.example.com/v1/namespaces/%s/widgets" % ns, {
        "apiVersion": "edr.example.com/v1", "kind": "Widget", "metadata": md,
        "spec": {"size": size, "colour": "blue", "parts": ["a", "b"], "nested": {"x": 1.5}}})
PY
ok "objects created through the API"

# every object of the test's resource types, by etcd key
LISTS=(/api/v1/namespaces=namespaces /api/v1/configmaps=configmaps /api/v1/secrets=secrets
    /api/v1/serviceaccounts=serviceaccounts /apis/apps/v1/deployments=deployments
    /apis/apiextensions.k8s.io/v1/customresourcedefinitions=apiextensions.k8s.io/customresourcedefinitions
    /apis/edr.example.com/v1/widgets=edr.example.com/widgets)

"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")
bk() { "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q; }
k8s_list "$T/list-a.json" "${LISTS[@]}" || bail "listing A failed"
bk || bail "backup A failed"
A=$(last_field "$T/repo/k8s" id)
REV_A=$(last_field "$T/repo/k8s" revision)
diag "backup A $A at revision $REV_A: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/list-a.json") objects listed"

# the changes between A and B, with the resourceVersion each one got
kapi_py "$T/expected.json" <<'PY' >"$T/change.out" 2>&1 || bail "changing objects failed: $(tail -3 "$T/change.out")"
import json, sys
exp = {"added": {}, "changed": {}, "removed": {}}
def key(res, ns, name):
    return "/registry/%s/%s/%s" % (res, ns, name)
o = kapi_ok("POST", "/api/v1/namespaces/edr-a/configmaps", {"metadata": {"name": "cm-new"}, "data": {"n": "1"}})
exp["added"][key("configmaps", "edr-a", "cm-new")] = o["metadata"]["resourceVersion"]
o = kapi_ok("POST", "/api/v1/namespaces/edr-b/secrets", {"metadata": {"name": "s-new"}, "stringData": {"t": "x"}})
exp["added"][key("secrets", "edr-b", "s-new")] = o["metadata"]["resourceVersion"]
o = kapi_ok("POST", "/apis/edr.example.com/v1/namespaces/edr-b/widgets",
            {"apiVersion": "edr.example.com/v1", "kind": "Widget", "metadata": {"name": "w-new"}, "spec": {"size": 9}})
exp["added"][key("edr.example.com/widgets", "edr-b", "w-new")] = o["metadata"]["resourceVersion"]
merge = "application/merge-patch+json"
for path, res, ns, name, patch in (
        ("/api/v1/namespaces/edr-a/configmaps/cm-2", "configmaps", "edr-a", "cm-2", {"data": {"key": "changed"}}),
        ("/api/v1/namespaces/edr-a/secrets/s-1", "secrets", "edr-a", "s-1", {"metadata": {"labels": {"rotated": "yes"}}}),
        ("/apis/edr.example.com/v1/namespaces/edr-a/widgets/w1", "edr.example.com/widgets", "edr-a", "w1", {"spec": {"size": 4}}),
        ("/apis/apps/v1/namespaces/edr-a/deployments/web", "deployments", "edr-a", "web", {"spec": {"replicas": 3}}),
        ("/api/v1/namespaces/edr-b", "namespaces", "", "edr-b", {"metadata": {"annotations": {"edr/touched": "1"}}})):
    o = kapi_ok("PATCH", path, patch, merge)
    k = "/registry/namespaces/edr-b" if res == "namespaces" else key(res, ns, name)
    exp["changed"][k] = o["metadata"]["resourceVersion"]
for path, k in (("/api/v1/namespaces/edr-a/configmaps/cm-3", key("configmaps", "edr-a", "cm-3")),
                ("/api/v1/namespaces/edr-b/secrets/s-2", key("secrets", "edr-b", "s-2")),
                ("/api/v1/namespaces/edr-a/serviceaccounts/sa-2", key("serviceaccounts", "edr-a", "sa-2")),
                ("/apis/edr.example.com/v1/namespaces/edr-a/widgets/w2", key("edr.example.com/widgets", "edr-a", "w2"))):
    kapi_ok("DELETE", path)
    exp["removed"][k] = None
json.dump(exp, open(sys.argv[1], "w"), indent=1)
PY
k8s_list "$T/list-b.json" "${LISTS[@]}" || bail "listing B failed"
bk || bail "backup B failed"
REV_B=$(last_field "$T/repo/k8s" revision)
diag "backup B at revision $REV_B"

# --- diff A B: exactly the changes made through the API
check "diff A B --json" sh -c "'$EDR' diff '$A' latest ${R[*]} --json >'$T/diff.json'"
check "diff lists exactly the API changes, with their resourceVersions" python3 - "$T/diff.json" "$T/expected.json" "$T/list-a.json" <<'PY'
import json, sys
d, exp, la = (json.load(open(f)) for f in sys.argv[1:4])
# the API server's own bookkeeping, written while it runs
background = ("/registry/leases/", "/registry/masterleases/", "/registry/events/",
              "/registry/apiregistration.k8s.io/", "/registry/ranges/", "/registry/configmaps/kube-system/",
              "/registry/flowschemas/", "/registry/prioritylevelconfigurations/", "/registry/servicecidrs/",
              "/registry/ipaddresses/", "/registry/services/", "/registry/endpointslices/")
ours = ("/registry/namespaces/edr-", "/registry/configmaps/edr-", "/registry/secrets/edr-",
        "/registry/serviceaccounts/edr-", "/registry/deployments/edr-", "/registry/edr.example.com/",
        "/registry/apiextensions.k8s.io/")
got = {"added": {}, "changed": {}, "removed": {}}
for k in d["keys"]:
    if k["key"].startswith(ours):
        got[k["change"]][k["key"]] = k
    else:
        assert k["key"].startswith(background), "unexpected change outside the test's objects: %s" % k
for c in ("added", "changed", "removed"):
    assert sorted(got[c]) == sorted(exp[c]), "%s: got %s, want %s" % (c, sorted(got[c]), sorted(exp[c]))
    for k, rv in exp[c].items():
        if rv is not None:
            assert str(got[c][k]["b_mod_revision"]) == rv, (k, got[c][k], rv)
# a_mod_revision of a changed or removed key: its resourceVersion at A
for c in ("changed", "removed"):
    for k, e in got[c].items():
        assert str(e["a_mod_revision"]) == la[k]["metadata"]["resourceVersion"], (k, e)
n_ours = sum(len(v) for v in got.values())
print("%d changes among the test's objects, %d background" % (n_ours, len(d["keys"]) - n_ours))
PY
sed 's/^/# /' "$T/.check.out"
check "diff --prefix on one namespace's configmaps" sh -c "'$EDR' diff '$A' latest ${R[*]} --prefix /registry/configmaps/edr-a/ | grep -q ': 1 added, 1 removed, 1 changed, 2 unchanged$'"

# --- native restore of B, a new API server on it
kapi_stop k1
etcd_stop src
CP=$((BASE_PORT + 3)) PP=$((BASE_PORT + 4))
check "restore B natively" "$EDR" restore latest "${R[@]}" --name r1 \
    --initial-cluster r1=http://127.0.0.1:$PP --initial-cluster-token r1 --data-dir "$T/r1"
etcd_start_dir r1 "$T/r1" $CP $PP
wait_healthy http://127.0.0.1:$CP || bail "the restored etcd did not start"
kapi_start k2 http://127.0.0.1:$CP $((BASE_PORT + 11)) || bail "the new kube-apiserver did not start on the restored etcd"
ok "a new kube-apiserver serves the restored etcd"
k8s_list "$T/list-r.json" "${LISTS[@]}" || bail "listing the restored cluster failed"
check "the new API server serves every object of B, object for object" python3 - "$T/list-b.json" "$T/list-r.json" <<'PY'
import json, sys
b, r = (json.load(open(f)) for f in sys.argv[1:3])
missing, extra = sorted(set(b) - set(r)), sorted(set(r) - set(b))
assert not missing and not extra, "missing %s, extra %s" % (missing, extra)
fields = ("uid", "name", "namespace", "resourceVersion", "creationTimestamp", "labels", "annotations",
          "ownerReferences", "generation")
bad = []
for k in sorted(b):
    ob, orr = b[k], r[k]
    for f in fields:
        if ob["metadata"].get(f) != orr["metadata"].get(f):
            bad.append("%s: metadata.%s %r != %r" % (k, f, ob["metadata"].get(f), orr["metadata"].get(f)))
    for f in ("data", "binaryData", "stringData", "type", "spec", "kind", "apiVersion"):
        if ob.get(f) != orr.get(f):
            bad.append("%s: %s differs" % (k, f))
    if ob != orr:  # anything else (status, managedFields, ...)
        bad.append("%s: the objects differ" % k)
assert not bad, "\n".join(bad)
ours = [k for k in b if "/edr-" in k or "edr.example.com" in k]
print("%d objects equal, %d of them the test's" % (len(b), len(ours)))
PY
sed 's/^/# /' "$T/.check.out"
check "the restored cluster's revision is at least B's" test "$(etcd_revision http://127.0.0.1:$CP)" -ge "$REV_B"
check "the restored cluster accepts writes through the API" kapi -X POST -H 'Content-Type: application/json' \
    -d '{"metadata":{"name":"after-restore"}}' /api/v1/namespaces/edr-a/configmaps
kapi_stop k2
etcd_stop r1
done_testing
