/*
 * The end of a backup run: one summary line (or --json), the metrics
 * textfile, and the --on-success/--on-failure hooks with the summary in
 * ETCD_DR_* environment variables.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd/backup.h"
#include "common/log.h"
#include "common/secret.h"
#include "sched/metrics.h"

static void
write_metrics(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_METRICS_FILE);
    struct edr_metrics m;
    struct edr_err err;
    double now = (double)time(NULL);

    if (path == NULL)
        return;
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "%s",
             sum->cluster[0] ? sum->cluster : edr_opt_str(&ctx->opts, EDR_O_CLUSTER));
    edr_metrics_set(&m, EDR_M_LAST_ATTEMPT, now);
    edr_metrics_set(&m, EDR_M_LAST_RESULT, rc == EDR_OK ? 0 : 1);
    edr_metrics_set(&m, EDR_M_LAST_EXIT_CODE, rc);
    edr_metrics_set(&m, EDR_M_LAST_DURATION, sum->duration_s);
    if (rc != EDR_E_LOCK) /* released (a lock held by another run is not ours to clear) */
        edr_metrics_set(&m, EDR_M_LOCK_ACQUIRED, 0);
    if (rc == EDR_OK && sum->ok) {
        edr_metrics_set(&m, EDR_M_LAST_SUCCESS, now);
        edr_metrics_set(&m, EDR_M_DB_SIZE, (double)sum->manifest.db_size);
        edr_metrics_set(&m, EDR_M_STORED_SIZE, (double)sum->manifest.stored_size);
        edr_metrics_set(&m, EDR_M_REVISION, (double)sum->manifest.revision);
        edr_metrics_set(&m, EDR_M_BACKUPS, (double)sum->backups_in_repo);
    }
    if (edr_metrics_write(path, &m, &err) != EDR_OK)
        edr_warn("%s", err.msg);
}

static void
run_hook(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc)
{
    const char *cmd = edr_opt_str(&ctx->opts, rc == EDR_OK ? EDR_O_ON_SUCCESS : EDR_O_ON_FAILURE);
    pid_t pid;
    int status;

    if (cmd == NULL)
        return;
    pid = fork();
    if (pid == 0) {
        char buf[64];
        edr_secret_scrub_env(0); /* a hook gets the result, not the run's secrets */
        setenv("ETCD_DR_RESULT", rc == EDR_OK ? "ok" : "failed", 1);
        snprintf(buf, sizeof(buf), "%d", rc);
        setenv("ETCD_DR_EXIT_CODE", buf, 1);
        setenv("ETCD_DR_ERROR", rc == EDR_OK ? "" : ctx->err.msg, 1);
        setenv("ETCD_DR_CLUSTER", sum->cluster, 1);
        setenv("ETCD_DR_BACKUP_ID", sum->ok ? sum->manifest.id : "", 1);
        snprintf(buf, sizeof(buf), "%" PRId64, sum->ok ? sum->manifest.revision : 0);
        setenv("ETCD_DR_REVISION", buf, 1);
        snprintf(buf, sizeof(buf), "%.3f", sum->duration_s);
        setenv("ETCD_DR_DURATION", buf, 1);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        edr_warn("hook '%s' failed", cmd);
}

void
edr_backup_report(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc)
{
    const struct edr_manifest *m = &sum->manifest;

    if (ctx->json) {
        json_t *o =
            json_pack("{s:s, s:i, s:s, s:f}", "result", rc == EDR_OK ? "ok" : "failed", "exit_code",
                      rc, "cluster", sum->cluster, "duration_seconds", sum->duration_s);
        if (rc != EDR_OK)
            json_object_set_new(o, "error", json_string(ctx->err.msg));
        if (sum->ok) {
            json_object_set_new(o, "id", json_string(m->id));
            json_object_set_new(o, "revision", json_integer(m->revision));
            json_object_set_new(o, "db_size", json_integer((json_int_t)m->db_size));
            json_object_set_new(o, "stored_size", json_integer((json_int_t)m->stored_size));
            json_object_set_new(o, "endpoint", json_string(m->endpoint));
            json_object_set_new(o, "encrypted", json_boolean(m->encrypted));
            json_object_set_new(o, "total_keys", json_integer((json_int_t)m->total_keys));
        }
        {
            /* the CPU this process used so far (all threads): what a
             * backup costs a busy control-plane node */
            struct rusage ru;
            if (getrusage(RUSAGE_SELF, &ru) == 0) {
                double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                             (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
                json_object_set_new(o, "cpu_seconds", json_real(cpu));
                if (sum->ok && m->db_size > 0)
                    json_object_set_new(o, "cpu_seconds_per_gib",
                                        json_real(cpu / ((double)m->db_size / (1 << 30))));
            }
        }
        if (sum->prune != NULL) /* backup --prune: one document with both */
            json_object_set(o, "prune", sum->prune);
        edr_cmd_print_json(o);
    } else if (rc == EDR_OK && sum->ok && !ctx->quiet) {
        char db[32], st[32];
        edr_fmt_bytes(m->db_size, db, sizeof(db));
        edr_fmt_bytes(m->stored_size, st, sizeof(st));
        printf("backup %s/%s: revision %" PRId64 ", db %s, stored %s (%s), %.1fs, %.0f MB/s from "
               "%s\n",
               sum->cluster, m->id, m->revision, db, st, m->encrypted ? "encrypted" : "UNENCRYPTED",
               sum->duration_s,
               sum->duration_s > 0 ? (double)m->db_size / sum->duration_s / 1e6 : 0.0, m->endpoint);
    }
    write_metrics(ctx, sum, rc);
    run_hook(ctx, sum, rc);
    json_decref(sum->prune);
}
