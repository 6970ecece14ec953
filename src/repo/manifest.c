/*
 * Manifest JSON through jansson. 64-bit ids are written as hex strings (no
 * precision loss in JSON consumers), sizes and revisions as integers. The
 * writer and the parser apply one set of rules to the fields (check_fields()),
 * so that whatever the parser accepts the writer can write back, and whatever
 * the writer writes the parser reads back unchanged.
 */
#include "repo/manifest.h"

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the longest cluster name edr_repo_check_cluster_name() accepts */
#define CLUSTER_NAME_MAX 100

void
edr_time_iso(time_t t, char out[32])
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        out[0] = '\0';
}

int
edr_time_parse_iso(const char *s, time_t *out)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
    struct tm tm;
    char back[32];
    time_t t;

    for (size_t i = 0; i < sizeof(shape); i++) {
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0') - 1900;
    tm.tm_mon = (s[5] - '0') * 10 + (s[6] - '0') - 1;
    tm.tm_mday = (s[8] - '0') * 10 + (s[9] - '0');
    tm.tm_hour = (s[11] - '0') * 10 + (s[12] - '0');
    tm.tm_min = (s[14] - '0') * 10 + (s[15] - '0');
    tm.tm_sec = (s[17] - '0') * 10 + (s[18] - '0');
    t = timegm(&tm);
    /* only the form edr_time_iso() writes back: no 31 February, no leap
     * second, no year below 1000 (strftime does not pad it to four digits) */
    edr_time_iso(t, back);
    if (strcmp(back, s) != 0)
        return -1;
    *out = t;
    return 0;
}

/* Exactly n lower-case hex digits: what edr_hex() and "%016" PRIx64 write,
 * and what the stored and computed hashes are compared as. */
static int
is_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return s[n] == '\0';
}

/* A backup id or a cluster name: both name objects of the repository
 * ("<cluster>/<id>.json"), so both follow edr_repo_check_cluster_name()'s
 * rule, 1 to max letters, digits, '.', '_', '-', not starting with a dot. */
static int
is_name(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max || s[0] == '.')
        return 0;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* Valid UTF-8 as jansson requires of every string: no overlong forms, no
 * surrogates, nothing past U+10FFFF. */
static int
is_utf8(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    while (*s != '\0') {
        unsigned c = *s++, cp, need;
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, cp = c & 0x07;
        else
            return 0;
        for (unsigned i = 0; i < need; i++, s++) {
            if ((*s & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (*s & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
    }
    return 1;
}

int
edr_manifest_path_ok(const char *path)
{
    size_t n = strlen(path);

    if (n < 2 || n >= EDR_MANIFEST_PATH_MAX || path[0] != '/' || path[n - 1] == '/' ||
        !is_utf8(path))
        return -1;
    for (const char *c = path + 1; *c != '\0';) {
        size_t len = strcspn(c, "/");
        if (len == 0 || len > 255 || (len == 1 && c[0] == '.') ||
            (len == 2 && c[0] == '.' && c[1] == '.'))
            return -1;
        c += len + (c[len] == '/');
    }
    return 0;
}

/* A user or group name as the manifest keeps it: empty, or printable ASCII
 * without spaces. */
static int
is_owner_name(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s <= ' ' || *s > '~')
            return 0;
    return 1;
}

/* The rules of one file record; NULL or the field that breaks them. */
static const char *
check_file(const struct edr_manifest_file *f)
{
    if (memchr(f->path, '\0', sizeof(f->path)) == NULL || edr_manifest_path_ok(f->path) != 0)
        return "path";
    if (f->size > INT64_MAX)
        return "size";
    if (f->mode > 07777)
        return "mode";
    if (memchr(f->owner, '\0', sizeof(f->owner)) == NULL || !is_owner_name(f->owner))
        return "owner";
    if (memchr(f->group, '\0', sizeof(f->group)) == NULL || !is_owner_name(f->group))
        return "group";
    if (!is_hex(f->sha256, 64))
        return "sha256";
    return NULL;
}

int
edr_manifest_file_cmp(const struct edr_manifest_file *a, const struct edr_manifest_file *b,
                      const char **field)
{
    const char *f = NULL;

    if (strcmp(a->path, b->path) != 0)
        f = "path";
    else if (a->size != b->size)
        f = "size";
    else if (strcmp(a->sha256, b->sha256) != 0)
        f = "sha256";
    else if (a->mode != b->mode)
        f = "mode";
    else if (a->uid != b->uid || a->gid != b->gid || strcmp(a->owner, b->owner) != 0 ||
             strcmp(a->group, b->group) != 0)
        f = "owner";
    if (field != NULL)
        *field = f;
    return f == NULL ? 0 : -1;
}

/* A time that edr_time_iso() writes and edr_time_parse_iso() reads back. */
static int
time_ok(time_t t)
{
    char s[32];
    time_t back;

    edr_time_iso(t, s);
    return edr_time_parse_iso(s, &back) == 0 && back == t;
}

/* The rules of the fields, for the writer and the parser alike. Returns 0, or
 * -1 with the reason ("field 'x' is ...") in why. */
static int
check_fields(const struct edr_manifest *m, char *why, size_t n)
{
    static const struct {
        const char *name;
        size_t off, size;
    } strs[] = {
        {"tool_version", offsetof(struct edr_manifest, tool_version),
         sizeof(((struct edr_manifest *)0)->tool_version)},
        {"endpoint", offsetof(struct edr_manifest, endpoint),
         sizeof(((struct edr_manifest *)0)->endpoint)},
        {"etcd_version", offsetof(struct edr_manifest, etcd_version),
         sizeof(((struct edr_manifest *)0)->etcd_version)},
        {"compression.algorithm", offsetof(struct edr_manifest, compression),
         sizeof(((struct edr_manifest *)0)->compression)},
        {"origin.tool", offsetof(struct edr_manifest, origin.tool),
         sizeof(((struct edr_manifest *)0)->origin.tool)},
        {"origin.source", offsetof(struct edr_manifest, origin.source),
         sizeof(((struct edr_manifest *)0)->origin.source)},
        {"origin.node", offsetof(struct edr_manifest, origin.node),
         sizeof(((struct edr_manifest *)0)->origin.node)},
        {"origin.cluster_id", offsetof(struct edr_manifest, origin.cluster_id),
         sizeof(((struct edr_manifest *)0)->origin.cluster_id)},
        {"origin.token_hash", offsetof(struct edr_manifest, origin.token_hash),
         sizeof(((struct edr_manifest *)0)->origin.token_hash)},
    };
    const struct {
        const char *name;
        uint64_t v;
    } ints[] = {
        {"revision", (uint64_t)m->revision}, {"raft_index", m->raft_index},
        {"raft_term", m->raft_term},         {"db_size", m->db_size},
        {"stored_size", m->stored_size},     {"total_keys", m->total_keys},
        {"key_revisions", m->key_revisions}, {"origin.size", m->origin.size},
    };
    const char *bad = NULL, *field = NULL;

    if (m->format != EDR_MANIFEST_FORMAT) {
        field = "format", bad = "is unsupported";
    } else if (memchr(m->id, '\0', sizeof(m->id)) == NULL || !is_name(m->id, sizeof(m->id) - 1)) {
        field = "id", bad = "is not a backup id";
    } else if (memchr(m->cluster, '\0', sizeof(m->cluster)) == NULL ||
               !is_name(m->cluster, CLUSTER_NAME_MAX)) {
        field = "cluster", bad = "is not a cluster name";
    } else if (!time_ok(m->started)) {
        field = "started", bad = "is out of range";
    } else if (!time_ok(m->finished)) {
        field = "finished", bad = "is out of range";
    } else if (!isfinite(m->duration_s)) {
        field = "duration_seconds", bad = "is not a finite number";
    } else if (!is_hex(m->db_sha256, 64)) {
        field = "db_sha256", bad = "is not 64 lower-case hex digits";
    } else if (!is_hex(m->stored_sha256, 64)) {
        field = "stored_sha256", bad = "is not 64 lower-case hex digits";
    } else if (m->origin.sha256[0] != '\0' && !is_hex(m->origin.sha256, 64)) {
        field = "origin.sha256", bad = "is not 64 lower-case hex digits";
    } else if (m->origin.time != 0 && !time_ok(m->origin.time)) {
        field = "origin.time", bad = "is out of range";
    } else if (m->nrecipients < 0 || m->nrecipients > EDR_MANIFEST_MAX_RECIPIENTS) {
        field = "encryption.recipients", bad = "has too many entries";
    }
    for (size_t i = 0; bad == NULL && i < sizeof(strs) / sizeof(strs[0]); i++) {
        const char *s = (const char *)m + strs[i].off;
        if (memchr(s, '\0', strs[i].size) == NULL || !is_utf8(s))
            field = strs[i].name, bad = "is not a UTF-8 string that fits";
    }
    for (size_t i = 0; bad == NULL && i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (ints[i].v > INT64_MAX)
            field = ints[i].name, bad = "is out of range";
    }
    if (bad == NULL && m->nfiles > EDR_MANIFEST_MAX_FILES)
        field = "files", bad = "has too many entries";
    for (size_t i = 0; bad == NULL && m->files != NULL && i < m->nfiles; i++) {
        const char *f = check_file(&m->files[i]);
        if (f != NULL) {
            snprintf(why, n, "field 'files[%zu].%s' is invalid", i, f);
            return -1;
        }
    }
    for (int i = 0; bad == NULL && i < m->nrecipients; i++) {
        if (!is_hex(m->recipients[i], 16)) {
            field = "encryption.recipients";
            bad = "has an entry that is not 16 lower-case hex digits";
        }
    }
    if (bad == NULL)
        return 0;
    snprintf(why, n, "field '%s' %s", field, bad);
    return -1;
}

/* The "origin" object of an imported backup: empty strings and a zero time
 * are left out. */
static int
origin_to_json(json_t *o, const struct edr_manifest_origin *g)
{
    const struct {
        const char *k, *v;
    } strs[] = {{"tool", g->tool},
                {"source", g->source},
                {"node", g->node},
                {"cluster_id", g->cluster_id},
                {"token_hash", g->token_hash},
                {"sha256", g->sha256}};
    json_t *x = json_object();
    char t[32];

    if (x == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
        if (strs[i].v[0] != '\0')
            json_object_set_new(x, strs[i].k, json_string(strs[i].v));
    }
    if (g->time != 0) {
        edr_time_iso(g->time, t);
        json_object_set_new(x, "time", json_string(t));
    }
    json_object_set_new(x, "size", json_integer((json_int_t)g->size));
    if (g->metadata[0] != '\0') {
        json_t *md = json_loads(g->metadata, 0, NULL);
        if (!json_is_object(md)) {
            json_decref(md);
            json_decref(x);
            return -1;
        }
        json_object_set_new(x, "metadata", md);
    }
    return json_object_set_new(o, "origin", x);
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
    char started[32], finished[32], why[128];
    json_t *o, *rcpt;
    char *s;

    /* what the parser would refuse is not written: a manifest that does not
     * parse hides its backup */
    if (check_fields(m, why, sizeof(why)) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to build manifest JSON: %s", why);
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
    if (m->origin.tool[0] != '\0' && origin_to_json(o, &m->origin) != 0) {
        json_decref(o);
        return edr_err_set(err, EDR_E_INTERNAL, "unable to build manifest JSON");
    }
    if (m->nfiles > 0 && m->files != NULL) {
        json_t *arr = json_array();
        for (size_t i = 0; arr != NULL && i < m->nfiles; i++) {
            const struct edr_manifest_file *f = &m->files[i];
            char mode[8];
            snprintf(mode, sizeof(mode), "%04o", f->mode);
            if (json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:I, s:I, s:s, s:s, s:s}",
                                                     "path", f->path, "size", (json_int_t)f->size,
                                                     "mode", mode, "uid", (json_int_t)f->uid, "gid",
                                                     (json_int_t)f->gid, "owner", f->owner, "group",
                                                     f->group, "sha256", f->sha256)) != 0) {
                json_decref(arr);
                arr = NULL;
            }
        }
        if (arr == NULL || json_object_set_new(o, "files", arr) != 0) {
            json_decref(o);
            return edr_err_set(err, EDR_E_INTERNAL, "unable to build manifest JSON");
        }
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

/* A string member: 0 when it fits into dst (n bytes with the NUL), -1 when it
 * is absent or not a string, -2 when it is too long. Never truncates: a cut
 * string may end inside a UTF-8 sequence, which the writer cannot write. */
static int
get_str(json_t *o, const char *k, char *dst, size_t n)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_string(v))
        return -1;
    if (json_string_length(v) >= n)
        return -2;
    memcpy(dst, json_string_value(v), json_string_length(v) + 1);
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

/* An optional string member: absent or of another type leaves dst empty. */
static int
opt_str(json_t *o, const char *k, char *dst, size_t n, char *why, size_t wn)
{
    if (get_str(o, k, dst, n) == -2) {
        snprintf(why, wn, "field '%s' is longer than %zu bytes", k, n - 1);
        return -1;
    }
    return 0;
}

/* A hex string member of exactly ndigits digits into dst (ndigits + 1 bytes):
 * -1 when absent or not a string, -2 when not ndigits lower-case hex digits. */
static int
get_hex(json_t *o, const char *k, char *dst, size_t ndigits)
{
    json_t *v = json_object_get(o, k);

    if (!json_is_string(v))
        return -1;
    if (json_string_length(v) != ndigits || !is_hex(json_string_value(v), ndigits))
        return -2;
    memcpy(dst, json_string_value(v), ndigits + 1);
    return 0;
}

/* An optional 64-bit id, written as 16 hex digits. */
static int
opt_hex64(json_t *o, const char *k, uint64_t *dst, char *why, size_t wn)
{
    char buf[17];

    if (json_object_get(o, k) == NULL)
        return 0;
    if (get_hex(o, k, buf, 16) != 0) {
        snprintf(why, wn, "field '%s' is not 16 lower-case hex digits", k);
        return -1;
    }
    *dst = strtoull(buf, NULL, 16);
    return 0;
}

/* The optional "origin" object; its fields are optional too, checked with
 * the others by check_fields(). */
static int
origin_from_json(json_t *x, struct edr_manifest_origin *g, char *why, size_t wn)
{
    char ts[32];
    int64_t i64;
    int r;

    if (opt_str(x, "tool", g->tool, sizeof(g->tool), why, wn) ||
        opt_str(x, "source", g->source, sizeof(g->source), why, wn) ||
        opt_str(x, "node", g->node, sizeof(g->node), why, wn) ||
        opt_str(x, "cluster_id", g->cluster_id, sizeof(g->cluster_id), why, wn) ||
        opt_str(x, "token_hash", g->token_hash, sizeof(g->token_hash), why, wn))
        return -1;
    if (json_object_get(x, "sha256") != NULL && get_hex(x, "sha256", g->sha256, 64) != 0) {
        snprintf(why, wn, "field 'origin.sha256' is not 64 lower-case hex digits");
        return -1;
    }
    if ((r = get_str(x, "time", ts, sizeof(ts))) != -1 &&
        (r != 0 || edr_time_parse_iso(ts, &g->time) != 0)) {
        snprintf(why, wn, "field 'origin.time' is not a UTC time like 2026-11-26T18:30:00Z");
        return -1;
    }
    if (get_int(x, "size", &i64) == 0)
        g->size = (uint64_t)i64;
    if (json_is_object(json_object_get(x, "metadata"))) {
        char *s = json_dumps(json_object_get(x, "metadata"), JSON_COMPACT | JSON_SORT_KEYS);
        if (s == NULL || strlen(s) >= sizeof(g->metadata)) {
            free(s);
            snprintf(why, wn, "field 'origin.metadata' is longer than %zu bytes",
                     sizeof(g->metadata) - 1);
            return -1;
        }
        memcpy(g->metadata, s, strlen(s) + 1);
        free(s);
    }
    return 0;
}

/* The records of a "files" array into out (NULL: only check them); 0, or -1
 * with the reason in why. */
static int
parse_files(json_t *arr, struct edr_manifest_file *out, char *why, size_t wn)
{
    struct edr_manifest_file tmp;
    size_t i;
    json_t *e;

    if (!json_is_array(arr) || json_array_size(arr) > EDR_MANIFEST_MAX_FILES) {
        snprintf(why, wn, "field 'files' is not an array of at most %d records",
                 EDR_MANIFEST_MAX_FILES);
        return -1;
    }
    json_array_foreach(arr, i, e)
    {
        struct edr_manifest_file *f = out != NULL ? &out[i] : &tmp;
        const char *bad = NULL;
        char mode[8], *end;
        int64_t v;
        unsigned long mv;

        memset(f, 0, sizeof(*f));
        if (!json_is_object(e))
            bad = "";
        else if (get_str(e, "path", f->path, sizeof(f->path)) != 0)
            bad = ".path";
        else if (get_int(e, "size", &v) != 0 || v < 0)
            bad = ".size";
        else if ((f->size = (uint64_t)v), get_str(e, "mode", mode, sizeof(mode)) != 0 ||
                                              strlen(mode) != 4 || strspn(mode, "01234567") != 4)
            bad = ".mode";
        else if ((mv = strtoul(mode, &end, 8)),
                 get_int(e, "uid", &v) != 0 || v < 0 || v > UINT32_MAX)
            bad = ".uid";
        else if ((f->uid = (unsigned)v), get_int(e, "gid", &v) != 0 || v < 0 || v > UINT32_MAX)
            bad = ".gid";
        else if ((f->gid = (unsigned)v),
                 opt_str(e, "owner", f->owner, sizeof(f->owner), why, wn) ||
                     opt_str(e, "group", f->group, sizeof(f->group), why, wn))
            bad = ".owner";
        else if (get_hex(e, "sha256", f->sha256, 64) != 0)
            bad = ".sha256";
        if (bad == NULL) {
            f->mode = (unsigned)mv;
            const char *c = check_file(f);
            if (c != NULL) {
                snprintf(why, wn, "field 'files[%zu].%s' is invalid", i, c);
                return -1;
            }
            continue;
        }
        snprintf(why, wn, "field 'files[%zu]%s' is missing or invalid", i, bad);
        return -1;
    }
    return 0;
}

edr_rc
edr_manifest_files_from_json(const char *json, size_t len, const char *what,
                             struct edr_manifest_file **files, size_t *n, struct edr_err *err)
{
    json_error_t jerr;
    json_t *o, *arr;
    char why[128] = "";
    edr_rc rc = EDR_OK;

    *files = NULL;
    *n = 0;
    o = json_loadb(json, len, 0, &jerr);
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': invalid JSON at line %d: %s", what,
                           jerr.line, jerr.text);
    arr = json_object_get(o, "files");
    if (arr != NULL && json_array_size(arr) > 0) {
        size_t cnt = json_array_size(arr);
        *files = calloc(cnt, sizeof(**files));
        if (*files == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        } else if (parse_files(arr, *files, why, sizeof(why)) != 0) {
            free(*files);
            *files = NULL;
            rc = edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': %s", what, why);
        } else {
            *n = cnt;
        }
    } else if (arr != NULL && !json_is_array(arr)) {
        rc =
            edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': field 'files' is not an array", what);
    }
    json_decref(o);
    return rc;
}

edr_rc
edr_manifest_from_json(const char *json, size_t len, const char *what, struct edr_manifest *m,
                       struct edr_err *err)
{
    json_error_t jerr;
    json_t *o, *v, *comp, *enc;
    char ts[32], why[128] = "";
    int64_t i64;
    int r;

    memset(m, 0, sizeof(*m));
    o = json_loadb(json, len, 0, &jerr);
    if (o == NULL)
        return edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': invalid JSON at line %d: %s", what,
                           jerr.line, jerr.text);
    if (!json_is_object(o)) {
        snprintf(why, sizeof(why), "not an object");
        goto out;
    }
    if (get_int(o, "format", &i64) != 0 || i64 != EDR_MANIFEST_FORMAT) {
        snprintf(why, sizeof(why), "unsupported or missing format");
        goto out;
    }
    m->format = (int)i64;
    if (!json_is_string(json_object_get(o, "id")) ||
        !json_is_string(json_object_get(o, "cluster"))) {
        snprintf(why, sizeof(why), "missing id or cluster");
        goto out;
    }
    /* a name too long for its field is not a valid name either */
    if (get_str(o, "id", m->id, sizeof(m->id)) != 0 || !is_name(m->id, sizeof(m->id) - 1)) {
        snprintf(why, sizeof(why), "field 'id' is not a backup id");
        goto out;
    }
    if (get_str(o, "cluster", m->cluster, sizeof(m->cluster)) != 0 ||
        !is_name(m->cluster, CLUSTER_NAME_MAX)) {
        snprintf(why, sizeof(why), "field 'cluster' is not a cluster name");
        goto out;
    }
    for (int i = 0; i < 2; i++) {
        const char *k = i == 0 ? "started" : "finished";
        if ((r = get_str(o, k, ts, sizeof(ts))) == -1) {
            snprintf(why, sizeof(why), "missing or bad started/finished time");
            goto out;
        }
        if (r != 0 || edr_time_parse_iso(ts, i == 0 ? &m->started : &m->finished) != 0) {
            snprintf(why, sizeof(why), "field '%s' is not a UTC time like 2026-11-26T18:30:00Z", k);
            goto out;
        }
    }
    v = json_object_get(o, "duration_seconds");
    m->duration_s = json_is_number(v) ? json_number_value(v) : 0;
    if (opt_str(o, "tool_version", m->tool_version, sizeof(m->tool_version), why, sizeof(why)) ||
        opt_str(o, "endpoint", m->endpoint, sizeof(m->endpoint), why, sizeof(why)) ||
        opt_str(o, "etcd_version", m->etcd_version, sizeof(m->etcd_version), why, sizeof(why)) ||
        opt_hex64(o, "cluster_id", &m->cluster_id, why, sizeof(why)) ||
        opt_hex64(o, "member_id", &m->member_id, why, sizeof(why)))
        goto out;
    if (get_int(o, "revision", &m->revision) || get_int(o, "db_size", &i64)) {
        snprintf(why, sizeof(why), "missing revision or db_size");
        goto out;
    }
    m->db_size = (uint64_t)i64;
    if (get_int(o, "raft_index", &i64) == 0)
        m->raft_index = (uint64_t)i64;
    if (get_int(o, "raft_term", &i64) == 0)
        m->raft_term = (uint64_t)i64;
    if (!json_is_string(json_object_get(o, "db_sha256")) ||
        !json_is_string(json_object_get(o, "stored_sha256")) || get_int(o, "stored_size", &i64)) {
        snprintf(why, sizeof(why), "missing or bad hashes");
        goto out;
    }
    m->stored_size = (uint64_t)i64;
    if (get_hex(o, "db_sha256", m->db_sha256, 64) != 0) {
        snprintf(why, sizeof(why), "field 'db_sha256' is not 64 lower-case hex digits");
        goto out;
    }
    if (get_hex(o, "stored_sha256", m->stored_sha256, 64) != 0) {
        snprintf(why, sizeof(why), "field 'stored_sha256' is not 64 lower-case hex digits");
        goto out;
    }
    comp = json_object_get(o, "compression");
    if (json_is_object(comp)) {
        if (get_str(comp, "algorithm", m->compression, sizeof(m->compression)) == -2) {
            snprintf(why, sizeof(why), "field 'compression.algorithm' is longer than %zu bytes",
                     sizeof(m->compression) - 1);
            goto out;
        }
        if (get_int(comp, "level", &i64) == 0) {
            if (i64 < INT_MIN || i64 > INT_MAX) {
                snprintf(why, sizeof(why), "field 'compression.level' is out of range");
                goto out;
            }
            m->compress_level = (int)i64;
        }
    }
    enc = json_object_get(o, "encryption");
    if (!json_is_object(enc)) {
        snprintf(why, sizeof(why), "missing encryption");
        goto out;
    }
    m->encrypted = json_is_true(json_object_get(enc, "enabled"));
    v = json_object_get(enc, "recipients");
    if (json_is_array(v)) {
        size_t i;
        json_t *rv;
        json_array_foreach(v, i, rv)
        {
            if (m->nrecipients >= EDR_MANIFEST_MAX_RECIPIENTS || !json_is_string(rv))
                break;
            if (json_string_length(rv) != 16 || !is_hex(json_string_value(rv), 16)) {
                snprintf(why, sizeof(why),
                         "field 'encryption.recipients' has an entry that is "
                         "not 16 lower-case hex digits");
                goto out;
            }
            memcpy(m->recipients[m->nrecipients++], json_string_value(rv), 17);
        }
    }
    if (get_int(o, "total_keys", &i64) == 0)
        m->total_keys = (uint64_t)i64;
    if (get_int(o, "key_revisions", &i64) == 0)
        m->key_revisions = (uint64_t)i64;
    v = json_object_get(o, "origin");
    if (json_is_object(v) && origin_from_json(v, &m->origin, why, sizeof(why)) != 0)
        goto out;
    v = json_object_get(o, "files");
    if (v != NULL) {
        if (parse_files(v, NULL, why, sizeof(why)) != 0)
            goto out;
        m->nfiles = json_array_size(v);
    }
    /* the rest (negative counts and sizes) by the writer's own rules */
    check_fields(m, why, sizeof(why));
out:
    json_decref(o);
    if (why[0] != '\0')
        return edr_err_set(err, EDR_E_INTEGRITY, "manifest '%s': %s", what, why);
    return EDR_OK;
}
