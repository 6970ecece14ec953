#!/bin/bash
# restore --check: the preflight writes nothing and reports every check on
# its own line. Each blocker is produced on purpose on a backup of a real
# etcd holding Kubernetes-looking keys and a k3s-style /bootstrap/ key: a
# non-empty data dir, a peer certificate without the member's host in its
# SANs (made with openssl), a target etcd too old for the data, a wrong k3s
# server token, duplicate client URLs (all in one run: five BLOCK lines),
# then a malformed and a duplicate peer URL, and a NOSPACE alarm (a warning) carried
# by the backup, and Secrets encrypted at rest (aescbc, made with the openssl
# CLI in the API server's format) that the given EncryptionConfiguration
# cannot open: one under a key name it lacks, one under a name it has with
# other key bytes; each run exits 13 and leaves the targets' parent as it
# was.
# A run with everything right passes (exit 0) and its --json says so; stale
# master leases are a warning naming --drop-prefix.
BASE_PORT=25330
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
ctl put /registry/pods/default/p1 pod >/dev/null
ctl put /registry/masterleases/10.0.0.1 ip >/dev/null
# k3s keeps its bootstrap data under /bootstrap/ + 12 hex digits of the
# sha256 of the token's password (k3s pkg/cluster/encrypt.go)
BOOTKEY=/bootstrap/$(printf %s right-password | sha256sum | cut -c1-12)
ctl put "$BOOTKEY" "salt:sealed-bootstrap-data" >/dev/null
"$EDR" keygen -o "$T/k" >/dev/null
check "backup" "$EDR" backup --endpoints "$EP" --repo "$T/repo" --cluster k --recipient "$T/k.pub" -q
RR=(--repo "$T/repo" --cluster k --identity "$T/k.key")
etcd_stop src

PP=$((BASE_PORT + 11))
IC=(--name m1 --initial-cluster "m1=https://127.0.0.1:$PP")
mkdir -p "$T/tgt/busy" && echo x >"$T/tgt/busy/file"
listing() { (cd "$T/tgt" && find . -printf '%p %s %m %T@\n' | sort); }
listing >"$T/before"

# certificates: a CA, a peer cert for another host, one for 127.0.0.1
P=$T/pki
mkdir -p "$P"
mkca ca
mkcert() { # mkcert NAME SAN
    openssl req -newkey rsa:2048 -nodes -keyout "$P/$1.key" -out "$P/$1.csr" -subj "/CN=$1" >/dev/null 2>&1
    openssl x509 -req -in "$P/$1.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
        -out "$P/$1.pem" -extfile <(printf 'subjectAltName=%s\n' "$2") >/dev/null 2>&1
}
mkcert m1-wrong "DNS:other.example,IP:10.9.9.9"
mkcert m1 "DNS:m1.example,IP:127.0.0.1"
check "the certificates were made" test -s "$P/m1-wrong.pem" -a -s "$P/m1.pem"
printf 'K10%s::server:wrong-password\n' "$(printf %064d 0)" >"$T/wrong-token"
printf 'K10%s::server:right-password\n' "$(printf %064d 0)" >"$T/right-token"
chmod 600 "$T/wrong-token" "$T/right-token"

# --- five blockers at once
"$EDR" restore --check latest "${RR[@]}" "${IC[@]}" --data-dir "$T/tgt/busy" \
    --peer-cert "$P/{name}-wrong.pem" --target-version 3.3 --server-token-file "$T/wrong-token" \
    --listen-client-urls "http://127.0.0.1:$((BASE_PORT + 20)),http://127.0.0.1:$((BASE_PORT + 20))" \
    >"$T/c1.out" 2>"$T/c1.err"
RC=$?
sed 's/^/#   /' "$T/c1.out"
check "exit 13 when checks block" test "$RC" -eq 13
check "one error line: 5 checks block" grep -q "^etcd-dr: error: restore --check: 5 checks block the restore" "$T/c1.err"
check "a table with a header" grep -Eq "^CHECK +RESULT +DETAIL" "$T/c1.out"
check "the data dir is not empty" grep -Eq "^data dir m1 +BLOCK +'$T/tgt/busy' is not empty" "$T/c1.out"
check "the peer cert does not name the host" \
    grep -Eq "^peer cert m1 +BLOCK +'$P/m1-wrong.pem' does not name '127.0.0.1' \(its SANs: DNS:other.example, IP:10.9.9.9\)" "$T/c1.out"
check "etcd 3.3 cannot start it" grep -Eq "^etcd version +BLOCK +backup holds etcd 3\.[0-9]+ data .*etcd 3.3 cannot start it" "$T/c1.out"
check "the server token is not this backup's" \
    grep -Eq "^server token +BLOCK +'$T/wrong-token' is not the token of this backup: its bootstrap data is under $BOOTKEY" "$T/c1.out"
check "the client URL is given twice" grep -Eq "^client URLs +BLOCK +'http://127.0.0.1:$((BASE_PORT + 20))' is given twice" "$T/c1.out"
check "exactly five BLOCK lines" test "$(grep -c ' BLOCK ' "$T/c1.out")" -eq 5
check "no secret in the output" sh -c "! grep -q wrong-password '$T/c1.out' '$T/c1.err'"
check "stale master leases: a warning naming --drop-prefix" \
    grep -Eq "^masterleases +warn +1 key \(/registry/masterleases/10.0.0.1\).*--drop-prefix /registry/masterleases/" "$T/c1.out"
listing >"$T/after"
check "nothing written next to the targets" cmp -s "$T/before" "$T/after"

# --- peer URLs, one run each (the cluster is parsed as restore does)
"$EDR" restore --check latest "${RR[@]}" --name m1 --initial-cluster "m1=http://127.0.0.1:notaport" \
    --data-dir "$T/tgt/new" >"$T/c2.out" 2>"$T/c2.err"
check "a malformed peer URL: exit 13" test $? -eq 13
check "a malformed peer URL: its own line" grep -Eq "^peer URLs +BLOCK +--initial-cluster: member 'm1': URL 'http://127.0.0.1:notaport'" "$T/c2.out"
"$EDR" restore --check latest "${RR[@]}" --all-members \
    --initial-cluster "a=http://127.0.0.1:$PP,b=http://127.0.0.1:$PP" --data-dir "$T/tgt/{name}" \
    >"$T/c3.out" 2>"$T/c3.err"
check "a duplicate peer URL: exit 13" test $? -eq 13
check "a duplicate peer URL: its own line" grep -Eq "^peer URLs +BLOCK +.*'http://127.0.0.1:$PP' is given for both 'a' and 'b'" "$T/c3.out"
listing >"$T/after"
check "still nothing written" cmp -s "$T/before" "$T/after"

# --- everything right: exit 0, and --json
if "$EDR" restore --check latest "${RR[@]}" "${IC[@]}" --data-dir "$T/tgt/new" \
    --peer-cert "$P/{name}.pem" --target-version 3.7 --server-token-file "$T/right-token" \
    --listen-client-urls "http://127.0.0.1:$((BASE_PORT + 20))" --drop-prefix /registry/masterleases/ \
    >"$T/c4.out" 2>"$T/c4.err"; then
    ok "a sound restore passes the check"
else
    not_ok "a sound restore does not pass: $(cat "$T/c4.out" "$T/c4.err")"
fi
sed 's/^/#   /' "$T/c4.out"
check "no BLOCK line" sh -c "! grep -q ' BLOCK ' '$T/c4.out'"
check "the peer cert names the host" grep -Eq "^peer cert m1 +ok " "$T/c4.out"
check "the server token's bootstrap data is there" grep -Eq "^server token +ok +.*$BOOTKEY" "$T/c4.out"
check "the data dir: absent, parent writable, space" grep -Eq "^data dir m1 +ok +'$T/tgt/new' absent; '$T/tgt' writable, .* free, .* needed" "$T/c4.out"
check "masterleases left out by --drop-prefix" grep -Eq "^masterleases +ok +1 key, left out by --drop-prefix" "$T/c4.out"
"$EDR" restore --check latest "${RR[@]}" "${IC[@]}" --data-dir "$T/tgt/new" --json >"$T/c5.json" 2>/dev/null
check "--json: ok true, one object per check" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is True, d
assert all(set(c) == {"check", "result", "detail"} and c["result"] in ("ok", "warn", "block") for c in d["checks"]), d
assert any(c["check"] == "data dir m1" and c["result"] == "ok" for c in d["checks"]), d
' "$T/c5.json"
"$EDR" restore --check latest "${RR[@]}" "${IC[@]}" --data-dir "$T/tgt/busy" --json >"$T/c6.json" 2>/dev/null
check "--json: ok false and a block when one blocks" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False and [c["check"] for c in d["checks"] if c["result"] == "block"] == ["data dir m1"], d
' "$T/c6.json"
listing >"$T/after"
check "nothing written by any run" cmp -s "$T/before" "$T/after"

# --- a NOSPACE alarm carried by the backup
EP2=http://127.0.0.1:$((BASE_PORT + 41))
etcd_start full $((BASE_PORT + 41)) $((BASE_PORT + 42)) "" --quota-backend-bytes 200000
wait_healthy "$EP2" || bail "etcd did not start"
for i in $(seq 1 100); do
    head -c 20000 /dev/zero | tr '\0' x | etcdctl --endpoints "$EP2" put /big/$i >/dev/null 2>&1 || break
done
check "the quota raised NOSPACE" sh -c "etcdctl --endpoints $EP2 alarm list | grep -q NOSPACE"
check "backup with the alarm" "$EDR" backup --endpoints "$EP2" --repo "$T/repo" --cluster full --recipient "$T/k.pub" -q
etcd_stop full
"$EDR" restore --check latest --repo "$T/repo" --cluster full --identity "$T/k.key" \
    --data-dir "$T/tgt/new" >"$T/c7.out" 2>"$T/c7.err"
check "NOSPACE warns, does not block: exit 0" test $? -eq 0
check "NOSPACE: its own line" grep -Eq "^alarms +warn +the backup holds NOSPACE" "$T/c7.out"
listing >"$T/after"
check "nothing written" cmp -s "$T/before" "$T/after"

# --- encryption at rest: aescbc as the API server writes it,
# "k8s:enc:aescbc:v1:<key name>:" + IV + AES-256-CBC (PKCS#7) of the object
EP3=http://127.0.0.1:$((BASE_PORT + 51))
etcd_start enc $((BASE_PORT + 51)) $((BASE_PORT + 52))
wait_healthy "$EP3" || bail "etcd did not start"
K1=$(openssl rand -hex 32) KX=$(openssl rand -hex 32)
hexbin() { printf "$(printf %s "$1" | sed 's/../\\x&/g')"; }
seal() { # seal KEYNAME KEYHEX PLAINTEXT > value
    local iv
    iv=$(openssl rand -hex 16)
    printf 'k8s:enc:aescbc:v1:%s:' "$1"
    hexbin "$iv"
    printf '%s' "$3" | openssl enc -aes-256-cbc -K "$2" -iv "$iv"
}
cat >"$T/enc.yaml" <<YAML
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - aescbc:
          keys:
            - name: key1
              secret: $(hexbin "$K1" | base64)
      - identity: {}
YAML
chmod 600 "$T/enc.yaml"
seal key1 "$K1" '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"s1"}}' >"$T/s1.bin"
etcdctl --endpoints "$EP3" put /registry/secrets/default/s1 <"$T/s1.bin" >/dev/null
check "backup with a Secret that opens" "$EDR" backup --endpoints "$EP3" --repo "$T/repo" --cluster enc --recipient "$T/k.pub" -q
ENC1=$(last_field "$T/repo/enc" id)
seal key2 "$K1" '{"kind":"Secret","metadata":{"name":"s2"}}' >"$T/s2.bin"
seal key1 "$KX" '{"kind":"Secret","metadata":{"name":"s3"}}' >"$T/s3.bin"
etcdctl --endpoints "$EP3" put /registry/secrets/default/s2 <"$T/s2.bin" >/dev/null
etcdctl --endpoints "$EP3" put /registry/secrets/default/s3 <"$T/s3.bin" >/dev/null
check "backup with Secrets that do not" "$EDR" backup --endpoints "$EP3" --repo "$T/repo" --cluster enc --recipient "$T/k.pub" -q
etcd_stop enc
ENC=(--repo "$T/repo" --cluster enc --identity "$T/k.key" --data-dir "$T/tgt/new" --encryption-config "$T/enc.yaml")
"$EDR" restore --check "$ENC1" "${ENC[@]}" >"$T/c8.out" 2>"$T/c8.err"
check "every encrypted object opens: exit 0" test $? -eq 0
check "every encrypted object opens: its line" grep -Eq "^encryption +ok +1 encrypted object, every one opens" "$T/c8.out"
"$EDR" restore --check latest "${ENC[@]}" >"$T/c9.out" 2>"$T/c9.err"
check "undecryptable objects: exit 13" test $? -eq 13
sed 's/^/#   /' "$T/c9.out" | grep encryption
check "undecryptable objects: one BLOCK line with the counts" \
    grep -Eq "^encryption +BLOCK +2 encrypted objects do not open with '$T/enc.yaml' \(1 without a key, 1 wrong key or damaged; first: /registry/secrets/default/s[23]: .*\); 1 opened" "$T/c9.out"
check "no key material in the output" sh -c "! grep -qi '$K1' '$T/c9.out' '$T/c9.err'"
listing >"$T/after"
check "nothing written" cmp -s "$T/before" "$T/after"
done_testing
