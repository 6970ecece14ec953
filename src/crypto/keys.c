/*
 * Key pairs and key files. The secret key never leaves sodium_malloc memory:
 * the file is read into a guarded buffer, decoded into another, and both are
 * wiped by sodium_free on every path. While an identity is idle its secret
 * key page is made inaccessible, so a stray read faults instead of leaking.
 */
#include "crypto/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/secret.h"

/* Largest key file we read: a key line is 66 bytes, leave room for junk we
 * then report as malformed rather than "too large". */
#define KEY_FILE_MAX 4096

struct edr_identity {
    struct edr_pubkey pub;
    unsigned char *sk; /* sodium_malloc(32), noaccess while idle */
};

edr_rc
edr_crypto_init(struct edr_err *err)
{
    if (sodium_init() < 0)
        return edr_err_set(err, EDR_E_INTERNAL, "unable to initialise libsodium");
    return EDR_OK;
}

void
edr_pubkey_set_id(struct edr_pubkey *pub)
{
    uint8_t h[crypto_generichash_BYTES];

    crypto_generichash(h, sizeof(h), pub->key, EDR_KEY_LEN, NULL, 0);
    memcpy(pub->id_raw, h, EDR_KEY_ID_RAW_LEN);
    for (size_t i = 0; i < EDR_KEY_ID_RAW_LEN; i++)
        snprintf(pub->id + 2 * i, 3, "%02x", pub->id_raw[i]);
}

void
edr_pubkey_from_raw(struct edr_pubkey *pub, const uint8_t key[EDR_KEY_LEN])
{
    memcpy(pub->key, key, EDR_KEY_LEN);
    edr_pubkey_set_id(pub);
}

void
edr_pubkey_format(const struct edr_pubkey *pub, char *buf, size_t size)
{
    char b64[sodium_base64_ENCODED_LEN(EDR_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];

    sodium_bin2base64(b64, sizeof(b64), pub->key, EDR_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
    snprintf(buf, size, "%s %s\n", EDR_KEY_PUBLIC_PREFIX, b64);
}

/*
 * Decode one key line "<prefix> <base64>" (optionally ending in "\n" or
 * "\r\n") into 32 bytes. `what` is "public key" or "identity" for messages;
 * `other` is the prefix of the other kind of key file, recognised to give a
 * helpful message when the two are mixed up.
 */
static edr_rc
parse_line(const char *text, size_t len, const char *prefix, const char *other, const char *what,
           const char *name, uint8_t out[EDR_KEY_LEN], struct edr_err *err)
{
    size_t plen = strlen(prefix);
    const char *b64, *end = NULL;
    size_t b64len, binlen = 0;

    if (len > 0 && text[len - 1] == '\n')
        len--;
    if (len > 0 && text[len - 1] == '\r')
        len--;
    if (len < plen + 1 || memcmp(text, prefix, plen) != 0 || text[plen] != ' ') {
        if (len >= strlen(other) && memcmp(text, other, strlen(other)) == 0) {
            edr_err_set(err, EDR_E_KEY, "%s file '%s' holds a %s key", what, name,
                        strcmp(what, "identity") == 0 ? "public" : "secret");
            edr_err_hint(err, "an identity is the .key file of a key pair, a recipient the .pub");
            return EDR_E_KEY;
        }
        return edr_err_set(err, EDR_E_KEY,
                           "%s file '%s': not an etcd-dr key file (expected '%s ...')", what, name,
                           prefix);
    }
    b64 = text + plen + 1;
    b64len = len - plen - 1;
    if (sodium_base642bin(out, EDR_KEY_LEN, b64, b64len, NULL, &binlen, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + b64len || binlen != EDR_KEY_LEN)
        return edr_err_set(err, EDR_E_KEY,
                           "%s file '%s': malformed key (expected base64 of %d bytes)", what, name,
                           EDR_KEY_LEN);
    return EDR_OK;
}

edr_rc
edr_pubkey_parse(const char *text, size_t len, const char *name, struct edr_pubkey *out,
                 struct edr_err *err)
{
    edr_rc rc;

    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    rc = parse_line(text, len, EDR_KEY_PUBLIC_PREFIX, EDR_KEY_SECRET_PREFIX, "public key", name,
                    out->key, err);
    if (rc == EDR_OK)
        edr_pubkey_set_id(out);
    return rc;
}

edr_rc
edr_pubkey_load(const char *path, struct edr_pubkey *out, struct edr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    edr_rc rc;

    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    /* not a secret, but read with the same care (regular file, bounded) */
    if ((rc = edr_secret_read_file(path, "public key file", KEY_FILE_MAX, 0, &buf, &len, err)) !=
        EDR_OK)
        return rc;
    rc = edr_pubkey_parse(buf, len, path, out, err);
    sodium_free(buf);
    return rc;
}

static edr_rc
identity_new(struct edr_identity **out, struct edr_err *err)
{
    struct edr_identity *id;
    edr_rc rc;

    *out = NULL;
    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    id = calloc(1, sizeof(*id));
    if (id == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    id->sk = sodium_malloc(EDR_KEY_LEN);
    if (id->sk == NULL) {
        free(id);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory (secure memory)");
    }
    *out = id;
    return EDR_OK;
}

/* id->sk holds the secret key and is writable: derive the public key, then
 * lock the secret away. */
static void
identity_seal_up(struct edr_identity *id)
{
    crypto_scalarmult_base(id->pub.key, id->sk);
    edr_pubkey_set_id(&id->pub);
    sodium_mprotect_noaccess(id->sk);
}

edr_rc
edr_identity_parse(const char *text, size_t len, const char *name, struct edr_identity **out,
                   struct edr_err *err)
{
    struct edr_identity *id = NULL;
    edr_rc rc;

    *out = NULL;
    if ((rc = identity_new(&id, err)) != EDR_OK)
        return rc;
    rc = parse_line(text, len, EDR_KEY_SECRET_PREFIX, EDR_KEY_PUBLIC_PREFIX, "identity", name,
                    id->sk, err);
    if (rc != EDR_OK) {
        edr_identity_free(id);
        return rc;
    }
    identity_seal_up(id);
    *out = id;
    return EDR_OK;
}

edr_rc
edr_identity_from_secret(const uint8_t sk[EDR_KEY_LEN], struct edr_identity **out,
                         struct edr_err *err)
{
    struct edr_identity *id = NULL;
    edr_rc rc;

    *out = NULL;
    if ((rc = identity_new(&id, err)) != EDR_OK)
        return rc;
    memcpy(id->sk, sk, EDR_KEY_LEN);
    identity_seal_up(id);
    *out = id;
    return EDR_OK;
}

edr_rc
edr_identity_load(const char *path, struct edr_identity **out, struct edr_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    edr_rc rc;

    *out = NULL;
    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    if ((rc = edr_secret_read_file(path, "identity file", KEY_FILE_MAX, EDR_SECRET_PRIVATE, &buf,
                                   &len, err)) != EDR_OK)
        return rc;
    rc = edr_identity_parse(buf, len, path, out, err);
    sodium_free(buf);
    return rc;
}

void
edr_identity_free(struct edr_identity *id)
{
    if (id == NULL)
        return;
    sodium_free(id->sk); /* makes the pages writable again, wipes, unmaps */
    free(id);
}

const struct edr_pubkey *
edr_identity_pubkey(const struct edr_identity *id)
{
    return &id->pub;
}

edr_rc
edr_identity_unseal(struct edr_identity *id, const uint8_t sealed[EDR_KEY_SEALED_LEN],
                    uint8_t out[EDR_KEY_LEN], struct edr_err *err)
{
    int r;

    sodium_mprotect_readonly(id->sk);
    r = crypto_box_seal_open(out, sealed, EDR_KEY_SEALED_LEN, id->pub.key, id->sk);
    sodium_mprotect_noaccess(id->sk);
    if (r != 0)
        return edr_err_set(err, EDR_E_KEY,
                           "unable to unseal the data key with key %s "
                           "(corrupt header or wrong key)",
                           id->pub.id);
    return EDR_OK;
}

/* Create `path` exclusively with `mode` and write `len` bytes of `buf`;
 * *created tells whether the file exists now (to be removed on failure). */
static edr_rc
create_key_file(const char *path, mode_t mode, const char *buf, size_t len, int *created,
                struct edr_err *err)
{
    int fd, e;

    *created = 0;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        e = errno;
        if (e == EEXIST) {
            edr_err_set(err, EDR_E_KEY, "key file '%s' already exists", path);
            edr_err_hint(err, "etcd-dr never overwrites keys; remove it first or choose another "
                              "path");
            return EDR_E_KEY;
        }
        return edr_err_errno(err, EDR_E_IO, e, "unable to create '%s'", path);
    }
    *created = 1;
    if (fchmod(fd, mode) != 0 || edr_fs_write_all(fd, buf, len) != 0) {
        e = errno;
        close(fd);
        return edr_err_errno(err, EDR_E_IO, e, "unable to write '%s'", path);
    }
    return edr_fs_close_synced(fd, path, EDR_E_IO, err);
}

edr_rc
edr_keygen(const char *path, struct edr_pubkey *pub_out, struct edr_err *err)
{
    size_t plen = strlen(path);
    char *keypath = NULL, *pubpath = NULL, *line = NULL;
    unsigned char *sk = NULL;
    struct edr_pubkey pub;
    char publine[128];
    char b64[sodium_base64_ENCODED_LEN(EDR_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)];
    int key_created = 0, pub_created = 0;
    struct stat st;
    edr_rc rc;

    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    keypath = malloc(plen + 5);
    pubpath = malloc(plen + 5);
    sk = sodium_malloc(EDR_KEY_LEN);
    line = sodium_malloc(128);
    if (keypath == NULL || pubpath == NULL || sk == NULL || line == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    snprintf(keypath, plen + 5, "%s.key", path);
    snprintf(pubpath, plen + 5, "%s.pub", path);
    /* Check the public file first so that nothing is created when either
     * exists; O_EXCL below closes the race for the secret file. */
    if (lstat(pubpath, &st) == 0) {
        rc = edr_err_set(err, EDR_E_KEY, "key file '%s' already exists", pubpath);
        edr_err_hint(err, "etcd-dr never overwrites keys; remove it first or choose another path");
        goto out;
    }
    crypto_box_keypair(pub.key, sk);
    edr_pubkey_set_id(&pub);
    sodium_bin2base64(b64, sizeof(b64), sk, EDR_KEY_LEN, sodium_base64_VARIANT_ORIGINAL);
    snprintf(line, 128, "%s %s\n", EDR_KEY_SECRET_PREFIX, b64);
    sodium_memzero(b64, sizeof(b64));
    rc = create_key_file(keypath, 0600, line, strlen(line), &key_created, err);
    if (rc != EDR_OK)
        goto out;
    edr_pubkey_format(&pub, publine, sizeof(publine));
    rc = create_key_file(pubpath, 0644, publine, strlen(publine), &pub_created, err);
    if (rc != EDR_OK)
        goto out;
    if (pub_out != NULL)
        *pub_out = pub;
out:
    if (rc != EDR_OK) {
        if (key_created)
            unlink(keypath);
        if (pub_created)
            unlink(pubpath);
    }
    sodium_free(sk);
    sodium_free(line);
    free(keypath);
    free(pubpath);
    return rc;
}
