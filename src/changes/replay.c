/*
 * Point-in-time restore: plan and replay (see replay.h).
 */
#include "changes/replay.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/grow.h"
#include "bolt/bolt.h"
#include "common/pb.h"
#include "mvcc/mvcc.h"

struct replay_lease {
    int64_t id, ttl; /* ttl 0: not captured */
    int used;
};

/* segs[i + 1] continues segs[i] */
static int
links(const struct edr_segment *segs, size_t i)
{
    return segs[i + 1].first_revision == segs[i].last_revision + 1 &&
           strcmp(segs[i + 1].prev_sha256, segs[i].records_sha256) == 0;
}

edr_rc
edr_replay_plan(const struct edr_manifest *backups, size_t nb, const struct edr_segment *segs,
                size_t nsegs, int64_t to, size_t *backup, size_t *first, size_t *last,
                struct edr_err *err)
{
    int found = 0;
    int64_t best = -1, lo = INT64_MAX, hi = 0, changes_hi = 0;

    for (size_t b = 0; b < nb; b++) {
        int64_t rev = edr_backup_base_rev(backups[b].revision);
        size_t i, j;

        if (rev < lo)
            lo = rev;
        if (rev > hi)
            hi = rev;
        if (rev > to || rev <= best)
            continue;
        if (rev == to) {
            found = 1, best = rev, *backup = b, *first = 1, *last = 0;
            continue;
        }
        for (i = 0; i < nsegs; i++)
            if (segs[i].first_revision <= rev + 1 && segs[i].last_revision >= rev + 1)
                break;
        for (j = i; j < nsegs && segs[j].last_revision < to && j + 1 < nsegs && links(segs, j);)
            j++;
        if (i < nsegs && j < nsegs && segs[j].last_revision >= to) {
            found = 1, best = rev, *backup = b, *first = i, *last = j;
        }
    }
    for (size_t i = 0; i < nsegs; i++)
        if (segs[i].last_revision > changes_hi)
            changes_hi = segs[i].last_revision;
    if (found)
        return EDR_OK;
    if (nb == 0)
        return edr_err_set(err, EDR_E_NOTFOUND,
                           "revision %" PRId64 " is not recoverable: the repository has no backup",
                           to);
    return edr_err_set(err, EDR_E_NOTFOUND,
                       "revision %" PRId64 " is not recoverable: no backup at or below it is "
                       "continued by captured changes up to it (backups at revisions %" PRId64
                       "..%" PRId64 ", changes up to %" PRId64 "; 'etcd-dr list' shows the ranges)",
                       to, lo, hi, changes_hi);
}

struct time_scan {
    int64_t t_ms, rev;
};

static edr_rc
time_cb(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct time_scan *ts = ud;

    (void)err;
    if (r->type != EDR_SEG_LEASE && r->time_ms <= ts->t_ms && r->rev > ts->rev)
        ts->rev = r->rev;
    return EDR_OK;
}

edr_rc
edr_replay_time_to_rev(struct edr_repo *repo, struct edr_identity *identity,
                       const struct edr_manifest *backups, size_t nb,
                       const struct edr_segment *segs, size_t nsegs, int64_t t_ms, int64_t *rev,
                       struct edr_err *err)
{
    struct time_scan ts = {t_ms, 0};
    edr_rc rc;

    for (size_t b = 0; b < nb; b++)
        if ((int64_t)backups[b].finished * 1000 <= t_ms && backups[b].revision > ts.rev)
            ts.rev = backups[b].revision;
    for (size_t i = 0; i < nsegs; i++) {
        const struct edr_segment *s = &segs[i];
        if (s->first_time_ms > t_ms || s->last_revision <= ts.rev)
            continue;
        if (s->last_time_ms <= t_ms) {
            ts.rev = s->last_revision;
            continue;
        }
        if ((rc = edr_segment_read(repo, s, identity, time_cb, &ts, err)) != EDR_OK)
            return rc;
    }
    if (ts.rev == 0)
        return edr_err_set(err, EDR_E_NOTFOUND,
                           "nothing in the repository is as old as the time asked for");
    *rev = ts.rev;
    return EDR_OK;
}

static struct replay_lease *
lease_get(struct edr_replay *r, int64_t id)
{
    for (size_t i = r->nleases; i-- > 0;)
        if (r->leases[i].id == id)
            return &r->leases[i];
    if (edr_grow(&r->leases, &r->capleases, r->nleases + 1, sizeof(*r->leases)) != 0)
        return NULL;
    r->leases[r->nleases] = (struct replay_lease){id, 0, 0};
    return &r->leases[r->nleases++];
}

static edr_rc
record_cb(void *ud, const struct edr_seg_record *rec, struct edr_err *err)
{
    struct edr_replay *r = ud;
    uint8_t key[18];
    struct replay_lease *l;
    struct edr_kv kv;
    edr_rc rc;

    if (rec->rev <= r->from_rev || rec->rev > r->to_rev)
        return EDR_OK;
    if (rec->type == EDR_SEG_LEASE) {
        if ((l = lease_get(r, rec->lease_id)) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        if (rec->lease_ttl > 0)
            l->ttl = rec->lease_ttl;
        return EDR_OK;
    }
    if (rec->rev != r->cur_rev) {
        r->cur_rev = rec->rev;
        r->sub = 0;
    } else {
        r->sub++;
    }
    if ((rc = edr_mvcc_kv_decode(rec->kv, rec->kv_len, &kv, err)) != EDR_OK)
        return edr_err_prefix(err, "revision %" PRId64, rec->rev);
    switch (edr_restore_drop_key(r->drop, kv.key, kv.key_len, rec->type == EDR_SEG_DEL, err)) {
    case 1: /* --drop-prefix: its sub-revision stays unused, as after a compaction */
        r->last_rev = rec->rev;
        return EDR_OK;
    case -1:
        return err->code;
    }
    edr_put_be64(key, (uint64_t)rec->rev);
    key[8] = '_';
    edr_put_be64(key + 9, (uint64_t)r->sub);
    if (rec->type == EDR_SEG_DEL) {
        /* etcd's tombstone: the revision marked 't', a KeyValue of just the key */
        struct edr_kv t = {kv.key, kv.key_len, NULL, 0, 0, 0, 0, 0};
        size_t need = edr_mvcc_kv_encode(&t, NULL, 0);
        if (edr_grow(&r->tomb, &r->tomb_cap, need, 1) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        edr_mvcc_kv_encode(&t, r->tomb, need);
        key[17] = 't';
        rc = edr_bolt_writer_put(r->w, key, 18, r->tomb, need, err);
    } else {
        if (kv.lease != 0) {
            if ((l = lease_get(r, kv.lease)) == NULL)
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            l->used = 1;
        }
        rc = edr_bolt_writer_put(r->w, key, 17, rec->kv, rec->kv_len, err);
    }
    if (rc == EDR_OK) {
        r->events++;
        r->last_rev = rec->rev;
    }
    return rc;
}

edr_rc
edr_replay_append_keys(void *ud, struct edr_bolt_writer *w, struct edr_err *err)
{
    struct edr_replay *r = ud;
    edr_rc rc;

    r->w = w;
    for (size_t i = r->first; i <= r->last && r->first <= r->last; i++) {
        if ((rc = edr_segment_read(r->repo, &r->segs[i], r->identity, record_cb, r, err)) != EDR_OK)
            return rc;
        if (i < r->last && !links(r->segs, i))
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "segment after revision %" PRId64 " does not continue the chain",
                               r->segs[i].last_revision);
    }
    if (r->last_rev != r->to_rev && r->first <= r->last)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "the changes end at revision %" PRId64 ", not %" PRId64, r->last_rev,
                           r->to_rev);
    return EDR_OK;
}

static int
cmp_lease(const void *a, const void *b)
{
    const struct replay_lease *x = a, *y = b;
    uint64_t u = (uint64_t)x->id, v = (uint64_t)y->id;

    return u < v ? -1 : u > v;
}

edr_rc
edr_replay_lease_entries(void *ud, struct edr_bolt *src, const struct edr_restore_kv **kvs,
                         size_t *n, struct edr_err *err)
{
    struct edr_replay *r = ud;
    size_t k = 0;

    *kvs = NULL;
    *n = 0;
    if (r->nleases == 0)
        return EDR_OK;
    qsort(r->leases, r->nleases, sizeof(*r->leases), cmp_lease);
    r->lease_kvs = calloc(r->nleases, sizeof(*r->lease_kvs));
    r->lease_bytes = malloc(r->nleases * (8 + 2 * (1 + EDR_PB_VARINT_MAX)));
    if (r->lease_kvs == NULL || r->lease_bytes == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < r->nleases; i++) {
        const struct replay_lease *l = &r->leases[i];
        uint8_t *key = r->lease_bytes + i * (8 + 2 * (1 + EDR_PB_VARINT_MAX)), *val = key + 8;
        struct edr_pb_writer pw;

        if (!l->used)
            continue;
        edr_put_be64(key, (uint64_t)l->id);
        if (l->ttl == 0) {
            /* not captured: the backup's own entry, when it has one, is right */
            uint8_t *v = NULL;
            size_t vl;
            edr_rc rc = edr_bolt_get(src, "lease", 5, key, 8, &v, &vl, err);
            free(v);
            if (rc == EDR_OK)
                continue;
            if (rc != EDR_E_NOTFOUND)
                return rc;
            edr_err_clear(err);
        }
        /* leasepb.Lease{ID, TTL} */
        edr_pb_writer_init(&pw, val, 2 * (1 + EDR_PB_VARINT_MAX));
        edr_pb_put_uint(&pw, 1, (uint64_t)l->id);
        edr_pb_put_uint(&pw, 2, (uint64_t)(l->ttl > 0 ? l->ttl : EDR_REPLAY_LEASE_TTL_UNKNOWN));
        r->lease_kvs[k++] = (struct edr_restore_kv){key, 8, val, pw.len};
    }
    *kvs = r->lease_kvs;
    *n = k;
    return EDR_OK;
}

void
edr_replay_release(struct edr_replay *r)
{
    free(r->tomb);
    free(r->leases);
    free(r->lease_kvs);
    free(r->lease_bytes);
    r->tomb = NULL;
    r->leases = NULL;
    r->lease_kvs = NULL;
    r->lease_bytes = NULL;
}
