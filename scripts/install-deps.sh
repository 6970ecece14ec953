#!/bin/sh
# Install what etcd-dr needs to build and test on Debian 12: compilers and
# autotools, the libraries, etcd 3.4 (server and etcdctl, used by the tests
# and the quickstart), Node.js/npm for the S3 test server, debootstrap for the
# container image's test root (tests/package/image.sh), and debhelper,
# devscripts and lintian to build and check the Debian package (debian/).
# Idempotent; does nothing that is already done.
set -e
PKGS="build-essential autoconf automake libtool pkg-config \
libcurl4-openssl-dev libjansson-dev libzstd-dev libsodium-dev libarchive-dev zlib1g-dev libssl-dev \
libcmocka-dev etcd-server etcd-client zstd openssl mandoc python3 python3-yaml time curl ca-certificates \
debootstrap"
# zsh: the completion test (t1200) checks completions/_etcd-dr with it
PKGS="$PKGS zsh"
# debhelper, devscripts, lintian: the Debian package test (tests/package/deb.sh)
PKGS="$PKGS debhelper devscripts lintian"
# prometheus: its promtool checks examples/prometheus/ and the metrics file (t1310)
PKGS="$PKGS prometheus"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# Debian's etcd-server package may start a system etcd on 2379; etcd-dr's
# tests and quickstart use their own ports and data dirs, so it can stay.
