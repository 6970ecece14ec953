/*
 * Change segments, the pure parts: the record codec, the manifest JSON,
 * names, chains and the retention floor (see segment.h). No I/O here, so
 * the fuzz target links just this file.
 */
#include "changes/segment.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/pb.h"
#include "stream/stream.h"

/* -- records ------------------------------------------------------------- */

static int
put_varint(struct edr_buf *b, uint64_t v)
{
    uint8_t tmp[EDR_PB_VARINT_MAX];

    return edr_buf_add(b, tmp, edr_pb_put_varint(tmp, v));
}

static int
put_magic(struct edr_buf *b)
{
    return b->len == 0 ? edr_buf_add(b, EDR_SEG_MAGIC, EDR_SEG_MAGIC_LEN) : 0;
}

int
edr_seg_put_event(struct edr_buf *b, enum edr_seg_type type, int64_t rev, int64_t time_ms,
                  const uint8_t *kv, size_t kv_len)
{
    uint8_t t = (uint8_t)type;
    size_t undo = b->len;

    if (put_magic(b) != 0 || edr_buf_add(b, &t, 1) != 0 || put_varint(b, (uint64_t)rev) != 0 ||
        put_varint(b, (uint64_t)time_ms) != 0 || put_varint(b, kv_len) != 0 ||
        (kv_len > 0 && edr_buf_add(b, kv, kv_len) != 0)) {
        b->len = undo;
        return -1;
    }
    return 0;
}

int
edr_seg_put_lease(struct edr_buf *b, int64_t rev, int64_t id, int64_t ttl)
{
    uint8_t t = EDR_SEG_LEASE;
    size_t undo = b->len;

    if (put_magic(b) != 0 || edr_buf_add(b, &t, 1) != 0 || put_varint(b, (uint64_t)rev) != 0 ||
        put_varint(b, (uint64_t)id) != 0 || put_varint(b, (uint64_t)ttl) != 0) {
        b->len = undo;
        return -1;
    }
    return 0;
}

struct parser {
    struct edr_stream base;
    edr_seg_record_fn fn;
    void *ud;
    char what[200];
    struct edr_buf buf;
    size_t off;
    int magic_ok;
    int64_t last_rev;
    uint64_t offset; /* of buf[0] in the records */
};

/* 1 read, 0 more input needed, -1 malformed */
static int
get_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    struct edr_err e;

    if (edr_pb_get_varint(p, end, v, &e) == EDR_OK)
        return 1;
    return end - *p < EDR_PB_VARINT_MAX ? 0 : -1;
}

/* Parse one record at buf+off: 1 done (consumed), 0 incomplete, or an error. */
static edr_rc
parse_one(struct parser *ps, int *done, struct edr_err *err)
{
    const uint8_t *start = ps->buf.data + ps->off, *p = start + 1;
    const uint8_t *end = ps->buf.data + ps->buf.len;
    struct edr_seg_record r;
    uint64_t a = 0, b = 0, c = 0;
    int k;

    *done = 0;
    if (start >= end)
        return EDR_OK;
    memset(&r, 0, sizeof(r));
    r.type = (enum edr_seg_type)start[0];
    if (r.type != EDR_SEG_PUT && r.type != EDR_SEG_DEL && r.type != EDR_SEG_LEASE)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: unknown record type %u at offset %" PRIu64,
                           ps->what, start[0], ps->offset + ps->off);
    if ((k = get_varint(&p, end, &a)) <= 0 || (k = get_varint(&p, end, &b)) <= 0 ||
        (k = get_varint(&p, end, &c)) <= 0) {
        if (k == 0)
            return EDR_OK;
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: malformed record at offset %" PRIu64,
                           ps->what, ps->offset + ps->off);
    }
    r.rev = (int64_t)a;
    /* events never go back; a lease record names an earlier event's revision */
    if (r.rev <= 0 || (r.type != EDR_SEG_LEASE && r.rev < ps->last_rev))
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "%s: revision %" PRId64 " after %" PRId64 " at offset %" PRIu64,
                           ps->what, r.rev, ps->last_rev, ps->offset + ps->off);
    if (r.type == EDR_SEG_LEASE) {
        r.lease_id = (int64_t)b;
        r.lease_ttl = (int64_t)c;
    } else {
        r.time_ms = (int64_t)b;
        if (c > EDR_SEG_RECORD_MAX)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "%s: record of %" PRIu64 " bytes at offset %" PRIu64, ps->what, c,
                               ps->offset + ps->off);
        if ((uint64_t)(end - p) < c)
            return EDR_OK;
        r.kv = p;
        r.kv_len = (size_t)c;
        p += c;
    }
    if (r.type != EDR_SEG_LEASE)
        ps->last_rev = r.rev;
    ps->off = (size_t)(p - ps->buf.data);
    *done = 1;
    return ps->fn != NULL ? ps->fn(ps->ud, &r, err) : EDR_OK;
}

static edr_rc
parser_write(struct edr_stream *s, const void *data, size_t len, struct edr_err *err)
{
    struct parser *ps = (struct parser *)s;
    int done = 1;
    edr_rc rc;

    if (edr_buf_add(&ps->buf, data, len) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (!ps->magic_ok) {
        if (ps->buf.len < EDR_SEG_MAGIC_LEN)
            return EDR_OK;
        if (memcmp(ps->buf.data, EDR_SEG_MAGIC, EDR_SEG_MAGIC_LEN) != 0)
            return edr_err_set(err, EDR_E_INTEGRITY, "%s: not change records (bad magic)",
                               ps->what);
        ps->magic_ok = 1;
        ps->off = EDR_SEG_MAGIC_LEN;
    }
    while (done)
        if ((rc = parse_one(ps, &done, err)) != EDR_OK)
            return rc;
    /* keep only the incomplete record */
    if (ps->off > 0) {
        memmove(ps->buf.data, ps->buf.data + ps->off, ps->buf.len - ps->off);
        ps->buf.len -= ps->off;
        ps->offset += ps->off;
        ps->off = 0;
    }
    return EDR_OK;
}

static edr_rc
parser_finish(struct edr_stream *s, struct edr_err *err)
{
    struct parser *ps = (struct parser *)s;

    if (!ps->magic_ok)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: no change records (%zu bytes)", ps->what,
                           ps->buf.len);
    if (ps->buf.len > ps->off)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: truncated record at offset %" PRIu64,
                           ps->what, ps->offset + ps->off);
    return EDR_OK;
}

static void
parser_free(struct edr_stream *s)
{
    struct parser *ps = (struct parser *)s;

    edr_buf_release(&ps->buf);
    free(ps);
}

static const struct edr_stream_ops parser_ops = {"change records", parser_write, parser_finish,
                                                 parser_free};

edr_rc
edr_seg_parser_new(edr_seg_record_fn fn, void *ud, const char *what, struct edr_stream **out,
                   struct edr_err *err)
{
    struct parser *ps = calloc(1, sizeof(*ps));

    *out = NULL;
    if (ps == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    ps->base.ops = &parser_ops;
    ps->fn = fn;
    ps->ud = ud;
    snprintf(ps->what, sizeof(ps->what), "%s", what);
    *out = &ps->base;
    return EDR_OK;
}

/* -- manifest ------------------------------------------------------------ */

void
edr_segment_name(const char *cluster, int64_t first, int64_t last, const char *suffix, char *buf,
                 size_t n)
{
    snprintf(buf, n, "%s/changes/%020" PRId64 "-%020" PRId64 "%s", cluster, first, last, suffix);
}

static int
hex_ok(const char *s, int empty_ok)
{
    size_t n = strlen(s);

    if (n == 0)
        return empty_ok;
    return n == 64 && strspn(s, "0123456789abcdef") == 64;
}

/* What the repository accepts as a cluster name (repo.h): it names a directory. */
static int
cluster_name_ok(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 100 && s[0] != '.' && strstr(s, "..") == NULL &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static const char *
check_segment(const struct edr_segment *s)
{
    if (s->format != EDR_SEG_FORMAT)
        return "unknown format";
    if (!cluster_name_ok(s->cluster))
        return "invalid cluster name";
    if (s->first_revision < 1 || s->last_revision < s->first_revision)
        return "invalid revision range";
    if (s->first_time_ms < 0 || s->last_time_ms < s->first_time_ms)
        return "invalid time range";
    if (!hex_ok(s->records_sha256, 0) || !hex_ok(s->prev_sha256, 1) || !hex_ok(s->stored_sha256, 0))
        return "a digest is not 64 hex digits";
    if (s->nrecipients < 0 || s->nrecipients > EDR_MANIFEST_MAX_RECIPIENTS)
        return "too many recipients";
    for (int i = 0; i < s->nrecipients; i++)
        if (strlen(s->recipients[i]) != 16 || strspn(s->recipients[i], "0123456789abcdef") != 16)
            return "a recipient id is not 16 hex digits";
    if (strspn(s->base, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
        strlen(s->base))
        return "invalid base id";
    if (strspn(s->tool_version,
               "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+") !=
        strlen(s->tool_version))
        return "invalid tool version";
    return NULL;
}

edr_rc
edr_segment_to_json(const struct edr_segment *s, char **out, struct edr_err *err)
{
    const char *why = check_segment(s);
    char created[32], cid[17];
    json_t *o, *rcpt;
    char *txt;

    *out = NULL;
    if (why != NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to build segment manifest: %s", why);
    edr_time_iso(s->created, created);
    snprintf(cid, sizeof(cid), "%016" PRIx64, s->cluster_id);
    rcpt = json_array();
    for (int i = 0; rcpt != NULL && i < s->nrecipients; i++)
        json_array_append_new(rcpt, json_string(s->recipients[i]));
    o = json_pack("{s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:s, s:s, s:s, s:s,"
                  " s:s, s:i, s:b, s:o, s:I, s:s}",
                  "format", s->format, "kind", "changes", "cluster", s->cluster, "first_revision",
                  (json_int_t)s->first_revision, "last_revision", (json_int_t)s->last_revision,
                  "first_time_ms", (json_int_t)s->first_time_ms, "last_time_ms",
                  (json_int_t)s->last_time_ms, "events", (json_int_t)s->events, "leases",
                  (json_int_t)s->leases, "records_size", (json_int_t)s->records_size,
                  "records_sha256", s->records_sha256, "prev_sha256", s->prev_sha256, "base",
                  s->base, "cluster_id", cid, "created", created, "tool_version", s->tool_version,
                  "compress_level", s->compress_level, "encrypted", s->encrypted, "recipients",
                  rcpt, "stored_size", (json_int_t)s->stored_size, "stored_sha256",
                  s->stored_sha256);
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to build segment manifest");
    txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (txt == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    *out = txt;
    return EDR_OK;
}

static int
jint(json_t *o, const char *k, int64_t *v)
{
    json_t *x = json_object_get(o, k);

    if (!json_is_integer(x))
        return -1;
    *v = json_integer_value(x);
    return 0;
}

static int
jstr(json_t *o, const char *k, char *dst, size_t n)
{
    json_t *x = json_object_get(o, k);

    if (!json_is_string(x) || json_string_length(x) >= n)
        return -1;
    memcpy(dst, json_string_value(x), json_string_length(x) + 1);
    return 0;
}

edr_rc
edr_segment_from_json(const char *json, size_t len, const char *what, struct edr_segment *s,
                      struct edr_err *err)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je), *rc_arr;
    int64_t fmt = 0, ev = 0, le = 0, rs = 0, ss = 0, lvl = 0;
    char created[32], cid[17], kind[16];
    const char *why = NULL;
    json_t *enc;

    memset(s, 0, sizeof(*s));
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: not JSON (%s, line %d)", what, je.text,
                           je.line);
    if (!json_is_object(o))
        why = "not a JSON object";
    else if (jstr(o, "kind", kind, sizeof(kind)) != 0 || strcmp(kind, "changes") != 0)
        why = "not a change segment manifest";
    else if (jint(o, "format", &fmt) || jstr(o, "cluster", s->cluster, sizeof(s->cluster)) ||
             jint(o, "first_revision", &s->first_revision) ||
             jint(o, "last_revision", &s->last_revision) ||
             jint(o, "first_time_ms", &s->first_time_ms) ||
             jint(o, "last_time_ms", &s->last_time_ms) || jint(o, "events", &ev) ||
             jint(o, "leases", &le) || jint(o, "records_size", &rs) ||
             jstr(o, "records_sha256", s->records_sha256, sizeof(s->records_sha256)) ||
             jstr(o, "prev_sha256", s->prev_sha256, sizeof(s->prev_sha256)) ||
             jstr(o, "base", s->base, sizeof(s->base)) || jstr(o, "cluster_id", cid, sizeof(cid)) ||
             jstr(o, "created", created, sizeof(created)) ||
             jstr(o, "tool_version", s->tool_version, sizeof(s->tool_version)) ||
             jint(o, "compress_level", &lvl) || jint(o, "stored_size", &ss) ||
             jstr(o, "stored_sha256", s->stored_sha256, sizeof(s->stored_sha256)))
        why = "a field is missing, too long or of the wrong type";
    else if (!json_is_boolean(enc = json_object_get(o, "encrypted")) ||
             !json_is_array(rc_arr = json_object_get(o, "recipients")) ||
             json_array_size(rc_arr) > EDR_MANIFEST_MAX_RECIPIENTS)
        why = "bad encryption fields";
    else if (ev < 0 || le < 0 || rs < 0 || ss < 0 || lvl < 0 || lvl > 22 || strlen(cid) != 16 ||
             strspn(cid, "0123456789abcdef") != 16 || edr_time_parse_iso(created, &s->created))
        why = "a field is out of range";
    if (why == NULL) {
        s->format = (int)fmt;
        s->events = (uint64_t)ev;
        s->leases = (uint64_t)le;
        s->records_size = (uint64_t)rs;
        s->stored_size = (uint64_t)ss;
        s->compress_level = (int)lvl;
        s->cluster_id = strtoull(cid, NULL, 16);
        s->encrypted = json_is_true(enc);
        s->nrecipients = (int)json_array_size(rc_arr);
        for (int i = 0; why == NULL && i < s->nrecipients; i++) {
            json_t *x = json_array_get(rc_arr, (size_t)i);
            if (!json_is_string(x) || json_string_length(x) != 16)
                why = "a recipient id is not 16 hex digits";
            else
                memcpy(s->recipients[i], json_string_value(x), 17);
        }
    }
    if (why == NULL)
        why = check_segment(s);
    json_decref(o);
    if (why != NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "%s: %s", what, why);
    return EDR_OK;
}

edr_rc
edr_segment_chains(const struct edr_segment *segs, size_t n, struct edr_chain **chains,
                   size_t *nchains, struct edr_err *err)
{
    struct edr_chain *v = NULL;
    size_t nv = 0, cap = 0;

    for (size_t i = 0; i < n; i++) {
        const struct edr_segment *s = &segs[i];
        int linked = nv > 0 && s->prev_sha256[0] != '\0' &&
                     s->first_revision == segs[i - 1].last_revision + 1 &&
                     strcmp(s->prev_sha256, segs[i - 1].records_sha256) == 0;

        if (linked) {
            v[nv - 1].last = i;
            v[nv - 1].to_rev = s->last_revision;
            v[nv - 1].to_ms = s->last_time_ms;
            continue;
        }
        if (edr_grow(&v, &cap, nv + 1, sizeof(*v)) != 0) {
            free(v);
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        }
        v[nv++] = (struct edr_chain){
            i, i, s->first_revision - 1, s->last_revision, s->first_time_ms, s->last_time_ms};
    }
    *chains = v;
    *nchains = nv;
    return EDR_OK;
}

/* -- retention ------------------------------------------------------------ */

int64_t
edr_segment_floor(const int64_t *revs, const time_t *times, size_t n, int has_cutoff, time_t cutoff)
{
    int64_t oldest = -1, base = -1;
    time_t base_t = 0;

    for (size_t i = 0; i < n; i++) {
        if (oldest < 0 || revs[i] < oldest)
            oldest = revs[i];
        if (has_cutoff && times[i] <= cutoff && (base < 0 || times[i] > base_t)) {
            base = revs[i];
            base_t = times[i];
        }
    }
    return base >= 0 ? base : oldest;
}
