/*
 * Watch and lease messages (see watch.h).
 */
#include "etcd/watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

static edr_rc
malformed(struct edr_err *err, const char *what, const char *why)
{
    return edr_err_set(err, EDR_E_ETCD, "malformed %s: %s", what, why);
}

size_t
edr_watch_create_request(int64_t start_revision, uint8_t *buf, size_t cap)
{
    static const uint8_t nul[1] = {0};
    uint8_t inner[64];
    struct edr_pb_writer cw, w;

    /* key "\0" with range_end "\0": every key */
    edr_pb_writer_init(&cw, inner, sizeof(inner));
    edr_pb_put_bytes(&cw, 1, nul, 1);
    edr_pb_put_bytes(&cw, 2, nul, 1);
    edr_pb_put_uint(&cw, 3, (uint64_t)start_revision);
    edr_pb_put_uint(&cw, 4, 1); /* progress_notify */
    edr_pb_put_uint(&cw, 8, 1); /* fragment */
    edr_pb_writer_init(&w, buf, cap);
    edr_pb_put_bytes(&w, 1, inner, cw.len); /* create_request */
    return w.len;
}

static edr_rc
decode_event(const uint8_t *buf, size_t len, struct edr_watch_event *ev, struct edr_err *err)
{
    const uint8_t *p = buf, *end = buf == NULL ? buf : buf + len;
    struct edr_pb_field f;
    edr_rc rc;

    memset(ev, 0, sizeof(*ev));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return edr_err_prefix(err, "malformed Event");
        if (f.num == 1) {
            if (f.wire != EDR_PB_VARINT || f.u > 1)
                return malformed(err, "Event", "bad event type");
            ev->type = (enum edr_watch_event_type)f.u;
        } else if (f.num == 2) {
            if (f.wire != EDR_PB_LEN)
                return malformed(err, "Event", "kv is not a message");
            ev->kv = f.data;
            ev->kv_len = f.len;
        }
    }
    if (ev->kv == NULL)
        return malformed(err, "Event", "no kv");
    return EDR_OK;
}

edr_rc
edr_watch_decode(const uint8_t *msg, size_t len, struct edr_watch_resp *r, struct edr_err *err)
{
    const uint8_t *p = msg, *end = msg == NULL ? msg : msg + len;
    struct edr_pb_field f;
    size_t cap = 0;
    edr_rc rc = EDR_OK;

    memset(r, 0, sizeof(*r));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK) {
            edr_err_prefix(err, "malformed WatchResponse");
            goto fail;
        }
        if ((f.num == 1 || f.num == 6 || f.num == 11) && f.wire != EDR_PB_LEN) {
            rc = malformed(err, "WatchResponse", "a message field has the wrong type");
            goto fail;
        }
        if (f.num >= 2 && f.num <= 5 && f.wire != EDR_PB_VARINT) {
            rc = malformed(err, "WatchResponse", "a number field has the wrong type");
            goto fail;
        }
        switch (f.num) {
        case 1:
            if ((rc = edr_pb_decode_header(f.data, f.len, &r->header, err)) != EDR_OK)
                goto fail;
            break;
        case 2:
            r->watch_id = (int64_t)f.u;
            break;
        case 3:
            r->created = f.u != 0;
            break;
        case 4:
            r->canceled = f.u != 0;
            break;
        case 5:
            r->compact_revision = (int64_t)f.u;
            break;
        case 6:
            edr_copy_text(r->cancel_reason, sizeof(r->cancel_reason), f.data, f.len);
            break;
        case 7:
            if (f.wire != EDR_PB_VARINT) {
                rc = malformed(err, "WatchResponse", "fragment has the wrong type");
                goto fail;
            }
            r->fragment = f.u != 0;
            break;
        case 11:
            if (r->nevents == cap) {
                size_t nc = cap ? cap * 2 : 16;
                struct edr_watch_event *ne = realloc(r->events, nc * sizeof(*ne));
                if (ne == NULL) {
                    rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                    goto fail;
                }
                r->events = ne;
                cap = nc;
            }
            if ((rc = decode_event(f.data, f.len, &r->events[r->nevents], err)) != EDR_OK)
                goto fail;
            r->nevents++;
            break;
        default:
            break;
        }
    }
    return EDR_OK;
fail:
    edr_watch_resp_release(r);
    return rc;
}

void
edr_watch_resp_release(struct edr_watch_resp *r)
{
    free(r->events);
    r->events = NULL;
    r->nevents = 0;
}
