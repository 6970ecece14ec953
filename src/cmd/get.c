/*
 * get: one key's value from a backup (or a plain .db), raw or as JSON, read
 * from a spooled copy with the bbolt reader. With --k8s, the Kubernetes
 * object: decrypted with the EncryptionConfiguration's keys when it is
 * encrypted at rest, then as JSON (edr_k8s_object_json) or its bytes.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/source.h"
#include "k8s/view.h"
#include "mvcc/mvcc.h"

const enum edr_opt_id edr_cmd_get_opts[] = {
    EDR_OPTS_REPO, EDR_O_IDENTITY,          EDR_O_REV,   EDR_O_OUTPUT, EDR_O_SKIP_HASH_CHECK,
    EDR_O_K8S,     EDR_O_ENCRYPTION_CONFIG, EDR_O__COUNT};

struct get_state {
    const uint8_t *key;
    size_t key_len;
    int found;
    int raw; /* -o value: the value's bytes as they are */
    int k8s;
    const struct edr_k8s_keys *keys;
    struct edr_buf plain;
    struct edr_err *err;
};

/* --k8s: the object, or EDR_E_KEY when it is encrypted and does not open */
static int
get_k8s(struct get_state *s, const struct edr_kv *kv)
{
    struct edr_k8s_view w;
    const char *status;
    json_t *j = NULL;

    edr_k8s_view_value(s->keys, kv->key, kv->key_len, kv->value, kv->value_len, &s->plain, &w);
    status = edr_k8s_view_status(&w);
    if (status != NULL && w.unseal != EDR_K8S_OPENED && (!s->raw || w.checked)) {
        edr_err_set(s->err, EDR_E_KEY, "'%.*s': encrypted at rest with %s:%s: %s", (int)kv->key_len,
                    (const char *)kv->key, w.stored.enc_provider, w.stored.enc_key,
                    !w.checked         ? "no --encryption-config given"
                    : w.why[0] != '\0' ? w.why
                                       : status);
        return -1;
    }
    if (s->raw) {
        fwrite(w.plain, 1, w.plain_len, stdout);
        return 1;
    }
    if (edr_k8s_object_json(w.plain, w.plain_len, kv->mod_revision, (struct json_t **)&j, s->err) !=
        EDR_OK) {
        edr_err_prefix(s->err, "'%.*s'", (int)kv->key_len, (const char *)kv->key);
        return -1;
    }
    edr_cmd_print_json(j);
    return 1;
}

static int
get_cb(void *ud, const struct edr_kv *kv)
{
    struct get_state *s = ud;
    const char *kenc, *venc;

    if (kv->key_len != s->key_len || memcmp(kv->key, s->key, s->key_len) != 0)
        return 0;
    s->found = 1;
    if (s->k8s)
        return get_k8s(s, kv);
    if (s->raw) {
        fwrite(kv->value, 1, kv->value_len, stdout);
        return 1;
    }
    {
        json_t *k = edr_cmd_bytes_json(kv->key, kv->key_len, &kenc);
        json_t *v = edr_cmd_bytes_json(kv->value, kv->value_len, &venc);
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
    struct edr_source_db o;
    struct get_state s;
    struct edr_k8s_keys *keys = NULL;
    const char *fmt = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    int64_t rev;
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    if (fmt != NULL && strcmp(fmt, "value") != 0 && strcmp(fmt, "raw") != 0 &&
        strcmp(fmt, "json") != 0)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "get -o takes 'json', 'raw' or 'value', not '%s'", fmt);
    s.k8s = edr_opt_bool(&ctx->opts, EDR_O_K8S);
    s.err = &ctx->err;
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    if (s.k8s && (rc = edr_cmd_k8s_keys(ctx, &keys)) != EDR_OK)
        return rc;
    s.keys = keys;
    if ((rc = edr_source_db_open(ctx, ctx->opts.args[0], &o)) != EDR_OK)
        goto out;
    s.key = (const uint8_t *)ctx->opts.args[1];
    s.key_len = strlen(ctx->opts.args[1]);
    /* -o raw is -o value; with --k8s, JSON is the default */
    s.raw = fmt == NULL ? !s.k8s : strcmp(fmt, "json") != 0;
    rc = edr_mvcc_foreach_live(o.bolt, s.key, s.key_len, rev, get_cb, &s, &ctx->err);
    if (rc != EDR_OK)
        edr_err_prefix(&ctx->err, "%s", o.src.what);
    else if (!s.found)
        rc = edr_err_set(&ctx->err, EDR_E_NOTFOUND, "%s: key '%s' not found%s", o.src.what,
                         ctx->opts.args[1], rev ? " at that revision" : "");
out:
    edr_k8s_view_wipe(&s.plain);
    edr_buf_release(&s.plain);
    edr_k8s_keys_free(keys);
    edr_source_db_close(&o);
    return rc;
}
