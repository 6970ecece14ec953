#!/bin/sh
# t1000-pitr against etcd 3.7 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.7 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t1000-pitr.sh"
