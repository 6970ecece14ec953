/*
 * Lookups of the reader: one top-level bucket, one value, by binary search
 * down the tree instead of a walk.
 */
#include "bolt/reader.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

/*
 * Descends the tree at pgid (or the inline page `inl`) to the leaf element
 * equal to key. On success *v and *vl point into a level buffer of `tree`.
 * Returns EDR_E_NOTFOUND (message unset) when the key is absent.
 */
static edr_rc
find(struct edr_bolt *b, int tree, uint64_t pgid, const struct page *inl, const uint8_t *key,
     size_t kl, uint32_t *flags, const uint8_t **v, size_t *vl, struct edr_err *err)
{
    struct page pg;
    edr_rc rc;

    for (int depth = 0;; depth++) {
        const uint8_t *k, *ev;
        size_t ekl, evl;
        uint32_t ef;
        uint64_t child = 0;
        unsigned lo, hi;

        if (inl != NULL && depth == 0) {
            pg = *inl;
        } else {
            if (depth >= MAX_DEPTH)
                return edr_err_set(err, EDR_E_INTEGRITY,
                                   "page %" PRIu64 ": tree deeper than %d levels", pgid, MAX_DEPTH);
            if ((rc = edr_bolt_load_run(b, &b->lv[tree][depth], pgid, &pg, err)) != EDR_OK)
                return rc;
            if (pg.flags != F_BRANCH && pg.flags != F_LEAF)
                return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": invalid type 0x%x",
                                   pgid, pg.flags);
        }
        if ((rc = edr_bolt_check_count(&pg, err)) != EDR_OK)
            return rc;
        if (pg.count == 0) {
            if (pg.flags == F_BRANCH)
                return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": empty branch", pg.id);
            return EDR_E_NOTFOUND;
        }
        /* first element whose key is > key */
        lo = 0;
        hi = pg.count;
        while (lo < hi) {
            unsigned mid = lo + (hi - lo) / 2;
            if ((rc = edr_bolt_elem(&pg, mid, &ef, &k, &ekl, &ev, &evl, &child, err)) != EDR_OK)
                return rc;
            if (edr_keycmp(k, ekl, key, kl) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (pg.flags == F_BRANCH) {
            if ((rc = edr_bolt_elem(&pg, lo > 0 ? lo - 1 : 0, &ef, &k, &ekl, &ev, &evl, &child,
                                    err)) != EDR_OK)
                return rc;
            pgid = child;
            continue;
        }
        if (lo == 0)
            return EDR_E_NOTFOUND;
        if ((rc = edr_bolt_elem(&pg, lo - 1, &ef, &k, &ekl, &ev, &evl, &child, err)) != EDR_OK)
            return rc;
        if (edr_keycmp(k, ekl, key, kl) != 0)
            return EDR_E_NOTFOUND;
        *flags = ef;
        *v = ev;
        *vl = evl;
        return EDR_OK;
    }
}

/* Finds a top-level bucket: its root page, or its inline page in *inl. */
edr_rc
edr_bolt_find_bucket(struct edr_bolt *b, const void *name, size_t nl, uint64_t *root,
                     struct page *inl, struct edr_err *err)
{
    const uint8_t *v;
    size_t vl;
    uint32_t flags;
    char q[80];
    edr_rc rc;

    rc = find(b, TREE_ROOT, b->info.root, NULL, name, nl, &flags, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_NOTFOUND, "bucket '%s' not found",
                           edr_bolt_quote(name, nl, q, sizeof(q)));
    if (rc != EDR_OK)
        return rc;
    if (!(flags & BUCKET_FLAG) || vl < 16)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': not a bucket",
                           edr_bolt_quote(name, nl, q, sizeof(q)));
    *root = edr_le64(v);
    if (*root != 0)
        return EDR_OK;
    if (vl < 16 + HDR)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': inline page out of bounds",
                           edr_bolt_quote(name, nl, q, sizeof(q)));
    inl->id = b->lv[TREE_ROOT][0].pgid; /* best effort for messages */
    inl->inl = 1;
    inl->sum = NULL;
    inl->p = v + 16;
    inl->len = vl - 16;
    inl->flags = edr_le16(inl->p + 8);
    inl->count = edr_le16(inl->p + 10);
    if (inl->flags != F_LEAF)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': invalid type 0x%x",
                           edr_bolt_quote(name, nl, q, sizeof(q)), inl->flags);
    return EDR_OK;
}

edr_rc
edr_bolt_get(struct edr_bolt *b, const void *bucket, size_t bucket_len, const void *key,
             size_t key_len, uint8_t **val, size_t *val_len, struct edr_err *err)
{
    struct page inl;
    const uint8_t *v;
    size_t vl;
    uint32_t flags;
    uint64_t root;
    char q[80], q2[80];
    edr_rc rc;

    *val = NULL;
    *val_len = 0;
    if ((rc = edr_bolt_find_bucket(b, bucket, bucket_len, &root, &inl, err)) != EDR_OK)
        return rc;
    rc = find(b, TREE_BUCKET, root, root != 0 ? NULL : &inl, key, key_len, &flags, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_NOTFOUND, "key '%s' not found in bucket '%s'",
                           edr_bolt_quote(key, key_len, q, sizeof(q)),
                           edr_bolt_quote(bucket, bucket_len, q2, sizeof(q2)));
    if (rc != EDR_OK)
        return rc;
    if (flags & BUCKET_FLAG)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': nested bucket '%s' not supported",
                           edr_bolt_quote(bucket, bucket_len, q2, sizeof(q2)),
                           edr_bolt_quote(key, key_len, q, sizeof(q)));
    *val = malloc(vl > 0 ? vl : 1);
    if (*val == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (vl > 0)
        memcpy(*val, v, vl);
    *val_len = vl;
    return EDR_OK;
}
