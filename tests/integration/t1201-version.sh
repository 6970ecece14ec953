#!/bin/bash
# etcd-dr --version: configure.ac's version, the build's `git describe` from a
# checkout (none from a tarball), and the versions of the libraries it runs
# with, the same in text and in --json; each library's version must be the
# one pkg-config reports (the test machine runs with the libraries it built
# against).
BASE_PORT=25920
. "$(dirname "$0")/lib.sh"

want=$(sed -n 's/^AC_INIT(\[etcd-dr\], \[\([^]]*\)\].*/\1/p' "$SRCDIR/configure.ac")
[ -n "$want" ] || bail "no version in configure.ac's AC_INIT"
check "--version exits 0" "$EDR" --version
"$EDR" --version >"$T/text" 2>&1
"$EDR" --version --json >"$T/json" 2>&1 || not_ok "--version --json exits 0"
check "first line: etcd-dr $want" test "$(head -1 "$T/text")" = "etcd-dr $want"
check "version: same as the first argument of AC_INIT" \
    python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["version"] != sys.argv[2])' "$T/json" "$want"
check "'version' is the same as '--version'" sh -c "'$EDR' version | cmp -s - '$T/text'"

git=$(python3 -c 'import json,sys; g=json.load(open(sys.argv[1]))["git"]; print(g or "")' "$T/json")
if [ -e "$SRCDIR/.git" ]; then
    # the build records the commit it was built from: the checkout's HEAD
    head=$(git -C "$SRCDIR" rev-parse --short=7 HEAD)
    case $git in
    *"$head"* | *"g$head"*) ok "git: '$git' names HEAD $head" ;;
    *) not_ok "git: '$git' does not name HEAD $head (a stale build?)" ;;
    esac
    check "text names the same commit" grep -qx "git $git" "$T/text"
else
    check "from a tarball: no git line" sh -c "! grep -q '^git ' '$T/text'"
    check "from a tarball: git is null in --json" test -z "$git"
fi

# each library: text line == JSON value == pkg-config's version
for pair in libcurl:libcurl jansson:jansson zstd:libzstd libsodium:libsodium \
    libarchive:libarchive openssl:libcrypto; do
    name=${pair%%:*} pc=${pair#*:}
    t=$(sed -n "s/^$name //p" "$T/text")
    j=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["libraries"].get(sys.argv[2],""))' "$T/json" "$name")
    p=$(pkg-config --modversion "$pc" 2>/dev/null)
    if [ -n "$t" ] && [ "$t" = "$j" ] && [ "$t" = "$p" ]; then ok "$name $t (pkg-config $pc $p)"; else
        not_ok "$name: text '$t', json '$j', pkg-config $pc '$p'"
    fi
done
expect_fail "--version with an unknown argument" 2 "usage: etcd-dr --version" "$EDR" --version --yaml
done_testing
