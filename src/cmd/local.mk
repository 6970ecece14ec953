# sources and unit tests of src/cmd (see Makefile.am)
libedr_a_SOURCES += \
	src/cmd/cmd.h src/cmd/common.c \
	src/cmd/backup.c src/cmd/backup.h src/cmd/import.c src/cmd/import.h src/cmd/import_gardener.c src/cmd/import_gardener.h src/cmd/capture.c src/cmd/pitr.c src/cmd/pitr.h src/cmd/report.c src/cmd/signals.c \
	src/cmd/keygen.c src/cmd/info.c src/cmd/list.c src/cmd/prune.c \
	src/cmd/export.c src/cmd/export.h src/cmd/files.c src/cmd/files.h src/cmd/decrypt.c src/cmd/diff.c src/cmd/source.c src/cmd/source.h src/cmd/restore.c src/cmd/restore_int.h src/cmd/restore_check.c src/cmd/launch.c src/cmd/launch.h src/cmd/inspect.c src/cmd/ls.c src/cmd/get.c src/cmd/verify.c src/cmd/verify.h src/cmd/verify_chain.c src/cmd/schedule.c src/cmd/supervise.c src/cmd/supervise.h src/cmd/config.c \
	src/cmd/version.c src/cmd/version.h

if HAVE_CMOCKA
check_PROGRAMS += tests/unit/cmd/test_params
tests_unit_cmd_test_params_CFLAGS = $(UNITCFLAGS)
tests_unit_cmd_test_params_LDADD = $(UNITLIBS)
TESTS += tests/unit/cmd/test_params
check_PROGRAMS += tests/unit/cmd/test_files
tests_unit_cmd_test_files_CFLAGS = $(UNITCFLAGS)
tests_unit_cmd_test_files_LDADD = $(UNITLIBS)
TESTS += tests/unit/cmd/test_files
endif
