#!/bin/bash
# The Debian package, end to end on this machine: built with dpkg-buildpackage
# from a clean copy of the tree (the files git knows), lintian-clean, installed
# with apt-get (files, conffile, system user, /var/lib/etcd-dr, units not
# enabled), then the installed /usr/bin/etcd-dr, run as the package's user,
# backs up a test etcd into a repository under /var/lib/etcd-dr and restores
# it (the restored member serves the same keys), and apt-get purge leaves
# /etc, /usr and /var/lib as they were, but for what Debian policy keeps (the
# etcd-dr user). Needs root on Debian 12 with debhelper and lintian
# (scripts/install-deps.sh). Whatever happens, an exit trap purges the
# package and removes the user if this test created it. TAP on stdout, with
# the seconds each phase took.
BASE_PORT=22900
. "$(dirname "$0")/../integration/lib.sh"

PKG=etcd-dr
[ "$(id -u)" -eq 0 ] || bail "needs root: it installs and purges the package"
for t in git dpkg-buildpackage dh lintian apt-get runuser; do
    command -v "$t" >/dev/null || bail "$t not installed (scripts/install-deps.sh installs it)"
done
git -C "$SRCDIR" rev-parse --git-dir >/dev/null 2>&1 || bail "$SRCDIR is not a git checkout"
require_etcd

installed() { dpkg-query -W -f='${db:Status-Status}' "$PKG" 2>/dev/null | grep -qv '^not-installed$'; }
user_existed=0
getent passwd etcd-dr >/dev/null && user_existed=1
dirs_new=""
for d in /etc/etcd-dr /var/lib/etcd-dr; do [ -e "$d" ] || dirs_new="$dirs_new $d"; done
# Put the machine back: no package (not even its conffiles), and no etcd-dr
# user, group or directory unless there was one before the test.
restore_machine() {
    if installed; then
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "$PKG" >/dev/null 2>&1 ||
            dpkg --purge --force-all "$PKG" >/dev/null 2>&1
    fi
    for d in $dirs_new; do rm -rf "$d"; done
    if [ "$user_existed" -eq 0 ]; then
        getent passwd etcd-dr >/dev/null && userdel etcd-dr 2>/dev/null
        getent group etcd-dr >/dev/null && groupdel etcd-dr 2>/dev/null
    fi
    cleanup
}
trap restore_machine EXIT
if installed; then
    diag "purging an $PKG package left by an earlier run"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "$PKG" >/dev/null 2>&1 || bail "cannot purge it"
fi

t0=$SECONDS
phase() { diag "$1: $((SECONDS - t0)) s"; t0=$SECONDS; }
# listing: every path under /etc, /usr and /var/lib (one file system each)
listing() { find /etc /usr /var/lib -xdev 2>/dev/null | LC_ALL=C sort; }
listing >"$T/before.list"

# --- build from a clean copy ---------------------------------------------------
VER=$(dpkg-parsechangelog -l "$SRCDIR/debian/changelog" -S Version)
SRC=$T/build/$PKG-${VER%-*}
mkdir -p "$SRC"
(cd "$SRCDIR" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - --) |
    tar -xf - -C "$SRC" || bail "copying the tree failed"
if (cd "$SRC" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
    >"$T/build.log" 2>&1; then
    ok "dpkg-buildpackage -us -uc -b builds $PKG $VER"
else
    not_ok "dpkg-buildpackage failed"
    tail -25 "$T/build.log" | sed 's/^/#   /'
    bail "no package to test"
fi
DEB=$(ls "$T/build/${PKG}_${VER}"_*.deb)
CHANGES=$(ls "$T/build/${PKG}_${VER}"_*.changes)
phase "build"

# --- lintian ----------------------------------------------------------------
# Errors and warnings fail; what remains is explained in
# debian/etcd-dr.lintian-overrides. The info and pedantic tags are shown.
lintian --fail-on error,warning --info --pedantic "$CHANGES" >"$T/lintian.out" 2>&1
rc=$?
grep -E '^[EWIPX]: ' "$T/lintian.out" | sed 's/^/# lintian: /'
if [ $rc -eq 0 ]; then ok "lintian: no error or warning"; else not_ok "lintian (exit $rc)"; fi
phase "lintian"

# --- install ----------------------------------------------------------------
check "apt-get install ./$(basename "$DEB")" \
    env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$DEB"
installed || bail "the package is not installed"
phase "install"

EDR=/usr/bin/etcd-dr
check "$EDR --version says ${VER%-*}" sh -c "'$EDR' --version | grep -q '^etcd-dr ${VER%-*}'"
for f in /usr/share/man/man1/etcd-dr.1.gz /usr/share/man/man5/etcd-dr.conf.5.gz \
    /usr/share/man/man5/etcd-dr-format.5.gz; do
    check "man page $f" sh -c "zcat '$f' | grep -q '^\\.Dt '"
done
check "bash completion: loading it defines the completion of etcd-dr" \
    bash -c '. /usr/share/bash-completion/completions/etcd-dr && complete -p etcd-dr'
check "zsh completion: _etcd-dr is a #compdef etcd-dr file" \
    grep -q '^#compdef etcd-dr' /usr/share/zsh/vendor-completions/_etcd-dr
CONF=/etc/etcd-dr/etcd-dr.conf
check "$CONF is a conffile" sh -c "dpkg-query -W -f='\${Conffiles}\\n' $PKG | grep -q '^ $CONF '"
check "$CONF has every setting commented out" \
    sh -c "! grep -Eq '^[[:space:]]*[a-z][a-z0-9-]*[[:space:]]*=' '$CONF'"
# each setting of the example is there, commented: it is the example
miss=$(grep -E '^[a-z][a-z0-9-]*[[:space:]]*=' "$SRCDIR/examples/etcd-dr.conf" |
    while IFS= read -r l; do grep -qxF "# $l" "$CONF" || echo "$l"; done)
if [ -z "$miss" ]; then ok "$CONF holds the example's settings, commented"; else
    not_ok "$CONF lacks:"; echo "$miss" | sed 's/^/#   /'; fi
check "etcd-dr config check accepts $CONF" "$EDR" config check --config "$CONF"

check "user etcd-dr: a system account without a login shell, home /var/lib/etcd-dr" sh -c "
    getent passwd etcd-dr | awk -F: '\$3 < 1000 && \$6 == \"/var/lib/etcd-dr\" && \$7 ~ /nologin\$/ { f = 1 } END { exit !f }'"
check "group etcd-dr exists" getent group etcd-dr
check "/var/lib/etcd-dr is etcd-dr:etcd-dr, mode 0700" \
    test "$(stat -c '%U:%G %a' /var/lib/etcd-dr 2>&1)" = "etcd-dr:etcd-dr 700"

UNITS="etcd-dr-backup.service etcd-dr-backup.timer etcd-dr-schedule.service"
for u in $UNITS; do
    f=/lib/systemd/system/$u
    check "unit $u: installed as in examples/systemd" cmp "$f" "$SRCDIR/examples/systemd/$u"
    st=$(systemctl is-enabled "$u" 2>/dev/null)
    case $st in disabled | static) ok "unit $u is not enabled ($st)" ;; *) not_ok "unit $u is '$st'" ;; esac
    if grep -q '^ExecStart=' "$f"; then
        check "unit $u runs $EDR with --config $CONF" \
            grep -q "^ExecStart=$EDR [a-z]* --config $CONF " "$f"
    fi
done
check "no etcd-dr unit is wanted by a target" \
    sh -c "! ls /etc/systemd/system/*.wants/ 2>/dev/null | grep -q etcd-dr"
# as installed: the binary exists now, and the man pages are there
if command -v systemd-analyze >/dev/null; then
    (cd /lib/systemd/system && systemd-analyze verify $UNITS) >"$T/sdv.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/sdv.out" ]; then ok "systemd-analyze verify: the installed units are clean"; else
        not_ok "systemd-analyze verify (exit $rc)"; sed 's/^/#   /' "$T/sdv.out" | head; fi
fi
phase "files"

# --- backup and restore with the installed binary ----------------------------
EP=http://127.0.0.1:$((BASE_PORT + 1))
etcd_start src $((BASE_PORT + 1)) $((BASE_PORT + 2))
wait_healthy "$EP" || bail "etcd did not start"
load_keys "$EP" /deb/ 2000 30 || bail "loading keys failed"
load_keys "$EP" /deb/ 300 40 || bail "overwrites failed"
ctl del --prefix /deb/00019 >/dev/null
ctl put /deb/last "$(printf 'tab\there')" >/dev/null
dump "$EP" "$T/src.dump"
diag "source: $(wc -l <"$T/src.dump") keys"

# as the package's user, in its state directory, the way the units run it
asuser() { runuser -u etcd-dr -- "$@"; }
R=/var/lib/etcd-dr/repo
check "keygen as etcd-dr in /var/lib/etcd-dr" asuser "$EDR" keygen -o /var/lib/etcd-dr/k
check "backup as etcd-dr into $R" asuser "$EDR" backup --endpoints "$EP" --repo "$R" \
    --cluster deb --recipient /var/lib/etcd-dr/k.pub --no-progress
check "list shows one backup" sh -c "test \"\$(runuser -u etcd-dr -- '$EDR' list --repo '$R' --cluster deb --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')\" = 1"
check "verify latest --identity (content)" asuser "$EDR" verify latest --repo "$R" --cluster deb \
    --identity /var/lib/etcd-dr/k.key
etcd_stop src
P1=$((BASE_PORT + 11)) C1=$((BASE_PORT + 10))
check "restore latest into a new member" "$EDR" restore latest --repo "$R" --cluster deb \
    --identity /var/lib/etcd-dr/k.key --name r1 --initial-cluster "r1=http://127.0.0.1:$P1" \
    --initial-cluster-token deb-restored --data-dir "$T/r1"
etcd_start_dir r1 "$T/r1" $C1 $P1
if wait_healthy "http://127.0.0.1:$C1"; then
    dump "http://127.0.0.1:$C1" "$T/r1.dump"
    check "the restored member serves every key with its value and revisions" cmp "$T/src.dump" "$T/r1.dump"
else
    not_ok "the restored member did not become healthy"
    tail -5 "$T/r1-restored.log" | sed 's/^/#   /'
fi
etcd_stop r1
phase "backup and restore"

# --- purge ------------------------------------------------------------------
check "apt-get purge $PKG" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 purge -y -qq "$PKG"
check "dpkg: $PKG is not installed, not even its conffiles" sh -c "! dpkg-query -W -f='\${db:Status-Status}' $PKG 2>/dev/null | grep -qv '^not-installed\$'"
for p in /usr/bin/etcd-dr /etc/etcd-dr /var/lib/etcd-dr; do
    check "$p is gone" test ! -e "$p"
done
listing >"$T/after.list"
# New paths that another package owns were installed meanwhile by someone
# else (apt-get run by another process): shown, not counted.
diff "$T/before.list" "$T/after.list" | grep '^[<>] ' >"$T/changed.list"
sed -n 's/^> //p' "$T/changed.list" | tr '\n' '\0' | xargs -0 -r dpkg-query -S 2>/dev/null |
    grep -v '^diversion ' | grep -v "^$PKG: " | sed 's|^.*: /|/|' | LC_ALL=C sort -u >"$T/others.list"
if [ -s "$T/others.list" ]; then
    diag "$(wc -l <"$T/others.list") new paths of other packages (installed meanwhile), e.g. $(head -1 "$T/others.list")"
fi
grep -vxF -f <(sed 's/^/> /' "$T/others.list") "$T/changed.list" >"$T/left.list"
if [ ! -s "$T/left.list" ]; then
    ok "/etc, /usr and /var/lib list the same paths as before the install"
else
    not_ok "/etc, /usr and /var/lib differ from before the install (< gone, > new):"
    head -20 "$T/left.list" | sed 's/^/#   /'
fi
# Debian policy leaves system users in place on purge; the trap removes it
check "the etcd-dr user stays after purge, as Debian does" getent passwd etcd-dr
phase "purge"
done_testing
