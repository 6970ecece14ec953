/*
 * Fixed-width integers in a byte buffer: little-endian (bbolt's on-disk
 * integers, WAL length fields) and big-endian (mvcc revisions, etcd's meta
 * values). Byte by byte, so any alignment is fine.
 */
#ifndef EDR_COMMON_BYTES_H
#define EDR_COMMON_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A stored text (a version) into a NUL-terminated dst[cap], cut to fit. */
static inline void
edr_copy_text(char *dst, size_t cap, const uint8_t *v, size_t vl)
{
    size_t n = vl < cap - 1 ? vl : cap - 1;

    memcpy(dst, v, n);
    dst[n] = '\0';
}

static inline uint16_t
edr_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
edr_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
edr_le64(const uint8_t *p)
{
    return (uint64_t)edr_le32(p) | (uint64_t)edr_le32(p + 4) << 32;
}

static inline uint64_t
edr_be64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static inline void
edr_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void
edr_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
edr_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void
edr_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* bytes.Compare: unsigned lexicographic order, a prefix sorts first. */
static inline int
edr_keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int c = n ? memcmp(a, b, n) : 0;

    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl ? 1 : 0;
}

#endif
