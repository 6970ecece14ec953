/*
 * import --from gardener SRC: a Gardener etcd-backup-restore store (a
 * directory or s3://BUCKET/PREFIX holding v2/, or v2/ itself;
 * src/import/gardener.h has the facts). Full snapshots become backups
 * (edr_import_snapshot, origin "gardener" with the snapshot's own time), and
 * delta snapshots change segments (doc/pitr.md), one per delta, linked into
 * chains that start after a full snapshot, so that `restore --to-revision`
 * reaches every revision they cover.
 *
 * Everything is checked before anything is stored: every full snapshot is
 * decompressed once (its size counted, its SHA-256 trailer checked), every
 * delta read (its hash and events checked), and the revisions of the deltas
 * compared (a gap or an overlap between deltas, or a first delta that
 * follows no full snapshot, is refused naming the files). Only then are the
 * backups stored, then the segments, each complete (data, then manifest) or
 * not at all. A backup already imported from the same object (same source,
 * size and hash) and a segment already in the repository with the same
 * revisions and records are kept, so a second run stores nothing new.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "cmd/import.h"
#include "cmd/import_gardener.h"
#include "common/grow.h"
#include "common/hash.h"
#include "common/log.h"
#include "import/gardener.h"
#include "storage/storage.h"
#include <jansson.h>
#include <unistd.h>

struct gobj {
    char name[512]; /* object name in the source */
    const char *base;
    struct edr_gardener_name n;
    uint64_t size;
    /* deltas, after the check */
    char records_sha256[65];
    uint64_t events;
    int chain_start;
    /* full snapshots, after the check */
    uint64_t plain_size;
    char sha256[65]; /* of the object as stored */
    uint64_t stored_size;
    /* the outcome */
    const char *result;
    char id[64];
    int64_t revision;
};

struct gsrc {
    struct edr_storage *st;
    const char *arg; /* SRC as given */
    int local;       /* SRC is a directory: objects are read in place */
    const char *dir; /* "v2/" or "" */
    struct gobj *o;
    size_t n, cap;
    size_t chunks;
    int oom;
};

static int
on_entry(const struct edr_storage_entry *e, void *ud)
{
    struct gsrc *s = ud;
    const char *rest = e->name + strlen(s->dir);
    struct gobj g;

    memset(&g, 0, sizeof(g));
    if (strchr(rest, '/') != NULL) {
        /* under v2/, "<snapshot>/<n>" is a chunk of an upload Gardener did
         * not finish; anything else deeper is not Gardener's */
        if (s->dir[0] != '\0')
            s->chunks++;
        return 0;
    }
    if (edr_gardener_parse_name(rest, &g.n) != 0 || strlen(e->name) >= sizeof(g.name))
        return 0;
    snprintf(g.name, sizeof(g.name), "%s", e->name);
    g.size = e->size;
    if (edr_grow(&s->o, &s->cap, s->n + 1, sizeof(*s->o)) != 0) {
        s->oom = 1;
        return 1;
    }
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

/* Where an object is, for messages and the backup's origin. */
static void
source_of(const struct gsrc *s, const struct gobj *g, char *buf, size_t n)
{
    size_t l = strlen(s->arg);
    snprintf(buf, n, "%s%s%s", s->arg, l > 0 && s->arg[l - 1] == '/' ? "" : "/", g->name);
}

/* An object as a file: the file itself in a directory, an S3 object copied
 * into a private temporary file (unlinked at once). -1 with err set. */
static int
object_fd(const struct gsrc *s, const struct gobj *g, struct edr_err *err)
{
    char path[4096];
    int fd;

    source_of(s, g, path, sizeof(path));
    if (s->local) {
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            edr_err_errno(err, errno == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, errno,
                          "unable to open '%s'", path);
        return fd;
    }
    return edr_import_object_fd(s->st, g->name, path, err);
}

/* Pulls a file's bytes from the start, for the reader. */
struct fd_pull {
    int fd;
    uint64_t off;
    const char *what;
    struct edr_sha256 *h; /* the stored bytes' hash, when not NULL */
};

static edr_rc
pull_fd(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err)
{
    struct fd_pull *f = ud;
    ssize_t k;

    do
        k = pread(f->fd, buf, n, (off_t)f->off);
    while (k < 0 && errno == EINTR);
    if (k < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to read '%s'", f->what);
    if (f->h != NULL)
        edr_sha256_update(f->h, buf, (size_t)k);
    f->off += (uint64_t)k;
    *got = (size_t)k;
    return EDR_OK;
}

/* The first pass over a full snapshot: decompressed whole, its size
 * counted, its trailer checked (etcd's snapshot stream ends with the
 * SHA-256 of the bbolt image), the stored bytes hashed. */
static edr_rc
check_full(const struct gsrc *s, struct gobj *g, struct edr_err *err)
{
    struct edr_gardener_reader *r = NULL;
    struct edr_sha256 stored, db;
    struct fd_pull f = {-1, 0, g->base, &stored};
    uint8_t *buf = malloc(1 << 16), tail[32], d[32];
    size_t got, tl = 0;
    edr_rc rc;

    stored.ctx = db.ctx = NULL;
    if (buf == NULL || edr_sha256_init(&stored) != 0 || edr_sha256_init(&db) != 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((f.fd = object_fd(s, g, err)) < 0) {
        rc = err->code;
        goto out;
    }
    if ((rc = edr_gardener_reader_new(g->n.comp, pull_fd, &f, g->base, &r, err)) != EDR_OK)
        goto out;
    g->plain_size = 0;
    /* everything but the last 32 bytes goes into the image's hash */
    for (;;) {
        if ((rc = edr_gardener_reader_read(r, buf, 1 << 16, &got, err)) != EDR_OK)
            goto out;
        if (got == 0)
            break;
        g->plain_size += got;
        if (got >= 32) {
            edr_sha256_update(&db, tail, tl);
            edr_sha256_update(&db, buf, got - 32);
            memcpy(tail, buf + got - 32, 32);
            tl = 32;
        } else {
            size_t spill = tl + got > 32 ? tl + got - 32 : 0;
            edr_sha256_update(&db, tail, spill);
            memmove(tail, tail + spill, tl - spill);
            memcpy(tail + tl - spill, buf, got);
            tl = tl - spill + got;
        }
    }
    if (g->plain_size % 512 != 32 || tl != 32) {
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "'%s': not an etcd snapshot (no sha256 trailer after the database)",
                         g->base);
        goto out;
    }
    edr_sha256_final(&db, d);
    if (memcmp(d, tail, 32) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': sha256 mismatch (damaged full snapshot)",
                         g->base);
        goto out;
    }
    edr_sha256_final(&stored, d);
    edr_hex(d, 32, g->sha256);
    g->stored_size = f.off;
out:
    edr_gardener_reader_free(r);
    if (f.fd >= 0)
        close(f.fd);
    edr_sha256_release(&stored);
    edr_sha256_release(&db);
    free(buf);
    return rc;
}

struct full_in {
    struct edr_gardener_reader *r;
};

static edr_rc
full_read(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err)
{
    return edr_gardener_reader_read(((struct full_in *)ud)->r, buf, n, got, err);
}

/* The second pass: the full snapshot stored as a backup, unless it was
 * imported before. */
static edr_rc
import_full(struct edr_ctx *ctx, const struct edr_backup_params *p, const struct gsrc *s,
            struct gobj *g)
{
    struct edr_manifest_origin o;
    struct edr_import_input in;
    struct edr_backup_summary sum;
    struct full_in fi = {NULL};
    struct fd_pull f = {-1, 0, g->base, NULL};
    int already = 0;
    edr_rc rc;

    memset(&o, 0, sizeof(o));
    memset(&sum, 0, sizeof(sum));
    snprintf(o.tool, sizeof(o.tool), "gardener");
    source_of(s, g, o.source, sizeof(o.source));
    o.time = (time_t)g->n.created;
    o.size = g->stored_size;
    snprintf(o.sha256, sizeof(o.sha256), "%s", g->sha256);
    if ((f.fd = object_fd(s, g, &ctx->err)) < 0)
        return ctx->err.code;
    if ((rc = edr_gardener_reader_new(g->n.comp, pull_fd, &f, g->base, &fi.r, &ctx->err)) ==
        EDR_OK) {
        in.read = full_read;
        in.ud = &fi;
        in.size = g->plain_size;
        in.what = g->base;
        rc = edr_import_snapshot(ctx, p, &o, &in, 0, &already, &sum);
    }
    edr_gardener_reader_free(fi.r);
    close(f.fd);
    if (rc == EDR_OK) {
        g->result = already ? "already imported" : "imported";
        snprintf(g->id, sizeof(g->id), "%s", sum.manifest.id);
        g->revision = sum.manifest.revision;
    }
    return rc;
}

static void
report(struct edr_ctx *ctx, const struct gsrc *s)
{
    char src[1100];

    if (edr_opt_bool(&ctx->opts, EDR_O_JSON)) {
        json_t *a = json_array(), *o;
        for (size_t i = 0; i < s->n; i++) {
            const struct gobj *g = &s->o[i];
            source_of(s, g, src, sizeof(src));
            if (g->n.full)
                o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "source", src, "kind", "full", "result",
                              g->result, "backup_id", g->id, "revision", (json_int_t)g->revision);
            else
                o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I}", "source", src, "kind", "delta",
                              "result", g->result, "first_revision", (json_int_t)g->n.start,
                              "last_revision", (json_int_t)g->n.last, "events",
                              (json_int_t)g->events);
            json_array_append_new(a, o);
        }
        o = json_pack("{s:b, s:o}", "ok", 1, "results", a);
        edr_cmd_print_json(o); /* frees it */
        return;
    }
    printf("%-48s  %-16s  %-28s  %s\n", "SOURCE", "RESULT", "STORED AS", "REVISIONS");
    for (size_t i = 0; i < s->n; i++) {
        const struct gobj *g = &s->o[i];
        char revs[48];
        source_of(s, g, src, sizeof(src));
        if (g->n.full)
            snprintf(revs, sizeof(revs), "%" PRId64, g->revision);
        else
            snprintf(revs, sizeof(revs), "%" PRId64 "-%" PRId64, g->n.start, g->n.last);
        printf("%-48s  %-16s  %-28s  %s\n", src, g->result, g->n.full ? g->id : "changes", revs);
    }
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
                                   " are in no delta snapshot, between '%s' and '%s', "
                                   "and no full snapshot ends at revision %" PRId64,
                                   p->n.last + 1, g->n.start - 1, p->base, g->base, g->n.start - 1);
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

/* A delta conflicts with the repository's segments: other records for the
 * same revisions, or a segment that overlaps it otherwise. */
static edr_rc
check_against(const struct edr_segment *segs, size_t nsegs, struct gobj **deltas, size_t nd,
              struct edr_err *err)
{
    for (size_t i = 0; i < nd; i++) {
        const struct gobj *g = deltas[i];
        const struct edr_segment *e = existing(segs, nsegs, g->n.start, g->n.last);
        if (e != NULL && strcmp(e->records_sha256, g->records_sha256) != 0)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "'%s': the repository already holds other changes for revisions "
                               "%" PRId64 "-%" PRId64,
                               g->base, g->n.start, g->n.last);
        for (size_t j = 0; e == NULL && j < nsegs; j++)
            if (segs[j].first_revision <= g->n.last && segs[j].last_revision >= g->n.start)
                return edr_err_set(
                    err, EDR_E_INTEGRITY,
                    "'%s': revisions %" PRId64 "-%" PRId64
                    " overlap changes already in the repository (%" PRId64 "-%" PRId64 ")",
                    g->base, g->n.start, g->n.last, segs[j].first_revision, segs[j].last_revision);
    }
    return EDR_OK;
}

/* The repository's segments, read without the lock (the check before any
 * backup is stored; it is repeated under the lock). A missing repository
 * has none. */
static edr_rc
peek_segments(struct edr_ctx *ctx, struct gobj **deltas, size_t nd)
{
    struct edr_repo *repo = NULL;
    struct edr_segment *segs = NULL;
    struct edr_seg_problem *probs = NULL;
    size_t nsegs = 0, nprobs = 0;
    edr_rc rc;

    if ((rc = edr_cmd_open_repo(ctx, 0, &repo)) != EDR_OK) {
        edr_err_clear(&ctx->err);
        return EDR_OK; /* edr_backup_prepare says what is wrong with it */
    }
    if ((rc = edr_segment_list(repo, &segs, &nsegs, &probs, &nprobs, &ctx->err)) == EDR_OK)
        rc = check_against(segs, nsegs, deltas, nd, &ctx->err);
    free(segs);
    free(probs);
    edr_repo_free(repo);
    return rc;
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
    size_t nd = 0, nsegs = 0, nprobs = 0;
    char prev[65] = "";
    int prepared = 0;
    double t0 = edr_now();
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    memset(&p, 0, sizeof(p));
    memset(&w, 0, sizeof(w));
    memset(&sum, 0, sizeof(sum));
    s.arg = src;
    s.local = strncmp(src, "s3://", 5) != 0;
    edr_cmd_storage_opts(ctx, &so);
    if (s.local) {
        struct stat sb;
        int r = stat(src, &sb), e = errno;
        if (r != 0) {
            rc = edr_err_errno(&ctx->err, e == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, e,
                               "unable to open '%s'", src);
            goto out;
        }
        if (!S_ISDIR(sb.st_mode)) {
            rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                             "'%s' is not a directory (--from gardener reads a directory "
                             "holding v2/, or an s3:// prefix)",
                             src);
            goto out;
        }
    }
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 0, &p, &ctx->err)) != EDR_OK ||
        (rc = edr_storage_open(src, &so, 0, &s.st, &ctx->err)) != EDR_OK)
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
    if (s.oom) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if (s.n == 0) {
        rc = edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no Gardener snapshot in '%s' (v2/)", src);
        goto out;
    }
    if (s.chunks > 0)
        edr_warn("%zu chunk object(s) of unfinished uploads in '%s' ignored", s.chunks, src);
    qsort(s.o, s.n, sizeof(*s.o), by_revision);
    deltas = calloc(s.n, sizeof(*deltas));
    if (deltas == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < s.n; i++) {
        s.o[i].base = s.o[i].name + strlen(s.dir);
        if (!s.o[i].n.full)
            deltas[nd++] = &s.o[i];
    }
    if ((rc = check_continuity(&s, deltas, nd, &ctx->err)) != EDR_OK)
        goto out;
    /* the first pass: every snapshot sound, before anything is stored */
    for (size_t i = 0; i < s.n; i++) {
        struct gobj *g = &s.o[i];
        struct edr_gardener_delta d;
        uint8_t sha[32];
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK)
            goto out;
        if (g->n.full) {
            if ((rc = check_full(&s, g, &ctx->err)) != EDR_OK)
                goto out;
            continue;
        }
        if ((rc = load_delta(&s, g, &d, &ctx->err)) != EDR_OK) {
            edr_gardener_delta_release(&d);
            goto out;
        }
        edr_sha256_buf(d.records.data, d.records.len, sha);
        edr_hex(sha, 32, g->records_sha256);
        g->events = d.events;
        edr_gardener_delta_release(&d);
    }
    if ((rc = peek_segments(ctx, deltas, nd)) != EDR_OK)
        goto out;
    /* the full snapshots as backups */
    for (size_t i = 0; i < s.n; i++) {
        if (!s.o[i].n.full)
            continue;
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK ||
            (rc = import_full(ctx, &p, &s, &s.o[i])) != EDR_OK)
            goto out;
    }
    /* the deltas as segments, under the repository's and the changes' locks */
    prepared = 1;
    if ((rc = edr_backup_prepare(ctx, &p, &w, &lock, &sum)) != EDR_OK)
        goto out;
    if ((rc = edr_repo_lock_named(w.repo, "changes/.lock", p.lock_wait, &clock, &ctx->err)) !=
            EDR_OK ||
        (rc = edr_segment_list(w.repo, &segs, &nsegs, &probs, &nprobs, &ctx->err)) != EDR_OK ||
        (rc = check_against(segs, nsegs, deltas, nd, &ctx->err)) != EDR_OK)
        goto out;
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
            g->result = "already imported";
            continue;
        }
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK)
            goto out;
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
        if (g->chain_start) {
            const struct gobj *f = full_at(&s, g->n.start - 1);
            snprintf(seg.base, sizeof(seg.base), "%s", f != NULL ? f->id : "");
        }
        rc = edr_segment_publish(w.repo, w.rcpt, w.nrcpt, w.level, &seg, d.records.data,
                                 d.records.len, &ctx->err);
        edr_gardener_delta_release(&d);
        if (rc != EDR_OK) {
            edr_err_prefix(&ctx->err, "%s", g->base);
            goto out;
        }
        snprintf(prev, sizeof(prev), "%s", seg.records_sha256);
        g->result = "imported";
        edr_info("imported '%s' as changes %" PRId64 "-%" PRId64 " (%" PRIu64 " events)", g->base,
                 seg.first_revision, seg.last_revision, seg.events);
    }
    report(ctx, &s);
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
