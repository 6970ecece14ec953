/*
 * Point-in-time restore for the restore command (cmd/pitr.c).
 */
#ifndef EDR_CMD_PITR_H
#define EDR_CMD_PITR_H

#include "changes/replay.h"
#include "cmd/cmd.h"

struct edr_pitr {
    int asked; /* --to-revision or --to-time given */
    struct edr_repo *repo;
    struct edr_identity *identity;
    struct edr_manifest *backups;
    size_t nb;
    struct edr_segment *segs;
    size_t nsegs;
    char backup_id[64]; /* the backup to restore the changes onto */
    struct edr_replay rp;
};

/* With --to-revision/--to-time: find the backup (ref, when not NULL, is the
 * only one allowed) and the segments that reach the target. Without them
 * p->asked stays 0 and nothing happens. */
edr_rc edr_pitr_prepare(struct edr_ctx *ctx, const char *ref, struct edr_pitr *p);
/* Hook the replay into the db rewrite (nothing when there is nothing to replay). */
void edr_pitr_db_opts(struct edr_pitr *p, struct edr_restore_db_opts *o);
void edr_pitr_release(struct edr_pitr *p);

#endif
