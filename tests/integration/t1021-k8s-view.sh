#!/bin/bash
# The Kubernetes view (ls --k8s, get --k8s) of a backup, checked field by field
# against what a real kube-apiserver (1.34, on etcd 3.6 unless EDR_ETCD_VERSION
# says otherwise) returns for the same objects: built-in objects stored as
# protobuf (ConfigMaps, Secrets, a Deployment, a ConfigMap being deleted,
# held by a finalizer), a CRD and custom resources stored as JSON, and the API
# server's own objects. For each: kind, apiVersion, name, namespace, uid,
# resourceVersion (= the key's mod revision), creationTimestamp, labels,
# annotations, ownerReferences, finalizers, deletionTimestamp; the stored
# format and size against etcd's bytes; -o raw against etcd's value; a custom
# resource as a whole; a damaged value is reported, not a crash.
BASE_PORT=25600
EDR_ETCD_VERSION=${EDR_ETCD_VERSION:-3.6}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-k8s.sh"
require_etcd
k8s_setup

k8s_source_etcd
kapi_start k1 "$EP" $((BASE_PORT + 10)) || bail "kube-apiserver did not start"

kapi_py <<'PY' >"$T/create.out" 2>&1 || bail "creating objects failed: $(tail -3 "$T/create.out")"
import base64, time
kapi_ok("POST", "/api/v1/namespaces", {"metadata": {"name": "edr-v", "labels": {"team": "v"}}})
dep = kapi_ok("POST", "/apis/apps/v1/namespaces/edr-v/deployments", {
    "metadata": {"name": "web", "labels": {"app": "web"}, "annotations": {"edr/a": "1", "edr/b": "two words"}},
    "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}},
                          "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}}})
owner = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": dep["metadata"]["uid"],
         "controller": True, "blockOwnerDeletion": True}
kapi_ok("POST", "/api/v1/namespaces/edr-v/configmaps", {
    "metadata": {"name": "owned", "labels": {"a": "1", "b": "2"}, "annotations": {"note": "ünïcode ✓"},
                 "ownerReferences": [owner]}, "data": {"k": "v"}})
kapi_ok("POST", "/api/v1/namespaces/edr-v/configmaps", {"metadata": {"name": "plain"}, "data": {"k": "v" * 3000}})
kapi_ok("POST", "/api/v1/namespaces/edr-v/configmaps", {
    "metadata": {"name": "held", "finalizers": ["edr.example.com/hold"]}, "data": {"k": "v"}})
kapi_ok("DELETE", "/api/v1/namespaces/edr-v/configmaps/held")  # stays, with a deletionTimestamp
kapi_ok("POST", "/api/v1/namespaces/edr-v/secrets", {
    "metadata": {"name": "s1", "labels": {"kind": "pw"}}, "type": "Opaque",
    "data": {"password": base64.b64encode(b"hunter2").decode()}})
kapi_ok("POST", "/api/v1/namespaces/edr-v/serviceaccounts", {"metadata": {"name": "robot"}})
kapi_ok("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "gadgets.edr.example.com"},
    "spec": {"group": "edr.example.com", "scope": "Namespaced",
             "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget", "listKind": "GadgetList"},
             "versions": [{"name": "v1", "served": True, "storage": True,
                           "schema": {"openAPIV3Schema": {"type": "object",
                                      "x-kubernetes-preserve-unknown-fields": True}}}]}})
for _ in range(150):
    if kapi("GET", "/apis/edr.example.com/v1/gadgets")[0] == 200:
        break
    time.sleep(0.2)
cm = kapi_ok("GET", "/api/v1/namespaces/edr-v/configmaps/owned")
kapi_ok("POST", "/apis/edr.example.com/v1/namespaces/edr-v/gadgets", {
    "apiVersion": "edr.example.com/v1", "kind": "Gadget",
    "metadata": {"name": "g1", "labels": {"x": "y"}, "annotations": {"edr/c": "3"},
                 "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owned",
                                      "uid": cm["metadata"]["uid"]}]},
    "spec": {"size": 3, "list": [1, 2, {"deep": True}]}})
kapi_ok("POST", "/apis/edr.example.com/v1/namespaces/edr-v/gadgets", {
    "apiVersion": "edr.example.com/v1", "kind": "Gadget", "metadata": {"name": "g2"}, "spec": {}})
PY
ok "objects created through the API"

LISTS=(/api/v1/namespaces=namespaces /api/v1/configmaps=configmaps /api/v1/secrets=secrets
    /api/v1/serviceaccounts=serviceaccounts /api/v1/services=services/specs /apis/apps/v1/deployments=deployments
    /apis/apiextensions.k8s.io/v1/customresourcedefinitions=apiextensions.k8s.io/customresourcedefinitions
    /apis/edr.example.com/v1/gadgets=edr.example.com/gadgets
    /apis/scheduling.k8s.io/v1/priorityclasses=priorityclasses
    /apis/flowcontrol.apiserver.k8s.io/v1/flowschemas=flowschemas
    /apis/apiregistration.k8s.io/v1/apiservices=apiregistration.k8s.io/apiservices)
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")
# the API server's view, etcd's bytes and the backup, all of one quiet moment: the
# API server is stopped before etcd is read and backed up
k8s_list "$T/api.json" "${LISTS[@]}" || bail "listing failed"
kapi_stop k1
etcd_kvs "$EP" "$T/etcd.json"
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q || bail "backup failed"

check "ls --k8s --json" sh -c "'$EDR' ls --k8s --json latest ${R[*]} >'$T/ls.json'"
# stored.py: the stored value's own apiVersion, kind and the size of the object after its
# ObjectMeta (protobuf: the runtime.Unknown envelope, field 1 TypeMeta, field 2 the object
# whose field 1 is ObjectMeta; JSON: the object's fields), read here independently of etcd-dr
cat >"$T/stored.py" <<'PY'
import json
def _varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
def _fields(b):
    i = 0
    while i < len(b):
        i0 = i
        k, i = _varint(b, i)
        assert k & 7 == 2, "only length-delimited fields expected here"
        n, i = _varint(b, i)
        yield k >> 3, b[i:i + n], i + n - i0
        i += n
def stored(v):
    if v.startswith(b"k8s\0"):
        env = {f: d for f, d, _ in _fields(v[4:]) if f in (1, 2)}
        tm = {f: d.decode() for f, d, _ in _fields(env[1])}
        raw, rest = env[2], len(env[2])
        for f, d, size in _fields(raw):
            if f == 1:
                rest -= size
                break
        return tm.get(1), tm.get(2), rest
    o = json.loads(v)
    return o.get("apiVersion"), o.get("kind"), None
PY
# objects whose storage version is not the version served: the stored one is shown
check "ls --k8s --json: every listed object field by field as the API server returns it" \
    python3 - "$T/ls.json" "$T/api.json" "$T/etcd.json" "$T" <<'PY'
import base64, json, sys
sys.path.insert(0, sys.argv[4])
from stored import stored
ls, api, kvs = (json.load(open(f)) for f in sys.argv[1:4])
rows = {r["key"]: r for r in ls}
assert sorted(rows) == sorted(kvs), "ls --k8s keys != etcd's: %s" % sorted(set(rows) ^ set(kvs))
bad = []
def eq(k, what, got, want):
    if got != want:
        bad.append("%s: %s %r, want %r" % (k, what, got, want))
for k, kv in kvs.items():
    r, v = rows[k], base64.b64decode(kv["value"])
    eq(k, "mod_revision", r["mod_revision"], kv["mod_revision"])
    eq(k, "resource_version", r["resource_version"], str(kv["mod_revision"]))
    eq(k, "size", r["size"], len(v))
    fmt = "protobuf" if v.startswith(b"k8s\0") else "json" if v.startswith(b"{") else None
    if fmt is not None:
        eq(k, "format", r["format"], fmt)
        assert "error" not in r, (k, r)
    eq(k, "encryption", r["encryption"], None)
for k, o in api.items():
    r, md = rows.get(k), o["metadata"]
    if r is None:
        bad.append("%s: served by the API server, not in ls --k8s" % k)
        continue
    # the stored apiVersion is the storage version: the served one but for CRDs (v1beta1)
    sv, sk, _ = stored(base64.b64decode(kvs[k]["value"]))
    eq(k, "kind", r["kind"], o["kind"])
    eq(k, "stored kind", sk, o["kind"])
    eq(k, "api_version", r["api_version"], sv)
    if "customresourcedefinitions" not in k:
        eq(k, "api_version", r["api_version"], o["apiVersion"])
    eq(k, "name", r["name"], md["name"])
    eq(k, "namespace", r["namespace"], md.get("namespace"))
    eq(k, "uid", r["uid"], md["uid"])
    eq(k, "resource_version", r["resource_version"], md["resourceVersion"])
    eq(k, "creation_timestamp", r["creation_timestamp"], md["creationTimestamp"])
    res = k[len("/registry/"):].rsplit("/", 2 if "namespace" in md else 1)[0]
    eq(k, "resource", r["resource"], res)
assert not bad, "\n".join(bad)
formats = {}
for k in api:
    formats[rows[k]["format"]] = formats.get(rows[k]["format"], 0) + 1
assert formats.get("protobuf", 0) >= 10 and formats.get("json", 0) >= 3, formats
print("%d API objects, %d keys; formats %s" % (len(api), len(kvs), formats))
PY
sed 's/^/# /' "$T/.check.out"

# get --k8s on every object of the test and a sample of the API server's own
KEYS=$(python3 -c '
import json, sys
api = json.load(open(sys.argv[1]))
print(" ".join(k for k in sorted(api) if "edr" in k or k.endswith(("/kube-system", "/default/kubernetes", "/system-node-critical"))))
' "$T/api.json")
n=0 fails=0
for k in $KEYS; do
    n=$((n + 1))
    "$EDR" get --k8s latest "$k" "${R[@]}" >"$T/get.$n.json" 2>"$T/get.$n.err" || { fails=$((fails + 1)); diag "get --k8s $k: $(cat "$T/get.$n.err")"; }
    echo "$k $T/get.$n.json" >>"$T/get.list"
done
check "get --k8s succeeds on $n objects" test "$fails" -eq 0
check "get --k8s: apiVersion, kind and metadata field by field as the API server returns them" \
    python3 - "$T/get.list" "$T/api.json" "$T/etcd.json" "$T" <<'PY'
import base64, json, sys
sys.path.insert(0, sys.argv[4])
from stored import stored
api, kvs = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
bad, n_pb, n_json = [], 0, 0
for line in open(sys.argv[1]):
    k, f = line.split()
    g, o = json.load(open(f)), api[k]
    v = base64.b64decode(kvs[k]["value"])
    sv, sk, rest = stored(v)
    crd = "customresourcedefinitions" in k  # stored as apiextensions.k8s.io/v1beta1
    for fld, want in (("apiVersion", sv), ("kind", sk), ("kind", o["kind"])) + \
            ((("apiVersion", o["apiVersion"]),) if not crd else ()):
        if g.get(fld) != want:
            bad.append("%s: %s %r != %r" % (k, fld, g.get(fld), want))
    gm, om = g.get("metadata", {}), o["metadata"]
    for fld in ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                "deletionTimestamp", "labels", "annotations", "finalizers"):
        if gm.get(fld) != om.get(fld):
            bad.append("%s: metadata.%s %r != %r" % (k, fld, gm.get(fld), om.get(fld)))
    # ownerReferences: at least apiVersion, kind, name, uid, each as the API has it
    go_, oo = gm.get("ownerReferences"), om.get("ownerReferences")
    if (go_ is None) != (oo is None) or go_ is not None and (
            len(go_) != len(oo) or any(a.get(x) != b.get(x) for a, b in zip(go_, oo) for x in a)
            or any(a.get(x) != b.get(x) for a, b in zip(go_, oo) for x in ("apiVersion", "kind", "name", "uid"))):
        bad.append("%s: ownerReferences %r != %r" % (k, go_, oo))
    if v.startswith(b"k8s\0"):
        n_pb += 1
        u = g.get("undecoded")
        if u != {"encoding": "protobuf", "bytes": rest}:
            bad.append("%s: undecoded %r, want %d bytes" % (k, u, rest))
    else:
        n_json += 1
        # JSON-stored: the object as it is, with resourceVersion set; the API server
        # returns the same but for a CRD, which it converts from v1beta1
        want = json.loads(v)
        want["metadata"]["resourceVersion"] = str(kvs[k]["mod_revision"])
        if g != want:
            bad.append("%s: the JSON object differs from the stored one" % k)
        if not crd and g != o:
            bad.append("%s: the JSON object differs from the API server's" % k)
assert not bad, "\n".join(bad)
assert n_pb >= 6 and n_json >= 3, (n_pb, n_json)
print("%d protobuf and %d JSON objects match" % (n_pb, n_json))
PY
sed 's/^/# /' "$T/.check.out"

check "get --k8s --output raw: the stored bytes of every object" python3 - "$EDR" "$T/etcd.json" "$KEYS" "${R[@]}" <<'PY'
import base64, json, subprocess, sys
edr, kvs, keys, r = sys.argv[1], json.load(open(sys.argv[2])), sys.argv[3].split(), sys.argv[4:]
for k in keys:
    out = subprocess.run([edr, "get", "--k8s", "--output", "raw", "latest", k] + r, capture_output=True, check=True).stdout
    assert out == base64.b64decode(kvs[k]["value"]), k
PY
"$EDR" ls --k8s latest /registry/configmaps/edr-v/ "${R[@]}" >"$T/ls.txt"
check "ls --k8s table: header and one row per ConfigMap with its kind and uid" python3 - "$T/ls.txt" "$T/api.json" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().split("\n")
api = json.load(open(sys.argv[2]))
assert lines[0].split() == ["RESOURCE", "NAMESPACE", "NAME", "KIND", "UID", "SIZE", "ENCRYPTION"], lines[0]
rows = [l.split() for l in lines[1:] if l.strip()]
want = sorted(k for k in api if k.startswith("/registry/configmaps/edr-v/"))
assert len(rows) == len(want), rows
for k, row in zip(want, rows):
    md = api[k]["metadata"]
    assert row[:5] == ["configmaps", "edr-v", md["name"], "ConfigMap", md["uid"]] and row[6] == "-", row
PY

# a damaged value and a foreign one under /registry/ (in a second backup of the same
# etcd): reported, never a crash
printf 'k8s\000\012\002v1\022\011ConfigMap\032\377\377' | ctl put /registry/configmaps/x/broken >/dev/null
printf '{"kind": "Gadget", "metadata": {"name": 5}' | ctl put /registry/edr.example.com/gadgets/x/badjson >/dev/null
ctl put /registry/configmaps/x/text "not an object" >/dev/null
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster bad --recipient "$T/k.pub" -q || bail "backup of damaged values failed"
RB=(--repo "$T/repo" --cluster bad --identity "$T/k.key")
check "ls --k8s --json on damaged values" sh -c "'$EDR' ls --k8s --json latest ${RB[*]} >'$T/bad.json'"
check "damaged values: each listed with an error, format, names from the key" python3 - "$T/bad.json" <<'PY'
import json, sys
all_rows = json.load(open(sys.argv[1]))
rows = {r["key"]: r for r in all_rows if "/x/" in r["key"]}
assert len(rows) == 3, rows
for k, r in rows.items():
    assert r["name"] == k.rsplit("/", 1)[1] and r["namespace"] == "x", r
    assert r.get("error"), r
fmt = {k.rsplit("/", 1)[1]: r["format"] for k, r in rows.items()}
# a damaged value may be called by its magic or "unknown"; plain text is never an object
assert fmt["broken"] in ("protobuf", "unknown") and fmt["badjson"] in ("json", "unknown") and \
    fmt["text"] == "unknown", fmt
assert not [r for r in all_rows if "/x/" not in r["key"] and "error" in r]
PY
for k in /registry/configmaps/x/broken /registry/edr.example.com/gadgets/x/badjson; do
    "$EDR" get --k8s latest "$k" "${RB[@]}" >/dev/null 2>"$T/bad.err"
    rc=$?
    check "get --k8s $k: an error exit with one error line, no crash (exit $rc)" \
        sh -c "[ $rc -ne 0 ] && [ $rc -lt 128 ] && [ \$(grep -c '^etcd-dr: error:' '$T/bad.err') -eq 1 ]"
done
etcd_stop src
done_testing
