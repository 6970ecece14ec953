/*
 * gRPC message framing and status handling, independent of libcurl so that
 * every chunking of a response can be tested. The decoder hands a message
 * that arrived whole in one chunk straight to the callback (no copy: the
 * common case for 32 KiB snapshot blobs with a large curl buffer) and
 * buffers only a message split across chunks.
 */
#include "etcd/grpc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"

void
edr_grpc_dec_init(struct edr_grpc_dec *d, size_t max_msg, edr_grpc_msg_fn on_msg, void *ud)
{
    memset(d, 0, sizeof(*d));
    d->on_msg = on_msg;
    d->ud = ud;
    d->max_msg = max_msg != 0 ? max_msg : EDR_GRPC_MSG_MAX;
}

void
edr_grpc_dec_release(struct edr_grpc_dec *d)
{
    if (d == NULL)
        return;
    free(d->buf);
    d->buf = NULL;
    d->cap = 0;
}

void
edr_grpc_frame_prefix(uint8_t out[EDR_GRPC_PREFIX], size_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

/* Check a 5-byte prefix; returns the body length in *mlen. */
static edr_rc
parse_prefix(const struct edr_grpc_dec *d, const uint8_t *h, size_t *mlen, struct edr_err *err)
{
    uint32_t n = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];

    if (h[0] != 0)
        return edr_err_set(err, EDR_E_ETCD, "compressed grpc message (flag %u) not supported",
                           h[0]);
    if (n > d->max_msg)
        return edr_err_set(err, EDR_E_ETCD, "grpc message of %u bytes exceeds the %zu-byte limit",
                           n, d->max_msg);
    *mlen = n;
    return EDR_OK;
}

static edr_rc
deliver(struct edr_grpc_dec *d, const uint8_t *msg, size_t len, struct edr_err *err)
{
    d->nmsgs++;
    d->hdr_have = 0;
    d->have = 0;
    d->need = 0;
    return d->on_msg(d->ud, msg, len, err);
}

edr_rc
edr_grpc_dec_feed(struct edr_grpc_dec *d, const uint8_t *data, size_t len, struct edr_err *err)
{
    edr_rc rc;

    while (len > 0) {
        if (d->hdr_have == 0 && len >= EDR_GRPC_PREFIX) {
            size_t mlen;
            if ((rc = parse_prefix(d, data, &mlen, err)) != EDR_OK)
                return rc;
            if (len - EDR_GRPC_PREFIX >= mlen) {
                /* whole message in this chunk: no copy */
                if ((rc = deliver(d, data + EDR_GRPC_PREFIX, mlen, err)) != EDR_OK)
                    return rc;
                data += EDR_GRPC_PREFIX + mlen;
                len -= EDR_GRPC_PREFIX + mlen;
                continue;
            }
        }
        if (d->hdr_have < EDR_GRPC_PREFIX) {
            size_t take = EDR_GRPC_PREFIX - d->hdr_have;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_have, data, take);
            d->hdr_have += take;
            data += take;
            len -= take;
            if (d->hdr_have < EDR_GRPC_PREFIX)
                break;
            if ((rc = parse_prefix(d, d->hdr, &d->need, err)) != EDR_OK)
                return rc;
            d->have = 0;
            if (d->need == 0) {
                /* d->buf is NULL until a split message arrived: hand over a
                 * pointer to our own memory, never NULL */
                if ((rc = deliver(d, d->buf != NULL ? d->buf : d->hdr, 0, err)) != EDR_OK)
                    return rc;
                continue;
            }
            if (d->cap < d->need) {
                uint8_t *nb = realloc(d->buf, d->need);
                if (nb == NULL)
                    return edr_err_set(err, EDR_E_INTERNAL,
                                       "out of memory for a %zu-byte grpc message", d->need);
                d->buf = nb;
                d->cap = d->need;
            }
            continue;
        }
        {
            size_t take = d->need - d->have;
            if (take > len)
                take = len;
            memcpy(d->buf + d->have, data, take);
            d->have += take;
            data += take;
            len -= take;
            if (d->have == d->need && (rc = deliver(d, d->buf, d->need, err)) != EDR_OK)
                return rc;
        }
    }
    return EDR_OK;
}

edr_rc
edr_grpc_dec_finish(const struct edr_grpc_dec *d, struct edr_err *err)
{
    if (d->hdr_have == 0)
        return EDR_OK;
    if (d->hdr_have < EDR_GRPC_PREFIX)
        return edr_err_set(err, EDR_E_ETCD,
                           "response ended inside a grpc message prefix (%zu of 5 bytes)",
                           d->hdr_have);
    return edr_err_set(err, EDR_E_ETCD,
                       "response ended inside a grpc message (got %zu of %zu bytes)", d->have,
                       d->need);
}

/* -- headers and trailers ---------------------------------------------------- */

void
edr_grpc_status_init(struct edr_grpc_status *s)
{
    memset(s, 0, sizeof(*s));
}

void
edr_grpc_percent_decode(const char *in, size_t len, char *out, size_t outsz)
{
    size_t o = 0;

    if (outsz == 0)
        return;
    for (size_t i = 0; i < len && o + 1 < outsz; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '%' && i + 2 < len && edr_hexval(in[i + 1]) >= 0 && edr_hexval(in[i + 2]) >= 0) {
            c = (unsigned char)(edr_hexval(in[i + 1]) << 4 | edr_hexval(in[i + 2]));
            i += 2;
        }
        out[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    out[o] = '\0';
}

/* Does the line start with header `name` followed by ':'? Points val and vlen at
 * the value without surrounding blanks or the line end. */
static int
header_is(const char *line, size_t len, const char *name, const char **val, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *v, *e;

    if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return 0;
    v = line + nl + 1;
    e = line + len;
    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *val = v;
    *vlen = (size_t)(e - v);
    return 1;
}

void
edr_grpc_status_line(struct edr_grpc_status *s, const char *line, size_t len)
{
    const char *v;
    size_t vl;

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        const char *sp = memchr(line, ' ', len);
        int code = 0;
        size_t k, ndigits = 0;
        if (sp == NULL)
            return;
        k = (size_t)(sp - line) + 1;
        for (; k < len && isdigit((unsigned char)line[k]); k++, ndigits++) {
            if (ndigits < 3)
                code = code * 10 + (line[k] - '0');
        }
        /* a status code is three digits; any other run is not HTTP's (-1, so
         * that it is neither "nothing seen" nor a status we act on) */
        if (ndigits != 3)
            code = -1;
        /* a new response (e.g. after 100-continue) restarts everything */
        edr_grpc_status_init(s);
        s->http_status = code;
        return;
    }
    if (header_is(line, len, "content-type", &v, &vl)) {
        s->is_grpc = vl >= 16 && strncasecmp(v, "application/grpc", 16) == 0 &&
                     (vl == 16 || v[16] == '+' || v[16] == ';');
    } else if (header_is(line, len, "grpc-status", &v, &vl)) {
        int code = 0;
        size_t i;
        for (i = 0; i < vl && i < 6 && isdigit((unsigned char)v[i]); i++)
            code = code * 10 + (v[i] - '0');
        s->have_status = 1;
        if (i == 0 || i != vl) {
            s->status = 2; /* Unknown */
            if (s->message[0] == '\0')
                snprintf(s->message, sizeof(s->message), "invalid grpc-status");
        } else {
            s->status = code;
        }
    } else if (header_is(line, len, "grpc-message", &v, &vl)) {
        edr_grpc_percent_decode(v, vl, s->message, sizeof(s->message));
    }
}

static const char *const code_names[] = {
    "OK",       "Canceled",        "Unknown",          "InvalidArgument",   "DeadlineExceeded",
    "NotFound", "AlreadyExists",   "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted",  "OutOfRange",      "Unimplemented",    "Internal",          "Unavailable",
    "DataLoss", "Unauthenticated",
};

const char *
edr_grpc_code_name(int code)
{
    if (code < 0 || (size_t)code >= sizeof(code_names) / sizeof(code_names[0]))
        return "Unknown";
    return code_names[code];
}

edr_rc
edr_grpc_status_rc(int code, const char *message)
{
    /* etcd 3.4 reports some of these with code Unknown and an "auth: "
     * prefix (the auth store's own error), later versions with the
     * "etcdserver: " prefix and a proper code */
    static const char *const auth_msgs[] = {
        "user name is empty", "user name not found", "authentication failed",
        "invalid auth token", "permission denied",   "role is not granted to the user",
        "user not found",
    };
    const char *m = message;

    if (code == 16 || code == 7)
        return EDR_E_ETCD_AUTH;
    if (m == NULL)
        return EDR_E_ETCD;
    if (strncmp(m, "etcdserver: ", 12) == 0)
        m += 12;
    else if (strncmp(m, "auth: ", 6) == 0)
        return EDR_E_ETCD_AUTH; /* every error of etcd's auth store is about credentials */
    else
        return EDR_E_ETCD;
    for (size_t i = 0; i < sizeof(auth_msgs) / sizeof(auth_msgs[0]); i++) {
        if (strncmp(m, auth_msgs[i], strlen(auth_msgs[i])) == 0)
            return EDR_E_ETCD_AUTH;
    }
    return EDR_E_ETCD;
}
