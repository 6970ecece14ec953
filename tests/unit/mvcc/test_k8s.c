/*
 * Unit tests of src/mvcc/k8s.c: the Kubernetes view of the small etcd
 * database of etcd_db.h (API groups, the legacy service layout, namespaces).
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
test_k8s(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct edr_k8s_stats *s;
    char buf[1024] = "";

    (void)state;
    write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_k8s_stats(b, &s, &err), EDR_OK);
    assert_int_equal(s->objects, 7);
    assert_int_equal(s->bytes, 5 + 6 + 2 + 3 + 3 + 4 + 3);
    for (size_t i = 0; i < s->n_resources; i++) {
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof(buf) - o, "%s:%llu:%llu;", s->resources[i].name,
                 (unsigned long long)s->resources[i].count,
                 (unsigned long long)s->resources[i].bytes);
    }
    assert_string_equal(buf, "apiextensions.k8s.io/customresourcedefinitions:1:3;apps:1:3;"
                             "example.com/foos:1:4;namespaces:1:2;pods:2:11;services/specs:1:3;");
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_namespaces; i++) {
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof(buf) - o, "%s:%llu;", s->namespaces[i].name,
                 (unsigned long long)s->namespaces[i].count);
    }
    /* apps/deployments/ns1/d: "apps" has no dot, so its namespace is "deployments" */
    assert_string_equal(buf, "deployments:1;ns1:3;ns2:1;");
    edr_mvcc_k8s_stats_free(s);
    edr_mvcc_k8s_stats_free(NULL);
    edr_bolt_close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_k8s, tu_setup_file, tu_teardown_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
