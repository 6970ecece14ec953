/*
 * Unit tests of src/k8s/encryption.c and src/k8s/yaml.c. The encrypted
 * values were stored in etcd by a real kube-apiserver 1.34.4 with the keys
 * of enc-config.yaml (tests/unit/k8s/make-enc-fixtures.sh made them, with
 * the API server's answers, which the decrypted objects must match): a
 * Secret and a ConfigMap for each of aescbc, aesgcm and secretbox, the
 * ConfigMaps in a second resource group whose keys have the same name,
 * key1, as the Secrets'. Then wrong keys, unknown names, KMS, damaged
 * values (every truncation, every bit flipped: never a crash, never
 * "opened"), the authenticated etcd key of aesgcm, the YAML and JSON forms
 * of one configuration, malformed configurations with their line, and the
 * refusal of a file others can read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "k8s/encryption.h"
#include "k8s/object.h"
#include "k8s/yaml.h"
#include "../support.h"

static const char *const providers[] = {"aescbc", "aesgcm", "secretbox"};

static uint8_t *
slurp(const char *name, size_t *n)
{
    return tu_fixture(K8S_FIXTURES, name, n);
}

/* The fixture config copied to a private temp file (git keeps no mode). */
static struct edr_k8s_keys *
load_fixture_keys(const char *name)
{
    char path[] = "/tmp/edr-test-enc-XXXXXX";
    struct edr_k8s_keys *k = NULL;
    struct edr_err err;
    size_t n;
    uint8_t *text = slurp(name, &n);
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    free(text);
    assert_int_equal(chmod(path, 0600), 0);
    edr_err_clear(&err);
    assert_int_equal(edr_k8s_keys_load(path, &k, &err), EDR_OK);
    unlink(path);
    assert_non_null(k);
    return k;
}

static struct edr_k8s_keys *
parse_ok(const char *text)
{
    struct edr_k8s_keys *k = NULL;
    struct edr_err err;

    edr_err_clear(&err);
    if (edr_k8s_keys_parse(text, strlen(text), "t.yaml", &k, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    return k;
}

static void
parse_fails(const char *text, edr_rc code, const char *msg)
{
    struct edr_k8s_keys *k = (struct edr_k8s_keys *)1;
    struct edr_err err;

    edr_err_clear(&err);
    assert_int_equal(edr_k8s_keys_parse(text, strlen(text), "t.yaml", &k, &err), code);
    assert_null(k);
    assert_string_equal(err.msg, msg);
}

static int
contains(const struct edr_buf *b, const char *s)
{
    size_t n = strlen(s);

    for (size_t i = 0; i + n <= b->len; i++)
        if (memcmp(b->data + i, s, n) == 0)
            return 1;
    return 0;
}

/* The decrypted object is the one the API server answered when it created
 * it: kind, name, namespace and uid as in enc-<what>-<provider>.json. */
static void
check_object(const struct edr_buf *plain, const char *what, const char *provider)
{
    struct edr_k8s_object o;
    char name[512];
    json_error_t je;
    json_t *want;

    snprintf(name, sizeof(name), "%s/enc-%s-%s.json", K8S_FIXTURES, what, provider);
    want = json_load_file(name, 0, &je);
    assert_non_null(want);
    edr_k8s_decode(plain->data, plain->len, &o);
    assert_int_equal(o.format, EDR_K8S_PROTOBUF);
    assert_string_equal(o.api_version, "v1");
    assert_string_equal(o.kind, json_string_value(json_object_get(want, "kind")));
    assert_string_equal(o.name, json_string_value(json_object_get(want, "name")));
    assert_string_equal(o.ns, json_string_value(json_object_get(want, "namespace")));
    assert_string_equal(o.uid, json_string_value(json_object_get(want, "uid")));
    json_decref(want);
}

static void
test_real_values_open(void **state)
{
    struct edr_k8s_keys *k = load_fixture_keys("enc-config.yaml");
    struct edr_buf out = {0};
    char why[256], name[64], key[128], want[64];
    size_t n;

    (void)state;
    assert_int_equal(edr_k8s_keys_count(k), 6);
    assert_int_equal(edr_k8s_keys_kms(k), 0);
    for (int i = 0; i < 3; i++) {
        const char *p = providers[i];
        uint8_t *v;

        snprintf(name, sizeof(name), "enc-secret-%s.bin", p);
        snprintf(key, sizeof(key), "/registry/secrets/default/s-%s", p);
        v = slurp(name, &n);
        assert_int_equal(
            edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why)),
            EDR_K8S_OPENED);
        assert_string_equal(why, "");
        assert_true(out.len > 4);
        assert_memory_equal(out.data, "k8s\0", 4);
        check_object(&out, "secret", p);
        snprintf(want, sizeof(want), "hunter2-%s", p);
        assert_true(contains(&out, want));
        snprintf(want, sizeof(want), "s-%s", p);
        assert_true(contains(&out, want));
        free(v);

        /* the ConfigMap: the other group's key1 */
        snprintf(name, sizeof(name), "enc-configmap-%s.bin", p);
        snprintf(key, sizeof(key), "/registry/configmaps/default/cm-%s", p);
        v = slurp(name, &n);
        assert_int_equal(
            edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why)),
            EDR_K8S_OPENED);
        assert_memory_equal(out.data, "k8s\0", 4);
        check_object(&out, "configmap", p);
        snprintf(want, sizeof(want), "blue-%s", p);
        assert_true(contains(&out, want));
        free(v);
    }
    edr_buf_release(&out);
    edr_k8s_keys_free(k);
}

/* Opens the six fixtures with k; *plain[i] receives each plaintext. */
static void
open_all(const struct edr_k8s_keys *k, struct edr_buf plain[6])
{
    char name[64], key[128], why[256];
    size_t n;

    for (int i = 0; i < 6; i++) {
        const char *p = providers[i % 3];
        int cm = i >= 3;
        uint8_t *v;

        snprintf(name, sizeof(name), "enc-%s-%s.bin", cm ? "configmap" : "secret", p);
        snprintf(key, sizeof(key), "/registry/%s/default/%s-%s", cm ? "configmaps" : "secrets",
                 cm ? "cm" : "s", p);
        v = slurp(name, &n);
        memset(&plain[i], 0, sizeof(plain[i]));
        assert_int_equal(
            edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &plain[i], why, sizeof(why)),
            EDR_K8S_OPENED);
        free(v);
    }
}

static void
test_yaml_and_json_same(void **state)
{
    struct edr_k8s_keys *ky = load_fixture_keys("enc-config.yaml");
    struct edr_k8s_keys *kj = load_fixture_keys("enc-config.json");
    struct edr_buf a[6], b[6];

    (void)state;
    assert_int_equal(edr_k8s_keys_count(kj), edr_k8s_keys_count(ky));
    open_all(ky, a);
    open_all(kj, b);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(a[i].len, b[i].len);
        assert_memory_equal(a[i].data, b[i].data, a[i].len);
        edr_buf_release(&a[i]);
        edr_buf_release(&b[i]);
    }
    edr_k8s_keys_free(ky);
    edr_k8s_keys_free(kj);
}

#define HEAD "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"

/* A configuration with one key1 per provider, none of them the fixtures' */
static const char wrong_keys[] =
    HEAD "resources:\n"
         "  - resources: [secrets]\n"
         "    providers:\n"
         "      - aescbc: {keys: [{name: key1, secret: "
         "'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='}]}\n"
         "      - aesgcm: {keys: [{name: key1, secret: "
         "\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}]}\n"
         "      - secretbox:\n"
         "          keys:\n"
         "            - {name: key1, secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=}\n";

static void
test_wrong_key(void **state)
{
    struct edr_k8s_keys *k = parse_ok(wrong_keys);
    struct edr_buf out = {0};
    char name[64], key[128], why[256];
    static const char *const whys[] = {
        "aescbc key 'key1': bad padding after AES-CBC decryption (wrong key or damaged value)",
        "aesgcm key 'key1': AES-GCM authentication failed (wrong key, damaged value, or a value "
        "stored under another etcd key)",
        "secretbox key 'key1': secretbox authentication failed (wrong key or damaged value)"};
    size_t n;

    (void)state;
    assert_int_equal(edr_k8s_keys_count(k), 3);
    for (int i = 0; i < 3; i++) {
        uint8_t *v;
        snprintf(name, sizeof(name), "enc-secret-%s.bin", providers[i]);
        snprintf(key, sizeof(key), "/registry/secrets/default/s-%s", providers[i]);
        v = slurp(name, &n);
        assert_int_equal(
            edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why)),
            EDR_K8S_BAD);
        /* aescbc: the padding can pass by chance; then the object check stops it */
        if (i != 0 || strstr(why, "no Kubernetes object") == NULL)
            assert_string_equal(why, whys[i]);
        assert_int_equal(out.len, 0);
        free(v);
    }
    edr_buf_release(&out);
    edr_k8s_keys_free(k);
}

static void
test_no_key_and_kms(void **state)
{
    struct edr_k8s_keys *k = parse_ok(
        HEAD "resources:\n- resources:\n  - secrets\n  providers:\n"
             "  - kms:\n      apiVersion: v2\n      name: vault\n      endpoint: unix:///kms.sock\n"
             "  - aescbc:\n      keys:\n      - name: key2\n"
             "        secret: AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"
             "  - identity: {}\n");
    struct edr_buf out = {0};
    char why[256];
    size_t n;
    uint8_t *v = slurp("enc-secret-aescbc.bin", &n);
    static const char key[] = "/registry/secrets/default/s-aescbc";
    static const char kms1[] = "k8s:enc:kms:v1:vault:\x01\x02\x03";
    static const char kms2[] = "k8s:enc:kms:v2:vault:\x0a\x20\x00\x01";
    static const char plain[] = "k8s\0\n\x0f";

    (void)state;
    assert_int_equal(edr_k8s_keys_count(k), 1);
    assert_int_equal(edr_k8s_keys_kms(k), 1);
    assert_int_equal(
        edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why)),
        EDR_K8S_NO_KEY);
    assert_string_equal(why, "no aescbc key named 'key1' in the encryption configuration");
    assert_int_equal(
        edr_k8s_unseal(NULL, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why)),
        EDR_K8S_NO_KEY);
    assert_string_equal(why, "aescbc key 'key1' needed: no encryption configuration given");
    assert_int_equal(
        edr_k8s_unseal(k, NULL, 0, (const uint8_t *)kms1, sizeof(kms1) - 1, &out, why, sizeof(why)),
        EDR_K8S_KMS);
    assert_string_equal(why, "encrypted by KMS v1 provider 'vault': only its KMS plugin can open "
                             "it (not checkable offline)");
    assert_int_equal(edr_k8s_unseal(NULL, NULL, 0, (const uint8_t *)kms2, sizeof(kms2) - 1, &out,
                                    why, sizeof(why)),
                     EDR_K8S_KMS);
    assert_int_equal(edr_k8s_unseal(k, NULL, 0, (const uint8_t *)plain, sizeof(plain) - 1, &out,
                                    why, sizeof(why)),
                     EDR_K8S_PLAIN);
    assert_int_equal(out.len, 0);
    assert_int_equal(edr_k8s_unseal(k, NULL, 0, (const uint8_t *)"k8s:enc:rot13:v1:k:x", 20, &out,
                                    why, sizeof(why)),
                     EDR_K8S_NO_KEY);
    assert_string_equal(why, "unknown encryption provider 'rot13'");
    assert_int_equal(
        edr_k8s_unseal(k, NULL, 0, (const uint8_t *)"k8s:enc:aescbc", 14, &out, why, sizeof(why)),
        EDR_K8S_BAD);
    assert_string_equal(why, "damaged encryption prefix");
    assert_int_equal(edr_k8s_unseal(k, NULL, 0, (const uint8_t *)"k8s:enc:aescbc:v9:key2:", 23,
                                    &out, why, sizeof(why)),
                     EDR_K8S_BAD);
    assert_string_equal(why, "unknown aescbc format version 'v9'");
    assert_int_equal(edr_k8s_unseal(k, NULL, 0, (const uint8_t *)"k8s:enc:aescbc:v1:key2:abc", 26,
                                    &out, why, sizeof(why)),
                     EDR_K8S_BAD);
    assert_string_equal(
        why, "aescbc key 'key2': 3 bytes after the prefix is not an IV and whole AES blocks");
    assert_string_equal(edr_k8s_unseal_name(EDR_K8S_BAD), "wrong key or damaged");
    assert_string_equal(edr_k8s_unseal_name(EDR_K8S_NO_KEY), "no key");
    free(v);
    edr_buf_release(&out);
    edr_k8s_keys_free(k);
}

static void
test_aad_is_the_etcd_key(void **state)
{
    struct edr_k8s_keys *k = load_fixture_keys("enc-config.yaml");
    struct edr_buf out = {0};
    char why[256];
    size_t n;
    uint8_t *v = slurp("enc-secret-aesgcm.bin", &n);
    static const char other[] = "/registry/secrets/default/s-aescbc";

    (void)state;
    assert_int_equal(
        edr_k8s_unseal(k, (const uint8_t *)other, strlen(other), v, n, &out, why, sizeof(why)),
        EDR_K8S_BAD);
    assert_string_equal(why, "none of the 2 aesgcm keys named 'key1' opened it: AES-GCM "
                             "authentication failed (wrong key, damaged value, or a value "
                             "stored under another etcd key)");
    assert_int_equal(edr_k8s_unseal(k, NULL, 0, v, n, &out, why, sizeof(why)), EDR_K8S_BAD);
    /* secretbox and aescbc do not authenticate the key */
    free(v);
    v = slurp("enc-secret-secretbox.bin", &n);
    assert_int_equal(
        edr_k8s_unseal(k, (const uint8_t *)other, strlen(other), v, n, &out, why, sizeof(why)),
        EDR_K8S_OPENED);
    free(v);
    edr_buf_release(&out);
    edr_k8s_keys_free(k);
}

/* Every truncation and every bit flip of each real value: no crash, and an
 * authenticated value never opens once changed. AES-CBC is malleable: a
 * flipped IV or ciphertext bit may still decrypt (to a changed value). */
static void
test_damaged_values(void **state)
{
    struct edr_k8s_keys *k = load_fixture_keys("enc-config.yaml");
    struct edr_buf out = {0};
    char name[64], key[128], why[256];
    size_t n, opened_cbc = 0;

    (void)state;
    for (int i = 0; i < 6; i++) {
        const char *p = providers[i % 3];
        int cm = i >= 3;
        size_t prefix = strlen("k8s:enc:") + strlen(p) + strlen(":v1:key1:");
        uint8_t *v;

        snprintf(name, sizeof(name), "enc-%s-%s.bin", cm ? "configmap" : "secret", p);
        snprintf(key, sizeof(key), "/registry/%s/default/%s-%s", cm ? "configmaps" : "secrets",
                 cm ? "cm" : "s", p);
        v = slurp(name, &n);
        for (size_t len = 0; len < n; len++) {
            enum edr_k8s_unseal r = edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, len,
                                                   &out, why, sizeof(why));
            if (i % 3 != 0 || (len - prefix) % 16 != 0 || len <= prefix)
                assert_int_not_equal(r, EDR_K8S_OPENED);
            else if (r == EDR_K8S_OPENED)
                opened_cbc++;
            if (r != EDR_K8S_OPENED)
                assert_int_equal(out.len, 0);
            assert_true(r == EDR_K8S_PLAIN || why[0] != '\0' || r == EDR_K8S_OPENED);
        }
        for (size_t b = 0; b < n * 8; b++) {
            enum edr_k8s_unseal r;
            v[b / 8] ^= (uint8_t)(1u << (b % 8));
            r = edr_k8s_unseal(k, (const uint8_t *)key, strlen(key), v, n, &out, why, sizeof(why));
            v[b / 8] ^= (uint8_t)(1u << (b % 8));
            if (i % 3 != 0 || b / 8 < prefix)
                assert_int_not_equal(r, EDR_K8S_OPENED);
            else if (r == EDR_K8S_OPENED)
                opened_cbc++;
        }
        free(v);
    }
    /* flips in the IV and in blocks before the last two change the value but open */
    assert_true(opened_cbc > 0);
    edr_buf_release(&out);
    edr_k8s_keys_free(k);
}

static void
test_yaml_reader(void **state)
{
    static const char y[] = "%s---   \n"
                            "# a comment\n"
                            "a: 1   # trailing comment\n"
                            "b: 'it''s # not a comment'\n"
                            "\"c d\": \"tab\\there \\u00e9 \\\"q\\\"\"\n"
                            "e:\n"
                            "- x\n"
                            "-   - y\n"
                            "    - z\n"
                            "- k: v\n"
                            "  l: [1, two, {m: n}, []]\n"
                            "f: {}\n"
                            "g:\n"
                            "h: ~\n"
                            "i: true\n"
                            "j: 0755\n"
                            "k: -12\n"
                            "l: a:b\n"
                            "...\n"
                            "ignored: after the end\n";
    static const char j[] = "{\"a\": 1, \"b\": \"it's # not a comment\", \"c d\": \"tab\\there "
                            "\\u00e9 \\\"q\\\"\", \"e\": [\"x\", [\"y\", \"z\"], {\"k\": \"v\", "
                            "\"l\": [1, \"two\", {\"m\": \"n\"}, []]}], \"f\": {}, \"g\": null, "
                            "\"h\": null, \"i\": true, \"j\": \"0755\", \"k\": -12, \"l\": "
                            "\"a:b\"}";
    struct edr_yaml_doc doc;
    struct edr_err err;
    json_error_t je;
    json_t *want = json_loads(j, 0, &je);
    char text[sizeof(y) + 8];

    (void)state;
    assert_non_null(want);
    snprintf(text, sizeof(text), y, "");
    edr_err_clear(&err);
    if (edr_yaml_load(text, strlen(text), "y", &doc, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    if (!json_equal(doc.root, want)) {
        char *d = json_dumps(doc.root, JSON_SORT_KEYS);
        fail_msg("got %s", d);
    }
    assert_int_equal(edr_yaml_line(&doc, json_object_get(doc.root, "a")), 3);
    assert_int_equal(edr_yaml_line(&doc, json_object_get(doc.root, "e")), 7);
    assert_int_equal(edr_yaml_line(&doc, json_object_get(doc.root, "k")), 17);
    edr_yaml_release(&doc);
    json_decref(want);
}

static void
test_malformed_configs(void **state)
{
    static const char key32[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    char t[1024];

    (void)state;
    parse_fails("kind: EncryptionConfiguration\n\tapiVersion: x\n", EDR_E_CONFIG,
                "t.yaml:2: tab in the indentation (YAML indents with spaces)");
    parse_fails("apiVersion: v1\nkind: Secret\n", EDR_E_CONFIG,
                "t.yaml:2: kind: not an EncryptionConfiguration");
    parse_fails("kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v2\n",
                EDR_E_CONFIG, "t.yaml:2: apiVersion: expected apiserver.config.k8s.io/v1");
    parse_fails(HEAD, EDR_E_CONFIG, "t.yaml:1: resources: a non-empty list is required");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n      - aesxyz: {}\n",
                EDR_E_CONFIG,
                "t.yaml:6: resources[0].providers[0]: unknown provider 'aesxyz' (expected "
                "aescbc, aesgcm, secretbox, identity or kms)");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - aescbc:\n          keys:\n            - name: k\n"
                     "              secret: AAECAwQFBgcICQoLDA0ODxAREhM=\n",
                EDR_E_CONFIG,
                "t.yaml:9: resources[0].providers[0].aescbc.keys[0].secret: the secret of key "
                "'k' is 20 bytes; aescbc takes 16, 24 or 32");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - secretbox:\n          keys:\n            - name: k\n"
                     "              secret: AAECAwQFBgcICQoLDA0ODw==\n",
                EDR_E_CONFIG,
                "t.yaml:9: resources[0].providers[0].secretbox.keys[0].secret: the secret of key "
                "'k' is 16 bytes; secretbox takes 32");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - aesgcm:\n          keys:\n            - name: k\n"
                     "              secret: not*base64\n",
                EDR_E_CONFIG,
                "t.yaml:9: resources[0].providers[0].aesgcm.keys[0].secret: the secret of key "
                "'k' is not valid base64");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - aesgcm:\n          keys: []\n",
                EDR_E_CONFIG,
                "t.yaml:7: resources[0].providers[0].aesgcm: aesgcm needs a non-empty list of "
                "keys");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - aesgcm: {}\n        identity: {}\n",
                EDR_E_CONFIG,
                "t.yaml:6: resources[0].providers[0]: a provider names exactly one of aescbc, "
                "aesgcm, secretbox, identity or kms");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - kms:\n          apiVersion: v3\n          name: x\n",
                EDR_E_CONFIG,
                "t.yaml:7: resources[0].providers[0].kms: kms apiVersion must be "
                "v1 or v2");
    parse_fails(HEAD "resources:\n  - resources: [secrets]\n    providers:\n"
                     "      - aesgcm: {keys: [{name: \"a\\0b\", secret: x}]}\n",
                EDR_E_CONFIG,
                "t.yaml:6: resources[0].providers[0].aesgcm.keys[0].name: a key name cannot hold "
                "a NUL character");
    parse_fails(HEAD "kind: again\n", EDR_E_CONFIG, "t.yaml:3: duplicate key 'kind'");
    parse_fails(HEAD "resources:\n  - a\n   - b\n", EDR_E_CONFIG,
                "t.yaml:5: unexpected indentation");
    parse_fails(HEAD "resources:\n  - a\n      b\n", EDR_E_CONFIG,
                "t.yaml:5: multi-line scalars are not supported");
    parse_fails(HEAD "resources: |\n  text\n", EDR_E_CONFIG,
                "t.yaml:3: anchors, aliases, tags and block scalars are not supported");
    parse_fails(HEAD "resources: [a, b\n", EDR_E_CONFIG,
                "t.yaml:3: flow collection not closed on its line");
    parse_fails(HEAD "resources: 'open\n", EDR_E_CONFIG,
                "t.yaml:3: quoted scalar not closed on its line");
    parse_fails(HEAD "---\nx: 1\n", EDR_E_CONFIG,
                "t.yaml:3: a second YAML document ('---'): only one is read");
    parse_fails("# nothing\n\n", EDR_E_CONFIG, "t.yaml: empty document");
    parse_fails("{\"kind\": \"EncryptionConfiguration\", \"apiVersion\": "
                "\"apiserver.config.k8s.io/v1\", \"resources\": [{\"resources\": [\"secrets\"], "
                "\"providers\": [{\"aescbc\": {\"keys\": [{\"name\": \"k\"}]}}]}]}",
                EDR_E_CONFIG,
                "t.yaml: resources[0].providers[0].aescbc.keys[0].secret: key 'k' needs a "
                "non-empty secret");
    parse_fails("\xEF\xBB\xBF\n{\"kind\": \"EncryptionConfiguration\",\n \"kind\": 1}",
                EDR_E_CONFIG, "t.yaml:3: duplicate object key near '\"kind\"'");
    /* a good one with every provider type, the same key name in two groups */
    snprintf(t, sizeof(t),
             HEAD
             "resources:\n- resources: [secrets, configmaps]\n  providers:\n"
             "  - aescbc: {keys: [{name: a, secret: %s}]}\n"
             "  - kms: {name: k1, endpoint: 'unix:///x.sock', cachesize: 100}\n"
             "- resources: ['*.*']\n  providers:\n  - aescbc: {keys: [{name: a, secret: %s}]}\n"
             "  - identity:\n",
             key32, key32);
    struct edr_k8s_keys *k = parse_ok(t);
    assert_int_equal(edr_k8s_keys_count(k), 2);
    assert_int_equal(edr_k8s_keys_kms(k), 1);
    edr_k8s_keys_free(k);
    /* YAML in flow style, starting like JSON */
    k = parse_ok("{apiVersion: apiserver.config.k8s.io/v1, kind: EncryptionConfiguration, "
                 "resources: [{resources: [secrets], providers: [{identity: {}}]}]}");
    assert_int_equal(edr_k8s_keys_count(k), 0);
    edr_k8s_keys_free(k);
}

static void
test_file_mode(void **state)
{
    char path[] = "/tmp/edr-test-enc-XXXXXX", msg[256];
    struct edr_k8s_keys *k = NULL;
    struct edr_err err;
    size_t n;
    uint8_t *text = slurp("enc-config.yaml", &n);
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    free(text);
    assert_int_equal(chmod(path, 0644), 0);
    edr_err_clear(&err);
    assert_int_equal(edr_k8s_keys_load(path, &k, &err), EDR_E_KEY);
    assert_null(k);
    snprintf(msg, sizeof(msg), "encryption configuration '%s' is readable by others (mode 0644)",
             path);
    assert_string_equal(err.msg, msg);
    snprintf(msg, sizeof(msg), "chmod 600 %s", path);
    assert_string_equal(err.hint, msg);
    /* a syntax error names the file and line */
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "kind: x\n  y: z\n", 15), 15);
    close(fd);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(edr_k8s_keys_load(path, &k, &err), EDR_E_CONFIG);
    snprintf(msg, sizeof(msg), "%s:2: unexpected indentation", path);
    assert_string_equal(err.msg, msg);
    unlink(path);
    assert_int_equal(edr_k8s_keys_load(path, &k, &err), EDR_E_KEY);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_real_values_open),    cmocka_unit_test(test_yaml_and_json_same),
        cmocka_unit_test(test_wrong_key),           cmocka_unit_test(test_no_key_and_kms),
        cmocka_unit_test(test_aad_is_the_etcd_key), cmocka_unit_test(test_damaged_values),
        cmocka_unit_test(test_yaml_reader),         cmocka_unit_test(test_malformed_configs),
        cmocka_unit_test(test_file_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
