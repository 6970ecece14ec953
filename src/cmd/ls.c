/*
 * ls: the live keys of a backup (or a plain .db) under a prefix, at the
 * newest or a given revision, read from a spooled copy with the bbolt reader.
 * With --k8s, the Kubernetes objects among them: resource, namespace, name,
 * kind, uid, size and encryption of each (src/k8s/view.h); a value that
 * cannot be read is marked, never fatal. With --files, the files kept beside
 * the snapshot (backup --include) as the manifest records them.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/files.h"
#include "cmd/source.h"
#include "k8s/key.h"
#include "k8s/view.h"
#include "mvcc/mvcc.h"
#include "repo/manifest.h"

const enum edr_opt_id edr_cmd_ls_opts[] = {EDR_OPTS_REPO,           EDR_O_IDENTITY, EDR_O_REV,
                                           EDR_O_SKIP_HASH_CHECK,   EDR_O_K8S,      EDR_O_FILES,
                                           EDR_O_ENCRYPTION_CONFIG, EDR_O_JSON,     EDR_O__COUNT};

struct ls_state {
    json_t *arr; /* --json: the keys so far */
    int k8s;
    const struct edr_k8s_keys *keys;
    struct edr_buf plain;
    struct edr_err *err;
};

/* Text for JSON: bytes that are not UTF-8 become '?' (names from damaged
 * values or keys must not fail the listing). */
static json_t *
jtext(const void *p, size_t n)
{
    json_t *j = json_stringn(p, n);
    char *q;

    if (j != NULL || (q = malloc(n + 1)) == NULL)
        return j;
    for (size_t i = 0; i < n; i++)
        q[i] = ((const uint8_t *)p)[i] < 0x80 && ((const uint8_t *)p)[i] != 0 ? ((const char *)p)[i]
                                                                              : '?';
    j = json_stringn(q, n);
    free(q);
    return j;
}

static json_t *
jtext_or_null(const char *s)
{
    return s[0] != '\0' ? jtext(s, strlen(s)) : json_null();
}

/* Table cells: "-" for nothing, the bytes as they are otherwise. */
static void
cell(const void *p, size_t n, int width)
{
    if (n == 0) {
        p = "-";
        n = 1;
    }
    fwrite(p, 1, n, stdout);
    for (int i = (int)n; i < width; i++)
        putchar(' ');
    putchar(' ');
}

static int
ls_k8s(struct ls_state *s, const struct edr_kv *kv)
{
    struct edr_k8s_key kk;
    struct edr_k8s_view w;
    const struct edr_k8s_object *o = &w.obj;
    const uint8_t *ns = NULL, *name = kv->key, *res = NULL;
    size_t nsl = 0, namel = kv->key_len, resl = 0;
    const char *status;
    char enc[200] = "", err[sizeof(o->error)] = "";

    if (edr_k8s_key_split(kv->key, kv->key_len, &kk)) {
        res = kk.resource, resl = kk.resource_len;
        ns = kk.ns, nsl = kk.ns_len;
        name = kk.name, namel = kk.name_len;
    }
    edr_k8s_view_value(s->keys, kv->key, kv->key_len, kv->value, kv->value_len, &s->plain, &w);
    /* name and namespace from ObjectMeta when the value decodes */
    if (o->name[0] != '\0')
        name = (const uint8_t *)o->name, namel = strlen(o->name);
    if (o->ns[0] != '\0')
        ns = (const uint8_t *)o->ns, nsl = strlen(o->ns);
    status = edr_k8s_view_status(&w);
    if (o->error[0] != '\0') /* not decoded: the stored value, or the plaintext once opened */
        snprintf(err, sizeof(err), "%s", o->error);
    if (status != NULL) {
        /* "aescbc:key1", with why when the keys given did not open it */
        const char *why = strcmp(status, "wrong key or damaged") == 0 ? "wrong key" : status;
        int shown = w.checked && w.unseal != EDR_K8S_OPENED;
        snprintf(enc, sizeof(enc), "%s:%s%s%s%s", w.stored.enc_provider, w.stored.enc_key,
                 shown ? " (" : "", shown ? why : "", shown ? ")" : "");
    }
    if (s->arr != NULL) {
        char created[32] = "", rv[32];
        const char *kenc;
        json_t *j, *e = json_null();
        edr_time_iso((time_t)o->created, created);
        snprintf(rv, sizeof(rv), "%" PRId64, kv->mod_revision);
        if (status != NULL)
            e = json_pack("{s:o, s:o, s:o, s:s}", "provider", jtext_or_null(w.stored.enc_provider),
                          "version", jtext_or_null(w.stored.enc_version), "key",
                          jtext_or_null(w.stored.enc_key), "status", status);
        j = json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:s, s:o, s:I, s:I, s:o}", "key",
                      edr_cmd_bytes_json(kv->key, kv->key_len, &kenc), "resource",
                      res != NULL ? jtext(res, resl) : json_null(), "namespace",
                      ns != NULL ? jtext(ns, nsl) : json_null(), "name", jtext(name, namel),
                      "format", edr_k8s_format_name(w.stored.format), "api_version",
                      jtext_or_null(o->api_version), "kind", jtext_or_null(o->kind), "uid",
                      jtext_or_null(o->uid), "resource_version", rv, "creation_timestamp",
                      o->created > 0 ? json_string(created) : json_null(), "mod_revision",
                      (json_int_t)kv->mod_revision, "size", (json_int_t)kv->value_len, "encryption",
                      e);
        if (j != NULL && err[0] != '\0')
            json_object_set_new(j, "error", jtext(err, strlen(err)));
        if (j == NULL || json_array_append_new(s->arr, j) != 0) {
            edr_err_set(s->err, EDR_E_INTERNAL, "out of memory");
            return -1;
        }
    } else {
        const char *kind = o->kind[0] != '\0' ? o->kind : err[0] != '\0' ? "?" : "";
        cell(res, resl, 24);
        cell(ns, nsl, 16);
        cell(name, namel, 32);
        cell(kind, strlen(kind), 20);
        cell(o->uid, strlen(o->uid), 36);
        printf("%8zu ", kv->value_len);
        fputs(enc[0] != '\0' ? enc : "-", stdout);
        if (err[0] != '\0')
            printf("  error: %s", err);
        putchar('\n');
    }
    edr_k8s_view_wipe(&s->plain);
    return 0;
}

static int
ls_cb(void *ud, const struct edr_kv *kv)
{
    struct ls_state *s = ud;

    if (s->k8s)
        return ls_k8s(s, kv);

    if (s->arr != NULL) {
        const char *enc;
        json_t *k = edr_cmd_bytes_json(kv->key, kv->key_len, &enc);
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

/* ls --files: path, size, mode, owner and SHA-256 of each kept file. */
static edr_rc
ls_files(struct edr_ctx *ctx)
{
    struct edr_source src;
    struct edr_manifest_file *files = NULL;
    size_t n = 0;
    json_t *arr = NULL;
    edr_rc rc;

    if (ctx->opts.nargs > 1 || edr_opt_bool(&ctx->opts, EDR_O_K8S))
        return edr_err_set(&ctx->err, EDR_E_USAGE, "ls --files takes no PREFIX and no --k8s");
    if ((rc = edr_source_open(ctx, ctx->opts.args[0], &src)) != EDR_OK)
        return rc;
    if ((rc = edr_files_list(ctx, &src, &files, &n)) != EDR_OK)
        goto out;
    if (ctx->json) {
        arr = json_array();
        for (size_t i = 0; arr != NULL && i < n; i++) {
            const struct edr_manifest_file *f = &files[i];
            char mode[8];
            snprintf(mode, sizeof(mode), "%04o", f->mode);
            json_array_append_new(
                arr, json_pack("{s:s, s:I, s:s, s:I, s:I, s:o, s:o, s:s}", "path", f->path, "size",
                               (json_int_t)f->size, "mode", mode, "uid", (json_int_t)f->uid, "gid",
                               (json_int_t)f->gid, "owner", jtext_or_null(f->owner), "group",
                               jtext_or_null(f->group), "sha256", f->sha256));
        }
        edr_cmd_print_json(arr);
    } else {
        printf("%-5s %-17s %10s %-16s  %s\n", "MODE", "OWNER", "SIZE", "SHA256", "PATH");
        for (size_t i = 0; i < n; i++) {
            const struct edr_manifest_file *f = &files[i];
            char owner[80], uid[16], gid[16];
            snprintf(uid, sizeof(uid), "%u", f->uid);
            snprintf(gid, sizeof(gid), "%u", f->gid);
            snprintf(owner, sizeof(owner), "%s:%s", f->owner[0] ? f->owner : uid,
                     f->group[0] ? f->group : gid);
            printf("%04o  %-17s %10" PRIu64 " %.16s  %s\n", f->mode, owner, f->size, f->sha256,
                   f->path);
        }
    }
out:
    free(files);
    edr_source_close(&src);
    return rc;
}

edr_rc
edr_cmd_ls(struct edr_ctx *ctx)
{
    struct edr_source_db o;
    struct ls_state s;
    struct edr_k8s_keys *keys = NULL;
    const char *prefix;
    int64_t rev;
    edr_rc rc;

    if (edr_opt_bool(&ctx->opts, EDR_O_FILES))
        return ls_files(ctx);
    memset(&s, 0, sizeof(s));
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    s.k8s = edr_opt_bool(&ctx->opts, EDR_O_K8S);
    s.err = &ctx->err;
    if (s.k8s && (rc = edr_cmd_k8s_keys(ctx, &keys)) != EDR_OK)
        return rc;
    s.keys = keys;
    prefix = ctx->opts.nargs > 1 ? ctx->opts.args[1] : s.k8s ? EDR_K8S_PREFIX : "";
    if ((rc = edr_source_db_open(ctx, ctx->opts.args[0], &o)) != EDR_OK)
        goto out;
    if (ctx->json)
        s.arr = json_array();
    else if (s.k8s)
        printf("%-24s %-16s %-32s %-20s %-36s %8s %s\n", "RESOURCE", "NAMESPACE", "NAME", "KIND",
               "UID", "SIZE", "ENCRYPTION");
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
    edr_k8s_view_wipe(&s.plain);
    edr_buf_release(&s.plain);
    edr_k8s_keys_free(keys);
    edr_source_db_close(&o);
    return rc;
}
