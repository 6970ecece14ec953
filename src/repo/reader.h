/*
 * Reading a backup back: stored bytes -> stored hash/size check -> open
 * (decrypt) -> zstd -> tar -> the etcd snapshot (db + sha256 trailer) pushed
 * into a caller's sink, with every check the format allows: the stored hash
 * and size against the manifest, every chunk authenticated, the zstd
 * checksum, the snapshot's trailer against its content and against the
 * manifest's db_sha256, each kept file's size and SHA-256 against both
 * manifests. Nothing is written to disk here.
 */
#ifndef EDR_REPO_READER_H
#define EDR_REPO_READER_H

#include "crypto/keys.h"
#include "repo/repo.h"
#include "stream/trailer.h"

struct edr_read_result {
    struct edr_trailer_result trailer;
    uint64_t stored_size;
    char stored_sha256[65];
    int encrypted;
    char inner_manifest[8192]; /* the manifest copy inside the tar (may be empty or cut) */
    size_t nfiles;             /* files checked beside the snapshot */
};

enum edr_read_mode {
    EDR_READ_SNAPSHOT, /* sink gets snapshot.db: the db and its 32-byte trailer */
    EDR_READ_RAW,      /* sink gets the decrypted, still compressed tar.zst stream */
    EDR_READ_NONE,     /* only check (verify) */
};

/*
 * The files kept beside the snapshot (backup --include) during a read. Their
 * entries are always checked (size and SHA-256 against the manifest copy
 * inside the backup and, in a repository, the manifest beside it); this hook
 * also receives them. open() is called for each file entry with the path the
 * manifest records and the size, and sets *sink to a stream for its bytes or
 * NULL (the sink is the caller's; the reader finishes it after the last
 * byte). Those bytes are not yet checked: act on them only in done(), which
 * is called once every check of the read passed, with the checked records.
 * open() runs in a reader thread, done() in the caller's.
 */
struct edr_read_files {
    edr_rc (*open)(void *ud, const char *path, uint64_t size, struct edr_stream **sink,
                   struct edr_err *err);
    edr_rc (*done)(void *ud, const struct edr_manifest_file *files, size_t n, struct edr_err *err);
    void *ud;
};

/* Read backup `m` of `repo` (or, when repo is NULL, the local data file
 * `path`, checked without a manifest). `what` names the backup in messages. */
edr_rc edr_backup_read(struct edr_repo *repo, const struct edr_manifest *m, const char *path,
                       struct edr_identity *identity, enum edr_read_mode mode,
                       struct edr_stream *sink, const struct edr_read_files *files,
                       struct edr_read_result *res, struct edr_err *err);

/* Check only the stored bytes: size and SHA-256 against the manifest. */
edr_rc edr_backup_check_stored(struct edr_repo *repo, const struct edr_manifest *m,
                               struct edr_err *err);

#endif
