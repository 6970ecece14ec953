#!/bin/sh
# Builds one libFuzzer target of tests/fuzz/fuzz_<target>.c with clang, ASan
# and UBSan (every UBSan report aborts, as a crash does) into $OUT (default
# ./fuzz_<target>), for real fuzzing:
#   tests/fuzz/build-libfuzzer.sh manifest &&
#       ./fuzz_manifest -max_total_time=180 -jobs=1 tests/fuzz/corpus/manifest
# Targets: bolt (the default), cron, datafile, encconfig, gardener, grpc, k8s, manifest, s3xml,
# segment; `all` builds each into ./fuzz_<target>. Each target links only the sources it needs (the
# closure of its symbols in libedr.a; `make check` builds the same targets as
# corpus replays, tests/fuzz/replay.c). See tests/fuzz/README.md.
# Needs clang >= 6 and the headers of what the target links: OpenSSL and
# jansson (bolt, manifest), libsodium, libzstd and libarchive (datafile).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
TARGET=${1:-bolt}
CC=${CC:-clang}
SANFLAGS=${SANFLAGS:--fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all}

if [ "$TARGET" = all ]; then
    for t in bolt cron datafile encconfig gardener grpc k8s manifest s3xml segment; do
        OUT=./fuzz_$t "$0" "$t"
    done
    exit 0
fi

case $TARGET in
bolt)
    # the target also compares the mvcc status of a stream capture with the file's
    SOURCES="tests/fuzz/fuzz_bolt.c tests/fuzz/scan_diff.c src/bolt/pagesrc.c src/bolt/walk.c
        src/bolt/reader.c src/bolt/capture.c src/mvcc/check.c src/mvcc/livekeys.c
        src/mvcc/status.c src/mvcc/summary.c src/mvcc/k8s.c src/mvcc/kvpb.c src/common/pb.c
        src/common/buf.c src/common/err.c
        src/common/hash.c"
    LIBS="-ljansson -lcrypto -lpthread"
    ;;
cron)
    SOURCES="tests/fuzz/fuzz_cron.c src/sched/cron.c src/common/err.c"
    LIBS=""
    ;;
datafile)
    SOURCES="tests/fuzz/fuzz_datafile.c src/stream/basic.c src/stream/open.c src/stream/seal.c
        src/stream/tar.c src/stream/thread.c src/stream/zstd.c src/stream/zstd_mt.c
        src/crypto/keys.c src/common/buf.c src/common/err.c src/common/fs.c src/common/hash.c
        src/common/secret.c"
    LIBS="-lsodium -lzstd -larchive -lcrypto -lpthread"
    ;;
encconfig)
    SOURCES="tests/fuzz/fuzz_encconfig.c src/k8s/encryption.c src/k8s/yaml.c src/common/secret.c
        src/common/buf.c src/common/err.c"
    LIBS="-ljansson -lsodium -lcrypto"
    ;;
grpc)
    SOURCES="tests/fuzz/fuzz_grpc.c src/etcd/grpc.c src/etcd/proto.c src/common/pb.c
        src/common/buf.c src/common/err.c"
    LIBS=""
    ;;
manifest)
    SOURCES="tests/fuzz/fuzz_manifest.c src/repo/manifest.c src/common/err.c"
    LIBS="-ljansson -lm"
    ;;
s3xml)
    SOURCES="tests/fuzz/fuzz_s3xml.c src/storage/s3_xml.c src/common/buf.c src/common/err.c"
    LIBS=""
    ;;
k8s)
    SOURCES="tests/fuzz/fuzz_k8s.c src/k8s/object.c src/k8s/key.c src/repo/manifest.c src/common/pb.c
        src/common/buf.c src/common/err.c"
    LIBS="-ljansson -lm"
    ;;
gardener)
    SOURCES="tests/fuzz/fuzz_gardener.c src/import/gardener.c src/changes/format.c src/etcd/watch.c
        src/etcd/proto.c src/repo/manifest.c src/common/pb.c src/common/buf.c src/common/err.c
        src/common/hash.c"
    LIBS="-ljansson -lsodium -larchive -lz -lcrypto -lm"
    ;;
segment)
    SOURCES="tests/fuzz/fuzz_segment.c src/changes/format.c src/etcd/watch.c src/etcd/proto.c
        src/repo/manifest.c src/common/pb.c src/common/buf.c src/common/err.c"
    LIBS="-ljansson -lm"
    ;;
*)
    echo "usage: $0 [bolt|cron|datafile|encconfig|gardener|grpc|k8s|manifest|s3xml|segment|all]" >&2
    exit 2
    ;;
esac

OUT=${OUT:-./fuzz_$TARGET}
paths=
for s in $SOURCES; do
    paths="$paths $SRC/$s"
done
# shellcheck disable=SC2086 # word splitting of the lists is intended
$CC -g -O1 -std=gnu11 -D_GNU_SOURCE -fno-omit-frame-pointer $SANFLAGS -I"$SRC/src" \
    -I"$SRC/tests/fuzz" $paths $LIBS -o "$OUT"
echo "built $OUT"
