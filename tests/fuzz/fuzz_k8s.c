/*
 * libFuzzer target for the Kubernetes object decoder (src/k8s/object.c):
 * any value decodes to a format, with NUL-terminated fields and, when it is
 * "unknown", a reason; the JSON view of it (get --k8s) is a JSON object or
 * an integrity error with a message; the key split of the same bytes stays
 * inside them. Also built as a corpus replay for `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s/key.h"
#include "k8s/object.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edr_k8s_object o;

    edr_k8s_decode(size ? data : NULL, size, &o);
    if (o.format == EDR_K8S_UNKNOWN && o.error[0] == '\0')
        abort();
    if (strlen(o.name) >= sizeof(o.name) || strlen(o.kind) >= sizeof(o.kind) ||
        strlen(o.enc_key) >= sizeof(o.enc_key) || strlen(o.error) >= sizeof(o.error))
        abort();
    {
        struct edr_err err;
        json_t *j = NULL;
        edr_rc rc;
        memset(&err, 0, sizeof(err));
        rc = edr_k8s_object_json(size ? data : NULL, size, 42, (struct json_t **)&j, &err);
        if (rc == EDR_OK ? !json_is_object(j) : (j != NULL || err.msg[0] == '\0'))
            abort();
        if (rc == EDR_OK) {
            char *s = json_dumps(j, JSON_COMPACT);
            if (s == NULL)
                abort();
            free(s);
        }
        json_decref(j);
    }
    {
        struct edr_k8s_key k;
        if (edr_k8s_key_split(data, size, &k) &&
            (k.resource < data || k.resource + k.resource_len > data + size ||
             k.name + k.name_len != data + size || (k.ns != NULL && k.ns + k.ns_len > k.name)))
            abort();
    }
    return 0;
}
