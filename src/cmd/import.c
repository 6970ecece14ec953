/*
 * import: snapshots other tools made, stored as backups through backup's
 * pipeline (edr_backup_begin/commit).
 *
 * Without --from: one plain etcd snapshot file, or an archive (zip, tar,
 * gzip, ...) holding one as *.db. With --from etcdctl|k3s|rke2: a file, a
 * directory or an s3:// prefix, every snapshot in it, each recorded with its
 * origin (tool, source, node, cluster id, token hash, time) so that a second
 * run recognises what it already imported. The input is read up to the size
 * seen when it was opened, never further: its last 32 bytes are the sha256
 * trailer, and a file that grew meanwhile is refused rather than stored as
 * it was at some moment nobody chose.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/backup.h"
#include "cmd/cmd.h"
#include "cmd/import.h"
#include "cmd/import_gardener.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/progress.h"
#include "repo/repo.h"
#include "storage/storage.h"
#include "stream/basic.h"
#include "stream/stream.h"

const enum edr_opt_id edr_cmd_import_opts[] = {
    EDR_OPTS_REPO,         EDR_O_RECIPIENT, EDR_O_NO_ENCRYPT, EDR_O_COMPRESS_LEVEL, EDR_O_THREADS,
    EDR_O_SKIP_HASH_CHECK, EDR_O_FROM,      EDR_O_JSON,       EDR_O__COUNT};

struct import_src {
    int fd;
    struct archive *ar;
    uint64_t size;
    char entry[1400];
};

static ssize_t
src_read(struct import_src *s, void *buf, size_t n)
{
    if (s->ar != NULL)
        return archive_read_data(s->ar, buf, n);
    return read(s->fd, buf, n);
}

static int
is_bbolt(const uint8_t *p, size_t n)
{
    return n >= 20 && p[16] == 0xED && p[17] == 0xDA && p[18] == 0x0C && p[19] == 0xED;
}

static edr_rc
import_open(struct edr_ctx *ctx, const char *path, struct import_src *s)
{
    uint8_t head[64];
    struct stat sb;
    ssize_t n;
    struct archive_entry *e;

    memset(s, 0, sizeof(*s));
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &sb) != 0) {
        int err = errno;
        return edr_err_errno(&ctx->err, err == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, err,
                             "unable to open '%s'", path);
    }
    n = pread(s->fd, head, sizeof(head), 0);
    if (n > 0 && is_bbolt(head, (size_t)n)) {
        s->size = (uint64_t)sb.st_size;
        snprintf(s->entry, sizeof(s->entry), "%s", path);
        return EDR_OK;
    }
    s->ar = archive_read_new();
    if (s->ar == NULL)
        return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
    archive_read_support_filter_all(s->ar);
    archive_read_support_format_all(s->ar);
    if (archive_read_open_fd(s->ar, s->fd, 1 << 16) != ARCHIVE_OK)
        return edr_err_set(&ctx->err, EDR_E_INTEGRITY,
                           "'%s' is neither an etcd snapshot nor an archive: %s", path,
                           archive_error_string(s->ar));
    while (archive_read_next_header(s->ar, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        size_t l = name ? strlen(name) : 0;
        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_size_is_set(e))
            continue;
        if ((l >= 3 && strcmp(name + l - 3, ".db") == 0) ||
            (l >= 2 && strcmp(name + l - 2, "db") == 0 && (l == 2 || name[l - 3] == '/'))) {
            s->size = (uint64_t)archive_entry_size(e);
            snprintf(s->entry, sizeof(s->entry), "%s:%s", path, name);
            return EDR_OK;
        }
    }
    return edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no etcd snapshot (*.db) in archive '%s'", path);
}

static void
import_close(struct import_src *s)
{
    if (s->ar != NULL)
        archive_read_free(s->ar);
    if (s->fd >= 0)
        close(s->fd);
}

/* ---- the shared step: one snapshot stream into one backup ---- */

/* A backup of this cluster recorded with the same origin bytes. */
static int
find_imported(const struct edr_manifest *list, size_t n, const struct edr_manifest_origin *o)
{
    for (size_t i = 0; i < n; i++) {
        const struct edr_manifest_origin *g = &list[i].origin;
        if (g->tool[0] != '\0' && g->size == o->size && strcmp(g->sha256, o->sha256) == 0 &&
            strcmp(g->source, o->source) == 0)
            return (int)i;
    }
    return -1;
}

edr_rc
edr_import_snapshot(struct edr_ctx *ctx, const struct edr_backup_params *p,
                    const struct edr_manifest_origin *o, const struct edr_import_input *in,
                    int skip_hash, int *already, struct edr_backup_summary *sum)
{
    struct edr_backup_writer r;
    struct edr_storage_lock *lock = NULL;
    struct edr_stream *sink = NULL;
    struct edr_sha256 h;
    struct edr_manifest m, *list = NULL;
    uint8_t sha[32], trailer[32], *buf = NULL;
    uint64_t db_size, done = 0;
    size_t nlist = 0, got;
    int has_trailer = in->size % 512 == 32;
    double t0 = edr_now();
    edr_rc rc;

    memset(&r, 0, sizeof(r));
    memset(sum, 0, sizeof(*sum));
    h.ctx = NULL;
    *already = 0;
    if (!has_trailer && !skip_hash) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' has no sha256 trailer", in->what);
        edr_err_hint(&ctx->err, "a db copied from a data dir has none: use --skip-hash-check to "
                                "import it (a trailer is computed)");
        return rc;
    }
    db_size = has_trailer ? in->size - 32 : in->size;
    if ((rc = edr_backup_prepare(ctx, p, &r, &lock, sum)) != EDR_OK)
        goto out;
    if (o != NULL && o->sha256[0] != '\0') {
        int i;
        /* under the lock: two runs on one source cannot both miss the other */
        if ((rc = edr_repo_list(r.repo, &list, &nlist, &ctx->err)) != EDR_OK)
            goto out;
        if ((i = find_imported(list, nlist, o)) >= 0) {
            sum->manifest = list[i];
            sum->ok = 1;
            *already = 1;
            goto out;
        }
    }
    if ((rc = edr_backup_make_id(&r, "import", &ctx->err)) != EDR_OK)
        goto out;
    buf = malloc(1 << 20);
    if (buf == NULL || edr_sha256_init(&h) != 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_backup_begin(&r, db_size, &sink, &ctx->err)) != EDR_OK)
        goto out;
    while (done < in->size) {
        /* never past the size taken at the start: the trailer is 32 bytes */
        size_t want = in->size - done < (1u << 20) ? (size_t)(in->size - done) : 1u << 20;
        uint64_t take;
        if ((rc = in->read(in->ud, buf, want, &got, &ctx->err)) != EDR_OK)
            goto out;
        if (got == 0) {
            rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "unable to read '%s': %s", in->what,
                             "unexpected end of file");
            goto out;
        }
        take = done >= db_size ? 0 : db_size - done < got ? db_size - done : got;
        edr_sha256_update(&h, buf, take);
        if ((rc = edr_stream_write(sink, buf, take, &ctx->err)) != EDR_OK)
            goto out;
        if (got > take)
            memcpy(trailer + (done + take - db_size), buf + take, (size_t)(got - take));
        done += got;
    }
    edr_progress_end(&r.progress);
    if ((rc = in->read(in->ud, buf, 1, &got, &ctx->err)) != EDR_OK)
        goto out;
    if (got > 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' grew while it was read", in->what);
        goto out;
    }
    edr_sha256_final(&h, sha);
    if (has_trailer && !skip_hash && memcmp(sha, trailer, 32) != 0) {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s': sha256 mismatch", in->what);
        goto out;
    }
    memset(&m, 0, sizeof(m));
    snprintf(m.endpoint, sizeof(m.endpoint), "import:%.240s", in->what);
    if (o != NULL)
        m.origin = *o;
    if ((rc = edr_backup_commit(&r, sha, db_size, &m, t0)) != EDR_OK)
        goto out;
    sum->manifest = m;
    sum->ok = 1;
out:
    edr_sha256_release(&h);
    free(buf);
    free(list);
    return edr_backup_finish(&r, lock, sum, rc, t0);
}

/* ---- reading a local file, plain or in an archive ---- */

static edr_rc
src_pull(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err)
{
    struct import_src *s = ud;
    ssize_t k;

    do
        k = src_read(s, buf, n);
    while (k < 0 && errno == EINTR && s->ar == NULL);
    if (k < 0)
        return edr_err_set(err, EDR_E_IO, "unable to read '%s': %s", s->entry,
                           s->ar ? archive_error_string(s->ar) : strerror(errno));
    *got = (size_t)k;
    return EDR_OK;
}

/* Plain import (no --from): one file, today's output. */
static edr_rc
import_plain(struct edr_ctx *ctx, const char *path)
{
    struct edr_backup_params p;
    struct edr_backup_summary sum;
    struct import_src src;
    struct edr_import_input in;
    int already;
    edr_rc rc;

    memset(&p, 0, sizeof(p));
    memset(&sum, 0, sizeof(sum));
    src.fd = -1;
    src.ar = NULL;
    if ((rc = import_open(ctx, path, &src)) != EDR_OK ||
        (rc = edr_backup_params_from_opts(&ctx->opts, 0, &p, &ctx->err)) != EDR_OK)
        goto out;
    in.read = src_pull;
    in.ud = &src;
    in.size = src.size;
    in.what = src.entry;
    rc = edr_import_snapshot(ctx, &p, NULL, &in, edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK),
                             &already, &sum);
out:
    import_close(&src);
    edr_backup_report(ctx, &sum, rc);
    edr_backup_params_release(&p);
    return rc;
}

/* ---- --from: every snapshot of a file, a directory or an S3 prefix ---- */

enum tool { TOOL_ETCDCTL, TOOL_K3S, TOOL_RKE2 };

static const char *const tool_names[] = {"etcdctl", "k3s", "rke2"};

/* One file or object to look at, and what became of it. */
struct item {
    char name[1024]; /* path, or key relative to the prefix */
    uint64_t size;
    time_t mtime;
    const char *result; /* "imported", "already imported", "skipped", "failed" */
    char id[64];
    int64_t revision;
    char reason[EDR_ERR_MSG_MAX];
    char source[1024];
};

struct items {
    struct item *v;
    size_t n, cap;
};

static struct item *
items_add(struct items *it, const char *name, uint64_t size, time_t mtime)
{
    if (it->n == it->cap) {
        size_t cap = it->cap ? it->cap * 2 : 16;
        struct item *v = realloc(it->v, cap * sizeof(*v));
        if (v == NULL)
            return NULL;
        it->v = v, it->cap = cap;
    }
    memset(&it->v[it->n], 0, sizeof(it->v[0]));
    snprintf(it->v[it->n].name, sizeof(it->v[0].name), "%s", name);
    it->v[it->n].size = size;
    it->v[it->n].mtime = mtime;
    return &it->v[it->n++];
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct item *)a)->name, ((const struct item *)b)->name);
}

static const char *
base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

/* Inside a ".metadata" directory: k3s's metadata files, not snapshots. */
static int
is_metadata_name(const char *name)
{
    return strncmp(name, ".metadata/", 10) == 0 || strstr(name, "/.metadata/") != NULL;
}

/* k3s and RKE2 name a snapshot "<name>-<node>-<unix seconds>", plus ".zip"
 * when compressed (pkg/etcd/snapshot.go: the name is formatted from the
 * configured snapshot name, default "etcd-snapshot" or "on-demand", NODE_NAME
 * and the time rounded to the second; the listing reads the time back after
 * the last '-'). The node cannot be split off a custom name that holds '-',
 * so it is taken only after the two names k3s uses itself. */
static int
parse_k3s_name(const char *file, time_t *t, char *node, size_t nn)
{
    char base[512];
    size_t l = strlen(file);
    const char *dash, *first;
    char *end;
    unsigned long long v;

    if (l >= 4 && strcmp(file + l - 4, ".zip") == 0)
        l -= 4;
    if (l >= sizeof(base))
        return -1;
    memcpy(base, file, l);
    base[l] = '\0';
    dash = strrchr(base, '-');
    if (dash == NULL || dash[1] < '0' || dash[1] > '9' || strlen(dash + 1) > 12)
        return -1;
    errno = 0;
    v = strtoull(dash + 1, &end, 10);
    if (*end != '\0' || errno != 0)
        return -1;
    *t = (time_t)v;
    node[0] = '\0';
    first = strncmp(base, "etcd-snapshot-", 14) == 0 ? base + 14
            : strncmp(base, "on-demand-", 10) == 0   ? base + 10
                                                     : NULL;
    if (first != NULL && first < dash)
        snprintf(node, nn, "%.*s", (int)(dash - first), first);
    return 0;
}

/* "name=value\n" lines of an S3 object's user metadata: value of name. */
static void
meta_get(const char *meta, const char *name, char *out, size_t n)
{
    size_t l = strlen(name);

    out[0] = '\0';
    for (const char *p = meta; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (len > l && strncmp(p, name, l) == 0 && p[l] == '=') {
            snprintf(out, n, "%.*s", (int)(len - l - 1), p + l + 1);
            return;
        }
        p += len + (nl != NULL);
    }
}

/* Where the source is and how to read it. */
struct from_src {
    const char *arg;
    struct edr_storage *st; /* s3:// prefix, or NULL */
    char dir[4096];         /* local: the directory of the files */
    int single;             /* local: arg is one file */
};

static edr_rc
collect_local(struct edr_ctx *ctx, struct from_src *fs, struct items *it)
{
    struct stat sb;
    DIR *d;
    struct dirent *de;

    if (stat(fs->arg, &sb) != 0) {
        int e = errno;
        return edr_err_errno(&ctx->err, e == ENOENT ? EDR_E_NOTFOUND : EDR_E_IO, e,
                             "unable to open '%s'", fs->arg);
    }
    if (!S_ISDIR(sb.st_mode)) {
        const char *b = base_name(fs->arg);
        fs->single = 1;
        snprintf(fs->dir, sizeof(fs->dir), "%.*s", b == fs->arg ? 1 : (int)(b - fs->arg - 1),
                 b == fs->arg ? "." : fs->arg);
        if (fs->dir[0] == '\0')
            snprintf(fs->dir, sizeof(fs->dir), "/");
        if (items_add(it, fs->arg, (uint64_t)sb.st_size, sb.st_mtime) == NULL)
            return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        return EDR_OK;
    }
    snprintf(fs->dir, sizeof(fs->dir), "%s", fs->arg);
    if ((d = opendir(fs->arg)) == NULL)
        return edr_err_errno(&ctx->err, EDR_E_IO, errno, "unable to open '%s'", fs->arg);
    while ((de = readdir(d)) != NULL) {
        char path[4096];
        struct item *x;
        if (de->d_name[0] == '.')
            continue; /* ".metadata", "." and ".." */
        snprintf(path, sizeof(path), "%s/%s", fs->arg, de->d_name);
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
            continue;
        if ((x = items_add(it, path, (uint64_t)sb.st_size, sb.st_mtime)) == NULL) {
            closedir(d);
            return edr_err_set(&ctx->err, EDR_E_INTERNAL, "out of memory");
        }
    }
    closedir(d);
    return EDR_OK;
}

static int
collect_s3_cb(const struct edr_storage_entry *e, void *ud)
{
    struct items *it = ud;

    if (is_metadata_name(e->name) || e->size == 0)
        return 0; /* k3s skips empty objects too */
    return items_add(it, e->name, e->size, e->mtime) == NULL;
}

int
edr_import_object_fd(struct edr_storage *st, const char *name, const char *what,
                     struct edr_err *err)
{
    const char *dir = getenv("TMPDIR");
    struct edr_stream *w = NULL;
    char path[4096];
    edr_rc rc;
    int fd;

    snprintf(path, sizeof(path), "%s/etcd-dr-import.XXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        edr_err_errno(err, EDR_E_IO, errno, "unable to create a temporary file in '%s'",
                      dir && *dir ? dir : "/tmp");
        return -1;
    }
    unlink(path);
    if ((rc = edr_stream_fd_new(fd, what, &w, err)) == EDR_OK &&
        (rc = st->ops->get(st, name, 0, w, err)) == EDR_OK)
        rc = edr_stream_finish(w, err);
    edr_stream_free(w);
    if (rc != EDR_OK) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The SHA-256 of the whole file, its bytes as the tool stored them. */
static edr_rc
hash_fd(int fd, const char *what, uint64_t *size, char hex[65], struct edr_err *err)
{
    struct edr_sha256 h;
    uint8_t buf[1 << 16], d[32];
    uint64_t off = 0;
    ssize_t n;

    if (edr_sha256_init(&h) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    while ((n = pread(fd, buf, sizeof(buf), (off_t)off)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            edr_sha256_release(&h);
            return edr_err_errno(err, EDR_E_IO, e, "unable to read '%s'", what);
        }
        edr_sha256_update(&h, buf, (size_t)n);
        off += (uint64_t)n;
    }
    edr_sha256_final(&h, d);
    edr_sha256_release(&h);
    edr_hex(d, 32, hex);
    *size = off;
    return EDR_OK;
}

/* k3s zips hold one entry, the snapshot under its own name (compressSnapshot
 * in pkg/etcd/snapshot.go, deflated; Go's writer puts the sizes after the
 * data, so the entry size is measured here by reading it once). */
static edr_rc
open_k3s_zip(int fd, const char *what, struct import_src *s, struct edr_err *err)
{
    struct archive_entry *e;
    uint64_t n = 0;
    int nreg = 0, r;
    char buf[1 << 16];
    ssize_t k;

    for (int pass = 0; pass < 2; pass++) {
        if (lseek(fd, 0, SEEK_SET) != 0)
            return edr_err_errno(err, EDR_E_IO, errno, "unable to read '%s'", what);
        if (s->ar != NULL)
            archive_read_free(s->ar);
        s->ar = archive_read_new();
        if (s->ar == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        archive_read_support_format_zip(s->ar);
        if (archive_read_open_fd(s->ar, fd, 1 << 16) != ARCHIVE_OK)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s' is not a readable zip: %s", what,
                               archive_error_string(s->ar));
        while ((r = archive_read_next_header(s->ar, &e)) == ARCHIVE_OK) {
            if (archive_entry_filetype(e) != AE_IFREG)
                continue;
            if (pass == 1) {
                snprintf(s->entry, sizeof(s->entry), "%s:%s", what, archive_entry_pathname(e));
                s->size = n;
                return EDR_OK;
            }
            if (++nreg > 1)
                return edr_err_set(err, EDR_E_INTEGRITY,
                                   "'%s' holds more than one file (k3s zips hold one snapshot)",
                                   what);
            while ((k = archive_read_data(s->ar, buf, sizeof(buf))) > 0)
                n += (uint64_t)k;
            if (k < 0)
                return edr_err_set(err, EDR_E_INTEGRITY, "'%s' is not a readable zip: %s", what,
                                   archive_error_string(s->ar));
        }
        if (r != ARCHIVE_EOF)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s' is not a readable zip: %s", what,
                               archive_error_string(s->ar));
        if (nreg == 0)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s' holds no file", what);
    }
    return edr_err_set(err, EDR_E_INTEGRITY, "'%s' changed while it was read", what);
}

/* k3s's extra metadata file: JSON, the data of its extra-metadata
 * ConfigMap (saveSnapshotMetadata in pkg/etcd/snapshot.go), written to
 * "<snapshot dir>/../.metadata/<file name>" locally and to
 * "<folder>/.metadata/<file name>" in S3 (pkg/etcd/s3/s3.go). */
static void
read_metadata(struct from_src *fs, const struct item *x, struct edr_manifest_origin *o)
{
    char *buf = NULL, path[4096];
    size_t len = 0;
    struct edr_err e2;
    json_t *j;

    if (fs->st != NULL) {
        const char *b = base_name(x->name);
        snprintf(path, sizeof(path), "%.*s.metadata/%s", (int)(b - x->name), x->name, b);
        if (edr_storage_get_buf(fs->st, path, sizeof(o->metadata) * 4, &buf, &len, &e2) != EDR_OK)
            return; /* optional: absent for most snapshots */
    } else {
        FILE *f = NULL;
        const char *b = base_name(x->name);
        for (int i = 0; i < 2 && f == NULL; i++) {
            snprintf(path, sizeof(path), i == 0 ? "%s/../.metadata/%s" : "%s/.metadata/%s", fs->dir,
                     b);
            f = fopen(path, "rb");
        }
        if (f == NULL)
            return;
        buf = malloc(sizeof(o->metadata) * 4);
        if (buf != NULL)
            len = fread(buf, 1, sizeof(o->metadata) * 4 - 1, f);
        fclose(f);
        if (buf == NULL)
            return;
    }
    j = json_loadb(buf, len, 0, NULL);
    if (json_is_object(j)) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        if (s != NULL && strlen(s) < sizeof(o->metadata))
            snprintf(o->metadata, sizeof(o->metadata), "%s", s);
        else
            edr_warn("metadata of '%s' is over %zu bytes: not recorded", x->name,
                     sizeof(o->metadata) - 1);
        free(s);
    } else {
        edr_warn("metadata of '%s' is not a JSON object: not recorded", x->name);
    }
    json_decref(j);
    free(buf);
}

/* One file or object: look, fetch, hash, open, import. */
static edr_rc
import_item(struct edr_ctx *ctx, const struct edr_backup_params *p, enum tool tool,
            struct from_src *fs, struct item *x)
{
    struct edr_manifest_origin o;
    struct import_src src;
    struct edr_import_input in;
    struct edr_backup_summary sum;
    uint8_t head[20] = {0};
    int fd = -1, already = 0;
    edr_rc rc = EDR_OK;

    memset(&o, 0, sizeof(o));
    memset(&src, 0, sizeof(src));
    src.fd = -1;
    snprintf(o.tool, sizeof(o.tool), "%s", tool_names[tool]);
    if (fs->st != NULL)
        snprintf(x->source, sizeof(x->source), "%.500s%s%.500s", fs->st->url,
                 fs->st->url[strlen(fs->st->url) - 1] == '/' ? "" : "/", x->name);
    else
        snprintf(x->source, sizeof(x->source), "%s", x->name);
    snprintf(o.source, sizeof(o.source), "%s", x->source);
    o.time = x->mtime;
    if (tool != TOOL_ETCDCTL &&
        parse_k3s_name(base_name(x->name), &o.time, o.node, sizeof(o.node)) != 0) {
        x->result = "skipped";
        snprintf(x->reason, sizeof(x->reason), "not named <name>-<node>-<unix time>[.zip]");
        return EDR_OK;
    }
    if (fs->st != NULL) {
        struct edr_storage_stat sb;
        char k[64];
        if ((rc = fs->st->ops->stat(fs->st, x->name, &sb, &ctx->err)) != EDR_OK)
            goto out;
        /* k3s's user metadata: "<program>-cluster-id" etc. (pkg/etcd/s3/s3.go,
         * canonical header names K3s-Cluster-Id, K3s-Node-Name, K3s-Token-Hash) */
        snprintf(k, sizeof(k), "%s-node-name", tool_names[tool]);
        {
            char v[sizeof(o.node)];
            meta_get(sb.meta, k, v, sizeof(v));
            if (v[0] != '\0')
                snprintf(o.node, sizeof(o.node), "%s", v);
        }
        snprintf(k, sizeof(k), "%s-cluster-id", tool_names[tool]);
        meta_get(sb.meta, k, o.cluster_id, sizeof(o.cluster_id));
        snprintf(k, sizeof(k), "%s-token-hash", tool_names[tool]);
        meta_get(sb.meta, k, o.token_hash, sizeof(o.token_hash));
        if ((fd = edr_import_object_fd(fs->st, x->name, x->source, &ctx->err)) < 0) {
            rc = ctx->err.code;
            goto out;
        }
    } else if ((fd = open(x->name, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = edr_err_errno(&ctx->err, EDR_E_IO, errno, "unable to open '%s'", x->name);
        goto out;
    }
    if (tool != TOOL_ETCDCTL)
        read_metadata(fs, x, &o);
    if ((rc = hash_fd(fd, x->source, &o.size, o.sha256, &ctx->err)) != EDR_OK)
        goto out;
    if (pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head) && is_bbolt(head, sizeof(head))) {
        src.fd = fd, fd = -1;
        src.size = o.size;
        snprintf(src.entry, sizeof(src.entry), "%s", x->source);
    } else if (memcmp(head, "PK\003\004", 4) == 0 && tool != TOOL_ETCDCTL) {
        src.fd = fd, fd = -1;
        if ((rc = open_k3s_zip(src.fd, x->source, &src, &ctx->err)) != EDR_OK)
            goto out;
    } else if (tool == TOOL_ETCDCTL && fs->st == NULL) {
        close(fd), fd = -1;
        if ((rc = import_open(ctx, x->name, &src)) != EDR_OK)
            goto out;
    } else {
        rc = edr_err_set(&ctx->err, EDR_E_INTEGRITY, "'%s' is neither an etcd snapshot nor a zip",
                         x->source);
        goto out;
    }
    if (src.ar == NULL && lseek(src.fd, 0, SEEK_SET) != 0) {
        rc = edr_err_errno(&ctx->err, EDR_E_IO, errno, "unable to read '%s'", x->source);
        goto out;
    }
    in.read = src_pull;
    in.ud = &src;
    in.size = src.size;
    in.what = src.entry;
    rc = edr_import_snapshot(ctx, p, &o, &in, edr_opt_bool(&ctx->opts, EDR_O_SKIP_HASH_CHECK),
                             &already, &sum);
    if (rc == EDR_OK) {
        x->result = already ? "already imported" : "imported";
        snprintf(x->id, sizeof(x->id), "%s", sum.manifest.id);
        x->revision = sum.manifest.revision;
    }
out:
    if (fd >= 0)
        close(fd);
    import_close(&src);
    if (rc != EDR_OK) {
        x->result = "failed";
        snprintf(x->reason, sizeof(x->reason), "%s", ctx->err.msg);
    }
    return rc;
}

static void
report_items(struct edr_ctx *ctx, const struct items *it, int ok)
{
    if (edr_opt_bool(&ctx->opts, EDR_O_JSON)) {
        json_t *a = json_array(), *o;
        for (size_t i = 0; i < it->n; i++) {
            const struct item *x = &it->v[i];
            json_array_append_new(
                a, json_pack("{s:s, s:s, s:s?, s:o, s:s?}", "source", x->source, "result",
                             x->result, "backup_id", x->id[0] ? x->id : NULL, "revision",
                             x->id[0] ? json_integer((json_int_t)x->revision) : json_null(),
                             "reason", x->reason[0] ? x->reason : NULL));
        }
        o = json_pack("{s:b, s:o}", "ok", ok, "results", a);
        edr_cmd_print_json(o); /* frees it */
        return;
    }
    printf("%-40s  %-16s  %-28s  %9s  %s\n", "SOURCE", "RESULT", "BACKUP ID", "REVISION", "REASON");
    for (size_t i = 0; i < it->n; i++) {
        const struct item *x = &it->v[i];
        char rev[24] = "-";
        if (x->id[0] != '\0')
            snprintf(rev, sizeof(rev), "%" PRId64, x->revision);
        printf("%-40s  %-16s  %-28s  %9s  %s\n", x->source, x->result, x->id[0] ? x->id : "-", rev,
               x->reason[0] ? x->reason : "-");
    }
}

static edr_rc
import_from(struct edr_ctx *ctx, enum tool tool, const char *arg)
{
    struct edr_backup_params p;
    struct from_src fs;
    struct items it = {0};
    struct edr_storage_opts so;
    size_t nfailed = 0, nsnap = 0;
    edr_rc rc, first = EDR_OK;
    struct edr_err firsterr;

    memset(&p, 0, sizeof(p));
    memset(&fs, 0, sizeof(fs));
    memset(&firsterr, 0, sizeof(firsterr));
    fs.arg = arg;
    if ((rc = edr_backup_params_from_opts(&ctx->opts, 0, &p, &ctx->err)) != EDR_OK)
        goto out;
    if (strncmp(arg, "s3://", 5) == 0) {
        edr_cmd_storage_opts(ctx, &so);
        if ((rc = edr_storage_open(arg, &so, 0, &fs.st, &ctx->err)) != EDR_OK ||
            (rc = fs.st->ops->list(fs.st, "", collect_s3_cb, &it, &ctx->err)) != EDR_OK)
            goto out;
    } else if ((rc = collect_local(ctx, &fs, &it)) != EDR_OK) {
        goto out;
    }
    if (it.n > 1)
        qsort(it.v, it.n, sizeof(it.v[0]), by_name);
    for (size_t i = 0; i < it.n; i++) {
        edr_err_clear(&ctx->err);
        if ((rc = edr_cmd_check_interrupted(&ctx->err)) != EDR_OK)
            goto out;
        rc = import_item(ctx, &p, tool, &fs, &it.v[i]);
        if (strcmp(it.v[i].result, "skipped") != 0)
            nsnap++;
        if (rc != EDR_OK) {
            /* one line naming the file; the others are still imported */
            fprintf(stderr, "etcd-dr: error: %s\n", ctx->err.msg);
            if (nfailed++ == 0)
                first = rc, firsterr = ctx->err;
        }
    }
    rc = EDR_OK;
    if (nsnap == 0) {
        rc =
            edr_err_set(&ctx->err, EDR_E_NOTFOUND, "no %s snapshot in '%s'", tool_names[tool], arg);
    } else if (nfailed > 0) {
        rc = edr_err_set(&ctx->err, first, "%zu of %zu snapshots in '%s' failed to import", nfailed,
                         nsnap, arg);
        snprintf(ctx->err.hint, sizeof(ctx->err.hint), "the first failure: %.400s", firsterr.msg);
    }
    report_items(ctx, &it, rc == EDR_OK);
out:
    free(it.v);
    edr_storage_free(fs.st);
    edr_backup_params_release(&p);
    return rc;
}

edr_rc
edr_cmd_import(struct edr_ctx *ctx)
{
    const char *from = edr_opt_str(&ctx->opts, EDR_O_FROM);

    if (from == NULL)
        return import_plain(ctx, ctx->opts.args[0]);
    for (size_t i = 0; i < sizeof(tool_names) / sizeof(tool_names[0]); i++) {
        if (strcmp(from, tool_names[i]) == 0)
            return import_from(ctx, (enum tool)i, ctx->opts.args[0]);
    }
    if (strcmp(from, "gardener") == 0)
        return edr_cmd_import_gardener(ctx, ctx->opts.args[0]);
    return edr_err_set(&ctx->err, EDR_E_USAGE,
                       "option '--from': '%s' is not etcdctl, k3s, rke2 or gardener", from);
}
