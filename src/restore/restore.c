/*
 * Restore orchestration below the command layer: rewrite the bbolt image
 * for the new cluster, and lay out one member's data dir atomically.
 *
 * The db is streamed from the bolt reader into the bolt writer, both in key
 * order, so the new membership, the consistent index and the optional
 * compaction marker are merged into the stream at their sorted positions;
 * memory stays bounded by the largest page, not by the database.
 */
#include "common/bytes.h"
#include "restore/restore.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/fs.h"
#include "restore/fsutil.h"
#include "restore/snapfile.h"
#include "restore/wal.h"

#define REV_KEY_LEN 17

edr_rc
edr_restore_opts_cluster(const struct edr_restore_opts *o, struct edr_restore_cluster **out,
                         struct edr_err *err)
{
    const char *name = o->name ? o->name : EDR_RESTORE_DEFAULT_NAME;
    struct edr_buf def = {0};
    const char *ic = o->initial_cluster;
    edr_rc rc;

    *out = NULL;
    if (ic == NULL) {
        edr_buf_printf(&def, "%s=%s", name, EDR_RESTORE_DEFAULT_PEER_URL);
        if (def.failed)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        ic = (const char *)def.data;
    }
    rc = edr_restore_cluster_parse(ic, o->token, out, err);
    /* without --name, the only member of --initial-cluster is the one */
    if (rc == EDR_OK && o->name == NULL && (*out)->n_members == 1)
        name = (*out)->members[0].name;
    if (rc == EDR_OK) {
        rc = edr_restore_cluster_check_member(*out, name, o->advertise_peer_urls, NULL, err);
        if (rc != EDR_OK) {
            edr_restore_cluster_free(*out);
            *out = NULL;
        }
    }
    edr_buf_release(&def);
    return rc;
}

/* ---- the db ---------------------------------------------------------- */

static int
keycmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);

    if (c != 0)
        return c;
    return al < bl ? -1 : al > bl;
}

struct bucket_names {
    uint8_t **name;
    size_t *len;
    size_t n, cap;
    struct edr_err *err;
};

static int
add_name(struct bucket_names *bn, const void *name, size_t len)
{
    size_t i;

    for (i = 0; i < bn->n; i++)
        if (bn->len[i] == len && memcmp(bn->name[i], name, len) == 0)
            return 0;
    if (bn->n == bn->cap) {
        size_t ncap = bn->cap ? bn->cap * 2 : 16;
        uint8_t **nn = realloc(bn->name, ncap * sizeof(*nn));
        size_t *nl;

        if (nn == NULL)
            return -1;
        bn->name = nn;
        nl = realloc(bn->len, ncap * sizeof(*nl));
        if (nl == NULL)
            return -1;
        bn->len = nl;
        bn->cap = ncap;
    }
    bn->name[bn->n] = malloc(len ? len : 1);
    if (bn->name[bn->n] == NULL)
        return -1;
    memcpy(bn->name[bn->n], name, len);
    bn->len[bn->n++] = len;
    return 0;
}

static int
bucket_cb(void *ud, const uint8_t *name, size_t len)
{
    struct bucket_names *bn = ud;

    if (add_name(bn, name, len) < 0) {
        edr_err_set(bn->err, EDR_E_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

static void
bucket_names_release(struct bucket_names *bn)
{
    size_t i;

    for (i = 0; i < bn->n; i++)
        free(bn->name[i]);
    free(bn->name);
    free(bn->len);
}

/* Sort names bytewise (selection sort: a handful of buckets). */
static void
bucket_names_sort(struct bucket_names *bn)
{
    size_t i, j;

    for (i = 0; i < bn->n; i++)
        for (j = i + 1; j < bn->n; j++)
            if (keycmp(bn->name[j], bn->len[j], bn->name[i], bn->len[i]) < 0) {
                uint8_t *t = bn->name[i];
                size_t l = bn->len[i];

                bn->name[i] = bn->name[j], bn->len[i] = bn->len[j];
                bn->name[j] = t, bn->len[j] = l;
            }
}

struct latest_rev {
    int64_t main, sub;
    int found;
    struct edr_err *err;
};

static int
latest_cb(void *ud, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    struct latest_rev *lr = ud;
    int64_t main, sub;
    char hex[2 * 18 + 1];

    (void)v;
    (void)vlen;
    if ((klen != REV_KEY_LEN && klen != REV_KEY_LEN + 1) || k[8] != '_' ||
        (klen == REV_KEY_LEN + 1 && k[17] != 't')) {
        edr_hex(k, klen < 18 ? klen : 18, hex);
        edr_err_set(lr->err, EDR_E_INTEGRITY, "bucket 'key': malformed revision key %s%s", hex,
                    klen > 18 ? "..." : "");
        return -1;
    }
    main = (int64_t)edr_be64(k);
    sub = (int64_t)edr_be64(k + 9);
    if (!lr->found || main > lr->main || (main == lr->main && sub > lr->sub)) {
        lr->main = main;
        lr->sub = sub;
        lr->found = 1;
    }
    return 0;
}

struct merge {
    struct edr_bolt_writer *w;
    const struct edr_restore_kv *ov; /* sorted overrides: inserted, or replacing equal keys */
    size_t n_ov, pos;
    struct edr_err *err;
    struct edr_restore_drop *drop; /* the key bucket's: entries to leave out */
};

static int
merge_cb(void *ud, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
    struct merge *m = ud;
    int c = 1;

    while (m->pos < m->n_ov && (c = keycmp(m->ov[m->pos].k, m->ov[m->pos].klen, k, klen)) <= 0) {
        const struct edr_restore_kv *o = &m->ov[m->pos++];

        if (edr_bolt_writer_put(m->w, o->k, o->klen, o->v, o->vlen, m->err) != EDR_OK)
            return -1;
        if (c == 0)
            return 0; /* the source pair is replaced */
    }
    if (m->drop != NULL && (c = edr_restore_drop_entry(m->drop, k, klen, v, vlen, m->err)) != 0)
        return c < 0 ? -1 : 0;
    if (edr_bolt_writer_put(m->w, k, klen, v, vlen, m->err) != EDR_OK)
        return -1;
    return 0;
}

static int
cmp_kv(const void *a, const void *b)
{
    const struct edr_restore_kv *x = a, *y = b;

    return keycmp(x->k, x->klen, y->k, y->klen);
}

static int
name_is(const uint8_t *name, size_t len, const char *s)
{
    return len == strlen(s) && memcmp(name, s, len) == 0;
}

/* The members bucket: hex id -> member JSON, keys in byte order of the hex
 * strings (not numeric order: ids may have fewer than 16 hex digits). */
static edr_rc
members_kvs(const struct edr_restore_cluster *cl, struct edr_restore_kv **out, char ***strs,
            struct edr_err *err)
{
    size_t n = cl->n_members, i;
    struct edr_restore_kv *kvs = calloc(n, sizeof(*kvs));
    char **s = calloc(2 * n, sizeof(*s));
    edr_rc rc = EDR_OK;

    *out = kvs;
    *strs = s;
    if (kvs == NULL || s == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (i = 0; i < n; i++) {
        size_t jlen = 0;

        s[2 * i] = malloc(17);
        if (s[2 * i] == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        edr_restore_id_hex(cl->members[i].id, s[2 * i]);
        rc = edr_restore_member_json(&cl->members[i], &s[2 * i + 1], &jlen, err);
        if (rc != EDR_OK)
            return rc;
        kvs[i].k = (const uint8_t *)s[2 * i];
        kvs[i].klen = strlen(s[2 * i]);
        kvs[i].v = (const uint8_t *)s[2 * i + 1];
        kvs[i].vlen = jlen;
    }
    qsort(kvs, n, sizeof(*kvs), cmp_kv);
    return EDR_OK;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* raftpb.ConfState as etcd stores it in meta/confState (Go's encoding/json of
 * the message: empty lists omitted, ids as unsigned decimals): the new
 * members, all voters, in ascending id order. *out is malloc'ed. */
static edr_rc
conf_state_json(const struct edr_restore_cluster *cl, char **out, struct edr_err *err)
{
    size_t cap = 40 + cl->n_members * 21, len;
    uint64_t *ids = calloc(cl->n_members ? cl->n_members : 1, sizeof(*ids));
    char *s = malloc(cap);

    if (ids == NULL || s == NULL) {
        free(ids);
        free(s);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < cl->n_members; i++)
        ids[i] = cl->members[i].id;
    qsort(ids, cl->n_members, sizeof(*ids), cmp_u64);
    len = (size_t)snprintf(s, cap, "{\"voters\":[");
    for (size_t i = 0; i < cl->n_members; i++)
        len += (size_t)snprintf(s + len, cap - len, "%s%" PRIu64, i ? "," : "", ids[i]);
    snprintf(s + len, cap - len, "],\"auto_leave\":false}");
    free(ids);
    *out = s;
    return EDR_OK;
}

static void
rev_bytes(uint8_t out[REV_KEY_LEN], int64_t main, int64_t sub)
{
    edr_put_be64(out, (uint64_t)main);
    out[8] = '_';
    edr_put_be64(out + 9, (uint64_t)sub);
}

edr_rc
edr_restore_write_db(const char *src_db, const struct edr_restore_cluster *cl,
                     struct edr_restore_db_opts *o, const char *dst_db, struct edr_err *err)
{
    static const uint8_t empty[1], off[1] = {0};
    int64_t bump = o->bump;
    struct edr_bolt *b = NULL;
    struct edr_bolt_writer *w = NULL;
    struct edr_bolt_info info;
    struct bucket_names bn = {0};
    struct latest_rev lr = {0};
    struct edr_restore_kv *mem_kvs = NULL, meta_ov[4], key_ov[1],
                          auth_ov[1] = {{(const uint8_t *)"authEnabled", 11, off, 1}};
    char **mem_strs = NULL, *conf = NULL;
    uint8_t cindex[8], term[8], newrev[REV_KEY_LEN];
    size_t n_meta = 0, i;
    int do_bump = bump > 0 && o->mark_compacted;
    edr_rc rc;

    o->bumped_to = 0;
    bn.err = err;
    lr.err = err;
    rc = edr_bolt_open(src_db, &b, err);
    if (rc != EDR_OK)
        goto out;
    edr_bolt_get_info(b, &info);
    rc = edr_bolt_foreach_bucket(b, bucket_cb, &bn, err);
    if (rc != EDR_OK)
        goto out;

    edr_put_be64(cindex, cl->n_members);
    edr_put_be64(term, 1);
    meta_ov[n_meta++] = (struct edr_restore_kv){(const uint8_t *)"consistent_index", 16, cindex, 8};
    meta_ov[n_meta++] = (struct edr_restore_kv){(const uint8_t *)"term", 4, term, 8};
    /* the new cluster's own raft conf state (etcd 3.5+ keep it in meta,
     * 3.6.0-3.6.4 read it at startup): not the source cluster's voters */
    if ((rc = conf_state_json(cl, &conf, err)) != EDR_OK)
        goto out;
    meta_ov[n_meta++] = (struct edr_restore_kv){(const uint8_t *)"confState", 9,
                                                (const uint8_t *)conf, strlen(conf)};
    if (do_bump) {
        rc = edr_bolt_foreach(b, "key", 3, latest_cb, &lr, err);
        if (rc == EDR_E_NOTFOUND) {
            edr_err_clear(err);
            rc = EDR_OK;
        }
        if (rc != EDR_OK)
            goto out;
        if (o->append_keys != NULL && o->replay_to > lr.main)
            lr.main = o->replay_to;
        if (lr.main > INT64_MAX - bump) {
            rc = edr_err_set(err, EDR_E_USAGE,
                             "--bump-revision %lld: revision %lld + %lld overflows",
                             (long long)bump, (long long)lr.main, (long long)bump);
            goto out;
        }
        o->bumped_to = lr.main + bump > o->bump_floor ? lr.main + bump : o->bump_floor;
        rev_bytes(newrev, o->bumped_to, 0);
        key_ov[0] = (struct edr_restore_kv){newrev, REV_KEY_LEN, empty, 0};
        meta_ov[n_meta++] = (struct edr_restore_kv){(const uint8_t *)"scheduledCompactRev", 19,
                                                    newrev, REV_KEY_LEN};
    }
    qsort(meta_ov, n_meta, sizeof(meta_ov[0]), cmp_kv);
    rc = members_kvs(cl, &mem_kvs, &mem_strs, err);
    if (rc != EDR_OK)
        goto out;

    if (add_name(&bn, "members", 7) < 0 || add_name(&bn, "members_removed", 15) < 0 ||
        add_name(&bn, "meta", 4) < 0 ||
        ((do_bump || o->append_keys != NULL) && add_name(&bn, "key", 3) < 0) ||
        (o->append_keys != NULL && add_name(&bn, "lease", 5) < 0)) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    bucket_names_sort(&bn);

    rc = edr_bolt_writer_new(dst_db, info.page_size, &w, err);
    if (rc != EDR_OK)
        goto out;
    for (i = 0; i < bn.n; i++) {
        struct merge m = {w, NULL, 0, 0, err, NULL};
        const uint8_t *name = bn.name[i];
        size_t len = bn.len[i];

        rc = edr_bolt_writer_bucket(w, name, len, err);
        if (rc != EDR_OK)
            goto out;
        if (name_is(name, len, "members_removed"))
            continue;
        if (name_is(name, len, "members")) {
            m.ov = mem_kvs, m.n_ov = cl->n_members;
        } else {
            if (name_is(name, len, "key"))
                m.drop = o->drop;
            if (name_is(name, len, "meta"))
                m.ov = meta_ov, m.n_ov = n_meta;
            else if (do_bump && name_is(name, len, "key"))
                m.ov = key_ov, m.n_ov = 1;
            else if (o->auth_off && name_is(name, len, "auth"))
                m.ov = auth_ov, m.n_ov = 1;
            else if (o->lease_entries != NULL && name_is(name, len, "lease") &&
                     (rc = o->lease_entries(o->replay_ud, b, &m.ov, &m.n_ov, err)) != EDR_OK)
                goto out;
            rc = edr_bolt_foreach(b, name, len, merge_cb, &m, err);
            if (rc == EDR_E_NOTFOUND) { /* a bucket we add */
                edr_err_clear(err);
                rc = EDR_OK;
            }
            if (rc != EDR_OK)
                goto out;
            /* replayed revisions come after every source one, before a bump */
            if (o->append_keys != NULL && name_is(name, len, "key") &&
                (rc = o->append_keys(o->replay_ud, w, err)) != EDR_OK)
                goto out;
        }
        for (; m.pos < m.n_ov; m.pos++) {
            const struct edr_restore_kv *o = &m.ov[m.pos];

            rc = edr_bolt_writer_put(w, o->k, o->klen, o->v, o->vlen, err);
            if (rc != EDR_OK)
                goto out;
        }
    }
    rc = edr_bolt_writer_finish(w, err);
out:
    edr_bolt_writer_free(w); /* removes dst_db unless finished */
    edr_bolt_close(b);
    bucket_names_release(&bn);
    if (mem_strs != NULL)
        for (i = 0; i < 2 * cl->n_members; i++)
            free(mem_strs[i]);
    free(mem_strs);
    free(mem_kvs);
    free(conf);
    return rc;
}

/* ---- the data dir ----------------------------------------------------- */

/* path without trailing slashes (malloc'ed); NULL on OOM. */
static char *
strip_slashes(const char *path)
{
    size_t n = strlen(path);

    while (n > 1 && path[n - 1] == '/')
        n--;
    return strndup(path, n);
}

/* <path>.etcd-dr-tmp-<pid> (malloc'ed) or NULL on OOM. */
static char *
tmp_name(const char *path)
{
    struct edr_buf b = {0};

    edr_buf_printf(&b, "%s.etcd-dr-tmp-%ld", path, (long)getpid());
    if (edr_buf_cstr(&b) < 0) {
        edr_buf_release(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* mkdir -p of the parents of path, new ones 0700 like etcd's MkdirAll. */
static edr_rc
make_parents(const char *path, struct edr_err *err)
{
    char dir[4096];

    edr_fs_dirname(path, dir, sizeof(dir));
    return edr_fs_mkdir_p(dir, 0700, EDR_E_IO, err);
}

/* A target to be replaced: its path, the temp dir written next to it, and
 * where an existing non-empty one was moved. */
struct target {
    const char *what; /* "data dir", "wal dir" */
    char *path;
    char *tmp;
    char *old;
    int busy;      /* exists and is not an empty directory */
    int committed; /* tmp renamed to path */
};

static edr_rc
target_init(struct target *t, const char *what, const char *path, int force, struct edr_err *err)
{
    int e;

    t->what = what;
    t->path = strip_slashes(path);
    if (t->path == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (strcmp(t->path, "/") == 0 || *t->path == '\0' || strcmp(t->path, ".") == 0)
        return edr_err_set(err, EDR_E_USAGE, "%s '%s' cannot be used", what, path);
    t->tmp = tmp_name(t->path);
    if (t->tmp == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    e = edr_restore_dir_is_empty(t->path);
    if (e < 0 && errno != ENOENT)
        return edr_err_errno(err, EDR_E_TARGET, errno, "unable to read %s '%s'", what, t->path);
    t->busy = e == 0;
    if (t->busy && !force) {
        edr_err_set(err, EDR_E_TARGET, "%s '%s' is not empty", what, t->path);
        edr_err_hint(err,
                     "use --force to move it aside (it is renamed to "
                     "'%s.etcd-dr-old-<time>', never deleted)",
                     t->path);
        return EDR_E_TARGET;
    }
    return EDR_OK;
}

/* Removes "<path>.etcd-dr-tmp-<pid>" dirs left by restores that were killed
 * (their pid no longer runs): a killed run cannot clean up after itself. */
static void
remove_stale_tmp(const char *path)
{
    char dir[4096], prefix[512];
    const char *slash = strrchr(path, '/');

    edr_fs_dirname(path, dir, sizeof(dir));
    if ((size_t)snprintf(prefix, sizeof(prefix), "%s.etcd-dr-tmp-", slash ? slash + 1 : path) <
        sizeof(prefix))
        edr_fs_remove_dead(dir, prefix);
}

static edr_rc
target_prepare(struct target *t, struct edr_err *err)
{
    edr_rc rc = make_parents(t->path, err);

    if (rc != EDR_OK)
        return rc;
    remove_stale_tmp(t->path);
    /* a leftover of an earlier run that died with our pid: ours to remove */
    rc = edr_fs_rm_tree(t->tmp, err);
    if (rc != EDR_OK)
        return rc;
    return edr_restore_mkdir(t->tmp, 0700, err);
}

static edr_rc
target_commit(struct target *t, struct edr_err *err)
{
    char stamp[32];
    struct tm tm;
    time_t now = time(NULL);
    struct stat st;
    int k;

    if (t->busy) {
        gmtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), ".etcd-dr-old-%Y%m%dT%H%M%SZ", &tm);
        for (k = 0;; k++) {
            struct edr_buf b = {0};

            free(t->old);
            t->old = NULL;
            edr_buf_str(&b, t->path);
            edr_buf_str(&b, stamp);
            if (k > 0)
                edr_buf_printf(&b, "-%d", k);
            if (edr_buf_cstr(&b) < 0) {
                edr_buf_release(&b);
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            }
            t->old = (char *)b.data;
            if (lstat(t->old, &st) < 0 && errno == ENOENT)
                break;
            if (k == 1000) {
                edr_err_set(err, EDR_E_TARGET, "unable to find a free name like '%s'", t->old);
                free(t->old);
                t->old = NULL; /* not ours: never move it back */
                return EDR_E_TARGET;
            }
        }
        if (rename(t->path, t->old) < 0) {
            edr_rc rc = edr_err_errno(err, EDR_E_IO, errno, "unable to move %s '%s' to '%s'",
                                      t->what, t->path, t->old);
            free(t->old);
            t->old = NULL;
            return rc;
        }
    }
    if (rename(t->tmp, t->path) < 0) {
        edr_rc rc =
            edr_err_errno(err, EDR_E_IO, errno, "unable to rename '%s' to '%s'", t->tmp, t->path);
        if (t->old != NULL && rename(t->old, t->path) == 0) {
            free(t->old);
            t->old = NULL;
        }
        return rc;
    }
    t->committed = 1;
    return edr_fs_fsync_parent(t->path, EDR_E_IO, err);
}

/* Undo what a failed run did to this target; best effort. */
static void
target_abort(struct target *t)
{
    struct edr_err ignore;

    if (t->path == NULL || t->tmp == NULL)
        return;
    if (t->committed && rename(t->path, t->tmp) == 0)
        t->committed = 0;
    if (!t->committed) {
        edr_fs_rm_tree(t->tmp, &ignore);
        if (t->old != NULL && rename(t->old, t->path) == 0) {
            free(t->old);
            t->old = NULL;
        }
    }
}

static void
target_release(struct target *t)
{
    free(t->path);
    free(t->tmp);
    free(t->old);
}

static edr_rc
mkdir_in(const char *parent, const char *name, char **out, struct edr_err *err)
{
    *out = edr_fs_path_join(parent, name);
    if (*out == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    return edr_restore_mkdir(*out, 0700, err);
}

static int
is_inside(const char *dir, const char *path)
{
    size_t n = strlen(dir);

    return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
}

struct edr_restore_staged {
    struct target data, wal;
    int use_wal_target;
};

edr_rc
edr_restore_member_stage(const struct edr_restore_cluster *cl, const char *member_name,
                         const char *prepared_db, const char *data_dir, const char *wal_dir,
                         int force, struct edr_restore_staged **out, struct edr_err *err)
{
    const struct edr_restore_member *m;
    struct edr_restore_staged *st;
    char *member = NULL, *snap = NULL, *waldir = NULL, *db = NULL, *defwal = NULL;
    edr_rc rc;

    *out = NULL;
    m = edr_restore_cluster_find(cl, member_name);
    if (m == NULL)
        return edr_err_set(err, EDR_E_USAGE, "'%s' is not a member of the cluster", member_name);
    if ((st = calloc(1, sizeof(*st))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    rc = target_init(&st->data, "data dir", data_dir, force, err);
    if (rc != EDR_OK)
        goto fail;
    if (wal_dir != NULL) {
        char *w = strip_slashes(wal_dir);

        defwal = edr_fs_path_join(st->data.path, "member/wal");
        if (w == NULL || defwal == NULL) {
            free(w);
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto fail;
        }
        st->use_wal_target = strcmp(w, defwal) != 0;
        if (st->use_wal_target && (is_inside(st->data.path, w) || is_inside(w, st->data.path))) {
            rc = edr_err_set(err, EDR_E_USAGE, "wal dir '%s' must not be inside data dir '%s'", w,
                             st->data.path);
            free(w);
            goto fail;
        }
        free(w);
        if (st->use_wal_target) {
            rc = target_init(&st->wal, "wal dir", wal_dir, force, err);
            if (rc != EDR_OK)
                goto fail;
        }
    }

    rc = target_prepare(&st->data, err);
    if (rc == EDR_OK && st->use_wal_target)
        rc = target_prepare(&st->wal, err);
    if (rc != EDR_OK)
        goto fail;
    if ((rc = mkdir_in(st->data.tmp, "member", &member, err)) != EDR_OK ||
        (rc = mkdir_in(member, "snap", &snap, err)) != EDR_OK)
        goto fail;
    if (st->use_wal_target) {
        waldir = strdup(st->wal.tmp);
        if (waldir == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto fail;
        }
    } else if ((rc = mkdir_in(member, "wal", &waldir, err)) != EDR_OK) {
        goto fail;
    }
    db = edr_fs_path_join(snap, "db");
    if (db == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto fail;
    }
    if ((rc = edr_restore_copy_file(prepared_db, db, 0600, err)) != EDR_OK ||
        (rc = edr_restore_snap_write(cl, snap, err)) != EDR_OK ||
        (rc = edr_restore_wal_write(cl, m->id, EDR_WAL_FLAVOUR_35, waldir, err)) != EDR_OK)
        goto fail;
    if ((rc = edr_fs_fsync_dir(snap, EDR_E_IO, err)) != EDR_OK ||
        (rc = edr_fs_fsync_dir(waldir, EDR_E_IO, err)) != EDR_OK ||
        (rc = edr_fs_fsync_dir(member, EDR_E_IO, err)) != EDR_OK ||
        (rc = edr_fs_fsync_dir(st->data.tmp, EDR_E_IO, err)) != EDR_OK)
        goto fail;
    if (st->use_wal_target && (rc = edr_fs_fsync_parent(st->wal.tmp, EDR_E_IO, err)) != EDR_OK)
        goto fail;
    if ((rc = edr_fs_fsync_parent(st->data.tmp, EDR_E_IO, err)) != EDR_OK)
        goto fail;
    *out = st;
    st = NULL;
fail:
    edr_restore_staged_free(st); /* removes what was staged */
    free(member);
    free(snap);
    free(waldir);
    free(db);
    free(defwal);
    return rc;
}

edr_rc
edr_restore_staged_commit(struct edr_restore_staged *st, struct edr_err *err)
{
    edr_rc rc = target_commit(&st->data, err);

    if (rc == EDR_OK && st->use_wal_target)
        rc = target_commit(&st->wal, err);
    if (rc != EDR_OK)
        edr_restore_staged_abort(st);
    return rc;
}

void
edr_restore_staged_abort(struct edr_restore_staged *st)
{
    if (st == NULL)
        return;
    if (st->use_wal_target)
        target_abort(&st->wal);
    target_abort(&st->data);
}

void
edr_restore_staged_free(struct edr_restore_staged *st)
{
    if (st == NULL)
        return;
    /* what was not committed is removed; committed targets stay */
    if (!st->data.committed || (st->use_wal_target && !st->wal.committed))
        edr_restore_staged_abort(st);
    target_release(&st->data);
    target_release(&st->wal);
    free(st);
}

edr_rc
edr_restore_member_dir(const struct edr_restore_cluster *cl, const char *member_name,
                       const char *prepared_db, const char *data_dir, const char *wal_dir,
                       int force, struct edr_err *err)
{
    struct edr_restore_staged *st = NULL;
    edr_rc rc =
        edr_restore_member_stage(cl, member_name, prepared_db, data_dir, wal_dir, force, &st, err);

    if (rc == EDR_OK)
        rc = edr_restore_staged_commit(st, err);
    edr_restore_staged_free(st);
    return rc;
}

/* ---- the command line -------------------------------------------------- */

static int
isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void
shell_word(struct edr_buf *b, const char *s)
{
    const char *p;
    int plain = *s != '\0';

    for (p = s; *p != '\0'; p++)
        if (!(isalnum_ascii(*p) || strchr("_./:,=@%+-", *p) != NULL))
            plain = 0;
    if (plain) {
        edr_buf_str(b, s);
        return;
    }
    edr_buf_byte(b, '\'');
    for (p = s; *p != '\0'; p++) {
        if (*p == '\'')
            edr_buf_str(b, "'\\''");
        else
            edr_buf_byte(b, (uint8_t)*p);
    }
    edr_buf_byte(b, '\'');
}

/* etcd binds listen URLs only to IP addresses (and localhost): a peer URL
 * with a host name listens on 0.0.0.0 at the same port. */
static void
listen_url(struct edr_buf *b, const char *url)
{
    const char *auth = strstr(url, "://"), *colon;
    struct in_addr a4;
    char host[256];
    size_t hlen;

    if (auth == NULL || strncmp(url, "unix", 4) == 0 || auth[3] == '[') {
        edr_buf_str(b, url);
        return;
    }
    auth += 3;
    colon = strrchr(auth, ':');
    hlen = colon ? (size_t)(colon - auth) : 0;
    if (colon == NULL || hlen >= sizeof(host)) {
        edr_buf_str(b, url);
        return;
    }
    memcpy(host, auth, hlen);
    host[hlen] = '\0';
    if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, &a4) == 1) {
        edr_buf_str(b, url);
        return;
    }
    edr_buf_add(b, url, (size_t)(auth - url));
    edr_buf_str(b, "0.0.0.0");
    edr_buf_str(b, colon);
}

edr_rc
edr_restore_member_cmdline(const struct edr_restore_cluster *cl, const char *member_name,
                           const char *data_dir, const char *wal_dir, char **out,
                           struct edr_err *err)
{
    const struct edr_restore_member *m = edr_restore_cluster_find(cl, member_name);
    struct edr_buf b = {0}, adv = {0}, lis = {0};
    size_t i;
    edr_rc rc;

    *out = NULL;
    if (m == NULL)
        return edr_err_set(err, EDR_E_USAGE, "'%s' is not a member of the cluster", member_name);
    for (i = 0; i < m->n_urls; i++) {
        if (i > 0) {
            edr_buf_byte(&adv, ',');
            edr_buf_byte(&lis, ',');
        }
        edr_buf_str(&adv, m->urls[i]);
        listen_url(&lis, m->urls[i]);
    }
    edr_buf_cstr(&adv);
    edr_buf_cstr(&lis);
    if (adv.failed || lis.failed) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    edr_buf_str(&b, "etcd --name ");
    shell_word(&b, m->name);
    edr_buf_str(&b, " --data-dir ");
    shell_word(&b, data_dir);
    if (wal_dir != NULL) {
        edr_buf_str(&b, " --wal-dir ");
        shell_word(&b, wal_dir);
    }
    edr_buf_str(&b, " --initial-advertise-peer-urls ");
    shell_word(&b, (const char *)adv.data);
    edr_buf_str(&b, " --listen-peer-urls ");
    shell_word(&b, (const char *)lis.data);
    edr_buf_str(&b, " --advertise-client-urls " EDR_RESTORE_CLIENT_URLS_PLACEHOLDER
                    " --listen-client-urls " EDR_RESTORE_CLIENT_URLS_PLACEHOLDER);
    if (edr_buf_cstr(&b) < 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    *out = (char *)b.data;
    b.data = NULL;
    rc = EDR_OK;
out:
    edr_buf_release(&b);
    edr_buf_release(&adv);
    edr_buf_release(&lis);
    return rc;
}
