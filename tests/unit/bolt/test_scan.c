/*
 * Unit tests of the streaming bbolt scanner (src/bolt/scan.c). Databases
 * made with the bolt writer (an etcd-like `key` bucket with 17-byte revision
 * keys and 18-byte tombstones, `meta`, inline small buckets, values spanning
 * overflow pages, multi-level branch trees, many buckets so the root bucket
 * itself needs branches, 4 KiB and 16 KiB pages) are fed in 1, 7, 4096-byte
 * and random-sized writes; revision, total_keys and key_revisions must equal
 * what edr_mvcc_status and a direct walk with the reader say, and the bytes
 * must reach next unchanged. Truncated, corrupted and garbage input must give
 * valid=0 with a message (or, for harmless corruption, still no crash).
 *
 * The stream capture of src/bolt/capture.c (what verify checks on): on every
 * database above, whole and with bytes flipped all over, and in several write
 * patterns, its status must be the file's (tests/fuzz/scan_diff.c); and an
 * image of overlapping runs built to make it work quadratically must make it
 * give up (the file check, linear, takes over) instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "bolt/scan.h"
#include "common/hash.h"
#include "scan_diff.h"
#include "mvcc/mvcc.h"
#include "stream/basic.h"
#include "../support.h"

/* ---------------------------------------------------------------- building */

struct spec {
    const char *what;
    uint32_t ps;
    unsigned nrev;      /* revisions in the key bucket (0 = no key bucket) */
    unsigned big_every; /* every Nth value is big_size bytes (0 = none) */
    size_t big_size;
    unsigned tomb_every; /* every Nth revision is a tombstone */
    unsigned nextra;     /* small buckets "a0000".. before the etcd ones */
    int64_t first_rev;
};

static const struct spec specs[] = {
    {"inline key bucket", 4096, 6, 0, 0, 3, 0, 2},
    {"overflow values", 4096, 1500, 97, 20000, 7, 0, 2},
    {"multi-level branches", 4096, 40000, 0, 0, 11, 0, 1000},
    {"root bucket with branches", 4096, 300, 0, 0, 5, 600, 2},
    {"16 KiB pages", 16384, 20000, 500, 100000, 13, 40, 5},
    {"no key bucket", 4096, 0, 0, 0, 0, 3, 0},
    {"empty key bucket", 16384, 0, 0, 0, 0, 0, -1},
};

static void
be64put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static void
put(struct edr_bolt_writer *w, const void *k, size_t kl, const void *v, size_t vl)
{
    struct edr_err err;

    assert_int_equal(edr_bolt_writer_put(w, k, kl, v, vl, &err), EDR_OK);
}

static void
bucket(struct edr_bolt_writer *w, const char *name)
{
    struct edr_err err;

    assert_int_equal(edr_bolt_writer_bucket(w, name, strlen(name), &err), EDR_OK);
}

static void
build(const struct spec *s)
{
    struct edr_bolt_writer *w = NULL;
    struct edr_err err;
    uint8_t *val = malloc(s->big_size + 256), *enc = malloc(s->big_size + 512);
    uint8_t ci[8];

    assert_non_null(val);
    assert_non_null(enc);
    assert_int_equal(edr_bolt_writer_new(tu_path, s->ps, &w, &err), EDR_OK);
    for (unsigned b = 0; b < s->nextra; b++) {
        char name[16];
        snprintf(name, sizeof(name), "a%04u", b);
        bucket(w, name);
        for (unsigned k = 0; k < b % 4; k++) {
            char key[8];
            snprintf(key, sizeof(key), "k%u", k);
            put(w, key, strlen(key), name, strlen(name));
        }
    }
    bucket(w, "cluster");
    put(w, "clusterVersion", 14, "3.4.0", 5);
    if (s->nrev > 0 || s->first_rev < 0) {
        bucket(w, "key");
        for (unsigned i = 0; i < s->nrev; i++) {
            uint8_t k[18];
            struct edr_kv kv;
            char uk[32];
            int tomb = s->tomb_every && i % s->tomb_every == s->tomb_every - 1;
            size_t vl = s->big_every && i % s->big_every == 1 ? s->big_size : i % 200;
            size_t n;
            be64put(k, (uint64_t)s->first_rev + i);
            k[8] = '_';
            be64put(k + 9, 0);
            k[17] = 't';
            snprintf(uk, sizeof(uk), "/registry/k%05u", i % 1000);
            memset(&kv, 0, sizeof(kv));
            kv.key = (const uint8_t *)uk;
            kv.key_len = strlen(uk);
            if (!tomb) {
                tu_random(val, vl, i);
                kv.value = val;
                kv.value_len = vl;
                kv.create_revision = s->first_rev;
                kv.mod_revision = s->first_rev + i;
                kv.version = 1;
            }
            n = edr_mvcc_kv_encode(&kv, enc, s->big_size + 512);
            assert_true(n <= s->big_size + 512);
            put(w, k, tomb ? 18 : 17, enc, n);
        }
    }
    bucket(w, "lease");
    bucket(w, "meta");
    be64put(ci, 12345);
    put(w, "consistent_index", 16, ci, 8);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    free(val);
    free(enc);
}

/* ---------------------------------------------------------------- reference */

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

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
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

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
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

/* ---------------------------------------------------------------- capture */

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

    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
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
        cmocka_unit_test(test_specs),
        cmocka_unit_test(test_metas),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_corruption),
        cmocka_unit_test(test_empty_and_early),
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_capture_overlap),
        cmocka_unit_test(test_capture_passes_on),
    };
    return cmocka_run_group_tests(tests, tu_setup_file, tu_teardown_file);
}
