/*
 * Unit tests of common/fs.h: a file created through the atomic helper never
 * writes through a symlink planted at its final name or its temp name, gets
 * the mode asked for whatever the umask, appears only when committed, and is
 * removed when released; temp names are unpredictable; leftovers of a dead
 * pid are removed and a live one's are kept; mkdir -p refuses a file in the
 * way; a new file created in place never replaces or follows anything, and
 * gets its exact mode or, when asked, the umask's.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/edr-test-fs-XXXXXX");
    return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *
path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static void
spit(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *
slurp(const char *p)
{
    static char buf[256];
    FILE *f = fopen(p, "r");
    size_t n;
    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static int
entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' || (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."));
    closedir(d);
    return n;
}

static void
test_atomic_symlink_at_final_name(void **state)
{
    struct edr_fs_atomic a;
    struct edr_err err;
    struct stat sb;
    mode_t old = umask(0);

    (void)state;
    spit(path("victim"), "precious");
    assert_int_equal(symlink(path("victim"), path("out.db")), 0);
    assert_int_equal(edr_fs_atomic_open(&a, path("out.db"), ".part.", 0600, EDR_E_IO, &err),
                     EDR_OK);
    assert_int_equal(edr_fs_atomic_write(&a, "new data", 8, &err), EDR_OK);
    /* not there before the commit, the link untouched */
    assert_string_equal(slurp(path("out.db")), "precious");
    assert_int_equal(edr_fs_atomic_commit(&a, &err), EDR_OK);
    edr_fs_atomic_release(&a);
    umask(old);
    /* the link was replaced by the file; its target never written */
    assert_int_equal(lstat(path("out.db"), &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0600);
    assert_string_equal(slurp(path("out.db")), "new data");
    assert_string_equal(slurp(path("victim")), "precious");
    assert_int_equal(entries(), 2);
}

static void
test_atomic_release_and_names(void **state)
{
    struct edr_fs_atomic a, b;
    struct edr_err err;
    char prefix[128];

    (void)state;
    assert_int_equal(edr_fs_atomic_open(&a, path("m.json"), ".tmp.", 0644, EDR_E_REPO, &err),
                     EDR_OK);
    assert_int_equal(edr_fs_atomic_open(&b, path("m.json"), ".tmp.", 0644, EDR_E_REPO, &err),
                     EDR_OK);
    snprintf(prefix, sizeof(prefix), "%s/.m.json.tmp.%ld.", dir, (long)getpid());
    assert_int_equal(strncmp(a.tmp, prefix, strlen(prefix)), 0);
    assert_int_equal(strlen(a.tmp), strlen(prefix) + 16);
    assert_string_not_equal(a.tmp, b.tmp);
    assert_int_equal(entries(), 2);
    edr_fs_atomic_release(&a);
    edr_fs_atomic_release(&b);
    edr_fs_atomic_release(&b); /* twice is fine */
    assert_int_equal(entries(), 0);
    /* no directory: the error names the temp file, the caller's kind */
    assert_int_equal(edr_fs_atomic_open(&a, path("no/such/x"), ".tmp.", 0600, EDR_E_REPO, &err),
                     EDR_E_REPO);
    assert_non_null(strstr(err.msg, "unable to create '"));
    assert_non_null(strstr(err.msg, "/no/such/.x.tmp."));
    assert_non_null(strstr(err.msg, "': [2] No such file or directory"));
}

static void
test_remove_stale(void **state)
{
    pid_t dead = fork();
    char name[256];

    (void)state;
    if (dead == 0)
        _exit(0);
    waitpid(dead, NULL, 0);
    snprintf(name, sizeof(name), ".snap.db.part.%ld.0011223344556677", (long)dead);
    spit(path(name), "left by a killed run");
    snprintf(name, sizeof(name), ".snap.db.part.%ld.8899aabbccddeeff", (long)getpid());
    spit(path(name), "ours, running");
    spit(path(".snap.db.part.notapid.00"), "not ours");
    spit(path(".other.db.part.1.00"), "another file's");
    assert_int_equal(edr_fs_remove_stale(path("snap.db"), ".part."), 1);
    assert_int_equal(entries(), 3);
    assert_int_equal(edr_fs_remove_stale(path("snap.db"), ".part."), 0);
}

static void
test_mkdir_p(void **state)
{
    struct edr_err err;
    struct stat sb;

    (void)state;
    assert_int_equal(edr_fs_mkdir_p(path("a/b/c"), 0700, EDR_E_REPO, &err), EDR_OK);
    assert_int_equal(stat(path("a/b/c"), &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(edr_fs_mkdir_p(path("a/b/c"), 0700, EDR_E_REPO, &err), EDR_OK);
    spit(path("a/file"), "x");
    assert_int_equal(edr_fs_mkdir_p(path("a/file/d"), 0700, EDR_E_REPO, &err), EDR_E_REPO);
    assert_non_null(strstr(err.msg, "/a/file': [20] Not a directory"));
    /* a link to a directory is a directory */
    assert_int_equal(symlink(path("a/b"), path("link")), 0);
    assert_int_equal(edr_fs_mkdir_p(path("link/c"), 0700, EDR_E_REPO, &err), EDR_OK);
}

static void
test_write_new(void **state)
{
    char want[600];
    struct edr_err err;
    struct stat sb;
    mode_t old;
    int fd;

    (void)state;
    old = umask(022);
    assert_int_equal(edr_fs_write_new(path("exact"), "abc", 3, 0640, EDR_E_IO, &err), EDR_OK);
    assert_int_equal(edr_fs_write_new(path("masked"), "", 0, 0666 | EDR_FS_UMASK, EDR_E_IO, &err),
                     EDR_OK);
    umask(077);
    assert_int_equal(edr_fs_write_new(path("exact2"), "x", 1, 0644, EDR_E_IO, &err), EDR_OK);
    umask(old);
    assert_int_equal(stat(path("exact"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0640);
    assert_string_equal(slurp(path("exact")), "abc");
    assert_int_equal(stat(path("masked"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    assert_int_equal(sb.st_size, 0);
    assert_int_equal(stat(path("exact2"), &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0644);
    /* an existing file is never replaced, a link never followed */
    assert_int_equal(edr_fs_write_new(path("exact"), "new", 3, 0600, EDR_E_REPO, &err), EDR_E_REPO);
    snprintf(want, sizeof(want), "unable to create '%s': [17] File exists", path("exact"));
    assert_string_equal(err.msg, want);
    assert_string_equal(slurp(path("exact")), "abc");
    assert_int_equal(symlink(path("victim"), path("link")), 0);
    assert_int_equal(edr_fs_create(path("link"), 0600, EDR_E_IO, &fd, &err), EDR_E_IO);
    assert_int_equal(fd, -1);
    assert_int_equal(lstat(path("victim"), &sb), -1);
    /* the pieces: create, write, close with fsync, then fsync the directory */
    assert_int_equal(edr_fs_create(path("parts"), 0600, EDR_E_IO, &fd, &err), EDR_OK);
    assert_int_equal(edr_fs_write_all(fd, "12345", 5), 0);
    assert_int_equal(edr_fs_close_synced(fd, path("parts"), EDR_E_IO, &err), EDR_OK);
    assert_string_equal(slurp(path("parts")), "12345");
    assert_int_equal(edr_fs_fsync_parent(path("parts"), EDR_E_IO, &err), EDR_OK);
    assert_int_equal(edr_fs_fsync_parent(path("none/x"), EDR_E_IO, &err), EDR_E_IO);
    assert_non_null(strstr(err.msg, "none': [2] No such file or directory"));
    assert_int_equal(entries(), 5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_atomic_symlink_at_final_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_release_and_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_new, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
