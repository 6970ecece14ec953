/*
 * Entry points shared by backup, prune and the schedule daemon.
 */
#ifndef EDR_CMD_BACKUP_H
#define EDR_CMD_BACKUP_H

#include "cmd/cmd.h"
#include "etcd/client.h"
#include "repo/manifest.h"

struct edr_repo;

struct edr_backup_summary {
    int ok;
    char cluster[128];
    struct edr_manifest manifest;
    double duration_s;
    size_t backups_in_repo;
    void *prune; /* --prune with --json: the decisions (a json_t array), owned */
};

/* The --recipient keys (none with --no-encrypt); *rcpt malloc'ed. */
struct edr_pubkey;
edr_rc edr_backup_recipients(struct edr_ctx *ctx, struct edr_pubkey **rcpt, size_t *n);
/* --endpoint-policy */
edr_rc edr_cmd_endpoint_policy(struct edr_ctx *ctx, enum edr_etcd_policy *policy);
/* One backup run (with --prune when set). Fills sum even on failure. */
edr_rc edr_backup_run(struct edr_ctx *ctx, struct edr_backup_summary *sum);
/* Print the summary (text or --json), write --metrics-file, run hooks. */
void edr_backup_report(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc);
/* Non-zero when any --keep-* rule is set. */
int edr_retention_opts_set(const struct edr_opts *o);
/* Retention on an open repository; the caller may hold the lock (locked=1).
 * With --json the decisions are printed, or, when decisions is not NULL,
 * handed over there (a json_t array) for the caller's own document. */
edr_rc edr_prune_run(struct edr_ctx *ctx, struct edr_repo *repo, int locked, void **decisions);

#endif
