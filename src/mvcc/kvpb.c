/*
 * mvccpb.KeyValue, the value of every `key`-bucket entry: fields 1 key,
 * 2 create_revision, 3 mod_revision, 4 version, 5 value, 6 lease. The decoder
 * checks every length against the buffer and skips fields it does not know,
 * as proto3 requires; the encoder exists for tests and writers.
 */
#include "mvcc/mvcc.h"

#include <string.h>

static int
varint(const uint8_t *p, size_t len, size_t *off, uint64_t *v)
{
    uint64_t r = 0;

    for (int shift = 0; shift < 64; shift += 7) {
        uint8_t c;
        if (*off >= len)
            return -1;
        c = p[(*off)++];
        r |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = r;
            return 0;
        }
    }
    return -1;
}

edr_rc
edr_mvcc_kv_decode(const uint8_t *buf, size_t len, struct edr_kv *kv, struct edr_err *err)
{
    size_t off = 0;

    memset(kv, 0, sizeof(*kv));
    while (off < len) {
        uint64_t tag, v;
        unsigned field, wt;

        if (varint(buf, len, &off, &tag) != 0)
            return edr_err_set(err, EDR_E_INTEGRITY, "truncated tag at offset %zu", off);
        field = (unsigned)(tag >> 3);
        wt = (unsigned)(tag & 7);
        if (tag >> 3 == 0 || tag >> 32 != 0)
            return edr_err_set(err, EDR_E_INTEGRITY, "invalid field number at offset %zu", off);
        switch (wt) {
        case 0:
            if (varint(buf, len, &off, &v) != 0)
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: truncated varint", field);
            if (field == 2)
                kv->create_revision = (int64_t)v;
            else if (field == 3)
                kv->mod_revision = (int64_t)v;
            else if (field == 4)
                kv->version = (int64_t)v;
            else if (field == 6)
                kv->lease = (int64_t)v;
            else if (field == 1 || field == 5)
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: wrong wire type", field);
            break;
        case 1:
        case 5:
            if (field >= 1 && field <= 6)
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: wrong wire type", field);
            if (len - off < (wt == 1 ? 8u : 4u))
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: out of bounds", field);
            off += wt == 1 ? 8 : 4;
            break;
        case 2:
            if (varint(buf, len, &off, &v) != 0)
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: truncated length", field);
            if (v > len - off)
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: out of bounds", field);
            if (field == 1) {
                kv->key = buf + off;
                kv->key_len = (size_t)v;
            } else if (field == 5) {
                kv->value = buf + off;
                kv->value_len = (size_t)v;
            } else if (field >= 2 && field <= 6) {
                return edr_err_set(err, EDR_E_INTEGRITY, "field %u: wrong wire type", field);
            }
            off += (size_t)v;
            break;
        default:
            return edr_err_set(err, EDR_E_INTEGRITY, "field %u: unsupported wire type %u", field,
                               wt);
        }
    }
    return EDR_OK;
}

static size_t
put_varint(uint8_t *out, size_t cap, size_t o, uint64_t v)
{
    do {
        uint8_t c = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            c |= 0x80;
        if (o < cap)
            out[o] = c;
        o++;
    } while (v);
    return o;
}

static size_t
put_bytes(uint8_t *out, size_t cap, size_t o, unsigned field, const uint8_t *p, size_t n)
{
    o = put_varint(out, cap, o, (uint64_t)field << 3 | 2);
    o = put_varint(out, cap, o, n);
    if (o + n <= cap && n > 0)
        memcpy(out + o, p, n);
    return o + n;
}

static size_t
put_int(uint8_t *out, size_t cap, size_t o, unsigned field, int64_t v)
{
    if (v == 0)
        return o;
    o = put_varint(out, cap, o, (uint64_t)field << 3);
    return put_varint(out, cap, o, (uint64_t)v);
}

static size_t
encode(const struct edr_kv *kv, uint8_t *out, size_t cap)
{
    size_t o = 0;

    if (kv->key_len > 0)
        o = put_bytes(out, cap, o, 1, kv->key, kv->key_len);
    o = put_int(out, cap, o, 2, kv->create_revision);
    o = put_int(out, cap, o, 3, kv->mod_revision);
    o = put_int(out, cap, o, 4, kv->version);
    if (kv->value_len > 0)
        o = put_bytes(out, cap, o, 5, kv->value, kv->value_len);
    o = put_int(out, cap, o, 6, kv->lease);
    return o;
}

size_t
edr_mvcc_kv_encode(const struct edr_kv *kv, uint8_t *out, size_t cap)
{
    size_t need = encode(kv, NULL, 0);

    if (need <= cap)
        encode(kv, out, cap);
    return need;
}
