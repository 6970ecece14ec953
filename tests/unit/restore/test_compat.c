/*
 * Unit tests of the pre-restore checks (restore/compat.h): version parsing,
 * the facts read from a bbolt file made by the writer (storage and cluster
 * version, auth, NOSPACE/CORRUPT alarms as etcd keys them, a downgrade in
 * progress), the refusal of a target older than the data with its exact
 * message, and the warnings about inherited state.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "restore/compat.h"

struct pair {
    const char *bucket; /* NULL: same bucket as before */
    const char *k;
    size_t kl;
    const char *v;
    size_t vl;
};

#define P(b, k, v)                                                                                 \
    {                                                                                              \
        b, k, sizeof(k) - 1, v, sizeof(v) - 1                                                      \
    }

static void
facts_of(const struct pair *p, size_t n, struct edr_restore_facts *f)
{
    char path[] = "/tmp/edr-test-compat-XXXXXX";
    int fd = mkstemp(path);
    struct edr_bolt_writer *w = NULL;
    struct edr_bolt *b = NULL;
    struct edr_err err;

    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    assert_int_equal(edr_bolt_writer_new(path, 4096, &w, &err), EDR_OK);
    for (size_t i = 0; i < n; i++) {
        if (p[i].bucket != NULL)
            assert_int_equal(edr_bolt_writer_bucket(w, p[i].bucket, strlen(p[i].bucket), &err),
                             EDR_OK);
        assert_int_equal(edr_bolt_writer_put(w, p[i].k, p[i].kl, p[i].v, p[i].vl, &err), EDR_OK);
    }
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    assert_int_equal(edr_bolt_open(path, &b, &err), EDR_OK);
    assert_int_equal(edr_restore_facts_read(b, f, &err), EDR_OK);
    edr_bolt_close(b);
    unlink(path);
}

static void
test_version_minor(void **state)
{
    (void)state;
    assert_int_equal(edr_restore_version_minor("3.6.16"), 6);
    assert_int_equal(edr_restore_version_minor("v3.5"), 5);
    assert_int_equal(edr_restore_version_minor("3.7.0-rc.0"), 7);
    assert_int_equal(edr_restore_version_minor("3.10.1"), 10);
    assert_int_equal(edr_restore_version_minor("2.3.8"), -1);
    assert_int_equal(edr_restore_version_minor("three"), -1);
    assert_int_equal(edr_restore_version_minor(""), -1);
    assert_int_equal(edr_restore_version_minor(NULL), -1);
}

static void
test_facts(void **state)
{
    /* AlarmMember{member_id: 0x1234 (field 1), alarm: NOSPACE=1 / CORRUPT=2 (field 2)} */
    const struct pair p[] = {
        {"alarm", "\x08\xb4\x24\x10\x01", 5, "", 0},
        {NULL, "\x08\xb5\x24\x10\x02", 5, "", 0},
        P("auth", "authEnabled", "\x01"),
        P("cluster", "clusterVersion", "3.6.0"),
        P(NULL, "downgrade", "{\"target-version\":\"3.5.0\",\"enabled\":true}"),
        P("meta", "storageVersion", "3.6.0"),
    };
    const struct pair none[] = {P("key", "k", "v")};
    const struct pair off[] = {P("auth", "authEnabled", "\x00"),
                               P("cluster", "downgrade", "{\"enabled\":false}")};
    struct edr_restore_facts f;

    (void)state;
    facts_of(p, sizeof(p) / sizeof(p[0]), &f);
    assert_string_equal(f.storage_version, "3.6.0");
    assert_string_equal(f.cluster_version, "3.6.0");
    assert_int_equal(f.auth_enabled, 1);
    assert_int_equal(f.alarm_nospace, 1);
    assert_int_equal(f.alarm_corrupt, 1);
    assert_string_equal(f.downgrade_target, "3.5.0");
    assert_int_equal(edr_restore_data_minor(&f), 6);

    facts_of(none, 1, &f);
    assert_string_equal(f.storage_version, "");
    assert_int_equal(f.auth_enabled + f.alarm_nospace + f.alarm_corrupt, 0);
    assert_int_equal(edr_restore_data_minor(&f), -1);

    facts_of(off, 2, &f);
    assert_int_equal(f.auth_enabled, 0);
    assert_string_equal(f.downgrade_target, "");
}

static void
test_check_target(void **state)
{
    struct edr_restore_facts f;
    struct edr_err err;

    (void)state;
    memset(&f, 0, sizeof(f));
    strcpy(f.storage_version, "3.7.0");
    strcpy(f.cluster_version, "3.7.0");
    assert_int_equal(edr_restore_check_target(&f, "3.7.3", &err), EDR_OK);
    assert_int_equal(edr_restore_check_target(&f, "3.8.0", &err), EDR_OK);
    assert_int_equal(edr_restore_check_target(&f, "3.6.16", &err), EDR_E_TARGET);
    assert_string_equal(err.msg, "backup holds etcd 3.7 data (storage version 3.7.0); etcd 3.6.16 "
                                 "cannot start it");
    assert_string_equal(err.hint, "restore into etcd 3.7 or newer (etcd refuses data written by a "
                                  "newer version)");

    /* 3.5 writes no storage version: its cluster version decides */
    memset(&f, 0, sizeof(f));
    strcpy(f.cluster_version, "3.5.0");
    assert_int_equal(edr_restore_check_target(&f, "3.5.35", &err), EDR_OK);
    assert_int_equal(edr_restore_check_target(&f, "3.4.23", &err), EDR_E_TARGET);
    assert_string_equal(err.msg, "backup holds etcd 3.5 data (cluster version 3.5.0); etcd 3.4.23 "
                                 "cannot start it");

    /* nothing known about the data: any 3.x target goes */
    memset(&f, 0, sizeof(f));
    assert_int_equal(edr_restore_check_target(&f, "3.4", &err), EDR_OK);
    assert_int_equal(edr_restore_check_target(&f, "4.0", &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid etcd version '4.0' (want 3.x[.y])");
}

static void
test_inherited(void **state)
{
    struct edr_restore_facts f;
    char lines[4][256];

    (void)state;
    memset(&f, 0, sizeof(f));
    strcpy(f.cluster_version, "3.4.0");
    assert_int_equal(edr_restore_inherited(&f, NULL, lines, 4), 0);
    assert_int_equal(edr_restore_inherited(&f, "3.5.35", lines, 4), 0);
    assert_int_equal(edr_restore_inherited(&f, "3.6.16", lines, 4), 1);
    assert_string_equal(lines[0], "etcd 3.6.16 is more than one minor version newer than the "
                                  "backup's data (3.4): etcd supports upgrades one minor version "
                                  "at a time");
    f.alarm_nospace = 1;
    strcpy(f.downgrade_target, "3.4.0");
    assert_int_equal(edr_restore_inherited(&f, NULL, lines, 4), 2);
    assert_non_null(strstr(lines[0], "NOSPACE alarm: the restored cluster accepts no writes"));
    assert_non_null(strstr(lines[1], "during a downgrade to 3.4.0"));
    assert_int_equal(edr_restore_inherited(&f, NULL, lines, 1), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version_minor),
        cmocka_unit_test(test_facts),
        cmocka_unit_test(test_check_target),
        cmocka_unit_test(test_inherited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
