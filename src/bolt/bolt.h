/*
 * bbolt files: a reader that checks what it reads, and a writer that emits a
 * fresh, compact file from sorted bucket contents. Format facts:
 * doc/etcd-internals.md §2. Only little-endian files with one
 * level of buckets below the root (etcd's layout) need be supported; nested
 * buckets are reported as errors by the reader's check.
 *
 * Reader: reads with pread() through a small page cache, so memory does not
 * grow with the file. Every malformed input gives an EDR_E_INTEGRITY error
 * whose message names the page ("page 1234: out of bounds"); never a crash.
 * Not thread-safe.
 */
#ifndef EDR_BOLT_BOLT_H
#define EDR_BOLT_BOLT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct edr_bolt;
struct edr_stream;

struct edr_bolt_info {
    uint32_t page_size;
    uint64_t pgid; /* meta.pgid: pages in use */
    uint64_t txid;
    uint64_t root;     /* root bucket's root page */
    uint64_t freelist; /* page id or UINT64_MAX */
    uint64_t size;     /* pgid * page_size: etcdctl's "total size" */
    uint64_t file_size;
    int meta_used; /* 0 or 1 */
};

/* Open and validate the metas (magic, version, checksum; pgid*page_size
 * within the file). Trailing bytes (etcd's sha256 trailer) are ignored. */
edr_rc edr_bolt_open(const char *path, struct edr_bolt **out, struct edr_err *err);
void edr_bolt_close(struct edr_bolt *b);
void edr_bolt_get_info(const struct edr_bolt *b, struct edr_bolt_info *info);

/* Structural check equivalent to bbolt's tx.Check (doc/etcd-internals.md §2.9):
 * page ids and types, bounds, double references, key order, inline buckets,
 * freelist. Also counts pages in use (reachable) into *pages_in_use if not NULL. */
edr_rc edr_bolt_check(struct edr_bolt *b, uint64_t *pages_in_use, struct edr_err *err);

/* Callbacks return 0 to continue, 1 to stop early (not an error), or -1 to
 * abort: the walk then returns the code of the struct edr_err the callback
 * filled (the caller passes its own err through ud). Pointers are valid only
 * during the call. */
typedef int (*edr_bolt_bucket_cb)(void *ud, const uint8_t *name, size_t name_len);
typedef int (*edr_bolt_kv_cb)(void *ud, const uint8_t *key, size_t key_len, const uint8_t *val,
                              size_t val_len);

/* Top-level buckets in name order. */
edr_rc edr_bolt_foreach_bucket(struct edr_bolt *b, edr_bolt_bucket_cb cb, void *ud,
                               struct edr_err *err);
/* Every key/value of one top-level bucket in key order. A missing bucket is
 * EDR_E_NOTFOUND. Sub-bucket entries (flag 0x01) are an integrity error. */
edr_rc edr_bolt_foreach(struct edr_bolt *b, const void *bucket, size_t bucket_len,
                        edr_bolt_kv_cb cb, void *ud, struct edr_err *err);
/* One value; EDR_E_NOTFOUND when bucket or key is missing. *val is malloc'ed. */
edr_rc edr_bolt_get(struct edr_bolt *b, const void *bucket, size_t bucket_len, const void *key,
                    size_t key_len, uint8_t **val, size_t *val_len, struct edr_err *err);

/* Like edr_bolt_open on an already open descriptor (e.g. a memfd); `name`
 * is only used in messages. The descriptor stays the caller's: close() does
 * not close it. */
edr_rc edr_bolt_open_fd(int fd, const char *name, struct edr_bolt **out, struct edr_err *err);

/* One pass over the whole file: bucket_cb for every top-level bucket, then
 * kv_cb for each of its pairs, in order (either callback may be NULL). With
 * check != 0 it also does everything edr_bolt_check does and fills
 * *pages_in_use (if not NULL), so a status needs to read the file once.
 * Callback returns as for the foreach functions; 1 stops the whole walk. */
edr_rc edr_bolt_walk(struct edr_bolt *b, int check, edr_bolt_bucket_cb bucket_cb,
                     edr_bolt_kv_cb kv_cb, void *ud, uint64_t *pages_in_use, struct edr_err *err);

/*
 * Checking an image without a file: a capture is a stream observer (bytes
 * pass on to next, which may be NULL) that keeps, while an etcd snapshot
 * streams past, every branch, freelist and meta page and every leaf page run
 * byte for byte, except the leaf runs that `leaf` sums up: leaf(ud, run, len,
 * &id) returns 1 when it took the run (the walk will hand `id` to the
 * summary callback instead of the run's pairs), 0 to have it kept, -1 when
 * out of memory. The last `trailer` bytes are not part of the image. At most
 * raw_cap bytes are kept; pages beyond that, or not seen as a run's first
 * page, cannot be walked.
 * Opening the capture gives a reader like edr_bolt_open's, whose walks
 * (edr_bolt_walk_sum) give exactly the results and errors a walk of the file
 * would, except when they reach a page the capture did not keep: then they
 * fail and edr_bolt_incomplete() says so; the caller checks the file instead.
 * The capture must outlive the reader.
 */
typedef int (*edr_bolt_leaf_fn)(void *ud, const uint8_t *run, size_t len, uint32_t *id);
typedef int (*edr_bolt_sum_cb)(void *ud, uint32_t id, uint32_t count);

struct edr_stream *edr_bolt_capture_new(struct edr_stream *next, size_t trailer, size_t raw_cap,
                                        edr_bolt_leaf_fn leaf, void *ud);
/* On failure *incomplete says whether the capture was the problem. */
edr_rc edr_bolt_open_capture(const struct edr_stream *cap, const char *name, struct edr_bolt **out,
                             int *incomplete, struct edr_err *err);
int edr_bolt_incomplete(const struct edr_bolt *b);
/* edr_bolt_walk; on a captured image, summed-up leaves of bucket trees go to
 * sum_cb (with their pair count) instead of kv_cb. */
edr_rc edr_bolt_walk_sum(struct edr_bolt *b, int check, edr_bolt_bucket_cb bucket_cb,
                         edr_bolt_kv_cb kv_cb, edr_bolt_sum_cb sum_cb, void *ud,
                         uint64_t *pages_in_use, struct edr_err *err);

/* Memory: a reader keeps one buffer per tree level (page plus its overflow
 * pages) for the bucket tree being walked and for the root bucket tree; a
 * check adds two bits per page of the file. Callbacks must not call back
 * into the same struct edr_bolt. */

/*
 * Writer. Buckets must be added in strictly increasing name order (bytewise),
 * keys within a bucket in strictly increasing order. Data pages are streamed
 * to the file as they fill; only the first key of each page is kept in memory
 * to build branch levels. finish() writes the root bucket, both metas (txid
 * 2 and 1, freelist page 2 empty) and fsyncs. Layout as in
 * doc/etcd-observed.md §7.4, which etcd 3.4.23 accepted. The file is created
 * 0600 with O_EXCL|O_NOFOLLOW after removing the name: whatever is at path
 * (also a symlink) is replaced, never written through.
 */
struct edr_bolt_writer;

edr_rc edr_bolt_writer_new(const char *path, uint32_t page_size, struct edr_bolt_writer **out,
                           struct edr_err *err);
edr_rc edr_bolt_writer_bucket(struct edr_bolt_writer *w, const void *name, size_t name_len,
                              struct edr_err *err);
edr_rc edr_bolt_writer_put(struct edr_bolt_writer *w, const void *key, size_t key_len,
                           const void *val, size_t val_len, struct edr_err *err);
edr_rc edr_bolt_writer_finish(struct edr_bolt_writer *w, struct edr_err *err);
/* Frees; if finish() did not succeed, the partial file is removed. */
void edr_bolt_writer_free(struct edr_bolt_writer *w);

#endif
