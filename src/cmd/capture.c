/*
 * capture: record every change of the cluster as change segments, until
 * stopped (SIGINT/SIGTERM end it cleanly after publishing what is complete).
 *
 * It continues the newest chain of the repository, or starts one after the
 * newest full backup, or takes a full backup first when there is none. When
 * the revision to continue from was compacted (capture was down too long),
 * it takes a full backup and starts a new chain after it. Endpoints are
 * tried in --endpoint-policy order; a broken watch resumes on the next one
 * at the revision after the last published segment.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "changes/capture.h"
#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "etcd/client.h"
#include "repo/repo.h"
#include "sched/metrics.h"

const enum edr_opt_id edr_cmd_capture_opts[] = {
    EDR_OPTS_ETCD, EDR_OPTS_REPO, EDR_O_RECIPIENT,    EDR_O_NO_ENCRYPT, EDR_O_COMPRESS_LEVEL,
    EDR_O_THREADS, EDR_O_FLUSH,   EDR_O_METRICS_FILE, EDR_O__COUNT};

#define FLUSH_BYTES (8u << 20)

struct metrics_ctx {
    const char *path;
    struct edr_metrics m;
    uint64_t events;
};

/* After each published segment: the metrics file, when asked for. */
static void
published(void *ud, const struct edr_segment *s, int64_t etcd_rev)
{
    struct metrics_ctx *mc = ud;
    struct edr_err e2;

    mc->events += s->events;
    if (mc->path == NULL)
        return;
    mc->m.has = 0;
    edr_metrics_set(&mc->m, EDR_M_CAPTURE_REVISION, (double)s->last_revision);
    edr_metrics_set(&mc->m, EDR_M_CAPTURE_PUBLISH, (double)time(NULL));
    edr_metrics_set(&mc->m, EDR_M_CAPTURE_EVENTS, (double)mc->events);
    edr_metrics_set(&mc->m, EDR_M_CAPTURE_LAG,
                    (double)(etcd_rev > s->last_revision ? etcd_rev - s->last_revision : 0));
    if (edr_metrics_write(mc->path, &mc->m, &e2) != EDR_OK)
        edr_warn("%s", e2.msg);
}

/* --flush: seconds, with an optional unit s or m; 1 s to 1 h. */
static edr_rc
flush_interval(struct edr_ctx *ctx, int64_t *out)
{
    const char *v = edr_opt_str(&ctx->opts, EDR_O_FLUSH);
    char *end;
    long long n;

    errno = 0;
    n = strtoll(v != NULL ? v : "5", &end, 10);
    if (errno == 0 && end != v && *end == 'm' && end[1] == '\0')
        n *= 60;
    else if (errno != 0 || end == v || (*end != '\0' && strcmp(end, "s") != 0))
        n = -1;
    if (n < 1 || n > 3600)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "invalid --flush '%s' (seconds from 1 to 3600, like 5, 5s or 2m)", v);
    *out = n;
    return EDR_OK;
}

/* A full backup now; the chain then starts after its revision. */
/* The revision etcd reports now (the first endpoint that answers); 0 when none does. */
static int64_t
etcd_revision(struct edr_etcd_client *c)
{
    for (size_t i = 0; i < edr_etcd_endpoint_count(c); i++) {
        struct edr_etcd_status es;
        struct edr_err e2;
        if (edr_etcd_status(c, i, &es, &e2) == EDR_OK)
            return es.revision;
    }
    return 0;
}

static edr_rc
full_backup(struct edr_ctx *ctx, const struct edr_backup_params *bp, struct edr_etcd_client *qc,
            struct edr_capture_state *st, const char *why)
{
    int64_t before;

    struct edr_backup_summary sum;
    uint64_t auth_rev;
    int auth_unsupported;
    edr_rc rc;

    edr_warn("%s: taking a full backup to start a new chain of changes", why);
    /* the snapshot holds at least this revision */
    before = etcd_revision(qc);
    rc = edr_backup_run(ctx, bp, &sum);
    free(sum.prune);
    if (rc != EDR_OK)
        return rc;
    auth_rev = st->auth_rev;
    auth_unsupported = st->auth_unsupported;
    memset(st, 0, sizeof(*st));
    st->auth_rev = auth_rev;
    st->auth_unsupported = auth_unsupported;
    st->next_rev = sum.manifest.revision + 1;
    st->backup_holds = before;
    st->cluster_id = sum.manifest.cluster_id;
    snprintf(st->base, sizeof(st->base), "%s", sum.manifest.id);
    edr_warn("full backup '%s' at revision %" PRId64
             "; new chain of changes from revision %" PRId64,
             sum.manifest.id, sum.manifest.revision, st->next_rev);
    return EDR_OK;
}

/* Remove what killed runs left under changes/ (we hold the capture lock, so
 * no segment is being published): temp files and data without a manifest. */
static void
clean_leftovers(struct edr_repo *repo, const struct edr_seg_problem *probs, size_t n)
{
    char prefix[200];
    struct edr_err e2;

    snprintf(prefix, sizeof(prefix), "%s/changes/", repo->cluster);
    repo->st->ops->cleanup(repo->st, prefix, 0, &e2);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(probs[i].name);
        if (len > 4 && strcmp(probs[i].name + len - 4, ".edr") == 0) {
            edr_info("removing '%s' (%s: left by an interrupted run)", probs[i].name, probs[i].msg);
            repo->st->ops->del(repo->st, probs[i].name, &e2);
        } else {
            edr_warn("%s: %s", probs[i].name, probs[i].msg);
        }
    }
}

/* Where to continue: after the newest chain, else after the newest backup. */
static edr_rc
resume_point(struct edr_ctx *ctx, const struct edr_backup_params *bp, struct edr_etcd_client *qc,
             struct edr_repo *repo, struct edr_capture_state *st)
{
    struct edr_segment *segs = NULL;
    struct edr_seg_problem *probs = NULL;
    struct edr_chain *chains = NULL;
    struct edr_manifest *list = NULL;
    size_t n = 0, np = 0, nc = 0, nb = 0;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    if ((rc = edr_segment_list(repo, &segs, &n, &probs, &np, &ctx->err)) != EDR_OK)
        return rc;
    clean_leftovers(repo, probs, np);
    if ((rc = edr_segment_chains(segs, n, &chains, &nc, &ctx->err)) != EDR_OK)
        goto out;
    if (nc > 0) {
        const struct edr_segment *last = &segs[chains[nc - 1].last];
        st->next_rev = last->last_revision + 1;
        st->cluster_id = last->cluster_id;
        snprintf(st->prev_sha256, sizeof(st->prev_sha256), "%s", last->records_sha256);
        edr_info("continuing the chain of changes at revision %" PRId64, st->next_rev);
        goto out;
    }
    if ((rc = edr_repo_list(repo, &list, &nb, &ctx->err)) != EDR_OK)
        goto out;
    if (nb > 0) {
        const struct edr_manifest *b = &list[nb - 1];
        st->next_rev = b->revision + 1;
        st->cluster_id = b->cluster_id;
        snprintf(st->base, sizeof(st->base), "%s", b->id);
        edr_info("starting a chain of changes after backup '%s' (revision %" PRId64 ")", b->id,
                 b->revision);
    } else {
        rc = full_backup(ctx, bp, qc, st, "no backup in the repository");
    }
out:
    free(segs);
    free(probs);
    free(chains);
    free(list);
    return rc;
}

static void
sleep_interruptible(int seconds)
{
    for (int i = 0; i < seconds * 10 && !edr_cmd_interrupted(); i++)
        usleep(100 * 1000);
}

edr_rc
edr_cmd_capture(struct edr_ctx *ctx)
{
    struct edr_capture_opts co;
    struct edr_capture_state st;
    struct edr_repo *repo = NULL;
    struct edr_storage_lock *lock = NULL;
    struct edr_pubkey *rcpt = NULL;
    struct edr_etcd_client *wc = NULL, *qc = NULL;
    struct edr_etcd_status *statuses = NULL;
    size_t nrcpt = 0, *order = NULL, norder = 0, nep;
    struct edr_backup_params bp;
    struct metrics_ctx mc;
    int64_t flush_s = 5;
    edr_rc rc;

    /* the full backups it takes are stored as `backup` stores them */
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 1, &bp, &ctx->err)) != EDR_OK ||
        (rc = flush_interval(ctx, &flush_s)) != EDR_OK)
        goto out;
    if ((rc = edr_backup_load_recipients(ctx, &bp, &rcpt, &nrcpt)) != EDR_OK ||
        (rc = edr_cmd_open_repo(ctx, 1, &repo)) != EDR_OK)
        goto out;
    /* a stop signal ends the watch; what is complete is still published */
    repo->st->interrupted = NULL;
    rc = edr_repo_lock_named(repo, "changes/.lock", bp.lock_wait, &lock, &ctx->err);
    if (rc == EDR_E_LOCK)
        edr_err_hint(&ctx->err, "another capture of this cluster is running");
    if (rc != EDR_OK)
        goto out;
    if ((rc = edr_cmd_etcd_client(ctx, &wc)) != EDR_OK ||
        (rc = edr_cmd_etcd_client(ctx, &qc)) != EDR_OK)
        goto out;
    nep = edr_etcd_endpoint_count(qc);
    statuses = calloc(nep, sizeof(*statuses));
    order = calloc(nep, sizeof(*order));
    if (statuses == NULL || order == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = resume_point(ctx, &bp, qc, repo, &st)) != EDR_OK)
        goto out;
    memset(&co, 0, sizeof(co));
    co.repo = repo;
    co.rcpt = rcpt;
    co.nrcpt = nrcpt;
    co.level = bp.compress_level;
    co.flush_s = (double)flush_s;
    co.flush_bytes = FLUSH_BYTES;
    co.watch_client = wc;
    co.query_client = qc;
    memset(&mc, 0, sizeof(mc));
    mc.path = edr_opt_str(&ctx->opts, EDR_O_METRICS_FILE);
    snprintf(mc.m.cluster, sizeof(mc.m.cluster), "%s", repo->cluster);
    co.published = published;
    co.ud = &mc;
    for (int idle = 0; !edr_cmd_interrupted();) {
        struct edr_err e2;

        if (edr_etcd_rank(qc, bp.policy, order, &norder, statuses, &e2) != EDR_OK) {
            edr_warn("%s; retrying", e2.msg);
            sleep_interruptible(idle < 5 ? ++idle : idle);
            continue;
        }
        for (size_t k = 0; k < norder && !edr_cmd_interrupted(); k++) {
            rc = edr_capture_watch(&co, order[k], &st, &ctx->err);
            if (rc == EDR_E_INTERRUPTED)
                break;
            if (rc == EDR_E_NOTFOUND && st.auth_changed) {
                struct edr_backup_summary sum;
                /* the chain goes on; restores after this backup get the new auth */
                rc = edr_backup_run(ctx, &bp, &sum);
                free(sum.prune);
                if (rc != EDR_OK)
                    goto out;
                edr_warn("full backup '%s' at revision %" PRId64 " records the new auth state",
                         sum.manifest.id, sum.manifest.revision);
                break;
            }
            if (rc == EDR_E_NOTFOUND && st.compact_revision >= st.next_rev &&
                st.compact_revision <= st.backup_holds) {
                /* the backup just taken holds every revision up to the
                 * compaction (the newest of them were deletes that the
                 * compaction removed): the chain starts after it */
                edr_info("revisions %" PRId64 "..%" PRId64 " are compacted and in backup "
                         "already; capturing from %" PRId64,
                         st.next_rev, st.compact_revision, st.compact_revision + 1);
                st.seg_start = st.next_rev;
                st.next_rev = st.compact_revision + 1;
                st.backup_holds = 0;
                k--; /* the same endpoint again */
                continue;
            }
            if (rc == EDR_E_NOTFOUND) {
                char why[EDR_ERR_MSG_MAX + 64];
                snprintf(why, sizeof(why), "cannot continue the chain: %s", ctx->err.msg);
                if ((rc = full_backup(ctx, &bp, qc, &st, why)) != EDR_OK)
                    goto out;
                break;
            }
            if (rc != EDR_E_ETCD && rc != EDR_E_ETCD_AUTH && rc != EDR_E_TLS)
                goto out;
            edr_warn("%s; continuing at revision %" PRId64 " on the next endpoint", ctx->err.msg,
                     st.next_rev);
            idle = 0;
        }
        if (!edr_cmd_interrupted())
            sleep_interruptible(1);
    }
    edr_info("capture stopped; changes are recorded up to revision %" PRId64, st.next_rev - 1);
    edr_err_clear(&ctx->err);
    rc = EDR_OK;
out:
    free(statuses);
    free(order);
    edr_etcd_client_free(wc);
    edr_etcd_client_free(qc);
    if (lock != NULL)
        edr_repo_unlock(repo, lock);
    edr_repo_free(repo);
    free(rcpt);
    edr_backup_params_release(&bp);
    return rc;
}
