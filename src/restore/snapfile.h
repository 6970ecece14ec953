/*
 * The raft snapshot file of a restored member (doc/etcd-internals.md §5.7,
 * doc/etcd-observed.md §4): member/snap/0000000000000001-<N %016x>.snap, a
 * snappb.Snapshot{crc, data} whose data is a raftpb.Snapshot carrying the
 * v2 store (as JSON, in the exact structure Go's json.Marshal gives for
 * etcd's store: 3.4/3.5 read the membership from it) and the metadata
 * {ConfState{voters}, index N, term 1}. Identical for every member.
 */
#ifndef EDR_RESTORE_SNAPFILE_H
#define EDR_RESTORE_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "restore/cluster.h"

#define EDR_SNAP_NAME_LEN 39 /* 16 + 1 + 16 + ".snap" + NUL */

/* The v2 store JSON with the members (no trailing newline). */
edr_rc edr_restore_v2_json(const struct edr_restore_cluster *cl, uint8_t **out, size_t *out_len,
                           struct edr_err *err);

/* The whole .snap file content. */
edr_rc edr_restore_snap_build(const struct edr_restore_cluster *cl, uint8_t **out, size_t *out_len,
                              struct edr_err *err);

/* "0000000000000001-<N>.snap" */
void edr_restore_snap_name(const struct edr_restore_cluster *cl, char out[EDR_SNAP_NAME_LEN]);

/* Create snap_dir/<name> (must not exist), mode 0666 & ~umask as etcd
 * writes it, fsync'ed. EDR_E_IO naming the file. */
edr_rc edr_restore_snap_write(const struct edr_restore_cluster *cl, const char *snap_dir,
                              struct edr_err *err);

#endif
