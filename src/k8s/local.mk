# sources and unit tests of src/k8s (see Makefile.am)
libedr_a_SOURCES += src/k8s/object.c src/k8s/object.h src/k8s/encryption.c src/k8s/encryption.h \
	src/k8s/yaml.c src/k8s/yaml.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/k8s/test_object
tests_unit_k8s_test_object_SOURCES = tests/unit/k8s/test_object.c tests/unit/support.c tests/unit/support.h
tests_unit_k8s_test_object_CFLAGS = $(UNITCFLAGS) -DK8S_FIXTURES=\"$(abs_top_srcdir)/tests/unit/k8s\"
tests_unit_k8s_test_object_LDADD = $(UNITLIBS)
TESTS += tests/unit/k8s/test_object
check_PROGRAMS += tests/unit/k8s/test_encryption
tests_unit_k8s_test_encryption_SOURCES = tests/unit/k8s/test_encryption.c tests/unit/support.c tests/unit/support.h
tests_unit_k8s_test_encryption_CFLAGS = $(UNITCFLAGS) -DK8S_FIXTURES=\"$(abs_top_srcdir)/tests/unit/k8s\"
tests_unit_k8s_test_encryption_LDADD = $(UNITLIBS)
TESTS += tests/unit/k8s/test_encryption
endif
EXTRA_DIST += tests/unit/k8s/configmap.pb tests/unit/k8s/secret-aescbc.bin \
	tests/unit/k8s/make-enc-fixtures.sh tests/unit/k8s/enc-config.yaml tests/unit/k8s/enc-config.json \
	tests/unit/k8s/enc-secret-aescbc.bin tests/unit/k8s/enc-secret-aesgcm.bin \
	tests/unit/k8s/enc-secret-secretbox.bin tests/unit/k8s/enc-configmap-aescbc.bin \
	tests/unit/k8s/enc-configmap-aesgcm.bin tests/unit/k8s/enc-configmap-secretbox.bin \
	tests/unit/k8s/enc-secret-aescbc.json tests/unit/k8s/enc-secret-aesgcm.json \
	tests/unit/k8s/enc-secret-secretbox.json tests/unit/k8s/enc-configmap-aescbc.json \
	tests/unit/k8s/enc-configmap-aesgcm.json tests/unit/k8s/enc-configmap-secretbox.json

# Kubernetes object fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_k8s
tests_fuzz_replay_k8s_SOURCES = tests/fuzz/fuzz_k8s.c tests/fuzz/replay.c
tests_fuzz_replay_k8s_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_k8s_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_k8s.sh
EXTRA_DIST += tests/fuzz/replay_k8s.sh tests/fuzz/corpus/k8s

# EncryptionConfiguration reader and value opener fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_encconfig
tests_fuzz_replay_encconfig_SOURCES = tests/fuzz/fuzz_encconfig.c tests/fuzz/replay.c
tests_fuzz_replay_encconfig_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_encconfig_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_encconfig.sh
EXTRA_DIST += tests/fuzz/replay_encconfig.sh tests/fuzz/corpus/encconfig

# the Kubernetes view: keys, values as ls/get/inspect show them
libedr_a_SOURCES += src/k8s/key.c src/k8s/key.h src/k8s/view.c src/k8s/view.h
if HAVE_CMOCKA
check_PROGRAMS += tests/unit/k8s/test_view
tests_unit_k8s_test_view_SOURCES = tests/unit/k8s/test_view.c tests/unit/support.c tests/unit/support.h
tests_unit_k8s_test_view_CFLAGS = $(UNITCFLAGS) -DK8S_FIXTURES=\"$(abs_top_srcdir)/tests/unit/k8s\"
tests_unit_k8s_test_view_LDADD = $(UNITLIBS)
TESTS += tests/unit/k8s/test_view
endif
