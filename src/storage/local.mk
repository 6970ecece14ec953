# sources and unit tests of src/storage (see Makefile.am)
