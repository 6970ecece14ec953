/*
 * libFuzzer target for the gRPC response path: the first input byte picks a
 * chunk size, the rest is a response body fed to the frame decoder in chunks
 * of that size, and every message is decoded as each etcd response type. A
 * trailing text part after a 0xff byte is fed as header and trailer lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "etcd/grpc.h"
#include "etcd/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static edr_rc
on_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    struct edr_pb_snapshot_resp sr;
    struct edr_pb_auth_resp ar;
    struct edr_etcd_status st;
    struct edr_etcd_member *m = NULL;
    size_t n = 0;

    (void)ud;
    (void)edr_pb_decode_snapshot_resp(msg, len, &sr, err);
    (void)edr_pb_decode_auth_resp(msg, len, &ar, err);
    memset(&st, 0, sizeof(st));
    (void)edr_pb_decode_status_resp(msg, len, &st, err);
    if (edr_pb_decode_member_list(msg, len, &m, &n, err) == EDR_OK)
        free(m);
    return EDR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edr_grpc_dec d;
    struct edr_grpc_status gs;
    struct edr_err err;
    const uint8_t *nul;
    size_t chunk, body;

    if (size == 0)
        return 0;
    chunk = (size_t)data[0] + 1;
    data++;
    size--;
    nul = memchr(data, 0xff, size);
    body = nul != NULL ? (size_t)(nul - data) : size;

    edr_grpc_dec_init(&d, 1 << 16, on_msg, NULL);
    for (size_t off = 0; off < body; off += chunk) {
        size_t len = body - off < chunk ? body - off : chunk;
        if (edr_grpc_dec_feed(&d, data + off, len, &err) != EDR_OK)
            break;
    }
    (void)edr_grpc_dec_finish(&d, &err);
    edr_grpc_dec_release(&d);

    if (nul != NULL) {
        const char *p = (const char *)nul + 1;
        const char *end = (const char *)data + size;
        edr_grpc_status_init(&gs);
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            edr_grpc_status_line(&gs, p, len);
            (void)edr_grpc_status_rc(gs.status, gs.message);
            p += len;
        }
    }
    return 0;
}
