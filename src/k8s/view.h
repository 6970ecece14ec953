/*
 * Stored Kubernetes values as `ls --k8s`, `get --k8s` and `inspect` show
 * them: one value decrypted when the keys open it and decoded (the view),
 * and the encryption census of a whole snapshot (which provider and key
 * name encrypt how many objects of which resource, and whether they open).
 * Only keys and values are seen here, never storage or etcd; nothing is
 * printed. Decrypted bytes stay in the caller's buffer.
 */
#ifndef EDR_K8S_VIEW_H
#define EDR_K8S_VIEW_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "k8s/encryption.h"
#include "k8s/object.h"

struct edr_k8s_view {
    struct edr_k8s_object stored; /* of the stored bytes: format, enc_* when encrypted */
    struct edr_k8s_object obj;    /* the object: of the plaintext when it opened, else = stored */
    const uint8_t *plain;         /* the object's bytes: the plaintext (in buf) when it */
    size_t plain_len;             /*   opened, else the stored value */
    int checked;                  /* keys were given: unseal says what they did */
    enum edr_k8s_unseal unseal;   /* EDR_K8S_PLAIN when not encrypted or not checked */
    char why[160];                /* why an encrypted value did not open */
};

/* The view of value v stored under key. keys may be NULL (nothing is
 * decrypted: encrypted values are "not checked"). buf receives the
 * plaintext; it must outlive the use of w->plain. Never fails: what cannot
 * be read is said in w. */
void edr_k8s_view_value(const struct edr_k8s_keys *keys, const uint8_t *key, size_t kl,
                        const uint8_t *v, size_t n, struct edr_buf *buf, struct edr_k8s_view *w);

/* Wipe and empty a buffer that held a plaintext (before reuse or release). */
void edr_k8s_view_wipe(struct edr_buf *buf);

/* The encryption status of an encrypted value: "not checked" (no keys),
 * "opened", "no key", "wrong key or damaged", "kms"; NULL when it is not
 * encrypted. */
const char *edr_k8s_view_status(const struct edr_k8s_view *w);

/* ---- the encryption census (inspect) ---- */

struct edr_k8s_res_count {
    char *name;
    uint64_t count;
};

/* One provider and key name, with the live objects it encrypts. */
struct edr_k8s_enc_use {
    char provider[16], version[8], key[128];
    uint64_t objects;
    uint64_t opened;                     /* with keys: how many of them opened */
    struct edr_k8s_res_count *resources; /* by resource */
    size_t n_resources;
};

struct edr_k8s_enc_report {
    uint64_t encrypted;     /* live objects under /registry/ encrypted at rest */
    uint64_t plain_secrets; /* live secrets that are not */
    int checked;            /* keys were given: `opened` counts */
    struct edr_k8s_enc_use *keys;
    size_t n_keys;
};

struct edr_k8s_census;

/* keys may be NULL; it must outlive the census. */
edr_rc edr_k8s_census_new(const struct edr_k8s_keys *keys, struct edr_k8s_census **out,
                          struct edr_err *err);
void edr_k8s_census_free(struct edr_k8s_census *c);

/* The class of one stored value, for values seen in any order (a snapshot
 * streaming past holds every revision): 0 for a value that is not
 * encrypted or not under /registry/, else a small number standing for
 * provider, key name and (with keys) whether it opened. */
uint16_t edr_k8s_census_classify(struct edr_k8s_census *c, const uint8_t *key, size_t kl,
                                 const uint8_t *v, size_t n);
/* Count one live object whose value has class cls; -1 when out of memory. */
int edr_k8s_census_count(struct edr_k8s_census *c, const uint8_t *key, size_t kl, uint16_t cls);
/* Both at once, for a live value read from a file. */
int edr_k8s_census_add(struct edr_k8s_census *c, const uint8_t *key, size_t kl, const uint8_t *v,
                       size_t n);

/* The report so far, keys sorted by provider, version and name, resources
 * by name; valid until the next call on c. */
const struct edr_k8s_enc_report *edr_k8s_census_report(struct edr_k8s_census *c);

#endif
