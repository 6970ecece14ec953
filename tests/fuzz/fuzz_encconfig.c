/*
 * libFuzzer target for the EncryptionConfiguration reader and the opening
 * of encrypted values (src/k8s/encryption.c, src/k8s/yaml.c). An input that
 * starts with "k8s:enc:" is a stored value, opened with the keys of the
 * fixtures' configuration (tests/unit/k8s/enc-config.yaml) under the etcd
 * key the aesgcm fixture was stored at; any other input is a configuration
 * (YAML or JSON), read, and when it reads, used to open one value of each
 * provider. Invariants: a failed read says why and returns no keys; a value
 * opens to something only when it says "opened", and says why otherwise.
 * Also built as a corpus replay for `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "k8s/encryption.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fixture_config[] =
    "apiVersion: apiserver.config.k8s.io/v1\n"
    "kind: EncryptionConfiguration\n"
    "resources:\n"
    "  - resources: [secrets]\n"
    "    providers:\n"
    "      - aescbc: {keys: [{name: key1, secret: kLTtjTNcUqE7TNbw8DVU7BM6fy+1lFM7YhgMmRhyv1U=}]}\n"
    "      - aesgcm: {keys: [{name: key1, secret: ik11ORPJY5pnNTVi+Z1dx/yrnMXkRRvP2JhuTIhYclA=}]}\n"
    "      - secretbox: {keys: [{name: key1, secret: "
    "msRJxdUgETNCqyTeEbaKT2NP0N54UAjOpaGPtkwVL7c=}]}\n"
    "  - resources: [configmaps]\n"
    "    providers:\n"
    "      - aescbc: {keys: [{name: key1, secret: qjsBPaqXNNNxhGgD/88k3g==}]}\n"
    "      - aesgcm: {keys: [{name: key1, secret: Kg7zFhH3hwkP6J757FhaWON+Z+pqTrqC}]}\n"
    "      - secretbox: {keys: [{name: key1, secret: "
    "aEvaCdQ/VtrPpVcIKbbcyiFSm7OMPG+ms2rhFSCD5aQ=}]}\n";

static const char etcd_key[] = "/registry/secrets/default/s-aesgcm";

static void
check_unseal(const struct edr_k8s_keys *k, const uint8_t *v, size_t n)
{
    struct edr_buf out = {0};
    char why[256];
    enum edr_k8s_unseal r;
    int prefixed = n >= 8 && memcmp(v, "k8s:enc:", 8) == 0;

    r = edr_k8s_unseal(k, (const uint8_t *)etcd_key, sizeof(etcd_key) - 1, v, n, &out, why,
                       sizeof(why));
    if (r != EDR_K8S_PLAIN && r != EDR_K8S_OPENED && r != EDR_K8S_NO_KEY && r != EDR_K8S_BAD &&
        r != EDR_K8S_KMS)
        abort();
    if ((r == EDR_K8S_PLAIN) == prefixed)
        abort();
    if (r != EDR_K8S_OPENED && out.len != 0)
        abort();
    if ((r == EDR_K8S_PLAIN || r == EDR_K8S_OPENED) != (why[0] == '\0'))
        abort();
    if (strlen(why) >= sizeof(why) || strcmp(edr_k8s_unseal_name(r), "unknown") == 0)
        abort();
    edr_buf_release(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const probes[] = {
        "k8s:enc:aescbc:v1:key1:0123456789abcdef0123456789abcdef",
        "k8s:enc:aesgcm:v1:key1:0123456789abcdef0123456789abcdef",
        "k8s:enc:secretbox:v1:key1:0123456789abcdef0123456789abcdef0123456789",
        "k8s:enc:kms:v2:x:abc",
    };
    struct edr_k8s_keys *k = (struct edr_k8s_keys *)&size;
    struct edr_err err;
    edr_rc rc;

    edr_err_clear(&err);
    if (size >= 8 && memcmp(data, "k8s:enc:", 8) == 0) {
        static struct edr_k8s_keys *fixed;
        if (fixed == NULL && edr_k8s_keys_parse(fixture_config, sizeof(fixture_config) - 1,
                                                "fixture", &fixed, &err) != EDR_OK)
            abort();
        check_unseal(fixed, data, size);
        check_unseal(NULL, data, size);
        return 0;
    }
    rc = edr_k8s_keys_parse(size ? (const char *)data : "", size, "fuzz", &k, &err);
    if (rc != EDR_OK) {
        if (k != NULL || err.msg[0] == '\0' || (rc != EDR_E_CONFIG && rc != EDR_E_INTERNAL))
            abort();
        return 0;
    }
    if (k == NULL || err.msg[0] != '\0')
        abort();
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
        check_unseal(k, (const uint8_t *)probes[i], strlen(probes[i]));
    edr_k8s_keys_free(k);
    return 0;
}
