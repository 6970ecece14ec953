# Sourced by the S3 integration tests (t0500, t0510): starts s3rver (npm) on
# a directory with front.js in front of it on 127.0.0.1, stops and restarts
# them on the same directory, reads the front's counters and lists open
# multipart uploads with a signed request. POSIX sh; needs SRCDIR set.
#
# Settings (set before s3_start; defaults in brackets):
#   S3_DATA        s3rver's directory (required)
#   S3_FPORT       front port (required); S3_SPORT s3rver port [S3_FPORT+1]
#   S3_LOGDIR      where s3rver.log, front.log and requests.log go [S3_DATA/..]
#   S3_BUCKETS     buckets created at start ["bkt"]
#   S3_FRONT_ARGS  extra front.js options, split on spaces [""]
#   S3_TLS_CERT, S3_TLS_KEY  PEM files: the front serves HTTPS (S3_EP https://)
#   S3_ACCESS_KEY, S3_SECRET: the only credentials the front accepts [test, sekret]
# After s3_start: S3_EP (the front's URL), S3_SPID, S3_FPID, and
# $S3_LOGDIR/requests.log with one "METHOD URL STATUS" line per request.
# The caller kills the servers on exit with s3_stop (e.g. in its trap).

S3DIR=$SRCDIR/tests/integration/s3
S3_SPID=
S3_FPID=
S3_WHY=

# s3_client_env: etcd-dr (and any AWS client) talks to the front as its
# one user, in us-east-1, with nothing read from the caller's AWS setup
s3_client_env() {
    export AWS_ACCESS_KEY_ID="${S3_ACCESS_KEY:-test}" AWS_SECRET_ACCESS_KEY="${S3_SECRET:-sekret}"
    export AWS_REGION=us-east-1 AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
    unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
}

# s3_require: node and the npm packages are there (runs `npm ci` once when
# node_modules is missing); otherwise returns 1 with the reason in S3_WHY.
s3_require() {
    if ! command -v node >/dev/null 2>&1; then
        S3_WHY="node not installed"
        return 1
    fi
    if [ ! -f "$S3DIR/node_modules/s3rver/bin/s3rver.js" ]; then
        if ! (cd "$S3DIR" && npm ci --no-audit --no-fund >/dev/null 2>&1); then
            S3_WHY="npm packages of $S3DIR missing (run: npm ci --prefix $S3DIR)"
            return 1
        fi
    fi
    return 0
}

# s3_wait_port PORT: up to 10 s for something to listen on 127.0.0.1:PORT
s3_wait_port() {
    node -e '
const net = require("net");
const end = Date.now() + 10000;
(function again() {
    net.connect(Number(process.argv[1]), "127.0.0.1")
        .on("connect", function () { this.destroy(); process.exit(0); })
        .on("error", () => (Date.now() > end ? process.exit(1) : setTimeout(again, 50)));
})();' "$1"
}

# s3_test_prepare: for the CLI tests (after lib.sh): s3_require, else a TAP
# skip (a bail-out when CI is set); the servers are stopped on exit.
s3_test_prepare() {
    if ! s3_require; then
        [ -n "${CI:-}" ] && bail "$S3_WHY (CI is set)"
        echo "1..0 # SKIP $S3_WHY"
        exit 0
    fi
    trap 's3_stop; cleanup' EXIT
}

# s3_start: start s3rver and the front (again, after s3_stop: same directory).
s3_start() {
    : "${S3_SPORT:=$((S3_FPORT + 1))}"
    : "${S3_LOGDIR:=$(dirname "$S3_DATA")}"
    : "${S3_BUCKETS:=bkt}"
    : "${S3_ACCESS_KEY:=test}"
    : "${S3_SECRET:=sekret}"
    S3_EP=http://127.0.0.1:$S3_FPORT
    _s3tls=
    if [ -n "${S3_TLS_CERT:-}" ]; then
        S3_EP=https://127.0.0.1:$S3_FPORT
        _s3tls="--tls-cert $S3_TLS_CERT --tls-key $S3_TLS_KEY"
    fi
    mkdir -p "$S3_DATA"
    set --
    for _s3b in $S3_BUCKETS; do set -- "$@" --configure-bucket "$_s3b"; done
    NODE_OPTIONS=--openssl-legacy-provider node "$S3DIR/node_modules/s3rver/bin/s3rver.js" \
        --directory "$S3_DATA" --port "$S3_SPORT" --address 127.0.0.1 --silent "$@" \
        >>"$S3_LOGDIR/s3rver.log" 2>&1 &
    S3_SPID=$!
    # shellcheck disable=SC2086 # S3_FRONT_ARGS is a list of options
    S3FRONT_SECRET_KEY=$S3_SECRET node "$S3DIR/front.js" --port "$S3_FPORT" \
        --access-key "$S3_ACCESS_KEY" --upstream "http://127.0.0.1:$S3_SPORT" \
        --s3rver-dir "$S3_DATA" --log "$S3_LOGDIR/requests.log" ${S3_FRONT_ARGS:-} $_s3tls \
        >>"$S3_LOGDIR/front.log" 2>&1 &
    S3_FPID=$!
    if s3_wait_port "$S3_SPORT" && s3_wait_port "$S3_FPORT"; then
        return 0
    fi
    S3_WHY="s3rver or front did not start: $(cat "$S3_LOGDIR/s3rver.log" "$S3_LOGDIR/front.log")"
    return 1
}

# s3_stop [SIGNAL]: stop both servers (TERM by default; KILL to simulate a crash)
s3_stop() {
    for _s3p in $S3_FPID $S3_SPID; do kill "-${1:-TERM}" "$_s3p" 2>/dev/null; done
    for _s3p in $S3_FPID $S3_SPID; do wait "$_s3p" 2>/dev/null; done
    S3_FPID=
    S3_SPID=
}

# s3_front HOOK: GET /__front/HOOK (e.g. "stats", "faults?first=2&kind=503")
s3_front() {
    node -e '
const u = process.argv[1];
require(u.startsWith("https:") ? "https" : "http").get(u, { rejectUnauthorized: false }, (r) => {
    let b = "";
    r.on("data", (c) => (b += c));
    r.on("end", () => process.stdout.write(b));
}).on("error", (e) => { process.stderr.write(e.message + "\n"); process.exit(1); });' \
        "$S3_EP/__front/$1"
}

# s3_stat NAME: one counter of the front (requests, parts, aborts, open_uploads...)
s3_stat() {
    s3_front stats | node -e '
let b = "";
process.stdin.on("data", (c) => (b += c)).on("end", () => console.log(JSON.parse(b)[process.argv[1]]));' "$1"
}

# s3_uploads BUCKET [PREFIX]: the open multipart uploads, one "KEY UPLOAD_ID"
# line each, from a signed ListMultipartUploads through the front.
s3_uploads() {
    AWS_ACCESS_KEY_ID=$S3_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$S3_SECRET \
        node "$S3DIR/s3req.js" --uploads "$S3_EP" "$1" "${2:-}"
}
