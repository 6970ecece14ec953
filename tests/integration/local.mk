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
	tests/integration/t0900-docs.sh \
	tests/integration/t0910-examples.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/integration/stallproxy.py
