/*
 * schedule: the backup daemon. Jobs come from the config file's [schedule]
 * section (`backup = CRON`, optionally `prune = CRON` and `verify = CRON`,
 * six fields meaning a leading seconds field); sched/daemon.c runs them one
 * at a time on the real clock. Each job fills the command's typed
 * parameters from the daemon's options (never editing them) and calls it: a
 * backup run is edr_backup_run (with the retention rules applied after it
 * when any [retention] rule is set, or --prune) followed by
 * edr_backup_report for the metrics file and hooks; prune is edr_prune_run,
 * verify is edr_verify_run on "latest". The daemon's loop writes the one log
 * line per run.
 *
 * Signals: SIGTERM/SIGINT set the loop's stop flag, which edr_cmd_interrupted()
 * also reports, so a running backup aborts cleanly (its writer discards the
 * partial object) and the daemon exits 0. SIGHUP re-reads the options from the
 * same command line flags, environment and config file; a reload that fails
 * keeps the previous configuration.
 *
 * Failed attempts are retried SCHED_RETRIES times, a quarter of the job's
 * period apart (at least 1 s, at most 60 s). Metrics and hooks are written
 * once per run, for its last attempt; a run aborted by a stop request
 * writes none (it is a shutdown, not a failure). Without an explicit
 * --log-level the daemon logs at info, so every run leaves its line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "cmd/supervise.h"
#include "cmd/verify.h"
#include "common/log.h"
#include "repo/repo.h"
#include "sched/cron.h"
#include "sched/daemon.h"
#include "sched/retention.h"

const enum edr_opt_id edr_cmd_schedule_opts[] = {
    EDR_OPTS_ETCD,        EDR_OPTS_REPO,  EDR_OPTS_RETENTION, EDR_O_RECIPIENT,    EDR_O_NO_ENCRYPT,
    EDR_O_COMPRESS_LEVEL, EDR_O_THREADS,  EDR_O_PRUNE,        EDR_O_METRICS_FILE, EDR_O_ON_SUCCESS,
    EDR_O_ON_FAILURE,     EDR_O_IDENTITY, EDR_O_LEVEL,        EDR_O_ETCD_BIN,     EDR_O_TIMEZONE,
    EDR_O_JITTER,         EDR_O_CAPTURE,  EDR_O_FLUSH,        EDR_O__COUNT};

#define SCHED_MAX_JOBS 16
#define SCHED_RETRIES 2
#define SCHED_RETRY_DELAY_MAX 60

enum job_kind { JOB_BACKUP, JOB_PRUNE, JOB_VERIFY };

struct daemon;

struct job_state {
    struct daemon *d;
    enum job_kind kind;
    unsigned attempt; /* attempts of the current run so far */
    /* a failed attempt whose report waits for the retry's outcome */
    int pending;
    edr_rc pending_rc;
    struct edr_backup_summary pending_sum;
    struct edr_err pending_err;
};

struct sched_conf {
    struct edr_sched_job jobs[SCHED_MAX_JOBS];
    enum job_kind kinds[SCHED_MAX_JOBS];
    char cron_text[SCHED_MAX_JOBS][EDR_CRON_EXPR_MAX + 1];
    size_t njobs;
    char tz[256];
    int has_tz; /* tz is not UTC */
};

struct daemon {
    struct edr_ctx *ctx;
    struct sched_conf conf;
    struct job_state state[SCHED_MAX_JOBS];
    int argc; /* the command line flags, rebuilt for SIGHUP reloads */
    char **argv;
};

static const char *const kind_names[] = {"backup", "prune", "verify"};

static void
fmt_utc(time_t t, char *buf, size_t n)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, n, "%lld", (long long)t);
}

/* Check the retention options once at startup rather than at every run. */
static edr_rc
check_retention(const struct edr_opts *o, struct edr_err *err)
{
    static const enum edr_opt_id counts[] = {EDR_OPTS_RETENTION_COUNTS};
    struct edr_duration dur;
    const char *within = edr_opt_str(o, EDR_O_KEEP_WITHIN);
    int64_t v;
    edr_rc rc;

    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        if ((rc = edr_opt_int(o, counts[i], EDR_KEEP_ALL, 1000000, &v, err)) != EDR_OK)
            return rc;
    if (within != NULL && (rc = edr_duration_parse(within, &dur, err)) != EDR_OK)
        return edr_err_prefix(err, "option '--keep-within'");
    return EDR_OK;
}

/* The time zone: --timezone / ETCD_DR_TIMEZONE / [schedule] timezone, else TZ, else UTC. */
static edr_rc
pick_tz(const struct edr_opts *o, struct sched_conf *c, struct edr_err *err)
{
    const char *tz = edr_opt_str(o, EDR_O_TIMEZONE);
    const char *env = getenv("TZ");
    edr_rc rc;

    if (o->src[EDR_O_TIMEZONE] == EDR_SRC_DEFAULT && env != NULL && *env != '\0')
        tz = env[0] == ':' ? env + 1 : env;
    if (tz == NULL || *tz == '\0')
        tz = "UTC";
    if ((rc = edr_cron_tz_check(tz, err)) != EDR_OK)
        return rc;
    if (strlen(tz) >= sizeof(c->tz))
        return edr_err_set(err, EDR_E_USAGE, "time zone '%.40s...' is too long", tz);
    snprintf(c->tz, sizeof(c->tz), "%s", tz);
    c->has_tz = strcmp(tz, "UTC") != 0;
    return EDR_OK;
}

/* Seconds between the job's next two fires (its period, for the retry delay). */
static unsigned
retry_delay_of(const struct edr_sched_job *job, time_t now)
{
    struct edr_err scratch;
    time_t a, b;
    time_t d;

    if (edr_cron_next(&job->cron, now, job->tz, &a, &scratch) != EDR_OK ||
        edr_cron_next(&job->cron, a, job->tz, &b, &scratch) != EDR_OK)
        return SCHED_RETRY_DELAY_MAX;
    d = (b - a) / 4;
    if (d < 1)
        d = 1;
    return d > SCHED_RETRY_DELAY_MAX ? SCHED_RETRY_DELAY_MAX : (unsigned)d;
}

static edr_rc job_run(void *ud, struct edr_err *err);

/* Point the jobs at the daemon's state and time zone (after building or copying conf). */
static void
link_jobs(struct daemon *d)
{
    for (size_t i = 0; i < d->conf.njobs; i++) {
        d->state[i].d = d;
        d->state[i].kind = d->conf.kinds[i];
        d->conf.jobs[i].name = kind_names[d->conf.kinds[i]];
        d->conf.jobs[i].tz = d->conf.has_tz ? d->conf.tz : NULL;
        d->conf.jobs[i].run = job_run;
        d->conf.jobs[i].ud = &d->state[i];
    }
}

/* Build the job table from options; nothing of the daemon changes on failure. */
static edr_rc
build_conf(const struct edr_opts *o, struct sched_conf *c, struct edr_err *err)
{
    const char *cfg = o->config_path;
    int64_t jitter;
    int has_backup = 0;
    time_t now = time(NULL);
    edr_rc rc;

    memset(c, 0, sizeof(*c));
    if (cfg == NULL) {
        edr_err_set(err, EDR_E_USAGE, "schedule: no config file given");
        edr_err_hint(err, "give --config FILE (or ETCD_DR_CONFIG) with a [schedule] section, "
                          "e.g. 'backup = 0 */6 * * *'");
        return EDR_E_USAGE;
    }
    if (o->nsched == 0) {
        edr_err_set(err, EDR_E_CONFIG, "config file '%s' has no job in [schedule]", cfg);
        edr_err_hint(err, "add e.g. '[schedule]' and 'backup = 0 */6 * * *'");
        return EDR_E_CONFIG;
    }
    if ((rc = pick_tz(o, c, err)) != EDR_OK ||
        (rc = edr_opt_int(o, EDR_O_JITTER, 0, 86400, &jitter, err)) != EDR_OK ||
        (rc = check_retention(o, err)) != EDR_OK)
        return rc;
    for (int i = 0; i < o->nsched; i++) {
        struct edr_sched_job *job = &c->jobs[c->njobs];
        enum job_kind kind;
        if (strcmp(o->sched_name[i], "backup") == 0)
            kind = JOB_BACKUP;
        else if (strcmp(o->sched_name[i], "prune") == 0)
            kind = JOB_PRUNE;
        else
            kind = JOB_VERIFY;
        for (size_t k = 0; k < c->njobs; k++)
            if (c->kinds[k] == kind)
                return edr_err_set(err, EDR_E_CONFIG,
                                   "config file '%s': job '%s' is given twice in [schedule]", cfg,
                                   kind_names[kind]);
        if ((rc = edr_cron_parse(&job->cron, o->sched_cron[i], err)) != EDR_OK) {
            err->code = EDR_E_CONFIG;
            return edr_err_prefix(err, "config file '%s': [schedule] %s", cfg, kind_names[kind]);
        }
        if (kind == JOB_BACKUP)
            has_backup = 1;
        if (kind == JOB_PRUNE && !edr_retention_opts_set(o)) {
            edr_err_set(err, EDR_E_CONFIG, "config file '%s': job 'prune' needs a retention rule",
                        cfg);
            edr_err_hint(err, "set e.g. 'keep-last = 7' in [retention]");
            return EDR_E_CONFIG;
        }
        snprintf(c->cron_text[c->njobs], sizeof(c->cron_text[0]), "%s", o->sched_cron[i]);
        c->kinds[c->njobs] = kind;
        job->name = kind_names[kind];
        job->tz = c->has_tz ? c->tz : NULL;
        job->jitter = (unsigned)jitter;
        job->retries = SCHED_RETRIES;
        job->retry_delay = retry_delay_of(job, now);
        c->njobs++;
    }
    if (!has_backup) {
        edr_err_set(err, EDR_E_CONFIG, "config file '%s' has no 'backup' job in [schedule]", cfg);
        edr_err_hint(err, "add e.g. 'backup = 0 */6 * * *' to [schedule]");
        return EDR_E_CONFIG;
    }
    if (edr_opt_bool(o, EDR_O_PRUNE) && !edr_retention_opts_set(o)) {
        edr_err_set(err, EDR_E_USAGE, "--prune needs a retention rule");
        edr_err_hint(err, "set e.g. 'keep-last = 7' in [retention] or --keep-last 7");
        return EDR_E_USAGE;
    }
    return EDR_OK;
}

/* Logging and output settings of the daemon, from ctx->opts (at start and after a reload). */
static edr_rc
apply_output(struct edr_ctx *ctx, struct edr_err *err)
{
    const char *lf = edr_opt_str(&ctx->opts, EDR_O_LOG_FORMAT);
    int level = edr_log_level_parse(edr_opt_str(&ctx->opts, EDR_O_LOG_LEVEL));
    int quiet = edr_opt_bool(&ctx->opts, EDR_O_QUIET);

    if (level < 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid --log-level '%s'",
                           edr_opt_str(&ctx->opts, EDR_O_LOG_LEVEL));
    if (lf != NULL && strcmp(lf, "text") != 0 && strcmp(lf, "json") != 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid --log-format '%s'", lf);
    if (ctx->opts.src[EDR_O_LOG_LEVEL] == EDR_SRC_DEFAULT)
        level = EDR_LOG_INFO;
    edr_log_setup(quiet ? EDR_LOG_ERROR : level, lf != NULL && strcmp(lf, "json") == 0);
    ctx->quiet = 1; /* results go to the log, the metrics file and hooks, not stdout */
    ctx->json = 0;
    ctx->progress = 0;
    return EDR_OK;
}

static void
log_startup(const struct daemon *d, const char *what)
{
    char line[2048];
    size_t n = 0;
    time_t now = time(NULL);

    n += (size_t)snprintf(line + n, sizeof(line) - n, "%s: config '%s', time zone %s", what,
                          d->ctx->opts.config_path, d->conf.tz);
    for (size_t i = 0; i < d->conf.njobs && n < sizeof(line); i++) {
        const struct edr_sched_job *j = &d->conf.jobs[i];
        struct edr_err scratch;
        char next[32] = "never";
        time_t t;
        if (edr_cron_next(&j->cron, now, j->tz, &t, &scratch) == EDR_OK)
            fmt_utc(t, next, sizeof(next));
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s %s '%s' next %s", i ? ";" : ":",
                              j->name, d->conf.cron_text[i], next);
    }
    if (n < sizeof(line) && edr_retention_opts_set(&d->ctx->opts))
        snprintf(line + n, sizeof(line) - n, "; prune after each backup");
    edr_info("%s", line);
}

static void
report_backup(struct edr_ctx *ctx, const struct edr_backup_summary *sum, edr_rc rc,
              const struct edr_err *err)
{
    ctx->err = *err;
    edr_backup_report(ctx, sum, rc);
}

/* A failed attempt whose retry never came (stop during the retry wait): report it now. */
static void
flush_pending(struct daemon *d)
{
    for (size_t i = 0; i < d->conf.njobs; i++) {
        struct job_state *s = &d->state[i];
        if (s->pending)
            report_backup(d->ctx, &s->pending_sum, s->pending_rc, &s->pending_err);
        s->pending = 0;
        s->attempt = 0;
    }
}

static edr_rc
run_backup(struct job_state *s)
{
    struct edr_ctx *ctx = s->d->ctx;
    struct edr_backup_params p;
    struct edr_backup_summary sum;
    edr_rc rc;

    s->attempt++;
    s->pending = 0;
    memset(&sum, 0, sizeof(sum));
    rc = edr_backup_params_from_opts(&ctx->opts, 1, &p, &ctx->err);
    /* a run applies the retention rules when there are any */
    if (rc == EDR_OK && !p.prune && edr_retention_opts_set(&ctx->opts)) {
        p.prune = 1;
        rc = edr_prune_params_from_opts(&ctx->opts, &p.prune_params, &ctx->err);
    }
    if (rc == EDR_OK)
        rc = edr_backup_run(ctx, &p, &sum);
    edr_backup_params_release(&p);
    if (rc == EDR_OK) {
        edr_debug("backup '%s/%s': revision %lld, %llu bytes stored", sum.cluster, sum.manifest.id,
                  (long long)sum.manifest.revision, (unsigned long long)sum.manifest.stored_size);
    }
    if (rc != EDR_OK && (rc == EDR_E_INTERRUPTED || edr_sched_stop_requested())) {
        /* shutdown: the writer discarded the partial object; not a failed run */
        s->attempt = 0;
        return rc;
    }
    if (rc == EDR_OK || s->attempt > SCHED_RETRIES) {
        report_backup(ctx, &sum, rc, &ctx->err);
        s->attempt = 0;
        return rc;
    }
    s->pending = 1;
    s->pending_rc = rc;
    s->pending_sum = sum;
    s->pending_err = ctx->err;
    return rc;
}

static edr_rc
run_prune(struct job_state *s)
{
    struct edr_ctx *ctx = s->d->ctx;
    struct edr_prune_params p;
    struct edr_repo *repo = NULL;
    edr_rc rc;

    if ((rc = edr_prune_params_from_opts(&ctx->opts, &p, &ctx->err)) != EDR_OK ||
        (rc = edr_cmd_open_repo(ctx, 0, &repo)) != EDR_OK)
        return rc;
    rc = edr_prune_run(ctx, repo, &p, 0, NULL);
    edr_repo_free(repo);
    return rc;
}

/* Verify the newest backup: at the configured level, else content with an
 * identity and stored without. */
static edr_rc
run_verify(struct job_state *s)
{
    struct edr_ctx *ctx = s->d->ctx;
    struct edr_verify_params p;
    edr_rc rc;

    if ((rc = edr_verify_params_from_opts(&ctx->opts, &p, &ctx->err)) != EDR_OK)
        return rc;
    p.backup = "latest";
    p.all = 0;
    if (!p.level_given) {
        p.level = p.have_identity ? EDR_VERIFY_CONTENT : EDR_VERIFY_STORED;
        p.level_given = 1;
    }
    return edr_verify_run(ctx, &p);
}

static edr_rc
job_run(void *ud, struct edr_err *err)
{
    struct job_state *s = ud;
    struct edr_ctx *ctx = s->d->ctx;
    edr_rc rc;

    edr_err_clear(&ctx->err);
    switch (s->kind) {
    case JOB_BACKUP:
        rc = run_backup(s);
        break;
    case JOB_PRUNE:
        rc = run_prune(s);
        break;
    default:
        rc = run_verify(s);
        break;
    }
    /* the etcd password is read again for each run (and not kept in between) */
    edr_cmd_cleanup(ctx);
    if (rc != EDR_OK) {
        *err = ctx->err;
        if (err->code == EDR_OK)
            edr_err_set(err, rc, "%s", edr_rc_desc(rc));
    }
    return rc;
}

/* The command line flags as "--name=value" words, for edr_opts_load on SIGHUP. */
static edr_rc
save_argv(struct daemon *d, struct edr_err *err)
{
    const struct edr_opts *o = &d->ctx->opts;

    d->argv = calloc(EDR_O__COUNT + 1, sizeof(*d->argv));
    if (d->argv == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        size_t n;
        if (o->src[i] != EDR_SRC_FLAG || o->val[i] == NULL)
            continue;
        n = strlen(edr_optdefs[i].name) + strlen(o->val[i]) + 4;
        if ((d->argv[d->argc] = malloc(n)) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        snprintf(d->argv[d->argc], n, "--%s=%s", edr_optdefs[i].name, o->val[i]);
        d->argc++;
    }
    return EDR_OK;
}

/* SIGHUP: load the options again; on any error keep running with the old ones. */
static void
reload(struct daemon *d)
{
    struct edr_opts nopts, old;
    struct sched_conf *nconf = NULL;
    struct edr_err err;
    edr_rc rc;

    edr_err_clear(&err);
    if ((nconf = malloc(sizeof(*nconf))) == NULL) {
        edr_log(EDR_LOG_ERROR, "reload failed: out of memory; keeping the previous configuration");
        return;
    }
    rc = edr_opts_load(&nopts, d->argc, d->argv, edr_cmd_schedule_opts, &err);
    if (rc == EDR_OK)
        rc = build_conf(&nopts, nconf, &err);
    if (rc == EDR_OK && edr_log_level_parse(edr_opt_str(&nopts, EDR_O_LOG_LEVEL)) < 0)
        rc = edr_err_set(&err, EDR_E_USAGE, "invalid --log-level '%s'",
                         edr_opt_str(&nopts, EDR_O_LOG_LEVEL));
    if (rc != EDR_OK) {
        edr_opts_release(&nopts);
        free(nconf);
        edr_log(EDR_LOG_ERROR, "reload failed: %s; keeping the previous configuration", err.msg);
        return;
    }
    old = d->ctx->opts;
    d->ctx->opts = nopts;
    d->conf = *nconf;
    free(nconf);
    memset(d->state, 0, sizeof(d->state));
    link_jobs(d);
    if (apply_output(d->ctx, &err) != EDR_OK) {
        /* cannot happen after the checks above; keep going on the new options */
        edr_warn("%s", err.msg);
    }
    edr_opts_release(&old);
    log_startup(d, "reloaded");
}

edr_rc
edr_cmd_schedule(struct edr_ctx *ctx)
{
    struct daemon *d = NULL;
    enum edr_sched_outcome outcome;
    struct edr_capture_child *child = NULL;
    edr_rc rc;

    if ((d = calloc(1, sizeof(*d))) == NULL)
        return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
    d->ctx = ctx;
    if ((rc = build_conf(&ctx->opts, &d->conf, &ctx->err)) != EDR_OK ||
        (rc = save_argv(d, &ctx->err)) != EDR_OK || (rc = apply_output(ctx, &ctx->err)) != EDR_OK)
        goto out;
    link_jobs(d);
    edr_sched_reset_flags();
    if ((rc = edr_sched_install_signals(&ctx->err)) != EDR_OK)
        goto out;
    log_startup(d, "schedule started");
    if (edr_opt_bool(&ctx->opts, EDR_O_CAPTURE) &&
        (rc = edr_capture_child_start(&ctx->opts, &child, &ctx->err)) != EDR_OK)
        goto out;
    for (;;) {
        struct edr_err lerr;
        edr_err_clear(&lerr);
        rc = edr_sched_run(d->conf.jobs, d->conf.njobs, edr_sched_real_clock(), &outcome, &lerr);
        flush_pending(d);
        if (rc != EDR_OK) {
            ctx->err = lerr;
            break;
        }
        if (outcome == EDR_SCHED_STOPPED) {
            edr_info("schedule stopped by a signal");
            edr_err_clear(&ctx->err);
            break;
        }
        edr_info("reloading the configuration");
        reload(d);
        /* a new config for the capture too (or it is turned on or off) */
        edr_capture_child_stop(child);
        child = NULL;
        if (edr_opt_bool(&ctx->opts, EDR_O_CAPTURE) &&
            (rc = edr_capture_child_start(&ctx->opts, &child, &ctx->err)) != EDR_OK)
            break;
    }
out:
    edr_capture_child_stop(child);
    if (d != NULL) {
        for (int i = 0; d->argv != NULL && i < d->argc; i++)
            free(d->argv[i]);
        free(d->argv);
        free(d);
    }
    return rc;
}
