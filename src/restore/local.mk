# sources and unit tests of src/restore (see Makefile.am)
libedr_a_SOURCES += \
	src/restore/json.c src/restore/json.h \
	src/restore/bump.c src/restore/bump.h \
	src/restore/cluster.c src/restore/cluster.h \
	src/restore/compat.c src/restore/compat.h \
	src/restore/drop.c src/restore/drop.h \
	src/restore/fsutil.c src/restore/fsutil.h \
	src/restore/preflight.c src/restore/preflight.h \
	src/restore/restore.c src/restore/restore.h \
	src/restore/snapfile.c src/restore/snapfile.h \
	src/restore/wal.c src/restore/wal.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/restore/test_cluster tests/unit/restore/test_wal \
	tests/unit/restore/test_snapfile tests/unit/restore/test_restore tests/unit/restore/test_compat \
	tests/unit/restore/test_bump tests/unit/restore/test_preflight
tests_unit_restore_test_preflight_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_preflight_LDADD = $(UNITLIBS)
tests_unit_restore_test_bump_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_bump_LDADD = $(UNITLIBS)
tests_unit_restore_test_compat_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_compat_LDADD = $(UNITLIBS)
tests_unit_restore_test_cluster_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_cluster_LDADD = $(UNITLIBS)
tests_unit_restore_test_wal_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_wal_LDADD = $(UNITLIBS)
tests_unit_restore_test_snapfile_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_snapfile_LDADD = $(UNITLIBS)
tests_unit_restore_test_restore_CFLAGS = $(UNITCFLAGS)
tests_unit_restore_test_restore_LDADD = $(UNITLIBS)
TESTS += tests/unit/restore/test_cluster tests/unit/restore/test_wal \
	tests/unit/restore/test_snapfile tests/unit/restore/test_restore tests/unit/restore/test_compat \
	tests/unit/restore/test_bump tests/unit/restore/test_preflight
endif
