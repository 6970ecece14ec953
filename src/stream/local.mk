# sources and unit tests of src/stream (see Makefile.am)
