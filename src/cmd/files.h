/*
 * The files a restore needs that are not in etcd (backup --include): taken
 * from the local file system into the backup's tar stream, and written back
 * into a directory by export --files and restore --extract-files.
 */
#ifndef EDR_CMD_FILES_H
#define EDR_CMD_FILES_H

#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "repo/manifest.h"
#include "repo/reader.h"
#include "stream/stream.h"

/*
 * The files an --include list names, open and checked, before the snapshot
 * is taken: recs[i] is filled except its sha256, which edr_include_write
 * sets. Patterns: a path (relative ones are taken from the current
 * directory) or a glob(3) pattern; a leading '?' makes it optional (absent,
 * or matching nothing, is then not an error). Every file must be a regular
 * file (a glob skips the directories it matches) of at most max_size bytes.
 * Errors: EDR_E_USAGE for a bad pattern or path, EDR_E_NOTFOUND for a
 * missing file, EDR_E_IO for one that cannot be opened, EDR_E_USAGE for a
 * file that is not regular or too large.
 */
struct edr_include_set {
    struct edr_manifest_file *recs;
    int *fds;
    struct stat *sts;
    size_t n;
};

edr_rc edr_include_open(char *const *patterns, int npatterns, uint64_t max_size,
                        struct edr_include_set *set, struct edr_err *err);
/* Each file as the tar entry "files<path>" into tar (edr_tar_writer), read
 * once and hashed on the way; a file that changed while it was read (size,
 * mtime or ctime) fails with EDR_E_IO. */
edr_rc edr_include_write(struct edr_include_set *set, struct edr_stream *tar, time_t mtime,
                         struct edr_err *err);
/* Closes the files; accepts a zeroed set and repeated calls. */
void edr_include_close(struct edr_include_set *set);

/* Normalizes path (relative: under cwd) into out[n]: absolute, no "//", no
 * "." component, no trailing '/'. -1 for ".." components or when it does not
 * fit. */
int edr_include_normalize(const char *path, const char *cwd, char *out, size_t n);

/*
 * Writing the files of a backup into dir while it is read: each goes into a
 * hidden temp file beside its final place (dir + its path, the directories
 * created with mode 0700); once the whole backup checked out
 * (edr_read_files.done) each gets its mode (and, as root, its owner), and
 * edr_files_out_commit renames them into place. An existing file is refused unless force. Paths are
 * the manifest's, already checked to be normal and absolute: they cannot leave dir, and a symbolic
 * link inside dir is never followed.
 */
struct edr_files_out;

edr_rc edr_files_out_new(const char *dir, int force, struct edr_files_out **out,
                         struct edr_err *err);
/* The hook for the read (edr_source.files). */
const struct edr_read_files *edr_files_out_hook(struct edr_files_out *o);
/* After a read that succeeded: every file into place. */
edr_rc edr_files_out_commit(struct edr_files_out *o, struct edr_err *err);
/* How many files were put in place. */
size_t edr_files_out_count(const struct edr_files_out *o);
/* Removes the temp files that were not renamed into place. */
void edr_files_out_free(struct edr_files_out *o);

/* The files recorded for the backup src names: from the manifest beside it
 * in a repository (no key needed), else read from the data file through
 * every check. *files malloc'ed (NULL when none). */
struct edr_ctx;
struct edr_source;
edr_rc edr_files_list(struct edr_ctx *ctx, struct edr_source *src, struct edr_manifest_file **files,
                      size_t *n);

#endif
