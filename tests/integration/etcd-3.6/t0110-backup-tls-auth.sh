#!/bin/sh
# t0110-backup-tls-auth against etcd 3.6 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.6 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t0110-backup-tls-auth.sh"
