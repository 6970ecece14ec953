#!/bin/bash
# TLS with client certificates and user/password auth: both work; a wrong
# password, a missing CA and an untrusted server certificate each end in a
# one-line error and the documented exit code, with nothing published.
BASE_PORT=23200
. "$(dirname "$0")/lib.sh"
require_etcd

P="$T/pki"
mkdir -p "$P"
mkcert() { # mkcert CA NAME EXT
    openssl req -newkey rsa:2048 -nodes -keyout "$P/$2-key.pem" -out "$P/$2.csr" -subj "/CN=$2" >/dev/null 2>&1
    printf '%s\n' "$3" >"$P/$2.ext"
    openssl x509 -req -in "$P/$2.csr" -CA "$P/$1.pem" -CAkey "$P/$1.key" -CAcreateserial \
        -out "$P/$2.pem" -days 2 -extfile "$P/$2.ext" >/dev/null 2>&1
}
mkca ca
mkca otherca
mkcert ca server "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth,clientAuth"
mkcert ca client "extendedKeyUsage=clientAuth"
chmod 600 "$P"/*-key.pem

CP=$((BASE_PORT + 1))
EP=https://127.0.0.1:$CP
etcd_start m1 $CP $((BASE_PORT + 2)) "" --cert-file "$P/server.pem" --key-file "$P/server-key.pem" \
    --trusted-ca-file "$P/ca.pem" --client-cert-auth
TLS=(--cacert "$P/ca.pem" --cert "$P/client.pem" --key "$P/client-key.pem")
wait_healthy "$EP" "${TLS[@]}" || bail "etcd with TLS did not start"
for i in $(seq 1 20); do etcdctl --endpoints "$EP" "${TLS[@]}" put /k/$i v$i >/dev/null; done

"$EDR" keygen -o "$T/k" >/dev/null
B=(backup --endpoints "$EP" --repo "$T/repo" --cluster tls --recipient "$T/k.pub")
check "backup over TLS with a client certificate" "$EDR" "${B[@]}" "${TLS[@]}"
expect_fail "no CA given: TLS error" 6 "TLS|certificate" "$EDR" "${B[@]}" --cert "$P/client.pem" --key "$P/client-key.pem"
expect_fail "untrusted server certificate: TLS error" 6 "TLS|certificate" \
    "$EDR" "${B[@]}" --cacert "$P/otherca.pem" --cert "$P/client.pem" --key "$P/client-key.pem"
expect_fail "no client certificate: refused" 6 "TLS|certificate|handshake|alert" "$EDR" "${B[@]}" --cacert "$P/ca.pem"
check "--insecure-skip-tls-verify works and warns" sh -c "'$EDR' ${B[*]} --insecure-skip-tls-verify --cert '$P/client.pem' --key '$P/client-key.pem' 2>&1 | grep -q 'NOT verified'"

# auth: root user with a password
etcdctl --endpoints "$EP" "${TLS[@]}" user add root:s3cret-pw >/dev/null 2>&1
etcdctl --endpoints "$EP" "${TLS[@]}" auth enable >/dev/null 2>&1
printf 's3cret-pw\n' >"$T/pw"
chmod 600 "$T/pw"
printf 'wrong\n' >"$T/badpw"
chmod 600 "$T/badpw"
check "backup with user root and --password-file" "$EDR" "${B[@]}" "${TLS[@]}" --user root --password-file "$T/pw"
check "backup with the password from ETCD_DR_PASSWORD" env ETCD_DR_PASSWORD=s3cret-pw "$EDR" "${B[@]}" "${TLS[@]}" --user root
check "etcdctl-style ETCDCTL_USER=name:password works" env ETCDCTL_USER=root:s3cret-pw "$EDR" "${B[@]}" "${TLS[@]}"
N=$("$EDR" list --repo "$T/repo" --cluster tls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
expect_fail "wrong password: auth error" 5 "auth|password|authentication" "$EDR" "${B[@]}" "${TLS[@]}" --user root --password-file "$T/badpw"
expect_fail "no credentials with auth enabled: auth error" 5 "auth|token|user" "$EDR" "${B[@]}" "${TLS[@]}"
N2=$("$EDR" list --repo "$T/repo" --cluster tls --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "failed runs published nothing ($N backups before, $N2 after)" test "$N" = "$N2"
check "the password never appears in logs" sh -c "! '$EDR' ${B[*]} ${TLS[*]} --user root --password-file '$T/pw' --log-level debug 2>&1 | grep -q s3cret-pw"
check "the backup taken with auth exports and verifies its trailer" \
    "$EDR" export latest --repo "$T/repo" --cluster tls --identity "$T/k.key" -o "$T/e.db"
done_testing
