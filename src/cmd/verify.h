/*
 * verify's typed parameters: the command fills them from its options, the
 * schedule daemon from its own (a verify job checks "latest").
 */
#ifndef EDR_CMD_VERIFY_H
#define EDR_CMD_VERIFY_H

#include "cmd/cmd.h"

enum edr_verify_level { EDR_VERIFY_STORED, EDR_VERIFY_CONTENT, EDR_VERIFY_DRILL };

struct edr_verify_params {
    const char *backup; /* BACKUP|FILE; NULL with all */
    int all;            /* every backup of the cluster, the broken ones too */
    enum edr_verify_level level;
    /* not given: an encrypted backup without an identity is checked as stored */
    int level_given;
    int have_identity; /* --identity is set (edr_source_open loads it) */
    const char *etcd_bin;
    const char *junit; /* NULL: no JUnit report */
};

/* --level, --drill, --all, --identity, --etcd-bin, --junit and the first
 * argument from o (pointers into o). EDR_E_USAGE for an unknown level. */
edr_rc edr_verify_params_from_opts(const struct edr_opts *o, struct edr_verify_params *p,
                                   struct edr_err *err);
/* Verify, print each result (or one --json document), record the verdicts
 * next to the manifests; the first failure's code, ctx->err summing up. */
edr_rc edr_verify_run(struct edr_ctx *ctx, const struct edr_verify_params *p);

#endif
