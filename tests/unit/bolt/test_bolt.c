/*
 * Unit tests of the bbolt reader and writer: hand-built images (inline
 * buckets, branches, overflow pages), one corruption per check with its exact
 * message, random mutations that must give errors and never crash, and
 * writer -> reader round trips with random data and several page sizes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "common/bytes.h"
#include "../support.h"

/* ---- image building ---- */

struct img {
    uint8_t *b;
    size_t ps;
    size_t npages;
};

struct ekv {
    uint32_t flags;
    const char *k;
    size_t kl;
    const uint8_t *v;
    size_t vl;
};

static void
img_init(struct img *m, size_t ps, size_t npages)
{
    m->ps = ps;
    m->npages = npages;
    m->b = calloc(npages + 1, ps); /* room for a trailer */
    assert_non_null(m->b);
}

static uint8_t *
pg(struct img *m, uint64_t id)
{
    return m->b + id * m->ps;
}

static void
hdr(uint8_t *p, uint64_t id, uint16_t flags, uint16_t count, uint32_t ovf)
{
    edr_put_le64(p, id);
    edr_put_le16(p + 8, flags);
    edr_put_le16(p + 10, count);
    edr_put_le32(p + 12, ovf);
}

static void
meta_sum(uint8_t *p)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 16; i < 72; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    edr_put_le64(p + 72, h);
}

static void
meta(struct img *m, uint64_t id, uint64_t root, uint64_t fl, uint64_t pgid, uint64_t txid)
{
    uint8_t *p = pg(m, id);
    memset(p, 0, m->ps);
    hdr(p, id, 0x04, 0, 0);
    edr_put_le32(p + 16, 0xED0CDAED);
    edr_put_le32(p + 20, 2);
    edr_put_le32(p + 24, (uint32_t)m->ps);
    edr_put_le64(p + 32, root);
    edr_put_le64(p + 48, fl);
    edr_put_le64(p + 56, pgid);
    edr_put_le64(p + 64, txid);
    meta_sum(p);
}

/* Leaf page image (id, flags 0x02) at p; returns its size. */
static size_t
leaf(uint8_t *p, uint64_t id, const struct ekv *e, unsigned n, uint32_t ovf)
{
    size_t data = 16 + 16 * (size_t)n;
    hdr(p, id, 0x02, (uint16_t)n, ovf);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *el = p + 16 + 16 * i;
        edr_put_le32(el, e[i].flags);
        edr_put_le32(el + 4, (uint32_t)(data - (16 + 16 * i)));
        edr_put_le32(el + 8, (uint32_t)e[i].kl);
        edr_put_le32(el + 12, (uint32_t)e[i].vl);
        memcpy(p + data, e[i].k, e[i].kl);
        if (e[i].vl)
            memcpy(p + data + e[i].kl, e[i].v, e[i].vl);
        data += e[i].kl + e[i].vl;
    }
    return data;
}

static void
branch(uint8_t *p, uint64_t id, const char **keys, const uint64_t *child, unsigned n)
{
    size_t data = 16 + 16 * (size_t)n;
    hdr(p, id, 0x01, (uint16_t)n, 0);
    for (unsigned i = 0; i < n; i++) {
        uint8_t *el = p + 16 + 16 * i;
        size_t kl = strlen(keys[i]);
        edr_put_le32(el, (uint32_t)(data - (16 + 16 * i)));
        edr_put_le32(el + 4, (uint32_t)kl);
        edr_put_le64(el + 8, child[i]);
        memcpy(p + data, keys[i], kl);
        data += kl;
    }
}

static void
img_write(const struct img *m, size_t len)
{
    FILE *f = fopen(tu_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(m->b, 1, len, f), len);
    fclose(f);
}

static uint8_t bigval[1500];

/*
 * The reference image, page size 1024, 8 pages, no freelist:
 *   2: root leaf: "a" inline {k1=v1, k2=""}, "b" -> 3, "c" inline empty
 *   3: branch ["k", "m"] -> 4, 6
 *   4: leaf with overflow 1: {k=bigval(1500)}
 *   6: leaf {m=1, n=2}
 *   7: unreachable (free, since no freelist is persisted)
 */
static void
ref_image(struct img *m)
{
    uint8_t inl_a[256], inl_c[32], bhdr[16];
    struct ekv a[] = {{0, "k1", 2, (const uint8_t *)"v1", 2}, {0, "k2", 2, NULL, 0}};
    struct ekv root[3];
    struct ekv l4[] = {{0, "k", 1, bigval, sizeof(bigval)}};
    struct ekv l6[] = {{0, "m", 1, (const uint8_t *)"1", 1}, {0, "n", 1, (const uint8_t *)"2", 1}};
    const char *bk[] = {"k", "m"};
    uint64_t bc[] = {4, 6};
    size_t al, cl;

    for (size_t i = 0; i < sizeof(bigval); i++)
        bigval[i] = (uint8_t)(i * 7 + 3);
    img_init(m, 1024, 8);
    memset(inl_a, 0, sizeof(inl_a));
    al = 16 + leaf(inl_a + 16, 0, a, 2, 0);
    memset(inl_c, 0, sizeof(inl_c));
    cl = 16 + leaf(inl_c + 16, 0, NULL, 0, 0);
    memset(bhdr, 0, sizeof(bhdr));
    edr_put_le64(bhdr, 3);
    root[0] = (struct ekv){1, "a", 1, inl_a, al};
    root[1] = (struct ekv){1, "b", 1, bhdr, 16};
    root[2] = (struct ekv){1, "c", 1, inl_c, cl};
    leaf(pg(m, 2), 2, root, 3, 0);
    branch(pg(m, 3), 3, bk, bc, 2);
    leaf(pg(m, 4), 4, l4, 1, 1);
    leaf(pg(m, 6), 6, l6, 2, 0);
    hdr(pg(m, 7), 7, 0x02, 0, 0);
    meta(m, 0, 2, UINT64_MAX, 8, 4);
    meta(m, 1, 2, UINT64_MAX, 8, 3);
}

/* ---- collecting callbacks ---- */

struct coll {
    char out[4096];
    size_t vbytes;
    int stop_after;
    int n;
};

static int
c_bucket(void *ud, const uint8_t *name, size_t len)
{
    struct coll *c = ud;
    size_t o = strlen(c->out);
    snprintf(c->out + o, sizeof(c->out) - o, "[%.*s]", (int)len, (const char *)name);
    return ++c->n == c->stop_after ? 1 : 0;
}

static int
c_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct coll *c = ud;
    size_t o = strlen(c->out);
    if (vl <= 8)
        snprintf(c->out + o, sizeof(c->out) - o, "%.*s=%.*s;", (int)kl, (const char *)k, (int)vl,
                 (const char *)v);
    else
        snprintf(c->out + o, sizeof(c->out) - o, "%.*s=<%zu>;", (int)kl, (const char *)k, vl);
    c->vbytes += vl;
    if (vl == sizeof(bigval))
        assert_memory_equal(v, bigval, vl);
    return ++c->n == c->stop_after ? 1 : 0;
}

static void
test_reference_image(void **state)
{
    struct img m;
    struct edr_bolt *b;
    struct edr_bolt_info info;
    struct edr_err err;
    struct coll c;
    uint64_t used = 0;
    uint8_t *v;
    size_t vl;

    (void)state;
    ref_image(&m);
    img_write(&m, 8 * 1024 + 32); /* with a 32-byte trailer, as etcd's snapshots */
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    edr_bolt_get_info(b, &info);
    assert_int_equal(info.page_size, 1024);
    assert_int_equal(info.pgid, 8);
    assert_int_equal(info.txid, 4);
    assert_int_equal(info.meta_used, 0);
    assert_int_equal(info.size, 8192);
    assert_int_equal(info.file_size, 8192 + 32);
    assert_true(info.freelist == UINT64_MAX);
    assert_int_equal(edr_bolt_check(b, &used, &err), EDR_OK);
    assert_int_equal(used, 7); /* 0,1,2,3,4,5,6 */

    memset(&c, 0, sizeof(c));
    assert_int_equal(edr_bolt_foreach_bucket(b, c_bucket, &c, &err), EDR_OK);
    assert_string_equal(c.out, "[a][b][c]");
    memset(&c, 0, sizeof(c));
    assert_int_equal(edr_bolt_walk(b, 1, c_bucket, c_kv, &c, &used, &err), EDR_OK);
    assert_string_equal(c.out, "[a]k1=v1;k2=;[b]k=<1500>;m=1;n=2;[c]");
    memset(&c, 0, sizeof(c));
    assert_int_equal(edr_bolt_foreach(b, "b", 1, c_kv, &c, &err), EDR_OK);
    assert_string_equal(c.out, "k=<1500>;m=1;n=2;");
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(edr_bolt_foreach(b, "b", 1, c_kv, &c, &err), EDR_OK);
    assert_string_equal(c.out, "k=<1500>;m=1;");
    memset(&c, 0, sizeof(c));
    assert_int_equal(edr_bolt_foreach(b, "a", 1, c_kv, &c, &err), EDR_OK);
    assert_string_equal(c.out, "k1=v1;k2=;");
    memset(&c, 0, sizeof(c));
    assert_int_equal(edr_bolt_foreach(b, "c", 1, c_kv, &c, &err), EDR_OK);
    assert_string_equal(c.out, "");
    assert_int_equal(edr_bolt_foreach(b, "zz", 2, c_kv, &c, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "bucket 'zz' not found");

    assert_int_equal(edr_bolt_get(b, "b", 1, "k", 1, &v, &vl, &err), EDR_OK);
    assert_int_equal(vl, sizeof(bigval));
    assert_memory_equal(v, bigval, vl);
    free(v);
    assert_int_equal(edr_bolt_get(b, "b", 1, "n", 1, &v, &vl, &err), EDR_OK);
    assert_int_equal(vl, 1);
    assert_int_equal(v[0], '2');
    free(v);
    assert_int_equal(edr_bolt_get(b, "a", 1, "k2", 2, &v, &vl, &err), EDR_OK);
    assert_int_equal(vl, 0);
    free(v);
    assert_int_equal(edr_bolt_get(b, "b", 1, "l", 1, &v, &vl, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "key 'l' not found in bucket 'b'");
    assert_null(v);
    assert_int_equal(edr_bolt_get(b, "b", 1, "a", 1, &v, &vl, &err), EDR_E_NOTFOUND);
    assert_int_equal(edr_bolt_get(b, "b", 1, "z", 1, &v, &vl, &err), EDR_E_NOTFOUND);
    assert_int_equal(edr_bolt_get(b, "a", 1, "k3", 2, &v, &vl, &err), EDR_E_NOTFOUND);
    assert_int_equal(edr_bolt_get(b, "c", 1, "x", 1, &v, &vl, &err), EDR_E_NOTFOUND);
    edr_bolt_close(b);
    free(m.b);
}

/* Applies one corruption to the reference image; expects open (if open_fails)
 * or check to fail with msg. */
struct corruption {
    const char *name;
    void (*apply)(struct img *m);
    int open_fails;
    const char *msg;
};

static void
c_magic_both(struct img *m)
{
    edr_put_le32(pg(m, 0) + 16, 1);
    edr_put_le32(pg(m, 1) + 16, 1);
}

static void
c_sum_both(struct img *m)
{
    pg(m, 0)[40] ^= 1;
    pg(m, 1)[40] ^= 1;
}

static void
c_pgid_big(struct img *m)
{
    meta(m, 0, 2, UINT64_MAX, 9, 4);
    meta(m, 1, 2, UINT64_MAX, 9, 3);
}

static void
c_root_oob(struct img *m)
{
    meta(m, 0, 8, UINT64_MAX, 8, 4);
    meta(m, 1, 8, UINT64_MAX, 8, 3);
}

static void
c_id(struct img *m)
{
    edr_put_le64(pg(m, 6), 9);
}

static void
c_type(struct img *m)
{
    edr_put_le16(pg(m, 6) + 8, 0x20);
}

static void
c_child_oob(struct img *m)
{
    edr_put_le64(pg(m, 3) + 16 + 16 + 8, 1234);
}

static void
c_double_ref(struct img *m)
{
    edr_put_le64(pg(m, 3) + 16 + 16 + 8, 4);
}

static void
c_meta_ref(struct img *m)
{
    edr_put_le64(pg(m, 3) + 16 + 16 + 8, 1);
}

static void
c_leaf_order(struct img *m)
{
    /* leaf 6 {m, n} -> {n, n} */
    pg(m, 6)[16 + 32] = 'n';
}

static void
c_branch_bound(struct img *m)
{
    /* child 6 holds m, n; branch key "m" -> "o": m < o violates the lower bound */
    uint8_t *p = pg(m, 3);
    p[16 + 32 + 1] = 'o';
}

static void
c_upper_bound(struct img *m)
{
    /* branch key "m" -> "j": leaf 4 holds "k" >= "j" */
    uint8_t *p = pg(m, 3);
    p[16 + 32 + 1] = 'j';
    p[16 + 32] = 'a';
}

static void
c_ksize(struct img *m)
{
    edr_put_le32(pg(m, 6) + 16 + 8, 5000);
}

static void
c_count(struct img *m)
{
    edr_put_le16(pg(m, 6) + 10, 200);
}

static void
c_overflow(struct img *m)
{
    edr_put_le32(pg(m, 4) + 12, 100);
}

static void
c_empty_branch(struct img *m)
{
    edr_put_le16(pg(m, 3) + 10, 0);
}

static void
c_not_bucket(struct img *m)
{
    edr_put_le32(pg(m, 2) + 16 + 16, 0); /* element 1 ("b") flags */
}

static void
c_inline_type(struct img *m)
{
    /* inline page header of bucket "a": after the root leaf's element area (48) */
    uint8_t *p = pg(m, 2);
    edr_put_le16(p + 16 + 48 + 1 + 16 + 8, 0x01);
}

static void
c_inline_short(struct img *m)
{
    edr_put_le32(pg(m, 2) + 16 + 12, 66); /* vsize of "a": cuts its inline page */
}

static void
c_nested(struct img *m)
{
    edr_put_le32(pg(m, 6) + 16, 1);
}

static void
c_cycle(struct img *m)
{
    edr_put_le64(pg(m, 3) + 16 + 8, 3);
}

static void
c_bucket_hdr(struct img *m)
{
    uint8_t *p = pg(m, 2);
    edr_put_le32(p + 16 + 16 + 12, 8);
}

/* Both metas name page 7 as the freelist. */
static void
use_freelist(struct img *m)
{
    meta(m, 0, 2, 7, 8, 4);
    meta(m, 1, 2, 7, 8, 3);
}

/* A real freelist on page 7 with count entries (to be filled in). */
static uint8_t *
freelist_page(struct img *m, uint16_t count)
{
    uint8_t *p = pg(m, 7);

    memset(p, 0, m->ps);
    hdr(p, 7, 0x10, count, 0);
    use_freelist(m);
    return p;
}

/* A freelist listing page 5 twice. */
static void
c_fl_dup(struct img *m)
{
    uint8_t *p = freelist_page(m, 2);

    edr_put_le64(p + 16, 5);
    edr_put_le64(p + 24, 5);
}

static void
c_fl_reach(struct img *m)
{
    edr_put_le64(freelist_page(m, 1) + 16, 6);
}

static void
c_fl_unfreed(struct img *m)
{
    edr_put_le16(pg(m, 3) + 10, 1); /* page 6 no longer referenced */
    freelist_page(m, 0);
}

static void
c_fl_type(struct img *m)
{
    use_freelist(m);
}

static void
c_fl_count(struct img *m)
{
    edr_put_le64(freelist_page(m, 0xFFFF) + 16, 1000);
}

static void
c_meta_hdr(struct img *m)
{
    edr_put_le16(pg(m, 1) + 8, 0x02); /* the unused meta's page header */
}

static const struct corruption corruptions[] = {
    {"magic", c_magic_both, 1,
     "'%s' is not a bbolt database: page 0: invalid magic, no valid page 1"},
    {"checksum", c_sum_both, 1,
     "'%s' is not a bbolt database: page 0: checksum mismatch, no valid page 1"},
    {"pgid", c_pgid_big, 1, "page 0: meta pgid 9 beyond end of file (8192 bytes)"},
    {"root", c_root_oob, 1, "page 0: meta root 8 out of bounds"},
    {"id", c_id, 0, "page 6: id mismatch (header says 9)"},
    {"type", c_type, 0, "page 6: invalid type 0x20"},
    {"child oob", c_child_oob, 0, "page 1234: out of bounds"},
    {"double ref", c_double_ref, 0, "page 4: multiple references"},
    {"meta ref", c_meta_ref, 0, "page 1: multiple references"},
    {"leaf order", c_leaf_order, 0, "page 6: keys out of order"},
    {"branch lower", c_branch_bound, 0, "page 6: keys out of order"},
    {"branch upper", c_upper_bound, 0, "page 4: keys out of order"},
    {"ksize", c_ksize, 0, "page 6: element 0 out of bounds"},
    {"count", c_count, 0, "page 6: 200 elements out of bounds"},
    {"overflow", c_overflow, 0, "page 4: out of bounds (overflow 100)"},
    {"empty branch", c_empty_branch, 0, "page 3: empty branch"},
    {"not bucket", c_not_bucket, 0, "page 2: root bucket entry 'b' is not a bucket"},
    {"inline type", c_inline_type, 0, "page 2: bucket 'a': invalid type 0x1"},
    {"inline short", c_inline_short, 0, "page 2 (inline bucket): element 0 out of bounds"},
    {"nested", c_nested, 0, "page 6: bucket 'b': nested bucket 'm' not supported"},
    {"cycle", c_cycle, 0, "page 3: multiple references"},
    {"bucket header", c_bucket_hdr, 0, "page 2: bucket 'b': header out of bounds"},
    {"freelist dup", c_fl_dup, 0, "page 5: already freed"},
    {"freelist reachable", c_fl_reach, 0, "page 6: reachable freed"},
    {"freelist unfreed", c_fl_unfreed, 0, "page 6: unreachable unfreed"},
    {"freelist type", c_fl_type, 0, "page 7: invalid type 0x2 (expected freelist)"},
    {"freelist count", c_fl_count, 0, "page 7: freelist out of bounds"},
    {"meta header", c_meta_hdr, 0, "page 1: invalid type 0x2"},
};

static void
test_corruptions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(corruptions) / sizeof(corruptions[0]); i++) {
        const struct corruption *c = &corruptions[i];
        struct img m;
        struct edr_bolt *b = NULL;
        struct edr_err err;
        char want[512];
        edr_rc rc;

        ref_image(&m);
        c->apply(&m);
        img_write(&m, m.npages * m.ps);
        snprintf(want, sizeof(want), c->msg, tu_path);
        rc = edr_bolt_open(tu_path, &b, &err);
        if (c->open_fails) {
            assert_int_equal(rc, EDR_E_INTEGRITY);
            if (strcmp(err.msg, want) != 0)
                fail_msg("%s: got '%s', want '%s'", c->name, err.msg, want);
            assert_null(b);
        } else {
            assert_int_equal(rc, EDR_OK);
            rc = edr_bolt_check(b, NULL, &err);
            if (rc != EDR_E_INTEGRITY || strcmp(err.msg, want) != 0)
                fail_msg("%s: got %d '%s', want '%s'", c->name, rc, err.msg, want);
            edr_bolt_close(b);
        }
        free(m.b);
    }
}

static void
test_meta_fallback(void **state)
{
    struct img m;
    struct edr_bolt *b;
    struct edr_bolt_info info;
    struct edr_err err;

    (void)state;
    ref_image(&m);
    meta(&m, 1, 2, UINT64_MAX, 8, 9); /* meta 1 newer ... */
    pg(&m, 1)[72] ^= 0xff;            /* ... but broken: meta 0 is used */
    img_write(&m, m.npages * m.ps);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    edr_bolt_get_info(b, &info);
    assert_int_equal(info.meta_used, 0);
    assert_int_equal(info.txid, 4);
    edr_bolt_close(b);

    /* meta 0 broken: page size found by probing, meta 1 used */
    pg(&m, 1)[72] ^= 0xff;
    pg(&m, 0)[16] ^= 0xff;
    img_write(&m, m.npages * m.ps);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    edr_bolt_get_info(b, &info);
    assert_int_equal(info.meta_used, 1);
    assert_int_equal(info.txid, 9);
    assert_int_equal(info.page_size, 1024);
    assert_int_equal(edr_bolt_check(b, NULL, &err), EDR_OK);
    edr_bolt_close(b);

    /* too small */
    img_write(&m, 100);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_E_INTEGRITY);
    assert_int_equal(edr_bolt_open("/nonexistent/db", &b, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "unable to open '/nonexistent/db': [2] No such file or directory");
    free(m.b);
}

/* ---- writer round trips ---- */

static uint64_t rng;

static uint64_t
rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Deterministic content: bucket i has nkeys[i] keys; key j is "k%08u"+pad,
 * value length from a size class. */
struct spec {
    uint32_t ps;
    unsigned nbuckets;
    unsigned nkeys[8];
    uint64_t seed;
};

static size_t
mk_key(unsigned j, uint64_t seed, uint8_t *k)
{
    size_t pad = (size_t)((seed + j) % 5);
    int n = sprintf((char *)k, "k%08u", j);
    memset(k + n, 'x', pad);
    return (size_t)n + pad;
}

static size_t
mk_val(unsigned bucket, unsigned j, uint64_t seed, uint8_t *v)
{
    uint64_t s = seed * 1000003 + bucket * 7919 + j;
    size_t len;
    switch (s % 13) {
    case 0:
        len = 0;
        break;
    case 1:
        len = 5000 + s % 20000; /* beyond a page */
        break;
    case 2:
        len = (j % 97 == 0) ? 300000 : 40;
        break;
    default:
        len = s % 200;
    }
    for (size_t i = 0; i < len; i++)
        v[i] = (uint8_t)(s + i * 31);
    return len;
}

struct rt {
    const struct spec *sp;
    int bucket;
    unsigned j;
    uint8_t *kb, *vb;
    int bad;
};

static int
rt_bucket(void *ud, const uint8_t *name, size_t len)
{
    struct rt *r = ud;
    char want[32];
    if (r->bucket >= 0 && r->j != r->sp->nkeys[r->bucket])
        r->bad = 1;
    r->bucket++;
    r->j = 0;
    snprintf(want, sizeof(want), "bucket%02d", r->bucket);
    if (len != strlen(want) || memcmp(name, want, len) != 0)
        r->bad = 1;
    return 0;
}

static int
rt_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct rt *r = ud;
    size_t wkl = mk_key(r->j, r->sp->seed, r->kb);
    size_t wvl = mk_val((unsigned)r->bucket, r->j, r->sp->seed, r->vb);
    if (kl != wkl || memcmp(k, r->kb, kl) != 0 || vl != wvl || (vl && memcmp(v, r->vb, vl) != 0))
        r->bad = 1;
    r->j++;
    return 0;
}

static void
roundtrip(const struct spec *sp)
{
    struct edr_bolt_writer *w;
    struct edr_bolt *b;
    struct edr_bolt_info info;
    struct edr_err err;
    struct rt r;
    uint8_t *kb = malloc(64), *vb = malloc(400000);
    uint64_t used = 0;
    struct stat st;

    assert_non_null(kb);
    assert_non_null(vb);
    assert_int_equal(edr_bolt_writer_new(tu_path, sp->ps, &w, &err), EDR_OK);
    for (unsigned i = 0; i < sp->nbuckets; i++) {
        char name[32];
        snprintf(name, sizeof(name), "bucket%02u", i);
        assert_int_equal(edr_bolt_writer_bucket(w, name, strlen(name), &err), EDR_OK);
        for (unsigned j = 0; j < sp->nkeys[i]; j++) {
            size_t kl = mk_key(j, sp->seed, kb), vl = mk_val(i, j, sp->seed, vb);
            assert_int_equal(edr_bolt_writer_put(w, kb, kl, vb, vl, &err), EDR_OK);
        }
    }
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);

    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    edr_bolt_get_info(b, &info);
    assert_int_equal(info.page_size, sp->ps);
    assert_int_equal(info.txid, 2);
    assert_int_equal(info.freelist, 2);
    assert_int_equal(stat(tu_path, &st), 0);
    assert_int_equal((uint64_t)st.st_size, info.pgid * sp->ps);
    memset(&r, 0, sizeof(r));
    r.sp = sp;
    r.bucket = -1;
    r.kb = kb;
    r.vb = vb;
    if (edr_bolt_walk(b, 1, rt_bucket, rt_kv, &r, &used, &err) != EDR_OK)
        fail_msg("walk: %s", err.msg);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.bucket, (int)sp->nbuckets - 1);
    if (sp->nbuckets > 0)
        assert_int_equal(r.j, sp->nkeys[sp->nbuckets - 1]);
    assert_int_equal(used, info.pgid); /* compact: every page is used */
    /* random lookups */
    for (int n = 0; n < 200 && sp->nbuckets > 0; n++) {
        unsigned i = (unsigned)(rnd() % sp->nbuckets);
        char name[32];
        uint8_t *v;
        size_t vl, kl;
        if (sp->nkeys[i] == 0)
            continue;
        unsigned j = (unsigned)(rnd() % sp->nkeys[i]);
        snprintf(name, sizeof(name), "bucket%02u", i);
        kl = mk_key(j, sp->seed, kb);
        assert_int_equal(edr_bolt_get(b, name, strlen(name), kb, kl, &v, &vl, &err), EDR_OK);
        assert_int_equal(vl, mk_val(i, j, sp->seed, vb));
        if (vl)
            assert_memory_equal(v, vb, vl);
        free(v);
        kb[kl++] = 0; /* a key just after: absent */
        assert_int_equal(edr_bolt_get(b, name, strlen(name), kb, kl, &v, &vl, &err),
                         EDR_E_NOTFOUND);
    }
    edr_bolt_close(b);
    free(kb);
    free(vb);
}

static void
test_roundtrip_small(void **state)
{
    struct spec sp = {4096, 4, {0, 1, 3, 0}, 1};
    struct img m;
    FILE *f;
    (void)state;
    roundtrip(&sp);
    /* all inline: metas, freelist, one root leaf */
    m.ps = 4096;
    m.b = malloc(5 * 4096);
    f = fopen(tu_path, "rb");
    assert_int_equal(fread(m.b, 1, 5 * 4096, f), 4 * 4096);
    fclose(f);
    assert_int_equal(edr_le64(pg(&m, 2)), 2);
    assert_int_equal(pg(&m, 2)[8], 0x10);
    assert_int_equal(edr_le64(pg(&m, 0) + 32), 3);
    assert_int_equal(edr_le64(pg(&m, 0) + 48), 2);
    assert_int_equal(edr_le64(pg(&m, 0) + 56), 4);
    assert_int_equal(edr_le64(pg(&m, 1) + 64), 1);
    /* bucket00 is empty: 32-byte inline value, 16 zeros then a leaf header */
    {
        const uint8_t want[32] = {[24] = 2};
        uint8_t *p = pg(&m, 3);
        assert_int_equal(p[8], 2);
        assert_int_equal(p[10], 4);
        assert_int_equal(edr_le64(p + 16 + 12) & 0xffffffff, 32);
        assert_memory_equal(p + 16 + 64 + 8, want, 32);
    }
    free(m.b);
}

static void
test_roundtrip_big(void **state)
{
    struct spec sp = {4096, 5, {20000, 0, 300, 1, 5000}, 7};
    (void)state;
    roundtrip(&sp);
}

static void
test_roundtrip_16k(void **state)
{
    struct spec sp = {16384, 3, {30000, 2, 700}, 3};
    (void)state;
    roundtrip(&sp);
}

static void
test_roundtrip_1k(void **state)
{
    struct spec sp = {1024, 2, {5000, 40}, 11};
    (void)state;
    roundtrip(&sp);
}

static void
test_roundtrip_none(void **state)
{
    struct spec sp = {4096, 0, {0}, 5};
    (void)state;
    roundtrip(&sp);
}

static void
test_writer_errors(void **state)
{
    struct edr_bolt_writer *w;
    struct edr_err err;
    struct stat st;

    (void)state;
    assert_int_equal(edr_bolt_writer_new(tu_path, 3000, &w, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid bbolt page size 3000");
    assert_int_equal(edr_bolt_writer_new("/nonexistent/x", 4096, &w, &err), EDR_E_IO);

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_put(w, "a", 1, "b", 1, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: put outside a bucket");
    assert_int_equal(edr_bolt_writer_bucket(w, "b", 1, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: unusable after an earlier error");
    edr_bolt_writer_free(w);
    assert_int_not_equal(stat(tu_path, &st), 0); /* partial file removed */

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "b", 1, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_put(w, "k2", 2, "", 0, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_put(w, "k1", 2, "", 0, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: keys out of order");
    edr_bolt_writer_free(w);

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "b", 1, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "a", 1, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: buckets out of order");
    edr_bolt_writer_free(w);

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "b", 1, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_put(w, "", 0, "", 0, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: invalid key length 0");
    edr_bolt_writer_free(w);

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "b", 1, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "bolt writer: already finished");
    edr_bolt_writer_free(w);
    assert_int_equal(stat(tu_path, &st), 0); /* kept */
}

/* Random byte flips on a written file: errors are fine, crashes are not
 * (run under --enable-sanitizers). Also truncations. */
static void
test_mutations(void **state)
{
    struct spec sp = {1024, 3, {300, 0, 40}, 9};
    uint8_t *orig, *buf;
    size_t len;
    FILE *f;
    int errors = 0;

    (void)state;
    roundtrip(&sp);
    f = fopen(tu_path, "rb");
    fseek(f, 0, SEEK_END);
    len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    orig = malloc(len);
    buf = malloc(len);
    assert_int_equal(fread(orig, 1, len, f), len);
    fclose(f);
    rng = 12345;
    for (int it = 0; it < 600; it++) {
        struct edr_bolt *b;
        struct edr_err err;
        struct coll c;
        size_t n = len;
        int flips = 1 + (int)(rnd() % 4);
        memcpy(buf, orig, len);
        for (int i = 0; i < flips; i++) {
            size_t at = (size_t)(rnd() % len);
            /* bias towards headers, where the structure lives */
            if (rnd() % 2)
                at = at / 1024 * 1024 + rnd() % 64;
            buf[at] = (uint8_t)rnd();
        }
        if (it % 50 == 49)
            n = (size_t)(rnd() % len);
        f = fopen(tu_path, "wb");
        fwrite(buf, 1, n, f);
        fclose(f);
        if (edr_bolt_open(tu_path, &b, &err) != EDR_OK) {
            errors++;
            continue;
        }
        if (edr_bolt_check(b, NULL, &err) != EDR_OK)
            errors++;
        memset(&c, 0, sizeof(c));
        (void)edr_bolt_walk(b, 0, NULL, c_kv, &c, NULL, &err);
        edr_bolt_close(b);
    }
    print_message("%d of 600 mutated files rejected\n", errors);
    assert_true(errors > 50);
    free(orig);
    free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reference_image, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_corruptions, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_meta_fallback, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_roundtrip_small, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_roundtrip_big, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_roundtrip_16k, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_roundtrip_1k, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_roundtrip_none, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_writer_errors, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_mutations, tu_setup_file, tu_teardown_file),
    };
    rng = 88172645463325252ull;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
