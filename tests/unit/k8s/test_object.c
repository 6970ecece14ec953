/*
 * Unit tests of src/k8s/object.c: a ConfigMap as a real kube-apiserver
 * (v1.34.4) stored it in etcd (configmap.pb: protobuf envelope), a JSON
 * object with every metadata field, a value encrypted at rest (the prefix
 * the API server writes before the ciphertext), and damaged input: every
 * truncation and every single-byte change of the real object decodes to
 * something or to "unknown", never a crash. The metadata as JSON (get
 * --k8s) of the real object and of one built the way the API server writes
 * ObjectMeta with every field the view shows; the key split.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/pb.h"
#include "k8s/key.h"
#include "k8s/object.h"
#include "../support.h"

static uint8_t *
slurp(const char *name, size_t *n)
{
    return tu_fixture(K8S_FIXTURES, name, n);
}

static void
test_protobuf_configmap(void **state)
{
    struct edr_k8s_object o;
    size_t n;
    uint8_t *v = slurp("configmap.pb", &n);

    (void)state;
    edr_k8s_decode(v, n, &o);
    assert_int_equal(o.format, EDR_K8S_PROTOBUF);
    assert_string_equal(edr_k8s_format_name(o.format), "protobuf");
    assert_string_equal(o.api_version, "v1");
    assert_string_equal(o.kind, "ConfigMap");
    assert_string_equal(o.name, "demo");
    assert_string_equal(o.ns, "default");
    assert_string_equal(o.uid, "3f645f96-119d-41c2-896e-d457df6d408b");
    /* the API server stores no resourceVersion: it is the key's mod revision */
    assert_string_equal(o.resource_version, "");
    assert_true(o.created > 1796000000 && o.created < 1797000000);
    assert_int_equal(o.deleted, 0);
    assert_int_equal(o.owners, 0);
    assert_string_equal(o.error, "");
    free(v);
}

static void
test_json(void **state)
{
    static const char j[] =
        "{\"apiVersion\":\"cert-manager.io/v1\",\"kind\":\"Certificate\",\"metadata\":{"
        "\"name\":\"web\",\"namespace\":\"prod\",\"uid\":\"u-1\",\"resourceVersion\":\"42\","
        "\"generation\":3,\"creationTimestamp\":\"2026-12-03T11:52:28Z\","
        "\"deletionTimestamp\":\"2026-12-03T12:00:00Z\",\"labels\":{\"a\":\"1\",\"b\":\"2\"},"
        "\"annotations\":{\"x\":\"y\"},\"finalizers\":[\"f\"],\"ownerReferences\":[{\"kind\":"
        "\"Issuer\",\"name\":\"ca\"}]},\"spec\":{}}";
    struct edr_k8s_object o;

    (void)state;
    edr_k8s_decode((const uint8_t *)j, strlen(j), &o);
    assert_int_equal(o.format, EDR_K8S_JSON);
    assert_string_equal(o.api_version, "cert-manager.io/v1");
    assert_string_equal(o.kind, "Certificate");
    assert_string_equal(o.name, "web");
    assert_string_equal(o.ns, "prod");
    assert_string_equal(o.resource_version, "42");
    assert_int_equal(o.generation, 3);
    assert_int_equal(o.created, 1796298748);
    assert_int_equal(o.deleted, 1796299200);
    assert_int_equal(o.labels, 2);
    assert_int_equal(o.annotations, 1);
    assert_int_equal(o.finalizers, 1);
    assert_int_equal(o.owners, 1);
    assert_string_equal(o.owner_kind, "Issuer");
    assert_string_equal(o.owner_name, "ca");
}

static void
test_encrypted(void **state)
{
    struct edr_k8s_object o;
    size_t n;
    uint8_t *v = slurp("secret-aescbc.bin", &n);
    static const char bad[] = "k8s:enc:kms:v2";

    (void)state;
    edr_k8s_decode(v, n, &o);
    assert_int_equal(o.format, EDR_K8S_ENCRYPTED);
    assert_string_equal(o.enc_provider, "aescbc");
    assert_string_equal(o.enc_version, "v1");
    assert_string_equal(o.enc_key, "key1");
    free(v);
    edr_k8s_decode((const uint8_t *)bad, strlen(bad), &o);
    assert_int_equal(o.format, EDR_K8S_UNKNOWN);
    assert_non_null(strstr(o.error, "malformed prefix"));
}

static void
test_unknown_and_damaged(void **state)
{
    struct edr_k8s_object o;
    size_t n;
    uint8_t *v = slurp("configmap.pb", &n), *w = malloc(n);

    (void)state;
    assert_non_null(w);
    edr_k8s_decode(NULL, 0, &o);
    assert_int_equal(o.format, EDR_K8S_UNKNOWN);
    edr_k8s_decode((const uint8_t *)"plain", 5, &o);
    assert_int_equal(o.format, EDR_K8S_UNKNOWN);
    assert_non_null(strstr(o.error, "neither JSON"));
    edr_k8s_decode((const uint8_t *)"{not json", 9, &o);
    assert_int_equal(o.format, EDR_K8S_UNKNOWN);
    /* every truncation: decoded partly, or reported damaged; never a crash */
    for (size_t k = 0; k < n; k++) {
        memcpy(w, v, k);
        edr_k8s_decode(w, k, &o);
        assert_true(o.format == EDR_K8S_PROTOBUF || o.format == EDR_K8S_UNKNOWN);
    }
    edr_k8s_decode(v, 40, &o);
    assert_int_equal(o.format, EDR_K8S_UNKNOWN);
    assert_string_equal(o.error, "damaged protobuf object");
    /* every byte changed */
    for (size_t k = 4; k < n; k++) {
        memcpy(w, v, n);
        w[k] ^= 0xff;
        edr_k8s_decode(w, n, &o);
        assert_true(o.format == EDR_K8S_PROTOBUF || o.format == EDR_K8S_UNKNOWN);
    }
    free(w);
    free(v);
}

static char *
dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);

    assert_non_null(s);
    json_decref(j);
    return s;
}

static void
test_json_of_real_configmap(void **state)
{
    struct edr_err err;
    json_t *j;
    size_t n;
    uint8_t *v = slurp("configmap.pb", &n);
    char *s;

    (void)state;
    memset(&err, 0, sizeof(err));
    assert_int_equal(edr_k8s_object_json(v, n, 1234, (struct json_t **)&j, &err), EDR_OK);
    s = dump(j);
    /* data {a: b} is the undecoded rest: field 2, 1 entry of 1 + 1 bytes */
    assert_string_equal(s, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
                           "\"demo\",\"namespace\":\"default\",\"uid\":\"3f645f96-119d-41c2-896e-"
                           "d457df6d408b\",\"resourceVersion\":\"1234\",\"creationTimestamp\":"
                           "\"2026-12-03T11:52:38Z\"},\"undecoded\":{\"encoding\":\"protobuf\","
                           "\"bytes\":8}}");
    free(s);
    free(v);
}

/* map<string,string> entry */
static void
put_entry(struct edr_pb_writer *w, uint32_t field, const char *k, const char *v)
{
    uint8_t b[256];
    struct edr_pb_writer e;

    edr_pb_writer_init(&e, b, sizeof(b));
    edr_pb_put_bytes(&e, 1, k, strlen(k));
    edr_pb_put_bytes(&e, 2, v, strlen(v));
    edr_pb_put_bytes(w, field, b, e.len);
}

/* A Secret as the API server writes it: ObjectMeta with every field, then
 * type and data; `label` is the value of label "app" (bytes, may be bad). */
static size_t
build_secret(uint8_t *out, size_t cap, const char *label, size_t label_len)
{
    uint8_t meta[1024], obj[2048], tm[64], t[16], own[256], lab[64];
    struct edr_pb_writer m, o, w, x, y;

    edr_pb_writer_init(&x, t, sizeof(t));
    edr_pb_put_uint(&x, 1, 1796298748); /* 2026-12-03T11:52:28Z */
    edr_pb_writer_init(&m, meta, sizeof(meta));
    edr_pb_put_bytes(&m, 1, "s1", 2);
    edr_pb_put_bytes(&m, 2, "", 0);
    edr_pb_put_bytes(&m, 3, "prod", 4);
    edr_pb_put_bytes(&m, 5, "u-1", 3);
    edr_pb_put_bytes(&m, 6, "", 0);
    edr_pb_put_uint(&m, 7, 3);
    edr_pb_put_bytes(&m, 8, t, x.len);
    edr_pb_writer_init(&x, t, sizeof(t));
    edr_pb_put_uint(&x, 1, 1796299200); /* 2026-12-03T12:00:00Z */
    edr_pb_put_bytes(&m, 9, t, x.len);
    meta[m.len++] = 0x50; /* deletionGracePeriodSeconds 0: on the wire (a pointer) */
    meta[m.len++] = 0x00;
    edr_pb_writer_init(&y, lab, sizeof(lab));
    edr_pb_put_bytes(&y, 1, "app", 3);
    edr_pb_put_bytes(&y, 2, label, label_len);
    edr_pb_put_bytes(&m, 11, lab, y.len);
    put_entry(&m, 11, "tier", "");
    put_entry(&m, 12, "note", "h\xc3\xa9llo \"q\"");
    edr_pb_writer_init(&y, own, sizeof(own));
    edr_pb_put_bytes(&y, 1, "Deployment", 10);
    edr_pb_put_bytes(&y, 3, "web", 3);
    edr_pb_put_bytes(&y, 4, "u-0", 3);
    edr_pb_put_bytes(&y, 5, "apps/v1", 7);
    edr_pb_put_uint(&y, 6, 1);
    edr_pb_put_bytes(&m, 13, own, y.len);
    edr_pb_put_bytes(&m, 14, "f1", 2);
    edr_pb_put_bytes(&m, 14, "f2", 2);
    edr_pb_put_bytes(&m, 17, "managed", 7);
    edr_pb_writer_init(&o, obj, sizeof(obj));
    edr_pb_put_bytes(&o, 1, meta, m.len);
    put_entry(&o, 2, "password", "secret!");
    edr_pb_put_bytes(&o, 3, "Opaque", 6);
    edr_pb_writer_init(&x, tm, sizeof(tm));
    edr_pb_put_bytes(&x, 1, "v1", 2);
    edr_pb_put_bytes(&x, 2, "Secret", 6);
    memcpy(out, "k8s", 4);
    edr_pb_writer_init(&w, out + 4, cap - 4);
    edr_pb_put_bytes(&w, 1, tm, x.len);
    edr_pb_put_bytes(&w, 2, obj, o.len);
    assert_false(w.overflow || m.overflow || o.overflow);
    return 4 + w.len;
}

static void
test_json_of_every_metadata_field(void **state)
{
    struct edr_err err;
    uint8_t v[4096];
    size_t n = build_secret(v, sizeof(v), "web", 3);
    struct edr_k8s_object o;
    json_t *j;
    char *s;

    (void)state;
    memset(&err, 0, sizeof(err));
    edr_k8s_decode(v, n, &o);
    assert_int_equal(o.format, EDR_K8S_PROTOBUF);
    assert_string_equal(o.name, "s1");
    assert_int_equal(o.labels, 2);
    assert_int_equal(o.finalizers, 2);
    assert_int_equal(edr_k8s_object_json(v, n, 7, (struct json_t **)&j, &err), EDR_OK);
    s = dump(j);
    /* the rest: data (2 + 2+8 + 2+7 = 21 bytes) and type (2 + 6) */
    assert_string_equal(
        s, "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{\"name\":\"s1\",\"namespace\":"
           "\"prod\",\"uid\":\"u-1\",\"resourceVersion\":\"7\",\"generation\":3,"
           "\"creationTimestamp\":\"2026-12-03T11:52:28Z\",\"deletionTimestamp\":"
           "\"2026-12-03T12:00:00Z\",\"deletionGracePeriodSeconds\":0,\"labels\":{\"app\":"
           "\"web\",\"tier\":\"\"},\"annotations\":{\"note\":\"h\xc3\xa9llo \\\"q\\\"\"},"
           "\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"name\":"
           "\"web\",\"uid\":\"u-0\",\"controller\":true}],\"finalizers\":[\"f1\",\"f2\"]},"
           "\"undecoded\":{\"encoding\":\"protobuf\",\"bytes\":29}}");
    free(s);
    /* rv 0: resourceVersion as stored (none) */
    assert_int_equal(edr_k8s_object_json(v, n, 0, (struct json_t **)&j, &err), EDR_OK);
    s = dump(j);
    assert_null(strstr(s, "resourceVersion"));
    free(s);
    /* a label that is not UTF-8: an error that says where, no crash */
    n = build_secret(v, sizeof(v), "\xff\xfe", 2);
    j = NULL;
    assert_int_equal(edr_k8s_object_json(v, n, 7, (struct json_t **)&j, &err), EDR_E_INTEGRITY);
    assert_null(j);
    assert_string_equal(err.msg, "damaged protobuf object: labels");
}

static void
test_json_of_json_object(void **state)
{
    static const char cr[] =
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"w\","
        "\"namespace\":\"prod\",\"uid\":\"u-2\",\"generation\":1,\"labels\":{\"a\":\"b\"}},"
        "\"spec\":{\"size\":3.5,\"n\":[1,2]}}\n";
    struct edr_err err;
    json_t *j;
    char *s;

    (void)state;
    memset(&err, 0, sizeof(err));
    assert_int_equal(
        edr_k8s_object_json((const uint8_t *)cr, strlen(cr), 99, (struct json_t **)&j, &err),
        EDR_OK);
    s = dump(j);
    assert_string_equal(s, "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{"
                           "\"name\":\"w\",\"namespace\":\"prod\",\"uid\":\"u-2\","
                           "\"resourceVersion\":\"99\",\"generation\":1,\"labels\":{\"a\":\"b\"}},"
                           "\"spec\":{\"size\":3.5,\"n\":[1,2]}}");
    free(s);
    assert_int_equal(
        edr_k8s_object_json((const uint8_t *)"{\"a\":", 5, 1, (struct json_t **)&j, &err),
        EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "not a Kubernetes object: "));
    assert_int_equal(edr_k8s_object_json((const uint8_t *)"k8s:enc:aescbc:v1:key1:xyz", 26, 1,
                                         (struct json_t **)&j, &err),
                     EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "encrypted at rest with aescbc:key1");
    assert_int_equal(
        edr_k8s_object_json((const uint8_t *)"plain", 5, 1, (struct json_t **)&j, &err),
        EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "not a Kubernetes object: neither JSON nor Kubernetes protobuf");
}

/* Every truncation and byte flip of both protobuf objects: a JSON object or
 * EDR_E_INTEGRITY with a message, never a crash or a leak. */
static void
test_json_of_damaged(void **state)
{
    struct edr_err err;
    uint8_t s1[4096], *w = malloc(4096);
    size_t n1 = build_secret(s1, sizeof(s1), "web", 3), n2;
    uint8_t *cm = slurp("configmap.pb", &n2);
    const uint8_t *vs[2] = {s1, cm};
    size_t ns[2] = {n1, n2};
    json_t *j;

    (void)state;
    assert_non_null(w);
    for (int t = 0; t < 2; t++)
        for (size_t k = 0; k < ns[t] * 2; k++) {
            size_t len = k < ns[t] ? k : ns[t];
            edr_rc rc;
            memcpy(w, vs[t], ns[t]);
            if (k >= ns[t])
                w[k - ns[t]] ^= 0xa5;
            memset(&err, 0, sizeof(err));
            rc = edr_k8s_object_json(w, len, 5, (struct json_t **)&j, &err);
            if (rc == EDR_OK) {
                assert_non_null(j);
                json_decref(j);
            } else {
                assert_int_equal(rc, EDR_E_INTEGRITY);
                assert_null(j);
                assert_true(err.msg[0] != '\0');
            }
        }
    free(cm);
    free(w);
}

static void
test_key_split(void **state)
{
    static const struct {
        const char *key, *res, *ns, *name;
    } cases[] = {
        {"/registry/secrets/default/s1", "secrets", "default", "s1"},
        {"/registry/namespaces/default", "namespaces", NULL, "default"},
        {"/registry/example.com/widgets/prod/w", "example.com/widgets", "prod", "w"},
        {"/registry/apiextensions.k8s.io/customresourcedefinitions/widgets.example.com",
         "apiextensions.k8s.io/customresourcedefinitions", NULL, "widgets.example.com"},
        {"/registry/services/endpoints/default/kubernetes", "services/endpoints", "default",
         "kubernetes"},
        {"/registry/masterleases/10.0.0.1", "masterleases", NULL, "10.0.0.1"},
        {"/registry/ranges", "ranges", NULL, ""},
    };
    struct edr_k8s_key k;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *key = cases[i].key;
        assert_int_equal(edr_k8s_key_split((const uint8_t *)key, strlen(key), &k), 1);
        assert_int_equal(k.resource_len, strlen(cases[i].res));
        assert_memory_equal(k.resource, cases[i].res, k.resource_len);
        if (cases[i].ns == NULL) {
            assert_null(k.ns);
        } else {
            assert_int_equal(k.ns_len, strlen(cases[i].ns));
            assert_memory_equal(k.ns, cases[i].ns, k.ns_len);
        }
        assert_int_equal(k.name_len, strlen(cases[i].name));
        assert_memory_equal(k.name, cases[i].name, k.name_len);
    }
    assert_int_equal(edr_k8s_key_split((const uint8_t *)"/registry/", 10, &k), 0);
    assert_int_equal(edr_k8s_key_split((const uint8_t *)"/other/x", 8, &k), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protobuf_configmap),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_unknown_and_damaged),
        cmocka_unit_test(test_json_of_real_configmap),
        cmocka_unit_test(test_json_of_every_metadata_field),
        cmocka_unit_test(test_json_of_json_object),
        cmocka_unit_test(test_json_of_damaged),
        cmocka_unit_test(test_key_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
