/*
 * The status of a snapshot streaming past: a bbolt capture keeps what the
 * walk needs, and each `key`-bucket leaf run is summed up here as it
 * streams past (its share of the hash, its last revision, its effect on the
 * live-key map) instead of being kept whole.
 */
#include "mvcc/intern.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/grow.h"
#include "common/hash.h"
#include "stream/stream.h"

/* Most of a snapshot is leaves of the `key` bucket: the capture hands each
 * such run here while it streams past, and keeps only what the final walk
 * needs of it: its share of the hash (CRC-32C, combined in tree order), its
 * last revision, and per pair the live-key map entry and whether it is a
 * tombstone, applied in tree order (= revision order) by the walk. A run
 * with anything the walk would report is left to the capture, which keeps
 * it whole, so the walk finds and reports it exactly as from a file. */
#define SCAN_RAW_CAP (256u << 20)

static int
scan_leaf(void *ud, const uint8_t *run, size_t len, uint32_t *id)
{
    struct edr_mvcc_scan *s = ud;
    unsigned n = edr_le16(run + 10);
    struct leafsum sum = {0, 0, 0, s->nents, 0, 0};
    const uint8_t *pk = NULL, *k = NULL;
    size_t pkl = 0, kl = 0;
    struct edr_err scratch;

    if (n == 0 || 16 + (size_t)n * 16 > len || s->nsums >= UINT32_MAX ||
        edr_grow(&s->sums, &s->capsums, s->nsums + 1, sizeof(*s->sums)) != 0)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = run + 16 + (size_t)i * 16, *v;
        uint64_t start = 16 + (uint64_t)i * 16 + edr_le32(e + 4), ks = edr_le32(e + 8),
                 vs = edr_le32(e + 12);
        struct edr_kv kv;
        int64_t main, sub;
        int tomb, oom;
        struct live_ent *le;
        if ((edr_le32(e) & 1) || start > len || ks > len - start || vs > len - start - ks)
            goto leave;
        k = run + start;
        kl = (size_t)ks;
        v = k + ks;
        if ((pk != NULL && edr_keycmp(pk, pkl, k, kl) >= 0) ||
            edr_mvcc_check_rev_kv(k, kl, v, (size_t)vs, &kv, &scratch) != 0)
            goto leave;
        pk = k;
        pkl = kl;
        sum.crc = edr_crc32c(sum.crc, k, kl);
        sum.crc = edr_crc32c(sum.crc, v, (size_t)vs);
        sum.bytes += ks + vs;
        if (vs == 0) {
            sum.markers++; /* a bump-revision marker: no key */
            continue;
        }
        edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb);
        le = edr_mvcc_livemap_get(&s->lm, kv.key, kv.key_len, 1, &oom);
        if (le == NULL || le - s->lm.ents >= (ptrdiff_t)EDR_MVCC_ENT_TOMB ||
            edr_grow(&s->ents, &s->capents, s->nents + 1, sizeof(*s->ents)) != 0 ||
            (s->classify != NULL &&
             edr_grow(&s->cls, &s->capcls, s->nents + 1, sizeof(*s->cls)) != 0)) {
            s->nents = sum.ent_off;
            return -1;
        }
        if (s->classify != NULL)
            s->cls[s->nents] = tomb ? 0 : s->classify(s->classify_ud, &kv);
        s->ents[s->nents].ref = (uint32_t)(le - s->lm.ents) | (tomb ? EDR_MVCC_ENT_TOMB : 0);
        s->ents[s->nents++].vlen = kv.value_len < UINT32_MAX ? (uint32_t)kv.value_len : UINT32_MAX;
    }
    sum.last_rev = (int64_t)edr_be64(k);
    sum.ent_n = s->nents - sum.ent_off;
    s->sums[s->nsums] = sum;
    *id = (uint32_t)s->nsums++;
    return 1;
leave:
    s->nents = sum.ent_off;
    return 0;
}

void
edr_mvcc_scan_take_map(struct edr_mvcc_scan *s, struct livemap *lm)
{
    struct livemap t = s->lm;

    s->lm = *lm;
    *lm = t;
}

edr_rc
edr_mvcc_scan_new(struct edr_mvcc_scan **out, struct edr_err *err)
{
    struct edr_mvcc_scan *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL ||
        (s->cap = edr_bolt_capture_new(NULL, 32, SCAN_RAW_CAP, scan_leaf, s)) == NULL) {
        free(s);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    *out = s;
    return EDR_OK;
}

struct edr_stream *
edr_mvcc_scan_stream(struct edr_mvcc_scan *s)
{
    return s->cap;
}

/* The status walk over the capture; *redo when it needs the file. */
static edr_rc
scan_walk(struct edr_mvcc_scan *s, int strict, struct edr_mvcc_status *st, int *redo,
          struct edr_err *err)
{
    struct edr_bolt *b = NULL;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    if ((rc = edr_bolt_open_capture(s->cap, "snapshot.db", &b, redo, err)) != EDR_OK)
        return rc;
    rc = edr_mvcc_status_walk(b, st, strict, s, err);
    *redo = rc != EDR_OK && (edr_bolt_incomplete(b) || s->members_summed);
    edr_bolt_close(b);
    return rc;
}

edr_rc
edr_mvcc_scan_status(struct edr_mvcc_scan *s, struct edr_mvcc_status *st, int *redo,
                     struct edr_err *err)
{
    return scan_walk(s, 1, st, redo, err);
}

void
edr_mvcc_scan_free(struct edr_mvcc_scan *s)
{
    if (s == NULL)
        return;
    edr_stream_free(s->cap);
    edr_mvcc_livemap_release(&s->lm);
    free(s->ents);
    free(s->cls);
    free(s->sums);
    free(s);
}

void
edr_mvcc_scan_classify(struct edr_mvcc_scan *s,
                       uint16_t (*classify)(void *ud, const struct edr_kv *kv), void *ud)
{
    s->classify = classify;
    s->classify_ud = ud;
}

edr_rc
edr_mvcc_scan_live_classes(struct edr_mvcc_scan *s,
                           int (*cb)(void *ud, const uint8_t *key, size_t kl, uint16_t cls),
                           void *ud, struct edr_err *err)
{
    for (size_t i = 0; i < s->lm.n; i++) {
        const struct live_ent *e = &s->lm.ents[i];
        if (!e->dead && cb(ud, s->lm.arena + e->koff, e->klen, e->cls) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    return EDR_OK;
}

edr_rc
edr_mvcc_scan_inspect(struct edr_mvcc_scan *s, struct edr_mvcc_status *st,
                      struct edr_k8s_stats **k8s, int *redo, struct edr_err *err)
{
    edr_rc rc;

    *k8s = NULL;
    if ((rc = scan_walk(s, 0, st, redo, err)) != EDR_OK)
        return rc;
    if (s->keys_lenient) {
        *redo = 1;
        return edr_err_set(err, EDR_E_INTEGRITY, "'key' pairs the Kubernetes view would refuse");
    }
    return edr_mvcc_k8s_from_map(&s->lm, k8s, err);
}
