/*
 * The restore writers' own file-system helpers (fsutil.h). Restore output
 * must survive a crash right after the command returns: the copy is fsynced
 * like every file common/fs.h creates.
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
    if ((rc = edr_fs_create(dst, mode, EDR_E_IO, &out, err)) != EDR_OK)
        goto out;
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
                if (n > 0 && edr_fs_write_all(out, buf, (size_t)n) < 0) {
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
    rc = edr_fs_close_synced(out, dst, EDR_E_IO, err);
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
