/*
 * diff A B: what changed between two backups (or a backup and a plain .db):
 * the live keys of each, compared key by key. A key only in B is added, only
 * in A removed; in both with another mod revision or value, changed. Keys
 * under /registry/ are grouped by Kubernetes resource and namespace (the
 * rules of `inspect`), the others as "(not Kubernetes)". Memory: A's live
 * keys (each key, its mod revision and 8 bytes of its value's SHA-256);
 * B streams past them in key order.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/source.h"
#include "common/bytes.h"
#include "common/grow.h"
#include "common/hash.h"
#include "k8s/key.h"
#include "mvcc/mvcc.h"

const enum edr_opt_id edr_cmd_diff_opts[] = {EDR_OPTS_REPO,         EDR_O_IDENTITY, EDR_O_PREFIX,
                                             EDR_O_SKIP_HASH_CHECK, EDR_O_JSON,     EDR_O__COUNT};

enum change { SAME, ADDED, REMOVED, CHANGED };

struct akey {
    size_t off, len; /* in the arena */
    int64_t mod_rev;
    uint8_t vhash[8];
};

struct group {
    char *resource, *ns;
    uint64_t n[4];
};

struct diff {
    struct akey *a;
    size_t na, capa, pos;
    uint8_t *arena;
    size_t alen, acap;
    struct group *g;
    size_t ng, capg;
    uint64_t total[4];
    json_t *keys; /* --json */
    int oom;
};

static void
vhash(const uint8_t *v, size_t n, uint8_t out[8])
{
    uint8_t h[32];

    edr_sha256_buf(v, n, h);
    memcpy(out, h, 8);
}

static int
collect_a(void *ud, const struct edr_kv *kv)
{
    struct diff *d = ud;
    struct akey *k;

    if (edr_grow(&d->a, &d->capa, d->na + 1, sizeof(*d->a)) != 0 ||
        edr_grow(&d->arena, &d->acap, d->alen + kv->key_len + 1, 1) != 0) {
        d->oom = 1;
        return -1;
    }
    k = &d->a[d->na++];
    k->off = d->alen;
    k->len = kv->key_len;
    k->mod_rev = kv->mod_revision;
    vhash(kv->value, kv->value_len, k->vhash);
    memcpy(d->arena + d->alen, kv->key, kv->key_len);
    d->alen += kv->key_len;
    return 0;
}

/* The group of a key: Kubernetes resource and namespace, or "(not Kubernetes)". */
static struct group *
group_of(struct diff *d, const uint8_t *k, size_t kl)
{
    struct edr_k8s_key kk;
    const uint8_t *res = (const uint8_t *)"(not Kubernetes)", *ns = (const uint8_t *)"";
    size_t rl = 16, nl = 0;

    if (edr_k8s_key_split(k, kl, &kk)) {
        res = kk.resource, rl = kk.resource_len;
        ns = kk.ns != NULL ? kk.ns : ns, nl = kk.ns_len;
    }
    for (size_t i = 0; i < d->ng; i++)
        if (strlen(d->g[i].resource) == rl && memcmp(d->g[i].resource, res, rl) == 0 &&
            strlen(d->g[i].ns) == nl && memcmp(d->g[i].ns, ns, nl) == 0)
            return &d->g[i];
    if (edr_grow(&d->g, &d->capg, d->ng + 1, sizeof(*d->g)) != 0)
        return NULL;
    memset(&d->g[d->ng], 0, sizeof(d->g[d->ng]));
    d->g[d->ng].resource = strndup((const char *)res, rl);
    d->g[d->ng].ns = strndup((const char *)ns, nl);
    if (d->g[d->ng].resource == NULL || d->g[d->ng].ns == NULL)
        return NULL;
    return &d->g[d->ng++];
}

static int
record(struct diff *d, enum change c, const uint8_t *k, size_t kl, int64_t ra, int64_t rb)
{
    static const char *const names[] = {"same", "added", "removed", "changed"};
    struct group *g = group_of(d, k, kl);

    if (g == NULL) {
        d->oom = 1;
        return -1;
    }
    g->n[c]++;
    d->total[c]++;
    if (d->keys != NULL) {
        const char *enc;
        json_t *o =
            json_pack("{s:o, s:s}", "key", edr_cmd_bytes_json(k, kl, &enc), "change", names[c]);
        if (ra > 0)
            json_object_set_new(o, "a_mod_revision", json_integer(ra));
        if (rb > 0)
            json_object_set_new(o, "b_mod_revision", json_integer(rb));
        json_array_append_new(d->keys, o);
    } else {
        printf("%c ", c == ADDED ? '+' : c == REMOVED ? '-' : '~');
        fwrite(k, 1, kl, stdout);
        if (c == CHANGED)
            printf("  (mod revision %" PRId64 " -> %" PRId64 ")", ra, rb);
        putchar('\n');
    }
    return 0;
}

/* B's keys come in key order: A's keys before each one were removed. */
static int
compare_b(void *ud, const struct edr_kv *kv)
{
    struct diff *d = ud;
    int c = 1;

    while (d->pos < d->na) {
        const struct akey *a = &d->a[d->pos];
        c = edr_keycmp(d->arena + a->off, a->len, kv->key, kv->key_len);
        if (c >= 0)
            break;
        if (record(d, REMOVED, d->arena + a->off, a->len, a->mod_rev, 0) != 0)
            return -1;
        d->pos++;
    }
    if (d->pos < d->na && c == 0) {
        const struct akey *a = &d->a[d->pos++];
        uint8_t h[8];
        vhash(kv->value, kv->value_len, h);
        if (a->mod_rev == kv->mod_revision && memcmp(a->vhash, h, 8) == 0) {
            d->total[SAME]++;
            return 0;
        }
        return record(d, CHANGED, kv->key, kv->key_len, a->mod_rev, kv->mod_revision);
    }
    return record(d, ADDED, kv->key, kv->key_len, 0, kv->mod_revision);
}

static int
cmp_group(const void *x, const void *y)
{
    const struct group *a = x, *b = y;
    int c = strcmp(a->resource, b->resource);

    return c != 0 ? c : strcmp(a->ns, b->ns);
}

edr_rc
edr_cmd_diff(struct edr_ctx *ctx)
{
    struct edr_source_db a, b;
    struct diff d;
    const char *prefix = edr_opt_str(&ctx->opts, EDR_O_PREFIX);
    size_t pl = prefix != NULL ? strlen(prefix) : 0;
    edr_rc rc;

    memset(&d, 0, sizeof(d));
    edr_source_db_init(&a);
    edr_source_db_init(&b);
    if ((rc = edr_source_db_open(ctx, ctx->opts.args[0], &a)) != EDR_OK ||
        (rc = edr_source_db_open(ctx, ctx->opts.args[1], &b)) != EDR_OK)
        goto out;
    rc = edr_mvcc_foreach_live(a.bolt, (const uint8_t *)prefix, pl, 0, collect_a, &d, &ctx->err);
    if (rc != EDR_OK) {
        edr_err_prefix(&ctx->err, "%s", a.src.what);
        goto out;
    }
    if (ctx->json)
        d.keys = json_array();
    rc = edr_mvcc_foreach_live(b.bolt, (const uint8_t *)prefix, pl, 0, compare_b, &d, &ctx->err);
    for (; rc == EDR_OK && d.pos < d.na; d.pos++)
        if (record(&d, REMOVED, d.arena + d.a[d.pos].off, d.a[d.pos].len, d.a[d.pos].mod_rev, 0))
            break;
    if (d.oom) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if (rc != EDR_OK) {
        edr_err_prefix(&ctx->err, "%s", b.src.what);
        goto out;
    }
    if (d.ng > 1)
        qsort(d.g, d.ng, sizeof(*d.g), cmp_group);
    if (ctx->json) {
        json_t *groups = json_array();
        for (size_t i = 0; i < d.ng; i++)
            json_array_append_new(groups, json_pack("{s:s, s:s, s:I, s:I, s:I}", "resource",
                                                    d.g[i].resource, "namespace", d.g[i].ns,
                                                    "added", (json_int_t)d.g[i].n[ADDED], "removed",
                                                    (json_int_t)d.g[i].n[REMOVED], "changed",
                                                    (json_int_t)d.g[i].n[CHANGED]));
        edr_cmd_print_json(json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o, s:o}", "a", a.src.what,
                                     "b", b.src.what, "added", (json_int_t)d.total[ADDED],
                                     "removed", (json_int_t)d.total[REMOVED], "changed",
                                     (json_int_t)d.total[CHANGED], "unchanged",
                                     (json_int_t)d.total[SAME], "groups", groups, "keys", d.keys));
        d.keys = NULL;
    } else {
        printf("\n%-40s %-24s %8s %8s %8s\n", "RESOURCE", "NAMESPACE", "ADDED", "REMOVED",
               "CHANGED");
        for (size_t i = 0; i < d.ng; i++)
            printf("%-40s %-24s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n", d.g[i].resource,
                   d.g[i].ns[0] ? d.g[i].ns : "-", d.g[i].n[ADDED], d.g[i].n[REMOVED],
                   d.g[i].n[CHANGED]);
        printf("%s -> %s: %" PRIu64 " added, %" PRIu64 " removed, %" PRIu64 " changed, %" PRIu64
               " unchanged\n",
               a.src.what, b.src.what, d.total[ADDED], d.total[REMOVED], d.total[CHANGED],
               d.total[SAME]);
    }
out:
    json_decref(d.keys);
    for (size_t i = 0; i < d.ng; i++) {
        free(d.g[i].resource);
        free(d.g[i].ns);
    }
    free(d.g);
    free(d.a);
    free(d.arena);
    edr_source_db_close(&a);
    edr_source_db_close(&b);
    return rc;
}
