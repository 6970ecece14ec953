/*
 * Unit tests of the mvccpb.KeyValue codec (src/mvcc/kvpb.c): a round trip,
 * truncations, unknown fields skipped, wrong and unsupported wire types.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mvcc/mvcc.h"

static void
test_kv_codec(void **state)
{
    struct edr_kv kv = {0}, out;
    struct edr_err err;
    uint8_t buf[256];
    size_t n;

    (void)state;
    kv.key = (const uint8_t *)"/a";
    kv.key_len = 2;
    kv.value = (const uint8_t *)"hello";
    kv.value_len = 5;
    kv.create_revision = 2;
    kv.mod_revision = 300;
    kv.version = 7;
    kv.lease = 0x468aa219410eb20bll;
    n = edr_mvcc_kv_encode(&kv, buf, sizeof(buf));
    assert_int_equal(edr_mvcc_kv_encode(&kv, buf, 3), n); /* too small: size only */
    assert_int_equal(edr_mvcc_kv_decode(buf, n, &out, &err), EDR_OK);
    assert_int_equal(out.key_len, 2);
    assert_memory_equal(out.key, "/a", 2);
    assert_int_equal(out.value_len, 5);
    assert_int_equal(out.create_revision, 2);
    assert_int_equal(out.mod_revision, 300);
    assert_int_equal(out.version, 7);
    assert_int_equal(out.lease, 0x468aa219410eb20bll);
    /* every truncation fails cleanly or decodes a prefix of the fields */
    for (size_t i = 0; i < n; i++)
        (void)edr_mvcc_kv_decode(buf, i, &out, &err);
    assert_int_equal(edr_mvcc_kv_decode(buf, n - 1, &out, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "truncated varint");
    assert_int_equal(edr_mvcc_kv_decode(buf, 3, &out, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "field 1: length 2 exceeds the 1 bytes left");
    /* unknown fields are skipped: 7 varint, 8 fixed64, 9 bytes, 10 fixed32 */
    {
        const uint8_t x[] = {0x0a, 0x01, 'k',  0x38, 0x05, 0x41, 1, 2, 3, 4, 5,    6,   7,
                             8,    0x4a, 0x02, 'z',  'z',  0x55, 1, 2, 3, 4, 0x10, 0x09};
        assert_int_equal(edr_mvcc_kv_decode(x, sizeof(x), &out, &err), EDR_OK);
        assert_int_equal(out.key_len, 1);
        assert_int_equal(out.create_revision, 9);
    }
    {
        const uint8_t bad[] = {0x0b, 0x0c}; /* field 1, an empty group */
        const uint8_t wt[] = {0x08, 0x01};  /* key as varint */
        const uint8_t zero[] = {0x00, 0x01};
        assert_int_equal(edr_mvcc_kv_decode(bad, sizeof(bad), &out, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "field 1: wrong wire type");
        assert_int_equal(edr_mvcc_kv_decode(wt, sizeof(wt), &out, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "field 1: wrong wire type");
        assert_int_equal(edr_mvcc_kv_decode(zero, sizeof(zero), &out, &err), EDR_E_INTEGRITY);
    }
    assert_int_equal(edr_mvcc_kv_decode(buf, 0, &out, &err), EDR_OK);
    assert_int_equal(out.key_len, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_codec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
