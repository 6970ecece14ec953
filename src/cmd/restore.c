/*
 * restore: from a backup (or a plain etcd snapshot file) to the data dirs of
 * a brand-new cluster, natively. The snapshot is streamed through every
 * check into a private spool dir next to the target (no plaintext copy
 * anywhere else), checked as a bbolt file, rewritten once for the new
 * membership (src/restore), then each member's dir is built in a temp dir
 * and renamed into place. Nothing is left behind on failure.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "cmd/cmd.h"
#include "cmd/files.h"
#include "cmd/launch.h"
#include "cmd/pitr.h"
#include "cmd/restore_int.h"
#include "cmd/source.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/progress.h"
#include "changes/segment.h"
#include "mvcc/mvcc.h"
#include "repo/manifest.h"
#include "restore/bump.h"
#include "restore/compat.h"
#include "restore/fsutil.h"
#include "restore/restore.h"

const enum edr_opt_id edr_cmd_restore_opts[] = {
    EDR_OPTS_REPO,
    EDR_O_IDENTITY,
    EDR_O_TO_REVISION,
    EDR_O_TO_TIME,
    EDR_O_NAME,
    EDR_O_INITIAL_CLUSTER,
    EDR_O_INITIAL_CLUSTER_TOKEN,
    EDR_O_INITIAL_ADVERTISE_PEER_URLS,
    EDR_O_DATA_DIR,
    EDR_O_WAL_DIR,
    EDR_O_SKIP_HASH_CHECK,
    EDR_O_BUMP_REVISION,
    EDR_O_MARK_COMPACTED,
    EDR_O_ALL_MEMBERS,
    EDR_O_OUTPUT_ARCHIVES,
    EDR_O_FORCE,
    EDR_O_START,
    EDR_O_LISTEN_CLIENT_URLS,
    EDR_O_ETCD_BIN,
    EDR_O_TARGET_VERSION,
    EDR_O_CHECK,
    EDR_O_DROP_PREFIX,
    EDR_O_PEER_CERT,
    EDR_O_SERVER_TOKEN_FILE,
    EDR_O_ENCRYPTION_CONFIG,
    EDR_O_EXTRACT_FILES,
    EDR_O_USER,
    EDR_O_PASSWORD_FILE,
    EDR_O_JSON,
    EDR_O__COUNT,
};

#define PATH_LIMIT 1024 /* bytes of a data, WAL or archive path */

struct target {
    const struct edr_restore_member *m;
    struct edr_restore_staged *staged;
    int archived; /* this run wrote archive */
    char data_dir[4096];
    char wal_dir[4096];
    char archive[4096];
    char client_url[512];
    char *cmdline;
    pid_t pid;
};

static edr_rc restore(struct edr_ctx *ctx);

void
edr_restore_expand_name(const char *tmpl, const char *name, char *out, size_t n)
{
    const char *p = strstr(tmpl, "{name}");

    if (p == NULL)
        snprintf(out, n, "%s", tmpl);
    else
        snprintf(out, n, "%.*s%s%s", (int)(p - tmpl), tmpl, name, p + 6);
}

static edr_rc
check_target(struct edr_ctx *ctx, const char *dir, int force)
{
    int e = edr_restore_dir_is_empty(dir);

    if (e == 0 && !force) {
        edr_err_set(&ctx->err, EDR_E_TARGET, "data dir '%s' is not empty", dir);
        edr_err_hint(&ctx->err,
                     "restore into a new dir, or use --force to move the old one aside "
                     "(it is kept as %s.etcd-dr-old-<time>)",
                     dir);
        return EDR_E_TARGET;
    }
    return EDR_OK;
}

/* mkdir -p for the parent of path (mode 0700 for what is created). */
static edr_rc
make_parent(struct edr_ctx *ctx, const char *path, char *parent, size_t n)
{
    char trimmed[4096];
    size_t len;

    snprintf(trimmed, sizeof(trimmed), "%s", path);
    len = strlen(trimmed);
    while (len > 1 && trimmed[len - 1] == '/')
        trimmed[--len] = '\0';
    edr_fs_dirname(trimmed, parent, n);
    return edr_fs_mkdir_p(parent, 0700, EDR_E_IO, &ctx->err);
}

/* One tarball per member: <dir>/<name>.tar.gz with member/... inside. */
static struct archive *tar_out;
static size_t tar_root_len;
static edr_rc tar_rc;

static int
tar_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    struct archive_entry *e;
    const char *rel = path + tar_root_len;

    (void)ftw;
    if (*rel == '/')
        rel++;
    if (*rel == '\0' || (type != FTW_F && type != FTW_D))
        return 0;
    e = archive_entry_new();
    archive_entry_set_pathname(e, rel);
    archive_entry_copy_stat(e, sb);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    if (archive_write_header(tar_out, e) != ARCHIVE_OK) {
        archive_entry_free(e);
        return -1;
    }
    archive_entry_free(e);
    if (type == FTW_F) {
        char buf[65536];
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        while ((n = read(fd, buf, sizeof(buf))) > 0)
            if (archive_write_data(tar_out, buf, (size_t)n) != n) {
                close(fd);
                return -1;
            }
        close(fd);
        if (n < 0)
            return -1;
    }
    return 0;
}

static edr_rc
write_archive(struct edr_ctx *ctx, const char *src_dir, const char *dst)
{
    struct edr_fs_atomic file;

    /* the whole database in plaintext: 0600, created safely (common/fs.h) */
    edr_fs_remove_stale(dst, ".part.");
    if ((tar_rc = edr_fs_atomic_open(&file, dst, ".part.", 0600, EDR_E_IO, &ctx->err)) != EDR_OK)
        return tar_rc;
    tar_out = archive_write_new();
    tar_root_len = strlen(src_dir);
    if (tar_out == NULL || archive_write_set_format_pax_restricted(tar_out) != ARCHIVE_OK ||
        archive_write_add_filter_gzip(tar_out) != ARCHIVE_OK ||
        archive_write_open_fd(tar_out, file.fd) != ARCHIVE_OK) {
        tar_rc = edr_err_set(&ctx->err, EDR_E_IO, "unable to create '%s': %s", file.tmp,
                             tar_out ? archive_error_string(tar_out) : "out of memory");
    } else if (nftw(src_dir, tar_one, 16, FTW_PHYS) != 0) {
        tar_rc = edr_err_set(&ctx->err, EDR_E_IO, "unable to write '%s': %s", file.tmp,
                             archive_error_string(tar_out) ? archive_error_string(tar_out)
                                                           : strerror(errno));
    } else if (archive_write_close(tar_out) != ARCHIVE_OK) {
        tar_rc = edr_err_set(&ctx->err, EDR_E_IO, "unable to write '%s': %s", file.tmp,
                             archive_error_string(tar_out));
    }
    if (tar_out != NULL)
        archive_write_free(tar_out);
    tar_out = NULL;
    if (tar_rc == EDR_OK)
        tar_rc = edr_fs_atomic_commit(&file, &ctx->err);
    edr_fs_atomic_release(&file);
    return tar_rc;
}

/* --bump-revision: absent (BUMP_NONE until the backup is seen), "auto", or
 * a whole number (0 = no bump, also the opt-out of the default). */
edr_rc
edr_restore_bump_parse(struct edr_ctx *ctx, struct bump_plan *bp, int *given)
{
    const char *v = edr_opt_str(&ctx->opts, EDR_O_BUMP_REVISION);

    memset(bp, 0, sizeof(*bp));
    *given = v != NULL;
    if (v == NULL)
        return EDR_OK;
    if (strcmp(v, "auto") == 0) {
        bp->mode = BUMP_AUTO;
        return EDR_OK;
    }
    if (edr_opt_int(&ctx->opts, EDR_O_BUMP_REVISION, 0, EDR_BUMP_MAX, &bp->bump, &ctx->err) !=
        EDR_OK) {
        edr_err_set(&ctx->err, EDR_E_USAGE,
                    "invalid --bump-revision '%s' (want a whole number from 0, or auto)", v);
        return EDR_E_USAGE;
    }
    bp->mode = bp->bump > 0 ? BUMP_N : BUMP_NONE;
    return EDR_OK;
}

/*
 * The auto bump for restoring revision `restoring` from repo: every backup
 * (its revision at its start time) and both ends of every captured segment
 * are the records of bump.h.
 */
edr_rc
edr_restore_bump_auto(struct edr_ctx *ctx, struct edr_repo *repo, int64_t restoring,
                      struct bump_plan *bp)
{
    struct edr_manifest *list = NULL;
    struct edr_segment *segs = NULL;
    struct edr_bump_record *recs = NULL;
    size_t nb = 0, ns = 0, n = 0;
    struct timespec now;
    char when[32], floor_note[64] = "";
    edr_rc rc;

    if ((rc = edr_repo_list(repo, &list, &nb, &ctx->err)) != EDR_OK ||
        (rc = edr_segment_list(repo, &segs, &ns, NULL, NULL, &ctx->err)) != EDR_OK)
        goto out;
    if ((recs = calloc(nb + 2 * ns + 1, sizeof(*recs))) == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nb; i++)
        recs[n++] =
            (struct edr_bump_record){list[i].revision, (int64_t)list[i].started * 1000, list[i].id};
    for (size_t i = 0; i < ns; i++) {
        recs[n++] = (struct edr_bump_record){segs[i].first_revision, segs[i].first_time_ms, NULL};
        recs[n++] = (struct edr_bump_record){segs[i].last_revision, segs[i].last_time_ms, NULL};
    }
    clock_gettime(CLOCK_REALTIME, &now);
    edr_bump_auto(recs, n, restoring, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, &bp->c);
    bp->mode = BUMP_AUTO;
    bp->bump = bp->c.bump;
    bp->restoring = restoring;
    if (bp->c.from < n) {
        edr_time_iso((time_t)(recs[bp->c.from].time_ms / 1000), when);
        if (recs[bp->c.from].what != NULL)
            snprintf(bp->from, sizeof(bp->from), "backup %s at %s", recs[bp->c.from].what, when);
        else
            snprintf(bp->from, sizeof(bp->from), "capture at %s", when);
    } else {
        snprintf(bp->from, sizeof(bp->from), "the revision restored");
    }
    if (bp->c.margin == EDR_BUMP_FLOOR)
        snprintf(floor_note, sizeof(floor_note), ", at least %d", EDR_BUMP_FLOOR);
    if (bp->c.rate_observed)
        snprintf(bp->reason, sizeof(bp->reason),
                 "the repository saw up to %.1f writes/s and recorded the highest revision %" PRId64
                 " s ago (2 x rate x age%s)",
                 bp->c.rate, bp->c.gap_s, floor_note);
    else
        snprintf(bp->reason, sizeof(bp->reason),
                 "the repository shows no write rate (fewer than two records in time: %d writes/s "
                 "assumed) and recorded the highest revision %" PRId64 " s ago (2 x rate x age%s)",
                 EDR_BUMP_DEFAULT_RATE, bp->c.gap_s, floor_note);
out:
    free(recs);
    free(list);
    free(segs);
    return rc;
}

void
edr_restore_bump_print(const struct edr_ctx *ctx, const struct bump_plan *bp)
{
    if (ctx->quiet || bp->mode != BUMP_AUTO)
        return;
    fprintf(stderr,
            "bump-revision: auto%s chose %" PRId64 ": highest recorded revision %" PRId64
            " (%s), restoring %" PRId64 ", margin %" PRId64 " because %s\n",
            bp->by_default ? " (the default for Kubernetes data from a repository; "
                             "--bump-revision 0 turns it off)"
                           : "",
            bp->bump, bp->c.highest, bp->from, bp->restoring, bp->c.margin, bp->reason);
}

json_t *
edr_restore_bump_json(const struct bump_plan *bp, int64_t bumped_to)
{
    if (bp->mode == BUMP_NONE)
        return json_pack("{s:s}", "mode", "none");
    if (bp->mode == BUMP_N)
        return json_pack("{s:s, s:I, s:I}", "mode", "explicit", "bump", (json_int_t)bp->bump,
                         "revision", (json_int_t)bumped_to);
    return json_pack("{s:s, s:b, s:I, s:I, s:I, s:s, s:I, s:I, s:f, s:b, s:I, s:s}", "mode", "auto",
                     "default", bp->by_default, "bump", (json_int_t)bp->bump, "revision",
                     (json_int_t)bumped_to, "highest_recorded", (json_int_t)bp->c.highest,
                     "highest_from", bp->from, "restoring", (json_int_t)bp->restoring, "margin",
                     (json_int_t)bp->c.margin, "rate", bp->c.rate, "rate_observed",
                     bp->c.rate_observed, "age_seconds", (json_int_t)bp->c.gap_s, "reason",
                     bp->reason);
}

static json_t *
drop_json(const struct edr_restore_drop *d)
{
    json_t *arr = json_array();

    for (size_t i = 0; i < edr_restore_drop_n(d); i++) {
        struct edr_restore_drop_count c;
        edr_restore_drop_count(d, i, &c);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "prefix",
                                             edr_restore_drop_prefix(d, i), "keys",
                                             (json_int_t)c.keys, "live", (json_int_t)c.live,
                                             "revisions", (json_int_t)c.revisions));
    }
    return arr;
}

/* Whether any revision of the db is of a key under /registry/. */
static int
k8s_cb(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct edr_kv kv;
    struct edr_err ignore;

    (void)k;
    (void)kl;
    if (vl == 0 || edr_mvcc_kv_decode(v, vl, &kv, &ignore) != EDR_OK)
        return 0;
    if (kv.key_len >= 10 && memcmp(kv.key, "/registry/", 10) == 0) {
        *(int *)ud = 1;
        return 1;
    }
    return 0;
}

int
edr_restore_holds_k8s(struct edr_bolt *bolt)
{
    int found = 0;
    struct edr_err ignore;

    edr_bolt_foreach(bolt, "key", 3, k8s_cb, &found, &ignore);
    return found;
}

/*
 * Before anything is written: can the etcd that will start this snapshot
 * (--target-version, or the --etcd-bin that --start runs) start it at all,
 * what state does the new cluster inherit (alarms, a downgrade), and can
 * --start check members whose backup has auth on (it needs a user then).
 */
static edr_rc
preflight(struct edr_ctx *ctx, struct edr_bolt *bolt, const struct edr_source *src, int start,
          char *user, size_t n)
{
    struct edr_restore_facts f;
    const char *target = edr_opt_str(&ctx->opts, EDR_O_TARGET_VERSION);
    char binv[64] = "", lines[4][256];
    size_t nl;
    edr_rc rc;

    if ((rc = edr_restore_facts_read(bolt, &f, &ctx->err)) != EDR_OK) {
        edr_err_prefix(&ctx->err, "%s", src->what);
        return rc;
    }
    if (target == NULL && start) {
        edr_launch_etcd_version(edr_opt_str(&ctx->opts, EDR_O_ETCD_BIN), binv, sizeof(binv));
        if (binv[0] != '\0')
            target = binv;
        else
            edr_warn("unable to tell the version of '%s'; not checked against the backup",
                     edr_opt_str(&ctx->opts, EDR_O_ETCD_BIN));
    }
    if (target != NULL && (rc = edr_restore_check_target(&f, target, &ctx->err)) != EDR_OK) {
        edr_err_prefix(&ctx->err, "%s", src->what);
        return rc;
    }
    nl = edr_restore_inherited(&f, target, lines, 4);
    for (size_t i = 0; i < nl; i++)
        edr_warn("%s", lines[i]);
    if ((rc = edr_cmd_etcd_credentials(ctx, user, n)) != EDR_OK)
        return rc;
    if (start && f.auth_enabled && user[0] == '\0') {
        edr_err_set(&ctx->err, EDR_E_USAGE,
                    "%s has auth enabled: --start needs --user to check the started members",
                    src->what);
        edr_err_hint(&ctx->err,
                     "give --user NAME with --password-file FILE (a user of the backup)");
        return EDR_E_USAGE;
    }
    return EDR_OK;
}

edr_rc
edr_cmd_restore(struct edr_ctx *ctx)
{
    if (edr_opt_bool(&ctx->opts, EDR_O_CHECK))
        return edr_restore_check(ctx);
    return restore(ctx);
}

static edr_rc
restore(struct edr_ctx *ctx)
{
    struct edr_restore_opts ro;
    struct edr_restore_cluster *cl = NULL;
    struct edr_source src;
    struct edr_spool sp;
    struct target *tg = NULL;
    struct edr_bolt *bolt = NULL;
    size_t nt = 0;
    struct bump_plan bp;
    struct edr_restore_drop *drop = NULL;
    struct edr_restore_db_opts dbo = {0};
    struct edr_pitr pitr;
    int pitr_asked;
    const char *ref;
    int mark = edr_opt_bool(&ctx->opts, EDR_O_MARK_COMPACTED), bump_given;
    int all = edr_opt_bool(&ctx->opts, EDR_O_ALL_MEMBERS);
    int force = edr_opt_bool(&ctx->opts, EDR_O_FORCE);
    int start = edr_opt_bool(&ctx->opts, EDR_O_START), done = 0;
    const char *xfiles = edr_opt_str(&ctx->opts, EDR_O_EXTRACT_FILES);
    struct edr_files_out *fo = NULL;
    const char *archives = edr_opt_str(&ctx->opts, EDR_O_OUTPUT_ARCHIVES);
    const char *dd = edr_opt_str(&ctx->opts, EDR_O_DATA_DIR);
    const char *wd = edr_opt_str(&ctx->opts, EDR_O_WAL_DIR);
    char build_dir[4096] = "", parent[4096], prepared[4200] = "", user[256] = "";
    double t0 = edr_now();
    edr_rc rc;

    memset(&src, 0, sizeof(src));
    memset(&pitr, 0, sizeof(pitr));
    memset(&sp, 0, sizeof(sp));
    sp.fd = -1;
    pitr_asked = edr_opt_str(&ctx->opts, EDR_O_TO_TIME) != NULL ||
                 edr_opt_str(&ctx->opts, EDR_O_TO_REVISION) != NULL;
    if (ctx->opts.nargs == 0 && !pitr_asked)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "usage: etcd-dr restore BACKUP|FILE.db [OPTIONS]");
    if ((rc = edr_restore_bump_parse(ctx, &bp, &bump_given)) != EDR_OK)
        return rc;
    if (bp.mode == BUMP_AUTO)
        mark = 1; /* what a bump is for: watchers from before it must relist */
    else if ((bp.mode == BUMP_N) != (mark != 0))
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "--bump-revision N and --mark-compacted must be given together "
                           "(auto implies --mark-compacted)");
    if (start && archives != NULL)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "--start and --output-archives exclude each other");
    memset(&ro, 0, sizeof(ro));
    ro.name = edr_opt_str(&ctx->opts, EDR_O_NAME);
    ro.initial_cluster = edr_opt_str(&ctx->opts, EDR_O_INITIAL_CLUSTER);
    ro.token = edr_opt_str(&ctx->opts, EDR_O_INITIAL_CLUSTER_TOKEN);
    ro.advertise_peer_urls = edr_opt_str(&ctx->opts, EDR_O_INITIAL_ADVERTISE_PEER_URLS);
    if (all) {
        if (ro.name != NULL || ro.advertise_peer_urls != NULL)
            return edr_err_set(&ctx->err, EDR_E_USAGE,
                               "--all-members writes every member: drop --name and "
                               "--initial-advertise-peer-urls");
        if (ro.initial_cluster == NULL)
            return edr_err_set(&ctx->err, EDR_E_USAGE, "--all-members needs --initial-cluster");
        if ((rc = edr_restore_cluster_parse(ro.initial_cluster, ro.token, &cl, &ctx->err)))
            return rc;
    } else if ((rc = edr_restore_opts_cluster(&ro, &cl, &ctx->err)) != EDR_OK) {
        return rc;
    }
    nt = all ? cl->n_members : 1;
    tg = calloc(nt, sizeof(*tg));
    if (tg == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if (archives != NULL) {
        if ((rc = edr_fs_mkdir_p(archives, 0700, EDR_E_IO, &ctx->err)) != EDR_OK)
            goto out;
        snprintf(build_dir, sizeof(build_dir), "%s/.etcd-dr-build-%ld", archives, (long)getpid());
        if (mkdir(build_dir, 0700) != 0) {
            int e = errno;
            rc = edr_err_errno(&ctx->err, EDR_E_IO, e, "unable to create '%s'", build_dir);
            build_dir[0] = '\0';
            goto out;
        }
    }
    if (all && nt > 1 && dd != NULL && strstr(dd, "{name}") == NULL && archives == NULL) {
        rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                         "--all-members with several members needs '{name}' in --data-dir");
        goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        char def[512];
        tg[i].m = all ? &cl->members[i]
                  : ro.name == NULL && cl->n_members == 1
                      ? &cl->members[0] /* the only member is the default */
                      : edr_restore_cluster_find(cl, ro.name ? ro.name : "default");
        if (tg[i].m == NULL) {
            rc = edr_err_set(&ctx->err, EDR_E_USAGE, "member not found in --initial-cluster");
            goto out;
        }
        snprintf(def, sizeof(def), "%s.etcd", tg[i].m->name);
        if (archives != NULL) {
            snprintf(tg[i].data_dir, sizeof(tg[i].data_dir), "%s/%s", build_dir, tg[i].m->name);
            snprintf(tg[i].archive, sizeof(tg[i].archive), "%s/%s.tar.gz", archives, tg[i].m->name);
        } else {
            edr_restore_expand_name(dd ? dd : def, tg[i].m->name, tg[i].data_dir,
                                    sizeof(tg[i].data_dir));
        }
        if (wd != NULL)
            edr_restore_expand_name(wd, tg[i].m->name, tg[i].wal_dir, sizeof(tg[i].wal_dir));
        /* a path longer than that is a mistake, not a data dir: refused
         * before a single directory is made for it */
        if (strlen(tg[i].data_dir) > PATH_LIMIT || strlen(tg[i].wal_dir) > PATH_LIMIT ||
            strlen(tg[i].archive) > PATH_LIMIT) {
            rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                             "the data, WAL or archive path of member '%s' is longer than %d bytes",
                             tg[i].m->name, PATH_LIMIT);
            goto out;
        }
        if (archives == NULL && (rc = check_target(ctx, tg[i].data_dir, force)) != EDR_OK)
            goto out;
    }
    {
        int n = 0;
        char **pfx = edr_opt_list(&ctx->opts, EDR_O_DROP_PREFIX, &n);
        if (n > 0)
            rc = edr_restore_drop_new(pfx, (size_t)n, &drop, &ctx->err);
        edr_strv_free(pfx, n);
        if (rc != EDR_OK)
            goto out;
    }
    /* read, check and spool the snapshot next to the first target */
    if ((rc = make_parent(ctx, tg[0].data_dir, parent, sizeof(parent))) != EDR_OK)
        goto out;
    ref = ctx->opts.nargs > 0 ? ctx->opts.args[0] : NULL;
    if ((rc = edr_pitr_prepare(ctx, ref, &pitr)) != EDR_OK)
        goto out;
    if (pitr.asked)
        ref = pitr.backup_id;
    if ((rc = edr_source_open(ctx, ref, &src)) != EDR_OK)
        goto out;
    if (xfiles != NULL) {
        /* written beside the snapshot's spool as it is read, in place once
         * every member is */
        if (src.kind == EDR_SOURCE_DB) {
            rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                             "--extract-files: '%s' is a plain snapshot: it holds no files",
                             src.what);
            goto out;
        }
        if ((rc = edr_files_out_new(xfiles, force, &fo, &ctx->err)) != EDR_OK)
            goto out;
        src.files = edr_files_out_hook(fo);
    }
    if ((rc = edr_source_spool(ctx, &src, parent, edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK),
                               &sp)) != EDR_OK)
        goto out;
    if ((rc = edr_bolt_open(sp.db, &bolt, &ctx->err)) != EDR_OK ||
        (rc = edr_bolt_check(bolt, NULL, &ctx->err)) != EDR_OK) {
        edr_err_prefix(&ctx->err, "%s: not a sound etcd database", src.what);
        goto out;
    }
    if ((rc = preflight(ctx, bolt, &src, start, user, sizeof(user))) != EDR_OK)
        goto out;
    /* Kubernetes clients keep watching from the revisions they saw: from a
     * repository, which knows how far the cluster got, bump by default */
    if (!bump_given && src.kind == EDR_SOURCE_REPO && edr_restore_holds_k8s(bolt)) {
        bp.mode = BUMP_AUTO;
        bp.by_default = 1;
        mark = 1;
    }
    if (bp.mode == BUMP_AUTO) {
        if (src.kind != EDR_SOURCE_REPO) {
            rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                             "--bump-revision auto needs a backup in a repository: %s has no "
                             "record of the revisions the cluster reached after it",
                             src.what);
            edr_err_hint(&ctx->err,
                         "give the bump as a number: --bump-revision N --mark-compacted");
            goto out;
        }
        if ((rc = edr_restore_bump_auto(ctx, src.repo, pitr.asked ? pitr.rp.to_rev : src.m.revision,
                                        &bp)) != EDR_OK)
            goto out;
        edr_restore_bump_print(ctx, &bp);
    } else if (!bump_given && src.kind == EDR_SOURCE_REPO && !ctx->quiet) {
        /* not Kubernetes data, but clients may have watched past this backup */
        struct bump_plan would = bp;
        if (edr_restore_bump_auto(ctx, src.repo, pitr.asked ? pitr.rp.to_rev : src.m.revision,
                                  &would) != EDR_OK)
            edr_err_clear(&ctx->err);
        else if (would.c.highest > would.restoring)
            fprintf(stderr,
                    "note: the repository recorded revision %" PRId64 " (%s), this restore is at "
                    "%" PRId64 ": watchers that saw the newer revisions miss changes unless "
                    "--bump-revision auto raises it\n",
                    would.c.highest, would.from, would.restoring);
    }
    edr_bolt_close(bolt);
    bolt = NULL;
    /* the plaintext db next to the targets: an unpredictable name, and what
     * a killed restore left there goes now */
    snprintf(prepared, sizeof(prepared), "%s/etcd-dr-prepared.db", parent);
    edr_fs_remove_stale(prepared, ".tmp.");
    if ((rc = edr_fs_temp_name(prepared, ".tmp.", prepared, sizeof(prepared), &ctx->err)) !=
        EDR_OK) {
        prepared[0] = '\0';
        goto out;
    }
    dbo.bump = bp.bump;
    dbo.mark_compacted = mark;
    if (bp.mode == BUMP_AUTO)
        dbo.bump_floor = bp.c.highest + bp.c.margin;
    dbo.drop = drop;
    edr_pitr_db_opts(&pitr, &dbo);
    if ((rc = edr_restore_write_db(sp.db, cl, &dbo, prepared, &ctx->err)) != EDR_OK)
        goto out;
    edr_spool_release(&sp);
    /* all members or none: every data dir is staged under its temp name
     * first, then they are moved into place; a failure on the way undoes
     * every member already written and puts back what --force moved aside */
    for (size_t i = 0; i < nt; i++) {
        rc = edr_restore_member_stage(cl, tg[i].m->name, prepared, tg[i].data_dir,
                                      tg[i].wal_dir[0] ? tg[i].wal_dir : NULL, force, &tg[i].staged,
                                      &ctx->err);
        if (rc == EDR_OK)
            rc = edr_cmd_check_interrupted(&ctx->err);
        if (rc != EDR_OK)
            goto out;
    }
    for (size_t i = 0; i < nt; i++) {
        if ((rc = edr_restore_staged_commit(tg[i].staged, &ctx->err)) != EDR_OK)
            goto out;
        if (archives != NULL) {
            if ((rc = write_archive(ctx, tg[i].data_dir, tg[i].archive)) != EDR_OK)
                goto out;
            tg[i].archived = 1;
        }
    }
    for (size_t i = 0; i < nt; i++) {
        rc = edr_restore_member_cmdline(
            cl, tg[i].m->name, archives ? "/var/lib/etcd" : tg[i].data_dir,
            tg[i].wal_dir[0] ? tg[i].wal_dir : NULL, &tg[i].cmdline, &ctx->err);
        if (rc != EDR_OK)
            goto out;
    }
    if (fo != NULL && (rc = edr_files_out_commit(fo, &ctx->err)) != EDR_OK)
        goto out;
    done = 1;
    edr_spool_release(&sp);
    if (start) {
        int n = 0;
        char **urls = edr_opt_list(&ctx->opts, EDR_O_LISTEN_CLIENT_URLS, &n);
        char eps[4096] = "";
        pid_t pids[64];
        if (n != (int)nt || nt > 64) {
            edr_strv_free(urls, n);
            rc = edr_err_set(&ctx->err, EDR_E_USAGE,
                             "--start needs --listen-client-urls with one URL per restored member "
                             "(%zu), in --initial-cluster member order or as NAME=URL",
                             nt);
            goto out;
        }
        for (size_t i = 0; i < nt; i++) {
            const char *u = urls[i];
            char logp[4200];
            for (int k = 0; k < n; k++) {
                size_t l = strlen(tg[i].m->name);
                if (strncmp(urls[k], tg[i].m->name, l) == 0 && urls[k][l] == '=')
                    u = urls[k] + l + 1;
            }
            snprintf(tg[i].client_url, sizeof(tg[i].client_url), "%s", u);
            snprintf(logp, sizeof(logp), "%s.log", tg[i].data_dir);
            rc = edr_launch_etcd(edr_opt_str(&ctx->opts, EDR_O_ETCD_BIN), tg[i].m, tg[i].data_dir,
                                 tg[i].wal_dir[0] ? tg[i].wal_dir : NULL, tg[i].client_url, logp, 0,
                                 &tg[i].pid, &ctx->err);
            if (rc != EDR_OK)
                break;
            pids[i] = tg[i].pid;
            snprintf(eps + strlen(eps), sizeof(eps) - strlen(eps), "%s%s", i ? "," : "", u);
        }
        edr_strv_free(urls, n);
        if (rc == EDR_OK)
            rc = edr_launch_wait_healthy(eps, user[0] ? user : NULL, ctx->password, pids, nt, 60,
                                         &ctx->err);
        if (rc != EDR_OK)
            goto out;
    }
    if (ctx->json) {
        json_t *arr = json_array();
        char hex[17];
        for (size_t i = 0; i < nt; i++) {
            edr_restore_id_hex(tg[i].m->id, hex);
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "name",
                                                 tg[i].m->name, "member_id", hex, "data_dir",
                                                 archives ? "" : tg[i].data_dir, "archive",
                                                 tg[i].archive, "command", tg[i].cmdline, "pid",
                                                 (json_int_t)tg[i].pid));
        }
        edr_restore_id_hex(cl->cluster_id, hex);
        edr_cmd_print_json(json_pack(
            "{s:s, s:s, s:I, s:I, s:f, s:I, s:o, s:o, s:o}", "source", src.what, "cluster_id", hex,
            "revision",
            (json_int_t)(pitr.asked                    ? pitr.rp.to_rev
                         : src.kind == EDR_SOURCE_REPO ? src.m.revision
                                                       : 0),
            "changes_replayed", (json_int_t)pitr.rp.events, "duration_seconds", edr_now() - t0,
            "files_extracted", (json_int_t)(fo != NULL ? edr_files_out_count(fo) : 0), "members",
            arr, "bump_revision", edr_restore_bump_json(&bp, dbo.bumped_to), "dropped",
            drop_json(drop)));
    } else if (!ctx->quiet) {
        char hex[17];
        edr_restore_id_hex(cl->cluster_id, hex);
        printf("restored %s into %zu member%s of cluster %s in %.1fs\n", src.what, nt,
               nt == 1 ? "" : "s", hex, edr_now() - t0);
        if (pitr.asked)
            printf("  at revision %" PRId64 " (%" PRIu64 " captured changes replayed)\n",
                   pitr.rp.to_rev, pitr.rp.events);
        if (dbo.bumped_to > 0)
            printf("  revision bumped to %" PRId64 " (by %" PRId64 "%s), marked compacted\n",
                   dbo.bumped_to, bp.bump, bp.mode == BUMP_AUTO ? ", auto" : "");
        for (size_t i = 0; i < edr_restore_drop_n(drop); i++) {
            struct edr_restore_drop_count c;
            edr_restore_drop_count(drop, i, &c);
            printf("  dropped %s: %" PRIu64 " key%s (%" PRIu64 " live, %" PRIu64 " revision%s)\n",
                   edr_restore_drop_prefix(drop, i), c.keys, c.keys == 1 ? "" : "s", c.live,
                   c.revisions, c.revisions == 1 ? "" : "s");
        }
        for (size_t i = 0; i < nt; i++) {
            if (archives != NULL)
                printf("  %s: %s (unpack into the member's data dir)\n", tg[i].m->name,
                       tg[i].archive);
            else
                printf("  %s: %s\n", tg[i].m->name, tg[i].data_dir);
            if (tg[i].pid > 0)
                printf("    started, pid %ld, serving %s\n", (long)tg[i].pid, tg[i].client_url);
            else
                printf("    start with: %s\n", tg[i].cmdline);
        }
        if (fo != NULL)
            printf("  %zu kept file%s written into %s\n", edr_files_out_count(fo),
                   edr_files_out_count(fo) == 1 ? "" : "s", xfiles);
    }
out:
    if (rc != EDR_OK)
        for (size_t i = 0; tg != NULL && i < nt; i++)
            edr_launch_stop(tg[i].pid);
    for (size_t i = 0; tg != NULL && i < nt; i++) {
        /* a run that did not write every member leaves none of them */
        if (!done) {
            edr_restore_staged_abort(tg[i].staged);
            if (tg[i].archived)
                unlink(tg[i].archive);
        }
        edr_restore_staged_free(tg[i].staged);
    }
    edr_bolt_close(bolt);
    edr_spool_release(&sp);
    if (prepared[0] != '\0')
        unlink(prepared);
    if (build_dir[0] != '\0')
        edr_fs_rm_tree(build_dir, NULL);
    for (size_t i = 0; tg != NULL && i < nt; i++)
        free(tg[i].cmdline);
    free(tg);
    edr_restore_cluster_free(cl);
    edr_files_out_free(fo);
    edr_source_close(&src);
    edr_pitr_release(&pitr);
    edr_restore_drop_free(drop);
    return rc;
}
