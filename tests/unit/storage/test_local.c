/*
 * The local directory backend under a stop request: reads, writes and the
 * wait for a lock end with EDR_E_INTERRUPTED once the check given in the
 * storage options says so, the same way the S3 backend stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support.h"
#include "storage/storage.h"

static int stop;

static int
stop_requested(void)
{
    return stop;
}

static char *dir;

static int
setup(void **state)
{
    (void)state;
    stop = 0;
    dir = tu_tmpdir();
    return dir == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    tu_rmrf(dir);
    free(dir);
    return 0;
}

static void
test_read_and_write_stop(void **state)
{
    struct edr_storage_opts o = {0};
    struct edr_storage *st = NULL;
    struct edr_stream *w = NULL;
    struct edr_err err;
    char *buf = NULL, want[4200];

    (void)state;
    o.interrupted = stop_requested;
    assert_int_equal(edr_storage_open(dir, &o, 0, &st, &err), EDR_OK);
    assert_int_equal(edr_storage_put_buf(st, "a/x", "hello", 5, &err), EDR_OK);
    assert_int_equal(edr_storage_get_buf(st, "a/x", 100, &buf, NULL, &err), EDR_OK);
    assert_string_equal(buf, "hello");
    free(buf);

    assert_int_equal(st->ops->put_open(st, "a/y", 0, &w, &err), EDR_OK);
    stop = 1;
    assert_int_equal(edr_stream_write(w, "x", 1, &err), EDR_E_INTERRUPTED);
    snprintf(want, sizeof(want), "writing '%s/a/y': interrupted", dir);
    assert_string_equal(err.msg, want);
    edr_stream_free(w);

    assert_int_equal(edr_storage_get_buf(st, "a/x", 100, &buf, NULL, &err), EDR_E_INTERRUPTED);
    snprintf(want, sizeof(want), "reading '%s/a/x': interrupted", dir);
    assert_string_equal(err.msg, want);
    assert_null(buf);
    edr_storage_free(st);
}

static void
test_lock_wait_stops(void **state)
{
    struct edr_storage_opts o = {0};
    struct edr_storage *a = NULL, *b = NULL;
    struct edr_storage_lock *la = NULL, *lb = NULL;
    struct edr_err err;
    char want[4200];
    time_t t0;

    (void)state;
    o.interrupted = stop_requested;
    assert_int_equal(edr_storage_open(dir, &o, 0, &a, &err), EDR_OK);
    assert_int_equal(edr_storage_open(dir, &o, 0, &b, &err), EDR_OK);
    assert_int_equal(a->ops->lock(a, "c/.lock", "a", 0, 60, &la, &err), EDR_OK);
    stop = 1;
    t0 = time(NULL);
    assert_int_equal(b->ops->lock(b, "c/.lock", "b", 30, 60, &lb, &err), EDR_E_INTERRUPTED);
    assert_true(time(NULL) - t0 < 5);
    snprintf(want, sizeof(want), "waiting for the lock '%s/c/.lock': interrupted", dir);
    assert_string_equal(err.msg, want);
    assert_null(lb);
    a->ops->unlock(a, la);
    edr_storage_free(a);
    edr_storage_free(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_and_write_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_wait_stops, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
