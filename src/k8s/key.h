/*
 * Where a Kubernetes object lives in etcd: the API server stores each object
 * under "/registry/". A key splits at '/' into segments after "/registry/".
 * The resource is the first segment, except:
 *   - a first segment containing a '.' is an API group (the apiserver stores
 *     CRDs and some built-ins as /registry/<group>/<resource>/...): the
 *     resource is "<group>/<resource>" (e.g. "apiextensions.k8s.io/
 *     customresourcedefinitions", "cert-manager.io/certificates");
 *   - "services/specs" and "services/endpoints" (the legacy service layout)
 *     count as resources of their own.
 * When at least two segments follow the resource, the first of them is the
 * namespace (/registry/pods/<ns>/<name>); otherwise the object is cluster
 * scoped.
 */
#ifndef EDR_K8S_KEY_H
#define EDR_K8S_KEY_H

#include <stddef.h>
#include <stdint.h>

#define EDR_K8S_PREFIX "/registry/"

/* One key's resource and namespace by the rules above (pointers into k;
 * ns NULL for a cluster-scoped object), and the name: what follows the
 * namespace (or the resource), which may be empty. */
struct edr_k8s_key {
    const uint8_t *resource, *ns;
    size_t resource_len, ns_len;
    const uint8_t *name;
    size_t name_len;
};

/* 1 and *out filled, or 0 (*out zeroed) for a key outside /registry/. */
int edr_k8s_key_split(const uint8_t *k, size_t kl, struct edr_k8s_key *out);

#endif
