# sources and unit tests of src/sched (see Makefile.am)
libedr_a_SOURCES += \
	src/sched/cron.c src/sched/cron.h \
	src/sched/retention.c src/sched/retention.h \
	src/sched/metrics.c src/sched/metrics.h \
	src/sched/daemon.c src/sched/daemon.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/sched/test_cron tests/unit/sched/test_retention \
	tests/unit/sched/test_metrics tests/unit/sched/test_daemon
tests_unit_sched_test_cron_SOURCES = tests/unit/sched/test_cron.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_sched_test_cron_CFLAGS = $(UNITCFLAGS)
tests_unit_sched_test_cron_LDADD = $(UNITLIBS)
tests_unit_sched_test_retention_SOURCES = tests/unit/sched/test_retention.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_sched_test_retention_CFLAGS = $(UNITCFLAGS)
tests_unit_sched_test_retention_LDADD = $(UNITLIBS)
tests_unit_sched_test_metrics_CFLAGS = $(UNITCFLAGS)
tests_unit_sched_test_metrics_LDADD = $(UNITLIBS)
tests_unit_sched_test_daemon_SOURCES = tests/unit/sched/test_daemon.c \
	tests/unit/support.c tests/unit/support.h
tests_unit_sched_test_daemon_CFLAGS = $(UNITCFLAGS)
tests_unit_sched_test_daemon_LDADD = $(UNITLIBS)
TESTS += tests/unit/sched/test_cron tests/unit/sched/test_retention \
	tests/unit/sched/test_metrics tests/unit/sched/test_daemon
endif

# corpus replay of the cron fuzz target
check_PROGRAMS += tests/fuzz/replay_cron
tests_fuzz_replay_cron_SOURCES = tests/fuzz/fuzz_cron.c tests/fuzz/replay.c
tests_fuzz_replay_cron_LDADD = libedr.a $(DEP_LIBS)
TESTS += tests/fuzz/replay_cron.sh
EXTRA_DIST += tests/fuzz/replay_cron.sh tests/fuzz/corpus/cron
