# sources and unit tests of src/bolt (see Makefile.am)
