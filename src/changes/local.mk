# sources and unit tests of src/changes (see Makefile.am)
libedr_a_SOURCES += src/changes/segment.c src/changes/segment.h \
	src/changes/capture.c src/changes/capture.h \
	src/changes/replay.c src/changes/replay.h
