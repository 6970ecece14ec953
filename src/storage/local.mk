# sources and unit tests of src/storage (see Makefile.am)
libedr_a_SOURCES += \
	src/storage/storage.c src/storage/storage.h \
	src/storage/local.c

# S3
libedr_a_SOURCES += \
	src/storage/s3.c src/storage/s3.h src/storage/s3_int.h \
	src/storage/s3_http.c src/storage/s3_multipart.c src/storage/s3_lock.c \
	src/storage/s3_sigv4.c src/storage/s3_sigv4.h \
	src/storage/s3_xml.c src/storage/s3_xml.h
EXTRA_DIST += tests/integration/s3/front.js tests/integration/s3/selftest.js \
	tests/integration/s3/package.json tests/integration/s3/package-lock.json \
	tests/integration/s3/lib-s3.sh tests/integration/s3/s3req.js \
	tests/integration/t0500-s3-storage.sh tests/integration/t0510-s3-backup.sh \
	tests/integration/t0520-s3-tls-vhost-token.sh
# test programs: their S3 limits come from EDR_S3_TEST_* (s3_test_env.c)
check_PROGRAMS += tests/unit/storage/s3_driver tests/unit/storage/etcd-dr-s3test
tests_unit_storage_s3_driver_SOURCES = tests/unit/storage/s3_driver.c \
	tests/unit/storage/s3_test_env.c
tests_unit_storage_s3_driver_LDADD = libedr.a $(DEP_LIBS)
tests_unit_storage_etcd_dr_s3test_SOURCES = src/main.c tests/unit/storage/s3_test_env.c
tests_unit_storage_etcd_dr_s3test_LDADD = libedr.a $(DEP_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/storage/test_s3_sigv4 tests/unit/storage/test_s3_xml \
	tests/unit/storage/test_s3 tests/unit/storage/test_local
tests_unit_storage_test_local_SOURCES = tests/unit/storage/test_local.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_storage_test_local_CFLAGS = $(UNITCFLAGS)
tests_unit_storage_test_local_LDADD = $(UNITLIBS)
tests_unit_storage_test_s3_sigv4_CFLAGS = $(UNITCFLAGS)
tests_unit_storage_test_s3_sigv4_LDADD = $(UNITLIBS)
tests_unit_storage_test_s3_xml_CFLAGS = $(UNITCFLAGS)
tests_unit_storage_test_s3_xml_LDADD = $(UNITLIBS)
tests_unit_storage_test_s3_CFLAGS = $(UNITCFLAGS)
tests_unit_storage_test_s3_LDADD = $(UNITLIBS)
TESTS += tests/unit/storage/test_s3_sigv4 tests/unit/storage/test_s3_xml \
	tests/unit/storage/test_s3 tests/unit/storage/test_local
endif
if INTEGRATION_TESTS
TESTS += tests/integration/t0500-s3-storage.sh tests/integration/t0510-s3-backup.sh \
	tests/integration/t0520-s3-tls-vhost-token.sh
endif
check_PROGRAMS += tests/fuzz/replay_s3xml
tests_fuzz_replay_s3xml_SOURCES = tests/fuzz/fuzz_s3xml.c tests/fuzz/replay.c
tests_fuzz_replay_s3xml_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_s3xml_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_s3xml.sh
EXTRA_DIST += tests/fuzz/replay_s3xml.sh tests/fuzz/corpus/s3xml
