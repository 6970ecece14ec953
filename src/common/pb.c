/*
 * Protobuf wire codec (pb.h): varints, a field iterator that skips unknown
 * fields of every wire type (groups included), and an encoder that sizes a
 * message when given no buffer. Every input is treated as hostile.
 */
#include "common/pb.h"

#include <string.h>

#define GROUP_DEPTH_MAX 32

size_t
edr_pb_put_varint(uint8_t *buf, uint64_t v)
{
    size_t n = 0;

    while (v >= 0x80) {
        buf[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    buf[n++] = (uint8_t)v;
    return n;
}

static edr_rc
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, edr_rc code, struct edr_err *err)
{
    const uint8_t *q = *p;
    uint64_t r = 0;

    for (unsigned i = 0; i < EDR_PB_VARINT_MAX; i++) {
        uint8_t b;

        if (q >= end)
            return edr_err_set(err, code, "truncated varint");
        b = *q++;
        if (i == 9 && b > 1)
            return edr_err_set(err, code, "overlong varint");
        r |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *p = q;
            *v = r;
            return EDR_OK;
        }
    }
    return edr_err_set(err, code, "overlong varint");
}

edr_rc
edr_pb_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, struct edr_err *err)
{
    return get_varint(p, end, v, EDR_E_ETCD, err);
}

/* Read a tag; checks field number and wire type. */
static edr_rc
get_tag(const uint8_t **p, const uint8_t *end, uint32_t *num, unsigned *wire, edr_rc code,
        struct edr_err *err)
{
    uint64_t t;
    edr_rc rc;

    if ((rc = get_varint(p, end, &t, code, err)) != EDR_OK)
        return rc;
    if ((t >> 3) == 0 || (t >> 3) > 0x1fffffff)
        return edr_err_set(err, code, "invalid field number %llu", (unsigned long long)(t >> 3));
    *num = (uint32_t)(t >> 3);
    *wire = (unsigned)(t & 7);
    if (*wire > 5)
        return edr_err_set(err, code, "field %u: invalid wire type %u", *num, *wire);
    return EDR_OK;
}

/* Read the payload of a non-group field of the given wire type. */
static edr_rc
get_value(const uint8_t **p, const uint8_t *end, uint32_t num, unsigned wire,
          struct edr_pb_field *f, edr_rc code, struct edr_err *err)
{
    uint64_t v;
    edr_rc rc;

    switch (wire) {
    case EDR_PB_VARINT:
        return get_varint(p, end, &f->u, code, err);
    case EDR_PB_FIXED64:
    case EDR_PB_FIXED32: {
        size_t n = wire == EDR_PB_FIXED64 ? 8 : 4;
        if ((size_t)(end - *p) < n)
            return edr_err_set(err, code, "field %u: truncated fixed%zu", num, n * 8);
        f->u = 0;
        for (size_t i = 0; i < n; i++)
            f->u |= (uint64_t)(*p)[i] << (8 * i);
        *p += n;
        return EDR_OK;
    }
    case EDR_PB_LEN:
        if ((rc = get_varint(p, end, &v, code, err)) != EDR_OK)
            return rc;
        if (v > (uint64_t)(end - *p))
            return edr_err_set(err, code, "field %u: length %llu exceeds the %zu bytes left", num,
                               (unsigned long long)v, (size_t)(end - *p));
        f->data = *p;
        f->len = (size_t)v;
        *p += v;
        return EDR_OK;
    default:
        return edr_err_set(err, code, "field %u: invalid wire type %u", num, wire);
    }
}

/* Skip a group body up to its matching end-group tag; nested groups tracked
 * with a small stack of field numbers. */
static edr_rc
skip_group(const uint8_t **p, const uint8_t *end, uint32_t num, struct edr_pb_field *f, edr_rc code,
           struct edr_err *err)
{
    uint32_t stack[GROUP_DEPTH_MAX];
    size_t depth = 0;
    const uint8_t *start = *p;

    stack[depth++] = num;
    while (depth > 0) {
        const uint8_t *before = *p;
        struct edr_pb_field tmp;
        uint32_t n;
        unsigned w;
        edr_rc rc;

        if ((rc = get_tag(p, end, &n, &w, code, err)) != EDR_OK)
            return rc;
        if (w == EDR_PB_SGROUP) {
            if (depth == GROUP_DEPTH_MAX)
                return edr_err_set(err, code, "groups nested too deeply");
            stack[depth++] = n;
        } else if (w == EDR_PB_EGROUP) {
            if (stack[depth - 1] != n)
                return edr_err_set(err, code, "group %u closed by end-group %u", stack[depth - 1],
                                   n);
            if (--depth == 0) {
                f->data = start;
                f->len = (size_t)(before - start);
            }
        } else if ((rc = get_value(p, end, n, w, &tmp, code, err)) != EDR_OK) {
            return rc;
        }
    }
    return EDR_OK;
}

edr_rc
edr_pb_next(const uint8_t **p, const uint8_t *end, struct edr_pb_field *f, struct edr_err *err)
{
    return edr_pb_next_as(p, end, f, EDR_E_ETCD, err);
}

edr_rc
edr_pb_next_as(const uint8_t **p, const uint8_t *end, struct edr_pb_field *f, edr_rc code,
               struct edr_err *err)
{
    unsigned wire;
    edr_rc rc;

    memset(f, 0, sizeof(*f));
    if ((rc = get_tag(p, end, &f->num, &wire, code, err)) != EDR_OK)
        return rc;
    f->wire = (enum edr_pb_wire)wire;
    if (wire == EDR_PB_EGROUP)
        return edr_err_set(err, code, "field %u: unexpected end-group", f->num);
    if (wire == EDR_PB_SGROUP)
        return skip_group(p, end, f->num, f, code, err);
    return get_value(p, end, f->num, wire, f, code, err);
}

/* -- encoder ------------------------------------------------------------- */

void
edr_pb_writer_init(struct edr_pb_writer *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf != NULL ? cap : 0;
    w->len = 0;
    w->overflow = 0;
}

static void
put_raw(struct edr_pb_writer *w, const void *data, size_t len)
{
    if (!w->overflow && w->cap - w->len >= len) {
        if (len > 0)
            memcpy(w->buf + w->len, data, len);
    } else {
        w->overflow = 1;
    }
    w->len += len;
}

static void
put_varint(struct edr_pb_writer *w, uint64_t v)
{
    uint8_t tmp[EDR_PB_VARINT_MAX];

    put_raw(w, tmp, edr_pb_put_varint(tmp, v));
}

void
edr_pb_put_uint(struct edr_pb_writer *w, uint32_t field, uint64_t v)
{
    if (v == 0)
        return;
    put_varint(w, (uint64_t)field << 3 | EDR_PB_VARINT);
    put_varint(w, v);
}

void
edr_pb_put_bytes(struct edr_pb_writer *w, uint32_t field, const void *data, size_t len)
{
    put_varint(w, (uint64_t)field << 3 | EDR_PB_LEN);
    put_varint(w, len);
    put_raw(w, data, len);
}

void
edr_pb_put_string(struct edr_pb_writer *w, uint32_t field, const char *s)
{
    if (s == NULL || *s == '\0')
        return;
    edr_pb_put_bytes(w, field, s, strlen(s));
}

int
edr_pb_buf_varint(struct edr_buf *b, uint64_t v)
{
    uint8_t tmp[EDR_PB_VARINT_MAX];

    return edr_buf_add(b, tmp, edr_pb_put_varint(tmp, v));
}

int
edr_pb_buf_uint(struct edr_buf *b, uint32_t field, uint64_t v)
{
    edr_pb_buf_varint(b, (uint64_t)field << 3 | EDR_PB_VARINT);
    return edr_pb_buf_varint(b, v);
}

int
edr_pb_buf_bytes(struct edr_buf *b, uint32_t field, const void *data, size_t len)
{
    edr_pb_buf_varint(b, (uint64_t)field << 3 | EDR_PB_LEN);
    edr_pb_buf_varint(b, len);
    return edr_buf_add(b, data, len);
}
