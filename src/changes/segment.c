/*
 * Change segments in a repository: publish, read back with every check,
 * list, delete (see segment.h).
 */
#include "changes/segment.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/hash.h"
#include "stream/basic.h"
#include "stream/open.h"
#include "stream/seal.h"
#include "stream/tar.h"
#include "stream/zstd.h"

/* -- publish ------------------------------------------------------------- */

edr_rc
edr_segment_publish(struct edr_repo *repo, const struct edr_pubkey *rcpt, size_t nrcpt, int level,
                    struct edr_segment *s, const uint8_t *records, size_t len, struct edr_err *err)
{
    struct edr_storage *st = repo->st;
    struct edr_stream *w = NULL, *sha = NULL, *size = NULL, *seal = NULL, *zst = NULL, *tar = NULL;
    char data[320], man[320], *inner = NULL, *outer = NULL;
    uint8_t digest[32];
    time_t mtime = time(NULL);
    edr_rc rc;

    s->format = EDR_SEG_FORMAT;
    snprintf(s->cluster, sizeof(s->cluster), "%s", repo->cluster);
    s->created = mtime;
    snprintf(s->tool_version, sizeof(s->tool_version), "%s", EDR_VERSION);
    s->compress_level = level;
    s->encrypted = nrcpt > 0;
    s->nrecipients = (int)nrcpt;
    for (size_t i = 0; i < nrcpt && i < EDR_MANIFEST_MAX_RECIPIENTS; i++)
        snprintf(s->recipients[i], sizeof(s->recipients[i]), "%s", rcpt[i].id);
    s->records_size = len;
    edr_sha256_buf(records, len, digest);
    edr_hex(digest, 32, s->records_sha256);
    /* the copy inside cannot know the stored hash */
    memset(s->stored_sha256, '0', 64);
    s->stored_sha256[64] = '\0';
    s->stored_size = 0;
    if ((rc = edr_segment_to_json(s, &inner, err)) != EDR_OK)
        return rc;
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".edr", data,
                     sizeof(data));
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".json", man, sizeof(man));
    if ((rc = st->ops->put_open(st, data, len / 2 + 4096, &w, err)) != EDR_OK ||
        (rc = edr_stream_sha256_new(w, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK ||
        (rc = edr_stream_seal_new(size, rcpt, nrcpt, nrcpt > 0 ? EDR_SEAL_FLAG_ENCRYPTED : 0, &seal,
                                  err)) != EDR_OK ||
        (rc = edr_stream_zstd_compress_new(seal, level, 1, EDR_ZSTD_SIZE_UNKNOWN, &zst, err)) !=
            EDR_OK ||
        (rc = edr_tar_writer_new(zst, &tar, err)) != EDR_OK)
        goto out;
    if ((rc = edr_tar_writer_begin(tar, "changes.bin", len, 0600, mtime, err)) != EDR_OK ||
        (rc = edr_stream_write(tar, records, len, err)) != EDR_OK ||
        (rc = edr_tar_writer_end(tar, err)) != EDR_OK ||
        (rc = edr_tar_writer_begin(tar, "manifest.json", strlen(inner), 0600, mtime, err)) !=
            EDR_OK ||
        (rc = edr_stream_write(tar, inner, strlen(inner), err)) != EDR_OK ||
        (rc = edr_tar_writer_end(tar, err)) != EDR_OK ||
        (rc = edr_stream_finish(tar, err)) != EDR_OK)
        goto out;
    s->stored_size = edr_stream_size_get(size);
    edr_stream_sha256_hex(sha, s->stored_sha256);
    if ((rc = edr_segment_to_json(s, &outer, err)) != EDR_OK ||
        (rc = edr_storage_put_buf(st, man, outer, strlen(outer), err)) != EDR_OK) {
        struct edr_err e2;
        st->ops->del(st, data, &e2); /* data without its manifest is not a segment */
    }
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "segment '%s'", man);
    edr_stream_free(tar);
    edr_stream_free(zst);
    edr_stream_free(seal);
    edr_stream_free(size);
    edr_stream_free(sha);
    edr_stream_free(w); /* discards the object unless finished */
    free(inner);
    free(outer);
    return rc;
}

/* -- read ---------------------------------------------------------------- */

struct seg_reader {
    const struct edr_segment *s;
    edr_seg_record_fn fn;
    void *ud;
    char name[320];
    struct edr_stream *parser, *sha, *mem;
    int saw_records;
    int64_t last_event_rev;
    uint64_t events, leases;
};

/* Every record inside the manifest's range, main revisions without a gap. */
static edr_rc
check_record(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct seg_reader *sr = ud;
    const struct edr_segment *s = sr->s;

    if (r->rev < s->first_revision || r->rev > s->last_revision)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "revision %" PRId64 " outside the segment's %" PRId64 "..%" PRId64,
                           r->rev, s->first_revision, s->last_revision);
    if (r->type == EDR_SEG_LEASE) {
        sr->leases++;
    } else {
        /* revisions before a segment's first event may be empty (etcd's
         * first revision; revisions the base backup holds): from the first
         * event on, every main revision is there */
        int64_t want = sr->last_event_rev == 0 ? r->rev : sr->last_event_rev + 1;
        if (r->rev != sr->last_event_rev && r->rev != want)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "revisions %" PRId64 "..%" PRId64 " are missing", want, r->rev - 1);
        sr->last_event_rev = r->rev;
        sr->events++;
    }
    return sr->fn != NULL ? sr->fn(sr->ud, r, err) : EDR_OK;
}

static edr_rc
seg_entry_begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink,
                struct edr_err *err)
{
    struct seg_reader *sr = ud;
    edr_rc rc;

    (void)size;
    *sink = NULL;
    if (strcmp(name, "changes.bin") == 0 && !sr->saw_records) {
        sr->saw_records = 1;
        if ((rc = edr_seg_parser_new(check_record, sr, "changes.bin", &sr->parser, err)) !=
                EDR_OK ||
            (rc = edr_stream_sha256_new(sr->parser, &sr->sha, err)) != EDR_OK)
            return rc;
        *sink = sr->sha;
    } else if (strcmp(name, "manifest.json") == 0 && sr->mem == NULL) {
        if ((rc = edr_stream_mem_new(16384, "manifest.json", &sr->mem, err)) != EDR_OK)
            return rc;
        *sink = sr->mem;
    }
    return EDR_OK;
}

static edr_rc
check_inner(const struct edr_segment *s, const uint8_t *d, size_t len, struct edr_err *err)
{
    struct edr_segment in;
    struct edr_err e2;

    if (edr_segment_from_json((const char *)d, len, "manifest.json", &in, &e2) != EDR_OK)
        return edr_err_set(err, EDR_E_INTEGRITY, "the manifest inside is invalid: %s", e2.msg);
    if (strcmp(in.cluster, s->cluster) != 0 || in.first_revision != s->first_revision ||
        in.last_revision != s->last_revision || strcmp(in.records_sha256, s->records_sha256) != 0 ||
        strcmp(in.prev_sha256, s->prev_sha256) != 0)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "the manifest inside does not match the one beside it (inside: "
                           "cluster '%s' revisions %" PRId64 "..%" PRId64 ")",
                           in.cluster, in.first_revision, in.last_revision);
    return EDR_OK;
}

edr_rc
edr_segment_read(struct edr_repo *repo, const struct edr_segment *s, struct edr_identity *identity,
                 edr_seg_record_fn fn, void *ud, struct edr_err *err)
{
    struct seg_reader sr;
    struct edr_stream *size = NULL, *sha = NULL, *open = NULL, *zst = NULL, *tar = NULL;
    char hex[65];
    edr_rc rc;

    memset(&sr, 0, sizeof(sr));
    sr.s = s;
    sr.fn = fn;
    sr.ud = ud;
    edr_segment_name(s->cluster, s->first_revision, s->last_revision, ".edr", sr.name,
                     sizeof(sr.name));
    if (strcmp(s->cluster, repo->cluster) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "its manifest names cluster '%s', not '%s'",
                         s->cluster, repo->cluster);
        goto out;
    }
    if ((rc = edr_tar_reader_new(seg_entry_begin, NULL, &sr, &tar, err)) != EDR_OK ||
        (rc = edr_stream_zstd_decompress_new(tar, &zst, err)) != EDR_OK ||
        (rc = edr_stream_open_new(zst, identity, &open, err)) != EDR_OK ||
        (rc = edr_stream_sha256_new(open, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK)
        goto out;
    rc = repo->st->ops->get(repo->st, sr.name, 0, size, err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(size, err);
    if (rc != EDR_OK)
        goto out;
    edr_stream_sha256_hex(sha, hex);
    if (edr_stream_size_get(size) != s->stored_size || strcmp(hex, s->stored_sha256) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "stored object does not match the manifest (sha256 %.16s..., expected "
                         "%.16s...)",
                         hex, s->stored_sha256);
        goto out;
    }
    if (!sr.saw_records) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "no changes.bin inside");
        goto out;
    }
    edr_stream_sha256_hex(sr.sha, hex);
    if (strcmp(hex, s->records_sha256) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "records do not match the manifest's sha256");
        goto out;
    }
    if (sr.last_event_rev != s->last_revision || sr.events != s->events || sr.leases != s->leases) {
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "records end at revision %" PRId64 " with %" PRIu64
                         " events; the manifest says %" PRId64 " and %" PRIu64,
                         sr.last_event_rev, sr.events, s->last_revision, s->events);
        goto out;
    }
    if (sr.mem == NULL) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "no manifest copy inside");
        goto out;
    } else {
        size_t n;
        const uint8_t *d = edr_stream_mem_data(sr.mem, &n);
        rc = check_inner(s, d, n, err);
    }
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "segment '%s'", sr.name);
    edr_stream_free(size);
    edr_stream_free(sha);
    edr_stream_free(open);
    edr_stream_free(zst);
    edr_stream_free(tar);
    edr_stream_free(sr.sha);
    edr_stream_free(sr.parser);
    edr_stream_free(sr.mem);
    return rc;
}

/* -- list and chains ----------------------------------------------------- */

struct names {
    char **v;
    size_t n, cap;
};

struct seg_scan {
    size_t plen;
    struct names man, data;
    int oom;
};

static int
names_add(struct names *ns, const char *s, size_t len)
{
    if (edr_grow(&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v)) != 0 ||
        (ns->v[ns->n] = strndup(s, len)) == NULL)
        return -1;
    ns->n++;
    return 0;
}

static void
names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static int
seg_scan_cb(const struct edr_storage_entry *e, void *ud)
{
    struct seg_scan *sc = ud;
    const char *base = e->name + sc->plen;
    size_t len = strlen(base);

    if (strchr(base, '/') != NULL || base[0] == '.')
        return 0;
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        sc->oom |= names_add(&sc->man, base, len - 5);
    else if (len > 4 && strcmp(base + len - 4, ".edr") == 0)
        sc->oom |= names_add(&sc->data, base, len - 4);
    return sc->oom ? 1 : 0;
}

static int
has_name(const struct names *ns, const char *s)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return 1;
    return 0;
}

static int
cmp_seg(const void *a, const void *b)
{
    const struct edr_segment *x = a, *y = b;

    if (x->first_revision != y->first_revision)
        return x->first_revision < y->first_revision ? -1 : 1;
    return (x->last_revision > y->last_revision) - (x->last_revision < y->last_revision);
}

static int
add_problem(struct edr_seg_problem **pv, size_t *n, size_t *cap, const char *name, const char *msg)
{
    if (edr_grow(pv, cap, *n + 1, sizeof(**pv)) != 0)
        return -1;
    snprintf((*pv)[*n].name, sizeof((*pv)[*n].name), "%s", name);
    snprintf((*pv)[*n].msg, sizeof((*pv)[*n].msg), "%s", msg);
    (*n)++;
    return 0;
}

edr_rc
edr_segment_list(struct edr_repo *repo, struct edr_segment **segs, size_t *n,
                 struct edr_seg_problem **probs, size_t *nprobs, struct edr_err *err)
{
    struct seg_scan sc;
    struct edr_segment *v = NULL;
    struct edr_seg_problem *pv = NULL;
    size_t nv = 0, capv = 0, np = 0, capp = 0;
    char prefix[200];
    edr_rc rc;

    *segs = NULL;
    *n = 0;
    if (probs != NULL)
        *probs = NULL, *nprobs = 0;
    memset(&sc, 0, sizeof(sc));
    snprintf(prefix, sizeof(prefix), "%s/changes/", repo->cluster);
    sc.plen = strlen(prefix);
    rc = repo->st->ops->list(repo->st, prefix, seg_scan_cb, &sc, err);
    if (rc == EDR_OK && sc.oom)
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; rc == EDR_OK && i < sc.man.n; i++) {
        char obj[400], *json = NULL, what[420], want[200];
        size_t len;
        struct edr_segment s;
        struct edr_err e2;
        const char *problem = NULL;

        snprintf(obj, sizeof(obj), "%s%s.json", prefix, sc.man.v[i]);
        snprintf(what, sizeof(what), "segment manifest '%s'", obj);
        if (edr_storage_get_buf(repo->st, obj, 1u << 20, &json, &len, &e2) != EDR_OK ||
            edr_segment_from_json(json, len, what, &s, &e2) != EDR_OK) {
            problem = e2.msg;
        } else {
            edr_segment_name(repo->cluster, s.first_revision, s.last_revision, "", want,
                             sizeof(want));
            if (strcmp(want + sc.plen, sc.man.v[i]) != 0 || strcmp(s.cluster, repo->cluster))
                problem = "its name does not match its cluster and revisions";
            else if (!has_name(&sc.data, sc.man.v[i]))
                problem = "its data file is missing";
        }
        free(json);
        if (problem != NULL) {
            if (probs != NULL && add_problem(&pv, &np, &capp, obj, problem) != 0)
                rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            continue;
        }
        if (edr_grow(&v, &capv, nv + 1, sizeof(*v)) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            break;
        }
        v[nv++] = s;
    }
    for (size_t i = 0; rc == EDR_OK && probs != NULL && i < sc.data.n; i++) {
        char obj[400];
        if (has_name(&sc.man, sc.data.v[i]))
            continue;
        snprintf(obj, sizeof(obj), "%s%s.edr", prefix, sc.data.v[i]);
        if (add_problem(&pv, &np, &capp, obj, "data file without a manifest") != 0)
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    names_free(&sc.man);
    names_free(&sc.data);
    if (rc != EDR_OK) {
        free(v);
        free(pv);
        return rc;
    }
    if (nv > 1)
        qsort(v, nv, sizeof(*v), cmp_seg);
    *segs = v;
    *n = nv;
    if (probs != NULL) {
        *probs = pv;
        *nprobs = np;
    }
    return EDR_OK;
}

edr_rc
edr_segment_delete(struct edr_repo *repo, const struct edr_segment *s, struct edr_err *err)
{
    char name[320];
    edr_rc rc;

    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".json", name,
                     sizeof(name));
    if ((rc = repo->st->ops->del(repo->st, name, err)) != EDR_OK)
        return rc;
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".edr", name,
                     sizeof(name));
    return repo->st->ops->del(repo->st, name, err);
}
