/*
 * The etcd messages etcd-dr exchanges, on the protobuf codec of common/pb.h:
 * Snapshot, Status, MemberList and Authenticate requests and responses
 * (field numbers in doc/etcd-internals.md §1.3). Decoders are bounds checked,
 * skip unknown fields of every wire type (groups included), and never read
 * past `end`. Field numbers we know but whose wire type differs from the
 * schema are rejected as malformed.
 *
 * Errors: decoders return EDR_E_ETCD with a message such as
 * "malformed StatusResponse: truncated varint"; nothing is allocated except
 * by edr_pb_decode_member_list, whose array the caller frees with free().
 */
#ifndef EDR_ETCD_PROTO_H
#define EDR_ETCD_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/pb.h"
#include "etcd/client.h"

/* ResponseHeader (field 1 of every response). */
struct edr_pb_header {
    uint64_t cluster_id;
    uint64_t member_id;
    int64_t revision;
    uint64_t raft_term;
};

/* SnapshotResponse; `blob` points into the decoded message (no copy). */
struct edr_pb_snapshot_resp {
    int has_header;
    struct edr_pb_header header;
    uint64_t remaining_bytes;
    const uint8_t *blob;
    size_t blob_len;
};

/* AuthenticateResponse; `token` points into the decoded message and is not
 * NUL-terminated. */
struct edr_pb_auth_resp {
    struct edr_pb_header header;
    const uint8_t *token;
    size_t token_len;
};

edr_rc edr_pb_decode_header(const uint8_t *buf, size_t len, struct edr_pb_header *h,
                            struct edr_err *err);
edr_rc edr_pb_decode_snapshot_resp(const uint8_t *buf, size_t len, struct edr_pb_snapshot_resp *r,
                                   struct edr_err *err);
edr_rc edr_pb_decode_auth_resp(const uint8_t *buf, size_t len, struct edr_pb_auth_resp *r,
                               struct edr_err *err);

/* StatusResponse into the protocol fields of *st (version, ids from the
 * header, indexes, sizes, is_learner; `errors` joined with "; " into
 * alarms_and_errors). endpoint/ok/error are left untouched. Strings longer
 * than their field are truncated. */
edr_rc edr_pb_decode_status_resp(const uint8_t *buf, size_t len, struct edr_etcd_status *st,
                                 struct edr_err *err);

/* MemberListResponse into a malloc'ed array (free() it); repeated URLs are
 * joined with ",". *members is NULL when n is 0. */
edr_rc edr_pb_decode_member_list(const uint8_t *buf, size_t len, struct edr_etcd_member **members,
                                 size_t *n, struct edr_err *err);

/* Requests. AuthenticateRequest{name=1, password=2}; returns the encoded size
 * (call with buf NULL / cap 0 to size it). Snapshot, Status and MemberList
 * requests (3.4) are empty messages. */
size_t edr_pb_encode_auth_req(uint8_t *buf, size_t cap, const char *name, const char *password);

#endif
