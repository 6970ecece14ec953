/*
 * Kubernetes objects as the API server stores them in etcd, decoded
 * generically (no per-type schemas): JSON (custom resources and some
 * built-ins), protobuf (the "k8s\0" magic, then a runtime.Unknown envelope:
 * typeMeta {apiVersion, kind}, raw object bytes whose field 1 is always
 * ObjectMeta), or encrypted at rest ("k8s:enc:<provider>:v<N>:<key>:", whose
 * provider and key name are all that can be read without the key).
 *
 * Only keys and values are seen here, never storage or etcd. Any input is
 * answered, never crashes: what cannot be decoded is reported as such in
 * `format` and `error`.
 */
#ifndef EDR_K8S_OBJECT_H
#define EDR_K8S_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum edr_k8s_format {
    EDR_K8S_UNKNOWN = 0, /* not a Kubernetes object, or damaged (see error) */
    EDR_K8S_JSON,
    EDR_K8S_PROTOBUF,
    EDR_K8S_ENCRYPTED,
};

struct edr_k8s_object {
    enum edr_k8s_format format;
    char api_version[128], kind[128];
    char name[254], ns[64], uid[64], resource_version[32];
    int64_t generation;
    int64_t created, deleted; /* Unix seconds; 0 when absent */
    size_t labels, annotations, owners, finalizers;
    char owner_kind[128], owner_name[254]; /* the first owner reference */
    char enc_provider[16];                 /* EDR_K8S_ENCRYPTED: aescbc, aesgcm, secretbox, kms */
    char enc_version[8];                   /* v1, v2 */
    char enc_key[128];                     /* the key (or KMS provider) name */
    char error[160];                       /* EDR_K8S_UNKNOWN: why */
};

/* Decode one stored value; strings are cut to fit and control bytes become '?'. */
void edr_k8s_decode(const uint8_t *v, size_t n, struct edr_k8s_object *o);

/* Only the encryption prefix: 1 and o->enc_* filled (o->format
 * EDR_K8S_ENCRYPTED) when v is encrypted at rest, else 0 (o zeroed). Cheap:
 * for counting the values of a whole snapshot. */
int edr_k8s_peek_encrypted(const uint8_t *v, size_t n, struct edr_k8s_object *o);

/*
 * The object as `get --k8s` prints it, as jansson JSON in *out (NULL on
 * error): a JSON-stored object as it is; a protobuf one as {apiVersion,
 * kind, metadata, "undecoded": {"encoding": "protobuf", "bytes": N}} where
 * metadata holds what the API server shows of ObjectMeta (name,
 * generateName, namespace, uid, resourceVersion, generation,
 * creationTimestamp, deletionTimestamp (RFC 3339 UTC), deletionGracePeriod-
 * Seconds, labels, annotations, ownerReferences, finalizers; absent fields
 * left out; managedFields not decoded) and N is the size of the rest of the
 * object (its spec, status, data...). The API server stores no
 * resourceVersion: metadata.resourceVersion is set to `rv` (the key's mod
 * revision) unless rv is 0. Errors: EDR_E_INTEGRITY "damaged protobuf
 * object: ...", "not a Kubernetes object: ...", "encrypted at rest with
 * <provider>:<key>" (decrypt first); EDR_E_INTERNAL out of memory.
 */
struct json_t;
edr_rc edr_k8s_object_json(const uint8_t *v, size_t n, int64_t rv, struct json_t **out,
                           struct edr_err *err);

/* "json", "protobuf", "encrypted", "unknown" */
const char *edr_k8s_format_name(enum edr_k8s_format f);

#endif
