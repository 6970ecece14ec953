/*
 * The protobuf wire format (proto3), written once for every message etcd-dr
 * reads or writes: etcd's gRPC requests and responses (etcd/proto.c), the
 * mvccpb.KeyValue of the `key` bucket (mvcc/kvpb.c), the raft records of
 * the WAL and snap files a restore writes (restore/).
 *
 * Decoding is bounds checked and never reads past `end`; LEN fields point
 * into the input (no copy). Errors are EDR_E_ETCD, since most messages come
 * from etcd, with a message such as "truncated varint"; edr_pb_next_as lets
 * a reader of stored data choose the code. Only the appends to a growable
 * buffer (edr_pb_buf_*) allocate.
 */
#ifndef EDR_COMMON_PB_H
#define EDR_COMMON_PB_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

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
 * Errors: truncated input, field number 0 or above 2^29-1, wire types 6/7, a
 * stray end-group, mismatched or too deeply nested (> 32) groups. */
edr_rc edr_pb_next(const uint8_t **p, const uint8_t *end, struct edr_pb_field *f,
                   struct edr_err *err);
/* As edr_pb_next, failing with `code` instead of EDR_E_ETCD (EDR_E_INTEGRITY
 * for a message read from a file). */
edr_rc edr_pb_next_as(const uint8_t **p, const uint8_t *end, struct edr_pb_field *f, edr_rc code,
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

/* Append to a growable buffer, for messages built in memory (the raft
 * records of a restore). A zero is written, not omitted: gogoproto's
 * non-nullable fields, which raft's messages use, are always on the wire.
 * Return as edr_buf_add (0, or -1 once memory ran out). */
int edr_pb_buf_varint(struct edr_buf *b, uint64_t v);
int edr_pb_buf_uint(struct edr_buf *b, uint32_t field, uint64_t v);
int edr_pb_buf_bytes(struct edr_buf *b, uint32_t field, const void *data, size_t len);

#endif
