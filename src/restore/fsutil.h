/*
 * What the restore writers need beyond common/fs.h (durable writes, fsync
 * of directories, removal of a temp tree): path joining, a fresh directory
 * with an exact mode, an emptiness test, and a file copy that clones
 * (reflink) when the file system can. All errors are EDR_E_IO naming the
 * path, or EDR_E_INTERNAL on OOM.
 */
#ifndef EDR_RESTORE_FSUTIL_H
#define EDR_RESTORE_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"
#include "common/fs.h"

/* mkdir with exactly this mode (chmod after mkdir, so the umask does not
 * matter); an existing directory is an error. */
edr_rc edr_restore_mkdir(const char *path, mode_t mode, struct edr_err *err);
/* Copy src to the new file dst (mode exact), by reflink if possible, else
 * copy_file_range / read-write; fsync'ed. On failure dst is removed. */
edr_rc edr_restore_copy_file(const char *src, const char *dst, mode_t mode, struct edr_err *err);
/* 1 if path is a directory with no entry, 0 if it is a non-empty directory
 * or not a directory, -1 with errno set on error (ENOENT if missing). */
int edr_restore_dir_is_empty(const char *path);

#endif
