/*
 * Importing snapshots other tools made (import): the step every source
 * shares, "store one plain etcd snapshot as a backup, with this origin".
 * import.c feeds it etcdctl, k3s and RKE2 files from a file, a directory or
 * an S3 prefix; a Gardener reader feeds it Gardener full snapshots.
 */
#ifndef EDR_CMD_IMPORT_H
#define EDR_CMD_IMPORT_H

#include <stddef.h>
#include <stdint.h>

#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "repo/manifest.h"

/* The plain snapshot to store, pulled by edr_import_snapshot: exactly `size`
 * bytes, the bbolt image followed by etcd's 32-byte SHA-256 trailer (what
 * `etcdctl snapshot save` writes). The size must be known before the first
 * byte is stored (the tar entry holding the db is sized up front): a reader
 * whose input is compressed without a size (gzip) measures it first, for
 * instance by decompressing once to count, or spools it. */
struct edr_import_input {
    /* Up to n bytes into buf; *got = 0 at the end of the input. Errors are
     * set in err with the input named. */
    edr_rc (*read)(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err);
    void *ud;
    uint64_t size;
    const char *what; /* names the input in messages, e.g. "/snaps/x.zip:x" */
};

/* Store `in` as a new backup of the repository ctx's options name (--repo,
 * --cluster, with p's recipients and compression: p from
 * edr_backup_params_from_opts(&ctx->opts, 0, ...)), taking and releasing
 * the repository lock. The manifest gets origin o (copied; may be NULL for
 * a plain import) and "import:<in->what>" as its endpoint.
 *
 * Idempotence: when o->sha256 is set and a backup of this cluster already
 * has an origin with the same source, size and sha256, nothing is stored,
 * *already is set to 1 and sum->manifest is that backup's manifest.
 *
 * The trailer is checked against the bytes read (EDR_E_INTEGRITY "'<what>':
 * sha256 mismatch"); an input without one (size % 512 != 32) is refused
 * unless skip_hash, and then a trailer is computed. A reader that yields
 * more or fewer than in->size bytes fails the import. On any failure
 * nothing is left in the repository: no data object, no manifest. sum is
 * filled either way (sum->manifest.id is the new backup's id on success);
 * ctx->err holds the one-line reason. Nothing is printed. */
edr_rc edr_import_snapshot(struct edr_ctx *ctx, const struct edr_backup_params *p,
                           const struct edr_manifest_origin *o, const struct edr_import_input *in,
                           int skip_hash, int *already, struct edr_backup_summary *sum);

/* Object `name` of a source location (an S3 prefix) copied into a private
 * file in $TMPDIR, unlinked at once so that it never outlives the process;
 * `what` names it in errors. Returns the file's descriptor, or -1 with err
 * set. */
struct edr_storage;
int edr_import_object_fd(struct edr_storage *st, const char *name, const char *what,
                         struct edr_err *err);

#endif
