/*
 * etcd's Watch messages for change capture: the WatchRequest that opens one
 * watch over the whole keyspace and the decoder of WatchResponse messages
 * (the call itself is edr_etcd_stream_call). Field numbers:
 * doc/etcd-internals.md §1.3.
 *
 * Errors: EDR_E_ETCD "malformed WatchResponse: ..." for bytes that are not
 * one; calls fail as the client's do.
 */
#ifndef EDR_ETCD_WATCH_H
#define EDR_ETCD_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "etcd/proto.h"

enum edr_watch_event_type { EDR_WATCH_PUT = 0, EDR_WATCH_DELETE = 1 };

/* One event: the KeyValue as etcd sent it (kv points into the message). */
struct edr_watch_event {
    enum edr_watch_event_type type;
    const uint8_t *kv;
    size_t kv_len;
};

struct edr_watch_resp {
    struct edr_pb_header header;
    int64_t watch_id;
    int created, canceled, fragment;
    int64_t compact_revision;
    char cancel_reason[256];
    struct edr_watch_event *events; /* malloc'ed; edr_watch_resp_release */
    size_t nevents;
};

/* The WatchRequest creating a watch of every key from start_revision, with
 * progress notifications and fragmented large revisions (3.4+), without
 * previous values. Writes at most cap bytes; returns the message length. */
size_t edr_watch_create_request(int64_t start_revision, uint8_t *buf, size_t cap);

edr_rc edr_watch_decode(const uint8_t *msg, size_t len, struct edr_watch_resp *r,
                        struct edr_err *err);
void edr_watch_resp_release(struct edr_watch_resp *r);

#endif
