#!/bin/bash
# S3 over HTTPS with virtual-hosted addressing and temporary credentials:
# etcd 3.4 -> etcd-dr -> front.js (HTTPS, SigV4 with x-amz-security-token,
# Host: BUCKET.s3.localhost) -> s3rver. libcurl resolves *.localhost to the
# loopback address itself, so no DNS or /etc/hosts change is needed.
# Backup, list, verify, get and multipart work path-style and virtual-hosted
# with --s3-cacert and AWS_SESSION_TOKEN (or a profile's aws_session_token);
# settings also come from the config file's [repo] section (secret from a file)
# and from AWS_ENDPOINT_URL_S3/AWS_DEFAULT_REGION; a missing or wrong token,
# no CA and an untrusted CA are one-line errors with the documented exit code
# and leave nothing listed.
# Ports of its block (lib.sh): etcd +1/+2, front +20, s3rver +21.
BASE_PORT=23700
. "$(dirname "$0")/lib.sh"
require_etcd
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
s3_test_prepare

P="$T/pki"
mkdir -p "$P"
mkca ca
mkca otherca
openssl req -newkey rsa:2048 -nodes -keyout "$P/s3-key.pem" -out "$P/s3.csr" -subj "/CN=s3" \
    >/dev/null 2>&1
printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:s3.localhost,DNS:*.s3.localhost" \
    "extendedKeyUsage=serverAuth" >"$P/s3.ext"
openssl x509 -req -in "$P/s3.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial \
    -out "$P/s3.pem" -days 2 -extfile "$P/s3.ext" >/dev/null 2>&1 || bail "no server certificate"

TOKEN="FwoGZXIvYXdzEXAMPLE//token+with/odd=chars"
S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 20)) S3_BUCKETS=bkt
S3_TLS_CERT=$P/s3.pem S3_TLS_KEY=$P/s3-key.pem
S3_FRONT_ARGS="--min-part-size 1048576"
S3FRONT_SESSION_TOKEN=$TOKEN s3_start || bail "$S3_WHY"
LOG=$T/requests.log
case $S3_EP in https://*) ok "the front serves HTTPS ($S3_EP)" ;; *) bail "front not on https" ;; esac

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=sekret AWS_SESSION_TOKEN=$TOKEN
export AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_CONFIG_FILE=/nonexistent
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_REGION
# 1 MiB parts need the test build of etcd-dr (tests/unit/storage/s3_test_env.c)
EDRT=$(dirname "$EDR")/tests/unit/storage/etcd-dr-s3test
[ -x "$EDRT" ] || bail "$EDRT is missing (make check builds it)"
VHOST=https://s3.localhost:$S3_FPORT
PATHS=(--s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1 --s3-cacert "$P/ca.pem")
VH=(--s3-endpoint "$VHOST" --s3-region us-east-1 --s3-cacert "$P/ca.pem")

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
"$EDR" keygen -o "$T/k" >/dev/null || bail "keygen failed"
load_keys "$EP" /app/ 500 || bail "load failed"
ctl put /app/config "hello over tls" >/dev/null || bail "put failed"

# bk CLUSTER ADDRESSING... : back up into s3://bkt/prod
bk() {
    local c=$1
    shift
    "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod --cluster "$c" --recipient "$T/k.pub" "$@"
}
# n CLUSTER: how many backups list shows (path-style, good credentials)
n() {
    "$EDR" list --repo s3://bkt/prod --cluster "$1" "${PATHS[@]}" --json |
        python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
count_log() { grep -cE -- "$1" "$LOG"; }

# ---- 1. path-style over HTTPS with a session token -----------------------------
check "backup over HTTPS, path-style, session token" bk tls "${PATHS[@]}"
check "list shows it" test "$(n tls)" = 1
check "every request carried the token: no auth error so far" test "$(s3_stat auth_errors)" = 0
check "verify --level content reads it back over HTTPS" "$EDR" verify latest --repo s3://bkt/prod \
    --cluster tls "${PATHS[@]}" --identity "$T/k.key" --level content

# ---- 2. virtual-hosted addressing ------------------------------------------------
v0=$(s3_stat virtual_hosted)
l0=$(wc -l <"$LOG")
check "backup with virtual-hosted addressing (Host: bkt.s3.localhost)" bk vh "${VH[@]}"
check "the front saw virtual-hosted requests" test "$(s3_stat virtual_hosted)" -gt "$v0"
tail -n +"$((l0 + 1))" "$LOG" >"$T/vh.log"
diag "e.g. $(grep -m1 '^PUT' "$T/vh.log")"
check "that run's requests ($(wc -l <"$T/vh.log")) were logged" test "$(wc -l <"$T/vh.log")" -ge 4
check "and none named the bucket in its path" test "$(grep -c ' /bkt' "$T/vh.log")" = 0
check "list (virtual-hosted) shows the backup" test "$("$EDR" list --repo s3://bkt/prod --cluster vh \
    "${VH[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
check "path-style sees the same object" test "$(n vh)" = 1
check "get (virtual-hosted) returns the live value" test "$("$EDR" get latest --repo s3://bkt/prod \
    --cluster vh "${VH[@]}" --identity "$T/k.key" /app/config -o value)" = "hello over tls"
check "export (virtual-hosted) gives a snapshot etcdctl reads" "$EDR" export latest \
    --repo s3://bkt/prod --cluster vh "${VH[@]}" --identity "$T/k.key" -o "$T/vh.db"
check "with etcd's revision" test "$(snapctl snapshot status "$T/vh.db" -w json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')" = \
    "$(ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')"

# ---- 3. multipart over HTTPS, virtual-hosted ---------------------------------------
for i in $(seq 1 40); do # ~4 MiB of values that compress to ~3 MiB
    head -c 75000 /dev/urandom | base64 -w0 | ctl put "/big/$i" >/dev/null || bail "put failed"
done
p0=$(count_log 'partNumber=[0-9]+&uploadId=[^ ]* 200$')
check "multipart backup with 1 MiB parts (test build)" env EDR_S3_TEST_SMALL_PARTS=1 "$EDRT" backup \
    --endpoints "$EP" --repo s3://bkt/prod --cluster mp "${VH[@]}" --recipient "$T/k.pub" \
    --s3-part-size 1048576
parts=$(($(count_log 'partNumber=[0-9]+&uploadId=[^ ]* 200$') - p0))
check "the front saw >= 3 parts ($parts)" test "$parts" -ge 3
check "the assembled object verifies" "$EDR" verify latest --repo s3://bkt/prod --cluster mp \
    "${VH[@]}" --identity "$T/k.key" --level content

# ---- 4. the token from a profile ----------------------------------------------------
cat >"$T/credentials" <<EOF
[tmp]
aws_access_key_id = test
aws_secret_access_key = sekret
aws_session_token = $TOKEN
EOF
chmod 600 "$T/credentials"
check "credentials and token from AWS_PROFILE's shared file" env -u AWS_ACCESS_KEY_ID \
    -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE="$T/credentials" \
    AWS_PROFILE=tmp "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod --cluster prof \
    --recipient "$T/k.pub" "${VH[@]}"
check "listed" test "$(n prof)" = 1

# ---- 5. settings from a config file and from AWS_* variables ---------------------------
printf 'sekret\n' >"$T/s3.secret"
chmod 600 "$T/s3.secret"
cat >"$T/edr.conf" <<EOF
[repo]
path = s3://bkt/prod
cluster = conf
s3-endpoint = $VHOST
s3-region = us-east-1
s3-cacert = $P/ca.pem
s3-secret-file = $T/s3.secret
recipient = $T/k.pub
identity = $T/k.key
EOF
check "backup with every S3 setting from the config file's [repo] (secret from a file)" \
    env -u AWS_SECRET_ACCESS_KEY "$EDR" backup --config "$T/edr.conf" --endpoints "$EP"
check "list --config finds it" test "$(env -u AWS_SECRET_ACCESS_KEY "$EDR" list --config "$T/edr.conf" \
    --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
check "endpoint and region from AWS_ENDPOINT_URL_S3 and AWS_DEFAULT_REGION" test "$(env \
    AWS_ENDPOINT_URL_S3="$S3_EP" AWS_DEFAULT_REGION=us-east-1 "$EDR" list --repo s3://bkt/prod \
    --cluster conf --s3-path-style --s3-cacert "$P/ca.pem" --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 1
expect_fail "AWS_DEFAULT_REGION is used: another region than the server's is refused" 7 \
    "eu-west-1|region|Authorization" env AWS_ENDPOINT_URL_S3="$S3_EP" \
    AWS_DEFAULT_REGION=eu-west-1 "$EDR" list --repo s3://bkt/prod --cluster conf --s3-path-style \
    --s3-cacert "$P/ca.pem"

# ---- 6. failures: token, TLS ---------------------------------------------------------
expect_fail "no session token: exit 7 naming the token" 7 "[Tt]oken" \
    env -u AWS_SESSION_TOKEN "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod --cluster bad \
    --recipient "$T/k.pub" "${VH[@]}"
sed "s/^/# /" "$T/.ef.err"
expect_fail "a wrong session token: exit 7" 7 "[Tt]oken" \
    env AWS_SESSION_TOKEN=wrong "$EDR" backup --endpoints "$EP" --repo s3://bkt/prod \
    --cluster bad --recipient "$T/k.pub" "${PATHS[@]}"
expect_fail "no CA for the server's certificate: TLS error, exit 6" 6 "tls|TLS|certificate" \
    bk bad --s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1
sed "s/^/# /" "$T/.ef.err"
expect_fail "an untrusted CA: exit 6" 6 "tls|TLS|certificate" \
    bk bad --s3-endpoint "$VHOST" --s3-region us-east-1 --s3-cacert "$P/otherca.pem"
expect_fail "list over HTTPS without the CA: exit 6" 6 "tls|TLS|certificate" \
    "$EDR" list --repo s3://bkt/prod --cluster tls --s3-endpoint "$S3_EP" --s3-path-style \
    --s3-region us-east-1
# the failed runs left nothing: no cluster "bad" at all (list names those there are)
expect_fail "nothing of the failed runs is listed" 8 "no cluster 'bad' in 's3://bkt/prod'; it holds: " \
    "$EDR" list --repo s3://bkt/prod --cluster bad "${PATHS[@]}" --json
check "the good backups are all still there" test "$(n tls)$(n vh)$(n mp)$(n prof)$(n conf)" = 11111

done_testing
