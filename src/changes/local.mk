# sources and unit tests of src/changes (see Makefile.am)
libedr_a_SOURCES += src/changes/format.c src/changes/segment.c src/changes/segment.h \
	src/changes/capture.c src/changes/capture.h \
	src/changes/replay.c src/changes/replay.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/changes/test_segment
tests_unit_changes_test_segment_SOURCES = tests/unit/changes/test_segment.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_changes_test_segment_CFLAGS = $(UNITCFLAGS)
tests_unit_changes_test_segment_LDADD = $(UNITLIBS)
TESTS += tests/unit/changes/test_segment
endif

# change-segment fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_segment
tests_fuzz_replay_segment_SOURCES = tests/fuzz/fuzz_segment.c tests/fuzz/replay.c
tests_fuzz_replay_segment_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_segment_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_segment.sh
EXTRA_DIST += tests/fuzz/replay_segment.sh tests/fuzz/corpus/segment
