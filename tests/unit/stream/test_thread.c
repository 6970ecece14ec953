/*
 * Thread boundary: bytes arrive unchanged and in order whatever the write
 * sizes; errors of next come back to the producer; freeing without finish
 * does not hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stream/basic.h"
#include "stream/thread.h"
#include "../support.h"

static void
test_round_trip(void **state)
{
    static const size_t sizes[] = {0,
                                   1,
                                   4096,
                                   EDR_STREAM_THREAD_SLOT - 1,
                                   EDR_STREAM_THREAD_SLOT,
                                   EDR_STREAM_THREAD_SLOT * 5 + 3,
                                   3 << 20};
    (void)state;
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        size_t n = sizes[k];
        uint8_t *data = malloc(n + 1);
        tu_random(data, n, 7 + k);
        for (size_t sp = 0; sp < TU_NSPLITS; sp++) {
            struct edr_stream *mem = NULL, *thr = NULL;
            struct edr_err err;
            const uint8_t *got;
            size_t glen;
            if (n > (1u << 20) && tu_splits[sp] == 1)
                continue; /* 1-byte writes of megabytes: slow, nothing new */
            assert_int_equal(edr_stream_mem_new(n + 1, "out", &mem, &err), EDR_OK);
            assert_int_equal(edr_stream_thread_new(mem, &thr, &err), EDR_OK);
            assert_int_equal(tu_feed_finish(thr, data, n, tu_splits[sp], 99, &err), EDR_OK);
            got = edr_stream_mem_data(mem, &glen);
            assert_int_equal(glen, n);
            if (n > 0)
                assert_memory_equal(got, data, n);
            edr_stream_free(thr);
            edr_stream_free(mem);
        }
        free(data);
    }
}

/* A sink that fails once it has seen `limit` bytes, or at finish. */
struct failing {
    struct edr_stream base;
    size_t seen, limit;
    int fail_finish;
};

static edr_rc
f_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct failing *f = (struct failing *)s;

    (void)buf;
    f->seen += len;
    if (f->seen > f->limit)
        return edr_err_set(err, EDR_E_IO, "unable to write 'x': [28] No space left on device");
    return EDR_OK;
}

static edr_rc
f_finish(struct edr_stream *s, struct edr_err *err)
{
    struct failing *f = (struct failing *)s;

    return f->fail_finish ? edr_err_set(err, EDR_E_INTEGRITY, "zstd: truncated input") : EDR_OK;
}

static void
f_free(struct edr_stream *s)
{
    (void)s;
}

static const struct edr_stream_ops f_ops = {"failing", f_write, f_finish, f_free};

static void
test_errors(void **state)
{
    size_t n = EDR_STREAM_THREAD_SLOT * 20;
    uint8_t *data = calloc(1, n);
    struct failing f = {{&f_ops, NULL}, 0, EDR_STREAM_THREAD_SLOT * 2, 0};
    struct edr_stream *thr = NULL;
    struct edr_err err;
    edr_rc rc;

    (void)state;
    /* a write error of next comes back on a later write or at finish */
    assert_int_equal(edr_stream_thread_new(&f.base, &thr, &err), EDR_OK);
    rc = tu_feed(thr, data, n, 65537, 1, &err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(thr, &err);
    assert_int_equal(rc, EDR_E_IO);
    assert_string_equal(err.msg, "unable to write 'x': [28] No space left on device");
    edr_stream_free(thr);

    /* an error of next's finish comes back from finish */
    f.seen = 0;
    f.limit = SIZE_MAX;
    f.fail_finish = 1;
    assert_int_equal(edr_stream_thread_new(&f.base, &thr, &err), EDR_OK);
    assert_int_equal(tu_feed(thr, data, 1000, 7, 1, &err), EDR_OK);
    assert_int_equal(edr_stream_finish(thr, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "zstd: truncated input");
    edr_stream_free(thr);

    /* freed in the middle, without finish: stops, drops the rest, no hang */
    f.fail_finish = 0;
    assert_int_equal(edr_stream_thread_new(&f.base, &thr, &err), EDR_OK);
    assert_int_equal(tu_feed(thr, data, n / 2, 4096, 1, &err), EDR_OK);
    edr_stream_free(thr);
    free(data);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
