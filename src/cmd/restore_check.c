/*
 * restore --check: the preflight of a restore, run without writing
 * anything (no data dir, no spool or lock next to the targets; a backup from
 * a repository is read through a private copy in $TMPDIR that is unlinked at
 * once, as inspect does). Each check is one line of one table: ok, warn
 * (the restore works, an operator should know) or BLOCK (the restore or the
 * cluster it makes would fail); any BLOCK exits EDR_E_TARGET.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "cmd/launch.h"
#include "cmd/pitr.h"
#include "cmd/restore_int.h"
#include "cmd/source.h"
#include "common/fs.h"
#include "common/hash.h"
#include "common/secret.h"
#include "k8s/encryption.h"
#include "repo/repo.h"
#include "mvcc/mvcc.h"
#include "restore/compat.h"
#include "restore/fsutil.h"
#include "restore/preflight.h"
#include "restore/restore.h"

#define WAL_BYTES 64000000ULL /* the preallocated first WAL segment a restore writes */

enum result { CHK_OK, CHK_WARN, CHK_BLOCK };

struct check {
    char name[96];
    enum result r;
    char detail[1024];
};

struct checks {
    struct check *v;
    size_t n, cap;
};

static void EDR_PRINTF(4, 5)
    add(struct checks *cs, const char *name, enum result r, const char *fmt, ...)
{
    va_list ap;

    if (cs->n == cs->cap) {
        size_t nc = cs->cap ? cs->cap * 2 : 16;
        struct check *nv = realloc(cs->v, nc * sizeof(*nv));
        if (nv == NULL)
            return; /* a line lost to no memory: the exit status still counts it */
        cs->v = nv;
        cs->cap = nc;
    }
    snprintf(cs->v[cs->n].name, sizeof(cs->v[cs->n].name), "%s", name);
    cs->v[cs->n].r = r;
    va_start(ap, fmt);
    vsnprintf(cs->v[cs->n].detail, sizeof(cs->v[cs->n].detail), fmt, ap);
    va_end(ap);
    cs->n++;
}

/* The nearest existing ancestor of path (path itself when it exists). */
static void
existing_ancestor(const char *path, char *out, size_t n)
{
    char cur[4096];
    struct stat st;

    snprintf(cur, sizeof(cur), "%s", path);
    while (stat(cur, &st) != 0) {
        char up[4096];
        edr_fs_dirname(cur, up, sizeof(up));
        if (strcmp(up, cur) == 0)
            break;
        snprintf(cur, sizeof(cur), "%s", up);
    }
    snprintf(out, n, "%s", cur);
}

static void
fmt_size(uint64_t b, char *out, size_t n)
{
    if (b >= (10ULL << 30))
        snprintf(out, n, "%.1f GiB", (double)b / (1 << 30));
    else
        snprintf(out, n, "%" PRIu64 " MiB", (b + (1 << 20) - 1) >> 20);
}

/* A data or WAL dir: empty or absent, its parent writable, room for need. */
static void
check_dir(struct checks *cs, const char *label, const char *dir, int force, uint64_t need)
{
    char anc[4096], parent[4096], trimmed[4096], have_s[32], need_s[32];
    struct statvfs vf;
    struct stat st;
    int e;
    size_t len;

    snprintf(trimmed, sizeof(trimmed), "%s", dir);
    len = strlen(trimmed);
    while (len > 1 && trimmed[len - 1] == '/')
        trimmed[--len] = '\0';
    if (stat(trimmed, &st) == 0 && !S_ISDIR(st.st_mode)) {
        add(cs, label, CHK_BLOCK, "'%s' exists and is not a directory", trimmed);
        return;
    }
    e = edr_restore_dir_is_empty(trimmed);
    if (e == 0 && !force) {
        add(cs, label, CHK_BLOCK,
            "'%s' is not empty (restore into a new dir, or --force moves it "
            "aside)",
            trimmed);
        return;
    }
    edr_fs_dirname(trimmed, parent, sizeof(parent));
    existing_ancestor(parent, anc, sizeof(anc));
    if (access(anc, W_OK | X_OK) != 0) {
        add(cs, label, CHK_BLOCK, "'%s' cannot be created: '%s' is not writable: [%d] %s", trimmed,
            anc, errno, strerror(errno));
        return;
    }
    fmt_size(need, need_s, sizeof(need_s));
    if (statvfs(anc, &vf) != 0) {
        add(cs, label, CHK_WARN, "'%s': free space of '%s' unknown: [%d] %s", trimmed, anc, errno,
            strerror(errno));
        return;
    }
    fmt_size((uint64_t)vf.f_bavail * vf.f_frsize, have_s, sizeof(have_s));
    if ((uint64_t)vf.f_bavail * vf.f_frsize < need) {
        add(cs, label, CHK_BLOCK, "'%s': %s free in '%s', %s needed", trimmed, have_s, anc, need_s);
        return;
    }
    add(cs, label, e == 0 ? CHK_WARN : CHK_OK, "'%s' %s; '%s' writable, %s free, %s needed",
        trimmed,
        e == 0  ? "is not empty: --force moves it aside"
        : e < 0 ? "absent"
                : "empty",
        anc, have_s, need_s);
}

/* --extract-files DIR: creatable, and no kept file already there (unless
 * --force). The records come from the repository's manifest; a loose data
 * file keeps them inside, which only the restore reads. */
static void
check_extract_files(struct edr_ctx *ctx, struct checks *cs, struct edr_source *src, int force)
{
    const char *dir = edr_opt_str(&ctx->opts, EDR_O_EXTRACT_FILES);
    struct edr_manifest_file *files = NULL;
    struct edr_err e;
    char anc[4096], path[8192], first[8192] = "";
    size_t n = 0, clash = 0;

    existing_ancestor(dir, anc, sizeof(anc));
    if (access(anc, W_OK | X_OK) != 0) {
        add(cs, "extract files", CHK_BLOCK, "'%s' cannot be created: '%s' is not writable: [%d] %s",
            dir, anc, errno, strerror(errno));
        return;
    }
    if (src == NULL || src->kind != EDR_SOURCE_REPO) {
        add(cs, "extract files", CHK_OK,
            "'%s' writable (the kept files are checked by the restore)", dir);
        return;
    }
    memset(&e, 0, sizeof(e));
    if (edr_repo_read_files(src->repo, &src->m, &files, &n, &e) != EDR_OK) {
        add(cs, "extract files", CHK_BLOCK, "%s", e.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", dir, files[i].path);
        if (lstat(path, &st) == 0 && clash++ == 0)
            memcpy(first, path, sizeof(first));
    }
    free(files);
    if (n == 0)
        add(cs, "extract files", CHK_WARN, "the backup keeps no files (backup --include)");
    else if (clash > 0 && !force)
        add(cs, "extract files", CHK_BLOCK,
            "%zu of %zu kept files already exist under '%s' (first: '%s'); --force replaces them",
            clash, n, dir, first);
    else
        add(cs, "extract files", CHK_OK, "%zu files into '%s'%s", n, dir,
            clash > 0 ? " (existing ones replaced: --force)" : "");
}

/* "NAME=URL" or "URL" */
static const char *
url_of(const char *item)
{
    const char *eq = strchr(item, '='), *sch = strstr(item, "://");

    return eq != NULL && (sch == NULL || eq < sch) ? eq + 1 : item;
}

/* --listen-client-urls: well formed (the rules of --initial-cluster),
 * distinct, none a peer URL. */
static void
check_client_urls(struct edr_ctx *ctx, struct checks *cs, const struct edr_restore_cluster *cl)
{
    int n = 0, bad = 0;
    char **urls = edr_opt_list(&ctx->opts, EDR_O_LISTEN_CLIENT_URLS, &n);

    for (int i = 0; i < n && !bad; i++) {
        const char *url = url_of(urls[i]);
        struct edr_restore_cluster *one = NULL;
        struct edr_err e;
        char spec[1100];

        snprintf(spec, sizeof(spec), "c=%s", url);
        if (edr_restore_cluster_parse(spec, NULL, &one, &e) != EDR_OK) {
            const char *why = strstr(e.msg, "': ");
            add(cs, "client URLs", CHK_BLOCK, "'%s': %s", url, why ? why + 3 : e.msg);
            bad = 1;
        }
        edr_restore_cluster_free(one);
        for (int k = 0; k < i && !bad; k++)
            if (strcmp(url_of(urls[k]), url) == 0) {
                add(cs, "client URLs", CHK_BLOCK, "'%s' is given twice", url);
                bad = 1;
            }
        for (size_t m = 0; cl != NULL && m < cl->n_members && !bad; m++)
            for (size_t k = 0; k < cl->members[m].n_urls && !bad; k++)
                if (strcmp(cl->members[m].urls[k], url) == 0) {
                    add(cs, "client URLs", CHK_BLOCK, "'%s' is also the peer URL of member '%s'",
                        url, cl->members[m].name);
                    bad = 1;
                }
    }
    if (n > 0 && !bad)
        add(cs, "client URLs", CHK_OK, "%d URL%s, well formed and distinct", n, n == 1 ? "" : "s");
    edr_strv_free(urls, n);
}

/* --peer-cert ({name} per member): its SANs name every peer URL host of
 * the member, or the other members refuse its TLS handshake. */
static void
check_peer_certs(struct edr_ctx *ctx, struct checks *cs, const struct edr_restore_cluster *cl)
{
    const char *tmpl = edr_opt_str(&ctx->opts, EDR_O_PEER_CERT);

    for (size_t m = 0; tmpl != NULL && cl != NULL && m < cl->n_members; m++) {
        const struct edr_restore_member *mb = &cl->members[m];
        struct edr_restore_cert *c = NULL;
        char path[4096], label[96], sans[512], missing[512] = "";
        size_t len = 0;
        struct edr_err e;

        edr_restore_expand_name(tmpl, mb->name, path, sizeof(path));
        snprintf(label, sizeof(label), "peer cert %s", mb->name);
        if (edr_restore_cert_load(path, &c, &e) != EDR_OK) {
            add(cs, label, CHK_BLOCK, "%s", e.msg);
            continue;
        }
        for (size_t k = 0; k < mb->n_urls; k++) {
            char host[256];
            if (edr_restore_url_host(mb->urls[k], host, sizeof(host)) != 0 ||
                !edr_restore_cert_covers(c, host))
                len += (size_t)snprintf(missing + len, sizeof(missing) - len, "%s'%s'",
                                        len ? ", " : "", host);
            if (len >= sizeof(missing))
                break;
        }
        edr_restore_cert_sans(c, sans, sizeof(sans));
        if (missing[0] != '\0')
            add(cs, label, CHK_BLOCK, "'%s' does not name %s (its SANs: %s)", path, missing, sans);
        else
            add(cs, label, CHK_OK, "'%s' names every peer URL host (SANs: %s)", path, sans);
        edr_restore_cert_free(c);
    }
}

struct live_count {
    uint64_t n;
    char first[3][256];
};

static int
count_cb(void *ud, const struct edr_kv *kv)
{
    struct live_count *lc = ud;

    if (lc->n < 3)
        snprintf(lc->first[lc->n], sizeof(lc->first[0]), "%.*s",
                 (int)(kv->key_len < 255 ? kv->key_len : 255), (const char *)kv->key);
    lc->n++;
    return 0;
}

static int
dropped_by_option(struct edr_ctx *ctx, const char *prefix)
{
    int n = 0, hit = 0;
    char **v = edr_opt_list(&ctx->opts, EDR_O_DROP_PREFIX, &n);

    for (int i = 0; i < n; i++)
        if (strncmp(prefix, v[i], strlen(v[i])) == 0)
            hit = 1;
    edr_strv_free(v, n);
    return hit;
}

/* Leases of the old control plane: API server endpoints (masterleases, the
 * legacy endpoint reconciler) and leader election in kube-system; until
 * they expire they name hosts that may not come back. */
static void
check_stale_leases(struct edr_ctx *ctx, struct checks *cs, struct edr_bolt *bolt)
{
    static const char *const prefixes[] = {"/registry/masterleases/",
                                           "/registry/leases/kube-system/"};
    static const char *const labels[] = {"masterleases", "kube-system leases"};

    for (size_t i = 0; i < 2; i++) {
        struct live_count lc;
        struct edr_err e;
        char label[96];

        memset(&lc, 0, sizeof(lc));
        snprintf(label, sizeof(label), "%s", labels[i]);
        if (edr_mvcc_foreach_live(bolt, (const uint8_t *)prefixes[i], strlen(prefixes[i]), 0,
                                  count_cb, &lc, &e) != EDR_OK) {
            add(cs, label, CHK_WARN, "not checked: %s", e.msg);
        } else if (lc.n == 0) {
            add(cs, label, CHK_OK, "none");
        } else if (dropped_by_option(ctx, prefixes[i])) {
            add(cs, label, CHK_OK, "%" PRIu64 " key%s, left out by --drop-prefix", lc.n,
                lc.n == 1 ? "" : "s");
        } else {
            add(cs, label, CHK_WARN,
                "%" PRIu64 " key%s (%s%s%s%s%s%s) name the old control plane until they expire: "
                "--drop-prefix %s leaves them out",
                lc.n, lc.n == 1 ? "" : "s", lc.first[0], lc.n > 1 ? ", " : "", lc.first[1],
                lc.n > 2 ? ", " : "", lc.first[2], lc.n > 3 ? ", ..." : "", prefixes[i]);
        }
    }
}

struct boot_keys {
    char keys[8][64];
    size_t n;
};

static int
boot_cb(void *ud, const struct edr_kv *kv)
{
    struct boot_keys *bk = ud;

    if (bk->n < 8)
        snprintf(bk->keys[bk->n], sizeof(bk->keys[0]), "%.*s",
                 (int)(kv->key_len < 63 ? kv->key_len : 63), (const char *)kv->key);
    bk->n++;
    return 0;
}

/* --server-token-file: the k3s/RKE2 bootstrap data for this token is in
 * the backup (preflight.c says how the key is derived). */
static void
check_server_token(struct edr_ctx *ctx, struct checks *cs, struct edr_bolt *bolt)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_SERVER_TOKEN_FILE);
    char *tok = NULL, key[24], old[24] = "", empty[24] = "";
    size_t len = 0;
    struct boot_keys bk;
    struct edr_err e;

    if (path == NULL)
        return;
    memset(&bk, 0, sizeof(bk));
    if (edr_secret_read_file(path, "server token", 4096, 0, &tok, &len, &e) != EDR_OK) {
        add(cs, "server token", CHK_BLOCK, "%s", e.msg);
        return;
    }
    if (edr_restore_k3s_bootstrap_key(tok, len, key, &e) != EDR_OK) {
        add(cs, "server token", CHK_BLOCK, "'%s': %s", path, e.msg);
        sodium_free(tok);
        return;
    }
    /* keys older k3s wrote, which it migrates at start: the hash of the
     * whole token, and of the empty string */
    while (len > 0 && tok[len - 1] == '\n')
        len--;
    {
        uint8_t sum[32];
        char hex[65];
        edr_sha256_buf(tok, len, sum);
        edr_hex(sum, 32, hex);
        snprintf(old, sizeof(old), "/bootstrap/%.12s", hex);
        edr_sha256_buf("", 0, sum);
        edr_hex(sum, 32, hex);
        snprintf(empty, sizeof(empty), "/bootstrap/%.12s", hex);
    }
    sodium_free(tok);
    if (edr_mvcc_foreach_live(bolt, (const uint8_t *)"/bootstrap/", 11, 0, boot_cb, &bk, &e) !=
        EDR_OK) {
        add(cs, "server token", CHK_WARN, "not checked: %s", e.msg);
        return;
    }
    for (size_t i = 0; i < bk.n && i < 8; i++)
        if (strcmp(bk.keys[i], key) == 0) {
            add(cs, "server token", CHK_OK, "'%s': the bootstrap data of this token is in %s", path,
                key);
            return;
        }
    for (size_t i = 0; i < bk.n && i < 8; i++)
        if (strcmp(bk.keys[i], old) == 0 || strcmp(bk.keys[i], empty) == 0) {
            add(cs, "server token", CHK_WARN,
                "'%s': the bootstrap data is under %s, the key older k3s used for this token; "
                "k3s moves it to %s at start",
                path, bk.keys[i], key);
            return;
        }
    if (bk.n == 0)
        add(cs, "server token", CHK_WARN,
            "the backup has no /bootstrap/ key: not a k3s/RKE2 datastore, or its bootstrap data "
            "was never saved (k3s would make new certificates)");
    else
        add(cs, "server token", CHK_BLOCK,
            "'%s' is not the token of this backup: its bootstrap data is under %s, this token's "
            "would be %s (k3s refuses to start: \"bootstrap data already found and encrypted "
            "with different token\")",
            path, bk.keys[0], key);
}

struct enc_scan {
    const struct edr_k8s_keys *keys;
    struct edr_buf out;
    uint64_t n[EDR_K8S_KMS + 1];
    char first_bad[512]; /* the first object that did not open, and why */
};

static int
enc_cb(void *ud, const struct edr_kv *kv)
{
    struct enc_scan *es = ud;
    char why[256] = "";
    enum edr_k8s_unseal r = edr_k8s_unseal(es->keys, kv->key, kv->key_len, kv->value, kv->value_len,
                                           &es->out, why, sizeof(why));

    if (es->out.data != NULL)
        sodium_memzero(es->out.data, es->out.cap); /* plaintext stays nowhere */
    es->n[r]++;
    if ((r == EDR_K8S_NO_KEY || r == EDR_K8S_BAD) && es->first_bad[0] == '\0')
        snprintf(es->first_bad, sizeof(es->first_bad), "%.*s: %s",
                 (int)(kv->key_len < 200 ? kv->key_len : 200), (const char *)kv->key,
                 why[0] ? why : edr_k8s_unseal_name(r));
    return 0;
}

/* --encryption-config: every object the API server encrypted opens with
 * the keys at hand (KMS ones cannot be checked without the plugin). */
static void
check_encryption(struct edr_ctx *ctx, struct checks *cs, struct edr_bolt *bolt)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_ENCRYPTION_CONFIG);
    struct edr_k8s_keys *keys = NULL;
    struct enc_scan es;
    struct edr_err e;
    uint64_t bad;

    if (path == NULL)
        return;
    memset(&es, 0, sizeof(es));
    if (edr_k8s_keys_load(path, &keys, &e) != EDR_OK) {
        add(cs, "encryption", CHK_BLOCK, "%s", e.msg);
        return;
    }
    es.keys = keys;
    if (edr_mvcc_foreach_live(bolt, (const uint8_t *)"/registry/", 10, 0, enc_cb, &es, &e) !=
        EDR_OK) {
        add(cs, "encryption", CHK_WARN, "not checked: %s", e.msg);
        goto out;
    }
    bad = es.n[EDR_K8S_NO_KEY] + es.n[EDR_K8S_BAD];
    if (bad > 0)
        add(cs, "encryption", CHK_BLOCK,
            "%" PRIu64 " encrypted object%s do%s not open with '%s' (%" PRIu64
            " without a key, %" PRIu64 " wrong key or damaged; first: %s); %" PRIu64 " opened",
            bad, bad == 1 ? "" : "s", bad == 1 ? "es" : "", path, es.n[EDR_K8S_NO_KEY],
            es.n[EDR_K8S_BAD], es.first_bad, es.n[EDR_K8S_OPENED]);
    else if (es.n[EDR_K8S_KMS] > 0)
        add(cs, "encryption", CHK_WARN,
            "%" PRIu64 " object%s encrypted by KMS: not checkable offline (the KMS plugin must "
            "serve the restored API server); %" PRIu64 " others opened",
            es.n[EDR_K8S_KMS], es.n[EDR_K8S_KMS] == 1 ? "" : "s", es.n[EDR_K8S_OPENED]);
    else
        add(cs, "encryption", CHK_OK, "%" PRIu64 " encrypted object%s, every one opens with '%s'",
            es.n[EDR_K8S_OPENED], es.n[EDR_K8S_OPENED] == 1 ? "" : "s", path);
out:
    if (es.out.data != NULL)
        sodium_memzero(es.out.data, es.out.cap);
    edr_buf_release(&es.out);
    edr_k8s_keys_free(keys);
}

/* The etcd that will start the data, the state it inherits. */
static void
check_facts(struct edr_ctx *ctx, struct checks *cs, struct edr_bolt *bolt)
{
    struct edr_restore_facts f;
    const char *target = edr_opt_str(&ctx->opts, EDR_O_TARGET_VERSION);
    const char *bin = edr_opt_str(&ctx->opts, EDR_O_ETCD_BIN);
    char binv[64] = "", from[160] = "";
    struct edr_err e;

    if (edr_restore_facts_read(bolt, &f, &e) != EDR_OK) {
        add(cs, "etcd version", CHK_BLOCK, "%s", e.msg);
        return;
    }
    if (target == NULL && bin != NULL) {
        edr_launch_etcd_version(bin, binv, sizeof(binv));
        if (binv[0] != '\0') {
            target = binv;
            snprintf(from, sizeof(from), " ('%s --version')", bin);
        }
    }
    if (target == NULL)
        add(cs, "etcd version", CHK_WARN,
            "not checked: give --target-version or --etcd-bin (the backup holds etcd 3.%d data)",
            edr_restore_data_minor(&f));
    else if (edr_restore_check_target(&f, target, &e) != EDR_OK)
        add(cs, "etcd version", CHK_BLOCK, "%s", e.msg);
    else
        add(cs, "etcd version", CHK_OK, "etcd %s%s can start the backup's etcd 3.%d data", target,
            from, edr_restore_data_minor(&f));
    if (f.alarm_nospace || f.alarm_corrupt)
        /* NOSPACE is the operator's to clear after the start (the restore
         * itself only warns); CORRUPT says the data may be bad: stop. */
        add(cs, "alarms", f.alarm_corrupt ? CHK_BLOCK : CHK_WARN, "the backup holds %s%s%s: %s",
            f.alarm_nospace ? "NOSPACE" : "", f.alarm_nospace && f.alarm_corrupt ? " and " : "",
            f.alarm_corrupt ? "CORRUPT" : "",
            f.alarm_corrupt ? "the restored cluster serves no requests until 'etcdctl alarm "
                              "disarm'; check the data first"
                            : "the restored cluster accepts no writes until 'etcdctl alarm "
                              "disarm' (compact and defragment first)");
    else
        add(cs, "alarms", CHK_OK, "none");
    if (f.downgrade_target[0] != '\0')
        add(cs, "downgrade", CHK_WARN,
            "taken during a downgrade to %s: the restored cluster inherits it ('etcdctl "
            "downgrade cancel' stops it)",
            f.downgrade_target);
    else
        add(cs, "downgrade", CHK_OK, "none in progress");
}

static void
print_table(const struct checks *cs)
{
    static const char *const names[] = {"ok", "warn", "BLOCK"};
    int w = 5;

    for (size_t i = 0; i < cs->n; i++)
        if ((int)strlen(cs->v[i].name) > w)
            w = (int)strlen(cs->v[i].name);
    printf("%-*s  %-6s %s\n", w, "CHECK", "RESULT", "DETAIL");
    for (size_t i = 0; i < cs->n; i++)
        printf("%-*s  %-6s %s\n", w, cs->v[i].name, names[cs->v[i].r], cs->v[i].detail);
}

static void
print_json(const struct checks *cs, int ok)
{
    static const char *const names[] = {"ok", "warn", "block"};
    json_t *arr = json_array();

    for (size_t i = 0; i < cs->n; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "check", cs->v[i].name, "result",
                                             names[cs->v[i].r], "detail", cs->v[i].detail));
    edr_cmd_print_json(json_pack("{s:b, s:o}", "ok", ok, "checks", arr));
}

/* The cluster as restore parses it; a failure is the "peer URLs" line. */
static struct edr_restore_cluster *
check_cluster(struct edr_ctx *ctx, struct checks *cs, int all)
{
    struct edr_restore_opts ro;
    struct edr_restore_cluster *cl = NULL;
    struct edr_err e;
    edr_rc rc;

    memset(&ro, 0, sizeof(ro));
    ro.name = edr_opt_str(&ctx->opts, EDR_O_NAME);
    ro.initial_cluster = edr_opt_str(&ctx->opts, EDR_O_INITIAL_CLUSTER);
    ro.token = edr_opt_str(&ctx->opts, EDR_O_INITIAL_CLUSTER_TOKEN);
    ro.advertise_peer_urls = edr_opt_str(&ctx->opts, EDR_O_INITIAL_ADVERTISE_PEER_URLS);
    if (all && ro.initial_cluster == NULL) {
        add(cs, "peer URLs", CHK_BLOCK, "--all-members needs --initial-cluster");
        return NULL;
    }
    rc = all ? edr_restore_cluster_parse(ro.initial_cluster, ro.token, &cl, &e)
             : edr_restore_opts_cluster(&ro, &cl, &e);
    if (rc != EDR_OK) {
        add(cs, "peer URLs", CHK_BLOCK, "%s", e.msg);
        return NULL;
    }
    add(cs, "peer URLs", CHK_OK, "%zu member%s, every URL well formed and used once", cl->n_members,
        cl->n_members == 1 ? "" : "s");
    return cl;
}

edr_rc
edr_restore_check(struct edr_ctx *ctx)
{
    struct checks cs = {0};
    struct edr_restore_cluster *cl = NULL;
    struct edr_source_db sdb;
    struct edr_pitr pitr;
    struct bump_plan bp;
    const char *ref = ctx->opts.nargs > 0 ? ctx->opts.args[0] : NULL;
    const char *dd = edr_opt_str(&ctx->opts, EDR_O_DATA_DIR);
    const char *wd = edr_opt_str(&ctx->opts, EDR_O_WAL_DIR);
    const char *archives = edr_opt_str(&ctx->opts, EDR_O_OUTPUT_ARCHIVES);
    int all = edr_opt_bool(&ctx->opts, EDR_O_ALL_MEMBERS);
    int force = edr_opt_bool(&ctx->opts, EDR_O_FORCE), given, have_db = 0, blocks = 0;
    uint64_t db_size = 0;
    edr_rc rc;

    edr_source_db_init(&sdb);
    memset(&pitr, 0, sizeof(pitr));
    if (ref == NULL && edr_opt_str(&ctx->opts, EDR_O_TO_TIME) == NULL &&
        edr_opt_str(&ctx->opts, EDR_O_TO_REVISION) == NULL)
        return edr_err_set(&ctx->err, EDR_E_USAGE,
                           "usage: etcd-dr restore --check BACKUP|FILE.db [OPTIONS]");
    if ((rc = edr_restore_bump_parse(ctx, &bp, &given)) != EDR_OK)
        return rc;

    /* the backup, read the way inspect reads it: nothing near the targets */
    if ((rc = edr_pitr_prepare(ctx, ref, &pitr)) != EDR_OK ||
        (rc = edr_source_db_open(ctx, pitr.asked ? pitr.backup_id : ref, &sdb)) != EDR_OK) {
        add(&cs, "backup", CHK_BLOCK, "%s", ctx->err.msg);
        edr_err_clear(&ctx->err);
    } else {
        struct stat st;
        char size[32];
        have_db = 1;
        /* the decrypted copy when there is one, else the plain .db itself */
        if ((sdb.sp.fd >= 0 ? fstat(sdb.sp.fd, &st) : stat(sdb.src.path, &st)) == 0)
            db_size = (uint64_t)st.st_size;
        fmt_size(db_size, size, sizeof(size));
        if (pitr.asked)
            add(&cs, "backup", CHK_OK,
                "%s (revision %" PRId64 ", %s), captured changes up to revision %" PRId64
                " replayed on it (the checks below look at the backup)",
                sdb.src.what, sdb.src.m.revision, size, pitr.rp.to_rev);
        else
            add(&cs, "backup", CHK_OK, "%s, %s", sdb.src.what, size);
        check_facts(ctx, &cs, sdb.bolt);
    }

    cl = check_cluster(ctx, &cs, all);
    check_client_urls(ctx, &cs, cl);
    if (cl != NULL) {
        size_t nt = all ? cl->n_members : 1;
        for (size_t i = 0; i < nt; i++) {
            const struct edr_restore_member *m =
                all ? &cl->members[i]
                : edr_opt_str(&ctx->opts, EDR_O_NAME) == NULL && cl->n_members == 1
                    ? &cl->members[0]
                    : edr_restore_cluster_find(cl, edr_opt_str(&ctx->opts, EDR_O_NAME));
            char def[512], data[4096], wal[4096], label[96];
            /* the first member's file system also holds the decrypted copy
             * and the rewritten db while the restore runs */
            uint64_t extra = i == 0 ? 2 * db_size : 0;

            if (m == NULL)
                continue; /* check_cluster refused the name */
            snprintf(def, sizeof(def), "%s.etcd", m->name);
            if (archives != NULL) {
                snprintf(label, sizeof(label), "archive %s", m->name);
                snprintf(data, sizeof(data), "%s/%s.tar.gz", archives, m->name);
                check_dir(&cs, label, data, force, 2 * db_size + WAL_BYTES + extra);
                continue;
            }
            if (all && nt > 1 && dd != NULL && strstr(dd, "{name}") == NULL) {
                add(&cs, "data dirs", CHK_BLOCK,
                    "--all-members with several members needs '{name}' in --data-dir");
                break;
            }
            edr_restore_expand_name(dd ? dd : def, m->name, data, sizeof(data));
            snprintf(label, sizeof(label), "data dir %s", m->name);
            if (wd != NULL) {
                edr_restore_expand_name(wd, m->name, wal, sizeof(wal));
                check_dir(&cs, label, data, force, db_size + extra);
                snprintf(label, sizeof(label), "wal dir %s", m->name);
                check_dir(&cs, label, wal, force, WAL_BYTES);
            } else {
                check_dir(&cs, label, data, force, db_size + WAL_BYTES + extra);
            }
        }
    } else {
        add(&cs, "data dirs", CHK_WARN, "not checked: the cluster above is not valid");
    }
    check_peer_certs(ctx, &cs, cl);
    if (edr_opt_str(&ctx->opts, EDR_O_EXTRACT_FILES) != NULL)
        check_extract_files(ctx, &cs, have_db ? &sdb.src : NULL, force);

    if (have_db) {
        int k8s = edr_restore_holds_k8s(sdb.bolt);
        check_encryption(ctx, &cs, sdb.bolt);
        check_server_token(ctx, &cs, sdb.bolt);
        if (k8s)
            check_stale_leases(ctx, &cs, sdb.bolt);
        if (!given && sdb.src.kind == EDR_SOURCE_REPO && k8s) {
            bp.mode = BUMP_AUTO;
            bp.by_default = 1;
        }
        if (bp.mode == BUMP_AUTO && sdb.src.kind != EDR_SOURCE_REPO) {
            add(&cs, "revision bump", CHK_BLOCK,
                "--bump-revision auto needs a backup in a repository: %s has no record of the "
                "revisions the cluster reached after it",
                sdb.src.what);
        } else if (bp.mode == BUMP_AUTO) {
            struct edr_repo *repo = pitr.asked ? pitr.repo : sdb.src.repo;
            if (edr_restore_bump_auto(ctx, repo, pitr.asked ? pitr.rp.to_rev : sdb.src.m.revision,
                                      &bp) != EDR_OK) {
                add(&cs, "revision bump", CHK_WARN, "auto: %s", ctx->err.msg);
                edr_err_clear(&ctx->err);
            } else {
                add(&cs, "revision bump", CHK_OK,
                    "auto%s: %" PRId64 " (highest recorded revision %" PRId64
                    " (%s), restoring %" PRId64 ", margin %" PRId64 " because %s)",
                    bp.by_default ? " (default for Kubernetes data)" : "", bp.bump, bp.c.highest,
                    bp.from, bp.restoring, bp.c.margin, bp.reason);
            }
        } else if (bp.mode == BUMP_N) {
            add(&cs, "revision bump", CHK_OK, "%" PRId64 " (--bump-revision)", bp.bump);
        } else {
            add(&cs, "revision bump", k8s && sdb.src.kind == EDR_SOURCE_REPO ? CHK_WARN : CHK_OK,
                "none%s", k8s ? ": Kubernetes watchers that saw later revisions miss changes" : "");
        }
    }

    for (size_t i = 0; i < cs.n; i++)
        blocks += cs.v[i].r == CHK_BLOCK;
    if (ctx->json)
        print_json(&cs, blocks == 0);
    else if (!ctx->quiet || blocks > 0)
        print_table(&cs);
    rc = EDR_OK;
    if (blocks > 0) {
        rc = edr_err_set(&ctx->err, EDR_E_TARGET, "restore --check: %d check%s block%s the restore",
                         blocks, blocks == 1 ? "" : "s", blocks == 1 ? "s" : "");
        edr_err_hint(&ctx->err, "fix what the BLOCK lines name, then run the check again");
    }
    free(cs.v);
    edr_restore_cluster_free(cl);
    edr_source_db_close(&sdb);
    edr_pitr_release(&pitr);
    return rc;
}
