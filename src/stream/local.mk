# sources and unit tests of src/stream (see Makefile.am)
libedr_a_SOURCES += \
	src/stream/stream.h \
	src/stream/basic.c src/stream/basic.h \
	src/stream/zstd.c src/stream/zstd_mt.c src/stream/zstd.h \
	src/stream/seal.c src/stream/seal.h \
	src/stream/open.c src/stream/open.h \
	src/stream/tar.c src/stream/tar.h \
	src/stream/trailer.c src/stream/trailer.h

if HAVE_CMOCKA
TEST_SUPPORT = tests/unit/support.c tests/unit/support.h
check_PROGRAMS += tests/unit/stream/test_basic tests/unit/stream/test_zstd
tests_unit_stream_test_basic_SOURCES = tests/unit/stream/test_basic.c $(TEST_SUPPORT)
tests_unit_stream_test_basic_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_basic_LDADD = $(UNITLIBS)
tests_unit_stream_test_zstd_SOURCES = tests/unit/stream/test_zstd.c $(TEST_SUPPORT)
tests_unit_stream_test_zstd_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_zstd_LDADD = $(UNITLIBS)
TESTS += tests/unit/stream/test_basic tests/unit/stream/test_zstd
check_PROGRAMS += tests/unit/stream/test_seal
tests_unit_stream_test_seal_SOURCES = tests/unit/stream/test_seal.c $(TEST_SUPPORT)
tests_unit_stream_test_seal_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_seal_LDADD = $(UNITLIBS)
TESTS += tests/unit/stream/test_seal
check_PROGRAMS += tests/unit/stream/test_tar tests/unit/stream/test_pipeline
tests_unit_stream_test_tar_SOURCES = tests/unit/stream/test_tar.c $(TEST_SUPPORT)
tests_unit_stream_test_tar_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_tar_LDADD = $(UNITLIBS)
tests_unit_stream_test_pipeline_SOURCES = tests/unit/stream/test_pipeline.c $(TEST_SUPPORT)
tests_unit_stream_test_pipeline_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_pipeline_LDADD = $(UNITLIBS)
TESTS += tests/unit/stream/test_tar tests/unit/stream/test_pipeline
endif

# data file reader fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_datafile
tests_fuzz_replay_datafile_SOURCES = tests/fuzz/fuzz_datafile.c tests/fuzz/replay.c
tests_fuzz_replay_datafile_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_datafile.sh
EXTRA_DIST += tests/fuzz/replay_datafile.sh tests/fuzz/corpus/datafile

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/stream/test_trailer
tests_unit_stream_test_trailer_SOURCES = tests/unit/stream/test_trailer.c $(TEST_SUPPORT)
tests_unit_stream_test_trailer_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_trailer_LDADD = $(UNITLIBS)
TESTS += tests/unit/stream/test_trailer
endif
libedr_a_SOURCES += src/stream/thread.c src/stream/thread.h
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/stream/test_thread
tests_unit_stream_test_thread_SOURCES = tests/unit/stream/test_thread.c $(TEST_SUPPORT)
tests_unit_stream_test_thread_CFLAGS = $(UNITCFLAGS)
tests_unit_stream_test_thread_LDADD = $(UNITLIBS)
TESTS += tests/unit/stream/test_thread
endif
