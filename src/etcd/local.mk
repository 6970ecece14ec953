# sources and unit tests of src/etcd (see Makefile.am)
