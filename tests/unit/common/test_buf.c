/*
 * Unit tests of the growable byte buffer: growth past the first allocation,
 * the NUL kept after the data, printf, reset, and the sticky failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"

static void
test_grow(void **state)
{
    struct edr_buf b = {0};
    char chunk[100];
    (void)state;

    memset(chunk, 'a', sizeof(chunk));
    for (int i = 0; i < 30; i++)
        assert_int_equal(edr_buf_add(&b, chunk, sizeof(chunk)), 0);
    assert_int_equal(b.len, 3000);
    assert_true(b.cap > b.len);
    assert_int_equal(b.data[2999], 'a');
    assert_int_equal(b.data[3000], '\0');
    assert_int_equal(strlen((char *)b.data), 3000);
    edr_buf_release(&b);
    assert_null(b.data);
    assert_int_equal(b.len + b.cap, 0);
    edr_buf_release(NULL);
}

static void
test_text(void **state)
{
    struct edr_buf b = {0};
    (void)state;

    /* cstr of an empty buffer gives "" */
    assert_int_equal(edr_buf_cstr(&b), 0);
    assert_string_equal((char *)b.data, "");
    assert_int_equal(edr_buf_str(&b, "rev "), 0);
    assert_int_equal(edr_buf_printf(&b, "%d_%s", 12, "0"), 0);
    assert_int_equal(edr_buf_byte(&b, '!'), 0);
    assert_int_equal(edr_buf_add(&b, NULL, 0), 0);
    assert_string_equal((char *)b.data, "rev 12_0!");
    assert_int_equal(b.len, 9);
    edr_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    assert_int_equal(edr_buf_str(&b, "x"), 0);
    assert_string_equal((char *)b.data, "x");
    edr_buf_release(&b);
}

static void
test_failed(void **state)
{
    struct edr_buf b = {0};
    (void)state;

    assert_int_equal(edr_buf_str(&b, "ok"), 0);
    /* a length that cannot fit fails and stays failed */
    assert_int_equal(edr_buf_add(&b, "x", SIZE_MAX - 1), -1);
    assert_true(b.failed);
    assert_int_equal(edr_buf_str(&b, "more"), -1);
    assert_int_equal(edr_buf_printf(&b, "%d", 1), -1);
    assert_int_equal(edr_buf_cstr(&b), -1);
    assert_string_equal((char *)b.data, "ok");
    /* reset clears it */
    edr_buf_reset(&b);
    assert_int_equal(edr_buf_str(&b, "new"), 0);
    assert_string_equal((char *)b.data, "new");
    edr_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_failed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
