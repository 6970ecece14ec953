#!/bin/sh
# Build the reference etcd binaries the integration tests run against
# (tests/etcd-versions lists them) into a cache keyed by version:
#   $EDR_ETCD_CACHE/VERSION/{etcd,etcdctl,etcdutl,etcd-verify,bbolt}
# Default cache: ${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/etcd. A version
# already built costs nothing. Go is used only here, to build test references;
# etcd-dr itself is C.
#   scripts/etcd-versions.sh            build every listed version
#   scripts/etcd-versions.sh --dir V    print the directory of version V (3.5 = newest 3.5.x listed)
# Exit status: non-zero when a version failed to build (its tests then fail).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
list="$top/tests/etcd-versions"
cache=${EDR_ETCD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/etcd-dr/etcd}

versions() { sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$list"; }

resolve() { # resolve 3.5 | 3.5.35 -> full version listed
    versions | awk -v v="$1" '$1 == v || index($1, v ".") == 1 { print $1; exit }'
}

if [ "${1:-}" = "--dir" ]; then
    v=$(resolve "$2")
    [ -n "$v" ] || { echo "etcd-versions: $2 is not listed in $list" >&2; exit 2; }
    echo "$cache/$v"
    exit 0
fi

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
command -v go >/dev/null 2>&1 || {
    echo "etcd-versions: go is not installed (needed to build etcd 3.5+ for the tests)" >&2
    exit 1
}

# stamp: what a cached build was made from; a change rebuilds it
stamp_of() { printf '%s bbolt %s verify %s\n' "$1" "$2" "$(cksum <"$top/tests/etcd-verify/main.go")"; }

build_bbolt() { # build_bbolt VERSION DEST
    GOBIN="$2" go install "go.etcd.io/bbolt/cmd/bbolt@v$1"
}

build_one() { # build_one VERSION BBOLT DEST
    v=$1 bb=$2 dest=$3
    work=$(mktemp -d "${TMPDIR:-/tmp}/edr-etcd-build.XXXXXX")
    mkdir -p "$work/verify"
    cp "$top/tests/etcd-verify/main.go" "$work/verify/main.go"
    (
        set -e
        cd "$work"
        go mod init edr-etcd-build >/dev/null 2>&1
        go get "go.etcd.io/etcd/server/v3@v$v" "go.etcd.io/etcd/etcdutl/v3@v$v" \
            "go.etcd.io/etcd/etcdctl/v3@v$v" >/dev/null 2>&1
        mkdir -p "$dest.tmp"
        ld=""
        case $v in 3.5.*) ld="-ldflags=-checklinkname=0" ;; esac
        go build -trimpath $ld -o "$dest.tmp/etcd" go.etcd.io/etcd/server/v3
        go build -trimpath $ld -o "$dest.tmp/etcdutl" go.etcd.io/etcd/etcdutl/v3
        go build -trimpath $ld -o "$dest.tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3
        go build -trimpath $ld -o "$dest.tmp/etcd-verify" ./verify
        build_bbolt "$bb" "$dest.tmp"
        "$dest.tmp/etcd" --version | grep -q "etcd Version: $v"
    )
    rc=$?
    rm -rf "$work"
    return $rc
}

versions | { status=0; while read -r v bb origin; do
    dest="$cache/$v"
    want=$(stamp_of "$v" "$bb")
    if [ -f "$dest/.stamp" ] && [ "$(cat "$dest/.stamp")" = "$want" ]; then
        continue
    fi
    echo "etcd-versions: building etcd $v (bbolt CLI $bb) into $dest"
    rm -rf "$dest" "$dest.tmp"
    mkdir -p "$cache"
    if [ "${origin:-}" = "debian" ]; then
        # Debian's etcd is the 3.4 under test; only the bbolt CLI is built
        mkdir -p "$dest.tmp" && build_bbolt "$bb" "$dest.tmp" &&
            ln -s "$(command -v etcd)" "$dest.tmp/etcd" &&
            ln -s "$(command -v etcdctl)" "$dest.tmp/etcdctl"
    else
        build_one "$v" "$bb" "$dest"
    fi
    if [ $? -eq 0 ]; then
        echo "$want" >"$dest.tmp/.stamp"
        mv "$dest.tmp" "$dest"
    else
        echo "etcd-versions: etcd $v FAILED to build; its tests will fail" >&2
        rm -rf "$dest.tmp"
        status=1
    fi
done; exit $status; }
