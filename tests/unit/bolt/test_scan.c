/*
 * Unit tests of the streaming bbolt scanner (src/bolt/scan.c). The
 * databases of shapes.h are fed in 1, 7, 4096-byte and random-sized writes;
 * revision, total_keys and key_revisions must equal what edr_mvcc_status and
 * a direct walk with the reader say, and the bytes must reach next
 * unchanged. Truncated, corrupted and garbage input must give valid=0 with a
 * message (or, for harmless corruption, still no crash).
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
#include "bolt/scan.h"
#include "common/hash.h"
#include "mvcc/mvcc.h"
#include "stream/basic.h"
#include "../support.h"
#include "shapes.h"

struct direct {
    uint64_t total, keyrevs;
    int64_t maxrev;
    int in_key;
};

static int
d_bucket(void *ud, const uint8_t *name, size_t len)
{
    struct direct *d = ud;

    d->in_key = len == 3 && memcmp(name, "key", 3) == 0;
    return 0;
}

static int
d_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct direct *d = ud;

    (void)v;
    (void)vl;
    d->total++;
    if (d->in_key) {
        int64_t r = 0;
        d->keyrevs++;
        assert_true(kl == 17 || kl == 18);
        for (int i = 0; i < 8; i++)
            r = r << 8 | k[i];
        if (r > d->maxrev)
            d->maxrev = r;
    }
    return 0;
}

struct expect {
    int64_t revision;
    uint64_t total_keys, key_revisions, size;
    uint32_t ps;
};

static void
reference(const struct spec *s, struct expect *e)
{
    struct edr_bolt *b = NULL;
    struct edr_mvcc_status st;
    struct edr_bolt_info info;
    struct direct d = {0, 0, 0, 0};
    struct edr_err err;

    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_status(b, &st, &err), EDR_OK);
    assert_int_equal(edr_bolt_walk(b, 0, d_bucket, d_kv, &d, NULL, &err), EDR_OK);
    edr_bolt_get_info(b, &info);
    /* the two references agree, and with the spec */
    assert_int_equal(st.total_keys, d.total);
    assert_int_equal(st.revision, d.maxrev);
    assert_int_equal(d.keyrevs, s->nrev);
    if (s->nrev > 0)
        assert_int_equal(d.maxrev, s->first_rev + (int64_t)s->nrev - 1);
    assert_int_equal(info.page_size, s->ps);
    e->revision = st.revision;
    e->total_keys = st.total_keys;
    e->key_revisions = d.keyrevs;
    e->size = st.total_size;
    e->ps = info.page_size;
    edr_mvcc_status_release(&st);
    edr_bolt_close(b);
}

/* ---------------------------------------------------------------- scanning */

/* Feeds buf[0..len) to a scanner in front of a sha256 observer. */
static void
scan(const uint8_t *buf, size_t len, size_t split, uint64_t seed, struct edr_bolt_scan_result *res)
{
    struct edr_stream *sha = NULL, *sc;
    struct edr_err err;
    uint8_t want[EDR_SHA256_LEN];

    assert_int_equal(edr_stream_sha256_new(NULL, &sha, &err), EDR_OK);
    sc = edr_bolt_scan_new(sha);
    assert_non_null(sc);
    assert_int_equal(tu_feed(sc, buf, len, split, seed, &err), EDR_OK);
    assert_int_equal(edr_stream_finish(sc, &err), EDR_OK);
    edr_bolt_scan_result(sc, res);
    /* asking twice gives the same answer */
    {
        struct edr_bolt_scan_result again;
        edr_bolt_scan_result(sc, &again);
        assert_memory_equal(&again, res, sizeof(again));
    }
    /* every byte went on unchanged */
    edr_sha256_buf(buf, len, want);
    assert_non_null(edr_stream_sha256_digest(sha));
    assert_memory_equal(edr_stream_sha256_digest(sha), want, EDR_SHA256_LEN);
    edr_stream_free(sc);
    edr_stream_free(sha);
}

static void
expect_result(const struct edr_bolt_scan_result *r, const struct expect *e)
{
    assert_string_equal(r->error, "");
    assert_int_equal(r->valid, 1);
    assert_int_equal(r->page_size, e->ps);
    assert_int_equal(r->size, e->size);
    assert_int_equal(r->revision, e->revision);
    assert_int_equal(r->total_keys, e->total_keys);
    assert_int_equal(r->key_revisions, e->key_revisions);
}

static void
test_specs(void **state)
{
    static const size_t splits[] = {1, 7, 4096, 0};
    (void)state;

    for (size_t i = 0; i < n_specs; i++) {
        struct expect e;
        uint8_t *buf;
        size_t len;
        build(&specs[i]);
        reference(&specs[i], &e);
        buf = tu_read_file(tu_path, &len);
        assert_non_null(buf);
        print_message("# %s: %zu bytes, %llu keys, revision %lld\n", specs[i].what, len,
                      (unsigned long long)e.total_keys, (long long)e.revision);
        for (size_t sp = 0; sp < sizeof(splits) / sizeof(splits[0]); sp++) {
            struct edr_bolt_scan_result r;
            for (uint64_t seed = 0; seed < (splits[sp] == 0 ? 3u : 1u); seed++) {
                memset(&r, 0x55, sizeof(r));
                scan(buf, len, splits[sp], seed, &r);
                expect_result(&r, &e);
            }
        }
        free(buf);
    }
}

/* The newest valid meta decides; a damaged newest meta falls back. */
static void
test_metas(void **state)
{
    const struct spec *s = &specs[1];
    struct edr_bolt_scan_result r;
    struct expect e;
    uint8_t *buf;
    size_t len;
    (void)state;

    build(s);
    reference(s, &e);
    buf = tu_read_file(tu_path, &len);
    assert_non_null(buf);
    /* meta 0 has txid 2: break its checksum */
    buf[16 + 56] ^= 1;
    scan(buf, len, 4096, 0, &r);
    expect_result(&r, &e);
    /* both broken */
    buf[s->ps + 16 + 56] ^= 1;
    scan(buf, len, 7, 0, &r);
    assert_int_equal(r.valid, 0);
    assert_string_equal(r.error, "page 0: no valid meta page");
    free(buf);
}

static void
test_truncated(void **state)
{
    (void)state;

    for (size_t i = 0; i < n_specs; i++) {
        const struct spec *s = &specs[i];
        size_t len, cuts[6];
        uint8_t *buf;
        build(s);
        buf = tu_read_file(tu_path, &len);
        assert_non_null(buf);
        cuts[0] = len - 1;
        cuts[1] = len - s->ps; /* the root bucket's page is written last */
        cuts[2] = len / 2;
        cuts[3] = s->ps + 1;
        cuts[4] = 100;
        cuts[5] = 0;
        for (size_t c = 0; c < 6; c++) {
            struct edr_bolt_scan_result r;
            scan(buf, cuts[c], c == 2 ? 0 : 7, c, &r);
            assert_int_equal(r.valid, 0);
            assert_true(strncmp(r.error, "page ", 5) == 0);
        }
        {
            struct edr_bolt_scan_result r;
            char want[64];
            scan(buf, len - 1, 4096, 0, &r);
            snprintf(want, sizeof(want), "page %zu: truncated image", len / s->ps - 1);
            assert_string_equal(r.error, want);
            scan(buf, 100, 1, 0, &r);
            assert_string_equal(r.error, "page 0: truncated image");
            scan(buf, 0, 1, 0, &r);
            assert_string_equal(r.error, "page 0: no valid meta page");
            assert_int_equal(r.revision, 0);
            assert_int_equal(r.total_keys, 0);
        }
        free(buf);
    }
}

static void
test_garbage(void **state)
{
    size_t len = 300000;
    uint8_t *buf = malloc(len);
    struct edr_bolt_scan_result r;
    (void)state;

    assert_non_null(buf);
    tu_random(buf, len, 99);
    scan(buf, len, 0, 1, &r);
    assert_int_equal(r.valid, 0);
    assert_string_equal(r.error, "page 0: invalid meta page");
    memset(buf, 0, len);
    scan(buf, len, 4096, 1, &r);
    assert_int_equal(r.valid, 0);
    assert_string_equal(r.error, "page 0: invalid meta page");
    /* a meta that claims an absurd page size */
    memset(buf, 0, len);
    buf[16] = 0xED;
    buf[17] = 0xDA;
    buf[18] = 0x0C;
    buf[19] = 0xED;
    buf[20] = 2;
    buf[24] = 0x00;
    buf[25] = 0x30; /* 12288: not a power of two */
    scan(buf, len, 1, 1, &r);
    assert_string_equal(r.error, "page 0: invalid meta page");
    free(buf);
}

static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* Corrupt page headers and elements of a real image: any answer but a crash
 * (the sanitizer build checks every access); a broken structure must not be
 * reported valid with different numbers than an intact copy of the pages it
 * reads, so only absence of crashes and a message when invalid are asserted. */
static void
test_corruption(void **state)
{
    const struct spec *s = &specs[1];
    uint8_t *orig, *buf;
    size_t len, npages;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    (void)state;

    build(s);
    orig = tu_read_file(tu_path, &len);
    assert_non_null(orig);
    buf = malloc(len);
    assert_non_null(buf);
    npages = len / s->ps;
    for (int it = 0; it < 300; it++) {
        struct edr_bolt_scan_result r;
        size_t pg = 2 + (size_t)(rnd(&x) % (npages - 2));
        uint8_t *p;
        memcpy(buf, orig, len);
        p = buf + pg * s->ps;
        switch (it % 6) {
        case 0: /* element count */
            p[10] = 0xFF;
            p[11] = 0xFF;
            break;
        case 1: /* overflow count */
            p[12] = (uint8_t)rnd(&x);
            p[15] = (uint8_t)(rnd(&x) & 1);
            break;
        case 2: /* flags */
            p[8] = (uint8_t)rnd(&x);
            break;
        case 3: /* first element's pos / ksize / vsize */
            p[16 + 4 + (rnd(&x) % 12)] = 0xFF;
            break;
        case 4: /* a branch child pointer */
            p[16 + 8 + 3] = (uint8_t)rnd(&x);
            break;
        default: /* random bytes anywhere past the metas */
            for (int k = 0; k < 16; k++)
                buf[2 * s->ps + rnd(&x) % (len - 2 * s->ps)] = (uint8_t)rnd(&x);
        }
        scan(buf, len, it % 3 == 0 ? 4096 : 0, (uint64_t)it, &r);
        if (!r.valid)
            assert_true(strncmp(r.error, "page ", 5) == 0);
    }
    free(buf);
    free(orig);
}

/* Nothing written at all, and a result asked before finish. */
static void
test_empty_and_early(void **state)
{
    struct edr_stream *sc = edr_bolt_scan_new(NULL);
    struct edr_bolt_scan_result r;
    struct edr_err err;
    (void)state;

    assert_non_null(sc);
    edr_bolt_scan_result(sc, &r);
    assert_int_equal(r.valid, 0);
    assert_string_equal(r.error, "page 0: no valid meta page");
    assert_int_equal(edr_stream_finish(sc, &err), EDR_OK);
    edr_stream_free(sc);
    edr_stream_free(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_specs),      cmocka_unit_test(test_metas),
        cmocka_unit_test(test_truncated),  cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_corruption), cmocka_unit_test(test_empty_and_early),
    };
    return cmocka_run_group_tests(tests, tu_setup_file, tu_teardown_file);
}
