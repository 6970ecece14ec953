#!/bin/bash
# prune on a repository whose backups are spread over months: one real backup
# is copied under new ids with edited manifest times (the CLI cannot fake a
# backup's time). --dry-run says keep/remove with reasons and removes
# nothing; prune removes exactly the dry-run's remove list (manifest, data and
# verification record); list agrees; --keep-verified protects verified
# backups; --keep-within counts from the newest backup.
BASE_PORT=23610
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start m1 $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /p/ 300 || bail "load failed"
"$EDR" keygen -o "$T/k" >/dev/null
L=(--repo "$T/repo" --cluster pr)
check "a real backup to copy" "$EDR" backup --endpoints "$EP" "${L[@]}" --recipient "$T/k.pub"
etcd_stop m1

# 8 backups from January to April 2026, oldest first; #3 verified ok, #1 failed verification
IDS="20260115T100000Z-r100 20260210T100000Z-r100 20260305T100000Z-r100 20260320T100000Z-r100
20260401T000000Z-r100 20260401T120000Z-r100 20260402T100000Z-r100 20260403T100000Z-r100"
python3 - "$T/repo/pr" $IDS <<'PY' || bail "could not build the synthetic repository"
import glob, json, os, shutil, sys, datetime
d, ids = sys.argv[1], sys.argv[2:]
src = [f for f in glob.glob(d + "/*.json") if not f.endswith(".verify.json")]
assert len(src) == 1, src
orig = json.load(open(src[0]))
shutil.copyfile(os.path.join(d, orig["id"] + ".edr"), os.path.join(d, "..", "..", "orig.edr"))
for i in ids:
    t = datetime.datetime.strptime(i.split("-")[0], "%Y%m%dT%H%M%SZ")
    m = dict(orig)
    m["id"] = i
    m["started"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
    m["finished"] = (t + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    m["data"] = i + ".edr"
    shutil.copyfile(os.path.join(d, orig["id"] + ".edr"), os.path.join(d, i + ".edr"))
    with open(os.path.join(d, i + ".json"), "w") as f:
        json.dump(m, f, indent=2)
for f in (orig["id"] + ".edr", orig["id"] + ".json"):
    os.unlink(os.path.join(d, f))
def verify(i, ok):
    with open(os.path.join(d, i + ".verify.json"), "w") as f:
        json.dump({"id": i, "level": "stored", "ok": ok, "time": "2026-04-05T00:00:00Z",
                   "detail": ""}, f)
verify(ids[2], True)
verify(ids[0], False)
PY
set -- $IDS
B1=$1 B2=$2 B3=$3 B4=$4 B5=$5 B6=$6 B7=$7 B8=$8

ids() { "$EDR" list "${L[@]}" --json | python3 -c 'import json,sys; print(" ".join(sorted(b["id"] for b in json.load(sys.stdin))))'; }
sorted() { echo "$@" | tr ' ' '\n' | grep . | sort | tr '\n' ' ' | sed 's/ $//'; }
# actions FILE ACTION: the ids of the lines "ACTION ID ..." of prune's text output, sorted
actions() { awk -v a="$2" '$1 == a { print $2 }' "$1" | sort | tr '\n' ' ' | sed 's/ $//'; }
# reasons FILE ID: the reasons printed for a kept backup
reasons() { awk -v id="$2" '$1 == "keep" && $2 == id { $1 = ""; $2 = ""; sub(/^ +/, ""); print }' "$1"; }

check "list shows the 8 synthetic backups" test "$(ids)" = "$(sorted $IDS)"

# ---- dry run: keep-last 2 + keep-monthly 3
RULES=(--keep-last 2 --keep-monthly 3)
check "prune --dry-run succeeds" sh -c "'$EDR' prune ${L[*]} ${RULES[*]} --dry-run >'$T/dry1.out'"
check "the dry run lists every backup once" test "$(awk '{print $2}' "$T/dry1.out" | sort | tr '\n' ' ' | sed 's/ $//')" = "$(sorted $IDS)"
check "the dry run removes Jan, early March and both Apr 1 backups" \
    test "$(actions "$T/dry1.out" remove)" = "$(sorted $B1 $B3 $B5 $B6)"
check "the dry run keeps the rest" test "$(actions "$T/dry1.out" keep)" = "$(sorted $B2 $B4 $B7 $B8)"
check "the newest is kept as newest, last 2 and April's ($(reasons "$T/dry1.out" $B8))" \
    test "$(reasons "$T/dry1.out" $B8)" = "newest, last 2, monthly 2026-04"
check "the second newest by last 2" test "$(reasons "$T/dry1.out" $B7)" = "last 2"
check "March's newest by monthly" test "$(reasons "$T/dry1.out" $B4)" = "monthly 2026-03"
check "February's by monthly" test "$(reasons "$T/dry1.out" $B2)" = "monthly 2026-02"
check "the dry run removed nothing" test "$(ids)" = "$(sorted $IDS)"

# ---- --keep-verified protects the verified March backup
RULES=(--keep-last 2 --keep-monthly 3 --keep-verified 1)
"$EDR" prune "${L[@]}" "${RULES[@]}" --dry-run >"$T/dry2.out"
check "with --keep-verified 1 the verified backup stays ($(reasons "$T/dry2.out" $B3))" \
    test "$(reasons "$T/dry2.out" $B3)" = "verified 1"
check "a backup that failed verification is not protected" \
    test "$(actions "$T/dry2.out" remove)" = "$(sorted $B1 $B5 $B6)"
check "the --json dry run says the same" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
rm = sorted(b["id"] for b in d if b["action"] == "remove")
assert rm == sorted(sys.argv[2:]), rm
assert all(b["reasons"] for b in d if b["action"] == "keep")
' <("$EDR" prune "${L[@]}" "${RULES[@]}" --dry-run --json) "$B1" "$B5" "$B6"

# ---- the real prune removes exactly the dry run's list
check "prune succeeds" sh -c "'$EDR' prune ${L[*]} ${RULES[*]} >'$T/prune.out'"
check "it printed exactly the dry run's removals" \
    test "$(actions "$T/prune.out" remove)" = "$(actions "$T/dry2.out" remove)"
check "list agrees with the dry run's keep list" test "$(ids)" = "$(actions "$T/dry2.out" keep)"
GONE=0
for id in $B1 $B5 $B6; do
    for f in "$id.json" "$id.edr" "$id.verify.json"; do [ -e "$T/repo/pr/$f" ] && GONE=1 && diag "still there: $f"; done
done
check "the removed backups' manifest, data and verification record are gone" test "$GONE" = 0
check "the kept verified backup keeps its verification record" test -e "$T/repo/pr/$B3.verify.json"
check "every kept backup still has manifest and data" sh -c "for id in $B2 $B3 $B4 $B7 $B8; do test -e '$T/repo/pr/'\$id.json -a -e '$T/repo/pr/'\$id.edr || exit 1; done"
check "no temp file left" sh -c "! ls -a '$T/repo/pr' | grep -q '\.tmp\.'"
"$EDR" prune "${L[@]}" "${RULES[@]}" >"$T/prune2.out"
check "a second prune with the same rules removes nothing" test -z "$(actions "$T/prune2.out" remove)"
# (the copies cannot export: the manifest sealed inside names the original id)
check "a kept backup's data is untouched" cmp "$T/repo/pr/$B4.edr" "$T/orig.edr"

# ---- keep-within counts from the newest backup
"$EDR" prune "${L[@]}" --keep-within 1d --dry-run >"$T/dry3.out"
check "--keep-within 1d keeps the newest day only" test "$(actions "$T/dry3.out" keep)" = "$(sorted $B7 $B8)"
check "with reason 'within 1d'" test "$(reasons "$T/dry3.out" $B7)" = "within 1d"

expect_fail "prune without any rule is refused" 2 "no keep rule" "$EDR" prune "${L[@]}"
expect_fail "a bad duration is refused" 2 "invalid duration" "$EDR" prune "${L[@]}" --keep-within 3x
check "nothing was removed by the refused runs" test "$(ids)" = "$(sorted $B2 $B3 $B4 $B7 $B8)"
done_testing
