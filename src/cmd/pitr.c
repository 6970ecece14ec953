/*
 * restore --to-revision / --to-time: which backup and which captured changes
 * reach the target (the restore itself is the ordinary one, with the
 * changes replayed into the db it writes).
 */
#include "cmd/pitr.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "repo/manifest.h"

/* "2026-12-02T10:15:00Z", optionally with .mmm before the Z, as Unix ms */
static int
parse_time_ms(const char *s, int64_t *ms)
{
    char base[32];
    time_t t;
    size_t n = strlen(s);
    int64_t frac = 0;

    if (n == 24 && s[19] == '.' && s[23] == 'Z' && strspn(s + 20, "0123456789") == 3) {
        snprintf(base, sizeof(base), "%.19sZ", s);
        frac = strtol(s + 20, NULL, 10);
    } else {
        snprintf(base, sizeof(base), "%s", s);
    }
    if (edr_time_parse_iso(base, &t) != 0)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

edr_rc
edr_pitr_prepare(struct edr_ctx *ctx, const char *ref, struct edr_pitr *p)
{
    const char *to_time = edr_opt_str(&ctx->opts, EDR_O_TO_TIME);
    int64_t to_rev, t_ms = 0;
    size_t b, first, last;
    edr_rc rc;

    memset(p, 0, sizeof(*p));
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_TO_REVISION, 1, INT64_MAX / 4, &to_rev, &ctx->err)))
        return rc;
    if (to_rev == 0 && to_time == NULL)
        return EDR_OK;
    if (to_rev > 0 && to_time != NULL)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "--to-revision and --to-time exclude each other");
    if (to_time != NULL && parse_time_ms(to_time, &t_ms) != 0)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "invalid --to-time '%s' (UTC, like 2026-12-02T10:15:00Z)", to_time);
    p->asked = 1;
    if ((rc = edr_cmd_open_repo(ctx, 0, &p->repo)) != EDR_OK ||
        (rc = edr_cmd_load_identity(ctx, 0, &p->identity)) != EDR_OK ||
        (rc = edr_repo_list(p->repo, &p->backups, &p->nb, &ctx->err)) != EDR_OK ||
        (rc = edr_segment_list(p->repo, &p->segs, &p->nsegs, NULL, NULL, &ctx->err)) != EDR_OK)
        return rc;
    if (ref != NULL) {
        /* the backup to start from is given: only it may serve */
        struct edr_manifest m;
        if ((rc = edr_repo_resolve(p->repo, ref, &m, &ctx->err)) != EDR_OK)
            return rc;
        p->backups[0] = m;
        p->nb = 1;
    }
    if (to_time != NULL) {
        rc = edr_replay_time_to_rev(p->repo, p->identity, p->backups, p->nb, p->segs, p->nsegs,
                                    t_ms, &to_rev, &ctx->err);
        if (rc != EDR_OK)
            return edr_err_prefix(&ctx->err, "--to-time %s", to_time);
        edr_info("--to-time %s is revision %" PRId64, to_time, to_rev);
    }
    rc =
        edr_replay_plan(p->backups, p->nb, p->segs, p->nsegs, to_rev, &b, &first, &last, &ctx->err);
    if (rc != EDR_OK)
        return rc;
    snprintf(p->backup_id, sizeof(p->backup_id), "%s", p->backups[b].id);
    p->rp.repo = p->repo;
    p->rp.identity = p->identity;
    p->rp.segs = p->segs;
    p->rp.first = first;
    p->rp.last = last;
    p->rp.from_rev = p->backups[b].revision;
    p->rp.to_rev = to_rev;
    edr_info("revision %" PRId64 ": backup '%s' (revision %" PRId64
             ") and %zu segment%s of changes",
             to_rev, p->backup_id, p->backups[b].revision, first <= last ? last - first + 1 : 0,
             first <= last && last == first ? "" : "s");
    return EDR_OK;
}

void
edr_pitr_db_opts(struct edr_pitr *p, struct edr_restore_db_opts *o)
{
    if (!p->asked || p->rp.first > p->rp.last)
        return;
    o->append_keys = edr_replay_append_keys;
    o->lease_entries = edr_replay_lease_entries;
    o->replay_ud = &p->rp;
    p->rp.drop = o->drop;
    o->replay_to = p->rp.to_rev;
}

void
edr_pitr_release(struct edr_pitr *p)
{
    edr_replay_release(&p->rp);
    free(p->backups);
    free(p->segs);
    edr_identity_free(p->identity);
    edr_repo_free(p->repo);
    memset(p, 0, sizeof(*p));
}
