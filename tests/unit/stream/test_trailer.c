/*
 * Unit tests of the etcd snapshot trailer check: random images with their
 * correct sha256 trailer, a wrong trailer and wrong data (exact messages),
 * inputs shorter than and exactly as long as a trailer, odd write sizes down
 * to single bytes, and the bytes passed on to next unchanged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/basic.h"
#include "stream/trailer.h"
#include "../support.h"

/* Piece sizes: single bytes, odd sizes around the trailer length, pages, random. */
static const size_t splits[] = {1, 7, 31, 32, 33, 4096, 65537, 0};
#define NSPLITS (sizeof(splits) / sizeof(splits[0]))

/* A random db of dblen bytes followed by its sha256; caller frees. */
static uint8_t *
make_image(size_t dblen, uint64_t seed)
{
    uint8_t *b = malloc(dblen + EDR_SHA256_LEN);

    assert_non_null(b);
    tu_random(b, dblen, seed);
    edr_sha256_buf(b, dblen, b + dblen);
    return b;
}

/* Runs buf through trailer -> sha256 -> mem; returns the finish code. */
static edr_rc
run(const uint8_t *buf, size_t len, size_t split, int required, struct edr_trailer_result *res,
    int check_passthrough, struct edr_err *err)
{
    struct edr_stream *mem = NULL, *sha = NULL, *tr = NULL;
    edr_rc rc;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "mem", &mem, err), EDR_OK);
    assert_int_equal(edr_stream_sha256_new(mem, &sha, err), EDR_OK);
    assert_int_equal(edr_stream_trailer_new(sha, "snap.db", required, &tr, err), EDR_OK);
    rc = tu_feed(tr, buf, len, split, split + 3, err);
    assert_int_equal(rc, EDR_OK); /* errors come at finish only */
    if (check_passthrough) {
        size_t got_len;
        const uint8_t *got = edr_stream_mem_data(mem, &got_len);
        assert_int_equal(got_len, len);
        if (len > 0)
            assert_memory_equal(got, buf, len);
    }
    rc = edr_stream_finish(tr, err);
    edr_stream_trailer_result(tr, res);
    if (rc == EDR_OK) {
        /* next was finished and saw every byte */
        uint8_t want[EDR_SHA256_LEN];
        const uint8_t *d = edr_stream_sha256_digest(sha);
        assert_non_null(d);
        edr_sha256_buf(buf, len, want);
        assert_memory_equal(d, want, EDR_SHA256_LEN);
    } else {
        /* a failed check does not finish next */
        assert_null(edr_stream_sha256_digest(sha));
    }
    edr_stream_free(tr);
    edr_stream_free(sha);
    edr_stream_free(mem);
    return rc;
}

static void
test_correct(void **state)
{
    static const size_t sizes[] = {0, 1, 31, 32, 33, 63, 64, 4096, 100003, 300000};
    (void)state;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *img = make_image(sizes[i], i + 1), want[EDR_SHA256_LEN];
        edr_sha256_buf(img, sizes[i], want);
        for (size_t sp = 0; sp < NSPLITS; sp++) {
            struct edr_trailer_result res;
            struct edr_err err;
            memset(&res, 0xAA, sizeof(res));
            edr_err_clear(&err);
            assert_int_equal(run(img, sizes[i] + 32, splits[sp], 1, &res, 1, &err), EDR_OK);
            assert_int_equal(res.match, 1);
            assert_int_equal(res.db_size, sizes[i]);
            assert_memory_equal(res.sha256, want, EDR_SHA256_LEN);
            assert_memory_equal(res.trailer, img + sizes[i], EDR_SHA256_LEN);
            assert_string_equal(err.msg, "");
        }
        free(img);
    }
}

static void
expect_mismatch_msg(const struct edr_trailer_result *res, const struct edr_err *err)
{
    char a[17], b[17], want[256];

    edr_hex(res->trailer, 8, a);
    edr_hex(res->sha256, 8, b);
    snprintf(want, sizeof(want), "snap.db: sha256 mismatch (trailer %s..., data %s...)", a, b);
    assert_string_equal(err->msg, want);
    assert_int_equal(err->code, EDR_E_INTEGRITY);
}

static void
test_wrong_trailer(void **state)
{
    static const size_t sizes[] = {0, 1, 33, 65536, 200001};
    (void)state;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i] + 32;
        uint8_t *img = make_image(sizes[i], i + 100), want[EDR_SHA256_LEN];
        edr_sha256_buf(img, sizes[i], want);
        for (size_t sp = 0; sp < NSPLITS; sp++) {
            struct edr_trailer_result res;
            struct edr_err err;
            /* last byte of the trailer, first byte of the trailer */
            img[len - 1] ^= 0x01;
            assert_int_equal(run(img, len, splits[sp], 1, &res, 1, &err), EDR_E_INTEGRITY);
            assert_int_equal(res.match, 0);
            assert_int_equal(res.db_size, sizes[i]);
            assert_memory_equal(res.sha256, want, EDR_SHA256_LEN);
            assert_memory_equal(res.trailer, img + sizes[i], EDR_SHA256_LEN);
            expect_mismatch_msg(&res, &err);
            img[len - 1] ^= 0x01;
            img[sizes[i]] ^= 0x80;
            assert_int_equal(run(img, len, splits[sp], 1, &res, 0, &err), EDR_E_INTEGRITY);
            expect_mismatch_msg(&res, &err);
            img[sizes[i]] ^= 0x80;
            /* not required: finish succeeds, the result tells */
            img[sizes[i] + 5] ^= 0x10;
            assert_int_equal(run(img, len, splits[sp], 0, &res, 0, &err), EDR_OK);
            assert_int_equal(res.match, 0);
            assert_int_equal(res.db_size, sizes[i]);
            img[sizes[i] + 5] ^= 0x10;
        }
        free(img);
    }
}

static void
test_wrong_data(void **state)
{
    size_t dblen = 5000;
    uint8_t *img = make_image(dblen, 7);
    struct edr_trailer_result res;
    struct edr_err err;
    (void)state;

    /* one flipped bit anywhere in the db is caught */
    for (size_t pos = 0; pos < dblen; pos += 997) {
        img[pos] ^= 0x04;
        assert_int_equal(run(img, dblen + 32, 1, 1, &res, 1, &err), EDR_E_INTEGRITY);
        expect_mismatch_msg(&res, &err);
        assert_memory_equal(res.trailer, img + dblen, EDR_SHA256_LEN);
        img[pos] ^= 0x04;
    }
    /* the exact text for a known input: empty db, zero trailer */
    {
        uint8_t zeros[32] = {0};
        assert_int_equal(run(zeros, 32, 5, 1, &res, 1, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "snap.db: sha256 mismatch (trailer 0000000000000000..., "
                                     "data e3b0c44298fc1c14...)");
    }
    free(img);
}

static void
test_short(void **state)
{
    uint8_t buf[32];
    (void)state;

    tu_random(buf, sizeof(buf), 9);
    for (size_t len = 0; len < 32; len++) {
        for (size_t sp = 0; sp < NSPLITS; sp++) {
            struct edr_trailer_result res;
            struct edr_err err;
            assert_int_equal(run(buf, len, splits[sp], 1, &res, 1, &err), EDR_E_INTEGRITY);
            assert_string_equal(err.msg, "snap.db: too short for an etcd snapshot");
            assert_int_equal(res.match, 0);
            assert_int_equal(res.db_size, 0);
            /* not required: fine, no match */
            assert_int_equal(run(buf, len, splits[sp], 0, &res, 1, &err), EDR_OK);
            assert_int_equal(res.match, 0);
            assert_int_equal(res.db_size, 0);
        }
    }
}

static void
test_exactly_32(void **state)
{
    uint8_t buf[32];
    struct edr_trailer_result res;
    struct edr_err err;
    (void)state;

    /* the sha256 of an empty db is a valid (if useless) snapshot */
    edr_sha256_buf("", 0, buf);
    for (size_t sp = 0; sp < NSPLITS; sp++) {
        assert_int_equal(run(buf, 32, splits[sp], 1, &res, 1, &err), EDR_OK);
        assert_int_equal(res.match, 1);
        assert_int_equal(res.db_size, 0);
        assert_memory_equal(res.trailer, buf, 32);
    }
    buf[31] ^= 1;
    assert_int_equal(run(buf, 32, 1, 1, &res, 1, &err), EDR_E_INTEGRITY);
    expect_mismatch_msg(&res, &err);
}

/* A trailer at the end of every odd write pattern: writes whose boundaries
 * fall in every position relative to the last 32 bytes. */
static void
test_boundaries(void **state)
{
    size_t dblen = 200;
    uint8_t *img = make_image(dblen, 11);
    (void)state;

    for (size_t first = 1; first < dblen + 32; first++) {
        struct edr_stream *tr = NULL;
        struct edr_trailer_result res;
        struct edr_err err;
        assert_int_equal(edr_stream_trailer_new(NULL, "x", 1, &tr, &err), EDR_OK);
        /* first piece, then the rest in 13-byte pieces */
        assert_int_equal(edr_stream_write(tr, img, first, &err), EDR_OK);
        assert_int_equal(tu_feed(tr, img + first, dblen + 32 - first, 13, 0, &err), EDR_OK);
        assert_int_equal(edr_stream_finish(tr, &err), EDR_OK);
        edr_stream_trailer_result(tr, &res);
        assert_int_equal(res.match, 1);
        assert_int_equal(res.db_size, dblen);
        edr_stream_free(tr);
    }
    edr_stream_free(NULL);
    free(img);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_correct),    cmocka_unit_test(test_wrong_trailer),
        cmocka_unit_test(test_wrong_data), cmocka_unit_test(test_short),
        cmocka_unit_test(test_exactly_32), cmocka_unit_test(test_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
