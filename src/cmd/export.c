/*
 * export: a backup back to a plain etcd snapshot file (bbolt image + sha256
 * trailer) that etcdctl accepts, or with --raw the decrypted tar.zst stream
 * (decrypt.c writes that too, through edr_export_to). The output is written to a new hidden temp
 * file next to FILE (common/fs.h: never through a planted link), fsynced and renamed only once
 * every check passed; with -o - it goes to stdout and a failure shows in the exit status.
 * With --files, the files kept beside the snapshot (backup --include) go into the directory -o
 * names instead (files.h: in place only once the whole backup checked out).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/export.h"
#include "cmd/files.h"
#include "cmd/source.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/progress.h"
#include "repo/reader.h"
#include "stream/basic.h"

const enum edr_opt_id edr_cmd_export_opts[] = {EDR_OPTS_REPO, EDR_O_IDENTITY, EDR_O_OUTPUT,
                                               EDR_O_RAW,     EDR_O_FILES,    EDR_O_FORCE,
                                               EDR_O_JSON,    EDR_O__COUNT};

edr_rc
edr_export_to(struct edr_ctx *ctx, enum edr_read_mode mode)
{
    struct edr_source src;
    struct edr_stream *out = NULL, *prog = NULL;
    struct edr_progress progress;
    struct edr_read_result res;
    const char *path = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    struct edr_fs_atomic file = {.fd = -1};
    const char *oname = "stdout";
    int fd = -1, to_stdout, special = 0;
    struct stat sb;
    edr_rc rc;

    if (path == NULL)
        return edr_err_set(&ctx->err, EDR_E_USAGE, "%s needs -o FILE (or -o - for stdout)",
                           ctx->cmd_name);
    to_stdout = strcmp(path, "-") == 0;
    if (to_stdout && isatty(STDOUT_FILENO))
        return edr_err_set(&ctx->err, EDR_E_USAGE, "refusing to write a snapshot to a terminal");
    if ((rc = edr_source_open(ctx, ctx->opts.args[0], &src)) != EDR_OK)
        return rc;
    if (src.kind == EDR_SOURCE_DB) {
        rc = edr_err_set(&ctx->err, EDR_E_USAGE, "'%s' is already a plain snapshot", src.what);
        goto out;
    }
    /* a device or a FIFO (-o /dev/null) is written as it is: FILE.part and
     * a rename would put a regular file in its place */
    special = !to_stdout && stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode);
    if (to_stdout) {
        fd = STDOUT_FILENO;
    } else if (special) {
        oname = path;
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to open '%s'", path);
            goto out;
        }
    } else {
        /* what a killed export left next to FILE goes first */
        edr_fs_remove_stale(path, ".part.");
        if ((rc = edr_fs_atomic_open(&file, path, ".part.", 0600, EDR_E_IO, &ctx->err)) != EDR_OK)
            goto out;
        oname = file.tmp;
        fd = file.fd;
    }
    if ((rc = edr_stream_fd_new(fd, oname, &out, &ctx->err)) != EDR_OK)
        goto out;
    /* the progress stream also stops the read once a signal came */
    edr_progress_start(&progress, ctx->progress && !to_stdout, "export",
                       mode != EDR_READ_RAW && src.kind == EDR_SOURCE_REPO ? src.m.db_size + 32
                                                                           : 0);
    if ((rc = edr_cmd_progress_stream_new(out, &progress, &prog, &ctx->err)) != EDR_OK) {
        edr_progress_end(&progress);
        goto out;
    }
    rc = edr_source_read(ctx, &src, mode, prog, &res);
    if (rc == EDR_OK && mode == EDR_READ_RAW)
        rc = edr_stream_finish(prog, &ctx->err);
    edr_progress_end(&progress);
    if (rc != EDR_OK)
        goto out;
    if (!to_stdout && !special) {
        fd = -1; /* file's */
        if ((rc = edr_fs_atomic_commit(&file, &ctx->err)) != EDR_OK)
            goto out;
    }
    if (ctx->json) {
        char sha[65];
        edr_hex(res.trailer.sha256, 32, sha);
        edr_cmd_print_json(json_pack("{s:s, s:s, s:I, s:s}", "backup", src.what, "output", path,
                                     "db_size", (json_int_t)res.trailer.db_size, "db_sha256",
                                     mode == EDR_READ_RAW ? "" : sha));
    } else if (!ctx->quiet && !to_stdout) {
        if (mode == EDR_READ_RAW)
            fprintf(stderr, "wrote %s (tar.zst: zstd -d < %s | tar x)\n", path, path);
        else
            fprintf(stderr, "wrote %s: etcd snapshot of %" PRIu64 " bytes, sha256 verified\n", path,
                    res.trailer.db_size);
    }
out:
    edr_stream_free(prog);
    edr_stream_free(out);
    if (fd >= 0 && fd != STDOUT_FILENO && fd != file.fd)
        close(fd);
    edr_fs_atomic_release(&file);
    edr_source_close(&src);
    return rc;
}

/* export --files -o DIR */
static edr_rc
export_files(struct edr_ctx *ctx)
{
    const char *dir = edr_opt_str(&ctx->opts, EDR_O_OUTPUT);
    struct edr_files_out *fo = NULL;
    struct edr_read_result res;
    struct edr_source src;
    edr_rc rc;

    if (dir == NULL || strcmp(dir, "-") == 0)
        return edr_err_set(&ctx->err, EDR_E_USAGE, "export --files needs -o DIR");
    if (edr_opt_bool(&ctx->opts, EDR_O_RAW))
        return edr_err_set(&ctx->err, EDR_E_USAGE, "--files and --raw exclude each other");
    if ((rc = edr_source_open(ctx, ctx->opts.args[0], &src)) != EDR_OK)
        return rc;
    if (src.kind == EDR_SOURCE_DB) {
        rc = edr_err_set(&ctx->err, EDR_E_USAGE, "'%s' is a plain snapshot: it holds no files",
                         src.what);
        goto out;
    }
    if ((rc = edr_files_out_new(dir, edr_opt_bool(&ctx->opts, EDR_O_FORCE), &fo, &ctx->err)) !=
        EDR_OK)
        goto out;
    src.files = edr_files_out_hook(fo);
    if ((rc = edr_source_read(ctx, &src, EDR_READ_NONE, NULL, &res)) != EDR_OK ||
        (rc = edr_files_out_commit(fo, &ctx->err)) != EDR_OK)
        goto out;
    if (ctx->json)
        edr_cmd_print_json(json_pack("{s:s, s:s, s:I}", "backup", src.what, "output", dir, "files",
                                     (json_int_t)edr_files_out_count(fo)));
    else if (!ctx->quiet)
        fprintf(stderr, "wrote %zu file%s into %s, sha256 verified\n", edr_files_out_count(fo),
                edr_files_out_count(fo) == 1 ? "" : "s", dir);
out:
    edr_files_out_free(fo);
    edr_source_close(&src);
    return rc;
}

edr_rc
edr_cmd_export(struct edr_ctx *ctx)
{
    if (edr_opt_bool(&ctx->opts, EDR_O_FILES))
        return export_files(ctx);
    return edr_export_to(ctx,
                         edr_opt_bool(&ctx->opts, EDR_O_RAW) ? EDR_READ_RAW : EDR_READ_SNAPSHOT);
}
