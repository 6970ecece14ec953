/*
 * bbolt writer: a fresh, compact file from sorted buckets and keys, built as
 * a bulk-loaded B+tree. Each tree level keeps only the page it is filling;
 * a full page is written at once (pages are numbered in the order they are
 * written), and its first key goes up to the level above. The root bucket is
 * just one more such tree, fed one element per finished bucket. Layout
 * (doc/etcd-observed.md §7.4): metas on pages 0 and 1 (txid 2 and 1), an empty
 * freelist on page 2, data pages from 3, pages filled up to 100 %, a bucket
 * stored inline when its only leaf takes at most a quarter page.
 */
#include "common/bytes.h"
#include "bolt/bolt.h"
#include "bolt/format.h"
#include "common/grow.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LEVELS 32
#define MAX_KEY 32768u
#define MAX_VALUE 0x7FFFFFFEu
#define MAX_COUNT 0xFFFEu

struct ent {
    uint32_t flags;
    uint32_t ksize;
    uint32_t vsize;
    size_t off; /* of the key in node.data */
    uint64_t child;
};

/* The page being filled at one level of a tree. */
struct node {
    struct ent *ents;
    size_t ents_cap;
    unsigned count;
    uint8_t *data;
    size_t data_len;
    size_t data_cap;
    int flushed; /* a page of this level was written already */
};

struct tree {
    struct node lv[MAX_LEVELS];
    int nlv;
};

struct edr_bolt_writer {
    int fd;
    char *path;
    uint32_t ps;
    uint64_t next; /* next free page id */
    struct tree bucket;
    struct tree root;
    int in_bucket;
    uint8_t *bname; /* current bucket */
    size_t bname_len;
    uint8_t *last; /* last key put in the current bucket */
    size_t last_len;
    size_t last_cap;
    int have_last;
    uint8_t *pbuf; /* page assembly */
    size_t pbuf_cap;
    int failed;
    int done;
};

static size_t
node_size(const struct node *n)
{
    return HDR + (size_t)n->count * ELEM + n->data_len;
}

static edr_rc
pwrite_full(struct edr_bolt_writer *w, const uint8_t *p, size_t len, uint64_t off,
            struct edr_err *err)
{
    while (len > 0) {
        ssize_t n = pwrite(w->fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return edr_err_errno(err, EDR_E_IO, errno, "unable to write '%s'", w->path);
        p += n;
        len -= (size_t)n;
        off += (uint64_t)n;
    }
    return EDR_OK;
}

/* Lays out node n as a page image with the given id into w->pbuf; returns
 * the number of pages it takes. */
static edr_rc
assemble(struct edr_bolt_writer *w, const struct node *n, int branch, uint64_t id, uint64_t *pages,
         struct edr_err *err)
{
    size_t size = node_size(n);
    uint64_t np = (size + w->ps - 1) / w->ps;
    size_t total = (size_t)(np ? np : 1) * w->ps;
    size_t dstart = HDR + (size_t)n->count * ELEM;
    uint8_t *p;

    if (np == 0)
        np = 1;
    if (np - 1 > UINT32_MAX)
        return edr_err_set(err, EDR_E_INTERNAL, "bolt writer: page too large");
    if (edr_grow(&w->pbuf, &w->pbuf_cap, total, 1) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    p = w->pbuf;
    memset(p, 0, total);
    edr_put_le64(p, id);
    edr_put_le16(p + 8, branch ? F_BRANCH : F_LEAF);
    edr_put_le16(p + 10, (uint16_t)n->count);
    edr_put_le32(p + 12, (uint32_t)(np - 1));
    for (unsigned i = 0; i < n->count; i++) {
        const struct ent *e = &n->ents[i];
        uint8_t *el = p + HDR + (size_t)i * ELEM;
        uint32_t pos = (uint32_t)(dstart + e->off - (HDR + (size_t)i * ELEM));
        if (branch) {
            edr_put_le32(el, pos);
            edr_put_le32(el + 4, e->ksize);
            edr_put_le64(el + 8, e->child);
        } else {
            edr_put_le32(el, e->flags);
            edr_put_le32(el + 4, pos);
            edr_put_le32(el + 8, e->ksize);
            edr_put_le32(el + 12, e->vsize);
        }
    }
    if (n->data_len > 0)
        memcpy(p + dstart, n->data, n->data_len);
    *pages = np;
    return EDR_OK;
}

static edr_rc node_add(struct edr_bolt_writer *w, struct tree *t, int level, uint32_t flags,
                       const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, uint64_t child,
                       struct edr_err *err);

/* Writes the node at `level` as a new page; unless it is the root, its first
 * key and page id go to the level above. The node is emptied. */
static edr_rc
flush(struct edr_bolt_writer *w, struct tree *t, int level, int is_root, uint64_t *pgid,
      struct edr_err *err)
{
    struct node *n = &t->lv[level];
    uint64_t id = w->next, pages;
    edr_rc rc;

    if ((rc = assemble(w, n, level > 0, id, &pages, err)) != EDR_OK)
        return rc;
    if ((rc = pwrite_full(w, w->pbuf, (size_t)(pages * w->ps), id * w->ps, err)) != EDR_OK)
        return rc;
    w->next += pages;
    if (pgid != NULL)
        *pgid = id;
    if (!is_root) {
        if (level + 1 >= MAX_LEVELS)
            return edr_err_set(err, EDR_E_INTERNAL, "bolt writer: tree too deep");
        if (t->nlv < level + 2)
            t->nlv = level + 2;
        rc = node_add(w, t, level + 1, 0, n->data + n->ents[0].off, n->ents[0].ksize, NULL, 0, id,
                      err);
        if (rc != EDR_OK)
            return rc;
    }
    n->count = 0;
    n->data_len = 0;
    n->flushed = 1;
    return EDR_OK;
}

static edr_rc
node_add(struct edr_bolt_writer *w, struct tree *t, int level, uint32_t flags, const uint8_t *k,
         size_t kl, const uint8_t *v, size_t vl, uint64_t child, struct edr_err *err)
{
    struct node *n = &t->lv[level];
    size_t need = ELEM + kl + vl;
    struct ent *e;
    edr_rc rc;

    if (n->count > 0 && (node_size(n) + need > w->ps || n->count >= MAX_COUNT)) {
        if ((rc = flush(w, t, level, 0, NULL, err)) != EDR_OK)
            return rc;
    }
    if (edr_grow(&n->ents, &n->ents_cap, n->count + 1, sizeof(*n->ents)) != 0 ||
        edr_grow(&n->data, &n->data_cap, n->data_len + kl + vl, 1) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    e = &n->ents[n->count++];
    e->flags = flags;
    e->ksize = (uint32_t)kl;
    e->vsize = (uint32_t)vl;
    e->off = n->data_len;
    e->child = child;
    memcpy(n->data + n->data_len, k, kl);
    if (vl > 0)
        memcpy(n->data + n->data_len + kl, v, vl);
    n->data_len += kl + vl;
    if (t->nlv < level + 1)
        t->nlv = level + 1;
    return EDR_OK;
}

/* Writes what is left of a tree, bottom-up; *root gets the root page. */
static edr_rc
tree_finish(struct edr_bolt_writer *w, struct tree *t, uint64_t *root, struct edr_err *err)
{
    edr_rc rc;

    if (t->nlv == 0)
        t->nlv = 1; /* empty tree: one empty leaf */
    for (int level = 0;; level++) {
        int top = level == t->nlv - 1 && !t->lv[level].flushed;
        if ((rc = flush(w, t, level, top, top ? root : NULL, err)) != EDR_OK)
            return rc;
        if (top)
            break;
    }
    return EDR_OK;
}

static void
tree_reset(struct tree *t)
{
    for (int i = 0; i < MAX_LEVELS; i++) {
        t->lv[i].count = 0;
        t->lv[i].data_len = 0;
        t->lv[i].flushed = 0;
    }
    t->nlv = 0;
}

static void
tree_release(struct tree *t)
{
    for (int i = 0; i < MAX_LEVELS; i++) {
        free(t->lv[i].ents);
        free(t->lv[i].data);
    }
}

edr_rc
edr_bolt_writer_new(const char *path, uint32_t page_size, struct edr_bolt_writer **out,
                    struct edr_err *err)
{
    struct edr_bolt_writer *w;

    *out = NULL;
    if (page_size < 1024 || page_size > 65536 || (page_size & (page_size - 1)) != 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid bbolt page size %" PRIu32, page_size);
    w = calloc(1, sizeof(*w));
    if (w == NULL || (w->path = strdup(path)) == NULL) {
        free(w);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    w->ps = page_size;
    w->next = 3;
    /* replace what is there, but never write through it (a planted link):
     * remove the name, then create it anew or fail */
    if (unlink(path) != 0 && errno != ENOENT) {
        edr_rc rc = edr_err_errno(err, EDR_E_IO, errno, "unable to replace '%s'", path);
        free(w->path);
        free(w);
        return rc;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (w->fd < 0) {
        edr_rc rc = edr_err_errno(err, EDR_E_IO, errno, "unable to create '%s'", path);
        free(w->path);
        free(w);
        return rc;
    }
    *out = w;
    return EDR_OK;
}

/* Ends the current bucket: inline value or its tree, then the root entry. */
static edr_rc
end_bucket(struct edr_bolt_writer *w, struct edr_err *err)
{
    struct tree *t = &w->bucket;
    uint8_t hdr[16];
    edr_rc rc;

    if (!w->in_bucket)
        return EDR_OK;
    w->in_bucket = 0;
    if (t->nlv <= 1 && !t->lv[0].flushed && node_size(&t->lv[0]) <= w->ps / 4) {
        uint64_t pages;
        size_t sz = node_size(&t->lv[0]);
        uint8_t *val;
        if ((rc = assemble(w, &t->lv[0], 0, 0, &pages, err)) != EDR_OK)
            return rc;
        val = malloc(16 + sz);
        if (val == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        memset(val, 0, 16);
        memcpy(val + 16, w->pbuf, sz);
        rc = node_add(w, &w->root, 0, 0x01, w->bname, w->bname_len, val, 16 + sz, 0, err);
        free(val);
    } else {
        uint64_t root = 0;
        if ((rc = tree_finish(w, t, &root, err)) != EDR_OK)
            return rc;
        edr_put_le64(hdr, root);
        edr_put_le64(hdr + 8, 0);
        rc = node_add(w, &w->root, 0, 0x01, w->bname, w->bname_len, hdr, sizeof(hdr), 0, err);
    }
    tree_reset(t);
    return rc;
}

static edr_rc
fail(struct edr_bolt_writer *w, edr_rc rc)
{
    if (rc != EDR_OK)
        w->failed = 1;
    return rc;
}

static edr_rc
usable(struct edr_bolt_writer *w, struct edr_err *err)
{
    if (w->done)
        return edr_err_set(err, EDR_E_INTERNAL, "bolt writer: already finished");
    if (w->failed)
        return edr_err_set(err, EDR_E_INTERNAL, "bolt writer: unusable after an earlier error");
    return EDR_OK;
}

edr_rc
edr_bolt_writer_bucket(struct edr_bolt_writer *w, const void *name, size_t name_len,
                       struct edr_err *err)
{
    uint8_t *nn;
    edr_rc rc;

    if ((rc = usable(w, err)) != EDR_OK)
        return rc;
    if (name_len == 0 || name_len > MAX_KEY)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL,
                                   "bolt writer: invalid bucket name length %zu", name_len));
    if (w->bname != NULL && edr_keycmp(w->bname, w->bname_len, name, name_len) >= 0)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "bolt writer: buckets out of order"));
    if ((rc = end_bucket(w, err)) != EDR_OK)
        return fail(w, rc);
    nn = malloc(name_len);
    if (nn == NULL)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "out of memory"));
    memcpy(nn, name, name_len);
    free(w->bname);
    w->bname = nn;
    w->bname_len = name_len;
    w->in_bucket = 1;
    w->have_last = 0;
    return EDR_OK;
}

edr_rc
edr_bolt_writer_put(struct edr_bolt_writer *w, const void *key, size_t key_len, const void *val,
                    size_t val_len, struct edr_err *err)
{
    edr_rc rc;

    if ((rc = usable(w, err)) != EDR_OK)
        return rc;
    if (!w->in_bucket)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "bolt writer: put outside a bucket"));
    if (key_len == 0 || key_len > MAX_KEY)
        return fail(
            w, edr_err_set(err, EDR_E_INTERNAL, "bolt writer: invalid key length %zu", key_len));
    if (val_len > MAX_VALUE)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "bolt writer: value too large (%zu bytes)",
                                   val_len));
    if (w->have_last && edr_keycmp(w->last, w->last_len, key, key_len) >= 0)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "bolt writer: keys out of order"));
    if (edr_grow(&w->last, &w->last_cap, key_len, 1) != 0)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "out of memory"));
    memcpy(w->last, key, key_len);
    w->last_len = key_len;
    w->have_last = 1;
    return fail(w, node_add(w, &w->bucket, 0, 0, key, key_len, val, val_len, 0, err));
}

static void
meta_page(uint8_t *p, uint32_t ps, uint64_t id, uint64_t root, uint64_t pgid, uint64_t txid)
{
    memset(p, 0, ps);
    edr_put_le64(p, id);
    edr_put_le16(p + 8, F_META);
    edr_put_le32(p + 16, MAGIC);
    edr_put_le32(p + 20, 2);
    edr_put_le32(p + 24, ps);
    edr_put_le64(p + 32, root);
    edr_put_le64(p + 48, 2); /* freelist page */
    edr_put_le64(p + 56, pgid);
    edr_put_le64(p + 64, txid);
    edr_put_le64(p + 72, edr_bolt_fnv1a64(p + 16, 56));
}

edr_rc
edr_bolt_writer_finish(struct edr_bolt_writer *w, struct edr_err *err)
{
    uint64_t root = 0;
    uint8_t *p;
    edr_rc rc;

    if ((rc = usable(w, err)) != EDR_OK)
        return rc;
    if ((rc = end_bucket(w, err)) != EDR_OK)
        return fail(w, rc);
    if ((rc = tree_finish(w, &w->root, &root, err)) != EDR_OK)
        return fail(w, rc);
    if (edr_grow(&w->pbuf, &w->pbuf_cap, w->ps, 1) != 0)
        return fail(w, edr_err_set(err, EDR_E_INTERNAL, "out of memory"));
    p = w->pbuf;
    memset(p, 0, w->ps);
    edr_put_le64(p, 2);
    edr_put_le16(p + 8, F_FREELIST);
    if ((rc = pwrite_full(w, p, w->ps, 2ull * w->ps, err)) != EDR_OK)
        return fail(w, rc);
    meta_page(p, w->ps, 1, root, w->next, 1);
    if ((rc = pwrite_full(w, p, w->ps, w->ps, err)) != EDR_OK)
        return fail(w, rc);
    meta_page(p, w->ps, 0, root, w->next, 2);
    if ((rc = pwrite_full(w, p, w->ps, 0, err)) != EDR_OK)
        return fail(w, rc);
    if (fsync(w->fd) != 0)
        return fail(w, edr_err_errno(err, EDR_E_IO, errno, "unable to fsync '%s'", w->path));
    if (close(w->fd) != 0) {
        w->fd = -1;
        return fail(w, edr_err_errno(err, EDR_E_IO, errno, "unable to close '%s'", w->path));
    }
    w->fd = -1;
    w->done = 1;
    return EDR_OK;
}

void
edr_bolt_writer_free(struct edr_bolt_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (!w->done)
        unlink(w->path);
    tree_release(&w->bucket);
    tree_release(&w->root);
    free(w->bname);
    free(w->last);
    free(w->pbuf);
    free(w->path);
    free(w);
}
