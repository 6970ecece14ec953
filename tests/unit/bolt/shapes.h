/*
 * etcd-like databases of several shapes for the scanner and capture tests,
 * made with the bolt writer: a `key` bucket with 17-byte revision keys and
 * 18-byte tombstones, `meta`, inline small buckets, values spanning overflow
 * pages, multi-level branch trees, many buckets so the root bucket itself
 * needs branches, 4 KiB and 16 KiB pages.
 */
#ifndef EDR_TESTS_UNIT_BOLT_SHAPES_H
#define EDR_TESTS_UNIT_BOLT_SHAPES_H

#include <stddef.h>
#include <stdint.h>

struct spec {
    const char *what;
    uint32_t ps;
    unsigned nrev;      /* revisions in the key bucket (0 = no key bucket) */
    unsigned big_every; /* every Nth value is big_size bytes (0 = none) */
    size_t big_size;
    unsigned tomb_every; /* every Nth revision is a tombstone */
    unsigned nextra;     /* small buckets "a0000".. before the etcd ones */
    int64_t first_rev;
};

extern const struct spec specs[];
extern const size_t n_specs;

/* Writes the database of s to tu_path (support.h). */
void build(const struct spec *s);

#endif
