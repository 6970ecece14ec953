/*
 * restore --check helpers (preflight.h).
 *
 * The k3s derivation follows k3s's sources (pkg/cluster/storage.go and
 * encrypt.go, pkg/clientaccess/token.go, read for v1.31-v1.33): the token is
 * "normalized" to the password part of a K10 token, or kept whole when it is
 * a bare password, and the bootstrap data is stored under "/bootstrap/" and
 * the first 12 hex digits of the SHA-256 of that passphrase. k3s refuses to
 * start when other /bootstrap/ keys exist but not this one ("bootstrap data
 * already found and encrypted with different token").
 */
#include "restore/preflight.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/hash.h"

int
edr_restore_url_host(const char *url, char *host, size_t n)
{
    const char *a = strstr(url, "://"), *end;
    size_t len;

    if (a == NULL)
        return -1;
    a += 3;
    if (*a == '[') {
        a++;
        end = strchr(a, ']');
    } else {
        end = a + strcspn(a, ":/");
    }
    if (end == NULL || end == a)
        return -1;
    len = (size_t)(end - a);
    if (len >= n)
        return -1;
    memcpy(host, a, len);
    host[len] = '\0';
    return 0;
}

struct edr_restore_cert {
    X509 *x;
};

edr_rc
edr_restore_cert_load(const char *path, struct edr_restore_cert **out, struct edr_err *err)
{
    FILE *f = fopen(path, "r");
    struct edr_restore_cert *c;
    X509 *x;

    *out = NULL;
    if (f == NULL)
        return edr_err_errno(err, EDR_E_TLS, errno, "unable to open peer certificate '%s'", path);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL)
        return edr_err_set(err, EDR_E_TLS, "'%s' holds no PEM certificate", path);
    if ((c = calloc(1, sizeof(*c))) == NULL) {
        X509_free(x);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    c->x = x;
    *out = c;
    return EDR_OK;
}

static int
dns_matches(const char *pattern, size_t plen, const char *host)
{
    size_t hlen = strlen(host);
    const char *dot;

    if (plen == hlen && strncasecmp(pattern, host, hlen) == 0)
        return 1;
    /* "*.example.com": one whole left-most label */
    if (plen > 2 && pattern[0] == '*' && pattern[1] == '.' && (dot = strchr(host, '.')) != NULL &&
        dot != host && strlen(dot) == plen - 1 && strncasecmp(pattern + 1, dot, plen - 1) == 0)
        return 1;
    return 0;
}

int
edr_restore_cert_covers(const struct edr_restore_cert *c, const char *host)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
    unsigned char ip[16];
    int iplen = 0, hit = 0;

    if (inet_pton(AF_INET, host, ip) == 1)
        iplen = 4;
    else if (inet_pton(AF_INET6, host, ip) == 1)
        iplen = 16;
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && !hit; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (iplen > 0 && g->type == GEN_IPADD)
            hit = ASN1_STRING_length(g->d.iPAddress) == iplen &&
                  memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip, (size_t)iplen) == 0;
        else if (iplen == 0 && g->type == GEN_DNS)
            hit = dns_matches((const char *)ASN1_STRING_get0_data(g->d.dNSName),
                              (size_t)ASN1_STRING_length(g->d.dNSName), host);
    }
    GENERAL_NAMES_free(names);
    return hit;
}

void
edr_restore_cert_sans(const struct edr_restore_cert *c, char *out, size_t n)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(c->x, NID_subject_alt_name, NULL, NULL);
    size_t len = 0;

    snprintf(out, n, "none");
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && len < n; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char ipbuf[64] = "";
        const unsigned char *d;
        int l;

        if (g->type == GEN_DNS) {
            d = ASN1_STRING_get0_data(g->d.dNSName);
            l = ASN1_STRING_length(g->d.dNSName);
            len += (size_t)snprintf(out + len, n - len, "%sDNS:%.*s", len ? ", " : "", l,
                                    (const char *)d);
        } else if (g->type == GEN_IPADD) {
            d = ASN1_STRING_get0_data(g->d.iPAddress);
            l = ASN1_STRING_length(g->d.iPAddress);
            if (l == 4 || l == 16)
                inet_ntop(l == 4 ? AF_INET : AF_INET6, d, ipbuf, sizeof(ipbuf));
            len += (size_t)snprintf(out + len, n - len, "%sIP:%s", len ? ", " : "", ipbuf);
        }
    }
    GENERAL_NAMES_free(names);
}

void
edr_restore_cert_free(struct edr_restore_cert *c)
{
    if (c == NULL)
        return;
    X509_free(c->x);
    free(c);
}

/* kubeadm's bootstrap token form, [a-z0-9]{6}.[a-z0-9]{16}: k3s takes it
 * for an agent join token, not a passphrase */
static int
is_bootstrap_token(const char *s, size_t n)
{
    if (n != 23 || s[6] != '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i != 6 && !((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
            return 0;
    return 1;
}

edr_rc
edr_restore_k3s_bootstrap_key(const char *token, size_t len, char key[24], struct edr_err *err)
{
    const char *pw = token, *creds, *sep, *colon;
    size_t pwlen;
    uint8_t sum[EDR_SHA256_LEN];
    char hex[2 * EDR_SHA256_LEN + 1];

    while (len > 0 && token[len - 1] == '\n')
        len--; /* as k3s reads its token file */
    if (len == 0)
        return edr_err_set(err, EDR_E_USAGE, "the server token is empty");
    pwlen = len;
    if (len >= 3 && memcmp(token, "K10", 3) == 0) {
        /* K10<ca hash>::<user>:<password> (the hash may be empty) */
        const char *end = token + len, *body = token + 3;
        sep = NULL;
        for (const char *p = body; p + 1 < end; p++)
            if (p[0] == ':' && p[1] == ':') {
                sep = p;
                break;
            }
        if (sep != NULL && sep != body && sep - body != 64)
            return edr_err_set(err, EDR_E_USAGE,
                               "the server token's CA hash is not 64 hex digits (K10<hash>::...)");
        creds = sep != NULL ? sep + 2 : body;
        if (is_bootstrap_token(creds, (size_t)(end - creds)))
            return edr_err_set(err, EDR_E_USAGE,
                               "the server token is a bootstrap token (ID.SECRET): k3s derives no "
                               "bootstrap key from it");
        colon = memchr(creds, ':', (size_t)(end - creds));
        if (colon == NULL || colon + 1 == end)
            return edr_err_set(
                err, EDR_E_USAGE,
                "the server token has no password (want K10<hash>::server:<password> "
                "or the bare password)");
        pw = colon + 1;
        pwlen = (size_t)(end - pw);
    } else if (is_bootstrap_token(token, len)) {
        return edr_err_set(err, EDR_E_USAGE,
                           "the server token is a bootstrap token (ID.SECRET): k3s derives no "
                           "bootstrap key from it");
    }
    edr_sha256_buf(pw, pwlen, sum);
    edr_hex(sum, sizeof(sum), hex);
    snprintf(key, 24, "/bootstrap/%.12s", hex);
    return EDR_OK;
}
