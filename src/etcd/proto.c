/*
 * Encoders and decoders of etcd's Snapshot, Status, MemberList and
 * Authenticate messages. Hand-written rather than generated: we need six
 * messages, and a decoder that reads blobs in place (no copy of the 32 KiB
 * snapshot chunks) and treats every input as hostile.
 */
#include "etcd/proto.h"

#include <stdlib.h>
#include <string.h>

size_t
edr_pb_encode_auth_req(uint8_t *buf, size_t cap, const char *name, const char *password)
{
    struct edr_pb_writer w;

    edr_pb_writer_init(&w, buf, cap);
    edr_pb_put_string(&w, 1, name);
    edr_pb_put_string(&w, 2, password);
    return w.len;
}

/* -- decoders ------------------------------------------------------------- */

/* The schema's wire type for a known field must match what arrived. */
static edr_rc
want(const struct edr_pb_field *f, enum edr_pb_wire wire, const char *msg, struct edr_err *err)
{
    if (f->wire == wire)
        return EDR_OK;
    return edr_err_set(err, EDR_E_ETCD, "malformed %s: field %u has wire type %d, expected %d", msg,
                       f->num, (int)f->wire, (int)wire);
}

/* Copy a length-delimited value into a fixed NUL-terminated field, appending
 * after `sep` when the field already holds something (repeated strings). */
static void
copy_str(char *dst, size_t dstsz, const struct edr_pb_field *f, const char *sep)
{
    size_t have = strlen(dst);
    size_t n;

    if (have > 0 && sep != NULL) {
        size_t sl = strlen(sep);
        if (dstsz - 1 - have < sl)
            return;
        memcpy(dst + have, sep, sl);
        have += sl;
    } else if (sep == NULL) {
        have = 0;
    }
    n = f->len < dstsz - 1 - have ? f->len : dstsz - 1 - have;
    memcpy(dst + have, f->data, n);
    dst[have + n] = '\0';
    /* an embedded NUL simply ends the string; strip control bytes for one-line output */
    for (size_t i = have; i < have + n; i++) {
        if ((unsigned char)dst[i] < 0x20 && dst[i] != '\0')
            dst[i] = '?';
    }
}

/* The end of a message: an empty one may come as (NULL, 0), and NULL + 0 is
 * undefined behaviour in C. */
static const uint8_t *
msg_end(const uint8_t *buf, size_t len)
{
    return len > 0 ? buf + len : buf;
}

static edr_rc
prefix(struct edr_err *err, const char *msg)
{
    if (err != NULL && strncmp(err->msg, "malformed ", 10) == 0)
        return err->code;
    return edr_err_prefix(err, "malformed %s", msg);
}

edr_rc
edr_pb_decode_header(const uint8_t *buf, size_t len, struct edr_pb_header *h, struct edr_err *err)
{
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_pb_field f;
    edr_rc rc;

    memset(h, 0, sizeof(*h));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, "ResponseHeader");
        if (f.num >= 1 && f.num <= 4 && (rc = want(&f, EDR_PB_VARINT, "ResponseHeader", err)))
            return rc;
        switch (f.num) {
        case 1:
            h->cluster_id = f.u;
            break;
        case 2:
            h->member_id = f.u;
            break;
        case 3:
            h->revision = (int64_t)f.u;
            break;
        case 4:
            h->raft_term = f.u;
            break;
        default:
            break;
        }
    }
    return EDR_OK;
}

edr_rc
edr_pb_decode_snapshot_resp(const uint8_t *buf, size_t len, struct edr_pb_snapshot_resp *r,
                            struct edr_err *err)
{
    static const char what[] = "SnapshotResponse";
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_pb_field f;
    edr_rc rc;

    memset(r, 0, sizeof(*r));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, what);
        switch (f.num) {
        case 1:
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
            if ((rc = edr_pb_decode_header(f.data, f.len, &r->header, err)) != EDR_OK)
                return prefix(err, what);
            r->has_header = 1;
            break;
        case 2:
            if ((rc = want(&f, EDR_PB_VARINT, what, err)) != EDR_OK)
                return rc;
            r->remaining_bytes = f.u;
            break;
        case 3:
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
            r->blob = f.data;
            r->blob_len = f.len;
            break;
        default:
            break; /* 4 = version (3.6) and anything newer */
        }
    }
    return EDR_OK;
}

edr_rc
edr_pb_decode_auth_resp(const uint8_t *buf, size_t len, struct edr_pb_auth_resp *r,
                        struct edr_err *err)
{
    static const char what[] = "AuthenticateResponse";
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_pb_field f;
    edr_rc rc;

    memset(r, 0, sizeof(*r));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, what);
        if (f.num == 1 || f.num == 2) {
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
        }
        if (f.num == 1 && (rc = edr_pb_decode_header(f.data, f.len, &r->header, err)) != EDR_OK)
            return prefix(err, what);
        if (f.num == 2) {
            r->token = f.data;
            r->token_len = f.len;
        }
    }
    return EDR_OK;
}

edr_rc
edr_pb_decode_status_resp(const uint8_t *buf, size_t len, struct edr_etcd_status *st,
                          struct edr_err *err)
{
    static const char what[] = "StatusResponse";
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_pb_header h;
    struct edr_pb_field f;
    edr_rc rc;

    memset(&h, 0, sizeof(h));
    st->version[0] = '\0';
    st->alarms_and_errors[0] = '\0';
    st->db_size = st->db_size_in_use = 0;
    st->leader = st->raft_index = st->raft_term = st->raft_applied_index = 0;
    st->is_learner = 0;
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, what);
        if (f.num == 1 || f.num == 2 || f.num == 8) {
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
        } else if (f.num >= 3 && f.num <= 10) {
            if ((rc = want(&f, EDR_PB_VARINT, what, err)) != EDR_OK)
                return rc;
        }
        switch (f.num) {
        case 1:
            if ((rc = edr_pb_decode_header(f.data, f.len, &h, err)) != EDR_OK)
                return prefix(err, what);
            break;
        case 2:
            copy_str(st->version, sizeof(st->version), &f, NULL);
            break;
        case 3:
            st->db_size = (int64_t)f.u;
            break;
        case 4:
            st->leader = f.u;
            break;
        case 5:
            st->raft_index = f.u;
            break;
        case 6:
            st->raft_term = f.u;
            break;
        case 7:
            st->raft_applied_index = f.u;
            break;
        case 8:
            copy_str(st->alarms_and_errors, sizeof(st->alarms_and_errors), &f, "; ");
            break;
        case 9:
            st->db_size_in_use = (int64_t)f.u;
            break;
        case 10:
            st->is_learner = f.u != 0;
            break;
        default:
            break; /* 11.. (3.6 storage version, quota, downgrade info) */
        }
    }
    st->cluster_id = h.cluster_id;
    st->member_id = h.member_id;
    st->revision = h.revision;
    if (st->raft_term == 0)
        st->raft_term = h.raft_term;
    return EDR_OK;
}

static edr_rc
decode_member(const uint8_t *buf, size_t len, struct edr_etcd_member *m, struct edr_err *err)
{
    static const char what[] = "Member";
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_pb_field f;
    edr_rc rc;

    memset(m, 0, sizeof(*m));
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, what);
        if (f.num == 1 || f.num == 5) {
            if ((rc = want(&f, EDR_PB_VARINT, what, err)) != EDR_OK)
                return rc;
        } else if (f.num >= 2 && f.num <= 4) {
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
        }
        switch (f.num) {
        case 1:
            m->id = f.u;
            break;
        case 2:
            copy_str(m->name, sizeof(m->name), &f, NULL);
            break;
        case 3:
            copy_str(m->peer_urls, sizeof(m->peer_urls), &f, ",");
            break;
        case 4:
            copy_str(m->client_urls, sizeof(m->client_urls), &f, ",");
            break;
        case 5:
            m->is_learner = f.u != 0;
            break;
        default:
            break;
        }
    }
    return EDR_OK;
}

edr_rc
edr_pb_decode_member_list(const uint8_t *buf, size_t len, struct edr_etcd_member **members,
                          size_t *n, struct edr_err *err)
{
    static const char what[] = "MemberListResponse";
    const uint8_t *p = buf, *end = msg_end(buf, len);
    struct edr_etcd_member *arr = NULL;
    struct edr_pb_field f;
    size_t count = 0, i = 0;
    edr_rc rc = EDR_OK;

    *members = NULL;
    *n = 0;
    /* first pass: validate and count, so the array is allocated once */
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            return prefix(err, what);
        if (f.num == 1 || f.num == 2) {
            if ((rc = want(&f, EDR_PB_LEN, what, err)) != EDR_OK)
                return rc;
        }
        if (f.num == 2)
            count++;
    }
    if (count == 0)
        return EDR_OK;
    arr = calloc(count, sizeof(*arr));
    if (arr == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory for %zu members", count);
    p = buf;
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            goto out;
        if (f.num == 1) {
            struct edr_pb_header h;
            if ((rc = edr_pb_decode_header(f.data, f.len, &h, err)) != EDR_OK) {
                rc = prefix(err, what);
                goto out;
            }
        } else if (f.num == 2) {
            if ((rc = decode_member(f.data, f.len, &arr[i++], err)) != EDR_OK) {
                rc = prefix(err, what);
                goto out;
            }
        }
    }
    *members = arr;
    *n = count;
    arr = NULL;
out:
    free(arr);
    return rc;
}
