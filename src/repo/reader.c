/*
 * Backup reader (see reader.h).
 */
#include "repo/reader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream/basic.h"
#include "stream/open.h"
#include "stream/seal.h"
#include "stream/tar.h"
#include "stream/zstd.h"

/* Keeps the first error of the decoding chain and swallows the rest of the
 * input, so the stored hash and size are still computed over every byte:
 * a damaged object is then reported as not matching its manifest first. */
struct latch {
    struct edr_stream base;
    struct edr_err err;
    edr_rc rc;
};

static edr_rc
latch_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct latch *l = (struct latch *)s;

    (void)err;
    if (l->rc == EDR_OK && (l->rc = edr_stream_write(s->next, buf, len, &l->err)) != EDR_OK &&
        l->rc == EDR_E_INTERRUPTED)
        return edr_err_set(err, l->rc, "%s", l->err.msg);
    return EDR_OK;
}

static edr_rc
latch_finish(struct edr_stream *s, struct edr_err *err)
{
    struct latch *l = (struct latch *)s;

    if (l->rc == EDR_OK)
        l->rc = edr_stream_finish(s->next, &l->err);
    if (l->rc != EDR_OK) {
        *err = l->err;
        return l->rc;
    }
    return EDR_OK;
}

static void
latch_free(struct edr_stream *s)
{
    (void)s;
}

static const struct edr_stream_ops latch_ops = {"latch", latch_write, latch_finish, latch_free};

/* A file entry as read: the path it names, its size and its hash. */
struct entry {
    char path[EDR_MANIFEST_PATH_MAX];
    uint64_t size;
    struct edr_stream *sha;
};

struct reader {
    struct edr_stream *sink;
    struct edr_stream *trailer;
    struct edr_stream *mem;
    int saw_db;
    enum edr_read_mode mode;
    const struct edr_read_files *files;
    struct entry *ents;
    size_t nents;
};

/* The prefix of the tar entries holding the files kept beside the snapshot:
 * "files/etc/kubernetes/pki/ca.crt" holds /etc/kubernetes/pki/ca.crt. */
#define FILES_PREFIX "files"

static edr_rc
file_entry(struct reader *r, const char *name, uint64_t size, struct edr_stream **sink,
           struct edr_err *err)
{
    const char *path = name + strlen(FILES_PREFIX);
    struct edr_stream *user = NULL;
    struct entry *e, *grown;
    edr_rc rc;

    if (r->nents >= EDR_MANIFEST_MAX_FILES || edr_manifest_path_ok(path) != 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "unexpected entry '%s' in the backup", name);
    grown = realloc(r->ents, (r->nents + 1) * sizeof(*r->ents));
    if (grown == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    r->ents = grown;
    e = &r->ents[r->nents];
    memset(e, 0, sizeof(*e));
    snprintf(e->path, sizeof(e->path), "%s", path);
    e->size = size;
    r->nents++;
    if (r->files != NULL && r->files->open != NULL &&
        (rc = r->files->open(r->files->ud, path, size, &user, err)) != EDR_OK)
        return rc;
    if ((rc = edr_stream_sha256_new(user, &e->sha, err)) != EDR_OK)
        return rc;
    *sink = e->sha;
    return EDR_OK;
}

static edr_rc
entry_begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink,
            struct edr_err *err)
{
    struct reader *r = ud;
    edr_rc rc;

    (void)size;
    *sink = NULL;
    if (strcmp(name, "snapshot.db") == 0 && r->trailer == NULL) {
        rc = edr_stream_trailer_new(r->mode == EDR_READ_SNAPSHOT ? r->sink : NULL, "snapshot.db", 1,
                                    &r->trailer, err);
        if (rc != EDR_OK)
            return rc;
        r->saw_db = 1;
        *sink = r->trailer;
    } else if (strncmp(name, FILES_PREFIX "/", strlen(FILES_PREFIX) + 1) == 0 &&
               r->mode != EDR_READ_RAW) {
        return file_entry(r, name, size, sink, err);
    } else if (strcmp(name, "manifest.json") == 0 && r->mem == NULL) {
        rc = edr_stream_mem_new(EDR_MANIFEST_MAX_SIZE, "manifest.json", &r->mem, err);
        if (rc != EDR_OK)
            return rc;
        *sink = r->mem;
    }
    return EDR_OK;
}

static edr_rc
entry_end(void *ud, const char *name, struct edr_err *err)
{
    (void)ud;
    (void)name;
    (void)err;
    return EDR_OK;
}

static edr_rc
source_name(struct edr_repo *repo, const struct edr_manifest *m, const char *path, char *buf,
            size_t n)
{
    if (repo != NULL)
        edr_repo_object_name(repo, m->id, ".edr", buf, n);
    else
        snprintf(buf, n, "%s", path);
    return EDR_OK;
}

/* Decompression workers: one per core, 2 to 4 (two keep both cores busy on
 * a 2-core machine while the other stages wait on them). */
static int
zstd_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 2 ? 2 : n > 4 ? 4 : (int)n;
}

/* The tar sink's finish would finish the db sink too; the trailer filter does
 * that when its entry ends, so the reader chain's end is a null sink. */
/*
 * The manifest copy sealed inside the data object must describe the same
 * backup as the manifest beside it: a backup renamed over another id, or
 * moved into another cluster's directory with its outer manifest edited, is
 * caught here (whoever holds only a public key can seal new data, but not
 * change what an existing object says about itself).
 */
static edr_rc
check_inner(const struct edr_manifest *m, const uint8_t *d, size_t len, struct edr_err *err)
{
    struct edr_manifest in;
    struct edr_err e2;
    const char *field = NULL;

    if (edr_manifest_from_json((const char *)d, len, "manifest.json", &in, &e2) != EDR_OK)
        return edr_err_set(err, EDR_E_INTEGRITY, "the manifest inside the backup is invalid: %s",
                           e2.msg);
    if (strcmp(in.id, m->id) != 0)
        field = "id";
    else if (strcmp(in.cluster, m->cluster) != 0)
        field = "cluster";
    else if (in.revision != m->revision)
        field = "revision";
    else if (strcmp(in.db_sha256, m->db_sha256) != 0 || in.db_size != m->db_size)
        field = "db_sha256";
    if (field == NULL)
        return EDR_OK;
    return edr_err_set(err, EDR_E_INTEGRITY,
                       "the manifest inside the backup does not match the one beside it (%s: "
                       "inside '%s/%s' revision %lld, beside '%s/%s' revision %lld)",
                       field, in.cluster, in.id, (long long)in.revision, m->cluster, m->id,
                       (long long)m->revision);
}

/*
 * The file entries read against the records of the manifest copy inside the
 * backup (sealed with the data) and, when there is one, of the manifest
 * beside it: the same files, in the same order, with the same size and hash.
 */
static edr_rc
check_files(struct reader *rd, struct edr_repo *repo, const struct edr_manifest *m,
            const uint8_t *inner, size_t ilen, struct edr_manifest_file **out, size_t *nout,
            struct edr_err *err)
{
    struct edr_manifest_file *in = NULL, *outer = NULL;
    size_t nin = 0, nouter = 0;
    const char *field = NULL;
    edr_rc rc = EDR_OK;

    *out = NULL;
    *nout = 0;
    if (inner != NULL &&
        (rc = edr_manifest_files_from_json((const char *)inner, ilen, "manifest.json", &in, &nin,
                                           err)) != EDR_OK)
        goto out;
    if (inner == NULL && (rd->nents > 0 || (m != NULL && m->nfiles > 0))) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "no manifest.json in the backup for its files");
        goto out;
    }
    for (size_t i = 0; i < rd->nents || i < nin; i++) {
        struct entry *e = i < rd->nents ? &rd->ents[i] : NULL;
        char hex[65];
        if (e == NULL) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "file '%s' is missing from the backup",
                             in[i].path);
            goto out;
        }
        if (i >= nin) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "file '%s' in the backup is not in its manifest",
                             e->path);
            goto out;
        }
        if (edr_stream_sha256_hex(e->sha, hex) != 0)
            hex[0] = '\0';
        if (strcmp(e->path, in[i].path) != 0 || e->size != in[i].size ||
            strcmp(hex, in[i].sha256) != 0) {
            rc = edr_err_set(err, EDR_E_INTEGRITY,
                             "file '%s' does not match the manifest (size %llu, expected %llu; "
                             "sha256 %.16s..., expected %.16s...)",
                             in[i].path, (unsigned long long)e->size,
                             (unsigned long long)in[i].size, hex, in[i].sha256);
            goto out;
        }
    }
    if (m != NULL && repo != NULL) {
        if ((rc = edr_repo_read_files(repo, m, &outer, &nouter, err)) != EDR_OK)
            goto out;
        for (size_t i = 0; field == NULL && (i < nin || i < nouter); i++) {
            if (i >= nin || i >= nouter)
                field = "files";
            else
                edr_manifest_file_cmp(&in[i], &outer[i], &field);
        }
        if (field != NULL) {
            rc = edr_err_set(err, EDR_E_INTEGRITY,
                             "the manifest inside the backup does not match the one beside it "
                             "(files: %s)",
                             field);
            goto out;
        }
    }
    *out = in;
    *nout = nin;
    in = NULL;
out:
    free(in);
    free(outer);
    return rc;
}

edr_rc
edr_backup_read(struct edr_repo *repo, const struct edr_manifest *m, const char *path,
                struct edr_identity *identity, enum edr_read_mode mode, struct edr_stream *sink,
                const struct edr_read_files *files, struct edr_read_result *res,
                struct edr_err *err)
{
    struct reader rd = {sink, NULL, NULL, 0, mode, files, NULL, 0};
    struct edr_manifest_file *checked = NULL;
    size_t nchecked = 0;
    struct latch latch = {{&latch_ops, NULL}, {0, "", ""}, EDR_OK};
    struct edr_stream *sha = NULL, *size = NULL, *open = NULL, *zst = NULL, *tar = NULL;
    struct edr_storage *st = NULL;
    char name[512], what[600];
    edr_rc rc;

    memset(res, 0, sizeof(*res));
    source_name(repo, m, path, name, sizeof(name));
    snprintf(what, sizeof(what), "backup '%s'", repo ? name : path);
    if (repo == NULL) {
        /* a loose data file: read it through a local storage on its directory */
        char dir[512];
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        if (slash == path)
            snprintf(dir, sizeof(dir), "/");
        if ((rc = edr_storage_local_open(dir, 0, &st, err)) != EDR_OK)
            return rc;
        snprintf(name, sizeof(name), "%s", slash ? slash + 1 : path);
    } else {
        st = repo->st;
    }
    if (mode == EDR_READ_RAW) {
        rc = edr_stream_open_new(sink, identity, &open, err);
    } else {
        if ((rc = edr_tar_reader_new(entry_begin, entry_end, &rd, &tar, err)) != EDR_OK)
            goto out;
        /* decryption and the stored hash in this thread, frames decompressed
         * by a pool of workers, the tar entries (db hash, sink) in the
         * decompressor's output thread */
        if ((rc = edr_stream_zstd_decompress_mt_new(tar, zstd_workers(), &zst, err)) != EDR_OK)
            goto out;
        rc = edr_stream_open_new(zst, identity, &open, err);
    }
    if (rc != EDR_OK)
        goto out;
    latch.base.next = open;
    if ((rc = edr_stream_sha256_new(&latch.base, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK)
        goto out;
    rc = st->ops->get(st, name, 0, size, err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(size, err);
    res->stored_size = edr_stream_size_get(size);
    if (edr_stream_sha256_hex(sha, res->stored_sha256) != 0)
        res->stored_sha256[0] = '\0';
    res->encrypted = open ? edr_stream_open_encrypted(open) : 0;
    /* Stored-level facts first: they explain most failures best. */
    if (m != NULL && res->stored_sha256[0] != '\0' &&
        (res->stored_size != m->stored_size || strcmp(res->stored_sha256, m->stored_sha256))) {
        char inner[EDR_ERR_MSG_MAX];
        snprintf(inner, sizeof(inner), "%s", rc != EDR_OK ? err->msg : "");
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "stored object does not match the manifest (size %llu, expected %llu; "
                         "sha256 %.16s..., expected %.16s...)%s%s",
                         (unsigned long long)res->stored_size, (unsigned long long)m->stored_size,
                         res->stored_sha256, m->stored_sha256, inner[0] ? "; " : "", inner);
    }
    if (rc != EDR_OK)
        goto out;
    if (mode != EDR_READ_RAW) {
        if (!rd.saw_db) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "no snapshot.db in the backup");
            goto out;
        }
        edr_stream_trailer_result(rd.trailer, &res->trailer);
        if (m != NULL) {
            char hex[65];
            edr_hex(res->trailer.sha256, 32, hex);
            if (strcmp(hex, m->db_sha256) != 0 || res->trailer.db_size != m->db_size) {
                rc = edr_err_set(err, EDR_E_INTEGRITY,
                                 "snapshot does not match the manifest (db sha256 %.16s..., "
                                 "expected %.16s...)",
                                 hex, m->db_sha256);
                goto out;
            }
        }
        {
            size_t len = 0;
            const uint8_t *d = rd.mem != NULL ? edr_stream_mem_data(rd.mem, &len) : NULL;
            if (d != NULL) {
                snprintf(res->inner_manifest, sizeof(res->inner_manifest), "%.*s", (int)len,
                         (const char *)d);
                if (m != NULL && (rc = check_inner(m, d, len, err)) != EDR_OK)
                    goto out;
            }
            rc = check_files(&rd, repo, m, d, len, &checked, &nchecked, err);
            if (rc != EDR_OK)
                goto out;
            res->nfiles = nchecked;
        }
        if (files != NULL && files->done != NULL &&
            (rc = files->done(files->ud, checked, nchecked, err)) != EDR_OK)
            goto out;
    }
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "%s", what);
    edr_stream_free(size);
    edr_stream_free(sha);
    edr_stream_free(open);
    edr_stream_free(zst); /* joins its threads before what they write into goes */
    edr_stream_free(tar);
    edr_stream_free(rd.trailer);
    edr_stream_free(rd.mem);
    for (size_t i = 0; i < rd.nents; i++)
        edr_stream_free(rd.ents[i].sha);
    free(rd.ents);
    free(checked);
    if (repo == NULL)
        edr_storage_free(st);
    return rc;
}

edr_rc
edr_backup_check_stored(struct edr_repo *repo, const struct edr_manifest *m, struct edr_err *err)
{
    struct edr_stream *sha = NULL, *size = NULL;
    char name[512], hex[65];
    edr_rc rc;

    edr_repo_object_name(repo, m->id, ".edr", name, sizeof(name));
    if ((rc = edr_stream_sha256_new(NULL, &sha, err)) != EDR_OK ||
        (rc = edr_stream_size_new(sha, NULL, &size, err)) != EDR_OK)
        goto out;
    rc = repo->st->ops->get(repo->st, name, 0, size, err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(size, err);
    if (rc != EDR_OK)
        goto out;
    edr_stream_sha256_hex(sha, hex);
    if (edr_stream_size_get(size) != m->stored_size)
        rc = edr_err_set(err, EDR_E_INTEGRITY, "size %llu, manifest says %llu",
                         (unsigned long long)edr_stream_size_get(size),
                         (unsigned long long)m->stored_size);
    else if (strcmp(hex, m->stored_sha256) != 0)
        rc = edr_err_set(err, EDR_E_INTEGRITY,
                         "sha256 mismatch (stored %.16s..., manifest "
                         "%.16s...)",
                         hex, m->stored_sha256);
out:
    if (rc != EDR_OK)
        edr_err_prefix(err, "backup '%s'", name);
    edr_stream_free(size);
    edr_stream_free(sha);
    return rc;
}
