/*
 * Unit tests of the basic stream elements: sha256 and size observers, fd,
 * memory, null and tee sinks.
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
#include <unistd.h>

#include "stream/basic.h"
#include "../support.h"

static void
test_sha256_splits(void **state)
{
    size_t sizes[] = {0, 1, 64, 65537, 300001};
    (void)state;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *buf = malloc(sizes[i] + 1), want[EDR_SHA256_LEN];
        tu_random(buf, sizes[i], i);
        edr_sha256_buf(buf, sizes[i], want);
        for (int sp = 0; sp < TU_NSPLITS; sp++) {
            struct edr_err err;
            struct edr_stream *mem = NULL, *sha = NULL;
            const uint8_t *got;
            size_t len;
            char hex[65], wanthex[65];
            assert_int_equal(edr_stream_mem_new(SIZE_MAX, "m", &mem, &err), EDR_OK);
            assert_int_equal(edr_stream_sha256_new(mem, &sha, &err), EDR_OK);
            assert_null(edr_stream_sha256_digest(sha));
            assert_int_equal(edr_stream_sha256_hex(sha, hex), -1);
            assert_int_equal(tu_feed_finish(sha, buf, sizes[i], tu_splits[sp], 1, &err), EDR_OK);
            assert_memory_equal(edr_stream_sha256_digest(sha), want, EDR_SHA256_LEN);
            assert_int_equal(edr_stream_sha256_hex(sha, hex), 0);
            edr_hex(want, EDR_SHA256_LEN, wanthex);
            assert_string_equal(hex, wanthex);
            got = edr_stream_mem_data(mem, &len);
            assert_int_equal(len, sizes[i]);
            if (len > 0)
                assert_memory_equal(got, buf, len);
            edr_stream_free(sha);
            edr_stream_free(mem);
        }
        free(buf);
    }
}

static void
test_sha256_known(void **state)
{
    struct edr_err err;
    struct edr_stream *sha = NULL;
    char hex[65];
    (void)state;

    assert_int_equal(edr_stream_sha256_new(NULL, &sha, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(sha, "abc", 3, 1, 0, &err), EDR_OK);
    edr_stream_sha256_hex(sha, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    edr_stream_free(sha);
}

static void
test_size(void **state)
{
    struct edr_err err;
    struct edr_stream *sz = NULL, *null = NULL;
    uint64_t counter = 5;
    uint8_t buf[100000];
    (void)state;

    tu_random(buf, sizeof(buf), 3);
    assert_int_equal(edr_stream_null_new(&null, &err), EDR_OK);
    assert_int_equal(edr_stream_size_new(null, &counter, &sz, &err), EDR_OK);
    assert_int_equal(tu_feed(sz, buf, 1000, 7, 0, &err), EDR_OK);
    assert_int_equal(counter, 1005); /* readable while running, adds to what was there */
    assert_int_equal(tu_feed_finish(sz, buf, sizeof(buf), 0, 0, &err), EDR_OK);
    assert_int_equal(counter, 5 + 1000 + sizeof(buf));
    assert_int_equal(edr_stream_size_get(sz), 1000 + sizeof(buf));
    edr_stream_free(sz);
    edr_stream_free(null);

    assert_int_equal(edr_stream_size_new(NULL, NULL, &sz, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(sz, buf, 65537, 65537, 0, &err), EDR_OK);
    assert_int_equal(edr_stream_size_get(sz), 65537);
    edr_stream_free(sz);
}

static void
test_fd(void **state)
{
    char *dir = tu_tmpdir(), path[4200];
    struct edr_err err;
    struct edr_stream *fds = NULL;
    uint8_t *buf = malloc(200000), *back;
    size_t len = 0;
    int fd;
    (void)state;

    tu_random(buf, 200000, 9);
    snprintf(path, sizeof(path), "%s/out", dir);
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(edr_stream_fd_new(fd, path, &fds, &err), EDR_OK);
        assert_int_equal(tu_feed_finish(fds, buf, 200000, tu_splits[sp], 2, &err), EDR_OK);
        edr_stream_free(fds);
        close(fd);
        back = tu_read_file(path, &len);
        assert_non_null(back);
        assert_int_equal(len, 200000);
        assert_memory_equal(back, buf, len);
        free(back);
    }
    free(buf);
    tu_rmrf(dir);
    free(dir);
}

static void
test_fd_enospc(void **state)
{
    struct edr_err err;
    struct edr_stream *fds = NULL;
    char b[10] = {0};
    int fd = open("/dev/full", O_WRONLY);
    (void)state;

    if (fd < 0)
        skip();
    assert_int_equal(edr_stream_fd_new(fd, "/dev/full", &fds, &err), EDR_OK);
    assert_int_equal(edr_stream_write(fds, b, sizeof(b), &err), EDR_E_IO);
    assert_string_equal(err.msg, "unable to write '/dev/full': [28] No space left on device");
    edr_stream_free(fds);
    close(fd);
}

static void
test_fd_bad(void **state)
{
    struct edr_err err;
    struct edr_stream *fds = NULL;
    (void)state;

    assert_int_equal(edr_stream_fd_new(-1, "x.edr", &fds, &err), EDR_OK);
    assert_int_equal(edr_stream_write(fds, "a", 1, &err), EDR_E_IO);
    assert_string_equal(err.msg, "unable to write 'x.edr': [9] Bad file descriptor");
    edr_stream_free(fds);
}

static void
test_mem_limit(void **state)
{
    struct edr_err err;
    struct edr_stream *mem = NULL;
    const uint8_t *d;
    size_t len;
    (void)state;

    assert_int_equal(edr_stream_mem_new(10, "manifest.json", &mem, &err), EDR_OK);
    d = edr_stream_mem_data(mem, &len);
    assert_int_equal(len, 0);
    assert_string_equal((const char *)d, "");
    assert_int_equal(tu_feed(mem, "0123456789", 10, 3, 0, &err), EDR_OK);
    d = edr_stream_mem_data(mem, &len);
    assert_int_equal(len, 10);
    assert_string_equal((const char *)d, "0123456789");
    assert_int_equal(edr_stream_write(mem, "x", 1, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'manifest.json' is larger than 10 bytes");
    edr_stream_free(mem);
    edr_stream_free(NULL);
}

static void
test_tee(void **state)
{
    struct edr_err err;
    struct edr_stream *a = NULL, *b = NULL, *tee = NULL;
    uint8_t buf[70000];
    const uint8_t *d;
    size_t len;
    (void)state;

    tu_random(buf, sizeof(buf), 4);
    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "a", &a, &err), EDR_OK);
    assert_int_equal(edr_stream_sha256_new(NULL, &b, &err), EDR_OK);
    assert_int_equal(edr_stream_tee_new(a, b, &tee, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(tee, buf, sizeof(buf), 0, 5, &err), EDR_OK);
    d = edr_stream_mem_data(a, &len);
    assert_int_equal(len, sizeof(buf));
    assert_memory_equal(d, buf, len);
    assert_non_null(edr_stream_sha256_digest(b)); /* b was finished too */
    edr_stream_free(tee);
    edr_stream_free(a);
    edr_stream_free(b);

    /* an error of the first branch stops the write */
    assert_int_equal(edr_stream_mem_new(3, "small", &a, &err), EDR_OK);
    assert_int_equal(edr_stream_tee_new(a, NULL, &tee, &err), EDR_OK);
    assert_int_equal(edr_stream_write(tee, "abcd", 4, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "'small' is larger than 3 bytes");
    edr_stream_free(tee);
    edr_stream_free(a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_splits), cmocka_unit_test(test_sha256_known),
        cmocka_unit_test(test_size),          cmocka_unit_test(test_fd),
        cmocka_unit_test(test_fd_enospc),     cmocka_unit_test(test_fd_bad),
        cmocka_unit_test(test_mem_limit),     cmocka_unit_test(test_tee),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
