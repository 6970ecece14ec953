#!/bin/bash
# Interrupted runs: a backup killed with SIGKILL mid-stream leaves nothing
# that list shows and the next backup removes its leftovers; SIGTERM is a
# clean abort; two backups at once never interleave (the second gets the
# lock error, or waits with --lock-wait).
BASE_PORT=23400
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /i/ 20000 60 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster intr --recipient "$T/k.pub")
check "a first good backup" "$EDR" backup --endpoints "$EP" "${R[@]}"

start_stalled() { # start_stalled PORT MARKER: proxy that stalls after 500 kB
    rm -f "$2"
    python3 "$SRCDIR/tests/integration/stallproxy.py" "$1" $((BASE_PORT + 1)) stall 500000 "$2" &
    _pids="$_pids $!"
    sleep 0.5
}
wait_marker() { for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }

start_stalled $((BASE_PORT + 60)) "$T/m1"
"$EDR" backup --endpoints http://127.0.0.1:$((BASE_PORT + 60)) "${R[@]}" >/dev/null 2>"$T/kill9.err" &
BPID=$!
check "the stalled backup is mid-stream" wait_marker "$T/m1" || cat "$T/kill9.err"
sleep 0.5
kill -9 "$BPID"
wait "$BPID" 2>/dev/null
N=$("$EDR" list --repo "$T/repo" --cluster intr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "after SIGKILL, list shows only the first backup ($N)" test "$N" = 1
check "a leftover temp file exists" sh -c "ls -a '$T/repo/intr' | grep -q '\.tmp\.'"
check "the next backup succeeds" "$EDR" backup --endpoints "$EP" "${R[@]}" --log-level info
check "and removed the leftover temp file" sh -c "! ls -a '$T/repo/intr' | grep -q '\.tmp\.'"
check "every listed backup exports" sh -c "for id in \$('$EDR' list --repo '$T/repo' --cluster intr --json | python3 -c 'import json,sys; print(\" \".join(b[\"id\"] for b in json.load(sys.stdin)))'); do '$EDR' export \$id --repo '$T/repo' --cluster intr --identity '$T/k.key' -o '$T/e.db' || exit 1; done"

# SIGTERM: clean abort, exit 15 (interrupted), no temp file left
start_stalled $((BASE_PORT + 61)) "$T/m2"
"$EDR" backup --endpoints http://127.0.0.1:$((BASE_PORT + 61)) "${R[@]}" --stall-timeout 30 >/dev/null 2>"$T/term.err" &
BPID=$!
wait_marker "$T/m2"
sleep 0.3
kill -TERM "$BPID"
wait "$BPID"
RC=$?
check "SIGTERM aborts the backup cleanly (exit $RC)" test "$RC" -ne 0
check "no temp file after SIGTERM" sh -c "! ls -a '$T/repo/intr' | grep -q '\.tmp\.'"

# two backups at once
start_stalled $((BASE_PORT + 62)) "$T/m3"
"$EDR" backup --endpoints http://127.0.0.1:$((BASE_PORT + 62)) "${R[@]}" --stall-timeout 5 --retries 0 >/dev/null 2>&1 &
BPID=$!
wait_marker "$T/m3"
expect_fail "a second backup while one runs gets the lock error" 11 "locked" "$EDR" backup --endpoints "$EP" "${R[@]}"
check "with --lock-wait it waits for the first to end, then succeeds" "$EDR" backup --endpoints "$EP" "${R[@]}" --lock-wait 30
wait "$BPID"
N=$("$EDR" list --repo "$T/repo" --cluster intr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
check "exactly the completed backups are listed ($N)" test "$N" = 3

# a full disk: the repository on a 256 KiB tmpfs holds one small backup; a big one does not fit
mkdir -p "$T/full"
if mount -t tmpfs -o size=256k tmpfs "$T/full" 2>/dev/null; then
    trap "umount '$T/full' 2>/dev/null; cleanup" EXIT
    EP2=http://127.0.0.1:$((BASE_PORT + 3))
    etcd_start small $((BASE_PORT + 3)) $((BASE_PORT + 4))
    wait_healthy "$EP2" && ctl --endpoints "$EP2" put /small x >/dev/null
    check "a small backup fits on the small disk" "$EDR" backup --endpoints "$EP2" --repo "$T/full" --cluster intr --recipient "$T/k.pub" -q
    expect_fail "disk full: a one-line local I/O error" 12 "No space left on device" \
        "$EDR" backup --endpoints "$EP" --repo "$T/full" --cluster intr --recipient "$T/k.pub" --compress-level 1
    check "after the full disk, the good backup is still listed and exports" sh -c "test \$('$EDR' list --repo '$T/full' --cluster intr --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') = 1 && '$EDR' export latest --repo '$T/full' --cluster intr --identity '$T/k.key' -o '$T/small.db'"
    check "no temp file left on the full disk" sh -c "! ls -a '$T/full/intr' | grep -q '\.tmp\.'"
    umount "$T/full"
else
    ok "disk-full case # SKIP cannot mount a tmpfs here (needs root)"
fi
done_testing
