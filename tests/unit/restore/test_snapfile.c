/*
 * Unit tests of the raft .snap writer against the files etcd 3.4.23's
 * restore wrote (doc/etcd-observed.md §4): the v2 JSON and the whole file
 * byte for byte (by SHA-256 and by their documented fields) for 1 and 3
 * members, the member ordering rules, the file name and the file mode.
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

#include "common/hash.h"
#include "common/fs.h"
#include "restore/fsutil.h"
#include "restore/snapfile.h"

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

static void
sha_hex(const uint8_t *p, size_t n, char hex[65])
{
    uint8_t sum[32];

    edr_sha256_buf(p, n, sum);
    edr_hex(sum, 32, hex);
}

static size_t
count(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, l = strlen(needle), i;

    for (i = 0; i + l <= n; i++)
        if (memcmp(hay + i, needle, l) == 0)
            c++;
    return c;
}

static void
test_one_member(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    static const char head[] =
        "{\"Root\":{\"Path\":\"/\",\"CreatedIndex\":0,\"ModifiedIndex\":0,\"ExpireTime\":"
        "\"0001-01-01T00:00:00Z\",\"Value\":\"\",\"Children\":{\"0\":{\"Path\":\"/0\","
        "\"CreatedIndex\":0,\"ModifiedIndex\":0,\"ExpireTime\":\"0001-01-01T00:00:00Z\","
        "\"Value\":\"\",\"Children\":{\"members\":{\"Path\":\"/0/members\",\"CreatedIndex\":1,"
        "\"ModifiedIndex\":1,\"ExpireTime\":\"0001-01-01T00:00:00Z\",\"Value\":\"\","
        "\"Children\":{\"8e9e05c52164694d\":{\"Path\":\"/0/members/8e9e05c52164694d\","
        "\"CreatedIndex\":1,\"ModifiedIndex\":1,\"ExpireTime\":\"0001-01-01T00:00:00Z\","
        "\"Value\":\"\",\"Children\":{\"raftAttributes\":{\"Path\":\"/0/members/"
        "8e9e05c52164694d/raftAttributes\",\"CreatedIndex\":1,\"ModifiedIndex\":1,"
        "\"ExpireTime\":\"0001-01-01T00:00:00Z\",\"Value\":\"{\\\"peerURLs\\\":[\\\"http://"
        "localhost:2380\\\"]}\",\"Children\":null}}}}}}},\"1\":{\"Path\":\"/1\","
        "\"CreatedIndex\":0,\"ModifiedIndex\":0,\"ExpireTime\":\"0001-01-01T00:00:00Z\","
        "\"Value\":\"\",\"Children\":{}}}},\"WatcherHub\":{\"EventHistory\":{\"Queue\":"
        "{\"Events\":[{\"action\":\"create\",\"node\":{\"key\":\"/0/members/8e9e05c52164694d/"
        "raftAttributes\",\"value\":\"{\\\"peerURLs\\\":[\\\"http://localhost:2380\\\"]}\","
        "\"modifiedIndex\":1,\"createdIndex\":1}},null,null,";
    static const char tail[] =
        ",null],\"Size\":1,\"Front\":0,\"Back\":1,\"Capacity\":1000},\"StartIndex\":1,"
        "\"LastIndex\":1}},\"CurrentIndex\":1,\"Stats\":{\"getsSuccess\":0,\"getsFail\":0,"
        "\"setsSuccess\":0,\"setsFail\":0,\"deleteSuccess\":0,\"deleteFail\":0,"
        "\"updateSuccess\":0,\"updateFail\":0,\"createSuccess\":1,\"createFail\":0,"
        "\"compareAndSwapSuccess\":0,\"compareAndSwapFail\":0,\"compareAndDeleteSuccess\":0,"
        "\"compareAndDeleteFail\":0,\"expireCount\":0,\"watchers\":0},\"CurrentVersion\":2}";
    struct edr_err err;
    uint8_t *json = NULL, *snap = NULL;
    size_t jlen = 0, slen = 0;
    char hex[65], name[EDR_SNAP_NAME_LEN];

    (void)state;
    assert_int_equal(edr_restore_v2_json(cl, &json, &jlen, &err), EDR_OK);
    assert_int_equal(jlen, 6457);
    assert_memory_equal(json, head, sizeof(head) - 1);
    assert_memory_equal(json + jlen - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
    assert_int_equal(count((char *)json, jlen, "null"), 999 + 1); /* + the leaf's Children */
    sha_hex(json, jlen, hex);
    assert_string_equal(hex, "91d7bbbd7a7e8d1e2cfa9b797bfa3d06a07ed0312463a571a03d02fca1efeb4f");

    assert_int_equal(edr_restore_snap_build(cl, &snap, &slen, &err), EDR_OK);
    assert_int_equal(slen, 6490);
    assert_memory_equal(snap, "\x08\xb6\xf8\x81\x8f\x01\x12\xd1\x32\x0a\xb9\x32", 12);
    assert_memory_equal(snap + 12, json, jlen);
    assert_memory_equal(snap + 12 + jlen,
                        "\x12\x13\x0a\x0d\x08\xcd\xd2\x91\x8b\xd2\xb8\x81\xcf\x8e\x01\x28\x00"
                        "\x10\x01\x18\x01",
                        21);
    assert_int_equal(edr_crc32c(0, snap + 9, slen - 9), 0x11e07c36);
    sha_hex(snap, slen, hex);
    assert_string_equal(hex, "391e233526d2ed237b95d33b9d3c7975cf3db23b1913a478baacdeee4177b533");
    edr_restore_snap_name(cl, name);
    assert_string_equal(name, "0000000000000001-0000000000000001.snap");
    free(json);
    free(snap);
    edr_restore_cluster_free(cl);
}

static void
test_three_members(void **state)
{
    struct edr_restore_cluster *cl = cluster(IC3, "tok3");
    struct edr_err err;
    uint8_t *json = NULL, *snap = NULL;
    size_t jlen = 0, slen = 0;
    char hex[65], name[EDR_SNAP_NAME_LEN];

    (void)state;
    assert_int_equal(edr_restore_v2_json(cl, &json, &jlen, &err), EDR_OK);
    assert_int_equal(jlen, 7517);
    sha_hex(json, jlen, hex);
    assert_string_equal(hex, "918a2faa4d8d9dd146f121f128925ddb9aaf0d141cfc9523cada4d82df0a17c0");
    assert_non_null(strstr((char *)json, "\"Path\":\"/0/members/512468dd70167e9f\","
                                         "\"CreatedIndex\":2,\"ModifiedIndex\":2"));
    assert_int_equal(count((char *)json, jlen, ",null"), 997);
    assert_int_equal(edr_restore_snap_build(cl, &snap, &slen, &err), EDR_OK);
    assert_int_equal(slen, 7569);
    assert_int_equal(edr_crc32c(0, snap + 9, slen - 9), 0xceec1d92);
    assert_memory_equal(snap + slen - 40,
                        "\x12\x26\x0a\x20\x08\xb3\x90\xcd\xcd\x8e\xd8\xc4\xd3\x3b\x08\x9f\xfd"
                        "\xd9\x80\xd7\x9b\x9a\x92\x51\x08\xbd\x96\xc2\xb2\xda\xc1\xd5\x8f\x76"
                        "\x28\x00\x10\x03\x18\x01",
                        40);
    sha_hex(snap, slen, hex);
    assert_string_equal(hex, "536be5c34fa86a9de099ae391998e038cafcc5a0709c3e268cedbd78a2ff5676");
    edr_restore_snap_name(cl, name);
    assert_string_equal(name, "0000000000000001-0000000000000003.snap");
    free(json);
    free(snap);
    edr_restore_cluster_free(cl);
}

/* Children keys sort as strings, indices follow numeric id order. */
static void
test_member_order(void **state)
{
    struct edr_restore_cluster *cl = NULL;
    struct edr_err err;
    uint8_t *json = NULL;
    size_t jlen = 0, i;
    char hex[2][17], key[2][96];
    const char *p0, *p1;
    char tok[32];

    (void)state;
    /* find a token giving one id with fewer than 16 hex digits, one with 16 */
    for (i = 0; i < 100000; i++) {
        snprintf(tok, sizeof(tok), "t%zu", i);
        cl = cluster("a=http://a:1,b=http://b:1", tok);
        if (cl->members[0].id < (1ULL << 60) && cl->members[1].id >= (1ULL << 60) &&
            cl->members[1].id < (9ULL << 60))
            break;
        edr_restore_cluster_free(cl);
        cl = NULL;
    }
    assert_non_null(cl);
    edr_restore_id_hex(cl->members[0].id, hex[0]);
    edr_restore_id_hex(cl->members[1].id, hex[1]);
    assert_true(strcmp(hex[0], hex[1]) > 0); /* string order is the reverse of id order */
    assert_int_equal(edr_restore_v2_json(cl, &json, &jlen, &err), EDR_OK);
    snprintf(key[0], sizeof(key[0]), "\"%s\":{\"Path\":\"/0/members/%s\",\"CreatedIndex\":1,",
             hex[0], hex[0]);
    snprintf(key[1], sizeof(key[1]), "\"%s\":{\"Path\":\"/0/members/%s\",\"CreatedIndex\":2,",
             hex[1], hex[1]);
    p0 = strstr((char *)json, key[0]);
    p1 = strstr((char *)json, key[1]);
    assert_non_null(p0);
    assert_non_null(p1);
    assert_true(p1 < p0);
    free(json);
    edr_restore_cluster_free(cl);
}

static void
check_mode(const struct edr_restore_cluster *cl, mode_t mask, mode_t want)
{
    char dir[] = "/tmp/edr-test-snap-XXXXXX";
    char name[EDR_SNAP_NAME_LEN];
    struct edr_err err;
    struct stat st;
    char *path;
    mode_t old;

    assert_non_null(mkdtemp(dir));
    old = umask(mask);
    assert_int_equal(edr_restore_snap_write(cl, dir, &err), EDR_OK);
    umask(old);
    edr_restore_snap_name(cl, name);
    path = edr_fs_path_join(dir, name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, want);
    assert_int_equal(st.st_size, 6490);
    assert_int_equal(edr_restore_snap_write(cl, dir, &err), EDR_E_IO);
    assert_non_null(strstr(err.msg, "File exists"));
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    free(path);
}

static void
test_write_modes(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);

    (void)state;
    check_mode(cl, 022, 0644);
    check_mode(cl, 077, 0600);
    check_mode(cl, 0, 0666);
    edr_restore_cluster_free(cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_member),
        cmocka_unit_test(test_three_members),
        cmocka_unit_test(test_member_order),
        cmocka_unit_test(test_write_modes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
