# Integration tests: shell + TAP against real etcd on 127.0.0.1 (see lib.sh).
INTEGRATION_TESTS = \
	tests/integration/t0100-backup-single.sh \
	tests/integration/t0110-backup-tls-auth.sh \
	tests/integration/t0120-backup-cluster.sh \
	tests/integration/t0130-backup-interrupted.sh \
	tests/integration/t0200-restore.sh \
	tests/integration/t0210-restore-bad-input.sh \
	tests/integration/t0300-verify-inspect.sh \
	tests/integration/t0600-schedule.sh \
	tests/integration/t0610-prune.sh \
	tests/integration/t0620-config.sh \
	tests/integration/t0700-restore-etcd-checks.sh \
	tests/integration/t0710-restore-cross-version.sh \
	tests/integration/t0800-hostile.sh \
	tests/integration/t0810-races.sh \
	tests/integration/t0900-docs.sh \
	tests/integration/t0910-examples.sh \
	tests/integration/t1000-pitr.sh \
	tests/integration/t1010-diff.sh \
	tests/integration/t1020-k8s-apiserver.sh \
	tests/integration/t1021-k8s-view.sh \
	tests/integration/t1022-k8s-encryption.sh \
	tests/integration/t1023-k8s-bump.sh \
	tests/integration/t1030-restore-check.sh \
	tests/integration/t1040-bump-auto.sh \
	tests/integration/t1050-k8s-view.sh \
	tests/integration/t1100-import-tools.sh \
	tests/integration/t1110-import-gardener.sh \
	tests/integration/t1111-import-gardener-tool.sh \
	tests/integration/t1120-include-files.sh \
	tests/integration/t1200-completion.sh \
	tests/integration/t1201-version.sh \
	tests/integration/t1300-info.sh \
	tests/integration/t1310-prometheus.sh
if INTEGRATION_TESTS
TESTS += $(INTEGRATION_TESTS)
endif
# The version matrix: the main integration tests again against each etcd of
# tests/etcd-versions besides Debian's 3.4 (scripts/etcd-versions.sh builds them).
VERSION_TESTS = \
	tests/integration/etcd-3.5/t0100-backup-single.sh \
	tests/integration/etcd-3.5/t0110-backup-tls-auth.sh \
	tests/integration/etcd-3.5/t0120-backup-cluster.sh \
	tests/integration/etcd-3.5/t0200-restore.sh \
	tests/integration/etcd-3.5/t0300-verify-inspect.sh \
	tests/integration/etcd-3.5/t0400-inspect-vs-etcdctl.sh \
	tests/integration/etcd-3.5/t0700-restore-etcd-checks.sh \
	tests/integration/etcd-3.5/t1000-pitr.sh \
	tests/integration/etcd-3.6/t0100-backup-single.sh \
	tests/integration/etcd-3.6/t0110-backup-tls-auth.sh \
	tests/integration/etcd-3.6/t0120-backup-cluster.sh \
	tests/integration/etcd-3.6/t0200-restore.sh \
	tests/integration/etcd-3.6/t0300-verify-inspect.sh \
	tests/integration/etcd-3.6/t0400-inspect-vs-etcdctl.sh \
	tests/integration/etcd-3.6/t0700-restore-etcd-checks.sh \
	tests/integration/etcd-3.6/t1000-pitr.sh \
	tests/integration/etcd-3.7/t0100-backup-single.sh \
	tests/integration/etcd-3.7/t0110-backup-tls-auth.sh \
	tests/integration/etcd-3.7/t0120-backup-cluster.sh \
	tests/integration/etcd-3.7/t0200-restore.sh \
	tests/integration/etcd-3.7/t0300-verify-inspect.sh \
	tests/integration/etcd-3.7/t0400-inspect-vs-etcdctl.sh \
	tests/integration/etcd-3.7/t0700-restore-etcd-checks.sh \
	tests/integration/etcd-3.7/t1000-pitr.sh
if INTEGRATION_TESTS
TESTS += $(VERSION_TESTS)
endif
EXTRA_DIST += $(VERSION_TESTS) tests/etcd-versions tests/etcd-verify/main.go scripts/etcd-versions.sh
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/integration/stallproxy.py \
	tests/integration/lib-k8s.sh scripts/kube-apiserver.sh scripts/etcd-backup-restore.sh
