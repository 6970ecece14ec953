# sources and unit tests of src/crypto (see Makefile.am)
libedr_a_SOURCES += src/crypto/keys.c src/crypto/keys.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/crypto/test_keys
tests_unit_crypto_test_keys_CFLAGS = $(UNITCFLAGS)
tests_unit_crypto_test_keys_LDADD = $(UNITLIBS)
TESTS += tests/unit/crypto/test_keys
endif
