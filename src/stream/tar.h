/*
 * tar streams: a writer (libarchive, POSIX pax_restricted format, no
 * compression) and a push-style reader for ustar with pax extended headers
 * and GNU long names. A backup's payload is such an archive holding the etcd
 * snapshot and a copy of the manifest, so a decrypted backup opens with
 * `zstd -d | tar x`.
 */
#ifndef EDR_STREAM_TAR_H
#define EDR_STREAM_TAR_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/err.h"
#include "stream/stream.h"

/*
 * Writer. The stream's write() appends to the current entry, which must be
 * opened with edr_tar_writer_begin() and closed with edr_tar_writer_end()
 * after exactly `size` bytes. finish() writes the end-of-archive blocks
 * (the archive is not padded to a 10240-byte record) and finishes next.
 * Errors: EDR_E_INTERNAL for misuse ("tar: entry 'x' is longer than its
 * declared 10 bytes"), EDR_E_INTEGRITY "tar: entry 'x' ended after 5 of 10
 * bytes", or whatever next returned.
 */
edr_rc edr_tar_writer_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err);
/* Start a regular file entry; mode is the permission bits (e.g. 0600). */
edr_rc edr_tar_writer_begin(struct edr_stream *s, const char *name, uint64_t size, mode_t mode,
                            time_t mtime, struct edr_err *err);
edr_rc edr_tar_writer_end(struct edr_stream *s, struct edr_err *err);

/*
 * Reader callbacks. begin() is called for each regular file entry with its
 * full name (pax path, GNU long name or ustar prefix/name) and size, and
 * sets *sink to a stream for the entry's bytes or NULL to skip them. After
 * the last byte the reader calls edr_stream_finish(*sink), then end(). The
 * sink is owned by the callback's user, also when an error stops the read
 * (end is then not called). Other entry types (directories, links, devices)
 * are skipped without callbacks. end may be NULL.
 */
typedef edr_rc (*edr_tar_begin_fn)(void *ud, const char *name, uint64_t size,
                                   struct edr_stream **sink, struct edr_err *err);
typedef edr_rc (*edr_tar_end_fn)(void *ud, const char *name, struct edr_err *err);

/*
 * A terminal stream parsing a tar archive. Errors are EDR_E_INTEGRITY:
 * "tar: bad header checksum at offset 1024", "tar: bad size field at offset
 * N", "tar: malformed pax header at offset N", "tar: extended header too
 * large at offset N", "tar: truncated entry 'snapshot.db'", "tar: truncated
 * header at offset N", "tar: truncated archive (no end-of-archive marker)".
 * Anything after the first all-zero block is ignored.
 */
edr_rc edr_tar_reader_new(edr_tar_begin_fn begin, edr_tar_end_fn end, void *ud,
                          struct edr_stream **out, struct edr_err *err);

#endif
