# sources and unit tests of src/bolt (see Makefile.am)
libedr_a_SOURCES += src/bolt/bolt.h src/bolt/format.h src/bolt/reader.h src/bolt/pagesrc.c src/bolt/walk.c \
	src/bolt/reader.c src/bolt/writer.c \
	src/bolt/scan.c src/bolt/scan.h \
	src/bolt/capture.c src/bolt/capture.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/bolt/test_bolt
tests_unit_bolt_test_bolt_SOURCES = tests/unit/bolt/test_bolt.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_bolt_test_bolt_CFLAGS = $(UNITCFLAGS)
tests_unit_bolt_test_bolt_LDADD = $(UNITLIBS)
TESTS += tests/unit/bolt/test_bolt
endif

# corpus replay of the bbolt reader's fuzz target (tests/fuzz/build-libfuzzer.sh builds the
# real libFuzzer binary)
check_PROGRAMS += tests/fuzz/replay_bolt
tests_fuzz_replay_bolt_SOURCES = tests/fuzz/fuzz_bolt.c tests/fuzz/replay.c \
	tests/fuzz/scan_diff.c tests/fuzz/scan_diff.h
tests_fuzz_replay_bolt_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_bolt.sh
EXTRA_DIST += tests/fuzz/replay_bolt.sh tests/fuzz/build-libfuzzer.sh tests/fuzz/corpus/bolt

if HAVE_CMOCKA
BOLT_TEST_SHAPES = tests/unit/bolt/shapes.c tests/unit/bolt/shapes.h \
	tests/unit/support.c tests/unit/support.h
check_PROGRAMS += tests/unit/bolt/test_scan tests/unit/bolt/test_capture
tests_unit_bolt_test_scan_SOURCES = tests/unit/bolt/test_scan.c $(BOLT_TEST_SHAPES)
tests_unit_bolt_test_scan_CFLAGS = $(UNITCFLAGS)
tests_unit_bolt_test_scan_LDADD = $(UNITLIBS)
tests_unit_bolt_test_capture_SOURCES = tests/unit/bolt/test_capture.c $(BOLT_TEST_SHAPES) \
	tests/fuzz/scan_diff.c tests/fuzz/scan_diff.h
tests_unit_bolt_test_capture_CPPFLAGS = $(AM_CPPFLAGS) -I$(srcdir)/tests/fuzz
tests_unit_bolt_test_capture_CFLAGS = $(UNITCFLAGS)
tests_unit_bolt_test_capture_LDADD = $(UNITLIBS)
TESTS += tests/unit/bolt/test_scan tests/unit/bolt/test_capture
endif
