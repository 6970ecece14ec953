#!/bin/sh
# Builds the bbolt reader's libFuzzer target with clang (ASan + libFuzzer) into
# $OUT (default ./fuzz_bolt), for real fuzzing:
#   tests/fuzz/build-libfuzzer.sh && ./fuzz_bolt -max_total_time=120 tests/fuzz/corpus/bolt
# Needs clang >= 6 and OpenSSL headers (src/common/hash.c uses libcrypto).
set -eu
SRC=$(cd "$(dirname "$0")/../.." && pwd)
OUT=${OUT:-./fuzz_bolt}
CC=${CC:-clang}
$CC -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -I"$SRC/src" \
    "$SRC/tests/fuzz/fuzz_bolt.c" "$SRC/src/bolt/reader.c" "$SRC/src/common/err.c" \
    -o "$OUT"
echo "built $OUT"
