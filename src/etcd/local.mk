# sources and unit tests of src/etcd (see Makefile.am)
libedr_a_SOURCES += \
	src/etcd/client.c src/etcd/client.h \
	src/etcd/grpc.c src/etcd/grpc.h \
	src/etcd/proto.c src/etcd/proto.h \
	src/etcd/snapshot.c src/etcd/snapshot.h \
	src/etcd/watch.c src/etcd/watch.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/etcd/test_proto tests/unit/etcd/test_grpc tests/unit/etcd/test_client \
	tests/unit/etcd/test_snapshot
tests_unit_etcd_test_proto_CFLAGS = $(UNITCFLAGS)
tests_unit_etcd_test_proto_LDADD = $(UNITLIBS)
tests_unit_etcd_test_grpc_CFLAGS = $(UNITCFLAGS)
tests_unit_etcd_test_grpc_LDADD = $(UNITLIBS)
tests_unit_etcd_test_client_CFLAGS = $(UNITCFLAGS)
tests_unit_etcd_test_client_LDADD = $(UNITLIBS)
tests_unit_etcd_test_snapshot_CFLAGS = $(UNITCFLAGS)
tests_unit_etcd_test_snapshot_LDADD = $(UNITLIBS)
TESTS += tests/unit/etcd/test_proto tests/unit/etcd/test_grpc tests/unit/etcd/test_client \
	tests/unit/etcd/test_snapshot
endif

# gRPC fuzz target; `make check` replays its corpus
check_PROGRAMS += tests/fuzz/replay_grpc
tests_fuzz_replay_grpc_SOURCES = tests/fuzz/fuzz_grpc.c tests/fuzz/replay.c
tests_fuzz_replay_grpc_CFLAGS = $(AM_CFLAGS)
tests_fuzz_replay_grpc_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_grpc.sh
EXTRA_DIST += tests/fuzz/replay_grpc.sh tests/fuzz/corpus/grpc
