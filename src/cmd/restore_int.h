/*
 * Shared by the restore command's two files: restore.c (the restore) and
 * restore_check.c (restore --check, the same decisions without writing).
 */
#ifndef EDR_CMD_RESTORE_INT_H
#define EDR_CMD_RESTORE_INT_H

#include <jansson.h>
#include <stdint.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "restore/bump.h"

enum edr_bump_mode { BUMP_NONE, BUMP_N, BUMP_AUTO };

/* What --bump-revision resolved to, and why (for stderr and --json). */
struct bump_plan {
    enum edr_bump_mode mode;
    int by_default; /* auto because the backup holds Kubernetes data */
    int64_t bump;
    int64_t restoring;
    struct edr_bump_choice c;
    char from[160];   /* the record of the highest revision */
    char reason[512]; /* why this margin */
};

/* --bump-revision: absent (*given 0, mode BUMP_NONE until the backup is
 * seen), "auto", or a whole number (0: no bump, the default's opt-out). */
edr_rc edr_restore_bump_parse(struct edr_ctx *ctx, struct bump_plan *bp, int *given);
/* The auto bump for restoring revision `restoring` from repo. */
edr_rc edr_restore_bump_auto(struct edr_ctx *ctx, struct edr_repo *repo, int64_t restoring,
                             struct bump_plan *bp);
/* "bump-revision: auto chose N: ..." on stderr (not with -q). */
void edr_restore_bump_print(const struct edr_ctx *ctx, const struct bump_plan *bp);
json_t *edr_restore_bump_json(const struct bump_plan *bp, int64_t bumped_to);
/* Whether some revision of the db is of a key under /registry/. */
int edr_restore_holds_k8s(struct edr_bolt *bolt);
/* tmpl with "{name}" replaced by name. */
void edr_restore_expand_name(const char *tmpl, const char *name, char *out, size_t n);

/* restore --check: every preflight check, one table (or --json), nothing
 * written; EDR_E_TARGET when a check blocks. */
edr_rc edr_restore_check(struct edr_ctx *ctx);

#endif
