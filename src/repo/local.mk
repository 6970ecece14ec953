# sources and unit tests of src/repo (see Makefile.am)
libedr_a_SOURCES += \
	src/repo/manifest.c src/repo/manifest.h \
	src/repo/repo.c src/repo/repo.h
# the streaming scanner is bolt knowledge but registered here to keep fragments apart
libedr_a_SOURCES += src/bolt/scan.c src/bolt/scan.h
libedr_a_SOURCES += src/stream/trailer.c src/stream/trailer.h
libedr_a_SOURCES += src/repo/reader.c src/repo/reader.h
