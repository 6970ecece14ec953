/*
 * Manifest JSON through jansson. 64-bit ids are written as hex strings (no
 * precision loss in JSON consumers), sizes and revisions as integers.
 */
#include "repo/manifest.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
edr_time_iso(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
edr_time_parse_iso(const char *s, time_t *out)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (end == NULL || *end != '\0')
        return -1;
    *out = timegm(&tm);
    return 0;
}

static json_t *
hex64(uint64_t v)
{
    char buf[17];

    snprintf(buf, sizeof(buf), "%016" PRIx64, v);
    return json_string(buf);
}

edr_rc
edr_manifest_to_json(const struct edr_manifest *m, char **out, struct edr_err *err)
{
    char started[32], finished[32];
    json_t *o, *rcpt;
    char *s;

    edr_time_iso(m->started, started);
    edr_time_iso(m->finished, finished);
    rcpt = json_array();
    for (int i = 0; rcpt != NULL && i < m->nrecipients; i++)
        json_array_append_new(rcpt, json_string(m->recipients[i]));
    o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:f, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I,"
                  " s:s, s:I, s:s, s:{s:s, s:i}, s:{s:b, s:o}, s:I, s:I, s:s}",
                  "format", m->format, "id", m->id, "cluster", m->cluster, "started", started,
                  "finished", finished, "duration_seconds", m->duration_s, "tool_version",
                  m->tool_version, "endpoint", m->endpoint, "etcd_version", m->etcd_version,
                  "cluster_id", hex64(m->cluster_id), "member_id", hex64(m->member_id), "revision",
                  (json_int_t)m->revision, "raft_index", (json_int_t)m->raft_index, "raft_term",
                  (json_int_t)m->raft_term, "db_size", (json_int_t)m->db_size, "db_sha256",
                  m->db_sha256, "stored_size", (json_int_t)m->stored_size, "stored_sha256",
                  m->stored_sha256, "compression", "algorithm", m->compression, "level",
                  m->compress_level, "encryption", "enabled", m->encrypted, "recipients", rcpt,
                  "total_keys", (json_int_t)m->total_keys, "key_revisions",
                  (json_int_t)m->key_revisions, "data", "");
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to build manifest JSON");
    {
        char data[96];
        snprintf(data, sizeof(data), "%s.edr", m->id);
        json_object_set_new(o, "data", json_string(data));
    }
    s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to serialize manifest");
    {
        size_t n = strlen(s);
        char *t = realloc(s, n + 2);
        if (t == NULL) {
            free(s);
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        }
        t[n] = '\n';
        t[n + 1] = '\0';
        s = t;
    }
    *out = s;
    return EDR_OK;
}

static int
get_str(json_t *o, const char *k, char *dst, size_t n)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_string(v))
        return -1;
    snprintf(dst, n, "%s", json_string_value(v));
    return 0;
}

static int
get_int(json_t *o, const char *k, int64_t *dst)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_integer(v))
        return -1;
    *dst = json_integer_value(v);
    return 0;
}

static int
get_hex64(json_t *o, const char *k, uint64_t *dst)
{
    char buf[32], *end;

    if (get_str(o, k, buf, sizeof(buf)) != 0)
        return -1;
    *dst = strtoull(buf, &end, 16);
    return *end == '\0' && buf[0] != '\0' ? 0 : -1;
}

edr_rc
edr_manifest_from_json(const char *json, size_t len, const char *what, struct edr_manifest *m,
                       struct edr_err *err)
{
    json_error_t jerr;
    json_t *o, *v, *comp, *enc;
    char ts[64];
    int64_t i64;
    const char *bad = NULL;

    memset(m, 0, sizeof(*m));
    o = json_loadb(json, len, 0, &jerr);
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': invalid JSON at line %d: %s", what,
                           jerr.line, jerr.text);
    if (!json_is_object(o)) {
        bad = "not an object";
        goto out;
    }
    if (get_int(o, "format", &i64) != 0 || i64 != EDR_MANIFEST_FORMAT) {
        bad = "unsupported or missing format";
        goto out;
    }
    m->format = (int)i64;
    if (get_str(o, "id", m->id, sizeof(m->id)) ||
        get_str(o, "cluster", m->cluster, sizeof(m->cluster))) {
        bad = "missing id or cluster";
        goto out;
    }
    if (get_str(o, "started", ts, sizeof(ts)) || edr_time_parse_iso(ts, &m->started) ||
        get_str(o, "finished", ts, sizeof(ts)) || edr_time_parse_iso(ts, &m->finished)) {
        bad = "missing or bad started/finished time";
        goto out;
    }
    v = json_object_get(o, "duration_seconds");
    m->duration_s = json_is_number(v) ? json_number_value(v) : 0;
    get_str(o, "tool_version", m->tool_version, sizeof(m->tool_version));
    get_str(o, "endpoint", m->endpoint, sizeof(m->endpoint));
    get_str(o, "etcd_version", m->etcd_version, sizeof(m->etcd_version));
    if ((json_object_get(o, "cluster_id") && get_hex64(o, "cluster_id", &m->cluster_id)) ||
        (json_object_get(o, "member_id") && get_hex64(o, "member_id", &m->member_id))) {
        bad = "cluster_id or member_id is not a hex id";
        goto out;
    }
    if (get_int(o, "revision", &m->revision) || get_int(o, "db_size", &i64)) {
        bad = "missing revision or db_size";
        goto out;
    }
    m->db_size = (uint64_t)i64;
    if (get_int(o, "raft_index", &i64) == 0)
        m->raft_index = (uint64_t)i64;
    if (get_int(o, "raft_term", &i64) == 0)
        m->raft_term = (uint64_t)i64;
    if (get_str(o, "db_sha256", m->db_sha256, sizeof(m->db_sha256)) ||
        get_str(o, "stored_sha256", m->stored_sha256, sizeof(m->stored_sha256)) ||
        get_int(o, "stored_size", &i64) || strlen(m->db_sha256) != 64 ||
        strlen(m->stored_sha256) != 64) {
        bad = "missing or bad hashes";
        goto out;
    }
    m->stored_size = (uint64_t)i64;
    comp = json_object_get(o, "compression");
    if (json_is_object(comp)) {
        get_str(comp, "algorithm", m->compression, sizeof(m->compression));
        if (get_int(comp, "level", &i64) == 0)
            m->compress_level = (int)i64;
    }
    enc = json_object_get(o, "encryption");
    if (!json_is_object(enc)) {
        bad = "missing encryption";
        goto out;
    }
    m->encrypted = json_is_true(json_object_get(enc, "enabled"));
    v = json_object_get(enc, "recipients");
    if (json_is_array(v)) {
        size_t i;
        json_t *r;
        json_array_foreach(v, i, r)
        {
            if (m->nrecipients >= EDR_MANIFEST_MAX_RECIPIENTS || !json_is_string(r))
                break;
            snprintf(m->recipients[m->nrecipients++], 17, "%s", json_string_value(r));
        }
    }
    if (get_int(o, "total_keys", &i64) == 0)
        m->total_keys = (uint64_t)i64;
    if (get_int(o, "key_revisions", &i64) == 0)
        m->key_revisions = (uint64_t)i64;
out:
    json_decref(o);
    if (bad != NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': %s", what, bad);
    return EDR_OK;
}
