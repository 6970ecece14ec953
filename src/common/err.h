/*
 * Error codes and error messages. Every function that can fail returns an
 * edr_rc (0 = success) and fills a caller-provided struct edr_err. The codes
 * are also etcd-dr's exit statuses, documented in etcd-dr(1) under EXIT STATUS;
 * the table below is the one place they are defined.
 */
#ifndef EDR_COMMON_ERR_H
#define EDR_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

/* X(name, exit status, short description) */
/* clang-format off */
#define EDR_ERROR_TABLE(X)                                                                  \
    X(EDR_OK, 0, "success")                                                                 \
    X(EDR_E_INTERNAL, 1, "internal error or out of memory")                                \
    X(EDR_E_USAGE, 2, "invalid command line or option value")                              \
    X(EDR_E_CONFIG, 3, "invalid configuration file")                                       \
    X(EDR_E_ETCD, 4, "etcd unreachable or an etcd request failed")                         \
    X(EDR_E_ETCD_AUTH, 5, "etcd refused the credentials or permission")                    \
    X(EDR_E_TLS, 6, "TLS failure (certificate, CA, handshake)")                            \
    X(EDR_E_REPO, 7, "repository unreadable or unwritable")                                \
    X(EDR_E_NOTFOUND, 8, "backup not found")                                               \
    X(EDR_E_INTEGRITY, 9, "integrity check failed (corrupt, truncated or tampered data)")  \
    X(EDR_E_KEY, 10, "key problem (wrong key, unreadable or unsafe key file)")             \
    X(EDR_E_LOCK, 11, "repository locked by another run")                                  \
    X(EDR_E_IO, 12, "local input/output error (disk full, permission)")                    \
    X(EDR_E_TARGET, 13, "restore target not usable (data dir not empty, etcd too old)")    \
    X(EDR_E_DRILL, 14, "restore drill failed (etcd did not start or serve the data)")      \
    X(EDR_E_INTERRUPTED, 15, "interrupted by a signal")                                    \
    X(EDR_E_CHECK, 16, "a check found a problem (a cluster stale or failing)")
/* clang-format on */

typedef int edr_rc;

enum edr_code {
#define EDR_X_ENUM(name, code, desc) name = code,
    EDR_ERROR_TABLE(EDR_X_ENUM)
#undef EDR_X_ENUM
};

#define EDR_ERR_MSG_MAX 1024
#define EDR_ERR_HINT_MAX 512

struct edr_err {
    edr_rc code;
    char msg[EDR_ERR_MSG_MAX];
    char hint[EDR_ERR_HINT_MAX];
};

#if defined(__GNUC__)
#define EDR_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EDR_PRINTF(a, b)
#endif

/* Reset to success with empty message. */
void edr_err_clear(struct edr_err *err);

/* Set code and message; returns code so callers can `return edr_err_set(...)`. */
edr_rc edr_err_set(struct edr_err *err, edr_rc code, const char *fmt, ...) EDR_PRINTF(3, 4);

/* Like edr_err_set, appending ": [errnum] strerror(errnum)". */
edr_rc edr_err_errno(struct edr_err *err, edr_rc code, int errnum, const char *fmt, ...)
    EDR_PRINTF(4, 5);

/* Prepend context to an existing message: "context: old message". Keeps the code. */
edr_rc edr_err_prefix(struct edr_err *err, const char *fmt, ...) EDR_PRINTF(2, 3);

/* Set the optional hint line (printed as "HINT: ..."). Keeps the code. */
void edr_err_hint(struct edr_err *err, const char *fmt, ...) EDR_PRINTF(2, 3);

/* Symbolic name ("EDR_E_KEY") and description of a code. */
const char *edr_rc_name(edr_rc rc);
const char *edr_rc_desc(edr_rc rc);

#endif
