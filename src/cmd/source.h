/*
 * What a command reads: a backup in the repository ("latest", an id), a
 * loose data file (path to an .edr), or a plain etcd snapshot (.db) file.
 */
#ifndef EDR_CMD_SOURCE_H
#define EDR_CMD_SOURCE_H

#include "cmd/cmd.h"
#include "mvcc/mvcc.h"
#include "repo/reader.h"

enum edr_source_kind { EDR_SOURCE_REPO, EDR_SOURCE_EDR_FILE, EDR_SOURCE_DB };

struct edr_source {
    enum edr_source_kind kind;
    char what[512]; /* for messages */
    char path[4096];
    struct edr_repo *repo;
    struct edr_manifest m;
    struct edr_identity *identity;
    /* NULL, or what a read does with the files kept beside the snapshot */
    const struct edr_read_files *files;
};

edr_rc edr_source_open(struct edr_ctx *ctx, const char *ref, struct edr_source *src);
/* Stream the backup through every check into sink (see reader.h). For a
 * plain .db source the file itself is streamed (trailer checked unless
 * skip_hash). */
edr_rc edr_source_read(struct edr_ctx *ctx, struct edr_source *src, enum edr_read_mode mode,
                       struct edr_stream *sink, struct edr_read_result *res);
/* The status with every check (k8s NULL: verify's, edr_mvcc_scan_status) or
 * inspect's (lenient status and Kubernetes view, edr_mvcc_scan_inspect),
 * computed on the stream. *redo: the capture could not do it, read the
 * snapshot from a spool instead (ctx->err says why). */
edr_rc edr_source_scan_status(struct edr_ctx *ctx, struct edr_source *src,
                              struct edr_mvcc_status *st, struct edr_k8s_stats **k8s, int *redo);
/* Values classed on the stream (edr_mvcc_scan_classify), then each live
 * key with the class of its value to live (inspect's encryption report). */
struct edr_source_classes {
    uint16_t (*classify)(void *ud, const struct edr_kv *kv);
    int (*live)(void *ud, const uint8_t *key, size_t kl, uint16_t cls);
    void *ud;
};
/* inspect's edr_source_scan_status, with cl. */
edr_rc edr_source_scan_inspect(struct edr_ctx *ctx, struct edr_source *src,
                               struct edr_mvcc_status *st, struct edr_k8s_stats **k8s,
                               const struct edr_source_classes *cl, int *redo);
void edr_source_close(struct edr_source *src);

#endif

/* A private copy of the plain bbolt image (no trailer) for random access:
 * created in a mode-0700 directory under `parent` and unlinked at once, so
 * it never outlives the process, not even a SIGKILL. `db` is its
 * /proc/self/fd path; edr_spool_release closes it. */
struct edr_spool {
    int fd;
    char db[64];
    struct edr_read_result res;
};

edr_rc edr_source_spool(struct edr_ctx *ctx, struct edr_source *src, const char *parent,
                        int skip_hash, struct edr_spool *sp);
void edr_spool_release(struct edr_spool *sp);

/* A source read as a bbolt file (inspect, ls, get): a plain .db in place,
 * its trailer checked unless --skip-hash-check; a backup through a spool. */
struct edr_source_db {
    struct edr_source src;
    struct edr_spool sp;
    struct edr_bolt *bolt;
};

void edr_source_db_init(struct edr_source_db *o);
/* o->src is open: open o->bolt on it (errors name the source). */
edr_rc edr_source_db_bolt(struct edr_ctx *ctx, struct edr_source_db *o);
/* edr_source_open and edr_source_db_bolt; edr_source_db_close either way. */
edr_rc edr_source_db_open(struct edr_ctx *ctx, const char *ref, struct edr_source_db *o);
void edr_source_db_close(struct edr_source_db *o);
