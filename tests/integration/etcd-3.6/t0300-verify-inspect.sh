#!/bin/sh
# t0300-verify-inspect against etcd 3.6 (tests/etcd-versions, built by scripts/etcd-versions.sh)
EDR_ETCD_VERSION=3.6 exec bash "${EDR_SRCDIR:-$(dirname "$0")/../../..}/tests/integration/t0300-verify-inspect.sh"
