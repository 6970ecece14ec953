/*
 * Repository storage: one interface, several backends (local directory, S3).
 * Backends only move bytes; they know nothing of manifests or etcd. Object
 * names are relative paths with '/' separators, e.g.
 * "prod/20261126T183000Z-r12345.edr".
 *
 * Writes are atomic: an object written with put_open() becomes visible only
 * when the returned stream is finished successfully; freeing the stream
 * without a successful finish() discards everything written (temp file
 * removed, multipart upload aborted).
 */
#ifndef EDR_STORAGE_STORAGE_H
#define EDR_STORAGE_STORAGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "stream/stream.h"

struct edr_storage;

struct edr_storage_stat {
    int exists;
    uint64_t size;
    time_t mtime;
    /* S3 only: the object's user metadata (x-amz-meta-NAME headers) as
     * "name=value\n" lines, names lower-case without the prefix; "" when
     * none or on another backend */
    char meta[512];
};

struct edr_storage_entry {
    const char *name; /* relative to the repository root */
    uint64_t size;
    time_t mtime;
};

/* Return non-zero to stop the listing early (not an error). */
typedef int (*edr_storage_list_cb)(const struct edr_storage_entry *e, void *ud);

struct edr_storage_lock;

struct edr_storage_ops {
    const char *name; /* "local", "s3" */
    /* Open a streamed, atomic write. expected_size (0 = unknown) lets S3 pick
     * its part size. The stream's free() aborts unless finish() succeeded. */
    edr_rc (*put_open)(struct edr_storage *st, const char *name, uint64_t expected_size,
                       struct edr_stream **out, struct edr_err *err);
    /* Push the object's bytes, from `offset`, into sink (sink is NOT finished). */
    edr_rc (*get)(struct edr_storage *st, const char *name, uint64_t offset,
                  struct edr_stream *sink, struct edr_err *err);
    /* Every object whose name starts with prefix ("" = all), any order. */
    edr_rc (*list)(struct edr_storage *st, const char *prefix, edr_storage_list_cb cb, void *ud,
                   struct edr_err *err);
    /* Deleting a missing object is not an error. */
    edr_rc (*del)(struct edr_storage *st, const char *name, struct edr_err *err);
    edr_rc (*stat)(struct edr_storage *st, const char *name, struct edr_storage_stat *out,
                   struct edr_err *err);
    /* Take an exclusive lock named `name` (e.g. "prod/.lock"), waiting up to
     * wait_s seconds; owner is a short description (host, pid) stored with it;
     * a lock older than ttl_s is stale and taken over with a warning. A lock
     * that can go stale is kept fresh by the backend while the run writes
     * (S3: before each part of an upload). */
    edr_rc (*lock)(struct edr_storage *st, const char *name, const char *owner, int wait_s,
                   int ttl_s, struct edr_storage_lock **out, struct edr_err *err);
    void (*unlock)(struct edr_storage *st, struct edr_storage_lock *lock);
    /* Remove leftovers of interrupted writes under prefix older than age_s
     * (temp files, incomplete multipart uploads). */
    edr_rc (*cleanup)(struct edr_storage *st, const char *prefix, int age_s, struct edr_err *err);
    void (*free)(struct edr_storage *st);
};

struct edr_storage {
    const struct edr_storage_ops *ops;
    char *url;                /* what the user gave, for messages */
    int (*interrupted)(void); /* edr_storage_opts.interrupted; NULL = never */
};

/* Options a backend may use; NULL/0 fields mean "default / from environment". */
struct edr_storage_opts {
    const char *s3_endpoint; /* https://host:port */
    const char *s3_region;
    int s3_path_style; /* 1 = path-style addressing */
    const char *s3_cacert;
    const char *s3_secret_file; /* file holding the secret access key */
    uint64_t s3_part_size;      /* 0 = computed from the expected size */
    int s3_insecure;
    /* Lets a stop request reach the backend, whichever it is: once
     * interrupted() returns non-zero (say, after SIGTERM), the operation in
     * progress gives up with EDR_E_INTERRUPTED within about a second, even
     * when an S3 server hangs, and nothing is retried; waiting for a lock
     * stops too. Undoing what was started (aborting a multipart upload,
     * removing a lock) still runs, each S3 request then limited to 10
     * seconds. Called on the caller's thread (or the S3 upload thread),
     * never in a signal handler. NULL: never interrupted. */
    int (*interrupted)(void);
};

/* Open "s3://bucket/prefix" or a local directory path (created if missing
 * when create != 0). Only this sets the backend's stop check from opts. */
edr_rc edr_storage_open(const char *url, const struct edr_storage_opts *opts, int create,
                        struct edr_storage **out, struct edr_err *err);
void edr_storage_free(struct edr_storage *st);

/* Non-zero once the stop check given at open (edr_storage_opts.interrupted)
 * says so; the one place every backend asks. */
int edr_storage_interrupted(const struct edr_storage *st);

/* Local directory backend (storage/local.c). */
edr_rc edr_storage_local_open(const char *path, int create, struct edr_storage **out,
                              struct edr_err *err);
/* S3 backend (storage/s3.c). */
edr_rc edr_storage_s3_open(const char *url, const struct edr_storage_opts *opts,
                           struct edr_storage **out, struct edr_err *err);

/* Convenience: whole small objects (manifests) through put_open/get. */
edr_rc edr_storage_put_buf(struct edr_storage *st, const char *name, const void *buf, size_t len,
                           struct edr_err *err);
edr_rc edr_storage_get_buf(struct edr_storage *st, const char *name, size_t max, char **out,
                           size_t *outlen, struct edr_err *err);

#endif
