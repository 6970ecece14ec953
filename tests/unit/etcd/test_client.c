/*
 * Unit tests of the client parts that need no server: endpoint parsing and
 * normalisation, and endpoint ranking (health rules, policy orders, ties, the
 * combined error when no endpoint is healthy) on fake statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd/client.h"

static void
test_endpoints(void **state)
{
    struct edr_etcd_opts o;
    struct edr_etcd_client *c = NULL;
    struct edr_err err;
    (void)state;

    memset(&o, 0, sizeof(o));
    o.endpoints = " 127.0.0.1:2379, http://a:1/ ,HTTPS://b:2,,";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_OK);
    assert_int_equal(edr_etcd_endpoint_count(c), 3);
    assert_string_equal(edr_etcd_endpoint(c, 0), "http://127.0.0.1:2379");
    assert_string_equal(edr_etcd_endpoint(c, 1), "http://a:1");
    assert_string_equal(edr_etcd_endpoint(c, 2), "https://b:2");
    assert_null(edr_etcd_endpoint(c, 3));
    edr_etcd_client_free(c);

    /* like etcdctl: bare host:port uses TLS when a CA or client cert is given */
    o.endpoints = "10.0.0.1:2379,http://10.0.0.2:2379";
    o.cacert = "/etc/ca.pem";
    o.user = "root";
    o.password = "secret";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_OK);
    assert_string_equal(edr_etcd_endpoint(c, 0), "https://10.0.0.1:2379");
    assert_string_equal(edr_etcd_endpoint(c, 1), "http://10.0.0.2:2379");
    edr_etcd_client_free(c);
    edr_etcd_client_free(NULL);

    o.cacert = NULL;
    o.endpoints = "unix://x";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_E_USAGE);
    assert_string_equal(err.msg,
                        "endpoint 'unix://x': unsupported scheme (use http:// or https://)");
    assert_null(c);
    o.endpoints = " , ";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "no etcd endpoint given");
    o.endpoints = "http://";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "endpoint 'http://': no host");
    o.endpoints = "http://a b:1";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "endpoint 'http://a b:1': contains a blank or control character");
    o.endpoints = NULL;
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_E_USAGE);
}

/* A reachable, healthy member of a cluster whose leader is id 1. */
static void
fake(struct edr_etcd_status *st, const char *url, uint64_t id, uint64_t applied)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->endpoint, sizeof(st->endpoint), "%s", url);
    st->ok = 1;
    st->member_id = id;
    st->leader = 1;
    st->raft_applied_index = applied;
    st->raft_index = applied;
}

static void
failed(struct edr_etcd_status *st, const char *url, edr_rc rc, const char *msg)
{
    memset(st, 0, sizeof(*st));
    snprintf(st->endpoint, sizeof(st->endpoint), "%s", url);
    st->rc = rc;
    snprintf(st->error, sizeof(st->error), "%s", msg);
}

static void
test_rank_policies(void **state)
{
    struct edr_etcd_status st[6];
    size_t order[6], n = 99;
    struct edr_err err;
    (void)state;

    fake(&st[0], "http://a", 1, 100); /* leader */
    fake(&st[1], "http://b", 2, 90);
    failed(&st[2], "http://c", EDR_E_ETCD, "etcd 'http://c': Status: Connection refused");
    fake(&st[3], "http://d", 4, 95);
    fake(&st[4], "http://e", 5, 95);  /* ties with d: command-line order */
    fake(&st[5], "http://f", 6, 200); /* learner: last */
    st[5].is_learner = 1;

    assert_int_equal(edr_etcd_rank_statuses(st, 6, EDR_ETCD_POLICY_FOLLOWER, order, &n, &err),
                     EDR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 4);
    assert_int_equal(order[2], 1);
    assert_int_equal(order[3], 0);
    assert_int_equal(order[4], 5);
    assert_true(st[0].healthy && st[5].healthy);
    assert_false(st[2].healthy);
    assert_string_equal(st[2].error, "etcd 'http://c': Status: Connection refused");

    assert_int_equal(edr_etcd_rank_statuses(st, 6, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 4);
    assert_int_equal(order[3], 1);
    assert_int_equal(order[4], 5);

    assert_int_equal(edr_etcd_rank_statuses(st, 6, EDR_ETCD_POLICY_FIRST, order, &n, &err), EDR_OK);
    assert_int_equal(n, 5);
    assert_int_equal(order[0], 0);
    assert_int_equal(order[1], 1);
    assert_int_equal(order[2], 3);
    assert_int_equal(order[3], 4);
    assert_int_equal(order[4], 5);
}

static void
test_rank_unhealthy(void **state)
{
    struct edr_etcd_status st[3];
    size_t order[3], n = 99;
    struct edr_err err;
    (void)state;

    fake(&st[0], "http://a", 1, 10);
    snprintf(st[0].alarms_and_errors, sizeof(st[0].alarms_and_errors),
             "memberID:1 alarm:NOSPACE ; memberID:1 alarm:CORRUPT ");
    fake(&st[1], "http://b", 2, 10);
    st[1].leader = 0;
    fake(&st[2], "http://c", 3, 5);

    assert_int_equal(edr_etcd_rank_statuses(st, 3, EDR_ETCD_POLICY_FOLLOWER, order, &n, &err),
                     EDR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], 2);
    assert_string_equal(st[0].error, "etcd 'http://a': unhealthy: memberID:1 alarm:NOSPACE ; "
                                     "memberID:1 alarm:CORRUPT ");
    assert_string_equal(st[1].error, "etcd 'http://b': unhealthy: no leader");
    assert_true(st[0].ok && !st[0].healthy);

    st[2].leader = 0;
    assert_int_equal(edr_etcd_rank_statuses(st, 3, EDR_ETCD_POLICY_FOLLOWER, order, &n, &err),
                     EDR_E_ETCD);
    assert_int_equal(n, 0);
    assert_string_equal(err.msg, "no healthy etcd endpoint: etcd 'http://a': unhealthy: "
                                 "memberID:1 alarm:NOSPACE ; memberID:1 alarm:CORRUPT ; etcd "
                                 "'http://b': unhealthy: no leader; etcd 'http://c': unhealthy: no "
                                 "leader");

    /* NOSPACE alone stops writes, not reads: that member still serves a snapshot */
    snprintf(st[0].alarms_and_errors, sizeof(st[0].alarms_and_errors),
             "memberID:1 alarm:NOSPACE ; memberID:2 alarm:NOSPACE ");
    assert_int_equal(edr_etcd_rank_statuses(st, 3, EDR_ETCD_POLICY_FOLLOWER, order, &n, &err),
                     EDR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(order[0], 0);
    assert_true(st[0].healthy);
}

static void
test_rank_error_codes(void **state)
{
    struct edr_etcd_status st[2];
    size_t order[2], n;
    struct edr_err err;
    (void)state;

    failed(&st[0], "https://a", EDR_E_TLS, "etcd 'https://a': Status: SSL certificate problem");
    failed(&st[1], "https://b", EDR_E_TLS, "etcd 'https://b': Status: SSL certificate problem");
    assert_int_equal(edr_etcd_rank_statuses(st, 2, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_E_TLS);
    assert_string_equal(err.msg, "no healthy etcd endpoint: etcd 'https://a': Status: SSL "
                                 "certificate problem; etcd 'https://b': Status: SSL "
                                 "certificate problem");
    assert_non_null(strstr(err.hint, "--cacert"));

    failed(&st[0], "http://a", EDR_E_ETCD_AUTH, "etcd 'http://a': Authenticate: bad");
    failed(&st[1], "http://b", EDR_E_ETCD_AUTH, "etcd 'http://b': Authenticate: bad");
    assert_int_equal(edr_etcd_rank_statuses(st, 2, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_E_ETCD_AUTH);

    /* mixed causes: plain etcd error */
    failed(&st[1], "http://b", EDR_E_ETCD, "etcd 'http://b': Status: timeout");
    assert_int_equal(edr_etcd_rank_statuses(st, 2, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_E_ETCD);
    /* reachable but unhealthy counts as an etcd problem too */
    failed(&st[0], "http://a", EDR_E_ETCD_AUTH, "etcd 'http://a': Authenticate: bad");
    fake(&st[1], "http://b", 2, 1);
    st[1].leader = 0;
    assert_int_equal(edr_etcd_rank_statuses(st, 2, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_E_ETCD);
    assert_int_equal(edr_etcd_rank_statuses(st, 0, EDR_ETCD_POLICY_LEADER, order, &n, &err),
                     EDR_E_ETCD);
    assert_string_equal(err.msg, "no healthy etcd endpoint");
}

static void
test_unreachable(void **state)
{
    /* nothing listens on port 1 of loopback: refused, EDR_E_ETCD, fast */
    struct edr_etcd_opts o;
    struct edr_etcd_client *c = NULL;
    struct edr_etcd_status st[1];
    size_t order[1], n = 9;
    struct edr_err err;
    (void)state;

    memset(&o, 0, sizeof(o));
    o.endpoints = "127.0.0.1:1";
    assert_int_equal(edr_etcd_client_new(&o, &c, &err), EDR_OK);
    assert_int_equal(edr_etcd_rank(c, EDR_ETCD_POLICY_FOLLOWER, order, &n, st, &err), EDR_E_ETCD);
    assert_int_equal(n, 0);
    assert_false(st[0].ok);
    assert_int_equal(st[0].rc, EDR_E_ETCD);
    assert_string_equal(st[0].endpoint, "http://127.0.0.1:1");
    assert_non_null(
        strstr(err.msg, "no healthy etcd endpoint: etcd 'http://127.0.0.1:1': Status: "));
    edr_etcd_client_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endpoints),      cmocka_unit_test(test_rank_policies),
        cmocka_unit_test(test_rank_unhealthy), cmocka_unit_test(test_rank_error_codes),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
