# sources and unit tests of src/mvcc (see Makefile.am)
