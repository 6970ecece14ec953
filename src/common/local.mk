libedr_a_SOURCES += \
	src/common/err.c src/common/err.h \
	src/common/hash.c src/common/hash.h \
	src/common/log.c src/common/log.h
libedr_a_SOURCES += src/common/opts.c src/common/opts.h
libedr_a_SOURCES += src/common/progress.c src/common/progress.h
