/*
 * Differential check of file status vs stream capture status (scan_diff.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include "scan_diff.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "mvcc/mvcc.h"
#include "stream/stream.h"

/* inspect: edr_mvcc_status and edr_mvcc_k8s_stats (k8s not NULL), else
 * verify: edr_mvcc_status_checked */
static edr_rc
from_file(const uint8_t *img, size_t len, struct edr_mvcc_status *st, struct edr_k8s_stats **k8s,
          struct edr_err *err)
{
    struct edr_bolt *b = NULL;
    int fd = memfd_create("scan_diff", MFD_CLOEXEC);
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    if (fd < 0 || (len > 0 && write(fd, img, len) != (ssize_t)len)) {
        if (fd >= 0)
            close(fd);
        return edr_err_set(err, EDR_E_IO, "memfd");
    }
    if ((rc = edr_bolt_open_fd(fd, "snapshot.db", &b, err)) == EDR_OK) {
        if (k8s == NULL)
            rc = edr_mvcc_status_checked(b, st, err);
        else if ((rc = edr_mvcc_status(b, st, err)) == EDR_OK)
            rc = edr_mvcc_k8s_stats(b, k8s, err);
    }
    edr_bolt_close(b);
    close(fd);
    return rc;
}

static edr_rc
from_stream(const uint8_t *img, size_t len, size_t step, struct edr_mvcc_status *st,
            struct edr_k8s_stats **k8s, int *redo, struct edr_err *err)
{
    static const uint8_t trailer[32];
    struct edr_mvcc_scan *sc = NULL;
    struct edr_stream *s;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    *redo = 0;
    if ((rc = edr_mvcc_scan_new(&sc, err)) != EDR_OK)
        return rc;
    s = edr_mvcc_scan_stream(sc);
    for (size_t off = 0, n = step ? step : len; off < len && rc == EDR_OK;
         off += n, n += n / 2 + 1) {
        if (n > len - off)
            n = len - off;
        rc = edr_stream_write(s, img + off, n, err);
    }
    if (rc == EDR_OK && (rc = edr_stream_write(s, trailer, sizeof(trailer), err)) == EDR_OK &&
        (rc = edr_stream_finish(s, err)) == EDR_OK)
        rc = k8s == NULL ? edr_mvcc_scan_status(sc, st, redo, err)
                         : edr_mvcc_scan_inspect(sc, st, k8s, redo, err);
    edr_mvcc_scan_free(sc);
    return rc;
}

#define SAME(f, fmt)                                                                               \
    if (a.f != b.f && n == 0)                                                                      \
    n = snprintf(why, cap, #f ": file %" fmt ", stream %" fmt, a.f, b.f)

static int
same_counts(const struct edr_k8s_count *x, size_t nx, const struct edr_k8s_count *y, size_t ny)
{
    if (nx != ny)
        return 0;
    for (size_t i = 0; i < nx; i++)
        if (strcmp(x[i].name, y[i].name) != 0 || x[i].count != y[i].count ||
            x[i].bytes != y[i].bytes)
            return 0;
    return 1;
}

static int
same_k8s(const struct edr_k8s_stats *x, const struct edr_k8s_stats *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    return x->objects == y->objects && x->bytes == y->bytes &&
           same_counts(x->resources, x->n_resources, y->resources, y->n_resources) &&
           same_counts(x->namespaces, x->n_namespaces, y->namespaces, y->n_namespaces);
}

static int compare(const uint8_t *img, size_t len, size_t step, int inspect, int *redo, char *why,
                   size_t cap);

int
scan_diff(const uint8_t *img, size_t len, size_t step, int *redo, char *why, size_t cap)
{
    int r1, r2, rd1 = 0, rd2 = 0;

    if (len % 512 == 32)
        len -= 32; /* an etcd snapshot file: the trailer is not part of the image */
    r1 = compare(img, len, step, 0, &rd1, why, cap);
    r2 = r1 ? 0 : compare(img, len, step, 1, &rd2, why, cap);
    if (redo != NULL)
        *redo = rd1 || rd2;
    return r1 || r2;
}

static int
compare(const uint8_t *img, size_t len, size_t step, int inspect, int *redo, char *why, size_t cap)
{
    struct edr_mvcc_status a, b;
    struct edr_k8s_stats *ka = NULL, *kb = NULL;
    struct edr_err ea, eb;
    edr_rc ra, rb;
    int r = 0, n = 0, rd;

    ra = from_file(img, len, &a, inspect ? &ka : NULL, &ea);
    rb = from_stream(img, len, step, &b, inspect ? &kb : NULL, &rd, &eb);
    *redo = rd;
    if (rd) {
        r = 0;
    } else if (ra != rb) {
        snprintf(why, cap, "file: rc %d (%s); stream: rc %d (%s)", ra, ra != EDR_OK ? ea.msg : "ok",
                 rb, rb != EDR_OK ? eb.msg : "ok");
        r = 1;
    } else if (ra != EDR_OK) {
        if (strcmp(ea.msg, eb.msg) != 0) {
            snprintf(why, cap, "file: %s; stream: %s", ea.msg, eb.msg);
            r = 1;
        }
    } else {
        SAME(hash, PRIu32);
        SAME(revision, PRId64);
        SAME(total_keys, PRIu64);
        SAME(total_size, PRIu64);
        SAME(live_keys, PRIu64);
        SAME(bump_markers, PRIu64);
        SAME(compact_revision, PRId64);
        SAME(scheduled_compact_revision, PRId64);
        SAME(consistent_index, PRIu64);
        SAME(term, PRIu64);
        SAME(has_term, "d");
        SAME(leases, PRIu64);
        SAME(alarms, PRIu64);
        SAME(auth_enabled, "d");
        SAME(db_size_in_use, PRIu64);
        if (n == 0 && strcmp(a.storage_version, b.storage_version) != 0)
            n = snprintf(why, cap, "storage_version: %s vs %s", a.storage_version,
                         b.storage_version);
        if (n == 0 && strcmp(a.cluster_version, b.cluster_version) != 0)
            n = snprintf(why, cap, "cluster_version: %s vs %s", a.cluster_version,
                         b.cluster_version);
        if (n == 0 &&
            strcmp(a.members_json ? a.members_json : "", b.members_json ? b.members_json : "") != 0)
            n = snprintf(why, cap, "members differ");
        if (n == 0 && inspect && !same_k8s(ka, kb))
            n = snprintf(why, cap, "Kubernetes view differs");
        r = n != 0;
    }
    if (r && inspect) {
        char tmp[512];
        snprintf(tmp, sizeof(tmp), "inspect: %s", why);
        snprintf(why, cap, "%s", tmp);
    }
    edr_mvcc_k8s_stats_free(ka);
    edr_mvcc_k8s_stats_free(kb);
    edr_mvcc_status_release(&a);
    edr_mvcc_status_release(&b);
    return r;
}
