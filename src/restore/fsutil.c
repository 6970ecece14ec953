/*
 * Durable file-system operations for writing data dirs. Restore output must
 * survive a crash right after the command returns, so every file is fsynced
 * and so is every directory whose entries changed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* copy_file_range */
#endif
#include "restore/fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

char *
edr_restore_path_join(const char *a, const char *b)
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

edr_rc
edr_restore_mkdir(const char *path, mode_t mode, struct edr_err *err)
{
    if (mkdir(path, mode) < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to create directory '%s'", path);
    if (chmod(path, mode) < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to chmod '%s'", path);
    return EDR_OK;
}

edr_rc
edr_restore_fsync_dir(const char *path, struct edr_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to open directory '%s'", path);
    if (fsync(fd) < 0 && errno != EINVAL) {
        int e = errno;

        close(fd);
        return edr_err_errno(err, EDR_E_IO, e, "unable to fsync directory '%s'", path);
    }
    close(fd);
    return EDR_OK;
}

edr_rc
edr_restore_fsync_parent(const char *path, struct edr_err *err)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    edr_rc rc;

    if (slash == NULL)
        return edr_restore_fsync_dir(".", err);
    if (slash == path)
        return edr_restore_fsync_dir("/", err);
    dir = strndup(path, (size_t)(slash - path));
    if (dir == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    rc = edr_restore_fsync_dir(dir, err);
    free(dir);
    return rc;
}

static int
write_fd(int fd, const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static edr_rc
close_synced(int fd, const char *path, struct edr_err *err)
{
    int e;

    if (fsync(fd) < 0) {
        e = errno;
        close(fd);
        return edr_err_errno(err, EDR_E_IO, e, "unable to fsync '%s'", path);
    }
    if (close(fd) < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to close '%s'", path);
    return EDR_OK;
}

edr_rc
edr_restore_write_file(const char *path, const void *buf, size_t len, mode_t mode, int mode_umask,
                       struct edr_err *err)
{
    int fd;
    edr_rc rc;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to create '%s'", path);
    if (!mode_umask && fchmod(fd, mode) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to chmod '%s'", path);
        close(fd);
        goto fail;
    }
    if (write_fd(fd, buf, len) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to write '%s'", path);
        close(fd);
        goto fail;
    }
    rc = close_synced(fd, path, err);
    if (rc == EDR_OK)
        return EDR_OK;
fail:
    unlink(path);
    return rc;
}

edr_rc
edr_restore_copy_file(const char *src, const char *dst, mode_t mode, struct edr_err *err)
{
    int in = -1, out = -1;
    struct stat st;
    char *buf = NULL;
    edr_rc rc;

    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to open '%s'", src);
    if (fstat(in, &st) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to stat '%s'", src);
        goto out;
    }
    out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (out < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to create '%s'", dst);
        goto out;
    }
    if (fchmod(out, mode) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to chmod '%s'", dst);
        goto out;
    }
#ifdef FICLONE
    if (ioctl(out, FICLONE, in) == 0)
        goto synced;
#endif
    {
        off_t left = st.st_size;
        int use_cfr = 1;

        while (left > 0) {
            ssize_t n = -1;

            if (use_cfr) {
                n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
                if (n < 0 &&
                    (errno == ENOSYS || errno == EXDEV || errno == EINVAL || errno == EOPNOTSUPP)) {
                    use_cfr = 0;
                    continue;
                }
            } else {
                if (buf == NULL && (buf = malloc(1 << 20)) == NULL) {
                    rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                    goto out;
                }
                n = read(in, buf, left < (1 << 20) ? (size_t)left : (1 << 20));
                if (n > 0 && write_fd(out, buf, (size_t)n) < 0) {
                    rc = edr_err_errno(err, EDR_E_IO, errno, "unable to write '%s'", dst);
                    goto out;
                }
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = edr_err_errno(err, EDR_E_IO, errno, "unable to copy '%s' to '%s'", src, dst);
                goto out;
            }
            if (n == 0) {
                rc = edr_err_set(err, EDR_E_IO, "unable to copy '%s': file shrank while copying",
                                 src);
                goto out;
            }
            left -= n;
        }
    }
#ifdef FICLONE
synced:
#endif
    rc = close_synced(out, dst, err);
    out = -1;
    if (rc != EDR_OK)
        unlink(dst);
out:
    if (out >= 0) {
        close(out);
        unlink(dst);
    }
    close(in);
    free(buf);
    return rc;
}

int
edr_restore_dir_is_empty(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    int empty = 1;

    if (d == NULL)
        return errno == ENOTDIR ? 0 : -1;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}
