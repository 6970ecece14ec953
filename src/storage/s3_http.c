/*
 * One S3 request over libcurl: signed (s3_sigv4.c) at each try, its answer
 * (status, ETag, length, date, body into memory or a sink) collected, and
 * retried with exponential backoff on 5xx, SlowDown, timeouts and connection
 * resets. A stop request (edr_storage_opts.interrupted) makes the request in
 * flight give up.
 * Errors name the request and carry S3's own code and message.
 */
#include "storage/s3_int.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "storage/s3.h"
#include "storage/s3_xml.h"

#define MAX_RESP_BODY (32u << 20)
#define STOPPING_TIMEOUT_S 10L

/* libcurl calls this about once a second, also while nothing moves. */
static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct edr_s3 *s = ud;

    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return edr_storage_interrupted(&s->base);
}

static void
req_reset(struct edr_s3_req *r)
{
    r->status = 0;
    r->resp.len = 0;
    edr_buf_reset(&r->resp);
    r->sunk = 0;
    r->sink_rc = EDR_OK;
    r->etag[0] = '\0';
    r->clen = 0;
    r->have_clen = 0;
    r->mtime = 0;
    r->meta[0] = '\0';
    r->cc = CURLE_OK;
    r->curlerr[0] = '\0';
    r->upos = 0;
    r->skip = 0;
    r->body_started = 0;
}

void
edr_s3_req_release(struct edr_s3_req *r)
{
    edr_buf_release(&r->resp);
    r->resp.len = r->resp.cap = 0;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct edr_s3_req *r = ud;
    size_t len = sz * n, vlen;
    const char *v;

    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
        r->etag[0] = '\0';
        r->have_clen = 0;
        r->meta[0] = '\0';
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
    } else if (strncasecmp(p, "x-amz-meta-", 11) == 0) {
        /* user metadata (k3s puts its cluster id and node name there); what
         * does not fit is left out, never cut */
        size_t used = strlen(r->meta), nlen = (size_t)(v - p) - 11;
        while (nlen > 0 && (p[11 + nlen - 1] == ':' || p[11 + nlen - 1] == ' '))
            nlen--;
        if (used + nlen + vlen + 3 <= sizeof(r->meta)) {
            for (size_t i = 0; i < nlen; i++)
                r->meta[used++] = (char)tolower((unsigned char)p[11 + i]);
            r->meta[used++] = '=';
            memcpy(r->meta + used, v, vlen);
            used += vlen;
            r->meta[used++] = '\n';
            r->meta[used] = '\0';
        }
    }
    return len;
}

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct edr_s3_req *r = ud;
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
    struct edr_s3_req *r = ud;
    size_t want = sz * n, left = r->body_len - r->upos;

    if (want > left)
        want = left;
    memcpy(buf, (const char *)r->body + r->upos, want);
    r->upos += want;
    return want;
}

int
edr_s3_tls_error(CURLcode cc)
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

static void
what_str(struct edr_s3 *s, const struct edr_s3_req *r, char *buf, size_t n)
{
    snprintf(buf, n, "s3 %s 's3://%s/%s'", r->method, s->bucket, r->key != NULL ? r->key : "");
}

enum edr_s3_attempt
edr_s3_attempt(struct edr_s3 *s, struct edr_s3_req *r, struct edr_err *err)
{
    struct edr_s3_header h[6 + EDR_S3_MAX_EXTRA];
    struct edr_s3_sign_in in;
    struct curl_slist *hl = NULL;
    char *ekey = NULL, *path = NULL, *query = NULL, *auth = NULL, *url = NULL, *line = NULL;
    char *host = NULL, sig[EDR_S3_SIG_HEX_LEN], sha[EDR_S3_SIG_HEX_LEN], date[17], what[512];
    size_t nh = 0, i;
    enum edr_s3_attempt res = EDR_S3_FATAL;
    int bad = 0, stopping = edr_storage_interrupted(&s->base);

    req_reset(r);
    r->curl = s->curl;
    edr_s3_amz_date(time(NULL), date);
    edr_s3_payload_hash(r->body, r->body_len, sha);
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
    } else if (s->base.interrupted != NULL) {
        curl_easy_setopt(s->curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(s->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(s->curl, CURLOPT_XFERINFODATA, s);
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
        res = EDR_S3_FATAL; /* the sink's error is in r->sink_err */
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
        res = EDR_S3_TRANSPORT;
        goto out;
    }
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &r->status);
    res = EDR_S3_HTTP;
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

edr_rc
edr_s3_transport_error(struct edr_s3 *s, const struct edr_s3_req *r, int tries, struct edr_err *err)
{
    char what[512];

    if (edr_s3_tls_error(r->cc))
        return edr_err_set(err, EDR_E_TLS, "s3 endpoint '%s': tls: %s", s->endpoint, r->curlerr);
    if (r->cc == CURLE_COULDNT_CONNECT || r->cc == CURLE_COULDNT_RESOLVE_HOST ||
        r->cc == CURLE_COULDNT_RESOLVE_PROXY)
        return edr_err_set(err, EDR_E_REPO, "s3 endpoint '%s': unreachable: %s", s->endpoint,
                           r->curlerr);
    what_str(s, r, what, sizeof(what));
    return edr_err_set(err, EDR_E_REPO, "%s: %s (%d tries)", what, r->curlerr, tries);
}

/* The error for a non-2xx answer: S3's code and message when it sent them. */
edr_rc
edr_s3_http_error(struct edr_s3 *s, const struct edr_s3_req *r, struct edr_err *err)
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

int
edr_s3_retryable(const struct edr_s3_req *r)
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

void
edr_s3_backoff(struct edr_s3 *s, int tryno)
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
edr_rc
edr_s3_request(struct edr_s3 *s, struct edr_s3_req *r, struct edr_err *err)
{
    int tryno;

    for (tryno = 1;; tryno++) {
        enum edr_s3_attempt a = edr_s3_attempt(s, r, err);
        if (a == EDR_S3_FATAL)
            return r->sink_rc != EDR_OK ? r->sink_rc : err->code;
        if (a == EDR_S3_HTTP && !edr_s3_retryable(r))
            return EDR_OK;
        if (tryno >= EDR_S3_MAX_TRIES || (a == EDR_S3_TRANSPORT && edr_s3_tls_error(r->cc)) ||
            edr_storage_interrupted(&s->base))
            break;
        if (a == EDR_S3_TRANSPORT)
            edr_debug("s3 %s '%s': %s; retrying", r->method, r->key ? r->key : "", r->curlerr);
        else
            edr_debug("s3 %s '%s': HTTP %ld; retrying", r->method, r->key ? r->key : "", r->status);
        edr_s3_backoff(s, tryno);
    }
    if (r->cc != CURLE_OK)
        return edr_s3_transport_error(s, r, tryno, err);
    return edr_s3_http_error(s, r, err);
}
