/*
 * The whole backup pipeline: tar -> zstd -> seal, then open -> zstd -> tar,
 * on random data of awkward sizes, and the decrypted payload read by the
 * `zstd -d | tar x` command line tools.
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
#include "stream/open.h"
#include "stream/seal.h"
#include "stream/tar.h"
#include "stream/zstd.h"
#include "../support.h"

#define CH (EDR_SEAL_CHUNK_KIB * 1024)

static struct edr_identity *id;

static int
setup(void **state)
{
    struct edr_err err;
    uint8_t sk[32];
    (void)state;
    memset(sk, 0x5a, sizeof(sk));
    return edr_identity_from_secret(sk, &id, &err) == EDR_OK ? 0 : -1;
}

static int
teardown(void **state)
{
    (void)state;
    edr_identity_free(id);
    return 0;
}

/* Backup: snapshot.db (data) + manifest.json into a data file. */
static uint8_t *
backup(const uint8_t *data, size_t size, int encrypted, size_t split, uint64_t *plain_hash_size,
       size_t *len)
{
    struct edr_err err;
    struct edr_stream *mem = NULL, *seal = NULL, *zc = NULL, *tar = NULL, *sz = NULL;
    const char *manifest = "{\"format\":1}\n";
    const uint8_t *d;
    uint8_t *copy;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "out", &mem, &err), EDR_OK);
    assert_int_equal(edr_stream_seal_new(mem, edr_identity_pubkey(id), encrypted ? 1 : 0,
                                         encrypted ? EDR_SEAL_FLAG_ENCRYPTED : 0, &seal, &err),
                     EDR_OK);
    assert_int_equal(edr_stream_zstd_compress_new(seal, 3, 2, EDR_ZSTD_SIZE_UNKNOWN, &zc, &err),
                     EDR_OK);
    assert_int_equal(edr_tar_writer_new(zc, &tar, &err), EDR_OK);
    assert_int_equal(edr_stream_size_new(tar, plain_hash_size, &sz, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_begin(tar, "snapshot.db", size, 0600, 1700000000, &err),
                     EDR_OK);
    assert_int_equal(tu_feed(sz, data, size, split, size, &err), EDR_OK);
    assert_int_equal(edr_tar_writer_end(tar, &err), EDR_OK);
    assert_int_equal(
        edr_tar_writer_begin(tar, "manifest.json", strlen(manifest), 0644, 1700000000, &err),
        EDR_OK);
    assert_int_equal(edr_stream_write(tar, manifest, strlen(manifest), &err), EDR_OK);
    assert_int_equal(edr_tar_writer_end(tar, &err), EDR_OK);
    assert_int_equal(edr_stream_finish(tar, &err), EDR_OK);
    d = edr_stream_mem_data(mem, len);
    copy = malloc(*len);
    memcpy(copy, d, *len);
    edr_stream_free(sz);
    edr_stream_free(tar);
    edr_stream_free(zc);
    edr_stream_free(seal);
    edr_stream_free(mem);
    return copy;
}

struct restore {
    struct edr_stream *snap; /* sha256 -> mem */
    struct edr_stream *mem;
    int seen_manifest;
};

static edr_rc
r_begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink, struct edr_err *err)
{
    struct restore *r = ud;
    (void)size;
    if (strcmp(name, "snapshot.db") == 0) {
        assert_int_equal(edr_stream_mem_new(SIZE_MAX, name, &r->mem, err), EDR_OK);
        assert_int_equal(edr_stream_sha256_new(r->mem, &r->snap, err), EDR_OK);
        *sink = r->snap;
    } else {
        r->seen_manifest = 1;
        *sink = NULL;
    }
    return EDR_OK;
}

static void
restore(const uint8_t *file, size_t len, size_t split, const uint8_t *want, size_t want_len)
{
    struct edr_err err;
    struct edr_stream *open = NULL, *zd = NULL, *tar = NULL;
    struct restore r = {0};
    const uint8_t *d;
    uint8_t h[32];
    size_t dlen;

    assert_int_equal(edr_tar_reader_new(r_begin, NULL, &r, &tar, &err), EDR_OK);
    assert_int_equal(edr_stream_zstd_decompress_new(tar, &zd, &err), EDR_OK);
    assert_int_equal(edr_stream_open_new(zd, id, &open, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(open, file, len, split, len, &err), EDR_OK);
    assert_true(r.seen_manifest);
    d = edr_stream_mem_data(r.mem, &dlen);
    assert_int_equal(dlen, want_len);
    if (dlen > 0)
        assert_memory_equal(d, want, dlen);
    edr_sha256_buf(want, want_len, h);
    assert_memory_equal(edr_stream_sha256_digest(r.snap), h, 32);
    edr_stream_free(open);
    edr_stream_free(zd);
    edr_stream_free(tar);
    edr_stream_free(r.snap);
    edr_stream_free(r.mem);
}

static void
test_roundtrip(void **state)
{
    size_t sizes[] = {0, 1, CH, 4 * CH, 2 * CH + 7, 1500000};
    uint8_t *data = malloc(1500000);
    (void)state;

    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        if (i % 2)
            tu_random(data, sizes[i], i);
        else
            tu_text(data, sizes[i], i);
        for (int sp = 0; sp < TU_NSPLITS; sp++) {
            uint64_t plain = 0;
            size_t len;
            uint8_t *f;
            if (sizes[i] > 2 * CH && tu_splits[sp] == 1)
                continue;
            for (int enc = 0; enc < 2; enc++) {
                f = backup(data, sizes[i], enc, tu_splits[sp], &plain, &len);
                restore(f, len, tu_splits[(sp + 1) % TU_NSPLITS], data, sizes[i]);
                free(f);
            }
            assert_int_equal(plain, 2 * sizes[i]);
        }
    }
    free(data);
}

/* Decrypt only (open -> file), then `zstd -d | tar x` with the CLI tools. */
static void
test_cli(void **state)
{
    char *dir = tu_tmpdir(), path[5000], cmd[12000];
    uint8_t *data = malloc(3 * CH), *f, *back;
    size_t sizes[] = {0, 3 * CH, 100001};
    (void)state;

    if (system("zstd --version >/dev/null 2>&1 && tar --version >/dev/null 2>&1") != 0)
        skip();
    tu_random(data, 3 * CH, 11);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        struct edr_err err;
        struct edr_stream *mem = NULL, *open = NULL;
        const uint8_t *d;
        size_t len, dlen, blen;
        uint64_t plain = 0;

        f = backup(data, sizes[i], 1, 0, &plain, &len);
        assert_int_equal(edr_stream_mem_new(SIZE_MAX, "p", &mem, &err), EDR_OK);
        assert_int_equal(edr_stream_open_new(mem, id, &open, &err), EDR_OK);
        assert_int_equal(tu_feed_finish(open, f, len, 7, 0, &err), EDR_OK);
        d = edr_stream_mem_data(mem, &dlen);
        snprintf(path, sizeof(path), "%s/payload.tar.zst", dir);
        assert_int_equal(tu_write_file(path, d, dlen), 0);
        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && rm -rf x && mkdir x && zstd -q -d -c payload.tar.zst | tar -x -C x "
                 "&& test \"$(cat x/manifest.json)\" = '{\"format\":1}'",
                 dir);
        assert_int_equal(system(cmd), 0);
        snprintf(path, sizeof(path), "%s/x/snapshot.db", dir);
        back = tu_read_file(path, &blen);
        assert_non_null(back);
        assert_int_equal(blen, sizes[i]);
        if (blen > 0)
            assert_memory_equal(back, data, blen);
        free(back);
        edr_stream_free(open);
        edr_stream_free(mem);
        free(f);
    }
    free(data);
    tu_rmrf(dir);
    free(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
