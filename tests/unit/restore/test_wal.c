/*
 * Unit tests of the WAL writer against the WALs etcd 3.4.23's restore wrote
 * (doc/etcd-observed.md §2): record offsets, length fields, chained CRCs, the
 * first 300 bytes and the SHA-256 of the whole preallocated files, for 1 and
 * 3 members, plus the 3.5-flavour vector of doc/etcd-internals.md §5.10 and the
 * file writer (mode, size, refusal to overwrite).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/fs.h"
#include "restore/fsutil.h"
#include "restore/wal.h"

#define IC3 "m1=http://127.0.0.1:28380,m2=http://127.0.0.1:28381,m3=http://127.0.0.1:28382"

static struct edr_restore_cluster *
cluster(const char *ic, const char *token)
{
    struct edr_restore_cluster *cl = NULL;
    struct edr_err err;

    if (edr_restore_cluster_parse(ic, token, &cl, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    return cl;
}

static uint8_t *
build(const struct edr_restore_cluster *cl, const char *name, enum edr_wal_flavour fl, size_t *len)
{
    const struct edr_restore_member *m = edr_restore_cluster_find(cl, name);
    struct edr_err err;
    uint8_t *w = NULL;

    assert_non_null(m);
    if (edr_restore_wal_build(cl, m->id, fl, &w, len, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    return w;
}

static uint64_t
le64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The crc field of the record at off: Record is 08 type 10 varint(crc). */
static uint32_t
rec_crc(const uint8_t *w, size_t off)
{
    const uint8_t *p = w + off + 8;
    uint32_t v = 0;
    int shift = 0;

    assert_int_equal(p[0], 0x08);
    assert_int_equal(p[2], 0x10);
    p += 3;
    do {
        v |= (uint32_t)(*p & 0x7f) << shift;
        shift += 7;
    } while (*p++ & 0x80);
    return v;
}

struct rec {
    size_t off;
    uint64_t lenf;
    uint32_t crc;
};

static void
check_records(const uint8_t *w, size_t len, const struct rec *r, size_t n, size_t total)
{
    size_t i;

    assert_int_equal(len, total);
    for (i = 0; i < n; i++) {
        assert_true(r[i].off < len);
        if (le64(w + r[i].off) != r[i].lenf)
            fail_msg("record %zu: length field %016llx, want %016llx", i,
                     (unsigned long long)le64(w + r[i].off), (unsigned long long)r[i].lenf);
        assert_int_equal(rec_crc(w, r[i].off), r[i].crc);
        assert_in_range(w[r[i].off + 9], EDR_WAL_METADATA, EDR_WAL_SNAPSHOT);
    }
}

/* SHA-256 of the records followed by zeros up to the segment size. */
static void
segment_sha(const uint8_t *w, size_t len, char hex[65])
{
    static uint8_t zeros[1 << 16];
    struct edr_sha256 h;
    uint8_t sum[32];
    size_t left = EDR_WAL_SEGMENT_BYTES - len;

    assert_int_equal(edr_sha256_init(&h), 0);
    edr_sha256_update(&h, w, len);
    while (left > 0) {
        size_t k = left < sizeof(zeros) ? left : sizeof(zeros);

        edr_sha256_update(&h, zeros, k);
        left -= k;
    }
    edr_sha256_final(&h, sum);
    edr_sha256_release(&h);
    edr_hex(sum, 32, hex);
}

static void
test_one_member_34(void **state)
{
    static const struct rec recs[] = {
        {0, 0x8400000000000004ULL, 0x00000000},   {16, 0x0000000000000020ULL, 0x5f91c0bb},
        {56, 0x820000000000000eULL, 0xedb1dd94},  {80, 0x8400000000000074ULL, 0xb2a4b742},
        {208, 0x8700000000000019ULL, 0x88758c1b}, {248, 0x820000000000000eULL, 0x6c383038},
    };
    /* doc/etcd-observed.md §2: the first 300 bytes of (a) */
    static const char dump[] = "04 00 00 00 00 00 00 84 08 04 10 00 00 00 00 00 "
                               "20 00 00 00 00 00 00 00 08 01 10 bb 81 c7 fc 05 "
                               "1a 16 08 cd d2 91 8b d2 b8 81 cf 8e 01 10 b2 98 "
                               "ea f1 94 83 86 fc cd 01 0e 00 00 00 00 00 00 82 "
                               "08 05 10 94 bb c7 ed 0e 1a 04 08 00 10 00 00 00 "
                               "74 00 00 00 00 00 00 84 08 02 10 c2 ee 92 95 0b "
                               "1a 6a 08 01 10 01 18 01 22 62 08 00 10 00 18 cd "
                               "d2 91 8b d2 b8 81 cf 8e 01 22 51 7b 22 69 64 22 "
                               "3a 31 30 32 37 36 36 35 37 37 34 33 39 33 32 39 "
                               "37 35 34 33 37 2c 22 70 65 65 72 55 52 4c 73 22 "
                               "3a 5b 22 68 74 74 70 3a 2f 2f 6c 6f 63 61 6c 68 "
                               "6f 73 74 3a 32 33 38 30 22 5d 2c 22 6e 61 6d 65 "
                               "22 3a 22 64 65 66 61 75 6c 74 22 7d 00 00 00 00 "
                               "19 00 00 00 00 00 00 87 08 03 10 9b 98 d6 c3 08 "
                               "1a 0f 08 01 10 cd d2 91 8b d2 b8 81 cf 8e 01 18 "
                               "01 00 00 00 00 00 00 00 0e 00 00 00 00 00 00 82 "
                               "08 05 10 b8 e0 e0 e1 06 1a 04 08 01 10 01 00 00 "
                               "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 "
                               "00 00 00 00 00 00 00 00 00 00 00 00";
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    uint8_t want[300], got[300];
    char hex[65];
    size_t len, i;
    uint8_t *w = build(cl, "default", EDR_WAL_FLAVOUR_34, &len);

    (void)state;
    check_records(w, len, recs, 6, 272);
    /* records, then zeros: compared over the whole 300 bytes */
    assert_int_equal(strlen(dump), 300 * 3 - 1);
    for (i = 0; i < 300; i++)
        want[i] = (uint8_t)strtoul((char[]){dump[3 * i], dump[3 * i + 1], '\0'}, NULL, 16);
    memset(got, 0, sizeof(got));
    memcpy(got, w, len);
    assert_memory_equal(got, want, 300);
    segment_sha(w, len, hex);
    assert_string_equal(hex, "73fd7868675205938f74fe11200674fec6b6704f3a3e0412e55e4ded923099f3");
    free(w);
    edr_restore_cluster_free(cl);
}

static void
test_one_member_35(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    static const struct rec recs[] = {
        {0, 0x8400000000000004ULL, 0x00000000},   {16, 0x0000000000000020ULL, 0x5f91c0bb},
        {56, 0x820000000000000eULL, 0xedb1dd94},  {80, 0x8400000000000074ULL, 0xb2a4b742},
        {208, 0x8700000000000019ULL, 0x88758c1b}, {248, 0x830000000000001dULL, 0xddeb8f0d},
    };
    size_t len;
    uint8_t *w = build(cl, "default", EDR_WAL_FLAVOUR_35, &len);

    (void)state;
    check_records(w, len, recs, 6, 288);
    /* Metadata data of §5.10 */
    assert_memory_equal(w + 16 + 8 + 2 + 6 + 2,
                        "\x08\xcd\xd2\x91\x8b\xd2\xb8\x81\xcf\x8e\x01\x10\xb2\x98\xea\xf1\x94"
                        "\x83\x86\xfc\xcd\x01",
                        22);
    /* conf_state{voters 8e9e05c52164694d, auto_leave} at the end */
    assert_memory_equal(w + 248 + 8 + 2 + 6, "\x1a\x13\x08\x01\x10\x01\x1a\x0d\x08\xcd", 10);
    assert_memory_equal(w + 248 + 8 + 29 - 2, "\x28\x00\x00\x00\x00", 5);
    free(w);
    edr_restore_cluster_free(cl);
}

static void
test_three_members(void **state)
{
    struct edr_restore_cluster *cl = cluster(IC3, "tok3");
    static const struct rec m1[] = {
        {0, 0x8400000000000004ULL, 0},
        {16, 0x810000000000001fULL, 0x803186c1},
        {56, 0x820000000000000eULL, 0x2e29d518},
        {80, 0x820000000000006eULL, 0x1d38bfd3},
        {200, 0x820000000000006eULL, 0x8e53f27f},
        {320, 0x820000000000006eULL, 0x6133e379},
        {440, 0x0000000000000018ULL, 0x3a4d3ed3},
        {472, 0x820000000000000eULL, 0xf7cfe7de},
    };
    static const uint32_t m2crc[] = {0x5ab91e61, 0xb69ecc72, 0xb4ce7661, 0x45c1e945,
                                     0x344fb6a6, 0xaa562df5, 0x7abd3a69};
    static const uint32_t m3crc[] = {0x96ecbca9, 0x8fe4c02c, 0x05fa0908, 0x8c72cd14,
                                     0xac79d046, 0xebe4fbfe, 0x2c52ea9a};
    static const char *const sha[] = {
        "b3b4acc63b7cfbda58e212d7527cb3c0baef279a2f540cc7b99fd66f5b403f4d",
        "2a6489fe169d13fb18437ff42840db9b3538c596bf0b541ac9238782f776c52c",
        "086976f1b8e13f22bb5e6f4fd16ea318dcd5e01d3f53a14c5fc758e8bd7182fd",
    };
    static const char *const names[] = {"m1", "m2", "m3"};
    char hex[65];
    size_t len, i, off, k;
    uint8_t *w;

    (void)state;
    w = build(cl, "m1", EDR_WAL_FLAVOUR_34, &len);
    check_records(w, len, m1, 8, 496);
    /* entries in ascending id order: m2 first; HardState votes for m2 */
    /* record header 8, type 2, crc 6, data tag+len 2; Entry 8; ConfChange id, type 4 */
    assert_memory_equal(w + 80 + 8 + 2 + 6 + 2 + 8 + 4, "\x18\xb3\x90\xcd\xcd", 5);
    assert_memory_equal(w + 440 + 8 + 2 + 6 + 2, "\x08\x01\x10\xb3\x90\xcd\xcd", 7);
    free(w);
    for (k = 1; k < 3; k++) {
        const uint32_t *crc = k == 1 ? m2crc : m3crc;

        w = build(cl, names[k], EDR_WAL_FLAVOUR_34, &len);
        for (off = 16, i = 0; i < 7; i++) {
            uint64_t f = le64(w + off);

            assert_int_equal(rec_crc(w, off), crc[i]);
            off += 8 + (f & 0x00ffffffffffffffULL) + ((f >> 56) & 0x7);
        }
        assert_int_equal(off, len);
        if (k == 2) /* a 4-byte crc varint makes m3's first entry 109 bytes */
            assert_true(le64(w + 80) == 0x830000000000006dULL);
        free(w);
    }
    for (k = 0; k < 3; k++) {
        w = build(cl, names[k], EDR_WAL_FLAVOUR_34, &len);
        segment_sha(w, len, hex);
        assert_string_equal(hex, sha[k]);
        free(w);
    }
    w = build(cl, "m2", EDR_WAL_FLAVOUR_35, &len);
    assert_int_equal(len, 528);
    free(w);
    edr_restore_cluster_free(cl);
}

static void
test_record_framing(void **state)
{
    struct edr_buf b = {0};
    uint32_t crc = 0;
    size_t n;

    (void)state;
    /* every pad value 0..7 across data sizes; crc chains over all data */
    for (n = 0; n < 16; n++) {
        uint8_t data[16];
        size_t before = b.len;
        uint64_t f;

        memset(data, (int)n, sizeof(data));
        assert_int_equal(edr_restore_wal_record(&b, &crc, EDR_WAL_ENTRY, data, n), 0);
        f = le64(b.data + before);
        assert_int_equal((b.len - before) % 8, 0);
        assert_int_equal(f & 0x00ffffffffffffffULL, b.len - before - 8 - ((f >> 56) & 7));
        if ((f >> 56) != 0)
            assert_int_equal((f >> 56) & 0x80, 0x80);
        assert_int_equal(rec_crc(b.data, before), crc);
    }
    {
        uint32_t want = 0;

        for (n = 0; n < 16; n++) {
            uint8_t data[16];

            memset(data, (int)n, sizeof(data));
            want = edr_crc32c(want, data, n);
        }
        assert_int_equal(crc, want);
    }
    edr_buf_release(&b);
}

static void
test_write_file(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char dir[] = "/tmp/edr-test-wal-XXXXXX";
    struct edr_err err;
    struct stat st;
    char *path, hex[65], want[65];
    uint8_t *w, *file;
    size_t len;
    FILE *f;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(edr_restore_wal_write(cl, cl->members[0].id, EDR_WAL_FLAVOUR_34, dir, &err),
                     EDR_OK);
    path = edr_fs_path_join(dir, EDR_WAL_FILE_NAME);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(st.st_size, EDR_WAL_SEGMENT_BYTES);
    file = malloc(EDR_WAL_SEGMENT_BYTES);
    assert_non_null(file);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fread(file, 1, EDR_WAL_SEGMENT_BYTES, f), EDR_WAL_SEGMENT_BYTES);
    fclose(f);
    {
        uint8_t sum[32];

        edr_sha256_buf(file, EDR_WAL_SEGMENT_BYTES, sum);
        edr_hex(sum, 32, hex);
    }
    w = build(cl, "default", EDR_WAL_FLAVOUR_34, &len);
    segment_sha(w, len, want);
    assert_string_equal(hex, want);
    free(w);
    free(file);
    /* never overwrites */
    assert_int_equal(edr_restore_wal_write(cl, cl->members[0].id, EDR_WAL_FLAVOUR_35, dir, &err),
                     EDR_E_IO);
    {
        char msg[256];

        snprintf(msg, sizeof(msg), "unable to create '%s': [17] File exists", path);
        assert_string_equal(err.msg, msg);
    }
    assert_int_equal(unlink(path), 0);
    /* not a member */
    assert_int_equal(edr_restore_wal_write(cl, 42, EDR_WAL_FLAVOUR_35, dir, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "wal: 000000000000002a is not a member of the cluster");
    assert_int_equal(rmdir(dir), 0);
    free(path);
    edr_restore_cluster_free(cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_member_34), cmocka_unit_test(test_one_member_35),
        cmocka_unit_test(test_three_members), cmocka_unit_test(test_record_framing),
        cmocka_unit_test(test_write_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
