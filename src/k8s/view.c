/*
 * One stored value as the Kubernetes view shows it, and the encryption
 * census of a snapshot (see view.h). The census classes values as they
 * stream past (every revision, in file order) and counts only the live
 * ones afterwards: a class is what counting needs of a value, small enough
 * to be kept for each pair of the `key` bucket.
 */
#include "k8s/view.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"
#include "k8s/key.h"

void
edr_k8s_view_value(const struct edr_k8s_keys *keys, const uint8_t *key, size_t kl, const uint8_t *v,
                   size_t n, struct edr_buf *buf, struct edr_k8s_view *w)
{
    memset(w, 0, sizeof(*w));
    edr_k8s_decode(v, n, &w->stored);
    w->obj = w->stored;
    w->plain = v;
    w->plain_len = n;
    w->checked = keys != NULL;
    w->unseal = EDR_K8S_PLAIN;
    if (w->stored.format != EDR_K8S_ENCRYPTED || keys == NULL)
        return;
    w->unseal = edr_k8s_unseal(keys, key, kl, v, n, buf, w->why, sizeof(w->why));
    if (w->unseal == EDR_K8S_OPENED) {
        w->plain = buf->data;
        w->plain_len = buf->len;
        edr_k8s_decode(w->plain, w->plain_len, &w->obj);
    }
}

void
edr_k8s_view_wipe(struct edr_buf *buf)
{
    if (buf->data != NULL)
        sodium_memzero(buf->data, buf->cap);
    edr_buf_reset(buf);
}

const char *
edr_k8s_view_status(const struct edr_k8s_view *w)
{
    if (w->stored.format != EDR_K8S_ENCRYPTED)
        return NULL;
    if (!w->checked)
        return "not checked";
    switch (w->unseal) {
    case EDR_K8S_OPENED:
        return "opened";
    case EDR_K8S_NO_KEY:
        return "no key";
    case EDR_K8S_KMS:
        return "kms";
    default:
        return "wrong key or damaged";
    }
}

/* ---- the census ---- */

/* What a class stands for: a key in use, and whether the value opened. */
struct klass {
    size_t use;
    int opened;
};

#define CLASS_MAX 4096 /* more distinct key names than that: counted as "?" */

struct edr_k8s_census {
    const struct edr_k8s_keys *keys;
    struct edr_k8s_enc_report r;
    struct edr_k8s_enc_report sorted; /* what edr_k8s_census_report returned */
    size_t cap_keys;
    struct klass *classes; /* class i + 1 */
    size_t n_classes, cap_classes;
    struct edr_buf buf; /* decrypted values, wiped after each */
};

edr_rc
edr_k8s_census_new(const struct edr_k8s_keys *keys, struct edr_k8s_census **out,
                   struct edr_err *err)
{
    *out = calloc(1, sizeof(**out));
    if (*out == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    (*out)->keys = keys;
    (*out)->r.checked = keys != NULL;
    return EDR_OK;
}

void
edr_k8s_census_free(struct edr_k8s_census *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->r.n_keys; i++) {
        for (size_t j = 0; j < c->r.keys[i].n_resources; j++)
            free(c->r.keys[i].resources[j].name);
        free(c->r.keys[i].resources);
    }
    free(c->r.keys);
    free(c->sorted.keys);
    free(c->classes);
    edr_k8s_view_wipe(&c->buf);
    edr_buf_release(&c->buf);
    free(c);
}

static int
find_use(struct edr_k8s_census *c, const struct edr_k8s_object *o, size_t *use)
{
    struct edr_k8s_enc_use *u;

    for (size_t i = 0; i < c->r.n_keys; i++) {
        u = &c->r.keys[i];
        if (strcmp(u->provider, o->enc_provider) == 0 && strcmp(u->version, o->enc_version) == 0 &&
            strcmp(u->key, o->enc_key) == 0) {
            *use = i;
            return 0;
        }
    }
    if (edr_grow(&c->r.keys, &c->cap_keys, c->r.n_keys + 1, sizeof(*c->r.keys)) != 0)
        return -1;
    u = &c->r.keys[c->r.n_keys];
    memset(u, 0, sizeof(*u));
    snprintf(u->provider, sizeof(u->provider), "%s", o->enc_provider);
    snprintf(u->version, sizeof(u->version), "%s", o->enc_version);
    snprintf(u->key, sizeof(u->key), "%s", o->enc_key);
    *use = c->r.n_keys++;
    return 0;
}

uint16_t
edr_k8s_census_classify(struct edr_k8s_census *c, const uint8_t *key, size_t kl, const uint8_t *v,
                        size_t n)
{
    struct edr_k8s_object o;
    struct edr_k8s_key kk;
    struct klass k = {0, 0};

    if (!edr_k8s_key_split(key, kl, &kk) || !edr_k8s_peek_encrypted(v, n, &o))
        return 0;
    if (c->keys != NULL)
        k.opened = edr_k8s_unseal(c->keys, key, kl, v, n, &c->buf, NULL, 0) == EDR_K8S_OPENED;
    edr_k8s_view_wipe(&c->buf);
    if (c->n_classes >= CLASS_MAX) {
        snprintf(o.enc_provider, sizeof(o.enc_provider), "?");
        snprintf(o.enc_version, sizeof(o.enc_version), "?");
        snprintf(o.enc_key, sizeof(o.enc_key), "(more key names than counted)");
    }
    if (find_use(c, &o, &k.use) != 0)
        return 0;
    for (size_t i = 0; i < c->n_classes; i++)
        if (c->classes[i].use == k.use && c->classes[i].opened == k.opened)
            return (uint16_t)(i + 1);
    if (c->n_classes >= CLASS_MAX + 2 ||
        edr_grow(&c->classes, &c->cap_classes, c->n_classes + 1, sizeof(*c->classes)) != 0)
        return 0;
    c->classes[c->n_classes++] = k;
    return (uint16_t)c->n_classes;
}

static int
count_res(struct edr_k8s_enc_use *u, const struct edr_k8s_key *kk)
{
    struct edr_k8s_res_count *r;

    for (size_t i = 0; i < u->n_resources; i++) {
        r = &u->resources[i];
        if (strlen(r->name) == kk->resource_len &&
            memcmp(r->name, kk->resource, kk->resource_len) == 0) {
            r->count++;
            return 0;
        }
    }
    r = realloc(u->resources, (u->n_resources + 1) * sizeof(*r));
    if (r == NULL)
        return -1;
    u->resources = r;
    r = &u->resources[u->n_resources];
    if ((r->name = strndup((const char *)kk->resource, kk->resource_len)) == NULL)
        return -1;
    r->count = 1;
    u->n_resources++;
    return 0;
}

int
edr_k8s_census_count(struct edr_k8s_census *c, const uint8_t *key, size_t kl, uint16_t cls)
{
    struct edr_k8s_key kk;
    struct edr_k8s_enc_use *u;

    if (!edr_k8s_key_split(key, kl, &kk))
        return 0;
    if (cls == 0 || cls > c->n_classes) {
        if (kk.resource_len == 7 && memcmp(kk.resource, "secrets", 7) == 0)
            c->r.plain_secrets++;
        return 0;
    }
    u = &c->r.keys[c->classes[cls - 1].use];
    u->objects++;
    u->opened += c->classes[cls - 1].opened;
    c->r.encrypted++;
    return count_res(u, &kk);
}

int
edr_k8s_census_add(struct edr_k8s_census *c, const uint8_t *key, size_t kl, const uint8_t *v,
                   size_t n)
{
    return edr_k8s_census_count(c, key, kl, edr_k8s_census_classify(c, key, kl, v, n));
}

static int
res_cmp(const void *a, const void *b)
{
    return strcmp(((const struct edr_k8s_res_count *)a)->name,
                  ((const struct edr_k8s_res_count *)b)->name);
}

static int
use_cmp(const void *a, const void *b)
{
    const struct edr_k8s_enc_use *x = a, *y = b;
    int r = strcmp(x->provider, y->provider);

    if (r == 0)
        r = strcmp(x->version, y->version);
    return r != 0 ? r : strcmp(x->key, y->key);
}

const struct edr_k8s_enc_report *
edr_k8s_census_report(struct edr_k8s_census *c)
{
    /* sorted copies: the classes refer to the uses by index */
    free(c->sorted.keys);
    c->sorted = c->r;
    c->sorted.keys = NULL;
    c->sorted.n_keys = 0;
    if (c->r.n_keys > 0) {
        c->sorted.keys = malloc(c->r.n_keys * sizeof(*c->sorted.keys));
        if (c->sorted.keys == NULL)
            return &c->r;
        memcpy(c->sorted.keys, c->r.keys, c->r.n_keys * sizeof(*c->sorted.keys));
        c->sorted.n_keys = c->r.n_keys;
        qsort(c->sorted.keys, c->sorted.n_keys, sizeof(*c->sorted.keys), use_cmp);
    }
    for (size_t i = 0; i < c->sorted.n_keys; i++)
        qsort(c->sorted.keys[i].resources, c->sorted.keys[i].n_resources,
              sizeof(*c->sorted.keys[i].resources), res_cmp);
    return &c->sorted;
}
