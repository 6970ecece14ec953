/*
 * import --from gardener (import_gardener.c): Gardener etcd-backup-restore
 * delta snapshots under SRC/v2/ (a directory or s3://BUCKET/PREFIX) stored
 * as change segments of the repository's cluster. Prints a one-line summary
 * (JSON with --json); errors in ctx->err, nothing half-stored.
 */
#ifndef EDR_CMD_IMPORT_GARDENER_H
#define EDR_CMD_IMPORT_GARDENER_H

#include "cmd/cmd.h"

edr_rc edr_cmd_import_gardener(struct edr_ctx *ctx, const char *src);

#endif
