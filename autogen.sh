#!/bin/sh
# Generate ./configure from configure.ac (needs autoconf, automake, pkg-config).
set -e
cd "$(dirname "$0")"
mkdir -p build-aux m4
autoreconf -fi
for f in /usr/share/automake-*/tap-driver.sh; do
    [ -f "$f" ] && cp "$f" build-aux/tap-driver.sh && chmod +x build-aux/tap-driver.sh
done
