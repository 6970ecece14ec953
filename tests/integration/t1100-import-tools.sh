#!/bin/bash
# import --from k3s|rke2|etcdctl against a real etcd: snapshots taken with
# `etcdctl snapshot save`, laid out, named and zipped the way k3s does it
# (pkg/etcd/snapshot.go: "<name>-<node>-<unix time>", ".zip" with one deflated
# entry written by Go's archive/zip with the sizes after the data, extra
# metadata as JSON in "../.metadata/<file name>"), and copied to s3rver with
# k3s's object metadata (x-amz-meta-k3s-cluster-id, -node-name, -token-hash).
# Import -> verify -> restore -> start etcd -> data equal; a second run
# imports nothing; a damaged zip and a wrong trailer fail alone, named in one
# line each, and leave nothing half-imported.
# Ports of its block (lib.sh): etcd +1/+2, restored +11/+12, S3 front +30.
BASE_PORT=25100
. "$(dirname "$0")/lib.sh"
require_etcd

EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
"$EDR" keygen -o "$T/k" >/dev/null
R=(--repo "$T/repo" --cluster k3s --recipient "$T/k.pub")
RK=(--repo "$T/repo" --cluster k3s --identity "$T/k.key")

# k3s's on-disk layout: <data dir>/server/db/snapshots, metadata beside it
S=$T/server/db/snapshots
mkdir -p "$S" "$T/server/db/.metadata"
TS1=1764000000 TS2=1764018000
load_keys "$EP" /registry/configmaps/default/a 300 >/dev/null
timeout 120 etcdctl --endpoints "$EP" snapshot save "$T/s1.db" >/dev/null 2>&1 || bail "snapshot save failed"
cp "$T/s1.db" "$S/etcd-snapshot-node-1-$TS1"
load_keys "$EP" /registry/secrets/kube-system/b 200 >/dev/null
ctl put /registry/namespaces/last yes >/dev/null
timeout 120 etcdctl --endpoints "$EP" snapshot save "$T/s2.db" >/dev/null 2>&1 || bail "snapshot save failed"
dump "$EP" "$T/src2.dump"
etcd_stop src

# kzip OUT ENTRY_NAME FILE: a zip as Go's archive/zip writes it for k3s (one
# deflated entry, written to an unseekable stream: sizes in a data descriptor)
kzip() {
    python3 - "$@" <<'PY'
import sys, zipfile, time
class Unseekable:
    def __init__(self, f): self.f = f
    def write(self, b): return self.f.write(b)
    def flush(self): self.f.flush()
out, name, src = sys.argv[1:4]
with open(out, "wb") as f, zipfile.ZipFile(Unseekable(f), "w") as z:
    zi = zipfile.ZipInfo(name, time.gmtime(1764018000)[:6])
    zi.compress_type = zipfile.ZIP_DEFLATED
    with z.open(zi, "w") as w, open(src, "rb") as r:
        w.write(r.read())
PY
}
kzip "$S/etcd-snapshot-node-1-$TS2.zip" "etcd-snapshot-node-1-$TS2" "$T/s2.db"
printf '{"team":"platform","env":"test"}' >"$T/server/db/.metadata/etcd-snapshot-node-1-$TS2.zip"
echo notes >"$S/README"
check "the zip has a data descriptor, as Go's writer makes it" python3 -c "
import zipfile, sys; z = zipfile.ZipFile(sys.argv[1]); i = z.infolist()
sys.exit(0 if len(i) == 1 and i[0].flag_bits & 8 and i[0].compress_type == 8 else 1)" "$S/etcd-snapshot-node-1-$TS2.zip"

# snapstatus FILE: etcd's own "snapshot status" (etcdutl from 3.5 on)
snapstatus() { if command -v etcdutl >/dev/null; then etcdutl snapshot status "$1" -w json; else etcdctl snapshot status "$1" -w json; fi 2>/dev/null; }
export -f snapstatus
# origin FIELD ID: a field of a backup's manifest origin
origin() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("origin",{}).get(sys.argv[2],""))' "$T/repo/k3s/$2.json" "$1"; }
result() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(" ".join(r["result"].replace(" ","_") for r in d["results"]))' "$1"; }
idof() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print([r for r in d["results"] if r["source"].endswith(sys.argv[2])][0]["backup_id"])' "$1" "$2"; }

check "import --from k3s of the snapshot directory" sh -c "'$EDR' import --from k3s '$S' ${R[*]} --json >'$T/i1.json'"
check "two imported, the README skipped" test "$(result "$T/i1.json")" = "skipped imported imported"
ID1=$(idof "$T/i1.json" "-$TS1")
ID2=$(idof "$T/i1.json" "-$TS2.zip")
check "origin: tool, source, node and time from the name" sh -c "test '$(origin tool "$ID1")' = k3s && test '$(origin source "$ID1")' = '$S/etcd-snapshot-node-1-$TS1' && test '$(origin node "$ID1")' = node-1 && test '$(origin time "$ID1")' = 2025-11-24T16:00:00Z"
check "origin: size and sha256 of the zip as stored" sh -c "test '$(origin size "$ID2")' = $(stat -c %s "$S/etcd-snapshot-node-1-$TS2.zip") && test '$(origin sha256 "$ID2")' = $(sha256sum "$S/etcd-snapshot-node-1-$TS2.zip" | cut -c1-64)"
check "origin: the .metadata file is recorded" sh -c "python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))[\"origin\"][\"metadata\"]; sys.exit(0 if m == {\"team\":\"platform\",\"env\":\"test\"} else 1)' '$T/repo/k3s/$ID2.json'"
check "the revision is the snapshot's" bash -c "test \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"revision\"])' '$T/repo/k3s/$ID2.json')\" = \"\$(snapstatus '$T/s2.db' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"revision\"])')\""
N1=$(ls "$T/repo/k3s" | wc -l)
check "a second run imports nothing new" sh -c "'$EDR' import --from k3s '$S' ${R[*]} --json >'$T/i2.json' && test \"\$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(\" \".join(r[\"result\"].replace(\" \",\"_\")+\":\"+(r.get(\"backup_id\") or \"\") for r in d[\"results\"]))' '$T/i2.json')\" = 'skipped: already_imported:$ID1 already_imported:$ID2'"
check "and writes nothing to the repository" test "$(ls "$T/repo/k3s" | wc -l)" = "$N1"
check "the summary table" sh -c "'$EDR' import --from k3s '$S' ${R[*]} | grep -q '^$S/etcd-snapshot-node-1-$TS2.zip  *already imported  *$ID2 '"
check "verify the imported zip" "$EDR" verify "$ID2" "${RK[@]}"

P1=$((BASE_PORT + 12)) C1=$((BASE_PORT + 11))
check "restore the imported zip" "$EDR" restore "$ID2" "${RK[@]}" --name r1 \
    --initial-cluster r1=http://127.0.0.1:$P1 --initial-cluster-token t1 --data-dir "$T/r1"
etcd_start_dir r1 "$T/r1" $C1 $P1
if wait_healthy http://127.0.0.1:$C1; then
    dump http://127.0.0.1:$C1 "$T/r1.dump"
    check "restored: every key, value and revision equal the source at the snapshot" cmp "$T/src2.dump" "$T/r1.dump"
else
    not_ok "the restored member did not become healthy"
fi
etcd_stop r1

# --- damaged inputs beside a good one
B=$T/bad/snapshots
mkdir -p "$B"
cp "$T/s1.db" "$B/etcd-snapshot-node-2-1764100000"
head -c 3000 "$S/etcd-snapshot-node-1-$TS2.zip" >"$B/etcd-snapshot-node-2-1764100001.zip"
cp "$T/s1.db" "$B/etcd-snapshot-node-2-1764100002"
python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(-1,2); b=f.read(1); f.seek(-1,2); f.write(bytes([b[0]^1]))' "$B/etcd-snapshot-node-2-1764100002"
N0=$(ls "$T/repo/k3s" | wc -l)
"$EDR" import --from k3s "$B" "${R[@]}" --json >"$T/i3.json" 2>"$T/i3.err"
RC=$?
check "damaged inputs: exit 9 (integrity)" test "$RC" = 9
check "one error line naming the bad zip" test "$(grep -c "^etcd-dr: error: .*etcd-snapshot-node-2-1764100001.zip" "$T/i3.err")" = 1
check "one error line naming the wrong trailer" test "$(grep -c "^etcd-dr: error: .*etcd-snapshot-node-2-1764100002.*sha256 mismatch" "$T/i3.err")" = 1
check "the good file is imported, the bad ones failed" test "$(result "$T/i3.json")" = "imported failed failed"
check "nothing half-imported: one manifest and one data object more" test "$(ls "$T/repo/k3s" | wc -l)" = "$((N0 + 2))"
check "no backup lists a damaged file" sh -c "! grep -l 'node-2-176410000[12]' '$T'/repo/k3s/*.json"

# --- etcdctl files, and refusals
check "import --from etcdctl of one file" sh -c "'$EDR' import --from etcdctl '$T/s1.db' ${R[*]} --json >'$T/i4.json' && test \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"results\"][0][\"result\"])' '$T/i4.json')\" = imported"
expect_fail "--from gardener wants a directory or an s3:// prefix" 2 "is not a directory" "$EDR" import --from gardener "$T/s1.db" "${R[@]}"
expect_fail "an unknown tool is refused" 2 "'--from'" "$EDR" import --from velero "$T/s1.db" "${R[@]}"
mkdir -p "$T/empty" "$T/rke2"
cp "$T/s1.db" "$T/rke2/on-demand-rke2-server-0-1764200000"
check "import --from rke2: the node after on-demand-" sh -c "'$EDR' import --from rke2 '$T/rke2/on-demand-rke2-server-0-1764200000' --repo '$T/repo' --cluster rke2 --no-encrypt -q"
check "origin: tool rke2, node rke2-server-0" sh -c "grep -q '\"tool\": \"rke2\"' '$T'/repo/rke2/*.json && grep -q '\"node\": \"rke2-server-0\"' '$T'/repo/rke2/*.json"
expect_fail "a directory without k3s snapshots: exit 8" 8 "no k3s snapshot" "$EDR" import --from k3s "$T/empty" "${R[@]}"

# --- the same snapshots in S3, with k3s's object metadata
. "$SRCDIR/tests/integration/s3/lib-s3.sh"
if s3_require; then
    S3_DATA=$T/s3 S3_LOGDIR=$T S3_FPORT=$((BASE_PORT + 30)) S3_BUCKETS=bkt
    trap 's3_stop; cleanup' EXIT
    if s3_start; then
        s3_client_env
        S3=(--s3-endpoint "$S3_EP" --s3-path-style --s3-region us-east-1)
        H=(-H "x-amz-meta-k3s-cluster-id: 7d3c2e1f-cluster" -H "x-amz-meta-k3s-node-name: node-1"
            -H "x-amz-meta-k3s-token-hash: 0f1e2d3c4b5a69788796a5b4c3d2e1f0")
        put() { node "$SRCDIR/tests/integration/s3/s3req.js" "$@" 2>/dev/null >/dev/null; }
        put "${H[@]}" PUT "$S3_EP/bkt/k3s/etcd-snapshot-node-1-$TS2.zip" "$S/etcd-snapshot-node-1-$TS2.zip" &&
            put "${H[@]}" PUT "$S3_EP/bkt/k3s/.metadata/etcd-snapshot-node-1-$TS2.zip" "$T/server/db/.metadata/etcd-snapshot-node-1-$TS2.zip" ||
            not_ok "upload to s3rver failed"
        RS=(--repo "$T/repo" --cluster froms3 --recipient "$T/k.pub")
        check "import --from k3s s3://bkt/k3s" sh -c "'$EDR' import --from k3s s3://bkt/k3s ${S3[*]} ${RS[*]} --json >'$T/i5.json'"
        check "one imported (the .metadata object is not a snapshot)" test "$(result "$T/i5.json")" = "imported"
        ID5=$(idof "$T/i5.json" ".zip")
        o5() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["origin"].get(sys.argv[2],""))' "$T/repo/froms3/$ID5.json" "$1"; }
        check "origin from the object metadata" sh -c "test '$(o5 cluster_id)' = 7d3c2e1f-cluster && test '$(o5 node)' = node-1 && test '$(o5 token_hash)' = 0f1e2d3c4b5a69788796a5b4c3d2e1f0 && test '$(o5 source)' = s3://bkt/k3s/etcd-snapshot-node-1-$TS2.zip"
        check "origin: the S3 .metadata object is recorded" sh -c "python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))[\"origin\"][\"metadata\"][\"team\"] == \"platform\" else 1)' '$T/repo/froms3/$ID5.json'"
        check "the same data as the local import" test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["db_sha256"])' "$T/repo/froms3/$ID5.json")" = "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["db_sha256"])' "$T/repo/k3s/$ID2.json")"
        check "a second S3 run imports nothing new" sh -c "'$EDR' import --from k3s s3://bkt/k3s ${S3[*]} ${RS[*]} --json >'$T/i6.json' && test \"\$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[\"results\"][0][\"result\"])' '$T/i6.json')\" = 'already imported'"
        check "verify the S3 import" "$EDR" verify "$ID5" --repo "$T/repo" --cluster froms3 --identity "$T/k.key"
    else
        not_ok "s3rver did not start: $S3_WHY"
    fi
else
    if [ -n "${CI:-}" ]; then not_ok "S3 part: $S3_WHY"; else skip "S3 part: $S3_WHY"; fi
fi
done_testing
