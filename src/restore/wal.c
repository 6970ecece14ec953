/*
 * WAL writer for restore. etcd's encoder frames each walpb.Record with an
 * 8-byte length whose top byte flags and counts the padding, and chains a
 * CRC-32C over the data of every record. All protobufs here are gogoproto
 * proto2 with non-nullable scalars, so every scalar field is emitted even
 * when zero, in field-number order; the encoders below write them by hand.
 */
#include "restore/wal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/pb.h"
#include "common/fs.h"
#include "restore/fsutil.h"

int
edr_restore_wal_record(struct edr_buf *out, uint32_t *crc, enum edr_wal_rec_type type,
                       const void *data, size_t len)
{
    struct edr_buf rec = {0};
    static const uint8_t zeros[8];
    uint8_t lenf[8];
    uint64_t field;
    size_t pad;
    int i, rc;

    if (data != NULL)
        *crc = edr_crc32c(*crc, data, len);
    edr_pb_buf_uint(&rec, 1, (uint64_t)type);
    edr_pb_buf_uint(&rec, 2, *crc);
    if (data != NULL)
        edr_pb_buf_bytes(&rec, 3, data, len);
    if (rec.failed) {
        edr_buf_release(&rec);
        out->failed = 1;
        return -1;
    }
    pad = (8 - rec.len % 8) % 8;
    field = rec.len;
    if (pad != 0)
        field |= (uint64_t)(0x80 | pad) << 56;
    for (i = 0; i < 8; i++)
        lenf[i] = (uint8_t)(field >> (8 * i));
    edr_buf_add(out, lenf, 8);
    edr_buf_add(out, rec.data, rec.len);
    rc = edr_buf_add(out, zeros, pad);
    edr_buf_release(&rec);
    return rc;
}

/* raftpb.ConfState{voters} as field 1 repeats (not packed), then auto_leave. */
static void
conf_state(struct edr_buf *b, const struct edr_restore_cluster *cl)
{
    size_t i;

    for (i = 0; i < cl->n_members; i++)
        edr_pb_buf_uint(b, 1, cl->members[i].id);
    edr_pb_buf_uint(b, 5, 0);
}

edr_rc
edr_restore_wal_build(const struct edr_restore_cluster *cl, uint64_t node_id,
                      enum edr_wal_flavour flavour, uint8_t **out, size_t *out_len,
                      struct edr_err *err)
{
    struct edr_buf w = {0}, d = {0}, cc = {0}, cs = {0};
    uint32_t crc = 0;
    size_t i;
    edr_rc rc;

    *out = NULL;
    *out_len = 0;
    for (i = 0; i < cl->n_members; i++)
        if (cl->members[i].id == node_id)
            break;
    if (i == cl->n_members)
        return edr_err_set(err, EDR_E_USAGE, "wal: %016llx is not a member of the cluster",
                           (unsigned long long)node_id);

    edr_restore_wal_record(&w, &crc, EDR_WAL_CRC, NULL, 0);

    edr_pb_buf_uint(&d, 1, node_id);
    edr_pb_buf_uint(&d, 2, cl->cluster_id);
    edr_restore_wal_record(&w, &crc, EDR_WAL_METADATA, d.data, d.len);

    d.len = 0;
    edr_pb_buf_uint(&d, 1, 0);
    edr_pb_buf_uint(&d, 2, 0);
    edr_restore_wal_record(&w, &crc, EDR_WAL_SNAPSHOT, d.data, d.len);

    for (i = 0; i < cl->n_members; i++) {
        char *json = NULL;
        size_t jlen = 0;

        rc = edr_restore_member_json(&cl->members[i], &json, &jlen, err);
        if (rc != EDR_OK)
            goto out;
        cc.len = 0;
        edr_pb_buf_uint(&cc, 1, 0);                 /* ID */
        edr_pb_buf_uint(&cc, 2, 0);                 /* AddNode */
        edr_pb_buf_uint(&cc, 3, cl->members[i].id); /* NodeID */
        edr_pb_buf_bytes(&cc, 4, json, jlen);       /* Context */
        free(json);
        d.len = 0;
        edr_pb_buf_uint(&d, 1, 1);     /* EntryConfChange */
        edr_pb_buf_uint(&d, 2, 1);     /* Term */
        edr_pb_buf_uint(&d, 3, i + 1); /* Index */
        if (cc.failed)
            d.failed = 1;
        else
            edr_pb_buf_bytes(&d, 4, cc.data, cc.len);
        edr_restore_wal_record(&w, &crc, EDR_WAL_ENTRY, d.data, d.len);
    }

    d.len = 0;
    edr_pb_buf_uint(&d, 1, 1);
    edr_pb_buf_uint(&d, 2, cl->members[0].id);
    edr_pb_buf_uint(&d, 3, cl->n_members);
    edr_restore_wal_record(&w, &crc, EDR_WAL_STATE, d.data, d.len);

    d.len = 0;
    edr_pb_buf_uint(&d, 1, cl->n_members);
    edr_pb_buf_uint(&d, 2, 1);
    if (flavour == EDR_WAL_FLAVOUR_35) {
        conf_state(&cs, cl);
        if (cs.failed)
            d.failed = 1;
        else
            edr_pb_buf_bytes(&d, 3, cs.data, cs.len);
    }
    edr_restore_wal_record(&w, &crc, EDR_WAL_SNAPSHOT, d.data, d.len);

    if (w.failed || d.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = w.data;
    *out_len = w.len;
    w.data = NULL;
    rc = EDR_OK;
out:
    edr_buf_release(&w);
    edr_buf_release(&d);
    edr_buf_release(&cc);
    edr_buf_release(&cs);
    return rc;
}

edr_rc
edr_restore_wal_write(const struct edr_restore_cluster *cl, uint64_t node_id,
                      enum edr_wal_flavour flavour, const char *dir, struct edr_err *err)
{
    uint8_t *recs = NULL;
    size_t len = 0;
    char *path = NULL;
    int fd = -1, e, created = 0;
    edr_rc rc;

    rc = edr_restore_wal_build(cl, node_id, flavour, &recs, &len, err);
    if (rc != EDR_OK)
        return rc;
    path = edr_fs_path_join(dir, EDR_WAL_FILE_NAME);
    if (path == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_fs_create(path, 0600, EDR_E_IO, &fd, err)) != EDR_OK)
        goto out;
    created = 1;
    /* Like etcd: reserve the whole segment, falling back to a sparse size
     * where the file system cannot allocate. */
    e = posix_fallocate(fd, 0, EDR_WAL_SEGMENT_BYTES);
    if (e != 0 && e != EOPNOTSUPP && e != EINVAL && e != EINTR) {
        rc = edr_err_errno(err, EDR_E_IO, e, "unable to preallocate '%s'", path);
        goto out;
    }
    if (e != 0 && ftruncate(fd, EDR_WAL_SEGMENT_BYTES) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to extend '%s'", path);
        goto out;
    }
    if (edr_fs_write_all(fd, recs, len) < 0) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to write '%s'", path);
        goto out;
    }
    rc = edr_fs_close_synced(fd, path, EDR_E_IO, err);
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    if (rc != EDR_OK && created)
        unlink(path);
    free(path);
    free(recs);
    return rc;
}
