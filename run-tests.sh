#!/bin/sh
# Install dependencies, build etcd-dr, and run every test: unit tests
# (cmocka), fuzz corpus replays, and integration tests against real etcd
# and S3 servers started on 127.0.0.1. Then the unit tests and the main
# integration tests again with an AddressSanitizer + UndefinedBehaviorSanitizer
# build, and `make distcheck` of the committed tree (one test). The main
# integration tests also run against etcd 3.5, 3.6 and 3.7
# (built with Go into a cache by scripts/etcd-versions.sh); the Kubernetes
# tests run a real kube-apiserver (scripts/kube-apiserver.sh). The Debian
# package is built, installed, used and purged (tests/package/deb.sh). Ends
# with "N passed, N failed".
#   ./run-tests.sh                 everything
#   ./run-tests.sh --quick         unit tests only (no servers)
set -u
top=$(cd "$(dirname "$0")" && pwd)
cd "$top"
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$top/scripts/install-deps.sh" || { echo "dependency installation failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
if [ -f tests/integration/s3/package.json ] && [ ! -d tests/integration/s3/node_modules ]; then
    (cd tests/integration/s3 && npm install --no-audit --no-fund --loglevel=error >/dev/null) ||
        echo "# npm install failed: S3 tests will fail"
fi

# etcd 3.5, 3.6 and 3.7 for the version matrix, built once into a cache
# (scripts/etcd-versions.sh); a version that does not build fails its tests
if [ "$quick" -eq 0 ]; then
    "$top/scripts/etcd-versions.sh" || echo "# some etcd versions did not build: their tests will fail"
    # a reference kube-apiserver for the Kubernetes tests (t102x), cached likewise
    # (scripts/kube-apiserver.sh; the first build takes about 6 minutes on 2 cores)
    "$top/scripts/kube-apiserver.sh" >/dev/null ||
        echo "# kube-apiserver did not build: the Kubernetes tests will fail"
    # Gardener's etcdbrctl, whose snapshots t1111 imports, cached likewise
    # (scripts/etcd-backup-restore.sh; about 5 minutes the first time)
    "$top/scripts/etcd-backup-restore.sh" >/dev/null ||
        echo "# etcd-backup-restore did not build: t1111 will fail"
fi

passed=0
failed=0
skipped=0
# /dev/null must stay the character device: a stage that replaced it (a
# "sed -i" or "mv" onto it, a chroot that shares /dev) would break every later
# test in odd ways. Each stage is followed by this check, which names the
# stage, counts a failure and puts the device back.
devnull_check() {
    [ -c /dev/null ] && return 0
    echo "FAILED: /dev/null was not a character device after $1; recreated"
    failed=$((failed + 1))
    rm -f /dev/null && mknod -m 666 /dev/null c 1 3
}
devnull_check "the setup"
count() { # count DIR MAKE_STATUS: add the TAP results of a finished 'make check'
    p=$(find "$1" -name '*.trs' -exec grep -h '^:test-result: \(PASS\|XFAIL\)' {} + | wc -l)
    f=$(find "$1" -name '*.trs' -exec grep -h '^:test-result: \(FAIL\|XPASS\|ERROR\)' {} + | wc -l)
    s=$(find "$1" -name '*.trs' -exec grep -h '^:test-result: SKIP' {} + | wc -l)
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    # make check failing with no failed test: something did not build or run
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAILED: 'make check' in $1 exited with $2 without a failed test (a build error?)"
        failed=$((failed + 1))
    fi
}

SAN_INTEGRATION="tests/integration/t0100-backup-single.sh tests/integration/t0120-backup-cluster.sh \
tests/integration/t0130-backup-interrupted.sh tests/integration/t0200-restore.sh \
tests/integration/t0210-restore-bad-input.sh tests/integration/t0300-verify-inspect.sh \
tests/integration/t0510-s3-backup.sh tests/integration/t0520-s3-tls-vhost-token.sh \
tests/integration/t0600-schedule.sh tests/integration/t0700-restore-etcd-checks.sh \
tests/integration/t1000-pitr.sh tests/integration/t1010-diff.sh tests/integration/t1021-k8s-view.sh \
tests/integration/t1022-k8s-encryption.sh tests/integration/t1030-restore-check.sh \
tests/integration/t1040-bump-auto.sh tests/integration/t1050-k8s-view.sh \
tests/integration/t1100-import-tools.sh tests/integration/t1110-import-gardener.sh \
tests/integration/t1111-import-gardener-tool.sh tests/integration/t1120-include-files.sh \
tests/integration/t1300-info.sh"
build="$top/build"
if ! "$top/scripts/build.sh" "$build"; then
    echo "build failed"
    echo "$passed passed, $((failed + 1)) failed, 0 skipped"
    exit 1
fi
cd "$build"
find . -name '*.trs' -delete
if [ "$quick" -eq 1 ]; then
    make -j2 check TESTS="$(make -s print-unit-tests)" >"$build/check.out" 2>&1
else
    make -j2 check >"$build/check.out" 2>&1
fi
count "$build" $?
devnull_check "make check"
grep -h '^:test-result: \(FAIL\|ERROR\)' -r --include='*.trs' -l . 2>/dev/null | sed 's/^/FAILED: /'
for f in $(grep -l '^:test-result: \(FAIL\|ERROR\)' -r --include='*.trs' . 2>/dev/null); do
    log=${f%.trs}.log
    echo "---- $log"
    grep -E '^(not ok|#|Bail)' "$log" | head -40
done

# tap_stage NAME SCRIPT: a TAP test script outside 'make check' (the packaging
# tests of tests/package/), run with the build's binary; its results are
# counted. A script that stops early (no plan) or exits non-zero without a
# failed test counts as one failure.
tap_stage() {
    log="$build/$1.log"
    EDR_BIN="$build/etcd-dr" EDR_SRCDIR="$top" EDR_BUILDDIR="$build" CI=${CI:-1} \
        bash "$top/$2" >"$log" 2>&1
    st=$?
    p=$(grep -c '^ok ' "$log" | tr -d ' ')
    s=$(grep -c '^ok .*# SKIP' "$log" | tr -d ' ')
    f=$(grep -c '^not ok ' "$log" | tr -d ' ')
    passed=$((passed + p - s))
    failed=$((failed + f))
    skipped=$((skipped + s))
    grep -E '^(not ok|Bail out!)' "$log" | sed "s|^|FAILED: $2: |"
    if ! grep -q '^1\.\.[0-9]' "$log" || { [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; }; then
        echo "FAILED: $2 stopped early (exit $st), see $log"
        failed=$((failed + 1))
    fi
    grep '^# [a-z ]*: [0-9]* s$' "$log" | sed "s|^# |# $(basename "$2"): |"
}
# the Debian package (a release tarball carries no debian/: nothing to build)
if [ "$quick" -eq 0 ] && [ -f "$top/debian/control" ]; then
    tap_stage deb tests/package/deb.sh
    devnull_check tests/package/deb.sh
elif [ "$quick" -eq 0 ]; then
    echo "skipped: tests/package/deb.sh: no debian/ in this tree"
    skipped=$((skipped + 1))
fi
# the container image's root (Debian 12 minbase, cached under ~/.cache/etcd-dr/)
if [ "$quick" -eq 0 ]; then
    tap_stage image tests/package/image.sh
    devnull_check tests/package/image.sh
fi

# make distcheck from a clean tree of the committed HEAD (git archive: no
# build products, no uncommitted files): the tarball must build out of tree,
# pass the unit tests, install under a prefix and uninstall without leftovers.
# One test; about 3 minutes on 2 cores.
if [ "$quick" -eq 0 ] && [ -z "${EDR_NO_DISTCHECK:-}" ]; then
    dc="$top/build-distcheck"
    chmod -R u+w "$dc" 2>/dev/null
    rm -rf "$dc"
    mkdir -p "$dc/src"
    if [ -e "$top/.git" ]; then
        git -C "$top" archive HEAD | tar -x -C "$dc/src"
    else # a tarball: its own files are the release
        tar -C "$top" --exclude=./build --exclude=./build-san --exclude=./build-distcheck -cf - . |
            tar -x -C "$dc/src"
    fi
    if (cd "$dc/src" && autoreconf -fi && ./configure && make -j2 distcheck) >"$dc/distcheck.out" 2>&1; then
        passed=$((passed + 1))
        echo "distcheck: $(grep -m1 'archives ready for distribution' "$dc/distcheck.out")"
    else
        failed=$((failed + 1))
        echo "FAILED: make distcheck (log: $dc/distcheck.out)"
        grep -E '^(FAIL|ERROR):|\*\*\*|error:|ERROR:' "$dc/distcheck.out" | head -20
        tail -15 "$dc/distcheck.out"
    fi
fi
devnull_check "make distcheck"


if [ "$quick" -eq 0 ] && [ -z "${EDR_NO_SANITIZERS:-}" ]; then
    san="$top/build-san"
    if "$top/scripts/build.sh" "$san" --enable-sanitizers; then
        cd "$san"
        find . -name '*.trs' -delete
        # unit tests and fuzz replays, plus the integration tests that drive the
        # whole pipeline, with an ASan+UBSan etcd-dr (leaks fail the command too)
        ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS="suppressions=$top/tests/lsan.supp" make -j2 check TESTS="$(make -s print-unit-tests) $SAN_INTEGRATION" \
            >"$san/check.out" 2>&1
        st=$?
        before_f=$failed
        count "$san" $st
        for f in $(grep -l '^:test-result: \(FAIL\|ERROR\)' -r --include='*.trs' . 2>/dev/null); do
            echo "---- sanitizer: ${f%.trs}.log"
            tail -30 "${f%.trs}.log"
        done
        [ "$failed" -eq "$before_f" ] || echo "sanitizer run had failures"
        devnull_check "the sanitizer run"
    else
        echo "sanitizer build failed"
        failed=$((failed + 1))
    fi
fi
grep -h '^ok .*# SKIP' -r --include='*.log' "$build" "${san:-$build}" 2>/dev/null | sort -u | sed 's/^/skipped: /'
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
