# sources and unit tests of src/cmd (see Makefile.am)
libedr_a_SOURCES += \
	src/cmd/cmd.h src/cmd/common.c \
	src/cmd/backup.c src/cmd/backup.h src/cmd/capture.c src/cmd/pitr.c src/cmd/pitr.h src/cmd/report.c \
	src/cmd/keygen.c src/cmd/list.c src/cmd/prune.c \
	src/cmd/export.c src/cmd/source.c src/cmd/source.h src/cmd/restore.c src/cmd/launch.c src/cmd/launch.h src/cmd/inspect.c src/cmd/verify.c src/cmd/verify_chain.c src/cmd/schedule.c src/cmd/config.c
