/*
 * node_exporter textfile writer. The previous file is parsed (only our own
 * metric families, in the exposition format we write) so that a failed run
 * keeps the last success time and sizes, and other clusters' samples survive.
 * Numbers are printed in their shortest round-trip form, so carrying a value
 * over never changes it.
 */
#include "sched/metrics.h"

#include "common/buf.h"
#include "common/fs.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define METRICS_FILE_MAX (4 << 20)

static const struct {
    const char *name;
    const char *type;
    const char *help;
} families[EDR_M_COUNT] = {
    {"etcd_dr_backup_last_success_timestamp_seconds", "gauge",
     "Unix time of the last successful backup."},
    {"etcd_dr_backup_last_attempt_timestamp_seconds", "gauge",
     "Unix time of the last backup run, ok or not."},
    {"etcd_dr_backup_last_failed", "gauge", "Result of the last backup run: 0 ok, 1 failed."},
    {"etcd_dr_backup_last_exit_code", "gauge", "Exit status of the last backup run, 0 on success."},
    {"etcd_dr_backup_last_duration_seconds", "gauge", "Duration of the last backup run."},
    {"etcd_dr_backup_db_size_bytes", "gauge",
     "Size of the etcd database in the last successful backup."},
    {"etcd_dr_backup_stored_size_bytes", "gauge",
     "Bytes stored in the repository by the last successful backup."},
    {"etcd_dr_backup_revision", "gauge", "etcd revision of the last successful backup."},
    {"etcd_dr_backups", "gauge", "Number of backups of the cluster in the repository."},
    {"etcd_dr_verify_last_timestamp_seconds", "gauge", "Unix time of the last verification."},
    {"etcd_dr_verify_last_success", "gauge",
     "Result of the last verification: 1 passed, 0 failed."},
    {"etcd_dr_capture_last_revision", "gauge", "Last etcd revision published by capture."},
    {"etcd_dr_capture_last_publish_timestamp_seconds", "gauge",
     "Unix time of capture's last published segment: the age of the newest durable change."},
    {"etcd_dr_capture_events_total", "counter", "Events published by the running capture."},
    {"etcd_dr_capture_lag_revisions", "gauge",
     "Revisions etcd had written that capture had not published yet, at its last publish."},
    {"etcd_dr_backup_lock_acquired_timestamp_seconds", "gauge",
     "Unix time the running backup took the repository lock, 0 when it released it."},
};

const char *
edr_metric_name(enum edr_metric m)
{
    return (unsigned)m < EDR_M_COUNT ? families[m].name : "";
}

void
edr_metrics_set(struct edr_metrics *m, enum edr_metric which, double value)
{
    if ((unsigned)which >= EDR_M_COUNT)
        return;
    m->value[which] = value;
    m->has |= 1u << which;
}

/* Shortest text that reads back as the same double. */
static void
format_value(double v, char *out, size_t size)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 9.2e18) {
        snprintf(out, size, "%.0f", v); /* integers (times, sizes) in full */
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
    snprintf(out, size, "%.17g", v);
}

/* ---- parsing ---- */

struct clusters {
    struct edr_metrics *list;
    size_t n;
};

static struct edr_metrics *
cluster_get(struct clusters *cs, const char *name)
{
    struct edr_metrics *p;

    for (size_t i = 0; i < cs->n; i++)
        if (strcmp(cs->list[i].cluster, name) == 0)
            return &cs->list[i];
    if ((p = realloc(cs->list, (cs->n + 1) * sizeof(*p))) == NULL)
        return NULL;
    cs->list = p;
    p = &cs->list[cs->n++];
    memset(p, 0, sizeof(*p));
    snprintf(p->cluster, sizeof(p->cluster), "%s", name);
    return p;
}

static int
is_name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

/*
 * Parse one sample line of our families. Returns 0 and fills *fam, cluster
 * (empty if the label is absent) and *value; 1 if the line is not ours; -1
 * with *why on a malformed line.
 */
static int
parse_sample(const char *line, int *fam, char *cluster, size_t csize, double *value,
             const char **why)
{
    const char *p = line;
    size_t nlen = 0;
    char *end;

    while (is_name_char(p[nlen], nlen == 0))
        nlen++;
    if (nlen == 0) {
        *why = "invalid metric name";
        return -1;
    }
    *fam = -1;
    for (int f = 0; f < EDR_M_COUNT; f++)
        if (strlen(families[f].name) == nlen && strncmp(families[f].name, p, nlen) == 0)
            *fam = f;
    if (*fam < 0)
        return 1;
    p += nlen;
    cluster[0] = '\0';
    if (*p == '{') {
        p++;
        while (*p != '}') {
            size_t llen = 0, vlen = 0;
            int is_cluster;
            while (is_name_char(p[llen], llen == 0))
                llen++;
            if (llen == 0 || p[llen] != '=' || p[llen + 1] != '"') {
                *why = "invalid label";
                return -1;
            }
            is_cluster = llen == 7 && strncmp(p, "cluster", 7) == 0;
            p += llen + 2;
            while (*p != '"') {
                char c = *p++;
                if (c == '\0') {
                    *why = "unterminated label value";
                    return -1;
                }
                if (c == '\\') {
                    c = *p++;
                    if (c == 'n')
                        c = '\n';
                    else if (c != '\\' && c != '"') {
                        *why = "invalid escape in label value";
                        return -1;
                    }
                }
                if (is_cluster) {
                    if (vlen + 1 >= csize) {
                        *why = "cluster label too long";
                        return -1;
                    }
                    cluster[vlen++] = c;
                    cluster[vlen] = '\0';
                }
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}') {
                *why = "expected ',' or '}' after a label";
                return -1;
            }
        }
        p++;
    }
    if (*p != ' ' && *p != '\t') {
        *why = "expected a value";
        return -1;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    errno = 0;
    *value = strtod(p, &end);
    if (end == p || errno == ERANGE) {
        *why = "invalid value";
        return -1;
    }
    p = end;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != '\0') { /* an optional timestamp */
        strtoll(p, &end, 10);
        if (end == p || *end != '\0') {
            *why = "trailing garbage";
            return -1;
        }
    }
    return 0;
}

/* Parse the whole file into *cs; a missing file gives no clusters. */
static edr_rc
parse_file(const char *path, struct clusters *cs, struct edr_err *err)
{
    struct edr_buf b = {0};
    char chunk[4096];
    FILE *f;
    size_t n, lineno = 0;
    char *line, *next;
    edr_rc rc = EDR_OK;

    if ((f = fopen(path, "r")) == NULL) {
        if (errno == ENOENT)
            return EDR_OK;
        return edr_err_errno(err, EDR_E_IO, errno, "unable to open metrics file '%s'", path);
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (b.len + n > METRICS_FILE_MAX) {
            rc = edr_err_set(err, EDR_E_IO, "metrics file '%s': larger than %d bytes", path,
                             METRICS_FILE_MAX);
            goto out;
        }
        edr_buf_add(&b, chunk, n);
    }
    if (ferror(f)) {
        rc = edr_err_errno(err, EDR_E_IO, errno, "unable to read metrics file '%s'", path);
        goto out;
    }
    if (b.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (line = (char *)b.data; line != NULL && *line != '\0'; line = next) {
        char cluster[EDR_METRICS_CLUSTER_MAX];
        const char *why = NULL;
        struct edr_metrics *m;
        double value;
        int fam, r;

        lineno++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (memchr(line, '\0', (size_t)(next != NULL ? next - line - 1 : 0)) != NULL) {
            why = "NUL byte";
            r = -1;
        } else {
            r = parse_sample(line, &fam, cluster, sizeof(cluster), &value, &why);
        }
        if (r < 0) {
            rc = edr_err_set(err, EDR_E_IO, "metrics file '%s': line %zu: %s", path, lineno, why);
            goto out;
        }
        if (r > 0 || cluster[0] == '\0')
            continue;
        if ((m = cluster_get(cs, cluster)) == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
        edr_metrics_set(m, (enum edr_metric)fam, value);
    }
out:
    fclose(f);
    edr_buf_release(&b);
    return rc;
}

edr_rc
edr_metrics_read(const char *path, const char *cluster, struct edr_metrics *out,
                 struct edr_err *err)
{
    struct clusters cs = {NULL, 0};
    edr_rc rc;

    memset(out, 0, sizeof(*out));
    if (strlen(cluster) >= sizeof(out->cluster))
        return edr_err_set(err, EDR_E_USAGE, "cluster name too long for metrics (%zu bytes)",
                           strlen(cluster));
    snprintf(out->cluster, sizeof(out->cluster), "%s", cluster);
    if ((rc = parse_file(path, &cs, err)) != EDR_OK)
        goto out;
    for (size_t i = 0; i < cs.n; i++)
        if (strcmp(cs.list[i].cluster, cluster) == 0)
            *out = cs.list[i];
out:
    free(cs.list);
    return rc;
}

static void
add_label_value(struct edr_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            edr_buf_str(b, "\\\\");
        else if (*s == '"')
            edr_buf_str(b, "\\\"");
        else if (*s == '\n')
            edr_buf_str(b, "\\n");
        else
            edr_buf_add(b, s, 1);
    }
}

static void
render(struct edr_buf *b, const struct clusters *cs)
{
    char num[64];

    for (int f = 0; f < EDR_M_COUNT; f++) {
        int any = 0;
        for (size_t i = 0; i < cs->n; i++)
            any |= (cs->list[i].has >> f) & 1;
        if (!any)
            continue;
        edr_buf_str(b, "# HELP ");
        edr_buf_str(b, families[f].name);
        edr_buf_str(b, " ");
        edr_buf_str(b, families[f].help);
        edr_buf_str(b, "\n# TYPE ");
        edr_buf_str(b, families[f].name);
        edr_buf_str(b, " ");
        edr_buf_str(b, families[f].type);
        edr_buf_str(b, "\n");
        for (size_t i = 0; i < cs->n; i++) {
            if (!((cs->list[i].has >> f) & 1))
                continue;
            edr_buf_str(b, families[f].name);
            edr_buf_str(b, "{cluster=\"");
            add_label_value(b, cs->list[i].cluster);
            edr_buf_str(b, "\"} ");
            format_value(cs->list[i].value[f], num, sizeof(num));
            edr_buf_str(b, num);
            edr_buf_str(b, "\n");
        }
    }
}

static edr_rc
write_atomic(const char *path, const char *data, size_t len, struct edr_err *err)
{
    struct edr_fs_atomic f;
    edr_rc rc;

    edr_fs_remove_stale(path, ".tmp."); /* left by a killed run */
    /* metrics hold no secret: readable by the node exporter */
    if ((rc = edr_fs_atomic_open(&f, path, ".tmp.", 0644, EDR_E_IO, err)) == EDR_OK &&
        (rc = edr_fs_atomic_write(&f, data, len, err)) == EDR_OK)
        rc = edr_fs_atomic_commit(&f, err);
    edr_fs_atomic_release(&f);
    return rc;
}

edr_rc
edr_metrics_write(const char *path, const struct edr_metrics *m, struct edr_err *err)
{
    struct clusters cs = {NULL, 0};
    struct edr_metrics *mine;
    struct edr_buf b = {0};
    edr_rc rc;

    if (memchr(m->cluster, '\0', sizeof(m->cluster)) == NULL)
        return edr_err_set(err, EDR_E_USAGE, "metrics: cluster name not terminated");
    if ((rc = parse_file(path, &cs, err)) != EDR_OK) {
        if (rc == EDR_E_INTERNAL)
            goto out;
        /* a damaged file must not stop metrics for good: start afresh */
        edr_warn("%s; values of earlier runs are lost", err != NULL ? err->msg : path);
        free(cs.list);
        cs.list = NULL;
        cs.n = 0;
        edr_err_clear(err);
    }
    if ((mine = cluster_get(&cs, m->cluster)) == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (int f = 0; f < EDR_M_COUNT; f++)
        if ((m->has >> f) & 1)
            edr_metrics_set(mine, (enum edr_metric)f, m->value[f]);
    render(&b, &cs);
    if (b.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    rc = write_atomic(path, b.data != NULL ? (char *)b.data : "", b.len, err);
out:
    edr_buf_release(&b);
    free(cs.list);
    return rc;
}
