/*
 * Unit tests of src/import/gardener.c: snapshot names as etcd-backup-restore
 * writes them, the three compressions on deltas made by Go's own encoders
 * (data/, made by data/gen.go.txt), the delta converted into change records
 * whose KeyValue bytes equal what Go's mvccpb marshals, and damaged deltas
 * refused with the messages users see (bad hash, revisions missing, bad
 * events, truncated compressed data).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "common/hash.h"
#include "common/log.h"
#include "import/gardener.h"
#include "../support.h"

#define FIX "Incr-00000011-00000015-1796292000"

static uint8_t *
fixture(const char *suffix, size_t *len)
{
    char path[4096];
    const char *src = getenv("EDR_SRCDIR");
    uint8_t *p;

    snprintf(path, sizeof(path), "%s/tests/unit/import/data/" FIX "%s", src ? src : "..", suffix);
    p = tu_read_file(path, len);
    assert_non_null(p);
    return p;
}

static void
test_names(void **state)
{
    struct edr_gardener_name n;
    (void)state;

    assert_int_equal(edr_gardener_parse_name("Full-00000000-00012345-1700000000", &n), 0);
    assert_true(n.full);
    assert_int_equal(n.start, 0);
    assert_int_equal(n.last, 12345);
    assert_int_equal(n.created, 1700000000);
    assert_int_equal(n.comp, EDR_GARDENER_PLAIN);
    assert_false(n.final);
    assert_int_equal(edr_gardener_parse_name("Incr-00000101-00000200-1700000100.gz", &n), 0);
    assert_false(n.full);
    assert_int_equal(n.start, 101);
    assert_int_equal(n.last, 200);
    assert_int_equal(n.comp, EDR_GARDENER_GZIP);
    assert_int_equal(edr_gardener_parse_name("Incr-123456789-123456790-1700000100.Z", &n), 0);
    assert_int_equal(n.comp, EDR_GARDENER_LZW);
    assert_int_equal(n.last, 123456790);
    assert_int_equal(edr_gardener_parse_name("Full-00000000-00000300-1700000200.zlib.final", &n),
                     0);
    assert_int_equal(n.comp, EDR_GARDENER_ZLIB);
    assert_true(n.final);
    assert_int_equal(edr_gardener_parse_name("Full-00000000-00000300-1700000200.final", &n), 0);
    assert_true(n.final);
    assert_int_equal(n.comp, EDR_GARDENER_PLAIN);

    assert_int_equal(edr_gardener_parse_name("Incr-00000200-00000101-1700000100", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Full-00000005-00000101-1700000100", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Chunk-00000000-00000101-1700000100", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Incr-00000001-00000101-1700000100.bz2", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Incr-00000001-00000101-", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Incr-00000001-00000101-17x", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Incr--00000101-1700000100", &n), -1);
    assert_int_equal(edr_gardener_parse_name("Incr-1-2-3.gz.tmp", &n), -1);
    assert_int_equal(edr_gardener_parse_name("snapshot.db", &n), -1);
}

struct collect {
    int n;
    struct edr_seg_record r[8];
    uint8_t kv[8][64];
};

static edr_rc
on_record(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct collect *c = ud;
    (void)err;
    assert_true(c->n < 8);
    c->r[c->n] = *r;
    memcpy(c->kv[c->n], r->kv, r->kv_len < 64 ? r->kv_len : 64);
    c->n++;
    return EDR_OK;
}

static void
check_delta(const uint8_t *p, size_t len)
{
    struct edr_gardener_delta d;
    struct edr_err err;
    struct edr_stream *ps = NULL;
    struct collect c;
    /* the KeyValue bytes Go's mvccpb marshals for the fixture's events */
    static const uint8_t kv0[] = {0x0a, 0x02, '/',  'a',  0x10, 0x0b, 0x18, 0x0b,
                                  0x20, 0x01, 0x2a, 0x03, 'o',  'n',  'e'};
    static const uint8_t kv1[] = {0x0a, 0x02, '/',  'b',  0x10, 0x0c, 0x18, 0x0c,
                                  0x20, 0x01, 0x30, 0x9d, 0x90, 0xcf, 0x03};
    static const uint8_t kv2[] = {0x0a, 0x02, '/', 'a', 0x18, 0x0d};
    static const uint8_t kv4[] = {0x0a, 0x02, '/',  'b',  0x10, 0x0c, 0x18, 0x0e,
                                  0x20, 0x02, 0x2a, 0x03, 't',  'w',  'o'};

    memset(&c, 0, sizeof(c));
    edr_err_clear(&err);
    assert_int_equal(edr_gardener_delta_parse(p, len, FIX, &d, &err), EDR_OK);
    assert_int_equal(d.events, 6);
    assert_int_equal(d.first_rev, 11);
    assert_int_equal(d.last_rev, 15);
    assert_int_equal(d.first_ms, (int64_t)1796292000 * 1000 + 123);
    assert_int_equal(d.last_ms, (int64_t)1796292005 * 1000 + 123);
    assert_int_equal(edr_seg_parser_new(on_record, &c, "records", &ps, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(ps, d.records.data, d.records.len, 7, 1, &err), EDR_OK);
    edr_stream_free(ps);
    assert_int_equal(c.n, 6);
    assert_int_equal(c.r[0].type, EDR_SEG_PUT);
    assert_int_equal(c.r[2].type, EDR_SEG_DEL);
    assert_int_equal(c.r[2].rev, 13);
    assert_int_equal(c.r[3].rev, 13);
    assert_int_equal(c.r[1].time_ms, (int64_t)1796292001 * 1000 + 123);
    assert_int_equal(c.r[0].kv_len, sizeof(kv0));
    assert_memory_equal(c.kv[0], kv0, sizeof(kv0));
    assert_int_equal(c.r[1].kv_len, sizeof(kv1));
    assert_memory_equal(c.kv[1], kv1, sizeof(kv1));
    assert_int_equal(c.r[2].kv_len, sizeof(kv2));
    assert_memory_equal(c.kv[2], kv2, sizeof(kv2));
    assert_int_equal(c.r[4].kv_len, sizeof(kv4));
    assert_memory_equal(c.kv[4], kv4, sizeof(kv4));
    assert_int_equal(c.r[5].kv_len, 4 + 2 + 2 + 2 + 3 + 12000);
    edr_gardener_delta_release(&d);
}

static void
test_compressions(void **state)
{
    static const struct {
        const char *sfx;
        enum edr_gardener_comp comp;
    } c[] = {{"", EDR_GARDENER_PLAIN},
             {".gz", EDR_GARDENER_GZIP},
             {".Z", EDR_GARDENER_LZW},
             {".zlib", EDR_GARDENER_ZLIB}};
    size_t plen;
    uint8_t *plain = fixture("", &plen);
    (void)state;

    check_delta(plain, plen);
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct edr_buf out = {0};
        struct edr_err err;
        size_t len;
        uint8_t *p = fixture(c[i].sfx, &len);

        edr_err_clear(&err);
        assert_int_equal(edr_gardener_decompress(c[i].comp, p, len, &out, "f", &err), EDR_OK);
        assert_int_equal(out.len, plen);
        assert_memory_equal(out.data, plain, plen);
        edr_buf_release(&out);
        if (c[i].comp != EDR_GARDENER_PLAIN) {
            /* cut short, the data is refused */
            assert_int_equal(edr_gardener_decompress(c[i].comp, p, len - 3, &out, "f", &err),
                             EDR_E_INTEGRITY);
            if (strstr(err.msg, "'f': damaged") == NULL)
                fail_msg("%s: %s", c[i].sfx, err.msg);
            edr_buf_release(&out);
        }
        free(p);
    }
    free(plain);
}

struct trickle {
    const uint8_t *p;
    size_t left, step;
};

static edr_rc
trickle_pull(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err)
{
    struct trickle *t = ud;
    (void)err;
    *got = t->left < n ? t->left : n;
    if (*got > t->step)
        *got = t->step;
    memcpy(buf, t->p, *got);
    t->p += *got;
    t->left -= *got;
    return EDR_OK;
}

/* The reader with input in pieces of 1 and 5 bytes, read 1 and 7 bytes at a
 * time; then bytes after the end of the stream are refused. */
static void
test_reader_pieces(void **state)
{
    static const char *const sfx[] = {"", ".gz", ".Z", ".zlib"};
    static const enum edr_gardener_comp comp[] = {EDR_GARDENER_PLAIN, EDR_GARDENER_GZIP,
                                                  EDR_GARDENER_LZW, EDR_GARDENER_ZLIB};
    size_t plen;
    uint8_t *plain = fixture("", &plen), *got = malloc(plen + 64);
    (void)state;

    assert_non_null(got);
    for (size_t i = 0; i < 4; i++) {
        size_t len;
        uint8_t *p = fixture(sfx[i], &len), *longer = malloc(len + 1);
        assert_non_null(longer);
        for (size_t step = 1; step <= 5; step += 4) {
            struct trickle t = {p, len, step};
            struct edr_gardener_reader *r = NULL;
            struct edr_err err;
            size_t n = 0, k;
            edr_err_clear(&err);
            assert_int_equal(edr_gardener_reader_new(comp[i], trickle_pull, &t, "f", &r, &err),
                             EDR_OK);
            do {
                assert_int_equal(edr_gardener_reader_read(r, got + n, step == 1 ? 1 : 7, &k, &err),
                                 EDR_OK);
                n += k;
                assert_true(n <= plen);
            } while (k > 0);
            edr_gardener_reader_free(r);
            assert_int_equal(n, plen);
            assert_memory_equal(got, plain, plen);
        }
        if (comp[i] == EDR_GARDENER_LZW || comp[i] == EDR_GARDENER_ZLIB) {
            struct edr_buf out = {0};
            struct edr_err err;
            memcpy(longer, p, len);
            longer[len] = 0;
            assert_int_equal(edr_gardener_decompress(comp[i], longer, len + 1, &out, "f", &err),
                             EDR_E_INTEGRITY);
            assert_string_equal(err.msg, comp[i] == EDR_GARDENER_LZW
                                             ? "'f': data after the LZW end code"
                                             : "'f': data after the zlib stream");
            edr_buf_release(&out);
        }
        free(longer);
        free(p);
    }
    free(got);
    free(plain);
}

/* An LZW stream that fills the table and goes on without a reset (Go's
 * writer resets first, its reader accepts both; this file was checked with
 * Go's reader): 15000 letters from an LCG. */
static void
test_lzw_table_full(void **state)
{
    char path[4096];
    const char *src = getenv("EDR_SRCDIR");
    struct edr_buf out = {0};
    struct edr_err err;
    uint8_t want[15000];
    uint32_t x = 12345;
    size_t len;
    uint8_t *p;
    (void)state;

    snprintf(path, sizeof(path), "%s/tests/unit/import/data/lzw-table-full.Z", src ? src : "..");
    p = tu_read_file(path, &len);
    assert_non_null(p);
    for (size_t i = 0; i < sizeof(want); i++) {
        x = x * 1103515245u + 12345u;
        want[i] = (uint8_t)(((x >> 16) & 0x3f) | 0x40);
    }
    edr_err_clear(&err);
    assert_int_equal(edr_gardener_decompress(EDR_GARDENER_LZW, p, len, &out, "f", &err), EDR_OK);
    assert_int_equal(out.len, sizeof(want));
    assert_memory_equal(out.data, want, sizeof(want));
    edr_buf_release(&out);
    free(p);
}

static edr_rc
parse_json(const char *json, char *msg, size_t n)
{
    struct edr_gardener_delta d;
    struct edr_err err;
    size_t l = strlen(json);
    uint8_t *p = malloc(l + 32);
    edr_rc rc;

    assert_non_null(p);
    memcpy(p, json, l);
    edr_sha256_buf(p, l, p + l);
    edr_err_clear(&err);
    rc = edr_gardener_delta_parse(p, l + 32, "Incr-x", &d, &err);
    snprintf(msg, n, "%s", err.msg);
    edr_gardener_delta_release(&d);
    free(p);
    return rc;
}

#define EV(type, key, rev, time)                                                                   \
    "{\"etcdEvent\":{" type "\"kv\":{\"key\":\"" key                                               \
    "\",\"create_revision\":2,\"mod_revision\":" #rev ",\"version\":1}},\"time\":\"" time "\"}"

static void
test_damaged(void **state)
{
    struct edr_gardener_delta d;
    struct edr_err err;
    char msg[EDR_ERR_MSG_MAX];
    size_t len;
    uint8_t *p = fixture("", &len);
    (void)state;

    edr_err_clear(&err);
    p[100] ^= 1;
    assert_int_equal(edr_gardener_delta_parse(p, len, FIX, &d, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'" FIX "': sha256 mismatch (damaged delta snapshot)");
    edr_gardener_delta_release(&d);
    assert_int_equal(edr_gardener_delta_parse(p, 20, FIX, &d, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'" FIX "': too short for a delta snapshot");
    edr_gardener_delta_release(&d);
    free(p);

    assert_int_equal(parse_json("[" EV("", "L2E=", 5, "2026-12-03T10:00:00Z") "," EV(
                                    "", "L2E=", 7, "2026-12-03T10:00:00Z") "]",
                                msg, sizeof(msg)),
                     EDR_E_INTEGRITY);
    assert_string_equal(msg,
                        "'Incr-x': event 2 is at revision 7 after revision 5 (revisions missing)");
    assert_int_equal(parse_json("[" EV("", "L2E=", 5, "2026-12-03T10:00:00Z") "," EV(
                                    "", "L2E=", 4, "2026-12-03T10:00:00Z") "]",
                                msg, sizeof(msg)),
                     EDR_E_INTEGRITY);
    assert_string_equal(
        msg, "'Incr-x': event 2 is at revision 4 after revision 5 (revisions out of order)");
    assert_int_equal(
        parse_json("[" EV("\"type\":2,", "L2E=", 5, "2026-12-03T10:00:00Z") "]", msg, sizeof(msg)),
        EDR_E_INTEGRITY);
    assert_string_equal(msg, "'Incr-x': event 1: unknown event type");
    assert_int_equal(parse_json("[" EV("", "L2E", 5, "2026-12-03T10:00:00Z") "]", msg, sizeof(msg)),
                     EDR_E_INTEGRITY);
    assert_string_equal(msg, "'Incr-x': event 1: a key or value that is not base64");
    assert_int_equal(parse_json("[" EV("", "L2E=", 5, "yesterday") "]", msg, sizeof(msg)),
                     EDR_E_INTEGRITY);
    assert_string_equal(msg, "'Incr-x': event 1: no valid time");
    assert_int_equal(parse_json("[]", msg, sizeof(msg)), EDR_E_INTEGRITY);
    assert_string_equal(msg, "'Incr-x': not a non-empty JSON array of events");
    assert_int_equal(parse_json("[{\"etcdEvent\":{}}]", msg, sizeof(msg)), EDR_E_INTEGRITY);
    assert_string_equal(msg, "'Incr-x': event 1: no etcdEvent with a kv");
    assert_int_equal(parse_json("[{", msg, sizeof(msg)), EDR_E_INTEGRITY);
    assert_non_null(strstr(msg, "'Incr-x': invalid JSON: "));
    /* a time with an offset and the DELETE spelled as a string */
    assert_int_equal(
        parse_json("[" EV("\"type\":\"DELETE\",", "L2E=", 5, "2026-12-03T11:00:00.5+01:00") "]",
                   msg, sizeof(msg)),
        EDR_OK);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),         cmocka_unit_test(test_compressions),
        cmocka_unit_test(test_reader_pieces), cmocka_unit_test(test_lzw_table_full),
        cmocka_unit_test(test_damaged),
    };
    edr_log_setup(EDR_LOG_ERROR, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
