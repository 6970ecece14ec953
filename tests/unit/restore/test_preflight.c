/*
 * Unit tests of restore --check's helpers (restore/preflight.h) and of the
 * --drop-prefix filter (restore/drop.h): URL hosts; SAN matching on a
 * certificate made here with libcrypto (IP only by IP SAN, DNS
 * case-insensitive, one-label wildcards, CN ignored); the k3s bootstrap key
 * of each token form (expected keys from `printf %s PASS | sha256sum`) and
 * the refused forms with their messages; dropped keys, live keys and
 * revisions counted per prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "restore/drop.h"
#include "restore/preflight.h"

static void
test_url_host(void **state)
{
    char h[64];

    (void)state;
    assert_int_equal(edr_restore_url_host("https://10.0.0.1:2380", h, sizeof(h)), 0);
    assert_string_equal(h, "10.0.0.1");
    assert_int_equal(edr_restore_url_host("http://etcd-0.example:2380", h, sizeof(h)), 0);
    assert_string_equal(h, "etcd-0.example");
    assert_int_equal(edr_restore_url_host("https://[fd00::1]:2380", h, sizeof(h)), 0);
    assert_string_equal(h, "fd00::1");
    assert_int_equal(edr_restore_url_host("10.0.0.1:2380", h, sizeof(h)), -1);
    assert_int_equal(edr_restore_url_host("http://:2380", h, sizeof(h)), -1);
    assert_int_equal(edr_restore_url_host("http://averyveryverylonghostname:1", h, 8), -1);
}

/* A self-signed certificate with CN cn-only.example and the given SANs,
 * written as PEM to a temp file (path returned in buf). */
static void
make_cert(const char *sans, char *path, size_t n)
{
    EVP_PKEY *pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x = X509_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    FILE *f;
    int fd;

    assert_non_null(pk);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"cn-only.example", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    if (sans != NULL) {
        ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, sans);
        assert_non_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
    snprintf(path, n, "/tmp/edr-test-cert-XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    assert_true(PEM_write_X509(f, x) == 1);
    fclose(f);
    X509_free(x);
    EVP_PKEY_free(pk);
}

static void
test_cert_covers(void **state)
{
    char path[64], sans[256];
    struct edr_restore_cert *c = NULL;
    struct edr_err err;

    (void)state;
    make_cert("IP:10.0.0.1,IP:fd00::1,DNS:etcd-0.Example.com,DNS:*.peers.example", path,
              sizeof(path));
    assert_int_equal(edr_restore_cert_load(path, &c, &err), EDR_OK);
    assert_true(edr_restore_cert_covers(c, "10.0.0.1"));
    assert_true(edr_restore_cert_covers(c, "fd00::1"));
    assert_false(edr_restore_cert_covers(c, "10.0.0.2"));
    assert_true(edr_restore_cert_covers(c, "etcd-0.example.COM"));
    assert_true(edr_restore_cert_covers(c, "m1.peers.example"));
    assert_false(edr_restore_cert_covers(c, "a.m1.peers.example")); /* one label only */
    assert_false(edr_restore_cert_covers(c, "peers.example"));
    assert_false(edr_restore_cert_covers(c, "cn-only.example")); /* the CN does not count */
    edr_restore_cert_sans(c, sans, sizeof(sans));
    assert_string_equal(sans, "IP:10.0.0.1, IP:fd00::1, DNS:etcd-0.Example.com, "
                              "DNS:*.peers.example");
    edr_restore_cert_free(c);
    unlink(path);

    make_cert(NULL, path, sizeof(path));
    assert_int_equal(edr_restore_cert_load(path, &c, &err), EDR_OK);
    assert_false(edr_restore_cert_covers(c, "cn-only.example"));
    edr_restore_cert_sans(c, sans, sizeof(sans));
    assert_string_equal(sans, "none");
    edr_restore_cert_free(c);
    unlink(path);

    assert_int_equal(edr_restore_cert_load("/nonexistent/peer.pem", &c, &err), EDR_E_TLS);
    assert_string_equal(err.msg, "unable to open peer certificate '/nonexistent/peer.pem': [2] "
                                 "No such file or directory");
    assert_int_equal(edr_restore_cert_load("/etc/hostname", &c, &err), EDR_E_TLS);
    assert_string_equal(err.msg, "'/etc/hostname' holds no PEM certificate");
}

static void
assert_key(const char *token, const char *want)
{
    char key[24];
    struct edr_err err;

    assert_int_equal(edr_restore_k3s_bootstrap_key(token, strlen(token), key, &err), EDR_OK);
    assert_string_equal(key, want);
}

static void
assert_refused(const char *token, const char *msg)
{
    char key[24];
    struct edr_err err;

    assert_int_equal(edr_restore_k3s_bootstrap_key(token, strlen(token), key, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, msg);
}

static void
test_k3s_key(void **state)
{
    const char *h64 = "K10"
                      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    char tok[256];

    (void)state;
    /* a full token: the password after "server:" */
    snprintf(tok, sizeof(tok), "%s::server:right-password\n", h64);
    assert_key(tok, "/bootstrap/390c0d9ba1bb");
    /* no CA hash */
    assert_key("K10::server:right-password", "/bootstrap/390c0d9ba1bb");
    /* K10 without "::": user and password */
    assert_key("K10server:right-password", "/bootstrap/390c0d9ba1bb");
    /* bare passwords, whole (even with colons) */
    assert_key("secret\n\n", "/bootstrap/2bb80d537b1d");
    assert_key("user:pw", "/bootstrap/161f0c98aea3");
    assert_key("a::b", "/bootstrap/78f0be89237d");
    assert_refused("\n", "the server token is empty");
    assert_refused("K10abc::server:pw",
                   "the server token's CA hash is not 64 hex digits (K10<hash>::...)");
    assert_refused("K10abc", "the server token has no password (want "
                             "K10<hash>::server:<password> or the bare password)");
    assert_refused("K10::server:", "the server token has no password (want "
                                   "K10<hash>::server:<password> or the bare password)");
    assert_refused("abcdef.0123456789abcdef", "the server token is a bootstrap token (ID.SECRET): "
                                              "k3s derives no bootstrap key from it");
    assert_refused("K10::abcdef.0123456789abcdef",
                   "the server token is a bootstrap token (ID.SECRET): k3s derives no bootstrap "
                   "key from it");
}

#define K(s) (const uint8_t *)(s), strlen(s)

static void
test_drop(void **state)
{
    char p0[] = "/registry/masterleases/", p1[] = "/registry/leases/kube-system/", p2[] = "";
    char *pfx[] = {p0, p1}, *empty[] = {p2};
    struct edr_restore_drop *d = NULL;
    struct edr_restore_drop_count c;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_restore_drop_new(pfx, 2, &d, &err), EDR_OK);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/pods/a/b"), 0, &err), 0);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/masterleases"), 0, &err), 0);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/masterleases/10.0.0.1"), 0, &err), 1);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/masterleases/10.0.0.2"), 0, &err), 1);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/masterleases/10.0.0.2"), 1, &err), 1);
    assert_int_equal(edr_restore_drop_key(d, K("/registry/masterleases/10.0.0.1"), 0, &err), 1);
    for (int i = 0; i < 200; i++) { /* the table grows */
        char k[64];
        snprintf(k, sizeof(k), "/registry/leases/kube-system/l%d", i % 100);
        assert_int_equal(edr_restore_drop_key(d, K(k), i >= 150, &err), 1);
    }
    assert_int_equal(edr_restore_drop_n(d), 2);
    assert_string_equal(edr_restore_drop_prefix(d, 1), "/registry/leases/kube-system/");
    edr_restore_drop_count(d, 0, &c);
    assert_int_equal(c.keys, 2);
    assert_int_equal(c.live, 1);
    assert_int_equal(c.revisions, 4);
    edr_restore_drop_count(d, 1, &c);
    assert_int_equal(c.keys, 100);
    assert_int_equal(c.live, 50); /* l50..l99 were deleted last */
    assert_int_equal(c.revisions, 200);
    /* a key-bucket pair: an empty value (a bump marker) is kept, a value
     * that is no KeyValue is an error */
    assert_int_equal(edr_restore_drop_entry(d, K("rev"), (const uint8_t *)"", 0, &err), 0);
    assert_int_equal(edr_restore_drop_entry(d, K("rev"), (const uint8_t *)"\x0a\xff", 2, &err), -1);
    assert_string_equal(err.msg, "bucket 'key': a value is not a KeyValue");
    edr_restore_drop_free(d);
    assert_int_equal(edr_restore_drop_key(NULL, K("/registry/masterleases/x"), 0, &err), 0);
    assert_int_equal(edr_restore_drop_new(empty, 1, &d, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "--drop-prefix '': an empty prefix drops every key");
    assert_null(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_host),
        cmocka_unit_test(test_cert_covers),
        cmocka_unit_test(test_k3s_key),
        cmocka_unit_test(test_drop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
