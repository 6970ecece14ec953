/*
 * Unit tests of the stream capture of src/bolt/capture.c (what verify checks
 * on): on every database of shapes.h, whole and with bytes flipped all over,
 * and in several write patterns, its status must be the file's
 * (tests/fuzz/scan_diff.c); it passes every byte on unchanged; and an image
 * of overlapping runs built to make it work quadratically must make it give
 * up (the file check, linear, takes over) instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "common/hash.h"
#include "scan_diff.h"
#include "stream/basic.h"
#include "../support.h"
#include "shapes.h"

static void
no_disagreement(const uint8_t *img, size_t len, size_t step, int want_redo)
{
    char why[512] = "";
    int redo = -1;

    if (scan_diff(img, len, step, &redo, why, sizeof(why)) != 0)
        fail_msg("capture and file disagree (writes of %zu): %s", step, why);
    if (want_redo >= 0 && redo != want_redo)
        fail_msg("writes of %zu: capture %s the file", step, redo ? "needed" : "did not need");
}

static void
test_capture(void **state)
{
    static const size_t steps[] = {0, 1, 4096, 65537};
    (void)state;

    for (size_t i = 0; i < n_specs; i++) {
        size_t len;
        uint8_t *img;
        build(&specs[i]);
        img = tu_read_file(tu_path, &len);
        assert_non_null(img);
        for (size_t j = 0; j < sizeof(steps) / sizeof(steps[0]); j++)
            no_disagreement(img, len, steps[j], 0); /* whole: the capture takes it */
        /* damaged: a byte flipped in each of up to 24 pages, in turn (the
         * capture may ask for the file, but never disagrees) */
        for (size_t k = 0; k < 24; k++) {
            size_t off = (len / 24) * k + (k * 977) % specs[i].ps;
            img[off] ^= 0x5a;
            no_disagreement(img, len, 4096, -1);
            img[off] ^= 0x5a;
        }
        free(img);
    }
}

static void
put_meta(uint8_t *m, uint64_t id, uint32_t ps, uint64_t root, uint64_t pgid, uint64_t txid)
{
    uint64_t h = 0xcbf29ce484222325ull;

    memset(m, 0, ps);
    for (int i = 0; i < 8; i++)
        m[i] = (uint8_t)(id >> (8 * i));
    m[8] = 0x04;                                     /* meta */
    memcpy(m + 16, "\xed\xda\x0c\xed\x02\0\0\0", 8); /* magic, version 2 */
    for (int i = 0; i < 4; i++)
        m[24 + i] = (uint8_t)(ps >> (8 * i));
    for (int i = 0; i < 8; i++) {
        m[32 + i] = (uint8_t)(root >> (8 * i));
        m[48 + i] = 0xff; /* no freelist */
        m[56 + i] = (uint8_t)(pgid >> (8 * i));
        m[64 + i] = (uint8_t)(txid >> (8 * i));
    }
    for (int i = 16; i < 72; i++) {
        h ^= m[i];
        h *= 0x100000001b3ull;
    }
    for (int i = 0; i < 8; i++)
        m[72 + i] = (uint8_t)(h >> (8 * i));
}

/* A capture passes every byte on to next unchanged, and keeps what a walk
 * needs (no leaf function: every leaf kept whole). */
static void
test_capture_passes_on(void **state)
{
    struct edr_stream *sha = NULL, *cap;
    struct edr_bolt *b = NULL;
    struct edr_err err;
    uint8_t *img, want[EDR_SHA256_LEN], trailer[32] = {0};
    size_t len;
    int incomplete = -1;
    (void)state;

    build(&specs[1]); /* overflow values */
    img = tu_read_file(tu_path, &len);
    assert_non_null(img);
    assert_int_equal(edr_stream_sha256_new(NULL, &sha, &err), EDR_OK);
    cap = edr_bolt_capture_new(sha, 32, (size_t)1 << 30, NULL, NULL);
    assert_non_null(cap);
    assert_int_equal(tu_feed(cap, img, len, 5000, 7, &err), EDR_OK);
    assert_int_equal(edr_stream_write(cap, trailer, sizeof(trailer), &err), EDR_OK);
    assert_int_equal(edr_stream_finish(cap, &err), EDR_OK);
    assert_non_null(edr_stream_sha256_digest(sha));
    /* the digest covers image and trailer: compare with a hash of both */
    {
        struct edr_sha256 h;
        assert_int_equal(edr_sha256_init(&h), 0);
        edr_sha256_update(&h, img, len);
        edr_sha256_update(&h, trailer, sizeof(trailer));
        edr_sha256_final(&h, want);
        edr_sha256_release(&h);
    }
    assert_memory_equal(edr_stream_sha256_digest(sha), want, EDR_SHA256_LEN);
    assert_int_equal(edr_bolt_open_capture(cap, "snapshot.db", &b, &incomplete, &err), EDR_OK);
    assert_int_equal(edr_bolt_walk_sum(b, 1, NULL, NULL, NULL, NULL, NULL, &err), EDR_OK);
    edr_bolt_close(b);
    edr_stream_free(cap);
    edr_stream_free(sha);
    free(img);
}

/* Every page a leaf header whose overflow reaches the end of the image: n
 * runs of n/2 pages on average. Taking each would read n^2/2 pages. */
static void
test_capture_overlap(void **state)
{
    enum { PS = 4096, N = 3000 };
    uint8_t *img = calloc(N + 1, PS), trailer[32] = {0};
    struct edr_stream *cap = edr_bolt_capture_new(NULL, 32, (size_t)1 << 40, NULL, NULL);
    struct edr_bolt *b = NULL;
    struct edr_err err;
    int incomplete = 0;
    (void)state;

    assert_non_null(img);
    assert_non_null(cap);
    put_meta(img, 0, PS, 2, N, 2);
    put_meta(img + PS, 1, PS, 2, N, 1);
    for (uint64_t i = 2; i < N; i++) {
        uint8_t *p = img + i * PS;
        uint32_t ovf = (uint32_t)(N - 1 - i);
        for (int k = 0; k < 8; k++)
            p[k] = (uint8_t)(i >> (8 * k));
        p[8] = 0x02; /* leaf, no elements */
        for (int k = 0; k < 4; k++)
            p[12 + k] = (uint8_t)(ovf >> (8 * k));
    }
    assert_int_equal(edr_stream_write(cap, img, (size_t)N * PS, &err), EDR_OK);
    assert_int_equal(edr_stream_write(cap, trailer, sizeof(trailer), &err), EDR_OK);
    assert_int_equal(edr_stream_finish(cap, &err), EDR_OK);
    assert_int_not_equal(edr_bolt_open_capture(cap, "snapshot.db", &b, &incomplete, &err), EDR_OK);
    assert_int_equal(incomplete, 1);
    assert_null(b);
    edr_stream_free(cap);
    free(img);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_capture_overlap),
        cmocka_unit_test(test_capture_passes_on),
    };
    return cmocka_run_group_tests(tests, tu_setup_file, tu_teardown_file);
}
