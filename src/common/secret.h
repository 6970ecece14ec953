/*
 * Secrets: reading them from files, keeping them out of what children see,
 * and out of core dumps. Secret bytes live in sodium_malloc'ed memory
 * (guarded, locked, wiped by sodium_free).
 */
#ifndef EDR_COMMON_SECRET_H
#define EDR_COMMON_SECRET_H

#include <stddef.h>

#include "common/err.h"

/*
 * Reads the whole file path (a password, an S3 secret, a credentials file)
 * into sodium_malloc'ed memory, NUL-terminated, *len bytes (len may be
 * NULL). Only a regular file is read, opened without blocking, so a FIFO or
 * a device never hangs the run (links are followed: Kubernetes mounts
 * secrets as links). Larger than max bytes is refused. flags:
 * EDR_SECRET_MISSING_OK: a file that does not exist gives *out = NULL and
 * EDR_OK; EDR_SECRET_PRIVATE: a file that the group or others may read or
 * write is refused (with a chmod hint). Errors are EDR_E_KEY naming `what`
 * and path. Release with sodium_free.
 */
#define EDR_SECRET_MISSING_OK 1
#define EDR_SECRET_PRIVATE 2
edr_rc edr_secret_read_file(const char *path, const char *what, size_t max, unsigned flags,
                            char **out, size_t *len, struct edr_err *err);

/*
 * For a child between fork() and exec(): removes from the environment every
 * variable that can carry a secret (a name holding PASSWORD, SECRET, TOKEN,
 * CREDENTIAL or PRIVATE, AWS_ACCESS_KEY_ID, ETCDCTL_USER, which may be
 * NAME:PASSWORD). for_etcd also removes every ETCD_* and ETCDCTL_* variable:
 * etcd reads ETCD_* as its flags and logs the unknown ones with their values.
 */
void edr_secret_scrub_env(int for_etcd);

/* At start: no core dumps (RLIMIT_CORE 0) and not dumpable (no ptrace
 * attach by other processes of the user, /proc/PID/mem closed): the process
 * holds decrypted snapshots and keys. */
void edr_secret_harden_process(void);

#endif
