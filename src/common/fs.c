/*
 * File-system helpers (fs.h). The temp names carry the pid so that leftovers
 * of a killed run can be told from a live run's, and 64 random bits so that
 * nobody can plant something at the name in advance; O_EXCL|O_NOFOLLOW make
 * the create fail rather than reuse whatever is there.
 */
#include "common/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

edr_rc
edr_fs_errno_rc(int e, edr_rc code)
{
    return (e == ENOSPC || e == EDQUOT || e == EIO || e == EROFS) ? EDR_E_IO : code;
}

void
edr_fs_dirname(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(out, n, ".");
    else if (slash == path)
        snprintf(out, n, "/");
    else
        snprintf(out, n, "%.*s", (int)(slash - path), path);
}

edr_rc
edr_fs_mkdir_p(const char *path, mode_t mode, edr_rc code, struct edr_err *err)
{
    char buf[4096];
    size_t len = strlen(path);

    if (len == 0 || len >= sizeof(buf))
        return edr_err_set(err, code, "invalid directory '%.200s'", path);
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        struct stat sb;
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        buf[i] = '\0';
        if (mkdir(buf, mode) != 0) {
            int e = errno;
            /* an existing directory, or a link to one, is fine */
            if (e != EEXIST || stat(buf, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return edr_err_errno(err, edr_fs_errno_rc(e == EEXIST ? ENOTDIR : e, code),
                                     e == EEXIST ? ENOTDIR : e, "unable to create directory '%s'",
                                     buf);
        }
        buf[i] = i == len ? '\0' : '/';
    }
    return EDR_OK;
}

edr_rc
edr_fs_fsync_dir(const char *dir, edr_rc code, struct edr_err *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e;

    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL)) {
        e = errno;
        if (fd >= 0)
            close(fd);
        return edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to fsync directory '%s'",
                             dir);
    }
    close(fd);
    return EDR_OK;
}

edr_rc
edr_fs_fsync_parent(const char *path, edr_rc code, struct edr_err *err)
{
    char dir[4096];

    edr_fs_dirname(path, dir, sizeof(dir));
    return edr_fs_fsync_dir(dir, code, err);
}

int
edr_fs_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) { /* should not happen for files or pipes: never spin */
            errno = EIO;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

edr_rc
edr_fs_create(const char *path, mode_t mode, edr_rc code, int *fd, struct edr_err *err)
{
    mode_t perm = mode & 07777;
    int e;

    *fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, perm);
    if (*fd < 0) {
        e = errno;
        return edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to create '%s'", path);
    }
    if ((mode & EDR_FS_UMASK) == 0 && fchmod(*fd, perm) != 0) {
        e = errno;
        close(*fd);
        *fd = -1;
        unlink(path);
        return edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to chmod '%s'", path);
    }
    return EDR_OK;
}

edr_rc
edr_fs_close_synced(int fd, const char *path, edr_rc code, struct edr_err *err)
{
    int e;

    if (fsync(fd) != 0) {
        e = errno;
        close(fd);
        return edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to fsync '%s'", path);
    }
    if (close(fd) != 0) {
        e = errno;
        return edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to close '%s'", path);
    }
    return EDR_OK;
}

edr_rc
edr_fs_write_new(const char *path, const void *buf, size_t len, mode_t mode, edr_rc code,
                 struct edr_err *err)
{
    edr_rc rc;
    int fd;

    if ((rc = edr_fs_create(path, mode, code, &fd, err)) != EDR_OK)
        return rc;
    if (edr_fs_write_all(fd, buf, len) != 0) {
        int e = errno;
        close(fd);
        rc = edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to write '%s'", path);
    } else {
        rc = edr_fs_close_synced(fd, path, code, err);
    }
    if (rc != EDR_OK)
        unlink(path);
    return rc;
}

edr_rc
edr_fs_temp_name(const char *path, const char *tag, char *out, size_t n, struct edr_err *err)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    unsigned char r[8];
    size_t got = 0;

    while (got < sizeof(r)) {
        ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
        if (k < 0 && errno != EINTR)
            return edr_err_errno(err, EDR_E_INTERNAL, errno, "unable to get random bytes");
        got += k > 0 ? (size_t)k : 0;
    }
    edr_fs_dirname(path, dir, sizeof(dir));
    if ((size_t)snprintf(out, n, "%s/.%s%s%ld.%02x%02x%02x%02x%02x%02x%02x%02x", dir, base, tag,
                         (long)getpid(), r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) >= n)
        return edr_err_set(err, EDR_E_USAGE, "path too long: '%.200s...'", path);
    return EDR_OK;
}

edr_rc
edr_fs_rm_tree(const char *path, struct edr_err *err)
{
    struct stat st;
    DIR *d;
    struct dirent *de;
    edr_rc rc = EDR_OK;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return EDR_OK;
        return edr_err_errno(err, EDR_E_IO, errno, "unable to stat '%s'", path);
    }
    if (!S_ISDIR(st.st_mode)) { /* a link is removed, never followed */
        if (unlink(path) < 0 && errno != ENOENT)
            return edr_err_errno(err, EDR_E_IO, errno, "unable to remove '%s'", path);
        return EDR_OK;
    }
    d = opendir(path);
    if (d == NULL)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to open directory '%s'", path);
    while ((de = readdir(d)) != NULL) {
        char *sub;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((sub = malloc(strlen(path) + strlen(de->d_name) + 2)) == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            break;
        }
        sprintf(sub, "%s/%s", path, de->d_name);
        rc = edr_fs_rm_tree(sub, err);
        free(sub);
        if (rc != EDR_OK)
            break;
    }
    closedir(d);
    if (rc == EDR_OK && rmdir(path) < 0 && errno != ENOENT)
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to remove directory '%s'", path);
    return rc;
}

size_t
edr_fs_remove_dead(const char *dir, const char *prefix)
{
    size_t removed = 0, pl = strlen(prefix);
    DIR *d;
    struct dirent *de;

    if ((d = opendir(dir)) == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        char *end, full[4400];
        long pid;
        struct edr_err ignored;
        if (strncmp(de->d_name, prefix, pl) != 0)
            continue;
        pid = strtol(de->d_name + pl, &end, 10);
        if (end == de->d_name + pl || (*end >= '0' && *end <= '9') || pid <= 0 ||
            pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* not one of ours, or its run is alive */
        snprintf(full, sizeof(full), "%s/%s", dir, de->d_name);
        if (edr_fs_rm_tree(full, &ignored) == EDR_OK)
            removed++;
    }
    closedir(d);
    return removed;
}

size_t
edr_fs_remove_stale(const char *path, const char *tag)
{
    char dir[4096], prefix[512];
    const char *slash = strrchr(path, '/');

    edr_fs_dirname(path, dir, sizeof(dir));
    if ((size_t)snprintf(prefix, sizeof(prefix), ".%s%s", slash ? slash + 1 : path, tag) >=
        sizeof(prefix))
        return 0;
    return edr_fs_remove_dead(dir, prefix);
}

edr_rc
edr_fs_atomic_open(struct edr_fs_atomic *a, const char *path, const char *tag, mode_t mode,
                   edr_rc code, struct edr_err *err)
{
    edr_rc rc;

    a->fd = -1;
    a->tmp[0] = '\0';
    a->code = code;
    if ((size_t)snprintf(a->path, sizeof(a->path), "%s", path) >= sizeof(a->path))
        return edr_err_set(err, EDR_E_USAGE, "path too long: '%.200s...'", path);
    for (int tries = 0;; tries++) {
        if ((rc = edr_fs_temp_name(path, tag, a->tmp, sizeof(a->tmp), err)) != EDR_OK) {
            a->tmp[0] = '\0';
            return rc;
        }
        a->fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (a->fd >= 0)
            break;
        if (errno != EEXIST || tries == 3) {
            int e = errno;
            rc = edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to create '%s'", a->tmp);
            a->tmp[0] = '\0';
            return rc;
        }
    }
    if (fchmod(a->fd, mode) != 0) {
        int e = errno;
        rc = edr_err_errno(err, edr_fs_errno_rc(e, code), e, "unable to chmod '%s'", a->tmp);
        edr_fs_atomic_release(a);
        return rc;
    }
    return EDR_OK;
}

edr_rc
edr_fs_atomic_write(struct edr_fs_atomic *a, const void *buf, size_t len, struct edr_err *err)
{
    if (edr_fs_write_all(a->fd, buf, len) != 0) {
        int e = errno;
        return edr_err_errno(err, edr_fs_errno_rc(e, a->code), e, "unable to write '%s'", a->tmp);
    }
    return EDR_OK;
}

edr_rc
edr_fs_atomic_commit(struct edr_fs_atomic *a, struct edr_err *err)
{
    int e;
    edr_rc rc;

    rc = edr_fs_close_synced(a->fd, a->tmp, a->code, err);
    a->fd = -1;
    if (rc != EDR_OK)
        return rc;
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        return edr_err_errno(err, edr_fs_errno_rc(e, a->code), e, "unable to rename '%s' to '%s'",
                             a->tmp, a->path);
    }
    a->tmp[0] = '\0';
    return edr_fs_fsync_parent(a->path, a->code, err);
}

void
edr_fs_atomic_release(struct edr_fs_atomic *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
    if (a->tmp[0] != '\0')
        unlink(a->tmp);
    a->tmp[0] = '\0';
}

char *
edr_fs_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);

    if (p == NULL)
        return NULL;
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}
