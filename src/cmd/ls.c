/*
 * ls: the live keys of a backup (or a plain .db) under a prefix, at the
 * newest or a given revision, read from a spooled copy with the bbolt reader.
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

const enum edr_opt_id edr_cmd_ls_opts[] = {
    EDR_OPTS_REPO, EDR_O_IDENTITY,          EDR_O_REV,  EDR_O_SKIP_HASH_CHECK,
    EDR_O_K8S,     EDR_O_ENCRYPTION_CONFIG, EDR_O_JSON, EDR_O__COUNT};

struct ls_state {
    json_t *arr; /* --json: the keys so far */
};

static int
ls_cb(void *ud, const struct edr_kv *kv)
{
    struct ls_state *s = ud;

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

edr_rc
edr_cmd_ls(struct edr_ctx *ctx)
{
    struct edr_source_db o;
    struct ls_state s;
    const char *prefix;
    int64_t rev;
    edr_rc rc;

    memset(&s, 0, sizeof(s));
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_REV, 0, INT64_MAX, &rev, &ctx->err)) != EDR_OK)
        return rc;
    prefix = ctx->opts.nargs > 1 ? ctx->opts.args[1] : "";
    if ((rc = edr_source_db_open(ctx, ctx->opts.args[0], &o)) != EDR_OK)
        goto out;
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
    edr_source_db_close(&o);
    return rc;
}
