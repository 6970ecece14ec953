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

#include <math.h>
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

/* A good manifest with from replaced by to, refused with msg. */
struct edit_case {
    const char *from, *to, *msg;
};

static void
refused(const struct edit_case *cases, size_t n)
{
    struct edr_manifest m;
    struct edr_err err;

    for (size_t i = 0; i < n; i++) {
        char *doc = edit(cases[i].from, cases[i].to), want[256];
        snprintf(want, sizeof(want), "manifest 'p/x.json': %s", cases[i].msg);
        edr_err_clear(&err);
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "p/x.json", &m, &err),
                         EDR_E_INTEGRITY);
        assert_int_equal(err.code, EDR_E_INTEGRITY);
        assert_string_equal(err.msg, want);
        free(doc);
    }
}

static void
test_bad(void **state)
{
    static const struct edit_case cases[] = {
        {"\"format\": 1", "\"format\": 2", "unsupported or missing format"},
        {"\"format\": 1", "\"format\": \"1\"", "unsupported or missing format"},
        {"\"format\": 1", "\"formats\": 1", "unsupported or missing format"},
        {"\"id\"", "\"ids\"", "missing id or cluster"},
        {"\"cluster\": \"prod\"", "\"cluster\": 5", "missing id or cluster"},
        {"\"2026-11-26T18:30:00Z\"", "\"2026-11-26 18:30:00\"",
         "field 'started' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:31:05Z\"", "\"2026-11-26T18:31:05Zjunk\"",
         "field 'finished' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"finished\"", "\"finish\"", "missing or bad started/finished time"},
        {"\"started\": \"2026-11-26T18:30:00Z\"", "\"started\": 1795717800",
         "missing or bad started/finished time"},
        {"\"revision\"", "\"rev\"", "missing revision or db_size"},
        {"\"db_size\": 20480", "\"db_size\": 20480.5", "missing revision or db_size"},
        {"\"revision\": 12345", "\"revision\": \"12345\"", "missing revision or db_size"},
        {"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
         "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
         "field 'db_sha256' is not 64 lower-case hex digits"},
        {"\"stored_sha256\"", "\"stored_sha\"", "missing or bad hashes"},
        {"\"stored_size\"", "\"stored\"", "missing or bad hashes"},
        {"\"encryption\"", "\"encrypt\"", "missing encryption"},
    };
    struct edr_manifest m;
    struct edr_err err;
    (void)state;

    refused(cases, sizeof(cases) / sizeof(cases[0]));

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

/* Values of the right type that the writer could not write back, or that the
 * rest of etcd-dr would refuse (the parser used to accept all but one): each is
 * refused with a message naming the field. */
static void
test_bad_fields(void **state)
{
    static const struct edit_case cases[] = {
        /* digests: exactly 64 lower-case hex digits, what edr_hex() writes and
         * verify compares with strcmp() */
        {"\"stored_sha256\": \"000", "\"stored_sha256\": \"a94IIIIIIIIIIIIIIII000",
         "field 'stored_sha256' is not 64 lower-case hex digits"},
        {"\"stored_sha256\": \"000", "\"stored_sha256\": \"0000",
         "field 'stored_sha256' is not 64 lower-case hex digits"},
        {"\"stored_sha256\": \"000", "\"stored_sha256\": \"\\u00e90",
         "field 'stored_sha256' is not 64 lower-case hex digits"},
        {"\"db_sha256\": \"a", "\"db_sha256\": \"A",
         "field 'db_sha256' is not 64 lower-case hex digits"},
        {"\"db_sha256\": \"aa", "\"db_sha256\": \";a",
         "field 'db_sha256' is not 64 lower-case hex digits"},
        {"\"db_sha256\": \"a", "\"db_sha256\": \" ",
         "field 'db_sha256' is not 64 lower-case hex digits"},
        /* times: only the form the writer writes */
        {"\"2026-11-26T18:31:05Z\"", "\"27-11-26T19:45:20Z\"",
         "field 'finished' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:31:05Z\"", "\"0027-11-26T19:45:20Z\"",
         "field 'finished' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:30:00Z\"", "\"2026-02-31T18:30:00Z\"",
         "field 'started' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:30:00Z\"", "\"2026-11-26T18:30:60Z\"",
         "field 'started' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:30:00Z\"", "\" 2026-11-26T18:30:00Z\"",
         "field 'started' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"\"2026-11-26T18:30:00Z\"", "\"2026-1-26T18:30:00Z\"",
         "field 'started' is not a UTC time like 2026-11-26T18:30:00Z"},
        /* ids and cluster names name objects of the repository */
        {"\"id\": \"20261126T183000Z-r12345\"", "\"id\": \"../etc/x\"",
         "field 'id' is not a backup id"},
        {"\"id\": \"20261126T183000Z-r12345\"", "\"id\": \"\"", "field 'id' is not a backup id"},
        {"\"id\": \"20261126T183000Z-r12345\"", "\"id\": \".hidden\"",
         "field 'id' is not a backup id"},
        {"\"id\": \"20261126T183000Z-r12345\"",
         "\"id\": \"20261126T183000Z-r123456789012345678901234567890123456789012345678\"",
         "field 'id' is not a backup id"},
        {"\"cluster\": \"prod\"", "\"cluster\": \"pr od\"",
         "field 'cluster' is not a cluster name"},
        {"\"cluster\": \"prod\"", "\"cluster\": \"pr\\u00f6d\"",
         "field 'cluster' is not a cluster name"},
        /* strings are not cut (a cut may split a UTF-8 sequence) */
        {"\"1.2.3\"", "\"1.2.3-xxxxxxxxxxxxxxxxxxxxxxxxxx\"",
         "field 'tool_version' is longer than 31 bytes"},
        {"\"3.4.23\"", "\"3.4.23-xxxxxxxxxxxxxxxxxxxxxxx\\u00e9\"",
         "field 'etcd_version' is longer than 31 bytes"},
        {"\"zstd\"", "\"zstd-xxxxxxxxxxx\"",
         "field 'compression.algorithm' is longer than 15 bytes"},
        /* 64-bit ids: 16 lower-case hex digits, as written */
        {"\"cdf818194e3a8c32\"", "\"0xcdf818194e3a8c\"",
         "field 'cluster_id' is not 16 lower-case hex digits"},
        {"\"cdf818194e3a8c32\"", "\"CDF818194E3A8C32\"",
         "field 'cluster_id' is not 16 lower-case hex digits"},
        {"\"8e9e05c52164694d\"", "\"-1\"", "field 'member_id' is not 16 lower-case hex digits"},
        {"\"8e9e05c52164694d\"", "42", "field 'member_id' is not 16 lower-case hex digits"},
        /* sizes, counts and revisions are not negative */
        {"\"db_size\": 20480", "\"db_size\": -1", "field 'db_size' is out of range"},
        {"\"revision\": 12345", "\"revision\": -12345", "field 'revision' is out of range"},
        {"\"stored_size\": 4321", "\"stored_size\": -4321", "field 'stored_size' is out of range"},
        {"\"raft_term\": 7", "\"raft_term\": -7", "field 'raft_term' is out of range"},
        {"\"key_revisions\": 990", "\"key_revisions\": -990",
         "field 'key_revisions' is out of range"},
        {"\"level\": 3", "\"level\": 4294967299", "field 'compression.level' is out of range"},
        /* recipients are key ids */
        {"\"fedcba9876543210\"", "\"FEDCBA9876543210\"",
         "field 'encryption.recipients' has an entry that is not 16 lower-case hex digits"},
        {"\"fedcba9876543210\"", "\"fedcba98765432100\"",
         "field 'encryption.recipients' has an entry that is not 16 lower-case hex digits"},
    };
    (void)state;
    refused(cases, sizeof(cases) / sizeof(cases[0]));
}

/* The fuzz find of A12 (tests/fuzz/corpus/manifest/roundtrip-find.json): it
 * used to parse, with stored_sha256 cut inside a UTF-8 sequence and a year 27,
 * and the writer then refused the manifest. */
static void
test_fuzz_find(void **state)
{
    static const char fmt[] =
        "{\n  \"format\": 1,\n \"id\": \"20\",\n  \"cluster\": \"demo\",\n"
        "  \"started\": \"2026-11-26T19:45:20Z\",\n  \"finished\": \"%s\",\n"
        "   \"\": \"96\",\n \"revision\": 51,\n\n  \"db_size\": 24576,\n"
        "  \"db_sha256\": \"%s\",\n  \"stored_size\":849,\n"
        "  \"stored_sha256\": \"a94IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIec815143d2ecd2nulff0fa"
        "\xc9\x9a\xcc\x9e"
        "607c3e8b19afca5edc1dd86edfd0e07f6ff\",\n"
        "  \"comsion\": {\"alfalsgo\": 3\n  },\n  \"encryption\": {\n  },\n"
        "  \"te\": \"6T194520Z-s5dr\"\n}\n";
    static const char db_bad[] = "36755c741f699cdb0ed78d8bfac816c478;80aed25646757b91f97cfcdc2318d";
    static const char db_ok[] = "36755c741f699cdb0ed78d8bfac816c478980aed25646757b91f97cfcdc2318d";
    static const struct {
        const char *finished, *db, *msg;
    } steps[] = {
        {"27-11-26T19:45:20Z", db_bad,
         "field 'finished' is not a UTC time like 2026-11-26T18:30:00Z"},
        {"2027-11-26T19:45:20Z", db_bad, "field 'db_sha256' is not 64 lower-case hex digits"},
        {"2027-11-26T19:45:20Z", db_ok, "field 'stored_sha256' is not 64 lower-case hex digits"},
    };
    struct edr_manifest m;
    struct edr_err err;
    char doc[1024], want[256];
    (void)state;

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        snprintf(doc, sizeof(doc), fmt, steps[i].finished, steps[i].db);
        snprintf(want, sizeof(want), "manifest 'f': %s", steps[i].msg);
        edr_err_clear(&err);
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "f", &m, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, want);
    }
}

/* The writer refuses what the parser would refuse (a manifest that does not
 * parse hides its backup from list, prune and restore), naming the field. */
static void
test_write_refuses(void **state)
{
    struct edr_manifest m;
    struct edr_err err;
    char *json = NULL;
    int step;
    (void)state;

    for (step = 0;; step++) {
        const char *msg;
        fill(&m);
        switch (step) {
        case 0:
            m.stored_sha256[5] = 'A';
            msg = "field 'stored_sha256' is not 64 lower-case hex digits";
            break;
        case 1:
            /* the find's digest as the old parser cut it */
            memcpy(m.stored_sha256 + 61, "\xc9\x9a\xcc", 3);
            msg = "field 'stored_sha256' is not 64 lower-case hex digits";
            break;
        case 2:
            m.db_sha256[63] = '\0';
            msg = "field 'db_sha256' is not 64 lower-case hex digits";
            break;
        case 3:
            snprintf(m.id, sizeof(m.id), "a/b");
            msg = "field 'id' is not a backup id";
            break;
        case 4:
            snprintf(m.cluster, sizeof(m.cluster), ".x");
            msg = "field 'cluster' is not a cluster name";
            break;
        case 5:
            m.finished = -61286645680; /* 0027-11-26T19:45:20Z */
            msg = "field 'finished' is out of range";
            break;
        case 6:
            m.started = (time_t)1 << 60;
            msg = "field 'started' is out of range";
            break;
        case 7:
            snprintf(m.endpoint, sizeof(m.endpoint), "http://h\xc3");
            msg = "field 'endpoint' is not a UTF-8 string that fits";
            break;
        case 8:
            memset(m.etcd_version, 'x', sizeof(m.etcd_version));
            msg = "field 'etcd_version' is not a UTF-8 string that fits";
            break;
        case 9:
            m.db_size = UINT64_MAX;
            msg = "field 'db_size' is out of range";
            break;
        case 10:
            m.revision = -1;
            msg = "field 'revision' is out of range";
            break;
        case 11:
            m.duration_s = HUGE_VAL;
            msg = "field 'duration_seconds' is not a finite number";
            break;
        case 12:
            m.recipients[1][0] = 'F';
            msg = "field 'encryption.recipients' has an entry that is not 16 lower-case hex digits";
            break;
        case 13:
            m.nrecipients = EDR_MANIFEST_MAX_RECIPIENTS + 1;
            msg = "field 'encryption.recipients' has too many entries";
            break;
        case 14:
            m.format = 2;
            msg = "field 'format' is unsupported";
            break;
        default:
            return;
        }
        edr_err_clear(&err);
        assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_E_INTERNAL);
        assert_null(json);
        {
            char want[256];
            snprintf(want, sizeof(want), "unable to build manifest JSON: %s", msg);
            assert_string_equal(err.msg, want);
        }
    }
}

/* Times are read only in the form edr_time_iso() writes back. */
static void
test_time_strict(void **state)
{
    static const char *const bad[] = {
        "27-11-26T19:45:20Z",   /* the fuzz find: strptime's %Y took a 2-digit year */
        "0027-11-26T19:45:20Z", /* written back as "27-11-26..." */
        "2026-02-31T00:00:00Z", /* timegm() makes it 3 March */
        "2026-11-26T18:30:60Z", /* a leap second */
        "2026-11-26T24:00:00Z", " 2026-11-26T18:30:00Z", "2026-1-26T18:30:00Z",
        "2026-11-26T18:30:0Z",  "+026-11-26T18:30:00Z",  "2026-11-26T18:30:00z",
    };
    time_t t;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = 77;
        assert_int_equal(edr_time_parse_iso(bad[i], &t), -1);
        assert_int_equal(t, 77);
    }
    assert_int_equal(edr_time_parse_iso("2024-02-29T23:59:59Z", &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(edr_time_parse_iso("1969-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, -1);
    assert_int_equal(edr_time_parse_iso("9999-12-31T23:59:59Z", &t), 0);
    assert_int_equal(t, 253402300799);
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

/* An imported backup's origin: written only when set, read back whole,
 * checked like the other fields. */
static void
test_origin(void **state)
{
    struct edr_manifest m, back;
    struct edr_err err;
    char *json = NULL, *bad;
    (void)state;

    fill(&m);
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
    assert_null(strstr(json, "origin"));
    free(json);
    snprintf(m.origin.tool, sizeof(m.origin.tool), "k3s");
    snprintf(m.origin.source, sizeof(m.origin.source),
             "s3://b/k3s/etcd-snapshot-n1-1764000000.zip");
    snprintf(m.origin.node, sizeof(m.origin.node), "n1");
    snprintf(m.origin.cluster_id, sizeof(m.origin.cluster_id), "c-1");
    snprintf(m.origin.token_hash, sizeof(m.origin.token_hash), "0f1e");
    m.origin.time = 1764000000;
    m.origin.size = 4096;
    memset(m.origin.sha256, 'b', 64);
    snprintf(m.origin.metadata, sizeof(m.origin.metadata), "{\"a\":\"1\",\"b\":\"2\"}");
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
    assert_non_null(strstr(json, "\"time\": \"2025-11-24T16:00:00Z\""));
    assert_int_equal(edr_manifest_from_json(json, strlen(json), "m", &back, &err), EDR_OK);
    assert_same(&m, &back);
    assert_memory_equal(&m.origin, &back.origin, sizeof(m.origin));
    bad = strstr(json, "bbbb");
    bad[0] = 'B';
    assert_int_equal(edr_manifest_from_json(json, strlen(json), "m", &back, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "manifest 'm': field 'origin.sha256' is not 64 lower-case hex "
                                 "digits");
    free(json);
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

static void
fill_file(struct edr_manifest_file *f, const char *path, unsigned mode)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->size = 1234;
    f->mode = mode;
    f->uid = 0;
    f->gid = 4294967295u;
    snprintf(f->owner, sizeof(f->owner), "root");
    memset(f->sha256, 'c', 64);
}

/* Files: written only when there are some, counted by the parser, read back
 * whole by edr_manifest_files_from_json, in order. */
static void
test_files_roundtrip(void **state)
{
    struct edr_manifest m, back;
    struct edr_manifest_file f[3], *got = NULL;
    struct edr_err err;
    size_t n = 99;
    char *json = NULL;

    (void)state;
    fill(&m);
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
    assert_null(strstr(json, "\"files\""));
    assert_int_equal(edr_manifest_files_from_json(json, strlen(json), "x", &got, &n, &err), EDR_OK);
    assert_null(got);
    assert_int_equal(n, 0);
    free(json);

    fill_file(&f[0], "/etc/kubernetes/pki/ca.key", 0600);
    fill_file(&f[1], "/etc/kubernetes/admin.conf", 0644);
    fill_file(&f[2], "/var/lib/rancher/k3s/server/token", 04755);
    f[1].size = 0;
    m.files = f;
    m.nfiles = 3;
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
    assert_non_null(strstr(json, "      \"path\": \"/etc/kubernetes/pki/ca.key\",\n"
                                 "      \"size\": 1234,\n"
                                 "      \"mode\": \"0600\",\n"
                                 "      \"uid\": 0,\n"
                                 "      \"gid\": 4294967295,\n"
                                 "      \"owner\": \"root\",\n"
                                 "      \"group\": \"\",\n"));
    assert_non_null(strstr(json, "\"mode\": \"4755\""));
    assert_int_equal(edr_manifest_from_json(json, strlen(json), "x", &back, &err), EDR_OK);
    assert_int_equal(back.nfiles, 3);
    assert_null(back.files);
    assert_int_equal(edr_manifest_files_from_json(json, strlen(json), "x", &got, &n, &err), EDR_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        const char *field = "unset";
        assert_int_equal(edr_manifest_file_cmp(&got[i], &f[i], &field), 0);
        assert_null(field);
    }
    got[2].mode = 0755;
    {
        const char *field = NULL;
        assert_int_equal(edr_manifest_file_cmp(&got[2], &f[2], &field), -1);
        assert_string_equal(field, "mode");
        got[1].sha256[0] = 'd';
        assert_int_equal(edr_manifest_file_cmp(&got[1], &f[1], &field), -1);
        assert_string_equal(field, "sha256");
    }
    free(got);
    free(json);

    /* the writer refuses what the parser would */
    snprintf(f[1].path, sizeof(f[1].path), "/etc/../shadow");
    assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "unable to build manifest JSON: field 'files[1].path' is invalid");
}

static void
test_path_ok(void **state)
{
    static const char *good[] = {"/a", "/etc/kubernetes/pki/ca.crt", "/a/.b", "/..a/b..", "/a/..."};
    static const char *bad[] = {"",     "/",       "a/b", "/a/",   "//a",  "/a//b",    "/a/./b",
                                "/./a", "/a/../b", "/..", "/a/..", "/a/.", "relative", "/\xff"};
    char longc[300], longp[EDR_MANIFEST_PATH_MAX + 8];

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        assert_int_equal(edr_manifest_path_ok(good[i]), 0);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (edr_manifest_path_ok(bad[i]) != -1)
            fail_msg("accepted '%s'", bad[i]);
    }
    /* a component of 256 bytes, a path of EDR_MANIFEST_PATH_MAX */
    longc[0] = '/';
    memset(longc + 1, 'x', 256);
    longc[257] = '\0';
    assert_int_equal(edr_manifest_path_ok(longc), -1);
    longc[256] = '\0';
    assert_int_equal(edr_manifest_path_ok(longc), 0);
    for (size_t i = 0; i < EDR_MANIFEST_PATH_MAX; i += 2)
        longp[i] = '/', longp[i + 1] = 'y';
    longp[EDR_MANIFEST_PATH_MAX] = '\0';
    assert_int_equal(edr_manifest_path_ok(longp), -1);
    longp[EDR_MANIFEST_PATH_MAX - 2] = '\0';
    assert_int_equal(edr_manifest_path_ok(longp), 0);
}

/* Bad records: the parser names the record and the field. */
static void
test_files_bad(void **state)
{
    static const struct {
        const char *rec, *msg;
    } cases[] = {
        {"{\"path\": \"etc/x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 0, \"gid\": 0, "
         "\"sha256\": "
         "\"SHA\"}",
         "manifest 'm': field 'files[1].path' is invalid"},
        {"{\"path\": \"/etc/../x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 0, \"gid\": 0, "
         "\"sha256\": \"SHA\"}",
         "manifest 'm': field 'files[1].path' is invalid"},
        {"{\"path\": \"/x\", \"size\": -1, \"mode\": \"0600\", \"uid\": 0, \"gid\": 0, \"sha256\": "
         "\"SHA\"}",
         "manifest 'm': field 'files[1].size' is missing or invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": \"0800\", \"uid\": 0, \"gid\": 0, \"sha256\": "
         "\"SHA\"}",
         "manifest 'm': field 'files[1].mode' is missing or invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": 420, \"uid\": 0, \"gid\": 0, \"sha256\": "
         "\"SHA\"}",
         "manifest 'm': field 'files[1].mode' is missing or invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 4294967296, \"gid\": 0, "
         "\"sha256\": \"SHA\"}",
         "manifest 'm': field 'files[1].uid' is missing or invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 0, \"sha256\": \"SHA\"}",
         "manifest 'm': field 'files[1].gid' is missing or invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 0, \"gid\": 0, \"owner\": "
         "\"a b\", \"sha256\": \"SHA\"}",
         "manifest 'm': field 'files[1].owner' is invalid"},
        {"{\"path\": \"/x\", \"size\": 1, \"mode\": \"0600\", \"uid\": 0, \"gid\": 0, \"sha256\": "
         "\"ABC\"}",
         "manifest 'm': field 'files[1].sha256' is missing or invalid"},
        {"\"/x\"", "manifest 'm': field 'files[1]' is missing or invalid"},
    };
    const char *ok = "{\"path\": \"/ok\", \"size\": 0, \"mode\": \"0644\", \"uid\": 1, \"gid\": "
                     "2, \"sha256\": \"SHA\"}";
    char sha[65];

    (void)state;
    memset(sha, 'e', 64);
    sha[64] = '\0';
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct edr_manifest m;
        struct edr_manifest_file *got = NULL;
        struct edr_err err;
        size_t n = 0;
        char *base = NULL, doc[8192], rec[1024], okrec[1024];
        const char *p;
        struct edr_manifest f;

        fill(&f);
        assert_int_equal(edr_manifest_to_json(&f, &base, &err), EDR_OK);
        /* "SHA" stands for a good digest */
        snprintf(rec, sizeof(rec), "%s", cases[i].rec);
        snprintf(okrec, sizeof(okrec), "%s", ok);
        for (char *q; (q = strstr(rec, "SHA")) != NULL;)
            memmove(q + 64, q + 3, strlen(q + 3) + 1), memcpy(q, sha, 64);
        for (char *q; (q = strstr(okrec, "SHA")) != NULL;)
            memmove(q + 64, q + 3, strlen(q + 3) + 1), memcpy(q, sha, 64);
        p = strrchr(base, '}');
        snprintf(doc, sizeof(doc), "%.*s, \"files\": [%s, %s]}", (int)(p - base), base, okrec, rec);
        free(base);
        assert_int_equal(edr_manifest_from_json(doc, strlen(doc), "m", &m, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, cases[i].msg);
        assert_int_equal(edr_manifest_files_from_json(doc, strlen(doc), "m", &got, &n, &err),
                         EDR_E_INTEGRITY);
        assert_string_equal(err.msg, cases[i].msg);
        assert_null(got);
        assert_int_equal(n, 0);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_roundtrip_extremes),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_bad_fields),
        cmocka_unit_test(test_fuzz_find),
        cmocka_unit_test(test_write_refuses),
        cmocka_unit_test(test_optional_unknown),
        cmocka_unit_test(test_origin),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_time_strict),
        cmocka_unit_test(test_files_roundtrip),
        cmocka_unit_test(test_path_ok),
        cmocka_unit_test(test_files_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
