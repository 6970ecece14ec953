#!/bin/sh
# t0700-restore-etcd-checks against etcd 3.5 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.5 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t0700-restore-etcd-checks.sh"
