/*
 * S3 backend: the storage vtable over S3's REST API with libcurl, signed with
 * our own SigV4 code (s3_sigv4.c) so that the canonical request is under our
 * control. Writes are multipart uploads completed only in finish() (small
 * objects: one PUT at finish), reads stream into the sink and resume with a
 * Range request after a transient failure, every request is retried with
 * exponential backoff on 5xx, SlowDown, timeouts and connection resets.
 * Credentials come from the environment, AWS's shared files or a secret file,
 * are kept in sodium_malloc memory and never appear in messages.
 */
#include "common/buf.h"
#include "storage/s3.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/secret.h"
#include "storage/s3_sigv4.h"
#include "storage/s3_xml.h"
#include "storage/storage.h"

#define MAX_RESP_BODY (32u << 20)
#define LOCK_MAX_SIZE 4096
#define STOPPING_TIMEOUT_S 10L

static int (*interrupt_check)(void);

void
edr_s3_set_interrupt_check(int (*check)(void))
{
    interrupt_check = check;
}

static int
interrupted(void)
{
    return interrupt_check != NULL && interrupt_check();
}

/* libcurl calls this about once a second, also while nothing moves. */
static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return interrupted();
}

struct s3 {
    struct edr_storage base;
    char *bucket;
    char *root;      /* key prefix, "" or ending in '/' */
    char *endpoint;  /* "https://host:port", for messages */
    char *scheme;    /* "https" */
    char *authority; /* host[:port] of the endpoint */
    int path_style;
    char *region;
    char *access_key;
    char *secret; /* sodium_malloc */
    char *token;  /* sodium_malloc, may be NULL */
    char *cacert;
    int insecure;
    uint64_t part_size; /* 0 = computed */
    int max_keys;
    long retry_ms;
    CURL *curl;
};

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

static void
trim_in_place(char *s)
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

uint64_t
edr_s3_part_size(uint64_t expected_size, uint64_t fixed, unsigned index)
{
    uint64_t base = fixed;
    unsigned shift = 0;

    if (base == 0) {
        uint64_t half = EDR_S3_MAX_PARTS / 2;
        base = (expected_size + half - 1) / half;
        base = (base + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1); /* whole MiB */
        if (base < EDR_S3_DEFAULT_PART_SIZE)
            base = EDR_S3_DEFAULT_PART_SIZE;
    }
    if (index >= EDR_S3_MAX_PARTS / 2)
        shift = (index - EDR_S3_MAX_PARTS / 2) / 1000 + 1;
    while (shift-- > 0 && base < EDR_S3_MAX_PART_SIZE)
        base *= 2;
    return base < EDR_S3_MAX_PART_SIZE ? base : EDR_S3_MAX_PART_SIZE;
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
    rc = edr_secret_read_file(path, "credentials file", 65536, EDR_SECRET_MISSING_OK, &buf, NULL,
                              err);
    if (rc != EDR_OK || buf == NULL)
        return rc;
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        char *eq;
        trim_in_place(line);
        if (*line == '#' || *line == ';' || *line == '\0')
            continue;
        if (*line == '[') {
            char *e = strchr(line, ']');
            if (e == NULL)
                continue;
            *e = '\0';
            trim_in_place(line + 1);
            in = strcmp(line + 1, section) == 0;
            continue;
        }
        if (!in || (eq = strchr(line, '=')) == NULL)
            continue;
        *eq = '\0';
        trim_in_place(line);
        trim_in_place(eq + 1);
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
load_credentials(struct s3 *s, const struct edr_storage_opts *o, struct edr_err *err)
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
        trim_in_place(v);
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
load_config(struct s3 *s, const struct edr_storage_opts *o, struct edr_err *err)
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
    if (s->part_size != 0 && s->part_size < EDR_S3_MIN_PART_SIZE &&
        !(env("EDR_S3_TEST_SMALL_PARTS") && strcmp(env("EDR_S3_TEST_SMALL_PARTS"), "1") == 0))
        return edr_err_set(err, EDR_E_USAGE, "s3 part size %llu is below the 5 MiB minimum",
                           (unsigned long long)s->part_size);
    if (s->part_size > EDR_S3_MAX_PART_SIZE)
        return edr_err_set(err, EDR_E_USAGE, "s3 part size %llu is above the 5 GiB maximum",
                           (unsigned long long)s->part_size);
    s->max_keys = env("EDR_S3_TEST_MAX_KEYS") ? atoi(env("EDR_S3_TEST_MAX_KEYS")) : 0;
    s->retry_ms = env("EDR_S3_TEST_RETRY_MS") ? atol(env("EDR_S3_TEST_RETRY_MS")) : 200;
    return EDR_OK;
}

/* ---- HTTP requests ------------------------------------------------------- */

#define MAX_EXTRA 4

struct req {
    const char *method;
    const char *key; /* full object key; NULL = the bucket */
    const struct edr_s3_qparam *q;
    size_t nq;
    const void *body;
    size_t body_len;
    const char *xname[MAX_EXTRA]; /* extra signed headers, lower-case names */
    const char *xvalue[MAX_EXTRA];
    size_t nx;
    struct edr_stream *sink; /* 2xx body goes here instead of resp */
    uint64_t range_from;     /* Range start sent; a 200 answer repeats these bytes */
    uint64_t skip;           /* 2xx body bytes still to drop */
    int body_started;
    /* filled by the request */
    long status;
    struct edr_buf resp;
    uint64_t sunk;
    edr_rc sink_rc;
    struct edr_err *sink_err;
    char etag[200];
    uint64_t clen;
    int have_clen;
    time_t mtime;
    CURLcode cc;
    char curlerr[CURL_ERROR_SIZE];
    size_t upos; /* upload position */
    CURL *curl;
};

static void
req_reset(struct req *r)
{
    r->status = 0;
    edr_buf_reset(&r->resp);
    r->sunk = 0;
    r->sink_rc = EDR_OK;
    r->etag[0] = '\0';
    r->clen = 0;
    r->have_clen = 0;
    r->mtime = 0;
    r->cc = CURLE_OK;
    r->curlerr[0] = '\0';
    r->upos = 0;
    r->skip = 0;
    r->body_started = 0;
}

static void
req_release(struct req *r)
{
    edr_buf_release(&r->resp);
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct req *r = ud;
    size_t len = sz * n, vlen;
    const char *v;

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        r->etag[0] = '\0';
        r->have_clen = 0;
        return len;
    }
    v = memchr(p, ':', len);
    if (v == NULL)
        return len;
    v++;
    while (v < p + len && (*v == ' ' || *v == '\t'))
        v++;
    vlen = (size_t)(p + len - v);
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
        vlen--;
    if (strncasecmp(p, "etag:", 5) == 0 && vlen < sizeof(r->etag)) {
        memcpy(r->etag, v, vlen);
        r->etag[vlen] = '\0';
    } else if (strncasecmp(p, "content-length:", 15) == 0) {
        char tmp[32];
        if (vlen < sizeof(tmp)) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = '\0';
            r->clen = strtoull(tmp, NULL, 10);
            r->have_clen = 1;
        }
    } else if (strncasecmp(p, "last-modified:", 14) == 0) {
        char tmp[64];
        if (vlen < sizeof(tmp)) {
            memcpy(tmp, v, vlen);
            tmp[vlen] = '\0';
            r->mtime = curl_getdate(tmp, NULL);
        }
    }
    return len;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct req *r = ud;
    size_t len = sz * n;
    long code = 0;

    curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &code);
    if (r->sink != NULL && code >= 200 && code < 300) {
        size_t drop = 0;
        if (!r->body_started) {
            /* A server that ignores Range answers 200 with the whole object. */
            r->body_started = 1;
            r->skip = code == 200 ? r->range_from : 0;
        }
        if (r->skip > 0) {
            drop = r->skip < len ? (size_t)r->skip : len;
            r->skip -= drop;
        }
        if (len > drop) {
            r->sink_rc = edr_stream_write(r->sink, p + drop, len - drop, r->sink_err);
            if (r->sink_rc != EDR_OK)
                return 0;
            r->sunk += len - drop;
        }
        return len;
    }
    if (r->resp.len + len > MAX_RESP_BODY || edr_buf_add(&r->resp, p, len) != 0)
        return 0;
    return len;
}

static size_t
on_read(char *buf, size_t sz, size_t n, void *ud)
{
    struct req *r = ud;
    size_t want = sz * n, left = r->body_len - r->upos;

    if (want > left)
        want = left;
    memcpy(buf, (const char *)r->body + r->upos, want);
    r->upos += want;
    return want;
}

static int
tls_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
        return 1;
    default:
        return 0;
    }
}

enum attempt { A_HTTP, A_TRANSPORT, A_FATAL };

static void what_str(struct s3 *s, const struct req *r, char *buf, size_t n);

static enum attempt
attempt(struct s3 *s, struct req *r, struct edr_err *err)
{
    struct edr_s3_header h[6 + MAX_EXTRA];
    struct edr_s3_sign_in in;
    struct curl_slist *hl = NULL;
    char *ekey = NULL, *path = NULL, *query = NULL, *auth = NULL, *url = NULL, *line = NULL;
    char *host = NULL, sig[EDR_S3_SIG_HEX_LEN], sha[65], date[17], what[512];
    uint8_t dig[EDR_SHA256_LEN];
    size_t nh = 0, i;
    time_t now = time(NULL);
    struct tm tm;
    enum attempt res = A_FATAL;
    int bad = 0, stopping = interrupted();

    req_reset(r);
    r->curl = s->curl;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y%m%dT%H%M%SZ", &tm);
    if (r->body_len > 0) {
        edr_sha256_buf(r->body, r->body_len, dig);
        edr_hex(dig, sizeof(dig), sha);
    } else {
        strcpy(sha, EDR_S3_EMPTY_SHA256);
    }
    ekey = edr_s3_uri_encode(r->key != NULL ? r->key : "", 0);
    query = edr_s3_query_canonical(r->q, r->nq);
    if (ekey == NULL || query == NULL)
        goto oom;
    if (s->path_style) {
        bad |= asprintf(&host, "%s", s->authority) < 0;
        bad |= asprintf(&path, "/%s%s%s", s->bucket, r->key != NULL ? "/" : "", ekey) < 0;
    } else {
        bad |= asprintf(&host, "%s.%s", s->bucket, s->authority) < 0;
        bad |= asprintf(&path, "/%s", ekey) < 0;
    }
    if (bad)
        goto oom;
    if (asprintf(&url, "%s://%s%s%s%s", s->scheme, host, path, *query ? "?" : "", query) < 0)
        goto oom;

    h[nh++] = (struct edr_s3_header){"host", host};
    h[nh++] = (struct edr_s3_header){"x-amz-content-sha256", sha};
    h[nh++] = (struct edr_s3_header){"x-amz-date", date};
    if (s->token != NULL)
        h[nh++] = (struct edr_s3_header){"x-amz-security-token", s->token};
    for (i = 0; i < r->nx; i++)
        h[nh++] = (struct edr_s3_header){r->xname[i], r->xvalue[i]};
    memset(&in, 0, sizeof(in));
    in.method = r->method;
    in.uri = path;
    in.query = query;
    in.headers = h;
    in.nheaders = nh;
    in.payload_hash = sha;
    in.amz_date = date;
    in.region = s->region;
    in.service = "s3";
    in.access_key = s->access_key;
    in.secret_key = s->secret;
    if (edr_s3_sigv4_sign(&in, sig, &auth, err) != EDR_OK)
        goto out;
    for (i = 0; i < nh; i++) {
        struct curl_slist *t;
        if (asprintf(&line, "%s: %s", h[i].name, h[i].value) < 0) {
            line = NULL;
            goto oom;
        }
        t = curl_slist_append(hl, line);
        sodium_memzero(line, strlen(line)); /* may hold the session token */
        free(line);
        line = NULL;
        if (t == NULL)
            goto oom;
        hl = t;
    }
    if (asprintf(&line, "Authorization: %s", auth) < 0) {
        line = NULL;
        goto oom;
    }
    {
        struct curl_slist *t = curl_slist_append(hl, line);
        struct curl_slist *t2 = t != NULL ? curl_slist_append(t, "Expect:") : NULL;
        if (t2 == NULL) {
            if (t != NULL)
                hl = t;
            goto oom;
        }
        hl = t2;
    }
    if (strcmp(r->method, "POST") == 0) {
        struct curl_slist *t = curl_slist_append(hl, "Content-Type:");
        if (t == NULL)
            goto oom;
        hl = t;
    }

    curl_easy_reset(s->curl);
    curl_easy_setopt(s->curl, CURLOPT_URL, url);
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, r->curlerr);
    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(s->curl, CURLOPT_LOW_SPEED_TIME, 60L);
    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(s->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(s->curl, CURLOPT_HEADERDATA, r);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    if (s->cacert != NULL)
        curl_easy_setopt(s->curl, CURLOPT_CAINFO, s->cacert);
    if (s->insecure) {
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (stopping) {
        /* cleaning up after a stop request: try, but briefly */
        curl_easy_setopt(s->curl, CURLOPT_TIMEOUT, STOPPING_TIMEOUT_S);
    } else if (interrupt_check != NULL) {
        curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    }
    if (strcmp(r->method, "HEAD") == 0) {
        curl_easy_setopt(s->curl, CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        curl_easy_setopt(s->curl, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(s->curl, CURLOPT_READFUNCTION, on_read);
        curl_easy_setopt(s->curl, CURLOPT_READDATA, r);
        curl_easy_setopt(s->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "POST") == 0) {
        curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, r->body != NULL ? r->body : "");
        curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(s->curl, CURLOPT_CUSTOMREQUEST, r->method);
    }
    r->cc = curl_easy_perform(s->curl);
    /* Drop the header list (it holds the signature) from the handle. */
    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, NULL);
    if (r->sink_rc != EDR_OK) {
        res = A_FATAL; /* the sink's error is in r->sink_err */
        goto out;
    }
    if (r->cc == CURLE_ABORTED_BY_CALLBACK && r->sink_rc == EDR_OK) {
        what_str(s, r, what, sizeof(what));
        edr_err_set(err, EDR_E_INTERRUPTED, "%s: interrupted", what);
        goto out;
    }
    if (r->cc != CURLE_OK) {
        if (r->curlerr[0] == '\0')
            snprintf(r->curlerr, sizeof(r->curlerr), "%s", curl_easy_strerror(r->cc));
        res = A_TRANSPORT;
        goto out;
    }
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
    res = A_HTTP;
    goto out;
oom:
    edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
out:
    if (hl != NULL) {
        struct curl_slist *t;
        for (t = hl; t != NULL; t = t->next)
            sodium_memzero(t->data, strlen(t->data));
        curl_slist_free_all(hl);
    }
    if (line != NULL) {
        sodium_memzero(line, strlen(line));
        free(line);
    }
    free(auth);
    free(ekey);
    free(path);
    free(query);
    free(url);
    free(host);
    return res;
}

static void
what_str(struct s3 *s, const struct req *r, char *buf, size_t n)
{
    snprintf(buf, n, "s3 %s 's3://%s/%s'", r->method, s->bucket, r->key != NULL ? r->key : "");
}

static edr_rc
transport_error(struct s3 *s, const struct req *r, int tries, struct edr_err *err)
{
    char what[512];

    if (tls_error(r->cc))
        return edr_err_set(err, EDR_E_TLS, "s3 endpoint '%s': tls: %s", s->endpoint, r->curlerr);
    if (r->cc == CURLE_COULDNT_CONNECT || r->cc == CURLE_COULDNT_RESOLVE_HOST ||
        r->cc == CURLE_COULDNT_RESOLVE_PROXY)
        return edr_err_set(err, EDR_E_REPO, "s3 endpoint '%s': unreachable: %s", s->endpoint,
                           r->curlerr);
    what_str(s, r, what, sizeof(what));
    return edr_err_set(err, EDR_E_REPO, "%s: %s (%d tries)", what, r->curlerr, tries);
}

/* The error for a non-2xx answer: S3's code and message when it sent them. */
static edr_rc
http_error(struct s3 *s, const struct req *r, struct edr_err *err)
{
    char code[64] = "", msg[400] = "", what[512];
    edr_rc rc = EDR_E_REPO;

    what_str(s, r, what, sizeof(what));
    if (r->resp.len == 0 || edr_s3_xml_error((char *)r->resp.data, r->resp.len, code, sizeof(code),
                                             msg, sizeof(msg)) != 0) {
        if (r->status == 404 && r->key != NULL)
            return edr_err_set(err, EDR_E_NOTFOUND, "%s: not found (HTTP 404)", what);
        if (r->status == 403)
            return edr_err_set(
                err, EDR_E_REPO, "%s: access denied (HTTP 403%s)", what,
                strcmp(r->method, "HEAD") == 0 ? "; a HEAD answer carries no error detail" : "");
        return edr_err_set(err, EDR_E_REPO, "%s: HTTP %ld", what, r->status);
    }
    if (strcmp(code, "NoSuchKey") == 0)
        rc = EDR_E_NOTFOUND;
    if (strcmp(code, "NoSuchBucket") == 0) {
        edr_err_set(err, EDR_E_REPO, "s3 bucket '%s': NoSuchBucket: %s", s->bucket, msg);
        edr_err_hint(err, "create the bucket or check the s3:// url and the endpoint '%s'",
                     s->endpoint);
        return EDR_E_REPO;
    }
    edr_err_set(err, rc, "%s: %s: %s", what, code, msg);
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        edr_err_hint(err,
                     "the access key id is unknown to '%s': check AWS_ACCESS_KEY_ID or the"
                     " profile",
                     s->endpoint);
    else if (strcmp(code, "SignatureDoesNotMatch") == 0)
        edr_err_hint(err, "the secret access key does not match the access key id: check"
                          " AWS_SECRET_ACCESS_KEY or the secret file");
    else if (strcmp(code, "InvalidToken") == 0 || strcmp(code, "ExpiredToken") == 0 ||
             strcmp(code, "TokenRefreshRequired") == 0)
        edr_err_hint(err, "the session token is missing, wrong or expired: check"
                          " AWS_SESSION_TOKEN or the profile's aws_session_token");
    else if (strcmp(code, "RequestTimeTooSkewed") == 0)
        edr_err_hint(err, "this machine's clock is off: synchronise it (NTP)");
    else if (strcmp(code, "AuthorizationHeaderMalformed") == 0 ||
             strcmp(code, "PermanentRedirect") == 0)
        edr_err_hint(err, "check the region (AWS_REGION) and the endpoint");
    return rc;
}

static int
retryable_status(const struct req *r)
{
    char code[64] = "", msg[8];

    if (r->status >= 500 || r->status == 429)
        return 1;
    if (r->status == 400 && r->resp.len > 0 &&
        edr_s3_xml_error((char *)r->resp.data, r->resp.len, code, sizeof(code), msg, sizeof(msg)) ==
            0)
        return strcmp(code, "RequestTimeout") == 0 || strcmp(code, "SlowDown") == 0;
    return 0;
}

static void
backoff(struct s3 *s, int tryno)
{
    long ms = s->retry_ms << (tryno - 1);
    struct timespec ts;

    ms += (long)randombytes_uniform((uint32_t)(ms / 2 + 1)); /* jitter */
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Perform r with retries. EDR_OK means an HTTP answer that is not worth
 * retrying is in r (any status: the caller decides); otherwise err is set. */
static edr_rc
request(struct s3 *s, struct req *r, struct edr_err *err)
{
    int tryno;

    for (tryno = 1;; tryno++) {
        enum attempt a = attempt(s, r, err);
        if (a == A_FATAL)
            return r->sink_rc != EDR_OK ? r->sink_rc : err->code;
        if (a == A_HTTP && !retryable_status(r))
            return EDR_OK;
        if (tryno >= EDR_S3_MAX_TRIES || (a == A_TRANSPORT && tls_error(r->cc)) || interrupted())
            break;
        if (a == A_TRANSPORT)
            edr_debug("s3 %s '%s': %s; retrying", r->method, r->key ? r->key : "", r->curlerr);
        else
            edr_debug("s3 %s '%s': HTTP %ld; retrying", r->method, r->key ? r->key : "", r->status);
        backoff(s, tryno);
    }
    if (r->cc != CURLE_OK)
        return transport_error(s, r, tryno, err);
    return http_error(s, r, err);
}

static char *
full_key(struct s3 *s, const char *name)
{
    char *k = NULL;
    while (*name == '/')
        name++;
    if (asprintf(&k, "%s%s", s->root, name) < 0)
        return NULL;
    return k;
}

/* ---- put: streamed multipart upload ------------------------------------- */

struct put {
    struct edr_stream base;
    struct s3 *s;
    char *key;
    uint64_t expected;
    unsigned char *buf;
    size_t len;
    size_t bufcap;
    uint64_t cur_part; /* size of the part being filled */
    uint64_t total;    /* bytes in the uploaded parts */
    char *upload_id;
    char **etags;
    unsigned nparts;    /* parts uploaded */
    unsigned submitted; /* parts handed to the uploader */
    int done;
    int failed;
    /* One part uploads in a background thread while the next one fills:
     * two part buffers at most, and the snapshot keeps flowing meanwhile.
     * Only one thread talks to the server at a time (the caller waits for
     * the uploader before any request of its own). */
    pthread_t th;
    int th_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int busy, quit;
    unsigned char *ubuf;
    size_t ulen, ucap;
    edr_rc urc;
    struct edr_err uerr;
};

static edr_rc
put_initiate(struct put *p, struct edr_err *err)
{
    struct edr_s3_qparam q[] = {{"uploads", NULL}};
    struct req r = {0};
    edr_rc rc;

    r.method = "POST";
    r.key = p->key;
    r.q = q;
    r.nq = 1;
    r.xname[0] = "content-type";
    r.xvalue[0] = "application/octet-stream";
    r.nx = 1;
    rc = request(p->s, &r, err);
    if (rc == EDR_OK && r.status != 200)
        rc = http_error(p->s, &r, err);
    if (rc == EDR_OK) {
        rc = edr_s3_xml_upload_id((char *)r.resp.data, r.resp.len, &p->upload_id, err);
        if (rc != EDR_OK)
            edr_err_prefix(err, "s3 POST 's3://%s/%s?uploads'", p->s->bucket, p->key);
    }
    req_release(&r);
    return rc;
}

static edr_rc
upload_part(struct put *p, const unsigned char *buf, size_t len, struct edr_err *err)
{
    char num[16];
    struct edr_s3_qparam q[2];
    struct req r = {0};
    char **e;
    edr_rc rc;

    if (p->nparts >= EDR_S3_MAX_PARTS)
        return edr_err_set(err, EDR_E_REPO, "s3 's3://%s/%s': more than %d parts", p->s->bucket,
                           p->key, EDR_S3_MAX_PARTS);
    snprintf(num, sizeof(num), "%u", p->nparts + 1);
    q[0] = (struct edr_s3_qparam){"partNumber", num};
    q[1] = (struct edr_s3_qparam){"uploadId", p->upload_id};
    r.method = "PUT";
    r.key = p->key;
    r.q = q;
    r.nq = 2;
    r.body = buf;
    r.body_len = len;
    rc = request(p->s, &r, err);
    if (rc == EDR_OK && r.status != 200)
        rc = http_error(p->s, &r, err);
    if (rc == EDR_OK && r.etag[0] == '\0')
        rc = edr_err_set(err, EDR_E_REPO, "s3 PUT 's3://%s/%s' part %s: no ETag in the answer",
                         p->s->bucket, p->key, num);
    if (rc == EDR_OK) {
        e = realloc(p->etags, (p->nparts + 1) * sizeof(*e));
        if (e == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
        } else {
            p->etags = e;
            if ((e[p->nparts] = strdup(r.etag)) == NULL)
                rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
            else
                p->nparts++;
        }
    }
    if (rc != EDR_OK && strcmp(r.method, "PUT") == 0 && rc != EDR_E_INTERNAL)
        edr_err_prefix(err, "part %s", num);
    req_release(&r);
    if (rc == EDR_OK)
        p->total += len;
    return rc;
}

static void *
uploader(void *arg)
{
    struct put *p = arg;

    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->busy && !p->quit)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!p->busy)
            break;
        pthread_mutex_unlock(&p->mu);
        edr_err_clear(&p->uerr);
        p->urc = upload_part(p, p->ubuf, p->ulen, &p->uerr);
        pthread_mutex_lock(&p->mu);
        p->busy = 0;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Wait until no part is in flight; its failure becomes ours. */
static edr_rc
wait_uploader(struct put *p, struct edr_err *err)
{
    if (!p->th_started)
        return EDR_OK;
    pthread_mutex_lock(&p->mu);
    while (p->busy)
        pthread_cond_wait(&p->cv, &p->mu);
    pthread_mutex_unlock(&p->mu);
    if (p->urc != EDR_OK) {
        *err = p->uerr;
        return p->urc;
    }
    return EDR_OK;
}

/* Hand the full part buffer to the uploader and take its spare buffer. */
static edr_rc
submit_part(struct put *p, struct edr_err *err)
{
    unsigned char *tb;
    size_t tc;
    edr_rc rc;

    if ((rc = wait_uploader(p, err)) != EDR_OK)
        return rc;
    if (!p->th_started) {
        if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->cv, NULL) != 0 ||
            pthread_create(&p->th, NULL, uploader, p) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "s3: unable to start the upload thread");
        p->th_started = 1;
    }
    tb = p->ubuf;
    tc = p->ucap;
    p->ubuf = p->buf;
    p->ucap = p->bufcap;
    p->ulen = p->len;
    p->buf = tb;
    p->bufcap = tc;
    p->len = 0;
    p->submitted++;
    p->cur_part = edr_s3_part_size(p->expected, p->s->part_size, p->submitted);
    pthread_mutex_lock(&p->mu);
    p->busy = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return EDR_OK;
}

static void
stop_uploader(struct put *p)
{
    if (!p->th_started)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    p->th_started = 0;
}

static edr_rc
put_write(struct edr_stream *st, const void *buf, size_t len, struct edr_err *err)
{
    struct put *p = (struct put *)st;
    const unsigned char *b = buf;
    edr_rc rc;

    if (p->failed || p->done)
        return edr_err_set(err, EDR_E_INTERNAL, "s3 upload 's3://%s/%s': write after %s",
                           p->s->bucket, p->key, p->done ? "finish" : "an error");
    while (len > 0) {
        size_t room = (size_t)(p->cur_part - p->len), n = len < room ? len : room;
        if (p->len + n > p->bufcap) {
            size_t cap = p->bufcap ? p->bufcap : 65536;
            unsigned char *nb;
            while (cap < p->len + n)
                cap *= 2;
            if (cap > p->cur_part)
                cap = (size_t)p->cur_part;
            nb = realloc(p->buf, cap);
            if (nb == NULL) {
                p->failed = 1;
                return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory for a %zu byte part",
                                   cap);
            }
            p->buf = nb;
            p->bufcap = cap;
        }
        memcpy(p->buf + p->len, b, n);
        p->len += n;
        b += n;
        len -= n;
        if (p->len == p->cur_part) {
            /* A full part and more to come (or not): upload it now; only
             * the data left at finish() can go as a single PUT. */
            if (p->upload_id == NULL && (rc = put_initiate(p, err)) != EDR_OK) {
                p->failed = 1;
                return rc;
            }
            if ((rc = submit_part(p, err)) != EDR_OK) {
                p->failed = 1;
                return rc;
            }
        }
    }
    return EDR_OK;
}

static edr_rc s3_stat(struct edr_storage *st, const char *name, struct edr_storage_stat *out,
                      struct edr_err *err);

/* NoSuchUpload answering CompleteMultipartUpload: an earlier try may have
 * completed the upload with its answer lost on the way back (a cut
 * connection, a timeout), and the retry (ours, or libcurl's own on a reused
 * connection that died) finds the upload gone. The key was free when the
 * backup began and the repository is locked, so an object there now with
 * exactly the uploaded size is ours. */
static int
completed_earlier(struct put *p, const struct req *r)
{
    char code[64] = "", msg[8];
    struct edr_storage_stat sst;
    struct edr_err e2;

    if (r->resp.len == 0 ||
        edr_s3_xml_error((char *)r->resp.data, r->resp.len, code, sizeof(code), msg, sizeof(msg)) !=
            0 ||
        strcmp(code, "NoSuchUpload") != 0)
        return 0;
    edr_err_clear(&e2);
    if (s3_stat(&p->s->base, p->key + strlen(p->s->root), &sst, &e2) != EDR_OK || !sst.exists ||
        sst.size != p->total)
        return 0;
    edr_debug("s3 POST 's3://%s/%s': completed by an earlier try whose answer was lost",
              p->s->bucket, p->key);
    return 1;
}

static edr_rc
put_finish(struct edr_stream *st, struct edr_err *err)
{
    struct put *p = (struct put *)st;
    struct req r = {0};
    struct edr_buf x = {0};
    struct edr_s3_qparam q[1];
    struct edr_s3_xml *root = NULL;
    edr_rc rc = EDR_OK;
    unsigned i;

    if (p->failed || p->done)
        return edr_err_set(err, EDR_E_INTERNAL, "s3 upload 's3://%s/%s': finish after %s",
                           p->s->bucket, p->key, p->done ? "finish" : "an error");
    if (p->upload_id == NULL) {
        r.method = "PUT";
        r.key = p->key;
        r.body = p->buf;
        r.body_len = p->len;
        rc = request(p->s, &r, err);
        if (rc == EDR_OK && r.status != 200)
            rc = http_error(p->s, &r, err);
        goto out;
    }
    if ((rc = wait_uploader(p, err)) != EDR_OK)
        goto out;
    if (p->len > 0 && (rc = upload_part(p, p->buf, p->len, err)) != EDR_OK)
        goto out;
    if (edr_buf_add(&x, "<CompleteMultipartUpload>", 25) != 0)
        goto oom;
    for (i = 0; i < p->nparts; i++) {
        char part[300];
        int n = snprintf(part, sizeof(part), "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
        if (edr_buf_add(&x, part, (size_t)n) != 0)
            goto oom;
        for (const char *c = p->etags[i]; *c; c++) {
            const char *esc = *c == '&'   ? "&amp;"
                              : *c == '<' ? "&lt;"
                              : *c == '"' ? "&quot;"
                                          : NULL;
            if (edr_buf_add(&x, esc != NULL ? esc : c, esc != NULL ? strlen(esc) : 1) != 0)
                goto oom;
        }
        if (edr_buf_add(&x, "</ETag></Part>", 14) != 0)
            goto oom;
    }
    if (edr_buf_add(&x, "</CompleteMultipartUpload>", 26) != 0)
        goto oom;
    q[0] = (struct edr_s3_qparam){"uploadId", p->upload_id};
    r.method = "POST";
    r.key = p->key;
    r.q = q;
    r.nq = 1;
    r.body = x.data;
    r.body_len = x.len;
    r.xname[0] = "content-type";
    r.xvalue[0] = "application/xml";
    r.nx = 1;
    rc = request(p->s, &r, err);
    if (rc == EDR_OK && r.status == 404 && completed_earlier(p, &r))
        goto out;
    if (rc == EDR_OK && r.status != 200)
        rc = http_error(p->s, &r, err);
    /* S3 may answer 200 and still fail: the error is then in the body. */
    if (rc == EDR_OK && r.resp.len > 0) {
        rc = edr_s3_xml_parse((char *)r.resp.data, r.resp.len, &root, err);
        if (rc == EDR_OK && strcmp(root->name, "CompleteMultipartUploadResult") != 0)
            rc = http_error(p->s, &r, err);
        else if (rc != EDR_OK)
            edr_err_prefix(err, "s3 POST 's3://%s/%s' (complete)", p->s->bucket, p->key);
    }
    goto out;
oom:
    rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
out:
    edr_s3_xml_free(root);
    edr_buf_release(&x);
    req_release(&r);
    if (rc == EDR_OK)
        p->done = 1;
    else
        p->failed = 1;
    return rc;
}

static void
put_abort(struct put *p)
{
    struct edr_s3_qparam q[] = {{"uploadId", p->upload_id}};
    struct req r = {0};
    struct edr_err err;

    r.method = "DELETE";
    r.key = p->key;
    r.q = q;
    r.nq = 1;
    edr_err_clear(&err);
    if (request(p->s, &r, &err) == EDR_OK && r.status != 204 && r.status != 200 && r.status != 404)
        http_error(p->s, &r, &err);
    if (err.code != EDR_OK)
        edr_warn("s3: unable to abort the upload of '%s' (cleanup will remove it later): %s",
                 p->key, err.msg);
    req_release(&r);
}

static void
put_free(struct edr_stream *st)
{
    struct put *p = (struct put *)st;
    unsigned i;

    if (p == NULL)
        return;
    stop_uploader(p); /* waits for a part in flight: abort comes after it */
    if (p->upload_id != NULL && !p->done)
        put_abort(p);
    for (i = 0; i < p->nparts; i++)
        free(p->etags[i]);
    free(p->etags);
    free(p->upload_id);
    free(p->buf);
    free(p->ubuf);
    free(p->key);
    free(p);
}

static const struct edr_stream_ops put_ops = {"s3-put", put_write, put_finish, put_free};

static edr_rc
s3_put_open(struct edr_storage *st, const char *name, uint64_t expected_size,
            struct edr_stream **out, struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct put *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL || (p->key = full_key(s, name)) == NULL) {
        free(p);
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    }
    p->base.ops = &put_ops;
    p->s = s;
    p->expected = expected_size;
    p->cur_part = edr_s3_part_size(expected_size, s->part_size, 0);
    *out = &p->base;
    return EDR_OK;
}

/* ---- get, stat, del ------------------------------------------------------ */

static edr_rc
s3_get(struct edr_storage *st, const char *name, uint64_t offset, struct edr_stream *sink,
       struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct req r = {0};
    char range[48], etag[200] = "";
    char *key = full_key(s, name);
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
        enum attempt a;

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
        a = attempt(s, &r, err);
        if (a == A_FATAL) {
            rc = r.sink_rc != EDR_OK ? r.sink_rc : err->code;
            goto out;
        }
        pos += r.sunk;
        if (etag[0] == '\0' && r.etag[0] != '\0' && (a == A_TRANSPORT || r.status < 300))
            snprintf(etag, sizeof(etag), "%s", r.etag);
        if (a == A_HTTP && (r.status == 200 || r.status == 206))
            goto out;
        if (a == A_TRANSPORT) {
            if (tls_error(r.cc) || tryno >= EDR_S3_MAX_TRIES || interrupted()) {
                rc = transport_error(s, &r, tryno, err);
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
        } else if (!retryable_status(&r) || tryno >= EDR_S3_MAX_TRIES || interrupted()) {
            rc = http_error(s, &r, err);
            goto out;
        }
        edr_debug("s3 GET '%s': retrying from byte %llu", key, (unsigned long long)pos);
        backoff(s, tryno);
    }
out:
    req_release(&r);
    free(key);
    return rc;
}

static edr_rc
s3_stat(struct edr_storage *st, const char *name, struct edr_storage_stat *out, struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct req r = {0};
    char *key = full_key(s, name);
    edr_rc rc;

    memset(out, 0, sizeof(*out));
    if (key == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    r.method = "HEAD";
    r.key = key;
    rc = request(s, &r, err);
    if (rc == EDR_OK) {
        if (r.status == 200) {
            out->exists = 1;
            out->size = r.clen;
            out->mtime = r.mtime;
        } else if (r.status != 404) {
            rc = http_error(s, &r, err);
        }
    }
    req_release(&r);
    free(key);
    return rc;
}

static edr_rc
s3_del(struct edr_storage *st, const char *name, struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct req r = {0};
    char code[64] = "", msg[8];
    char *key = full_key(s, name);
    edr_rc rc;

    if (key == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    r.method = "DELETE";
    r.key = key;
    rc = request(s, &r, err);
    if (rc == EDR_OK && r.status != 204 && r.status != 200) {
        if (r.status == 404 && r.resp.len > 0)
            edr_s3_xml_error((char *)r.resp.data, r.resp.len, code, sizeof(code), msg, sizeof(msg));
        if (!(r.status == 404 && strcmp(code, "NoSuchBucket") != 0))
            rc = http_error(s, &r, err);
    }
    req_release(&r);
    free(key);
    return rc;
}

/* ---- list ---------------------------------------------------------------- */

static edr_rc
s3_list(struct edr_storage *st, const char *prefix, edr_storage_list_cb cb, void *ud,
        struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct edr_s3_list_page page = {0};
    char *full = full_key(s, prefix != NULL ? prefix : ""), *token = NULL, mk[16];
    size_t rootlen = strlen(s->root), i;
    edr_rc rc = EDR_OK;
    int stop = 0;

    if (full == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    snprintf(mk, sizeof(mk), "%d", s->max_keys);
    do {
        struct edr_s3_qparam q[4];
        struct req r = {0};
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
        rc = request(s, &r, err);
        if (rc == EDR_OK && r.status != 200)
            rc = http_error(s, &r, err);
        if (rc == EDR_OK) {
            rc = edr_s3_xml_list_objects((char *)r.resp.data, r.resp.len, &page, err);
            if (rc != EDR_OK)
                edr_err_prefix(err, "s3 list 's3://%s/%s'", s->bucket, full);
        }
        req_release(&r);
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
    struct s3 *s = (struct s3 *)st;
    struct edr_s3_upload_page page = {0};
    char *full = full_key(s, prefix != NULL ? prefix : ""), *km = NULL, *um = NULL, mk[16];
    time_t now = time(NULL);
    size_t i;
    edr_rc rc = EDR_OK;

    if (full == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
    snprintf(mk, sizeof(mk), "%d", s->max_keys);
    for (;;) {
        struct edr_s3_qparam q[5];
        struct req r = {0};
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
        rc = request(s, &r, err);
        if (rc == EDR_OK && (r.status == 501 || r.status == 405)) {
            edr_warn("s3 endpoint '%s' cannot list multipart uploads (HTTP %ld): abandoned"
                     " uploads under '%s' are not cleaned up",
                     s->endpoint, r.status, full);
            req_release(&r);
            break;
        }
        if (rc == EDR_OK && r.status != 200)
            rc = http_error(s, &r, err);
        if (rc == EDR_OK) {
            rc = edr_s3_xml_list_uploads((char *)r.resp.data, r.resp.len, &page, err);
            if (rc != EDR_OK)
                edr_err_prefix(err, "s3 list uploads 's3://%s/%s'", s->bucket, full);
        }
        req_release(&r);
        if (rc != EDR_OK)
            break;
        for (i = 0; i < page.n && rc == EDR_OK; i++) {
            struct edr_s3_qparam aq[] = {{"uploadId", page.ups[i].upload_id}};
            struct req a = {0};

            if (now - page.ups[i].initiated < age_s)
                continue;
            a.method = "DELETE";
            a.key = page.ups[i].key;
            a.q = aq;
            a.nq = 1;
            rc = request(s, &a, err);
            if (rc == EDR_OK && a.status != 204 && a.status != 200 && a.status != 404)
                rc = http_error(s, &a, err);
            if (rc == EDR_OK)
                edr_info("s3: aborted the incomplete upload of '%s' started %lds ago",
                         page.ups[i].key, (long)(now - page.ups[i].initiated));
            req_release(&a);
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

/* ---- lock ---------------------------------------------------------------- */

/*
 * The lock is an object holding JSON {owner, host, pid, boot_id, pid_ns,
 * token, created, expires}. It is created with a conditional PUT
 * (If-None-Match: *), which S3 answers with 412 when the object exists. A
 * stale lock (past expires) is replaced with If-Match on the ETag that was
 * read, so two runs cannot both take it over. So is a lock whose holder is
 * known to be gone before it expires: a run that failed because the server
 * went away cannot remove its lock, and the next run on the same machine
 * would otherwise wait for hours. "Known to be gone" is strict: same host
 * name, same boot (boot_id) and same pid namespace (containers sharing a
 * host name do not share pids), and no such pid any more. Servers that
 * ignore conditional headers are covered on a best-effort basis: the lock is
 * read first and read back after the write, and only a read-back with our
 * random token counts as taken; two writers racing within that window could
 * still both believe they hold it.
 */
struct edr_storage_lock {
    char *key;
    char token[33];
};

struct lock_info {
    char owner[256];
    char host[256];
    long long pid;
    char boot_id[64];
    char pid_ns[64];
    char token[64];
    long long expires;
    char etag[200];
};

/* Where this process runs: boot id and pid namespace ("" when unknown). */
static void
process_place(char boot_id[64], char pid_ns[64])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    ssize_t n;

    boot_id[0] = pid_ns[0] = '\0';
    if (f != NULL) {
        if (fgets(boot_id, 64, f) == NULL)
            boot_id[0] = '\0';
        fclose(f);
        trim_in_place(boot_id);
    }
    n = readlink("/proc/self/ns/pid", pid_ns, 63);
    pid_ns[n > 0 ? n : 0] = '\0';
}

/* Non-zero when the lock's holder certainly no longer runs (see above). */
static int
holder_gone(const struct lock_info *li, const char *host)
{
    char boot_id[64], pid_ns[64];

    if (li->pid <= 0 || li->pid > 0x7fffffff || strcmp(li->host, host) != 0 ||
        li->pid == (long long)getpid())
        return 0;
    process_place(boot_id, pid_ns);
    if (boot_id[0] == '\0' || pid_ns[0] == '\0' || strcmp(li->boot_id, boot_id) != 0 ||
        strcmp(li->pid_ns, pid_ns) != 0)
        return 0;
    return kill((pid_t)li->pid, 0) != 0 && errno == ESRCH;
}

/* Keep s on one line (it goes into messages): control characters become
 * spaces, the ends are trimmed. */
static void
one_line(char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    trim_in_place(s);
}

static void
iso_utc(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", t);
}

/* 0 = read, 1 = no lock object, <0 = error in err. */
static int
lock_read(struct s3 *s, const char *key, struct lock_info *li, struct edr_err *err)
{
    struct req r = {0};
    json_t *j = NULL;
    json_error_t je;
    int res = -1;

    memset(li, 0, sizeof(*li));
    r.method = "GET";
    r.key = key;
    if (request(s, &r, err) != EDR_OK)
        goto out;
    if (r.status == 404) {
        res = 1;
        goto out;
    }
    if (r.status != 200) {
        http_error(s, &r, err);
        goto out;
    }
    snprintf(li->etag, sizeof(li->etag), "%s", r.etag);
    j = json_loadb(r.resp.data != NULL ? (char *)r.resp.data : "", r.resp.len, 0, &je);
    if (j == NULL || !json_is_object(j)) {
        /* Unreadable: treat as a lock held by an unknown owner that expires
         * never; the user has to remove it. */
        snprintf(li->owner, sizeof(li->owner), "unknown (unreadable lock object)");
        li->expires = (long long)1 << 62;
        res = 0;
        goto out;
    }
    snprintf(li->owner, sizeof(li->owner), "%s",
             json_string_value(json_object_get(j, "owner")) ?: "?");
    one_line(li->owner);
    snprintf(li->host, sizeof(li->host), "%s",
             json_string_value(json_object_get(j, "host")) ?: "?");
    one_line(li->host);
    snprintf(li->token, sizeof(li->token), "%s",
             json_string_value(json_object_get(j, "token")) ?: "");
    snprintf(li->boot_id, sizeof(li->boot_id), "%s",
             json_string_value(json_object_get(j, "boot_id")) ?: "");
    snprintf(li->pid_ns, sizeof(li->pid_ns), "%s",
             json_string_value(json_object_get(j, "pid_ns")) ?: "");
    li->pid = json_integer_value(json_object_get(j, "pid"));
    li->expires = json_integer_value(json_object_get(j, "expires"));
    res = 0;
out:
    json_decref(j);
    req_release(&r);
    return res;
}

/* 0 = written, 1 = precondition failed, <0 = error. */
static int
lock_write(struct s3 *s, const char *key, const char *body, const char *cond_name,
           const char *cond_value, struct edr_err *err)
{
    struct req r = {0};
    int res = -1;

    r.method = "PUT";
    r.key = key;
    r.body = body;
    r.body_len = strlen(body);
    r.xname[0] = "content-type";
    r.xvalue[0] = "application/json";
    r.xname[1] = cond_name;
    r.xvalue[1] = cond_value;
    r.nx = 2;
    if (request(s, &r, err) != EDR_OK)
        goto out;
    if (r.status == 412 || r.status == 409 ||
        (r.status == 404 && strcmp(cond_name, "if-match") == 0))
        res = 1;
    else if (r.status != 200)
        http_error(s, &r, err);
    else
        res = 0;
out:
    req_release(&r);
    return res;
}

static edr_rc
s3_lock(struct edr_storage *st, const char *name, const char *owner, int wait_s, int ttl_s,
        struct edr_storage_lock **out, struct edr_err *err)
{
    struct s3 *s = (struct s3 *)st;
    struct edr_storage_lock *l = calloc(1, sizeof(*l));
    struct lock_info li;
    unsigned char rnd[16];
    char host[256] = "?", boot_id[64], pid_ns[64], *body = NULL;
    time_t deadline = time(NULL) + (wait_s > 0 ? wait_s : 0);
    json_t *j = NULL;
    edr_rc rc = EDR_OK;

    *out = NULL;
    if (l == NULL || (l->key = full_key(s, name)) == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
        goto out;
    }
    randombytes_buf(rnd, sizeof(rnd));
    edr_hex(rnd, sizeof(rnd), l->token);
    gethostname(host, sizeof(host) - 1);
    process_place(boot_id, pid_ns);
    for (;;) {
        time_t now = time(NULL);
        int r = lock_read(s, l->key, &li, err);
        int w, gone = 0;

        if (r < 0) {
            rc = edr_err_prefix(err, "lock");
            goto out;
        }
        if (r == 0 && strcmp(li.token, l->token) == 0)
            break; /* ours: a lost answer to a PUT that went through, then 412 */
        if (r == 0 && li.expires > (long long)now)
            gone = holder_gone(&li, host);
        if (r == 0 && li.expires > (long long)now && !gone) {
            if (now >= deadline) {
                char until[32];
                iso_utc(li.expires, until);
                rc = edr_err_set(err, EDR_E_LOCK,
                                 "repository 's3://%s/%s' is locked by %s (host %s, pid %lld)"
                                 " until %s",
                                 s->bucket, l->key, li.owner, li.host, li.pid, until);
                edr_err_hint(err, "wait for the other run; if it died, the lock expires by"
                                  " itself, or remove the lock object");
                goto out;
            }
            if (interrupted()) {
                rc = edr_err_set(err, EDR_E_INTERRUPTED,
                                 "interrupted while waiting for the lock 's3://%s/%s'", s->bucket,
                                 l->key);
                goto out;
            }
            sleep(1);
            continue;
        }
        json_decref(j);
        j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "owner",
                      owner != NULL ? owner : "", "host", host, "pid", (json_int_t)getpid(),
                      "boot_id", boot_id, "pid_ns", pid_ns, "token", l->token, "created",
                      (json_int_t)now, "expires", (json_int_t)(now + (ttl_s > 0 ? ttl_s : 3600)));
        free(body);
        body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        if (body == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "lock: out of memory");
            goto out;
        }
        if (r == 0 && gone) {
            edr_warn("taking over the lock 's3://%s/%s' of %s (host %s, pid %lld): that process"
                     " is no longer running",
                     s->bucket, l->key, li.owner, li.host, li.pid);
            w = lock_write(s, l->key, body, "if-match", li.etag, err);
        } else if (r == 0) {
            edr_warn("taking over the stale lock 's3://%s/%s' of %s (host %s, pid %lld), expired"
                     " %llds ago",
                     s->bucket, l->key, li.owner, li.host, li.pid, (long long)now - li.expires);
            w = lock_write(s, l->key, body, "if-match", li.etag, err);
        } else {
            w = lock_write(s, l->key, body, "if-none-match", "*", err);
        }
        if (w < 0) {
            rc = edr_err_prefix(err, "lock");
            goto out;
        }
        if (w == 0) {
            /* Read back: only our token means we hold it. */
            r = lock_read(s, l->key, &li, err);
            if (r < 0) {
                rc = edr_err_prefix(err, "lock");
                goto out;
            }
            if (r == 0 && strcmp(li.token, l->token) == 0)
                break;
        }
        if (time(NULL) >= deadline && w == 1)
            continue; /* report the holder on the next round */
    }
    *out = l;
    l = NULL;
out:
    json_decref(j);
    free(body);
    if (l != NULL) {
        free(l->key);
        free(l);
    }
    return rc;
}

static void
s3_unlock(struct edr_storage *st, struct edr_storage_lock *l)
{
    struct s3 *s = (struct s3 *)st;
    struct lock_info li;
    struct edr_err err;

    if (l == NULL)
        return;
    edr_err_clear(&err);
    if (lock_read(s, l->key, &li, &err) == 0) {
        if (strcmp(li.token, l->token) == 0) {
            /* del() wants a name relative to the root */
            if (s3_del(st, l->key + strlen(s->root), &err) != EDR_OK)
                edr_warn("unable to remove the lock 's3://%s/%s': %s", s->bucket, l->key, err.msg);
        } else {
            edr_warn("the lock 's3://%s/%s' was taken over by %s (host %s); not removing it",
                     s->bucket, l->key, li.owner, li.host);
        }
    } else if (err.code != EDR_OK) {
        edr_warn("unable to read the lock 's3://%s/%s': %s", s->bucket, l->key, err.msg);
    }
    free(l->key);
    free(l);
}

/* ---- open/free ----------------------------------------------------------- */

static void
s3_free(struct edr_storage *st)
{
    struct s3 *s = (struct s3 *)st;

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
    "s3", s3_put_open, s3_get, s3_list, s3_del, s3_stat, s3_lock, s3_unlock, s3_cleanup, s3_free,
};

edr_rc
edr_storage_s3_open(const char *url, const struct edr_storage_opts *opts, struct edr_storage **out,
                    struct edr_err *err)
{
    struct s3 *s;
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
