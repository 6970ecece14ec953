/*
 * Capture of a bbolt image streaming past (see bolt.h). Every page whose
 * header carries its own id is a candidate run head, even inside another
 * run: freed pages keep stale headers whose overflow counts can cover pages
 * reused since, so runs may overlap and each candidate is assembled on its
 * own. The stream goes through a window that holds the bytes from the oldest
 * run still being assembled; runs are handed over whole.
 */
#include "common/bytes.h"
#include "bolt/bolt.h"
#include "bolt/format.h"
#include "bolt/capture.h"
#include "common/grow.h"
#include "stream/stream.h"

#include <stdlib.h>
#include <string.h>

#define META_MAGIC 0xED0CDAEDu
#define MAX_RUN (64u << 20) /* larger runs are not kept (as src/bolt/scan.c) */
#define STEP (4u << 20)     /* bytes taken into the window at a time */
#define ARENA_CHUNK (1u << 20)
#define MAX_SUM_KEY 255

/* 12 bytes per page of the image */
struct rec {
    uint16_t flags, count;
    uint32_t overflow;
    uint32_t kind_ref; /* kind << 30 | CAP_RAW: index in raws, CAP_SUM: in sums */
};

#define REF_MAX ((1u << 30) - 1)
#define PGID_HINT_MAX (1u << 20) /* pages preallocated from the meta's count (a 4 GiB db) */

static enum cap_kind
rec_kind(const struct rec *r)
{
    return (enum cap_kind)(r->kind_ref >> 30);
}

static uint32_t
rec_ref(const struct rec *r)
{
    return r->kind_ref & REF_MAX;
}

static void
rec_set(struct rec *r, enum cap_kind kind, uint32_t ref)
{
    r->kind_ref = (uint32_t)kind << 30 | ref;
}

struct sum {
    uint32_t id;
    uint32_t first_off, last_off; /* in keys */
    uint8_t first_len, last_len;
};

struct pending {
    uint64_t start, n;
};

struct capture {
    struct edr_stream base;
    edr_bolt_leaf_fn leaf;
    void *ud;
    size_t trailer;
    size_t raw_cap, raw_used;
    uint32_t ps;
    uint64_t pgid_hint; /* meta 0's page count: the size of recs to start with */
    int incomplete;
    uint64_t total;
    uint64_t work; /* bytes of the runs taken */
    /* the window: stream bytes from page wpg on */
    uint8_t *win;
    size_t wlen, wcap;
    uint64_t wpg, next_pg;
    struct pending *pend;
    size_t npend, cappend;
    /* what was kept */
    struct rec *recs;
    uint64_t nrecs;
    const uint8_t **raws;
    size_t nraws, capraws;
    uint8_t **chunks; /* raw bytes live here, never moved */
    size_t nchunks, capchunks, chunk_used;
    struct sum *sums;
    size_t nsums, capsums;
    uint8_t *keys;
    size_t klen, kcap;
};

static struct rec *
rec_at(struct capture *c, uint64_t pgid)
{
    if (pgid >= c->nrecs) {
        uint64_t nc = c->nrecs ? c->nrecs : c->pgid_hint > 4096 ? c->pgid_hint : 4096;
        struct rec *nr;
        while (nc <= pgid)
            nc *= 2;
        if (nc > SIZE_MAX / sizeof(*nr))
            return NULL;
        if (c->recs == NULL) /* calloc: pages never written cost nothing */
            nr = calloc((size_t)nc, sizeof(*nr));
        else if ((nr = realloc(c->recs, nc * sizeof(*nr))) != NULL)
            memset(nr + c->nrecs, 0, (size_t)(nc - c->nrecs) * sizeof(*nr));
        if (nr == NULL)
            return NULL;
        c->recs = nr;
        c->nrecs = nc;
    }
    return &c->recs[pgid];
}

/* A copy of a run that stays put until the capture is freed. */
static const uint8_t *
keep_raw(struct capture *c, const uint8_t *p, size_t len)
{
    uint8_t *dst;

    if (c->nchunks == c->capchunks &&
        edr_grow(&c->chunks, &c->capchunks, c->nchunks + 1, sizeof(*c->chunks)) != 0)
        return NULL;
    if (len >= ARENA_CHUNK / 4) {
        /* big runs get a block of their own, slotted in before the current chunk */
        if ((dst = malloc(len)) == NULL)
            return NULL;
        if (c->nchunks > 0) {
            c->chunks[c->nchunks] = c->chunks[c->nchunks - 1];
            c->chunks[c->nchunks - 1] = dst;
        } else {
            c->chunks[0] = dst;
            c->chunk_used = ARENA_CHUNK; /* no open chunk yet */
        }
        c->nchunks++;
    } else {
        if (c->nchunks == 0 || c->chunk_used + len > ARENA_CHUNK) {
            if ((dst = malloc(ARENA_CHUNK)) == NULL)
                return NULL;
            c->chunks[c->nchunks++] = dst;
            c->chunk_used = 0;
        }
        dst = c->chunks[c->nchunks - 1] + c->chunk_used;
        c->chunk_used += len;
    }
    memcpy(dst, p, len);
    return dst;
}

/* Key i of a leaf run, or -1 when out of bounds. */
static int
leaf_key(const uint8_t *p, size_t len, unsigned i, const uint8_t **k, size_t *kl)
{
    const uint8_t *e = p + 16 + (size_t)i * 16;
    uint64_t start = 16 + (uint64_t)i * 16 + edr_le32(e + 4), ks = edr_le32(e + 8);

    if (start > len || ks > len - start || ks > MAX_SUM_KEY)
        return -1;
    *k = p + start;
    *kl = (size_t)ks;
    return 0;
}

static int
try_sum(struct capture *c, struct rec *r, const uint8_t *p, size_t len)
{
    const uint8_t *fk, *lk;
    size_t fl, ll;
    uint32_t id;
    int rv;
    struct sum *s;

    if (r->count == 0 || 16 + (size_t)r->count * 16 > len || leaf_key(p, len, 0, &fk, &fl) != 0 ||
        leaf_key(p, len, r->count - 1u, &lk, &ll) != 0)
        return 0;
    if (c->nsums >= REF_MAX ||
        edr_grow(&c->sums, &c->capsums, c->nsums + 1, sizeof(*c->sums)) != 0 ||
        edr_grow(&c->keys, &c->kcap, c->klen + fl + ll, 1) != 0 || c->klen > UINT32_MAX / 2)
        return -1;
    if ((rv = c->leaf(c->ud, p, len, &id)) != 1)
        return rv;
    s = &c->sums[c->nsums];
    s->id = id;
    s->first_off = (uint32_t)c->klen;
    s->first_len = (uint8_t)fl;
    memcpy(c->keys + c->klen, fk, fl);
    c->klen += fl;
    s->last_off = (uint32_t)c->klen;
    s->last_len = (uint8_t)ll;
    memcpy(c->keys + c->klen, lk, ll);
    c->klen += ll;
    rec_set(r, CAP_SUM, (uint32_t)c->nsums++);
    return 1;
}

static void
take_run(struct capture *c, uint64_t pgid, const uint8_t *p, size_t len)
{
    struct rec *r = &c->recs[pgid];
    const uint8_t *kept;

    /* Overlapping runs are read once each: a crafted image could make that
     * quadratic. Past twice the bytes seen, the file reader, linear in the
     * pages it reaches, does the work instead. */
    c->work += len;
    if (c->work > 2 * c->total + MAX_RUN) {
        c->incomplete = 1;
        return;
    }
    if (r->flags == F_LEAF && c->leaf != NULL) {
        int rv = try_sum(c, r, p, len);
        if (rv < 0)
            c->incomplete = 1; /* out of memory */
        if (rv != 0)
            return;
    }
    if (c->raw_used + len > c->raw_cap || c->nraws >= REF_MAX)
        return; /* stays CAP_HDR: a walk that needs it finds the capture incomplete */
    if (edr_grow(&c->raws, &c->capraws, c->nraws + 1, sizeof(*c->raws)) != 0 ||
        (kept = keep_raw(c, p, len)) == NULL) {
        c->incomplete = 1;
        return;
    }
    c->raw_used += len;
    c->raws[c->nraws] = kept;
    rec_set(r, CAP_RAW, (uint32_t)c->nraws++);
}

/* Records the header of page next_pg (at pg) if it carries its own id.
 * Returns the pages of the run it starts, or 0 when it starts none. */
static uint64_t
header(struct capture *c, const uint8_t *pg)
{
    uint16_t flags = edr_le16(pg + 8);
    uint64_t n = edr_le32(pg + 12) + 1ull;
    struct rec *r;

    if (edr_le64(pg) != c->next_pg)
        return 0;
    if ((r = rec_at(c, c->next_pg)) == NULL) {
        c->incomplete = 1;
        return 0;
    }
    rec_set(r, CAP_HDR, 0);
    r->flags = flags;
    r->count = edr_le16(pg + 10);
    r->overflow = edr_le32(pg + 12);
    if (!(flags == F_BRANCH || flags == F_LEAF || flags == F_FREELIST ||
          (flags == F_META && c->next_pg < 2)) ||
        n * c->ps > MAX_RUN)
        return 0;
    return n;
}

/* With the window empty: takes the runs that lie whole in buf straight from
 * it. Returns the bytes done: whole pages, up to the first run that does
 * not end in buf (the window takes it from there). */
static size_t
direct(struct capture *c, const uint8_t *p, size_t len)
{
    uint64_t npages = len / c->ps, i;

    for (i = 0; i < npages && !c->incomplete; i++, c->next_pg++) {
        const uint8_t *pg = p + (size_t)i * c->ps;
        uint64_t n = header(c, pg);
        if (n == 0)
            continue;
        if (i + n > npages)
            break;
        take_run(c, c->next_pg, pg, (size_t)n * c->ps);
    }
    return (size_t)i * c->ps;
}

/* Bytes the window still needs to complete its runs and its last page. */
static size_t
window_need(const struct capture *c)
{
    uint64_t end = c->next_pg + 1;

    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].start + c->pend[i].n > end)
            end = c->pend[i].start + c->pend[i].n;
    return (size_t)(end - c->wpg) * c->ps - c->wlen;
}

/* Looks at every whole page now in the window, hands over the runs that are
 * complete and drops the bytes nothing needs any more. */
static void
advance(struct capture *c)
{
    uint64_t avail = c->wpg + c->wlen / c->ps, keep;
    size_t i, j, drop;

    for (; c->next_pg < avail; c->next_pg++) {
        uint64_t n = header(c, c->win + (size_t)(c->next_pg - c->wpg) * c->ps);
        if (n == 0)
            continue;
        if (edr_grow(&c->pend, &c->cappend, c->npend + 1, sizeof(*c->pend)) != 0) {
            c->incomplete = 1;
            continue;
        }
        c->pend[c->npend].start = c->next_pg;
        c->pend[c->npend].n = n;
        c->npend++;
    }
    keep = c->next_pg;
    for (i = j = 0; i < c->npend; i++) {
        struct pending pd = c->pend[i];
        if (pd.start + pd.n <= avail) {
            take_run(c, pd.start, c->win + (size_t)(pd.start - c->wpg) * c->ps,
                     (size_t)pd.n * c->ps);
            continue;
        }
        if (pd.start < keep)
            keep = pd.start;
        c->pend[j++] = pd;
    }
    c->npend = j;
    drop = (size_t)(keep - c->wpg) * c->ps;
    memmove(c->win, c->win + drop, c->wlen - drop);
    c->wlen -= drop;
    c->wpg = keep;
}

static edr_rc
cap_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct capture *c = (struct capture *)s;
    const uint8_t *p = buf;
    size_t total = len;

    c->total += len;
    while (len > 0 && !c->incomplete) {
        size_t n;
        if (c->ps != 0 && c->wlen == 0) {
            n = direct(c, p, len);
            p += n;
            len -= n;
            c->wpg = c->next_pg;
            if (len == 0 || c->incomplete)
                break;
        }
        n = len < STEP ? len : STEP;
        /* only what completes the window's runs: the rest may go direct */
        if (c->ps != 0 && window_need(c) < n)
            n = window_need(c);
        if (edr_grow(&c->win, &c->wcap, c->wlen + n, 1) != 0) {
            c->incomplete = 1;
            break;
        }
        memcpy(c->win + c->wlen, p, n);
        c->wlen += n;
        p += n;
        len -= n;
        if (c->ps == 0) {
            uint32_t ps;
            if (c->wlen < 72)
                continue;
            /* meta 0 gives the page size; anything odd is left to the
             * reader proper, working on a file */
            ps = edr_le32(c->win + 24);
            if (edr_le32(c->win + 16) != META_MAGIC || ps < 4096 || ps > (16u << 20) ||
                (ps & (ps - 1)) != 0) {
                c->incomplete = 1;
                break;
            }
            c->ps = ps;
            c->pgid_hint =
                edr_le64(c->win + 56) < PGID_HINT_MAX ? edr_le64(c->win + 56) : PGID_HINT_MAX;
        }
        advance(c);
    }
    if (c->incomplete) {
        free(c->win);
        c->win = NULL;
        c->wlen = c->wcap = 0;
    }
    return edr_stream_write(s->next, buf, total, err);
}

static edr_rc
cap_finish(struct edr_stream *s, struct edr_err *err)
{
    return edr_stream_finish(s->next, err);
}

static void
cap_free(struct edr_stream *s)
{
    struct capture *c = (struct capture *)s;

    if (c == NULL)
        return;
    for (size_t i = 0; i < c->nchunks; i++)
        free(c->chunks[i]);
    free(c->chunks);
    free(c->win);
    free(c->pend);
    free(c->recs);
    free(c->raws);
    free(c->sums);
    free(c->keys);
    free(c);
}

static const struct edr_stream_ops cap_ops = {"bolt-capture", cap_write, cap_finish, cap_free};

struct edr_stream *
edr_bolt_capture_new(struct edr_stream *next, size_t trailer, size_t raw_cap, edr_bolt_leaf_fn leaf,
                     void *ud)
{
    struct capture *c = calloc(1, sizeof(*c));

    if (c == NULL)
        return NULL;
    c->base.ops = &cap_ops;
    c->base.next = next;
    c->trailer = trailer;
    c->raw_cap = raw_cap;
    c->leaf = leaf;
    c->ud = ud;
    return &c->base;
}

int
edr_bolt_capture_page(const struct edr_stream *s, uint64_t pgid, struct cap_page *out)
{
    const struct capture *c = (const struct capture *)s;
    const struct rec *r;

    memset(out, 0, sizeof(*out));
    if (pgid >= c->nrecs)
        return -1;
    r = &c->recs[pgid];
    out->kind = rec_kind(r);
    out->flags = r->flags;
    out->count = r->count;
    out->overflow = r->overflow;
    if (out->kind == CAP_RAW) {
        out->p = c->raws[rec_ref(r)];
        out->len = ((size_t)r->overflow + 1) * c->ps;
    } else if (out->kind == CAP_SUM) {
        const struct sum *sm = &c->sums[rec_ref(r)];
        out->sum_id = sm->id;
        out->first_key = c->keys + sm->first_off;
        out->first_len = sm->first_len;
        out->last_key = c->keys + sm->last_off;
        out->last_len = sm->last_len;
    }
    return 0;
}

void
edr_bolt_capture_geometry(const struct edr_stream *s, uint32_t *page_size, uint64_t *file_size,
                          int *complete)
{
    const struct capture *c = (const struct capture *)s;
    uint64_t whole = c->next_pg * c->ps;

    *page_size = c->ps;
    *file_size = c->total >= c->trailer ? c->total - c->trailer : 0;
    /* complete: no page looked at held trailer bytes (a partial last page
     * is ignored, as the file reader ignores it) */
    *complete =
        !c->incomplete && c->ps != 0 && c->total >= c->trailer && whole <= c->total - c->trailer;
}
