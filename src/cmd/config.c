/*
 * config check: validate a config file beyond what the parser (common/opts.c)
 * already refuses, and print the effective settings with where each one came
 * from (flag, environment, file:line, default).
 *
 * The parser rejects unknown sections and keys, malformed lines and values
 * that are not numbers or booleans, naming file:line; main.c prints that error
 * and exits 3 before this command runs. Here come the checks that need
 * meaning: cron expressions of the [schedule] jobs, numbers in range, the
 * enumerations (endpoint-policy, log-format, ...), durations, time zones and
 * cluster names. Each problem is reported with its location; any problem
 * exits 3 (EDR_E_CONFIG). Files the settings refer to (recipient, identity,
 * certificates, secret files) that are missing or unreadable are warnings
 * only: the file may be checked on another host than the one that runs it.
 * Values of options whose name says password or secret are printed as
 * <redacted> (they are file paths, but the paths themselves say where the
 * secrets are).
 */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "repo/repo.h"
#include "sched/cron.h"
#include "sched/retention.h"
#include "storage/s3.h"

/* Every option: config check shows how flags and environment combine with the file. */
const enum edr_opt_id edr_cmd_config_opts[] = {
#define EDR_X_CONFIG_OPT(id, ...) EDR_O_##id,
    EDR_OPTION_TABLE(EDR_X_CONFIG_OPT)
#undef EDR_X_CONFIG_OPT
        EDR_O__COUNT};

#define CHECK_MAX_JOBS 16

struct check {
    struct edr_ctx *ctx;
    const char *path;
    int job_line[CHECK_MAX_JOBS]; /* file line of each o->sched_name[i] */
    int nproblems, nwarnings;
    json_t *problems, *warnings; /* --json: arrays of strings */
};

static const struct {
    enum edr_opt_id id;
    int64_t min, max;
} int_ranges[] = {
    {EDR_O_COMPRESS_LEVEL, 1, 19},
    {EDR_O_CONNECT_TIMEOUT, 1, 3600},
    {EDR_O_JITTER, 0, 86400},
    {EDR_O_KEEP_DAILY, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_HOURLY, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_LAST, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_MONTHLY, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_VERIFIED, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_WEEKLY, EDR_KEEP_ALL, 1000000},
    {EDR_O_KEEP_YEARLY, EDR_KEEP_ALL, 1000000},
    {EDR_O_LOCK_WAIT, 0, 86400},
    {EDR_O_RETRIES, 0, 100},
    {EDR_O_REV, 0, INT64_MAX},
    {EDR_O_S3_PART_SIZE, 0, (int64_t)EDR_S3_MAX_PART_SIZE},
    {EDR_O_STALL_TIMEOUT, 1, 86400},
    {EDR_O_THREADS, 0, 256},
    {EDR_O_TOP, 1, 1000000},
};

static const struct {
    enum edr_opt_id id;
    const char *values[6]; /* NULL-terminated */
} enums[] = {
    {EDR_O_ENDPOINT_POLICY, {"follower", "leader", "first", NULL}},
    {EDR_O_LEVEL, {"stored", "content", "drill", NULL}},
    {EDR_O_LOG_FORMAT, {"text", "json", NULL}},
    {EDR_O_LOG_LEVEL, {"error", "warn", "warning", "info", "debug", NULL}},
};

/* Options naming files that should exist where the config is used. */
static const enum edr_opt_id file_opts[] = {
    EDR_O_CACERT,        EDR_O_CERT,      EDR_O_KEY,       EDR_O_IDENTITY,
    EDR_O_PASSWORD_FILE, EDR_O_RECIPIENT, EDR_O_S3_CACERT, EDR_O_S3_SECRET_FILE,
};

static const char *const section_order[] = {"etcd",    "repo",    "backup", "retention", "schedule",
                                            "metrics", "hooks",   "log",    "output",    "verify",
                                            "restore", "inspect", "get",    "export"};

static int
secret_name(const char *name)
{
    return strstr(name, "password") != NULL || strstr(name, "secret") != NULL;
}

/* Where a value came from, for messages: "/etc/x.conf:4", "option '--x'", "ETCD_DR_X". */
static void
where(const struct check *c, enum edr_opt_id id, char *buf, size_t n)
{
    const struct edr_opts *o = &c->ctx->opts;
    const struct edr_optdef *d = &edr_optdefs[id];
    char env[96];
    const char *v;

    switch (o->src[id]) {
    case EDR_SRC_FILE:
        snprintf(buf, n, "%s:%d: '%s'", c->path, o->file_line[id], d->cfgkey);
        break;
    case EDR_SRC_ENV:
        edr_opt_env_name(d, env, sizeof(env));
        v = getenv(env);
        if ((v == NULL || *v == '\0') && d->alt_env != NULL)
            snprintf(env, sizeof(env), "%s", d->alt_env);
        snprintf(buf, n, "environment %s", env);
        break;
    case EDR_SRC_FLAG:
        snprintf(buf, n, "option '--%s'", d->name);
        break;
    default:
        snprintf(buf, n, "default of '--%s'", d->name);
    }
}

static void problem(struct check *c, const char *fmt, ...) EDR_PRINTF(2, 3);
static void warning(struct check *c, const char *fmt, ...) EDR_PRINTF(2, 3);

static void
problem(struct check *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->nproblems == 0)
        edr_err_set(&c->ctx->err, EDR_E_CONFIG, "%s", msg);
    c->nproblems++;
    json_array_append_new(c->problems, json_string(msg));
}

static void
warning(struct check *c, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->nwarnings++;
    json_array_append_new(c->warnings, json_string(msg));
    edr_warn("%s", msg);
}

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Lines of the [schedule] jobs, in the order the parser recorded them. */
static void
find_job_lines(struct check *c)
{
    FILE *f = fopen(c->path, "r");
    char line[4096], section[64] = "";
    int lineno = 0, k = 0;

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL && k < CHECK_MAX_JOBS) {
        char *s = trim(line), *eq;
        lineno++;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end != NULL)
                *end = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            continue;
        }
        if (*s == '#' || *s == ';' || (eq = strchr(s, '=')) == NULL ||
            strcmp(section, "schedule") != 0)
            continue;
        *eq = '\0';
        s = trim(s);
        if (strcmp(s, "backup") == 0 || strcmp(s, "verify") == 0 || strcmp(s, "prune") == 0)
            c->job_line[k++] = lineno;
    }
    fclose(f);
}

static void
check_ints(struct check *c)
{
    const struct edr_opts *o = &c->ctx->opts;

    for (size_t i = 0; i < sizeof(int_ranges) / sizeof(int_ranges[0]); i++) {
        enum edr_opt_id id = int_ranges[i].id;
        const char *v = edr_opt_str(o, id);
        char loc[512], *end;
        long long n;
        if (v == NULL)
            continue;
        errno = 0;
        n = strtoll(v, &end, 10);
        if (errno == 0 && end != v && *end == '\0' && n >= int_ranges[i].min &&
            n <= int_ranges[i].max)
            continue;
        where(c, id, loc, sizeof(loc));
        problem(c, "%s: '%s' is not a whole number from %lld to %lld", loc, v,
                (long long)int_ranges[i].min, (long long)int_ranges[i].max);
    }
    {
        /* restore's --bump-revision: a count, or auto (the repository's records) */
        const char *v = edr_opt_str(o, EDR_O_BUMP_REVISION);
        char loc[512], *end;
        long long n;
        if (v != NULL && strcmp(v, "auto") != 0) {
            errno = 0;
            n = strtoll(v, &end, 10);
            if (errno != 0 || end == v || *end != '\0' || n < 0 || n > INT64_MAX / 4) {
                where(c, EDR_O_BUMP_REVISION, loc, sizeof(loc));
                problem(c, "%s: '%s' is neither a whole number from 0 to %lld nor auto", loc, v,
                        (long long)(INT64_MAX / 4));
            }
        }
    }
    {
        const char *v = edr_opt_str(o, EDR_O_S3_PART_SIZE);
        long long n = v != NULL ? strtoll(v, NULL, 10) : 0;
        char loc[512];
        if (n > 0 && (unsigned long long)n < EDR_S3_MIN_PART_SIZE) {
            where(c, EDR_O_S3_PART_SIZE, loc, sizeof(loc));
            problem(c, "%s: %lld is below S3's minimum part size of %llu bytes (0 = automatic)",
                    loc, n, (unsigned long long)EDR_S3_MIN_PART_SIZE);
        }
    }
}

static void
check_values(struct check *c)
{
    const struct edr_opts *o = &c->ctx->opts;
    struct edr_err e;
    char loc[512];
    const char *v;

    for (size_t i = 0; i < sizeof(enums) / sizeof(enums[0]); i++) {
        char list[128] = "";
        int ok = 0;
        size_t n = 0;
        if ((v = edr_opt_str(o, enums[i].id)) == NULL)
            continue;
        for (const char *const *p = enums[i].values; *p != NULL; p++) {
            ok |= strcmp(v, *p) == 0;
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", *p);
        }
        if (!ok) {
            where(c, enums[i].id, loc, sizeof(loc));
            problem(c, "%s: invalid value '%s' (%s)", loc, v, list);
        }
    }
    static const enum edr_opt_id durations[] = {EDR_O_KEEP_WITHIN, EDR_O_MAX_AGE};
    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        struct edr_duration d;
        if ((v = edr_opt_str(o, durations[i])) != NULL && edr_duration_parse(v, &d, &e) != EDR_OK) {
            where(c, durations[i], loc, sizeof(loc));
            problem(c, "%s: %s", loc, e.msg);
        }
    }
    if ((v = edr_opt_str(o, EDR_O_TIMEZONE)) != NULL && edr_cron_tz_check(v, &e) != EDR_OK) {
        where(c, EDR_O_TIMEZONE, loc, sizeof(loc));
        problem(c, "%s: %s", loc, e.msg);
    }
    if ((v = edr_opt_str(o, EDR_O_CLUSTER)) != NULL &&
        edr_repo_check_cluster_name(v, &e) != EDR_OK) {
        where(c, EDR_O_CLUSTER, loc, sizeof(loc));
        problem(c, "%s: %s", loc, e.msg);
    }
    if (edr_opt_str(o, EDR_O_ENDPOINTS) != NULL) {
        int n = 0;
        char **eps = edr_opt_list(o, EDR_O_ENDPOINTS, &n);
        for (int i = 0; i < n; i++) {
            if (strncmp(eps[i], "http://", 7) == 0 || strncmp(eps[i], "https://", 8) == 0)
                continue;
            where(c, EDR_O_ENDPOINTS, loc, sizeof(loc));
            problem(c, "%s: endpoint '%s' is not an http:// or https:// URL", loc, eps[i]);
        }
        if (n == 0) {
            where(c, EDR_O_ENDPOINTS, loc, sizeof(loc));
            problem(c, "%s: no endpoint", loc);
        }
        edr_strv_free(eps, n);
    }
    if (edr_opt_bool(o, EDR_O_NO_ENCRYPT) && edr_opt_str(o, EDR_O_RECIPIENT) != NULL) {
        where(c, EDR_O_NO_ENCRYPT, loc, sizeof(loc));
        problem(c, "%s: no-encrypt and recipient exclude each other", loc);
    }
}

static void
check_files(struct check *c)
{
    const struct edr_opts *o = &c->ctx->opts;

    for (size_t i = 0; i < sizeof(file_opts) / sizeof(file_opts[0]); i++) {
        enum edr_opt_id id = file_opts[i];
        char loc[512];
        char **files;
        int n = 0;
        if (edr_opt_str(o, id) == NULL)
            continue;
        files = edr_opt_list(o, id, &n);
        for (int k = 0; k < n; k++) {
            const char *shown = secret_name(edr_optdefs[id].name) ? "<redacted>" : files[k];
            if (access(files[k], R_OK) == 0)
                continue;
            int e = errno;
            where(c, id, loc, sizeof(loc));
            warning(c, "%s: file '%s' %s", loc, shown,
                    e == ENOENT ? "does not exist" : "is not readable");
        }
        edr_strv_free(files, n);
    }
}

/* The [schedule] jobs: cron expressions, duplicates, what each job needs. */
static void
check_jobs(struct check *c, json_t *jobs_json)
{
    const struct edr_opts *o = &c->ctx->opts;
    const char *tz = edr_opt_str(o, EDR_O_TIMEZONE);
    struct edr_err e;
    time_t now = time(NULL);

    if (tz != NULL && edr_cron_tz_check(tz, &e) != EDR_OK)
        tz = NULL; /* reported by check_values; compute in UTC */
    for (int i = 0; i < o->nsched; i++) {
        struct edr_cron cron;
        char next[32] = "", loc[512];
        int line = i < CHECK_MAX_JOBS ? c->job_line[i] : 0;
        time_t t;

        snprintf(loc, sizeof(loc), "%s:%d", c->path, line);
        for (int k = 0; k < i; k++)
            if (strcmp(o->sched_name[k], o->sched_name[i]) == 0)
                problem(c, "%s: job '%s' is already given on line %d", loc, o->sched_name[i],
                        k < CHECK_MAX_JOBS ? c->job_line[k] : 0);
        if (edr_cron_parse(&cron, o->sched_cron[i], &e) != EDR_OK) {
            problem(c, "%s: [schedule] %s: %s", loc, o->sched_name[i], e.msg);
        } else if (edr_cron_next(&cron, now, tz, &t, &e) != EDR_OK) {
            problem(c, "%s: [schedule] %s: %s", loc, o->sched_name[i], e.msg);
        } else {
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(next, sizeof(next), "%Y-%m-%dT%H:%M:%SZ", &tm);
        }
        if (strcmp(o->sched_name[i], "prune") == 0 && !edr_retention_opts_set(o))
            problem(c, "%s: job 'prune' needs a retention rule ([retention] keep-...)", loc);
        if (strcmp(o->sched_name[i], "backup") == 0 && edr_opt_str(o, EDR_O_RECIPIENT) == NULL &&
            !edr_opt_bool(o, EDR_O_NO_ENCRYPT))
            warning(c,
                    "%s: job 'backup' has no recipient ([repo] recipient) and no-encrypt is "
                    "not set: every backup would fail",
                    loc);
        if (strcmp(o->sched_name[i], "backup") == 0 && edr_opt_str(o, EDR_O_REPO) == NULL)
            problem(c, "%s: job 'backup' needs a repository ([repo] path)", loc);
        if (jobs_json != NULL) {
            json_t *j = json_pack("{s:s, s:s, s:i}", "job", o->sched_name[i], "cron",
                                  o->sched_cron[i], "line", line);
            json_object_set_new(j, "next", next[0] ? json_string(next) : json_null());
            json_array_append_new(jobs_json, j);
        } else if (!c->ctx->quiet) {
            printf("[schedule] %s = %s  (%s:%d)%s%s\n", o->sched_name[i], o->sched_cron[i], c->path,
                   line, next[0] ? " next " : "", next);
        }
    }
}

static const char *
source_name(enum edr_opt_source s)
{
    switch (s) {
    case EDR_SRC_FLAG:
        return "flag";
    case EDR_SRC_ENV:
        return "env";
    case EDR_SRC_FILE:
        return "file";
    default:
        return "default";
    }
}

/* The effective settings, grouped by section; json_out non-NULL collects them instead. */
static void
print_settings(struct check *c, json_t *json_out)
{
    const struct edr_opts *o = &c->ctx->opts;

    for (size_t s = 0; s < sizeof(section_order) / sizeof(section_order[0]); s++) {
        for (size_t i = 0; i < EDR_O__COUNT; i++) {
            const struct edr_optdef *d = &edr_optdefs[i];
            const char *v = o->val[i];
            char src[600], env[96], userbuf[300];
            if (v == NULL || strcmp(d->section, section_order[s]) != 0)
                continue;
            if (secret_name(d->name))
                v = "<redacted>";
            else if (d->id == EDR_O_USER && strchr(v, ':') != NULL) {
                /* etcdctl's NAME:PASSWORD form (from ETCDCTL_USER) */
                snprintf(userbuf, sizeof(userbuf), "%.*s:<redacted>", (int)strcspn(v, ":"), v);
                v = userbuf;
            }
            switch (o->src[i]) {
            case EDR_SRC_FILE:
                snprintf(src, sizeof(src), "%s:%d", c->path, o->file_line[i]);
                break;
            case EDR_SRC_ENV: {
                const char *ev;
                edr_opt_env_name(d, env, sizeof(env));
                ev = getenv(env);
                if ((ev == NULL || *ev == '\0') && d->alt_env != NULL)
                    snprintf(env, sizeof(env), "%s", d->alt_env);
                snprintf(src, sizeof(src), "env %s", env);
                break;
            }
            default:
                snprintf(src, sizeof(src), "%s", source_name(o->src[i]));
            }
            if (json_out != NULL) {
                json_t *j =
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "option", d->name, "section", d->section,
                              "key", d->cfgkey, "value", v, "source", source_name(o->src[i]));
                if (o->src[i] == EDR_SRC_FILE) {
                    json_object_set_new(j, "file", json_string(c->path));
                    json_object_set_new(j, "line", json_integer(o->file_line[i]));
                } else if (o->src[i] == EDR_SRC_ENV) {
                    json_object_set_new(j, "env", json_string(env));
                }
                json_array_append_new(json_out, j);
            } else {
                printf("[%s] %s = %s  (%s)\n", d->section, d->cfgkey, v, src);
            }
        }
    }
}

edr_rc
edr_cmd_config(struct edr_ctx *ctx)
{
    struct check c;
    json_t *root = NULL, *settings = NULL, *jobs = NULL;

    if (strcmp(ctx->opts.args[0], "check") != 0) {
        edr_err_set(&ctx->err, EDR_E_USAGE, "unknown config action '%s'", ctx->opts.args[0]);
        edr_err_hint(&ctx->err, "usage: etcd-dr config check --config FILE [--json]");
        return EDR_E_USAGE;
    }
    if (ctx->opts.config_path == NULL) {
        edr_err_set(&ctx->err, EDR_E_USAGE, "config check: no config file given");
        edr_err_hint(&ctx->err, "use --config FILE or ETCD_DR_CONFIG");
        return EDR_E_USAGE;
    }
    memset(&c, 0, sizeof(c));
    c.ctx = ctx;
    c.path = ctx->opts.config_path;
    c.problems = json_array();
    c.warnings = json_array();
    if (ctx->json) {
        root = json_object();
        settings = json_array();
        jobs = json_array();
    }
    find_job_lines(&c);
    check_ints(&c);
    check_values(&c);
    check_files(&c);
    if (root != NULL) {
        print_settings(&c, settings);
        check_jobs(&c, jobs);
        json_object_set_new(root, "config", json_string(c.path));
        json_object_set_new(root, "valid", json_boolean(c.nproblems == 0));
        json_object_set_new(root, "settings", settings);
        json_object_set_new(root, "schedule", jobs);
        json_object_set_new(root, "errors", json_incref(c.problems));
        json_object_set_new(root, "warnings", json_incref(c.warnings));
        edr_cmd_print_json(root);
    } else {
        if (!ctx->quiet)
            print_settings(&c, NULL);
        check_jobs(&c, NULL);
        if (c.nproblems == 0 && !ctx->quiet)
            printf("config '%s': ok%s\n", c.path, c.nwarnings ? " (with warnings)" : "");
    }
    if (c.nproblems > 1) {
        /* the first one is ctx->err, printed by main.c when it is the only one */
        for (size_t i = 0; root == NULL && i < json_array_size(c.problems); i++)
            edr_log(EDR_LOG_ERROR, "%s", json_string_value(json_array_get(c.problems, i)));
        edr_err_set(&ctx->err, EDR_E_CONFIG, "config '%s': %d problems", c.path, c.nproblems);
    }
    json_decref(c.problems);
    json_decref(c.warnings);
    return c.nproblems == 0 ? EDR_OK : EDR_E_CONFIG;
}
