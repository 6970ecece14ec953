/*
 * libFuzzer target for Gardener delta snapshots (src/import/gardener.c): the
 * first byte picks the compression (plain, gzip, LZW, zlib), the rest is the
 * object. Decompressed, it is parsed as a delta: any input is converted or
 * refused with an integrity error and a message; what is converted reads
 * back as change records in revision order, as many as the parser counted,
 * within the revisions it reported. To reach the parser past the hash, the
 * target also parses the data with its own SHA-256 appended.
 * Also built as a corpus replay for `make check` (tests/fuzz/replay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "common/hash.h"
#include "import/gardener.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    uint64_t n;
    int64_t rev;
};

static edr_rc
on_record(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct seen *s = ud;
    (void)err;
    if (r->type == EDR_SEG_LEASE || r->rev < s->rev)
        abort();
    s->rev = r->rev;
    s->n++;
    return EDR_OK;
}

static void
parse(const uint8_t *p, size_t n)
{
    struct edr_gardener_delta d;
    struct edr_err err;
    struct edr_stream *ps = NULL;
    struct seen s = {0, 0};
    edr_rc rc;

    edr_err_clear(&err);
    rc = edr_gardener_delta_parse(p, n, "f", &d, &err);
    if (rc != EDR_OK) {
        if ((rc != EDR_E_INTEGRITY && rc != EDR_E_INTERNAL) || err.msg[0] == '\0')
            abort();
    } else {
        if (d.events == 0 || d.first_rev > d.last_rev || d.first_rev <= 0)
            abort();
        if (edr_seg_parser_new(on_record, &s, "f", &ps, &err) != EDR_OK ||
            edr_stream_write(ps, d.records.data, d.records.len, &err) != EDR_OK ||
            edr_stream_finish(ps, &err) != EDR_OK || s.n != d.events || s.rev != d.last_rev)
            abort();
        edr_stream_free(ps);
    }
    edr_gardener_delta_release(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct edr_buf out = {0};
    struct edr_err err;
    uint8_t *withsha;

    if (size < 1)
        return 0;
    edr_err_clear(&err);
    if (edr_gardener_decompress((enum edr_gardener_comp)(data[0] & 3), data + 1, size - 1, &out,
                                "f", &err) != EDR_OK) {
        if (err.msg[0] == '\0')
            abort();
        edr_buf_release(&out);
        return 0;
    }
    parse(out.data, out.len);
    withsha = malloc(out.len + 32);
    if (withsha != NULL) {
        if (out.len > 0)
            memcpy(withsha, out.data, out.len);
        edr_sha256_buf(out.data, out.len, withsha + out.len);
        parse(withsha, out.len + 32);
        free(withsha);
    }
    edr_buf_release(&out);
    return 0;
}
