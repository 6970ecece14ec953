/*
 * The growable byte buffer (buf.h). Capacity doubles from 256 bytes; one byte
 * more than len is always reserved for the terminating NUL.
 */
#include "common/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
edr_buf_release(struct edr_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void
edr_buf_reset(struct edr_buf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->data != NULL)
        b->data[0] = '\0';
}

/* Room for n more bytes and a NUL. */
static int
reserve(struct edr_buf *b, size_t n)
{
    size_t want, cap;
    uint8_t *p;

    if (b->failed)
        return -1;
    if (n > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    want = b->len + n + 1;
    if (want <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? want : cap * 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
edr_buf_add(struct edr_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int
edr_buf_byte(struct edr_buf *b, uint8_t c)
{
    return edr_buf_add(b, &c, 1);
}

int
edr_buf_str(struct edr_buf *b, const char *s)
{
    return edr_buf_add(b, s, strlen(s));
}

int
edr_buf_printf(struct edr_buf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return -1;
    }
    if (reserve(b, (size_t)n) < 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

int
edr_buf_cstr(struct edr_buf *b)
{
    if (reserve(b, 0) < 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}
