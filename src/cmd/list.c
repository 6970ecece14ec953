/*
 * list: the complete backups of one cluster, oldest first.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "cmd/cmd.h"
#include "repo/repo.h"

const enum edr_opt_id edr_cmd_list_opts[] = {EDR_OPTS_REPO, EDR_O_JSON, EDR_O__COUNT};

json_t *edr_cmd_manifest_json(const struct edr_manifest *m);

json_t *
edr_cmd_manifest_json(const struct edr_manifest *m)
{
    char *s = NULL;
    json_t *o = NULL;
    struct edr_err err;

    if (edr_manifest_to_json(m, &s, &err) == EDR_OK)
        o = json_loads(s, 0, NULL);
    free(s);
    if (o != NULL && m->verified != 0) {
        char t[32];
        edr_time_iso(m->verify_time, t);
        json_object_set_new(o, "last_verify",
                            json_pack("{s:s, s:b, s:s}", "level", m->verify_level, "ok",
                                      m->verified > 0, "time", t));
    }
    return o;
}

static void
ms_iso(int64_t ms, char out[40])
{
    char t[32];

    edr_time_iso((time_t)(ms / 1000), t);
    snprintf(out, 40, "%.19s.%03dZ", t, (int)(ms % 1000));
}

/* The chain that continues backup m: one whose range (from, to] holds the
 * revision after it, or NULL. */
static const struct edr_chain *
chain_of(const struct edr_manifest *m, const struct edr_chain *c, size_t nc)
{
    for (size_t i = nc; i-- > 0;)
        if (c[i].from_rev <= edr_backup_base_rev(m->revision) &&
            c[i].to_rev > edr_backup_base_rev(m->revision))
            return &c[i];
    return NULL;
}

static void
print_changes(const struct edr_manifest *list, size_t n, const struct edr_chain *chains, size_t nc)
{
    printf("\nchanges captured (restore --to-revision / --to-time):\n");
    for (size_t k = 0; k < nc; k++) {
        const struct edr_chain *c = &chains[k];
        const struct edr_manifest *base = NULL;
        char a[40], b[40];

        for (size_t i = 0; i < n; i++)
            if (chain_of(&list[i], c, 1) != NULL &&
                (base == NULL || list[i].revision < base->revision))
                base = &list[i];
        ms_iso(c->from_ms, a);
        ms_iso(c->to_ms, b);
        printf("  revisions %" PRId64 "..%" PRId64 " (%s .. %s), %zu segment%s: ", c->from_rev + 1,
               c->to_rev, a, b, c->last - c->first + 1, c->last == c->first ? "" : "s");
        if (base != NULL)
            printf("any revision from %" PRId64 " (backup %s) to %" PRId64 " is recoverable\n",
                   base->revision, base->id, c->to_rev);
        else
            printf("NOT recoverable: no backup at or after revision %" PRId64 " in this range\n",
                   c->from_rev);
    }
}

static int
any_object(const struct edr_storage_entry *e, void *ud)
{
    (void)e;
    *(int *)ud = 1;
    return 1;
}

/* EDR_E_NOTFOUND naming the clusters the repository holds, when it holds
 * some but not the one asked for (or defaulted to); EDR_OK otherwise. */
static edr_rc
check_cluster_exists(struct edr_ctx *ctx)
{
    struct edr_repo *repo = ctx->repo;
    char **names = NULL, have[512] = "";
    int nn = 0, found = 0;
    size_t len = 0;
    edr_rc rc;

    if ((rc = edr_repo_clusters(repo, &names, &nn, &ctx->err)) != EDR_OK)
        return rc;
    for (int i = 0; i < nn; i++) {
        found |= strcmp(names[i], repo->cluster) == 0;
        if (len < sizeof(have))
            len +=
                (size_t)snprintf(have + len, sizeof(have) - len, "%s%s", i ? ", " : "", names[i]);
    }
    if (nn > 0 && !found) {
        /* a cluster whose backups were all pruned still has its lock */
        struct edr_storage_stat sb = {0};
        char prefix[128];
        snprintf(prefix, sizeof(prefix), "%s/", repo->cluster);
        if ((rc = repo->st->ops->list(repo->st, prefix, any_object, &found, &ctx->err)) != EDR_OK)
            goto out;
        edr_repo_object_name(repo, ".lock", "", prefix, sizeof(prefix));
        if (!found && (rc = repo->st->ops->stat(repo->st, prefix, &sb, &ctx->err)) != EDR_OK)
            goto out;
        found |= sb.exists;
    }
    if (nn > 0 && !found) {
        if (ctx->opts.src[EDR_O_CLUSTER] == EDR_SRC_DEFAULT)
            edr_err_set(&ctx->err, EDR_E_NOTFOUND,
                        "no cluster given and no cluster 'default' in '%s'; it holds: %s",
                        repo->st->url, have);
        else
            edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no cluster '%s' in '%s'; it holds: %s",
                        repo->cluster, repo->st->url, have);
        edr_err_hint(&ctx->err, "give --cluster NAME, or run 'etcd-dr info' to see them all");
        rc = EDR_E_NOTFOUND;
    }
out:
    edr_strv_free(names, nn);
    return rc;
}

edr_rc
edr_cmd_list(struct edr_ctx *ctx)
{
    struct edr_segment *segs = NULL;
    struct edr_chain *chains = NULL;
    size_t nsegs = 0, nc = 0;
    struct edr_repo *repo = ctx->repo;
    struct edr_manifest *list = NULL;
    size_t n = 0;
    edr_rc rc;

    if ((rc = edr_repo_list(repo, &list, &n, &ctx->err)) != EDR_OK ||
        (rc = edr_segment_list(repo, &segs, &nsegs, NULL, NULL, &ctx->err)) != EDR_OK ||
        (rc = edr_segment_chains(segs, nsegs, &chains, &nc, &ctx->err)) != EDR_OK)
        goto out;
    /* an empty list: a cluster that does not exist, or one without backups */
    if (n == 0 && nsegs == 0 && (rc = check_cluster_exists(ctx)) != EDR_OK)
        goto out;
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++) {
            json_t *o = edr_cmd_manifest_json(&list[i]);
            const struct edr_chain *c = chain_of(&list[i], chains, nc);
            char t[40];
            if (o != NULL && c != NULL) {
                ms_iso(c->to_ms, t);
                /* captured changes continue this backup up to there */
                json_object_set_new(
                    o, "recoverable_to",
                    json_pack("{s:I, s:s}", "revision", (json_int_t)c->to_rev, "time", t));
            }
            json_array_append_new(arr, o);
        }
        edr_cmd_print_json(arr);
        goto out;
    }
    if (n == 0) {
        if (!ctx->quiet)
            printf("no backups for cluster '%s' in '%s'\n", repo->cluster, repo->st->url);
        goto out;
    }
    printf("%-28s %-20s %10s %-8s %10s %10s %-9s %s\n", "ID", "FINISHED", "REVISION", "ETCD", "DB",
           "STORED", "ENCRYPTED", "VERIFIED");
    for (size_t i = 0; i < n; i++) {
        char t[32], db[32], st[32];
        const struct edr_manifest *m = &list[i];
        edr_time_iso(m->finished, t);
        edr_fmt_bytes(m->db_size, db, sizeof(db));
        edr_fmt_bytes(m->stored_size, st, sizeof(st));
        printf("%-28s %-20s %10" PRId64 " %-8s %10s %10s %-9s %s%s%s\n", m->id, t, m->revision,
               m->etcd_version[0] ? m->etcd_version : "-", db, st, m->encrypted ? "yes" : "NO",
               m->verified == 0  ? "-"
               : m->verified > 0 ? "ok"
                                 : "FAIL",
               m->verified ? " " : "", m->verified ? m->verify_level : "");
    }
    if (nc > 0)
        print_changes(list, n, chains, nc);
out:
    free(segs);
    free(chains);
    free(list);
    return rc;
}
