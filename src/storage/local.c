/*
 * Local directory backend. Writes go to a hidden temp file in the target's
 * directory (".<name>.tmp.<pid>"), are fsynced, renamed into place and the
 * directory fsynced, so a crash leaves either the old state or the complete
 * object, plus at worst a temp file that cleanup() removes. Locks are flock()
 * on a lock file: the kernel drops them when the holder dies, so a local lock
 * is never stale. A stop request (edr_storage_interrupted) ends reads, writes
 * and the wait for a lock between two blocks.
 */
#include "storage/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/log.h"
#include "common/progress.h"

#define LOCAL_TMP_TAG ".tmp."
#define LOCK_REC 256 /* bytes of holder text at the start of the lock file */

struct local {
    struct edr_storage base;
    char *root;
};

struct local_writer {
    struct edr_stream base;
    struct edr_fs_atomic file;
    const struct edr_storage *st;
};

struct edr_storage_lock {
    int fd;
    char *path;
};

static edr_rc
check_name(const char *name, struct edr_err *err)
{
    if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "invalid object name '%s'", name);
    return EDR_OK;
}

/* EDR_E_INTERRUPTED once a stop request reached st, naming what stopped. */
static edr_rc
check_interrupted(const struct edr_storage *st, const char *what, const char *name,
                  struct edr_err *err)
{
    if (!edr_storage_interrupted(st))
        return EDR_OK;
    return edr_err_set(err, EDR_E_INTERRUPTED, "%s '%s/%s': interrupted", what, st->url, name);
}

static edr_rc
writer_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct local_writer *w = (struct local_writer *)s;

    if (edr_storage_interrupted(w->st))
        return edr_err_set(err, EDR_E_INTERRUPTED, "writing '%s': interrupted", w->file.path);
    return edr_fs_atomic_write(&w->file, buf, len, err);
}

static edr_rc
writer_finish(struct edr_stream *s, struct edr_err *err)
{
    return edr_fs_atomic_commit(&((struct local_writer *)s)->file, err);
}

static void
writer_free(struct edr_stream *s)
{
    struct local_writer *w = (struct local_writer *)s;

    if (w == NULL)
        return;
    edr_fs_atomic_release(&w->file);
    free(w);
}

static const struct edr_stream_ops writer_ops = {"local-writer", writer_write, writer_finish,
                                                 writer_free};

static edr_rc
local_put_open(struct edr_storage *st, const char *name, uint64_t expected_size,
               struct edr_stream **out, struct edr_err *err)
{
    struct local *l = (struct local *)st;
    struct local_writer *w;
    char *path, dir[4096];
    edr_rc rc;

    (void)expected_size;
    *out = NULL;
    if ((rc = check_name(name, err)) != EDR_OK)
        return rc;
    w = calloc(1, sizeof(*w));
    path = edr_fs_path_join(l->root, name);
    if (w == NULL || path == NULL) {
        free(w);
        free(path);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    w->base.ops = &writer_ops;
    w->file.fd = -1;
    w->st = st;
    edr_fs_dirname(path, dir, sizeof(dir));
    /* a hidden temp name with LOCAL_TMP_TAG: local_cleanup knows it */
    if ((rc = edr_fs_mkdir_p(dir, 0700, EDR_E_REPO, err)) != EDR_OK ||
        (rc = edr_fs_atomic_open(&w->file, path, LOCAL_TMP_TAG, 0600, EDR_E_REPO, err)) != EDR_OK) {
        free(path);
        writer_free(&w->base);
        return rc;
    }
    free(path);
    *out = &w->base;
    return EDR_OK;
}

static edr_rc
local_get(struct edr_storage *st, const char *name, uint64_t offset, struct edr_stream *sink,
          struct edr_err *err)
{
    struct local *l = (struct local *)st;
    enum { BUFSZ = 1 << 20 };
    char *path = NULL, *buf = NULL;
    int fd = -1;
    edr_rc rc;

    if ((rc = check_name(name, err)) != EDR_OK)
        return rc;
    path = edr_fs_path_join(l->root, name);
    buf = malloc(BUFSZ);
    if (path == NULL || buf == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        rc = edr_err_errno(err, e == ENOENT ? EDR_E_NOTFOUND : EDR_E_REPO, e, "unable to open '%s'",
                           path);
        goto out;
    }
    if (offset > 0 && lseek(fd, (off_t)offset, SEEK_SET) < 0) {
        int e = errno;
        rc = edr_err_errno(err, EDR_E_REPO, e, "unable to seek in '%s'", path);
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, buf, BUFSZ);
        if (n < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            rc = edr_err_errno(err, EDR_E_REPO, e, "unable to read '%s'", path);
            goto out;
        }
        if (n == 0)
            break;
        if ((rc = check_interrupted(st, "reading", name, err)) != EDR_OK ||
            (rc = edr_stream_write(sink, buf, (size_t)n, err)) != EDR_OK)
            goto out;
    }
    rc = EDR_OK;
out:
    if (fd >= 0)
        close(fd);
    free(path);
    free(buf);
    return rc;
}

static int
is_temp_name(const char *base)
{
    return base[0] == '.';
}

static edr_rc
walk(const char *root, const char *rel, const char *prefix, edr_storage_list_cb cb, void *ud,
     int *stop, struct edr_err *err)
{
    char *dir = rel[0] ? edr_fs_path_join(root, rel) : strdup(root);
    DIR *d;
    struct dirent *de;
    edr_rc rc = EDR_OK;

    if (dir == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    d = opendir(dir);
    if (d == NULL) {
        int e = errno;
        if (e == ENOENT && rel[0] != '\0') {
            free(dir);
            return EDR_OK;
        }
        rc = edr_err_errno(err, EDR_E_REPO, e, "unable to list '%s'", dir);
        free(dir);
        return rc;
    }
    while (!*stop && (de = readdir(d)) != NULL) {
        char *name, *full;
        struct stat sb;
        if (is_temp_name(de->d_name))
            continue;
        name = rel[0] ? edr_fs_path_join(rel, de->d_name) : strdup(de->d_name);
        full = name ? edr_fs_path_join(root, name) : NULL;
        if (full == NULL || lstat(full, &sb) != 0) {
            free(name);
            free(full);
            continue;
        }
        /* a cluster directory may be a link to another volume (a mount):
         * followed there, and only there, as every other access follows it */
        if (S_ISLNK(sb.st_mode) && rel[0] == '\0' && stat(full, &sb) != 0)
            sb.st_mode = S_IFLNK;
        if (S_ISDIR(sb.st_mode)) {
            size_t pl = strlen(prefix), nl = strlen(name);
            /* descend only where the prefix can still match */
            if (strncmp(name, prefix, nl < pl ? nl : pl) == 0)
                rc = walk(root, name, prefix, cb, ud, stop, err);
        } else if (S_ISREG(sb.st_mode) && strncmp(name, prefix, strlen(prefix)) == 0) {
            struct edr_storage_entry e = {name, (uint64_t)sb.st_size, sb.st_mtime};
            if (cb(&e, ud))
                *stop = 1;
        }
        free(name);
        free(full);
        if (rc != EDR_OK)
            break;
    }
    closedir(d);
    free(dir);
    return rc;
}

static edr_rc
local_list(struct edr_storage *st, const char *prefix, edr_storage_list_cb cb, void *ud,
           struct edr_err *err)
{
    struct local *l = (struct local *)st;
    int stop = 0;

    return walk(l->root, "", prefix ? prefix : "", cb, ud, &stop, err);
}

static edr_rc
local_del(struct edr_storage *st, const char *name, struct edr_err *err)
{
    struct local *l = (struct local *)st;
    char *path;
    edr_rc rc = EDR_OK;

    if ((rc = check_name(name, err)) != EDR_OK)
        return rc;
    path = edr_fs_path_join(l->root, name);
    if (path == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (unlink(path) != 0 && errno != ENOENT) {
        int e = errno;
        rc = edr_err_errno(err, EDR_E_REPO, e, "unable to delete '%s'", path);
    } else {
        struct edr_err ignored;
        edr_fs_fsync_parent(path, EDR_E_REPO, &ignored);
    }
    free(path);
    return rc;
}

static edr_rc
local_stat(struct edr_storage *st, const char *name, struct edr_storage_stat *out,
           struct edr_err *err)
{
    struct local *l = (struct local *)st;
    struct stat sb;
    char *path;
    edr_rc rc = EDR_OK;

    memset(out, 0, sizeof(*out));
    if ((rc = check_name(name, err)) != EDR_OK)
        return rc;
    path = edr_fs_path_join(l->root, name);
    if (path == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (stat(path, &sb) == 0) {
        out->exists = 1;
        out->size = (uint64_t)sb.st_size;
        out->mtime = sb.st_mtime;
    } else if (errno != ENOENT) {
        int e = errno;
        rc = edr_err_errno(err, EDR_E_REPO, e, "unable to stat '%s'", path);
    }
    free(path);
    return rc;
}

static edr_rc
local_lock(struct edr_storage *st, const char *name, const char *owner, int wait_s, int ttl_s,
           struct edr_storage_lock **out, struct edr_err *err)
{
    struct local *l = (struct local *)st;
    struct edr_storage_lock *lk;
    double deadline = edr_now() + (wait_s > 0 ? wait_s : 0);
    edr_rc rc;
    char *slash;

    (void)ttl_s; /* flock dies with its holder: never stale */
    *out = NULL;
    lk = calloc(1, sizeof(*lk));
    if (lk == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    lk->path = edr_fs_path_join(l->root, name);
    if (lk->path == NULL) {
        free(lk);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    slash = strrchr(lk->path, '/');
    *slash = '\0';
    rc = edr_fs_mkdir_p(lk->path, 0700, EDR_E_REPO, err);
    *slash = '/';
    if (rc != EDR_OK)
        goto fail;
    /* never through a link, never anything but a regular file of ours */
    lk->fd = open(lk->path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (lk->fd < 0) {
        int e = errno;
        rc = edr_err_errno(err, edr_fs_errno_rc(e == ELOOP ? EPERM : e, EDR_E_REPO), e,
                           "unable to open lock file '%s'%s", lk->path,
                           e == ELOOP ? " (it is a symbolic link)" : "");
        goto fail;
    }
    {
        struct stat sb;
        if (fstat(lk->fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid()) {
            rc = edr_err_set(err, EDR_E_REPO,
                             "lock file '%s' is not a regular file owned by this user", lk->path);
            goto fail_fd;
        }
    }
    while (flock(lk->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) {
            int e = errno;
            rc = edr_err_errno(err, EDR_E_LOCK, e, "unable to lock '%s'", lk->path);
            goto fail_fd;
        }
        if (edr_now() >= deadline) {
            char holder[256] = "";
            ssize_t n = pread(lk->fd, holder, sizeof(holder) - 1, 0);
            holder[n > 0 ? n : 0] = '\0';
            holder[strcspn(holder, "\n")] = '\0';
            for (size_t k = strlen(holder); k > 0 && holder[k - 1] == ' '; k--)
                holder[k - 1] = '\0';
            rc = edr_err_set(err, EDR_E_LOCK, "repository '%s' is locked by another run (%s)",
                             st->url, holder[0] ? holder : "unknown holder");
            edr_err_hint(err, "wait for it to finish, or raise --lock-wait");
            goto fail_fd;
        }
        if ((rc = check_interrupted(st, "waiting for the lock", name, err)) != EDR_OK)
            goto fail_fd;
        usleep(200 * 1000);
    }
    if (owner != NULL) {
        /* the holder, padded to a fixed size: the lock file is never truncated */
        char rec[LOCK_REC];
        memset(rec, ' ', sizeof(rec));
        memcpy(rec, owner, strnlen(owner, sizeof(rec) - 1));
        rec[sizeof(rec) - 1] = '\n';
        ssize_t n = pwrite(lk->fd, rec, sizeof(rec), 0);
        (void)n;
    }
    *out = lk;
    return EDR_OK;
fail_fd:
    close(lk->fd);
fail:
    free(lk->path);
    free(lk);
    return rc;
}

static void
local_unlock(struct edr_storage *st, struct edr_storage_lock *lk)
{
    (void)st;
    if (lk == NULL)
        return;
    /* leave the file: removing it would race with a waiter that opened it */
    if (ftruncate(lk->fd, 0) != 0)
        edr_debug("unable to truncate lock file '%s'", lk->path);
    flock(lk->fd, LOCK_UN);
    close(lk->fd);
    free(lk->path);
    free(lk);
}

/* Remove ".<name>.tmp.<pid>" files left by killed runs in the prefix's directory. */
static edr_rc
local_cleanup(struct edr_storage *st, const char *prefix, int age_s, struct edr_err *err)
{
    struct local *l = (struct local *)st;
    char *dir;
    const char *slash = strrchr(prefix, '/');
    DIR *d;
    struct dirent *de;
    time_t now = time(NULL);

    if (slash != NULL) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "%.*s", (int)(slash - prefix), prefix);
        dir = edr_fs_path_join(l->root, rel);
    } else {
        dir = strdup(l->root);
    }
    if (dir == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    d = opendir(dir);
    while (d != NULL && (de = readdir(d)) != NULL) {
        struct stat sb;
        char *full;
        if (de->d_name[0] != '.' || strstr(de->d_name, LOCAL_TMP_TAG) == NULL)
            continue;
        full = edr_fs_path_join(dir, de->d_name);
        if (full != NULL && lstat(full, &sb) == 0 && S_ISREG(sb.st_mode) &&
            now - sb.st_mtime >= age_s) {
            if (unlink(full) == 0)
                edr_info("removed leftover temp file '%s'", full);
        }
        free(full);
    }
    if (d != NULL)
        closedir(d);
    free(dir);
    return EDR_OK;
}

static void
local_free(struct edr_storage *st)
{
    struct local *l = (struct local *)st;

    if (l == NULL)
        return;
    free(l->root);
    free(l->base.url);
    free(l);
}

static const struct edr_storage_ops local_ops = {
    "local",    local_put_open, local_get,    local_list,    local_del,
    local_stat, local_lock,     local_unlock, local_cleanup, local_free,
};

edr_rc
edr_storage_local_open(const char *path, int create, struct edr_storage **out, struct edr_err *err)
{
    struct local *l;
    struct stat sb;
    size_t len = strlen(path);
    edr_rc rc;

    *out = NULL;
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (create && (rc = edr_fs_mkdir_p(path, 0700, EDR_E_REPO, err)) != EDR_OK)
        return rc;
    if (stat(path, &sb) != 0) {
        int e = errno;
        return edr_err_errno(err, e == ENOENT ? EDR_E_REPO : EDR_E_REPO, e,
                             "unable to open repository '%s'", path);
    }
    if (!S_ISDIR(sb.st_mode))
        return edr_err_set(err, EDR_E_REPO, "repository '%s' is not a directory", path);
    l = calloc(1, sizeof(*l));
    if (l == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    l->base.ops = &local_ops;
    l->root = strndup(path, len);
    l->base.url = strndup(path, len);
    if (l->root == NULL || l->base.url == NULL) {
        local_free(&l->base);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    *out = &l->base;
    return EDR_OK;
}
