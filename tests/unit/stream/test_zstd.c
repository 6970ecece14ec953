/*
 * Unit tests of the zstd filters: round trips with odd write sizes, threads,
 * pledged sizes, corrupt and truncated input, and interop with the zstd CLI
 * in both directions. The decompression tests run against the sequential
 * filter and again against the parallel one (1 to 3 workers), which also has
 * tests of its own: many frames, one big frame (the sequential fallback), a
 * damaged frame in the middle, a failing sink, and an abort mid-stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "stream/basic.h"
#include "stream/zstd.h"
#include "../support.h"

/* compress buf with our filter into a memory buffer */
static uint8_t *
compress(const uint8_t *buf, size_t len, int level, int threads, uint64_t pledged, size_t split,
         size_t *clen)
{
    struct edr_err err;
    struct edr_stream *mem = NULL, *zc = NULL;
    const uint8_t *d;
    uint8_t *copy;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "c", &mem, &err), EDR_OK);
    assert_int_equal(edr_stream_zstd_compress_new(mem, level, threads, pledged, &zc, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(zc, buf, len, split, 7, &err), EDR_OK);
    d = edr_stream_mem_data(mem, clen);
    copy = malloc(*clen + 1);
    memcpy(copy, d, *clen);
    edr_stream_free(zc);
    edr_stream_free(mem);
    return copy;
}

/* 0: the sequential decompressor; N: the parallel one with N workers */
static int g_workers;

static edr_rc
decompress_into(struct edr_stream *next, struct edr_stream **zd, struct edr_err *err)
{
    if (g_workers == 0)
        return edr_stream_zstd_decompress_new(next, zd, err);
    return edr_stream_zstd_decompress_mt_new(next, g_workers, zd, err);
}

static edr_rc
decompress(const uint8_t *c, size_t clen, size_t split, uint8_t **out, size_t *len,
           struct edr_err *err)
{
    struct edr_stream *mem = NULL, *zd = NULL;
    edr_rc rc;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "d", &mem, err), EDR_OK);
    assert_int_equal(decompress_into(mem, &zd, err), EDR_OK);
    rc = tu_feed_finish(zd, c, clen, split, 3, err);
    if (rc == EDR_OK && out != NULL) {
        const uint8_t *d = edr_stream_mem_data(mem, len);
        *out = malloc(*len + 1);
        memcpy(*out, d, *len);
    }
    edr_stream_free(zd);
    edr_stream_free(mem);
    return rc;
}

static void
test_roundtrip(void **state)
{
    size_t sizes[] = {0, 1, 7, 65537, 1 << 20, 3000000};
    (void)state;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *buf = malloc(sizes[i] + 1);
        if (i % 2)
            tu_random(buf, sizes[i], i);
        else
            tu_text(buf, sizes[i], i);
        for (int sp = 0; sp < TU_NSPLITS; sp++) {
            struct edr_err err;
            size_t clen, dlen;
            uint8_t *c, *d = NULL;
            int threads = sp % 2 ? 2 : 0;
            uint64_t pledged = sp == 2 ? sizes[i] : EDR_ZSTD_SIZE_UNKNOWN;
            if (sizes[i] > 100000 && tu_splits[sp] == 1)
                continue; /* slow, covered by the smaller sizes */
            c = compress(buf, sizes[i], 3, threads, pledged, tu_splits[sp], &clen);
            if (pledged != EDR_ZSTD_SIZE_UNKNOWN)
                assert_int_equal(ZSTD_getFrameContentSize(c, clen), sizes[i]);
            assert_int_equal(decompress(c, clen, tu_splits[(sp + 1) % TU_NSPLITS], &d, &dlen, &err),
                             EDR_OK);
            assert_int_equal(dlen, sizes[i]);
            if (dlen > 0)
                assert_memory_equal(d, buf, dlen);
            free(c);
            free(d);
        }
        free(buf);
    }
}

static void
test_bad_params(void **state)
{
    struct edr_err err;
    struct edr_stream *zc = NULL;
    (void)state;

    assert_int_equal(edr_stream_zstd_compress_new(NULL, 23, 0, EDR_ZSTD_SIZE_UNKNOWN, &zc, &err),
                     EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid zstd level 23 (expected 1..22)");
    assert_null(zc);
}

static void
test_pledged_mismatch(void **state)
{
    struct edr_err err;
    struct edr_stream *zc = NULL;
    uint8_t buf[100];
    (void)state;

    memset(buf, 'a', sizeof(buf));
    assert_int_equal(edr_stream_zstd_compress_new(NULL, 3, 0, 200, &zc, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(zc, buf, sizeof(buf), 7, 0, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "zstd: Src size is incorrect");
    edr_stream_free(zc);
}

static void
test_corrupt(void **state)
{
    struct edr_err err;
    uint8_t *buf = malloc(200000), *c;
    size_t clen;
    (void)state;

    tu_text(buf, 200000, 1);
    c = compress(buf, 200000, 3, 0, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);

    /* the content checksum is the last 4 bytes */
    c[clen - 1] ^= 1;
    assert_int_equal(decompress(c, clen, 7, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: Restored data doesn't match checksum");
    c[clen - 1] ^= 1;

    /* bad magic */
    c[0] ^= 0xff;
    assert_int_equal(decompress(c, clen, 1, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: Unknown frame descriptor");
    c[0] ^= 0xff;

    /* truncated mid-frame, by 1 byte, after the first byte */
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        assert_int_equal(decompress(c, clen / 2, tu_splits[sp], NULL, NULL, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "zstd: truncated input");
    }
    assert_int_equal(decompress(c, clen - 1, 0, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    assert_int_equal(decompress(c, 1, 0, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    /* no frame at all */
    assert_int_equal(decompress(c, 0, 0, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    /* whole is fine */
    assert_int_equal(decompress(c, clen, 0, NULL, NULL, &err), EDR_OK);
    free(c);
    free(buf);
}

static void
test_concatenated(void **state)
{
    struct edr_err err;
    uint8_t a[1000], b[5000], *ca, *cb, *both, *d = NULL;
    size_t la, lb, dlen;
    (void)state;

    tu_text(a, sizeof(a), 1);
    tu_random(b, sizeof(b), 2);
    ca = compress(a, sizeof(a), 1, 0, EDR_ZSTD_SIZE_UNKNOWN, 0, &la);
    cb = compress(b, sizeof(b), 19, 0, sizeof(b), 0, &lb);
    both = malloc(la + lb);
    memcpy(both, ca, la);
    memcpy(both + la, cb, lb);
    assert_int_equal(decompress(both, la + lb, 7, &d, &dlen, &err), EDR_OK);
    assert_int_equal(dlen, sizeof(a) + sizeof(b));
    assert_memory_equal(d, a, sizeof(a));
    assert_memory_equal(d + sizeof(a), b, sizeof(b));
    /* second frame cut short */
    assert_int_equal(decompress(both, la + lb - 3, 1, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    free(d);
    free(both);
    free(ca);
    free(cb);
}

static void
test_cli_interop(void **state)
{
    char *dir = tu_tmpdir(), path[4200], cmd[9000];
    uint8_t *buf = malloc(2500000), *c, *back, *d = NULL;
    size_t clen, len, dlen;
    struct edr_err err;
    (void)state;

    if (system("zstd --version >/dev/null 2>&1") != 0)
        skip();
    tu_text(buf, 2500000, 5);
    /* ours -> zstd -d */
    c = compress(buf, 2500000, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    snprintf(path, sizeof(path), "%s/a.zst", dir);
    assert_int_equal(tu_write_file(path, c, clen), 0);
    snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s/a.zst' > '%s/a.out'", dir, dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/a.out", dir);
    back = tu_read_file(path, &len);
    assert_non_null(back);
    assert_int_equal(len, 2500000);
    assert_memory_equal(back, buf, len);
    free(back);
    /* zstd CLI checks the content checksum: corrupt it and the CLI must fail */
    c[clen - 2] ^= 0x10;
    snprintf(path, sizeof(path), "%s/a.zst", dir);
    assert_int_equal(tu_write_file(path, c, clen), 0);
    snprintf(cmd, sizeof(cmd), "zstd -q -d -c '%s/a.zst' > /dev/null 2>&1", dir);
    assert_int_not_equal(system(cmd), 0);
    free(c);

    /* zstd CLI -> ours, single and multi-threaded, with and without checksum */
    const char *opts[] = {"-3", "-19 --no-check", "-1 -T2", "--fast=3"};
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        snprintf(path, sizeof(path), "%s/b.in", dir);
        assert_int_equal(tu_write_file(path, buf, 700000), 0);
        snprintf(cmd, sizeof(cmd), "zstd -q -f %s -c '%s/b.in' > '%s/b.zst'", opts[i], dir, dir);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/b.zst", dir);
        c = tu_read_file(path, &clen);
        assert_non_null(c);
        assert_int_equal(decompress(c, clen, tu_splits[i], &d, &dlen, &err), EDR_OK);
        assert_int_equal(dlen, 700000);
        assert_memory_equal(d, buf, dlen);
        free(d);
        free(c);
    }
    free(buf);
    tu_rmrf(dir);
    free(dir);
}

/* number of zstd frames in c (-1 if it does not parse) */
static int
count_frames(const uint8_t *c, size_t clen)
{
    int n = 0;

    while (clen > 0) {
        size_t f = ZSTD_findFrameCompressedSize(c, clen);
        if (ZSTD_isError(f))
            return -1;
        c += f;
        clen -= f;
        n++;
    }
    return n;
}

#define BIG (20u << 20)

static void
test_frames(void **state)
{
    uint8_t *buf = malloc(BIG), *c;
    size_t clen;
    (void)state;

    /* unpledged: a frame per EDR_ZSTD_FRAME_SIZE bytes, none empty */
    tu_text(buf, BIG, 9);
    c = compress(buf, BIG, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    assert_int_equal(count_frames(c, clen), BIG / EDR_ZSTD_FRAME_SIZE);
    free(c);
    c = compress(buf, EDR_ZSTD_FRAME_SIZE + 1, 3, 0, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    assert_int_equal(count_frames(c, clen), 2);
    free(c);
    /* pledged: one frame */
    c = compress(buf, BIG, 3, 2, BIG, 0, &clen);
    assert_int_equal(count_frames(c, clen), 1);
    free(c);
    free(buf);
}

static void
test_mt_many_frames(void **state)
{
    uint8_t *buf = malloc(BIG), *c, *d = NULL;
    size_t clen, dlen;
    struct edr_err err;
    (void)state;

    tu_text(buf, BIG / 2, 3);
    tu_random(buf + BIG / 2, BIG / 2, 4);
    c = compress(buf, BIG, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    for (int w = 1; w <= 3; w++) {
        g_workers = w;
        assert_int_equal(decompress(c, clen, w == 2 ? 65536 : 0, &d, &dlen, &err), EDR_OK);
        assert_int_equal(dlen, BIG);
        assert_memory_equal(d, buf, BIG);
        free(d);
    }
    g_workers = 0;
    free(c);
    free(buf);
}

static void
test_mt_big_frame(void **state)
{
    uint8_t *buf = malloc(BIG), *c, *both, *d = NULL;
    size_t clen, dlen;
    struct edr_err err;
    (void)state;

    /* one frame of 20 MiB that does not compress: beyond what the parallel
     * decompressor buffers, so the rest goes sequentially; then small
     * frames after it still come out in order */
    tu_random(buf, BIG, 11);
    c = compress(buf, BIG, 1, 0, BIG, 0, &clen);
    assert_true(clen > (16u << 20));
    both = malloc(clen * 2);
    memcpy(both, c, clen);
    memcpy(both + clen, c, clen);
    g_workers = 2;
    assert_int_equal(decompress(both, 2 * clen, 0, &d, &dlen, &err), EDR_OK);
    assert_int_equal(dlen, 2 * (size_t)BIG);
    assert_memory_equal(d, buf, BIG);
    assert_memory_equal(d + BIG, buf, BIG);
    free(d);
    /* truncated inside the big frame */
    assert_int_equal(decompress(c, clen - 5, 0, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    g_workers = 0;
    free(both);
    free(c);
    free(buf);
}

static void
test_mt_damaged_frame(void **state)
{
    uint8_t *buf = malloc(BIG), *c;
    size_t clen, off = 0;
    struct edr_err err;
    (void)state;

    tu_text(buf, BIG, 5);
    c = compress(buf, BIG, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    /* the last byte of the third frame: its content checksum */
    for (int i = 0; i < 3; i++)
        off += ZSTD_findFrameCompressedSize(c + off, clen - off);
    c[off - 1] ^= 0x40;
    for (int w = 1; w <= 3; w++) {
        g_workers = w;
        assert_int_equal(decompress(c, clen, 0, NULL, NULL, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "zstd: Restored data doesn't match checksum");
    }
    g_workers = 0;
    free(c);
    free(buf);
}

static void
test_mt_sink_fails(void **state)
{
    uint8_t *buf = malloc(BIG), *c;
    size_t clen;
    struct edr_err err;
    struct edr_stream *mem = NULL, *zd = NULL;
    (void)state;

    tu_text(buf, BIG, 6);
    c = compress(buf, BIG, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    assert_int_equal(edr_stream_mem_new(5u << 20, "small", &mem, &err), EDR_OK);
    assert_int_equal(edr_stream_zstd_decompress_mt_new(mem, 2, &zd, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(zd, c, clen, 0, 1, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'small' is larger than 5242880 bytes");
    edr_stream_free(zd);
    edr_stream_free(mem);
    free(c);
    free(buf);
}

static void
test_mt_abort(void **state)
{
    uint8_t *buf = malloc(BIG), *c;
    size_t clen;
    struct edr_err err;
    (void)state;

    tu_text(buf, BIG, 7);
    c = compress(buf, BIG, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, 0, &clen);
    /* stopped at several points without finish: no hang, nothing leaks */
    for (size_t cut = 1; cut < clen; cut += clen / 7) {
        struct edr_stream *mem = NULL, *zd = NULL;
        assert_int_equal(edr_stream_mem_new(SIZE_MAX, "d", &mem, &err), EDR_OK);
        assert_int_equal(edr_stream_zstd_decompress_mt_new(mem, 3, &zd, &err), EDR_OK);
        assert_int_equal(tu_feed(zd, c, cut, 0, cut, &err), EDR_OK);
        edr_stream_free(zd);
        edr_stream_free(mem);
    }
    assert_int_equal(edr_stream_zstd_decompress_mt_new(NULL, 0, &(struct edr_stream *){NULL}, &err),
                     EDR_E_USAGE);
    free(c);
    free(buf);
}

/* the sequential tests again, with the parallel decompressor */
static int
setup_mt(void **state)
{
    (void)state;
    g_workers = 2;
    return 0;
}

static int
setup_mt1(void **state)
{
    (void)state;
    g_workers = 1;
    return 0;
}

static int
teardown_seq(void **state)
{
    (void)state;
    g_workers = 0;
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_pledged_mismatch),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_concatenated),
        cmocka_unit_test(test_cli_interop),
        cmocka_unit_test(test_frames),
        cmocka_unit_test_setup_teardown(test_roundtrip, setup_mt, teardown_seq),
        cmocka_unit_test_setup_teardown(test_corrupt, setup_mt, teardown_seq),
        cmocka_unit_test_setup_teardown(test_concatenated, setup_mt1, teardown_seq),
        cmocka_unit_test_setup_teardown(test_cli_interop, setup_mt, teardown_seq),
        cmocka_unit_test(test_mt_many_frames),
        cmocka_unit_test(test_mt_big_frame),
        cmocka_unit_test(test_mt_damaged_frame),
        cmocka_unit_test(test_mt_sink_fails),
        cmocka_unit_test(test_mt_abort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
