/*
 * S3 backend: the storage vtable over S3's REST API. Requests go through
 * s3_http.c (signed with our own SigV4 code, s3_sigv4.c, so that the
 * canonical request is under our control, and retried); writes are the
 * multipart uploads of s3_multipart.c, the lock is s3_lock.c. Reads stream
 * into the sink and resume with a Range request after a transient failure.
 * Credentials come from the environment, AWS's shared files or a secret file,
 * are kept in sodium_malloc memory and never appear in messages.
 */
#include "storage/s3_int.h"

#include <ctype.h>
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "storage/s3.h"
#include "storage/s3_xml.h"

struct edr_s3_limits edr_s3_limits = {EDR_S3_MIN_PART_SIZE, 0, 200};

/* ---- small helpers ------------------------------------------------------- */

static char *
secret_dup(const char *s, size_t n)
{
    char *p = sodium_malloc(n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void
edr_s3_trim(char *s)
{
    size_t n = strlen(s);
    char *b = s;

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (*b && isspace((unsigned char)*b))
        b++;
    if (b != s)
        memmove(s, b, strlen(b) + 1);
}

char *
edr_s3_full_key(struct edr_s3 *s, const char *name)
{
    char *k = NULL;
    while (*name == '/')
        name++;
    if (asprintf(&k, "%s%s", s->root, name) < 0)
        return NULL;
    return k;
}

edr_rc
edr_s3_parse_url(const char *url, char **bucket, char **prefix, struct edr_err *err)
{
    const char *b, *slash;
    size_t blen, i;
    struct edr_buf pre = {0};
    const char *p;

    *bucket = *prefix = NULL;
    if (strncmp(url, "s3://", 5) != 0)
        return edr_err_set(err, EDR_E_USAGE, "'%s': not an s3:// url", url);
    b = url + 5;
    slash = strchr(b, '/');
    blen = slash != NULL ? (size_t)(slash - b) : strlen(b);
    if (blen < 3 || blen > 63)
        return edr_err_set(err, EDR_E_USAGE, "'%s': bucket name must be 3 to 63 characters", url);
    for (i = 0; i < blen; i++) {
        char c = b[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-' || c == '.' ||
              c == '_'))
            return edr_err_set(err, EDR_E_USAGE, "'%s': invalid character '%c' in bucket name", url,
                               c);
    }
    /* Normalise the prefix: no empty segments, one trailing '/'. */
    p = slash != NULL ? slash : "";
    while (*p) {
        const char *e;
        while (*p == '/')
            p++;
        e = strchr(p, '/');
        if (e == NULL)
            e = p + strlen(p);
        if (e > p) {
            if ((e - p == 1 && p[0] == '.') || (e - p == 2 && p[0] == '.' && p[1] == '.')) {
                edr_buf_release(&pre);
                return edr_err_set(err, EDR_E_USAGE,
                                   "'%s': '.' and '..' are not allowed in the"
                                   " prefix",
                                   url);
            }
            if (edr_buf_add(&pre, p, (size_t)(e - p)) != 0 || edr_buf_add(&pre, "/", 1) != 0) {
                edr_buf_release(&pre);
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            }
        }
        p = e;
    }
    *bucket = strndup(b, blen);
    *prefix = pre.data != NULL ? (char *)pre.data : strdup("");
    if (*bucket == NULL || *prefix == NULL) {
        free(*bucket);
        free(*prefix);
        *bucket = *prefix = NULL;
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    return EDR_OK;
}

/* ---- credentials and configuration -------------------------------------- */

static const char *
env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

/* Value of key in [section] of an INI-style AWS file, copied into sodium
 * memory; NULL when absent. */
static edr_rc
ini_get(const char *path, const char *section, const char *key, char **out, struct edr_err *err)
{
    char *buf = NULL, *line, *save = NULL;
    int in = 0;
    edr_rc rc;

    *out = NULL;
    rc = edr_secret_read_file(path, "credentials file", 65536, 1, &buf, NULL, err);
    if (rc != EDR_OK || buf == NULL)
        return rc;
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *eq;
        edr_s3_trim(line);
        if (*line == '#' || *line == ';' || *line == '\0')
            continue;
        if (*line == '[') {
            char *e = strchr(line, ']');
            if (e == NULL)
                continue;
            *e = '\0';
            edr_s3_trim(line + 1);
            in = strcmp(line + 1, section) == 0;
            continue;
        }
        if (!in || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        edr_s3_trim(line);
        edr_s3_trim(eq + 1);
        if (strcmp(line, key) == 0) {
            *out = secret_dup(eq + 1, strlen(eq + 1));
            if (*out == NULL)
                rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            break;
        }
    }
    sodium_free(buf);
    return rc;
}

static char *
home_path(const char *env_name, const char *rel)
{
    const char *v = env(env_name), *home;
    char *p = NULL;

    if (v != NULL)
        return strdup(v);
    home = env("HOME");
    if (home == NULL)
        return NULL;
    if (asprintf(&p, "%s/%s", home, rel) < 0)
        return NULL;
    return p;
}

/* Look key up for the profile: credentials file [p], then config file
 * [profile p] ([default] for default). */
static edr_rc
profile_get(const char *key, char **out, struct edr_err *err)
{
    const char *prof = env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
    char *cred = home_path("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    char *conf = home_path("AWS_CONFIG_FILE", ".aws/config");
    char *sect = NULL;
    edr_rc rc = EDR_OK;

    *out = NULL;
    if (cred != NULL)
        rc = ini_get(cred, prof, key, out, err);
    if (rc == EDR_OK && *out == NULL && conf != NULL) {
        if (strcmp(prof, "default") == 0)
            sect = strdup("default");
        else if (asprintf(&sect, "profile %s", prof) < 0)
            sect = NULL;
        if (sect == NULL)
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        else
            rc = ini_get(conf, sect, key, out, err);
    }
    free(sect);
    free(cred);
    free(conf);
    return rc;
}

static edr_rc
load_credentials(struct edr_s3 *s, const struct edr_storage_opts *o, struct edr_err *err)
{
    const char *ak = env("AWS_ACCESS_KEY_ID");
    char *v = NULL;
    edr_rc rc;
    int from_env = ak != NULL;

    if (ak != NULL) {
        s->access_key = strdup(ak);
    } else {
        rc = profile_get("aws_access_key_id", &v, err);
        if (rc != EDR_OK)
            return rc;
        if (v != NULL) {
            s->access_key = strdup(v);
            sodium_free(v);
            v = NULL;
        }
    }
    if (s->access_key == NULL) {
        edr_err_set(err, EDR_E_REPO, "s3 '%s': no access key id", s->base.url);
        edr_err_hint(err, "set AWS_ACCESS_KEY_ID or aws_access_key_id in the profile's section of"
                          " ~/.aws/credentials (AWS_PROFILE selects the profile)");
        return EDR_E_REPO;
    }
    if (o != NULL && o->s3_secret_file != NULL) {
        rc = edr_secret_read_file(o->s3_secret_file, "s3 secret file", 65536, 0, &v, NULL, err);
        if (rc != EDR_OK)
            return rc;
        edr_s3_trim(v);
        if (*v == '\0') {
            sodium_free(v);
            return edr_err_set(err, EDR_E_KEY, "s3 secret file '%s' is empty", o->s3_secret_file);
        }
        s->secret = v;
    } else if (from_env && env("AWS_SECRET_ACCESS_KEY") != NULL) {
        const char *sk = env("AWS_SECRET_ACCESS_KEY");
        s->secret = secret_dup(sk, strlen(sk));
        if (s->secret == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    } else if (!from_env) {
        rc = profile_get("aws_secret_access_key", &s->secret, err);
        if (rc != EDR_OK)
            return rc;
    }
    if (s->secret == NULL) {
        edr_err_set(err, EDR_E_REPO, "s3 '%s': no secret access key", s->base.url);
        edr_err_hint(err, "set AWS_SECRET_ACCESS_KEY, give a secret file, or put"
                          " aws_secret_access_key in ~/.aws/credentials");
        return EDR_E_REPO;
    }
    if (from_env) {
        const char *t = env("AWS_SESSION_TOKEN");
        if (t != NULL && (s->token = secret_dup(t, strlen(t))) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    } else {
        rc = profile_get("aws_session_token", &s->token, err);
        if (rc != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

static edr_rc
load_config(struct edr_s3 *s, const struct edr_storage_opts *o, struct edr_err *err)
{
    const char *ep = o != NULL ? o->s3_endpoint : NULL;
    const char *region = o != NULL ? o->s3_region : NULL;
    char *v = NULL, *host;
    const char *a, *e;
    size_t i;
    edr_rc rc;

    if (region == NULL)
        region = env("AWS_REGION");
    if (region == NULL)
        region = env("AWS_DEFAULT_REGION");
    if (region == NULL) {
        rc = profile_get("region", &v, err);
        if (rc != EDR_OK)
            return rc;
    }
    s->region = strdup(region != NULL ? region : v != NULL ? v : "us-east-1");
    if (v != NULL)
        sodium_free(v);
    if (s->region == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (i = 0; s->region[i]; i++)
        if (!isalnum((unsigned char)s->region[i]) && s->region[i] != '-')
            return edr_err_set(err, EDR_E_USAGE, "invalid s3 region '%s'", s->region);

    if (ep == NULL)
        ep = env("AWS_ENDPOINT_URL_S3");
    if (ep == NULL)
        ep = env("AWS_ENDPOINT_URL");
    if (ep != NULL) {
        s->endpoint = strdup(ep);
    } else if (asprintf(&s->endpoint, "https://s3.%s.amazonaws.com", s->region) < 0) {
        s->endpoint = NULL;
    }
    if (s->endpoint == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    i = strlen(s->endpoint);
    while (i > 0 && s->endpoint[i - 1] == '/')
        s->endpoint[--i] = '\0';
    a = strstr(s->endpoint, "://");
    if (a == NULL ||
        (strncmp(s->endpoint, "http://", 7) != 0 && strncmp(s->endpoint, "https://", 8) != 0))
        return edr_err_set(err, EDR_E_USAGE,
                           "s3 endpoint '%s': must start with http:// or"
                           " https://",
                           s->endpoint);
    a += 3;
    if (*a == '\0' || strchr(a, '/') != NULL || strchr(a, '?') != NULL || strchr(a, '@') != NULL)
        return edr_err_set(err, EDR_E_USAGE, "s3 endpoint '%s': expected scheme://host[:port]",
                           s->endpoint);
    s->scheme = strndup(s->endpoint, (size_t)(a - 3 - s->endpoint));
    s->authority = strdup(a);
    if (s->scheme == NULL || s->authority == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");

    /* Path style when asked, for an IP address or localhost (no DNS names
     * per bucket there), and for bucket names with dots (TLS wildcards do
     * not cover them). */
    host = strdup(s->authority);
    if (host == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (host[0] != '[' && (e = strrchr(host, ':')) != NULL)
        host[e - host] = '\0';
    s->path_style = (o != NULL && o->s3_path_style) || host[0] == '[' ||
                    strspn(host, "0123456789.") == strlen(host) || strcmp(host, "localhost") == 0 ||
                    strchr(s->bucket, '.') != NULL;
    free(host);

    if (o != NULL) {
        s->insecure = o->s3_insecure;
        if (o->s3_cacert != NULL && (s->cacert = strdup(o->s3_cacert)) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        s->part_size = o->s3_part_size;
    }
    if (s->part_size != 0 && s->part_size < edr_s3_limits.min_part_size)
        return edr_err_set(err, EDR_E_USAGE, "s3 part size %llu is below the 5 MiB minimum",
                           (unsigned long long)s->part_size);
    if (s->part_size > EDR_S3_MAX_PART_SIZE)
        return edr_err_set(err, EDR_E_USAGE, "s3 part size %llu is above the 5 GiB maximum",
                           (unsigned long long)s->part_size);
    s->max_keys = edr_s3_limits.max_keys;
    s->retry_ms = edr_s3_limits.retry_ms;
    return EDR_OK;
}

/* ---- get, stat, del ------------------------------------------------------ */

static edr_rc
s3_get(struct edr_storage *st, const char *name, uint64_t offset, struct edr_stream *sink,
       struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_s3_req r = {0};
    char range[48], etag[200] = "";
    char *key = edr_s3_full_key(s, name);
    uint64_t pos = offset;
    int tryno = 0;
    edr_rc rc = EDR_OK;

    if (key == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    r.method = "GET";
    r.key = key;
    r.sink = sink;
    r.sink_err = err;
    for (;;) {
        enum edr_s3_attempt a;

        r.nx = 0;
        r.range_from = pos;
        if (pos > 0) {
            snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)pos);
            r.xname[r.nx] = "range";
            r.xvalue[r.nx++] = range;
        }
        if (etag[0] != '\0') { /* resuming: the object must not have changed */
            r.xname[r.nx] = "if-match";
            r.xvalue[r.nx++] = etag;
        }
        tryno++;
        a = edr_s3_attempt(s, &r, err);
        if (a == EDR_S3_FATAL) {
            rc = r.sink_rc != EDR_OK ? r.sink_rc : err->code;
            goto out;
        }
        pos += r.sunk;
        if (etag[0] == '\0' && r.etag[0] != '\0' && (a == EDR_S3_TRANSPORT || r.status < 300))
            snprintf(etag, sizeof(etag), "%s", r.etag);
        if (a == EDR_S3_HTTP && (r.status == 200 || r.status == 206))
            goto out;
        if (a == EDR_S3_TRANSPORT) {
            if (edr_s3_tls_error(r.cc) || tryno >= EDR_S3_MAX_TRIES ||
                edr_storage_interrupted(&s->base)) {
                rc = edr_s3_transport_error(s, &r, tryno, err);
                goto out;
            }
        } else if (r.status == 416 && pos > 0) {
            /* Nothing after pos: fine when pos is exactly the size. */
            struct edr_storage_stat sst;
            rc = st->ops->stat(st, name, &sst, err);
            if (rc == EDR_OK && (!sst.exists || sst.size != pos))
                rc = edr_err_set(err, EDR_E_REPO,
                                 "s3 GET 's3://%s/%s': offset %llu is beyond the object's end",
                                 s->bucket, key, (unsigned long long)pos);
            goto out;
        } else if (r.status == 412) {
            rc = edr_err_set(err, EDR_E_REPO,
                             "s3 GET 's3://%s/%s': the object changed while it was being read",
                             s->bucket, key);
            goto out;
        } else if (!edr_s3_retryable(&r) || tryno >= EDR_S3_MAX_TRIES ||
                   edr_storage_interrupted(&s->base)) {
            rc = edr_s3_http_error(s, &r, err);
            goto out;
        }
        edr_debug("s3 GET '%s': retrying from byte %llu", key, (unsigned long long)pos);
        edr_s3_backoff(s, tryno);
    }
out:
    edr_s3_req_release(&r);
    free(key);
    return rc;
}

static edr_rc
s3_stat(struct edr_storage *st, const char *name, struct edr_storage_stat *out, struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_s3_req r = {0};
    char *key = edr_s3_full_key(s, name);
    edr_rc rc;

    memset(out, 0, sizeof(*out));
    if (key == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    r.method = "HEAD";
    r.key = key;
    rc = edr_s3_request(s, &r, err);
    if (rc == EDR_OK) {
        if (r.status == 200) {
            out->exists = 1;
            out->size = r.clen;
            out->mtime = r.mtime;
            memcpy(out->meta, r.meta, sizeof(out->meta));
        } else if (r.status != 404) {
            rc = edr_s3_http_error(s, &r, err);
        }
    }
    edr_s3_req_release(&r);
    free(key);
    return rc;
}

static edr_rc
s3_del(struct edr_storage *st, const char *name, struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_s3_req r = {0};
    char code[64] = "", msg[8];
    char *key = edr_s3_full_key(s, name);
    edr_rc rc;

    if (key == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    r.method = "DELETE";
    r.key = key;
    rc = edr_s3_request(s, &r, err);
    if (rc == EDR_OK && r.status != 204 && r.status != 200) {
        if (r.status == 404 && r.resp.len > 0)
            edr_s3_xml_error((char *)r.resp.data, r.resp.len, code, sizeof(code), msg, sizeof(msg));
        if (!(r.status == 404 && strcmp(code, "NoSuchBucket") != 0))
            rc = edr_s3_http_error(s, &r, err);
    }
    edr_s3_req_release(&r);
    free(key);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

static edr_rc
s3_list(struct edr_storage *st, const char *prefix, edr_storage_list_cb cb, void *ud,
        struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_s3_list_page page = {0};
    char *full = edr_s3_full_key(s, prefix != NULL ? prefix : ""), *token = NULL, mk[16];
    size_t rootlen = strlen(s->root), i;
    edr_rc rc = EDR_OK;
    int stop = 0;

    if (full == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    snprintf(mk, sizeof(mk), "%d", s->max_keys);
    do {
        struct edr_s3_qparam q[4];
        struct edr_s3_req r = {0};
        size_t nq = 0;

        q[nq++] = (struct edr_s3_qparam){"list-type", "2"};
        q[nq++] = (struct edr_s3_qparam){"prefix", full};
        if (token != NULL)
            q[nq++] = (struct edr_s3_qparam){"continuation-token", token};
        if (s->max_keys > 0)
            q[nq++] = (struct edr_s3_qparam){"max-keys", mk};
        r.method = "GET";
        r.q = q;
        r.nq = nq;
        rc = edr_s3_request(s, &r, err);
        if (rc == EDR_OK && r.status != 200)
            rc = edr_s3_http_error(s, &r, err);
        if (rc == EDR_OK) {
            rc = edr_s3_xml_list_objects((char *)r.resp.data, r.resp.len, &page, err);
            if (rc != EDR_OK)
                edr_err_prefix(err, "s3 list 's3://%s/%s'", s->bucket, full);
        }
        edr_s3_req_release(&r);
        if (rc != EDR_OK)
            break;
        for (i = 0; i < page.n && !stop; i++) {
            struct edr_storage_entry e;
            if (strncmp(page.objs[i].key, s->root, rootlen) != 0)
                continue;
            e.name = page.objs[i].key + rootlen;
            e.size = page.objs[i].size;
            e.mtime = page.objs[i].mtime;
            stop = cb(&e, ud);
        }
        free(token);
        token = page.next_token;
        page.next_token = NULL;
        if (!page.truncated) {
            free(token);
            token = NULL;
        }
        edr_s3_list_page_release(&page);
    } while (token != NULL && !stop);
    free(token);
    free(full);
    return rc;
}

/* ---- cleanup of abandoned multipart uploads ----------------------------- */

static edr_rc
s3_cleanup(struct edr_storage *st, const char *prefix, int age_s, struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_s3_upload_page page = {0};
    char *full = edr_s3_full_key(s, prefix != NULL ? prefix : ""), *km = NULL, *um = NULL, mk[16];
    time_t now = time(NULL);
    size_t i;
    edr_rc rc = EDR_OK;

    if (full == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    snprintf(mk, sizeof(mk), "%d", s->max_keys);
    for (;;) {
        struct edr_s3_qparam q[5];
        struct edr_s3_req r = {0};
        size_t nq = 0;

        q[nq++] = (struct edr_s3_qparam){"uploads", NULL};
        q[nq++] = (struct edr_s3_qparam){"prefix", full};
        if (km != NULL) {
            q[nq++] = (struct edr_s3_qparam){"key-marker", km};
            q[nq++] = (struct edr_s3_qparam){"upload-id-marker", um};
        }
        if (s->max_keys > 0)
            q[nq++] = (struct edr_s3_qparam){"max-uploads", mk};
        r.method = "GET";
        r.q = q;
        r.nq = nq;
        rc = edr_s3_request(s, &r, err);
        if (rc == EDR_OK && (r.status == 501 || r.status == 405)) {
            edr_warn("s3 endpoint '%s' cannot list multipart uploads (HTTP %ld): abandoned"
                     " uploads under '%s' are not cleaned up",
                     s->endpoint, r.status, full);
            edr_s3_req_release(&r);
            break;
        }
        if (rc == EDR_OK && r.status != 200)
            rc = edr_s3_http_error(s, &r, err);
        if (rc == EDR_OK) {
            rc = edr_s3_xml_list_uploads((char *)r.resp.data, r.resp.len, &page, err);
            if (rc != EDR_OK)
                edr_err_prefix(err, "s3 list uploads 's3://%s/%s'", s->bucket, full);
        }
        edr_s3_req_release(&r);
        if (rc != EDR_OK)
            break;
        for (i = 0; i < page.n && rc == EDR_OK; i++) {
            struct edr_s3_qparam aq[] = {{"uploadId", page.ups[i].upload_id}};
            struct edr_s3_req a = {0};

            if (now - page.ups[i].initiated < age_s)
                continue;
            a.method = "DELETE";
            a.key = page.ups[i].key;
            a.q = aq;
            a.nq = 1;
            rc = edr_s3_request(s, &a, err);
            if (rc == EDR_OK && a.status != 204 && a.status != 200 && a.status != 404)
                rc = edr_s3_http_error(s, &a, err);
            if (rc == EDR_OK)
                edr_info("s3: aborted the incomplete upload of '%s' started %lds ago",
                         page.ups[i].key, (long)(now - page.ups[i].initiated));
            edr_s3_req_release(&a);
        }
        free(km);
        free(um);
        km = um = NULL;
        if (rc != EDR_OK || !page.truncated)
            break;
        km = page.next_key_marker;
        um = page.next_upload_id_marker;
        page.next_key_marker = page.next_upload_id_marker = NULL;
        edr_s3_upload_page_release(&page);
    }
    edr_s3_upload_page_release(&page);
    free(km);
    free(um);
    free(full);
    return rc;
}

/* ---- open/free ----------------------------------------------------------- */

static void
s3_free(struct edr_storage *st)
{
    struct edr_s3 *s = (struct edr_s3 *)st;

    if (s == NULL)
        return;
    if (s->curl != NULL)
        curl_easy_cleanup(s->curl);
    if (s->secret != NULL)
        sodium_free(s->secret);
    if (s->token != NULL)
        sodium_free(s->token);
    free(s->base.url);
    free(s->bucket);
    free(s->root);
    free(s->endpoint);
    free(s->scheme);
    free(s->authority);
    free(s->region);
    free(s->access_key);
    free(s->cacert);
    free(s);
}

static const struct edr_storage_ops s3_ops = {
    "s3",    edr_s3_put_open, s3_get,        s3_list,    s3_del,
    s3_stat, edr_s3_lock,     edr_s3_unlock, s3_cleanup, s3_free,
};

edr_rc
edr_storage_s3_open(const char *url, const struct edr_storage_opts *opts, struct edr_storage **out,
                    struct edr_err *err)
{
    struct edr_s3 *s;
    edr_rc rc;

    *out = NULL;
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "libsodium initialisation failed");
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return edr_err_set(err, EDR_E_INTERNAL, "libcurl initialisation failed");
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->base.url = strdup(url)) == NULL) {
        free(s);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    s->base.ops = &s3_ops;
    rc = edr_s3_parse_url(url, &s->bucket, &s->root, err);
    if (rc == EDR_OK)
        rc = load_config(s, opts, err);
    if (rc == EDR_OK)
        rc = load_credentials(s, opts, err);
    if (rc == EDR_OK && (s->curl = curl_easy_init()) == NULL)
        rc = edr_err_set(err, EDR_E_INTERNAL, "libcurl: unable to create a handle");
    if (rc != EDR_OK) {
        s3_free(&s->base);
        return rc;
    }
    *out = &s->base;
    return EDR_OK;
}
