/*
 * inspect: a backup's (or a plain .db's) status, keyspace and Kubernetes
 * view without restoring it, with the encryption at rest of its Kubernetes
 * objects (which keys a restore needs). The numbers are computed on the
 * stream (see edr_source_scan_inspect: values are classed as they pass);
 * when the stream cannot answer, the db is decrypted into an unlinked
 * private file (edr_source_spool) and read with the bbolt reader. A plain
 * .db is read in place.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/source.h"
#include "common/log.h"
#include "k8s/key.h"
#include "k8s/view.h"
#include "mvcc/mvcc.h"

const enum edr_opt_id edr_cmd_inspect_opts[] = {
    EDR_OPTS_REPO,           EDR_O_IDENTITY, EDR_O_TOP,   EDR_O_SKIP_HASH_CHECK,
    EDR_O_ENCRYPTION_CONFIG, EDR_O_JSON,     EDR_O__COUNT};

static json_t *
counts_json(const struct edr_k8s_count *c, size_t n, size_t top)
{
    json_t *a = json_array();

    for (size_t i = 0; i < n && i < top; i++)
        json_array_append_new(a,
                              json_pack("{s:s, s:I, s:I}", "name", c[i].name, "count",
                                        (json_int_t)c[i].count, "bytes", (json_int_t)c[i].bytes));
    return a;
}

/* Member ids are uint64 decimals that JSON parsers (jansson included) cannot
 * hold: quote them so they survive as strings. */
static json_t *
members_json(const char *s)
{
    size_t n = s ? strlen(s) : 0, o = 0;
    char *q = malloc(n * 2 + 3);
    json_t *j;

    if (q == NULL || s == NULL) {
        free(q);
        return json_array();
    }
    for (size_t i = 0; i < n;) {
        if (strncmp(s + i, "\"id\":", 5) == 0 && s[i + 5] >= '0' && s[i + 5] <= '9') {
            memcpy(q + o, "\"id\":\"", 6);
            o += 6;
            i += 5;
            while (s[i] >= '0' && s[i] <= '9')
                q[o++] = s[i++];
            q[o++] = '"';
        } else {
            q[o++] = s[i++];
        }
    }
    q[o] = '\0';
    j = json_loads(q, 0, NULL);
    free(q);
    return j ? j : json_array();
}

static int
by_count(const void *a, const void *b)
{
    const struct edr_k8s_count *x = a, *y = b;

    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* the encryption census on the stream and on the file */
static uint16_t
classify_cb(void *ud, const struct edr_kv *kv)
{
    return edr_k8s_census_classify(ud, kv->key, kv->key_len, kv->value, kv->value_len);
}

static int
live_cb(void *ud, const uint8_t *key, size_t kl, uint16_t cls)
{
    return edr_k8s_census_count(ud, key, kl, cls);
}

struct file_census {
    struct edr_k8s_census *census;
    struct edr_err *err;
};

static int
file_cb(void *ud, const struct edr_kv *kv)
{
    struct file_census *f = ud;

    if (edr_k8s_census_add(f->census, kv->key, kv->key_len, kv->value, kv->value_len) == 0)
        return 0;
    edr_err_set(f->err, EDR_E_INTERNAL, "out of memory");
    return -1;
}

static json_t *
encryption_json(const struct edr_k8s_enc_report *r)
{
    json_t *keys = json_array();

    for (size_t i = 0; i < r->n_keys; i++) {
        const struct edr_k8s_enc_use *u = &r->keys[i];
        json_t *res = json_object();
        for (size_t j = 0; j < u->n_resources; j++)
            json_object_set_new(res, u->resources[j].name,
                                json_integer((json_int_t)u->resources[j].count));
        json_array_append_new(
            keys, json_pack("{s:s, s:s, s:s, s:I, s:o, s:o}", "provider", u->provider, "version",
                            u->version, "key", u->key, "objects", (json_int_t)u->objects,
                            "resources", res, "opened",
                            r->checked ? json_integer((json_int_t)u->opened) : json_null()));
    }
    return json_pack("{s:I, s:I, s:o}", "encrypted", (json_int_t)r->encrypted, "plain_secrets",
                     (json_int_t)r->plain_secrets, "keys", keys);
}

static void
encryption_print(const struct edr_k8s_enc_report *r)
{
    printf("\nEncryption at rest: %" PRIu64 " objects encrypted, %" PRIu64
           " secrets not encrypted\n",
           r->encrypted, r->plain_secrets);
    if (r->n_keys == 0)
        return;
    printf("  %-12s %-24s %8s %8s  %s\n", "PROVIDER", "KEY", "OBJECTS", "OPENED", "RESOURCES");
    for (size_t i = 0; i < r->n_keys; i++) {
        const struct edr_k8s_enc_use *u = &r->keys[i];
        char prov[32], opened[24];
        snprintf(prov, sizeof(prov), "%s%s%s", u->provider, strcmp(u->version, "v1") ? ":" : "",
                 strcmp(u->version, "v1") ? u->version : "");
        if (r->checked)
            snprintf(opened, sizeof(opened), "%" PRIu64, u->opened);
        else
            snprintf(opened, sizeof(opened), "-");
        printf("  %-12s %-24s %8" PRIu64 " %8s ", prov, u->key, u->objects, opened);
        for (size_t j = 0; j < u->n_resources; j++)
            printf(" %s=%" PRIu64, u->resources[j].name, u->resources[j].count);
        putchar('\n');
    }
}

edr_rc
edr_cmd_inspect(struct edr_ctx *ctx)
{
    struct edr_source_db o;
    struct edr_mvcc_status st;
    uint64_t total_keys;
    int minor;
    struct edr_k8s_stats *k8s = NULL;
    struct edr_k8s_census *census = NULL;
    struct edr_source_classes cl;
    struct edr_k8s_keys *keys = NULL;
    int64_t top;
    int redo = 0;
    edr_rc rc;

    memset(&st, 0, sizeof(st));
    edr_source_db_init(&o);
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_TOP, 1, 100000, &top, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = edr_cmd_k8s_keys(ctx, &keys)) != EDR_OK ||
        (rc = edr_k8s_census_new(keys, &census, &ctx->err)) != EDR_OK ||
        (rc = edr_source_open(ctx, ctx->opts.args[0], &o.src)) != EDR_OK)
        goto out;
    cl.classify = classify_cb;
    cl.live = live_cb;
    cl.ud = census;
    if (o.src.kind != EDR_SOURCE_DB) {
        /* on the stream: nothing decrypted written anywhere */
        rc = edr_source_scan_inspect(ctx, &o.src, &st, &k8s, &cl, &redo);
        if (!redo && rc != EDR_OK)
            goto out;
        if (redo) {
            edr_info("%s: reading a spooled copy (%s)", o.src.what, ctx->err.msg);
            edr_mvcc_status_release(&st);
            edr_mvcc_k8s_stats_free(k8s);
            k8s = NULL;
            edr_k8s_census_free(census);
            census = NULL;
            edr_err_clear(&ctx->err);
            if ((rc = edr_k8s_census_new(keys, &census, &ctx->err)) != EDR_OK)
                goto out;
        }
    }
    if (o.src.kind == EDR_SOURCE_DB || redo) {
        struct file_census fc = {census, &ctx->err};
        if ((rc = edr_source_db_bolt(ctx, &o)) != EDR_OK)
            goto out;
        if ((rc = edr_mvcc_status(o.bolt, &st, &ctx->err)) != EDR_OK ||
            (rc = edr_mvcc_k8s_stats(o.bolt, &k8s, &ctx->err)) != EDR_OK ||
            (rc = edr_mvcc_foreach_live(o.bolt, (const uint8_t *)EDR_K8S_PREFIX,
                                        strlen(EDR_K8S_PREFIX), 0, file_cb, &fc, &ctx->err)) !=
                EDR_OK) {
            edr_err_prefix(&ctx->err, "%s", o.src.what);
            goto out;
        }
    }
    qsort(k8s->namespaces, k8s->n_namespaces, sizeof(*k8s->namespaces), by_count);
    /* totalKey as the status tool of the etcd the snapshot came from counts it */
    minor = edr_mvcc_status_minor(&st, o.src.kind == EDR_SOURCE_DB ? NULL : o.src.m.etcd_version);
    total_keys = edr_mvcc_status_total_keys(&st, minor);
    if (ctx->json) {
        json_t *members = members_json(st.members_json);
        json_t *j = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:s, "
            "s:s, "
            "s:s, s:o}}",
            "source", o.src.what, "hash", (json_int_t)st.hash, "revision", (json_int_t)st.revision,
            "totalKey", (json_int_t)total_keys, "totalSize", (json_int_t)st.total_size, "details",
            "live_keys", (json_int_t)st.live_keys, "pairs", (json_int_t)st.total_keys,
            "compact_revision", (json_int_t)st.compact_revision, "scheduled_compact_revision",
            (json_int_t)st.scheduled_compact_revision, "consistent_index",
            (json_int_t)st.consistent_index, "term", (json_int_t)st.term, "leases",
            (json_int_t)st.leases, "alarms", (json_int_t)st.alarms, "db_size_in_use",
            (json_int_t)st.db_size_in_use, "auth_enabled", st.auth_enabled, "cluster_version",
            st.cluster_version, "storage_version", st.storage_version, "etcd_version",
            o.src.kind == EDR_SOURCE_DB ? "" : o.src.m.etcd_version, "members", members);
        /* etcdutl 3.6+ prints the storage version as "version" */
        if (minor >= 6)
            json_object_set_new(j, "version", json_string(st.storage_version));
        json_object_set_new(
            j, "kubernetes",
            json_pack("{s:I, s:I, s:o, s:o}", "objects", (json_int_t)k8s->objects, "bytes",
                      (json_int_t)k8s->bytes, "resources",
                      counts_json(k8s->resources, k8s->n_resources, SIZE_MAX), "namespaces",
                      counts_json(k8s->namespaces, k8s->n_namespaces, (size_t)top)));
        json_object_set_new(j, "encryption", encryption_json(edr_k8s_census_report(census)));
        edr_cmd_print_json(j);
        goto out;
    }
    {
        char size[32], inuse[32];
        edr_fmt_bytes(st.total_size, size, sizeof(size));
        edr_fmt_bytes(st.db_size_in_use, inuse, sizeof(inuse));
        printf("%s\n", o.src.what);
        printf("  %-22s %x\n", "hash", st.hash);
        printf("  %-22s %" PRId64 "\n", "revision", st.revision);
        printf("  %-22s %" PRIu64 "%s\n", "total keys", total_keys,
               minor >= 6 ? " (live keys, as etcdutl 3.6+ counts)" : "");
        printf("  %-22s %s (%" PRIu64 " bytes)\n", "total size", size, st.total_size);
        printf("  %-22s %" PRIu64 "\n", "live keys", st.live_keys);
        if (st.scheduled_compact_revision > st.compact_revision)
            printf("  %-22s %" PRId64 " (compaction to %" PRId64
                   " scheduled, unfinished: etcd finishes it on start)\n",
                   "compact revision", st.compact_revision, st.scheduled_compact_revision);
        else
            printf("  %-22s %" PRId64 "\n", "compact revision", st.compact_revision);
        printf("  %-22s %" PRIu64 "\n", "consistent index", st.consistent_index);
        printf("  %-22s %s\n", "db size in use", inuse);
        printf("  %-22s %" PRIu64 "\n", "leases", st.leases);
        printf("  %-22s %" PRIu64 "%s\n", "alarms", st.alarms, st.alarms ? " (!)" : "");
        printf("  %-22s %s\n", "auth enabled", st.auth_enabled ? "yes" : "no");
        printf("  %-22s %s\n", "cluster version", st.cluster_version[0] ? st.cluster_version : "-");
        printf("  %-22s %s\n", "storage version", st.storage_version[0] ? st.storage_version : "-");
        if (o.src.kind != EDR_SOURCE_DB && o.src.m.etcd_version[0] != '\0')
            printf("  %-22s %s\n", "from etcd", o.src.m.etcd_version);
        printf("  %-22s %s\n", "members", st.members_json ? st.members_json : "[]");
    }
    if (k8s->objects > 0) {
        printf("\nKubernetes: %" PRIu64 " objects\n  %-40s %8s %12s\n", k8s->objects, "RESOURCE",
               "COUNT", "BYTES");
        for (size_t i = 0; i < k8s->n_resources; i++)
            printf("  %-40s %8" PRIu64 " %12" PRIu64 "\n", k8s->resources[i].name,
                   k8s->resources[i].count, k8s->resources[i].bytes);
        printf("\n  %-40s %8s %12s\n", "NAMESPACE (top)", "COUNT", "BYTES");
        for (size_t i = 0; i < k8s->n_namespaces && i < (size_t)top; i++)
            printf("  %-40s %8" PRIu64 " %12" PRIu64 "\n", k8s->namespaces[i].name,
                   k8s->namespaces[i].count, k8s->namespaces[i].bytes);
        encryption_print(edr_k8s_census_report(census));
    }
out:
    edr_k8s_census_free(census);
    edr_k8s_keys_free(keys);
    edr_mvcc_k8s_stats_free(k8s);
    edr_mvcc_status_release(&st);
    edr_source_db_close(&o);
    return rc;
}
