# Shared helpers for the integration tests: TAP output, a temp dir cleaned
# on exit, and real etcd members on 127.0.0.1 killed by pid in a trap.
# Each test sources this file and sets BASE_PORT (ports BASE_PORT..+99 are its own).
set -u

EDR=${EDR_BIN:-$(cd "$(dirname "$0")/../.." && pwd)/etcd-dr}
SRCDIR=${EDR_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d "${TMPDIR:-/tmp}/edr-it.XXXXXX")
chmod 700 "$T"
_tap_n=0
_tap_fail=0
_pids=""

cleanup() {
    for p in $_pids; do kill "$p" 2>/dev/null; done
    sleep 0.2
    for p in $_pids; do kill -9 "$p" 2>/dev/null; done
    if [ "$_tap_fail" -eq 0 ] || [ -z "${KEEP_TMP:-}" ]; then rm -rf "$T"; else echo "# kept $T"; fi
}
trap cleanup EXIT

ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - $*"; }
not_ok() { _tap_n=$((_tap_n + 1)); _tap_fail=$((_tap_fail + 1)); echo "not ok $_tap_n - $*"; }
diag() { echo "# $*"; }
# skip REASON: a TAP skip, counted apart from passes by run-tests.sh
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n # SKIP $*"; }
# the TAP lines carry the verdict; a non-zero exit would count the failure twice
done_testing() { echo "1..$_tap_n"; return 0; }
bail() { echo "Bail out! $*"; exit 1; }

# mkca NAME: a self-signed CA, $P/NAME.pem with its key $P/NAME.key (P: a directory)
mkca() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.pem" -days 2 \
        -subj "/CN=$1" >/dev/null 2>&1
}

# check "description" command...: ok when the command succeeds.
check() {
    local d=$1
    shift
    if "$@" >"$T/.check.out" 2>&1; then ok "$d"; else
        not_ok "$d"
        sed 's/^/#   /' "$T/.check.out" | tail -20
    fi
}

# expect_fail "description" EXIT_CODE PATTERN command...: the command must
# exit with EXIT_CODE and print an error line matching PATTERN on stderr.
expect_fail() {
    local d=$1 code=$2 pat=$3 rc
    shift 3
    "$@" >"$T/.ef.out" 2>"$T/.ef.err"
    rc=$?
    if [ "$rc" -eq "$code" ] && grep -Eq -- "$pat" "$T/.ef.err" && \
       [ "$(grep -c '^etcd-dr: error:' "$T/.ef.err")" -eq 1 ]; then
        ok "$d (exit $rc)"
    else
        not_ok "$d: exit $rc (want $code), stderr:"
        sed 's/^/#   /' "$T/.ef.err" | tail -10
    fi
}

require_etcd() {
    if [ -n "$ETCD_VERSION" ]; then
        # a version asked for must be there: its tests fail, never skip
        etcd --version 2>/dev/null | grep -q "etcd Version: $ETCD_VERSION\$" ||
            bail "etcd $ETCD_VERSION is not built in $ETCD_VERSION_DIR (scripts/etcd-versions.sh)"
        diag "etcd $ETCD_VERSION from $ETCD_VERSION_DIR, ports from $BASE_PORT"
        return 0
    fi
    if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
        if [ -n "${CI:-}" ]; then bail "etcd/etcdctl not installed (CI is set)"; fi
        echo "1..0 # SKIP etcd not installed"
        exit 0
    fi
}

# etcd_start NAME CLIENT_PORT PEER_PORT [INITIAL_CLUSTER [extra etcd args...]]
etcd_start() {
    local name=$1 cp=$2 pp=$3 ic=${4:-}
    shift 3
    [ $# -gt 0 ] && shift
    [ -n "$ic" ] || ic="$name=http://127.0.0.1:$pp"
    local scheme=http
    case " $* " in *" --cert-file "*) scheme=https ;; esac
    etcd --name "$name" --data-dir "$T/$name.etcd" \
        --listen-client-urls "$scheme://127.0.0.1:$cp" --advertise-client-urls "$scheme://127.0.0.1:$cp" \
        --listen-peer-urls "http://127.0.0.1:$pp" --initial-advertise-peer-urls "http://127.0.0.1:$pp" \
        --initial-cluster "$ic" --initial-cluster-token "tok-$BASE_PORT" \
        --initial-cluster-state new --logger zap --log-outputs "$T/$name.log" "$@" \
        >>"$T/$name.out" 2>&1 &
    local pid=$!
    _pids="$_pids $pid"
    eval "PID_$name=$pid"
}

# etcd_start_dir NAME DATA_DIR CLIENT_PORT PEER_PORT [extra etcd args]: start a restored
# member, with etcd's own consistency checks at startup (ETCD_VERIFY=all, 3.5+)
etcd_start_dir() {
    local name=$1 dir=$2 cp=$3 pp=$4
    shift 4
    ETCD_VERIFY=all etcd --name "$name" --data-dir "$dir" \
        --listen-client-urls "http://127.0.0.1:$cp" --advertise-client-urls "http://127.0.0.1:$cp" \
        --listen-peer-urls "http://127.0.0.1:$pp" --logger zap --log-outputs "$T/$name-restored.log" "$@" \
        >>"$T/$name-restored.out" 2>&1 &
    local pid=$!
    _pids="$_pids $pid"
    eval "PID_$name=$pid"
}

etcd_kill() { local p; eval "p=\${PID_$1:-}"; [ -n "$p" ] && kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; true; }
etcd_stop() { local p; eval "p=\${PID_$1:-}"; [ -n "$p" ] && kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; true; }

# wait_healthy ENDPOINTS [etcdctl args]: up to 30 s
wait_healthy() {
    local eps=$1
    shift
    for _ in $(seq 1 150); do
        if etcdctl --endpoints "$eps" "$@" endpoint health >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    return 1
}

ctl() { etcdctl --endpoints "$EP" "$@"; }

# load_keys ENDPOINT PREFIX COUNT [VALUE_SIZE]: COUNT puts in transactions of 100
# (PREFIX%06d = random lower-case letters, the same every run). Over etcd's JSON
# gateway on one connection for http:// (a second for 20k keys, not 20), else
# one etcdctl txn per transaction.
load_keys() {
    local ep=$1 prefix=$2 count=$3 vsize=${4:-20}
    python3 - "$ep" "$prefix" "$count" "$vsize" <<'PY'
import base64, http.client, json, random, subprocess, sys, urllib.parse
ep, prefix, count, vsize = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
random.seed(count)
u = urllib.parse.urlparse(ep)
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30) if u.scheme == "http" else None
for start in range(0, count, 100):
    puts = []
    for i in range(start, min(count, start + 100)):
        v = "".join(random.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(vsize))
        puts.append(("%s%06d" % (prefix, i), v))
    if conn is not None:
        body = json.dumps({"success": [{"requestPut": {
            "key": base64.b64encode(k.encode()).decode(),
            "value": base64.b64encode(v.encode()).decode()}} for k, v in puts]})
        conn.request("POST", "/v3/kv/txn", body, {"Content-Type": "application/json"})
        r = conn.getresponse()
        out = r.read()
        if r.status != 200 or not json.loads(out).get("succeeded"):
            sys.exit("load_keys: %d %s" % (r.status, out[:300]))
        continue
    text = "\n\n" + "".join("put %s %s\n" % kv for kv in puts) + "\n\n"
    r = subprocess.run(["etcdctl", "--endpoints", ep, "txn"], input=text, capture_output=True,
                       text=True)
    if r.returncode != 0 or "SUCCESS" not in r.stdout:
        sys.exit(r.stdout + r.stderr)
PY
}

# dump ENDPOINT FILE [etcdctl args]: every key with value, revisions, version and
# lease, sorted (for comparisons)
dump() {
    local ep=$1 out=$2
    shift 2
    etcdctl --endpoints "$ep" "$@" get --prefix "" -w json | python3 -c '
import json, sys, base64
d = json.load(sys.stdin)
for kv in d.get("kvs", []):
    print(base64.b64decode(kv["key"]).hex(), base64.b64decode(kv.get("value", "")).hex(),
          kv.get("create_revision"), kv.get("mod_revision"), kv.get("version"), kv.get("lease", 0))
' >"$out"
}

# no_output FILE: neither FILE nor a temp file of it (.FILE.part.*, .FILE.tmp.*) exists
no_output() {
    test ! -e "$1" && ! ls -A "$(dirname "$1")" | grep -q "^\.$(basename "$1")\.\(part\|tmp\)\."
}

# last_field REPO_CLUSTER_DIR FIELD: a field of the newest manifest there
last_field() {
    python3 - "$1" "$2" <<'PY'
import json, glob, sys
files = sorted(f for f in glob.glob(sys.argv[1] + "/*.json") if not f.endswith(".verify.json"))
print(json.load(open(files[-1]))[sys.argv[2]] if files else "")
PY
}

# The etcd under test: Debian's 3.4 on PATH, or with EDR_ETCD_VERSION=3.5 (3.6, ...)
# one of tests/etcd-versions, built by scripts/etcd-versions.sh and put first on
# PATH. Each listed version starts looking for its ports elsewhere (BASE_PORT +
# 2000 x its line); edr_port_block below makes the range the test's own.
BASE_PORT=$((BASE_PORT + ${EDR_PORT_SHIFT:-0}))
ETCD_VERSION=""
ETCD_VERSION_DIR=$("$SRCDIR/scripts/etcd-versions.sh" --dir "${EDR_ETCD_VERSION:-3.4}")
if [ -n "${EDR_ETCD_VERSION:-}" ]; then
    ETCD_VERSION=$(basename "$ETCD_VERSION_DIR")
    PATH="$ETCD_VERSION_DIR:$PATH"
    export PATH
    _vi=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$SRCDIR/tests/etcd-versions" | awk -v v="$ETCD_VERSION" '$1 == v { print NR - 1 }')
    BASE_PORT=$((BASE_PORT + 2000 * _vi))
fi

# rev: the current revision of $EP
rev() { ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])'; }
# hashkv ENDPOINT REV: etcd's `endpoint hashkv --rev REV`
hashkv() { etcdctl --endpoints "$1" endpoint hashkv --rev "$2" -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["HashKV"]["hash"])'; }
# dump_rev ENDPOINT FILE REV: every key at REV (value, revisions, version, lease)
dump_rev() {
    etcdctl --endpoints "$1" get --prefix "" --rev "$3" -w json | python3 -c '
import json, sys, base64
for kv in json.load(sys.stdin).get("kvs", []):
    print(base64.b64decode(kv["key"]).hex(), base64.b64decode(kv.get("value", "")).hex(),
          kv.get("create_revision"), kv.get("mod_revision"), kv.get("version"), kv.get("lease", 0))
' >"$2"
}

# mixed_writes P: on $EP (keys under /base/ loaded before), puts, overwrites,
# a txn that also deletes /base/00000P, a DeleteRange, a key with a lease, a
# hot key written 5 times
mixed_writes() {
    local p=$1 l
    load_keys "$EP" "/w$p/" 60 10 >/dev/null || return 1
    load_keys "$EP" "/w$p/" 30 30 >/dev/null || return 1
    printf '\n\nput /txn%s/a 1\nput /txn%s/b 2\ndel /base/00000%s\n\n' "$p" "$p" "$p" | ctl txn >/dev/null
    ctl del --prefix "/w$p/00001" >/dev/null
    l=$(ctl lease grant 3600 | awk '{print $2}')
    ctl put --lease="$l" "/lease$p" v >/dev/null
    for i in 1 2 3 4 5; do ctl put "/hot$p" "v$i" >/dev/null; done
}

# restore_at_rev LABEL REV RESTORE_ARGS...: `etcd-dr restore --to-revision
# REV RESTORE_ARGS` into a new member x, started on BASE_PORT+11/+12; one
# TAP line: ok when its revision, hashkv and keys at REV equal $EP's
restore_at_rev() {
    local label=$1 r=$2 pc=$((BASE_PORT + 11)) pp=$((BASE_PORT + 12)) d want got now
    shift 2
    d=$(mktemp -d "$T/rr.XXXX")
    dump_rev "$EP" "$d.src" "$r"
    want=$(hashkv "$EP" "$r")
    if ! "$EDR" restore --to-revision "$r" "$@" --name x \
        --initial-cluster "x=http://127.0.0.1:$pp" --data-dir "$d/x" >"$d.out" 2>&1; then
        not_ok "$label: restore --to-revision $r"
        sed 's/^/# /' "$d.out" | tail -5
        return
    fi
    etcd_start_dir rx "$d/x" "$pc" "$pp"
    if ! wait_healthy "http://127.0.0.1:$pc"; then
        not_ok "$label: restored etcd at $r starts"
        tail -5 "$T/rx-restored.log" | sed 's/^/# /'
        etcd_kill rx
        return
    fi
    got=$(hashkv "http://127.0.0.1:$pc" "$r")
    dump_rev "http://127.0.0.1:$pc" "$d.got" "$r"
    now=$(EP=http://127.0.0.1:$pc rev)
    if [ "$got" = "$want" ] && [ "$now" = "$r" ] && cmp -s "$d.src" "$d.got"; then
        ok "$label: restore --to-revision $r: revision, hashkv and keys equal the source's"
    else
        not_ok "$label: restore --to-revision $r: revision $now, hashkv $got (want $want)"
        diff "$d.src" "$d.got" | head -5 | sed 's/^/# /'
    fi
    etcd_stop rx
}

# edr_port_block: makes BASE_PORT..+99 this test's own. Tests run two at a
# time (make -j2), a test may run against several etcd versions, and two
# checkouts may test at once, so a fixed range per test is not enough: the
# ports are cut into blocks of 100 (23000-32699, below Linux's ephemeral
# ports), and the test takes the first block, from the one its BASE_PORT
# falls in, whose lock file it can lock and where nothing listens. The lock
# is held by an open descriptor until the test and every process it started
# (they inherit it) have exited.
EDR_PORT_LOCKS=${EDR_PORT_LOCKS:-/tmp/edr-it-ports}
edr_port_block() {
    local first=23000 n=97 i b k
    mkdir -p "$EDR_PORT_LOCKS" 2>/dev/null
    i=$(( (BASE_PORT - first) / 100 ))
    [ "$i" -ge 0 ] || i=0
    for k in $(seq 0 $((n - 1))); do
        b=$((first + ((i + k) % n) * 100))
        exec {_edr_port_fd}>"$EDR_PORT_LOCKS/$b"
        if flock -n "$_edr_port_fd"; then
            if ! command -v ss >/dev/null ||
                [ -z "$(ss -Htln "sport >= :$b and sport <= :$((b + 99))" 2>/dev/null)" ]; then
                BASE_PORT=$b
                return 0
            fi
            flock -u "$_edr_port_fd"
        fi
        exec {_edr_port_fd}>&-
    done
    bail "no free block of 100 ports in $first-$((first + n * 100 - 1))"
}
edr_port_block

# bbolt's CLI of the bbolt version this etcd links (built with the etcd versions)
BBOLT="$ETCD_VERSION_DIR/bbolt"

# snapctl ARGS: "snapshot status/restore" with this version's tool (etcdutl from 3.5 on;
# 3.6 removed them from etcdctl)
snapctl() {
    if [ -x "$ETCD_VERSION_DIR/etcdutl" ]; then "$ETCD_VERSION_DIR/etcdutl" "$@"; else etcdctl "$@"; fi
}

# etcd_minor: 34, 35, 36, 37 for the etcd under test
etcd_minor() { etcd --version | sed -n 's/^etcd Version: \([0-9]*\)\.\([0-9]*\).*/\1\2/p'; }

# wal_content WAL_FILE [3.4]: the records of a WAL segment, decoded, one per
# line, with the CRCs left out and zero-valued varints dropped (proto3 writers
# differ there: 3.7's google protobuf omits them, gogo wrote them); with 3.4,
# the final snapshot record's conf_state is dropped too (3.4 did not write it).
# Two WALs that print the same hold the same records.
wal_content() {
    python3 - "$@" <<'PY'
import struct, sys
def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
def msg(b, nested=()):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i)
        f, t = k >> 3, k & 7
        if t == 0:
            v, i = varint(b, i)
            if v == 0: continue
        elif t == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
            v = msg(v) if f in nested else v.hex()
        elif t == 5: v = b[i:i + 4].hex(); i += 4
        elif t == 1: v = b[i:i + 8].hex(); i += 8
        out.append((f, v))
    return sorted(out, key=repr)
data = open(sys.argv[1], "rb").read()
old34 = len(sys.argv) > 2 and sys.argv[2] == "3.4"
i = 0
while i + 8 <= len(data):
    word = struct.unpack("<Q", data[i:i + 8])[0]
    n, pad = word & ((1 << 56) - 1), (word >> 56) & 7 if word >> 63 else 0
    if n == 0: break
    rec = dict(msg(data[i + 8:i + 8 + n]))
    i += 8 + n + pad
    typ, body = rec.get(1, 0), bytes.fromhex(rec.get(3, ""))
    if typ == 2:   # raftpb.Entry; a conf change entry (type 1) decoded too
        e = dict(msg(body))
        if e.get(1) == 1: e[4] = msg(bytes.fromhex(e[4]))
        print("entry", sorted(e.items(), key=repr))
    elif typ == 5:  # walpb.Snapshot
        s = dict(msg(body, nested=(3,)))
        if old34: s.pop(3, None)
        print("snapshot", sorted(s.items(), key=repr))
    elif typ != 4:  # crc records only chain the checksums
        print("record", typ, msg(body))
PY
}
