/*
 * Streaming bbolt scan (see scan.h). Pages are assembled one run (page plus
 * overflow pages) at a time; runs larger than SCAN_MAX_RUN are skipped and
 * make the result invalid rather than using unbounded memory.
 */
#include "common/bytes.h"
#include "bolt/scan.h"
#include "bolt/format.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX_RUN (64u << 20)
#define META_MAGIC 0xED0CDAEDu

struct bucket_ref {
    uint64_t leaf_pgid; /* the page the element was found in */
    char name[64];
    size_t name_len;
    uint64_t root; /* 0 = inline */
    uint32_t inline_count;
    int64_t inline_maxrev;
};

struct branch {
    uint64_t pgid;
    uint32_t off, n; /* children[off .. off+n) */
};

struct scan {
    struct edr_stream base;
    uint8_t *run; /* current page run being assembled */
    size_t run_len, run_need, run_cap;
    uint64_t pos_pages; /* pgid of the run being assembled */
    uint64_t skip;      /* bytes of an oversized run still to skip */
    uint32_t ps;
    /* per page data */
    uint32_t *count; /* leaf: element count (UINT32_MAX = not a leaf) */
    int64_t *maxrev;
    uint64_t npages_cap;
    struct branch *branches; /* in page order: pages arrive in order */
    size_t nbranches, capbranches;
    uint64_t *children;
    size_t nchildren, capchildren;
    struct bucket_ref *buckets;
    size_t nbuckets, capbuckets;
    struct {
        int ok;
        uint64_t root, pgid, txid;
    } meta[2];
    int bad;
    char error[256];
    struct edr_bolt_scan_result res;
    int computed;
};

static void
fail(struct scan *s, const char *msg, uint64_t pgid)
{
    if (!s->bad) {
        s->bad = 1;
        snprintf(s->error, sizeof(s->error), "page %llu: %s", (unsigned long long)pgid, msg);
    }
}

static int
grow_pages(struct scan *s, uint64_t need)
{
    uint64_t nc;

    if (need <= s->npages_cap)
        return 0;
    nc = s->npages_cap ? s->npages_cap : 1024;
    while (nc < need)
        nc *= 2;
#define GROW(field)                                                                                \
    do {                                                                                           \
        void *p = realloc(s->field, nc * sizeof(*s->field));                                       \
        if (p == NULL)                                                                             \
            return -1;                                                                             \
        s->field = p;                                                                              \
        memset(s->field + s->npages_cap, 0, (nc - s->npages_cap) * sizeof(*s->field));             \
    } while (0)
    GROW(count);
    GROW(maxrev);
#undef GROW
    for (uint64_t i = s->npages_cap; i < nc; i++)
        s->count[i] = UINT32_MAX;
    s->npages_cap = nc;
    return 0;
}

static int64_t
rev_of(const uint8_t *k, uint32_t klen)
{
    if ((klen == 17 || (klen == 18 && k[17] == 't')) && k[8] == '_')
        return (int64_t)edr_be64(k);
    return -1;
}

/* Leaf elements: count non-bucket pairs, track the highest revision key,
 * record bucket elements. `base` is the page image, len its bytes. */
static void
scan_leaf(struct scan *s, uint64_t pgid, const uint8_t *base, size_t len, uint16_t n, uint32_t *cnt,
          int64_t *maxrev, int record_buckets)
{
    *cnt = 0;
    *maxrev = -1;
    if (16 + (size_t)n * 16 > len) {
        fail(s, "element array out of bounds", pgid);
        return;
    }
    for (uint16_t i = 0; i < n; i++) {
        const uint8_t *e = base + 16 + (size_t)i * 16;
        uint32_t flags = edr_le32(e), pos = edr_le32(e + 4), ks = edr_le32(e + 8),
                 vs = edr_le32(e + 12);
        size_t off = (size_t)(e - base) + pos;
        if (off + (size_t)ks + vs > len) {
            fail(s, "element out of bounds", pgid);
            return;
        }
        if (flags & 1) {
            struct bucket_ref b;
            if (!record_buckets || vs < 16)
                continue;
            memset(&b, 0, sizeof(b));
            b.leaf_pgid = pgid;
            b.name_len = ks < sizeof(b.name) ? ks : sizeof(b.name);
            memcpy(b.name, base + off, b.name_len);
            b.root = edr_le64(base + off + ks);
            b.inline_maxrev = -1;
            if (b.root == 0 && vs >= 32) {
                const uint8_t *ip = base + off + ks + 16;
                scan_leaf(s, pgid, ip, vs - 16, edr_le16(ip + 10), &b.inline_count,
                          &b.inline_maxrev, 0);
            }
            if (s->nbuckets == s->capbuckets) {
                size_t nc = s->capbuckets ? s->capbuckets * 2 : 16;
                void *p = realloc(s->buckets, nc * sizeof(*s->buckets));
                if (p == NULL) {
                    fail(s, "out of memory", pgid);
                    return;
                }
                s->buckets = p;
                s->capbuckets = nc;
            }
            s->buckets[s->nbuckets++] = b;
        } else {
            int64_t r = rev_of(base + off, ks);
            (*cnt)++;
            if (r > *maxrev)
                *maxrev = r;
        }
    }
}

static void
process_run(struct scan *s, uint64_t pgid, const uint8_t *p, size_t len)
{
    uint16_t flags = edr_le16(p + 8), n = edr_le16(p + 10);

    if (grow_pages(s, pgid + 1) != 0) {
        fail(s, "out of memory", pgid);
        return;
    }
    if (pgid < 2) {
        const uint8_t *m = p + 16;
        if (flags == F_META && edr_le32(m) == META_MAGIC && edr_le32(m + 4) == 2 &&
            edr_bolt_fnv1a64(m, 56) == edr_le64(m + 56)) {
            s->meta[pgid].ok = 1;
            s->meta[pgid].root = edr_le64(m + 16);
            s->meta[pgid].pgid = edr_le64(m + 40);
            s->meta[pgid].txid = edr_le64(m + 48);
        }
        return;
    }
    if (flags == F_LEAF) {
        scan_leaf(s, pgid, p, len, n, &s->count[pgid], &s->maxrev[pgid], 1);
    } else if (flags == F_BRANCH) {
        if (16 + (size_t)n * 16 > len) {
            fail(s, "element array out of bounds", pgid);
            return;
        }
        if (s->nchildren + n > s->capchildren) {
            size_t nc = s->capchildren ? s->capchildren : 4096;
            void *np;
            while (nc < s->nchildren + n)
                nc *= 2;
            np = realloc(s->children, nc * sizeof(*s->children));
            if (np == NULL) {
                fail(s, "out of memory", pgid);
                return;
            }
            s->children = np;
            s->capchildren = nc;
        }
        if (s->nbranches == s->capbranches) {
            size_t nc = s->capbranches ? s->capbranches * 2 : 256;
            void *nb = realloc(s->branches, nc * sizeof(*s->branches));
            if (nb == NULL) {
                fail(s, "out of memory", pgid);
                return;
            }
            s->branches = nb;
            s->capbranches = nc;
        }
        s->branches[s->nbranches].pgid = pgid;
        s->branches[s->nbranches].off = (uint32_t)s->nchildren;
        s->branches[s->nbranches].n = n;
        s->nbranches++;
        for (uint16_t i = 0; i < n; i++)
            s->children[s->nchildren++] = edr_le64(p + 16 + (size_t)i * 16 + 8);
    }
}

static edr_rc
scan_write(struct edr_stream *st, const void *buf, size_t len, struct edr_err *err)
{
    struct scan *s = (struct scan *)st;
    const uint8_t *p = buf;
    size_t total = len;

    while (len > 0) {
        if (s->skip > 0) {
            size_t n = len < s->skip ? len : (size_t)s->skip;
            s->skip -= n;
            p += n;
            len -= n;
            continue;
        }
        if (s->ps == 0 && s->run_need == 0)
            s->run_need = 4096; /* enough for meta 0, then the real page size */
        {
            size_t n = s->run_need - s->run_len;
            if (n > len)
                n = len;
            memcpy(s->run + s->run_len, p, n);
            s->run_len += n;
            p += n;
            len -= n;
        }
        if (s->run_len < s->run_need)
            continue;
        if (s->ps == 0) {
            uint32_t ps = edr_le32(s->run + 24);
            if (edr_le32(s->run + 16) != META_MAGIC || ps < 4096 || ps > (1u << 20) ||
                (ps & (ps - 1)) != 0) {
                fail(s, "invalid meta page", 0);
                s->skip = UINT64_MAX;
                s->run_len = 0;
                continue;
            }
            s->ps = ps;
            if (ps > s->run_cap) {
                uint8_t *nr = realloc(s->run, ps);
                if (nr == NULL)
                    return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                s->run = nr;
                s->run_cap = ps;
            }
            s->run_need = ps;
            if (s->run_len < ps)
                continue;
        }
        if (s->run_need == s->ps && s->run_len == s->ps) {
            uint32_t ovf = edr_le32(s->run + 12);
            uint16_t flags = edr_le16(s->run + 8);
            size_t need = (size_t)(ovf + 1ull) * s->ps;
            if (ovf > 0 && (flags == F_LEAF || flags == F_BRANCH)) {
                if (need > SCAN_MAX_RUN) {
                    fail(s, "page run too large to scan", s->pos_pages);
                    s->skip = need - s->ps;
                    s->pos_pages += ovf + 1ull;
                    s->run_len = 0;
                    s->run_need = s->ps;
                    continue;
                }
                if (need > s->run_cap) {
                    uint8_t *nr = realloc(s->run, need);
                    if (nr == NULL)
                        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                    s->run = nr;
                    s->run_cap = need;
                }
                s->run_need = need;
                continue;
            }
        }
        process_run(s, s->pos_pages, s->run, s->run_len);
        s->pos_pages += s->run_len / s->ps;
        s->run_len = 0;
        s->run_need = s->ps;
    }
    return edr_stream_write(st->next, buf, total, err);
}

static const struct branch *
find_branch(const struct scan *s, uint64_t pgid)
{
    size_t lo = 0, hi = s->nbranches;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->branches[mid].pgid == pgid)
            return &s->branches[mid];
        if (s->branches[mid].pgid < pgid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Sum a tree's leaf counts and highest revision; visited guards against
 * cycles in a corrupt image. */
static void
walk(struct scan *s, uint64_t pgid, uint64_t limit, uint8_t *visited, uint64_t *cnt,
     int64_t *maxrev, int depth)
{
    const struct branch *br;

    if (pgid >= limit || pgid >= s->npages_cap || depth > 64) {
        fail(s, "reference out of bounds", pgid);
        return;
    }
    if (visited[pgid / 8] & (1u << (pgid % 8))) {
        fail(s, "multiple references", pgid);
        return;
    }
    visited[pgid / 8] |= (uint8_t)(1u << (pgid % 8));
    if (s->count[pgid] != UINT32_MAX) {
        *cnt += s->count[pgid];
        if (s->maxrev[pgid] > *maxrev)
            *maxrev = s->maxrev[pgid];
        return;
    }
    br = find_branch(s, pgid);
    if (br == NULL || br->n == 0) {
        fail(s, "not a branch or leaf page", pgid);
        return;
    }
    for (uint32_t i = 0; i < br->n; i++)
        walk(s, s->children[br->off + i], limit, visited, cnt, maxrev, depth + 1);
}

static void
compute(struct scan *s)
{
    struct edr_bolt_scan_result *r = &s->res;
    int m;
    uint8_t *visited = NULL, *rootleaves = NULL;
    uint64_t dummy = 0;
    int64_t dmax = -1;

    memset(r, 0, sizeof(*r));
    r->revision = -1;
    if (s->run_len != 0 && !s->bad)
        fail(s, "truncated image", s->pos_pages);
    m = (s->meta[0].ok && (!s->meta[1].ok || s->meta[0].txid >= s->meta[1].txid)) ? 0
        : s->meta[1].ok                                                           ? 1
                                                                                  : -1;
    if (m < 0)
        fail(s, "no valid meta page", 0);
    if (!s->bad) {
        uint64_t limit = s->meta[m].pgid;
        r->page_size = s->ps;
        r->size = limit * s->ps;
        visited = calloc(limit / 8 + 1, 1);
        rootleaves = calloc(limit / 8 + 1, 1);
        if (visited == NULL || rootleaves == NULL) {
            fail(s, "out of memory", 0);
        } else {
            /* the root bucket tree: remember which leaves belong to it */
            walk(s, s->meta[m].root, limit, visited, &dummy, &dmax, 0);
            memcpy(rootleaves, visited, limit / 8 + 1);
            for (size_t i = 0; i < s->nbuckets && !s->bad; i++) {
                struct bucket_ref *b = &s->buckets[i];
                uint64_t cnt = 0;
                int64_t maxrev = -1;
                if (b->leaf_pgid >= limit ||
                    !(rootleaves[b->leaf_pgid / 8] & (1u << (b->leaf_pgid % 8))))
                    continue; /* a stale copy in a freed page */
                if (b->root == 0) {
                    cnt = b->inline_count;
                    maxrev = b->inline_maxrev;
                } else {
                    walk(s, b->root, limit, visited, &cnt, &maxrev, 0);
                }
                r->total_keys += cnt;
                if (b->name_len == 3 && memcmp(b->name, "key", 3) == 0) {
                    r->key_revisions = cnt;
                    r->revision = maxrev < 0 ? 0 : maxrev;
                }
            }
        }
    }
    free(visited);
    free(rootleaves);
    r->valid = !s->bad;
    if (r->revision < 0)
        r->revision = 0;
    snprintf(r->error, sizeof(r->error), "%s", s->error);
    s->computed = 1;
}

static edr_rc
scan_finish(struct edr_stream *st, struct edr_err *err)
{
    struct scan *s = (struct scan *)st;

    if (!s->computed)
        compute(s);
    return edr_stream_finish(st->next, err);
}

static void
scan_free(struct edr_stream *st)
{
    struct scan *s = (struct scan *)st;

    if (s == NULL)
        return;
    free(s->run);
    free(s->count);
    free(s->maxrev);
    free(s->branches);
    free(s->children);
    free(s->buckets);
    free(s);
}

static const struct edr_stream_ops scan_ops = {"bolt-scan", scan_write, scan_finish, scan_free};

struct edr_stream *
edr_bolt_scan_new(struct edr_stream *next)
{
    struct scan *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->base.ops = &scan_ops;
    s->base.next = next;
    s->run = malloc(4096);
    s->run_cap = 4096;
    if (s->run == NULL) {
        free(s);
        return NULL;
    }
    return &s->base;
}

void
edr_bolt_scan_result(struct edr_stream *st, struct edr_bolt_scan_result *out)
{
    struct scan *s = (struct scan *)st;

    if (!s->computed)
        compute(s);
    *out = s->res;
}
