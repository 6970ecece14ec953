/*
 * info: every cluster of the repository at a glance, with a status that
 * cron and CI can act on (exit EDR_E_CHECK when a cluster is stale or
 * failing). A cluster is
 *   failing         when its most recent verification failed, or a backup
 *                   newer than its newest complete one is damaged;
 *   stale           when it has no complete backup, or its newest one is older
 *                   than the allowed age: --max-age, else twice the period of
 *                   the [schedule] backup cron expression;
 *   never verified  when no backup of it was ever verified;
 *   ok              otherwise.
 * The first that applies wins, in that order.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "changes/segment.h"
#include "cmd/cmd.h"
#include "repo/repo.h"
#include "sched/cron.h"
#include "sched/retention.h"

/* every cluster: no --cluster, and nothing is locked */
const enum edr_opt_id edr_cmd_info_opts[] = {
    EDR_O_REPO,           EDR_O_S3_ENDPOINT, EDR_O_S3_REGION, EDR_O_S3_PATH_STYLE, EDR_O_S3_CACERT,
    EDR_O_S3_SECRET_FILE, EDR_O_JSON,        EDR_O_MAX_AGE,   EDR_O__COUNT};

/* How old the newest backup may get: a fixed cutoff or none. */
struct age_rule {
    int set;
    struct edr_duration max_age; /* --max-age */
    int64_t period_s;            /* or twice the backup schedule's period */
    char source[64];             /* "--max-age 2d", "schedule '0 * * * *'" */
};

static edr_rc
age_rule(struct edr_ctx *ctx, time_t now, struct age_rule *out)
{
    const char *max = edr_opt_str(&ctx->opts, EDR_O_MAX_AGE);
    struct edr_cron cron;
    time_t a, b;
    edr_rc rc;

    memset(out, 0, sizeof(*out));
    if (max != NULL) {
        if ((rc = edr_duration_parse(max, &out->max_age, &ctx->err)) != EDR_OK)
            return edr_err_prefix(&ctx->err, "--max-age");
        out->set = 1;
        snprintf(out->source, sizeof(out->source), "--max-age %s", max);
        return EDR_OK;
    }
    for (int i = 0; i < ctx->opts.nsched; i++) {
        const char *tz = edr_opt_str(&ctx->opts, EDR_O_TIMEZONE);
        if (strcmp(ctx->opts.sched_name[i], "backup") != 0)
            continue;
        /* the period: the gap between the next two runs */
        if ((rc = edr_cron_parse(&cron, ctx->opts.sched_cron[i], &ctx->err)) != EDR_OK ||
            (rc = edr_cron_next(&cron, now, tz, &a, &ctx->err)) != EDR_OK ||
            (rc = edr_cron_next(&cron, a, tz, &b, &ctx->err)) != EDR_OK)
            return edr_err_prefix(&ctx->err, "[schedule] backup");
        out->set = 1;
        out->period_s = (int64_t)(b - a);
        snprintf(out->source, sizeof(out->source), "schedule '%.40s'", ctx->opts.sched_cron[i]);
    }
    return EDR_OK;
}

/* The newest time a backup may have finished and still not be stale. */
static time_t
age_cutoff(const struct age_rule *r, time_t now)
{
    if (r->period_s > 0)
        return now - (time_t)(2 * r->period_s);
    return edr_duration_before(now, &r->max_age);
}

/* When the data of backup m was taken: an imported snapshot is as old as the
 * tool that took it says, not as old as its import. */
static time_t
taken(const struct edr_manifest *m)
{
    return m->origin.time != 0 ? m->origin.time : m->finished;
}

enum status { ST_OK, ST_NEVER_VERIFIED, ST_STALE, ST_FAILING };
static const char *const status_names[] = {"ok", "never verified", "stale", "failing"};

struct cluster_info {
    const char *name;
    enum status status;
    char why[160];
    size_t backups, damaged;
    const struct edr_manifest *oldest, *newest, *verified; /* verified: most recent verify */
    uint64_t stored;
    json_t *ranges; /* recoverable revision ranges from captured changes */
};

static void
add_range(struct cluster_info *ci, const struct edr_manifest *list, size_t n,
          const struct edr_chain *c)
{
    const struct edr_manifest *base = NULL;
    char t[32];

    /* the oldest backup the chain continues is where the range starts */
    for (size_t i = 0; i < n; i++)
        if (edr_backup_base_rev(list[i].revision) >= c->from_rev &&
            edr_backup_base_rev(list[i].revision) < c->to_rev &&
            (base == NULL || list[i].revision < base->revision))
            base = &list[i];
    if (base == NULL)
        return;
    edr_time_iso((time_t)(c->to_ms / 1000), t);
    json_array_append_new(ci->ranges,
                          json_pack("{s:I, s:s, s:I, s:s}", "from_revision",
                                    (json_int_t)base->revision, "from_backup", base->id,
                                    "to_revision", (json_int_t)c->to_rev, "to_time", t));
}

static edr_rc
examine(struct edr_repo *repo, const struct age_rule *rule, time_t now, struct cluster_info *ci,
        struct edr_manifest **list, struct edr_err *err)
{
    struct edr_repo_problem *probs = NULL;
    struct edr_segment *segs = NULL;
    struct edr_chain *chains = NULL;
    size_t n = 0, np = 0, nsegs = 0, nc = 0;
    edr_rc rc;

    if ((rc = edr_repo_list_all(repo, list, &n, &probs, &np, err)) != EDR_OK ||
        (rc = edr_segment_list(repo, &segs, &nsegs, NULL, NULL, err)) != EDR_OK ||
        (rc = edr_segment_chains(segs, nsegs, &chains, &nc, err)) != EDR_OK)
        goto out;
    ci->backups = n;
    ci->ranges = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct edr_manifest *m = &(*list)[i];
        ci->stored += m->stored_size;
        if (m->verified != 0 &&
            (ci->verified == NULL || m->verify_time >= ci->verified->verify_time))
            ci->verified = m;
    }
    for (size_t i = 0; i < n; i++) {
        const struct edr_manifest *m = &(*list)[i];
        if (ci->oldest == NULL || taken(m) < taken(ci->oldest))
            ci->oldest = m;
        if (ci->newest == NULL || taken(m) >= taken(ci->newest))
            ci->newest = m;
    }
    for (size_t i = 0; i < np; i++)
        if ((n == 0 || strcmp(probs[i].id, (*list)[n - 1].id) > 0) &&
            strstr(probs[i].msg, "(incomplete)") == NULL)
            ci->damaged++;
    for (size_t k = 0; k < nc; k++)
        add_range(ci, *list, n, &chains[k]);

    if (ci->verified != NULL && ci->verified->verified < 0) {
        ci->status = ST_FAILING;
        snprintf(ci->why, sizeof(ci->why), "the last verification (%s, %s) failed",
                 ci->verified->id, ci->verified->verify_level);
    } else if (ci->damaged > 0) {
        ci->status = ST_FAILING;
        snprintf(ci->why, sizeof(ci->why), "%zu backup%s newer than the newest good one damaged",
                 ci->damaged, ci->damaged == 1 ? "" : "s");
    } else if (n == 0) {
        ci->status = ST_STALE;
        snprintf(ci->why, sizeof(ci->why), "no complete backup");
    } else if (rule->set && taken(ci->newest) < age_cutoff(rule, now)) {
        ci->status = ST_STALE;
        snprintf(ci->why, sizeof(ci->why), "newest backup older than allowed by %s", rule->source);
    } else if (ci->verified == NULL) {
        ci->status = ST_NEVER_VERIFIED;
    }
out:
    free(probs);
    free(segs);
    free(chains);
    return rc;
}

static json_t *
backup_json(const struct edr_manifest *m, time_t now)
{
    char t[32];

    if (m == NULL)
        return json_null();
    edr_time_iso(taken(m), t);
    return json_pack("{s:s, s:s, s:I, s:I}", "id", m->id, "time", t, "revision",
                     (json_int_t)m->revision, "age_seconds", (json_int_t)(now - taken(m)));
}

static json_t *
cluster_json(const struct cluster_info *ci, time_t now)
{
    json_t *v = json_null();

    if (ci->verified != NULL) {
        char t[32];
        edr_time_iso(ci->verified->verify_time, t);
        v = json_pack("{s:s, s:s, s:s, s:b}", "id", ci->verified->id, "time", t, "level",
                      ci->verified->verify_level, "ok", ci->verified->verified > 0);
    }
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:o, s:o, s:I, s:O}", "cluster", ci->name,
                     "status", status_names[ci->status], "reason", ci->why, "backups",
                     (json_int_t)ci->backups, "damaged", (json_int_t)ci->damaged, "oldest",
                     backup_json(ci->oldest, now), "newest", backup_json(ci->newest, now),
                     "last_verify", v, "stored_bytes", (json_int_t)ci->stored, "recoverable",
                     ci->ranges);
}

static void
fmt_age(int64_t s, char *buf, size_t n)
{
    if (s < 120)
        snprintf(buf, n, "%" PRId64 "s", s);
    else if (s < 2 * 3600)
        snprintf(buf, n, "%" PRId64 "m", s / 60);
    else if (s < 2 * 86400)
        snprintf(buf, n, "%" PRId64 "h", s / 3600);
    else
        snprintf(buf, n, "%" PRId64 "d", s / 86400);
}

#define ROW_FMT "%-16s %-14s %7s %9s %-20s %-20s %5s %10s %-36s %s\n"

static void
print_header(void)
{
    printf(ROW_FMT, "CLUSTER", "STATUS", "BACKUPS", "STORED", "OLDEST", "NEWEST", "AGE", "REVISION",
           "LAST VERIFIED", "RECOVERABLE");
}

/* One row of the table; the reason, if any, is added to notes for below it. */
static void
print_cluster(const struct cluster_info *ci, time_t now, json_t *notes)
{
    char n[32], st[32], a[32] = "-", b[32] = "-", age[32] = "-", rev[32] = "-", ver[64] = "never",
                        rec[64] = "-";

    snprintf(n, sizeof(n), "%zu", ci->backups);
    edr_fmt_bytes(ci->stored, st, sizeof(st));
    if (ci->newest != NULL) {
        edr_time_iso(taken(ci->oldest), a);
        edr_time_iso(taken(ci->newest), b);
        fmt_age((int64_t)(now - taken(ci->newest)), age, sizeof(age));
        snprintf(rev, sizeof(rev), "%" PRId64, ci->newest->revision);
    }
    if (ci->verified != NULL) {
        char t[32];
        edr_time_iso(ci->verified->verify_time, t);
        snprintf(ver, sizeof(ver), "%s %s %s", t, ci->verified->verify_level,
                 ci->verified->verified > 0 ? "ok" : "FAILED");
    }
    if (json_array_size(ci->ranges) > 0) {
        json_t *r = json_array_get(ci->ranges, json_array_size(ci->ranges) - 1);
        snprintf(rec, sizeof(rec), "%" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(r, "from_revision")),
                 json_integer_value(json_object_get(r, "to_revision")));
    }
    printf(ROW_FMT, ci->name, status_names[ci->status], n, st, a, b, age, rev, ver, rec);
    if (ci->why[0] != '\0')
        json_array_append_new(notes, json_sprintf("%s: %s", ci->name, ci->why));
}

edr_rc
edr_cmd_info(struct edr_ctx *ctx)
{
    struct edr_repo *repo = ctx->repo;
    struct age_rule rule;
    char **names = NULL;
    int nn = 0, bad = 0;
    json_t *arr = NULL, *notes = json_array();
    time_t now = time(NULL);
    edr_rc rc;

    if ((rc = age_rule(ctx, now, &rule)) != EDR_OK ||
        (rc = edr_repo_clusters(repo, &names, &nn, &ctx->err)) != EDR_OK)
        goto out;
    arr = json_array();
    if (nn == 0 && !ctx->json && !ctx->quiet)
        printf("no clusters in '%s'\n", repo->st->url);
    else if (!ctx->json && !ctx->quiet)
        print_header();
    for (int i = 0; i < nn; i++) {
        struct cluster_info ci;
        struct edr_manifest *list = NULL;

        memset(&ci, 0, sizeof(ci));
        ci.name = names[i];
        if ((rc = edr_repo_set_cluster(repo, names[i], &ctx->err)) != EDR_OK ||
            (rc = examine(repo, &rule, now, &ci, &list, &ctx->err)) != EDR_OK) {
            json_decref(ci.ranges);
            free(list);
            goto out;
        }
        if (ci.status == ST_STALE || ci.status == ST_FAILING)
            bad++;
        if (ctx->json) {
            json_array_append_new(arr, cluster_json(&ci, now));
        } else if (!ctx->quiet) {
            print_cluster(&ci, now, notes);
        }
        json_decref(ci.ranges);
        free(list);
    }
    if (ctx->json) {
        json_t *o = json_pack("{s:s, s:O, s:i}", "repository", repo->st->url, "clusters", arr,
                              "problems", bad);
        json_object_set_new(o, "max_age", rule.set ? json_string(rule.source) : json_null());
        edr_cmd_print_json(o);
    } else if (!ctx->quiet) {
        for (size_t i = 0; i < json_array_size(notes); i++)
            printf("%s%s\n", i == 0 ? "\n" : "", json_string_value(json_array_get(notes, i)));
    }
    if (!ctx->json && !ctx->quiet && !rule.set && nn > 0) {
        printf(
            "\n(no age limit: give --max-age or a [schedule] backup entry to check staleness)\n");
    }
    if (bad > 0)
        rc = edr_err_set(&ctx->err, EDR_E_CHECK, "%d cluster%s stale or failing", bad,
                         bad == 1 ? "" : "s");
out:
    json_decref(arr);
    json_decref(notes);
    edr_strv_free(names, nn);
    return rc;
}
