/* TEMPORARY: commands not written yet. Removed as each lands. */
#include "cmd/cmd.h"

#define STUB(n)                                                                                    \
    const enum edr_opt_id edr_cmd_##n##_opts[] = {EDR_O__COUNT};                                   \
    edr_rc edr_cmd_##n(struct edr_ctx *ctx)                                                        \
    {                                                                                              \
        return edr_err_set(&ctx->err, EDR_E_INTERNAL, "'%s' is not implemented yet", #n);          \
    }





