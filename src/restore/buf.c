/*
 * Byte buffer and the varint / Go-JSON encoders of the restore writers.
 * The JSON escaping mirrors encoding/json of go1.19 (the Go that built etcd
 * 3.4.23): \b and \f are written as \u0008 and \u000c, not as short escapes.
 */
#include "restore/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
edr_restore_buf_release(struct edr_restore_buf *b)
{
    if (b == NULL)
        return;
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static int
reserve(struct edr_restore_buf *b, size_t n)
{
    size_t want, cap;
    uint8_t *p;

    if (b->failed)
        return -1;
    if (n > SIZE_MAX - b->len - 1) {
        b->failed = 1;
        return -1;
    }
    want = b->len + n + 1; /* room for a NUL */
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
edr_restore_buf_add(struct edr_restore_buf *b, const void *p, size_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int
edr_restore_buf_byte(struct edr_restore_buf *b, uint8_t c)
{
    return edr_restore_buf_add(b, &c, 1);
}

int
edr_restore_buf_str(struct edr_restore_buf *b, const char *s)
{
    return edr_restore_buf_add(b, s, strlen(s));
}

int
edr_restore_buf_printf(struct edr_restore_buf *b, const char *fmt, ...)
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
edr_restore_buf_cstr(struct edr_restore_buf *b)
{
    if (reserve(b, 0) < 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1..4) as Go's DecodeRune accepts
 * it, or 0 if the bytes are not valid UTF-8. */
static size_t
utf8_len(const uint8_t *s, size_t n, uint32_t *cp)
{
    uint8_t c = s[0];
    size_t len, i;
    uint32_t v, min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return len;
}

int
edr_restore_buf_json_str(struct edr_restore_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0, start = 0, len;
    uint32_t cp;
    char esc[8];

    edr_restore_buf_byte(b, '"');
    while (i < n) {
        uint8_t c = s[i];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            i++;
            continue;
        }
        if (c < 0x80) {
            edr_restore_buf_add(b, s + start, i - start);
            if (c == '"' || c == '\\') {
                esc[0] = '\\', esc[1] = (char)c;
                edr_restore_buf_add(b, esc, 2);
            } else if (c == '\n') {
                edr_restore_buf_add(b, "\\n", 2);
            } else if (c == '\r') {
                edr_restore_buf_add(b, "\\r", 2);
            } else if (c == '\t') {
                edr_restore_buf_add(b, "\\t", 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 0xF];
                edr_restore_buf_add(b, esc, 6);
            }
            start = ++i;
            continue;
        }
        len = utf8_len(s + i, n - i, &cp);
        if (len == 0) {
            edr_restore_buf_add(b, s + start, i - start);
            edr_restore_buf_str(b, "\\ufffd");
            start = ++i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            edr_restore_buf_add(b, s + start, i - start);
            edr_restore_buf_str(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
            start = i + len;
        }
        i += len;
    }
    edr_restore_buf_add(b, s + start, i - start);
    return edr_restore_buf_byte(b, '"');
}

int
edr_restore_buf_varint(struct edr_restore_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return edr_restore_buf_add(b, tmp, n);
}

int
edr_restore_buf_pb_bytes(struct edr_restore_buf *b, uint8_t tag, const void *p, size_t n)
{
    edr_restore_buf_byte(b, tag);
    edr_restore_buf_varint(b, n);
    return edr_restore_buf_add(b, p, n);
}

int
edr_restore_buf_pb_varint(struct edr_restore_buf *b, uint8_t tag, uint64_t v)
{
    edr_restore_buf_byte(b, tag);
    return edr_restore_buf_varint(b, v);
}
