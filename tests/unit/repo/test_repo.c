/*
 * Unit tests of src/repo/repo.c on the local directory backend
 * (src/storage/local.c) in a temp dir: atomic puts, ranged gets, prefix
 * listings, deletes and stats of the backend; the repository lock against a
 * second lock in this process and in a child process; listing complete
 * backups only; resolving references; cleanup of leftovers; deleting a
 * backup; verification records read back by the listing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opts.h"
#include "repo/repo.h"
#include "stream/basic.h"
#include "../support.h"

static char *root;

static int
setup(void **state)
{
    (void)state;
    root = tu_tmpdir();
    return root == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    tu_rmrf(root);
    free(root);
    root = NULL;
    return 0;
}

/* Entries of a directory below root, not counting "." and "..". */
static int
count_dir(const char *rel)
{
    char p[4200];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    d = opendir(p);
    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static int
exists(const char *rel)
{
    char p[4200];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    return stat(p, &sb) == 0;
}

/* entries of directory rel whose name starts with prefix */
static int
count_prefix(const char *rel, const char *prefix)
{
    char p[4200];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(p, sizeof(p), "%s/%s", root, rel);
    if ((d = opendir(p)) == NULL)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static void
put(struct edr_storage *st, const char *name, const char *text)
{
    struct edr_err err;

    assert_int_equal(edr_storage_put_buf(st, name, text, strlen(text), &err), EDR_OK);
}

static struct edr_storage *
open_st(void)
{
    struct edr_storage *st = NULL;
    struct edr_err err;

    assert_int_equal(edr_storage_open(root, NULL, 0, &st, &err), EDR_OK);
    assert_non_null(st);
    assert_string_equal(st->ops->name, "local");
    return st;
}

/* ---------------------------------------------------------------- storage */

static void
test_put_atomic(void **state)
{
    struct edr_storage *st = open_st();
    struct edr_stream *w = NULL;
    struct edr_storage_stat sb;
    struct edr_err err;
    uint8_t *data = malloc(300000);
    char tmpname[256], *back = NULL;
    size_t len;
    (void)state;

    assert_non_null(data);
    tu_random(data, 300000, 1);
    assert_int_equal(st->ops->put_open(st, "c/a.edr", 300000, &w, &err), EDR_OK);
    assert_int_equal(tu_feed(w, data, 300000, 7777, 1, &err), EDR_OK);
    /* written but not finished: invisible */
    assert_int_equal(st->ops->stat(st, "c/a.edr", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 0);
    assert_false(exists("c/a.edr"));
    /* a hidden temp name with the pid and a random part */
    snprintf(tmpname, sizeof(tmpname), ".a.edr.tmp.%ld.", (long)getpid());
    assert_int_equal(count_prefix("c", tmpname), 1);
    assert_int_equal(edr_storage_get_buf(st, "c/a.edr", 1 << 20, &back, &len, &err),
                     EDR_E_NOTFOUND);
    assert_null(back);
    assert_int_equal(edr_stream_finish(w, &err), EDR_OK);
    edr_stream_free(w);
    /* finished: visible, complete, no temp file */
    assert_int_equal(st->ops->stat(st, "c/a.edr", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 1);
    assert_int_equal(sb.size, 300000);
    assert_true(sb.mtime > time(NULL) - 60 && sb.mtime <= time(NULL) + 1);
    assert_int_equal(count_prefix("c", tmpname), 0);
    assert_int_equal(count_dir("c"), 1);
    assert_int_equal(edr_storage_get_buf(st, "c/a.edr", 1 << 20, &back, &len, &err), EDR_OK);
    assert_int_equal(len, 300000);
    assert_memory_equal(back, data, 300000);
    free(back);

    /* overwrite: readers see the old object until the new one finishes */
    assert_int_equal(st->ops->put_open(st, "c/a.edr", 0, &w, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, "new", 3, &err), EDR_OK);
    assert_int_equal(st->ops->stat(st, "c/a.edr", &sb, &err), EDR_OK);
    assert_int_equal(sb.size, 300000);
    assert_int_equal(edr_stream_finish(w, &err), EDR_OK);
    edr_stream_free(w);
    assert_int_equal(edr_storage_get_buf(st, "c/a.edr", 100, &back, &len, &err), EDR_OK);
    assert_int_equal(len, 3);
    assert_string_equal(back, "new");
    free(back);
    /* larger than allowed */
    assert_int_equal(edr_storage_get_buf(st, "c/a.edr", 2, &back, &len, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "object 'c/a.edr' is larger than 2 bytes");
    /* an empty object */
    put(st, "c/empty", "");
    assert_int_equal(edr_storage_get_buf(st, "c/empty", 100, &back, NULL, &err), EDR_OK);
    assert_string_equal(back, "");
    free(back);
    free(data);
    edr_storage_free(st);
}

static void
test_put_abort(void **state)
{
    struct edr_storage *st = open_st();
    struct edr_stream *w = NULL;
    struct edr_storage_stat sb;
    struct edr_err err;
    (void)state;

    /* freed without finish: nothing left, not even the new directory's file */
    assert_int_equal(st->ops->put_open(st, "d/sub/x.edr", 0, &w, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, "partial", 7, &err), EDR_OK);
    assert_int_equal(count_dir("d/sub"), 1);
    edr_stream_free(w);
    assert_int_equal(count_dir("d/sub"), 0);
    assert_int_equal(st->ops->stat(st, "d/sub/x.edr", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 0);
    /* aborting an overwrite keeps the old object */
    put(st, "d/keep", "old");
    assert_int_equal(st->ops->put_open(st, "d/keep", 0, &w, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, "newer", 5, &err), EDR_OK);
    edr_stream_free(w);
    assert_int_equal(st->ops->stat(st, "d/keep", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 1);
    assert_int_equal(sb.size, 3);
    assert_int_equal(count_dir("d"), 2); /* keep and sub/ */
    edr_stream_free(NULL);
    edr_storage_free(st);
    edr_storage_free(NULL);
}

static void
test_get_offset(void **state)
{
    struct edr_storage *st = open_st();
    struct edr_stream *mem = NULL;
    struct edr_err err;
    uint8_t data[5000];
    const uint8_t *got;
    size_t len;
    char want[4200];
    static const uint64_t offs[] = {0, 1, 4095, 4999, 5000, 6000};
    (void)state;

    tu_random(data, sizeof(data), 3);
    assert_int_equal(edr_storage_put_buf(st, "o/x", data, sizeof(data), &err), EDR_OK);
    for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        size_t expect = offs[i] < sizeof(data) ? sizeof(data) - offs[i] : 0;
        assert_int_equal(edr_stream_mem_new(SIZE_MAX, "m", &mem, &err), EDR_OK);
        assert_int_equal(st->ops->get(st, "o/x", offs[i], mem, &err), EDR_OK);
        got = edr_stream_mem_data(mem, &len);
        assert_int_equal(len, expect);
        if (expect > 0)
            assert_memory_equal(got, data + offs[i], expect);
        edr_stream_free(mem);
    }
    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "m", &mem, &err), EDR_OK);
    assert_int_equal(st->ops->get(st, "o/missing", 0, mem, &err), EDR_E_NOTFOUND);
    snprintf(want, sizeof(want), "unable to open '%s/o/missing': [2] No such file or directory",
             root);
    assert_string_equal(err.msg, want);
    /* names that leave the root are refused */
    assert_int_equal(st->ops->get(st, "../etc/passwd", 0, mem, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "invalid object name '../etc/passwd'");
    assert_int_equal(st->ops->get(st, "/etc/passwd", 0, mem, &err), EDR_E_INTERNAL);
    assert_int_equal(st->ops->del(st, "a/../../x", &err), EDR_E_INTERNAL);
    edr_stream_free(mem);
    edr_storage_free(st);
}

struct names {
    char v[16][64];
    int n;
    int stop_after;
};

static int
collect(const struct edr_storage_entry *e, void *ud)
{
    struct names *nm = ud;

    assert_true(nm->n < 16);
    snprintf(nm->v[nm->n++], 64, "%s", e->name);
    return nm->stop_after > 0 && nm->n >= nm->stop_after;
}

static int
cmp_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Lists prefix; returns the sorted names joined by ' '. */
static const char *
list(struct edr_storage *st, const char *prefix, int stop_after)
{
    static char out[1024];
    struct names nm;
    struct edr_err err;

    memset(&nm, 0, sizeof(nm));
    nm.stop_after = stop_after;
    assert_int_equal(st->ops->list(st, prefix, collect, &nm, &err), EDR_OK);
    qsort(nm.v, (size_t)nm.n, sizeof(nm.v[0]), cmp_name);
    out[0] = '\0';
    for (int i = 0; i < nm.n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? " " : "", nm.v[i]);
    return out;
}

static void
test_list_del_stat(void **state)
{
    struct edr_storage *st = open_st();
    struct edr_stream *w = NULL;
    struct edr_storage_stat sb;
    struct edr_err err;
    (void)state;

    put(st, "a/x.edr", "1");
    put(st, "a/y.json", "22");
    put(st, "ab/z", "333");
    put(st, "b/q", "4");
    put(st, "a/deep/w", "5");
    {
        /* hidden files (temp files, the lock) are not objects */
        char p[4200];
        snprintf(p, sizeof(p), "%s/a/.hidden", root);
        assert_int_equal(tu_write_file(p, "h", 1), 0);
    }
    /* an unfinished write is not listed */
    assert_int_equal(st->ops->put_open(st, "a/pending", 0, &w, &err), EDR_OK);

    assert_string_equal(list(st, "", 0), "a/deep/w a/x.edr a/y.json ab/z b/q");
    assert_string_equal(list(st, "a/", 0), "a/deep/w a/x.edr a/y.json");
    assert_string_equal(list(st, "a", 0), "a/deep/w a/x.edr a/y.json ab/z");
    assert_string_equal(list(st, "ab/", 0), "ab/z");
    assert_string_equal(list(st, "a/x", 0), "a/x.edr");
    assert_string_equal(list(st, "zz", 0), "");
    assert_string_equal(list(st, "zz/", 0), "");
    /* the callback can stop the listing */
    {
        struct names nm;
        memset(&nm, 0, sizeof(nm));
        nm.stop_after = 2;
        assert_int_equal(st->ops->list(st, "", collect, &nm, &err), EDR_OK);
        assert_int_equal(nm.n, 2);
    }
    edr_stream_free(w);

    assert_int_equal(st->ops->stat(st, "ab/z", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 1);
    assert_int_equal(sb.size, 3);
    assert_int_equal(st->ops->del(st, "ab/z", &err), EDR_OK);
    assert_int_equal(st->ops->stat(st, "ab/z", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 0);
    assert_int_equal(sb.size, 0);
    /* deleting a missing object, even in a missing directory, is fine */
    assert_int_equal(st->ops->del(st, "ab/z", &err), EDR_OK);
    assert_int_equal(st->ops->del(st, "nodir/z", &err), EDR_OK);
    assert_int_equal(st->ops->stat(st, "nodir/z", &sb, &err), EDR_OK);
    assert_int_equal(sb.exists, 0);
    assert_string_equal(list(st, "a", 0), "a/deep/w a/x.edr a/y.json");
    edr_storage_free(st);
}

static void
test_open_errors(void **state)
{
    struct edr_storage *st = NULL;
    struct edr_repo *r = NULL;
    struct edr_err err;
    char p[4200], want[4300];
    (void)state;

    snprintf(p, sizeof(p), "%s/missing", root);
    assert_int_equal(edr_storage_open(p, NULL, 0, &st, &err), EDR_E_REPO);
    snprintf(want, sizeof(want), "unable to open repository '%s': [2] No such file or directory",
             p);
    assert_string_equal(err.msg, want);
    assert_null(st);
    /* create makes it */
    snprintf(p, sizeof(p), "%s/new/repo/", root);
    assert_int_equal(edr_storage_open(p, NULL, 1, &st, &err), EDR_OK);
    snprintf(p, sizeof(p), "%s/new/repo", root);
    assert_string_equal(st->url, p); /* trailing slash dropped */
    edr_storage_free(st);
    /* a file is not a repository */
    snprintf(p, sizeof(p), "%s/file", root);
    assert_int_equal(tu_write_file(p, "x", 1), 0);
    assert_int_equal(edr_storage_open(p, NULL, 0, &st, &err), EDR_E_REPO);
    snprintf(want, sizeof(want), "repository '%s' is not a directory", p);
    assert_string_equal(err.msg, want);
    assert_int_equal(edr_storage_open("", NULL, 0, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "no repository given (--repo)");
    assert_int_equal(edr_storage_open("ftp://x/y", NULL, 0, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "unsupported repository URL 'ftp://x/y'");

    /* cluster names */
    assert_int_equal(edr_repo_open(root, NULL, "", 0, &r, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid cluster name '': 1 to 100 characters");
    assert_null(r);
    assert_int_equal(edr_repo_open(root, NULL, ".hidden", 0, &r, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid cluster name '.hidden': use letters, digits, '.', '_', "
                                 "'-'");
    assert_int_equal(edr_repo_check_cluster_name("a/b", &err), EDR_E_USAGE);
    assert_int_equal(edr_repo_check_cluster_name("..", &err), EDR_E_USAGE);
    assert_int_equal(edr_repo_check_cluster_name("a b", &err), EDR_E_USAGE);
    assert_int_equal(edr_repo_check_cluster_name(NULL, &err), EDR_E_USAGE);
    memset(p, 'c', 101);
    p[101] = '\0';
    assert_int_equal(edr_repo_check_cluster_name(p, &err), EDR_E_USAGE);
    p[100] = '\0';
    assert_int_equal(edr_repo_check_cluster_name(p, &err), EDR_OK);
    assert_int_equal(edr_repo_check_cluster_name("prod-1.eu_west", &err), EDR_OK);
    edr_repo_free(NULL);
}

/* ------------------------------------------------------------ clusters */

static struct edr_repo *open_repo(const char *cluster);

static void
test_clusters(void **state)
{
    struct edr_storage *st = open_st();
    struct edr_repo *r = open_repo("zeta");
    struct edr_err err;
    char **names = NULL, p[4200];
    int n = -1;
    (void)state;

    /* empty repository */
    assert_int_equal(edr_repo_clusters(r, &names, &n, &err), EDR_OK);
    assert_int_equal(n, 0);
    assert_null(names);
    put(st, "zeta/20261126T183000Z-r5.json", "{}");
    put(st, "alpha/20261126T183000Z-r5.edr", "x");
    put(st, "alpha/20261126T183100Z-r6.edr", "x");
    put(st, "mid/changes/00000000000000000001-00000000000000000009.seg", "x");
    put(st, "top-level-file", "x");            /* not in a directory: no cluster */
    put(st, "bad name/1.json", "{}");          /* not a valid cluster name */
    snprintf(p, sizeof(p), "%s/locked", root); /* a lock alone makes none */
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/locked/.lock", root);
    fclose(fopen(p, "w"));
    assert_int_equal(edr_repo_clusters(r, &names, &n, &err), EDR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "alpha");
    assert_string_equal(names[1], "mid");
    assert_string_equal(names[2], "zeta");
    edr_strv_free(names, n);
    /* set_cluster checks the name and switches */
    assert_int_equal(edr_repo_set_cluster(r, "../x", &err), EDR_E_USAGE);
    assert_string_equal(r->cluster, "zeta");
    assert_int_equal(edr_repo_set_cluster(r, "alpha", &err), EDR_OK);
    assert_string_equal(r->cluster, "alpha");
    edr_repo_free(r);
    edr_storage_free(st);
}

/* ---------------------------------------------------------------- lock */

static struct edr_repo *
open_repo(const char *cluster)
{
    struct edr_repo *r = NULL;
    struct edr_err err;

    assert_int_equal(edr_repo_open(root, NULL, cluster, 1, &r, &err), EDR_OK);
    return r;
}

static void
expect_locked(const struct edr_err *err, long holder_pid)
{
    char want[4300];

    assert_int_equal(err->code, EDR_E_LOCK);
    snprintf(want, sizeof(want), "repository '%s' is locked by another run ({\"host\":\"", root);
    assert_int_equal(strncmp(err->msg, want, strlen(want)), 0);
    snprintf(want, sizeof(want), "\",\"pid\":%ld,\"since\":\"", holder_pid);
    assert_non_null(strstr(err->msg, want));
    assert_string_equal(err->msg + strlen(err->msg) - 4, "Z\"})");
    assert_string_equal(err->hint, "wait for it to finish, or raise --lock-wait");
}

static void
test_lock_same_process(void **state)
{
    struct edr_repo *r = open_repo("prod"), *r2 = open_repo("prod"), *other = open_repo("dev");
    struct edr_storage_lock *lk = NULL, *lk2 = NULL, *lk3 = NULL;
    struct edr_err err;
    struct timeval t0, t1;
    (void)state;

    assert_int_equal(edr_repo_lock(r, 0, &lk, &err), EDR_OK);
    assert_non_null(lk);
    assert_true(exists("prod/.lock"));
    /* a second open file description conflicts with flock */
    assert_int_equal(edr_repo_lock(r2, 0, &lk2, &err), EDR_E_LOCK);
    assert_null(lk2);
    expect_locked(&err, (long)getpid());
    /* waiting: retries (every 200 ms) until the second wait_s later begins, then gives up */
    gettimeofday(&t0, NULL);
    assert_int_equal(edr_repo_lock(r2, 1, &lk2, &err), EDR_E_LOCK);
    gettimeofday(&t1, NULL);
    assert_true(t1.tv_sec - t0.tv_sec >= 0 &&
                (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_usec - t0.tv_usec) >= 150000);
    /* another cluster has its own lock */
    assert_int_equal(edr_repo_lock(other, 0, &lk3, &err), EDR_OK);
    edr_repo_unlock(other, lk3);
    /* released: free again, the lock file stays */
    edr_repo_unlock(r, lk);
    assert_true(exists("prod/.lock"));
    assert_int_equal(edr_repo_lock(r2, 0, &lk2, &err), EDR_OK);
    edr_repo_unlock(r2, lk2);
    edr_repo_unlock(r2, NULL);
    edr_repo_free(r);
    edr_repo_free(r2);
    edr_repo_free(other);
}

static void
test_lock_other_process(void **state)
{
    struct edr_repo *r = open_repo("prod");
    struct edr_storage_lock *lk = NULL;
    struct edr_err err;
    int to_child[2], to_parent[2], status;
    pid_t pid;
    char c;
    (void)state;

    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(to_parent), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* child: take the lock, report, hold it until told, then die holding it */
        struct edr_storage_lock *clk = NULL;
        int rc;
        /* only our ends: a parent that dies gives EOF, never a hang */
        close(to_child[1]);
        close(to_parent[0]);
        rc = edr_repo_lock(r, 0, &clk, &err);
        c = rc == EDR_OK ? 'L' : 'E';
        if (write(to_parent[1], &c, 1) != 1 || read(to_child[0], &c, 1) != 1)
            _exit(3);
        _exit(rc == EDR_OK ? 0 : 1); /* no unlock: the kernel releases it */
    }
    close(to_child[0]);
    close(to_parent[1]);
    assert_int_equal(read(to_parent[0], &c, 1), 1);
    assert_int_equal(c, 'L');
    assert_int_equal(edr_repo_lock(r, 0, &lk, &err), EDR_E_LOCK);
    expect_locked(&err, (long)pid);
    c = 'x';
    assert_int_equal(write(to_child[1], &c, 1), 1);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* the holder is gone: never stale, free at once */
    assert_int_equal(edr_repo_lock(r, 0, &lk, &err), EDR_OK);

    /* and the other way round: a child cannot take the parent's lock */
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct edr_storage_lock *clk = NULL;
        struct edr_repo *cr = NULL;
        if (edr_repo_open(root, NULL, "prod", 0, &cr, &err) != EDR_OK)
            _exit(3);
        _exit(edr_repo_lock(cr, 0, &clk, &err));
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), EDR_E_LOCK);
    edr_repo_unlock(r, lk);
    close(to_child[1]);
    close(to_parent[0]);
    edr_repo_free(r);
}

/* ---------------------------------------------------------------- catalog */

static void
mk_manifest(struct edr_manifest *m, const char *id, int64_t rev)
{
    memset(m, 0, sizeof(*m));
    m->format = EDR_MANIFEST_FORMAT;
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->cluster, sizeof(m->cluster), "prod");
    m->started = 1795717800 + rev;
    m->finished = m->started + 3;
    m->revision = rev;
    m->db_size = 1000 + (uint64_t)rev;
    memset(m->db_sha256, 'a', 64);
    memset(m->stored_sha256, 'b', 64);
    m->stored_size = 10;
    snprintf(m->compression, sizeof(m->compression), "zstd");
}

/* A complete backup: data then manifest, as backup does. */
static void
add_backup(struct edr_repo *r, const char *id, int64_t rev)
{
    struct edr_manifest m;
    struct edr_err err;
    char name[256];

    edr_repo_object_name(r, id, ".edr", name, sizeof(name));
    put(r->st, name, "data");
    mk_manifest(&m, id, rev);
    assert_int_equal(edr_repo_write_manifest(r, &m, &err), EDR_OK);
}

#define ID1 "20260101T000000Z-r1"
#define ID2 "20260102T000000Z-r2"
#define ID3 "20260103T000000Z-r3"

static void
populate(struct edr_repo *r)
{
    struct edr_manifest m;
    struct edr_err err;
    char name[256];

    /* out of order on purpose */
    add_backup(r, ID3, 3);
    add_backup(r, ID1, 1);
    add_backup(r, ID2, 2);
    /* a manifest without data */
    mk_manifest(&m, "20260104T000000Z-r4", 4);
    assert_int_equal(edr_repo_write_manifest(r, &m, &err), EDR_OK);
    /* data without manifest (an interrupted backup) */
    put(r->st, "prod/20260105T000000Z-r5.edr", "partial");
    /* a broken manifest with data */
    put(r->st, "prod/20260106T000000Z-r6.edr", "data");
    put(r->st, "prod/20260106T000000Z-r6.json", "{\"format\": 1");
    /* a manifest naming another id */
    put(r->st, "prod/20260107T000000Z-r7.edr", "data");
    mk_manifest(&m, ID1, 7);
    {
        char *json = NULL;
        assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
        put(r->st, "prod/20260107T000000Z-r7.json", json);
        free(json);
    }
    /* other files that are not backups */
    put(r->st, "prod/notes.txt", "hello");
    put(r->st, "prod/sub/20260108T000000Z-r8.edr", "data");
    put(r->st, "prod/sub/20260108T000000Z-r8.json", "{}");
    /* another cluster */
    edr_repo_object_name(r, "x", ".edr", name, sizeof(name));
    assert_string_equal(name, "prod/x.edr");
    put(r->st, "dev/20260109T000000Z-r9.edr", "data");
    mk_manifest(&m, "20260109T000000Z-r9", 9);
    {
        char *json = NULL;
        assert_int_equal(edr_manifest_to_json(&m, &json, &err), EDR_OK);
        put(r->st, "dev/20260109T000000Z-r9.json", json);
        free(json);
    }
}

static void
test_list(void **state)
{
    struct edr_repo *r = open_repo("prod");
    struct edr_manifest *l = NULL;
    struct edr_err err;
    size_t n = 99;
    (void)state;

    /* an empty repository */
    assert_int_equal(edr_repo_list(r, &l, &n, &err), EDR_OK);
    assert_int_equal(n, 0);
    free(l);

    populate(r);
    assert_int_equal(edr_repo_list(r, &l, &n, &err), EDR_OK);
    assert_int_equal(n, 3);
    assert_string_equal(l[0].id, ID1);
    assert_string_equal(l[1].id, ID2);
    assert_string_equal(l[2].id, ID3);
    assert_int_equal(l[0].revision, 1);
    assert_int_equal(l[2].db_size, 1003);
    assert_int_equal(l[1].verified, 0);
    free(l);
    edr_repo_free(r);
}

static void
test_resolve(void **state)
{
    struct edr_repo *r = open_repo("prod");
    struct edr_manifest m;
    struct edr_err err;
    char want[4300];
    (void)state;

    assert_int_equal(edr_repo_resolve(r, "latest", &m, &err), EDR_E_NOTFOUND);
    snprintf(want, sizeof(want), "no backup 'latest' in '%s' for cluster 'prod'", root);
    assert_string_equal(err.msg, want);
    assert_string_equal(err.hint, "run 'etcd-dr list' to see the backups");

    populate(r);
    add_backup(r, ID1 "2", 12); /* an id that extends another one */
    assert_int_equal(edr_repo_resolve(r, "latest", &m, &err), EDR_OK);
    assert_string_equal(m.id, ID3);
    assert_int_equal(m.revision, 3);
    assert_int_equal(edr_repo_resolve(r, ID2, &m, &err), EDR_OK);
    assert_string_equal(m.id, ID2);
    /* exact beats a longer id with the same start */
    assert_int_equal(edr_repo_resolve(r, ID1, &m, &err), EDR_OK);
    assert_string_equal(m.id, ID1);
    assert_int_equal(edr_repo_resolve(r, ID1 "2", &m, &err), EDR_OK);
    assert_int_equal(m.revision, 12);
    /* unique prefixes */
    assert_int_equal(edr_repo_resolve(r, "20260103", &m, &err), EDR_OK);
    assert_string_equal(m.id, ID3);
    assert_int_equal(edr_repo_resolve(r, "20260102T", &m, &err), EDR_OK);
    assert_string_equal(m.id, ID2);
    /* ambiguous */
    assert_int_equal(edr_repo_resolve(r, "2026", &m, &err), EDR_E_USAGE);
    snprintf(want, sizeof(want), "backup id '2026' is ambiguous in '%s/prod'", root);
    assert_string_equal(err.msg, want);
    assert_int_equal(edr_repo_resolve(r, "20260101T000000Z-r", &m, &err), EDR_E_USAGE);
    /* missing, including ones that exist only partly or elsewhere */
    static const char *const missing[] = {
        "nope",     "20260104T000000Z-r4", "20260105", "20260106T000000Z-r6", "20260107T000000Z-r7",
        "20260108", "20260109T000000Z-r9", "3"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        assert_int_equal(edr_repo_resolve(r, missing[i], &m, &err), EDR_E_NOTFOUND);
        snprintf(want, sizeof(want), "no backup '%s' in '%s' for cluster 'prod'", missing[i], root);
        assert_string_equal(err.msg, want);
    }
    edr_repo_free(r);
}

static void
test_cleanup(void **state)
{
    struct edr_repo *r = open_repo("prod");
    struct edr_manifest *l = NULL;
    struct edr_err err;
    char p[4200];
    size_t n;
    (void)state;

    populate(r);
    assert_int_equal(edr_repo_record_verify(r, "20260110T000000Z-r10", "stored", 1, NULL, &err),
                     EDR_OK);
    snprintf(p, sizeof(p), "%s/prod/.20260111T000000Z-r11.edr.tmp.99999", root);
    assert_int_equal(tu_write_file(p, "x", 1), 0);
    snprintf(p, sizeof(p), "%s/dev/.20260111T000000Z-r11.edr.tmp.99999", root);
    assert_int_equal(tu_write_file(p, "x", 1), 0);

    /* a young temp file survives an age limit; the orphan data does not */
    assert_int_equal(edr_repo_cleanup(r, 3600, &err), EDR_OK);
    assert_true(exists("prod/.20260111T000000Z-r11.edr.tmp.99999"));
    assert_false(exists("prod/20260105T000000Z-r5.edr"));
    assert_false(exists("prod/20260110T000000Z-r10.verify.json"));

    assert_int_equal(edr_repo_cleanup(r, 0, &err), EDR_OK);
    assert_false(exists("prod/.20260111T000000Z-r11.edr.tmp.99999"));
    /* complete backups, manifests without data, and other clusters stay */
    assert_true(exists("prod/" ID1 ".edr") && exists("prod/" ID1 ".json"));
    assert_true(exists("prod/" ID3 ".edr"));
    assert_true(exists("prod/20260104T000000Z-r4.json"));
    assert_true(exists("prod/20260106T000000Z-r6.edr")); /* has a (broken) manifest */
    assert_true(exists("prod/notes.txt"));
    assert_true(exists("prod/sub/20260108T000000Z-r8.edr"));
    assert_true(exists("dev/20260109T000000Z-r9.edr"));
    assert_true(exists("dev/.20260111T000000Z-r11.edr.tmp.99999"));
    assert_int_equal(edr_repo_list(r, &l, &n, &err), EDR_OK);
    assert_int_equal(n, 3);
    free(l);
    /* nothing left to do */
    assert_int_equal(edr_repo_cleanup(r, 0, &err), EDR_OK);
    edr_repo_free(r);
}

static void
test_delete_verify(void **state)
{
    struct edr_repo *r = open_repo("prod");
    struct edr_manifest *l = NULL, m;
    struct edr_err err;
    size_t n;
    time_t now = time(NULL);
    (void)state;

    populate(r);
    assert_int_equal(edr_repo_record_verify(r, ID1, "content", 1, "all good", &err), EDR_OK);
    assert_int_equal(edr_repo_record_verify(r, ID2, "stored", 0, "sha256 mismatch", &err), EDR_OK);
    assert_int_equal(edr_repo_list(r, &l, &n, &err), EDR_OK);
    assert_int_equal(n, 3);
    assert_int_equal(l[0].verified, 1);
    assert_string_equal(l[0].verify_level, "content");
    assert_true(l[0].verify_time >= now - 2 && l[0].verify_time <= now + 2);
    assert_int_equal(l[1].verified, -1);
    assert_string_equal(l[1].verify_level, "stored");
    assert_int_equal(l[2].verified, 0);
    assert_string_equal(l[2].verify_level, "");
    free(l);
    /* a newer record replaces the old one */
    assert_int_equal(edr_repo_record_verify(r, ID2, "drill", 1, NULL, &err), EDR_OK);
    assert_int_equal(edr_repo_resolve(r, ID2, &m, &err), EDR_OK);
    assert_int_equal(m.verified, 1);
    assert_string_equal(m.verify_level, "drill");

    assert_int_equal(edr_repo_delete(r, ID1, &err), EDR_OK);
    assert_false(exists("prod/" ID1 ".json"));
    assert_false(exists("prod/" ID1 ".edr"));
    assert_false(exists("prod/" ID1 ".verify.json"));
    assert_true(exists("prod/" ID2 ".verify.json"));
    /* again, and a backup that never had a verify record */
    assert_int_equal(edr_repo_delete(r, ID1, &err), EDR_OK);
    assert_int_equal(edr_repo_delete(r, ID3, &err), EDR_OK);
    assert_false(exists("prod/" ID3 ".edr"));
    assert_int_equal(edr_repo_list(r, &l, &n, &err), EDR_OK);
    assert_int_equal(n, 1);
    assert_string_equal(l[0].id, ID2);
    free(l);
    assert_int_equal(edr_repo_resolve(r, "latest", &m, &err), EDR_OK);
    assert_string_equal(m.id, ID2);
    edr_repo_free(r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_del_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_same_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clusters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete_verify, setup, teardown),
    };
    edr_log_setup(EDR_LOG_ERROR, 0); /* the listing's warnings are expected */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
