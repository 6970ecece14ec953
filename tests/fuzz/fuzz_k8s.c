/*
 * libFuzzer target for the Kubernetes object decoder (src/k8s/object.c):
 * any value decodes to a format, with NUL-terminated fields and, when it is
 * "unknown", a reason. Also built as a corpus replay for `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    return 0;
}
