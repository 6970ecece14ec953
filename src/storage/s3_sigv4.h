/*
 * AWS Signature Version 4 for S3 requests: URI and query canonicalisation and
 * the Authorization header value. Pure functions (no I/O, no clock), so they
 * can be checked against AWS's published example signatures.
 */
#ifndef EDR_STORAGE_S3_SIGV4_H
#define EDR_STORAGE_S3_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "common/err.h"

#define EDR_S3_SIG_HEX_LEN 65 /* 64 hex digits and a NUL */

/* SHA-256 of the empty payload, in hex. */
#define EDR_S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct edr_s3_header {
    const char *name;  /* lower case */
    const char *value; /* as sent; trimmed and space-collapsed for signing */
};

struct edr_s3_qparam {
    const char *key;
    const char *value; /* NULL or "" = valueless ("uploads" is signed as "uploads=") */
};

struct edr_s3_sign_in {
    const char *method;                  /* "GET" */
    const char *uri;                     /* encoded path as sent, "/bucket/a%20b" */
    const char *query;                   /* canonical query (edr_s3_query_canonical) or "" */
    const struct edr_s3_header *headers; /* every header to sign, any order; must hold "host" */
    size_t nheaders;
    const char *payload_hash; /* hex SHA-256 of the body or "UNSIGNED-PAYLOAD" */
    const char *amz_date;     /* "20130524T000000Z" */
    const char *region;       /* "us-east-1" */
    const char *service;      /* "s3" */
    const char *access_key;
    const char *secret_key;
};

/* The x-amz-date value of t: "20130524T000000Z". */
void edr_s3_amz_date(time_t t, char out[17]);

/* The x-amz-content-sha256 value of a body (EDR_S3_EMPTY_SHA256 when len is 0). */
void edr_s3_payload_hash(const void *body, size_t len, char out[EDR_S3_SIG_HEX_LEN]);

/* RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept,
 * everything else %XX with upper-case hex; '/' kept unless encode_slash.
 * Returns a malloc'ed string, NULL when out of memory. */
char *edr_s3_uri_encode(const char *s, int encode_slash);

/* The canonical query string of n parameters: each key and value encoded
 * (slashes too), sorted by key then value, joined with '&'. The result is
 * also a valid query to send. Returns a malloc'ed string ("" for n == 0),
 * NULL when out of memory. */
char *edr_s3_query_canonical(const struct edr_s3_qparam *p, size_t n);

/* The canonical request (for diagnostics and tests), malloc'ed in *out. */
edr_rc edr_s3_sigv4_canonical_request(const struct edr_s3_sign_in *in, char **out,
                                      struct edr_err *err);

/* Sign: fills sig_hex and, when auth != NULL, a malloc'ed Authorization header
 * value "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...". */
edr_rc edr_s3_sigv4_sign(const struct edr_s3_sign_in *in, char sig_hex[EDR_S3_SIG_HEX_LEN],
                         char **auth, struct edr_err *err);

#endif
