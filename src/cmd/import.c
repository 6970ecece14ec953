/*
 * import: a plain etcd snapshot file, or an archive (zip, tar, gzip, ...)
 * holding one, stored as a backup through backup's pipeline
 * (edr_backup_begin/commit). The input is read up to the size seen when it
 * was opened, never further: its last 32 bytes are the sha256 trailer, and a
 * file that grew meanwhile is refused rather than stored as it was at some
 * moment nobody chose.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "cmd/import_gardener.h"
#include "common/hash.h"
#include "common/progress.h"
#include "stream/stream.h"

const enum edr_opt_id edr_cmd_import_opts[] = {
    EDR_OPTS_REPO,         EDR_O_RECIPIENT, EDR_O_NO_ENCRYPT, EDR_O_COMPRESS_LEVEL, EDR_O_THREADS,
    EDR_O_SKIP_HASH_CHECK, EDR_O_FROM,      EDR_O_JSON,       EDR_O__COUNT};

struct import_src {
    int fd;
    struct archive *ar;
    uint64_t size;
    char entry[512];
};

static ssize_t
src_read(struct import_src *s, void *buf, size_t n)
{
    if (s->ar != NULL)
        return archive_read_data(s->ar, buf, n);
    return read(s->fd, buf, n);
}

static int
is_bbolt(const uint8_t *p, size_t n)
{
    return n >= 20 && p[16] == 0xED && p[17] == 0xDA && p[18] == 0x0C && p[19] == 0xED;
}

static edr_rc
import_open(struct edr_ctx *ctx, const char *path, struct import_src *s)
{
    uint8_t head[64];
    struct stat sb;
    ssize_t n;
    struct archive_entry *e;

    memset(s, 0, sizeof(*s));
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &sb) != 0) {
        int err = errno;
        return edr_err_errno(&ctx->err, err == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, err,
                             "unable to open '%s'", path);
    }
    n = pread(s->fd, head, sizeof(head), 0);
    if (n > 0 && is_bbolt(head, (size_t)n)) {
        s->size = (uint64_t)sb.st_size;
        snprintf(s->entry, sizeof(s->entry), "%s", path);
        return EDR_OK;
    }
    s->ar = archive_read_new();
    if (s->ar == NULL)
        return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
    archive_read_support_filter_all(s->ar);
    archive_read_support_format_all(s->ar);
    if (archive_read_open_fd(s->ar, s->fd, 1 << 16) != ARCHIVE_OK)
        return edr_err_set(&ctx->err, EDR_E_INTEGRITY,
                           "'%s' is neither an etcd snapshot nor an archive: %s", path,
                           archive_error_string(s->ar));
    while (archive_read_next_header(s->ar, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        size_t l = name ? strlen(name) : 0;
        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e))
            continue;
        if ((l >= 3 && strcmp(name + l - 3, ".db") == 0) ||
            (l >= 2 && strcmp(name + l - 2, "db") == 0 && (l == 2 || name[l - 3] == '/'))) {
            s->size = (uint64_t)archive_entry_size(e);
            snprintf(s->entry, sizeof(s->entry), "%s:%s", path, name);
            return EDR_OK;
        }
    }
    return edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no etcd snapshot (*.db) in archive '%s'", path);
}

static void
import_close(struct import_src *s)
{
    if (s->ar != NULL)
        archive_read_free(s->ar);
    if (s->fd >= 0)
        close(s->fd);
}

edr_rc
edr_cmd_import(struct edr_ctx *ctx)
{
    struct edr_backup_writer r;
    struct edr_backup_params p;
    struct import_src src;
    struct edr_storage_lock *lock = NULL;
    struct edr_backup_summary sum;
    struct edr_stream *sink = NULL;
    struct edr_sha256 h;
    struct edr_manifest m;
    uint8_t sha[32], trailer[32], *buf = NULL;
    uint64_t db_size, done = 0;
    int skip = edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK), has_trailer;
    double t0 = edr_now();
    const char *from = edr_opt_str(&ctx->opts, EDR_O_FROM);
    edr_rc rc;

    if (from != NULL && strcmp(from, "gardener") == 0)
        return edr_cmd_import_gardener(ctx, ctx->opts.args[0]);
    memset(&r, 0, sizeof(r));
    memset(&p, 0, sizeof(p));
    memset(&sum, 0, sizeof(sum));
    h.ctx = NULL;
    src.fd = -1;
    src.ar = NULL;
    if ((rc = import_open(ctx, ctx->opts.args[0], &src)) != EDR_OK)
        goto out;
    has_trailer = src.size % 512 == 32;
    if (!has_trailer && !skip) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' has no sha256 trailer", src.entry);
        edr_err_hint(&ctx->err, "a db copied from a data dir has none: use --skip-hash-check to "
                                "import it (a trailer is computed)");
        goto out;
    }
    db_size = has_trailer ? src.size - 32 : src.size;
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 0, &p, &ctx->err)) != EDR_OK ||
        (rc = edr_backup_prepare(ctx, &p, &r, &lock, &sum)) != EDR_OK)
        goto out;
    if ((rc = edr_backup_make_id(&r, "import", &ctx->err)) != EDR_OK)
        goto out;
    buf = malloc(1 << 20);
    if (buf == NULL || edr_sha256_init(&h) != 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_backup_begin(&r, db_size, &sink, &ctx->err)) != EDR_OK)
        goto out;
    while (done < src.size) {
        /* never past the size taken at the start: the trailer is 32 bytes */
        ssize_t n = src_read(&src, buf,
                             src.size - done < (1u << 20) ? (size_t)(src.size - done) : 1u << 20);
        uint64_t take;
        if (n < 0 && errno == EINTR && src.ar == NULL)
            continue;
        if (n <= 0) {
            rc = edr_err_set(&ctx->err, n < 0 ? EDR_E_IO : EDR_E_INTEGRITY,
                             "unable to read '%s': %s", src.entry,
                             n < 0 ? (src.ar ? archive_error_string(src.ar) : strerror(errno))
                                   : "unexpected end of file");
            goto out;
        }
        take = done >= db_size ? 0 : db_size - done < (uint64_t)n ? db_size - done : (uint64_t)n;
        edr_sha256_update(&h, buf, take);
        if ((rc = edr_stream_write(sink, buf, take, &ctx->err)) != EDR_OK)
            goto out;
        if ((uint64_t)n > take)
            memcpy(trailer + (done + take - db_size), buf + take, (size_t)((uint64_t)n - take));
        done += (uint64_t)n;
    }
    edr_progress_end(&r.progress);
    if (src_read(&src, buf, 1) > 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' grew while it was read", src.entry);
        goto out;
    }
    edr_sha256_final(&h, sha);
    if (has_trailer && !skip && memcmp(sha, trailer, 32) != 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s': sha256 mismatch", src.entry);
        goto out;
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.endpoint, sizeof(m.endpoint), "import:%.240s", src.entry);
    if ((rc = edr_backup_commit(&r, sha, db_size, &m, t0)) != EDR_OK)
        goto out;
    sum.manifest = m;
    sum.ok = 1;
out:
    edr_sha256_release(&h);
    free(buf);
    import_close(&src);
    rc = edr_backup_finish(&r, lock, &sum, rc, t0);
    edr_backup_report(ctx, &sum, rc);
    edr_backup_params_release(&p);
    return rc;
}
