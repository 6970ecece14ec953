# sources and unit tests of src/import (see Makefile.am)
libedr_a_SOURCES += src/import/gardener.c src/import/gardener.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/import/test_gardener
tests_unit_import_test_gardener_SOURCES = tests/unit/import/test_gardener.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_import_test_gardener_CFLAGS = $(UNITCFLAGS)
tests_unit_import_test_gardener_LDADD = $(UNITLIBS)
TESTS += tests/unit/import/test_gardener
endif

# Gardener delta fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_gardener
tests_fuzz_replay_gardener_SOURCES = tests/fuzz/fuzz_gardener.c tests/fuzz/replay.c
tests_fuzz_replay_gardener_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_gardener_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_gardener.sh
EXTRA_DIST += tests/fuzz/replay_gardener.sh tests/fuzz/corpus/gardener
EXTRA_DIST += tests/unit/import/data
