/*
 * decrypt: a backup's decrypted tar.zst stream, as stored before sealing
 * (`zstd -d | tar x` opens it), written like export's output.
 */
#include "cmd/cmd.h"
#include "cmd/export.h"

const enum edr_opt_id edr_cmd_decrypt_opts[] = {EDR_OPTS_REPO, EDR_O_IDENTITY, EDR_O_OUTPUT,
                                                EDR_O_JSON, EDR_O__COUNT};

edr_rc
edr_cmd_decrypt(struct edr_ctx *ctx)
{
    return edr_export_to(ctx, EDR_READ_RAW);
}
