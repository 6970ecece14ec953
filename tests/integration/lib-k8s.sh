# A real kube-apiserver for the Kubernetes-aware tests, sourced after lib.sh.
# scripts/kube-apiserver.sh builds the binary into the cache when it is missing
# (a build failure fails the test, it never skips). Each API server listens on
# 127.0.0.1 on a port of the test's own range, with a self-signed serving
# certificate, a service-account key pair, a static token (anonymous requests
# get 401) and AlwaysAllow authorization, against an etcd of the test.
# Kubernetes 1.34 needs etcd >= 3.5: such tests set EDR_ETCD_VERSION=3.6
# before sourcing lib.sh unless the caller chose a version (lib.sh gives
# the test a port block of its own whatever the version).
#   k8s_setup                      once, after require_etcd
#   kapi_start NAME ETCD_URL PORT [kube-apiserver args...]   started, /readyz waited for
#   kapi_stop NAME
#   kapi [curl args...] PATH       a request to the current API server (KAPI_URL)
#   kapi_code [curl args...] PATH  only the HTTP status of such a request
#   kapi_py [ARGS] <<'PY' ... PY   Python with kapi(method, path, body) -> (status, object)
#                                  and kapi_ok (the object, or exit on an HTTP error)
#   k8s_list FILE API_PATH=RESOURCE...  the listed objects by etcd key, as JSON
#   etcd_kvs ENDPOINT FILE [PREFIX]     etcd's keys and values, as JSON
#   etcd_revision ENDPOINT

# k8s_source_etcd: the test's own etcd, member "src" on BASE_PORT+1 (client)
# and +2 (peer), healthy; its client URL in EP
k8s_source_etcd() {
    EP=http://127.0.0.1:$((BASE_PORT + 1))
    etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
    wait_healthy "$EP" || bail "etcd did not start"
}

k8s_setup() {
    local mm
    mm=$(etcd_minor)
    [ "${mm:-0}" -ge 35 ] || bail "Kubernetes 1.34 needs etcd >= 3.5, this is $(etcd --version | head -1)"
    "$SRCDIR/scripts/kube-apiserver.sh" >"$T/kube-apiserver-build.log" 2>&1 ||
        bail "kube-apiserver did not build (scripts/kube-apiserver.sh): $(tail -3 "$T/kube-apiserver-build.log" | tr '\n' ' ')"
    KUBE_APISERVER="$("$SRCDIR/scripts/kube-apiserver.sh" --dir)/kube-apiserver"
    [ -x "$KUBE_APISERVER" ] || bail "no kube-apiserver at $KUBE_APISERVER"
    K8S=$T/k8s
    mkdir -p "$K8S"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K8S/serving.key" -out "$K8S/serving.crt" \
        -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 &&
        openssl genrsa -out "$K8S/sa.key" 2048 >/dev/null 2>&1 &&
        openssl rsa -in "$K8S/sa.key" -pubout -out "$K8S/sa.pub" >/dev/null 2>&1 ||
        bail "openssl could not make the API server's keys"
    # the token stays in files: a curl header file and the API server's token file
    local tok
    tok=$(openssl rand -hex 16)
    (
        umask 077
        echo "$tok,edr-admin,edr-admin-uid,system:masters" >"$K8S/tokens.csv"
        echo "Authorization: Bearer $tok" >"$K8S/auth.hdr"
    )
    diag "kube-apiserver $(basename "$(dirname "$KUBE_APISERVER")") from $KUBE_APISERVER"
}

# kapi_start NAME ETCD_URL PORT [extra kube-apiserver args]: up to 60 s for /readyz
kapi_start() {
    local name=$1 etcd=$2 port=$3
    shift 3
    "$KUBE_APISERVER" --etcd-servers "$etcd" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
        --secure-port "$port" --tls-cert-file "$K8S/serving.crt" --tls-private-key-file "$K8S/serving.key" \
        --cert-dir "$K8S/cert-$name" --token-auth-file "$K8S/tokens.csv" --authorization-mode AlwaysAllow \
        --service-account-key-file "$K8S/sa.pub" --service-account-signing-key-file "$K8S/sa.key" \
        --service-account-issuer https://kubernetes.default.svc --service-cluster-ip-range 10.96.0.0/24 \
        "$@" >>"$T/kapi-$name.log" 2>&1 &
    local pid=$!
    _pids="$_pids $pid"
    eval "KAPI_PID_$name=$pid"
    KAPI_URL=https://127.0.0.1:$port
    local i
    for i in $(seq 1 300); do
        [ "$(kapi_code /readyz)" = 200 ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    diag "kube-apiserver $name did not become ready; its log ends with:"
    tail -5 "$T/kapi-$name.log" | sed 's/^/#   /'
    return 1
}

kapi_stop() {
    local p
    eval "p=\${KAPI_PID_$1:-}"
    [ -n "$p" ] && kill "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    true
}

kapi() {
    local path=${*: -1}
    curl -sS --fail-with-body --cacert "$K8S/serving.crt" -H "@$K8S/auth.hdr" "${@:1:$#-1}" "$KAPI_URL$path"
}

kapi_code() {
    local path=${*: -1}
    curl -s -o /dev/null -w '%{http_code}' --cacert "$K8S/serving.crt" -H "@$K8S/auth.hdr" \
        "${@:1:$#-1}" "$KAPI_URL$path"
}

# kapi_py [ARGS]: runs Python from stdin with sys.argv[1:] = ARGS, after a prelude
# that defines kapi(method, path, body=None) -> (HTTP status, decoded JSON or text)
kapi_py() {
    local code
    code=$(cat)
    KAPI_URL=$KAPI_URL KAPI_CA=$K8S/serving.crt KAPI_HDR=$K8S/auth.hdr python3 -c "$(cat <<'PY'
import json, os, ssl, sys, time, urllib.error, urllib.request
_ctx = ssl.create_default_context(cafile=os.environ["KAPI_CA"])
_auth = open(os.environ["KAPI_HDR"]).read().split(":", 1)[1].strip()
# 429 (a custom resource's storage still starting, priority and fairness) is retried
def kapi(method, path, body=None, ctype="application/json"):
    data = json.dumps(body).encode() if body is not None else None
    for _ in range(100):
        req = urllib.request.Request(os.environ["KAPI_URL"] + path, data=data, method=method,
                                     headers={"Authorization": _auth, "Content-Type": ctype})
        try:
            with urllib.request.urlopen(req, context=_ctx, timeout=30) as r:
                status, raw = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, raw = e.code, e.read()
        if status != 429:
            break
        time.sleep(0.3)
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")
def kapi_ok(method, path, body=None, ctype="application/json"):
    status, obj = kapi(method, path, body, ctype)
    if status >= 300:
        sys.exit("%s %s: %d %s" % (method, path, status, obj))
    return obj
PY
)
$code" "$@"
}

# k8s_list FILE API_PATH=RESOURCE...: every object the API server lists at each
# path, as a JSON object keyed by its etcd key (/registry/RESOURCE/[NS/]NAME;
# RESOURCE is group/resource outside the core group), with the list's kind and
# apiVersion put into each item the way a GET returns them
k8s_list() {
    kapi_py "$@" <<'PY'
import json, sys
out = {}
for arg in sys.argv[2:]:
    path, res = arg.split("=", 1)
    lst = kapi_ok("GET", path)
    for o in lst["items"]:
        md = o["metadata"]
        o.setdefault("kind", lst["kind"][:-len("List")])
        o.setdefault("apiVersion", lst["apiVersion"])
        out["/registry/%s/%s%s" % (res, md["namespace"] + "/" if "namespace" in md else "", md["name"])] = o
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
PY
}

# etcd_kvs ENDPOINT FILE [PREFIX]: the live keys under PREFIX (default /registry/) as a
# JSON object: key -> {"value": base64, "mod_revision", "create_revision"}
etcd_kvs() {
    etcdctl --endpoints "$1" get --prefix "${3:-/registry/}" -w json | python3 -c '
import base64, json, sys
out = {}
for kv in json.load(sys.stdin).get("kvs", []):
    out[base64.b64decode(kv["key"]).decode()] = {"value": kv.get("value", ""),
        "mod_revision": kv["mod_revision"], "create_revision": kv["create_revision"]}
json.dump(out, open(sys.argv[1], "w"), indent=1, sort_keys=True)
' "$2"
}

# etcd_revision ENDPOINT: the current revision
etcd_revision() {
    etcdctl --endpoints "$1" endpoint status -w json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'
}
