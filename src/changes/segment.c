/*
 * Change segments: records, manifest, publish, read, list, chains (see
 * segment.h).
 */
#include "changes/segment.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "common/hash.h"
#include "etcd/proto.h"
#include "stream/basic.h"
#include "stream/open.h"
#include "stream/seal.h"
#include "stream/tar.h"
#include "stream/zstd.h"

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

static const char *
check_segment(const struct edr_segment *s)
{
    if (s->format != EDR_SEG_FORMAT)
        return "unknown format";
    if (edr_repo_check_cluster_name(s->cluster, &(struct edr_err){0}) != EDR_OK)
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

/* -- publish ------------------------------------------------------------- */

edr_rc
edr_segment_publish(struct edr_repo *repo, const struct edr_pubkey *rcpt, size_t nrcpt, int level,
                    struct edr_segment *s, const uint8_t *records, size_t len, struct edr_err *err)
{
    struct edr_storage *st = repo->st;
    struct edr_stream *w = NULL, *sha = NULL, *size = NULL, *seal = NULL, *zst = NULL, *tar = NULL;
    char data[320], man[320], *inner = NULL, *outer = NULL;
    uint8_t digest[32];
    time_t mtime = time(NULL);
    edr_rc rc;

    s->format = EDR_SEG_FORMAT;
    snprintf(s->cluster, sizeof(s->cluster), "%s", repo->cluster);
    s->created = mtime;
    snprintf(s->tool_version, sizeof(s->tool_version), "%s", EDR_VERSION);
    s->compress_level = level;
    s->encrypted = nrcpt > 0;
    s->nrecipients = (int)nrcpt;
    for (size_t i = 0; i < nrcpt && i < EDR_MANIFEST_MAX_RECIPIENTS; i++)
        snprintf(s->recipients[i], sizeof(s->recipients[i]), "%s", rcpt[i].id);
    s->records_size = len;
    edr_sha256_buf(records, len, digest);
    edr_hex(digest, 32, s->records_sha256);
    /* the copy inside cannot know the stored hash */
    memset(s->stored_sha256, '0', 64);
    s->stored_sha256[64] = '\0';
    s->stored_size = 0;
    if ((rc = edr_segment_to_json(s, &inner, err)) != EDR_OK)
        return rc;
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".edr", data,
                     sizeof(data));
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".json", man, sizeof(man));
    if ((rc = st->ops->put_open(st, data, len / 2 + 4096, &w, err)) != EDR_OK ||
        (rc = edr_stream_sha256_new(w, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK ||
        (rc = edr_stream_seal_new(size, rcpt, nrcpt, nrcpt > 0 ? EDR_SEAL_FLAG_ENCRYPTED : 0, &seal,
                                  err)) != EDR_OK ||
        (rc = edr_stream_zstd_compress_new(seal, level, 1, EDR_ZSTD_SIZE_UNKNOWN, &zst, err)) !=
            EDR_OK ||
        (rc = edr_tar_writer_new(zst, &tar, err)) != EDR_OK)
        goto out;
    if ((rc = edr_tar_writer_begin(tar, "changes.bin", len, 0600, mtime, err)) != EDR_OK ||
        (rc = edr_stream_write(tar, records, len, err)) != EDR_OK ||
        (rc = edr_tar_writer_end(tar, err)) != EDR_OK ||
        (rc = edr_tar_writer_begin(tar, "manifest.json", strlen(inner), 0600, mtime, err)) !=
            EDR_OK ||
        (rc = edr_stream_write(tar, inner, strlen(inner), err)) != EDR_OK ||
        (rc = edr_tar_writer_end(tar, err)) != EDR_OK ||
        (rc = edr_stream_finish(tar, err)) != EDR_OK)
        goto out;
    s->stored_size = edr_stream_size_get(size);
    edr_stream_sha256_hex(sha, s->stored_sha256);
    if ((rc = edr_segment_to_json(s, &outer, err)) != EDR_OK ||
        (rc = edr_storage_put_buf(st, man, outer, strlen(outer), err)) != EDR_OK) {
        struct edr_err e2;
        st->ops->del(st, data, &e2); /* data without its manifest is not a segment */
    }
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "segment '%s'", man);
    edr_stream_free(tar);
    edr_stream_free(zst);
    edr_stream_free(seal);
    edr_stream_free(size);
    edr_stream_free(sha);
    edr_stream_free(w); /* discards the object unless finished */
    free(inner);
    free(outer);
    return rc;
}

/* -- read ---------------------------------------------------------------- */

struct seg_reader {
    const struct edr_segment *s;
    edr_seg_record_fn fn;
    void *ud;
    char name[320];
    struct edr_stream *parser, *sha, *mem;
    int saw_records;
    int64_t last_event_rev;
    uint64_t events, leases;
};

/* Every record inside the manifest's range, main revisions without a gap. */
static edr_rc
check_record(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct seg_reader *sr = ud;
    const struct edr_segment *s = sr->s;

    if (r->rev < s->first_revision || r->rev > s->last_revision)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "revision %" PRId64 " outside the segment's %" PRId64 "..%" PRId64,
                           r->rev, s->first_revision, s->last_revision);
    if (r->type == EDR_SEG_LEASE) {
        sr->leases++;
    } else {
        int64_t want = sr->last_event_rev == 0 ? s->first_revision : sr->last_event_rev + 1;
        if (r->rev != sr->last_event_rev && r->rev != want)
            return edr_err_set(err, EDR_E_INTEGRITY,
                               "revisions %" PRId64 "..%" PRId64 " are missing", want, r->rev - 1);
        sr->last_event_rev = r->rev;
        sr->events++;
    }
    return sr->fn != NULL ? sr->fn(sr->ud, r, err) : EDR_OK;
}

static edr_rc
seg_entry_begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink,
                struct edr_err *err)
{
    struct seg_reader *sr = ud;
    edr_rc rc;

    (void)size;
    *sink = NULL;
    if (strcmp(name, "changes.bin") == 0 && !sr->saw_records) {
        sr->saw_records = 1;
        if ((rc = edr_seg_parser_new(check_record, sr, "changes.bin", &sr->parser, err)) !=
                EDR_OK ||
            (rc = edr_stream_sha256_new(sr->parser, &sr->sha, err)) != EDR_OK)
            return rc;
        *sink = sr->sha;
    } else if (strcmp(name, "manifest.json") == 0 && sr->mem == NULL) {
        if ((rc = edr_stream_mem_new(16384, "manifest.json", &sr->mem, err)) != EDR_OK)
            return rc;
        *sink = sr->mem;
    }
    return EDR_OK;
}

static edr_rc
check_inner(const struct edr_segment *s, const uint8_t *d, size_t len, struct edr_err *err)
{
    struct edr_segment in;
    struct edr_err e2;

    if (edr_segment_from_json((const char *)d, len, "manifest.json", &in, &e2) != EDR_OK)
        return edr_err_set(err, EDR_E_INTEGRITY, "the manifest inside is invalid: %s", e2.msg);
    if (strcmp(in.cluster, s->cluster) != 0 || in.first_revision != s->first_revision ||
        in.last_revision != s->last_revision || strcmp(in.records_sha256, s->records_sha256) != 0 ||
        strcmp(in.prev_sha256, s->prev_sha256) != 0)
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "the manifest inside does not match the one beside it (inside: "
                           "cluster '%s' revisions %" PRId64 "..%" PRId64 ")",
                           in.cluster, in.first_revision, in.last_revision);
    return EDR_OK;
}

edr_rc
edr_segment_read(struct edr_repo *repo, const struct edr_segment *s, struct edr_identity *identity,
                 edr_seg_record_fn fn, void *ud, struct edr_err *err)
{
    struct seg_reader sr;
    struct edr_stream *size = NULL, *sha = NULL, *open = NULL, *zst = NULL, *tar = NULL;
    char hex[65];
    edr_rc rc;

    memset(&sr, 0, sizeof(sr));
    sr.s = s;
    sr.fn = fn;
    sr.ud = ud;
    edr_segment_name(s->cluster, s->first_revision, s->last_revision, ".edr", sr.name,
                     sizeof(sr.name));
    if (strcmp(s->cluster, repo->cluster) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "its manifest names cluster '%s', not '%s'",
                         s->cluster, repo->cluster);
        goto out;
    }
    if ((rc = edr_tar_reader_new(seg_entry_begin, NULL, &sr, &tar, err)) != EDR_OK ||
        (rc = edr_stream_zstd_decompress_new(tar, &zst, err)) != EDR_OK ||
        (rc = edr_stream_open_new(zst, identity, &open, err)) != EDR_OK ||
        (rc = edr_stream_sha256_new(open, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK)
        goto out;
    rc = repo->st->ops->get(repo->st, sr.name, 0, size, err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(size, err);
    if (rc != EDR_OK)
        goto out;
    edr_stream_sha256_hex(sha, hex);
    if (edr_stream_size_get(size) != s->stored_size || strcmp(hex, s->stored_sha256) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "stored object does not match the manifest (sha256 %.16s..., expected "
                         "%.16s...)",
                         hex, s->stored_sha256);
        goto out;
    }
    if (!sr.saw_records) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "no changes.bin inside");
        goto out;
    }
    edr_stream_sha256_hex(sr.sha, hex);
    if (strcmp(hex, s->records_sha256) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "records do not match the manifest's sha256");
        goto out;
    }
    if (sr.last_event_rev != s->last_revision || sr.events != s->events || sr.leases != s->leases) {
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "records end at revision %" PRId64 " with %" PRIu64
                         " events; the manifest says %" PRId64 " and %" PRIu64,
                         sr.last_event_rev, sr.events, s->last_revision, s->events);
        goto out;
    }
    if (sr.mem == NULL) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "no manifest copy inside");
        goto out;
    } else {
        size_t n;
        const uint8_t *d = edr_stream_mem_data(sr.mem, &n);
        rc = check_inner(s, d, n, err);
    }
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "segment '%s'", sr.name);
    edr_stream_free(size);
    edr_stream_free(sha);
    edr_stream_free(open);
    edr_stream_free(zst);
    edr_stream_free(tar);
    edr_stream_free(sr.sha);
    edr_stream_free(sr.parser);
    edr_stream_free(sr.mem);
    return rc;
}

/* -- list and chains ----------------------------------------------------- */

struct names {
    char **v;
    size_t n, cap;
};

struct seg_scan {
    size_t plen;
    struct names man, data;
    int oom;
};

static int
names_add(struct names *ns, const char *s, size_t len)
{
    if (edr_grow(&ns->v, &ns->cap, ns->n + 1, sizeof(*ns->v)) != 0 ||
        (ns->v[ns->n] = strndup(s, len)) == NULL)
        return -1;
    ns->n++;
    return 0;
}

static void
names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
}

static int
seg_scan_cb(const struct edr_storage_entry *e, void *ud)
{
    struct seg_scan *sc = ud;
    const char *base = e->name + sc->plen;
    size_t len = strlen(base);

    if (strchr(base, '/') != NULL || base[0] == '.')
        return 0;
    if (len > 5 && strcmp(base + len - 5, ".json") == 0)
        sc->oom |= names_add(&sc->man, base, len - 5);
    else if (len > 4 && strcmp(base + len - 4, ".edr") == 0)
        sc->oom |= names_add(&sc->data, base, len - 4);
    return sc->oom ? 1 : 0;
}

static int
has_name(const struct names *ns, const char *s)
{
    for (size_t i = 0; i < ns->n; i++)
        if (strcmp(ns->v[i], s) == 0)
            return 1;
    return 0;
}

static int
cmp_seg(const void *a, const void *b)
{
    const struct edr_segment *x = a, *y = b;

    if (x->first_revision != y->first_revision)
        return x->first_revision < y->first_revision ? -1 : 1;
    return (x->last_revision > y->last_revision) - (x->last_revision < y->last_revision);
}

static int
add_problem(struct edr_seg_problem **pv, size_t *n, size_t *cap, const char *name, const char *msg)
{
    if (edr_grow(pv, cap, *n + 1, sizeof(**pv)) != 0)
        return -1;
    snprintf((*pv)[*n].name, sizeof((*pv)[*n].name), "%s", name);
    snprintf((*pv)[*n].msg, sizeof((*pv)[*n].msg), "%s", msg);
    (*n)++;
    return 0;
}

edr_rc
edr_segment_list(struct edr_repo *repo, struct edr_segment **segs, size_t *n,
                 struct edr_seg_problem **probs, size_t *nprobs, struct edr_err *err)
{
    struct seg_scan sc;
    struct edr_segment *v = NULL;
    struct edr_seg_problem *pv = NULL;
    size_t nv = 0, capv = 0, np = 0, capp = 0;
    char prefix[200];
    edr_rc rc;

    *segs = NULL;
    *n = 0;
    if (probs != NULL)
        *probs = NULL, *nprobs = 0;
    memset(&sc, 0, sizeof(sc));
    snprintf(prefix, sizeof(prefix), "%s/changes/", repo->cluster);
    sc.plen = strlen(prefix);
    rc = repo->st->ops->list(repo->st, prefix, seg_scan_cb, &sc, err);
    if (rc == EDR_OK && sc.oom)
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; rc == EDR_OK && i < sc.man.n; i++) {
        char obj[400], *json = NULL, what[420], want[200];
        size_t len;
        struct edr_segment s;
        struct edr_err e2;
        const char *problem = NULL;

        snprintf(obj, sizeof(obj), "%s%s.json", prefix, sc.man.v[i]);
        snprintf(what, sizeof(what), "segment manifest '%s'", obj);
        if (edr_storage_get_buf(repo->st, obj, 1u << 20, &json, &len, &e2) != EDR_OK ||
            edr_segment_from_json(json, len, what, &s, &e2) != EDR_OK) {
            problem = e2.msg;
        } else {
            edr_segment_name(repo->cluster, s.first_revision, s.last_revision, "", want,
                             sizeof(want));
            if (strcmp(want + sc.plen, sc.man.v[i]) != 0 || strcmp(s.cluster, repo->cluster))
                problem = "its name does not match its cluster and revisions";
            else if (!has_name(&sc.data, sc.man.v[i]))
                problem = "its data file is missing";
        }
        free(json);
        if (problem != NULL) {
            if (probs != NULL && add_problem(&pv, &np, &capp, obj, problem) != 0)
                rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            continue;
        }
        if (edr_grow(&v, &capv, nv + 1, sizeof(*v)) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            break;
        }
        v[nv++] = s;
    }
    for (size_t i = 0; rc == EDR_OK && probs != NULL && i < sc.data.n; i++) {
        char obj[400];
        if (has_name(&sc.man, sc.data.v[i]))
            continue;
        snprintf(obj, sizeof(obj), "%s%s.edr", prefix, sc.data.v[i]);
        if (add_problem(&pv, &np, &capp, obj, "data file without a manifest") != 0)
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    names_free(&sc.man);
    names_free(&sc.data);
    if (rc != EDR_OK) {
        free(v);
        free(pv);
        return rc;
    }
    if (nv > 1)
        qsort(v, nv, sizeof(*v), cmp_seg);
    *segs = v;
    *n = nv;
    if (probs != NULL) {
        *probs = pv;
        *nprobs = np;
    }
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

edr_rc
edr_segment_delete(struct edr_repo *repo, const struct edr_segment *s, struct edr_err *err)
{
    char name[320];
    edr_rc rc;

    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".json", name,
                     sizeof(name));
    if ((rc = repo->st->ops->del(repo->st, name, err)) != EDR_OK)
        return rc;
    edr_segment_name(repo->cluster, s->first_revision, s->last_revision, ".edr", name,
                     sizeof(name));
    return repo->st->ops->del(repo->st, name, err);
}
