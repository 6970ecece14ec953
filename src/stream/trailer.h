/*
 * etcd snapshot trailer check: an observer over a plain etcd snapshot file
 * (bbolt image followed by the 32-byte SHA-256 of the image) that hashes
 * everything but the last 32 bytes and, at finish, compares the digest with
 * those bytes. Bytes pass on unchanged to next (may be NULL).
 */
#ifndef EDR_STREAM_TRAILER_H
#define EDR_STREAM_TRAILER_H

#include <stdint.h>

#include "common/hash.h"
#include "stream/stream.h"

struct edr_trailer_result {
    uint64_t db_size;                /* bytes before the trailer */
    uint8_t sha256[EDR_SHA256_LEN];  /* of the db bytes */
    uint8_t trailer[EDR_SHA256_LEN]; /* what the file says */
    int match;
};

/* what: names the file in messages. With `required`, finish() fails with
 * EDR_E_INTEGRITY "<what>: sha256 mismatch (...)" or "<what>: too short". */
edr_rc edr_stream_trailer_new(struct edr_stream *next, const char *what, int required,
                              struct edr_stream **out, struct edr_err *err);
void edr_stream_trailer_result(const struct edr_stream *s, struct edr_trailer_result *out);

#endif
