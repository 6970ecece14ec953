#!/bin/bash
# The Kubernetes view on a real etcd: values as a kube-apiserver 1.34 stores
# them (a protobuf ConfigMap, a Secret encrypted at rest with aescbc) and as
# it stores custom resources (JSON), a damaged value and a plain secret are
# put binary-safe, backed up, then read back with ls --k8s (table and
# --json), get --k8s (-o json, -o raw: the stored bytes exactly) and the
# encryption report of inspect (text and --json).
BASE_PORT=25500
. "$(dirname "$0")/lib.sh"
require_etcd

FX=$SRCDIR/tests/unit/k8s
EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start v1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")

cat >"$T/widget.json" <<'JSON'
{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w1","namespace":"prod","uid":"6c1a9a0e-0b7e-4e59-9d55-2f0f6f3b7a11","generation":2,"creationTimestamp":"2026-12-03T10:00:00Z","labels":{"app":"web"}},"spec":{"size":3}}
JSON
head -c 60 "$FX/configmap.pb" >"$T/damaged.pb"
ctl put /registry/configmaps/default/demo <"$FX/configmap.pb" >/dev/null || bail "put failed"
ctl put /registry/example.com/widgets/prod/w1 <"$T/widget.json" >/dev/null
ctl put /registry/secrets/default/s1 <"$FX/secret-aescbc.bin" >/dev/null
ctl put /registry/configmaps/kube-system/broken <"$T/damaged.pb" >/dev/null
ctl put /registry/secrets/default/plain '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"plain","namespace":"default"}}' >/dev/null
ctl put /registry/namespaces/default '{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"default","uid":"ns-uid"}}' >/dev/null
ctl put /other/key x >/dev/null
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q ||
    bail "backup failed"
CMREV=$(ctl get /registry/configmaps/default/demo -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)["kvs"][0]["mod_revision"])')

# ls --k8s: the table
check "ls --k8s" sh -c "'$EDR' ls --k8s latest ${R[*]} >'$T/ls.out'"
check "ls --k8s: header" grep -Eq '^RESOURCE +NAMESPACE +NAME +KIND +UID +SIZE +ENCRYPTION$' "$T/ls.out"
check "ls --k8s: the protobuf ConfigMap, name and uid from ObjectMeta" grep -Eq \
    "^configmaps +default +demo +ConfigMap +3f645f96-119d-41c2-896e-d457df6d408b +$(stat -c %s "$FX/configmap.pb") +-$" "$T/ls.out"
check "ls --k8s: the custom resource (JSON)" grep -Eq \
    '^example.com/widgets +prod +w1 +Widget +6c1a9a0e-0b7e-4e59-9d55-2f0f6f3b7a11 +[0-9]+ +-$' "$T/ls.out"
check "ls --k8s: the encrypted secret: no kind, its provider and key name" grep -Eq \
    '^secrets +default +s1 +- +- +[0-9]+ +aescbc:key1$' "$T/ls.out"
check "ls --k8s: the damaged value is marked, name from the key" grep -Eq \
    '^configmaps +kube-system +broken +(ConfigMap|\?) +- +60 +-  error: damaged protobuf object$' "$T/ls.out"
check "ls --k8s: a cluster-scoped object" grep -Eq '^namespaces +- +default +Namespace +ns-uid ' "$T/ls.out"
check "ls --k8s: only /registry/ by default" sh -c "! grep -q other '$T/ls.out' && [ \$(wc -l <'$T/ls.out') -eq 7 ]"

# ls --k8s --json: every field
"$EDR" ls --k8s --json latest "${R[@]}" >"$T/ls.json"
check "ls --k8s --json: the fields of each object" python3 - "$T/ls.json" "$CMREV" "$(stat -c %s "$FX/secret-aescbc.bin")" <<'PY'
import json, sys
a = {o["key"]: o for o in json.load(open(sys.argv[1]))}
assert len(a) == 6, list(a)
cm = a["/registry/configmaps/default/demo"]
assert cm["resource"] == "configmaps" and cm["namespace"] == "default" and cm["name"] == "demo", cm
assert cm["format"] == "protobuf" and cm["api_version"] == "v1" and cm["kind"] == "ConfigMap", cm
assert cm["uid"] == "3f645f96-119d-41c2-896e-d457df6d408b", cm
assert cm["resource_version"] == sys.argv[2] and cm["mod_revision"] == int(sys.argv[2]), cm
assert cm["creation_timestamp"] == "2026-12-03T11:52:38Z", cm
assert cm["encryption"] is None and "error" not in cm, cm
w = a["/registry/example.com/widgets/prod/w1"]
assert (w["resource"], w["namespace"], w["name"], w["format"], w["api_version"], w["kind"]) == \
    ("example.com/widgets", "prod", "w1", "json", "example.com/v1", "Widget"), w
assert w["creation_timestamp"] == "2026-12-03T10:00:00Z", w
s = a["/registry/secrets/default/s1"]
assert s["format"] == "encrypted" and s["kind"] is None and s["uid"] is None, s
assert s["name"] == "s1" and s["namespace"] == "default" and s["size"] == int(sys.argv[3]), s
assert s["encryption"] == {"provider": "aescbc", "version": "v1", "key": "key1",
                           "status": "not checked"}, s
b = a["/registry/configmaps/kube-system/broken"]
assert b["format"] == "unknown" and b["error"] == "damaged protobuf object", b
assert b["name"] == "broken" and b["namespace"] == "kube-system" and b["size"] == 60, b
n = a["/registry/namespaces/default"]
assert n["namespace"] is None and n["name"] == "default" and n["kind"] == "Namespace", n
PY
check "ls --k8s with a prefix" sh -c "'$EDR' ls --k8s latest /registry/secrets/ ${R[*]} | tail -n +2 | awk '{print \$3}' | tr '\n' ' ' | grep -qx 'plain s1 '"
check "ls without --k8s is unchanged" sh -c "'$EDR' ls latest ${R[*]} | grep -Eq '^ +[0-9]+ +1  /other/key$'"

# get --k8s
check "get --k8s: a protobuf object as JSON" sh -c "'$EDR' get --k8s latest /registry/configmaps/default/demo ${R[*]} >'$T/cm.json'"
check "get --k8s: apiVersion, kind, metadata, the undecoded rest" python3 - "$T/cm.json" "$CMREV" <<'PY'
import json, sys
o = json.load(open(sys.argv[1]))
assert o == {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "demo", "namespace": "default",
                          "uid": "3f645f96-119d-41c2-896e-d457df6d408b",
                          "resourceVersion": sys.argv[2],
                          "creationTimestamp": "2026-12-03T11:52:38Z"},
             "undecoded": {"encoding": "protobuf", "bytes": 8}}, o
PY
"$EDR" get --k8s latest /registry/example.com/widgets/prod/w1 "${R[@]}" >"$T/w.json"
check "get --k8s: a JSON object as stored, with the resourceVersion" python3 - "$T/w.json" "$T/widget.json" <<'PY'
import json, sys
got, stored = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
rv = got["metadata"].pop("resourceVersion")
assert rv.isdigit() and int(rv) > 0, rv
assert got == stored, (got, stored)
PY
"$EDR" get --k8s -o raw latest /registry/configmaps/default/demo "${R[@]}" >"$T/cm.raw"
check "get --k8s -o raw: the stored bytes" cmp "$T/cm.raw" "$FX/configmap.pb"
"$EDR" get --k8s -o raw latest /registry/secrets/default/s1 "${R[@]}" >"$T/s1.raw"
check "get --k8s -o raw without keys: the stored (encrypted) bytes" cmp "$T/s1.raw" "$FX/secret-aescbc.bin"
"$EDR" get -o raw latest /registry/configmaps/default/demo "${R[@]}" >"$T/cm2.raw"
check "get -o raw without --k8s: the value, as -o value" cmp "$T/cm2.raw" "$FX/configmap.pb"
expect_fail "get --k8s of an encrypted object without keys" 10 \
    "'/registry/secrets/default/s1': encrypted at rest with aescbc:key1: no --encryption-config given" \
    "$EDR" get --k8s latest /registry/secrets/default/s1 "${R[@]}"
expect_fail "get --k8s of a damaged value" 9 "'/registry/configmaps/kube-system/broken': damaged protobuf object" \
    "$EDR" get --k8s latest /registry/configmaps/kube-system/broken "${R[@]}"
expect_fail "get --k8s of a key that is not there" 8 "not found" \
    "$EDR" get --k8s latest /registry/configmaps/default/nosuch "${R[@]}"
expect_fail "get -o with an unknown format" 2 "get -o takes" \
    "$EDR" get -o yaml latest /registry/configmaps/default/demo "${R[@]}"

# inspect: the encryption report
check "inspect" sh -c "'$EDR' inspect latest ${R[*]} >'$T/in.out'"
check "inspect: 1 object encrypted, 1 secret not" grep -q '^Encryption at rest: 1 objects encrypted, 1 secrets not encrypted$' "$T/in.out"
check "inspect: the provider and key name, per resource" grep -Eq '^  aescbc +key1 +1 +-  secrets=1$' "$T/in.out"
"$EDR" inspect --json latest "${R[@]}" >"$T/in.json"
check "inspect --json: the encryption report" python3 - "$T/in.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))["encryption"]
assert e == {"encrypted": 1, "plain_secrets": 1,
             "keys": [{"provider": "aescbc", "version": "v1", "key": "key1", "objects": 1,
                       "resources": {"secrets": 1}, "opened": None}]}, e
PY
# the same from a plain snapshot (read as a file, not on the stream)
etcdctl --endpoints "$EP" snapshot save "$T/s.db" >/dev/null 2>&1 || bail "snapshot save failed"
"$EDR" inspect --json "$T/s.db" >"$T/in2.json"
check "inspect --json of a plain snapshot: the same report" python3 - "$T/in.json" "$T/in2.json" <<'PY'
import json, sys
a, b = (json.load(open(f))["encryption"] for f in sys.argv[1:])
assert a == b, (a, b)
PY
# many objects over many leaf pages, with history: keys re-encrypted with
# another key, deleted, plain; the report counts the live values only, the
# same on the stream (backup) and on the file (plain snapshot)
python3 - "$EP" >"$T/expect.json" <<'PY' || bail "loading objects failed"
import base64, http.client, json, os, sys, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
def txn(ops):
    conn.request("POST", "/v3/kv/txn", json.dumps({"success": ops}), {"Content-Type": "application/json"})
    r = conn.getresponse(); out = r.read()
    assert r.status == 200 and json.loads(out).get("succeeded"), out[:300]
b64 = lambda b: base64.b64encode(b).decode()
put = lambda k, v: {"requestPut": {"key": b64(k.encode()), "value": b64(v)}}
live = {}
for start in range(0, 1500, 100):
    ops = []
    for i in range(start, start + 100):
        k = "/registry/secrets/ns%d/s%04d" % (i % 7, i)
        live[k] = ("aescbc", "key1")
        ops.append(put(k, b"k8s:enc:aescbc:v1:key1:" + os.urandom(64)))
    txn(ops)
for start in range(0, 1500, 5 * 100):
    ops = []
    for i in range(start, start + 500, 5):
        k = "/registry/secrets/ns%d/s%04d" % (i % 7, i)
        live[k] = ("secretbox", "key2")
        ops.append(put(k, b"k8s:enc:secretbox:v1:key2:" + os.urandom(80)))
    txn(ops)
ops = []
for i in range(1, 1500, 15):
    k = "/registry/secrets/ns%d/s%04d" % (i % 7, i)
    del live[k]
    ops.append({"requestDeleteRange": {"key": b64(k.encode())}})
txn(ops)
ops = []
for i in range(3, 1500, 50):
    k = "/registry/secrets/ns%d/s%04d" % (i % 7, i)
    live[k] = None
    ops.append(put(k, b'{"kind":"Secret"}'))
txn(ops)
keys = {}
for k, v in live.items():
    if v is not None:
        keys[v] = keys.get(v, 0) + 1
print(json.dumps({"encrypted": sum(keys.values()),
                  "plain_secrets": sum(1 for v in live.values() if v is None) + 1,
                  "keys": sorted([p, n, c] for (p, n), c in keys.items())}))
PY
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q ||
    bail "backup failed"
etcdctl --endpoints "$EP" snapshot save "$T/s2.db" >/dev/null 2>&1 || bail "snapshot save failed"
"$EDR" inspect --json latest "${R[@]}" >"$T/in3.json"
"$EDR" inspect --json "$T/s2.db" >"$T/in4.json"
check "inspect: the live values of many objects counted, stream and file alike" python3 - "$T/expect.json" "$T/in3.json" "$T/in4.json" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))
want["encrypted"] += 1                          # s1
want["keys"] = sorted(want["keys"] + [["aescbc", "key1", 1]])
want["keys"] = [[p, n, c] for p, n, c in want["keys"]]
merged = {}
for p, n, c in want["keys"]:
    merged[(p, n)] = merged.get((p, n), 0) + c
want["keys"] = sorted([p, n, c] for (p, n), c in merged.items())
for f in sys.argv[2:]:
    e = json.load(open(f))["encryption"]
    got = {"encrypted": e["encrypted"], "plain_secrets": e["plain_secrets"],
           "keys": sorted([k["provider"], k["key"], k["objects"]] for k in e["keys"])}
    assert got == want, (f, got, want)
    assert all(sum(k["resources"].values()) == k["objects"] for k in e["keys"]), e
PY
# decryption with the API server's EncryptionConfiguration: values a real
# kube-apiserver 1.34 encrypted with known keys (tests/unit/k8s/make-enc-
# fixtures.sh), under the keys it stored them at (aesgcm binds the value to
# its key); a configuration with a wrong aescbc key and none for secretbox;
# a KMS value
for p in aescbc aesgcm secretbox; do
    ctl put /registry/secrets/default/s-$p <"$FX/enc-secret-$p.bin" >/dev/null
    ctl put /registry/configmaps/default/cm-$p <"$FX/enc-configmap-$p.bin" >/dev/null
done
printf 'k8s:enc:kms:v2:kms1:\x0a\x05bytes' | ctl put /registry/secrets/kube-system/k >/dev/null
cp "$FX/enc-config.yaml" "$T/enc.yaml"
chmod 600 "$T/enc.yaml"
python3 - "$FX/enc-config.yaml" "$T/wrong.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
# the secrets' aescbc key replaced, the secretbox providers left out
text = text.replace("kLTtjTNcUqE7TNbw8DVU7BM6fy+1lFM7YhgMmRhyv1U=", "A" * 43 + "=")
out, skip = [], 0
for line in text.splitlines():
    if line.strip() == "- secretbox:":
        skip = len(line) - len(line.lstrip())
        continue
    if skip and len(line) - len(line.lstrip()) > skip:
        continue
    skip = 0
    out.append(line)
open(sys.argv[2], "w").write("\n".join(out) + "\n")
PY
chmod 600 "$T/wrong.yaml"
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q ||
    bail "backup failed"
E=(--encryption-config "$T/enc.yaml")
check "ls --k8s --encryption-config" sh -c "'$EDR' ls --k8s latest /registry/ ${R[*]} ${E[*]} >'$T/lse.out'"
opened_rows() {
    local p
    for p in aescbc aesgcm secretbox; do
        grep -Eq "^secrets +default +s-$p +Secret +[0-9a-f-]{36} +[0-9]+ +$p:key1\$" "$T/lse.out" &&
            grep -Eq "^configmaps +default +cm-$p +ConfigMap +[0-9a-f-]{36} +[0-9]+ +$p:key1\$" \
                "$T/lse.out" || return 1
    done
}
check "ls --k8s: opened objects show their kind and uid" opened_rows
check "ls --k8s: a key of that name that does not open it: (wrong key)" grep -Eq \
    '^secrets +default +s1 +- +- +[0-9]+ +aescbc:key1 \(wrong key\)$' "$T/lse.out"
check "ls --k8s: KMS: (kms)" grep -Eq '^secrets +kube-system +k +- +- +[0-9]+ +kms:kms1 \(kms\)$' "$T/lse.out"
"$EDR" ls --k8s --json latest /registry/secrets/default/ "${R[@]}" --encryption-config "$T/wrong.yaml" >"$T/lsw.json"
check "ls --k8s --json with a wrong and a missing key: each status" python3 - "$T/lsw.json" <<'PY'
import json, sys
a = {o["name"]: o for o in json.load(open(sys.argv[1]))}
st = {n: (o["encryption"] or {}).get("status") for n, o in a.items()}
assert st == {"s-aescbc": "wrong key or damaged", "s-aesgcm": "opened", "s-secretbox": "no key",
              "s1": "wrong key or damaged", "plain": None}, st
o = a["s-aesgcm"]
assert (o["format"], o["kind"], o["api_version"]) == ("encrypted", "Secret", "v1"), o
assert len(o["uid"]) == 36 and o["creation_timestamp"].endswith("Z"), o
assert a["s-aescbc"]["kind"] is None and "error" not in a["s-aescbc"], a["s-aescbc"]
PY
for p in aescbc aesgcm secretbox; do
    "$EDR" get --k8s latest /registry/secrets/default/s-$p "${R[@]}" "${E[@]}" >"$T/g-$p.json"
    "$EDR" ls --k8s --json latest /registry/secrets/default/s-$p "${R[@]}" "${E[@]}" >"$T/l-$p.json"
    "$EDR" get --k8s -o raw latest /registry/secrets/default/s-$p "${R[@]}" "${E[@]}" >"$T/g-$p.raw"
    check "get --k8s: the $p Secret decrypted, as ls shows it" python3 - "$T/g-$p.json" "$T/l-$p.json" "$T/g-$p.raw" "$p" <<'PY'
import json, sys
g, l = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))[0]
raw = open(sys.argv[3], "rb").read()
m = g["metadata"]
assert (g["apiVersion"], g["kind"], m["name"], m["namespace"]) == ("v1", "Secret", "s-" + sys.argv[4], "default"), g
assert m["uid"] == l["uid"] and m["resourceVersion"] == l["resource_version"], (g, l)
assert m["creationTimestamp"] == l["creation_timestamp"], (g, l)
assert g["undecoded"]["encoding"] == "protobuf" and g["undecoded"]["bytes"] > 0, g
# -o raw: the plaintext the API server encrypted, its protobuf envelope
assert raw.startswith(b"k8s\x00") and m["uid"].encode() in raw, raw[:40]
PY
done
expect_fail "get --k8s with a wrong key" 10 \
    "'/registry/secrets/default/s-aescbc': encrypted at rest with aescbc:key1: .*(wrong key|padding)" \
    "$EDR" get --k8s latest /registry/secrets/default/s-aescbc "${R[@]}" --encryption-config "$T/wrong.yaml"
expect_fail "get --k8s -o raw with no key for it" 10 \
    "'/registry/secrets/default/s-secretbox': encrypted at rest with secretbox:key1: " \
    "$EDR" get --k8s -o raw latest /registry/secrets/default/s-secretbox "${R[@]}" --encryption-config "$T/wrong.yaml"
expect_fail "get --k8s of a KMS value" 10 "encrypted at rest with kms:kms1: " \
    "$EDR" get --k8s latest /registry/secrets/kube-system/k "${R[@]}" "${E[@]}"
chmod 644 "$T/enc.yaml"
expect_fail "an EncryptionConfiguration others can read is refused" 10 "enc.yaml" \
    "$EDR" ls --k8s latest "${R[@]}" "${E[@]}"
chmod 600 "$T/enc.yaml"
"$EDR" inspect --json latest "${R[@]}" --encryption-config "$T/wrong.yaml" >"$T/in5.json"
"$EDR" inspect latest "${R[@]}" "${E[@]}" >"$T/in6.out"
check "inspect --encryption-config: how many open, per key" python3 - "$T/in5.json" <<'PY'
import json, sys
k = {(x["provider"], x["key"]): x for x in json.load(open(sys.argv[1]))["encryption"]["keys"]}
# aescbc key1: the ConfigMap opens; the Secret (wrong key), s1 and the many random values do not
assert k[("aescbc", "key1")]["opened"] == 1, k
assert (k[("aesgcm", "key1")]["objects"], k[("aesgcm", "key1")]["opened"]) == (2, 2), k
assert (k[("secretbox", "key1")]["objects"], k[("secretbox", "key1")]["opened"]) == (2, 0), k
assert k[("secretbox", "key2")]["opened"] == 0 and k[("kms", "kms1")]["opened"] == 0, k
assert k[("kms", "kms1")]["version"] == "v2", k
PY
check "inspect: the OPENED column" sh -c "grep -Eq '^  aesgcm +key1 +2 +2  configmaps=1 secrets=1$' '$T/in6.out' &&
    grep -Eq '^  kms:v2 +kms1 +1 +0  secrets=1$' '$T/in6.out'"
etcd_stop v1
done_testing
