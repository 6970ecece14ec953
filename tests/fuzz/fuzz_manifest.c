/*
 * libFuzzer target for the manifest parser: any input either fails with an
 * integrity error and a message, or parses into a manifest that serializes
 * and parses back to the same fields. Also built as a corpus replay for
 * `make check` (tests/fuzz/replay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repo/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edr_manifest m, m2;
    struct edr_err err;
    char *json = NULL;

    edr_err_clear(&err);
    if (edr_manifest_from_json((const char *)data, size, "fuzz", &m, &err) != EDR_OK) {
        if (err.code != EDR_E_INTEGRITY || err.msg[0] == '\0')
            abort();
        return 0;
    }
    if (edr_manifest_to_json(&m, &json, &err) != EDR_OK)
        abort();
    if (edr_manifest_from_json(json, strlen(json), "fuzz", &m2, &err) != EDR_OK)
        abort();
    if (strcmp(m.id, m2.id) != 0 || m.revision != m2.revision || m.db_size != m2.db_size ||
        m.stored_size != m2.stored_size || strcmp(m.stored_sha256, m2.stored_sha256) != 0 ||
        m.nrecipients != m2.nrecipients || m.cluster_id != m2.cluster_id)
        abort();
    free(json);
    return 0;
}
