/*
 * The --drop-prefix filter (drop.h). The key bucket is in revision order,
 * not key order, so telling keys from revisions (and which keys were still
 * alive) needs a set of the dropped keys: an open-addressing hash table,
 * small since only keys under the dropped prefixes enter it.
 */
#include "restore/drop.h"

#include <stdlib.h>
#include <string.h>

#include "mvcc/mvcc.h"

struct slot {
    uint8_t *key; /* NULL: empty */
    size_t len;
    uint64_t hash;
    size_t prefix;
    int live;
};

struct edr_restore_drop {
    char **prefix;
    size_t n;
    struct edr_restore_drop_count *count;
    struct slot *slots;
    size_t cap, used;
};

static uint64_t
fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static struct slot *
find(struct slot *slots, size_t cap, const uint8_t *k, size_t len, uint64_t h)
{
    size_t i = (size_t)h & (cap - 1);

    while (slots[i].key != NULL &&
           !(slots[i].hash == h && slots[i].len == len && memcmp(slots[i].key, k, len) == 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int
grow(struct edr_restore_drop *d)
{
    size_t ncap = d->cap ? d->cap * 2 : 64;
    struct slot *ns = calloc(ncap, sizeof(*ns));

    if (ns == NULL)
        return -1;
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].key != NULL)
            *find(ns, ncap, d->slots[i].key, d->slots[i].len, d->slots[i].hash) = d->slots[i];
    free(d->slots);
    d->slots = ns;
    d->cap = ncap;
    return 0;
}

edr_rc
edr_restore_drop_new(char *const *prefixes, size_t n, struct edr_restore_drop **out,
                     struct edr_err *err)
{
    struct edr_restore_drop *d = calloc(1, sizeof(*d));

    *out = NULL;
    if (d == NULL || (d->prefix = calloc(n ? n : 1, sizeof(char *))) == NULL ||
        (d->count = calloc(n ? n : 1, sizeof(*d->count))) == NULL) {
        edr_restore_drop_free(d);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (prefixes[i][0] == '\0') {
            edr_restore_drop_free(d);
            return edr_err_set(err, EDR_E_USAGE,
                               "--drop-prefix '': an empty prefix drops every key");
        }
        if ((d->prefix[i] = strdup(prefixes[i])) == NULL) {
            edr_restore_drop_free(d);
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        }
        d->n = i + 1;
    }
    *out = d;
    return EDR_OK;
}

int
edr_restore_drop_key(struct edr_restore_drop *d, const uint8_t *key, size_t key_len, int tomb,
                     struct edr_err *err)
{
    struct slot *s;
    uint64_t h;
    size_t p;

    if (d == NULL)
        return 0;
    for (p = 0; p < d->n; p++) {
        size_t pl = strlen(d->prefix[p]);
        if (key_len >= pl && memcmp(key, d->prefix[p], pl) == 0)
            break;
    }
    if (p == d->n)
        return 0;
    if ((d->used + 1) * 4 > d->cap * 3 && grow(d) != 0) {
        edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        return -1;
    }
    h = fnv1a(key, key_len);
    s = find(d->slots, d->cap, key, key_len, h);
    if (s->key == NULL) {
        if ((s->key = malloc(key_len ? key_len : 1)) == NULL) {
            edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            return -1;
        }
        memcpy(s->key, key, key_len);
        s->len = key_len;
        s->hash = h;
        s->prefix = p;
        d->used++;
        d->count[p].keys++;
    }
    s->live = !tomb;
    d->count[p].revisions++;
    return 1;
}

int
edr_restore_drop_entry(struct edr_restore_drop *d, const uint8_t *rk, size_t rk_len,
                       const uint8_t *v, size_t v_len, struct edr_err *err)
{
    struct edr_kv kv;

    if (d == NULL || v_len == 0)
        return 0;
    if (edr_mvcc_kv_decode(v, v_len, &kv, err) != EDR_OK) {
        edr_err_set(err, EDR_E_INTEGRITY, "bucket 'key': a value is not a KeyValue");
        return -1;
    }
    return edr_restore_drop_key(d, kv.key, kv.key_len, rk_len == 18 && rk[17] == 't', err);
}

size_t
edr_restore_drop_n(const struct edr_restore_drop *d)
{
    return d ? d->n : 0;
}

const char *
edr_restore_drop_prefix(const struct edr_restore_drop *d, size_t i)
{
    return d->prefix[i];
}

void
edr_restore_drop_count(const struct edr_restore_drop *d, size_t i, struct edr_restore_drop_count *c)
{
    *c = d->count[i];
    c->live = 0;
    for (size_t k = 0; k < d->cap; k++)
        if (d->slots[k].key != NULL && d->slots[k].prefix == i && d->slots[k].live)
            c->live++;
}

void
edr_restore_drop_free(struct edr_restore_drop *d)
{
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->n; i++)
        free(d->prefix[i]);
    for (size_t i = 0; i < d->cap; i++)
        free(d->slots[i].key);
    free(d->prefix);
    free(d->count);
    free(d->slots);
    free(d);
}
