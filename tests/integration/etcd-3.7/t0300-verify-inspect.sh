#!/bin/sh
# t0300-verify-inspect against etcd 3.7 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.7 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t0300-verify-inspect.sh"
