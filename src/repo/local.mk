# sources and unit tests of src/repo (see Makefile.am)
