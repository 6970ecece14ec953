#!/bin/sh
# Build Gardener's etcd-backup-restore (etcdbrctl) as a reference for the
# import tests: t1111 lets the real tool write full and delta snapshots of a
# test etcd and imports what it wrote. It is never part of etcd-dr's own
# work. A throwaway Go module requires github.com/gardener/etcd-backup-restore
# at VERSION and builds its main package. The binary is cached in
# ${EDR_ETCDBR_CACHE:-${XDG_CACHE_HOME:-~/.cache}/etcd-dr/etcd-backup-restore}/VERSION/
# with a stamp (like the etcd builds); a second run is free.
#   scripts/etcd-backup-restore.sh [VERSION]          build (default: the one below)
#   scripts/etcd-backup-restore.sh --dir [VERSION]    print the cache dir
set -eu
DEFAULT=0.37.0
CACHE=${EDR_ETCDBR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/etcd-backup-restore}
if [ "${1:-}" = --dir ]; then
    echo "$CACHE/${2:-$DEFAULT}"
    exit 0
fi
V=${1:-$DEFAULT}
DIR=$CACHE/$V
if [ -x "$DIR/etcdbrctl" ] && [ -f "$DIR/.stamp" ]; then
    exit 0
fi
command -v go >/dev/null || { echo "etcd-backup-restore.sh: go is not installed" >&2; exit 1; }
mkdir -p "$DIR/mod"
cd "$DIR/mod"
M=github.com/gardener/etcd-backup-restore
GOMOD=$(go mod download -json "$M@v$V" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')
[ -f "$GOMOD" ] || { echo "etcd-backup-restore.sh: no go.mod for $M@v$V" >&2; exit 1; }
GOVER=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$GOMOD")
printf 'module edr/etcd-backup-restore\n\ngo %s\n' "$GOVER" >go.mod
go get "$M@v$V"
go build -o "$DIR/etcdbrctl" "$M"
"$DIR/etcdbrctl" --help >/dev/null
date >"$DIR/.stamp"
