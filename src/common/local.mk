libedr_a_SOURCES += \
	src/common/err.c src/common/err.h src/common/pb.c src/common/pb.h \
	src/common/grow.h src/common/hash.c src/common/hash.h \
	src/common/fs.c src/common/fs.h src/common/log.c src/common/log.h \
	src/common/secret.c src/common/secret.h
libedr_a_SOURCES += src/common/opts.c src/common/opts.h
libedr_a_SOURCES += src/common/progress.c src/common/progress.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/common/test_err tests/unit/common/test_hash tests/unit/common/test_opts \
	tests/unit/common/test_fs tests/unit/common/test_pb tests/unit/common/test_buf
tests_unit_common_test_fs_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_fs_LDADD = $(UNITLIBS)
tests_unit_common_test_err_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_err_LDADD = $(UNITLIBS)
tests_unit_common_test_hash_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_hash_LDADD = $(UNITLIBS)
tests_unit_common_test_opts_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_opts_LDADD = $(UNITLIBS)
tests_unit_common_test_pb_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_pb_LDADD = $(UNITLIBS)
tests_unit_common_test_buf_CFLAGS = $(UNITCFLAGS)
tests_unit_common_test_buf_LDADD = $(UNITLIBS)
TESTS += tests/unit/common/test_err tests/unit/common/test_hash tests/unit/common/test_opts \
	tests/unit/common/test_fs tests/unit/common/test_pb tests/unit/common/test_buf
endif
libedr_a_SOURCES += src/common/bytes.h
libedr_a_SOURCES += src/common/buf.c src/common/buf.h
