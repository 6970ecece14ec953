/*
 * gRPC-over-HTTP/2 pieces that do not need a network: the decoder of
 * Length-Prefixed-Messages (1 flag byte, 4-byte big-endian length, body) fed
 * with arbitrary chunks, the parser of response header and trailer lines
 * (:status, content-type, grpc-status, percent-encoded grpc-message), and the
 * mapping of gRPC status codes to etcd-dr error codes.
 */
#ifndef EDR_ETCD_GRPC_H
#define EDR_ETCD_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define EDR_GRPC_MSG_MAX (4u * 1024 * 1024)
#define EDR_GRPC_PREFIX 5

/* Called once per complete message. `msg` points either into the chunk given
 * to edr_grpc_dec_feed (a message that arrived whole) or into the decoder's
 * buffer; it is valid only during the call. A non-OK return stops feeding. */
typedef edr_rc (*edr_grpc_msg_fn)(void *ud, const uint8_t *msg, size_t len, struct edr_err *err);

struct edr_grpc_dec {
    edr_grpc_msg_fn on_msg;
    void *ud;
    size_t max_msg;
    uint8_t hdr[EDR_GRPC_PREFIX];
    size_t hdr_have; /* bytes of the prefix seen (0..5) */
    size_t need;     /* body length of the current message, valid when hdr_have == 5 */
    size_t have;     /* body bytes buffered */
    uint8_t *buf;
    size_t cap;
    uint64_t nmsgs; /* messages delivered */
};

/* Write the 5-byte prefix of an uncompressed message of len bytes. */
void edr_grpc_frame_prefix(uint8_t out[EDR_GRPC_PREFIX], size_t len);

/* max_msg 0 means EDR_GRPC_MSG_MAX. The buffer grows to the largest message
 * that arrived split, never beyond max_msg. */
void edr_grpc_dec_init(struct edr_grpc_dec *d, size_t max_msg, edr_grpc_msg_fn on_msg, void *ud);
void edr_grpc_dec_release(struct edr_grpc_dec *d);

/* Errors: EDR_E_ETCD "compressed grpc message (flag 1) not supported",
 * "grpc message of N bytes exceeds the M-byte limit"; or the callback's. */
edr_rc edr_grpc_dec_feed(struct edr_grpc_dec *d, const uint8_t *data, size_t len,
                         struct edr_err *err);

/* End of stream: EDR_E_ETCD "response ended inside a grpc message (got X of Y
 * bytes)" when a message is incomplete. */
edr_rc edr_grpc_dec_finish(const struct edr_grpc_dec *d, struct edr_err *err);

/* What the response header and trailer lines said. */
struct edr_grpc_status {
    int http_status;   /* from "HTTP/2 200", 0 if not seen */
    int is_grpc;       /* content-type application/grpc[+...] seen */
    int have_status;   /* grpc-status seen (headers or trailers) */
    int status;        /* grpc-status value */
    char message[512]; /* grpc-message, percent-decoded, control bytes replaced */
};

void edr_grpc_status_init(struct edr_grpc_status *s);

/* Feed one header line as libcurl hands it over ("name: value\r\n", the
 * status line, or the empty separator line). Unknown headers are ignored. */
void edr_grpc_status_line(struct edr_grpc_status *s, const char *line, size_t len);

/* Percent-decode (the grpc-message encoding) `in` into out (NUL-terminated,
 * truncated to outsz-1); malformed escapes are kept literally; bytes below
 * 0x20 and 0x7f become '?'. */
void edr_grpc_percent_decode(const char *in, size_t len, char *out, size_t outsz);

/* "OK", "InvalidArgument", ... ("code 42" style names are not returned:
 * unknown codes give "Unknown"). */
const char *edr_grpc_code_name(int code);

/* EDR_E_ETCD_AUTH for Unauthenticated (16), PermissionDenied (7) and etcd's
 * auth failures reported with other codes, recognised by their message after
 * an "etcdserver: " or "auth: " prefix (user name empty or not found,
 * authentication failed, invalid auth token, permission denied, role not
 * granted); else EDR_E_ETCD. */
edr_rc edr_grpc_status_rc(int code, const char *message);

#endif
