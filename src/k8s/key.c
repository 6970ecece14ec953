/*
 * Kubernetes keys split into resource and namespace (see key.h).
 */
#include "k8s/key.h"

#include <string.h>

static const char K8S_PREFIX[] = EDR_K8S_PREFIX;
#define K8S_PLEN (sizeof(K8S_PREFIX) - 1)

static int
seg_is(const uint8_t *n, size_t nl, const char *s)
{
    return nl == strlen(s) && memcmp(n, s, nl) == 0;
}

int
edr_k8s_key_split(const uint8_t *k, size_t kl, struct edr_k8s_key *out)
{
    const uint8_t *p, *end = k + kl, *s1e, *s2e, *rest;
    size_t nseg = 0;

    memset(out, 0, sizeof(*out));
    if (kl <= K8S_PLEN || memcmp(k, K8S_PREFIX, K8S_PLEN) != 0)
        return 0;
    p = k + K8S_PLEN;
    s1e = memchr(p, '/', (size_t)(end - p));
    if (s1e == NULL)
        s1e = end;
    out->resource = p;
    out->resource_len = (size_t)(s1e - p);
    rest = s1e < end ? s1e + 1 : end;
    if (rest < end) {
        s2e = memchr(rest, '/', (size_t)(end - rest));
        if (s2e == NULL)
            s2e = end;
        if (memchr(p, '.', out->resource_len) != NULL ||
            (seg_is(p, out->resource_len, "services") &&
             (seg_is(rest, (size_t)(s2e - rest), "specs") ||
              seg_is(rest, (size_t)(s2e - rest), "endpoints")))) {
            out->resource_len = (size_t)(s2e - p);
            rest = s2e < end ? s2e + 1 : end;
        }
    }
    if (rest < end) {
        nseg = 1;
        for (const uint8_t *q = rest; q < end; q++)
            nseg += *q == '/';
    }
    if (nseg >= 2) {
        const uint8_t *e = memchr(rest, '/', (size_t)(end - rest));
        out->ns = rest;
        out->ns_len = (size_t)(e - rest);
        rest = e + 1;
    }
    out->name = rest;
    out->name_len = (size_t)(end - rest);
    return 1;
}
