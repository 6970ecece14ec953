# sources and unit tests of src/crypto (see Makefile.am)
