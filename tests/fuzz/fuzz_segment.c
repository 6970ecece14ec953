/*
 * libFuzzer target for what change capture and point-in-time restore parse:
 * the first byte picks the parser, the rest is its input.
 *   0: change records (changes.bin), fed in pieces whose sizes come from
 *      the input: any input parses or fails with an integrity error and a
 *      message; records come in order and within bounds.
 *   1: a segment manifest: refused with an integrity error, or it writes
 *      back and parses again to the same fields.
 *   2: a WatchResponse from etcd: refused with an etcd error, or decoded
 *      with every event's KeyValue inside the message.
 * Also built as a corpus replay for `make check` (tests/fuzz/replay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "etcd/watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct last {
    int64_t rev;
    const uint8_t *lo, *hi;
};

static edr_rc
on_record(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct last *l = ud;

    (void)err;
    if (r->rev <= 0 || (r->type != EDR_SEG_LEASE && r->rev < l->rev))
        abort();
    if (r->type != EDR_SEG_LEASE) {
        l->rev = r->rev;
        if (r->kv_len > EDR_SEG_RECORD_MAX || (r->kv_len > 0 && r->kv == NULL))
            abort();
    }
    return EDR_OK;
}

static void
records(const uint8_t *data, size_t size)
{
    struct last l = {0, NULL, NULL};
    struct edr_stream *p = NULL;
    struct edr_err err;
    size_t off = 0, step = 1;
    edr_rc rc = EDR_OK;

    if (edr_seg_parser_new(on_record, &l, "fuzz", &p, &err) != EDR_OK)
        abort();
    while (rc == EDR_OK && off < size) {
        size_t n = step < size - off ? step : size - off;
        rc = edr_stream_write(p, data + off, n, &err);
        off += n;
        step = (step * 7 + data[off - 1]) % 64 + 1;
    }
    if (rc == EDR_OK)
        rc = edr_stream_finish(p, &err);
    if (rc != EDR_OK && (rc != EDR_E_INTEGRITY || err.msg[0] == '\0'))
        abort();
    edr_stream_free(p);
}

static void
manifest(const uint8_t *data, size_t size)
{
    struct edr_segment s, t;
    struct edr_err err;
    char *json = NULL;

    if (edr_segment_from_json((const char *)data, size, "fuzz", &s, &err) != EDR_OK) {
        if (err.code != EDR_E_INTEGRITY || err.msg[0] == '\0')
            abort();
        return;
    }
    if (edr_segment_to_json(&s, &json, &err) != EDR_OK ||
        edr_segment_from_json(json, strlen(json), "fuzz", &t, &err) != EDR_OK ||
        memcmp(&s, &t, sizeof(s)) != 0)
        abort();
    free(json);
}

static void
watch(const uint8_t *data, size_t size)
{
    struct edr_watch_resp r;
    struct edr_err err;

    if (edr_watch_decode(size ? data : NULL, size, &r, &err) != EDR_OK) {
        if (err.code != EDR_E_ETCD || err.msg[0] == '\0')
            abort();
        return;
    }
    for (size_t i = 0; i < r.nevents; i++)
        if (r.events[i].kv < data || r.events[i].kv + r.events[i].kv_len > data + size)
            abort();
    edr_watch_resp_release(&r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        records(data + 1, size - 1);
        break;
    case 1:
        manifest(data + 1, size - 1);
        break;
    default:
        watch(data + 1, size - 1);
        break;
    }
    return 0;
}
