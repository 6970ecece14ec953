/*
 * Unit tests of the restore orchestration: the db rewrite checked pair by
 * pair with the bolt reader (membership replaced, consistent index and term
 * set, optional revision bump, missing buckets, a multi-page key bucket,
 * errors), the data dir writer (layout, modes, contents, refusal, --force,
 * --wal-dir, clean-up after a failure) and the etcd command line.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "common/buf.h"
#include "common/hash.h"
#include "common/fs.h"
#include "restore/fsutil.h"
#include "restore/restore.h"
#include "restore/snapfile.h"
#include "restore/wal.h"

#define IC3 "m1=http://127.0.0.1:28380,m2=http://127.0.0.1:28381,m3=http://127.0.0.1:28382"

static char tmpdir[64];

static int
setup(void **state)
{
    (void)state;
    strcpy(tmpdir, "/tmp/edr-test-restore-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    struct edr_err err;

    (void)state;
    return edr_fs_rm_tree(tmpdir, &err) == EDR_OK ? 0 : -1;
}

static char *
tpath(const char *name)
{
    char *p = edr_fs_path_join(tmpdir, name);

    assert_non_null(p);
    return p;
}

static struct edr_restore_cluster *
cluster(const char *ic, const char *token)
{
    struct edr_restore_cluster *cl = NULL;
    struct edr_err err;

    if (edr_restore_cluster_parse(ic, token, &cl, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    return cl;
}

/* ---- bolt images as text: "bucket key-hex=value-hex" lines ---- */

struct item {
    const char *bucket; /* NULL: the same as the previous item */
    const void *k;
    size_t kl;
    const void *v;
    size_t vl;
};

static void
rev(uint8_t out[18], int64_t main, int64_t sub, int tomb)
{
    int i;

    for (i = 0; i < 8; i++) {
        out[7 - i] = (uint8_t)((uint64_t)main >> (8 * i));
        out[16 - i] = (uint8_t)((uint64_t)sub >> (8 * i));
    }
    out[8] = '_';
    out[17] = tomb ? 't' : 0;
}

static void
be64(uint8_t out[8], uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static void
line(struct edr_buf *b, const char *bucket, size_t bl, const void *k, size_t kl, const void *v,
     size_t vl)
{
    char *hex = malloc(2 * (kl > vl ? kl : vl) + 1);

    assert_non_null(hex);
    edr_buf_add(b, bucket, bl);
    edr_buf_byte(b, ' ');
    edr_hex(k, kl, hex);
    edr_buf_str(b, hex);
    edr_buf_byte(b, '=');
    if (v != NULL) {
        edr_hex(v, vl, hex);
        edr_buf_str(b, hex);
    }
    edr_buf_byte(b, '\n');
    free(hex);
}

static void
write_db(const char *path, const struct item *it, size_t n)
{
    struct edr_bolt_writer *w = NULL;
    struct edr_err err;
    size_t i;

    assert_int_equal(edr_bolt_writer_new(path, 4096, &w, &err), EDR_OK);
    for (i = 0; i < n; i++) {
        if (it[i].bucket != NULL &&
            edr_bolt_writer_bucket(w, it[i].bucket, strlen(it[i].bucket), &err) != EDR_OK)
            fail_msg("%s", err.msg);
        if (it[i].k != NULL &&
            edr_bolt_writer_put(w, it[i].k, it[i].kl, it[i].v, it[i].vl, &err) != EDR_OK)
            fail_msg("%s", err.msg);
    }
    if (edr_bolt_writer_finish(w, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    edr_bolt_writer_free(w);
}

/* meta/confState written for the new members: their ids ascending */
#define CONF3                                                                                      \
    "{\"voters\":[4298424989112289331,5846913516511329951,8511616437378386749],\"auto_leave\":"    \
    "false}"
#define CONF1 "{\"voters\":[10276657743932975437],\"auto_leave\":false}"

/* expected text; an item with k == NULL names an empty bucket */
static char *
items_text(const struct item *it, size_t n)
{
    struct edr_buf b = {0};
    const char *bucket = "";
    size_t i;

    for (i = 0; i < n; i++) {
        if (it[i].bucket != NULL)
            bucket = it[i].bucket;
        if (it[i].k == NULL)
            line(&b, bucket, strlen(bucket), "", 0, NULL, 0);
        else
            line(&b, bucket, strlen(bucket), it[i].k, it[i].kl, it[i].v, it[i].vl);
    }
    edr_buf_cstr(&b);
    return (char *)b.data;
}

struct dump {
    struct edr_buf b;
    const uint8_t *bucket;
    size_t bl;
};

static int
dump_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct dump *d = ud;

    line(&d->b, (const char *)d->bucket, d->bl, k, kl, v, vl);
    return 0;
}

struct names {
    char name[32][32];
    size_t n;
};

static int
collect_bucket(void *ud, const uint8_t *name, size_t len)
{
    struct names *nm = ud;

    assert_true(len < 32 && nm->n < 32);
    memcpy(nm->name[nm->n], name, len);
    nm->name[nm->n++][len] = '\0';
    return 0;
}

/* The whole db as text, checked by the bolt reader first. */
static char *
db_text(const char *path)
{
    struct edr_bolt *b = NULL;
    struct edr_err err;
    struct names nm = {0};
    struct dump d = {0};
    size_t i, before;

    if (edr_bolt_open(path, &b, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    if (edr_bolt_check(b, NULL, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(edr_bolt_foreach_bucket(b, collect_bucket, &nm, &err), EDR_OK);
    for (i = 0; i < nm.n; i++) {
        d.bucket = (const uint8_t *)nm.name[i];
        d.bl = strlen(nm.name[i]);
        before = d.b.len;
        assert_int_equal(edr_bolt_foreach(b, nm.name[i], d.bl, dump_kv, &d, &err), EDR_OK);
        if (d.b.len == before)
            line(&d.b, nm.name[i], d.bl, "", 0, NULL, 0);
    }
    edr_bolt_close(b);
    edr_buf_cstr(&d.b);
    return (char *)d.b.data;
}

#define S(x) x, sizeof(x) - 1

static void
test_write_db(void **state)
{
    static const char old1[] =
        "{\"id\":225216300757239434,\"peerURLs\":[\"http://127.0.0.1:28101\"],"
        "\"name\":\"src\"}";
    static const char new2[] = "{\"id\":4298424989112289331,\"peerURLs\":[\"http://127.0.0.1:"
                               "28381\"],\"name\":\"m2\"}";
    static const char new1[] = "{\"id\":5846913516511329951,\"peerURLs\":[\"http://127.0.0.1:"
                               "28380\"],\"name\":\"m1\"}";
    static const char new3[] = "{\"id\":8511616437378386749,\"peerURLs\":[\"http://127.0.0.1:"
                               "28382\"],\"name\":\"m3\"}";
    uint8_t r2[18], r3[18], r5t[18], r5s[18], r1005[18], ci16[8], ci3[8], one[8], fin[18];
    struct edr_restore_cluster *cl = cluster(IC3, "tok3");
    char *src = tpath("src.db"), *dst = tpath("dst.db");
    char *got, *want;
    struct edr_err err;

    (void)state;
    rev(r2, 2, 0, 0), rev(r3, 3, 0, 0), rev(r5t, 5, 0, 1), rev(r5s, 5, 1, 0);
    rev(r1005, 1005, 0, 0), rev(fin, 4, 0, 0);
    be64(ci16, 16), be64(ci3, 3), be64(one, 1);
    {
        const struct item in[] = {
            {"alarm", NULL, 0, NULL, 0},
            {"auth", "authEnabled", 11, "\x01", 1},
            {NULL, S("authRevision"), one, 8},
            {"cluster", S("clusterVersion"), S("3.4.0")},
            {"key", r2, 17, S("kv2")},
            {NULL, r3, 17, S("kv3")},
            {NULL, r5t, 18, S("tomb")},
            {NULL, r5s, 17, S("kv5")},
            {"lease", S("\x46\x8a\xa2\x19\x41\x0e\xb2\x0b"), S("lease")},
            {"members", S("32021084443468a"), S(old1)},
            {NULL, S("eafde92c9249e7d8"), S("{}")},
            {"members_removed", S("f682f848f989e5f4"), S("removed")},
            {"meta", S("confState"), S("{\"voters\":[1,2],\"auto_leave\":false}")},
            {NULL, S("consistent_index"), ci16, 8},
            {NULL, S("finishedCompactRev"), fin, 17},
            {NULL, S("zzz"), S("kept")},
        };
        const struct item out[] = {
            {"alarm", NULL, 0, NULL, 0},
            {"auth", "authEnabled", 11, "\x01", 1},
            {NULL, S("authRevision"), one, 8},
            {"cluster", S("clusterVersion"), S("3.4.0")},
            {"key", r2, 17, S("kv2")},
            {NULL, r3, 17, S("kv3")},
            {NULL, r5t, 18, S("tomb")},
            {NULL, r5s, 17, S("kv5")},
            {"lease", S("\x46\x8a\xa2\x19\x41\x0e\xb2\x0b"), S("lease")},
            {"members", S("3ba712c0e9b34833"), S(new2)},
            {NULL, S("512468dd70167e9f"), S(new1)},
            {NULL, S("761f560da6508b3d"), S(new3)},
            {"members_removed", NULL, 0, NULL, 0},
            {"meta", S("confState"), S(CONF3)},
            {NULL, S("consistent_index"), ci3, 8},
            {NULL, S("finishedCompactRev"), fin, 17},
            {NULL, S("term"), one, 8},
            {NULL, S("zzz"), S("kept")},
        };
        const struct item bumped[] = {
            {"key", r2, 17, S("kv2")},
            {NULL, r3, 17, S("kv3")},
            {NULL, r5t, 18, S("tomb")},
            {NULL, r5s, 17, S("kv5")},
            {NULL, r1005, 17, "", 0},
            {"lease", S("\x46\x8a\xa2\x19\x41\x0e\xb2\x0b"), S("lease")},
            {"members", S("3ba712c0e9b34833"), S(new2)},
            {NULL, S("512468dd70167e9f"), S(new1)},
            {NULL, S("761f560da6508b3d"), S(new3)},
            {"members_removed", NULL, 0, NULL, 0},
            {"meta", S("confState"), S(CONF3)},
            {NULL, S("consistent_index"), ci3, 8},
            {NULL, S("finishedCompactRev"), fin, 17},
            {NULL, S("scheduledCompactRev"), r1005, 17},
            {NULL, S("term"), one, 8},
            {NULL, S("zzz"), S("kept")},
        };

        write_db(src, in, sizeof(in) / sizeof(in[0]));
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 0, .mark_compacted = 0, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        want = items_text(out, sizeof(out) / sizeof(out[0]));
        assert_string_equal(got, want);
        free(got);
        /* --bump-revision without --mark-compacted does nothing, like etcd */
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 1000, .mark_compacted = 0, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        assert_string_equal(got, want);
        free(got);
        free(want);
        /* bump from the highest (main, sub) = (5, 1) */
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 1000, .mark_compacted = 1, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        want = items_text(bumped, sizeof(bumped) / sizeof(bumped[0]));
        assert_non_null(strstr(got, want));
        free(got);
        free(want);
        /* a drill's private copy: auth turned off, everything else as before */
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 0, .mark_compacted = 0, .auth_off = 1},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        assert_non_null(strstr(got, "auth 61757468456e61626c6564=00\n"));
        assert_null(strstr(got, "auth 61757468456e61626c6564=01"));
        assert_non_null(strstr(got, "auth 61757468526576697369"));
        free(got);
    }
    free(src);
    free(dst);
    edr_restore_cluster_free(cl);
}

static void
test_write_db_missing_buckets(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char *src = tpath("src.db"), *dst = tpath("dst.db");
    uint8_t r7[18], ci[8], one[8];
    struct edr_err err;
    char *got, *want;
    static const char json[] = "{\"id\":10276657743932975437,\"peerURLs\":[\"http://"
                               "localhost:2380\"],\"name\":\"default\"}";

    (void)state;
    rev(r7, 7, 0, 0);
    be64(ci, 1), be64(one, 1);
    {
        const struct item in[] = {{"key", r7, 17, S("v")}};
        const struct item out[] = {
            {"key", r7, 17, S("v")},
            {"members", S("8e9e05c52164694d"), S(json)},
            {"members_removed", NULL, 0, NULL, 0},
            {"meta", S("confState"), S(CONF1)},
            {NULL, S("consistent_index"), ci, 8},
            {NULL, S("term"), one, 8},
        };

        write_db(src, in, 1);
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 0, .mark_compacted = 1, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        want = items_text(out, sizeof(out) / sizeof(out[0]));
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    {
        /* no bucket at all, with a bump: key is created with (bump, 0) */
        uint8_t r5[18];
        const struct item in[] = {{"zzz", NULL, 0, NULL, 0}};
        const struct item out[] = {
            {"key", r5, 17, "", 0},
            {"members", S("8e9e05c52164694d"), S(json)},
            {"members_removed", NULL, 0, NULL, 0},
            {"meta", S("confState"), S(CONF1)},
            {NULL, S("consistent_index"), ci, 8},
            {NULL, S("scheduledCompactRev"), r5, 17},
            {NULL, S("term"), one, 8},
            {"zzz", NULL, 0, NULL, 0},
        };

        rev(r5, 5, 0, 0);
        unlink(src);
        write_db(src, in, 1);
        assert_int_equal(edr_restore_write_db(src, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 5, .mark_compacted = 1, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
        got = db_text(dst);
        want = items_text(out, sizeof(out) / sizeof(out[0]));
        assert_string_equal(got, want);
        free(got);
        free(want);
    }
    free(src);
    free(dst);
    edr_restore_cluster_free(cl);
}

static void
test_write_db_large(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char *src = tpath("src.db"), *dst = tpath("dst.db");
    struct edr_bolt_writer *w = NULL;
    struct edr_buf want = {0};
    struct edr_err err;
    uint8_t k[18], v[700];
    char *got, *p;
    int i;

    (void)state;
    assert_int_equal(edr_bolt_writer_new(src, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "key", 3, &err), EDR_OK);
    for (i = 1; i <= 3000; i++) {
        rev(k, i, 0, 0);
        memset(v, i & 0xff, sizeof(v));
        assert_int_equal(edr_bolt_writer_put(w, k, 17, v, (size_t)(i % 700), &err), EDR_OK);
        line(&want, "key", 3, k, 17, v, (size_t)(i % 700));
    }
    rev(k, 1, 0, 0);
    memset(v, 'x', sizeof(v));
    assert_int_equal(edr_bolt_writer_bucket(w, "meta", 4, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_put(w, "big", 3, v, sizeof(v), &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    edr_buf_cstr(&want);

    assert_int_equal(
        edr_restore_write_db(
            src, cl, &(struct edr_restore_db_opts){.bump = 0, .mark_compacted = 0, .auth_off = 0},
            dst, &err),
        EDR_OK);
    got = db_text(dst);
    assert_memory_equal(got, want.data, want.len);
    p = got + want.len;
    {
        char hex[33];

        edr_hex((const uint8_t *)"8e9e05c52164694d", 16, hex);
        assert_int_equal(strncmp(p, "members ", 8), 0);
        assert_int_equal(strncmp(p + 8, hex, 32), 0);
    }
    assert_non_null(strstr(p, "\nmeta 626967=7878"));
    free(got);
    edr_buf_release(&want);
    free(src);
    free(dst);
    edr_restore_cluster_free(cl);
}

static void
test_write_db_errors(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char *src = tpath("src.db"), *dst = tpath("dst.db"), *missing = tpath("missing.db");
    uint8_t r[18], big[18];
    struct edr_err err;
    struct stat st;

    (void)state;
    rev(r, 3, 0, 0);
    {
        const struct item in[] = {{"key", r, 17, S("v")}, {NULL, S("bad"), S("x")}};

        write_db(src, in, 2);
    }
    /* a malformed revision key only matters when bumping */
    assert_int_equal(
        edr_restore_write_db(
            src, cl, &(struct edr_restore_db_opts){.bump = 0, .mark_compacted = 0, .auth_off = 0},
            dst, &err),
        EDR_OK);
    unlink(dst);
    assert_int_equal(
        edr_restore_write_db(
            src, cl, &(struct edr_restore_db_opts){.bump = 10, .mark_compacted = 1, .auth_off = 0},
            dst, &err),
        EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "bucket 'key': malformed revision key 626164");
    assert_int_equal(stat(dst, &st), -1);

    unlink(src);
    rev(big, INT64_MAX - 5, 0, 0);
    {
        const struct item in[] = {{"key", big, 17, S("v")}};

        write_db(src, in, 1);
    }
    assert_int_equal(
        edr_restore_write_db(
            src, cl, &(struct edr_restore_db_opts){.bump = 5, .mark_compacted = 1, .auth_off = 0},
            dst, &err),
        EDR_OK);
    unlink(dst);
    assert_int_equal(
        edr_restore_write_db(
            src, cl, &(struct edr_restore_db_opts){.bump = 6, .mark_compacted = 1, .auth_off = 0},
            dst, &err),
        EDR_E_USAGE);
    assert_string_equal(err.msg, "--bump-revision 6: revision 9223372036854775802 + 6 overflows");
    assert_int_equal(stat(dst, &st), -1);

    assert_int_not_equal(edr_restore_write_db(missing, cl,
                                              &(struct edr_restore_db_opts){
                                                  .bump = 0, .mark_compacted = 0, .auth_off = 0},
                                              dst, &err),
                         EDR_OK);
    assert_non_null(strstr(err.msg, missing));
    assert_int_equal(stat(dst, &st), -1);
    free(src);
    free(dst);
    free(missing);
    edr_restore_cluster_free(cl);
}

/* ---- data dirs ---- */

static void
assert_mode(const char *dir, const char *rel, mode_t mode)
{
    char *p = edr_fs_path_join(dir, rel);
    struct stat st;

    if (stat(p, &st) != 0)
        fail_msg("%s: missing", p);
    if ((st.st_mode & 07777) != mode)
        fail_msg("%s: mode %o, want %o", p, (unsigned)(st.st_mode & 07777), (unsigned)mode);
    free(p);
}

static int
exists(const char *dir, const char *rel)
{
    char *p = rel ? edr_fs_path_join(dir, rel) : strdup(dir);
    struct stat st;
    int r = lstat(p, &st) == 0;

    free(p);
    return r;
}

/* names in dir, sorted, space-separated */
static char *
listing(const char *dir)
{
    struct edr_buf b = {0};
    char *names[64];
    size_t n = 0, i, j;
    struct dirent *de;
    DIR *d = opendir(dir);

    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 && n < 64)
            names[n++] = strdup(de->d_name);
    closedir(d);
    for (i = 0; i < n; i++)
        for (j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                char *t = names[i];

                names[i] = names[j];
                names[j] = t;
            }
    for (i = 0; i < n; i++) {
        if (i > 0)
            edr_buf_byte(&b, ' ');
        edr_buf_str(&b, names[i]);
        free(names[i]);
    }
    edr_buf_cstr(&b);
    if (b.data == NULL)
        return strdup("");
    return (char *)b.data;
}

static void
assert_listing(const char *dir, const char *want)
{
    char *got = listing(dir);

    assert_string_equal(got, want);
    free(got);
}

static uint8_t *
slurp(const char *dir, const char *rel, size_t *len)
{
    char *p = edr_fs_path_join(dir, rel);
    FILE *f = fopen(p, "rb");
    uint8_t *buf;
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    free(p);
    *len = (size_t)n;
    return buf;
}

static void
make_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    fputs(content, f);
    fclose(f);
}

#define WALF "member/wal/" EDR_WAL_FILE_NAME
#define SNAPF "member/snap/0000000000000001-0000000000000003.snap"

static void
test_member_dir(void **state)
{
    struct edr_restore_cluster *cl = cluster(IC3, "tok3");
    char *db = tpath("prepared.db"), *data = tpath("a/b/data"), *ab = tpath("a/b");
    struct edr_err err;
    uint8_t *got, *want;
    size_t glen, wlen;
    mode_t old;

    (void)state;
    make_file(db, "not really a bbolt file, copied as is");
    old = umask(022);
    assert_int_equal(edr_restore_member_dir(cl, "m3", db, data, NULL, 0, &err), EDR_OK);
    umask(old);
    assert_listing(ab, "data");
    assert_listing(data, "member");
    assert_mode(data, ".", 0700);
    assert_mode(data, "member", 0700);
    assert_mode(data, "member/snap", 0700);
    assert_mode(data, "member/wal", 0700);
    assert_mode(data, "member/snap/db", 0600);
    assert_mode(data, SNAPF, 0644);
    assert_mode(data, WALF, 0600);
    assert_listing(ab, "data");
    {
        char *m = edr_fs_path_join(data, "member");

        assert_listing(m, "snap wal");
        free(m);
    }
    got = slurp(data, "member/snap/db", &glen);
    assert_int_equal(glen, strlen("not really a bbolt file, copied as is"));
    assert_memory_equal(got, "not really a bbolt file, copied as is", glen);
    free(got);
    got = slurp(data, SNAPF, &glen);
    assert_int_equal(edr_restore_snap_build(cl, &want, &wlen, &err), EDR_OK);
    assert_int_equal(glen, wlen);
    assert_memory_equal(got, want, glen);
    free(got);
    free(want);
    got = slurp(data, WALF, &glen);
    assert_int_equal(glen, EDR_WAL_SEGMENT_BYTES);
    assert_int_equal(edr_restore_wal_build(cl, edr_restore_cluster_find(cl, "m3")->id,
                                           EDR_WAL_FLAVOUR_35, &want, &wlen, &err),
                     EDR_OK);
    assert_memory_equal(got, want, wlen);
    assert_int_equal(got[wlen], 0);
    assert_int_equal(got[glen - 1], 0);
    free(got);
    free(want);

    /* unknown member */
    assert_int_equal(edr_restore_member_dir(cl, "m9", db, data, NULL, 0, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "'m9' is not a member of the cluster");
    free(db);
    free(data);
    free(ab);
    edr_restore_cluster_free(cl);
}

static void
test_member_dir_existing(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char *db = tpath("prepared.db"), *data = tpath("data"), *keep = tpath("data/keep");
    char *slash = tpath("data/"), *empty = tpath("empty");
    struct edr_err err;
    char msg[256], *l, *old;

    (void)state;
    make_file(db, "db");
    assert_int_equal(mkdir(data, 0755), 0);
    make_file(keep, "old data");

    assert_int_equal(edr_restore_member_dir(cl, "default", db, slash, NULL, 0, &err), EDR_E_TARGET);
    snprintf(msg, sizeof(msg), "data dir '%s' is not empty", data);
    assert_string_equal(err.msg, msg);
    snprintf(msg, sizeof(msg),
             "use --force to move it aside (it is renamed to '%s.etcd-dr-old-<time>', never "
             "deleted)",
             data);
    assert_string_equal(err.hint, msg);
    assert_listing(tmpdir, "data prepared.db");
    assert_listing(data, "keep");

    /* a failure with --force leaves the old dir in place */
    unlink(db);
    assert_int_equal(edr_restore_member_dir(cl, "default", db, data, NULL, 1, &err), EDR_E_IO);
    snprintf(msg, sizeof(msg), "unable to open '%s': [2] No such file or directory", db);
    assert_string_equal(err.msg, msg);
    assert_listing(tmpdir, "data");
    assert_listing(data, "keep");
    make_file(db, "db");

    /* --force moves it aside */
    assert_int_equal(edr_restore_member_dir(cl, "default", db, data, NULL, 1, &err), EDR_OK);
    assert_listing(data, "member");
    l = listing(tmpdir);
    assert_int_equal(strncmp(l, "data data.etcd-dr-old-", 22), 0);
    assert_int_equal(strlen(l), strlen("data data.etcd-dr-old-20260101T000000Z prepared.db"));
    assert_string_equal(l + strlen(l) - 12, " prepared.db");
    l[strlen(l) - 12] = '\0';
    old = tpath(l + 5);
    assert_listing(old, "keep");
    free(old);
    free(l);

    /* an existing empty directory is fine without --force */
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(edr_restore_member_dir(cl, "default", db, empty, NULL, 0, &err), EDR_OK);
    assert_listing(empty, "member");
    assert_mode(empty, ".", 0700);

    /* a regular file in the way */
    free(empty);
    empty = tpath("file");
    make_file(empty, "x");
    assert_int_equal(edr_restore_member_dir(cl, "default", db, empty, NULL, 0, &err), EDR_E_TARGET);
    snprintf(msg, sizeof(msg), "data dir '%s' is not empty", empty);
    assert_string_equal(err.msg, msg);

    free(db);
    free(data);
    free(keep);
    free(slash);
    free(empty);
    edr_restore_cluster_free(cl);
}

static void
test_member_dir_wal_dir(void **state)
{
    struct edr_restore_cluster *cl = cluster("default=http://localhost:2380", NULL);
    char *db = tpath("prepared.db"), *data = tpath("data"), *wal = tpath("wal");
    char *inside = tpath("data2/wal"), *data2 = tpath("data2"), *def = tpath("data3/member/wal");
    char *data3 = tpath("data3");
    struct edr_err err;
    char msg[256];

    (void)state;
    make_file(db, "db");
    assert_int_equal(edr_restore_member_dir(cl, "default", db, data, wal, 0, &err), EDR_OK);
    assert_listing(tmpdir, "data prepared.db wal");
    {
        char *m = edr_fs_path_join(data, "member");

        assert_listing(m, "snap");
        free(m);
    }
    assert_listing(wal, EDR_WAL_FILE_NAME);
    assert_mode(wal, ".", 0700);
    assert_mode(wal, EDR_WAL_FILE_NAME, 0600);

    /* an existing wal dir is refused too */
    assert_int_equal(edr_restore_member_dir(cl, "default", db, data3, wal, 0, &err), EDR_E_TARGET);
    snprintf(msg, sizeof(msg), "wal dir '%s' is not empty", wal);
    assert_string_equal(err.msg, msg);
    assert_listing(tmpdir, "data prepared.db wal");

    assert_int_equal(edr_restore_member_dir(cl, "default", db, data2, inside, 0, &err),
                     EDR_E_USAGE);
    snprintf(msg, sizeof(msg), "wal dir '%s' must not be inside data dir '%s'", inside, data2);
    assert_string_equal(err.msg, msg);

    /* the default path given explicitly is the default layout */
    assert_int_equal(edr_restore_member_dir(cl, "default", db, data3, def, 0, &err), EDR_OK);
    assert_true(exists(data3, WALF));
    assert_listing(tmpdir, "data data3 prepared.db wal");

    free(db);
    free(data);
    free(wal);
    free(inside);
    free(data2);
    free(def);
    free(data3);
    edr_restore_cluster_free(cl);
}

static void
test_cmdline(void **state)
{
    struct edr_restore_cluster *cl = cluster(IC3, "tok3");
    struct edr_err err;
    char *s = NULL;

    (void)state;
    assert_int_equal(edr_restore_member_cmdline(cl, "m1", "/var/lib/etcd", NULL, &s, &err), EDR_OK);
    assert_string_equal(s, "etcd --name m1 --data-dir /var/lib/etcd --initial-advertise-peer-urls "
                           "http://127.0.0.1:28380 --listen-peer-urls http://127.0.0.1:28380 "
                           "--advertise-client-urls <CLIENT_URLS> --listen-client-urls "
                           "<CLIENT_URLS>");
    free(s);
    assert_int_equal(edr_restore_member_cmdline(cl, "m4", "/d", NULL, &s, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "'m4' is not a member of the cluster");
    assert_null(s);
    edr_restore_cluster_free(cl);

    cl = cluster("it's me=https://node1.example:2380,it's me=http://10.0.0.1:2380,"
                 "it's me=http://localhost:2381,it's me=unixs://sock:1",
                 NULL);
    assert_int_equal(edr_restore_member_cmdline(cl, "it's me", "/data dir", "/wal", &s, &err),
                     EDR_OK);
    assert_string_equal(s, "etcd --name 'it'\\''s me' --data-dir '/data dir' --wal-dir /wal "
                           "--initial-advertise-peer-urls http://10.0.0.1:2380,"
                           "http://localhost:2381,https://node1.example:2380,unixs://sock:1 "
                           "--listen-peer-urls http://10.0.0.1:2380,http://localhost:2381,"
                           "https://0.0.0.0:2380,unixs://sock:1 --advertise-client-urls "
                           "<CLIENT_URLS> --listen-client-urls <CLIENT_URLS>");
    free(s);
    edr_restore_cluster_free(cl);
}

static void
test_opts_cluster(void **state)
{
    struct edr_restore_opts o = {0};
    struct edr_restore_cluster *cl = NULL;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_restore_opts_cluster(&o, &cl, &err), EDR_OK);
    assert_true(cl->members[0].id == 0x8e9e05c52164694dULL);
    assert_string_equal(cl->members[0].name, "default");
    edr_restore_cluster_free(cl);

    o.name = "m2";
    o.initial_cluster = IC3;
    o.token = "tok3";
    o.advertise_peer_urls = "http://127.0.0.1:28381";
    assert_int_equal(edr_restore_opts_cluster(&o, &cl, &err), EDR_OK);
    assert_true(cl->cluster_id == 0x8cd06955c5f7ac8eULL);
    edr_restore_cluster_free(cl);

    o.advertise_peer_urls = "http://127.0.0.1:28380";
    assert_int_equal(edr_restore_opts_cluster(&o, &cl, &err), EDR_E_USAGE);
    assert_null(cl);
    assert_string_equal(err.msg, "--initial-advertise-peer-urls 'http://127.0.0.1:28380' does "
                                 "not match the URLs of member 'm2' in --initial-cluster "
                                 "('http://127.0.0.1:28381')");

    o.name = "solo";
    o.initial_cluster = NULL;
    o.token = NULL;
    o.advertise_peer_urls = NULL;
    assert_int_equal(edr_restore_opts_cluster(&o, &cl, &err), EDR_OK);
    assert_string_equal(cl->members[0].name, "solo");
    assert_string_equal(cl->members[0].urls[0], "http://localhost:2380");
    assert_true(cl->members[0].id == 0x8e9e05c52164694dULL);
    edr_restore_cluster_free(cl);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_db, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_db_missing_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_db_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_db_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_dir_existing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_member_dir_wal_dir, setup, teardown),
        cmocka_unit_test(test_cmdline),
        cmocka_unit_test(test_opts_cluster),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
