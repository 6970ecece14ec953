/*
 * Unit tests of src/cmd/files.c: --include paths made absolute and normal,
 * what edr_include_open accepts and refuses (with the exact messages), and
 * edr_files_out: nothing in place before the read checked out, never through
 * a link, never over an existing file without force.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/files.h"
#include "common/fs.h"

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "%s/edr-files-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    return edr_fs_rm_tree(dir, NULL) == EDR_OK ? 0 : -1;
}

static void
put(const char *name, const char *content, mode_t mode)
{
    char p[512];
    FILE *f;

    snprintf(p, sizeof(p), "%s/%s", dir, name);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    chmod(p, mode);
}

static void
test_normalize(void **state)
{
    static const struct {
        const char *in, *cwd, *out;
    } cases[] = {
        {"/etc/kubernetes/pki/ca.crt", "/x", "/etc/kubernetes/pki/ca.crt"},
        {"pki/ca.crt", "/etc/kubernetes", "/etc/kubernetes/pki/ca.crt"},
        {"./pki//./ca.crt", "/etc/kubernetes/", "/etc/kubernetes/pki/ca.crt"},
        {"//etc///k3s/", "/", "/etc/k3s"},
        {"token", "/", "/token"},
        {"/a/../b", "/", NULL},
        {"..", "/etc", NULL},
        {"x", "/a/../b", NULL},
        {"/", "/", NULL},
        {".", "/", NULL},
    };
    char out[64], small[8];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = edr_include_normalize(cases[i].in, cases[i].cwd, out, sizeof(out));
        if (cases[i].out == NULL) {
            assert_int_equal(r, -1);
        } else {
            assert_int_equal(r, 0);
            assert_string_equal(out, cases[i].out);
        }
    }
    assert_int_equal(edr_include_normalize("/abcdefgh", "/", small, sizeof(small)), -1);
    assert_int_equal(edr_include_normalize("/abcdef", "/", small, sizeof(small)), 0);
}

static void
test_open(void **state)
{
    struct edr_include_set set;
    struct edr_err err;
    char p[4][512], want[512];
    char *pats[4];

    (void)state;
    put("a.key", "secret", 0600);
    put("b.crt", "public!", 0644);
    snprintf(p[0], sizeof(p[0]), "%s/sub", dir);
    mkdir(p[0], 0700);
    put("sub/c", "", 0755);
    /* a glob skips the directory it matches; duplicates count once; an
     * optional absent file is left out */
    snprintf(p[0], sizeof(p[0]), "%s/*", dir);
    snprintf(p[1], sizeof(p[1]), "%s/a.key", dir);
    snprintf(p[2], sizeof(p[2]), "?%s/absent", dir);
    snprintf(p[3], sizeof(p[3]), "?%s/none/*", dir);
    for (int i = 0; i < 4; i++)
        pats[i] = p[i];
    assert_int_equal(edr_include_open(pats, 4, 100, &set, &err), EDR_OK);
    assert_int_equal(set.n, 2);
    snprintf(want, sizeof(want), "%s/a.key", dir);
    assert_string_equal(set.recs[0].path, want);
    assert_int_equal(set.recs[0].size, 6);
    assert_int_equal(set.recs[0].mode, 0600);
    assert_int_equal(set.recs[0].uid, getuid());
    assert_int_equal(set.recs[1].mode, 0644);
    edr_include_close(&set);
    edr_include_close(&set); /* again: fine */

    /* refusals, nothing left open */
    snprintf(p[0], sizeof(p[0]), "%s/b.crt", dir);
    assert_int_equal(edr_include_open(pats, 1, 6, &set, &err), EDR_E_USAGE);
    snprintf(want, sizeof(want),
             "--include: '%s/b.crt' is larger than --include-max-size (7 bytes, at most 6)", dir);
    assert_string_equal(err.msg, want);
    assert_int_equal(set.n, 0);
    snprintf(p[0], sizeof(p[0]), "%s/sub", dir);
    assert_int_equal(edr_include_open(pats, 1, 100, &set, &err), EDR_E_USAGE);
    snprintf(want, sizeof(want), "--include: '%s/sub' is not a regular file", dir);
    assert_string_equal(err.msg, want);
    snprintf(p[0], sizeof(p[0]), "%s/absent", dir);
    assert_int_equal(edr_include_open(pats, 1, 100, &set, &err), EDR_E_IO);
    snprintf(want, sizeof(want),
             "--include: unable to open '%s/absent': [2] No such file or directory", dir);
    assert_string_equal(err.msg, want);
    snprintf(p[0], sizeof(p[0]), "%s/no*", dir);
    assert_int_equal(edr_include_open(pats, 1, 100, &set, &err), EDR_E_IO);
    snprintf(want, sizeof(want), "--include: '%s/no*' matches no file", dir);
    assert_string_equal(err.msg, want);
    snprintf(p[0], sizeof(p[0]), "%s/../x", dir);
    assert_int_equal(edr_include_open(pats, 1, 100, &set, &err), EDR_E_USAGE);
    snprintf(p[0], sizeof(p[0]), "?");
    assert_int_equal(edr_include_open(pats, 1, 100, &set, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "--include: empty path");
}

/* Writes one file through the hook as a read would. */
static edr_rc
feed(struct edr_files_out *o, const char *path, const char *content, struct edr_err *err)
{
    const struct edr_read_files *h = edr_files_out_hook(o);
    struct edr_stream *s = NULL;
    edr_rc rc;

    if ((rc = h->open(h->ud, path, strlen(content), &s, err)) != EDR_OK)
        return rc;
    if ((rc = edr_stream_write(s, content, strlen(content), err)) != EDR_OK)
        return rc;
    return edr_stream_finish(s, err);
}

static void
test_out(void **state)
{
    struct edr_files_out *o = NULL;
    struct edr_manifest_file recs[2];
    struct edr_err err;
    char out[512], p[600], link[600], want[700];
    struct stat sb;

    (void)state;
    snprintf(out, sizeof(out), "%s/out", dir);
    memset(recs, 0, sizeof(recs));
    snprintf(recs[0].path, sizeof(recs[0].path), "/etc/k/a.key");
    recs[0].mode = 0640;
    snprintf(recs[1].path, sizeof(recs[1].path), "/b");
    recs[1].mode = 0755;

    /* a read that fails puts nothing in place */
    assert_int_equal(edr_files_out_new(out, 0, &o, &err), EDR_OK);
    assert_int_equal(feed(o, recs[0].path, "one", &err), EDR_OK);
    edr_files_out_free(o);
    snprintf(p, sizeof(p), "%s/etc/k", out);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(p, sizeof(p), "%s/etc/k/a.key", out);
    assert_int_equal(lstat(p, &sb), -1);
    {
        char cmd[700];
        snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/etc/k')\"", out);
        assert_int_equal(system(cmd), 0);
    }

    /* a read that checked out: in place with their modes */
    assert_int_equal(edr_files_out_new(out, 0, &o, &err), EDR_OK);
    assert_int_equal(feed(o, recs[0].path, "one", &err), EDR_OK);
    assert_int_equal(feed(o, recs[1].path, "two", &err), EDR_OK);
    assert_int_equal(edr_files_out_commit(o, &err), EDR_E_INTERNAL); /* not checked yet */
    assert_int_equal(edr_files_out_hook(o)->done(edr_files_out_hook(o)->ud, recs, 2, &err), EDR_OK);
    assert_int_equal(edr_files_out_commit(o, &err), EDR_OK);
    assert_int_equal(edr_files_out_count(o), 2);
    edr_files_out_free(o);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_int_equal(sb.st_size, 3);
    snprintf(p, sizeof(p), "%s/b", out);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0755);

    /* an existing file is refused at once, replaced with force */
    assert_int_equal(edr_files_out_new(out, 0, &o, &err), EDR_OK);
    assert_int_equal(feed(o, "/b", "new", &err), EDR_E_IO);
    snprintf(want, sizeof(want), "'%s/b' exists (--force replaces it)", out);
    assert_string_equal(err.msg, want);
    edr_files_out_free(o);
    assert_int_equal(edr_files_out_new(out, 1, &o, &err), EDR_OK);
    assert_int_equal(feed(o, "/b", "new", &err), EDR_OK);
    assert_int_equal(edr_files_out_hook(o)->done(edr_files_out_hook(o)->ud, &recs[1], 1, &err),
                     EDR_OK);
    assert_int_equal(edr_files_out_commit(o, &err), EDR_OK);
    edr_files_out_free(o);

    /* a link inside DIR is never followed, not even with force */
    snprintf(link, sizeof(link), "%s/var", out);
    assert_int_equal(symlink(dir, link), 0);
    assert_int_equal(edr_files_out_new(out, 1, &o, &err), EDR_OK);
    assert_int_equal(feed(o, "/var/x", "x", &err), EDR_E_IO);
    snprintf(want, sizeof(want), "'%s' is in the way (not a directory)", link);
    assert_string_equal(err.msg, want);
    edr_files_out_free(o);
    snprintf(p, sizeof(p), "%s/x", dir);
    assert_int_equal(lstat(p, &sb), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize),
        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
