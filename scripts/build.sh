#!/bin/sh
# Configure and build out of tree in $1 (default: build/), with extra configure args after it.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build}
[ $# -gt 0 ] && shift
[ -x "$top/configure" ] && [ -f "$top/build-aux/tap-driver.sh" ] || "$top/autogen.sh" >/dev/null
mkdir -p "$dir"
cd "$dir"
[ -f Makefile ] || "$top/configure" -q --enable-werror "$@"
make -j"$(nproc)" >/dev/null
