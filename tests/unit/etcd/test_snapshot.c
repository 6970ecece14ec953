/*
 * Unit tests of Snapshot stream verification: a synthetic etcd stream (data
 * blobs counting remaining_bytes down, then the SHA-256 message) framed as
 * gRPC and fed in 1-byte and odd chunks; then every way it can be wrong:
 * bad checksum, short checksum, missing checksum, truncation, extra
 * messages, inconsistent remaining_bytes, and sink failures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/hash.h"
#include "etcd/grpc.h"
#include "etcd/proto.h"
#include "etcd/snapshot.h"

#define DB_SIZE 10000
#define URL "http://127.0.0.1:2379"

struct memsink {
    struct edr_stream s;
    uint8_t data[DB_SIZE + 100];
    size_t len;
    int begins;
    uint64_t announced;
    edr_rc fail_begin;
    edr_rc fail_write;
};

static edr_rc
mem_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct memsink *m = (struct memsink *)s;

    if (m->fail_write != EDR_OK)
        return edr_err_set(err, m->fail_write, "disk full");
    assert_true(m->len + len <= sizeof(m->data));
    memcpy(m->data + m->len, buf, len);
    m->len += len;
    return EDR_OK;
}

static edr_rc
mem_finish(struct edr_stream *s, struct edr_err *err)
{
    (void)s;
    (void)err;
    return EDR_OK;
}

static void
mem_free(struct edr_stream *s)
{
    (void)s;
}

static const struct edr_stream_ops mem_ops = {"mem", mem_write, mem_finish, mem_free};

static edr_rc
mem_begin(void *ud, uint64_t db_size, struct edr_stream **out, struct edr_err *err)
{
    struct memsink *m = ud;

    m->begins++;
    m->announced = db_size;
    if (m->fail_begin != EDR_OK)
        return edr_err_set(err, m->fail_begin, "cannot open the repository");
    m->s.ops = &mem_ops;
    m->s.next = NULL;
    *out = &m->s;
    return EDR_OK;
}

static uint8_t db[DB_SIZE];

/* Append one framed SnapshotResponse. */
static size_t
put_msg(uint8_t *out, uint64_t remaining, const uint8_t *blob, size_t blen)
{
    struct edr_pb_writer w;

    edr_pb_writer_init(&w, out + EDR_GRPC_PREFIX, 64 + blen);
    edr_pb_put_uint(&w, 2, remaining);
    if (blen > 0)
        edr_pb_put_bytes(&w, 3, blob, blen);
    out[0] = 0;
    out[1] = (uint8_t)(w.len >> 24);
    out[2] = (uint8_t)(w.len >> 16);
    out[3] = (uint8_t)(w.len >> 8);
    out[4] = (uint8_t)w.len;
    return EDR_GRPC_PREFIX + w.len;
}

/* The stream etcd would send for db[0..size) in `chunk`-byte blobs. */
static size_t
build(uint8_t *out, size_t size, size_t chunk, const uint8_t *sum, size_t sumlen)
{
    size_t n = 0;

    for (size_t off = 0; off < size; off += chunk) {
        size_t len = size - off < chunk ? size - off : chunk;
        n += put_msg(out + n, size - off - len, db + off, len);
    }
    if (sum != NULL)
        n += put_msg(out + n, 0, sum, sumlen);
    return n;
}

/* Feed the stream in `chunk`-byte pieces; returns the first error. */
static edr_rc
run(const uint8_t *stream, size_t n, size_t chunk, struct memsink *m,
    struct edr_etcd_snapshot_result *res, struct edr_err *err)
{
    struct edr_etcd_snapshot_sink sink = {mem_begin, m};
    struct edr_etcd_snap_rx rx;
    struct edr_grpc_dec d;
    edr_rc rc;

    memset(res, 0, sizeof(*res));
    assert_int_equal(edr_etcd_snap_rx_init(&rx, URL, &sink, err), EDR_OK);
    edr_grpc_dec_init(&d, 0, edr_etcd_snap_rx_msg, &rx);
    rc = EDR_OK;
    for (size_t off = 0; off < n && rc == EDR_OK; off += chunk)
        rc = edr_grpc_dec_feed(&d, stream + off, n - off < chunk ? n - off : chunk, err);
    if (rc == EDR_OK)
        rc = edr_grpc_dec_finish(&d, err);
    if (rc == EDR_OK)
        rc = edr_etcd_snap_rx_end(&rx, res, err);
    edr_grpc_dec_release(&d);
    edr_etcd_snap_rx_release(&rx);
    return rc;
}

static uint8_t stream[2 * DB_SIZE];

static int
setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < DB_SIZE; i++)
        db[i] = (uint8_t)(i * 31 + (i >> 8));
    return 0;
}

static void
test_good_stream(void **state)
{
    static const size_t feeds[] = {1, 2, 3, 5, 7, 100, 4096, 1 << 20};
    static const size_t blobs[] = {1000, 3333, DB_SIZE};
    uint8_t sum[32];
    struct memsink m;
    struct edr_etcd_snapshot_result res;
    struct edr_err err;
    (void)state;

    edr_sha256_buf(db, DB_SIZE, sum);
    for (size_t b = 0; b < sizeof(blobs) / sizeof(blobs[0]); b++) {
        size_t n = build(stream, DB_SIZE, blobs[b], sum, 32);
        for (size_t f = 0; f < sizeof(feeds) / sizeof(feeds[0]); f++) {
            memset(&m, 0, sizeof(m));
            assert_int_equal(run(stream, n, feeds[f], &m, &res, &err), EDR_OK);
            assert_int_equal(m.begins, 1);
            assert_int_equal(m.announced, DB_SIZE);
            assert_int_equal(m.len, DB_SIZE); /* the checksum is not passed on */
            assert_memory_equal(m.data, db, DB_SIZE);
            assert_int_equal(res.db_size, DB_SIZE);
            assert_memory_equal(res.sha256, sum, 32);
        }
    }
}

static void
check_bad(const uint8_t *s, size_t n, edr_rc code, const char *msg)
{
    struct memsink m;
    struct edr_etcd_snapshot_result res;
    struct edr_err err;

    memset(&m, 0, sizeof(m));
    edr_err_clear(&err);
    assert_int_equal(run(s, n, 7, &m, &res, &err), code);
    assert_string_equal(err.msg, msg);
    assert_int_equal(res.db_size, 0);
}

static void
test_bad_streams(void **state)
{
    uint8_t sum[32], bad[32];
    size_t n;
    (void)state;

    edr_sha256_buf(db, DB_SIZE, sum);
    memcpy(bad, sum, 32);
    bad[31] ^= 1;

    n = build(stream, DB_SIZE, 4096, bad, 32);
    {
        char want[400], hs[65], hb[65];
        edr_hex(sum, 32, hs);
        edr_hex(bad, 32, hb);
        snprintf(want, sizeof(want),
                 "etcd '" URL "': Snapshot: sha256 mismatch: etcd sent %s, the received data "
                 "hashes to %s",
                 hb, hs);
        check_bad(stream, n, EDR_E_INTEGRITY, want);
    }
    n = build(stream, DB_SIZE, 4096, sum, 31);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: checksum message has 31 bytes (remaining_bytes 0), "
              "expected 32");
    n = build(stream, DB_SIZE, 4096, NULL, 0);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: stream ended without the sha256 checksum");
    /* truncated after the first blob: with a correct prefix of messages */
    n = put_msg(stream, DB_SIZE - 4096, db, 4096);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: truncated: got 4096 of 10000 bytes");
    /* cut inside a gRPC message: the framing notices */
    check_bad(stream, n - 1, EDR_E_ETCD,
              "response ended inside a grpc message (got 4101 of 4102 bytes)");
    check_bad(stream, 0, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: stream ended without any data");
    /* a message after the checksum */
    n = build(stream, DB_SIZE, 4096, sum, 32);
    n += put_msg(stream + n, 0, sum, 32);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: unexpected message after the sha256 checksum");
    /* remaining_bytes that does not count down as announced */
    n = put_msg(stream, DB_SIZE - 100, db, 100);
    n += put_msg(stream + n, DB_SIZE - 150, db + 100, 100);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: remaining_bytes 9850 at offset 200, expected 9800");
    /* more data than announced */
    n = put_msg(stream, 50, db, 100);
    n += put_msg(stream + n, 0, db + 100, 100);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: data at offset 100 exceeds the announced 150 bytes");
    /* empty first message */
    n = put_msg(stream, 0, NULL, 0);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: first message announces an empty database");
    /* impossible size */
    n = put_msg(stream, UINT64_MAX, db, 10);
    check_bad(stream, n, EDR_E_INTEGRITY,
              "etcd '" URL "': Snapshot: first message announces an impossibly large database");
    /* malformed protobuf */
    {
        static const uint8_t junk[] = {0, 0, 0, 0, 2, 0x1a, 0x05};
        check_bad(junk, sizeof(junk), EDR_E_ETCD,
                  "etcd '" URL "': Snapshot: malformed SnapshotResponse: field 3: length 5 "
                  "exceeds the 0 bytes left");
    }
}

static void
test_sink_errors(void **state)
{
    uint8_t sum[32];
    struct memsink m;
    struct edr_etcd_snapshot_result res;
    struct edr_err err;
    size_t n;
    (void)state;

    edr_sha256_buf(db, DB_SIZE, sum);
    n = build(stream, DB_SIZE, 4096, sum, 32);
    memset(&m, 0, sizeof(m));
    m.fail_begin = EDR_E_REPO;
    assert_int_equal(run(stream, n, 1, &m, &res, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "cannot open the repository");
    assert_int_equal(m.begins, 1);
    memset(&m, 0, sizeof(m));
    m.fail_write = EDR_E_IO;
    assert_int_equal(run(stream, n, 4096, &m, &res, &err), EDR_E_IO);
    assert_string_equal(err.msg, "disk full");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_stream),
        cmocka_unit_test(test_bad_streams),
        cmocka_unit_test(test_sink_errors),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
