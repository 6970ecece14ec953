# Integration tests: shell + TAP against real etcd on 127.0.0.1 (see lib.sh).
INTEGRATION_TESTS = \
	tests/integration/t0100-backup-single.sh
TESTS += $(INTEGRATION_TESTS)
EXTRA_DIST += $(INTEGRATION_TESTS) tests/integration/lib.sh tests/integration/stallproxy.py
