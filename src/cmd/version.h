/*
 * etcd-dr --version: the program's version and the versions of the libraries
 * it runs with.
 */
#ifndef EDR_CMD_VERSION_H
#define EDR_CMD_VERSION_H

#include <stdio.h>

/* Print the version to f: text (one "name version" line each) or, with json,
 * one JSON object. Returns 0, or -1 if writing failed. */
int edr_version_print(FILE *f, int json);

#endif
