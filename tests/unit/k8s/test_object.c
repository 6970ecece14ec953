/*
 * Unit tests of src/k8s/object.c: a ConfigMap as a real kube-apiserver
 * (v1.34.4) stored it in etcd (configmap.pb: protobuf envelope), a JSON
 * object with every metadata field, a value encrypted at rest (the prefix
 * the API server writes before the ciphertext), and damaged input: every
 * truncation and every single-byte change of the real object decodes to
 * something or to "unknown", never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/object.h"

static uint8_t *
slurp(const char *name, size_t *n)
{
    char path[512];
    FILE *f;
    uint8_t *b = malloc(65536);

    snprintf(path, sizeof(path), "%s/%s", K8S_FIXTURES, name);
    f = fopen(path, "rb");
    assert_non_null(f);
    assert_non_null(b);
    *n = fread(b, 1, 65536, f);
    fclose(f);
    return b;
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_protobuf_configmap),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_encrypted),
        cmocka_unit_test(test_unknown_and_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
