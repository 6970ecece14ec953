/*
 * libFuzzer target for the bbolt reader: open, full check, a walk over every
 * bucket and pair, and lookups, on arbitrary bytes; then the same status
 * from a capture of the bytes streaming past (what verify uses), which must
 * agree with the file's. Any crash, leak, sanitizer report or disagreement
 * is a bug; errors are the expected outcome.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "scan_diff.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
on_bucket(void *ud, const uint8_t *name, size_t len)
{
    uint32_t *acc = ud;

    for (size_t i = 0; i < len; i++)
        *acc += name[i];
    return 0;
}

static int
on_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    uint32_t *acc = ud;

    /* touch every byte so the sanitizers see out-of-bounds pointers */
    for (size_t i = 0; i < kl; i++)
        *acc += k[i];
    for (size_t i = 0; i < vl; i++)
        *acc ^= v[i];
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edr_bolt *b = NULL;
    struct edr_err err;
    uint32_t acc = 0;
    uint8_t *val = NULL;
    size_t vl;
    int fd;

    fd = memfd_create("fuzz_bolt", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (size > 0 && write(fd, data, size) != (ssize_t)size)
        goto out;
    if (edr_bolt_open_fd(fd, "fuzz", &b, &err) != EDR_OK)
        goto out;
    (void)edr_bolt_check(b, NULL, &err);
    (void)edr_bolt_walk(b, 0, on_bucket, on_kv, &acc, NULL, &err);
    (void)edr_bolt_foreach_bucket(b, on_bucket, &acc, &err);
    (void)edr_bolt_foreach(b, "key", 3, on_kv, &acc, &err);
    if (edr_bolt_get(b, "meta", 4, "consistent_index", 16, &val, &vl, &err) == EDR_OK)
        free(val);
    val = NULL;
    if (edr_bolt_get(b, "key", 3, "\0\0\0\0\0\0\0\x02_\0\0\0\0\0\0\0\0", 17, &val, &vl, &err) ==
        EDR_OK)
        free(val);
out:
    edr_bolt_close(b);
    close(fd);
    /* the status of a captured stream must be the file's: same numbers,
     * same first error (or the capture asks for the file) */
    {
        char why[512];
        size_t step = size > 0 ? 1 + data[size / 2] * 37u : 0;
        if (scan_diff(data, size, step, NULL, why, sizeof(why)) != 0) {
            fprintf(stderr, "fuzz_bolt: capture and file disagree: %s\n", why);
            abort();
        }
    }
    return (int)(acc & 0);
}
