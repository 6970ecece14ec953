/*
 * Encryption at rest as the Kubernetes API server does it: the keys of an
 * EncryptionConfiguration (the file given to kube-apiserver's
 * --encryption-provider-config) and the opening of values stored under
 * "k8s:enc:<provider>:v<N>:<key name>:" with them: aescbc and aesgcm
 * (libcrypto), secretbox (libsodium). KMS values (v1, v2) need the KMS plugin
 * and cannot be opened offline; they are reported as such.
 *
 * The key material lives in sodium_malloc'ed memory and is wiped on free;
 * decrypted values go only to the caller's buffer, never to disk.
 */
#ifndef EDR_K8S_ENCRYPTION_H
#define EDR_K8S_ENCRYPTION_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct edr_k8s_keys;

/* Read an EncryptionConfiguration file: YAML as the API server takes it
 * (the block subset such files use, src/k8s/yaml.h) or JSON (a text
 * starting with '{'). A file that group or others can read is refused
 * (EDR_E_KEY, with a "chmod 600" hint), like etcd-dr's own key files.
 * Content errors are EDR_E_CONFIG "<file>:<line>: <field path>: <what>"
 * (no line for JSON content): wrong kind or apiVersion, a provider other
 * than aescbc, aesgcm, secretbox, identity or kms, a key without name or
 * secret, a secret that is not base64 or of the wrong size (aes: 16, 24
 * or 32 bytes; secretbox: 32). On error *out is NULL. */
edr_rc edr_k8s_keys_load(const char *path, struct edr_k8s_keys **out, struct edr_err *err);
/* The same on text in memory; `what` names it in errors. */
edr_rc edr_k8s_keys_parse(const char *text, size_t n, const char *what, struct edr_k8s_keys **out,
                          struct edr_err *err);
/* Keys are read only once loaded: threads may share them. */
void edr_k8s_keys_free(struct edr_k8s_keys *k);
/* How many aescbc, aesgcm and secretbox keys were read (k may be NULL). */
size_t edr_k8s_keys_count(const struct edr_k8s_keys *k);
/* How many kms providers the configuration lists (their values cannot be
 * opened offline). */
size_t edr_k8s_keys_kms(const struct edr_k8s_keys *k);

enum edr_k8s_unseal {
    EDR_K8S_PLAIN = 0, /* not encrypted: nothing written to out; use the value */
    EDR_K8S_OPENED,    /* decrypted: the plain value is in out */
    EDR_K8S_NO_KEY,    /* the configuration has no key of that provider and name, or the
                          provider is unknown */
    EDR_K8S_BAD,       /* a key of that name did not open it: wrong key or damaged */
    EDR_K8S_KMS,       /* KMS: needs the KMS plugin, cannot be checked offline */
};

/* Open the value v[n] stored under etcd key `key` (aesgcm authenticates
 * it; the other providers ignore it). `out` (not NULL) is wiped and reset
 * first and holds the plain value only for OPENED; after a failed attempt
 * it is wiped again. Every key of the value's provider and name is tried
 * (a file may use one name in several resource groups). An aescbc result
 * counts as opened only when it starts like a Kubernetes value ("k8s\0" or
 * a JSON object): CBC has no tag, so that is what tells a wrong key.
 * `why` (may be NULL) receives one line saying why a value did not open
 * (provider, key name, reason), "" for PLAIN and OPENED. keys may be NULL:
 * every encrypted value is then NO_KEY (or KMS). Never fails on damaged
 * input: such a value is BAD. */
enum edr_k8s_unseal edr_k8s_unseal(const struct edr_k8s_keys *keys, const uint8_t *key,
                                   size_t key_len, const uint8_t *v, size_t n, struct edr_buf *out,
                                   char *why, size_t why_len);

/* "plain", "opened", "no key", "wrong key or damaged", "kms" */
const char *edr_k8s_unseal_name(enum edr_k8s_unseal r);

#endif
