#!/bin/bash
# Encryption at rest written by a real kube-apiserver (1.34, on etcd 3.6 unless
# EDR_ETCD_VERSION says otherwise): Secrets and ConfigMaps written with no
# encryption, then with aescbc, aesgcm and secretbox in turn first in the
# API server's EncryptionConfiguration (the API server restarted each time).
# - inspect --json reports the providers, key names and counts per resource
#   that etcd's stored prefixes show, and with --encryption-config how many open;
# - ls/get --k8s --encryption-config decrypt each, metadata field by field as
#   the API server returns it, -o raw is the plaintext with the secret's value;
# - a wrong key and a missing key: a clear error naming the object, provider
#   and key name, exit 10 (and per object in ls --k8s);
# - the backup restored natively: a new API server with the same config reads
#   every secret back.
BASE_PORT=25700
EDR_ETCD_VERSION=${EDR_ETCD_VERSION:-3.6}
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-k8s.sh"
require_etcd
k8s_setup

k8s_source_etcd

# encryption_config FILE PROVIDER:NAME:SECRET_HEX...: an EncryptionConfiguration (YAML, as
# operators write it) for secrets and configmaps, providers in the order given, then identity
encryption_config() {
    local f=$1 p
    shift
    {
        echo "apiVersion: apiserver.config.k8s.io/v1"
        echo "kind: EncryptionConfiguration"
        echo "resources:"
        echo "  - resources:"
        echo "      - secrets"
        echo "      - configmaps"
        echo "    providers:"
        for p in "$@"; do
            echo "      - ${p%%:*}:"
            echo "          keys:"
            echo "            - name: $(echo "$p" | cut -d: -f2)"
            echo "              secret: $(echo "$p" | cut -d: -f3 | xxd -r -p | base64 -w0)"
        done
        echo "      - identity: {}"
    } >"$f"
    chmod 600 "$f"
}
K1=$(openssl rand -hex 32) K2=$(openssl rand -hex 16) K3=$(openssl rand -hex 32) KX=$(openssl rand -hex 32)
encryption_config "$T/enc-cbc.yaml" "aescbc:key1:$K1"
encryption_config "$T/enc-gcm.yaml" "aesgcm:key2:$K2" "aescbc:key1:$K1"
encryption_config "$T/enc-all.yaml" "secretbox:key3:$K3" "aesgcm:key2:$K2" "aescbc:key1:$K1"
encryption_config "$T/enc-wrong.yaml" "secretbox:key3:$K3" "aesgcm:key2:$K2" "aescbc:key1:$KX"
encryption_config "$T/enc-partial.yaml" "aesgcm:key2:$K2" "aescbc:key1:$K1"

# write NAME: a Secret and a ConfigMap named NAME in edr-e, through the API server up now
write() {
    kapi_py "$1" <<'PY'
import base64, sys
n = sys.argv[1]
kapi_ok("POST", "/api/v1/namespaces/edr-e/secrets", {
    "metadata": {"name": n, "labels": {"provider": n}, "annotations": {"edr/why": "test " + n}},
    "type": "Opaque", "data": {"password": base64.b64encode(("hunter-%s-value" % n).encode()).decode()}})
kapi_ok("POST", "/api/v1/namespaces/edr-e/configmaps", {"metadata": {"name": n}, "data": {"k": "cm-%s-value" % n}})
PY
}
P=$((BASE_PORT + 10))
kapi_start plain "$EP" $P || bail "kube-apiserver did not start"
kapi -X POST -H 'Content-Type: application/json' -d '{"metadata":{"name":"edr-e"}}' /api/v1/namespaces >/dev/null ||
    bail "namespace not created"
write s-plain || bail "writing without encryption failed"
kapi_stop plain
for c in cbc gcm all; do
    kapi_start "$c" "$EP" $P --encryption-provider-config "$T/enc-$c.yaml" || bail "kube-apiserver with enc-$c did not start"
    write "s-$c" || bail "writing with enc-$c failed"
    [ "$c" = all ] || kapi_stop "$c"
done
# the API server with every key reads them all; its view, then etcd's bytes, then the backup
LISTS=(/api/v1/namespaces/edr-e/secrets=secrets /api/v1/namespaces/edr-e/configmaps=configmaps
    /api/v1/namespaces/kube-system/configmaps=configmaps)
k8s_list "$T/api.json" "${LISTS[@]}" || bail "listing failed"
kapi_stop all
etcd_kvs "$EP" "$T/etcd.json"
check "etcd holds each secret under its provider's prefix" python3 - "$T/etcd.json" <<'PY'
import base64, json, sys
kvs = json.load(open(sys.argv[1]))
v = lambda k: base64.b64decode(kvs[k]["value"])
assert v("/registry/secrets/edr-e/s-plain").startswith(b"k8s\0")
assert v("/registry/secrets/edr-e/s-cbc").startswith(b"k8s:enc:aescbc:v1:key1:")
assert v("/registry/secrets/edr-e/s-gcm").startswith(b"k8s:enc:aesgcm:v1:key2:")
assert v("/registry/secrets/edr-e/s-all").startswith(b"k8s:enc:secretbox:v1:key3:")
assert v("/registry/configmaps/edr-e/s-all").startswith(b"k8s:enc:secretbox:v1:key3:")
PY
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k8s --identity "$T/k.key")
"$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k8s --recipient "$T/k.pub" -q || bail "backup failed"

# --- inspect: the keys a restore needs, counted from etcd's own prefixes
check "inspect --json" sh -c "'$EDR' inspect latest ${R[*]} --json >'$T/inspect.json'"
check "inspect --json --encryption-config" sh -c "'$EDR' inspect latest ${R[*]} --json --encryption-config '$T/enc-all.yaml' >'$T/inspect-keys.json'"
check "inspect: providers, key names and counts per resource as etcd's prefixes say; all open with the keys" \
    python3 - "$T/etcd.json" "$T/inspect.json" "$T/inspect-keys.json" <<'PY'
import base64, json, sys
kvs = json.load(open(sys.argv[1]))
want, plain = {}, 0
for k, kv in kvs.items():
    v = base64.b64decode(kv["value"])
    res = k.split("/")[2]
    if v.startswith(b"k8s:enc:"):
        prov, ver, name = v.split(b":")[2:5]
        e = want.setdefault((prov.decode(), name.decode()), {})
        e[res] = e.get(res, 0) + 1
    elif res == "secrets":
        plain += 1
assert set(want) == {("aescbc", "key1"), ("aesgcm", "key2"), ("secretbox", "key3")}, want
for f, opened in ((sys.argv[2], False), (sys.argv[3], True)):
    enc = json.load(open(f))["encryption"]
    assert enc["encrypted"] == sum(sum(e.values()) for e in want.values()), (enc, want)
    assert enc["plain_secrets"] == plain == 1, enc
    got = {(k["provider"], k["key"]): k for k in enc["keys"]}
    assert set(got) == set(want), (got, want)
    for pk, res in want.items():
        assert got[pk]["resources"] == res and got[pk]["objects"] == sum(res.values()), (pk, got[pk], res)
        assert got[pk]["opened"] == (sum(res.values()) if opened else None), (f, got[pk])
print({"%s:%s" % k: v for k, v in want.items()})
PY
sed 's/^/# /' "$T/.check.out"
"$EDR" inspect latest "${R[@]}" >"$T/inspect.txt"
check "inspect (table) names each provider and key" sh -c "grep -q 'aescbc' '$T/inspect.txt' && grep -q 'key1' '$T/inspect.txt' && grep -q 'secretbox' '$T/inspect.txt' && grep -q 'key3' '$T/inspect.txt'"

# --- get/ls --k8s with the keys: decrypted, as the API server returns them
for c in cbc gcm all; do
    for res in secrets configmaps; do
        k=/registry/$res/edr-e/s-$c
        "$EDR" get --k8s latest "$k" "${R[@]}" --encryption-config "$T/enc-all.yaml" >"$T/get-$res-$c.json" 2>"$T/get.err" ||
            diag "get --k8s $k: $(cat "$T/get.err")"
        "$EDR" get --k8s --output raw latest "$k" "${R[@]}" --encryption-config "$T/enc-all.yaml" >"$T/raw-$res-$c" 2>"$T/get.err" ||
            diag "get --k8s --output raw $k: $(cat "$T/get.err")"
    done
done
check "get --k8s --encryption-config: each decrypted object's metadata as the API server's" \
    python3 - "$T" "$T/api.json" <<'PY'
import json, sys
t, api = sys.argv[1], json.load(open(sys.argv[2]))
bad = []
for c in ("cbc", "gcm", "all"):
    for res, kind in (("secrets", "Secret"), ("configmaps", "ConfigMap")):
        k = "/registry/%s/edr-e/s-%s" % (res, c)
        try:
            g = json.load(open("%s/get-%s-%s.json" % (t, res, c)))
        except ValueError as e:
            bad.append("%s: no JSON (%s)" % (k, e))
            continue
        o = api[k]
        if (g.get("kind"), g.get("apiVersion")) != (kind, "v1"):
            bad.append("%s: kind %r apiVersion %r" % (k, g.get("kind"), g.get("apiVersion")))
        for f in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp", "labels", "annotations"):
            if g.get("metadata", {}).get(f) != o["metadata"].get(f):
                bad.append("%s: metadata.%s %r != %r" % (k, f, g.get("metadata", {}).get(f), o["metadata"].get(f)))
assert not bad, "\n".join(bad)
PY
check "get --k8s --output raw: the plaintext protobuf, with the secret's value" python3 - "$T" <<'PY'
import sys
for c in ("cbc", "gcm", "all"):
    s = open("%s/raw-secrets-%s" % (sys.argv[1], c), "rb").read()
    assert s.startswith(b"k8s\0") and ("hunter-s-%s-value" % c).encode() in s, (c, s[:40])
    m = open("%s/raw-configmaps-%s" % (sys.argv[1], c), "rb").read()
    assert m.startswith(b"k8s\0") and ("cm-s-%s-value" % c).encode() in m, (c, m[:40])
PY
check "ls --k8s --json with and without the keys" sh -c "'$EDR' ls --k8s --json latest /registry/secrets/edr-e/ ${R[*]} --encryption-config '$T/enc-all.yaml' >'$T/ls-keys.json' && '$EDR' ls --k8s --json latest /registry/secrets/edr-e/ ${R[*]} >'$T/ls-nokeys.json' && '$EDR' ls --k8s --json latest /registry/secrets/edr-e/ ${R[*]} --encryption-config '$T/enc-wrong.yaml' >'$T/ls-wrong.json' && '$EDR' ls --k8s --json latest /registry/secrets/edr-e/ ${R[*]} --encryption-config '$T/enc-partial.yaml' >'$T/ls-partial.json'"
check "ls --k8s: provider, key name and status per object; kind and uid once opened" \
    python3 - "$T" "$T/api.json" <<'PY'
import json, sys
t, api = sys.argv[1], json.load(open(sys.argv[2]))
rows = {f: {r["key"]: r for r in json.load(open("%s/ls-%s.json" % (t, f)))} for f in ("keys", "nokeys", "wrong", "partial")}
pk = {"cbc": ("aescbc", "key1"), "gcm": ("aesgcm", "key2"), "all": ("secretbox", "key3")}
status = {"keys": {"cbc": "opened", "gcm": "opened", "all": "opened"},
          "nokeys": {"cbc": "not checked", "gcm": "not checked", "all": "not checked"},
          "wrong": {"cbc": "wrong key or damaged", "gcm": "opened", "all": "opened"},
          "partial": {"cbc": "opened", "gcm": "opened", "all": "no key"}}
bad = []
for f, st in status.items():
    p = rows[f]["/registry/secrets/edr-e/s-plain"]
    if p["encryption"] is not None or p["kind"] != "Secret" or p["format"] != "protobuf":
        bad.append("%s: s-plain %r" % (f, p))
    for c, want in st.items():
        k = "/registry/secrets/edr-e/s-" + c
        r, md = rows[f][k], api[k]["metadata"]
        e = r.get("encryption") or {}
        if (e.get("provider"), e.get("key"), e.get("version"), e.get("status")) != pk[c] + ("v1", want):
            bad.append("%s %s: encryption %r, want %s %s" % (f, k, e, pk[c], want))
        if r["format"] != "encrypted" or r["name"] != md["name"] or r["namespace"] != "edr-e" or \
                r["resource_version"] != md["resourceVersion"]:
            bad.append("%s %s: %r" % (f, k, r))
        if want == "opened" and (r["kind"], r["uid"], r["creation_timestamp"]) != ("Secret", md["uid"], md["creationTimestamp"]):
            bad.append("%s %s: opened but %r" % (f, k, r))
        if want != "opened" and r["kind"] is not None:
            bad.append("%s %s: kind %r without opening" % (f, k, r["kind"]))
assert not bad, "\n".join(bad)
PY
expect_fail "get --k8s with a wrong aescbc key: exit 10 naming the provider and key" 10 \
    "secrets/edr-e/s-cbc.*aescbc.*key1|aescbc.*key1.*secrets/edr-e/s-cbc" \
    "$EDR" get --k8s latest /registry/secrets/edr-e/s-cbc "${R[@]}" --encryption-config "$T/enc-wrong.yaml"
cp "$T/.ef.err" "$T/err-wrong"
expect_fail "get --k8s without the secretbox key: exit 10 naming the provider and key" 10 \
    "secrets/edr-e/s-all.*secretbox.*key3|secretbox.*key3.*secrets/edr-e/s-all" \
    "$EDR" get --k8s latest /registry/secrets/edr-e/s-all "${R[@]}" --encryption-config "$T/enc-partial.yaml"
cp "$T/.ef.err" "$T/err-nokey"
expect_fail "get --k8s on an encrypted object without --encryption-config: exit 10" 10 \
    "aesgcm.*key2|key2.*aesgcm" "$EDR" get --k8s latest /registry/secrets/edr-e/s-gcm "${R[@]}"
cp "$T/.ef.err" "$T/err-noconfig"
sed 's/^/# /' "$T/err-wrong" "$T/err-nokey" "$T/err-noconfig"
KXB=$(echo "$KX" | xxd -r -p | base64 -w0)
check "no key material in the error" sh -c "! grep -qiF -e '$KX' -e '$KXB' -e '$(echo "$K1" | xxd -r -p | base64 -w0)' -e '$K1' '$T'/err-*"

# --- restored natively, a new API server with the same configuration reads them
etcd_stop src
CP=$((BASE_PORT + 3)) PP=$((BASE_PORT + 4))
check "restore natively" "$EDR" restore latest "${R[@]}" --name r1 \
    --initial-cluster r1=http://127.0.0.1:$PP --initial-cluster-token r1 --data-dir "$T/r1"
etcd_start_dir r1 "$T/r1" $CP $PP
wait_healthy http://127.0.0.1:$CP || bail "the restored etcd did not start"
kapi_start restored http://127.0.0.1:$CP $((BASE_PORT + 11)) --encryption-provider-config "$T/enc-all.yaml" ||
    bail "kube-apiserver did not start on the restored etcd"
k8s_list "$T/api-r.json" "${LISTS[@]}" || bail "listing the restored cluster failed"
check "the restored cluster's API server reads every secret and configmap as before" python3 - "$T/api.json" "$T/api-r.json" <<'PY'
import json, sys
a, r = (json.load(open(f)) for f in sys.argv[1:3])
mine = sorted(k for k in a if "/edr-e/" in k)
assert len(mine) == 8 and mine == sorted(k for k in r if "/edr-e/" in k), (mine, sorted(r))
for k in mine:
    assert a[k] == r[k], k
PY
kapi_stop restored
etcd_stop r1
done_testing
