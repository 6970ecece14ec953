/*
 * .snap writer. The v2 JSON reproduces what etcd's restore gets from
 * json.Marshal of a fresh v2 store after adding the members: Go struct
 * field order, map keys sorted as strings (so member directories sort by
 * their hex name, while their indices follow ascending numeric id), the
 * event history ring of 1000 slots with unused slots as null. A shorter
 * Events array makes etcd panic at its first v2 write (observed §7.1).
 */
#include "restore/snapfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hash.h"
#include "common/pb.h"
#include "common/fs.h"
#include "restore/fsutil.h"
#include "restore/json.h"

#define V2_EVENT_CAPACITY 1000
#define V2_EXPIRE "\"ExpireTime\":\"0001-01-01T00:00:00Z\""

struct hex_member {
    char hex[17];
    size_t index; /* 0-based position in ascending id order */
};

static int
cmp_hex(const void *a, const void *b)
{
    return strcmp(((const struct hex_member *)a)->hex, ((const struct hex_member *)b)->hex);
}

/* Opening of a v2 node up to and including `"Children":` */
static void
node_open(struct edr_buf *b, const char *path, size_t index)
{
    edr_buf_str(b, "{\"Path\":");
    edr_restore_json_str(b, path, strlen(path));
    edr_buf_printf(
        b, ",\"CreatedIndex\":%zu,\"ModifiedIndex\":%zu," V2_EXPIRE ",\"Value\":\"\",\"Children\":",
        index, index);
}

edr_rc
edr_restore_v2_json(const struct edr_restore_cluster *cl, uint8_t **out, size_t *out_len,
                    struct edr_err *err)
{
    static const char *const stats[] = {"getsSuccess",
                                        "getsFail",
                                        "setsSuccess",
                                        "setsFail",
                                        "deleteSuccess",
                                        "deleteFail",
                                        "updateSuccess",
                                        "updateFail",
                                        "createSuccess",
                                        "createFail",
                                        "compareAndSwapSuccess",
                                        "compareAndSwapFail",
                                        "compareAndDeleteSuccess",
                                        "compareAndDeleteFail",
                                        "expireCount",
                                        "watchers"};
    struct edr_buf b = {0};
    struct hex_member *hm = NULL;
    char **attrs = NULL;
    size_t n = cl->n_members, i;
    char path[64];
    edr_rc rc;

    *out = NULL;
    *out_len = 0;
    hm = calloc(n, sizeof(*hm));
    attrs = calloc(n, sizeof(*attrs));
    if (hm == NULL || attrs == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (i = 0; i < n; i++) {
        edr_restore_id_hex(cl->members[i].id, hm[i].hex);
        hm[i].index = i;
        rc = edr_restore_raft_attrs_json(&cl->members[i], &attrs[i], NULL, err);
        if (rc != EDR_OK)
            goto out;
    }
    qsort(hm, n, sizeof(*hm), cmp_hex);

    edr_buf_str(&b, "{\"Root\":");
    node_open(&b, "/", 0);
    edr_buf_str(&b, "{\"0\":");
    node_open(&b, "/0", 0);
    edr_buf_str(&b, "{\"members\":");
    node_open(&b, "/0/members", 1);
    edr_buf_byte(&b, '{');
    for (i = 0; i < n; i++) {
        size_t k = hm[i].index + 1;

        if (i > 0)
            edr_buf_byte(&b, ',');
        edr_restore_json_str(&b, hm[i].hex, strlen(hm[i].hex));
        edr_buf_byte(&b, ':');
        snprintf(path, sizeof(path), "/0/members/%s", hm[i].hex);
        node_open(&b, path, k);
        edr_buf_str(&b, "{\"raftAttributes\":");
        snprintf(path, sizeof(path), "/0/members/%s/raftAttributes", hm[i].hex);
        /* a leaf: Value holds the JSON, Children is null */
        edr_buf_str(&b, "{\"Path\":");
        edr_restore_json_str(&b, path, strlen(path));
        edr_buf_printf(
            &b, ",\"CreatedIndex\":%zu,\"ModifiedIndex\":%zu," V2_EXPIRE ",\"Value\":", k, k);
        edr_restore_json_str(&b, attrs[hm[i].index], strlen(attrs[hm[i].index]));
        edr_buf_str(&b, ",\"Children\":null}}}");
    }
    edr_buf_str(&b, "}}}},\"1\":");
    node_open(&b, "/1", 0);
    edr_buf_str(&b, "{}}}}");

    edr_buf_str(&b, ",\"WatcherHub\":{\"EventHistory\":{\"Queue\":{\"Events\":[");
    for (i = 0; i < V2_EVENT_CAPACITY; i++) {
        char hex[17];

        if (i > 0)
            edr_buf_byte(&b, ',');
        if (i >= n) {
            edr_buf_str(&b, "null");
            continue;
        }
        edr_restore_id_hex(cl->members[i].id, hex);
        snprintf(path, sizeof(path), "/0/members/%s/raftAttributes", hex);
        edr_buf_str(&b, "{\"action\":\"create\",\"node\":{\"key\":");
        edr_restore_json_str(&b, path, strlen(path));
        edr_buf_str(&b, ",\"value\":");
        edr_restore_json_str(&b, attrs[i], strlen(attrs[i]));
        edr_buf_printf(&b, ",\"modifiedIndex\":%zu,\"createdIndex\":%zu}}", i + 1, i + 1);
    }
    edr_buf_printf(&b,
                   "],\"Size\":%zu,\"Front\":0,\"Back\":%zu,\"Capacity\":%d},"
                   "\"StartIndex\":1,\"LastIndex\":%zu}},\"CurrentIndex\":%zu,"
                   "\"Stats\":{",
                   n, n % V2_EVENT_CAPACITY, V2_EVENT_CAPACITY, n, n);
    for (i = 0; i < sizeof(stats) / sizeof(stats[0]); i++)
        edr_buf_printf(&b, "%s\"%s\":%zu", i ? "," : "", stats[i],
                       strcmp(stats[i], "createSuccess") == 0 ? n : 0);
    edr_buf_str(&b, "},\"CurrentVersion\":2}");
    if (b.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = b.data;
    *out_len = b.len;
    b.data = NULL;
    rc = EDR_OK;
out:
    if (attrs != NULL)
        for (i = 0; i < n; i++)
            free(attrs[i]);
    free(attrs);
    free(hm);
    edr_buf_release(&b);
    return rc;
}

edr_rc
edr_restore_snap_build(const struct edr_restore_cluster *cl, uint8_t **out, size_t *out_len,
                       struct edr_err *err)
{
    struct edr_buf cs = {0}, md = {0}, snap = {0}, file = {0};
    uint8_t *json = NULL;
    size_t jlen = 0, i;
    edr_rc rc;

    *out = NULL;
    *out_len = 0;
    rc = edr_restore_v2_json(cl, &json, &jlen, err);
    if (rc != EDR_OK)
        return rc;
    /* raftpb.ConfState: voters unpacked, then auto_leave (always emitted) */
    for (i = 0; i < cl->n_members; i++)
        edr_pb_buf_uint(&cs, 1, cl->members[i].id);
    edr_pb_buf_uint(&cs, 5, 0);
    /* raftpb.SnapshotMetadata{conf_state, index N, term 1} */
    edr_pb_buf_bytes(&md, 1, cs.data, cs.len);
    edr_pb_buf_uint(&md, 2, cl->n_members);
    edr_pb_buf_uint(&md, 3, 1);
    /* raftpb.Snapshot{data, metadata} */
    edr_pb_buf_bytes(&snap, 1, json, jlen);
    edr_pb_buf_bytes(&snap, 2, md.data, md.len);
    /* snappb.Snapshot{crc, data} */
    if (!cs.failed && !md.failed && !snap.failed) {
        edr_pb_buf_uint(&file, 1, edr_crc32c(0, snap.data, snap.len));
        edr_pb_buf_bytes(&file, 2, snap.data, snap.len);
    }
    if (cs.failed || md.failed || snap.failed || file.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = file.data;
    *out_len = file.len;
    file.data = NULL;
    rc = EDR_OK;
out:
    free(json);
    edr_buf_release(&cs);
    edr_buf_release(&md);
    edr_buf_release(&snap);
    edr_buf_release(&file);
    return rc;
}

void
edr_restore_snap_name(const struct edr_restore_cluster *cl, char out[EDR_SNAP_NAME_LEN])
{
    snprintf(out, EDR_SNAP_NAME_LEN, "%016llx-%016llx.snap", 1ULL,
             (unsigned long long)cl->n_members);
}

edr_rc
edr_restore_snap_write(const struct edr_restore_cluster *cl, const char *snap_dir,
                       struct edr_err *err)
{
    char name[EDR_SNAP_NAME_LEN];
    uint8_t *data = NULL;
    size_t len = 0;
    char *path = NULL;
    edr_rc rc;

    rc = edr_restore_snap_build(cl, &data, &len, err);
    if (rc != EDR_OK)
        return rc;
    edr_restore_snap_name(cl, name);
    path = edr_fs_path_join(snap_dir, name);
    if (path == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    rc = edr_fs_write_new(path, data, len, 0666 | EDR_FS_UMASK, EDR_E_IO, err);
out:
    free(path);
    free(data);
    return rc;
}
