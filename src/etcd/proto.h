/*
 * A small protobuf (proto3 wire format) codec for the handful of etcd
 * messages etcd-dr exchanges: Snapshot, Status, MemberList and Authenticate
 * requests and responses (field numbers in doc/etcd-internals.md §1.3). Decoders
 * are bounds checked, skip unknown fields of every wire type (groups
 * included), and never read past `end`. Field numbers we know but whose wire
 * type differs from the schema are rejected as malformed.
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
#include "etcd/client.h"

#define EDR_PB_VARINT_MAX 10

enum edr_pb_wire {
    EDR_PB_VARINT = 0,
    EDR_PB_FIXED64 = 1,
    EDR_PB_LEN = 2,
    EDR_PB_SGROUP = 3,
    EDR_PB_EGROUP = 4,
    EDR_PB_FIXED32 = 5,
};

/* One decoded field. For VARINT/FIXED64/FIXED32 the value is in `u`; for LEN
 * `data`/`len` point into the input; for a group `data`/`len` span its body. */
struct edr_pb_field {
    uint32_t num;
    enum edr_pb_wire wire;
    uint64_t u;
    const uint8_t *data;
    size_t len;
};

/* Encode v as a varint into buf (at least EDR_PB_VARINT_MAX bytes); returns
 * the number of bytes written (1..10). */
size_t edr_pb_put_varint(uint8_t *buf, uint64_t v);

/* Decode a varint at *p (not past end) and advance *p. Errors: "truncated
 * varint" when the input ends inside it, "overlong varint" when it needs more
 * than 10 bytes or overflows 64 bits. */
edr_rc edr_pb_get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v, struct edr_err *err);

/* Read the next field at *p and advance past it (groups are skipped whole).
 * Errors: truncated input, field number 0, wire types 6/7, a stray end-group,
 * mismatched or too deeply nested (> 32) groups. */
edr_rc edr_pb_next(const uint8_t **p, const uint8_t *end, struct edr_pb_field *f,
                   struct edr_err *err);

/* Append-only encoder into a caller buffer. When the buffer is too small (or
 * NULL, to size a message) `len` still counts every byte and `overflow` is set. */
struct edr_pb_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int overflow;
};

void edr_pb_writer_init(struct edr_pb_writer *w, uint8_t *buf, size_t cap);
void edr_pb_put_uint(struct edr_pb_writer *w, uint32_t field, uint64_t v); /* omits 0 */
void edr_pb_put_bytes(struct edr_pb_writer *w, uint32_t field, const void *data, size_t len);
void edr_pb_put_string(struct edr_pb_writer *w, uint32_t field, const char *s); /* omits "" */

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
