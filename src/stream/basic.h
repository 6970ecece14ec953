/*
 * Basic stream elements: observers that look at the bytes going by (SHA-256,
 * byte count) and sinks that end a chain (file descriptor, memory, null) or
 * split it in two (tee). See stream/stream.h for the common contract.
 *
 * Every constructor returns an edr_rc, stores the new stream in *out (NULL on
 * failure) and never takes ownership of `next`.
 */
#ifndef EDR_STREAM_BASIC_H
#define EDR_STREAM_BASIC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/hash.h"
#include "stream/stream.h"

/* SHA-256 of everything written, passed on unchanged to next (may be NULL). */
edr_rc edr_stream_sha256_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err);
/* The digest, valid after a successful finish(); NULL before. */
const uint8_t *edr_stream_sha256_digest(const struct edr_stream *s);
/* The digest in lower-case hex (65 bytes with NUL); returns -1 before finish(). */
int edr_stream_sha256_hex(const struct edr_stream *s, char out[2 * EDR_SHA256_LEN + 1]);

/* Adds the number of bytes written to *counter (which the caller owns and
 * may read at any time, e.g. for progress; it is not reset), passing them
 * on to next (may be NULL). counter may be NULL: use edr_stream_size_get. */
edr_rc edr_stream_size_new(struct edr_stream *next, uint64_t *counter, struct edr_stream **out,
                           struct edr_err *err);
/* Bytes seen by this stream. */
uint64_t edr_stream_size_get(const struct edr_stream *s);

/* Writes to fd (not owned, not closed, not synced), retrying short writes
 * and EINTR. `name` (copied) is used in messages:
 * EDR_E_IO "unable to write '<name>': [28] No space left on device". */
edr_rc edr_stream_fd_new(int fd, const char *name, struct edr_stream **out, struct edr_err *err);

/* Collects up to `max` bytes in memory. More is an error:
 * EDR_E_INTEGRITY "'<name>' is larger than <max> bytes" (name copied). */
edr_rc edr_stream_mem_new(size_t max, const char *name, struct edr_stream **out,
                          struct edr_err *err);
/* The bytes collected so far (owned by the stream; NUL-terminated for
 * convenience, the NUL not counted in *len). */
const uint8_t *edr_stream_mem_data(const struct edr_stream *s, size_t *len);

/* Discards everything. */
edr_rc edr_stream_null_new(struct edr_stream **out, struct edr_err *err);

/* Passes every write to next and to `other` (both may be NULL, neither
 * owned); finish() finishes next, then other. */
edr_rc edr_stream_tee_new(struct edr_stream *next, struct edr_stream *other,
                          struct edr_stream **out, struct edr_err *err);

#endif
