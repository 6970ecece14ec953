#!/bin/sh
# Build a reference kube-apiserver for the Kubernetes-aware tests (it is never
# part of etcd-dr's own work): a throwaway Go module that requires
# k8s.io/kubernetes at VERSION and replaces every staging module its go.mod
# points at ./staging/... with the published v0.MINOR.PATCH, then
# `go build k8s.io/kubernetes/cmd/kube-apiserver`. The binary is cached in
# ${EDR_KUBE_APISERVER_CACHE:-${XDG_CACHE_HOME:-~/.cache}/etcd-dr/kube-apiserver}/VERSION/
# with a stamp (like the etcd builds); a second run is free.
#   scripts/kube-apiserver.sh [VERSION]     build (default: the one below)
#   scripts/kube-apiserver.sh --dir [VERSION]   print the cache dir
set -eu
DEFAULT=1.34.4
if [ "${1:-}" = --dir ]; then
    echo "${EDR_KUBE_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/kube-apiserver}/${2:-$DEFAULT}"
    exit 0
fi
V=${1:-$DEFAULT}
DIR=${EDR_KUBE_APISERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/kube-apiserver}/$V
if [ -x "$DIR/kube-apiserver" ] && [ -f "$DIR/.stamp" ]; then
    exit 0
fi
command -v go >/dev/null || { echo "kube-apiserver.sh: go is not installed" >&2; exit 1; }
mkdir -p "$DIR/mod"
cd "$DIR/mod"
STAGING=v0.${V#1.}
# kubernetes' own go.mod names the staging modules it replaces with ./staging
GOMOD=$(go mod download -json "k8s.io/kubernetes@v$V" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$GOMOD" ] || { echo "kube-apiserver.sh: no go.mod for k8s.io/kubernetes@v$V" >&2; exit 1; }
GOVER=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD")
{
    echo "module edr/kube-apiserver"
    echo
    echo "go $GOVER"
    echo
    echo "require k8s.io/kubernetes v$V"
    echo
    sed -n 's|^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*|replace \1 => \1 '"$STAGING"'|p' "$GOMOD"
} >go.mod
cat >tools.go <<'EOF'
//go:build tools

package tools

import _ "k8s.io/kubernetes/cmd/kube-apiserver"
EOF
go mod tidy >/dev/null 2>&1 || go mod tidy
go build -o "$DIR/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
"$DIR/kube-apiserver" --version
date >"$DIR/.stamp"
