/*
 * X25519 key pairs (libsodium crypto_box keys) and the key files that hold
 * them. A backup host needs only public keys (recipients); the secret key
 * (identity) lives only where restores happen.
 *
 * Key files are one line of text:
 *   public:  "etcd-dr-public-key-1 <base64 of the 32-byte public key>\n"
 *   secret:  "etcd-dr-secret-key-1 <base64 of the 32-byte secret key>\n"
 * (standard base64 with padding; a final "\n" or "\r\n" is optional). The
 * public key is derived from the secret key (crypto_scalarmult_base).
 *
 * A key id names a public key in manifests, headers and messages: the
 * lower-case hex of the first 8 bytes of crypto_generichash (BLAKE2b, 32-byte
 * output, no key) of the public key, 16 characters.
 *
 * Secret keys live in sodium_malloc memory, are made inaccessible
 * (sodium_mprotect_noaccess) while idle and are wiped by edr_identity_free().
 * Not thread-safe: one identity is used by one thread at a time.
 */
#ifndef EDR_CRYPTO_KEYS_H
#define EDR_CRYPTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define EDR_KEY_LEN 32
#define EDR_KEY_ID_RAW_LEN 8
#define EDR_KEY_ID_HEX_LEN 16
#define EDR_KEY_PUBLIC_PREFIX "etcd-dr-public-key-1"
#define EDR_KEY_SECRET_PREFIX "etcd-dr-secret-key-1"
/* Size of crypto_box_seal() of a 32-byte message: 32 + crypto_box_SEALBYTES. */
#define EDR_KEY_SEALED_LEN 80

struct edr_pubkey {
    uint8_t key[EDR_KEY_LEN];
    uint8_t id_raw[EDR_KEY_ID_RAW_LEN]; /* first 8 bytes of generichash(key) */
    char id[EDR_KEY_ID_HEX_LEN + 1];    /* hex of id_raw, NUL-terminated */
};

struct edr_identity; /* secret key + its public key; opaque */

/* Initialise libsodium (idempotent). EDR_E_INTERNAL when it cannot. */
edr_rc edr_crypto_init(struct edr_err *err);

/* Fill pub->id_raw and pub->id from pub->key. */
void edr_pubkey_set_id(struct edr_pubkey *pub);

/* Build a public key from 32 raw bytes. */
void edr_pubkey_from_raw(struct edr_pubkey *pub, const uint8_t key[EDR_KEY_LEN]);

/* Parse the text of a public key file; `name` (file name) is used in errors:
 * EDR_E_KEY "public key file '<name>': ...". */
edr_rc edr_pubkey_parse(const char *text, size_t len, const char *name, struct edr_pubkey *out,
                        struct edr_err *err);

/* Read and parse a public key file. EDR_E_KEY on unreadable or malformed files. */
edr_rc edr_pubkey_load(const char *path, struct edr_pubkey *out, struct edr_err *err);

/* Format a public key file line (with the final "\n") into buf (>= 80 bytes). */
void edr_pubkey_format(const struct edr_pubkey *pub, char *buf, size_t size);

/*
 * Read a secret key file. Refused with EDR_E_KEY when the file is not a
 * regular file, or is group- or world-accessible (mode & 077):
 * "identity file '/x' is readable by others (mode 0644)" + HINT "chmod 600 /x".
 * Parse errors name the file. *out is freed with edr_identity_free().
 */
edr_rc edr_identity_load(const char *path, struct edr_identity **out, struct edr_err *err);

/* Parse the text of a secret key file (e.g. from the environment); `name` is
 * used in errors. The caller should wipe `text` itself. */
edr_rc edr_identity_parse(const char *text, size_t len, const char *name, struct edr_identity **out,
                          struct edr_err *err);

/* Build an identity from a raw 32-byte secret key (tests, fuzzing). */
edr_rc edr_identity_from_secret(const uint8_t sk[EDR_KEY_LEN], struct edr_identity **out,
                                struct edr_err *err);

/* Wipe and free; accepts NULL. */
void edr_identity_free(struct edr_identity *id);

/* The identity's public key (valid until edr_identity_free). */
const struct edr_pubkey *edr_identity_pubkey(const struct edr_identity *id);

/* crypto_box_seal_open() of an 80-byte sealed box into 32 bytes of `out`
 * (which should be sodium_malloc memory). EDR_E_KEY when it does not open. */
edr_rc edr_identity_unseal(struct edr_identity *id, const uint8_t sealed[EDR_KEY_SEALED_LEN],
                           uint8_t out[EDR_KEY_LEN], struct edr_err *err);

/*
 * keygen: create a new key pair as <path>.key (secret, mode 0600, O_EXCL) and
 * <path>.pub (public, mode 0644). Existing files are never overwritten:
 * EDR_E_KEY "key file '<p>' already exists" with a HINT. On failure nothing
 * is left behind. The public key is returned in *pub when pub != NULL.
 */
edr_rc edr_keygen(const char *path, struct edr_pubkey *pub, struct edr_err *err);

#endif
