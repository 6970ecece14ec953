/*
 * mvccpb.KeyValue, the value of every `key`-bucket entry and of every kv in
 * a Range response: fields 1 key, 2 create_revision, 3 mod_revision,
 * 4 version, 5 value, 6 lease. On the common protobuf codec: every length is
 * checked against the buffer and fields we do not know are skipped, as proto3
 * requires; a known field with another wire type is an error. The encoder
 * exists for tests and writers.
 */
#include "mvcc/mvcc.h"

#include <string.h>

#include "common/pb.h"

edr_rc
edr_mvcc_kv_decode(const uint8_t *buf, size_t len, struct edr_kv *kv, struct edr_err *err)
{
    const uint8_t *p = buf, *end = len > 0 ? buf + len : buf;
    struct edr_pb_field f;
    edr_rc rc;

    memset(kv, 0, sizeof(*kv));
    while (p < end) {
        if ((rc = edr_pb_next_as(&p, end, &f, EDR_E_INTEGRITY, err)) != EDR_OK)
            return rc;
        if (f.num < 1 || f.num > 6)
            continue;
        if (f.wire != (f.num == 1 || f.num == 5 ? EDR_PB_LEN : EDR_PB_VARINT))
            return edr_err_set(err, EDR_E_INTEGRITY, "field %u: wrong wire type", f.num);
        switch (f.num) {
        case 1:
            kv->key = f.data;
            kv->key_len = f.len;
            break;
        case 2:
            kv->create_revision = (int64_t)f.u;
            break;
        case 3:
            kv->mod_revision = (int64_t)f.u;
            break;
        case 4:
            kv->version = (int64_t)f.u;
            break;
        case 5:
            kv->value = f.data;
            kv->value_len = f.len;
            break;
        default:
            kv->lease = (int64_t)f.u;
            break;
        }
    }
    return EDR_OK;
}

static size_t
encode(const struct edr_kv *kv, uint8_t *out, size_t cap)
{
    struct edr_pb_writer w;

    edr_pb_writer_init(&w, out, cap);
    if (kv->key_len > 0)
        edr_pb_put_bytes(&w, 1, kv->key, kv->key_len);
    edr_pb_put_uint(&w, 2, (uint64_t)kv->create_revision);
    edr_pb_put_uint(&w, 3, (uint64_t)kv->mod_revision);
    edr_pb_put_uint(&w, 4, (uint64_t)kv->version);
    if (kv->value_len > 0)
        edr_pb_put_bytes(&w, 5, kv->value, kv->value_len);
    edr_pb_put_uint(&w, 6, (uint64_t)kv->lease);
    return w.len;
}

size_t
edr_mvcc_kv_encode(const struct edr_kv *kv, uint8_t *out, size_t cap)
{
    size_t need = encode(kv, NULL, 0);

    if (need <= cap)
        encode(kv, out, cap);
    return need;
}
