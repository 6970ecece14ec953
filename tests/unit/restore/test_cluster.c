/*
 * Unit tests of --initial-cluster parsing and etcd's ids: the member and
 * cluster id vectors observed with etcd 3.4.23 (doc/etcd-observed.md §3),
 * every parse and check error with its exact message, URL sorting and
 * normalisation, and the Go-compatible member JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "restore/cluster.h"
#include "restore/json.h"

static struct edr_restore_cluster *
parse_ok(const char *ic, const char *token)
{
    struct edr_restore_cluster *cl = NULL;
    struct edr_err err;

    edr_err_clear(&err);
    if (edr_restore_cluster_parse(ic, token, &cl, &err) != EDR_OK)
        fail_msg("parse '%s': %s", ic, err.msg);
    return cl;
}

static void
parse_err(const char *ic, const char *msg)
{
    struct edr_restore_cluster *cl = (void *)1;
    struct edr_err err;

    edr_err_clear(&err);
    assert_int_equal(edr_restore_cluster_parse(ic, NULL, &cl, &err), EDR_E_USAGE);
    assert_null(cl);
    assert_string_equal(err.msg, msg);
}

static void
test_default_ids(void **state)
{
    struct edr_restore_cluster *cl = parse_ok("default=http://localhost:2380", NULL);
    char hex[17];

    (void)state;
    assert_int_equal(cl->n_members, 1);
    assert_string_equal(cl->token, "etcd-cluster");
    assert_string_equal(cl->members[0].name, "default");
    assert_true(cl->members[0].id == 0x8e9e05c52164694dULL);
    assert_true(cl->cluster_id == 0xcdf818194e3a8c32ULL);
    edr_restore_id_hex(cl->members[0].id, hex);
    assert_string_equal(hex, "8e9e05c52164694d");
    edr_restore_cluster_free(cl);
}

static void
test_three_members(void **state)
{
    struct edr_restore_cluster *cl = parse_ok(
        "m1=http://127.0.0.1:28380,m2=http://127.0.0.1:28381,m3=http://127.0.0.1:28382", "tok3");

    (void)state;
    assert_int_equal(cl->n_members, 3);
    /* ascending id order, not command-line order */
    assert_string_equal(cl->members[0].name, "m2");
    assert_true(cl->members[0].id == 0x3ba712c0e9b34833ULL);
    assert_string_equal(cl->members[1].name, "m1");
    assert_true(cl->members[1].id == 0x512468dd70167e9fULL);
    assert_string_equal(cl->members[2].name, "m3");
    assert_true(cl->members[2].id == 0x761f560da6508b3dULL);
    assert_true(cl->cluster_id == 0x8cd06955c5f7ac8eULL);
    assert_ptr_equal(edr_restore_cluster_find(cl, "m3"), &cl->members[2]);
    assert_null(edr_restore_cluster_find(cl, "m4"));
    edr_restore_cluster_free(cl);
}

static void
test_short_hex_id(void **state)
{
    struct edr_restore_cluster *cl = parse_ok("src=http://127.0.0.1:28101", "srctok");
    char hex[17];

    (void)state;
    assert_true(cl->members[0].id == 0x32021084443468aULL);
    assert_true(cl->cluster_id == 0xad9cce5d350de0acULL);
    edr_restore_id_hex(cl->members[0].id, hex);
    assert_string_equal(hex, "32021084443468a"); /* no leading zero */
    edr_restore_id_hex(0, hex);
    assert_string_equal(hex, "0");
    edr_restore_cluster_free(cl);
}

static void
test_several_urls(void **state)
{
    /* the same URLs in another order, white space, upper-case scheme and an
     * empty entry give the same member */
    struct edr_restore_cluster *a =
        parse_ok("x=https://b.example:2380,y=unix://sock:1,x=http://a.example:2380", "t");
    struct edr_restore_cluster *b =
        parse_ok(",x= HTTP://a.example:2380 ,,x=https://b.example:2380\t,y=unix://sock:1,", "t");
    const struct edr_restore_member *xa = edr_restore_cluster_find(a, "x");
    const struct edr_restore_member *xb = edr_restore_cluster_find(b, "x");

    (void)state;
    assert_non_null(xa);
    assert_non_null(xb);
    assert_int_equal(xa->n_urls, 2);
    assert_string_equal(xa->urls[0], "http://a.example:2380");
    assert_string_equal(xa->urls[1], "https://b.example:2380");
    assert_int_equal(xb->n_urls, 2);
    assert_string_equal(xb->urls[0], "http://a.example:2380");
    assert_true(xa->id == xb->id);
    assert_true(a->cluster_id == b->cluster_id);
    /* the token changes every id */
    edr_restore_cluster_free(b);
    b = parse_ok("x=http://a.example:2380,x=https://b.example:2380,y=unix://sock:1", "u");
    assert_true(edr_restore_cluster_find(b, "x")->id != xa->id);
    assert_true(a->cluster_id != b->cluster_id);
    edr_restore_cluster_free(a);
    edr_restore_cluster_free(b);
    a = parse_ok("v6=http://[::1]:2380", NULL);
    assert_string_equal(a->members[0].urls[0], "http://[::1]:2380");
    edr_restore_cluster_free(a);
}

static void
test_parse_errors(void **state)
{
    (void)state;
    parse_err("", "--initial-cluster is empty");
    parse_err(",,", "--initial-cluster names no member");
    parse_err("m1", "--initial-cluster: entry 'm1' is not of the form name=URL");
    parse_err("a=http://a:1,=http://b:2",
              "--initial-cluster: entry '=http://b:2' has an empty name");
    parse_err("m1=", "--initial-cluster: member 'm1': URL '': scheme must be http, https, unix "
                     "or unixs");
    parse_err("m1=ftp://a:1", "--initial-cluster: member 'm1': URL 'ftp://a:1': scheme must be "
                              "http, https, unix or unixs");
    parse_err("m1=localhost:2380", "--initial-cluster: member 'm1': URL 'localhost:2380': scheme "
                                   "must be http, https, unix or unixs");
    parse_err("m1=http://a", "--initial-cluster: member 'm1': URL 'http://a': address does not "
                             "have the form \"host:port\"");
    parse_err("m1=http:a:1", "--initial-cluster: member 'm1': URL 'http:a:1': address does not "
                             "have the form \"host:port\"");
    parse_err("m1=http://:1", "--initial-cluster: member 'm1': URL 'http://:1': address does "
                              "not have the form \"host:port\"");
    parse_err("m1=http://a:1/", "--initial-cluster: member 'm1': URL 'http://a:1/': URL must not "
                                "contain a path");
    parse_err("m1=http://a:1/x", "--initial-cluster: member 'm1': URL 'http://a:1/x': URL must "
                                 "not contain a path");
    parse_err("m1=http://a:1?q", "--initial-cluster: member 'm1': URL 'http://a:1?q': URL must "
                                 "not contain a query");
    parse_err("m1=http://a:1#f", "--initial-cluster: member 'm1': URL 'http://a:1#f': URL must "
                                 "not contain a fragment");
    parse_err("m1=http://u@a:1", "--initial-cluster: member 'm1': URL 'http://u@a:1': URL must "
                                 "not contain user information");
    parse_err("m1=http://a:x", "--initial-cluster: member 'm1': URL 'http://a:x': port is not a "
                               "number");
    parse_err("m1=http://a:", "--initial-cluster: member 'm1': URL 'http://a:': port is not a "
                              "number");
    parse_err("m1=http://a%41:1", "--initial-cluster: member 'm1': URL 'http://a%41:1': host "
                                  "contains a character other than [A-Za-z0-9._-]");
    parse_err("m1=http://[::1]", "--initial-cluster: member 'm1': URL 'http://[::1]': address "
                                 "does not have the form \"host:port\"");
    parse_err("m1=http://[::g]:1", "--initial-cluster: member 'm1': URL 'http://[::g]:1': host "
                                   "contains a character other than [0-9a-fA-F:.] in its IPv6 "
                                   "address");
    parse_err("m1=http://a:1:2", "--initial-cluster: member 'm1': URL 'http://a:1:2': address "
                                 "does not have the form \"host:port\"");
    parse_err("m1=http://a:1,m2=http://b:2,m3=http://a:1",
              "--initial-cluster: URL 'http://a:1' is given for both 'm1' and 'm3'");
    parse_err("m1=http://a:1,m1=http://a:1",
              "--initial-cluster: URL 'http://a:1' is given twice for member 'm1'");
    /* scheme case does not make two URLs different */
    parse_err("m1=http://a:1,m2=HTTP://a:1",
              "--initial-cluster: URL 'http://a:1' is given for both 'm1' and 'm2'");
}

static void
test_check_member(void **state)
{
    struct edr_restore_cluster *cl =
        parse_ok("m1=http://10.0.0.1:2380,m1=http://n1:2380,m2=http://10.0.0.2:2380", NULL);
    const struct edr_restore_member *m = NULL;
    struct edr_err err;

    (void)state;
    edr_err_clear(&err);
    assert_int_equal(edr_restore_cluster_check_member(cl, "m1", NULL, &m, &err), EDR_OK);
    assert_string_equal(m->name, "m1");
    assert_int_equal(edr_restore_cluster_check_member(
                         cl, "m1", "http://n1:2380, http://10.0.0.1:2380", &m, &err),
                     EDR_OK);
    assert_int_equal(edr_restore_cluster_check_member(cl, "m3", NULL, &m, &err), EDR_E_USAGE);
    assert_null(m);
    assert_string_equal(err.msg, "--name 'm3' is not a member of --initial-cluster");
    assert_string_equal(err.hint, "--initial-cluster names 'm1', 'm2'");
    assert_int_equal(edr_restore_cluster_check_member(cl, "", NULL, &m, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "--name is empty");
    assert_int_equal(edr_restore_cluster_check_member(cl, "m1", "http://n1:2380", &m, &err),
                     EDR_E_USAGE);
    assert_string_equal(err.msg,
                        "--initial-advertise-peer-urls 'http://n1:2380' does not match the URLs "
                        "of member 'm1' in --initial-cluster "
                        "('http://10.0.0.1:2380,http://n1:2380')");
    assert_int_equal(edr_restore_cluster_check_member(cl, "m2", "http://10.0.0.2:2380/", &m, &err),
                     EDR_E_USAGE);
    assert_string_equal(err.msg, "--initial-advertise-peer-urls: URL 'http://10.0.0.2:2380/': "
                                 "URL must not contain a path");
    assert_int_equal(edr_restore_cluster_check_member(cl, "m2", "", &m, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "--initial-advertise-peer-urls: URL '': scheme must be http, "
                                 "https, unix or unixs");
    edr_restore_cluster_free(cl);
}

static void
test_member_json(void **state)
{
    struct edr_restore_cluster *cl = parse_ok("default=http://localhost:2380", NULL);
    struct edr_err err;
    char *json = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(edr_restore_member_json(&cl->members[0], &json, &len, &err), EDR_OK);
    assert_string_equal(json, "{\"id\":10276657743932975437,\"peerURLs\":[\"http://"
                              "localhost:2380\"],\"name\":\"default\"}");
    assert_int_equal(len, strlen(json));
    free(json);
    assert_int_equal(edr_restore_raft_attrs_json(&cl->members[0], &json, &len, &err), EDR_OK);
    assert_string_equal(json, "{\"peerURLs\":[\"http://localhost:2380\"]}");
    free(json);
    edr_restore_cluster_free(cl);

    cl = parse_ok("a\"<&>\\\x01\x7f\xe2\x80\xa8\xff\xc3\xa9=http://a:1,a\"<&>\\\x01\x7f\xe2\x80"
                  "\xa8\xff\xc3\xa9=http://b:2",
                  NULL);
    assert_int_equal(cl->n_members, 1);
    assert_int_equal(edr_restore_member_json(&cl->members[0], &json, &len, &err), EDR_OK);
    assert_non_null(strstr(json, ",\"peerURLs\":[\"http://a:1\",\"http://b:2\"],\"name\":\"a\\\""
                                 "\\u003c\\u0026\\u003e\\\\\\u0001\x7f\\u2028\\ufffd\xc3\xa9\"}"));
    free(json);
    edr_restore_cluster_free(cl);
}

static void
test_json_escape(void **state)
{
    struct edr_buf b = {0};
    static const char in[] = "\b\f\n\r\t x\xe2\x80\xa9\xed\xa0\x80\xf4\x90\x80\x80\xc0\xaf\xe2\x82";

    (void)state;
    assert_int_equal(edr_restore_json_str(&b, in, sizeof(in) - 1), 0);
    assert_int_equal(edr_buf_cstr(&b), 0);
    /* go1.19: \b and \f as \u00xx; surrogates, > U+10FFFF, overlong and
     * truncated sequences give one \ufffd per byte */
    assert_string_equal((char *)b.data,
                        "\"\\u0008\\u000c\\n\\r\\t x\\u2029\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"
                        "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    edr_buf_release(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_ids),  cmocka_unit_test(test_three_members),
        cmocka_unit_test(test_short_hex_id), cmocka_unit_test(test_several_urls),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_check_member),
        cmocka_unit_test(test_member_json),  cmocka_unit_test(test_json_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
