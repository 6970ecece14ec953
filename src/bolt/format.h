/*
 * bbolt's on-disk constants (doc/etcd-internals.md §2), shared by the
 * reader, the writer, the stream scanner and the capture: the page header
 * and element sizes, page flags, the bucket flag of a leaf element, the
 * meta page's magic, and the FNV-1a 64 checksum of a meta page.
 */
#ifndef EDR_BOLT_FORMAT_H
#define EDR_BOLT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define MAGIC 0xED0CDAEDu
#define HDR 16  /* page header: id, flags, count, overflow */
#define ELEM 16 /* branch and leaf element headers */
#define F_BRANCH 0x01
#define F_LEAF 0x02
#define F_META 0x04
#define F_FREELIST 0x10
#define BUCKET_FLAG 0x01

/* FNV-1a 64, the checksum over a meta page's fields */
static inline uint64_t
edr_bolt_fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#endif
