/*
 * backup --include and its way back (see files.h). On the backup side a file
 * is opened and checked before the snapshot is taken (a missing or oversized
 * file fails the run before anything is stored), then read once, after the
 * snapshot, straight into the tar entry: its bytes go from the file through
 * the hash into zstd and the seal, never into a file of ours. On the way back
 * nothing is put in place before the whole backup, these files included,
 * passed every check.
 */
#include "cmd/files.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/source.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/log.h"
#include "stream/basic.h"
#include "stream/tar.h"

int
edr_include_normalize(const char *path, const char *cwd, char *out, size_t n)
{
    size_t len = 0;
    const char *parts[2] = {path[0] == '/' ? "" : cwd, path};

    if (n < 2)
        return -1;
    for (int k = 0; k < 2; k++) {
        for (const char *c = parts[k]; *c != '\0';) {
            size_t l;
            while (*c == '/')
                c++;
            l = strcspn(c, "/");
            if (l == 0 || (l == 1 && c[0] == '.')) {
                c += l;
                continue;
            }
            if (l == 2 && c[0] == '.' && c[1] == '.')
                return -1;
            if (len + 1 + l + 1 > n)
                return -1;
            out[len++] = '/';
            memcpy(out + len, c, l);
            len += l;
            c += l;
        }
    }
    if (len == 0)
        return -1;
    out[len] = '\0';
    return 0;
}

static void
owner_names(struct edr_manifest_file *f)
{
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    struct group gr, *grp = NULL;

    if (getpwuid_r(f->uid, &pw, buf, sizeof(buf), &pwp) == 0 && pwp != NULL &&
        strlen(pw.pw_name) < sizeof(f->owner) &&
        strspn(pw.pw_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$") ==
            strlen(pw.pw_name))
        snprintf(f->owner, sizeof(f->owner), "%s", pw.pw_name);
    if (getgrgid_r(f->gid, &gr, buf, sizeof(buf), &grp) == 0 && grp != NULL &&
        strlen(gr.gr_name) < sizeof(f->group) &&
        strspn(gr.gr_name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-$") ==
            strlen(gr.gr_name))
        snprintf(f->group, sizeof(f->group), "%s", gr.gr_name);
}

static int
has_glob(const char *s)
{
    return strpbrk(s, "*?[") != NULL;
}

/* Opens and adds path (normal, absolute) unless it is there already; a
 * directory a glob matched is left out. */
static edr_rc
add_file(struct edr_include_set *set, const char *path, int from_glob, int optional,
         uint64_t max_size, struct edr_err *err)
{
    struct edr_manifest_file *f;
    struct stat sb;
    int fd;

    for (size_t i = 0; i < set->n; i++)
        if (strcmp(set->recs[i].path, path) == 0)
            return EDR_OK;
    if (set->n >= EDR_MANIFEST_MAX_FILES)
        return edr_err_set(err, EDR_E_USAGE, "--include: more than %d files",
                           EDR_MANIFEST_MAX_FILES);
    if (edr_manifest_path_ok(path) != 0)
        return edr_err_set(err, EDR_E_USAGE, "--include: unusable path '%s'", path);
    /* O_NONBLOCK: a FIFO must not hold the open; it is refused below */
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT && optional) {
            edr_info("--include: '%s' is absent (optional)", path);
            return EDR_OK;
        }
        return edr_err_errno(err, EDR_E_IO, e, "--include: unable to open '%s'", path);
    }
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return edr_err_errno(err, EDR_E_IO, e, "--include: unable to stat '%s'", path);
    }
    if (S_ISDIR(sb.st_mode) && from_glob) {
        close(fd);
        return EDR_OK;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return edr_err_set(err, EDR_E_USAGE, "--include: '%s' is not a regular file", path);
    }
    if ((uint64_t)sb.st_size > max_size) {
        close(fd);
        return edr_err_set(err, EDR_E_USAGE,
                           "--include: '%s' is larger than --include-max-size (%lld bytes, at "
                           "most %llu)",
                           path, (long long)sb.st_size, (unsigned long long)max_size);
    }
    {
        size_t k = set->n + 1;
        struct edr_manifest_file *r = realloc(set->recs, k * sizeof(*r));
        if (r != NULL)
            set->recs = r;
        int *fds = r != NULL ? realloc(set->fds, k * sizeof(*fds)) : NULL;
        if (fds != NULL)
            set->fds = fds;
        struct stat *sts = fds != NULL ? realloc(set->sts, k * sizeof(*sts)) : NULL;
        if (sts == NULL) {
            close(fd);
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        }
        set->sts = sts;
    }
    f = &set->recs[set->n];
    memset(f, 0, sizeof(*f));
    snprintf(f->path, sizeof(f->path), "%s", path);
    f->size = (uint64_t)sb.st_size;
    f->mode = sb.st_mode & 07777;
    f->uid = sb.st_uid;
    f->gid = sb.st_gid;
    owner_names(f);
    set->fds[set->n] = fd;
    set->sts[set->n] = sb;
    set->n++;
    return EDR_OK;
}

edr_rc
edr_include_open(char *const *patterns, int npatterns, uint64_t max_size,
                 struct edr_include_set *set, struct edr_err *err)
{
    char cwd[4096], abs[EDR_MANIFEST_PATH_MAX];
    edr_rc rc = EDR_OK;

    memset(set, 0, sizeof(*set));
    if (npatterns > 0 && getcwd(cwd, sizeof(cwd)) == NULL)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to get the current directory");
    for (int i = 0; i < npatterns && rc == EDR_OK; i++) {
        const char *pat = patterns[i];
        int optional = pat[0] == '?';
        if (optional)
            pat++;
        if (pat[0] == '\0') {
            rc = edr_err_set(err, EDR_E_USAGE, "--include: empty path");
        } else if (!has_glob(pat)) {
            if (edr_include_normalize(pat, cwd, abs, sizeof(abs)) != 0)
                rc = edr_err_set(err, EDR_E_USAGE,
                                 "--include: unusable path '%s' (no '..', at most %d bytes)", pat,
                                 EDR_MANIFEST_PATH_MAX - 1);
            else
                rc = add_file(set, abs, 0, optional, max_size, err);
        } else {
            glob_t g;
            int gr;
            char full[EDR_MANIFEST_PATH_MAX + 4096];
            snprintf(full, sizeof(full), "%s%s%s", pat[0] == '/' ? "" : cwd,
                     pat[0] == '/' ? "" : "/", pat);
            gr = glob(full, 0, NULL, &g);
            if (gr == GLOB_NOMATCH) {
                if (optional)
                    edr_info("--include: '%s' matches no file (optional)", pat);
                else
                    rc = edr_err_set(err, EDR_E_IO, "--include: '%s' matches no file", pat);
            } else if (gr != 0) {
                rc = edr_err_set(err, EDR_E_IO, "--include: unable to expand '%s'", pat);
            }
            for (size_t k = 0; gr == 0 && k < g.gl_pathc && rc == EDR_OK; k++) {
                if (edr_include_normalize(g.gl_pathv[k], cwd, abs, sizeof(abs)) != 0)
                    rc = edr_err_set(err, EDR_E_USAGE, "--include: unusable path '%s'",
                                     g.gl_pathv[k]);
                else
                    rc = add_file(set, abs, 1, optional, max_size, err);
            }
            if (gr == 0)
                globfree(&g);
        }
    }
    if (rc != EDR_OK)
        edr_include_close(set);
    return rc;
}

static int
same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_size == b->st_size && a->st_ino == b->st_ino &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* One file into its tar entry, hashed on the way. */
static edr_rc
write_one(struct edr_manifest_file *f, int fd, const struct stat *sb, struct edr_stream *tar,
          time_t mtime, uint8_t *buf, size_t bufsz, struct edr_err *err)
{
    struct edr_stream *sha = NULL;
    char name[EDR_MANIFEST_PATH_MAX + 8];
    uint64_t left = f->size;
    struct stat after;
    edr_rc rc;

    snprintf(name, sizeof(name), "files%s", f->path);
    if ((rc = edr_stream_sha256_new(NULL, &sha, err)) != EDR_OK)
        return rc;
    if ((rc = edr_tar_writer_begin(tar, name, f->size, f->mode & 0777, mtime, err)) != EDR_OK)
        goto out;
    for (;;) {
        /* one byte past the size: a file that grew is caught here */
        size_t want = left < bufsz ? (size_t)left + (left == 0) : bufsz;
        ssize_t n = read(fd, buf, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = edr_err_errno(err, EDR_E_IO, errno, "--include: unable to read '%s'", f->path);
            goto out;
        }
        if ((uint64_t)n > left || (n == 0 && left > 0)) {
            rc = edr_err_set(err, EDR_E_IO, "--include: '%s' changed while it was read", f->path);
            goto out;
        }
        if (n == 0)
            break;
        if ((rc = edr_stream_write(sha, buf, (size_t)n, err)) != EDR_OK ||
            (rc = edr_stream_write(tar, buf, (size_t)n, err)) != EDR_OK)
            goto out;
        left -= (uint64_t)n;
    }
    if (fstat(fd, &after) != 0 || !same_stat(sb, &after)) {
        rc = edr_err_set(err, EDR_E_IO, "--include: '%s' changed while it was read", f->path);
        goto out;
    }
    if ((rc = edr_tar_writer_end(tar, err)) != EDR_OK ||
        (rc = edr_stream_finish(sha, err)) != EDR_OK)
        goto out;
    edr_stream_sha256_hex(sha, f->sha256);
out:
    edr_stream_free(sha);
    return rc;
}

edr_rc
edr_include_write(struct edr_include_set *set, struct edr_stream *tar, time_t mtime,
                  struct edr_err *err)
{
    size_t bufsz = 256 * 1024;
    uint8_t *buf;
    edr_rc rc = EDR_OK;

    if (set->n == 0)
        return EDR_OK;
    if ((buf = malloc(bufsz)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < set->n && rc == EDR_OK; i++)
        rc = write_one(&set->recs[i], set->fds[i], &set->sts[i], tar, mtime, buf, bufsz, err);
    /* the file's bytes do not outlive their trip into the tar */
    sodium_memzero(buf, bufsz);
    free(buf);
    return rc;
}

void
edr_include_close(struct edr_include_set *set)
{
    for (size_t i = 0; i < set->n; i++)
        if (set->fds[i] >= 0)
            close(set->fds[i]);
    free(set->recs);
    free(set->fds);
    free(set->sts);
    memset(set, 0, sizeof(*set));
}

/* ---- writing them back ---- */

struct out_file {
    char path[EDR_MANIFEST_PATH_MAX]; /* as the manifest records it */
    struct edr_fs_atomic a;
    struct edr_stream *fd;
};

struct edr_files_out {
    char dir[4096];
    int force;
    struct out_file *v;
    size_t n, written;
    int checked; /* the read passed every check */
    struct edr_read_files hook;
};

/* Every existing component between dir and path's directory must be a
 * directory, not a link; the missing ones are created (mode 0700). */
static edr_rc
make_parents(const char *dir, const char *path, struct edr_err *err)
{
    char buf[4096 + EDR_MANIFEST_PATH_MAX];
    size_t base = strlen(dir);
    struct stat sb;

    snprintf(buf, sizeof(buf), "%s%s", dir, path);
    for (char *c = buf + base + 1; (c = strchr(c, '/')) != NULL; c++) {
        *c = '\0';
        if (lstat(buf, &sb) == 0) {
            if (!S_ISDIR(sb.st_mode)) {
                edr_err_set(err, EDR_E_IO, "'%s' is in the way (not a directory)", buf);
                return EDR_E_IO;
            }
        } else if (errno != ENOENT || mkdir(buf, 0700) != 0) {
            int e = errno;
            return edr_err_errno(err, EDR_E_IO, e, "unable to create directory '%s'", buf);
        }
        *c = '/';
    }
    return EDR_OK;
}

static edr_rc
out_open(void *ud, const char *path, uint64_t size, struct edr_stream **sink, struct edr_err *err)
{
    struct edr_files_out *o = ud;
    struct out_file *f, *v;
    char dest[4096 + EDR_MANIFEST_PATH_MAX];
    struct stat sb;
    edr_rc rc;

    (void)size;
    *sink = NULL;
    snprintf(dest, sizeof(dest), "%s%s", o->dir, path);
    /* refused before anything is read: the whole backup need not go by first */
    if (!o->force && lstat(dest, &sb) == 0)
        return edr_err_set(err, EDR_E_IO, "'%s' exists (--force replaces it)", dest);
    if ((rc = make_parents(o->dir, path, err)) != EDR_OK)
        return rc;
    v = realloc(o->v, (o->n + 1) * sizeof(*v));
    if (v == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    o->v = v;
    f = &o->v[o->n];
    memset(f, 0, sizeof(*f));
    f->a.fd = -1;
    snprintf(f->path, sizeof(f->path), "%s", path);
    o->n++;
    if ((rc = edr_fs_atomic_open(&f->a, dest, ".part.", 0600, EDR_E_IO, err)) != EDR_OK)
        return rc;
    if ((rc = edr_stream_fd_new(f->a.fd, f->a.tmp, &f->fd, err)) != EDR_OK)
        return rc;
    *sink = f->fd;
    return EDR_OK;
}

static edr_rc
out_done(void *ud, const struct edr_manifest_file *files, size_t n, struct edr_err *err)
{
    struct edr_files_out *o = ud;
    struct stat sb;

    if (n != o->n)
        return edr_err_set(err, EDR_E_INTERNAL, "%zu files written, %zu checked", o->n, n);
    for (size_t i = 0; i < n; i++) {
        struct out_file *f = &o->v[i];
        if (strcmp(f->path, files[i].path) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "file '%s' out of order", f->path);
        if (!o->force && lstat(f->a.path, &sb) == 0)
            return edr_err_set(err, EDR_E_IO, "'%s' exists (--force replaces it)", f->a.path);
        if (geteuid() == 0 && fchown(f->a.fd, files[i].uid, files[i].gid) != 0)
            return edr_err_errno(err, EDR_E_IO, errno, "unable to set the owner of '%s'", f->a.tmp);
        if (fchmod(f->a.fd, files[i].mode) != 0)
            return edr_err_errno(err, EDR_E_IO, errno, "unable to set the mode of '%s'", f->a.tmp);
    }
    o->checked = 1;
    return EDR_OK;
}

edr_rc
edr_files_out_new(const char *dir, int force, struct edr_files_out **out, struct edr_err *err)
{
    struct edr_files_out *o;
    size_t len = strlen(dir);
    edr_rc rc;

    *out = NULL;
    while (len > 1 && dir[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof(o->dir))
        return edr_err_set(err, EDR_E_USAGE, "unusable directory '%s'", dir);
    if ((rc = edr_fs_mkdir_p(dir, 0700, EDR_E_IO, err)) != EDR_OK)
        return rc;
    if ((o = calloc(1, sizeof(*o))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    snprintf(o->dir, sizeof(o->dir), "%.*s", (int)len, dir);
    if (strcmp(o->dir, "/") == 0)
        o->dir[0] = '\0';
    o->force = force;
    o->hook.open = out_open;
    o->hook.done = out_done;
    o->hook.ud = o;
    *out = o;
    return EDR_OK;
}

edr_rc
edr_files_out_commit(struct edr_files_out *o, struct edr_err *err)
{
    edr_rc rc;

    if (!o->checked)
        return edr_err_set(err, EDR_E_INTERNAL, "files committed before the backup was checked");
    for (size_t i = o->written; i < o->n; i++) {
        if ((rc = edr_fs_atomic_commit(&o->v[i].a, err)) != EDR_OK)
            return rc;
        o->written++;
    }
    return EDR_OK;
}

const struct edr_read_files *
edr_files_out_hook(struct edr_files_out *o)
{
    return &o->hook;
}

size_t
edr_files_out_count(const struct edr_files_out *o)
{
    return o->written;
}

void
edr_files_out_free(struct edr_files_out *o)
{
    if (o == NULL)
        return;
    for (size_t i = 0; i < o->n; i++) {
        edr_stream_free(o->v[i].fd);
        edr_fs_atomic_release(&o->v[i].a);
    }
    free(o->v);
    free(o);
}

/* ---- listing them ---- */

struct capture {
    struct edr_manifest_file *files;
    size_t n;
};

static edr_rc
capture_done(void *ud, const struct edr_manifest_file *files, size_t n, struct edr_err *err)
{
    struct capture *c = ud;

    if (n == 0)
        return EDR_OK;
    if ((c->files = malloc(n * sizeof(*files))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    memcpy(c->files, files, n * sizeof(*files));
    c->n = n;
    return EDR_OK;
}

edr_rc
edr_files_list(struct edr_ctx *ctx, struct edr_source *src, struct edr_manifest_file **files,
               size_t *n)
{
    struct capture c = {NULL, 0};
    struct edr_read_files hook = {NULL, capture_done, &c};
    struct edr_read_result res;
    edr_rc rc;

    *files = NULL;
    *n = 0;
    if (src->kind == EDR_SOURCE_REPO)
        return edr_repo_read_files(src->repo, &src->m, files, n, &ctx->err);
    if (src->kind == EDR_SOURCE_DB)
        return edr_err_set(&ctx->err, EDR_E_USAGE, "'%s' is a plain snapshot: it holds no files",
                           src->what);
    src->files = &hook;
    rc = edr_source_read(ctx, src, EDR_READ_NONE, NULL, &res);
    src->files = NULL;
    if (rc != EDR_OK) {
        free(c.files);
        return rc;
    }
    *files = c.files;
    *n = c.n;
    return EDR_OK;
}
