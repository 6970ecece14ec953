/*
 * Backup sources for export, restore, verify, inspect, get and ls.
 */
#include "cmd/source.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "common/progress.h"
#include "crypto/keys.h"
#include "stream/basic.h"
#include "stream/seal.h"
#include "stream/trailer.h"

static int
looks_like_path(const char *ref)
{
    struct stat sb;

    return strchr(ref, '/') != NULL || (stat(ref, &sb) == 0 && S_ISREG(sb.st_mode));
}

/* An .edr starts with the magic; anything else is taken for a plain db. */
static int
is_edr_file(const char *path)
{
    char magic[EDR_SEAL_MAGIC_LEN];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    if (fd < 0)
        return 0;
    n = read(fd, magic, sizeof(magic));
    close(fd);
    return n == (ssize_t)sizeof(magic) && memcmp(magic, EDR_SEAL_MAGIC, sizeof(magic)) == 0;
}

edr_rc
edr_source_open(struct edr_ctx *ctx, const char *ref, struct edr_source *src)
{
    edr_rc rc;

    memset(src, 0, sizeof(*src));
    if (looks_like_path(ref)) {
        struct stat sb;
        if (stat(ref, &sb) != 0) {
            int e = errno;
            return edr_err_errno(&ctx->err, e == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, e,
                                 "unable to open '%s'", ref);
        }
        snprintf(src->path, sizeof(src->path), "%s", ref);
        snprintf(src->what, sizeof(src->what), "%s", ref);
        src->kind = is_edr_file(ref) ? EDR_SOURCE_EDR_FILE : EDR_SOURCE_DB;
    } else {
        if ((rc = edr_cmd_open_repo(ctx, 0, &src->repo)) != EDR_OK)
            return rc;
        if ((rc = edr_repo_resolve(src->repo, ref, &src->m, &ctx->err)) != EDR_OK)
            return rc;
        src->kind = EDR_SOURCE_REPO;
        snprintf(src->what, sizeof(src->what), "%s/%s", src->repo->cluster, src->m.id);
    }
    return EDR_OK;
}

static edr_rc
read_db_file(struct edr_ctx *ctx, struct edr_source *src, struct edr_stream *sink,
             struct edr_read_result *res)
{
    struct edr_stream *tr = NULL;
    char *buf = NULL;
    int fd = -1;
    edr_rc rc;

    memset(res, 0, sizeof(*res));
    if ((rc = edr_stream_trailer_new(sink, src->what, 1, &tr, &ctx->err)) != EDR_OK)
        return rc;
    fd = open(src->path, O_RDONLY | O_CLOEXEC);
    buf = malloc(1 << 20);
    if (fd < 0 || buf == NULL) {
        int e = errno;
        rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to read '%s'", src->path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to read '%s'", src->path);
            goto out;
        }
        if (n == 0)
            break;
        if ((rc = edr_stream_write(tr, buf, (size_t)n, &ctx->err)) != EDR_OK)
            goto out;
    }
    rc = edr_stream_finish(tr, &ctx->err);
    edr_stream_trailer_result(tr, &res->trailer);
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    edr_stream_free(tr);
    return rc;
}

edr_rc
edr_source_read(struct edr_ctx *ctx, struct edr_source *src, enum edr_read_mode mode,
                struct edr_stream *sink, struct edr_read_result *res)
{
    int need_key;
    edr_rc rc;

    if (src->kind == EDR_SOURCE_DB)
        return read_db_file(ctx, src, sink, res);
    need_key = src->kind == EDR_SOURCE_REPO ? src->m.encrypted : 0;
    if (src->identity == NULL &&
        (rc = edr_cmd_load_identity(ctx, need_key, &src->identity)) != EDR_OK)
        return rc;
    return edr_backup_read(src->repo, src->kind == EDR_SOURCE_REPO ? &src->m : NULL, src->path,
                           src->identity, mode, sink, src->files, res, &ctx->err);
}

void
edr_source_close(struct edr_source *src)
{
    edr_identity_free(src->identity);
    edr_repo_free(src->repo);
    memset(src, 0, sizeof(*src));
}

static edr_rc
copy_plain(struct edr_ctx *ctx, const char *path, struct edr_stream *sink)
{
    char *buf = malloc(1 << 20);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    edr_rc rc = EDR_OK;

    if (fd < 0 || buf == NULL) {
        int e = errno;
        rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to read '%s'", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to read '%s'", path);
            break;
        }
        if (n == 0 || (rc = edr_stream_write(sink, buf, (size_t)n, &ctx->err)) != EDR_OK)
            break;
    }
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* The snapshot (db and trailer) into sink, with a progress bar. */
static edr_rc
source_stream(struct edr_ctx *ctx, struct edr_source *src, int skip_hash, struct edr_stream *sink,
              struct edr_read_result *res)
{
    struct edr_stream *prog = NULL;
    struct edr_progress progress;
    edr_rc rc;

    edr_progress_start(&progress, ctx->progress, "read  ",
                       src->kind == EDR_SOURCE_REPO ? src->m.db_size + 32 : 0);
    if ((rc = edr_cmd_progress_stream_new(sink, &progress, &prog, &ctx->err)) == EDR_OK) {
        if (src->kind == EDR_SOURCE_DB && skip_hash)
            rc = copy_plain(ctx, src->path, prog);
        else
            rc = edr_source_read(ctx, src, EDR_READ_SNAPSHOT, prog, res);
    }
    edr_progress_end(&progress);
    edr_stream_free(prog);
    return rc;
}

static edr_rc
scan_status(struct edr_ctx *ctx, struct edr_source *src, struct edr_mvcc_status *st,
            struct edr_k8s_stats **k8s, const struct edr_source_classes *cl, int *redo)
{
    struct edr_mvcc_scan *scan = NULL;
    struct edr_read_result res;
    edr_rc rc;

    *redo = 0;
    memset(&res, 0, sizeof(res));
    /* the snapshot into the capture: no copy of it anywhere */
    if ((rc = edr_mvcc_scan_new(&scan, &ctx->err)) != EDR_OK)
        goto out;
    if (cl != NULL)
        edr_mvcc_scan_classify(scan, cl->classify, cl->ud);
    if ((rc = source_stream(ctx, src, 0, edr_mvcc_scan_stream(scan), &res)) != EDR_OK)
        goto out;
    rc = k8s != NULL ? edr_mvcc_scan_inspect(scan, st, k8s, redo, &ctx->err)
                     : edr_mvcc_scan_status(scan, st, redo, &ctx->err);
    if (rc == EDR_OK && cl != NULL)
        rc = edr_mvcc_scan_live_classes(scan, cl->live, cl->ud, &ctx->err);
    if (rc != EDR_OK && !*redo)
        edr_err_prefix(&ctx->err, "%s", src->what);
out:
    edr_mvcc_scan_free(scan);
    return rc;
}

edr_rc
edr_source_scan_status(struct edr_ctx *ctx, struct edr_source *src, struct edr_mvcc_status *st,
                       struct edr_k8s_stats **k8s, int *redo)
{
    return scan_status(ctx, src, st, k8s, NULL, redo);
}

edr_rc
edr_source_scan_inspect(struct edr_ctx *ctx, struct edr_source *src, struct edr_mvcc_status *st,
                        struct edr_k8s_stats **k8s, const struct edr_source_classes *cl, int *redo)
{
    return scan_status(ctx, src, st, k8s, cl, redo);
}

edr_rc
edr_source_spool(struct edr_ctx *ctx, struct edr_source *src, const char *parent, int skip_hash,
                 struct edr_spool *sp)
{
    struct edr_stream *fds = NULL;
    char dir[4096], path[4200];
    struct stat sb;
    edr_rc rc;

    memset(sp, 0, sizeof(*sp));
    sp->fd = -1;
    /* the file is unlinked at once: even SIGKILL leaves no plaintext behind */
    snprintf(dir, sizeof(dir), "%s/.etcd-dr-spool-XXXXXX", parent);
    if (mkdtemp(dir) == NULL) {
        int e = errno;
        return edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to create a private directory in '%s'",
                             parent);
    }
    snprintf(path, sizeof(path), "%s/db", dir);
    sp->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (sp->fd < 0) {
        int e = errno;
        rmdir(dir);
        return edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to create '%s'", path);
    }
    unlink(path);
    rmdir(dir);
    snprintf(sp->db, sizeof(sp->db), "/proc/self/fd/%d", sp->fd);
    /* fail before decrypting anything when the snapshot cannot fit */
    if (src->kind == EDR_SOURCE_REPO && src->m.db_size > 0) {
        struct statvfs vf;
        uint64_t avail =
            fstatvfs(sp->fd, &vf) == 0 ? (uint64_t)vf.f_bavail * vf.f_frsize : UINT64_MAX;
        if (avail < src->m.db_size + (1u << 20)) {
            rc = edr_err_set(&ctx->err, EDR_E_IO,
                             "not enough space in '%s' for the decrypted snapshot: %llu MiB "
                             "free, %llu MiB needed",
                             parent, (unsigned long long)(avail >> 20),
                             (unsigned long long)((src->m.db_size >> 20) + 1));
            edr_err_hint(&ctx->err, "verify, inspect, ls and get work in $TMPDIR (default /tmp), "
                                    "restore next to the data dir: point them at a larger file "
                                    "system");
            goto out;
        }
    }
    if ((rc = edr_stream_fd_new(sp->fd, path, &fds, &ctx->err)) != EDR_OK ||
        (rc = source_stream(ctx, src, skip_hash, fds, &sp->res)) != EDR_OK)
        goto out;
    if (fstat(sp->fd, &sb) != 0) {
        int e = errno;
        rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to stat '%s'", path);
        goto out;
    }
    /* drop the 32-byte sha256 trailer: what stays is the bbolt image */
    if ((!skip_hash || sb.st_size % 512 == 32) && sb.st_size >= 32 &&
        ftruncate(sp->fd, sb.st_size - 32) != 0) {
        int e = errno;
        rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to truncate '%s'", path);
    }
out:
    edr_stream_free(fds);
    if (rc != EDR_OK)
        edr_spool_release(sp);
    return rc;
}

void
edr_spool_release(struct edr_spool *sp)
{
    if (sp->fd >= 0)
        close(sp->fd);
    sp->fd = -1;
    sp->db[0] = '\0';
}

void
edr_source_db_init(struct edr_source_db *o)
{
    memset(o, 0, sizeof(*o));
    o->sp.fd = -1;
}

void
edr_source_db_close(struct edr_source_db *o)
{
    edr_bolt_close(o->bolt);
    o->bolt = NULL;
    edr_spool_release(&o->sp);
    edr_source_close(&o->src);
}

edr_rc
edr_source_db_bolt(struct edr_ctx *ctx, struct edr_source_db *o)
{
    int skip = edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK);
    const char *tmp = getenv("TMPDIR");
    edr_rc rc;

    if (o->src.kind == EDR_SOURCE_DB) {
        /* a plain snapshot: check its trailer unless told not to, read in place */
        if (!skip) {
            struct edr_read_result res;
            if ((rc = edr_source_read(ctx, &o->src, EDR_READ_NONE, NULL, &res)) != EDR_OK) {
                edr_err_hint(&ctx->err, "a db copied from a data dir has no trailer: use "
                                        "--skip-hash-check");
                return rc;
            }
        }
        rc = edr_bolt_open(o->src.path, &o->bolt, &ctx->err);
    } else {
        rc = edr_source_spool(ctx, &o->src, tmp && *tmp ? tmp : "/tmp", 0, &o->sp);
        if (rc == EDR_OK)
            rc = edr_bolt_open(o->sp.db, &o->bolt, &ctx->err);
    }
    if (rc != EDR_OK)
        edr_err_prefix(&ctx->err, "%s", o->src.what);
    return rc;
}

edr_rc
edr_source_db_open(struct edr_ctx *ctx, const char *ref, struct edr_source_db *o)
{
    edr_rc rc;

    edr_source_db_init(o);
    if ((rc = edr_source_open(ctx, ref, &o->src)) != EDR_OK)
        return rc;
    return edr_source_db_bolt(ctx, o);
}
