/*
 * Reads a data file (format: stream/seal.h) and pushes the payload into
 * next. The header is parsed incrementally, so input may be split anywhere.
 *
 * Errors (messages exact):
 *   EDR_E_INTEGRITY "not an etcd-dr backup (bad magic)"  (magic or version)
 *   EDR_E_INTEGRITY "unsupported data file flags 0x02"
 *   EDR_E_INTEGRITY "corrupt header: ..."  (recipient count, reserved byte,
 *                   chunk size out of range)
 *   EDR_E_INTEGRITY "truncated: incomplete header"
 *   EDR_E_KEY       "backup is encrypted; an identity (--identity) is required"
 *   EDR_E_KEY       "backup is not encrypted to key <id> (recipients: <id>, <id>)"
 *   EDR_E_KEY       "unable to unseal the data key with key <id> (...)"
 *   EDR_E_INTEGRITY "chunk 41: authentication failed"   (chunks count from 1)
 *   EDR_E_INTEGRITY "chunk 3: final tag on a full-size chunk"
 *   EDR_E_INTEGRITY "trailing data after final chunk"
 *   EDR_E_INTEGRITY "truncated: final chunk missing after chunk 12"
 *                   ("after the header" when no chunk came)
 * Key errors are raised once the whole header is parsed, so the recipient
 * getters below work even then.
 */
#ifndef EDR_STREAM_OPEN_H
#define EDR_STREAM_OPEN_H

#include <stddef.h>

#include "common/err.h"
#include "crypto/keys.h"
#include "stream/stream.h"

/* identity may be NULL (then only unencrypted files open); it is not owned
 * and must outlive the stream. */
edr_rc edr_stream_open_new(struct edr_stream *next, struct edr_identity *identity,
                           struct edr_stream **out, struct edr_err *err);

/* 1 once the whole header has been parsed. */
int edr_stream_open_header_done(const struct edr_stream *s);
/* 1 if the file is encrypted (valid once the header is parsed). */
int edr_stream_open_encrypted(const struct edr_stream *s);
/* Recipients of an encrypted file: count and hex key ids (16 chars). */
size_t edr_stream_open_recipient_count(const struct edr_stream *s);
const char *edr_stream_open_recipient_id(const struct edr_stream *s, size_t i);
/* Payload bytes pushed to next so far. */
uint64_t edr_stream_open_plain_size(const struct edr_stream *s);

#endif
