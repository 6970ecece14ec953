/*
 * Internal to src/bolt: the parts of the reader (bolt.h) its files share.
 * pagesrc.c opens an image (a file, a descriptor or a capture), checks its
 * metas and loads pages; walk.c walks and checks the trees; reader.c looks
 * up single buckets and keys. Format facts: doc/etcd-internals.md §2.
 */
#ifndef EDR_BOLT_READER_H
#define EDR_BOLT_READER_H

#include <stddef.h>
#include <stdint.h>

#include "bolt/bolt.h"
#include "bolt/format.h"
#include "bolt/capture.h"

#define NO_FREELIST UINT64_MAX
#define MAX_DEPTH 64

enum { TREE_ROOT = 0, TREE_BUCKET = 1, NTREES = 2 };

struct run {
    uint64_t pgid; /* UINT64_MAX when the buffer holds nothing */
    uint8_t *buf;
    size_t cap;
    size_t len;
    struct cap_page cp; /* from a capture */
};

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

/* Printable form of a key or bucket name for messages. */
const char *edr_bolt_quote(const uint8_t *s, size_t n, char *out, size_t cap);
/* "page 12" or "page 12 (inline bucket)", for messages. */
const char *edr_bolt_page_name(const struct page *pg, char *out, size_t cap);

/* Bytes of the image: from the file, or from a capture's pages (where a
 * read the capture cannot serve sets b->incomplete). 0, or -1 with errno. */
int edr_bolt_src_read(struct edr_bolt *b, void *buf, size_t len, uint64_t off);
/* The error for a page the capture did not keep; sets b->incomplete. */
edr_rc edr_bolt_not_captured(struct edr_bolt *b, uint64_t pgid, struct edr_err *err);
/* Page pgid and its overflow pages into *pg, read into r (unless r already
 * holds them; from a capture, pg points into the capture). Checks the id,
 * the bounds and the size, not the type. */
edr_rc edr_bolt_load_run(struct edr_bolt *b, struct run *r, uint64_t pgid, struct page *pg,
                         struct edr_err *err);
/* The page's elements lie within it. */
edr_rc edr_bolt_check_count(const struct page *pg, struct edr_err *err);
/* Element i of a page that passed edr_bolt_check_count: key, value (leaf;
 * v may be NULL) or child (branch), bounds-checked. */
edr_rc edr_bolt_elem(const struct page *pg, unsigned i, uint32_t *flags, const uint8_t **k,
                     size_t *kl, const uint8_t **v, size_t *vl, uint64_t *child,
                     struct edr_err *err);

/* A top-level bucket: its root page, or (root 0) its inline page in *inl.
 * EDR_E_NOTFOUND "bucket '...' not found" when absent. */
edr_rc edr_bolt_find_bucket(struct edr_bolt *b, const void *name, size_t nl, uint64_t *root,
                            struct page *inl, struct edr_err *err);

#endif
