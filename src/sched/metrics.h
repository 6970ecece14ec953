/*
 * Prometheus metrics for node_exporter's textfile collector: after each run
 * etcd-dr rewrites one .prom file atomically, keeping the values a failed run
 * does not know (last success, sizes) from the previous file.
 */
#ifndef EDR_SCHED_METRICS_H
#define EDR_SCHED_METRICS_H

#include <stdint.h>

#include "common/err.h"

/* Metric families, in the order they are written. */
enum edr_metric {
    EDR_M_LAST_SUCCESS,     /* etcd_dr_backup_last_success_timestamp_seconds (Unix time) */
    EDR_M_LAST_ATTEMPT,     /* etcd_dr_backup_last_attempt_timestamp_seconds */
    EDR_M_LAST_RESULT,      /* etcd_dr_backup_last_failed: 0 ok, 1 failed */
    EDR_M_LAST_EXIT_CODE,   /* etcd_dr_backup_last_exit_code: the edr_rc of the last run */
    EDR_M_LAST_DURATION,    /* etcd_dr_backup_last_duration_seconds */
    EDR_M_DB_SIZE,          /* etcd_dr_backup_db_size_bytes of the last successful backup */
    EDR_M_STORED_SIZE,      /* etcd_dr_backup_stored_size_bytes (compressed, encrypted) */
    EDR_M_REVISION,         /* etcd_dr_backup_revision of the last successful backup */
    EDR_M_BACKUPS,          /* etcd_dr_backups: count in the repository */
    EDR_M_LAST_VERIFY,      /* etcd_dr_verify_last_timestamp_seconds */
    EDR_M_LAST_VERIFY_OK,   /* etcd_dr_verify_last_success: 1 passed, 0 failed */
    EDR_M_CAPTURE_REVISION, /* etcd_dr_capture_last_revision */
    EDR_M_CAPTURE_PUBLISH,  /* etcd_dr_capture_last_publish_timestamp_seconds */
    EDR_M_CAPTURE_EVENTS,   /* etcd_dr_capture_events_total */
    EDR_M_CAPTURE_LAG,      /* etcd_dr_capture_lag_revisions */
    EDR_M_LOCK_ACQUIRED,    /* etcd_dr_backup_lock_acquired_timestamp_seconds, 0 released */
    EDR_M_COUNT
};

/* Full metric name ("etcd_dr_backup_revision") of a family. */
const char *edr_metric_name(enum edr_metric m);

#define EDR_METRICS_CLUSTER_MAX 128

/*
 * The values of one cluster. `has` has bit (1u << enum edr_metric) set for
 * each value present; only those are written, the others are carried over
 * from the previous file (see edr_metrics_write).
 */
struct edr_metrics {
    char cluster[EDR_METRICS_CLUSTER_MAX]; /* the {cluster="..."} label; any bytes but NUL */
    unsigned has;
    double value[EDR_M_COUNT];
};

/* Set a value and its bit in `has`. */
void edr_metrics_set(struct edr_metrics *m, enum edr_metric which, double value);

/*
 * Read the samples of `cluster` from a textfile written by edr_metrics_write
 * into *out (cluster copied, `has` saying which were found). A missing file is
 * not an error (out->has = 0). Lines that are not samples of our metric
 * families, and samples of other clusters, are ignored; a malformed sample
 * line of our families is EDR_E_IO ("metrics file 'p': line 3: ...").
 * EDR_E_IO for a file that cannot be read, EDR_E_USAGE for a cluster name
 * too long.
 */
edr_rc edr_metrics_read(const char *path, const char *cluster, struct edr_metrics *out,
                        struct edr_err *err);

/*
 * Write the textfile at `path` atomically: `<path>.tmp.<pid>` is written,
 * fsynced and renamed over `path`, then the directory is fsynced; the file is
 * mode 0644. The previous file is read first: values of m->cluster missing
 * from m->has are carried over, and the samples of other clusters are kept,
 * so several clusters can share one file (lines of other metric families are
 * dropped: the file belongs to etcd-dr). A previous file that cannot be
 * read or parsed is logged as a warning and replaced. Each family present gets its HELP
 * and TYPE (gauge, or counter for _total) lines; families without a sample are left out.
 * Errors: EDR_E_IO with the path and errno; the temporary file is removed.
 * Not safe against two processes writing the same file at once.
 */
edr_rc edr_metrics_write(const char *path, const struct edr_metrics *m, struct edr_err *err);

#endif
