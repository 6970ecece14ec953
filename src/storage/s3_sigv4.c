/*
 * SigV4 signing for S3, written from AWS's description: canonical request ->
 * string to sign -> HMAC-SHA256 key derivation (date, region, service,
 * "aws4_request") -> signature. S3 signs the path exactly as sent (no double
 * encoding, no dot-segment removal), which is what callers pass in `uri`.
 * HMAC and SHA-256 come from libcrypto; nothing here is hand-rolled crypto.
 */
#include "storage/s3_sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hash.h"

void
edr_s3_amz_date(time_t t, char out[17])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

void
edr_s3_payload_hash(const void *body, size_t len, char out[EDR_S3_SIG_HEX_LEN])
{
    uint8_t dig[EDR_SHA256_LEN];

    if (len == 0) {
        memcpy(out, EDR_S3_EMPTY_SHA256, sizeof(EDR_S3_EMPTY_SHA256));
        return;
    }
    edr_sha256_buf(body, len, dig);
    edr_hex(dig, sizeof(dig), out);
}

static int
unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

char *
edr_s3_uri_encode(const char *s, int encode_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(s);
    char *out = malloc(3 * n + 1);
    char *o = out;

    if (out == NULL)
        return NULL;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (unreserved(c) || (c == '/' && !encode_slash)) {
            *o++ = (char)c;
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

struct enc_pair {
    char *k;
    char *v;
};

static int
cmp_pair(const void *a, const void *b)
{
    const struct enc_pair *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c != 0 ? c : strcmp(x->v, y->v);
}

char *
edr_s3_query_canonical(const struct edr_s3_qparam *p, size_t n)
{
    struct enc_pair *e = NULL;
    char *out = NULL;
    size_t len = 0, i, done = 0;
    FILE *f = NULL;

    if (n == 0)
        return strdup("");
    e = calloc(n, sizeof(*e));
    if (e == NULL)
        return NULL;
    for (i = 0; i < n; i++, done++) {
        e[i].k = edr_s3_uri_encode(p[i].key, 1);
        e[i].v = edr_s3_uri_encode(p[i].value != NULL ? p[i].value : "", 1);
        if (e[i].k == NULL || e[i].v == NULL) {
            done++;
            goto out;
        }
    }
    qsort(e, n, sizeof(*e), cmp_pair);
    f = open_memstream(&out, &len);
    if (f == NULL)
        goto out;
    for (i = 0; i < n; i++)
        fprintf(f, "%s%s=%s", i > 0 ? "&" : "", e[i].k, e[i].v);
    if (fclose(f) != 0) {
        free(out);
        out = NULL;
    }
out:
    for (i = 0; i < done; i++) {
        free(e[i].k);
        free(e[i].v);
    }
    free(e);
    return out;
}

static int
cmp_header(const void *a, const void *b)
{
    const struct edr_s3_header *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Header value for signing: leading/trailing blanks dropped, runs of blanks
 * collapsed to one space. */
static void
put_trimmed(FILE *f, const char *v)
{
    int blank = 0, started = 0;

    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = 1;
            continue;
        }
        if (blank && started)
            fputc(' ', f);
        blank = 0;
        started = 1;
        fputc(*v, f);
    }
}

/* Sorted pointers to the headers; NULL on allocation failure. */
static const struct edr_s3_header **
sorted_headers(const struct edr_s3_sign_in *in)
{
    const struct edr_s3_header **h = calloc(in->nheaders + 1, sizeof(*h));
    size_t i;

    if (h == NULL)
        return NULL;
    for (i = 0; i < in->nheaders; i++)
        h[i] = &in->headers[i];
    qsort(h, in->nheaders, sizeof(*h), cmp_header);
    return h;
}

static void
put_signed_names(FILE *f, const struct edr_s3_header **h, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        fprintf(f, "%s%s", i > 0 ? ";" : "", h[i]->name);
}

edr_rc
edr_s3_sigv4_canonical_request(const struct edr_s3_sign_in *in, char **out, struct edr_err *err)
{
    const struct edr_s3_header **h = NULL;
    char *buf = NULL;
    size_t len = 0, i;
    FILE *f = NULL;
    edr_rc rc = EDR_OK;

    *out = NULL;
    h = sorted_headers(in);
    f = open_memstream(&buf, &len);
    if (h == NULL || f == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: out of memory");
        goto out;
    }
    fprintf(f, "%s\n%s\n%s\n", in->method, in->uri, in->query != NULL ? in->query : "");
    for (i = 0; i < in->nheaders; i++) {
        fprintf(f, "%s:", h[i]->name);
        put_trimmed(f, h[i]->value);
        fputc('\n', f);
    }
    fputc('\n', f);
    put_signed_names(f, h, in->nheaders);
    fprintf(f, "\n%s", in->payload_hash);
    if (fclose(f) != 0) {
        f = NULL;
        rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: out of memory");
        goto out;
    }
    f = NULL;
    *out = buf;
    buf = NULL;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    free(h);
    return rc;
}

static int
hmac256(const void *key, size_t keylen, const char *data, unsigned char out[32])
{
    unsigned int olen = 32;
    return HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, strlen(data), out,
                &olen) != NULL
               ? 0
               : -1;
}

edr_rc
edr_s3_sigv4_sign(const struct edr_s3_sign_in *in, char sig_hex[EDR_S3_SIG_HEX_LEN], char **auth,
                  struct edr_err *err)
{
    char *creq = NULL, *kSecret = NULL, *a = NULL;
    const struct edr_s3_header **h = NULL;
    char date[9], scope[256], sts[512], creq_hex[65];
    unsigned char k[32], sig[32], digest[32];
    size_t alen = 0;
    FILE *f;
    edr_rc rc;

    if (auth != NULL)
        *auth = NULL;
    if (strlen(in->amz_date) != 16 || in->amz_date[8] != 'T')
        return edr_err_set(err, EDR_E_INTERNAL, "sigv4: bad date '%s'", in->amz_date);
    memcpy(date, in->amz_date, 8);
    date[8] = '\0';
    snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, in->region, in->service);
    rc = edr_s3_sigv4_canonical_request(in, &creq, err);
    if (rc != EDR_OK)
        return rc;
    edr_sha256_buf(creq, strlen(creq), digest);
    edr_hex(digest, sizeof(digest), creq_hex);
    snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s", in->amz_date, scope, creq_hex);

    if (asprintf(&kSecret, "AWS4%s", in->secret_key) < 0) {
        kSecret = NULL;
        rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: out of memory");
        goto out;
    }
    if (hmac256(kSecret, strlen(kSecret), date, k) != 0 ||
        hmac256(k, sizeof(k), in->region, k) != 0 || hmac256(k, sizeof(k), in->service, k) != 0 ||
        hmac256(k, sizeof(k), "aws4_request", k) != 0 || hmac256(k, sizeof(k), sts, sig) != 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: hmac-sha256 failed");
        goto out;
    }
    edr_hex(sig, sizeof(sig), sig_hex);
    if (auth != NULL) {
        h = sorted_headers(in);
        f = h != NULL ? open_memstream(&a, &alen) : NULL;
        if (f == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: out of memory");
            goto out;
        }
        fprintf(f, "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=", in->access_key, scope);
        put_signed_names(f, h, in->nheaders);
        fprintf(f, ", Signature=%s", sig_hex);
        if (fclose(f) != 0) {
            free(a);
            rc = edr_err_set(err, EDR_E_INTERNAL, "sigv4: out of memory");
            goto out;
        }
        *auth = a;
    }
out:
    OPENSSL_cleanse(k, sizeof(k));
    if (kSecret != NULL) {
        OPENSSL_cleanse(kSecret, strlen(kSecret));
        free(kSecret);
    }
    free(creq);
    free(h);
    return rc;
}
