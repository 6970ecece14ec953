# What `make install` puts beside the binary and the man pages, what the
# tarball carries for a release, and the build's record of its git commit.

# `git describe` of the checkout, for --version (src/cmd/version.c); empty
# when building from a tarball. Remade on every build, replaced only when it
# changed, so an unchanged commit rebuilds nothing. The test is for a .git in
# the source dir itself: a tarball unpacked inside a checkout must not take
# the checkout's commit.
BUILT_SOURCES = edr-version.h
DISTCLEANFILES = edr-version.h
edr-version.h: edr-version-force
	$(AM_V_GEN)d=; \
	if test -e '$(top_srcdir)/.git'; then \
	    d=`git -C '$(top_srcdir)' describe --tags --always --dirty 2>/dev/null`; \
	fi; \
	printf '#define EDR_GIT_DESCRIBE "%s"\n' "$$d" >$@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv -f $@.tmp $@; fi
edr-version-force:
.PHONY: edr-version-force

# Release notes and documentation in $(docdir).
dist_doc_DATA = README.md NEWS
EXTRA_DIST += doc/releasing.md

# The example config and crontab go to $(docdir)/examples, not to
# $(sysconfdir): `make install` must never overwrite an operator's edited
# config, and `make uninstall` must not remove it. The Debian package
# installs the same file as a conffile in /etc/etcd-dr.
exampledir = $(docdir)/examples
dist_example_DATA = examples/etcd-dr.conf examples/crontab
# Prometheus alerting rules, their promtool unit tests and a Grafana dashboard
promexampledir = $(exampledir)/prometheus
dist_promexample_DATA = examples/prometheus/etcd-dr.rules.yml examples/prometheus/tests.yml \
	examples/prometheus/etcd-dr-dashboard.json examples/prometheus/README.md

# The systemd units of examples/systemd, with the paths of this build's
# prefix (/usr/bin/etcd-dr -> $(bindir), /etc/etcd-dr -> $(sysconfdir)).
# Installed disabled; --without-systemdsystemunitdir installs none.
SYSTEMD_UNITS = systemd/etcd-dr-backup.service systemd/etcd-dr-backup.timer \
	systemd/etcd-dr-schedule.service
if HAVE_SYSTEMD_UNITDIR
systemdsystemunit_DATA = $(SYSTEMD_UNITS)
endif
CLEANFILES += $(SYSTEMD_UNITS)
systemd/%: examples/systemd/%
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|/usr/bin/etcd-dr|$(bindir)/etcd-dr|g' \
	    -e 's|/etc/etcd-dr/|$(sysconfdir)/etcd-dr/|g' $< >$@.tmp && mv -f $@.tmp $@

# Shell completions. bash-completion loads a command's completion on demand
# from a file named after the command, so etcd-dr.bash is installed as
# etcd-dr; zsh finds _etcd-dr on its $fpath.
EXTRA_DIST += completions/etcd-dr.bash
dist_zshcompletion_DATA = completions/_etcd-dr
install-data-local:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) '$(srcdir)/completions/etcd-dr.bash' '$(DESTDIR)$(bashcompletiondir)/etcd-dr'
uninstall-local:
	rm -f '$(DESTDIR)$(bashcompletiondir)/etcd-dr'

# distcheck: unit tests and fuzz replays only (the integration tests need
# etcd, S3 and kube-apiserver servers: run-tests.sh runs them), and every
# install dir under distcheck's prefix.
AM_DISTCHECK_CONFIGURE_FLAGS = --disable-integration-tests \
	--with-systemdsystemunitdir='$${libdir}/systemd/system' \
	--with-bash-completion-dir='$${datadir}/bash-completion/completions'
