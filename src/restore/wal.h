/*
 * The write-ahead log of a restored member (doc/etcd-internals.md §5.6,
 * doc/etcd-observed.md §2): one segment 0000000000000000-0000000000000000.wal
 * holding CrcType, Metadata{this member, cluster}, Snapshot{0,0}, one
 * ConfChange AddNode entry per member in ascending id order, HardState{term
 * 1, vote lowest id, commit N} and Snapshot{N, 1}, preallocated with zeros
 * to 64,000,000 bytes as etcd does.
 */
#ifndef EDR_RESTORE_WAL_H
#define EDR_RESTORE_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "restore/cluster.h"

#define EDR_WAL_SEGMENT_BYTES 64000000
#define EDR_WAL_FILE_NAME "0000000000000000-0000000000000000.wal"

/* walpb record types */
enum edr_wal_rec_type {
    EDR_WAL_METADATA = 1,
    EDR_WAL_ENTRY = 2,
    EDR_WAL_STATE = 3,
    EDR_WAL_CRC = 4,
    EDR_WAL_SNAPSHOT = 5,
};

/* The final Snapshot record: 3.5/3.6 carry conf_state{voters}, 3.4 does
 * not. etcd 3.4.23 accepts both (observed §7.2); the 3.5 flavour is the
 * default because 3.5+ requires it. */
enum edr_wal_flavour {
    EDR_WAL_FLAVOUR_35 = 0,
    EDR_WAL_FLAVOUR_34 = 1,
};

/*
 * Append one framed record to out: LE u64 length (ORed with (0x80|pad)<<56
 * when pad != 0), walpb.Record{type, crc, data} and zero padding to 8 bytes.
 * *crc is the running CRC-32C: updated with data and stored in the record.
 * data == NULL writes no data field (CrcType). Returns 0 or -1 on OOM.
 */
int edr_restore_wal_record(struct edr_buf *out, uint32_t *crc, enum edr_wal_rec_type type,
                           const void *data, size_t len);

/* All records of member node_id's WAL (without the zero preallocation) into
 * *out (malloc'ed). EDR_E_USAGE if node_id is not a member, EDR_E_INTERNAL
 * on OOM. */
edr_rc edr_restore_wal_build(const struct edr_restore_cluster *cl, uint64_t node_id,
                             enum edr_wal_flavour flavour, uint8_t **out, size_t *out_len,
                             struct edr_err *err);

/* Create dir/EDR_WAL_FILE_NAME (must not exist; mode 0600), preallocate it
 * to EDR_WAL_SEGMENT_BYTES (fallocate, else ftruncate), write the records
 * and fsync. dir must exist. On failure the file is removed. Errors
 * EDR_E_IO naming the file. */
edr_rc edr_restore_wal_write(const struct edr_restore_cluster *cl, uint64_t node_id,
                             enum edr_wal_flavour flavour, const char *dir, struct edr_err *err);

#endif
