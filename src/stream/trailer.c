/*
 * Trailer check: keeps the newest 32 bytes back from the hash until the
 * stream ends, so it never needs to know the size in advance.
 */
#include "stream/trailer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct trailer {
    struct edr_stream base;
    struct edr_sha256 h;
    uint8_t tail[EDR_SHA256_LEN];
    size_t tail_len;
    uint64_t hashed;
    int required;
    char what[256];
    struct edr_trailer_result res;
};

static edr_rc
tr_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct trailer *t = (struct trailer *)s;
    const uint8_t *p = buf;
    size_t total = t->tail_len + len;

    if (total > EDR_SHA256_LEN) {
        size_t out = total - EDR_SHA256_LEN; /* bytes leaving the tail window */
        size_t from_tail = out < t->tail_len ? out : t->tail_len;
        size_t from_buf = out - from_tail;
        edr_sha256_update(&t->h, t->tail, from_tail);
        edr_sha256_update(&t->h, p, from_buf);
        t->hashed += out;
        /* new tail: remaining old tail bytes then the rest of buf */
        memmove(t->tail, t->tail + from_tail, t->tail_len - from_tail);
        t->tail_len -= from_tail;
        memcpy(t->tail + t->tail_len, p + from_buf, len - from_buf);
        t->tail_len += len - from_buf;
    } else {
        memcpy(t->tail + t->tail_len, p, len);
        t->tail_len += len;
    }
    return edr_stream_write(s->next, buf, len, err);
}

static edr_rc
tr_finish(struct edr_stream *s, struct edr_err *err)
{
    struct trailer *t = (struct trailer *)s;
    char a[65], b[65];

    t->res.db_size = t->hashed;
    edr_sha256_final(&t->h, t->res.sha256);
    if (t->tail_len == EDR_SHA256_LEN) {
        memcpy(t->res.trailer, t->tail, EDR_SHA256_LEN);
        t->res.match = memcmp(t->res.sha256, t->tail, EDR_SHA256_LEN) == 0;
    }
    if (t->required && t->tail_len < EDR_SHA256_LEN)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: too short for an etcd snapshot", t->what);
    if (t->required && !t->res.match) {
        edr_hex(t->res.trailer, 8, a);
        edr_hex(t->res.sha256, 8, b);
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: sha256 mismatch (trailer %s..., data %s...)",
                           t->what, a, b);
    }
    return edr_stream_finish(s->next, err);
}

static void
tr_free(struct edr_stream *s)
{
    struct trailer *t = (struct trailer *)s;

    if (t == NULL)
        return;
    edr_sha256_release(&t->h);
    free(t);
}

static const struct edr_stream_ops trailer_ops = {"etcd-trailer", tr_write, tr_finish, tr_free};

edr_rc
edr_stream_trailer_new(struct edr_stream *next, const char *what, int required,
                       struct edr_stream **out, struct edr_err *err)
{
    struct trailer *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL || edr_sha256_init(&t->h) != 0) {
        free(t);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    t->base.ops = &trailer_ops;
    t->base.next = next;
    t->required = required;
    snprintf(t->what, sizeof(t->what), "%s", what);
    *out = &t->base;
    return EDR_OK;
}

void
edr_stream_trailer_result(const struct edr_stream *s, struct edr_trailer_result *out)
{
    *out = ((const struct trailer *)s)->res;
}
