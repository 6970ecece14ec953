/*
 * Unit tests of src/repo/manifest.c: the exact JSON of a manifest (the
 * on-disk format of etcd-dr-format(5)), a round trip of every field including
 * extreme values, bad documents with their exact messages, optional and
 * unknown fields, and the ISO time helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repo/manifest.h"

static void
fill(struct edr_manifest *m)
{
    memset(m, 0, sizeof(*m));
    m->format = EDR_MANIFEST_FORMAT;
    snprintf(m->id, sizeof(m->id), "20261126T183000Z-r12345");
    snprintf(m->cluster, sizeof(m->cluster), "prod");
    m->started = 1795717800;
    m->finished = 1795717865;
    m->duration_s = 65.25;
    snprintf(m->tool_version, sizeof(m->tool_version), "1.2.3");
    snprintf(m->endpoint, sizeof(m->endpoint), "https://10.0.0.1:2379");
    snprintf(m->etcd_version, sizeof(m->etcd_version), "3.4.23");
    m->cluster_id = 0xcdf818194e3a8c32ull;
    m->member_id = 0x8e9e05c52164694dull;
    m->revision = 12345;
    m->raft_index = 67890;
    m->raft_term = 7;
    m->db_size = 20480;
    memset(m->db_sha256, 'a', 64);
    m->stored_size = 4321;
    memset(m->stored_sha256, '0', 63);
    m->stored_sha256[63] = 'f';
    snprintf(m->compression, sizeof(m->compression), "zstd");
    m->compress_level = 3;
    m->encrypted = 1;
    m->nrecipients = 2;
    snprintf(m->recipients[0], 17, "0123456789abcdef");
    snprintf(m->recipients[1], 17, "fedcba9876543210");
    m->total_keys = 1000;
    m->key_revisions = 990;
}

static const char golden[] =
    "{\n"
    "  \"format\": 1,\n"
    "  \"id\": \"20261126T183000Z-r12345\",\n"
    "  \"cluster\": \"prod\",\n"
    "  \"started\": \"2026-11-26T18:30:00Z\",\n"
    "  \"finished\": \"2026-11-26T18:31:05Z\",\n"
    "  \"duration_seconds\": 65.25,\n"
    "  \"tool_version\": \"1.2.3\",\n"
    "  \"endpoint\": \"https://10.0.0.1:2379\",\n"
    "  \"etcd_version\": \"3.4.23\",\n"
    "  \"cluster_id\": \"cdf818194e3a8c32\",\n"
    "  \"member_id\": \"8e9e05c52164694d\",\n"
    "  \"revision\": 12345,\n"
    "  \"raft_index\": 67890,\n"
    "  \"raft_term\": 7,\n"
    "  \"db_size\": 20480,\n"
    "  \"db_sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\n"
    "  \"stored_size\": 4321,\n"
    "  \"stored_sha256\": \"000000000000000000000000000000000000000000000000000000000000000f\",\n"
    "  \"compression\": {\n"
    "    \"algorithm\": \"zstd\",\n"
    "    \"level\": 3\n"
    "  },\n"
    "  \"encryption\": {\n"
    "    \"enabled\": true,\n"
    "    \"recipients\": [\n"
    "      \"0123456789abcdef\",\n"
    "      \"fedcba9876543210\"\n"
    "    ]\n"
    "  },\n"
    "  \"total_keys\": 1000,\n"
    "  \"key_revisions\": 990,\n"
    "  \"data\": \"20261126T183000Z-r12345.edr\"\n"
    "}\n";

static void
assert_same(const struct edr_manifest *a, const struct edr_manifest *b)
{
    assert_int_equal(a->format, b->format);
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->cluster, b->cluster);
    assert_int_equal(a->started, b->started);
    assert_int_equal(a->finished, b->finished);
    assert_true(a->duration_s == b->duration_s);
    assert_string_equal(a->tool_version, b->tool_version);
    assert_string_equal(a->endpoint, b->endpoint);
    assert_string_equal(a->etcd_version, b->etcd_version);
    assert_int_equal(a->cluster_id, b->cluster_id);
    assert_int_equal(a->member_id, b->member_id);
    assert_int_equal(a->revision, b->revision);
    assert_int_equal(a->raft_index, b->raft_index);
    assert_int_equal(a->raft_term, b->raft_term);
    assert_int_equal(a->db_size, b->db_size);
    assert_string_equal(a->db_sha256, b->db_sha256);
    assert_int_equal(a->stored_size, b->stored_size);
    assert_string_equal(a->stored_sha256, b->stored_sha256);
    assert_string_equal(a->compression, b->compression);
    assert_int_equal(a->compress_level, b->compress_level);
    assert_int_equal(a->encrypted, b->encrypted);
    assert_int_equal(a->nrecipients, b->nrecipients);
    for (int i = 0; i < a->nrecipients; i++)
        assert_string_equal(a->recipients[i], b->recipients[i]);
    assert_int_equal(a->total_keys, b->total_keys);
    assert_int_equal(a->key_revisions, b->key_revisions);
}

static void
test_golden(void **state)
{
    struct edr_manifest m, back;
    struct edr_err err;
    char *json = NULL;
    (void)state;

    fill(&m);
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
    assert_string_equal(json, golden);
    assert_int_equal(edr_manifest_from_json(json, strlen(json), "m", &back, &err), EDR_OK);
    assert_same(&m, &back);
    /* not part of the file */
    assert_int_equal(back.verified, 0);
    assert_string_equal(back.verify_level, "");
    assert_int_equal(back.verify_time, 0);
    free(json);
}

static void
roundtrip(const struct edr_manifest *m)
{
    struct edr_manifest back;
    struct edr_err err;
    char *json = NULL;

    assert_int_equal(edr_manifest_to_json(m, &json, &err), EDR_OK);
    assert_int_equal(json[strlen(json) - 1], '\n');
    memset(&back, 0x5A, sizeof(back));
    assert_int_equal(edr_manifest_from_json(json, strlen(json), "m", &back, &err), EDR_OK);
    assert_same(m, &back);
    free(json);
}

static void
test_roundtrip_extremes(void **state)
{
    struct edr_manifest m;
    (void)state;

    fill(&m);
    m.cluster_id = UINT64_MAX;
    m.member_id = 1;
    m.revision = INT64_MAX;
    m.raft_index = (uint64_t)INT64_MAX;
    m.raft_term = 0;
    m.db_size = (1ull << 40) + 3;
    m.stored_size = 0;
    m.total_keys = 0;
    m.key_revisions = (1ull << 33);
    m.duration_s = 0.001;
    m.started = 0;
    m.finished = 2147483648; /* past 2038 */
    m.encrypted = 0;
    m.nrecipients = 0;
    m.compress_level = 19;
    roundtrip(&m);

    /* every recipient slot; quotes and backslashes in strings */
    fill(&m);
    m.nrecipients = EDR_MANIFEST_MAX_RECIPIENTS;
    for (int i = 0; i < m.nrecipients; i++)
        snprintf(m.recipients[i], 17, "%016x", (unsigned)i * 0x01010101u);
    snprintf(m.endpoint, sizeof(m.endpoint), "http://a\"b\\c:2379/ü");
    snprintf(m.cluster, sizeof(m.cluster), "%s", "c-1.x_y");
    m.duration_s = 123456.5;
    roundtrip(&m);
}

/* Replace the first occurrence of `from` in the golden document by `to`. */
static char *
edit(const char *from, const char *to)
{
    const char *p = strstr(golden, from);
    char *out;

    assert_non_null(p);
    out = malloc(sizeof(golden) + strlen(to));
    assert_non_null(out);
    memcpy(out, golden, (size_t)(p - golden));
    strcpy(out + (p - golden), to);
    strcat(out, p + strlen(from));
    return out;
}

static void
test_bad(void **state)
{
    static const struct {
        const char *from, *to, *msg;
    } cases[] = {
        {"\"format\": 1", "\"format\": 2", "unsupported or missing format"},
        {"\"format\": 1", "\"format\": \"1\"", "unsupported or missing format"},
        {"\"format\": 1", "\"formats\": 1", "unsupported or missing format"},
        {"\"id\"", "\"ids\"", "missing id or cluster"},
        {"\"cluster\": \"prod\"", "\"cluster\": 5", "missing id or cluster"},
        {"\"2026-11-26T18:30:00Z\"", "\"2026-11-26 18:30:00\"",
         "missing or bad started/finished time"},
        {"\"2026-11-26T18:31:05Z\"", "\"2026-11-26T18:31:05Zjunk\"",
         "missing or bad started/finished time"},
        {"\"finished\"", "\"finish\"", "missing or bad started/finished time"},
        {"\"started\": \"2026-11-26T18:30:00Z\"", "\"started\": 1795717800",
         "missing or bad started/finished time"},
        {"\"revision\"", "\"rev\"", "missing revision or db_size"},
        {"\"db_size\": 20480", "\"db_size\": 20480.5", "missing revision or db_size"},
        {"\"revision\": 12345", "\"revision\": \"12345\"", "missing revision or db_size"},
        {"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
         "missing or bad hashes"},
        {"\"stored_sha256\"", "\"stored_sha\"", "missing or bad hashes"},
        {"\"stored_size\"", "\"stored\"", "missing or bad hashes"},
        {"\"encryption\"", "\"encrypt\"", "missing encryption"},
    };
    struct edr_manifest m;
    struct edr_err err;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *doc = edit(cases[i].from, cases[i].to), want[256];
        snprintf(want, sizeof(want), "manifest 'p/x.json': %s", cases[i].msg);
        edr_err_clear(&err);
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "p/x.json", &m, &err),
                         EDR_E_INTEGRITY);
        assert_int_equal(err.code, EDR_E_INTEGRITY);
        assert_string_equal(err.msg, want);
        free(doc);
    }

    assert_int_equal(edr_manifest_from_json("[1]", 3, "a", &m, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "manifest 'a': not an object");
    assert_int_equal(edr_manifest_from_json("{\"format\": 1", 12, "a", &m, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "manifest 'a': invalid JSON at line 1: "
                                 "'}' expected near end of file");
    assert_int_equal(edr_manifest_from_json("", 0, "a", &m, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "manifest 'a': invalid JSON at line 1: "
                                 "'[' or '{' expected near end of file");
    assert_int_equal(edr_manifest_from_json("{}\n{}", 5, "a", &m, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "manifest 'a': invalid JSON at line 2: "
                                 "end of file expected near '{'");
    /* the length is honoured: a cut document is invalid */
    assert_int_equal(edr_manifest_from_json(golden, sizeof(golden) - 10, "a", &m, &err),
                     EDR_E_INTEGRITY);
    assert_int_equal(strncmp(err.msg, "manifest 'a': invalid JSON at line 33: ", 39), 0);
}

static void
test_optional_unknown(void **state)
{
    struct edr_manifest m;
    struct edr_err err;
    char *doc;
    (void)state;

    /* unknown fields are ignored */
    doc = edit("\"format\": 1,", "\"format\": 1, \"future\": {\"x\": [1, 2]},");
    assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "a", &m, &err), EDR_OK);
    assert_int_equal(m.revision, 12345);
    free(doc);

    /* optional fields absent or of another type: zero */
    {
        const char *min =
            "{\"format\": 1, \"id\": \"i\", \"cluster\": \"c\", "
            "\"started\": \"1999-12-31T23:59:59Z\", \"finished\": \"2000-01-01T00:00:00Z\", "
            "\"revision\": 5, \"db_size\": 10, \"stored_size\": 11, "
            "\"db_sha256\": \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", "
            "\"stored_sha256\": "
            "\"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\", "
            "\"encryption\": {}, \"raft_index\": \"7\", \"compression\": \"zstd\"}";
        assert_int_equal(edr_manifest_from_json(min, strlen(min), "a", &m, &err), EDR_OK);
        assert_string_equal(m.id, "i");
        assert_int_equal(m.started, 946684799);
        assert_int_equal(m.finished, 946684800);
        assert_int_equal(m.revision, 5);
        assert_int_equal(m.db_size, 10);
        assert_int_equal(m.stored_size, 11);
        assert_int_equal(m.raft_index, 0);
        assert_int_equal(m.raft_term, 0);
        assert_int_equal(m.cluster_id, 0);
        assert_true(m.duration_s == 0);
        assert_string_equal(m.tool_version, "");
        assert_string_equal(m.compression, "");
        assert_int_equal(m.encrypted, 0);
        assert_int_equal(m.nrecipients, 0);
        assert_int_equal(m.total_keys, 0);
    }

    /* more recipients than slots: the first ones are kept; a non-string stops */
    {
        char rc[2048] = "\"recipients\": [";
        for (int i = 0; i < EDR_MANIFEST_MAX_RECIPIENTS + 5; i++)
            snprintf(rc + strlen(rc), sizeof(rc) - strlen(rc), "%s\"%016d\"", i ? ", " : "", i);
        strcat(rc, "]");
        doc = edit("\"recipients\": [\n      \"0123456789abcdef\",\n      \"fedcba9876543210\"\n"
                   "    ]",
                   rc);
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "a", &m, &err), EDR_OK);
        assert_int_equal(m.nrecipients, EDR_MANIFEST_MAX_RECIPIENTS);
        assert_string_equal(m.recipients[31], "0000000000000031");
        free(doc);
        doc = edit("\"fedcba9876543210\"", "7, \"1111111111111111\"");
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "a", &m, &err), EDR_OK);
        assert_int_equal(m.nrecipients, 1);
        assert_string_equal(m.recipients[0], "0123456789abcdef");
        free(doc);
    }
    /* enabled must be JSON true */
    doc = edit("\"enabled\": true", "\"enabled\": 1");
    assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "a", &m, &err), EDR_OK);
    assert_int_equal(m.encrypted, 0);
    free(doc);
}

static void
test_time(void **state)
{
    static const struct {
        time_t t;
        const char *s;
    } ok[] = {
        {0, "1970-01-01T00:00:00Z"},          {946684799, "1999-12-31T23:59:59Z"},
        {951782400, "2000-02-29T00:00:00Z"},  {1795717800, "2026-11-26T18:30:00Z"},
        {2147483648, "2038-01-19T03:14:08Z"},
    };
    static const char *const bad[] = {
        "",
        "2026-11-26",
        "2026-11-26T18:30:00",
        "2026-11-26T18:30:00Z ",
        "2026-11-26T18:30:00+01:00",
        "2026-13-01T00:00:00Z",
        "2026-11-26T25:00:00Z",
        "2026-11-26 18:30:00Z",
        "yesterday",
    };
    char buf[32];
    time_t t;
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        edr_time_iso(ok[i].t, buf);
        assert_string_equal(buf, ok[i].s);
        t = -5;
        assert_int_equal(edr_time_parse_iso(ok[i].s, &t), 0);
        assert_int_equal(t, ok[i].t);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 77;
        assert_int_equal(edr_time_parse_iso(bad[i], &t), -1);
        assert_int_equal(t, 77);
    }
    /* any second of a few years round-trips */
    for (time_t x = 1700000000; x < 1800000000; x += 999983) {
        edr_time_iso(x, buf);
        assert_int_equal(edr_time_parse_iso(buf, &t), 0);
        assert_int_equal(t, x);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden), cmocka_unit_test(test_roundtrip_extremes),
        cmocka_unit_test(test_bad),    cmocka_unit_test(test_optional_unknown),
        cmocka_unit_test(test_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
