#!/bin/bash
# backup --include against a real etcd: the files come back (ls --files,
# export --files, restore --extract-files) with identical bytes and modes;
# verify checks them; a tampered backup refuses them; a missing, oversized or
# non-regular file fails the backup before anything is stored; and no
# plaintext copy of a file exists anywhere while a backup reads it.
# Ports of its block (lib.sh): etcd +1/+2, S3 front +20, s3rver +21.
BASE_PORT=26200
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /registry/configmaps/default/cm- 300 60 || bail "load failed"

# what a kubeadm control plane keeps outside etcd, in miniature
S=$T/src
mkdir -p "$S/pki/etcd" "$S/enc"
head -c 3000 /dev/urandom >"$S/pki/sa.key" && chmod 600 "$S/pki/sa.key"
head -c 5000 /dev/urandom >"$S/pki/ca.crt" && chmod 644 "$S/pki/ca.crt"
printf '#!/bin/sh\necho renew\n' >"$S/pki/renew.sh" && chmod 755 "$S/pki/renew.sh"
: >"$S/pki/empty" && chmod 640 "$S/pki/empty"
printf 'etcd-ca-%s\n' "$BASE_PORT" >"$S/pki/etcd/ca.crt" && chmod 600 "$S/pki/etcd/ca.crt"
printf 'kind: EncryptionConfiguration\n# marker ENCMARK%sXYZ\n' "$BASE_PORT" >"$S/enc/config.yaml"
chmod 600 "$S/enc/config.yaml"
FILES="$S/pki/ca.crt $S/pki/empty $S/pki/renew.sh $S/pki/sa.key $S/pki/etcd/ca.crt $S/enc/config.yaml"

"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster f)
K=(--identity "$T/k.key")
nbackups() { "$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# a glob (its directory match 'etcd' is left out), literal paths, a relative
# one, and an optional file that is absent
check "backup with several --include" sh -c "cd '$S' && '$EDR' backup --endpoints '$EP' ${R[*]} \
    --recipient '$T/k.pub' --include '$S/pki/*' --include '$S/pki/etcd/ca.crt' \
    --include 'enc/config.yaml' --include '?$S/absent.yaml' -q"
B=$("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')

# ls --files: the manifest's records, without a key
"$EDR" ls "$B" "${R[@]}" --files --json >"$T/ls.json" 2>"$T/ls.err"
check "ls --files --json lists every file with its size, mode, owner and sha256" \
    python3 - "$T/ls.json" "$(id -u)" "$(id -g)" "$(id -un)" $FILES <<'EOF'
import hashlib, json, os, sys
recs = json.load(open(sys.argv[1]))
uid, gid, user, want = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
assert sorted(r["path"] for r in recs) == sorted(want), [r["path"] for r in recs]
for r in recs:
    st = os.stat(r["path"])
    assert r["size"] == st.st_size, r
    assert r["mode"] == "%04o" % (st.st_mode & 0o7777), r
    assert r["uid"] == uid and r["gid"] == gid and r["owner"] == user, r
    assert r["sha256"] == hashlib.sha256(open(r["path"], "rb").read()).hexdigest(), r
EOF
check "ls --files shows a table with the path" sh -c "'$EDR' ls $B ${R[*]} --files | grep -q '^0755 .* $S/pki/renew.sh\$'"
check "the manifest holds no file content" sh -c "! grep -q ENCMARK '$T/repo/f/$B.json'"
check "verify --level content checks the files" sh -c \
    "'$EDR' verify $B ${R[*]} ${K[*]} --level content --json | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"ok\"] and d[\"results\"][0][\"files\"] == 6 else 1)'"

# export --files: identical bytes and modes under DIR
check "export --files -o DIR" "$EDR" export "$B" "${R[@]}" "${K[@]}" --files -o "$T/out" -q
same=1
for f in $FILES; do
    cmp -s "$f" "$T/out$f" || { same=0; diag "differs: $f"; }
    [ "$(stat -c %a "$f")" = "$(stat -c %a "$T/out$f")" ] || { same=0; diag "mode: $f"; }
done
check "exported files have identical bytes and modes" test $same = 1
check "nothing else was written into DIR" test "$(find "$T/out" -type f | wc -l)" = 6
echo changed >"$T/out$S/pki/ca.crt"
expect_fail "export --files does not write over an existing file" 12 "exists.*--force" \
    "$EDR" export "$B" "${R[@]}" "${K[@]}" --files -o "$T/out"
check "and left it as it was" grep -qx changed "$T/out$S/pki/ca.crt"
check "export --files --force replaces it" "$EDR" export "$B" "${R[@]}" "${K[@]}" --files -o "$T/out" --force -q
check "with the backed-up bytes" cmp "$S/pki/ca.crt" "$T/out$S/pki/ca.crt"
check "no temp file left in DIR" test -z "$(find "$T/out" -name '.*part*')"

# restore --extract-files
check "restore --extract-files DIR" "$EDR" restore "$B" "${R[@]}" "${K[@]}" \
    --data-dir "$T/restored.etcd" --extract-files "$T/x" -q
same=1
for f in $FILES; do
    cmp -s "$f" "$T/x$f" && [ "$(stat -c %a "$f")" = "$(stat -c %a "$T/x$f")" ] || same=0
done
check "restore wrote the files with identical bytes and modes" test $same = 1
check "and the data dir" test -d "$T/restored.etcd/member/snap"
# restore --check: files already in DIR block (nothing written), a new DIR is fine
"$EDR" restore --check "$B" "${R[@]}" "${K[@]}" --data-dir "$T/chk.etcd" --extract-files "$T/x" >"$T/chk1.out" 2>&1
check "restore --check: kept files already in DIR block (exit 13)" test $? -eq 13
check "on their own line" grep -Eq "^extract files +BLOCK +6 of 6 kept files already exist" "$T/chk1.out"
check "restore --check: a new DIR is fine" sh -c "'$EDR' restore --check '$B' ${R[*]} ${K[*]} --data-dir '$T/chk.etcd' --extract-files '$T/x2' | grep -Eq '^extract files +ok +6 files'"
check "restore --check wrote nothing" sh -c "! test -e '$T/x2' && ! test -e '$T/chk.etcd'"

# a loose data file: its files come from the manifest copy sealed inside
cp "$T/repo/f/$B.edr" "$T/loose.edr"
check "ls --files on a loose data file (decrypted, checked)" sh -c \
    "'$EDR' ls '$T/loose.edr' ${K[*]} --files --json | python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin)) == 6 else 1)'"
check "export --files from a loose data file" sh -c "'$EDR' export '$T/loose.edr' ${K[*]} --files -o '$T/lout' -q && cmp '$S/pki/sa.key' '$T/lout$S/pki/sa.key'"

# the config file's [backup] include
cat >"$T/c.conf" <<EOF
[backup]
include = $S/enc/config.yaml
EOF
check "[backup] include in the config file" "$EDR" backup --config "$T/c.conf" --endpoints "$EP" \
    "${R[@]}" --recipient "$T/k.pub" -q
B2=$("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
check "keeps that file" sh -c "'$EDR' ls $B2 ${R[*]} --files --json | grep -q '\"$S/enc/config.yaml\"'"

# refused before anything is stored
N=$(nbackups)
expect_fail "a missing --include file fails the backup" 12 "unable to open '$S/pki/missing.key'" \
    "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$S/pki/missing.key"
expect_fail "a glob matching nothing fails the backup" 12 "matches no file" \
    "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$S/none/*.yaml"
expect_fail "a file over --include-max-size is refused" 2 "larger than --include-max-size" \
    "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$S/pki/ca.crt" \
    --include-max-size 4096
expect_fail "a non-regular file is refused" 2 "not a regular file" \
    "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include /dev/null
mkfifo "$T/fifo"
expect_fail "a FIFO is refused without blocking" 2 "'$T/fifo' is not a regular file" \
    timeout 10 "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$T/fifo"
check "no partial backup is listed" test "$(nbackups)" = "$N"
check "and no data file left" test "$(ls "$T/repo/f" | grep -c '\.edr$')" = "$N"

# a damaged encrypted backup: verify and export refuse, nothing is written
cp -a "$T/repo" "$T/repo2"
R2=(--repo "$T/repo2" --cluster f)
python3 - "$T/repo2/f/$B.edr" <<'EOF'
import sys
p = sys.argv[1]
d = bytearray(open(p, "rb").read())
d[len(d) // 2] ^= 0x40
open(p, "wb").write(d)
EOF
expect_fail "verify refuses a damaged backup" 9 "does not match" \
    "$EDR" verify "$B" "${R2[@]}" "${K[@]}" --level content
expect_fail "export --files refuses it" 9 "does not match" \
    "$EDR" export "$B" "${R2[@]}" "${K[@]}" --files -o "$T/out2"
check "and writes no file" test -z "$(find "$T/out2" -type f 2>/dev/null)"

# an unencrypted backup whose file entry is changed inside the tar, the
# stored hash and size in the manifest updated to match: only the files'
# own hashes can tell
R3=(--repo "$T/repo3" --cluster f)
check "unencrypted backup with --include" "$EDR" backup --endpoints "$EP" "${R3[@]}" --no-encrypt \
    --include "$S/enc/config.yaml" --include "$S/pki/sa.key" -q
B3=$("$EDR" list "${R3[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
check "it verifies" "$EDR" verify "$B3" "${R3[@]}" --level content -q
D=$T/repo3/f/$B3.edr
tail -c +9 "$D" | zstd -dq >"$T/payload.tar"
python3 - "$T/payload.tar" "ENCMARK$BASE_PORT" <<'EOF'
import sys
p, marker = sys.argv[1], sys.argv[2].encode()
d = bytearray(open(p, "rb").read())
i = d.index(marker)
d[i] ^= 0x20  # the same size: only the content changes
open(p, "wb").write(d)
EOF
{ head -c 8 "$D"; zstd -q -c "$T/payload.tar"; } >"$T/new.edr" && mv "$T/new.edr" "$D"
python3 - "$T/repo3/f/$B3.json" "$D" <<'EOF'
import hashlib, json, os, sys
m = json.load(open(sys.argv[1]))
d = open(sys.argv[2], "rb").read()
m["stored_size"] = len(d)
m["stored_sha256"] = hashlib.sha256(d).hexdigest()
json.dump(m, open(sys.argv[1], "w"), indent=2)
EOF
expect_fail "verify refuses a changed file entry" 9 "file '$S/enc/config.yaml' does not match the manifest" \
    "$EDR" verify "$B3" "${R3[@]}" --level content
expect_fail "export --files refuses it" 9 "file '$S/enc/config.yaml' does not match" \
    "$EDR" export "$B3" "${R3[@]}" --files -o "$T/out3"
check "and writes neither file (the good one included)" test -z "$(find "$T/out3" -type f 2>/dev/null)"
expect_fail "restore --extract-files refuses it" 9 "does not match" \
    "$EDR" restore "$B3" "${R3[@]}" --data-dir "$T/restored3.etcd" --extract-files "$T/x3"
check "and restores nothing" sh -c "test ! -e '$T/restored3.etcd' && test -z \"\$(find '$T/x3' -type f 2>/dev/null)\""

# no plaintext anywhere while a backup reads a large file: stop the backup
# while its descriptor of the file is half read, search the repository and
# its TMPDIR for the file's marker
BIG=$T/big/blob
mkdir -p "$T/big" "$T/tmp"
{ for i in $(seq 64); do printf 'BIGMARK%s-%02d\n' "$BASE_PORT" "$i"; head -c 500000 /dev/urandom; done; } >"$BIG"
SIZE=$(stat -c %s "$BIG")
# stop_mid_file PID: SIGSTOP the backup once its descriptor of $BIG has been
# read from; POS is then how far
fd_pos() {
    local fd
    for fd in /proc/$1/fd/*; do
        [ "$(readlink "$fd" 2>/dev/null)" = "$BIG" ] &&
            awk '/^pos:/ {print $2}' "/proc/$1/fdinfo/${fd##*/}" 2>/dev/null
    done
}
stop_mid_file() {
    POS=0
    for _ in $(seq 1000); do
        POS=$(fd_pos "$1")
        [ "${POS:-0}" -gt 0 ] && break
        sleep 0.02
    done
    kill -STOP "$1"
    POS=$(fd_pos "$1")
}
TMPDIR=$T/tmp "$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$BIG" \
    --include-max-size 100000000 --compress-level 19 --threads 1 -q &
BPID=$!
stop_mid_file $BPID
check "the backup was stopped in the middle of the file (pos ${POS:-?} of $SIZE)" \
    test "${POS:-0}" -gt 0 -a "${POS:-0}" -lt "$SIZE"
check "no plaintext of it in the repository or TMPDIR meanwhile" \
    sh -c "! grep -rqa 'BIGMARK$BASE_PORT' '$T/repo' '$T/tmp'"
kill -CONT "$BPID"
wait "$BPID"
check "the backup then completes" test $? = 0
BB=$("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["id"])')
check "no plaintext in the repository afterwards" sh -c "! grep -rqa 'BIGMARK$BASE_PORT' '$T/repo' '$T/tmp'"
check "and the large file exports identical" sh -c "'$EDR' export $BB ${R[*]} ${K[*]} --files -o '$T/bigout' -q && cmp '$BIG' '$T/bigout$BIG'"

# a file that changes while it is read fails the backup, which stores nothing
N=$(nbackups)
"$EDR" backup --endpoints "$EP" "${R[@]}" --recipient "$T/k.pub" --include "$BIG" \
    --include-max-size 100000000 --compress-level 19 --threads 1 -q 2>"$T/changed.err" &
BPID=$!
stop_mid_file $BPID
echo appended >>"$BIG"
kill -CONT "$BPID"
wait "$BPID"
RC=$?
check "a file changed while read fails the backup (exit $RC, stopped at ${POS:-?})" sh -c \
    "test $RC = 12 && test \$(grep -c \"^etcd-dr: error: .*'$BIG' changed while it was read\" '$T/changed.err') = 1"
check "and no backup is added" test "$(nbackups)" = "$N"

# the same in an S3 repository (the records come from the manifest object)
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
if s3_require; then
    trap 's3_stop; cleanup' EXIT
    S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 20)) S3_BUCKETS=bkt
    if s3_start; then
        s3_client_env
        RS=(--repo s3://bkt/r --cluster f --s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
        check "backup --include into S3" "$EDR" backup --endpoints "$EP" "${RS[@]}" \
            --recipient "$T/k.pub" --include "$S/enc/config.yaml" --include "$S/pki/renew.sh" -q
        check "ls --files from S3" sh -c "test \$('$EDR' ls latest ${RS[*]} --files | grep -c ' $S/') = 2"
        check "export --files from S3: identical bytes and mode" sh -c \
            "'$EDR' export latest ${RS[*]} ${K[*]} --files -o '$T/s3out' -q &&
             cmp '$S/pki/renew.sh' '$T/s3out$S/pki/renew.sh' &&
             test \$(stat -c %a '$T/s3out$S/pki/renew.sh') = 755"
        check "verify in S3" "$EDR" verify latest "${RS[@]}" "${K[@]}" --level content -q
    else
        not_ok "S3 servers did not start: $S3_WHY"
    fi
else
    skip "S3: $S3_WHY"
fi

done_testing
