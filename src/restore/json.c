/*
 * Go-compatible JSON string escaping (json.h). It mirrors encoding/json of
 * go1.19 (the Go that built etcd 3.4.23): \b and \f are written as \u0008
 * and \u000c, not as short escapes.
 */
#include "restore/json.h"

#include <stdint.h>
#include <string.h>

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
edr_restore_json_str(struct edr_buf *b, const char *str, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *s = (const uint8_t *)str;
    size_t i = 0, start = 0, len;
    uint32_t cp;
    char esc[8];

    edr_buf_byte(b, '"');
    while (i < n) {
        uint8_t c = s[i];

        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&') {
            i++;
            continue;
        }
        if (c < 0x80) {
            edr_buf_add(b, s + start, i - start);
            if (c == '"' || c == '\\') {
                esc[0] = '\\', esc[1] = (char)c;
                edr_buf_add(b, esc, 2);
            } else if (c == '\n') {
                edr_buf_add(b, "\\n", 2);
            } else if (c == '\r') {
                edr_buf_add(b, "\\r", 2);
            } else if (c == '\t') {
                edr_buf_add(b, "\\t", 2);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 0xF];
                edr_buf_add(b, esc, 6);
            }
            start = ++i;
            continue;
        }
        len = utf8_len(s + i, n - i, &cp);
        if (len == 0) {
            edr_buf_add(b, s + start, i - start);
            edr_buf_str(b, "\\ufffd");
            start = ++i;
            continue;
        }
        if (cp == 0x2028 || cp == 0x2029) {
            edr_buf_add(b, s + start, i - start);
            edr_buf_str(b, cp == 0x2028 ? "\\u2028" : "\\u2029");
            start = i + len;
        }
        i += len;
    }
    edr_buf_add(b, s + start, i - start);
    return edr_buf_byte(b, '"');
}
