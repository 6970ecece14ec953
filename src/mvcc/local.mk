# sources and unit tests of src/mvcc (see Makefile.am)
libedr_a_SOURCES += src/mvcc/mvcc.h src/mvcc/intern.h src/mvcc/check.c \
	src/mvcc/livekeys.c src/mvcc/status.c src/mvcc/summary.c src/mvcc/k8s.c src/mvcc/kvpb.c

if HAVE_CMOCKA
MVCC_TEST_DB = tests/unit/mvcc/etcd_db.c tests/unit/mvcc/etcd_db.h \
	tests/unit/support.c tests/unit/support.h
check_PROGRAMS += tests/unit/mvcc/test_kvpb tests/unit/mvcc/test_check \
	tests/unit/mvcc/test_livekeys tests/unit/mvcc/test_status tests/unit/mvcc/test_k8s
tests_unit_mvcc_test_kvpb_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_kvpb_LDADD = $(UNITLIBS)
tests_unit_mvcc_test_check_SOURCES = tests/unit/mvcc/test_check.c $(MVCC_TEST_DB)
tests_unit_mvcc_test_check_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_check_LDADD = $(UNITLIBS)
tests_unit_mvcc_test_livekeys_SOURCES = tests/unit/mvcc/test_livekeys.c $(MVCC_TEST_DB)
tests_unit_mvcc_test_livekeys_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_livekeys_LDADD = $(UNITLIBS)
tests_unit_mvcc_test_status_SOURCES = tests/unit/mvcc/test_status.c $(MVCC_TEST_DB)
tests_unit_mvcc_test_status_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_status_LDADD = $(UNITLIBS)
tests_unit_mvcc_test_k8s_SOURCES = tests/unit/mvcc/test_k8s.c $(MVCC_TEST_DB)
tests_unit_mvcc_test_k8s_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_k8s_LDADD = $(UNITLIBS)
TESTS += tests/unit/mvcc/test_kvpb tests/unit/mvcc/test_check tests/unit/mvcc/test_livekeys \
	tests/unit/mvcc/test_status tests/unit/mvcc/test_k8s
endif
# helper of tests/integration/t0400-inspect-vs-etcdctl.sh (status and writer vs etcdctl)
check_PROGRAMS += tests/unit/mvcc/mvcc_status
tests_unit_mvcc_mvcc_status_SOURCES = tests/unit/mvcc/mvcc_status.c tests/fuzz/scan_diff.c \
	tests/fuzz/scan_diff.h
tests_unit_mvcc_mvcc_status_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/tests/fuzz
tests_unit_mvcc_mvcc_status_LDADD = libedr.a $(DEP_LIBS)
if INTEGRATION_TESTS
TESTS += tests/integration/t0400-inspect-vs-etcdctl.sh
endif
EXTRA_DIST += tests/integration/t0400-inspect-vs-etcdctl.sh
