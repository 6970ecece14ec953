/*
 * The S3 backend's writer: put_open() returns a stream that buffers one part
 * at a time and uploads it (a multipart upload, started at the first full
 * part) in a background thread while the next part fills; finish() sends
 * the last part and completes the upload, or sends a small object as one
 * PUT. A stream freed without a successful finish() aborts its upload.
 */
#include "storage/s3_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "storage/s3.h"
#include "storage/s3_xml.h"

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

struct put {
    struct edr_stream base;
    struct edr_s3 *s;
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
    struct edr_s3_req r = {0};
    edr_rc rc;

    r.method = "POST";
    r.key = p->key;
    r.q = q;
    r.nq = 1;
    r.xname[0] = "content-type";
    r.xvalue[0] = "application/octet-stream";
    r.nx = 1;
    rc = edr_s3_request(p->s, &r, err);
    if (rc == EDR_OK && r.status != 200)
        rc = edr_s3_http_error(p->s, &r, err);
    if (rc == EDR_OK) {
        rc = edr_s3_xml_upload_id((char *)r.resp.data, r.resp.len, &p->upload_id, err);
        if (rc != EDR_OK)
            edr_err_prefix(err, "s3 POST 's3://%s/%s?uploads'", p->s->bucket, p->key);
    }
    edr_s3_req_release(&r);
    return rc;
}

static edr_rc
upload_part(struct put *p, const unsigned char *buf, size_t len, struct edr_err *err)
{
    char num[16];
    struct edr_s3_qparam q[2];
    struct edr_s3_req r = {0};
    char **e;
    edr_rc rc;

    /* a run long enough to need it keeps its lock fresh part by part */
    if ((rc = edr_s3_lock_refresh(p->s, err)) != EDR_OK)
        return rc;
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
    rc = edr_s3_request(p->s, &r, err);
    if (rc == EDR_OK && r.status != 200)
        rc = edr_s3_http_error(p->s, &r, err);
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
    edr_s3_req_release(&r);
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

/* NoSuchUpload answering CompleteMultipartUpload: an earlier try may have
 * completed the upload with its answer lost on the way back (a cut
 * connection, a timeout), and the retry (ours, or libcurl's own on a reused
 * connection that died) finds the upload gone. The key was free when the
 * backup began and the repository is locked, so an object there now with
 * exactly the uploaded size is ours. */
static int
completed_earlier(struct put *p, const struct edr_s3_req *r)
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
    if (p->s->base.ops->stat(&p->s->base, p->key + strlen(p->s->root), &sst, &e2) != EDR_OK ||
        !sst.exists || sst.size != p->total)
        return 0;
    edr_debug("s3 POST 's3://%s/%s': completed by an earlier try whose answer was lost",
              p->s->bucket, p->key);
    return 1;
}

static edr_rc
put_finish(struct edr_stream *st, struct edr_err *err)
{
    struct put *p = (struct put *)st;
    struct edr_s3_req r = {0};
    struct edr_buf x = {0};
    struct edr_s3_qparam q[1];
    struct edr_s3_xml *root = NULL;
    edr_rc rc = EDR_OK;
    unsigned i;

    if (p->failed || p->done)
        return edr_err_set(err, EDR_E_INTERNAL, "s3 upload 's3://%s/%s': finish after %s",
                           p->s->bucket, p->key, p->done ? "finish" : "an error");
    if (p->upload_id == NULL) {
        /* a long run of small objects (capture's segments) keeps its lock
         * fresh here, as a long upload does part by part */
        if ((rc = edr_s3_lock_refresh(p->s, err)) != EDR_OK)
            goto out;
        r.method = "PUT";
        r.key = p->key;
        r.body = p->buf;
        r.body_len = p->len;
        rc = edr_s3_request(p->s, &r, err);
        if (rc == EDR_OK && r.status != 200)
            rc = edr_s3_http_error(p->s, &r, err);
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
    rc = edr_s3_request(p->s, &r, err);
    if (rc == EDR_OK && r.status == 404 && completed_earlier(p, &r))
        goto out;
    if (rc == EDR_OK && r.status != 200)
        rc = edr_s3_http_error(p->s, &r, err);
    /* S3 may answer 200 and still fail: the error is then in the body. */
    if (rc == EDR_OK && r.resp.len > 0) {
        rc = edr_s3_xml_parse((char *)r.resp.data, r.resp.len, &root, err);
        if (rc == EDR_OK && strcmp(root->name, "CompleteMultipartUploadResult") != 0)
            rc = edr_s3_http_error(p->s, &r, err);
        else if (rc != EDR_OK)
            edr_err_prefix(err, "s3 POST 's3://%s/%s' (complete)", p->s->bucket, p->key);
    }
    goto out;
oom:
    rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
out:
    edr_s3_xml_free(root);
    edr_buf_release(&x);
    edr_s3_req_release(&r);
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
    struct edr_s3_req r = {0};
    struct edr_err err;

    r.method = "DELETE";
    r.key = p->key;
    r.q = q;
    r.nq = 1;
    edr_err_clear(&err);
    if (edr_s3_request(p->s, &r, &err) == EDR_OK && r.status != 204 && r.status != 200 &&
        r.status != 404)
        edr_s3_http_error(p->s, &r, &err);
    if (err.code != EDR_OK)
        edr_warn("s3: unable to abort the upload of '%s' (cleanup will remove it later): %s",
                 p->key, err.msg);
    edr_s3_req_release(&r);
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

edr_rc
edr_s3_put_open(struct edr_storage *st, const char *name, uint64_t expected_size,
                struct edr_stream **out, struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct put *p = calloc(1, sizeof(*p));

    *out = NULL;
    if (p == NULL || (p->key = edr_s3_full_key(s, name)) == NULL) {
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
