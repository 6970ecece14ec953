/*
 * verify: is a backup restorable? Three levels, each including the ones
 * before:
 *   stored   the data object exists; its size and SHA-256 match the manifest
 *            (no key needed: works on a backup host)
 *   content  decrypt (every chunk authenticated, final tag present),
 *            decompress, the snapshot's sha256 against etcd's trailer and
 *            the manifest, the full bbolt structural check, the mvcc layer,
 *            revision and key counts against the manifest
 *   drill    restore into a temp dir as a one-member cluster, start etcd on
 *            free loopback ports, wait for health, compare revision, key
 *            count and a sample of values; report the measured RTO
 * Each result is recorded next to the manifest (<id>.verify.json).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/launch.h"
#include "cmd/source.h"
#include "cmd/verify.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/progress.h"
#include "etcd/client.h"
#include "mvcc/mvcc.h"
#include "restore/compat.h"
#include "restore/fsutil.h"
#include "restore/restore.h"
#include "sched/metrics.h"

const enum edr_opt_id edr_cmd_verify_opts[] = {
    EDR_OPTS_REPO,  EDR_O_CHAIN, EDR_O_IDENTITY, EDR_O_LEVEL,        EDR_O_DRILL, EDR_O_ALL,
    EDR_O_ETCD_BIN, EDR_O_JUNIT, EDR_O_JSON,     EDR_O_METRICS_FILE, EDR_O__COUNT};

static const char *const level_names[] = {"stored", "content", "drill"};

struct result {
    char what[512];
    char id[64];
    enum edr_verify_level level;
    edr_rc rc;
    char error[EDR_ERR_MSG_MAX];
    double seconds;
    int64_t revision;
    uint32_t hash;
    int have_hash;
    uint64_t total_keys, live_keys, db_size;
    size_t files; /* kept files checked (backup --include) */
    double restore_s, start_s;
    int drill_started; /* etcd ran on the backup's data: its failure is a verdict */
};

#define SAMPLE_MAX 32
/* a drill whose ports were taken before etcd bound them starts over this often */
#define DRILL_PORT_TRIES 3

struct sample {
    uint64_t every, seen;
    size_t n;
    struct {
        uint8_t *key, *val;
        size_t klen, vlen;
    } kv[SAMPLE_MAX];
};

static int
sample_cb(void *ud, const struct edr_kv *kv)
{
    struct sample *s = ud;

    if (s->seen++ % s->every != 0 || s->n >= SAMPLE_MAX)
        return 0;
    s->kv[s->n].key = malloc(kv->key_len + 1);
    s->kv[s->n].val = malloc(kv->value_len + 1);
    if (s->kv[s->n].key == NULL || s->kv[s->n].val == NULL)
        return -1;
    memcpy(s->kv[s->n].key, kv->key, kv->key_len);
    memcpy(s->kv[s->n].val, kv->value, kv->value_len);
    s->kv[s->n].klen = kv->key_len;
    s->kv[s->n].vlen = kv->value_len;
    s->n++;
    return 0;
}

static void
sample_free(struct sample *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->kv[i].key);
        free(s->kv[i].val);
    }
    s->n = 0;
}

static int
free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Whether the file at path holds text (etcd's log). */
static int
log_says(const char *path, const char *text)
{
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

    if (fd >= 0)
        close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* Boot the db as a one-member cluster and compare what etcd serves. */
static edr_rc
drill(struct edr_ctx *ctx, const char *bin, const char *db, struct edr_bolt *bolt,
      const struct edr_mvcc_status *st, struct result *r)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096], datadir[4200], prepared[4200], ic[256], client[128], logp[4300], binv[64];
    struct edr_restore_facts facts;
    struct edr_restore_cluster *cl = NULL;
    /* the drill's private copy runs without auth: its probes need no user */
    struct edr_restore_db_opts dbo = {.auth_off = 1};
    struct edr_etcd_client *c = NULL;
    struct edr_etcd_opts eo;
    struct edr_etcd_range rg;
    struct sample smp;
    pid_t pid = -1;
    int pp = free_port(), cp = free_port(), attempt, taken = 0;
    double t0 = edr_now(), t1;
    edr_rc rc;

    memset(&smp, 0, sizeof(smp));
    memset(&rg, 0, sizeof(rg));
    if (strchr(bin, '/') == NULL) {
        /* resolve on PATH now for a clear error instead of a failed exec */
        const char *path = getenv("PATH");
        char cand[4096];
        int found = 0;
        for (const char *p = path ? path : "/usr/bin:/bin"; p && *p && !found;) {
            const char *e = strchr(p, ':');
            size_t l = e ? (size_t)(e - p) : strlen(p);
            snprintf(cand, sizeof(cand), "%.*s/%s", (int)l, p, bin);
            found = access(cand, X_OK) == 0;
            p = e ? e + 1 : NULL;
        }
        if (!found) {
            edr_err_set(&ctx->err, EDR_E_DRILL, "--drill needs an etcd binary: '%s' is not on PATH",
                        bin);
            edr_err_hint(&ctx->err, "install etcd-server or give --etcd-bin PATH");
            return EDR_E_DRILL;
        }
    } else if (access(bin, X_OK) != 0) {
        return edr_err_set(&ctx->err, EDR_E_DRILL,
                           "--drill needs an etcd binary: '%s' is not "
                           "executable",
                           bin);
    }
    /* an etcd older than the backup's data would refuse it: that says
     * nothing about the backup, so it is not a failed drill */
    edr_launch_etcd_version(bin, binv, sizeof(binv));
    if (binv[0] != '\0' && ((rc = edr_restore_facts_read(bolt, &facts, &ctx->err)) != EDR_OK ||
                            (rc = edr_restore_check_target(&facts, binv, &ctx->err)) != EDR_OK))
        return rc;
    if (pp < 0 || cp < 0)
        return edr_err_set(&ctx->err, EDR_E_DRILL, "no free loopback port for the drill");
    /* a drill killed by SIGKILL leaves its directory (its etcd dies with it):
     * the pid in the name lets the next drill remove it */
    edr_fs_remove_dead(tmp && *tmp ? tmp : "/tmp", "etcd-dr-drill-");
    snprintf(dir, sizeof(dir), "%s/etcd-dr-drill-%ld-XXXXXX", tmp && *tmp ? tmp : "/tmp",
             (long)getpid());
    if (mkdtemp(dir) == NULL) {
        int e = errno;
        return edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to create a drill directory");
    }
    snprintf(datadir, sizeof(datadir), "%s/data", dir);
    snprintf(prepared, sizeof(prepared), "%s/prepared.db", dir);
    snprintf(logp, sizeof(logp), "%s/etcd.log", dir);
    /* the ports are free when picked, but another process may take one
     * before etcd binds it: then the drill starts over on new ports (the
     * member and cluster ids depend on the peer URL, so the data dir too) */
    for (attempt = 1;; attempt++) {
        snprintf(ic, sizeof(ic), "drill=http://127.0.0.1:%d", pp);
        snprintf(client, sizeof(client), "http://127.0.0.1:%d", cp);
        if ((rc = edr_restore_cluster_parse(ic, "etcd-dr-drill", &cl, &ctx->err)) != EDR_OK ||
            (rc = edr_restore_write_db(db, cl, &dbo, prepared, &ctx->err)) != EDR_OK ||
            (rc = edr_restore_member_dir(cl, "drill", prepared, datadir, NULL, 0, &ctx->err)))
            goto out;
        unlink(prepared);
        t1 = edr_now();
        r->restore_s = t1 - t0;
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK)
            goto out;
        rc = edr_launch_etcd(bin, &cl->members[0], datadir, NULL, client, logp, 1, &pid, &ctx->err);
        r->drill_started = rc == EDR_OK;
        if (rc == EDR_OK)
            rc = edr_launch_wait_healthy(client, NULL, NULL, &pid, 1, 60, &ctx->err);
        taken = rc != EDR_OK && rc != EDR_E_INTERRUPTED && log_says(logp, "address already in use");
        if (rc == EDR_OK || !taken || attempt == DRILL_PORT_TRIES || (pp = free_port()) < 0 ||
            (cp = free_port()) < 0)
            break;
        edr_info("drill: a port was taken before etcd bound it; again on new ports");
        edr_launch_stop(pid);
        pid = -1;
        edr_restore_cluster_free(cl);
        cl = NULL;
        edr_fs_rm_tree(datadir, NULL);
        unlink(logp);
    }
    if (rc != EDR_OK && taken) {
        /* etcd never read the backup: not a verdict on it */
        r->drill_started = 0;
        rc = edr_err_set(&ctx->err, EDR_E_DRILL,
                         "etcd could not bind the drill's loopback ports (taken by another "
                         "process, %d attempts)",
                         attempt);
    }
    if (rc != EDR_OK)
        goto out;
    r->start_s = edr_now() - t1;
    memset(&eo, 0, sizeof(eo));
    eo.endpoints = client;
    if ((rc = edr_etcd_client_new(&eo, &c, &ctx->err)) != EDR_OK)
        goto out;
    /* every live key, counted by etcd */
    rc = edr_etcd_range(c, 0, "\0", 1, "\0", 1, 0, 1, &rg, &ctx->err);
    if (rc != EDR_OK)
        goto out;
    if ((uint64_t)rg.count != st->live_keys || rg.revision < st->revision) {
        rc = edr_err_set(&ctx->err, EDR_E_DRILL,
                         "restored etcd serves %" PRId64 " keys at revision %" PRId64
                         ", the snapshot has %" PRIu64 " at revision %" PRId64,
                         rg.count, rg.revision, st->live_keys, st->revision);
        goto out;
    }
    edr_etcd_range_release(&rg);
    smp.every = st->live_keys / SAMPLE_MAX + 1;
    if ((rc = edr_mvcc_foreach_live(bolt, NULL, 0, 0, sample_cb, &smp, &ctx->err)) != EDR_OK)
        goto out;
    for (size_t i = 0; i < smp.n; i++) {
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK)
            goto out;
        rc = edr_etcd_range(c, 0, smp.kv[i].key, smp.kv[i].klen, NULL, 0, 0, 0, &rg, &ctx->err);
        if (rc != EDR_OK)
            goto out;
        if (rg.nkvs != 1 || rg.kvs[0].value_len != smp.kv[i].vlen ||
            memcmp(rg.kvs[0].value, smp.kv[i].val, smp.kv[i].vlen) != 0) {
            rc = edr_err_set(&ctx->err, EDR_E_DRILL,
                             "restored etcd serves a different value for "
                             "key '%.*s'",
                             (int)smp.kv[i].klen, (const char *)smp.kv[i].key);
            goto out;
        }
        edr_etcd_range_release(&rg);
    }
out:
    /* the restored etcd not answering is the drill failing, not etcd being down */
    if (rc == EDR_E_ETCD || rc == EDR_E_ETCD_AUTH)
        ctx->err.code = rc = EDR_E_DRILL;
    edr_etcd_range_release(&rg);
    edr_etcd_client_free(c);
    edr_launch_stop(pid);
    sample_free(&smp);
    edr_restore_cluster_free(cl);
    edr_fs_rm_tree(dir, NULL);
    return rc;
}

static edr_rc
verify_one(struct edr_ctx *ctx, const struct edr_verify_params *p, struct edr_source *src,
           enum edr_verify_level level, struct result *r)
{
    struct edr_spool sp;
    struct edr_bolt *bolt = NULL;
    struct edr_mvcc_status st;
    const char *tmp = getenv("TMPDIR");
    int redo = 0;
    edr_rc rc;

    memset(&sp, 0, sizeof(sp));
    sp.fd = -1;
    memset(&st, 0, sizeof(st));
    if (level == EDR_VERIFY_STORED) {
        if (src->kind != EDR_SOURCE_REPO)
            return edr_err_set(&ctx->err, EDR_E_USAGE,
                               "level stored needs a backup in a "
                               "repository (it compares with the manifest)");
        rc = edr_backup_check_stored(src->repo, &src->m, &ctx->err);
        r->revision = src->m.revision;
        r->db_size = src->m.db_size;
        return rc;
    }
    if (level == EDR_VERIFY_CONTENT) {
        /* the checks on the stream, no spool */
        rc = edr_source_scan_status(ctx, src, &st, NULL, &redo);
        if (!redo && rc != EDR_OK)
            goto out;
        if (redo) {
            edr_info("%s: checking a spooled copy (%s)", src->what, ctx->err.msg);
            edr_mvcc_status_release(&st);
            edr_err_clear(&ctx->err);
        }
    }
    if (level != EDR_VERIFY_CONTENT || redo) {
        if ((rc = edr_source_spool(ctx, src, tmp && *tmp ? tmp : "/tmp", 0, &sp)) != EDR_OK)
            goto out;
        if ((rc = edr_bolt_open(sp.db, &bolt, &ctx->err)) != EDR_OK ||
            (rc = edr_mvcc_status_checked(bolt, &st, &ctx->err)) != EDR_OK) {
            edr_err_prefix(&ctx->err, "%s", src->what);
            goto out;
        }
    }
    r->revision = st.revision;
    r->hash = st.hash;
    r->have_hash = 1;
    r->total_keys = st.total_keys;
    r->live_keys = st.live_keys;
    r->db_size = st.total_size;
    /* the read checked each of them against both manifests */
    r->files = src->kind == EDR_SOURCE_REPO ? src->m.nfiles : 0;
    if (src->kind == EDR_SOURCE_REPO) {
        if (src->m.revision != 0 && st.revision != src->m.revision) {
            rc =
                edr_err_set(&ctx->err, EDR_E_INTEGRITY,
                            "%s: revision %" PRId64 " in the snapshot, %" PRId64 " in the manifest",
                            src->what, st.revision, src->m.revision);
            goto out;
        }
        if (src->m.total_keys != 0 && st.total_keys != src->m.total_keys) {
            rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY,
                             "%s: %" PRIu64 " keys in the snapshot, %" PRIu64 " in the manifest",
                             src->what, st.total_keys, src->m.total_keys);
            goto out;
        }
    }
    if (level == EDR_VERIFY_DRILL && (rc = drill(ctx, p->etcd_bin, sp.db, bolt, &st, r)) != EDR_OK)
        edr_err_prefix(&ctx->err, "%s: drill", src->what);
out:
    edr_mvcc_status_release(&st);
    edr_bolt_close(bolt);
    edr_spool_release(&sp);
    return rc;
}

static void
print_result(const struct result *r)
{
    char size[32];

    if (r->rc != EDR_OK) {
        printf("FAIL  %-8s %s: %s\n", level_names[r->level], r->id[0] ? r->id : r->what, r->error);
        return;
    }
    edr_fmt_bytes(r->db_size, size, sizeof(size));
    printf("ok    %-8s %s  revision %" PRId64 ", %s", level_names[r->level],
           r->id[0] ? r->id : r->what, r->revision, size);
    if (r->have_hash)
        printf(", hash %x, %" PRIu64 " keys (%" PRIu64 " live), %.0f MB/s", r->hash, r->total_keys,
               r->live_keys, r->seconds > 0 ? (double)r->db_size / r->seconds / 1e6 : 0.0);
    if (r->files > 0)
        printf(", %zu kept file%s", r->files, r->files == 1 ? "" : "s");
    if (r->level == EDR_VERIFY_DRILL)
        printf(", restore %.1fs + start %.1fs = RTO %.1fs", r->restore_s, r->start_s,
               r->restore_s + r->start_s);
    putchar('\n');
}

static json_t *
result_json(const struct result *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b, s:i, s:s, s:f, s:I, s:I}", "backup", r->what, "id",
                          r->id, "level", level_names[r->level], "ok", r->rc == EDR_OK, "exit_code",
                          r->rc, "error", r->error, "duration_seconds", r->seconds, "revision",
                          (json_int_t)r->revision, "db_size", (json_int_t)r->db_size);

    if (r->have_hash) {
        json_object_set_new(o, "hash", json_integer(r->hash));
        json_object_set_new(o, "total_keys", json_integer((json_int_t)r->total_keys));
        json_object_set_new(o, "live_keys", json_integer((json_int_t)r->live_keys));
        json_object_set_new(o, "files", json_integer((json_int_t)r->files));
    }
    if (r->level == EDR_VERIFY_DRILL && r->rc == EDR_OK) {
        json_object_set_new(o, "restore_seconds", json_real(r->restore_s));
        json_object_set_new(o, "start_seconds", json_real(r->start_s));
        json_object_set_new(o, "rto_seconds", json_real(r->restore_s + r->start_s));
    }
    return o;
}

static void
xml_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

static edr_rc
write_junit(struct edr_ctx *ctx, const char *path, const struct result *rs, size_t n)
{
    FILE *f = fopen(path, "w");
    size_t fails = 0;
    double total = 0;

    if (f == NULL) {
        int e = errno;
        return edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to write '%s'", path);
    }
    for (size_t i = 0; i < n; i++) {
        fails += rs[i].rc != EDR_OK;
        total += rs[i].seconds;
    }
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"etcd-dr verify\" "
            "tests=\"%zu\" failures=\"%zu\" errors=\"0\" time=\"%.3f\">\n",
            n, fails, total);
    for (size_t i = 0; i < n; i++) {
        fputs("  <testcase classname=\"etcd-dr.verify.", f);
        fputs(level_names[rs[i].level], f);
        fputs("\" name=\"", f);
        xml_escape(f, rs[i].id[0] ? rs[i].id : rs[i].what);
        fprintf(f, "\" time=\"%.3f\"", rs[i].seconds);
        if (rs[i].rc == EDR_OK) {
            fputs("/>\n", f);
            continue;
        }
        fprintf(f, ">\n    <failure type=\"%s\" message=\"", edr_rc_name(rs[i].rc));
        xml_escape(f, rs[i].error);
        fputs("\"/>\n  </testcase>\n", f);
    }
    fputs("</testsuite>\n", f);
    if (fclose(f) != 0) {
        int e = errno;
        return edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to write '%s'", path);
    }
    return EDR_OK;
}

edr_rc
edr_verify_params_from_opts(const struct edr_opts *o, struct edr_verify_params *p,
                            struct edr_err *err)
{
    const char *lv = edr_opt_str(o, EDR_O_LEVEL);

    memset(p, 0, sizeof(*p));
    p->level = EDR_VERIFY_CONTENT;
    if (lv != NULL) {
        p->level_given = 1;
        if (strcmp(lv, "stored") == 0)
            p->level = EDR_VERIFY_STORED;
        else if (strcmp(lv, "content") == 0)
            p->level = EDR_VERIFY_CONTENT;
        else if (strcmp(lv, "drill") == 0)
            p->level = EDR_VERIFY_DRILL;
        else
            return edr_err_set(err, EDR_E_USAGE, "invalid --level '%s' (stored, content or drill)",
                               lv);
    }
    if (edr_opt_bool(o, EDR_O_DRILL)) {
        p->level = EDR_VERIFY_DRILL;
        p->level_given = 1;
    }
    p->all = edr_opt_bool(o, EDR_O_ALL);
    p->backup = o->nargs > 0 ? o->args[0] : NULL;
    p->have_identity = edr_opt_str(o, EDR_O_IDENTITY) != NULL;
    p->etcd_bin = edr_opt_str(o, EDR_O_ETCD_BIN);
    p->junit = edr_opt_str(o, EDR_O_JUNIT);
    return EDR_OK;
}

edr_rc
edr_cmd_verify(struct edr_ctx *ctx)
{
    struct edr_verify_params p;
    edr_rc rc;

    if (edr_opt_bool(&ctx->opts, EDR_O_CHAIN)) {
        if (ctx->opts.nargs != 0)
            return edr_err_set(&ctx->err, EDR_E_USAGE, "usage: etcd-dr verify --chain [OPTIONS]");
        return edr_verify_chain(ctx);
    }
    if ((rc = edr_verify_params_from_opts(&ctx->opts, &p, &ctx->err)) != EDR_OK)
        return rc;
    if (p.all ? ctx->opts.nargs != 0 : ctx->opts.nargs != 1)
        return edr_cmd_usage(ctx);
    return edr_verify_run(ctx, &p);
}

/* --metrics-file: when and how the last verdicts on the cluster's backups came out. */
static void
write_metrics(struct edr_ctx *ctx, const char *cluster, int verdicts, int failed)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_METRICS_FILE);
    struct edr_metrics m;
    struct edr_err err;

    if (path == NULL || verdicts == 0)
        return;
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "%s", cluster);
    edr_metrics_set(&m, EDR_M_LAST_VERIFY, (double)time(NULL));
    edr_metrics_set(&m, EDR_M_LAST_VERIFY_OK, failed ? 0 : 1);
    if (edr_metrics_write(path, &m, &err) != EDR_OK)
        edr_warn("%s", err.msg);
}

edr_rc
edr_verify_run(struct edr_ctx *ctx, const struct edr_verify_params *p)
{
    char cluster[EDR_METRICS_CLUSTER_MAX] = "";
    int verdicts = 0, failed = 0;
    int all = p->all;
    struct edr_manifest *list = NULL;
    struct edr_repo_problem *probs = NULL;
    size_t nprobs = 0;
    struct result *rs = NULL;
    struct edr_repo *repo = NULL;
    size_t n = 0;
    enum edr_verify_level level = p->level;
    edr_rc rc, first = EDR_OK;

    if (all) {
        if ((rc = edr_cmd_open_repo(ctx, 0, &repo)) != EDR_OK)
            return rc;
        /* every object that looks like a backup is in the result: the
         * complete ones verified, the broken ones failed as they are */
        if ((rc = edr_repo_list_all(repo, &list, &n, &probs, &nprobs, &ctx->err)) != EDR_OK)
            goto out;
        if (n + nprobs == 0) {
            rc = edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no backups for cluster '%s' in '%s'",
                             repo->cluster, repo->st->url);
            goto out;
        }
    } else {
        n = 1;
    }
    rs = calloc(n + nprobs, sizeof(*rs));
    if (rs == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        struct edr_source src;
        struct result *r = &rs[i];
        double t0 = edr_now();

        memset(&src, 0, sizeof(src));
        edr_err_clear(&ctx->err);
        if (all) {
            src.kind = EDR_SOURCE_REPO;
            src.repo = repo;
            src.m = list[i];
            snprintf(src.what, sizeof(src.what), "%s/%s", repo->cluster, list[i].id);
            rc = EDR_OK;
        } else {
            rc = edr_source_open(ctx, p->backup, &src);
        }
        snprintf(r->what, sizeof(r->what), "%s", src.what[0] ? src.what : p->backup);
        for (char *p = r->what; *p != '\0'; p++) /* printable in text and JSON */
            if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
                *p = '?';
        if (src.kind == EDR_SOURCE_REPO)
            snprintf(r->id, sizeof(r->id), "%s", src.m.id);
        r->level = level;
        /* without a key an encrypted backup can only be checked as stored bytes */
        if (rc == EDR_OK && !p->level_given && src.kind == EDR_SOURCE_REPO && src.m.encrypted &&
            !p->have_identity)
            r->level = EDR_VERIFY_STORED;
        if (rc == EDR_OK)
            rc = verify_one(ctx, p, &src, r->level, r);
        r->seconds = edr_now() - t0;
        r->rc = rc;
        if (rc != EDR_OK) {
            snprintf(r->error, sizeof(r->error), "%s", ctx->err.msg);
            if (first == EDR_OK)
                first = rc;
        }
        if (src.kind == EDR_SOURCE_REPO) {
            struct edr_err e2;
            struct edr_repo *rp = all ? repo : src.repo;
            /* only a verdict on the backup itself is recorded: not a missing
             * key, an unusable --etcd-bin, a full TMPDIR, an unknown id, an
             * etcd too old for it or an interrupted run */
            int verdict =
                rc == EDR_OK || rc == EDR_E_INTEGRITY || (rc == EDR_E_DRILL && r->drill_started);
            if (verdict && src.m.id[0] != '\0') {
                verdicts++;
                failed += rc != EDR_OK;
                snprintf(cluster, sizeof(cluster), "%s", rp->cluster);
            }
            if (verdict && src.m.id[0] != '\0' &&
                edr_repo_record_verify(rp, src.m.id, level_names[r->level], rc == EDR_OK, r->error,
                                       &e2) != EDR_OK)
                edr_warn("unable to record the verification: %s", e2.msg);
        }
        if (all)
            src.repo = NULL; /* owned here */
        edr_source_close(&src);
        if (!ctx->json && !ctx->quiet)
            print_result(r);
        else if (!ctx->json && r->rc != EDR_OK)
            print_result(r);
        if (rc == EDR_E_INTERRUPTED)
            break;
    }
    /* a damaged object is a failed verdict on the cluster too */
    if (nprobs > 0 && repo != NULL && first != EDR_E_INTERRUPTED) {
        verdicts++, failed++;
        snprintf(cluster, sizeof(cluster), "%s", repo->cluster);
    }
    write_metrics(ctx, cluster, verdicts, failed);
    for (size_t i = 0; i < nprobs && first != EDR_E_INTERRUPTED; i++) {
        struct result *r = &rs[n++];
        snprintf(r->what, sizeof(r->what), "%s/%s", repo->cluster, probs[i].id);
        snprintf(r->id, sizeof(r->id), "%.63s", probs[i].id);
        snprintf(r->error, sizeof(r->error), "%s", probs[i].msg);
        r->level = level;
        r->rc = EDR_E_INTEGRITY;
        if (first == EDR_OK)
            first = EDR_E_INTEGRITY;
        if (!ctx->json)
            print_result(r);
    }
    if (ctx->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, result_json(&rs[i]));
        edr_cmd_print_json(json_pack("{s:b, s:i, s:o}", "ok", first == EDR_OK, "exit_code", first,
                                     "results", arr));
    }
    if (p->junit != NULL && (rc = write_junit(ctx, p->junit, rs, n)) != EDR_OK)
        goto out;
    rc = first;
    if (rc != EDR_OK) {
        /* the per-backup lines said what failed; main prints one summary line */
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += rs[i].rc != EDR_OK;
        if (n > 1)
            edr_err_set(&ctx->err, first, "%zu of %zu backups failed verification", bad, n);
        else
            edr_err_set(&ctx->err, first, "%s", rs[0].error);
    }
out:
    free(rs);
    free(list);
    free(probs);
    edr_repo_free(repo);
    return rc;
}
