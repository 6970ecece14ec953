/*
 * get: one key's value from a backup (or a plain .db), raw or as JSON, read
 * from a spooled copy with the bbolt reader.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/source.h"
#include "mvcc/mvcc.h"

const enum edr_opt_id edr_cmd_get_opts[] = {
    EDR_OPTS_REPO, EDR_O_IDENTITY,          EDR_O_REV,   EDR_O_OUTPUT, EDR_O_SKIP_HASH_CHECK,
    EDR_O_K8S,     EDR_O_ENCRYPTION_CONFIG, EDR_O__COUNT};

struct get_state {
    const uint8_t *key;
    size_t key_len;
    int found;
    int raw; /* -o value: the value's bytes as they are */
};

static int
get_cb(void *ud, const struct edr_kv *kv)
{
    struct get_state *s = ud;
    const char *kenc, *venc;

    if (kv->key_len != s->key_len || memcmp(kv->key, s->key, s->key_len) != 0)
        return 0;
    s->found = 1;
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
    const char *fmt = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    int64_t rev;
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    if (fmt != NULL && strcmp(fmt, "value") != 0 && strcmp(fmt, "json") != 0)
        return edr_err_set(&ctx->err, EDR_E_USAGE, "get -o takes 'value' or 'json', not '%s'", fmt);
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = edr_source_db_open(ctx, ctx->opts.args[0], &o)) != EDR_OK)
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
    edr_source_db_close(&o);
    return rc;
}
