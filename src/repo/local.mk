# sources and unit tests of src/repo (see Makefile.am)
libedr_a_SOURCES += \
	src/repo/manifest.c src/repo/manifest.h \
	src/repo/repo.c src/repo/repo.h
libedr_a_SOURCES += src/repo/reader.c src/repo/reader.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/repo/test_manifest tests/unit/repo/test_repo
tests_unit_repo_test_manifest_CFLAGS = $(UNITCFLAGS)
tests_unit_repo_test_manifest_LDADD = $(UNITLIBS)
tests_unit_repo_test_repo_SOURCES = tests/unit/repo/test_repo.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_repo_test_repo_CFLAGS = $(UNITCFLAGS)
tests_unit_repo_test_repo_LDADD = $(UNITLIBS)
TESTS += tests/unit/repo/test_manifest tests/unit/repo/test_repo
endif

check_PROGRAMS += tests/fuzz/replay_manifest
tests_fuzz_replay_manifest_SOURCES = tests/fuzz/fuzz_manifest.c tests/fuzz/replay.c
tests_fuzz_replay_manifest_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_manifest.sh
EXTRA_DIST += tests/fuzz/replay_manifest.sh tests/fuzz/corpus/manifest
