#!/bin/sh
# Turns a Debian 12 root into the etcd-dr image's root, run inside it as root:
# by the Dockerfile on debian:12-slim, and by tests/package/image.sh in a
# chroot of a debootstrapped bookworm, so that the image and its test cannot
# drift apart. Installs the runtime packages of ./packages that are missing,
# drops the package lists, adds the user etcd-dr (UID/GID 65532, no login
# shell, home /var/lib/etcd-dr mode 0700). The binary is copied in by the
# caller (to /usr/bin/etcd-dr).
#   setup.sh PACKAGES_FILE
set -eu
list=$1
uid=65532
missing=""
for p in $(sed -e 's/#.*//' "$list"); do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086 # a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
apt-get clean
rm -rf /var/lib/apt/lists/*
getent group etcd-dr >/dev/null || groupadd --system --gid "$uid" etcd-dr
getent passwd etcd-dr >/dev/null ||
    useradd --system --uid "$uid" --gid "$uid" --home-dir /var/lib/etcd-dr --no-create-home \
        --shell /usr/sbin/nologin etcd-dr
install -d -o "$uid" -g "$uid" -m 0700 /var/lib/etcd-dr
