/*
 * Inside the S3 backend: the state every part shares and the functions one
 * part offers the others. s3.c is the storage vtable (configuration,
 * credentials, get/stat/del/list/cleanup), s3_http.c one signed request with
 * its retries, s3_multipart.c the streamed upload behind put_open(),
 * s3_lock.c the repository lock; signing is s3_sigv4.c and the XML reader
 * s3_xml.c. Only one thread uses a struct edr_s3 (and its curl handle) at a
 * time; the multipart uploader thread makes its requests (a part, and the
 * lock's refresh before it) while the caller waits (see s3_multipart.c).
 */
#ifndef EDR_STORAGE_S3_INT_H
#define EDR_STORAGE_S3_INT_H

#include <curl/curl.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "common/buf.h"
#include "storage/s3_sigv4.h"
#include "storage/storage.h"
#include "stream/stream.h"

struct edr_s3 {
    struct edr_storage base;
    char *bucket;
    char *root;      /* key prefix, "" or ending in '/' */
    char *endpoint;  /* "https://host:port", for messages */
    char *scheme;    /* "https" */
    char *authority; /* host[:port] of the endpoint */
    int path_style;
    char *region;
    char *access_key;
    char *secret; /* sodium_malloc */
    char *token;  /* sodium_malloc, may be NULL */
    char *cacert;
    int insecure;
    uint64_t part_size; /* 0 = computed */
    int max_keys;
    long retry_ms;
    CURL *curl;
    struct edr_storage_lock *held; /* the lock taken last, until unlocked */
};

#define EDR_S3_MAX_EXTRA 4 /* extra signed headers of a request */

/* One request: what to send, and what came back. Zero-initialise, fill the
 * first block, pass to edr_s3_request() (or edr_s3_attempt()), read the
 * answer, then edr_s3_req_release(). */
struct edr_s3_req {
    const char *method;
    const char *key; /* full object key; NULL = the bucket */
    const struct edr_s3_qparam *q;
    size_t nq;
    const void *body;
    size_t body_len;
    const char *xname[EDR_S3_MAX_EXTRA]; /* extra signed headers, lower-case names */
    const char *xvalue[EDR_S3_MAX_EXTRA];
    size_t nx;
    struct edr_stream *sink; /* 2xx body goes here instead of resp */
    uint64_t range_from;     /* Range start sent; a 200 answer repeats these bytes */
    uint64_t skip;           /* 2xx body bytes still to drop */
    int body_started;
    /* filled by the request */
    long status;
    struct edr_buf resp;
    uint64_t sunk;
    edr_rc sink_rc;
    struct edr_err *sink_err;
    char etag[200];
    uint64_t clen;
    int have_clen;
    time_t mtime;
    char meta[512]; /* x-amz-meta-* headers as "name=value\n" lines, names lower-case */
    CURLcode cc;
    char curlerr[CURL_ERROR_SIZE];
    size_t upos; /* upload position */
    CURL *curl;
};

enum edr_s3_attempt {
    EDR_S3_HTTP,      /* an HTTP answer is in the request */
    EDR_S3_TRANSPORT, /* no answer: r->cc and r->curlerr say why */
    EDR_S3_FATAL      /* not worth retrying: err (or r->sink_err) is set */
};

/* ---- s3_http.c ---- */

/* One try of r, signed now; no retry. */
enum edr_s3_attempt edr_s3_attempt(struct edr_s3 *s, struct edr_s3_req *r, struct edr_err *err);
/* Perform r with retries. EDR_OK means an HTTP answer that is not worth
 * retrying is in r (any status: the caller decides); otherwise err is set. */
edr_rc edr_s3_request(struct edr_s3 *s, struct edr_s3_req *r, struct edr_err *err);
/* The error for r's non-2xx answer, with S3's code, message and a hint. */
edr_rc edr_s3_http_error(struct edr_s3 *s, const struct edr_s3_req *r, struct edr_err *err);
/* The error for r's transport failure after `tries` tries. */
edr_rc edr_s3_transport_error(struct edr_s3 *s, const struct edr_s3_req *r, int tries,
                              struct edr_err *err);
/* Non-zero for an HTTP answer worth another try (5xx, 429, SlowDown, ...). */
int edr_s3_retryable(const struct edr_s3_req *r);
/* Non-zero for a TLS failure (never retried). */
int edr_s3_tls_error(CURLcode cc);
/* Sleep before try tryno + 1: exponential, with jitter. */
void edr_s3_backoff(struct edr_s3 *s, int tryno);
void edr_s3_req_release(struct edr_s3_req *r);

/* ---- s3.c ---- */

/* The full key of a name relative to the repository root; NULL when out of
 * memory. */
char *edr_s3_full_key(struct edr_s3 *s, const char *name);
/* Trim white space at both ends, in place. */
void edr_s3_trim(char *s);

/* ---- s3_multipart.c, s3_lock.c: the vtable entries ---- */

edr_rc edr_s3_put_open(struct edr_storage *st, const char *name, uint64_t expected_size,
                       struct edr_stream **out, struct edr_err *err);
edr_rc edr_s3_lock(struct edr_storage *st, const char *name, const char *owner, int wait_s,
                   int ttl_s, struct edr_storage_lock **out, struct edr_err *err);
void edr_s3_unlock(struct edr_storage *st, struct edr_storage_lock *lock);

/* Keep the lock this backend holds (s->held) from going stale during a long
 * run: once a third of its time to live has passed since it was written,
 * write it again with a new expiry (If-Match on its ETag, then read back).
 * EDR_E_LOCK when another run took the lock over or removed it meanwhile;
 * a request that fails is only a warning (the next call tries again). Call
 * it where this thread may talk to the server: the multipart writer does,
 * before each part. */
edr_rc edr_s3_lock_refresh(struct edr_s3 *s, struct edr_err *err);

#endif
