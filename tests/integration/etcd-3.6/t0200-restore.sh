#!/bin/sh
# t0200-restore against etcd 3.6 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.6 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t0200-restore.sh"
