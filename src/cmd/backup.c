/*
 * backup: snapshot one etcd member into the repository.
 *
 * etcd stream -> [sha256 + trailer check in the etcd client] -> progress ->
 * bbolt scan (revision, key counts) -> tar entry snapshot.db -> zstd ->
 * seal (encrypt) -> stored sha256/size -> storage writer; then the --include
 * files (files.h), each read once into its own tar entry, and the manifest
 * copy. Nothing in plaintext touches disk. The data object is published by the storage
 * writer's finish; the manifest is written after it, as the commit marker.
 * A broken stream is retried on the next healthy endpoint with a fresh
 * pipeline; whatever fails, the writer's free() discards the partial object.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bolt/scan.h"
#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "common/hash.h"
#include "common/progress.h"
#include "crypto/keys.h"
#include "etcd/client.h"
#include "repo/repo.h"
#include "sched/metrics.h"
#include "stream/basic.h"
#include "stream/seal.h"
#include "stream/tar.h"
#include "stream/zstd.h"

const enum edr_opt_id edr_cmd_backup_opts[] = {
    EDR_OPTS_ETCD,          EDR_OPTS_REPO,        EDR_OPTS_RETENTION, EDR_O_RECIPIENT,
    EDR_O_NO_ENCRYPT,       EDR_O_COMPRESS_LEVEL, EDR_O_THREADS,      EDR_O_PRUNE,
    EDR_O_METRICS_FILE,     EDR_O_ON_SUCCESS,     EDR_O_ON_FAILURE,   EDR_O_INCLUDE,
    EDR_O_INCLUDE_MAX_SIZE, EDR_O_JSON,           EDR_O__COUNT};

static void
chain_free(struct edr_backup_chain *c)
{
    edr_stream_free(c->prog);
    edr_stream_free(c->scan);
    edr_stream_free(c->tar);
    edr_stream_free(c->zst);
    edr_stream_free(c->seal);
    edr_stream_free(c->stored_size);
    edr_stream_free(c->stored_sha);
    edr_stream_free(c->writer); /* aborts unless finished */
    memset(c, 0, sizeof(*c));
}

edr_rc
edr_backup_begin(void *ud, uint64_t db_size, struct edr_stream **out, struct edr_err *err)
{
    struct edr_backup_writer *r = ud;
    struct edr_backup_chain *c = &r->ch;
    struct edr_storage *st = r->repo->st;
    edr_rc rc;

    chain_free(c);
    rc = st->ops->put_open(st, r->dataname, db_size / 2 + 4096, &c->writer, err);
    if (rc != EDR_OK)
        return rc;
    if ((rc = edr_stream_sha256_new(c->writer, &c->stored_sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(c->stored_sha, NULL, &c->stored_size, err)) != EDR_OK)
        return rc;
    rc = edr_stream_seal_new(c->stored_size, r->rcpt, r->nrcpt,
                             r->nrcpt > 0 ? EDR_SEAL_FLAG_ENCRYPTED : 0, &c->seal, err);
    if (rc != EDR_OK)
        return rc;
    rc = edr_stream_zstd_compress_new(c->seal, r->level, r->threads, EDR_ZSTD_SIZE_UNKNOWN, &c->zst,
                                      err);
    if (rc != EDR_OK)
        return rc;
    if ((rc = edr_tar_writer_new(c->zst, &c->tar, err)) != EDR_OK)
        return rc;
    rc = edr_tar_writer_begin(c->tar, "snapshot.db", db_size + 32, 0600, r->started, err);
    if (rc != EDR_OK)
        return rc;
    c->scan = edr_bolt_scan_new(c->tar);
    if (c->scan == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    edr_progress_start(&r->progress, r->ctx->progress, "backup", db_size);
    if ((rc = edr_cmd_progress_stream_new(c->scan, &r->progress, &c->prog, err)) != EDR_OK)
        return rc;
    *out = c->prog;
    return EDR_OK;
}

/* The metrics file says from when the lock is held, so that an alert sees a
 * backup that hangs with it (the report sets it back to 0). */
static void
lock_metric(struct edr_ctx *ctx, const char *cluster)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_METRICS_FILE);
    struct edr_metrics m;
    struct edr_err err;

    if (path == NULL)
        return;
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "%s", cluster);
    edr_metrics_set(&m, EDR_M_LOCK_ACQUIRED, (double)time(NULL));
    if (edr_metrics_write(path, &m, &err) != EDR_OK)
        edr_warn("%s", err.msg);
}

/* The recipients' public keys (the options were checked by
 * edr_backup_params_from_opts). */
static edr_rc
load_recipients(struct edr_backup_writer *r, struct edr_ctx *ctx)
{
    const struct edr_backup_params *p = r->params;
    edr_rc rc;

    if (p->no_encrypt) {
        edr_warn("--no-encrypt: this backup is stored UNENCRYPTED");
        return EDR_OK;
    }
    if ((rc = edr_crypto_init(&ctx->err)) != EDR_OK)
        return rc;
    r->rcpt = calloc((size_t)p->nrecipients, sizeof(*r->rcpt));
    if (r->rcpt == NULL)
        return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
    for (int i = 0; i < p->nrecipients; i++)
        if ((rc = edr_pubkey_load(p->recipients[i], &r->rcpt[i], &ctx->err)) != EDR_OK)
            return rc;
    r->nrcpt = (size_t)p->nrecipients;
    return EDR_OK;
}

edr_rc
edr_backup_load_recipients(struct edr_ctx *ctx, const struct edr_backup_params *p,
                           struct edr_pubkey **rcpt, size_t *n)
{
    struct edr_backup_writer w;
    edr_rc rc;

    memset(&w, 0, sizeof(w));
    w.params = p;
    rc = load_recipients(&w, ctx);
    *rcpt = w.rcpt;
    *n = w.nrcpt;
    return rc;
}

edr_rc
edr_backup_params_from_opts(const struct edr_opts *o, int from_etcd, struct edr_backup_params *p,
                            struct edr_err *err)
{
    const char *policy = edr_opt_str(o, EDR_O_ENDPOINT_POLICY);
    int64_t v;
    edr_rc rc;

    memset(p, 0, sizeof(*p));
    if (from_etcd) {
        if ((rc = edr_opt_int(o, EDR_O_RETRIES, 0, 100, &v, err)) != EDR_OK)
            return rc;
        p->retries = (int)v;
        if (policy == NULL || strcmp(policy, "follower") == 0)
            p->policy = EDR_ETCD_POLICY_FOLLOWER;
        else if (strcmp(policy, "leader") == 0)
            p->policy = EDR_ETCD_POLICY_LEADER;
        else if (strcmp(policy, "first") == 0)
            p->policy = EDR_ETCD_POLICY_FIRST;
        else
            return edr_err_set(err, EDR_E_USAGE,
                               "invalid --endpoint-policy '%s' (follower, leader or first)",
                               policy);
    }
    if ((rc = edr_opt_int(o, EDR_O_COMPRESS_LEVEL, 1, 19, &v, err)) != EDR_OK)
        return rc;
    p->compress_level = (int)v;
    if ((rc = edr_opt_int(o, EDR_O_THREADS, 0, 256, &v, err)) != EDR_OK)
        return rc;
    p->threads = v > 0 ? (int)v : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if ((rc = edr_opt_int(o, EDR_O_LOCK_WAIT, 0, 86400, &v, err)) != EDR_OK)
        return rc;
    p->lock_wait = (int)v;
    p->no_encrypt = edr_opt_bool(o, EDR_O_NO_ENCRYPT);
    p->recipients = edr_opt_list(o, EDR_O_RECIPIENT, &p->nrecipients);
    if (p->no_encrypt && p->nrecipients > 0)
        return edr_err_set(err, EDR_E_USAGE, "--no-encrypt and --recipient exclude each other");
    if (!p->no_encrypt && p->nrecipients == 0) {
        edr_err_set(err, EDR_E_USAGE, "no recipient for the backup's encryption");
        edr_err_hint(err, "give --recipient FILE.pub (from 'etcd-dr keygen'), or "
                          "--no-encrypt to store it unencrypted");
        return EDR_E_USAGE;
    }
    if (p->nrecipients > EDR_SEAL_MAX_RECIPIENTS)
        return edr_err_set(err, EDR_E_USAGE, "too many recipients (%d, at most %d)", p->nrecipients,
                           EDR_SEAL_MAX_RECIPIENTS);
    if (from_etcd) {
        p->includes = edr_opt_list(o, EDR_O_INCLUDE, &p->nincludes);
        if ((rc = edr_opt_int(o, EDR_O_INCLUDE_MAX_SIZE, 0, INT64_MAX, &v, err)) != EDR_OK)
            return rc;
        p->include_max_size = (uint64_t)v;
    }
    p->prune = from_etcd && edr_opt_bool(o, EDR_O_PRUNE);
    if (p->prune && (rc = edr_prune_params_from_opts(o, &p->prune_params, err)) != EDR_OK)
        return rc;
    return EDR_OK;
}

void
edr_backup_params_release(struct edr_backup_params *p)
{
    edr_strv_free(p->recipients, p->nrecipients);
    p->recipients = NULL;
    p->nrecipients = 0;
    edr_strv_free(p->includes, p->nincludes);
    p->includes = NULL;
    p->nincludes = 0;
}

static int
any_object(const struct edr_storage_entry *e, void *ud)
{
    (void)e;
    *(int *)ud = 1;
    return 1;
}

/* An id that sorts by time: "<UTC second>-<tag>". Runs of one cluster are
 * serialized by the lock, so when the repository already has an id of this
 * second (a run that finished within it), waiting for the next second keeps
 * every new id sorting after every older one, whatever the tags. */
edr_rc
edr_backup_make_id(struct edr_backup_writer *r, const char *tag, struct edr_err *err)
{
    char base[48], prefix[256];
    struct tm tm;
    edr_rc rc;

    for (int tries = 0;; tries++) {
        int found = 0;
        gmtime_r(&r->started, &tm);
        strftime(base, sizeof(base), "%Y%m%dT%H%M%SZ", &tm);
        edr_repo_object_name(r->repo, base, "-", prefix, sizeof(prefix));
        if ((rc = r->repo->st->ops->list(r->repo->st, prefix, any_object, &found, err)) != EDR_OK)
            return rc;
        if (!found)
            break;
        if (tries >= 3)
            return edr_err_set(err, EDR_E_REPO, "unable to find a free backup id after '%s'", base);
        while (time(NULL) <= r->started)
            usleep(50 * 1000);
        r->started = time(NULL);
    }
    snprintf(r->id, sizeof(r->id), "%s-%s", base, tag);
    edr_repo_object_name(r->repo, r->id, ".edr", r->dataname, sizeof(r->dataname));
    return EDR_OK;
}

static int
retryable(edr_rc rc)
{
    return rc == EDR_E_ETCD || rc == EDR_E_INTEGRITY;
}

/* Options, recipients, repository, lock and leftovers: what every run that
 * stores a backup needs first. */
edr_rc
edr_backup_prepare(struct edr_ctx *ctx, const struct edr_backup_params *p,
                   struct edr_backup_writer *r, struct edr_storage_lock **lock,
                   struct edr_backup_summary *sum)
{
    edr_rc rc;

    r->ctx = ctx;
    r->params = p;
    r->started = time(NULL);
    r->level = p->compress_level;
    r->threads = p->threads;
    if ((rc = load_recipients(r, ctx)) != EDR_OK)
        return rc;
    if ((rc = edr_cmd_open_repo(ctx, 1, &r->repo)) != EDR_OK)
        return rc;
    snprintf(sum->cluster, sizeof(sum->cluster), "%s", r->repo->cluster);
    if ((rc = edr_repo_lock(r->repo, p->lock_wait, lock, &ctx->err)) != EDR_OK)
        return rc;
    lock_metric(ctx, r->repo->cluster);
    return edr_repo_cleanup(r->repo, 0, &ctx->err);
}

/* The db went through the chain whole: append its sha256 trailer, close
 * the tar with a copy of the manifest, publish the data object, then write
 * the manifest. m comes in with the source's fields filled. */
edr_rc
edr_backup_commit(struct edr_backup_writer *r, const uint8_t sha[32], uint64_t db_size,
                  struct edr_manifest *m, double t0)
{
    struct edr_ctx *ctx = r->ctx;
    struct edr_bolt_scan_result scan;
    char *inner = NULL;
    edr_rc rc;

    if ((rc = edr_stream_write(r->ch.tar, sha, 32, &ctx->err)) != EDR_OK ||
        (rc = edr_tar_writer_end(r->ch.tar, &ctx->err)) != EDR_OK)
        return rc;
    /* after the db, before the manifest copy that records their hashes */
    if ((rc = edr_include_write(&r->inc, r->ch.tar, r->started, &ctx->err)) != EDR_OK)
        return rc;
    m->files = r->inc.recs;
    m->nfiles = r->inc.n;
    edr_bolt_scan_result(r->ch.scan, &scan);
    if (!scan.valid)
        edr_warn("could not read the revision from the snapshot (%s); using the one etcd reported",
                 scan.error);
    m->format = EDR_MANIFEST_FORMAT;
    snprintf(m->id, sizeof(m->id), "%s", r->id);
    snprintf(m->cluster, sizeof(m->cluster), "%s", r->repo->cluster);
    m->started = r->started;
    snprintf(m->tool_version, sizeof(m->tool_version), "%s", EDR_VERSION);
    if (scan.valid)
        m->revision = scan.revision;
    m->db_size = db_size;
    edr_hex(sha, 32, m->db_sha256);
    snprintf(m->compression, sizeof(m->compression), "zstd");
    m->compress_level = r->level;
    m->encrypted = r->nrcpt > 0;
    m->nrecipients = (int)r->nrcpt;
    for (size_t i = 0; i < r->nrcpt; i++)
        snprintf(m->recipients[i], sizeof(m->recipients[i]), "%s", r->rcpt[i].id);
    m->total_keys = scan.total_keys;
    m->key_revisions = scan.key_revisions;
    /* the copy inside the data file cannot know its own stored hash */
    m->finished = time(NULL);
    memset(m->stored_sha256, '0', 64);
    if ((rc = edr_manifest_to_json(m, &inner, &ctx->err)) != EDR_OK)
        return rc;
    if ((rc = edr_tar_writer_begin(r->ch.tar, "manifest.json", strlen(inner), 0600, r->started,
                                   &ctx->err)) != EDR_OK ||
        (rc = edr_stream_write(r->ch.tar, inner, strlen(inner), &ctx->err)) != EDR_OK ||
        (rc = edr_tar_writer_end(r->ch.tar, &ctx->err)) != EDR_OK)
        goto out;
    /* finishing the tar finishes zstd, seal, hashes and publishes the data object */
    if ((rc = edr_stream_finish(r->ch.tar, &ctx->err)) != EDR_OK)
        goto out;
    m->stored_size = edr_stream_size_get(r->ch.stored_size);
    edr_stream_sha256_hex(r->ch.stored_sha, m->stored_sha256);
    m->finished = time(NULL);
    m->duration_s = edr_now() - t0;
    if ((rc = edr_repo_write_manifest(r->repo, m, &ctx->err)) != EDR_OK) {
        /* without its manifest the data object is not a backup: remove it now */
        struct edr_err e2;
        r->repo->st->ops->del(r->repo->st, r->dataname, &e2);
    }
out:
    free(inner);
    return rc;
}

/* Release what a run holds, prune when asked, count the repository. */
edr_rc
edr_backup_finish(struct edr_backup_writer *r, struct edr_storage_lock *lock,
                  struct edr_backup_summary *sum, edr_rc rc, double t0)
{
    struct edr_ctx *ctx = r->ctx;

    edr_progress_end(&r->progress);
    chain_free(&r->ch);
    edr_include_close(&r->inc);
    if (lock != NULL)
        edr_repo_unlock(r->repo, lock);
    free(r->rcpt);
    r->rcpt = NULL;
    sum->duration_s = edr_now() - t0;
    if (rc == EDR_OK && r->params != NULL && r->params->prune)
        rc = edr_prune_run(ctx, r->repo, &r->params->prune_params, 0, &sum->prune);
    if (r->repo != NULL && rc == EDR_OK) {
        struct edr_manifest *list = NULL;
        size_t n = 0;
        struct edr_err e2;
        if (edr_repo_list(r->repo, &list, &n, &e2) == EDR_OK)
            sum->backups_in_repo = n;
        free(list);
    }
    edr_repo_free(r->repo);
    r->repo = NULL;
    return rc;
}

edr_rc
edr_backup_run(struct edr_ctx *ctx, const struct edr_backup_params *p,
               struct edr_backup_summary *sum)
{
    struct edr_backup_writer r;
    struct edr_etcd_client *client = NULL;
    struct edr_etcd_status *statuses = NULL;
    struct edr_storage_lock *lock = NULL;
    struct edr_etcd_snapshot_result res;
    struct edr_manifest m;
    size_t *order = NULL, norder = 0, chosen = 0;
    int64_t retries = p->retries;
    double t0 = edr_now();
    edr_rc rc;

    memset(&r, 0, sizeof(r));
    memset(sum, 0, sizeof(*sum));
    /* a missing or unusable --include fails the run before anything is stored */
    rc = edr_include_open(p->includes, p->nincludes, p->include_max_size, &r.inc, &ctx->err);
    if (rc != EDR_OK)
        goto out;
    if ((rc = edr_backup_prepare(ctx, p, &r, &lock, sum)) != EDR_OK)
        goto out;
    if ((rc = edr_cmd_etcd_client(ctx, &client)) != EDR_OK)
        goto out;
    statuses = calloc(edr_etcd_endpoint_count(client), sizeof(*statuses));
    order = calloc(edr_etcd_endpoint_count(client), sizeof(*order));
    if (statuses == NULL || order == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_etcd_rank(client, p->policy, order, &norder, statuses, &ctx->err)) != EDR_OK)
        goto out;
    for (int64_t attempt = 0;; attempt++) {
        struct edr_etcd_snapshot_sink sink = {edr_backup_begin, &r};
        chosen = order[attempt % (int64_t)norder];
        if (attempt == 0 && statuses[chosen].alarms_and_errors[0] != '\0')
            edr_warn("etcd '%s' reports %s: the snapshot is taken; the cluster accepts no writes "
                     "until the alarm is disarmed",
                     edr_etcd_endpoint(client, chosen), statuses[chosen].alarms_and_errors);
        if (attempt == 0) {
            char tag[32];
            snprintf(tag, sizeof(tag), "r%" PRId64, statuses[chosen].revision);
            if ((rc = edr_backup_make_id(&r, tag, &ctx->err)) != EDR_OK)
                goto out;
        }
        edr_info("snapshot from '%s' (member %016" PRIx64 ", attempt %d)",
                 edr_etcd_endpoint(client, chosen), statuses[chosen].member_id, (int)attempt + 1);
        rc = edr_etcd_snapshot(client, chosen, &sink, &res, &ctx->err);
        edr_progress_end(&r.progress);
        if (rc == EDR_OK)
            break;
        chain_free(&r.ch);
        if (!retryable(rc) || attempt >= retries)
            goto out;
        edr_warn("%s; retrying on %s", ctx->err.msg,
                 edr_etcd_endpoint(client, order[(attempt + 1) % (int64_t)norder]));
        sleep(1);
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.endpoint, sizeof(m.endpoint), "%s", edr_etcd_endpoint(client, chosen));
    snprintf(m.etcd_version, sizeof(m.etcd_version), "%s", statuses[chosen].version);
    m.cluster_id = statuses[chosen].cluster_id;
    m.member_id = statuses[chosen].member_id;
    m.revision = statuses[chosen].revision;
    m.raft_index = statuses[chosen].raft_index;
    m.raft_term = statuses[chosen].raft_term;
    if ((rc = edr_backup_commit(&r, res.sha256, res.db_size, &m, t0)) != EDR_OK)
        goto out;
    sum->manifest = m;
    sum->manifest.files = NULL; /* r.inc's, closed before the summary is read */
    sum->ok = 1;
out:
    edr_etcd_client_free(client);
    free(statuses);
    free(order);
    return edr_backup_finish(&r, lock, sum, rc, t0);
}

edr_rc
edr_cmd_backup(struct edr_ctx *ctx)
{
    struct edr_backup_params p;
    struct edr_backup_summary sum;
    edr_rc rc;

    memset(&sum, 0, sizeof(sum));
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 1, &p, &ctx->err)) == EDR_OK)
        rc = edr_backup_run(ctx, &p, &sum);
    edr_backup_report(ctx, &sum, rc);
    edr_backup_params_release(&p);
    return rc;
}
