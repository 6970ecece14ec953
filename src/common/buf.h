/*
 * The growable byte buffer: requests and responses being collected, the
 * files the restore writers build, XML text being decoded. One type for all
 * of them, so that growth, overflow checks and out-of-memory handling are
 * written once.
 */
#ifndef EDR_COMMON_BUF_H
#define EDR_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Zero-initialise before use; edr_buf_release frees (or take `data` and
 * set it to NULL). Once anything was appended, data[len] is a NUL that len
 * does not count, so text can be used as a C string.
 * Appends return 0, or -1 once an allocation failed; after a failure every
 * later append is a no-op returning -1, so a caller may append many pieces
 * and test the last result (or `failed`). */
struct edr_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed;
};

void edr_buf_release(struct edr_buf *b);
/* Empty the buffer (keeping its memory) and clear `failed`. */
void edr_buf_reset(struct edr_buf *b);
int edr_buf_add(struct edr_buf *b, const void *p, size_t n);
int edr_buf_byte(struct edr_buf *b, uint8_t c);
int edr_buf_str(struct edr_buf *b, const char *s);
int edr_buf_printf(struct edr_buf *b, const char *fmt, ...) EDR_PRINTF(2, 3);
/* Make `data` a C string even when nothing was appended. */
int edr_buf_cstr(struct edr_buf *b);

#endif
