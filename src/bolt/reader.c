/*
 * bbolt reader and checker. Pages are read with pread() into one buffer per
 * tree level (a page and its overflow pages, so values spanning overflow
 * pages come out contiguous); those buffers double as a small cache, so the
 * root bucket's pages are not re-read for every bucket. Nothing is mapped and
 * memory does not grow with the file, except the two bitmaps of a full check.
 * Every length and offset found in the file is bounds-checked before use.
 */
#include "common/bytes.h"
#include "bolt/bolt.h"
#include "bolt/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC 0xED0CDAEDu
#define VERSION 2
#define HDR 16
#define ELEM 16
#define F_BRANCH 0x01
#define F_LEAF 0x02
#define F_META 0x04
#define F_FREELIST 0x10
#define BUCKET_FLAG 0x01
#define NO_FREELIST UINT64_MAX
#define MAX_DEPTH 64
#define MAX_PAGE_SIZE (16u << 20)
#define MIN_PAGE_SIZE 1024u

enum { TREE_ROOT = 0, TREE_BUCKET = 1, NTREES = 2 };

struct run {
    uint64_t pgid; /* UINT64_MAX when the buffer holds nothing */
    uint8_t *buf;
    size_t cap;
    size_t len;
    struct cap_page cp; /* from a capture */
};

#define WINDOW (32u << 10)

struct edr_bolt {
    int fd;
    int own_fd;
    char name[256];
    struct edr_bolt_info info;
    struct run lv[NTREES][MAX_DEPTH];
    /* read-ahead for walks, which mostly visit pages in file order */
    uint8_t *win;
    uint64_t win_off;
    size_t win_len;
    int seq; /* a walk is running: use the window */
    /* an image captured from a stream instead of a file */
    const struct edr_stream *cap;
    uint32_t cap_ps; /* the page size the capture cut the stream at */
    int allow_sum;   /* the running walk takes summed-up leaves */
    int incomplete;  /* a walk needed a page the capture did not keep */
};

/* A page as seen by the walker: a real page run, or an inline bucket page. */
struct page {
    uint64_t id; /* page id; for an inline page, the page holding its bucket */
    int inl;
    const uint8_t *p;
    size_t len;
    uint16_t flags;
    uint16_t count;
    const struct cap_page *sum; /* a summed-up leaf (p is NULL) */
};

static uint64_t
fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Printable form of a key or bucket name for messages. */
static const char *
quote(const uint8_t *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n && o + 5 < cap; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f && s[i] != '\'' && s[i] != '\\')
            out[o++] = (char)s[i];
        else
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", s[i]);
    }
    if (o + 5 >= cap && cap > 4)
        memcpy(out + cap - 4, "...", 4);
    else
        out[o] = '\0';
    return out;
}

static const char *
pname(const struct page *pg, char *out, size_t cap)
{
    snprintf(out, cap, "page %" PRIu64 "%s", pg->id, pg->inl ? " (inline bucket)" : "");
    return out;
}

/* ---- open ---- */

/* Returns NULL when the meta at buf is valid, else why not. */
static const char *
meta_invalid(const uint8_t *m, size_t avail)
{
    if (avail < HDR + 64)
        return "truncated";
    if (edr_le32(m + 16) != MAGIC)
        return "invalid magic";
    if (edr_le32(m + 20) != VERSION)
        return "version mismatch";
    if (edr_le64(m + 72) != fnv1a64(m + 16, 56))
        return "checksum mismatch";
    return NULL;
}

static int
pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    uint8_t *p = buf;

    while (len > 0) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Bytes of the image: from the file, or from a capture's pages. */
static int
src_read(struct edr_bolt *b, void *buf, size_t len, uint64_t off)
{
    struct cap_page cp;
    uint64_t ps = b->cap_ps;

    if (b->cap == NULL)
        return pread_full(b->fd, buf, len, off);
    if (off % ps == 0 && edr_bolt_capture_page(b->cap, off / ps, &cp) == 0 && cp.kind == CAP_RAW &&
        len <= cp.len) {
        memcpy(buf, cp.p, len);
        return 0;
    }
    b->incomplete = 1;
    errno = EIO;
    return -1;
}

static edr_rc
not_captured(struct edr_bolt *b, uint64_t pgid, struct edr_err *err)
{
    b->incomplete = 1;
    return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": not kept by the capture", pgid);
}

static int
valid_page_size(uint64_t ps)
{
    return ps >= MIN_PAGE_SIZE && ps <= MAX_PAGE_SIZE && (ps & (ps - 1)) == 0;
}

static edr_rc
load_meta(struct edr_bolt *b, uint64_t off, uint8_t *buf, size_t *avail, struct edr_err *err)
{
    size_t n = 4096;

    if (off >= b->info.file_size) {
        *avail = 0;
        return EDR_OK;
    }
    if (b->info.file_size - off < n)
        n = (size_t)(b->info.file_size - off);
    if (src_read(b, buf, n, off) != 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to read '%s'", b->name);
    *avail = n;
    return EDR_OK;
}

static edr_rc
open_metas(struct edr_bolt *b, struct edr_err *err)
{
    uint8_t m0[4096], m1[4096];
    size_t a0, a1;
    const char *why0, *why1;
    uint64_t ps = 0;
    const uint8_t *m;
    uint64_t tx0, tx1;
    edr_rc rc;
    int use;

    if ((rc = load_meta(b, 0, m0, &a0, err)) != EDR_OK)
        return rc;
    why0 = meta_invalid(m0, a0);
    if (why0 == NULL && valid_page_size(edr_le32(m0 + 24))) {
        ps = edr_le32(m0 + 24);
    } else {
        /* meta 0 is unusable: look for meta 1 at the plausible page sizes */
        for (int i = 0; i <= 14 && ps == 0; i++) {
            uint64_t off = 1024ull << i;
            if ((rc = load_meta(b, off, m1, &a1, err)) != EDR_OK)
                return rc;
            if (meta_invalid(m1, a1) == NULL && edr_le32(m1 + 24) == off)
                ps = off;
        }
        if (ps == 0) {
            if (why0 == NULL)
                why0 = "invalid page size";
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "'%s' is not a bbolt database: page 0: %s, no valid page 1", b->name,
                               why0);
        }
    }
    if (b->info.file_size < 2 * ps)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "'%s': file size too small (%" PRIu64 " bytes, page size %" PRIu64 ")",
                           b->name, b->info.file_size, ps);
    if ((rc = load_meta(b, ps, m1, &a1, err)) != EDR_OK)
        return rc;
    why1 = meta_invalid(m1, a1);
    if (why0 == NULL && edr_le32(m0 + 24) != ps)
        why0 = "invalid page size";
    if (why1 == NULL && edr_le32(m1 + 24) != ps)
        why1 = "invalid page size";
    if (why0 != NULL && why1 != NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': no valid meta page: page 0: %s, page 1: %s",
                           b->name, why0, why1);
    tx0 = edr_le64(m0 + 64);
    tx1 = edr_le64(m1 + 64);
    /* bbolt: the higher txid first (meta 0 on a tie), the other if it is invalid */
    use = tx1 > tx0 ? 1 : 0;
    if ((use == 0 && why0 != NULL) || (use == 1 && why1 != NULL))
        use = 1 - use;
    m = use ? m1 : m0;

    b->info.page_size = (uint32_t)ps;
    b->info.meta_used = use;
    b->info.root = edr_le64(m + 32);
    b->info.freelist = edr_le64(m + 48);
    b->info.pgid = edr_le64(m + 56);
    b->info.txid = edr_le64(m + 64);
    if (b->info.pgid < 3 || b->info.pgid > b->info.file_size / ps)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "page %d: meta pgid %" PRIu64 " beyond end of file (%" PRIu64 " bytes)",
                           use, b->info.pgid, b->info.file_size);
    b->info.size = b->info.pgid * ps;
    if (b->info.root < 2 || b->info.root >= b->info.pgid)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %d: meta root %" PRIu64 " out of bounds",
                           use, b->info.root);
    if (b->info.freelist != NO_FREELIST &&
        (b->info.freelist < 2 || b->info.freelist >= b->info.pgid))
        return edr_err_set(err, EDR_E_INTEGRITY, "page %d: meta freelist %" PRIu64 " out of bounds",
                           use, b->info.freelist);
    return EDR_OK;
}

static edr_rc
open_common(int fd, int own, const char *name, struct edr_bolt **out, struct edr_err *err)
{
    struct edr_bolt *b;
    struct stat st;
    edr_rc rc;

    *out = NULL;
    if (fstat(fd, &st) != 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to stat '%s'", name);
        if (own)
            close(fd);
        return rc;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL) {
        if (own)
            close(fd);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    b->fd = fd;
    b->own_fd = own;
    snprintf(b->name, sizeof(b->name), "%s", name);
    b->info.file_size = (uint64_t)st.st_size;
    b->info.freelist = NO_FREELIST;
    for (int t = 0; t < NTREES; t++)
        for (int d = 0; d < MAX_DEPTH; d++)
            b->lv[t][d].pgid = UINT64_MAX;
    if ((rc = open_metas(b, err)) != EDR_OK) {
        edr_bolt_close(b);
        return rc;
    }
    *out = b;
    return EDR_OK;
}

edr_rc
edr_bolt_open(const char *path, struct edr_bolt **out, struct edr_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        *out = NULL;
        return edr_err_errno(err, errno == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, errno,
                             "unable to open '%s'", path);
    }
    return open_common(fd, 1, path, out, err);
}

edr_rc
edr_bolt_open_fd(int fd, const char *name, struct edr_bolt **out, struct edr_err *err)
{
    return open_common(fd, 0, name, out, err);
}

edr_rc
edr_bolt_open_capture(const struct edr_stream *cap, const char *name, struct edr_bolt **out,
                      int *incomplete, struct edr_err *err)
{
    struct edr_bolt *b;
    uint64_t size;
    int complete;
    edr_rc rc;

    *out = NULL;
    *incomplete = 0;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    b->fd = -1;
    b->cap = cap;
    snprintf(b->name, sizeof(b->name), "%s", name);
    edr_bolt_capture_geometry(cap, &b->cap_ps, &size, &complete);
    b->info.file_size = size;
    b->info.freelist = NO_FREELIST;
    for (int t = 0; t < NTREES; t++)
        for (int d = 0; d < MAX_DEPTH; d++)
            b->lv[t][d].pgid = UINT64_MAX;
    rc = complete ? open_metas(b, err) : not_captured(b, 0, err);
    /* the capture cut the stream at meta 0's page size: a file whose metas
     * say otherwise is for the file reader to sort out */
    if (rc == EDR_OK && b->info.page_size != b->cap_ps)
        rc = not_captured(b, 0, err);
    if (rc != EDR_OK) {
        *incomplete = b->incomplete;
        edr_bolt_close(b);
        return rc;
    }
    *out = b;
    return EDR_OK;
}

int
edr_bolt_incomplete(const struct edr_bolt *b)
{
    return b != NULL && b->incomplete;
}

void
edr_bolt_close(struct edr_bolt *b)
{
    if (b == NULL)
        return;
    for (int t = 0; t < NTREES; t++)
        for (int d = 0; d < MAX_DEPTH; d++)
            free(b->lv[t][d].buf);
    if (b->own_fd && b->fd >= 0)
        close(b->fd);
    free(b->win);
    free(b);
}

void
edr_bolt_get_info(const struct edr_bolt *b, struct edr_bolt_info *info)
{
    *info = b->info;
}

/* ---- pages ---- */

/* Reads file bytes: through the read-ahead window during walks. */
static int
read_at(struct edr_bolt *b, uint8_t *dst, size_t len, uint64_t off)
{
    if (!b->seq || len > WINDOW / 2)
        return pread_full(b->fd, dst, len, off);
    if (b->win == NULL && (b->win = malloc(WINDOW)) == NULL)
        return pread_full(b->fd, dst, len, off);
    if (b->win_len == 0 || off < b->win_off || off + len > b->win_off + b->win_len) {
        uint64_t end = b->info.pgid * b->info.page_size;
        size_t n = WINDOW;
        if (off + len > end)
            return pread_full(b->fd, dst, len, off);
        if (end - off < n)
            n = (size_t)(end - off);
        b->win_len = 0;
        if (pread_full(b->fd, b->win, n, off) != 0)
            return -1;
        b->win_off = off;
        b->win_len = n;
    }
    memcpy(dst, b->win + (off - b->win_off), len);
    return 0;
}

/* load_run of a captured image: the run's bytes stay where the capture keeps
 * them; a summed-up leaf comes with its summary instead. */
static edr_rc
load_captured(struct edr_bolt *b, struct run *r, uint64_t pgid, struct page *pg,
              struct edr_err *err)
{
    uint64_t ps = b->info.page_size;
    struct cap_page *cp = &r->cp;

    if (edr_bolt_capture_page(b->cap, pgid, cp) != 0 || cp->kind == CAP_NONE)
        return not_captured(b, pgid, err);
    if (cp->overflow >= b->info.pgid - pgid)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "page %" PRIu64 ": out of bounds (overflow %" PRIu32 ")", pgid,
                           cp->overflow);
    /* the walk reports other page types itself, from the header alone */
    if ((cp->kind == CAP_HDR &&
         (cp->flags == F_BRANCH || cp->flags == F_LEAF || cp->flags == F_FREELIST)) ||
        (cp->kind == CAP_SUM && !b->allow_sum))
        return not_captured(b, pgid, err);
    pg->id = pgid;
    pg->inl = 0;
    pg->p = cp->p;
    pg->len = ((size_t)cp->overflow + 1) * ps;
    pg->flags = cp->flags;
    pg->count = cp->count;
    pg->sum = cp->kind == CAP_SUM ? cp : NULL;
    return EDR_OK;
}

/* Reads page pgid and its overflow pages into r (unless r already holds it). */
static edr_rc
load_run(struct edr_bolt *b, struct run *r, uint64_t pgid, struct page *pg, struct edr_err *err)
{
    uint64_t ps = b->info.page_size;
    uint64_t id, ovf, total;

    if (pgid >= b->info.pgid)
        return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": out of bounds", pgid);
    if (b->cap != NULL)
        return load_captured(b, r, pgid, pg, err);
    pg->sum = NULL;
    if (r->pgid != pgid) {
        r->pgid = UINT64_MAX;
        if (r->cap < ps) {
            uint8_t *nb = realloc(r->buf, ps);
            if (nb == NULL)
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            r->buf = nb;
            r->cap = ps;
        }
        if (read_at(b, r->buf, ps, pgid * ps) != 0)
            return edr_err_errno(err, EDR_E_IO, errno, "page %" PRIu64 ": unable to read", pgid);
        id = edr_le64(r->buf);
        if (id != pgid)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "page %" PRIu64 ": id mismatch (header says %" PRIu64 ")", pgid, id);
        ovf = edr_le32(r->buf + 12);
        if (ovf >= b->info.pgid - pgid)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "page %" PRIu64 ": out of bounds (overflow %" PRIu64 ")", pgid, ovf);
        total = (ovf + 1) * ps;
        if (total > SIZE_MAX / 2)
            return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": too large", pgid);
        if (r->cap < total) {
            uint8_t *nb = realloc(r->buf, (size_t)total);
            if (nb == NULL)
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            r->buf = nb;
            r->cap = (size_t)total;
        }
        if (ovf > 0 && read_at(b, r->buf + ps, (size_t)(total - ps), (pgid + 1) * ps) != 0)
            return edr_err_errno(err, EDR_E_IO, errno, "page %" PRIu64 ": unable to read", pgid);
        r->len = (size_t)total;
        r->pgid = pgid;
    }
    pg->id = pgid;
    pg->inl = 0;
    pg->p = r->buf;
    pg->len = r->len;
    pg->flags = edr_le16(r->buf + 8);
    pg->count = edr_le16(r->buf + 10);
    return EDR_OK;
}

static edr_rc
check_count(const struct page *pg, struct edr_err *err)
{
    char pn[64];

    if ((uint64_t)HDR + (uint64_t)pg->count * ELEM > pg->len)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: %u elements out of bounds",
                           pname(pg, pn, sizeof(pn)), pg->count);
    return EDR_OK;
}

/* Element i of a checked page: key, value (leaf) or child (branch). */
static edr_rc
elem(const struct page *pg, unsigned i, uint32_t *flags, const uint8_t **k, size_t *kl,
     const uint8_t **v, size_t *vl, uint64_t *child, struct edr_err *err)
{
    const uint8_t *e = pg->p + HDR + (size_t)i * ELEM;
    uint64_t start, ks, vs = 0;
    char pn[64];

    if (pg->flags == F_BRANCH) {
        start = HDR + (uint64_t)i * ELEM + edr_le32(e);
        ks = edr_le32(e + 4);
        *child = edr_le64(e + 8);
        *flags = 0;
    } else {
        *flags = edr_le32(e);
        start = HDR + (uint64_t)i * ELEM + edr_le32(e + 4);
        ks = edr_le32(e + 8);
        vs = edr_le32(e + 12);
    }
    if (start > pg->len || ks > pg->len - start || vs > pg->len - start - ks)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: element %u out of bounds",
                           pname(pg, pn, sizeof(pn)), i);
    *k = pg->p + start;
    *kl = (size_t)ks;
    if (v != NULL) {
        *v = pg->p + start + ks;
        *vl = (size_t)vs;
    }
    return EDR_OK;
}

/* ---- walking ---- */

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
    if ((rc = load_run(b, &b->lv[tree][depth], pgid, &pg, err)) != EDR_OK)
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
                           pname(pg, pn, sizeof(pn)), quote(name, nl, q, sizeof(q)));
    root = edr_le64(v);
    w->bname = name;
    w->bname_len = nl;
    if (root != 0)
        return walk_pgid(w, TREE_BUCKET, 0, root, NULL, 0, NULL, 0, err);
    if (vl < 16 + HDR)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: bucket '%s': inline page out of bounds",
                           pname(pg, pn, sizeof(pn)), quote(name, nl, q, sizeof(q)));
    in.id = pg->id;
    in.inl = 1;
    in.sum = NULL;
    in.p = v + 16;
    in.len = vl - 16;
    in.flags = edr_le16(in.p + 8);
    in.count = edr_le16(in.p + 10);
    if (in.flags != F_LEAF)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: bucket '%s': invalid type 0x%x",
                           pname(pg, pn, sizeof(pn)), quote(name, nl, q, sizeof(q)), in.flags);
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
                           pname(pg, pn, sizeof(pn)));
    if (tree == TREE_ROOT)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: root bucket entry '%s' is not a bucket",
                           pname(pg, pn, sizeof(pn)),
                           quote(cp->first_key, cp->first_len, q, sizeof(q)));
    if (hi != NULL && edr_keycmp(cp->last_key, cp->last_len, hi, hil) >= 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: keys out of order",
                           pname(pg, pn, sizeof(pn)));
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
    if ((rc = check_count(pg, err)) != EDR_OK)
        return rc;
    if (pg->flags == F_BRANCH && pg->count == 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: empty branch", pname(pg, pn, sizeof(pn)));
    for (unsigned i = 0; i < pg->count && !w->stopped; i++) {
        if ((rc = elem(pg, i, &flags, &k, &kl, &v, &vl, &child, err)) != EDR_OK)
            return rc;
        if ((pk != NULL && edr_keycmp(pk, pkl, k, kl) >= 0) ||
            (i == 0 && lo != NULL && edr_keycmp(lo, lol, k, kl) > 0) ||
            (hi != NULL && edr_keycmp(k, kl, hi, hil) >= 0))
            return edr_err_set(err, EDR_E_INTEGRITY, "%s: keys out of order",
                               pname(pg, pn, sizeof(pn)));
        pk = k;
        pkl = kl;
        if (pg->flags == F_BRANCH) {
            const uint8_t *nk = hi, *nv;
            size_t nkl = hil, nvl;
            uint32_t nf;
            uint64_t nc;
            if (i + 1 < pg->count &&
                (rc = elem(pg, i + 1, &nf, &nk, &nkl, &nv, &nvl, &nc, err)) != EDR_OK)
                return rc;
            if ((rc = walk_pgid(w, tree, depth + 1, child, k, kl, nk, nkl, err)) != EDR_OK)
                return rc;
            continue;
        }
        if (tree == TREE_ROOT) {
            int r;
            if (!(flags & BUCKET_FLAG))
                return edr_err_set(err, EDR_E_INTEGRITY,
                                   "%s: root bucket entry '%s' is not a bucket",
                                   pname(pg, pn, sizeof(pn)), quote(k, kl, q, sizeof(q)));
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
                return edr_err_set(
                    err, EDR_E_INTEGRITY, "%s: bucket '%s': nested bucket '%s' not supported",
                    pname(pg, pn, sizeof(pn)), quote(w->bname, w->bname_len, q, sizeof(q)),
                    quote(k, kl, q + 40, sizeof(q) - 40));
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
    if ((rc = load_run(b, &b->lv[TREE_BUCKET][0], fl, &pg, err)) != EDR_OK)
        return rc;
    if (pg.p == NULL && pg.flags == F_FREELIST)
        return not_captured(b, fl, err);
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

    if (src_read(b, h, sizeof(h), id * b->info.page_size) != 0)
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

/* ---- lookups ---- */

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
            if ((rc = load_run(b, &b->lv[tree][depth], pgid, &pg, err)) != EDR_OK)
                return rc;
            if (pg.flags != F_BRANCH && pg.flags != F_LEAF)
                return edr_err_set(err, EDR_E_INTEGRITY, "page %" PRIu64 ": invalid type 0x%x",
                                   pgid, pg.flags);
        }
        if ((rc = check_count(&pg, err)) != EDR_OK)
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
            if ((rc = elem(&pg, mid, &ef, &k, &ekl, &ev, &evl, &child, err)) != EDR_OK)
                return rc;
            if (edr_keycmp(k, ekl, key, kl) <= 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (pg.flags == F_BRANCH) {
            if ((rc = elem(&pg, lo > 0 ? lo - 1 : 0, &ef, &k, &ekl, &ev, &evl, &child, err)) !=
                EDR_OK)
                return rc;
            pgid = child;
            continue;
        }
        if (lo == 0)
            return EDR_E_NOTFOUND;
        if ((rc = elem(&pg, lo - 1, &ef, &k, &ekl, &ev, &evl, &child, err)) != EDR_OK)
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
static edr_rc
find_bucket(struct edr_bolt *b, const void *name, size_t nl, uint64_t *root, struct page *inl,
            struct edr_err *err)
{
    const uint8_t *v;
    size_t vl;
    uint32_t flags;
    char q[80];
    edr_rc rc;

    rc = find(b, TREE_ROOT, b->info.root, NULL, name, nl, &flags, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_NOTFOUND, "bucket '%s' not found",
                           quote(name, nl, q, sizeof(q)));
    if (rc != EDR_OK)
        return rc;
    if (!(flags & BUCKET_FLAG) || vl < 16)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': not a bucket",
                           quote(name, nl, q, sizeof(q)));
    *root = edr_le64(v);
    if (*root != 0)
        return EDR_OK;
    if (vl < 16 + HDR)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': inline page out of bounds",
                           quote(name, nl, q, sizeof(q)));
    inl->id = b->lv[TREE_ROOT][0].pgid; /* best effort for messages */
    inl->inl = 1;
    inl->sum = NULL;
    inl->p = v + 16;
    inl->len = vl - 16;
    inl->flags = edr_le16(inl->p + 8);
    inl->count = edr_le16(inl->p + 10);
    if (inl->flags != F_LEAF)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': invalid type 0x%x",
                           quote(name, nl, q, sizeof(q)), inl->flags);
    return EDR_OK;
}

edr_rc
edr_bolt_foreach(struct edr_bolt *b, const void *bucket, size_t bucket_len, edr_bolt_kv_cb cb,
                 void *ud, struct edr_err *err)
{
    struct walk w;
    struct page inl;
    uint64_t root;
    edr_rc rc;

    if ((rc = find_bucket(b, bucket, bucket_len, &root, &inl, err)) != EDR_OK)
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
    if ((rc = find_bucket(b, bucket, bucket_len, &root, &inl, err)) != EDR_OK)
        return rc;
    rc = find(b, TREE_BUCKET, root, root != 0 ? NULL : &inl, key, key_len, &flags, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_NOTFOUND, "key '%s' not found in bucket '%s'",
                           quote(key, key_len, q, sizeof(q)),
                           quote(bucket, bucket_len, q2, sizeof(q2)));
    if (rc != EDR_OK)
        return rc;
    if (flags & BUCKET_FLAG)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket '%s': nested bucket '%s' not supported",
                           quote(bucket, bucket_len, q2, sizeof(q2)),
                           quote(key, key_len, q, sizeof(q)));
    *val = malloc(vl > 0 ? vl : 1);
    if (*val == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (vl > 0)
        memcpy(*val, v, vl);
    *val_len = vl;
    return EDR_OK;
}
