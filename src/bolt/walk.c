/*
 * Walks of the reader: the whole file (bucket names, then each bucket's
 * pairs, in order) or one bucket, checking on the way what bbolt's tx.Check
 * checks: page types, key order within the bounds the parent branch sets,
 * pages reached twice, and with check on, freed pages reached and pages
 * neither reached nor freed (two bitmaps of the file's pages). On a
 * captured image, the leaves the capture summed up go to the summary
 * callback instead of their pairs.
 */
#include "bolt/reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

struct walk {
    struct edr_bolt *b;
    int check;
    uint8_t *reach; /* check: pages reached */
    uint8_t *freed; /* check: pages in the freelist */
    uint64_t loads; /* pages loaded: more than pgid means a cycle */
    edr_bolt_bucket_cb bucket_cb;
    edr_bolt_kv_cb kv_cb;
    edr_bolt_sum_cb sum_cb;
    void *ud;
    int stopped;
    /* the bucket being walked, for messages */
    const uint8_t *bname;
    size_t bname_len;
};

static int
bit_get(const uint8_t *m, uint64_t i)
{
    return (m[i >> 3] >> (i & 7)) & 1;
}

static void
bit_set(uint8_t *m, uint64_t i)
{
    m[i >> 3] |= (uint8_t)(1u << (i & 7));
}

static edr_rc
cb_abort(struct edr_err *err)
{
    if (err != NULL && err->code != EDR_OK)
        return err->code;
    return edr_err_set(err, EDR_E_INTERNAL, "walk aborted by its callback");
}

static edr_rc walk_page(struct walk *w, int tree, int depth, const struct page *pg,
                        const uint8_t *lo, size_t lol, const uint8_t *hi, size_t hil,
                        struct edr_err *err);

static edr_rc
walk_pgid(struct walk *w, int tree, int depth, uint64_t pgid, const uint8_t *lo, size_t lol,
          const uint8_t *hi, size_t hil, struct edr_err *err)
{
    struct edr_bolt *b = w->b;
    struct page pg;
    edr_rc rc;

    if (depth >= MAX_DEPTH)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": tree deeper than %d levels",
                           pgid, MAX_DEPTH);
    if (++w->loads > b->info.pgid)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": multiple references", pgid);
    if ((rc = edr_bolt_load_run(b, &b->lv[tree][depth], pgid, &pg, err)) != EDR_OK)
        return rc;
    if (w->check) {
        uint64_t n = pg.len / b->info.page_size;
        for (uint64_t i = 0; i < n; i++) {
            if (bit_get(w->reach, pgid + i))
                return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": multiple references",
                                   pgid + i);
            bit_set(w->reach, pgid + i);
        }
        if (bit_get(w->freed, pgid))
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": reachable freed", pgid);
    }
    if (pg.flags != F_BRANCH && pg.flags != F_LEAF)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": invalid type 0x%x", pgid,
                           pg.flags);
    return walk_page(w, tree, depth, &pg, lo, lol, hi, hil, err);
}

/* A bucket's value: 16-byte header, then for an inline bucket the page. */
static edr_rc
walk_bucket(struct walk *w, const struct page *pg, const uint8_t *name, size_t nl, const uint8_t *v,
            size_t vl, struct edr_err *err)
{
    char pn[64], q[80];
    struct page in;
    uint64_t root;

    if (vl < 16)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: bucket '%s': header out of bounds",
                           edr_bolt_page_name(pg, pn, sizeof(pn)),
                           edr_bolt_quote(name, nl, q, sizeof(q)));
    root = edr_le64(v);
    w->bname = name;
    w->bname_len = nl;
    if (root != 0)
        return walk_pgid(w, TREE_BUCKET, 0, root, NULL, 0, NULL, 0, err);
    if (vl < 16 + HDR)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: bucket '%s': inline page out of bounds",
                           edr_bolt_page_name(pg, pn, sizeof(pn)),
                           edr_bolt_quote(name, nl, q, sizeof(q)));
    in.id = pg->id;
    in.inl = 1;
    in.sum = NULL;
    in.p = v + 16;
    in.len = vl - 16;
    in.flags = edr_le16(in.p + 8);
    in.count = edr_le16(in.p + 10);
    if (in.flags != F_LEAF)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: bucket '%s': invalid type 0x%x",
                           edr_bolt_page_name(pg, pn, sizeof(pn)),
                           edr_bolt_quote(name, nl, q, sizeof(q)), in.flags);
    return walk_page(w, TREE_BUCKET, 0, &in, NULL, 0, NULL, 0, err);
}

/* A summed-up leaf: the leaf function saw its elements in bounds, in order
 * and not buckets; what remains of walk_page's checks needs only its first
 * and last keys, and the errors are those walk_page would give first. */
static edr_rc
walk_sum(struct walk *w, int tree, const struct page *pg, const uint8_t *lo, size_t lol,
         const uint8_t *hi, size_t hil, struct edr_err *err)
{
    const struct cap_page *cp = pg->sum;
    char pn[64], q[80];
    int r;

    if ((lo != NULL && edr_keycmp(lo, lol, cp->first_key, cp->first_len) > 0) ||
        (hi != NULL && edr_keycmp(cp->first_key, cp->first_len, hi, hil) >= 0))
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: keys out of order",
                           edr_bolt_page_name(pg, pn, sizeof(pn)));
    if (tree == TREE_ROOT)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: root bucket entry '%s' is not a bucket",
                           edr_bolt_page_name(pg, pn, sizeof(pn)),
                           edr_bolt_quote(cp->first_key, cp->first_len, q, sizeof(q)));
    if (hi != NULL && edr_keycmp(cp->last_key, cp->last_len, hi, hil) >= 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: keys out of order",
                           edr_bolt_page_name(pg, pn, sizeof(pn)));
    if (w->sum_cb != NULL && (r = w->sum_cb(w->ud, cp->sum_id, pg->count)) != 0) {
        if (r < 0)
            return cb_abort(err);
        w->stopped = 1;
    }
    return EDR_OK;
}

static edr_rc
walk_page(struct walk *w, int tree, int depth, const struct page *pg, const uint8_t *lo, size_t lol,
          const uint8_t *hi, size_t hil, struct edr_err *err)
{
    const uint8_t *pk = NULL, *k, *v = NULL;
    size_t pkl = 0, kl, vl = 0;
    uint32_t flags;
    uint64_t child = 0;
    char pn[64], q[80];
    edr_rc rc;

    if (pg->sum != NULL)
        return walk_sum(w, tree, pg, lo, lol, hi, hil, err);
    if ((rc = edr_bolt_check_count(pg, err)) != EDR_OK)
        return rc;
    if (pg->flags == F_BRANCH && pg->count == 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: empty branch",
                           edr_bolt_page_name(pg, pn, sizeof(pn)));
    for (unsigned i = 0; i < pg->count && !w->stopped; i++) {
        if ((rc = edr_bolt_elem(pg, i, &flags, &k, &kl, &v, &vl, &child, err)) != EDR_OK)
            return rc;
        if ((pk != NULL && edr_keycmp(pk, pkl, k, kl) >= 0) ||
            (i == 0 && lo != NULL && edr_keycmp(lo, lol, k, kl) > 0) ||
            (hi != NULL && edr_keycmp(k, kl, hi, hil) >= 0))
            return edr_err_set(err, EDR_E_INTEGRITY, "%s: keys out of order",
                               edr_bolt_page_name(pg, pn, sizeof(pn)));
        pk = k;
        pkl = kl;
        if (pg->flags == F_BRANCH) {
            const uint8_t *nk = hi, *nv;
            size_t nkl = hil, nvl;
            uint32_t nf;
            uint64_t nc;
            if (i + 1 < pg->count &&
                (rc = edr_bolt_elem(pg, i + 1, &nf, &nk, &nkl, &nv, &nvl, &nc, err)) != EDR_OK)
                return rc;
            if ((rc = walk_pgid(w, tree, depth + 1, child, k, kl, nk, nkl, err)) != EDR_OK)
                return rc;
            continue;
        }
        if (tree == TREE_ROOT) {
            int r;
            if (!(flags & BUCKET_FLAG))
                return edr_err_set(
                    err, EDR_E_INTEGRITY, "%s: root bucket entry '%s' is not a bucket",
                    edr_bolt_page_name(pg, pn, sizeof(pn)), edr_bolt_quote(k, kl, q, sizeof(q)));
            if (w->bucket_cb != NULL && (r = w->bucket_cb(w->ud, k, kl)) != 0) {
                if (r < 0)
                    return cb_abort(err);
                w->stopped = 1;
                break;
            }
            if ((w->check || w->kv_cb != NULL) &&
                (rc = walk_bucket(w, pg, k, kl, v, vl, err)) != EDR_OK)
                return rc;
        } else {
            int r;
            if (flags & BUCKET_FLAG)
                return edr_err_set(err, EDR_E_INTEGRITY,
                                   "%s: bucket '%s': nested bucket '%s' not supported",
                                   edr_bolt_page_name(pg, pn, sizeof(pn)),
                                   edr_bolt_quote(w->bname, w->bname_len, q, sizeof(q)),
                                   edr_bolt_quote(k, kl, q + 40, sizeof(q) - 40));
            if (w->kv_cb != NULL && (r = w->kv_cb(w->ud, k, kl, v, vl)) != 0) {
                if (r < 0)
                    return cb_abort(err);
                w->stopped = 1;
                break;
            }
        }
    }
    return EDR_OK;
}

/* Reads the freelist into w->freed (check mode). */
static edr_rc
load_freelist(struct walk *w, struct edr_err *err)
{
    struct edr_bolt *b = w->b;
    uint64_t fl = b->info.freelist, n, first = 0;
    struct page pg;
    edr_rc rc;

    if (fl == NO_FREELIST)
        return EDR_OK;
    if ((rc = edr_bolt_load_run(b, &b->lv[TREE_BUCKET][0], fl, &pg, err)) != EDR_OK)
        return rc;
    if (pg.p == NULL && pg.flags == F_FREELIST)
        return edr_bolt_not_captured(b, fl, err);
    for (uint64_t i = 0; i < pg.len / b->info.page_size; i++) {
        if (bit_get(w->reach, fl + i))
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": multiple references",
                               fl + i);
        bit_set(w->reach, fl + i);
    }
    if (pg.flags != F_FREELIST)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "page %" PRIu64 ": invalid type 0x%x (expected freelist)", fl, pg.flags);
    n = pg.count;
    if (n == 0xFFFF) {
        if (pg.len < HDR + 8)
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": freelist out of bounds",
                               fl);
        n = edr_le64(pg.p + HDR);
        first = 1;
    }
    if (n > (pg.len - HDR) / 8 - first)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": freelist out of bounds", fl);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t id = edr_le64(pg.p + HDR + (first + i) * 8);
        if (id >= b->info.pgid)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "page %" PRIu64 ": freed page %" PRIu64 " out of bounds", fl, id);
        if (bit_get(w->freed, id))
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": already freed", id);
        if (bit_get(w->reach, id))
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": reachable freed", id);
        bit_set(w->freed, id);
    }
    return EDR_OK;
}

static edr_rc
check_meta_page(struct edr_bolt *b, uint64_t id, struct edr_err *err)
{
    uint8_t h[HDR];
    uint16_t flags;

    if (edr_bolt_src_read(b, h, sizeof(h), id * b->info.page_size) != 0)
        return edr_err_errno(err, EDR_E_IO, errno, "page %" PRIu64 ": unable to read", id);
    if (edr_le64(h) != id)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "page %" PRIu64 ": id mismatch (header says %" PRIu64 ")", id,
                           edr_le64(h));
    flags = edr_le16(h + 8);
    if (flags != F_META)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": invalid type 0x%x", id, flags);
    return EDR_OK;
}

edr_rc
edr_bolt_walk(struct edr_bolt *b, int check, edr_bolt_bucket_cb bucket_cb, edr_bolt_kv_cb kv_cb,
              void *ud, uint64_t *pages_in_use, struct edr_err *err)
{
    return edr_bolt_walk_sum(b, check, bucket_cb, kv_cb, NULL, ud, pages_in_use, err);
}

edr_rc
edr_bolt_walk_sum(struct edr_bolt *b, int check, edr_bolt_bucket_cb bucket_cb, edr_bolt_kv_cb kv_cb,
                  edr_bolt_sum_cb sum_cb, void *ud, uint64_t *pages_in_use, struct edr_err *err)
{
    struct walk w;
    uint64_t pgid = b->info.pgid, used = 0;
    edr_rc rc = EDR_OK;

    memset(&w, 0, sizeof(w));
    w.b = b;
    w.check = check;
    w.bucket_cb = bucket_cb;
    w.kv_cb = kv_cb;
    w.sum_cb = sum_cb;
    w.ud = ud;
    b->allow_sum = sum_cb != NULL;
    if (check) {
        w.reach = calloc(1, (size_t)(pgid / 8 + 1));
        w.freed = calloc(1, (size_t)(pgid / 8 + 1));
        if (w.reach == NULL || w.freed == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
        for (uint64_t id = 0; id < 2; id++) {
            if ((rc = check_meta_page(b, id, err)) != EDR_OK)
                goto out;
            bit_set(w.reach, id);
        }
        if ((rc = load_freelist(&w, err)) != EDR_OK)
            goto out;
    }
    b->seq = 1;
    rc = walk_pgid(&w, TREE_ROOT, 0, b->info.root, NULL, 0, NULL, 0, err);
    b->seq = 0;
    if (rc != EDR_OK)
        goto out;
    if (check && !w.stopped) {
        for (uint64_t i = 0; i < pgid; i++) {
            int r = bit_get(w.reach, i);
            used += (uint64_t)r;
            if (!r && !bit_get(w.freed, i) && b->info.freelist != NO_FREELIST) {
                rc = edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": unreachable unfreed", i);
                goto out;
            }
        }
        if (pages_in_use != NULL)
            *pages_in_use = used;
    }
out:
    b->allow_sum = 0;
    free(w.reach);
    free(w.freed);
    return rc;
}

edr_rc
edr_bolt_check(struct edr_bolt *b, uint64_t *pages_in_use, struct edr_err *err)
{
    return edr_bolt_walk(b, 1, NULL, NULL, NULL, pages_in_use, err);
}

edr_rc
edr_bolt_foreach_bucket(struct edr_bolt *b, edr_bolt_bucket_cb cb, void *ud, struct edr_err *err)
{
    return edr_bolt_walk(b, 0, cb, NULL, ud, NULL, err);
}

edr_rc
edr_bolt_foreach(struct edr_bolt *b, const void *bucket, size_t bucket_len, edr_bolt_kv_cb cb,
                 void *ud, struct edr_err *err)
{
    struct walk w;
    struct page inl;
    uint64_t root;
    edr_rc rc;

    if ((rc = edr_bolt_find_bucket(b, bucket, bucket_len, &root, &inl, err)) != EDR_OK)
        return rc;
    memset(&w, 0, sizeof(w));
    w.b = b;
    w.kv_cb = cb;
    w.ud = ud;
    w.bname = bucket;
    w.bname_len = bucket_len;
    if (root == 0)
        return walk_page(&w, TREE_BUCKET, 0, &inl, NULL, 0, NULL, 0, err);
    b->seq = 1;
    rc = walk_pgid(&w, TREE_BUCKET, 0, root, NULL, 0, NULL, 0, err);
    b->seq = 0;
    return rc;
}
