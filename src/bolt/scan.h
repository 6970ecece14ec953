/*
 * A stream observer that learns a bbolt image's revision and key counts while
 * the image flows past, without random access and without writing it to disk
 * (the backup pipeline keeps plaintext off disk). It records, per page, the
 * leaf element count and the highest mvcc revision key, and per branch page
 * its children; at finish it walks the trees from the newest valid meta so
 * only reachable pages count (freed pages in etcd's snapshots hold stale
 * data). Memory: 12 bytes per page plus 8 per branch element (branch pages
 * are about 1% of a db), i.e. about 3.5 MiB per GiB of db.
 */
#ifndef EDR_BOLT_SCAN_H
#define EDR_BOLT_SCAN_H

#include <stdint.h>

#include "stream/stream.h"

struct edr_bolt_scan_result {
    int valid; /* 0: the image could not be understood (see error) */
    char error[256];
    uint32_t page_size;
    uint64_t size;          /* pgid * page_size */
    int64_t revision;       /* highest main revision in the key bucket */
    uint64_t total_keys;    /* pairs in all buckets (etcdctl 3.4 total keys) */
    uint64_t key_revisions; /* pairs in the key bucket */
};

/* Observer passing bytes on to next (may be NULL). */
struct edr_stream *edr_bolt_scan_new(struct edr_stream *next);
/* Computed from what was written so far (normally the whole image); does
 * not finish the stream or its next. */
void edr_bolt_scan_result(struct edr_stream *s, struct edr_bolt_scan_result *out);

#endif
