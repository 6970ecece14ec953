/*
 * Entry points shared by backup, import, prune and the schedule daemon.
 */
#ifndef EDR_CMD_BACKUP_H
#define EDR_CMD_BACKUP_H

#include <time.h>

#include "cmd/cmd.h"
#include "cmd/files.h"
#include "common/progress.h"
#include "etcd/client.h"
#include "repo/manifest.h"
#include "sched/retention.h"

struct edr_repo;
struct edr_storage_lock;
struct edr_stream;

/* prune's parameters: the retention rules and how to apply them. */
struct edr_prune_params {
    struct edr_retention_policy policy;
    int dry_run;   /* print the decisions, delete nothing, take no lock */
    int lock_wait; /* seconds to wait for the repository lock */
};

/* What storing a backup takes (backup and import), and for backup where
 * the snapshot comes from and what follows it. */
struct edr_backup_params {
    int compress_level, threads, lock_wait;
    int no_encrypt;
    char **recipients; /* public key files, owned */
    int nrecipients;
    /* backup only (edr_backup_params_from_opts with from_etcd) */
    int retries;
    enum edr_etcd_policy policy;
    int prune;       /* apply prune_params after a backup that succeeded */
    char **includes; /* --include patterns (files.h), owned */
    int nincludes;
    uint64_t include_max_size;
    struct edr_prune_params prune_params;
};

struct edr_backup_summary {
    int ok;
    char cluster[128];
    struct edr_manifest manifest;
    double duration_s;
    size_t backups_in_repo;
    void *prune; /* --prune with --json: the decisions (a json_t array), owned */
};

/* Storing one backup (backup.c; import uses it too): the pipeline from the
 * plain db to the stored object, its id and the repository it goes to. */
/* plain db -> progress -> scan -> tar -> zstd -> seal -> stored size/sha -> writer */
struct edr_backup_chain {
    struct edr_stream *writer, *stored_sha, *stored_size, *seal, *zst, *tar, *scan, *prog;
};

struct edr_backup_writer {
    struct edr_ctx *ctx;
    const struct edr_backup_params *params;
    struct edr_repo *repo;
    struct edr_pubkey *rcpt;
    size_t nrcpt;
    int level, threads;
    char id[64];
    char dataname[256];
    struct edr_backup_chain ch;
    struct edr_progress progress;
    time_t started;
    struct edr_include_set inc; /* the --include files, open; stored after the db */
};

/* Options, recipients, repository (created when missing), lock and the
 * leftovers of killed runs: what a run that stores a backup needs first.
 * Release with edr_backup_finish whatever this returned. */
edr_rc edr_backup_prepare(struct edr_ctx *ctx, const struct edr_backup_params *p,
                          struct edr_backup_writer *w, struct edr_storage_lock **lock,
                          struct edr_backup_summary *sum);
/* The backup's id "<UTC second>-<tag>", later than every id in the repository. */
edr_rc edr_backup_make_id(struct edr_backup_writer *w, const char *tag, struct edr_err *err);
/* A fresh pipeline for a db of db_size bytes (plus its trailer); *out takes
 * the db's bytes. The shape of an edr_etcd_snapshot_sink's begin (ud: w). */
edr_rc edr_backup_begin(void *ud, uint64_t db_size, struct edr_stream **out, struct edr_err *err);
/* The db went through whole: append its sha256 trailer, close the tar with a
 * copy of the manifest, publish the data object, then the manifest m (its
 * source fields filled by the caller). */
edr_rc edr_backup_commit(struct edr_backup_writer *w, const uint8_t sha[32], uint64_t db_size,
                         struct edr_manifest *m, double t0);
/* Release what the run holds, prune when asked, count the repository;
 * returns rc or the prune's failure. */
edr_rc edr_backup_finish(struct edr_backup_writer *w, struct edr_storage_lock *lock,
                         struct edr_backup_summary *sum, edr_rc rc, double t0);

/* --compress-level, --threads, --lock-wait and the recipients from o; with
 * from_etcd also --retries, --endpoint-policy, and --prune with the
 * retention rules. EDR_E_USAGE names a bad option; release p either way. */
edr_rc edr_backup_params_from_opts(const struct edr_opts *o, int from_etcd,
                                   struct edr_backup_params *p, struct edr_err *err);
void edr_backup_params_release(struct edr_backup_params *p);
/* The public keys of p's recipients (none with no_encrypt); *rcpt malloc'ed. */
edr_rc edr_backup_load_recipients(struct edr_ctx *ctx, const struct edr_backup_params *p,
                                  struct edr_pubkey **rcpt, size_t *n);
/* One backup run (and prune when p->prune). Fills sum even on failure. */
edr_rc edr_backup_run(struct edr_ctx *ctx, const struct edr_backup_params *p,
                      struct edr_backup_summary *sum);
/* Print the summary (text or --json), write --metrics-file, run hooks. */
void edr_backup_report(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc);
/* Non-zero when any --keep-* rule is set. */
int edr_retention_opts_set(const struct edr_opts *o);
/* The retention rules, --dry-run and --lock-wait from o. */
edr_rc edr_prune_params_from_opts(const struct edr_opts *o, struct edr_prune_params *p,
                                  struct edr_err *err);
/* Retention on an open repository; the caller may hold the lock (locked=1).
 * With --json the decisions are printed, or, when decisions is not NULL,
 * handed over there (a json_t array) for the caller's own document. */
edr_rc edr_prune_run(struct edr_ctx *ctx, struct edr_repo *repo, const struct edr_prune_params *p,
                     int locked, void **decisions);

#endif
