/*
 * A growable, always NUL-terminated byte string for building requests and
 * collecting small responses. Zero-initialise; free(b.p) when done.
 */
#ifndef EDR_COMMON_STRBUF_H
#define EDR_COMMON_STRBUF_H

#include <stdlib.h>
#include <string.h>

struct edr_strbuf {
    char *p;
    size_t len, cap;
};

/* Append n bytes; 0, or -1 when memory runs out (the buffer is unchanged). */
static inline int
edr_strbuf_add(struct edr_strbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;
        while (cap < b->len + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (p == NULL)
            return -1;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return 0;
}

#endif
