/*
 * Unit tests of the tar writer and reader: round trips with odd write sizes,
 * long names, empty entries, archives of GNU tar in its formats, the tar
 * CLI reading ours, and corrupt or truncated archives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/basic.h"
#include "stream/tar.h"
#include "../support.h"

#define MAX_ENTRIES 8

/* Collects entries of an archive into memory. */
struct collect {
    int n;
    char *names[MAX_ENTRIES];
    uint64_t sizes[MAX_ENTRIES];
    struct edr_stream *mems[MAX_ENTRIES];
    int ended[MAX_ENTRIES];
    const char *skip; /* name to skip */
    int fail_begin;
};

static edr_rc
cb_begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink, struct edr_err *err)
{
    struct collect *c = ud;

    if (c->fail_begin)
        return edr_err_set(err, EDR_E_REPO, "no thanks '%s'", name);
    assert_true(c->n < MAX_ENTRIES);
    c->names[c->n] = strdup(name);
    c->sizes[c->n] = size;
    c->mems[c->n] = NULL;
    if (c->skip == NULL || strcmp(c->skip, name) != 0)
        assert_int_equal(edr_stream_mem_new(SIZE_MAX, name, &c->mems[c->n], err), EDR_OK);
    *sink = c->mems[c->n];
    c->n++;
    return EDR_OK;
}

static edr_rc
cb_end(void *ud, const char *name, struct edr_err *err)
{
    struct collect *c = ud;
    (void)err;
    assert_string_equal(name, c->names[c->n - 1]);
    c->ended[c->n - 1] = 1;
    return EDR_OK;
}

static void
collect_free(struct collect *c)
{
    for (int i = 0; i < c->n; i++) {
        free(c->names[i]);
        edr_stream_free(c->mems[i]);
    }
    memset(c, 0, sizeof(*c));
}

static edr_rc
read_tar(const uint8_t *buf, size_t len, size_t split, struct collect *c, struct edr_err *err)
{
    struct edr_stream *r = NULL;
    edr_rc rc;

    assert_int_equal(edr_tar_reader_new(cb_begin, cb_end, c, &r, err), EDR_OK);
    rc = tu_feed_finish(r, buf, len, split, len, err);
    edr_stream_free(r);
    return rc;
}

struct entry {
    const char *name;
    size_t size;
};

static char long_name[300];

static uint8_t *
write_tar(const struct entry *e, int n, const uint8_t *data, size_t split, size_t *len)
{
    struct edr_err err;
    struct edr_stream *mem = NULL, *w = NULL;
    const uint8_t *d;
    uint8_t *copy;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "tar", &mem, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_new(mem, &w, &err), EDR_OK);
    for (int i = 0; i < n; i++) {
        assert_int_equal(edr_tar_writer_begin(w, e[i].name, e[i].size, 0600, 1700000000, &err),
                         EDR_OK);
        assert_int_equal(tu_feed(w, data, e[i].size, split, (uint64_t)i, &err), EDR_OK);
        assert_int_equal(edr_tar_writer_end(w, &err), EDR_OK);
    }
    assert_int_equal(edr_stream_finish(w, &err), EDR_OK);
    d = edr_stream_mem_data(mem, len);
    copy = malloc(*len);
    memcpy(copy, d, *len);
    edr_stream_free(w);
    edr_stream_free(mem);
    return copy;
}

static void
check_entries(struct collect *c, const struct entry *e, int n, const uint8_t *data)
{
    assert_int_equal(c->n, n);
    for (int i = 0; i < n; i++) {
        size_t len;
        const uint8_t *d;
        assert_string_equal(c->names[i], e[i].name);
        assert_int_equal(c->sizes[i], e[i].size);
        assert_true(c->ended[i]);
        if (c->mems[i] == NULL)
            continue;
        d = edr_stream_mem_data(c->mems[i], &len);
        assert_int_equal(len, e[i].size);
        if (len > 0)
            assert_memory_equal(d, data, len);
    }
}

static void
test_roundtrip(void **state)
{
    uint8_t *data = malloc(300000);
    struct entry e[] = {
        {"snapshot.db", 300000}, {"empty", 0},       {"manifest.json", 511},
        {long_name, 513},        {"dir/sub/x", 512},
    };
    int n = (int)(sizeof(e) / sizeof(e[0]));
    (void)state;

    memset(long_name, 'n', 250);
    memcpy(long_name + 100, "/", 1);
    long_name[250] = '\0';
    tu_random(data, 300000, 3);
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        struct edr_err err;
        struct collect c = {0};
        size_t len;
        uint8_t *t = write_tar(e, n, data, tu_splits[sp], &len);
        assert_int_equal(len % 512, 0);
        assert_int_equal(read_tar(t, len, tu_splits[(sp + 1) % TU_NSPLITS], &c, &err), EDR_OK);
        check_entries(&c, e, n, data);
        collect_free(&c);
        /* skipping an entry */
        c.skip = "snapshot.db";
        assert_int_equal(read_tar(t, len, tu_splits[sp], &c, &err), EDR_OK);
        assert_null(c.mems[0]);
        check_entries(&c, e, n, data);
        collect_free(&c);
        free(t);
    }
    free(data);
}

static void
test_writer_misuse(void **state)
{
    struct edr_err err;
    struct edr_stream *w = NULL;
    (void)state;

    assert_int_equal(edr_tar_writer_new(NULL, &w, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, "x", 1, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "tar: data written outside an entry");
    assert_int_equal(edr_tar_writer_begin(w, "a", 3, 0600, 0, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, "abcd", 4, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "tar: entry 'a' is longer than its declared 3 bytes");
    assert_int_equal(edr_stream_write(w, "ab", 2, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_end(w, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "tar: entry 'a' ended after 2 of 3 bytes");
    assert_int_equal(edr_stream_finish(w, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "tar: entry 'a' not ended");
    edr_stream_free(w);
}

static void
test_writer_next_fails(void **state)
{
    struct edr_err err;
    struct edr_stream *mem = NULL, *w = NULL;
    uint8_t buf[4096] = {0};
    (void)state;

    assert_int_equal(edr_stream_mem_new(1000, "out", &mem, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_new(mem, &w, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_begin(w, "a", sizeof(buf), 0600, 0, &err), EDR_OK);
    assert_int_equal(edr_stream_write(w, buf, sizeof(buf), &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'out' is larger than 1000 bytes");
    edr_stream_free(w);
    edr_stream_free(mem);
}

static void
test_errors(void **state)
{
    uint8_t data[2000];
    struct entry e[] = {{"snapshot.db", 2000}, {"manifest.json", 10}};
    struct collect c = {0};
    struct edr_err err;
    size_t len;
    uint8_t *t;
    (void)state;

    tu_random(data, sizeof(data), 1);
    t = write_tar(e, 2, data, 0, &len);
    /* layout: hdr 0, data 512..2559 (2000 + pad), hdr 2560, data 3072, end 3584 */
    assert_int_equal(len, 3584 + 1024);
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        size_t split = tu_splits[sp];
        t[100] ^= 1;
        assert_int_equal(read_tar(t, len, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: bad header checksum at offset 0");
        collect_free(&c);
        t[100] ^= 1;
        t[2560 + 5] ^= 1;
        assert_int_equal(read_tar(t, len, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: bad header checksum at offset 2560");
        collect_free(&c);
        t[2560 + 5] ^= 1;

        assert_int_equal(read_tar(t, 1000, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: truncated entry 'snapshot.db'");
        collect_free(&c);
        assert_int_equal(read_tar(t, 2600, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: truncated header at offset 2560");
        collect_free(&c);
        assert_int_equal(read_tar(t, 3584, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: truncated archive (no end-of-archive marker)");
        collect_free(&c);
        assert_int_equal(read_tar(t, 0, split, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: truncated archive (no end-of-archive marker)");
        collect_free(&c);
        /* one zero block is enough; anything after it is ignored */
        assert_int_equal(read_tar(t, 3584 + 512, split, &c, &err), EDR_OK);
        check_entries(&c, e, 2, data);
        collect_free(&c);
    }
    /* bad size field (checksum fixed up) */
    {
        unsigned sum = 0;
        memcpy(t + 124, "0000000x000", 11);
        memset(t + 148, ' ', 8);
        for (int i = 0; i < 512; i++)
            sum += t[i];
        snprintf((char *)t + 148, 8, "%06o", sum);
        assert_int_equal(read_tar(t, len, 7, &c, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "tar: bad size field at offset 0");
        collect_free(&c);
    }
    free(t);

    /* a callback error stops the read */
    t = write_tar(e, 1, data, 0, &len);
    c.fail_begin = 1;
    assert_int_equal(read_tar(t, len, 1, &c, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "no thanks 'snapshot.db'");
    free(t);
}

/* Make an archive with the tar CLI and read it. */
static void
cli_archive(const char *dir, const char *format, const char *name, size_t size)
{
    char cmd[10000], path[5000];
    uint8_t *data = malloc(size + 1), *t;
    struct collect c = {0};
    struct edr_err err;
    size_t len;

    tu_text(data, size, size);
    snprintf(cmd, sizeof(cmd), "mkdir -p '%s/in/%s' && rmdir '%s/in/%s'", dir, name, dir, name);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/in/%s", dir, name);
    assert_int_equal(tu_write_file(path, data, size), 0);
    snprintf(cmd, sizeof(cmd), "tar -C '%s/in' --format=%s -cf '%s/a.tar' '%s'", dir, format, dir,
             name);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/a.tar", dir);
    t = tu_read_file(path, &len);
    assert_non_null(t);
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        struct entry e = {name, size};
        assert_int_equal(read_tar(t, len, tu_splits[sp], &c, &err), EDR_OK);
        check_entries(&c, &e, 1, data);
        collect_free(&c);
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/in' '%s/a.tar'", dir, dir);
    assert_int_equal(system(cmd), 0);
    free(t);
    free(data);
}

static void
test_cli_archives(void **state)
{
    char *dir = tu_tmpdir();
    char longn[400], deep[400];
    (void)state;

    if (system("tar --version >/dev/null 2>&1") != 0)
        skip();
    memset(longn, 'L', 180);
    longn[180] = '\0';
    /* a path > 100 chars with a directory part fitting ustar's prefix */
    snprintf(deep, sizeof(deep), "%0120d/%s", 7, "snapshot.db");
    cli_archive(dir, "gnu", "snapshot.db", 12345);
    cli_archive(dir, "gnu", longn, 1000);  /* 'L' long name */
    cli_archive(dir, "pax", longn, 70000); /* 'x' path */
    cli_archive(dir, "ustar", deep, 512);  /* prefix field */
    cli_archive(dir, "posix", "a b", 0);
    tu_rmrf(dir);
    free(dir);
}

static void
test_cli_reads_ours(void **state)
{
    char *dir = tu_tmpdir(), cmd[9000], path[5000];
    uint8_t *data = malloc(100000), *t, *back;
    struct entry e[] = {{"snapshot.db", 100000}, {"manifest.json", 77}};
    size_t len, blen;
    (void)state;

    if (system("tar --version >/dev/null 2>&1") != 0)
        skip();
    tu_random(data, 100000, 5);
    t = write_tar(e, 2, data, 7, &len);
    snprintf(path, sizeof(path), "%s/x.tar", dir);
    assert_int_equal(tu_write_file(path, t, len), 0);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && tar -xf x.tar 2>&1 && test \"$(tar -tf x.tar | tr '\\n' ' ')\" = "
             "'snapshot.db manifest.json '",
             dir);
    assert_int_equal(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/snapshot.db", dir);
    back = tu_read_file(path, &blen);
    assert_non_null(back);
    assert_int_equal(blen, 100000);
    assert_memory_equal(back, data, blen);
    free(back);
    free(t);
    free(data);
    tu_rmrf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),         cmocka_unit_test(test_writer_misuse),
        cmocka_unit_test(test_writer_next_fails), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cli_archives),      cmocka_unit_test(test_cli_reads_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
