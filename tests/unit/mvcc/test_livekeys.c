/*
 * Unit tests of src/mvcc/livekeys.c: the live keys of the small etcd
 * database of etcd_db.h at revisions (overwrites, deletes, compaction, bump
 * markers), with a prefix, stopped early and aborted by the callback.
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

struct got {
    char s[2048];
    int stop_after;
    int n;
};

static int
on_kv(void *ud, const struct edr_kv *kv)
{
    struct got *g = ud;
    size_t o = strlen(g->s);
    snprintf(g->s + o, sizeof(g->s) - o, "%.*s=%.*s@%lld/%lld/%lld%s;", (int)kv->key_len,
             (const char *)kv->key, (int)kv->value_len, (const char *)kv->value,
             (long long)kv->create_revision, (long long)kv->mod_revision, (long long)kv->version,
             kv->lease ? "L" : "");
    return ++g->n == g->stop_after ? 1 : 0;
}

static int
on_kv_abort(void *ud, const struct edr_kv *kv)
{
    (void)kv;
    edr_err_set(ud, EDR_E_IO, "callback failed");
    return -1;
}

static void
test_live(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct got g;

    (void)state;
    write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/", 1, 0, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s,
                        "/a=333@2/4/2;"
                        "/registry/apiextensions.k8s.io/customresourcedefinitions/x.y=crd@9/9/1;"
                        "/registry/apps/deployments/ns1/d=dep@8/8/1;"
                        "/registry/example.com/foos/ns1/f=foo1@10/10/1;"
                        "/registry/namespaces/ns1=ns@7/7/1;"
                        "/registry/pods/ns1/p1=pod-1@6/6/1;"
                        "/registry/pods/ns2/p2=pod-22@6/6/1;"
                        "/registry/services/specs/ns1/s=svc@11/11/1;");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 4, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s, "/a=333@2/4/2;/b=2@3/3/1L;");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/b", 2, 5, on_kv, &g, &err),
                     EDR_OK);
    assert_string_equal(g.s, "");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/", 1, 3, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s, "/a=1@2/2/1;/b=2@3/3/1L;");
    memset(&g, 0, sizeof(g));
    g.stop_after = 1;
    assert_int_equal(
        edr_mvcc_foreach_live(b, (const uint8_t *)"/registry/pods/", 15, 6, on_kv, &g, &err),
        EDR_OK);
    assert_string_equal(g.s, "/registry/pods/ns1/p1=pod-1@6/6/1;");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 2, on_kv, &g, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "revision 2 is compacted");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 13, on_kv, &g, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "revision 13 is a future revision (current 12)");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 0, on_kv_abort, &err, &err), EDR_E_IO);
    assert_string_equal(err.msg, "callback failed");
    edr_bolt_close(b);
}

/* A compaction scheduled but not finished when the snapshot was taken
 * counts: etcd finishes it on start, and history below it may be gone. */
static void
test_scheduled_compaction(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct got g;

    (void)state;
    etcd_db_scheduled_compact = 4;
    write_etcd_db(1);
    etcd_db_scheduled_compact = 3;
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 3, on_kv, &g, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "revision 3 is compacted");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 4, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s, "/a=333@2/4/2;/b=2@3/3/1L;");
    edr_bolt_close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_live, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_scheduled_compaction, tu_setup_file, tu_teardown_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
