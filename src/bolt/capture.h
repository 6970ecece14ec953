/*
 * Internal to src/bolt: what a capture (see bolt.h, edr_bolt_capture_new)
 * kept of one page, for the reader's walk.
 */
#ifndef EDR_BOLT_CAPTURE_H
#define EDR_BOLT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

struct edr_stream;

enum cap_kind {
    CAP_NONE, /* not seen as the first page of a run: the walk cannot go there */
    CAP_HDR,  /* header only (a page type the walk rejects, or content not kept) */
    CAP_RAW,  /* the whole run, byte for byte */
    CAP_SUM,  /* a leaf run summed up by the leaf function */
};

struct cap_page {
    enum cap_kind kind;
    uint16_t flags, count;
    uint32_t overflow;
    const uint8_t *p; /* CAP_RAW: (overflow + 1) * page size bytes */
    size_t len;
    uint32_t sum_id;          /* CAP_SUM: the id the leaf function gave */
    const uint8_t *first_key; /* CAP_SUM: first and last key of the leaf */
    size_t first_len;
    const uint8_t *last_key;
    size_t last_len;
};

/* 0 and *out filled, or -1 when pgid is beyond what was captured. */
int edr_bolt_capture_page(const struct edr_stream *cap, uint64_t pgid, struct cap_page *out);
/* Page size (0 when unknown) and the image's size in bytes (trailer excluded);
 * *complete is 0 when the capture could not keep everything it should have. */
void edr_bolt_capture_geometry(const struct edr_stream *cap, uint32_t *page_size,
                               uint64_t *file_size, int *complete);

#endif
