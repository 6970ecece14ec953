# sources and unit tests of src/mvcc (see Makefile.am)
libedr_a_SOURCES += src/mvcc/mvcc.h src/mvcc/intern.h src/mvcc/check.c \
	src/mvcc/livekeys.c src/mvcc/status.c src/mvcc/summary.c src/mvcc/k8s.c src/mvcc/kvpb.c

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/mvcc/test_mvcc
tests_unit_mvcc_test_mvcc_SOURCES = tests/unit/mvcc/test_mvcc.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_mvcc_test_mvcc_CFLAGS = $(UNITCFLAGS)
tests_unit_mvcc_test_mvcc_LDADD = $(UNITLIBS)
TESTS += tests/unit/mvcc/test_mvcc
endif

# helper of tests/integration/t0400-inspect-vs-etcdctl.sh (status and writer vs etcdctl)
check_PROGRAMS += tests/unit/mvcc/mvcc_status
tests_unit_mvcc_mvcc_status_SOURCES = tests/unit/mvcc/mvcc_status.c tests/fuzz/scan_diff.c \
	tests/fuzz/scan_diff.h
tests_unit_mvcc_mvcc_status_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/tests/fuzz
tests_unit_mvcc_mvcc_status_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/integration/t0400-inspect-vs-etcdctl.sh
EXTRA_DIST += tests/integration/t0400-inspect-vs-etcdctl.sh
