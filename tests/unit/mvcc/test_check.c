/*
 * Unit tests of src/mvcc/check.c: each error of the MVCC check, with its
 * exact message, from edr_mvcc_check and from the one-pass
 * edr_mvcc_status_checked alike.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "mvcc/mvcc.h"
#include "../support.h"
#include "etcd_db.h"

static void
check_one(const struct pair *kp, size_t n, int with_meta, edr_rc want, const char *msg)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct pair ci;
    struct bucket bk[2] = {{"key", kp, n}, {"meta", &ci, 1}};

    memset(&ci, 0, sizeof(ci));
    memcpy(ci.k, "consistent_index", 16);
    ci.kl = 16;
    ci.vl = 8;
    write_db(bk, with_meta ? 2 : 1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_check(b, &err), want);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
    {
        /* the one-pass variant verify uses finds the same problem */
        struct edr_mvcc_status st;
        assert_int_equal(edr_mvcc_status_checked(b, &st, &err), want);
        if (msg != NULL)
            assert_string_equal(err.msg, msg);
        edr_mvcc_status_release(&st);
    }
    edr_bolt_close(b);
}

static void
test_check(void **state)
{
    struct pair p[2];
    struct edr_kv kv = {0};

    (void)state;
    memset(p, 0, sizeof(p));
    revkey(p[0].k, 5, 0);
    p[0].kl = 17;
    kv.key = (const uint8_t *)"/x";
    kv.key_len = 2;
    p[0].vl = edr_mvcc_kv_encode(&kv, p[0].v, sizeof(p[0].v));
    check_one(p, 1, 1, EDR_OK, NULL);
    check_one(p, 1, 0, EDR_E_INTEGRITY, "meta: consistent_index not found");
    p[0].vl = 0; /* bump marker */
    check_one(p, 1, 1, EDR_OK, NULL);
    p[0].k[17] = 't';
    p[0].kl = 18;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "revision 5_0t: empty tombstone");
    p[0].kl = 17;
    p[0].v[0] = 0x0a;
    p[0].v[1] = 0x05;
    p[0].vl = 2;
    check_one(p, 1, 1, EDR_E_INTEGRITY,
              "revision 5_0: invalid KeyValue: field 1: length 5 exceeds the 0 bytes left");
    p[0].v[0] = 0x10;
    p[0].v[1] = 0x05;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "revision 5_0: KeyValue without a key");
    p[0].k[8] = '-';
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 00000000000000052d0000000000000000");
    p[0].k[8] = '_';
    p[0].k[0] = 0x80;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 80000000000000055f0000000000000000");
    p[0].kl = 5;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 8000000000");
    {
        struct edr_bolt *b;
        struct edr_err err;
        write_etcd_db(0);
        assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
        assert_int_equal(edr_mvcc_check(b, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "meta: consistent_index not found");
        edr_bolt_close(b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check, tu_setup_file, tu_teardown_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
