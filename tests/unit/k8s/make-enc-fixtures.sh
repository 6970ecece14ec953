#!/bin/sh
# Makes the encryption-at-rest fixtures of tests/unit/k8s/test_encryption.c
# with the real kube-apiserver (scripts/kube-apiserver.sh builds and caches
# it) and a throwaway etcd 3.6 (scripts/etcd-versions.sh): for each of
# aescbc, aesgcm and secretbox, the API server is (re)started with an
# EncryptionConfiguration whose first provider is that one, a Secret and a
# ConfigMap are created through its REST API with curl, and the values it
# stored are read back raw from etcd (`etcdctl get -w json`, base64-decoded,
# so binary-safe) into
#   enc-secret-<provider>.bin      /registry/secrets/default/s-<provider>
#   enc-configmap-<provider>.bin   /registry/configmaps/default/cm-<provider>
# with what the API server answered for each (enc-<what>-<provider>.json:
# kind, name, namespace, uid), next to enc-config.yaml and enc-config.json,
# the same configuration (aescbc first) holding the keys below. Secrets and
# ConfigMaps are in two
# resource groups whose keys all carry the same name, key1, with different
# secrets: a reader must try every key of a provider and name.
# Not run by `make check`; run it by hand after changing the keys or to
# refresh the fixtures, from anywhere:
#   tests/unit/k8s/make-enc-fixtures.sh
# EDR_PORT_SHIFT moves the ports (etcd 2379/2380, API server 6443).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../../.." && pwd)
SHIFT=${EDR_PORT_SHIFT:-0}
ETCD_DIR=$("$SRC/scripts/etcd-versions.sh" --dir 3.6)
KAS="$("$SRC/scripts/kube-apiserver.sh" --dir)/kube-apiserver"
[ -x "$ETCD_DIR/etcd" ] || { echo "no etcd 3.6 in $ETCD_DIR (scripts/etcd-versions.sh)" >&2; exit 1; }
[ -x "$KAS" ] || { echo "no $KAS (scripts/kube-apiserver.sh)" >&2; exit 1; }
CPORT=$((2379 + SHIFT))
PPORT=$((2380 + SHIFT))
APORT=$((6443 + SHIFT))

# test keys, known to the unit tests through enc-config.*: never use them elsewhere
S_AESCBC=kLTtjTNcUqE7TNbw8DVU7BM6fy+1lFM7YhgMmRhyv1U= # 32 bytes
C_AESCBC=qjsBPaqXNNNxhGgD/88k3g==                     # 16 bytes
S_AESGCM=ik11ORPJY5pnNTVi+Z1dx/yrnMXkRRvP2JhuTIhYclA= # 32 bytes
C_AESGCM=Kg7zFhH3hwkP6J757FhaWON+Z+pqTrqC             # 24 bytes
S_SECRETBOX=msRJxdUgETNCqyTeEbaKT2NP0N54UAjOpaGPtkwVL7c=
C_SECRETBOX=aEvaCdQ/VtrPpVcIKbbcyiFSm7OMPG+ms2rhFSCD5aQ=

TMP=$(mktemp -d)
ETCD_PID=
KAS_PID=
cleanup() {
    [ -z "$KAS_PID" ] || kill "$KAS_PID" 2>/dev/null || true
    [ -z "$ETCD_PID" ] || kill "$ETCD_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# providers "P1 P2 P3" -> one group's provider list, in that order
providers_yaml() { # $1: S or C (secrets or configmaps group), $2...: providers
    g=$1
    shift
    for q in "$@"; do
        eval "s=\$${g}_$(echo "$q" | tr a-z A-Z)"
        printf '      - %s:\n          keys:\n            - name: key1\n              secret: %s\n' "$q" "$s"
    done
    printf '      - identity: {}\n'
}
config_yaml() { # $@: providers, the first one writes
    printf '# EncryptionConfiguration of the fixtures (tests/unit/k8s/make-enc-fixtures.sh)\n'
    printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n'
    printf '  - resources:\n      - secrets\n    providers:\n'
    providers_yaml S "$@"
    printf '  - resources:\n      - configmaps\n    providers:\n'
    providers_yaml C "$@"
}
providers_json() {
    g=$1
    shift
    for q in "$@"; do
        eval "s=\$${g}_$(echo "$q" | tr a-z A-Z)"
        printf '{"%s": {"keys": [{"name": "key1", "secret": "%s"}]}}, ' "$q" "$s"
    done
    printf '{"identity": {}}'
}
config_json() {
    printf '{"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",\n'
    printf ' "resources": [\n  {"resources": ["secrets"], "providers": [%s]},\n' "$(providers_json S "$@")"
    printf '  {"resources": ["configmaps"], "providers": [%s]}\n ]}\n' "$(providers_json C "$@")"
}

"$ETCD_DIR/etcd" --name fx --data-dir "$TMP/etcd" \
    --listen-client-urls "http://127.0.0.1:$CPORT" --advertise-client-urls "http://127.0.0.1:$CPORT" \
    --listen-peer-urls "http://127.0.0.1:$PPORT" --initial-advertise-peer-urls "http://127.0.0.1:$PPORT" \
    --initial-cluster "fx=http://127.0.0.1:$PPORT" >"$TMP/etcd.log" 2>&1 &
ETCD_PID=$!
ctl() { "$ETCD_DIR/etcdctl" --endpoints "http://127.0.0.1:$CPORT" "$@"; }
i=0
until ctl endpoint health >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$TMP/etcd.log" >&2; exit 1; }
    sleep 0.1
done

openssl genrsa -out "$TMP/sa.key" 2048 2>/dev/null
openssl rsa -in "$TMP/sa.key" -pubout -out "$TMP/sa.pub" 2>/dev/null
TOKEN=fixture-token-$$
echo "$TOKEN,admin,admin-uid,system:masters" >"$TMP/tokens.csv"
api() { # method path [json]
    if [ $# -gt 2 ]; then
        curl -sk -X "$1" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
            --data "$3" -o "$TMP/answer" -w '%{http_code}' "https://127.0.0.1:$APORT$2"
    else
        curl -sk -X "$1" -H "Authorization: Bearer $TOKEN" -o "$TMP/answer" -w '%{http_code}' \
            "https://127.0.0.1:$APORT$2"
    fi
}

for p in aescbc aesgcm secretbox; do
    case $p in
    aescbc) order="aescbc aesgcm secretbox" ;;
    aesgcm) order="aesgcm aescbc secretbox" ;;
    secretbox) order="secretbox aescbc aesgcm" ;;
    esac
    # shellcheck disable=SC2086 # the order is a word list
    config_yaml $order >"$TMP/enc.yaml"
    chmod 600 "$TMP/enc.yaml"
    "$KAS" --etcd-servers "http://127.0.0.1:$CPORT" --bind-address 127.0.0.1 \
        --secure-port "$APORT" --cert-dir "$TMP/certs" --token-auth-file "$TMP/tokens.csv" \
        --authorization-mode AlwaysAllow --service-account-key-file "$TMP/sa.pub" \
        --service-account-signing-key-file "$TMP/sa.key" \
        --service-account-issuer https://kubernetes.default.svc \
        --service-cluster-ip-range 10.96.0.0/16 \
        --encryption-provider-config "$TMP/enc.yaml" >"$TMP/kas-$p.log" 2>&1 &
    KAS_PID=$!
    i=0
    until [ "$(api GET /readyz)" = 200 ] && [ "$(api GET /api/v1/namespaces/default)" = 200 ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || { tail -30 "$TMP/kas-$p.log" >&2; exit 1; }
        sleep 0.5
    done
    pw=$(printf 'hunter2-%s' "$p" | base64)
    code=$(api POST /api/v1/namespaces/default/secrets \
        "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s-$p\"},\"data\":{\"password\":\"$pw\"}}")
    [ "$code" = 201 ] || { echo "secret s-$p: HTTP $code" >&2; cat "$TMP/answer" >&2; exit 1; }
    jq -c '{kind, name: .metadata.name, namespace: .metadata.namespace, uid: .metadata.uid}' \
        "$TMP/answer" >"$HERE/enc-secret-$p.json"
    code=$(api POST /api/v1/namespaces/default/configmaps \
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-$p\"},\"data\":{\"color\":\"blue-$p\"}}")
    [ "$code" = 201 ] || { echo "configmap cm-$p: HTTP $code" >&2; cat "$TMP/answer" >&2; exit 1; }
    jq -c '{kind, name: .metadata.name, namespace: .metadata.namespace, uid: .metadata.uid}' \
        "$TMP/answer" >"$HERE/enc-configmap-$p.json"
    kill "$KAS_PID"
    wait "$KAS_PID" 2>/dev/null || true
    KAS_PID=
    for kv in "secret /registry/secrets/default/s-$p" "configmap /registry/configmaps/default/cm-$p"; do
        what=${kv%% *}
        key=${kv#* }
        ctl get "$key" -w json | jq -r '.kvs[0].value' | base64 -d >"$HERE/enc-$what-$p.bin"
        head -c 40 "$HERE/enc-$what-$p.bin" | grep -q "^k8s:enc:$p:v1:key1:" ||
            { echo "$key is not encrypted with $p" >&2; exit 1; }
        echo "$key -> enc-$what-$p.bin ($(wc -c <"$HERE/enc-$what-$p.bin") bytes)"
    done
done
config_yaml aescbc aesgcm secretbox >"$HERE/enc-config.yaml"
config_json aescbc aesgcm secretbox >"$HERE/enc-config.json"
echo "wrote $HERE/enc-config.yaml and enc-config.json"
