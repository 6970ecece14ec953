# sources and unit tests of src/restore (see Makefile.am)
