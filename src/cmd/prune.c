/*
 * prune: retention rules over one cluster's backups. The decision is pure
 * logic (sched/retention.c); this file lists, prints and deletes. Deletion
 * removes the manifest first, so a crash mid-prune never leaves a listed
 * backup without its data.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "repo/repo.h"
#include "sched/retention.h"

const enum edr_opt_id edr_cmd_prune_opts[] = {EDR_OPTS_REPO, EDR_OPTS_RETENTION, EDR_O_DRY_RUN,
                                              EDR_O_JSON, EDR_O__COUNT};

int
edr_retention_opts_set(const struct edr_opts *o)
{
    static const enum edr_opt_id counts[] = {EDR_OPTS_RETENTION_COUNTS};

    if (edr_opt_str(o, EDR_O_KEEP_WITHIN) != NULL ||
        edr_opt_str(o, EDR_O_KEEP_CHANGES_WITHIN) != NULL)
        return 1;
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        const char *v = edr_opt_str(o, counts[i]);
        if (v != NULL && strtoll(v, NULL, 10) != 0)
            return 1;
    }
    return 0;
}

edr_rc
edr_prune_params_from_opts(const struct edr_opts *o, struct edr_prune_params *pp,
                           struct edr_err *err)
{
    struct edr_retention_policy *p = &pp->policy;
    int64_t v;
    edr_rc rc;
    const char *within = edr_opt_str(o, EDR_O_KEEP_WITHIN);
    static const struct {
        enum edr_opt_id id;
        size_t off;
    } counts[] = {
        {EDR_O_KEEP_LAST, offsetof(struct edr_retention_policy, keep_last)},
        {EDR_O_KEEP_HOURLY, offsetof(struct edr_retention_policy, keep_hourly)},
        {EDR_O_KEEP_DAILY, offsetof(struct edr_retention_policy, keep_daily)},
        {EDR_O_KEEP_WEEKLY, offsetof(struct edr_retention_policy, keep_weekly)},
        {EDR_O_KEEP_MONTHLY, offsetof(struct edr_retention_policy, keep_monthly)},
        {EDR_O_KEEP_YEARLY, offsetof(struct edr_retention_policy, keep_yearly)},
        {EDR_O_KEEP_VERIFIED, offsetof(struct edr_retention_policy, keep_verified)},
    };

    memset(pp, 0, sizeof(*pp));
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        if ((rc = edr_opt_int(o, counts[i].id, -1, 1000000, &v, err)) != EDR_OK)
            return rc;
        *(int *)((char *)p + counts[i].off) = (int)v;
    }
    if (within != NULL) {
        if ((rc = edr_duration_parse(within, &p->keep_within, err)) != EDR_OK)
            return rc;
        p->has_within = 1;
    }
    if ((within = edr_opt_str(o, EDR_O_KEEP_CHANGES_WITHIN)) != NULL) {
        if ((rc = edr_duration_parse(within, &p->keep_changes_within, err)) != EDR_OK)
            return edr_err_prefix(err, "--keep-changes-within");
        p->has_changes_within = 1;
    }
    if ((rc = edr_opt_int(o, EDR_O_LOCK_WAIT, 0, 86400, &v, err)) != EDR_OK)
        return rc;
    pp->lock_wait = (int)v;
    pp->dry_run = edr_opt_bool(o, EDR_O_DRY_RUN);
    return EDR_OK;
}

/* Captured changes that no kept backup needs (segment.h, edr_segment_floor). */
static edr_rc
prune_changes(struct edr_ctx *ctx, struct edr_repo *repo, const struct edr_retention_policy *pol,
              const struct edr_manifest *list, const struct edr_retention_decision *dec, size_t n,
              int dry, json_t *arr)
{
    struct edr_segment *segs = NULL;
    int64_t *revs = calloc(n ? n : 1, sizeof(*revs)), floor;
    time_t *times = calloc(n ? n : 1, sizeof(*times)), cutoff = 0;
    size_t nsegs = 0, kept = 0;
    edr_rc rc;

    if (revs == NULL || times == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_segment_list(repo, &segs, &nsegs, NULL, NULL, &ctx->err)) != EDR_OK || nsegs == 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (dec[i].keep) {
            revs[kept] = list[i].revision;
            times[kept++] = list[i].started;
        }
    if (pol->has_changes_within) {
        time_t newest = (time_t)(segs[nsegs - 1].last_time_ms / 1000);
        cutoff = edr_duration_before(newest, &pol->keep_changes_within);
    }
    floor = edr_segment_floor(revs, times, kept, pol->has_changes_within, cutoff);
    for (size_t i = 0; floor >= 0 && i < nsegs; i++) {
        const struct edr_segment *s = &segs[i];
        char id[64], why[160];
        int keep = s->last_revision > floor;

        snprintf(id, sizeof(id), "changes/%" PRId64 "-%" PRId64, s->first_revision,
                 s->last_revision);
        if (keep)
            snprintf(why, sizeof(why), "needed after revision %" PRId64 " (a kept backup)%s", floor,
                     pol->has_changes_within ? ", keep-changes-within" : "");
        else
            snprintf(why, sizeof(why),
                     "no kept backup needs it (ends at or before revision %" PRId64 ")", floor);
        if (arr != NULL)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", id, "action",
                                                 keep ? "keep" : "remove", "reasons", why));
        else if (dry || (!ctx->quiet && !keep))
            printf("%-6s %s  %s\n", keep ? "keep" : "remove", id, why);
        if (keep || dry)
            continue;
        if ((rc = edr_segment_delete(repo, s, &ctx->err)) != EDR_OK)
            goto out;
        edr_info("removed captured changes %s of '%s'", id + 8, repo->cluster);
    }
out:
    free(segs);
    free(revs);
    free(times);
    return rc;
}

edr_rc
edr_prune_run(struct edr_ctx *ctx, struct edr_repo *repo, const struct edr_prune_params *p,
              int locked, void **decisions)
{
    struct edr_manifest *list = NULL;
    struct edr_backup_ref *refs = NULL;
    struct edr_retention_decision *dec = NULL;
    struct edr_storage_lock *lock = NULL;
    size_t n = 0, removed = 0;
    int dry = p->dry_run;
    json_t *arr = NULL;
    edr_rc rc;

    if (!locked && !dry && (rc = edr_repo_lock(repo, p->lock_wait, &lock, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = edr_repo_list(repo, &list, &n, &ctx->err)) != EDR_OK || n == 0)
        goto out;
    refs = calloc(n, sizeof(*refs));
    dec = calloc(n, sizeof(*dec));
    if (refs == NULL || dec == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        refs[i].id = list[i].id;
        refs[i].time = list[i].started;
        refs[i].verified = list[i].verified > 0;
    }
    if (!edr_retention_has_backup_rule(&p->policy) && p->policy.has_changes_within) {
        /* only a rule for captured changes: every backup stays */
        for (size_t i = 0; i < n; i++) {
            dec[i].keep = 1;
            snprintf(dec[i].reasons, sizeof(dec[i].reasons), "no backup rule given");
        }
    } else if ((rc = edr_retention_apply(&p->policy, refs, n, dec, &ctx->err)) != EDR_OK) {
        goto out;
    }
    if (ctx->json)
        arr = json_array();
    for (size_t i = n; i-- > 0;) {
        if (arr != NULL)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "id", list[i].id, "action",
                                                 dec[i].keep ? "keep" : "remove", "reasons",
                                                 dec[i].reasons));
        else if (dry || (!ctx->quiet && !dec[i].keep))
            printf("%-6s %s%s%s\n", dec[i].keep ? "keep" : "remove", list[i].id,
                   dec[i].keep ? "  " : "", dec[i].reasons);
        if (dec[i].keep || dry)
            continue;
        if ((rc = edr_repo_delete(repo, list[i].id, &ctx->err)) != EDR_OK)
            goto out;
        removed++;
        edr_info("removed backup '%s/%s'", repo->cluster, list[i].id);
    }
    rc = prune_changes(ctx, repo, &p->policy, list, dec, n, dry, arr);
out:
    if (arr != NULL && decisions != NULL)
        *decisions = arr; /* one JSON document: the caller's */
    else if (arr != NULL)
        edr_cmd_print_json(arr);
    (void)removed;
    if (lock != NULL)
        edr_repo_unlock(repo, lock);
    free(list);
    free(refs);
    free(dec);
    return rc;
}

edr_rc
edr_cmd_prune(struct edr_ctx *ctx)
{
    struct edr_prune_params p;
    edr_rc rc;

    if ((rc = edr_prune_params_from_opts(&ctx->opts, &p, &ctx->err)) != EDR_OK)
        return rc;
    return edr_prune_run(ctx, ctx->repo, &p, 0, NULL);
}
