/*
 * The live keys at a revision: one open-addressing table over an arena of
 * key bytes (no malloc per key) that replays the `key` bucket in revision
 * order, each put making its key live and each tombstone dead. Values are
 * not kept: edr_mvcc_foreach_live re-reads them from the file when it emits
 * a key.
 */
#include "mvcc/intern.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/grow.h"
#include "common/hash.h"

void
edr_mvcc_livemap_release(struct livemap *lm)
{
    free(lm->ents);
    free(lm->slots);
    free(lm->arena);
    memset(lm, 0, sizeof(*lm));
}

static int
lm_rehash(struct livemap *lm, size_t nslots)
{
    uint64_t *s = calloc(nslots, sizeof(*s));

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < lm->n; i++) {
        size_t j = lm->ents[i].hash & (nslots - 1);
        while (s[j] != 0)
            j = (j + 1) & (nslots - 1);
        s[j] = (uint64_t)lm->ents[i].hash << 32 | (uint64_t)(i + 1);
    }
    free(lm->slots);
    lm->slots = s;
    lm->nslots = nslots;
    return 0;
}

struct live_ent *
edr_mvcc_livemap_get(struct livemap *lm, const uint8_t *key, size_t kl, int add, int *oom)
{
    uint32_t h = edr_crc32c(0, key, kl);
    struct live_ent *e;
    size_t j;

    *oom = 0;
    if (lm->nslots == 0 && lm_rehash(lm, 1024) != 0)
        goto oom;
    for (j = h & (lm->nslots - 1); lm->slots[j] != 0; j = (j + 1) & (lm->nslots - 1)) {
        if ((uint32_t)(lm->slots[j] >> 32) != h)
            continue;
        e = &lm->ents[(uint32_t)lm->slots[j] - 1];
        if (e->klen == kl && memcmp(lm->arena + e->koff, key, kl) == 0)
            return e;
    }
    if (!add)
        return NULL;
    if (lm->n >= UINT32_MAX - 1 || kl > UINT32_MAX)
        goto oom;
    if (edr_grow(&lm->ents, &lm->cap, lm->n + 1, sizeof(*lm->ents)) != 0 ||
        edr_grow(&lm->arena, &lm->acap, lm->alen + kl, 1) != 0)
        goto oom;
    e = &lm->ents[lm->n];
    memset(e, 0, sizeof(*e));
    e->koff = lm->alen;
    e->klen = (uint32_t)kl;
    e->hash = h;
    e->dead = 1;
    if (kl > 0)
        memcpy(lm->arena + lm->alen, key, kl);
    lm->alen += kl;
    lm->slots[j] = (uint64_t)h << 32 | (uint64_t)(++lm->n);
    if (lm->n * 2 > lm->nslots && lm_rehash(lm, lm->nslots * 2) != 0)
        goto oom;
    return &lm->ents[lm->n - 1];
oom:
    *oom = 1;
    return NULL;
}

/* Applies one `key`-bucket entry (already parsed) to the map. */
int
edr_mvcc_livemap_apply(struct livemap *lm, const struct edr_kv *kv, int64_t main, int64_t sub,
                       int tomb)
{
    int oom;
    struct live_ent *e = edr_mvcc_livemap_get(lm, kv->key, kv->key_len, !tomb, &oom);

    if (e == NULL)
        return oom ? -1 : 0;
    if (tomb) {
        e->dead = 1;
        return 0;
    }
    e->dead = 0;
    e->main = main;
    e->sub = sub;
    e->vlen = kv->value_len;
    return 0;
}

/* ---- the `key` bucket up to a revision ---- */

static int
on_live_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct live_scan *c = ud;
    struct edr_kv kv;
    int64_t main, sub;
    int tomb;
    char rs[64];

    if (edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb) != 0) {
        edr_err_set(c->err, EDR_E_INTEGRITY, "invalid revision key %s",
                    edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (c->rev > 0 && main > c->rev) {
        c->beyond = 1;
        return 1;
    }
    c->maxmain = main;
    if (vl == 0 && !tomb)
        return 0;
    if (edr_mvcc_kv_decode(v, vl, &kv, c->err) != EDR_OK) {
        edr_err_prefix(c->err, "revision %s: invalid KeyValue",
                       edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (kv.key_len < c->plen || (c->plen > 0 && memcmp(kv.key, c->prefix, c->plen) != 0))
        return 0;
    if (edr_mvcc_livemap_apply(&c->lm, &kv, main, sub, tomb) != 0) {
        edr_err_set(c->err, EDR_E_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

static edr_rc
read_rev_meta(struct edr_bolt *b, const char *name, int64_t *rev, struct edr_err *err)
{
    uint8_t *v = NULL;
    size_t vl;
    edr_rc rc;

    *rev = 0;
    rc = edr_bolt_get(b, EDR_MVCC_BUCKET_META, 4, name, strlen(name), &v, &vl, err);
    if (rc == EDR_E_NOTFOUND) {
        edr_err_clear(err);
        return EDR_OK;
    }
    if (rc != EDR_OK)
        return rc;
    if (vl >= 8)
        *rev = (int64_t)edr_be64(v);
    free(v);
    return EDR_OK;
}

/* Scans the `key` bucket up to rev into c->lm. */
edr_rc
edr_mvcc_live_scan(struct edr_bolt *b, struct live_scan *c, struct edr_err *err)
{
    int64_t compacted, scheduled;
    edr_rc rc;

    /* A compaction etcd scheduled but had not finished when the snapshot
     * was taken counts as done: history below it may be partly deleted,
     * and etcd itself finishes it on start and refuses those revisions. */
    if ((rc = read_rev_meta(b, "finishedCompactRev", &compacted, err)) != EDR_OK ||
        (rc = read_rev_meta(b, "scheduledCompactRev", &scheduled, err)) != EDR_OK)
        return rc;
    if (scheduled > compacted)
        compacted = scheduled;
    if (c->rev > 0 && c->rev < compacted)
        return edr_err_set(err, EDR_E_NOTFOUND, "revision %" PRId64 " is compacted", c->rev);
    c->err = err;
    edr_err_clear(err);
    rc = edr_bolt_foreach(b, EDR_MVCC_BUCKET_KEY, 3, on_live_kv, c, err);
    if (rc != EDR_OK && rc != EDR_E_NOTFOUND)
        return rc;
    edr_err_clear(err);
    if (c->rev > 0 && !c->beyond && c->rev > c->maxmain)
        return edr_err_set(err, EDR_E_NOTFOUND,
                           "revision %" PRId64 " is a future revision (current %" PRId64 ")",
                           c->rev, c->maxmain);
    return EDR_OK;
}

struct sitem {
    const uint8_t *k;
    size_t kl;
    const struct live_ent *e;
};

static int
sitem_cmp(const void *a, const void *b)
{
    const struct sitem *x = a, *y = b;

    return edr_keycmp(x->k, x->kl, y->k, y->kl);
}

/* Live entries sorted by key; *items malloc'ed. */
static edr_rc
sorted_live(struct livemap *lm, struct sitem **items, size_t *n, struct edr_err *err)
{
    size_t m = 0;

    *items = malloc((lm->n ? lm->n : 1) * sizeof(**items));
    if (*items == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < lm->n; i++) {
        if (lm->ents[i].dead)
            continue;
        (*items)[m].k = lm->arena + lm->ents[i].koff;
        (*items)[m].kl = lm->ents[i].klen;
        (*items)[m].e = &lm->ents[i];
        m++;
    }
    qsort(*items, m, sizeof(**items), sitem_cmp);
    *n = m;
    return EDR_OK;
}

edr_rc
edr_mvcc_foreach_live(struct edr_bolt *b, const uint8_t *prefix, size_t prefix_len, int64_t rev,
                      int (*cb)(void *ud, const struct edr_kv *kv), void *ud, struct edr_err *err)
{
    struct live_scan c;
    struct sitem *items = NULL;
    size_t n = 0;
    uint8_t *v = NULL;
    edr_rc rc;

    memset(&c, 0, sizeof(c));
    c.prefix = prefix;
    c.plen = prefix_len;
    c.rev = rev;
    if ((rc = edr_mvcc_live_scan(b, &c, err)) != EDR_OK)
        goto out;
    if ((rc = sorted_live(&c.lm, &items, &n, err)) != EDR_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        uint8_t rk[EDR_MVCC_REV_LEN];
        struct edr_kv kv;
        size_t vl;
        int r;

        edr_put_be64(rk, (uint64_t)items[i].e->main);
        rk[8] = '_';
        edr_put_be64(rk + 9, (uint64_t)items[i].e->sub);
        free(v);
        v = NULL;
        if ((rc = edr_bolt_get(b, EDR_MVCC_BUCKET_KEY, 3, rk, sizeof(rk), &v, &vl, err)) != EDR_OK)
            goto out;
        if ((rc = edr_mvcc_kv_decode(v, vl, &kv, err)) != EDR_OK)
            goto out;
        edr_err_clear(err);
        r = cb(ud, &kv);
        if (r < 0) {
            rc = err != NULL && err->code != EDR_OK
                     ? err->code
                     : edr_err_set(err, EDR_E_INTERNAL, "aborted by the callback");
            goto out;
        }
        if (r > 0)
            break;
    }
out:
    free(v);
    free(items);
    edr_mvcc_livemap_release(&c.lm);
    return rc;
}
