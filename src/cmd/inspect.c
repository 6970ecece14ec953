/*
 * inspect, ls, get: look inside a backup (or a plain .db) without
 * restoring it. inspect computes its numbers on the stream (see
 * edr_source_scan_status); ls and get, which look keys up, decrypt the db
 * into an unlinked private file (see edr_source_spool) and read it with the
 * bbolt reader, as inspect does when the stream cannot answer. A plain .db
 * is read in place.
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
#include "mvcc/mvcc.h"

const enum edr_opt_id edr_cmd_inspect_opts[] = {
    EDR_OPTS_REPO, EDR_O_IDENTITY, EDR_O_TOP, EDR_O_SKIP_HASH_CHECK, EDR_O_JSON, EDR_O__COUNT};
const enum edr_opt_id edr_cmd_ls_opts[] = {EDR_OPTS_REPO,         EDR_O_IDENTITY, EDR_O_REV,
                                           EDR_O_SKIP_HASH_CHECK, EDR_O_JSON,     EDR_O__COUNT};
const enum edr_opt_id edr_cmd_get_opts[] = {EDR_OPTS_REPO, EDR_O_IDENTITY,        EDR_O_REV,
                                            EDR_O_OUTPUT,  EDR_O_SKIP_HASH_CHECK, EDR_O__COUNT};

struct opened {
    struct edr_source src;
    struct edr_spool sp;
    struct edr_bolt *bolt;
};

static void
opened_close(struct opened *o)
{
    edr_bolt_close(o->bolt);
    edr_spool_release(&o->sp);
    edr_source_close(&o->src);
}

static edr_rc
open_source(struct edr_ctx *ctx, struct opened *o)
{
    memset(o, 0, sizeof(*o));
    o->sp.fd = -1;
    edr_cmd_catch_signals();
    return edr_source_open(ctx, ctx->opts.args[0], &o->src);
}

/* The opened source as a bbolt file, checking what can be checked. */
static edr_rc
open_bolt(struct edr_ctx *ctx, struct opened *o)
{
    int skip = edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK);
    const char *tmp = getenv("TMPDIR");
    edr_rc rc;

    if (o->src.kind == EDR_SOURCE_DB) {
        /* a plain snapshot: check its trailer unless told not to, read in place */
        if (!skip) {
            struct edr_read_result res;
            if ((rc = edr_source_read(ctx, &o->src, EDR_READ_NONE, NULL, &res)) != EDR_OK) {
                edr_err_hint(&ctx->err, "a db copied from a data dir has no trailer: use "
                                        "--skip-hash-check");
                return rc;
            }
        }
        rc = edr_bolt_open(o->src.path, &o->bolt, &ctx->err);
    } else {
        rc = edr_source_spool(ctx, &o->src, tmp && *tmp ? tmp : "/tmp", 0, &o->sp);
        if (rc == EDR_OK)
            rc = edr_bolt_open(o->sp.db, &o->bolt, &ctx->err);
    }
    if (rc != EDR_OK)
        edr_err_prefix(&ctx->err, "%s", o->src.what);
    return rc;
}

/* Open the first argument as a bbolt file. */
static edr_rc
open_db(struct edr_ctx *ctx, struct opened *o)
{
    edr_rc rc = open_source(ctx, o);

    return rc == EDR_OK ? open_bolt(ctx, o) : rc;
}

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

edr_rc
edr_cmd_inspect(struct edr_ctx *ctx)
{
    struct opened o;
    struct edr_mvcc_status st;
    uint64_t total_keys;
    int minor;
    struct edr_k8s_stats *k8s = NULL;
    int64_t top;
    int redo = 0;
    edr_rc rc;

    memset(&st, 0, sizeof(st));
    memset(&o, 0, sizeof(o));
    o.sp.fd = -1;
    if ((rc = edr_cmd_args(ctx, 1, 1, "BACKUP|FILE.db")) != EDR_OK)
        return rc;
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_TOP, 1, 100000, &top, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = open_source(ctx, &o)) != EDR_OK)
        goto out;
    if (o.src.kind != EDR_SOURCE_DB) {
        /* on the stream: nothing decrypted written anywhere */
        rc = edr_source_scan_status(ctx, &o.src, &st, &k8s, &redo);
        if (!redo && rc != EDR_OK)
            goto out;
        if (redo) {
            edr_info("%s: reading a spooled copy (%s)", o.src.what, ctx->err.msg);
            edr_mvcc_status_release(&st);
            edr_mvcc_k8s_stats_free(k8s);
            k8s = NULL;
            edr_err_clear(&ctx->err);
        }
    }
    if (o.src.kind == EDR_SOURCE_DB || redo) {
        if ((rc = open_bolt(ctx, &o)) != EDR_OK)
            goto out;
        if ((rc = edr_mvcc_status(o.bolt, &st, &ctx->err)) != EDR_OK ||
            (rc = edr_mvcc_k8s_stats(o.bolt, &k8s, &ctx->err)) != EDR_OK) {
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
    }
out:
    edr_mvcc_k8s_stats_free(k8s);
    edr_mvcc_status_release(&st);
    opened_close(&o);
    return rc;
}

static int
is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

static json_t *
bytes_json(const uint8_t *p, size_t n, const char **encoding)
{
    char *b64;
    json_t *j;

    if (is_text(p, n) && (j = json_stringn((const char *)p, n)) != NULL) {
        *encoding = "utf-8";
        return j;
    }
    b64 = malloc(n * 4 / 3 + 8);
    if (b64 == NULL)
        return json_null();
    {
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                         (i + 2 < n ? p[i + 2] : 0);
            b64[o++] = tbl[v >> 18];
            b64[o++] = tbl[(v >> 12) & 63];
            b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
            b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
        }
        b64[o] = '\0';
    }
    *encoding = "base64";
    j = json_string(b64);
    free(b64);
    return j;
}

struct ls_state {
    struct edr_ctx *ctx;
    json_t *arr;
    uint64_t n;
    /* get */
    const uint8_t *key;
    size_t key_len;
    int found;
    int raw;
};

static int
ls_cb(void *ud, const struct edr_kv *kv)
{
    struct ls_state *s = ud;

    s->n++;
    if (s->arr != NULL) {
        const char *enc;
        json_t *k = bytes_json(kv->key, kv->key_len, &enc);
        json_array_append_new(
            s->arr, json_pack("{s:o, s:I, s:I, s:I, s:I, s:I}", "key", k, "create_revision",
                              (json_int_t)kv->create_revision, "mod_revision",
                              (json_int_t)kv->mod_revision, "version", (json_int_t)kv->version,
                              "lease", (json_int_t)kv->lease, "size", (json_int_t)kv->value_len));
    } else {
        printf("%10" PRId64 " %10zu  ", kv->mod_revision, kv->value_len);
        fwrite(kv->key, 1, kv->key_len, stdout);
        putchar('\n');
    }
    return 0;
}

edr_rc
edr_cmd_ls(struct edr_ctx *ctx)
{
    struct opened o;
    struct ls_state s;
    const char *prefix;
    int64_t rev;
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    if ((rc = edr_cmd_args(ctx, 1, 2, "BACKUP|FILE.db [PREFIX]")) != EDR_OK)
        return rc;
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    prefix = ctx->opts.nargs > 1 ? ctx->opts.args[1] : "";
    if ((rc = open_db(ctx, &o)) != EDR_OK)
        goto out;
    s.ctx = ctx;
    if (ctx->json)
        s.arr = json_array();
    else
        printf("%10s %10s  %s\n", "MOD_REV", "SIZE", "KEY");
    rc = edr_mvcc_foreach_live(o.bolt, (const uint8_t *)prefix, strlen(prefix), rev, ls_cb, &s,
                               &ctx->err);
    if (rc != EDR_OK)
        edr_err_prefix(&ctx->err, "%s", o.src.what);
    else if (s.arr != NULL)
        edr_cmd_print_json(s.arr), s.arr = NULL;
out:
    json_decref(s.arr);
    opened_close(&o);
    return rc;
}

static int
get_cb(void *ud, const struct edr_kv *kv)
{
    struct ls_state *s = ud;
    const char *kenc, *venc;

    if (kv->key_len != s->key_len || memcmp(kv->key, s->key, s->key_len) != 0)
        return 0;
    s->found = 1;
    if (s->raw) {
        fwrite(kv->value, 1, kv->value_len, stdout);
        return 1;
    }
    {
        json_t *k = bytes_json(kv->key, kv->key_len, &kenc);
        json_t *v = bytes_json(kv->value, kv->value_len, &venc);
        edr_cmd_print_json(json_pack("{s:o, s:o, s:s, s:I, s:I, s:I, s:I}", "key", k, "value", v,
                                     "value_encoding", venc, "create_revision",
                                     (json_int_t)kv->create_revision, "mod_revision",
                                     (json_int_t)kv->mod_revision, "version",
                                     (json_int_t)kv->version, "lease", (json_int_t)kv->lease));
    }
    return 1;
}

edr_rc
edr_cmd_get(struct edr_ctx *ctx)
{
    struct opened o;
    struct ls_state s;
    const char *fmt = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    int64_t rev;
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    if ((rc = edr_cmd_args(ctx, 2, 2, "BACKUP|FILE.db KEY [-o value|json]")) != EDR_OK)
        return rc;
    if (fmt != NULL && strcmp(fmt, "value") != 0 && strcmp(fmt, "json") != 0)
        return edr_err_set(&ctx->err, EDR_E_USAGE, "get -o takes 'value' or 'json', not '%s'", fmt);
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = open_db(ctx, &o)) != EDR_OK)
        goto out;
    s.key = (const uint8_t *)ctx->opts.args[1];
    s.key_len = strlen(ctx->opts.args[1]);
    s.raw = fmt == NULL || strcmp(fmt, "value") == 0;
    rc = edr_mvcc_foreach_live(o.bolt, s.key, s.key_len, rev, get_cb, &s, &ctx->err);
    if (rc != EDR_OK)
        edr_err_prefix(&ctx->err, "%s", o.src.what);
    else if (!s.found)
        rc = edr_err_set(&ctx->err, EDR_E_NOTFOUND, "%s: key '%s' not found%s", o.src.what,
                         ctx->opts.args[1], rev ? " at that revision" : "");
out:
    opened_close(&o);
    return rc;
}
