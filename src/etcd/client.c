/*
 * The etcd gRPC client: endpoints, one libcurl easy handle per endpoint
 * (reused so the HTTP/2 connection stays open between calls), unary calls
 * (Status, MemberList, Authenticate), the streaming Snapshot with its size
 * and SHA-256 checks, and endpoint ranking. libcurl does the HTTP/2 and TLS;
 * framing, protobuf and status handling live in grpc.c and proto.c.
 */
#include "etcd/client.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "etcd/grpc.h"
#include "etcd/proto.h"
#include "etcd/snapshot.h"
#include "mvcc/mvcc.h"

#ifndef EDR_VERSION
#define EDR_VERSION "dev"
#endif

#define URL_MAX 200
#define SNAPSHOT_BUFFER (512 * 1024)
#define CALL_WATCH 2

struct endpoint {
    char url[URL_MAX + 1];
    int tls;
    CURL *curl;
    char *token;  /* auth token, NULL until authenticated (or auth disabled) */
    int auth_off; /* the server said auth is not enabled */
};

struct edr_etcd_client {
    struct endpoint *eps;
    size_t n;
    char *cacert, *cert, *key;
    int insecure;
    char *user;
    char *password; /* sodium_malloc */
    long connect_s, stall_s, request_s;
    int (*interrupted)(void);
};

/* One call in flight. */
struct call {
    struct edr_etcd_client *c;
    struct endpoint *ep;
    const char *method;
    int streaming; /* 0 unary, 1 snapshot, CALL_WATCH */
    struct edr_grpc_dec dec;
    struct edr_grpc_status gs;
    edr_rc cb_rc;
    struct edr_err cb_err;
    /* unary result */
    uint8_t *resp;
    size_t resp_len;
    size_t nresp;
};

/* -- endpoints and client ------------------------------------------------ */

/* Truncating copy (snprintf("%s") without the truncation warnings). */
static void
copy_trunc(char *dst, size_t dstsz, const char *src)
{
    size_t n = strlen(src);

    if (n >= dstsz)
        n = dstsz - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void
wipe_free(char *s)
{
    if (s != NULL) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

static edr_rc
add_endpoint(struct edr_etcd_client *c, const char *s, size_t len, int tls_default,
             struct edr_err *err)
{
    struct endpoint *ep = &c->eps[c->n];
    const char *sep, *host;
    char url[URL_MAX - 8];
    size_t hostlen;

    if (len > 160)
        return edr_err_set(err, EDR_E_USAGE, "endpoint '%.40s...': too long", s);
    memcpy(url, s, len);
    url[len] = '\0';
    for (size_t k = 0; k < len; k++) {
        if ((unsigned char)url[k] <= ' ' || url[k] == 0x7f)
            return edr_err_set(err, EDR_E_USAGE,
                               "endpoint '%s': contains a blank or control "
                               "character",
                               url);
    }
    sep = strstr(url, "://");
    host = sep != NULL ? sep + 3 : url;
    if (sep != NULL) {
        size_t sl = (size_t)(sep - url);
        if (sl == 4 && strncasecmp(url, "http", 4) == 0) {
            ep->tls = 0;
        } else if (sl == 5 && strncasecmp(url, "https", 5) == 0) {
            ep->tls = 1;
        } else {
            return edr_err_set(err, EDR_E_USAGE,
                               "endpoint '%s': unsupported scheme (use http:// or https://)", url);
        }
    } else {
        ep->tls = tls_default;
    }
    hostlen = strlen(host);
    while (hostlen > 0 && host[hostlen - 1] == '/')
        hostlen--;
    if (hostlen == 0)
        return edr_err_set(err, EDR_E_USAGE, "endpoint '%s': no host", url);
    snprintf(ep->url, sizeof(ep->url), "%s://%.*s", ep->tls ? "https" : "http", (int)hostlen, host);
    c->n++;
    return EDR_OK;
}

edr_rc
edr_etcd_client_new(const struct edr_etcd_opts *o, struct edr_etcd_client **out,
                    struct edr_err *err)
{
    struct edr_etcd_client *c = NULL;
    const char *p;
    size_t cap = 1;
    int tls_default;
    edr_rc rc = EDR_OK;

    *out = NULL;
    if (o->endpoints == NULL)
        return edr_err_set(err, EDR_E_USAGE, "no etcd endpoint given");
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "libsodium initialisation failed");
    for (p = o->endpoints; *p; p++)
        cap += *p == ',';
    c = calloc(1, sizeof(*c));
    if (c == NULL || (c->eps = calloc(cap, sizeof(*c->eps))) == NULL) {
        free(c);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(c->eps);
        free(c);
        return edr_err_set(err, EDR_E_INTERNAL, "libcurl initialisation failed");
    }
    /* like etcdctl: a bare host:port speaks TLS when TLS material is given */
    tls_default = (o->cacert != NULL && *o->cacert) || (o->cert != NULL && *o->cert);
    p = o->endpoints;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        while (len > 0 && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (len > 0 && (rc = add_endpoint(c, s, len, tls_default, err)) != EDR_OK)
            goto out;
        if (e == NULL)
            break;
        p = e + 1;
    }
    if (c->n == 0) {
        rc = edr_err_set(err, EDR_E_USAGE, "no etcd endpoint given");
        goto out;
    }
    c->insecure = o->insecure_skip_tls_verify;
    c->connect_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : 5;
    c->stall_s = o->stall_timeout_s > 0 ? o->stall_timeout_s : 60;
    c->request_s = o->request_timeout_s > 0 ? o->request_timeout_s : 10;
    c->interrupted = o->interrupted;
    if ((o->cacert && !(c->cacert = strdup(o->cacert))) ||
        (o->cert && !(c->cert = strdup(o->cert))) || (o->key && !(c->key = strdup(o->key))) ||
        (o->user && !(c->user = strdup(o->user)))) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if (o->user != NULL) {
        const char *pw = o->password != NULL ? o->password : "";
        size_t pl = strlen(pw);
        c->password = sodium_malloc(pl + 1);
        if (c->password == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of secure memory for the etcd password");
            goto out;
        }
        memcpy(c->password, pw, pl + 1);
    }
    *out = c;
    c = NULL;
out:
    edr_etcd_client_free(c);
    return rc;
}

void
edr_etcd_client_free(struct edr_etcd_client *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        if (c->eps[i].curl != NULL)
            curl_easy_cleanup(c->eps[i].curl);
        wipe_free(c->eps[i].token);
    }
    free(c->eps);
    free(c->cacert);
    free(c->cert);
    free(c->key);
    free(c->user);
    if (c->password != NULL)
        sodium_free(c->password);
    free(c);
    curl_global_cleanup();
}

size_t
edr_etcd_endpoint_count(const struct edr_etcd_client *c)
{
    return c->n;
}

const char *
edr_etcd_endpoint(const struct edr_etcd_client *c, size_t i)
{
    return i < c->n ? c->eps[i].url : NULL;
}

/* -- one gRPC call ------------------------------------------------------- */

static size_t
header_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct call *k = ud;

    edr_grpc_status_line(&k->gs, buf, size * n);
    return size * n;
}

static size_t
write_cb(char *buf, size_t size, size_t n, void *ud)
{
    struct call *k = ud;
    size_t len = size * n;

    if (k->cb_rc != EDR_OK)
        return 0;
    if (k->gs.http_status != 200 || !k->gs.is_grpc)
        return len; /* not a gRPC body; reported after the transfer */
    k->cb_rc = edr_grpc_dec_feed(&k->dec, (const uint8_t *)buf, len, &k->cb_err);
    return k->cb_rc == EDR_OK ? len : 0;
}

static int
xferinfo_cb(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    struct call *k = ud;

    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return k->c->interrupted != NULL && k->c->interrupted() != 0;
}

static int
is_tls_error(CURLcode cc)
{
    switch (cc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED:
#if LIBCURL_VERSION_NUM >= 0x074d00
    case CURLE_SSL_CLIENTCERT:
#endif
        return 1;
    default:
        return 0;
    }
}

/* Message for a failed transfer. */
static edr_rc
curl_failure(struct call *k, CURLcode cc, const char *errbuf, struct edr_err *err)
{
    const char *what = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc);
    edr_rc rc;

    if (cc == CURLE_ABORTED_BY_CALLBACK)
        return edr_err_set(err, EDR_E_INTERRUPTED, "etcd '%s': %s: interrupted", k->ep->url,
                           k->method);
    if (cc == CURLE_OPERATION_TIMEDOUT && k->streaming)
        return edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: no data received for %ld s (%s)",
                           k->ep->url, k->method, k->c->stall_s, what);
    int early = k->gs.http_status == 0; /* nothing came back */
    int dropped =
        early && (cc == CURLE_SEND_ERROR || cc == CURLE_RECV_ERROR || cc == CURLE_GOT_NOTHING ||
                  cc == CURLE_HTTP2 || cc == CURLE_HTTP2_STREAM || cc == CURLE_PARTIAL_FILE);

    if (k->ep->tls && dropped && k->c->cert == NULL) {
        /* TLS 1.3: a server that wants a client certificate drops the
         * connection after the handshake, which surfaces as a send/recv error */
        edr_err_set(err, EDR_E_TLS, "etcd '%s': %s: %s", k->ep->url, k->method, what);
        edr_err_hint(err, "etcd closed the TLS connection; it may require a client "
                          "certificate: give --cert and --key");
        return EDR_E_TLS;
    }
    rc = is_tls_error(cc) ? EDR_E_TLS : EDR_E_ETCD;
    edr_err_set(err, rc, "etcd '%s': %s: %s", k->ep->url, k->method, what);
    if (rc == EDR_E_TLS)
        edr_err_hint(err, "check --cacert (the CA that signed etcd's server certificate), "
                          "--cert/--key for client certificates, or the endpoint's scheme");
    else if (!k->ep->tls && dropped)
        edr_err_hint(err, "if etcd serves TLS on this port, use an https:// endpoint");
    return rc;
}

/* Set up endpoint k->ep's handle for one call; `frame` is the complete
 * request body (prefix and message). *hdrs_out goes to call_outcome. */
static edr_rc
call_prepare(struct call *k, const char *service, const uint8_t *frame, size_t flen, int use_token,
             struct curl_slist **hdrs_out, char *errbuf, struct edr_err *err)
{
    struct edr_etcd_client *c = k->c;
    struct endpoint *ep = k->ep;
    struct curl_slist *hdrs = NULL, *tmp;
    char url[URL_MAX + 96];

    *hdrs_out = NULL;
    if (c->interrupted != NULL && c->interrupted())
        return edr_err_set(err, EDR_E_INTERRUPTED, "etcd '%s': %s: interrupted", ep->url,
                           k->method);
    if (ep->curl == NULL) {
        ep->curl = curl_easy_init();
        if (ep->curl == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "curl_easy_init failed");
    } else {
        curl_easy_reset(ep->curl); /* keeps the connection */
    }
    edr_grpc_status_init(&k->gs);
    k->cb_rc = EDR_OK;
    edr_err_clear(&k->cb_err);
    errbuf[0] = '\0';
    snprintf(url, sizeof(url), "%s/etcdserverpb.%s/%s", ep->url, service, k->method);

    hdrs = curl_slist_append(hdrs, "content-type: application/grpc");
    if (hdrs != NULL && (tmp = curl_slist_append(hdrs, "te: trailers")) != NULL)
        hdrs = tmp;
    if (hdrs != NULL && (tmp = curl_slist_append(hdrs, "Expect:")) != NULL)
        hdrs = tmp;
    if (hdrs != NULL && use_token && ep->token != NULL) {
        size_t tl = strlen(ep->token) + 8;
        char *line = malloc(tl);
        if (line == NULL)
            tmp = NULL;
        else {
            snprintf(line, tl, "token: %s", ep->token);
            tmp = curl_slist_append(hdrs, line);
            sodium_memzero(line, tl);
            free(line);
        }
        if (tmp == NULL) {
            curl_slist_free_all(hdrs);
            hdrs = NULL;
        }
    }
    if (hdrs == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");

    CURL *h = ep->curl;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                     ep->tls ? (long)CURL_HTTP_VERSION_2TLS
                             : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    if (!ep->tls && curl_version_info(CURLVERSION_NOW)->version_num < 0x080000) {
        /* libcurl before 8.0 breaks a reused prior-knowledge h2 connection
         * ("Error in the HTTP2 framing layer", curl issue 10634): one
         * connection per call on cleartext endpoints */
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
    }
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)frame);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)flen);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "etcd-dr/" EDR_VERSION);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, k);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, k);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, c->connect_s);
    if (k->streaming == CALL_WATCH) {
        /* a watch is quiet while the cluster is: no stall limit, but TCP
         * keepalives notice a member that went away */
        curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 10L);
        curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 5L);
    } else if (k->streaming) {
        /* no total timeout: a big snapshot takes as long as it takes */
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_s);
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)SNAPSHOT_BUFFER);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT, c->request_s);
    }
    if (c->interrupted != NULL) {
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, k);
    }
    if (ep->tls) {
        if (c->cacert != NULL)
            curl_easy_setopt(h, CURLOPT_CAINFO, c->cacert);
        if (c->cert != NULL)
            curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert);
        if (c->key != NULL)
            curl_easy_setopt(h, CURLOPT_SSLKEY, c->key);
        if (c->insecure) {
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
            curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
        }
    }

    edr_debug("etcd '%s': calling %s.%s", ep->url, service, k->method);
    *hdrs_out = hdrs;
    return EDR_OK;
}

/* The outcome of a finished transfer of call k: the callbacks' error, the
 * transfer's, the gRPC status, or a response that is not gRPC. Releases the
 * request headers. */
static edr_rc
call_outcome(struct call *k, CURLcode cc, const char *errbuf, struct curl_slist *hdrs,
             int *grpc_code, struct edr_err *err)
{
    struct endpoint *ep = k->ep;
    CURL *h = ep->curl;
    long httpver = 0;
    edr_rc rc;

    *grpc_code = -1;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(hdrs);

    if (k->cb_rc != EDR_OK) {
        if (err != NULL)
            *err = k->cb_err;
        return k->cb_rc;
    }
    if (cc != CURLE_OK)
        return curl_failure(k, cc, errbuf, err);
    if (k->gs.have_status && k->gs.status != 0) {
        const char *m = k->gs.message[0] != '\0' ? k->gs.message : "(no grpc-message)";
        *grpc_code = k->gs.status;
        rc = edr_grpc_status_rc(k->gs.status, k->gs.message);
        edr_err_set(err, rc, "etcd '%s': %s: %s (grpc status %d %s)", ep->url, k->method, m,
                    k->gs.status, edr_grpc_code_name(k->gs.status));
        if (rc == EDR_E_ETCD_AUTH)
            edr_err_hint(err, "check the etcd user and password; Status and Snapshot need a "
                              "user with the root role");
        return rc;
    }
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &httpver);
    if (httpver != CURL_HTTP_VERSION_2_0)
        return edr_err_set(err, EDR_E_ETCD,
                           "etcd '%s': %s: server did not speak HTTP/2 "
                           "(not an etcd gRPC endpoint?)",
                           ep->url, k->method);
    if (k->gs.http_status != 200)
        return edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: unexpected HTTP status %d", ep->url,
                           k->method, k->gs.http_status);
    if (!k->gs.is_grpc)
        return edr_err_set(err, EDR_E_ETCD,
                           "etcd '%s': %s: response is not gRPC "
                           "(content-type is not application/grpc)",
                           ep->url, k->method);
    if ((rc = edr_grpc_dec_finish(&k->dec, err)) != EDR_OK)
        return edr_err_prefix(err, "etcd '%s': %s", ep->url, k->method);
    if (!k->gs.have_status)
        return edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: response ended without grpc-status",
                           ep->url, k->method);
    return EDR_OK;
}

/* Run one call on endpoint k->ep. `frame` is the complete request body
 * (prefix and message). *grpc_code receives the gRPC status when the failure
 * is a gRPC error, else -1. */
static edr_rc
perform(struct call *k, const char *service, const uint8_t *frame, size_t flen, int use_token,
        int *grpc_code, struct edr_err *err)
{
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    edr_rc rc;

    *grpc_code = -1;
    rc = call_prepare(k, service, frame, flen, use_token, &hdrs, errbuf, err);
    if (rc != EDR_OK)
        return rc;
    return call_outcome(k, curl_easy_perform(k->ep->curl), errbuf, hdrs, grpc_code, err);
}

/* Unary response collector: exactly one message. */
static edr_rc
unary_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    struct call *k = ud;

    if (k->nresp++ > 0)
        return edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: more than one response message",
                           k->ep->url, k->method);
    k->resp = malloc(len > 0 ? len : 1);
    if (k->resp == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory for a %zu-byte response", len);
    if (len > 0)
        memcpy(k->resp, msg, len);
    k->resp_len = len;
    return EDR_OK;
}

static void
call_release(struct call *k)
{
    edr_grpc_dec_release(&k->dec);
    free(k->resp);
    k->resp = NULL;
}

static edr_rc
unary(struct call *k, const char *service, const uint8_t *frame, size_t flen, int use_token,
      int *grpc_code, struct edr_err *err)
{
    edr_rc rc;

    edr_grpc_dec_init(&k->dec, 0, unary_msg, k);
    rc = perform(k, service, frame, flen, use_token, grpc_code, err);
    if (rc == EDR_OK && k->nresp != 1)
        rc = edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: no response message", k->ep->url,
                         k->method);
    return rc;
}

static void
call_init(struct call *k, struct edr_etcd_client *c, size_t i, const char *method)
{
    memset(k, 0, sizeof(*k));
    k->c = c;
    k->ep = &c->eps[i];
    k->method = method;
}

/* -- auth -------------------------------------------------------------- */

static edr_rc
authenticate(struct edr_etcd_client *c, size_t i, struct edr_err *err)
{
    struct endpoint *ep = &c->eps[i];
    struct edr_pb_auth_resp ar;
    struct call k;
    uint8_t *frame = NULL;
    size_t mlen, flen;
    int code;
    edr_rc rc;

    wipe_free(ep->token);
    ep->token = NULL;
    ep->auth_off = 0;
    mlen = edr_pb_encode_auth_req(NULL, 0, c->user, c->password);
    flen = EDR_GRPC_PREFIX + mlen;
    frame = sodium_malloc(flen);
    if (frame == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of secure memory");
    edr_grpc_frame_prefix(frame, mlen);
    edr_pb_encode_auth_req(frame + EDR_GRPC_PREFIX, mlen, c->user, c->password);

    edr_debug("etcd '%s': authenticating as '%s'", ep->url, c->user);
    call_init(&k, c, i, "Authenticate");
    rc = unary(&k, "Auth", frame, flen, 0, &code, err);
    sodium_free(frame);
    if (rc != EDR_OK) {
        if (code == 9 && strstr(k.gs.message, "authentication is not enabled") != NULL) {
            edr_debug("etcd '%s': auth is not enabled; continuing without a token", ep->url);
            edr_err_clear(err);
            ep->auth_off = 1;
            rc = EDR_OK;
        } else if (code == 3 && rc == EDR_E_ETCD_AUTH) {
            edr_err_hint(err, "check the etcd user name and password");
        }
        goto out;
    }
    if ((rc = edr_pb_decode_auth_resp(k.resp, k.resp_len, &ar, err)) != EDR_OK) {
        edr_err_prefix(err, "etcd '%s': Authenticate", ep->url);
        goto out;
    }
    if (ar.token_len == 0) {
        rc = edr_err_set(err, EDR_E_ETCD_AUTH, "etcd '%s': Authenticate: empty token", ep->url);
        goto out;
    }
    for (size_t j = 0; j < ar.token_len; j++) {
        if (ar.token[j] < 0x21 || ar.token[j] > 0x7e) {
            rc = edr_err_set(err, EDR_E_ETCD_AUTH,
                             "etcd '%s': Authenticate: token is not printable ASCII", ep->url);
            goto out;
        }
    }
    ep->token = malloc(ar.token_len + 1);
    if (ep->token == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    memcpy(ep->token, ar.token, ar.token_len);
    ep->token[ar.token_len] = '\0';
out:
    if (k.resp != NULL)
        sodium_memzero(k.resp, k.resp_len);
    call_release(&k);
    return rc;
}

/* A unary call with auth: authenticates first when needed, and once more when
 * the server says the token went stale. The response is left in k->resp. */
static edr_rc
unary_auth_req(struct call *k, struct edr_etcd_client *c, size_t i, const char *service,
               const char *method, const uint8_t *frame, size_t flen, struct edr_err *err)
{
    int code, fresh = 0;
    edr_rc rc;

    call_init(k, c, i, method);
    if (c->user != NULL && c->eps[i].token == NULL && !c->eps[i].auth_off) {
        if ((rc = authenticate(c, i, err)) != EDR_OK)
            return rc;
        fresh = 1;
    }
    for (;;) {
        call_init(k, c, i, method);
        rc = unary(k, service, frame, flen, 1, &code, err);
        if (rc == EDR_OK || code != 16 || c->user == NULL || fresh)
            return rc;
        call_release(k);
        if ((rc = authenticate(c, i, err)) != EDR_OK)
            return rc;
        fresh = 1;
    }
}

/* A call whose request message is empty (Status, MemberList). */
static edr_rc
unary_auth(struct call *k, struct edr_etcd_client *c, size_t i, const char *service,
           const char *method, struct edr_err *err)
{
    static const uint8_t empty[EDR_GRPC_PREFIX] = {0, 0, 0, 0, 0};

    return unary_auth_req(k, c, i, service, method, empty, sizeof(empty), err);
}

/* -- Status, MemberList ------------------------------------------------------ */

edr_rc
edr_etcd_status(struct edr_etcd_client *c, size_t i, struct edr_etcd_status *st,
                struct edr_err *err)
{
    struct call k;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    copy_trunc(st->endpoint, sizeof(st->endpoint), c->eps[i].url);
    rc = unary_auth(&k, c, i, "Maintenance", "Status", err);
    if (rc == EDR_OK && (rc = edr_pb_decode_status_resp(k.resp, k.resp_len, st, err)) != EDR_OK)
        edr_err_prefix(err, "etcd '%s': Status", c->eps[i].url);
    call_release(&k);
    if (rc != EDR_OK) {
        st->ok = 0;
        st->rc = rc;
        copy_trunc(st->error, sizeof(st->error), err != NULL ? err->msg : "failed");
        copy_trunc(st->hint, sizeof(st->hint), err != NULL ? err->hint : "");
        return rc;
    }
    st->ok = 1;
    st->rc = EDR_OK;
    return EDR_OK;
}

edr_rc
edr_etcd_member_list(struct edr_etcd_client *c, size_t i, struct edr_etcd_member **members,
                     size_t *n, struct edr_err *err)
{
    struct call k;
    edr_rc rc;

    *members = NULL;
    *n = 0;
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    rc = unary_auth(&k, c, i, "Cluster", "MemberList", err);
    if (rc == EDR_OK && (rc = edr_pb_decode_member_list(k.resp, k.resp_len, members, n, err)))
        edr_err_prefix(err, "etcd '%s': MemberList", c->eps[i].url);
    call_release(&k);
    return rc;
}

/* -- ranking ----------------------------------------------------------- */

/* Sort key of a healthy endpoint: smaller sorts first. */
static int
rank_cmp(const struct edr_etcd_status *a, size_t ia, const struct edr_etcd_status *b, size_t ib,
         enum edr_etcd_policy p)
{
    if (p != EDR_ETCD_POLICY_FIRST) {
        int la = a->member_id == a->leader, lb = b->member_id == b->leader;
        if (a->is_learner != b->is_learner)
            return a->is_learner ? 1 : -1;
        if (la != lb) {
            if (p == EDR_ETCD_POLICY_LEADER)
                return la ? -1 : 1;
            return la ? 1 : -1;
        }
        if (a->raft_applied_index != b->raft_applied_index)
            return a->raft_applied_index > b->raft_applied_index ? -1 : 1;
    }
    return ia < ib ? -1 : ia > ib ? 1 : 0;
}

/* A NOSPACE alarm stops writes, not reads: such a member still serves a
 * sound snapshot (and one is wanted most before an operator compacts and
 * defragments). Any other alarm or error (CORRUPT) makes it unhealthy. */
static int
only_nospace(const char *errors)
{
    const char *p = errors;

    while (*p != '\0') {
        const char *e = strstr(p, "; ");
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (memmem(p, l, "alarm:NOSPACE", 13) == NULL)
            return 0;
        p += l + (e ? 2 : 0);
    }
    return 1;
}

edr_rc
edr_etcd_rank_statuses(struct edr_etcd_status *st, size_t n, enum edr_etcd_policy p, size_t *order,
                       size_t *norder, struct edr_err *err)
{
    size_t k = 0, nauth = 0, ntls = 0;
    edr_rc rc;

    for (size_t i = 0; i < n; i++) {
        st[i].healthy = 0;
        if (!st[i].ok) {
            nauth += st[i].rc == EDR_E_ETCD_AUTH;
            ntls += st[i].rc == EDR_E_TLS;
            if (st[i].error[0] == '\0')
                snprintf(st[i].error, sizeof(st[i].error), "etcd '%s': unreachable",
                         st[i].endpoint);
        } else if (st[i].alarms_and_errors[0] != '\0' && !only_nospace(st[i].alarms_and_errors)) {
            snprintf(st[i].error, sizeof(st[i].error), "etcd '%s': unhealthy: %s", st[i].endpoint,
                     st[i].alarms_and_errors);
        } else if (st[i].leader == 0) {
            snprintf(st[i].error, sizeof(st[i].error), "etcd '%s': unhealthy: no leader",
                     st[i].endpoint);
        } else {
            st[i].healthy = 1;
            st[i].error[0] = '\0';
            /* insertion sort: n is small and the sort must be stable */
            size_t j = k++;
            while (j > 0 && rank_cmp(&st[order[j - 1]], order[j - 1], &st[i], i, p) > 0) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }
    *norder = k;
    if (k > 0)
        return EDR_OK;
    rc = n > 0 && nauth == n ? EDR_E_ETCD_AUTH : n > 0 && ntls == n ? EDR_E_TLS : EDR_E_ETCD;
    edr_err_set(err, rc, "no healthy etcd endpoint");
    if (err != NULL) {
        for (size_t i = 0; i < n; i++) {
            size_t used = strlen(err->msg);
            snprintf(err->msg + used, sizeof(err->msg) - used, "%s%s", i == 0 ? ": " : "; ",
                     st[i].error);
        }
        /* one hint for all: the endpoints' own when they agree */
        for (size_t i = 0; i < n; i++) {
            if (st[i].ok || st[i].hint[0] == '\0' || strcmp(st[i].hint, st[0].hint) != 0)
                break;
            if (i == n - 1)
                edr_err_hint(err, "%s", st[0].hint);
        }
        if (err->hint[0] == '\0' && rc == EDR_E_TLS)
            edr_err_hint(err, "check --cacert (the CA that signed etcd's server certificate), "
                              "--cert/--key for client certificates, or the endpoint's scheme");
        else if (err->hint[0] == '\0' && rc == EDR_E_ETCD_AUTH)
            edr_err_hint(err, "check the etcd user and password; Status and Snapshot need a "
                              "user with the root role");
    }
    return rc;
}

edr_rc
edr_etcd_rank(struct edr_etcd_client *c, enum edr_etcd_policy p, size_t *order, size_t *norder,
              struct edr_etcd_status *statuses, struct edr_err *err)
{
    for (size_t i = 0; i < c->n; i++) {
        struct edr_err e;
        edr_err_clear(&e);
        edr_etcd_status(c, i, &statuses[i], &e);
        if (statuses[i].rc == EDR_E_INTERRUPTED)
            return edr_err_set(err, EDR_E_INTERRUPTED, "%s", e.msg);
    }
    return edr_etcd_rank_statuses(statuses, c->n, p, order, norder, err);
}

/* -- Snapshot ------------------------------------------------------------ */

edr_rc
edr_etcd_snapshot(struct edr_etcd_client *c, size_t i, struct edr_etcd_snapshot_sink *sink,
                  struct edr_etcd_snapshot_result *res, struct edr_err *err)
{
    static const uint8_t empty[EDR_GRPC_PREFIX] = {0, 0, 0, 0, 0};
    struct edr_etcd_snap_rx rx;
    struct call k;
    int code;
    edr_rc rc;

    memset(res, 0, sizeof(*res));
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    /* simple tokens expire after 5 minutes idle: always start with a fresh one */
    if (c->user != NULL && (rc = authenticate(c, i, err)) != EDR_OK)
        return rc;
    if ((rc = edr_etcd_snap_rx_init(&rx, c->eps[i].url, sink, err)) != EDR_OK)
        return rc;
    call_init(&k, c, i, "Snapshot");
    k.streaming = 1;
    edr_grpc_dec_init(&k.dec, 0, edr_etcd_snap_rx_msg, &rx);
    rc = perform(&k, "Maintenance", empty, sizeof(empty), 1, &code, err);
    if (rc == EDR_OK)
        rc = edr_etcd_snap_rx_end(&rx, res, err);
    edr_etcd_snap_rx_release(&rx);
    call_release(&k);
    return rc;
}

/* -- long-lived streams (Watch) ------------------------------------------ */

edr_rc
edr_etcd_stream_call(struct edr_etcd_client *c, size_t i, const char *service, const char *method,
                     const uint8_t *msg, size_t len, const struct edr_etcd_stream_cb *cb,
                     struct edr_err *err)
{
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE];
    struct call k;
    CURLM *multi = NULL;
    CURLcode cc = CURLE_OK;
    uint8_t *frame;
    int code, running = 1;
    edr_rc rc, tick_rc = EDR_OK;

    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    if (c->user != NULL && (rc = authenticate(c, i, err)) != EDR_OK)
        return rc;
    if ((frame = malloc(EDR_GRPC_PREFIX + len)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    edr_grpc_frame_prefix(frame, len);
    if (len > 0)
        memcpy(frame + EDR_GRPC_PREFIX, msg, len);
    call_init(&k, c, i, method);
    k.streaming = CALL_WATCH;
    edr_grpc_dec_init(&k.dec, 0, cb->on_msg, cb->ud);
    rc = call_prepare(&k, service, frame, EDR_GRPC_PREFIX + len, 1, &hdrs, errbuf, err);
    if (rc != EDR_OK)
        goto out;
    if ((multi = curl_multi_init()) == NULL ||
        curl_multi_add_handle(multi, k.ep->curl) != CURLM_OK) {
        curl_slist_free_all(hdrs);
        rc = edr_err_set(err, EDR_E_INTERNAL, "curl_multi_init failed");
        goto out;
    }
    /* the request went whole (half-closed); responses come until the server
     * or a callback ends the call. The tick runs between transfers, outside
     * libcurl's callbacks, so it may use other handles (a storage upload). */
    while (running) {
        struct CURLMsg *m;
        int left;

        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        while ((m = curl_multi_info_read(multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE)
                cc = m->data.result;
        if (!running || k.cb_rc != EDR_OK)
            break;
        if (cb->tick != NULL && (tick_rc = cb->tick(cb->ud, err)) != EDR_OK)
            break;
        curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    curl_multi_remove_handle(multi, k.ep->curl);
    if (running && k.cb_rc == EDR_OK && tick_rc == EDR_OK) /* curl_multi_perform failed */
        cc = CURLE_RECV_ERROR;
    rc = call_outcome(&k, cc, errbuf, hdrs, &code, err);
    if (tick_rc != EDR_OK)
        rc = tick_rc; /* err holds the tick's message */
    else if (rc == EDR_OK)
        rc = edr_err_set(err, EDR_E_ETCD, "etcd '%s': %s: the server ended the stream", k.ep->url,
                         method);
out:
    if (multi != NULL)
        curl_multi_cleanup(multi);
    call_release(&k);
    free(frame);
    return rc;
}

edr_rc
edr_etcd_unary(struct edr_etcd_client *c, size_t i, const char *service, const char *method,
               const uint8_t *msg, size_t len, uint8_t **resp, size_t *resp_len,
               struct edr_err *err)
{
    struct call k;
    uint8_t *frame;
    edr_rc rc;

    *resp = NULL;
    *resp_len = 0;
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    if ((frame = malloc(EDR_GRPC_PREFIX + len)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    edr_grpc_frame_prefix(frame, len);
    if (len > 0)
        memcpy(frame + EDR_GRPC_PREFIX, msg, len);
    rc = unary_auth_req(&k, c, i, service, method, frame, EDR_GRPC_PREFIX + len, err);
    free(frame);
    if (rc == EDR_OK) {
        *resp = k.resp;
        *resp_len = k.resp_len;
        k.resp = NULL;
    }
    call_release(&k);
    return rc;
}

/* -- LeaseTimeToLive ------------------------------------------------- */

edr_rc
edr_etcd_lease_ttl(struct edr_etcd_client *c, size_t i, int64_t id, int64_t *granted_ttl,
                   int64_t *ttl, struct edr_err *err)
{
    uint8_t req[16], *resp = NULL;
    struct edr_pb_writer w;
    struct edr_pb_field f;
    const uint8_t *p, *end;
    size_t rlen;
    edr_rc rc;

    *granted_ttl = 0;
    *ttl = -1;
    edr_pb_writer_init(&w, req, sizeof(req));
    edr_pb_put_uint(&w, 1, (uint64_t)id);
    rc = edr_etcd_unary(c, i, "Lease", "LeaseTimeToLive", req, w.len, &resp, &rlen, err);
    if (rc != EDR_OK)
        return rc;
    p = resp;
    end = resp == NULL ? resp : resp + rlen;
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK) {
            edr_err_prefix(err, "malformed LeaseTimeToLiveResponse");
            break;
        }
        if (f.num == 3 && f.wire == EDR_PB_VARINT)
            *ttl = (int64_t)f.u;
        else if (f.num == 4 && f.wire == EDR_PB_VARINT)
            *granted_ttl = (int64_t)f.u;
    }
    free(resp);
    return rc;
}

/* -- AuthStatus ------------------------------------------------------ */

edr_rc
edr_etcd_auth_revision(struct edr_etcd_client *c, size_t i, uint64_t *rev, struct edr_err *err)
{
    static const uint8_t empty[EDR_GRPC_PREFIX] = {0, 0, 0, 0, 0};
    const uint8_t *p, *end;
    struct edr_pb_field f;
    struct call k;
    edr_rc rc;

    *rev = 0;
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    rc = unary_auth_req(&k, c, i, "Auth", "AuthStatus", empty, sizeof(empty), err);
    if (rc != EDR_OK) {
        /* etcd 3.4 has no AuthStatus */
        if (k.gs.have_status && k.gs.status == 12)
            rc = edr_err_set(err, EDR_E_NOTFOUND, "etcd '%s': AuthStatus is not implemented",
                             c->eps[i].url);
        call_release(&k);
        return rc;
    }
    p = k.resp;
    end = k.resp == NULL ? p : p + k.resp_len;
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK) {
            edr_err_prefix(err, "etcd '%s': malformed AuthStatusResponse", c->eps[i].url);
            break;
        }
        if (f.num == 3 && f.wire == EDR_PB_VARINT)
            *rev = f.u;
    }
    call_release(&k);
    return rc;
}

/* -- Range ------------------------------------------------------------- */

edr_rc
edr_etcd_range(struct edr_etcd_client *c, size_t i, const void *key, size_t key_len,
               const void *range_end, size_t range_end_len, int64_t limit, int count_only,
               struct edr_etcd_range *out, struct edr_err *err)
{
    struct edr_pb_writer w;
    struct call k;
    uint8_t *frame;
    size_t cap = EDR_GRPC_PREFIX + key_len + range_end_len + 64;
    const uint8_t *p, *end;
    struct edr_pb_field f;
    edr_rc rc;

    memset(out, 0, sizeof(*out));
    if (i >= c->n)
        return edr_err_set(err, EDR_E_INTERNAL, "endpoint index %zu out of range", i);
    frame = malloc(cap);
    if (frame == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    edr_pb_writer_init(&w, frame + EDR_GRPC_PREFIX, cap - EDR_GRPC_PREFIX);
    edr_pb_put_bytes(&w, 1, key, key_len);
    if (range_end_len > 0)
        edr_pb_put_bytes(&w, 2, range_end, range_end_len);
    edr_pb_put_uint(&w, 3, (uint64_t)limit);
    edr_pb_put_uint(&w, 9, count_only ? 1 : 0);
    edr_grpc_frame_prefix(frame, w.len);
    rc = unary_auth_req(&k, c, i, "KV", "Range", frame, EDR_GRPC_PREFIX + w.len, err);
    free(frame);
    if (rc != EDR_OK) {
        call_release(&k);
        return rc;
    }
    /* keep the response: the kvs point into it */
    out->raw = k.resp;
    k.resp = NULL;
    p = out->raw;
    end = p + k.resp_len;
    call_release(&k);
    while (p < end) {
        if ((rc = edr_pb_next(&p, end, &f, err)) != EDR_OK)
            goto fail;
        if (f.num == 1 && f.wire == EDR_PB_LEN) {
            struct edr_pb_header h;
            if ((rc = edr_pb_decode_header(f.data, f.len, &h, err)) != EDR_OK)
                goto fail;
            out->revision = h.revision;
        } else if (f.num == 2 && f.wire == EDR_PB_LEN) {
            struct edr_kv *nk = realloc(out->kvs, (out->nkvs + 1) * sizeof(*nk));
            if (nk == NULL) {
                rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                goto fail;
            }
            out->kvs = nk;
            if (edr_mvcc_kv_decode(f.data, f.len, &out->kvs[out->nkvs], err) != EDR_OK) {
                /* etcd sent it: a failed request, not corrupt data of ours */
                edr_err_prefix(err, "malformed KeyValue");
                if (err != NULL)
                    err->code = EDR_E_ETCD;
                rc = EDR_E_ETCD;
                goto fail;
            }
            out->nkvs++;
        } else if (f.num == 3) {
            out->more = f.u != 0;
        } else if (f.num == 4) {
            out->count = (int64_t)f.u;
        }
    }
    return EDR_OK;
fail:
    edr_err_prefix(err, "etcd '%s': Range", c->eps[i].url);
    edr_etcd_range_release(out);
    return rc;
}

void
edr_etcd_range_release(struct edr_etcd_range *r)
{
    free(r->kvs);
    free(r->raw);
    memset(r, 0, sizeof(*r));
}
