/*
 * File-system helpers every writer uses: mkdir -p, fsync of a directory, and
 * the one way etcd-dr creates a file, so that a planted symlink or an old
 * file at a predictable name can never be truncated or written through, and
 * a file appears complete or not at all:
 *   - a new file under an unpredictable temp name next to its final path,
 *     created with O_CREAT|O_EXCL|O_NOFOLLOW, its mode set with fchmod;
 *   - fsync, then rename over the final path (a symlink there is replaced,
 *     never followed), then fsync of the directory.
 * Temp names are "<dir>/.<base><tag><pid>.<16 hex>": a later run can tell
 * the leftovers of a killed run (their pid is gone) and remove them.
 * Errors: code (EDR_E_REPO, EDR_E_IO) as the caller says, except a full or
 * failing disk (ENOSPC, EDQUOT, EIO, EROFS), always EDR_E_IO.
 */
#ifndef EDR_COMMON_FS_H
#define EDR_COMMON_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* The error kind for errno e when the caller's kind is code. */
edr_rc edr_fs_errno_rc(int e, edr_rc code);

/* mkdir -p: creates the missing directories with mode; an existing one is
 * fine, anything else in the way is an error naming it. */
edr_rc edr_fs_mkdir_p(const char *path, mode_t mode, edr_rc code, struct edr_err *err);
/* fsync a directory (after creating, renaming or removing entries in it);
 * a file system that cannot fsync directories (EINVAL) is not an error. */
edr_rc edr_fs_fsync_dir(const char *dir, edr_rc code, struct edr_err *err);
/* fsync the directory holding path. */
edr_rc edr_fs_fsync_parent(const char *path, edr_rc code, struct edr_err *err);
/* The directory of path into out[n]: "." for a bare name, "/" for "/x". */
void edr_fs_dirname(const char *path, char *out, size_t n);

/* rm -rf: a symlink is removed, never followed; a missing path is fine. */
edr_rc edr_fs_rm_tree(const char *path, struct edr_err *err);
/* Removes (rm -rf) the entries of dir named prefix<pid>, alone or followed
 * by a non-digit, whose pid no longer runs: what killed runs left. Returns
 * how many were removed. */
size_t edr_fs_remove_dead(const char *dir, const char *prefix);

/* A fresh temp name for path (see above) into out[n]. */
edr_rc edr_fs_temp_name(const char *path, const char *tag, char *out, size_t n,
                        struct edr_err *err);
/* Removes the regular files "<dir>/.<base><tag><pid>.*" whose pid no longer
 * runs (left by a killed run). Returns how many were removed. */
size_t edr_fs_remove_stale(const char *path, const char *tag);

struct edr_fs_atomic {
    int fd;          /* the temp file, open for writing; -1 when closed */
    char path[4096]; /* the final name */
    char tmp[4200];  /* the temp name, "" once renamed or removed */
    edr_rc code;
};

/* Creates the temp file for path with mode (umask does not apply). */
edr_rc edr_fs_atomic_open(struct edr_fs_atomic *a, const char *path, const char *tag, mode_t mode,
                          edr_rc code, struct edr_err *err);
edr_rc edr_fs_atomic_write(struct edr_fs_atomic *a, const void *buf, size_t len,
                           struct edr_err *err);
/* fsync, close, rename over path, fsync the directory. */
edr_rc edr_fs_atomic_commit(struct edr_fs_atomic *a, struct edr_err *err);
/* Closes and removes the temp file unless committed; accepts a zeroed struct
 * whose fd is -1, and repeated calls. */
void edr_fs_atomic_release(struct edr_fs_atomic *a);

/* write(2) until all of buf is written (EINTR retried): 0, or -1 with errno
 * (EIO when write makes no progress). */
int edr_fs_write_all(int fd, const void *buf, size_t len);

/*
 * A new file created in place, for a directory of our own (a restore's temp
 * tree, which is renamed whole) or a file that must never replace another:
 * O_CREAT|O_EXCL|O_NOFOLLOW, so anything at path, a link included, fails
 * with "File exists". Elsewhere use edr_fs_atomic_*.
 * The mode is set exactly, unless EDR_FS_UMASK is or'ed into it: then the
 * umask applies as for open(2) (etcd's own files are made that way).
 */
#define EDR_FS_UMASK 01000000

/* Creates path and returns its descriptor in *fd. */
edr_rc edr_fs_create(const char *path, mode_t mode, edr_rc code, int *fd, struct edr_err *err);
/* fsync and close fd (closed in every case); path names it in errors. */
edr_rc edr_fs_close_synced(int fd, const char *path, edr_rc code, struct edr_err *err);
/* Creates path, writes buf, fsync, close; on failure the file is removed. */
edr_rc edr_fs_write_new(const char *path, const void *buf, size_t len, mode_t mode, edr_rc code,
                        struct edr_err *err);

/* "a/b", malloc'ed; NULL when out of memory. */
char *edr_fs_path_join(const char *a, const char *b);

#endif
