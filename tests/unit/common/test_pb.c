/*
 * Unit tests of the protobuf codec: varints at their boundaries, overlong
 * and truncated ones, the field iterator over every wire type (groups
 * included) and its errors, the writer's sizing when the buffer is too
 * small or absent, and the appends to a growable buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/pb.h"

static void
test_varint_roundtrip(void **state)
{
    static const struct {
        uint64_t v;
        size_t len;
    } cases[] = {
        {0, 1},           {1, 1},
        {127, 1},         {128, 2},
        {300, 2},         {16383, 2},
        {16384, 3},       {(1ull << 32) - 1, 5},
        {1ull << 32, 5},  {(1ull << 63) - 1, 9},
        {1ull << 63, 10}, {UINT64_MAX, 10},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t buf[EDR_PB_VARINT_MAX + 2];
        const uint8_t *p = buf;
        struct edr_err err;
        uint64_t v = 12345;
        size_t n = edr_pb_put_varint(buf, cases[i].v);

        assert_int_equal(n, cases[i].len);
        assert_int_equal(edr_pb_get_varint(&p, buf + n, &v, &err), EDR_OK);
        assert_true(v == cases[i].v);
        assert_ptr_equal(p, buf + n);
        /* any truncation of it fails */
        for (size_t cut = 0; cut < n; cut++) {
            p = buf;
            assert_int_equal(edr_pb_get_varint(&p, buf + cut, &v, &err), EDR_E_ETCD);
            assert_string_equal(err.msg, "truncated varint");
            assert_ptr_equal(p, buf);
        }
    }
}

static void
test_varint_known_bytes(void **state)
{
    uint8_t buf[EDR_PB_VARINT_MAX];
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    (void)state;

    assert_int_equal(edr_pb_put_varint(buf, 300), 2);
    assert_int_equal(buf[0], 0xac);
    assert_int_equal(buf[1], 0x02);
    assert_int_equal(edr_pb_put_varint(buf, UINT64_MAX), 10);
    assert_memory_equal(buf, max, sizeof(max));
}

static void
test_varint_overlong(void **state)
{
    /* 11 continuation bytes */
    static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                     0x80, 0x80, 0x80, 0x80, 0x00};
    /* 10th byte carries more than the 64th bit */
    static const uint8_t big[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    /* redundant zero continuation within 10 bytes is legal protobuf */
    static const uint8_t padded[] = {0x81, 0x80, 0x00};
    const uint8_t *p;
    struct edr_err err;
    uint64_t v;
    (void)state;

    p = eleven;
    assert_int_equal(edr_pb_get_varint(&p, eleven + sizeof(eleven), &v, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "overlong varint");
    p = big;
    assert_int_equal(edr_pb_get_varint(&p, big + sizeof(big), &v, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "overlong varint");
    p = padded;
    assert_int_equal(edr_pb_get_varint(&p, padded + sizeof(padded), &v, &err), EDR_OK);
    assert_int_equal(v, 1);
}

static void
check_next_error(const uint8_t *buf, size_t len, const char *msg)
{
    const uint8_t *p = buf;
    struct edr_pb_field f;
    struct edr_err err;

    edr_err_clear(&err);
    assert_int_equal(edr_pb_next(&p, buf + len, &f, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, msg);
}

static void
test_next_errors(void **state)
{
    static const uint8_t field0[] = {0x00, 0x01};
    static const uint8_t wire6[] = {0x0e};
    static const uint8_t wire7[] = {0x0f};
    static const uint8_t egroup[] = {0x0c};
    static const uint8_t mismatch[] = {0x0b, 0x14};
    static const uint8_t unclosed[] = {0x0b, 0x08, 0x01};
    static const uint8_t len_over[] = {0x0a, 0x05, 'a', 'b'};
    static const uint8_t len_trunc[] = {0x0a};
    static const uint8_t fixed64[] = {0x09, 1, 2, 3, 4, 5, 6, 7};
    static const uint8_t fixed32[] = {0x0d, 1, 2, 3};
    static const uint8_t bad_in_group[] = {0x0b, 0x0f, 0x0c};
    uint8_t deep[2 * 40];
    (void)state;

    check_next_error(field0, sizeof(field0), "invalid field number 0");
    check_next_error(wire6, sizeof(wire6), "field 1: invalid wire type 6");
    check_next_error(wire7, sizeof(wire7), "field 1: invalid wire type 7");
    check_next_error(egroup, sizeof(egroup), "field 1: unexpected end-group");
    check_next_error(mismatch, sizeof(mismatch), "group 1 closed by end-group 2");
    check_next_error(unclosed, sizeof(unclosed), "truncated varint");
    check_next_error(len_over, sizeof(len_over), "field 1: length 5 exceeds the 2 bytes left");
    check_next_error(len_trunc, sizeof(len_trunc), "truncated varint");
    check_next_error(fixed64, sizeof(fixed64), "field 1: truncated fixed64");
    check_next_error(fixed32, sizeof(fixed32), "field 1: truncated fixed32");
    check_next_error(bad_in_group, sizeof(bad_in_group), "field 1: invalid wire type 7");
    for (size_t i = 0; i < 40; i++)
        deep[i] = 0x0b;
    check_next_error(deep, 40, "groups nested too deeply");
}

static void
test_writer(void **state)
{
    uint8_t buf[64];
    struct edr_pb_writer w;
    static const uint8_t want[] = {0x08, 0x96, 0x01, 0x1a, 0x00, 0xa2, 0x06, 0x01, 'z'};
    (void)state;

    edr_pb_writer_init(&w, buf, sizeof(buf));
    edr_pb_put_uint(&w, 1, 150);
    edr_pb_put_uint(&w, 2, 0); /* omitted */
    edr_pb_put_bytes(&w, 3, "", 0);
    edr_pb_put_string(&w, 100, "z");
    assert_false(w.overflow);
    assert_int_equal(w.len, sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
}

static void
test_next_every_wire_type(void **state)
{
    /* every wire type, under the largest field number (2^29 - 1) and others */
    static const uint8_t msg[] = {
        0xf8, 0xff, 0xff, 0xff, 0x0f, 0x96, 0x01,       /* field 2^29-1 varint 150 */
        0x11, 1,    2,    3,    4,    5,    6,    7, 8, /* field 2 fixed64 */
        0x1d, 0xff, 0xff, 0xff, 0xff,                   /* field 3 fixed32 */
        0x22, 0x00,                                     /* field 4 empty bytes */
        0x2b,                                           /* field 5 start group */
        0x33, 0x34,                                     /*   group 6 { } */
        0x3a, 0x01, 'g',                                /*   field 7 "g" */
        0x2c,                                           /* end group 5 */
        0x40, 0x00,                                     /* field 8 varint 0 */
    };
    const uint8_t *p = msg, *end = msg + sizeof(msg);
    struct edr_pb_field f;
    struct edr_err err;
    (void)state;

    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.num, 0x1fffffff);
    assert_int_equal(f.wire, EDR_PB_VARINT);
    assert_int_equal(f.u, 150);
    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.num, 2);
    assert_int_equal(f.wire, EDR_PB_FIXED64);
    assert_true(f.u == 0x0807060504030201ull);
    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.wire, EDR_PB_FIXED32);
    assert_true(f.u == 0xffffffffull);
    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.num, 4);
    assert_int_equal(f.wire, EDR_PB_LEN);
    assert_int_equal(f.len, 0);
    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.num, 5);
    assert_int_equal(f.wire, EDR_PB_SGROUP);
    assert_ptr_equal(f.data, msg + 24);
    assert_int_equal(f.len, 5);
    assert_int_equal(edr_pb_next(&p, end, &f, &err), EDR_OK);
    assert_int_equal(f.num, 8);
    assert_int_equal(f.u, 0);
    assert_ptr_equal(p, end);
}

static void
test_next_field_number_range(void **state)
{
    static const uint8_t too_big[] = {0x80, 0x80, 0x80, 0x80, 0x10, 0x00}; /* field 2^29 */
    static const uint8_t trunc_tag[] = {0xf8, 0xff};
    (void)state;

    check_next_error(too_big, sizeof(too_big), "invalid field number 536870912");
    check_next_error(trunc_tag, sizeof(trunc_tag), "truncated varint");
}

static void
test_next_as(void **state)
{
    static const uint8_t len_over[] = {0x0a, 0x05, 'a'};
    static const uint8_t group_trunc[] = {0x0b, 0x10};
    static const uint8_t ok[] = {0x08, 0x01};
    const uint8_t *p = len_over;
    struct edr_pb_field f;
    struct edr_err err;
    (void)state;

    /* the caller's code, the codec's message; *p does not move past the input */
    assert_int_equal(edr_pb_next_as(&p, len_over + sizeof(len_over), &f, EDR_E_INTEGRITY, &err),
                     EDR_E_INTEGRITY);
    assert_int_equal(err.code, EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "field 1: length 5 exceeds the 1 bytes left");
    p = group_trunc;
    assert_int_equal(
        edr_pb_next_as(&p, group_trunc + sizeof(group_trunc), &f, EDR_E_INTEGRITY, &err),
        EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "truncated varint");
    /* without an error struct */
    p = len_over;
    assert_int_equal(edr_pb_next_as(&p, len_over + sizeof(len_over), &f, EDR_E_IO, NULL), EDR_E_IO);
    p = ok;
    assert_int_equal(edr_pb_next_as(&p, ok + sizeof(ok), &f, EDR_E_INTEGRITY, NULL), EDR_OK);
    assert_int_equal(f.u, 1);
}

static void
test_writer_sizing(void **state)
{
    static const char val[] = "0123456789";
    uint8_t buf[32]; /* room for the whole message (23 bytes) */
    struct edr_pb_writer w;
    size_t need;
    (void)state;

    /* no buffer: sizes the message */
    edr_pb_writer_init(&w, NULL, 100);
    edr_pb_put_uint(&w, 1, UINT64_MAX);
    edr_pb_put_bytes(&w, 2, val, 10);
    need = w.len;
    assert_int_equal(need, 1 + 10 + 1 + 1 + 10);
    assert_true(w.overflow);
    /* exactly enough */
    edr_pb_writer_init(&w, buf, need);
    edr_pb_put_uint(&w, 1, UINT64_MAX);
    edr_pb_put_bytes(&w, 2, val, 10);
    assert_false(w.overflow);
    assert_int_equal(w.len, need);
    /* one byte short: the size is still counted, nothing is written past cap,
     * and a later piece that would fit is not written either */
    memset(buf, 0xee, sizeof(buf));
    edr_pb_writer_init(&w, buf, 12);
    edr_pb_put_uint(&w, 1, UINT64_MAX);
    edr_pb_put_bytes(&w, 2, val, 10);
    assert_true(w.overflow);
    assert_int_equal(w.len, need);
    edr_pb_put_uint(&w, 3, 1);
    assert_int_equal(w.len, need + 2);
    assert_int_equal(buf[11], 0x12); /* the tag of field 2 made it */
    assert_int_equal(buf[12], 0xee);
    assert_int_equal(buf[15], 0xee);
}

static void
test_buf_writers(void **state)
{
    static const uint8_t want[] = {
        0x00, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, /* varints */
        0x08, 0x00,            /* field 1 = 0, written */
        0x98, 0x01, 0x07,      /* field 19 = 7 */
        0x22, 0x00,            /* field 4 empty bytes */
        0x2a, 0x02, 'h',  'i', /* field 5 "hi" */
    };
    struct edr_buf b = {0};
    (void)state;

    assert_int_equal(edr_pb_buf_varint(&b, 0), 0);
    assert_int_equal(edr_pb_buf_varint(&b, 300), 0);
    assert_int_equal(edr_pb_buf_varint(&b, UINT64_MAX), 0);
    assert_int_equal(edr_pb_buf_uint(&b, 1, 0), 0);
    assert_int_equal(edr_pb_buf_uint(&b, 19, 7), 0);
    assert_int_equal(edr_pb_buf_bytes(&b, 4, NULL, 0), 0);
    assert_int_equal(edr_pb_buf_bytes(&b, 5, "hi", 2), 0);
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.data, want, sizeof(want));
    /* after a failed allocation every append fails */
    b.failed = 1;
    assert_int_equal(edr_pb_buf_uint(&b, 1, 1), -1);
    assert_int_equal(b.len, sizeof(want));
    edr_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_varint_roundtrip), cmocka_unit_test(test_varint_known_bytes),
        cmocka_unit_test(test_varint_overlong),  cmocka_unit_test(test_next_every_wire_type),
        cmocka_unit_test(test_next_errors),      cmocka_unit_test(test_next_field_number_range),
        cmocka_unit_test(test_next_as),          cmocka_unit_test(test_writer),
        cmocka_unit_test(test_writer_sizing),    cmocka_unit_test(test_buf_writers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
