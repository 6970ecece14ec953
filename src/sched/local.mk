# sources and unit tests of src/sched (see Makefile.am)
