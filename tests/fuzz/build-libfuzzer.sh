#!/bin/sh
# Builds the bbolt reader's libFuzzer target with clang (ASan + libFuzzer) into
# $OUT (default ./fuzz_bolt), for real fuzzing:
#   tests/fuzz/build-libfuzzer.sh && ./fuzz_bolt -max_total_time=120 tests/fuzz/corpus/bolt
# Needs clang >= 6 and the OpenSSL and jansson headers (the target also runs
# the mvcc status of a stream capture against the file's: tests/fuzz/scan_diff.c).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-./fuzz_bolt}
CC=${CC:-clang}
$CC -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -I"$SRC/src" \
    "$SRC/tests/fuzz/fuzz_bolt.c" "$SRC/tests/fuzz/scan_diff.c" "$SRC/src/bolt/reader.c" \
    "$SRC/src/bolt/capture.c" "$SRC/src/mvcc/mvcc.c" "$SRC/src/mvcc/kvpb.c" \
    "$SRC/src/common/err.c" "$SRC/src/common/hash.c" -ljansson -lcrypto -lpthread -o "$OUT"
echo "built $OUT"
