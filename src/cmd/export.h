/*
 * Writing a backup out to -o FILE|-: shared by export and decrypt.
 */
#ifndef EDR_CMD_EXPORT_H
#define EDR_CMD_EXPORT_H

#include "cmd/cmd.h"
#include "repo/reader.h"

/* The backup named by the first argument, read in `mode`, into -o FILE (a
 * new temp file renamed over FILE once every check passed), a device or
 * FIFO as it is, or stdout with -o -. */
edr_rc edr_export_to(struct edr_ctx *ctx, enum edr_read_mode mode);

#endif
