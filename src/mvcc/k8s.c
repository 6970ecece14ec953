/*
 * The Kubernetes view of the live keys under /registry/ (see k8s/key.h for
 * how a key splits into resource and namespace): counts and value bytes per
 * resource and per namespace, sorted by name.
 */
#include "mvcc/intern.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "k8s/key.h"

struct kitem {
    const uint8_t *s;
    size_t len;
    uint64_t bytes;
};

static int
kitem_cmp(const void *a, const void *b)
{
    const struct kitem *x = a, *y = b;

    return edr_keycmp(x->s, x->len, y->s, y->len);
}

/* Sorts items and merges equal names into out (malloc'ed). */
static edr_rc
merge_counts(struct kitem *it, size_t n, struct edr_k8s_count **out, size_t *nout,
             struct edr_err *err)
{
    size_t m = 0;

    *out = NULL;
    *nout = 0;
    if (n == 0)
        return EDR_OK;
    qsort(it, n, sizeof(*it), kitem_cmp);
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || kitem_cmp(&it[i - 1], &it[i]) != 0) {
            (*out)[m].name = malloc(it[i].len + 1);
            if ((*out)[m].name == NULL) {
                *nout = m;
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            }
            memcpy((*out)[m].name, it[i].s, it[i].len);
            (*out)[m].name[it[i].len] = '\0';
            m++;
        }
        (*out)[m - 1].count++;
        (*out)[m - 1].bytes += it[i].bytes;
    }
    *nout = m;
    return EDR_OK;
}

static const char K8S_PREFIX[] = EDR_K8S_PREFIX;
#define K8S_PLEN (sizeof(K8S_PREFIX) - 1)

edr_rc
edr_mvcc_k8s_from_map(const struct livemap *lm, struct edr_k8s_stats **out, struct edr_err *err)
{
    struct edr_k8s_stats *s = NULL;
    struct kitem *res = NULL, *nss = NULL;
    size_t nres = 0, nns = 0;
    edr_rc rc = EDR_OK;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    res = malloc((lm->n ? lm->n : 1) * sizeof(*res));
    nss = malloc((lm->n ? lm->n : 1) * sizeof(*nss));
    if (s == NULL || res == NULL || nss == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < lm->n; i++) {
        const struct live_ent *e = &lm->ents[i];
        const uint8_t *k = lm->arena + e->koff;
        struct edr_k8s_key kk;
        if (e->dead || e->klen < K8S_PLEN || memcmp(k, K8S_PREFIX, K8S_PLEN) != 0)
            continue;
        if (!edr_k8s_key_split(k, e->klen, &kk)) /* "/registry/" itself: resource "" */
            kk = (struct edr_k8s_key){k + K8S_PLEN, NULL, 0, 0, NULL, 0};
        res[nres++] = (struct kitem){kk.resource, kk.resource_len, e->vlen};
        if (kk.ns != NULL)
            nss[nns++] = (struct kitem){kk.ns, kk.ns_len, e->vlen};
        s->objects++;
        s->bytes += e->vlen;
    }
    if ((rc = merge_counts(res, nres, &s->resources, &s->n_resources, err)) != EDR_OK)
        goto out;
    if ((rc = merge_counts(nss, nns, &s->namespaces, &s->n_namespaces, err)) != EDR_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    edr_mvcc_k8s_stats_free(s);
    free(res);
    free(nss);
    return rc;
}

edr_rc
edr_mvcc_k8s_stats(struct edr_bolt *b, struct edr_k8s_stats **out, struct edr_err *err)
{
    struct live_scan c;
    edr_rc rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    c.prefix = (const uint8_t *)K8S_PREFIX;
    c.plen = K8S_PLEN;
    if ((rc = edr_mvcc_live_scan(b, &c, err)) == EDR_OK)
        rc = edr_mvcc_k8s_from_map(&c.lm, out, err);
    edr_mvcc_livemap_release(&c.lm);
    return rc;
}

void
edr_mvcc_k8s_stats_free(struct edr_k8s_stats *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_resources; i++)
        free(s->resources[i].name);
    for (size_t i = 0; i < s->n_namespaces; i++)
        free(s->namespaces[i].name);
    free(s->resources);
    free(s->namespaces);
    free(s);
}
