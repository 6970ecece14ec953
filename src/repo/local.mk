# sources and unit tests of src/repo (see Makefile.am)
libedr_a_SOURCES += \
	src/repo/manifest.c src/repo/manifest.h \
	src/repo/repo.c src/repo/repo.h
libedr_a_SOURCES += src/repo/reader.c src/repo/reader.h
