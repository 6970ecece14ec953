/*
 * A growable byte buffer for the restore writers, with the two encodings
 * they share: protobuf varints and JSON string literals escaped exactly as
 * Go's encoding/json (go1.19, HTML-safe) escapes them, since etcd hashes and
 * compares bytes that Go produced.
 */
#ifndef EDR_RESTORE_BUF_H
#define EDR_RESTORE_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Zero-initialise before use. Appends return 0, or -1 once an allocation
 * failed; after a failure every later append is a no-op returning -1, so a
 * caller may append many pieces and test the last result (or `failed`). */
struct edr_restore_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed;
};

void edr_restore_buf_release(struct edr_restore_buf *b);
int edr_restore_buf_add(struct edr_restore_buf *b, const void *p, size_t n);
int edr_restore_buf_byte(struct edr_restore_buf *b, uint8_t c);
int edr_restore_buf_str(struct edr_restore_buf *b, const char *s);
int edr_restore_buf_printf(struct edr_restore_buf *b, const char *fmt, ...) EDR_PRINTF(2, 3);
/* A JSON string literal, quotes included: `"` and `\` backslashed, \n \r \t,
 * other control bytes and < > & as \u00xx, U+2028/U+2029 as \u2028/\u2029,
 * each byte of invalid UTF-8 as \ufffd. */
int edr_restore_buf_json_str(struct edr_restore_buf *b, const char *s, size_t n);
/* Protobuf base-128 varint. */
int edr_restore_buf_varint(struct edr_restore_buf *b, uint64_t v);
/* Protobuf length-delimited field: tag byte, varint length, bytes. */
int edr_restore_buf_pb_bytes(struct edr_restore_buf *b, uint8_t tag, const void *p, size_t n);
/* Protobuf varint field: tag byte, varint. */
int edr_restore_buf_pb_varint(struct edr_restore_buf *b, uint8_t tag, uint64_t v);
/* NUL-terminate without counting the NUL in len (for text). */
int edr_restore_buf_cstr(struct edr_restore_buf *b);

#endif
