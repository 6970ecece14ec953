#!/bin/bash
# Races with other processes, each a defect once: an import whose input file
# grows while it is read (it read past the size it started with, into its
# 32-byte trailer buffer) fails with one clear line and stores nothing; a
# drill whose loopback port another process takes between picking it and
# etcd binding it starts over on new ports, and when that keeps happening
# it fails without recording a verdict on the backup.
BASE_PORT=24700
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /r/ 2000 100 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster c)
K=(--identity "$T/k.key")
ctl snapshot save "$T/snap.db" >/dev/null 2>&1 || bail "snapshot save failed"
count_backups() { "$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# --- import of a file that grows while it is read
# 256 MiB after the db (zeros, so the pipeline is fast but the read is not
# instant) and a writer appending to it all along: the import must notice
check "import of the snapshot as it is" "$EDR" import "$T/snap.db" "${R[@]}" --recipient "$T/k.pub" -q
N0=$(count_backups)
cp "$T/snap.db" "$T/grow.db"
truncate -s +256M "$T/grow.db"
(while :; do printf 'appended' >>"$T/grow.db"; done) &
APPENDER=$!
_pids="$_pids $APPENDER"
"$EDR" import "$T/grow.db" "${R[@]}" --recipient "$T/k.pub" --skip-hash-check -q \
    >/dev/null 2>"$T/grow.err"
RC=$?
kill "$APPENDER"
wait "$APPENDER" 2>/dev/null
check "a growing input: exit 9 ($RC) and one error line saying so" sh -c \
    "test $RC = 9 && test \$(wc -l <'$T/grow.err') = 1 && grep -q \"^etcd-dr: error: '$T/grow.db' grew while it was read\$\" '$T/grow.err'"
check "... and nothing was stored" test "$(count_backups)" = "$N0"
check "... not even a partial data object" sh -c "test \$(ls '$T/repo/c' | grep -c '\\.edr') = $N0"
check "the same file once it stopped growing imports" "$EDR" import "$T/grow.db" "${R[@]}" \
    --recipient "$T/k.pub" --skip-hash-check -q
rm -f "$T/grow.db"

# --- a drill whose client port is taken before etcd binds it
# A stand-in etcd takes the port it was given (a listener of its own) and
# then runs the real etcd on it, which fails with "address already in use":
# the first N launches, then it lets etcd start.
REAL_ETCD=$(command -v etcd)
cat >"$T/squat-etcd" <<EOF
#!/bin/bash
case " \$* " in *" --version "*) exec "$REAL_ETCD" "\$@" ;; esac
n=\$(cat "$T/squats" 2>/dev/null || echo 0)
if [ "\$n" -gt 0 ]; then
    echo \$((n - 1)) >"$T/squats"
    echo x >>"$T/launches"
    prev=
    for a in "\$@"; do
        if [ "\$prev" = --listen-client-urls ]; then port=\${a##*:}; fi
        prev=\$a
    done
    python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").close(); time.sleep(120)' "\$port" "$T/squatting.\$port" &
    echo \$! >>"$T/squatters"
    while [ ! -e "$T/squatting.\$port" ]; do sleep 0.05; done
else
    echo x >>"$T/launches"
fi
exec "$REAL_ETCD" "\$@"
EOF
chmod +x "$T/squat-etcd"
stop_squatters() { [ -e "$T/squatters" ] && kill $(cat "$T/squatters") 2>/dev/null; rm -f "$T/squatters"; true; }
B=$("$EDR" list "${R[@]}" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')

echo 1 >"$T/squats"
rm -f "$T/launches"
"$EDR" verify "$B" "${R[@]}" "${K[@]}" --drill --etcd-bin "$T/squat-etcd" --log-level info \
    >"$T/drill1.out" 2>"$T/drill1.err"
RC=$?
stop_squatters
check "a port taken once: the drill passes (exit $RC)" test "$RC" = 0
check "... after starting over on new ports" grep -q "a port was taken before etcd bound it; again on new ports" "$T/drill1.err"
check "... etcd was launched twice" test "$(wc -l <"$T/launches")" = 2
check "... and the pass is recorded" sh -c "'$EDR' list ${R[*]} --json | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]; sys.exit(0 if b[\"last_verify\"][\"ok\"] and b[\"last_verify\"][\"level\"]==\"drill\" else 1)'"

echo 5 >"$T/squats"
rm -f "$T/launches"
mkdir "$T/dt"
expect_fail "ports taken every time: the drill fails after 3 attempts" 14 \
    "could not bind the drill's loopback ports \\(taken by another process, 3 attempts\\)" \
    env TMPDIR="$T/dt" "$EDR" verify "$B" "${R[@]}" "${K[@]}" --drill --etcd-bin "$T/squat-etcd"
stop_squatters
check "... etcd was launched 3 times" test "$(wc -l <"$T/launches")" = 3
check "... and no failure is recorded against the backup" sh -c "'$EDR' list ${R[*]} --json | python3 -c 'import json,sys; b=json.load(sys.stdin)[0]; sys.exit(0 if b[\"last_verify\"][\"ok\"] else 1)'"
check "... nor is a drill directory left" test -z "$(ls -A "$T/dt")"

done_testing
