/*
 * import --from gardener SRC: Gardener etcd-backup-restore's delta snapshots
 * under SRC/v2/ (a directory or s3://BUCKET/PREFIX) stored as change
 * segments (src/import/gardener.h, doc/pitr.md), one per delta, linked into
 * chains that start after a full snapshot, so that `restore --to-revision`
 * reaches every revision they cover.
 *
 * Everything is checked before anything is stored: every delta is read,
 * its hash and events checked, and the revisions of all of them compared
 * (a gap or an overlap between deltas, or a first delta that follows no full
 * snapshot, is refused naming the files). Only then are the segments
 * published, each complete (data, then manifest) or not at all. A segment
 * already in the repository with the same revisions and records is kept,
 * so a second run stores nothing new.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "cmd/import_gardener.h"
#include "common/grow.h"
#include "common/hash.h"
#include "common/log.h"
#include "import/gardener.h"
#include "storage/storage.h"

struct gobj {
    char name[512]; /* object name in the source */
    const char *base;
    struct edr_gardener_name n;
    uint64_t size;
    /* deltas, after the check */
    char records_sha256[65];
    int64_t first_ms, last_ms;
    uint64_t events;
    int chain_start;
};

struct gsrc {
    struct edr_storage *st;
    const char *dir; /* "v2/" or "" */
    struct gobj *o;
    size_t n, cap;
    size_t chunks;
};

static int
on_entry(const struct edr_storage_entry *e, void *ud)
{
    struct gsrc *s = ud;
    const char *rest = e->name + strlen(s->dir);
    struct gobj g;

    memset(&g, 0, sizeof(g));
    if (strchr(rest, '/') != NULL) {
        /* "<snapshot>/<n>": a chunk of an upload Gardener did not finish */
        s->chunks++;
        return 0;
    }
    if (edr_gardener_parse_name(rest, &g.n) != 0 || strlen(e->name) >= sizeof(g.name))
        return 0;
    snprintf(g.name, sizeof(g.name), "%s", e->name);
    g.size = e->size;
    if (edr_grow(&s->o, &s->cap, s->n + 1, sizeof(*s->o)) != 0)
        return 1;
    s->o[s->n++] = g;
    return 0;
}

static int
by_revision(const void *a, const void *b)
{
    const struct gobj *x = a, *y = b;
    if (x->n.last != y->n.last)
        return x->n.last < y->n.last ? -1 : 1;
    if (x->n.start != y->n.start)
        return x->n.start < y->n.start ? -1 : 1;
    if (x->n.full != y->n.full)
        return x->n.full ? -1 : 1;
    return x->n.created < y->n.created ? -1 : x->n.created > y->n.created;
}

/* Fetch, decompress and convert one delta. */
static edr_rc
load_delta(struct gsrc *s, struct gobj *g, struct edr_gardener_delta *d, struct edr_err *err)
{
    char *raw = NULL;
    size_t len = 0;
    struct edr_buf plain = {0};
    edr_rc rc;

    memset(d, 0, sizeof(*d));
    if ((rc = edr_storage_get_buf(s->st, g->name, EDR_GARDENER_DELTA_MAX, &raw, &len, err)) !=
        EDR_OK)
        return rc;
    if ((rc = edr_gardener_decompress(g->n.comp, (const uint8_t *)raw, len, &plain, g->base,
                                      err)) == EDR_OK &&
        (rc = edr_gardener_delta_parse(plain.data, plain.len, g->base, d, err)) == EDR_OK) {
        if (d->first_rev != g->n.start || d->last_rev != g->n.last)
            rc = edr_err_set(err, EDR_E_INTEGRITY,
                             "'%s': its events run from revision %" PRId64 " to %" PRId64
                             ", its name says %" PRId64 " to %" PRId64,
                             g->base, d->first_rev, d->last_rev, g->n.start, g->n.last);
    }
    free(raw);
    edr_buf_release(&plain);
    return rc;
}

/* The full snapshot whose (named) revision is rev, or NULL. */
static const struct gobj *
full_at(const struct gsrc *s, int64_t rev)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->o[i].n.full && s->o[i].n.last == rev)
            return &s->o[i];
    return NULL;
}

/* Revisions: each delta follows the one before, or starts a chain right
 * after a full snapshot. */
static edr_rc
check_continuity(const struct gsrc *s, struct gobj **deltas, size_t nd, struct edr_err *err)
{
    for (size_t i = 0; i < nd; i++) {
        struct gobj *g = deltas[i], *p = i > 0 ? deltas[i - 1] : NULL;
        if (p != NULL && g->n.start <= p->n.last)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "overlap: '%s' starts at revision %" PRId64
                               ", '%s' already holds revisions up to %" PRId64,
                               g->base, g->n.start, p->base, p->n.last);
        if (p != NULL && g->n.start == p->n.last + 1)
            continue;
        if (full_at(s, g->n.start - 1) == NULL) {
            if (p != NULL)
                return edr_err_set(err, EDR_E_INTEGRITY,
                                   "gap: revisions %" PRId64 "-%" PRId64
                                   " are in no snapshot, between '%s' and '%s'",
                                   p->n.last + 1, g->n.start - 1, p->base, g->base);
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "gap: '%s' starts at revision %" PRId64
                               " and no full snapshot ends at revision %" PRId64,
                               g->base, g->n.start, g->n.start - 1);
        }
        g->chain_start = 1;
    }
    return EDR_OK;
}

static const struct edr_segment *
existing(const struct edr_segment *segs, size_t n, int64_t first, int64_t last)
{
    for (size_t i = 0; i < n; i++)
        if (segs[i].first_revision == first && segs[i].last_revision == last)
            return &segs[i];
    return NULL;
}

edr_rc
edr_cmd_import_gardener(struct edr_ctx *ctx, const char *src)
{
    struct gsrc s;
    struct edr_storage_opts so;
    struct edr_backup_params p;
    struct edr_backup_writer w;
    struct edr_backup_summary sum;
    struct edr_storage_lock *lock = NULL, *clock = NULL;
    struct gobj **deltas = NULL;
    struct edr_segment *segs = NULL;
    struct edr_seg_problem *probs = NULL;
    size_t nd = 0, nsegs = 0, nprobs = 0, stored = 0, kept = 0, nfull = 0;
    char prev[65] = "";
    int json = edr_opt_bool(&ctx->opts, EDR_O_JSON), prepared = 0;
    double t0 = edr_now();
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    memset(&p, 0, sizeof(p));
    memset(&w, 0, sizeof(w));
    memset(&sum, 0, sizeof(sum));
    edr_cmd_storage_opts(ctx, &so);
    if ((rc = edr_storage_open(src, &so, 0, &s.st, &ctx->err)) != EDR_OK)
        goto out;
    /* SRC is Gardener's prefix (holding v2/) or its v2/ itself */
    s.dir = "v2/";
    if ((rc = s.st->ops->list(s.st, s.dir, on_entry, &s, &ctx->err)) != EDR_OK)
        goto out;
    if (s.n == 0) {
        s.dir = "";
        if ((rc = s.st->ops->list(s.st, s.dir, on_entry, &s, &ctx->err)) != EDR_OK)
            goto out;
    }
    if (s.n == 0) {
        rc = edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no Gardener snapshot under '%s' (v2/)", src);
        goto out;
    }
    if (s.chunks > 0)
        edr_warn("%zu chunk object(s) of unfinished uploads under '%s' ignored", s.chunks, src);
    qsort(s.o, s.n, sizeof(*s.o), by_revision);
    deltas = calloc(s.n, sizeof(*deltas));
    if (deltas == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s.n; i++) {
        s.o[i].base = s.o[i].name + strlen(s.dir);
        if (s.o[i].n.full)
            nfull++;
        else
            deltas[nd++] = &s.o[i];
    }
    if ((rc = check_continuity(&s, deltas, nd, &ctx->err)) != EDR_OK)
        goto out;
    /* the first pass: every delta sound, before anything is stored */
    for (size_t i = 0; i < nd; i++) {
        struct edr_gardener_delta d;
        uint8_t sha[32];
        if ((rc = load_delta(&s, deltas[i], &d, &ctx->err)) != EDR_OK) {
            edr_gardener_delta_release(&d);
            goto out;
        }
        edr_sha256_buf(d.records.data, d.records.len, sha);
        edr_hex(sha, 32, deltas[i]->records_sha256);
        deltas[i]->events = d.events;
        deltas[i]->first_ms = d.first_ms;
        deltas[i]->last_ms = d.last_ms;
        edr_gardener_delta_release(&d);
    }
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 0, &p, &ctx->err)) != EDR_OK)
        goto out;
    prepared = 1;
    if ((rc = edr_backup_prepare(ctx, &p, &w, &lock, &sum)) != EDR_OK)
        goto out;
    if ((rc = edr_repo_lock_named(w.repo, "changes/.lock", p.lock_wait, &clock, &ctx->err)) !=
            EDR_OK ||
        (rc = edr_segment_list(w.repo, &segs, &nsegs, &probs, &nprobs, &ctx->err)) != EDR_OK)
        goto out;
    /* every delta either stored already, identical, or free to store */
    for (size_t i = 0; i < nd; i++) {
        const struct gobj *g = deltas[i];
        const struct edr_segment *e = existing(segs, nsegs, g->n.start, g->n.last);
        if (e != NULL && strcmp(e->records_sha256, g->records_sha256) != 0) {
            rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY,
                             "'%s': the repository already holds other changes for revisions "
                             "%" PRId64 "-%" PRId64,
                             g->base, g->n.start, g->n.last);
            goto out;
        }
        for (size_t j = 0; e == NULL && j < nsegs; j++)
            if (segs[j].first_revision <= g->n.last && segs[j].last_revision >= g->n.start) {
                rc = edr_err_set(
                    &ctx->err, EDR_E_INTEGRITY,
                    "'%s': revisions %" PRId64 "-%" PRId64
                    " overlap changes already in the repository (%" PRId64 "-%" PRId64 ")",
                    g->base, g->n.start, g->n.last, segs[j].first_revision, segs[j].last_revision);
                goto out;
            }
    }
    /* the second pass: publish, each segment linked to the one before */
    for (size_t i = 0; i < nd; i++) {
        struct gobj *g = deltas[i];
        struct edr_gardener_delta d;
        struct edr_segment seg;
        uint8_t sha[32];
        char hex[65];

        if (g->chain_start)
            prev[0] = '\0';
        if (existing(segs, nsegs, g->n.start, g->n.last) != NULL) {
            snprintf(prev, sizeof(prev), "%s", g->records_sha256);
            kept++;
            continue;
        }
        if (edr_cmd_interrupted()) {
            rc = edr_err_set(&ctx->err, EDR_E_INTERRUPTED, "interrupted");
            goto out;
        }
        if ((rc = load_delta(&s, g, &d, &ctx->err)) != EDR_OK) {
            edr_gardener_delta_release(&d);
            goto out;
        }
        edr_sha256_buf(d.records.data, d.records.len, sha);
        edr_hex(sha, 32, hex);
        if (strcmp(hex, g->records_sha256) != 0) {
            edr_gardener_delta_release(&d);
            rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' changed while it was imported",
                             g->base);
            goto out;
        }
        memset(&seg, 0, sizeof(seg));
        seg.first_revision = g->n.start;
        seg.last_revision = g->n.last;
        seg.first_time_ms = d.first_ms;
        seg.last_time_ms = d.last_ms;
        seg.events = d.events;
        snprintf(seg.prev_sha256, sizeof(seg.prev_sha256), "%s", prev);
        rc = edr_segment_publish(w.repo, w.rcpt, w.nrcpt, w.level, &seg, d.records.data,
                                 d.records.len, &ctx->err);
        edr_gardener_delta_release(&d);
        if (rc != EDR_OK) {
            edr_err_prefix(&ctx->err, "%s", g->base);
            goto out;
        }
        snprintf(prev, sizeof(prev), "%s", seg.records_sha256);
        stored++;
        edr_info("imported '%s' as changes %" PRId64 "-%" PRId64 " (%" PRIu64 " events)", g->base,
                 seg.first_revision, seg.last_revision, seg.events);
    }
    if (json)
        printf("{\"from\":\"gardener\",\"deltas\":%zu,\"stored\":%zu,\"already_present\":%zu,"
               "\"full_snapshots\":%zu}\n",
               nd, stored, kept, nfull);
    else
        printf("gardener: %zu delta snapshot(s): %zu stored as change segments, %zu already "
               "present; %zu full snapshot(s)\n",
               nd, stored, kept, nfull);
out:
    if (clock != NULL)
        edr_repo_unlock(w.repo, clock);
    free(segs);
    free(probs);
    free(deltas);
    free(s.o);
    edr_storage_free(s.st);
    if (prepared)
        rc = edr_backup_finish(&w, lock, &sum, rc, t0);
    edr_backup_params_release(&p);
    return rc;
}
