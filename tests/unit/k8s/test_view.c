/*
 * Unit tests of src/k8s/view.c on values a real kube-apiserver 1.34
 * encrypted with known keys (the enc-* fixtures, enc-config.yaml): the view
 * of one value with and without the keys, and under another etcd key; the
 * encryption census of values classed in any order and counted live
 * (history, deletions, plain secrets, keys that do not open).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/view.h"
#include "../support.h"

static const char *const PROVIDERS[] = {"aescbc", "aesgcm", "secretbox"};

static uint8_t *
slurp(const char *name, size_t *n)
{
    return tu_fixture(K8S_FIXTURES, name, n);
}

static struct edr_k8s_keys *
fixture_keys(void)
{
    struct edr_k8s_keys *k = NULL;
    struct edr_err err;
    size_t n;
    uint8_t *text = slurp("enc-config.yaml", &n);

    memset(&err, 0, sizeof(err));
    assert_int_equal(edr_k8s_keys_parse((const char *)text, n, "enc-config.yaml", &k, &err),
                     EDR_OK);
    free(text);
    return k;
}

static void
test_view_value(void **state)
{
    struct edr_k8s_keys *keys = fixture_keys();
    struct edr_buf buf = {0};

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        char name[64], key[128];
        struct edr_k8s_view w;
        size_t n;
        uint8_t *v;

        snprintf(name, sizeof(name), "enc-secret-%s.bin", PROVIDERS[i]);
        snprintf(key, sizeof(key), "/registry/secrets/default/s-%s", PROVIDERS[i]);
        v = slurp(name, &n);
        /* without keys: the prefix only */
        edr_k8s_view_value(NULL, (const uint8_t *)key, strlen(key), v, n, &buf, &w);
        assert_int_equal(w.stored.format, EDR_K8S_ENCRYPTED);
        assert_string_equal(w.stored.enc_provider, PROVIDERS[i]);
        assert_string_equal(w.stored.enc_key, "key1");
        assert_string_equal(edr_k8s_view_status(&w), "not checked");
        assert_string_equal(w.obj.kind, "");
        assert_ptr_equal(w.plain, v);
        /* with them: the Secret, decoded from the plaintext */
        edr_k8s_view_value(keys, (const uint8_t *)key, strlen(key), v, n, &buf, &w);
        assert_string_equal(edr_k8s_view_status(&w), "opened");
        assert_int_equal(w.obj.format, EDR_K8S_PROTOBUF);
        assert_string_equal(w.obj.kind, "Secret");
        assert_string_equal(w.obj.name, key + strlen("/registry/secrets/default/"));
        assert_int_equal(strlen(w.obj.uid), 36);
        assert_true(w.plain_len > 4 && memcmp(w.plain, "k8s", 4) == 0);
        edr_k8s_view_wipe(&buf);
        assert_int_equal(buf.len, 0);
        free(v);
    }
    {
        /* aesgcm binds the value to its etcd key: elsewhere it does not open */
        static const char other[] = "/registry/secrets/default/copy";
        struct edr_k8s_view w;
        size_t n;
        uint8_t *v = slurp("enc-secret-aesgcm.bin", &n);
        edr_k8s_view_value(keys, (const uint8_t *)other, strlen(other), v, n, &buf, &w);
        assert_string_equal(edr_k8s_view_status(&w), "wrong key or damaged");
        assert_true(w.why[0] != '\0');
        assert_string_equal(w.obj.kind, "");
        free(v);
    }
    {
        struct edr_k8s_view w;
        static const char plain[] = "{\"kind\":\"Secret\",\"metadata\":{\"name\":\"p\"}}";
        edr_k8s_view_value(keys, (const uint8_t *)"/registry/secrets/a/p", 21,
                           (const uint8_t *)plain, strlen(plain), &buf, &w);
        assert_null(edr_k8s_view_status(&w));
        assert_string_equal(w.obj.name, "p");
    }
    edr_buf_release(&buf);
    edr_k8s_keys_free(keys);
}

/* The census: every fixture classed (as a stream would, in any order and
 * with older revisions), only some counted as live. */
static void
test_census(void **state)
{
    struct edr_k8s_keys *keys = fixture_keys();
    struct edr_k8s_census *c = NULL;
    const struct edr_k8s_enc_report *r;
    struct edr_err err;
    uint16_t cls[3][2];
    static const char kms[] = "k8s:enc:kms:v2:kms1:xyz";
    static const char plain[] = "{\"kind\":\"Secret\"}";

    (void)state;
    memset(&err, 0, sizeof(err));
    for (int with_keys = 0; with_keys < 2; with_keys++) {
        assert_int_equal(edr_k8s_census_new(with_keys ? keys : NULL, &c, &err), EDR_OK);
        for (int i = 2; i >= 0; i--)
            for (int cm = 0; cm < 2; cm++) {
                char name[64], key[128];
                size_t n;
                uint8_t *v;
                snprintf(name, sizeof(name), "enc-%s-%s.bin", cm ? "configmap" : "secret",
                         PROVIDERS[i]);
                snprintf(key, sizeof(key), "/registry/%s/default/%s-%s",
                         cm ? "configmaps" : "secrets", cm ? "cm" : "s", PROVIDERS[i]);
                v = slurp(name, &n);
                cls[i][cm] = edr_k8s_census_classify(c, (const uint8_t *)key, strlen(key), v, n);
                assert_true(cls[i][cm] > 0);
                free(v);
            }
        /* outside /registry/ and plain values: class 0 */
        assert_int_equal(
            edr_k8s_census_classify(c, (const uint8_t *)"/x", 2, (const uint8_t *)kms, strlen(kms)),
            0);
        assert_int_equal(edr_k8s_census_classify(c, (const uint8_t *)"/registry/secrets/a/p", 21,
                                                 (const uint8_t *)plain, strlen(plain)),
                         0);
        /* live: the secretbox ConfigMap was deleted; the aescbc Secret's
         * latest value is plain; one KMS secret; two plain secrets */
        assert_int_equal(
            edr_k8s_census_count(c, (const uint8_t *)"/registry/secrets/default/s-aescbc", 34, 0),
            0);
        assert_int_equal(edr_k8s_census_add(c, (const uint8_t *)"/registry/secrets/b/plain", 25,
                                            (const uint8_t *)plain, strlen(plain)),
                         0);
        assert_int_equal(edr_k8s_census_add(c, (const uint8_t *)"/registry/secrets/b/k", 21,
                                            (const uint8_t *)kms, strlen(kms)),
                         0);
        edr_k8s_census_count(c, (const uint8_t *)"/registry/configmaps/default/cm-aescbc", 38,
                             cls[0][1]);
        edr_k8s_census_count(c, (const uint8_t *)"/registry/secrets/default/s-aesgcm", 34,
                             cls[1][0]);
        edr_k8s_census_count(c, (const uint8_t *)"/registry/configmaps/default/cm-aesgcm", 38,
                             cls[1][1]);
        edr_k8s_census_count(c, (const uint8_t *)"/registry/secrets/default/s-secretbox", 37,
                             cls[2][0]);
        r = edr_k8s_census_report(c);
        assert_int_equal(r->checked, with_keys);
        assert_int_equal(r->encrypted, 5);
        assert_int_equal(r->plain_secrets, 2);
        /* sorted by provider, version, key name */
        assert_int_equal(r->n_keys, 4);
        assert_string_equal(r->keys[0].provider, "aescbc");
        assert_int_equal(r->keys[0].objects, 1);
        assert_int_equal(r->keys[0].n_resources, 1);
        assert_string_equal(r->keys[0].resources[0].name, "configmaps");
        assert_string_equal(r->keys[1].provider, "aesgcm");
        assert_int_equal(r->keys[1].objects, 2);
        assert_int_equal(r->keys[1].n_resources, 2);
        assert_string_equal(r->keys[1].resources[0].name, "configmaps");
        assert_string_equal(r->keys[1].resources[1].name, "secrets");
        assert_string_equal(r->keys[2].provider, "kms");
        assert_string_equal(r->keys[2].version, "v2");
        assert_string_equal(r->keys[2].key, "kms1");
        assert_string_equal(r->keys[3].provider, "secretbox");
        assert_int_equal(r->keys[3].objects, 1);
        assert_int_equal(r->keys[0].opened, with_keys ? 1 : 0);
        assert_int_equal(r->keys[1].opened, with_keys ? 2 : 0);
        assert_int_equal(r->keys[2].opened, 0);
        assert_int_equal(r->keys[3].opened, with_keys ? 1 : 0);
        edr_k8s_census_free(c);
    }
    edr_k8s_keys_free(keys);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_view_value),
        cmocka_unit_test(test_census),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
