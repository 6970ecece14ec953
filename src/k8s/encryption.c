/*
 * EncryptionConfiguration keys and the opening of values the API server
 * encrypted with them (see encryption.h). The value formats, as
 * k8s.io/apiserver (pkg/storage/value/encrypt, v0.34) writes them after the
 * prefix "k8s:enc:<provider>:v1:<key name>:":
 *   aescbc     16-byte IV, then AES-CBC of the value with PKCS#7 padding;
 *   aesgcm     12-byte nonce, then AES-GCM ciphertext and its 16-byte tag,
 *              the etcd key being the authenticated data;
 *   secretbox  24-byte nonce, then XSalsa20-Poly1305 (NaCl secretbox).
 * The API server picks a key by the longest matching prefix of its own
 * configuration; a file may give the same name to keys of several resource
 * groups, so every key of the provider and name is tried here.
 * AES-CBC is not authenticated: a wrong key passes the padding check once in
 * about 256 tries. What it yields is accepted only when it looks like a
 * Kubernetes value (the protobuf magic "k8s\0" or a JSON object), which
 * every value under /registry/ is.
 */
#include "k8s/encryption.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "common/secret.h"
#include "k8s/yaml.h"

#define MAX_FILE (1024 * 1024)
#define MAX_KEYS 4096

enum provider { P_AESCBC, P_AESGCM, P_SECRETBOX };

static const char *const provider_names[] = {"aescbc", "aesgcm", "secretbox"};

struct key {
    enum provider prov;
    char *name;
    size_t name_len;
    unsigned char *secret; /* sodium_malloc'ed */
    size_t len;
};

struct edr_k8s_keys {
    struct key *v;
    size_t n, cap;
    size_t kms, identity;
};

static const char ENC_PREFIX[] = "k8s:enc:";

const char *
edr_k8s_unseal_name(enum edr_k8s_unseal r)
{
    switch (r) {
    case EDR_K8S_PLAIN:
        return "plain";
    case EDR_K8S_OPENED:
        return "opened";
    case EDR_K8S_NO_KEY:
        return "no key";
    case EDR_K8S_BAD:
        return "wrong key or damaged";
    case EDR_K8S_KMS:
        return "kms";
    }
    return "unknown";
}

void
edr_k8s_keys_free(struct edr_k8s_keys *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++) {
        sodium_free(k->v[i].secret);
        free(k->v[i].name);
    }
    free(k->v);
    free(k);
}

size_t
edr_k8s_keys_count(const struct edr_k8s_keys *k)
{
    return k == NULL ? 0 : k->n;
}

size_t
edr_k8s_keys_kms(const struct edr_k8s_keys *k)
{
    return k == NULL ? 0 : k->kms;
}

/* -- reading the configuration ------------------------------------------ */

struct reader {
    const char *what;
    struct edr_yaml_doc *yaml; /* NULL for JSON: no lines known */
    struct edr_err *err;
    struct edr_k8s_keys *keys;
};

/* "<what>:<line>: <path>: <msg>" (no line for JSON) */
static edr_rc cerr(struct reader *r, const json_t *at, const char *path, const char *fmt, ...)
    EDR_PRINTF(4, 5);

static edr_rc
cerr(struct reader *r, const json_t *at, const char *path, const char *fmt, ...)
{
    char msg[512], where[64] = "";
    int line = r->yaml ? edr_yaml_line(r->yaml, at) : 0;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(where, sizeof(where), ":%d", line);
    return edr_err_set(r->err, EDR_E_CONFIG, "%s%s: %s%s%s", r->what, where, path,
                       path[0] ? ": " : "", msg);
}

/* A short printable copy of s for messages. */
static void
printable(char *dst, size_t cap, const char *s, size_t n)
{
    size_t k = 0;

    for (size_t i = 0; i < n && k + 1 < cap; i++)
        dst[k++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    dst[k] = '\0';
}

static edr_rc
add_key(struct reader *r, const json_t *jkey, const char *path, enum provider prov)
{
    json_t *name = json_object_get(jkey, "name"), *secret = json_object_get(jkey, "secret");
    struct edr_k8s_keys *k = r->keys;
    struct key *nk;
    const char *b64;
    size_t b64_len, len = 0;
    unsigned char *buf;
    char p[176];

    if (!json_is_object(jkey))
        return cerr(r, jkey, path, "a key must be a mapping with name and secret");
    snprintf(p, sizeof(p), "%s.name", path);
    if (!json_is_string(name) || json_string_length(name) == 0)
        return cerr(r, name ? name : jkey, p, "a key needs a non-empty name");
    if (strlen(json_string_value(name)) != json_string_length(name))
        return cerr(r, name, p, "a key name cannot hold a NUL character");
    snprintf(p, sizeof(p), "%s.secret", path);
    if (!json_is_string(secret) || json_string_length(secret) == 0)
        return cerr(r, secret ? secret : jkey, p, "key '%s' needs a non-empty secret",
                    json_string_value(name));
    if (k->n == MAX_KEYS)
        return cerr(r, jkey, path, "more than %d keys", MAX_KEYS);
    if (k->n == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 8;
        struct key *nv = realloc(k->v, cap * sizeof(*nv));
        if (nv == NULL)
            return edr_err_set(r->err, EDR_E_INTERNAL, "%s: out of memory", r->what);
        k->v = nv;
        k->cap = cap;
    }
    b64 = json_string_value(secret);
    b64_len = json_string_length(secret);
    buf = sodium_malloc(b64_len / 4 * 3 + 3);
    if (buf == NULL)
        return edr_err_set(r->err, EDR_E_INTERNAL, "%s: out of memory for a key", r->what);
    if (sodium_base642bin(buf, b64_len / 4 * 3 + 3, b64, b64_len, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        sodium_free(buf);
        return cerr(r, secret, p, "the secret of key '%s' is not valid base64",
                    json_string_value(name));
    }
    if (prov == P_SECRETBOX ? len != 32 : len != 16 && len != 24 && len != 32) {
        sodium_free(buf);
        return cerr(r, secret, p, "the secret of key '%s' is %zu bytes; %s takes %s",
                    json_string_value(name), len, provider_names[prov],
                    prov == P_SECRETBOX ? "32" : "16, 24 or 32");
    }
    nk = &k->v[k->n];
    nk->name = strdup(json_string_value(name));
    if (nk->name == NULL) {
        sodium_free(buf);
        return edr_err_set(r->err, EDR_E_INTERNAL, "%s: out of memory", r->what);
    }
    nk->name_len = json_string_length(name);
    nk->prov = prov;
    nk->secret = buf;
    nk->len = len;
    k->n++;
    return EDR_OK;
}

static edr_rc
read_provider(struct reader *r, json_t *jp, const char *path)
{
    static const char *const known = "aescbc, aesgcm, secretbox, identity or kms";
    const char *type;
    json_t *body, *keys, *jk;
    char p[128], kp[160];
    size_t i;
    edr_rc rc;

    if (!json_is_object(jp) || json_object_size(jp) == 0)
        return cerr(r, jp, path, "a provider must be a mapping naming one of %s", known);
    if (json_object_size(jp) > 1)
        return cerr(r, jp, path, "a provider names exactly one of %s", known);
    type = json_object_iter_key(json_object_iter(jp));
    body = json_object_get(jp, type);
    snprintf(p, sizeof(p), "%s.%.20s", path, type);
    if (strcmp(type, "identity") == 0) {
        if (body != NULL && !json_is_object(body) && !json_is_null(body))
            return cerr(r, body, p, "identity takes no settings ({})");
        r->keys->identity++;
        return EDR_OK;
    }
    if (strcmp(type, "kms") == 0) {
        json_t *name = json_object_get(body, "name"), *ver = json_object_get(body, "apiVersion");
        if (!json_is_object(body))
            return cerr(r, body ? body : jp, p, "kms needs its settings (name, endpoint, ...)");
        if (!json_is_string(name) || json_string_length(name) == 0)
            return cerr(r, name ? name : body, p, "a kms provider needs a name");
        if (ver != NULL && !json_is_null(ver) &&
            (!json_is_string(ver) || (strcmp(json_string_value(ver), "v1") != 0 &&
                                      strcmp(json_string_value(ver), "v2") != 0)))
            return cerr(r, ver, p, "kms apiVersion must be v1 or v2");
        r->keys->kms++;
        return EDR_OK;
    }
    enum provider prov;
    if (strcmp(type, "aescbc") == 0)
        prov = P_AESCBC;
    else if (strcmp(type, "aesgcm") == 0)
        prov = P_AESGCM;
    else if (strcmp(type, "secretbox") == 0)
        prov = P_SECRETBOX;
    else {
        char t[40];
        printable(t, sizeof(t), type, strlen(type));
        return cerr(r, body ? body : jp, path, "unknown provider '%s' (expected %s)", t, known);
    }
    keys = json_object_get(body, "keys");
    if (!json_is_object(body) || !json_is_array(keys) || json_array_size(keys) == 0)
        return cerr(r,
                    keys   ? keys
                    : body ? body
                           : jp,
                    p, "%s needs a non-empty list of keys", type);
    json_array_foreach(keys, i, jk)
    {
        snprintf(kp, sizeof(kp), "%s.keys[%zu]", p, i);
        rc = add_key(r, jk, kp, prov);
        if (rc != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

static edr_rc
read_config(struct reader *r, json_t *root)
{
    json_t *api = json_object_get(root, "apiVersion"), *kind = json_object_get(root, "kind");
    json_t *res = json_object_get(root, "resources"), *group, *jp;
    char path[64], pp[96];
    size_t i, j;
    edr_rc rc;

    if (!json_is_object(root))
        return cerr(r, root, "", "not an EncryptionConfiguration (a mapping is expected)");
    if (!json_is_string(kind) || strcmp(json_string_value(kind), "EncryptionConfiguration") != 0)
        return cerr(r, kind ? kind : root, "kind", "not an EncryptionConfiguration");
    if (!json_is_string(api) || strcmp(json_string_value(api), "apiserver.config.k8s.io/v1") != 0)
        return cerr(r, api ? api : root, "apiVersion", "expected apiserver.config.k8s.io/v1");
    if (!json_is_array(res) || json_array_size(res) == 0)
        return cerr(r, res ? res : root, "resources", "a non-empty list is required");
    json_array_foreach(res, i, group)
    {
        json_t *names = json_object_get(group, "resources"), *provs, *nm;
        snprintf(path, sizeof(path), "resources[%zu]", i);
        if (!json_is_object(group))
            return cerr(r, group, path, "must be a mapping with resources and providers");
        provs = json_object_get(group, "providers");
        if (!json_is_array(names) || json_array_size(names) == 0)
            return cerr(r, names ? names : group, path,
                        "resources: a non-empty list of resource names is required");
        json_array_foreach(names, j, nm)
        {
            if (!json_is_string(nm) || json_string_length(nm) == 0)
                return cerr(r, nm, path, "resources[%zu]: a resource name must be text", j);
        }
        if (!json_is_array(provs) || json_array_size(provs) == 0)
            return cerr(r, provs ? provs : group, path, "providers: a non-empty list is required");
        json_array_foreach(provs, j, jp)
        {
            snprintf(pp, sizeof(pp), "%s.providers[%zu]", path, j);
            rc = read_provider(r, jp, pp);
            if (rc != EDR_OK)
                return rc;
        }
    }
    return EDR_OK;
}

/* The tree held base64 key material: wipe every string before freeing it. */
static void
wipe_strings(json_t *j, int depth)
{
    const char *k;
    json_t *v;
    size_t i;

    if (depth > 100)
        return;
    if (json_is_string(j)) {
        /* jansson owns the bytes, malloc'ed and writable */
        sodium_memzero((void *)(uintptr_t)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            wipe_strings(v, depth + 1);
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            wipe_strings(v, depth + 1);
        }
    }
}

edr_rc
edr_k8s_keys_parse(const char *text, size_t n, const char *what, struct edr_k8s_keys **out,
                   struct edr_err *err)
{
    struct edr_yaml_doc doc = {0};
    struct reader r = {.what = what, .err = err};
    json_t *root = NULL;
    size_t i = 0;
    edr_rc rc;

    *out = NULL;
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "libsodium failed to initialise");
    r.keys = calloc(1, sizeof(*r.keys));
    if (r.keys == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    size_t bom = n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    i = bom; /* a UTF-8 byte order mark, which jansson does not take */
    while (i < n && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n'))
        i++;
    if (i < n && text[i] == '{') {
        json_error_t je;
        root = json_loadb(text + bom, n - bom, JSON_REJECT_DUPLICATES, &je);
        /* not JSON: perhaps a YAML flow mapping on one line; if not, the JSON error */
        if (root == NULL && edr_yaml_load(text, n, what, &doc, err) != EDR_OK) {
            rc = edr_err_set(err, EDR_E_CONFIG, "%s:%d: %s", what, je.line, je.text);
            goto out;
        }
        if (root == NULL) {
            root = json_incref(doc.root);
            r.yaml = &doc;
        }
    } else {
        rc = edr_yaml_load(text, n, what, &doc, err);
        if (rc != EDR_OK)
            goto out;
        root = json_incref(doc.root);
        r.yaml = &doc;
    }
    rc = read_config(&r, root);
out:
    wipe_strings(root, 0);
    json_decref(root);
    edr_yaml_release(&doc);
    if (rc != EDR_OK) {
        edr_k8s_keys_free(r.keys);
        return rc;
    }
    *out = r.keys;
    return EDR_OK;
}

edr_rc
edr_k8s_keys_load(const char *path, struct edr_k8s_keys **out, struct edr_err *err)
{
    char *text = NULL;
    size_t len = 0;
    edr_rc rc;

    *out = NULL;
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "libsodium failed to initialise");
    rc = edr_secret_read_file(path, "encryption configuration", MAX_FILE, EDR_SECRET_PRIVATE, &text,
                              &len, err);
    if (rc != EDR_OK)
        return rc;
    rc = edr_k8s_keys_parse(text, len, path, out, err);
    sodium_free(text);
    return rc;
}

/* -- opening values ------------------------------------------------------ */

static void why_set(char *why, size_t why_len, const char *fmt, ...) EDR_PRINTF(3, 4);

static void
why_set(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

/* Wipes and empties out after a failed attempt. */
static void
scrub(struct edr_buf *out)
{
    if (out->data != NULL)
        sodium_memzero(out->data, out->cap);
    edr_buf_reset(out);
}

static const EVP_CIPHER *
aes_cipher(size_t len, int gcm)
{
    switch (len) {
    case 16:
        return gcm ? EVP_aes_128_gcm() : EVP_aes_128_cbc();
    case 24:
        return gcm ? EVP_aes_192_gcm() : EVP_aes_192_cbc();
    default:
        return gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc();
    }
}

static int
looks_like_object(const uint8_t *p, size_t n)
{
    size_t i = 0;

    if (n >= 4 && memcmp(p, "k8s\0", 4) == 0)
        return 1;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i < n && p[i] == '{';
}

/* Each opener: 0 with the plain value in out, or -1 with why set. */
static int
open_aescbc(const struct key *k, const uint8_t *d, size_t n, struct edr_buf *out, char *why,
            size_t why_len)
{
    EVP_CIPHER_CTX *ctx;
    int outl = 0, ok;
    size_t pad, len;

    if (n < 32 || (n - 16) % 16 != 0 || n > (size_t)1 << 30) {
        why_set(why, why_len, "%zu bytes after the prefix is not an IV and whole AES blocks", n);
        return -1;
    }
    len = n - 16;
    if (edr_buf_add(out, d + 16, len) != 0) {
        why_set(why, why_len, "out of memory");
        return -1;
    }
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL && EVP_DecryptInit_ex(ctx, aes_cipher(k->len, 0), NULL, k->secret, d) == 1 &&
         EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
         EVP_DecryptUpdate(ctx, out->data, &outl, out->data, (int)len) == 1 && (size_t)outl == len;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        why_set(why, why_len, "libcrypto failed to run AES-CBC");
        return -1;
    }
    pad = out->data[len - 1];
    ok = pad >= 1 && pad <= 16;
    for (size_t i = 0; ok && i < pad; i++)
        ok = out->data[len - 1 - i] == pad;
    if (!ok) {
        why_set(why, why_len, "bad padding after AES-CBC decryption (wrong key or damaged value)");
        return -1;
    }
    out->len = len - pad;
    out->data[out->len] = '\0';
    if (!looks_like_object(out->data, out->len)) {
        why_set(why, why_len,
                "AES-CBC decryption gave no Kubernetes object (wrong key or damaged value)");
        return -1;
    }
    return 0;
}

static int
open_aesgcm(const struct key *k, const uint8_t *aad, size_t aad_len, const uint8_t *d, size_t n,
            struct edr_buf *out, char *why, size_t why_len)
{
    EVP_CIPHER_CTX *ctx;
    unsigned char tag[16];
    int outl = 0, fin = 0, ok;
    size_t len;

    if (n < 12 + 16 || n > (size_t)1 << 30 || aad_len > (size_t)1 << 30) {
        why_set(why, why_len, "%zu bytes after the prefix cannot hold an AES-GCM nonce and tag", n);
        return -1;
    }
    len = n - 12 - 16;
    memcpy(tag, d + n - 16, 16);
    if (edr_buf_add(out, d + 12, len) != 0 || edr_buf_cstr(out) != 0) {
        why_set(why, why_len, "out of memory");
        return -1;
    }
    ctx = EVP_CIPHER_CTX_new();
    ok = ctx != NULL && EVP_DecryptInit_ex(ctx, aes_cipher(k->len, 1), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
         EVP_DecryptInit_ex(ctx, NULL, NULL, k->secret, d) == 1 &&
         (aad_len == 0 || EVP_DecryptUpdate(ctx, NULL, &outl, aad, (int)aad_len) == 1) &&
         (len == 0 || EVP_DecryptUpdate(ctx, out->data, &outl, out->data, (int)len) == 1) &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1;
    if (ok)
        fin = EVP_DecryptFinal_ex(ctx, out->data + len, &outl) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        why_set(why, why_len, "libcrypto failed to run AES-GCM");
        return -1;
    }
    if (!fin) {
        why_set(why, why_len,
                "AES-GCM authentication failed (wrong key, damaged value, or a value stored "
                "under another etcd key)");
        return -1;
    }
    out->len = len;
    out->data[len] = '\0';
    return 0;
}

static int
open_secretbox(const struct key *k, const uint8_t *d, size_t n, struct edr_buf *out, char *why,
               size_t why_len)
{
    size_t len;

    if (n < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        why_set(why, why_len, "%zu bytes after the prefix cannot hold a secretbox nonce and tag",
                n);
        return -1;
    }
    len = n - crypto_secretbox_NONCEBYTES;
    if (edr_buf_add(out, d + crypto_secretbox_NONCEBYTES, len) != 0) {
        why_set(why, why_len, "out of memory");
        return -1;
    }
    /* in place: libsodium allows the message and the box to overlap */
    if (crypto_secretbox_open_easy(out->data, out->data, len, d, k->secret) != 0) {
        why_set(why, why_len, "secretbox authentication failed (wrong key or damaged value)");
        return -1;
    }
    out->len = len - crypto_secretbox_MACBYTES;
    out->data[out->len] = '\0';
    return 0;
}

/* The next ':'-ended field of the prefix at *p; -1 when there is none. */
static int
field(const uint8_t **p, const uint8_t *end, const uint8_t **s, size_t *len)
{
    const uint8_t *c = memchr(*p, ':', (size_t)(end - *p));

    if (c == NULL)
        return -1;
    *s = *p;
    *len = (size_t)(c - *p);
    *p = c + 1;
    return 0;
}

enum edr_k8s_unseal
edr_k8s_unseal(const struct edr_k8s_keys *keys, const uint8_t *key, size_t key_len,
               const uint8_t *v, size_t n, struct edr_buf *out, char *why, size_t why_len)
{
    const uint8_t *p, *end = v + n, *prov_s, *ver_s, *name_s;
    size_t prov_len, ver_len, name_len, tried = 0;
    char prov[24], ver[16], name[96];
    int pi = -1;

    if (out != NULL)
        scrub(out);
    why_set(why, why_len, "%s", "");
    if (v == NULL || n < sizeof(ENC_PREFIX) - 1 || memcmp(v, ENC_PREFIX, sizeof(ENC_PREFIX) - 1))
        return EDR_K8S_PLAIN;
    p = v + sizeof(ENC_PREFIX) - 1;
    if (field(&p, end, &prov_s, &prov_len) != 0 || field(&p, end, &ver_s, &ver_len) != 0) {
        why_set(why, why_len, "damaged encryption prefix");
        return EDR_K8S_BAD;
    }
    printable(prov, sizeof(prov), (const char *)prov_s, prov_len);
    printable(ver, sizeof(ver), (const char *)ver_s, ver_len);
    /* the key name for messages: up to the next ':' */
    name_s = p;
    {
        const uint8_t *c = memchr(p, ':', (size_t)(end - p));
        name_len = c ? (size_t)(c - p) : (size_t)(end - p);
        if (name_len > 64)
            name_len = 64;
    }
    printable(name, sizeof(name), (const char *)name_s, name_len);
    if (strcmp(prov, "kms") == 0) {
        why_set(why, why_len,
                "encrypted by KMS %s provider '%s': only its KMS plugin can open it (not "
                "checkable offline)",
                ver, name);
        return EDR_K8S_KMS;
    }
    for (int i = 0; i < 3; i++)
        if (strcmp(prov, provider_names[i]) == 0)
            pi = i;
    if (pi < 0) {
        why_set(why, why_len, "unknown encryption provider '%s'", prov);
        return EDR_K8S_NO_KEY;
    }
    if (strcmp(ver, "v1") != 0) {
        why_set(why, why_len, "unknown %s format version '%s'", prov, ver);
        return EDR_K8S_BAD;
    }
    for (size_t i = 0; keys != NULL && out != NULL && i < keys->n; i++) {
        const struct key *k = &keys->v[i];
        size_t rest = (size_t)(end - p);
        int rc;

        if ((int)k->prov != pi || rest <= k->name_len || p[k->name_len] != ':' ||
            memcmp(p, k->name, k->name_len) != 0)
            continue;
        tried++;
        const uint8_t *d = p + k->name_len + 1;
        size_t dn = (size_t)(end - d);
        if (k->prov == P_AESCBC)
            rc = open_aescbc(k, d, dn, out, why, why_len);
        else if (k->prov == P_AESGCM)
            rc = open_aesgcm(k, key, key_len, d, dn, out, why, why_len);
        else
            rc = open_secretbox(k, d, dn, out, why, why_len);
        if (rc == 0) {
            why_set(why, why_len, "%s", "");
            return EDR_K8S_OPENED;
        }
        scrub(out);
    }
    if (tried == 0) {
        if (keys == NULL)
            why_set(why, why_len, "%s key '%s' needed: no encryption configuration given", prov,
                    name);
        else
            why_set(why, why_len, "no %s key named '%s' in the encryption configuration", prov,
                    name);
        return EDR_K8S_NO_KEY;
    }
    if (tried > 1 && why != NULL && why_len > 0) {
        char last[256];
        snprintf(last, sizeof(last), "%s", why);
        why_set(why, why_len, "none of the %zu %s keys named '%s' opened it: %s", tried, prov, name,
                last);
    } else if (why != NULL && why_len > 0) {
        char last[256];
        snprintf(last, sizeof(last), "%s", why);
        why_set(why, why_len, "%s key '%s': %s", prov, name, last);
    }
    return EDR_K8S_BAD;
}
