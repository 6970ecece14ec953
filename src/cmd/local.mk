# sources and unit tests of src/cmd (see Makefile.am)
