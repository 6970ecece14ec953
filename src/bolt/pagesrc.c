/*
 * Where the reader's pages come from: a file or descriptor read with
 * pread() (through a read-ahead window during walks, which mostly go in
 * file order), or the pages a capture kept of a stream. Opening checks the
 * metas the way bbolt does; a page is loaded with its overflow pages into
 * one buffer per tree level, so values spanning overflow pages come out
 * contiguous and those buffers double as a small cache. Nothing is mapped.
 * Every length and offset found in the file is bounds-checked before use.
 */
#include "bolt/reader.h"
#include "bolt/format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"

#define VERSION 2
#define MAX_PAGE_SIZE (16u << 20)
#define MIN_PAGE_SIZE 1024u
#define WINDOW (32u << 10)

/* Printable form of a key or bucket name for messages. */
const char *
edr_bolt_quote(const uint8_t *s, size_t n, char *out, size_t cap)
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

const char *
edr_bolt_page_name(const struct page *pg, char *out, size_t cap)
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
    if (edr_le64(m + 72) != edr_bolt_fnv1a64(m + 16, 56))
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
int
edr_bolt_src_read(struct edr_bolt *b, void *buf, size_t len, uint64_t off)
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

edr_rc
edr_bolt_not_captured(struct edr_bolt *b, uint64_t pgid, struct edr_err *err)
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
    if (edr_bolt_src_read(b, buf, n, off) != 0)
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
    rc = complete ? open_metas(b, err) : edr_bolt_not_captured(b, 0, err);
    /* the capture cut the stream at meta 0's page size: a file whose metas
     * say otherwise is for the file reader to sort out */
    if (rc == EDR_OK && b->info.page_size != b->cap_ps)
        rc = edr_bolt_not_captured(b, 0, err);
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
        return edr_bolt_not_captured(b, pgid, err);
    if (cp->overflow >= b->info.pgid - pgid)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "page %" PRIu64 ": out of bounds (overflow %" PRIu32 ")", pgid,
                           cp->overflow);
    /* the walk reports other page types itself, from the header alone */
    if ((cp->kind == CAP_HDR &&
         (cp->flags == F_BRANCH || cp->flags == F_LEAF || cp->flags == F_FREELIST)) ||
        (cp->kind == CAP_SUM && !b->allow_sum))
        return edr_bolt_not_captured(b, pgid, err);
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
edr_rc
edr_bolt_load_run(struct edr_bolt *b, struct run *r, uint64_t pgid, struct page *pg,
                  struct edr_err *err)
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

edr_rc
edr_bolt_check_count(const struct page *pg, struct edr_err *err)
{
    char pn[64];

    if ((uint64_t)HDR + (uint64_t)pg->count * ELEM > pg->len)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: %u elements out of bounds",
                           edr_bolt_page_name(pg, pn, sizeof(pn)), pg->count);
    return EDR_OK;
}

/* Element i of a checked page: key, value (leaf) or child (branch). */
edr_rc
edr_bolt_elem(const struct page *pg, unsigned i, uint32_t *flags, const uint8_t **k, size_t *kl,
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
                           edr_bolt_page_name(pg, pn, sizeof(pn)), i);
    *k = pg->p + start;
    *kl = (size_t)ks;
    if (v != NULL) {
        *v = pg->p + start + ks;
        *vl = (size_t)vs;
    }
    return EDR_OK;
}
