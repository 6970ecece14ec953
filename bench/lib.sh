# Shared helpers for the benchmarks in bench/ (sourced, bash only): a temp
# dir and an etcd 3.4 on 127.0.0.1 killed in a trap, a fast loader that fills
# etcd to a target db size with partly compressible 64-100 KiB values through
# the JSON gateway, timing with peak RSS (/usr/bin/time), medians and ratios,
# and the output format: a small table plus "RESULT name=value" lines.
#
# Environment:
#   EDR_BIN     the etcd-dr binary [/tmp/build-bench/etcd-dr]
#   BENCH_TMP   where the temp dir is made [/tmp]
#   KEEP_TMP=1  keep the temp dir (its path is printed)
#   BENCH_ETCD_VERSION  run against that etcd of tests/etcd-versions (3.5, 3.6, 3.7;
#               built by scripts/etcd-versions.sh) instead of Debian's 3.4
# Each script sets its own ports inside 25000-25099 before using them.
# shellcheck shell=bash disable=SC2034 # variables are used by the scripts
set -u

EDR=${EDR_BIN:-/tmp/build-bench/etcd-dr}
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRCDIR=$(cd "$BENCH_DIR/.." && pwd)
B_TMP=
_b_pids=""

bench_die() { echo "bench: $*" >&2; exit 1; }

if [ -n "${BENCH_ETCD_VERSION:-}" ]; then
    _vdir=$("$SRCDIR/scripts/etcd-versions.sh" --dir "$BENCH_ETCD_VERSION") || exit 1
    [ -x "$_vdir/etcd" ] || bench_die "etcd $BENCH_ETCD_VERSION not built (scripts/etcd-versions.sh)"
    PATH="$_vdir:$PATH"
fi
# the tool with etcd's own "snapshot restore/status" (etcdutl from 3.5 on, where 3.6 moved them)
SNAPTOOL=etcdctl
[ -n "${BENCH_ETCD_VERSION:-}" ] && [ -x "$_vdir/etcdutl" ] && SNAPTOOL="$_vdir/etcdutl"

# bench_init NAME: checks the tools, makes $B_TMP and installs the cleanup trap.
bench_init() {
    [ -x "$EDR" ] || bench_die "$EDR not built (scripts/build.sh /tmp/build-bench)"
    if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
        bench_die "etcd/etcdctl missing"
    fi
    [ -x /usr/bin/time ] || bench_die "/usr/bin/time missing (package time)"
    B_TMP=$(mktemp -d "${BENCH_TMP:-/tmp}/edr-bench-$1.XXXXXX")
    mkdir -p "$B_TMP/times"
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
}

# bench_on_exit CMD: run CMD (a string) in the trap before the etcd kills.
_b_exit_hooks=""
bench_on_exit() { _b_exit_hooks="$_b_exit_hooks$1;"; }

bench_cleanup() {
    local p
    [ -n "$_b_exit_hooks" ] && eval "$_b_exit_hooks"
    for p in $_b_pids; do kill "$p" 2>/dev/null; done
    for p in $_b_pids; do wait "$p" 2>/dev/null; done
    if [ -n "$B_TMP" ]; then
        if [ -n "${KEEP_TMP:-}" ]; then echo "# kept $B_TMP" >&2; else rm -rf "$B_TMP"; fi
    fi
}

# etcd_up CLIENT_PORT PEER_PORT: start one etcd member with an 8 GiB quota,
# data in $B_TMP/etcd, and wait (60 s) until it answers. Sets EP and ETCD_PID.
etcd_up() {
    local cp=$1 pp=$2
    EP=http://127.0.0.1:$cp
    etcd --name bench --data-dir "$B_TMP/etcd" \
        --listen-client-urls "$EP" --advertise-client-urls "$EP" \
        --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
        --initial-cluster "bench=http://127.0.0.1:$pp" --initial-cluster-state new \
        --quota-backend-bytes 8589934592 --logger zap --log-outputs "$B_TMP/etcd.log" \
        >>"$B_TMP/etcd.out" 2>&1 &
    ETCD_PID=$!
    _b_pids="$_b_pids $!"
    for _ in $(seq 1 300); do
        etcdctl --endpoints "$EP" endpoint health >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    bench_die "etcd on $EP did not start: $(tail -5 "$B_TMP/etcd.out")"
}

# db_size [EP]: etcd's logical db size in bytes (what a snapshot holds)
db_size() {
    etcdctl --endpoints "${1:-$EP}" endpoint status -w json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])'
}

# load_mb SIZE_MB [EP]: put keys /bench/NNNNNNNN with 64-100 KiB values (half
# random words, half base64 of random bytes, in varying proportion: about 2x
# compressible with zstd) through etcd's JSON gateway on one persistent
# connection, several puts per txn (each request < 1.5 MB), until etcd's db
# size reaches SIZE_MB MiB. Prints "keys bytes_put db_size seconds".
# BENCH_DATA=k8s loads Kubernetes-like objects instead: /registry/<resource>/
# <namespace>/<name> keys with 1-12 KiB JSON values (labels, annotations,
# managedFields, specs, some base64 Secret/ConfigMap data), about 5x compressible.
load_mb() {
    BENCH_DATA=${BENCH_DATA:-mixed} python3 - "${2:-$EP}" "$1" <<'PY'
import base64, http.client, json, os, random, sys, time, urllib.parse
from array import array

ep, target = sys.argv[1], int(sys.argv[2]) * 1024 * 1024
u = urllib.parse.urlparse(ep)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
rnd = random.Random(20240611)
letters = "abcdefghijklmnopqrstuvwxyz"
vocab = ["".join(rnd.choice(letters) for _ in range(rnd.randint(2, 11))) for _ in range(4096)]
pairs = [(rnd.choice(vocab) + " " + rnd.choice(vocab) + " ").encode() for _ in range(65536)]

def value(n):
    words = int(n * rnd.uniform(0.3, 0.7))
    idx = array("H", rnd.randbytes(2 * (words // 12 + 2)))
    w = b"".join([pairs[i] for i in idx])[:words]
    b = base64.b64encode(rnd.randbytes((n - len(w)) * 3 // 4 + 3))[: n - len(w)]
    return w + b

RES = [("pods", 40), ("replicasets.apps", 10), ("deployments.apps", 6), ("services/specs", 6),
       ("configmaps", 12), ("secrets", 12), ("events", 10), ("serviceaccounts", 4)]
NS = ["default", "kube-system", "monitoring", "ingress"] + ["team-%02d" % i for i in range(40)]
IMAGES = ["registry.k8s.io/pause:3.9", "nginx:1.25.3", "quay.io/prometheus/node-exporter:v1.7.0",
          "ghcr.io/example/api:2.14.1", "docker.io/library/redis:7.2"]

def k8s_object(n, res):
    ns, app = rnd.choice(NS), rnd.choice(vocab)
    name = "%s-%s-%05x" % (app, rnd.choice(vocab), n)
    meta = {"name": name, "namespace": ns, "uid": "%032x" % rnd.getrandbits(128),
            "resourceVersion": str(n + 1000), "creationTimestamp": "2026-%02d-%02dT%02d:%02d:%02dZ"
            % (rnd.randint(1, 12), rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59),
               rnd.randint(0, 59)),
            "labels": {"app.kubernetes.io/name": app, "app.kubernetes.io/part-of": rnd.choice(vocab),
                       "pod-template-hash": "%010x" % rnd.getrandbits(40)},
            "annotations": {"deployment.kubernetes.io/revision": str(rnd.randint(1, 40))},
            "managedFields": [{"manager": m, "operation": "Update", "apiVersion": "v1",
                               "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {
                                   "f:labels": {".": {}, "f:app": {}}}, "f:spec": {
                                   "f:containers": {"k:{\"name\":\"%s\"}" % app: {}}}}}
                              for m in ("kube-controller-manager", "kubelet", "kubectl")]}
    obj = {"kind": res.split("/")[0].split(".")[0].rstrip("s").capitalize(), "apiVersion": "v1",
           "metadata": meta}
    if res in ("secrets", "configmaps"):
        obj["data"] = {rnd.choice(vocab): base64.b64encode(rnd.randbytes(rnd.randint(16, 2048))).decode()
                       for _ in range(rnd.randint(1, 4))}
    else:
        obj["spec"] = {"containers": [{"name": app, "image": rnd.choice(IMAGES),
                                       "args": [rnd.choice(vocab) for _ in range(rnd.randint(0, 30))],
                                       "env": [{"name": rnd.choice(vocab).upper(), "value": rnd.choice(vocab)}
                                               for _ in range(rnd.randint(0, 40))],
                                       "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}
                                      for _ in range(rnd.randint(1, 3))],
                       "nodeName": "node-%03d" % rnd.randint(0, 200)}
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] = \
            json.dumps({"spec": obj["spec"], "metadata": {"name": name, "namespace": ns}})
        obj["status"] = {"phase": "Running", "podIP": "10.%d.%d.%d" % (rnd.randint(0, 255),
                         rnd.randint(0, 255), rnd.randint(1, 254))}
    return ("/registry/%s/%s/%s" % (res, ns, name)).encode(), json.dumps(obj).encode()

k8s = os.environ["BENCH_DATA"] == "k8s"
res_pool = [r for r, w in RES for _ in range(w)]

def call(path, body):
    conn.request("POST", path, body, {"Content-Type": "application/json"})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("load: %s: HTTP %d: %s" % (path, r.status, data[:300]))
    return json.loads(data)

def dbsize():
    return int(call("/v3/maintenance/status", b"{}").get("dbSize", 0))

start = time.time()
keys = put = 0
check_at = 0
while True:
    if put >= check_at:
        size = dbsize()
        if size >= target:
            break
        # close to the target: check after every request
        check_at = put + max(0, (target - size) // 2)
    ops, raw = [], 0
    while raw < 900 * 1024 and len(ops) < 120:  # etcd's --max-txn-ops is 128
        if k8s:
            k, v = k8s_object(keys, rnd.choice(res_pool))
        else:
            v = value(rnd.randint(64 * 1024, 100 * 1024))
            k = b"/bench/%08d" % keys
        keys += 1
        raw += len(k) + len(v)
        ops.append('{"requestPut":{"key":"%s","value":"%s"}}'
                   % (base64.b64encode(k).decode(), base64.b64encode(v).decode()))
    body = ('{"success":[' + ",".join(ops) + "]}").encode()
    call("/v3/kv/txn", body)
    put += raw
print(keys, put, size, "%.1f" % (time.time() - start))
PY
}

# timed LABEL CMD...: run CMD (output to $B_TMP/LABEL.log), append "wall_s rss_kib
# cpu_s" to $B_TMP/times/LABEL; sets T_WALL, T_RSS (peak, KiB) and T_CPU (user +
# system seconds of CMD). Fails (exits) when CMD fails.
timed() {
    local label=$1 t0 t1
    shift
    t0=$EPOCHREALTIME
    if ! /usr/bin/time -f '%M %U %S' -o "$B_TMP/.rss" "$@" >>"$B_TMP/$label.log" 2>&1; then
        tail -20 "$B_TMP/$label.log" >&2
        bench_die "$label failed: $*"
    fi
    t1=$EPOCHREALTIME
    T_WALL=$(python3 -c "print('%.3f' % ($t1 - $t0))")
    # shellcheck disable=SC2046 # three numbers
    set -- $(tail -1 "$B_TMP/.rss")
    T_RSS=$1
    T_CPU=$(python3 -c "print('%.2f' % ($2 + $3))")
    echo "$T_WALL $T_RSS $T_CPU" >>"$B_TMP/times/$label"
}

# proc_cpu PID...: user+system CPU seconds used so far by these processes
proc_cpu() {
    python3 - "$@" <<'PY'
import os, sys
t = 0
for p in sys.argv[1:]:
    f = open("/proc/%s/stat" % p).read().rsplit(")", 1)[1].split()
    t += int(f[11]) + int(f[12])
print("%.2f" % (t / os.sysconf("SC_CLK_TCK")))
PY
}

# fsub A B: A - B with 2 decimals
fsub() { python3 -c "print('%.2f' % ($1 - $2))"; }

# add_sample LABEL WALL RSS [CPU]: record a sample by hand (e.g. a sum of several runs)
add_sample() { echo "$2 $3 ${4:-0}" >>"$B_TMP/times/$1"; }

# median LABEL [COLUMN]: median of LABEL's samples, wall seconds (column 1,
# the default) or CPU seconds (column 3)
median() {
    python3 -c '
import sys, statistics
c = int(sys.argv[2]) - 1
v = [float(l.split()[c]) for l in open(sys.argv[1]) if l.strip()]
print("%.3f" % statistics.median(v))' "$B_TMP/times/$1" "${2:-1}"
}

# samples LABEL: the wall seconds of LABEL's samples, comma-separated
samples() { awk '{printf "%s%s", (NR > 1 ? "," : ""), $1}' "$B_TMP/times/$1"; }

# peak_rss LABEL: largest peak RSS of LABEL's samples, in KiB
peak_rss() { awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$B_TMP/times/$1"; }

# ratio A B: A/B with 3 decimals
ratio() { python3 -c "import sys; print('%.3f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

# mib BYTES | kib2mib KIB: one decimal
mib() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1048576))" "$1"; }
kib2mib() { python3 -c "import sys; print('%.1f' % (int(sys.argv[1]) / 1024))" "$1"; }

# mbps BYTES SECONDS: MB/s (10^6 bytes)
mbps() { python3 -c "import sys; print('%.0f' % (int(sys.argv[1]) / 1e6 / float(sys.argv[2])))" "$1" "$2"; }

# result NAME VALUE: a machine-readable line
result() { echo "RESULT $1=$2"; }

# row COLUMNS...: one line of the table (first column wide)
row() { printf '%-34s' "$1"; shift; printf ' %12s' "$@"; printf '\n'; }

# load_report SIZE_MB: load and report what was loaded (sets DB_BYTES)
load_report() {
    local out
    echo "# loading etcd to $1 MiB..." >&2
    out=$(load_mb "$1") || bench_die "load failed"
    # shellcheck disable=SC2086 # four numbers
    set -- "$1" $out
    DB_BYTES=$4
    echo "# loaded $2 keys, $(mib "$3") MiB of values, db $(mib "$4") MiB in $5 s" >&2
    result load_seconds "$5"
    result db_bytes "$4"
}

# note_load: one line on the machine load (other users share the cores)
note_load() { echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2; }
