/*
 * The receiving side of etcd's Snapshot stream, independent of the network:
 * fed one decoded gRPC message at a time, it learns the database size from
 * the first message, passes blobs to the sink as they come (no buffering),
 * hashes them, and checks the extra final message (the SHA-256 of the data,
 * doc/etcd-internals.md §1.4).
 *
 * Errors: EDR_E_INTEGRITY for size and checksum problems, EDR_E_ETCD for
 * malformed messages, the sink's own code for sink failures; messages are
 * prefixed "etcd '<url>': Snapshot: ".
 */
#ifndef EDR_ETCD_SNAPSHOT_H
#define EDR_ETCD_SNAPSHOT_H

#include <stdint.h>

#include "common/hash.h"
#include "etcd/client.h"

struct edr_etcd_snap_rx {
    const char *url; /* for messages; not owned */
    struct edr_etcd_snapshot_sink *sink;
    struct edr_stream *out;
    struct edr_sha256 sha;
    int sha_ok;
    int begun;
    int have_sum;
    uint64_t total, got;
    uint8_t digest[EDR_SHA256_LEN];
};

edr_rc edr_etcd_snap_rx_init(struct edr_etcd_snap_rx *rx, const char *url,
                             struct edr_etcd_snapshot_sink *sink, struct edr_err *err);
void edr_etcd_snap_rx_release(struct edr_etcd_snap_rx *rx);

/* One SnapshotResponse message (an edr_grpc_msg_fn; ud is the rx). */
edr_rc edr_etcd_snap_rx_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err);

/* The stream ended with grpc-status 0: check it was complete and fill res. */
edr_rc edr_etcd_snap_rx_end(struct edr_etcd_snap_rx *rx, struct edr_etcd_snapshot_result *res,
                            struct edr_err *err);

#endif
