/*
 * Unit tests of key pairs and key files: keygen, file formats and modes,
 * loading, refusal of unsafe or malformed files, key ids, unsealing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/edr-keys-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[300];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void
read_text(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void
test_keygen_and_load(void **state)
{
    char base[300], path[320], text[200];
    struct edr_pubkey pub, pub2;
    struct edr_identity *id = NULL;
    struct edr_err err;
    struct stat st;
    uint8_t h[crypto_generichash_BYTES];
    char hex[17];
    (void)state;

    snprintf(base, sizeof(base), "%s/backup", dir);
    assert_int_equal(edr_keygen(base, &pub, &err), EDR_OK);

    snprintf(path, sizeof(path), "%s.key", base);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    read_text(path, text, sizeof(text));
    assert_int_equal(strlen(text), strlen("etcd-dr-secret-key-1 ") + 44 + 1);
    assert_memory_equal(text, "etcd-dr-secret-key-1 ", 21);
    assert_int_equal(text[strlen(text) - 1], '\n');

    snprintf(path, sizeof(path), "%s.pub", base);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    read_text(path, text, sizeof(text));
    assert_int_equal(strlen(text), strlen("etcd-dr-public-key-1 ") + 44 + 1);
    assert_memory_equal(text, "etcd-dr-public-key-1 ", 21);

    /* key id: hex of the first 8 bytes of generichash(pub) */
    crypto_generichash(h, sizeof(h), pub.key, 32, NULL, 0);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
    assert_string_equal(pub.id, hex);
    assert_int_equal(strlen(pub.id), 16);

    assert_int_equal(edr_pubkey_load(path, &pub2, &err), EDR_OK);
    assert_memory_equal(pub2.key, pub.key, 32);
    assert_string_equal(pub2.id, pub.id);

    snprintf(path, sizeof(path), "%s.key", base);
    assert_int_equal(edr_identity_load(path, &id, &err), EDR_OK);
    assert_memory_equal(edr_identity_pubkey(id)->key, pub.key, 32);
    assert_string_equal(edr_identity_pubkey(id)->id, pub.id);

    /* unseal what was sealed to the public key; fail for another key */
    {
        uint8_t msg[32], sealed[EDR_KEY_SEALED_LEN], out[32];
        uint8_t opk[32], osk[32];
        randombytes_buf(msg, sizeof(msg));
        assert_int_equal(crypto_box_seal(sealed, msg, 32, pub.key), 0);
        assert_int_equal(edr_identity_unseal(id, sealed, out, &err), EDR_OK);
        assert_memory_equal(out, msg, 32);
        crypto_box_keypair(opk, osk);
        assert_int_equal(crypto_box_seal(sealed, msg, 32, opk), 0);
        assert_int_equal(edr_identity_unseal(id, sealed, out, &err), EDR_E_KEY);
        snprintf(text, sizeof(text),
                 "unable to unseal the data key with key %s (corrupt header or wrong key)", pub.id);
        assert_string_equal(err.msg, text);
        /* twice in a row works: the key is re-protected after use */
        assert_int_equal(crypto_box_seal(sealed, msg, 32, pub.key), 0);
        assert_int_equal(edr_identity_unseal(id, sealed, out, &err), EDR_OK);
    }
    edr_identity_free(id);
    edr_identity_free(NULL);
}

static void
test_keygen_refuses_overwrite(void **state)
{
    char base[300], path[320], msg[400];
    struct edr_err err;
    struct stat st;
    (void)state;

    /* existing .key: nothing else is created */
    snprintf(base, sizeof(base), "%s/k1", dir);
    snprintf(path, sizeof(path), "%s.key", base);
    write_text(path, "precious\n", 0600);
    assert_int_equal(edr_keygen(base, NULL, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "key file '%s' already exists", path);
    assert_string_equal(err.msg, msg);
    assert_string_equal(err.hint,
                        "etcd-dr never overwrites keys; remove it first or choose another path");
    snprintf(path, sizeof(path), "%s.pub", base);
    assert_int_not_equal(stat(path, &st), 0);
    {
        char text[100];
        snprintf(path, sizeof(path), "%s.key", base);
        read_text(path, text, sizeof(text));
        assert_string_equal(text, "precious\n");
    }

    /* existing .pub: the .key is not created */
    snprintf(base, sizeof(base), "%s/k2", dir);
    snprintf(path, sizeof(path), "%s.pub", base);
    write_text(path, "old\n", 0644);
    assert_int_equal(edr_keygen(base, NULL, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "key file '%s' already exists", path);
    assert_string_equal(err.msg, msg);
    snprintf(path, sizeof(path), "%s.key", base);
    assert_int_not_equal(stat(path, &st), 0);

    /* unwritable directory */
    snprintf(base, sizeof(base), "%s/nonexistent/k", dir);
    assert_int_equal(edr_keygen(base, NULL, &err), EDR_E_IO);
    snprintf(msg, sizeof(msg), "unable to create '%s.key': [2] No such file or directory", base);
    assert_string_equal(err.msg, msg);
}

static void
test_identity_mode(void **state)
{
    char base[300], path[320], msg[400];
    struct edr_identity *id = NULL;
    struct edr_err err;
    mode_t modes[] = {0644, 0640, 0604, 0660, 0700 | 0004};
    (void)state;

    snprintf(base, sizeof(base), "%s/m", dir);
    assert_int_equal(edr_keygen(base, NULL, &err), EDR_OK);
    snprintf(path, sizeof(path), "%s.key", base);
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        assert_int_equal(chmod(path, modes[i]), 0);
        assert_int_equal(edr_identity_load(path, &id, &err), EDR_E_KEY);
        assert_null(id);
        snprintf(msg, sizeof(msg), "identity file '%s' is readable by others (mode %04o)", path,
                 (unsigned)modes[i]);
        assert_string_equal(err.msg, msg);
        snprintf(msg, sizeof(msg), "chmod 600 %s", path);
        assert_string_equal(err.hint, msg);
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(edr_identity_load(path, &id, &err), EDR_OK);
    edr_identity_free(id);

    snprintf(path, sizeof(path), "%s/missing.key", dir);
    assert_int_equal(edr_identity_load(path, &id, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "unable to open identity file '%s': [2] No such file or directory",
             path);
    assert_string_equal(err.msg, msg);

    assert_int_equal(edr_identity_load(dir, &id, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "identity file '%s' is not a regular file", dir);
    assert_string_equal(err.msg, msg);
}

static void
test_parse_errors(void **state)
{
    struct edr_identity *id = NULL;
    struct edr_pubkey pub;
    struct edr_err err;
    const char *good = "etcd-dr-public-key-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    (void)state;

    assert_int_equal(edr_pubkey_parse(good, strlen(good), "p.pub", &pub, &err), EDR_OK);
    for (int i = 0; i < 32; i++)
        assert_int_equal(pub.key[i], i);
    /* with \n and \r\n */
    assert_int_equal(
        edr_pubkey_parse("etcd-dr-public-key-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\r\n",
                         strlen(good) + 2, "p.pub", &pub, &err),
        EDR_OK);

    assert_int_equal(edr_pubkey_parse("hello", 5, "p.pub", &pub, &err), EDR_E_KEY);
    assert_string_equal(err.msg, "public key file 'p.pub': not an etcd-dr key file (expected "
                                 "'etcd-dr-public-key-1 ...')");
    assert_int_equal(edr_pubkey_parse("etcd-dr-public-key-1 AAEC", 25, "p.pub", &pub, &err),
                     EDR_E_KEY);
    assert_string_equal(err.msg,
                        "public key file 'p.pub': malformed key (expected base64 of 32 bytes)");
    assert_int_equal(
        edr_pubkey_parse("etcd-dr-public-key-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=x",
                         strlen(good) + 1, "p.pub", &pub, &err),
        EDR_E_KEY);
    assert_string_equal(err.msg,
                        "public key file 'p.pub': malformed key (expected base64 of 32 bytes)");
    /* two lines is not one key */
    assert_int_equal(
        edr_pubkey_parse("etcd-dr-public-key-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n",
                         strlen(good) + 2, "p.pub", &pub, &err),
        EDR_E_KEY);

    /* a secret key given as public key and vice versa */
    assert_int_equal(
        edr_pubkey_parse("etcd-dr-secret-key-1 AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                         strlen(good), "x.key", &pub, &err),
        EDR_E_KEY);
    assert_string_equal(err.msg, "public key file 'x.key' holds a secret key");
    assert_int_equal(edr_identity_parse(good, strlen(good), "x.pub", &id, &err), EDR_E_KEY);
    assert_string_equal(err.msg, "identity file 'x.pub' holds a public key");
    assert_string_equal(err.hint,
                        "an identity is the .key file of a key pair, a recipient the .pub");
    assert_null(id);
    assert_int_equal(edr_identity_parse("", 0, "e.key", &id, &err), EDR_E_KEY);
    assert_string_equal(err.msg, "identity file 'e.key': not an etcd-dr key file (expected "
                                 "'etcd-dr-secret-key-1 ...')");
}

static void
test_identity_from_file_parse_error(void **state)
{
    char path[320], msg[400];
    struct edr_identity *id = NULL;
    struct edr_err err;
    (void)state;

    snprintf(path, sizeof(path), "%s/bad.key", dir);
    write_text(path, "etcd-dr-secret-key-1 !!!!\n", 0600);
    assert_int_equal(edr_identity_load(path, &id, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "identity file '%s': malformed key (expected base64 of 32 bytes)",
             path);
    assert_string_equal(err.msg, msg);
}

static void
test_from_secret(void **state)
{
    uint8_t sk[32], pk[32];
    struct edr_identity *id = NULL;
    struct edr_pubkey pub;
    struct edr_err err;
    (void)state;

    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(i * 7 + 1);
    assert_int_equal(edr_identity_from_secret(sk, &id, &err), EDR_OK);
    crypto_scalarmult_base(pk, sk);
    assert_memory_equal(edr_identity_pubkey(id)->key, pk, 32);
    edr_pubkey_from_raw(&pub, pk);
    assert_string_equal(pub.id, edr_identity_pubkey(id)->id);
    {
        char line[128], want[128], b64[64];
        sodium_bin2base64(b64, sizeof(b64), pk, 32, sodium_base64_VARIANT_ORIGINAL);
        snprintf(want, sizeof(want), "etcd-dr-public-key-1 %s\n", b64);
        edr_pubkey_format(&pub, line, sizeof(line));
        assert_string_equal(line, want);
    }
    edr_identity_free(id);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen_and_load),
        cmocka_unit_test(test_keygen_refuses_overwrite),
        cmocka_unit_test(test_identity_mode),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_identity_from_file_parse_error),
        cmocka_unit_test(test_from_secret),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
