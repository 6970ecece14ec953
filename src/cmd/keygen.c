/*
 * keygen: a new X25519 key pair; the .pub goes to backup hosts, the .key
 * stays where restores happen.
 */
#include <jansson.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "crypto/keys.h"

const enum edr_opt_id edr_cmd_keygen_opts[] = {EDR_O_OUTPUT, EDR_O_JSON, EDR_O__COUNT};

edr_rc
edr_cmd_keygen(struct edr_ctx *ctx)
{
    const char *out = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    struct edr_pubkey pub;
    edr_rc rc;

    if (out == NULL) {
        edr_err_set(&ctx->err, EDR_E_USAGE, "keygen needs -o PATH (writes PATH.key and PATH.pub)");
        return EDR_E_USAGE;
    }
    if ((rc = edr_crypto_init(&ctx->err)) != EDR_OK)
        return rc;
    if ((rc = edr_keygen(out, &pub, &ctx->err)) != EDR_OK)
        return rc;
    if (ctx->json) {
        char k[4096], p[4096];
        snprintf(k, sizeof(k), "%s.key", out);
        snprintf(p, sizeof(p), "%s.pub", out);
        edr_cmd_print_json(json_pack("{s:s, s:s, s:s}", "key_id", pub.id, "secret_key_file", k,
                                     "public_key_file", p));
    } else if (!ctx->quiet) {
        printf("wrote %s.key (secret, mode 0600) and %s.pub (public)\nkey id %s\n", out, out,
               pub.id);
    }
    return EDR_OK;
}
