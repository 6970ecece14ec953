/*
 * libFuzzer target for the data file reader: open (with a fixed identity)
 * -> zstd decompress -> tar reader, hashing each entry. The first input byte
 * picks the write size, so header and chunk parsing see every split, and the
 * decompressor (sequential, or parallel with 1 or 2 workers: byte / 6 % 3). Corpus
 * files are encrypted to the identity below (secret key: 32 bytes of 0x42).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/keys.h"
#include "stream/basic.h"
#include "stream/open.h"
#include "stream/tar.h"
#include "stream/zstd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
    struct edr_stream *sink;
};

static edr_rc
begin(void *ud, const char *name, uint64_t size, struct edr_stream **sink, struct edr_err *err)
{
    struct ctx *c = ud;

    (void)name;
    (void)size;
    edr_stream_free(c->sink);
    c->sink = NULL;
    if (edr_stream_sha256_new(NULL, &c->sink, err) != EDR_OK)
        return err->code;
    *sink = c->sink;
    return EDR_OK;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct edr_identity *id;
    static const size_t splits[] = {1, 7, 512, 4096, 65553, 1 << 20};
    struct edr_stream *open = NULL, *zd = NULL, *tar = NULL;
    struct ctx c = {NULL};
    struct edr_err err;
    size_t split;
    int workers;

    if (id == NULL) {
        uint8_t sk[EDR_KEY_LEN];
        memset(sk, 0x42, sizeof(sk));
        if (edr_identity_from_secret(sk, &id, &err) != EDR_OK)
            abort();
    }
    if (size < 1)
        return 0;
    split = splits[data[0] % (sizeof(splits) / sizeof(splits[0]))];
    /* the same byte picks the sequential or the parallel decompressor */
    workers = (data[0] / 6) % 3; /* 0 = sequential */
    data++;
    size--;
    if (edr_tar_reader_new(begin, NULL, &c, &tar, &err) != EDR_OK ||
        (workers == 0 ? edr_stream_zstd_decompress_new(tar, &zd, &err)
                      : edr_stream_zstd_decompress_mt_new(tar, workers, &zd, &err)) != EDR_OK ||
        edr_stream_open_new(zd, id, &open, &err) != EDR_OK)
        abort();
    for (size_t off = 0; off < size; off += split) {
        size_t n = size - off < split ? size - off : split;
        if (edr_stream_write(open, data + off, n, &err) != EDR_OK)
            goto out;
    }
    edr_stream_finish(open, &err);
out:
    edr_stream_free(open);
    edr_stream_free(zd);
    edr_stream_free(tar);
    edr_stream_free(c.sink);
    return 0;
}
