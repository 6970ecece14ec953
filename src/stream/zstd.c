/*
 * zstd filters on libzstd's streaming API (ZSTD_compressStream2 and
 * ZSTD_decompressStream). Input is handed to libzstd as it comes, without
 * re-buffering; each filled output buffer is pushed on at once. Unless the
 * size is pledged, the compressor ends a frame every EDR_ZSTD_FRAME_SIZE input
 * bytes (the parallel decompressor is in zstd_mt.c).
 */
#include "stream/zstd.h"

#define EDR_ZSTD_JOB_SIZE (1 << 20)

#include <stdlib.h>
#include <zstd.h>

struct zc_stream {
    struct edr_stream base;
    ZSTD_CCtx *cctx;
    uint8_t *out;
    size_t out_size;
    int framed;      /* a frame per EDR_ZSTD_FRAME_SIZE input bytes */
    size_t in_frame; /* input bytes in the open frame */
    int ended;       /* at least one frame was ended */
};

struct zd_stream {
    struct edr_stream base;
    ZSTD_DCtx *dctx;
    uint8_t *out;
    size_t out_size;
    int in_frame; /* some input of the current frame was consumed */
    int any;      /* at least one frame completed */
};

static edr_rc
zc_run(struct zc_stream *st, const void *buf, size_t len, ZSTD_EndDirective mode,
       struct edr_err *err)
{
    ZSTD_inBuffer in = {buf, len, 0};

    for (;;) {
        ZSTD_outBuffer o = {st->out, st->out_size, 0};
        size_t r = ZSTD_compressStream2(st->cctx, &o, &in, mode);
        edr_rc rc;

        if (ZSTD_isError(r))
            return edr_err_set(err, EDR_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
        if (o.pos > 0 && (rc = edr_stream_write(st->base.next, st->out, o.pos, err)) != EDR_OK)
            return rc;
        if (mode == ZSTD_e_continue ? in.pos == in.size : r == 0)
            return EDR_OK;
    }
}

static edr_rc
zc_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct zc_stream *st = (struct zc_stream *)s;
    const uint8_t *p = buf;
    edr_rc rc;

    if (!st->framed)
        return zc_run(st, buf, len, ZSTD_e_continue, err);
    while (len > 0) {
        size_t n = EDR_ZSTD_FRAME_SIZE - st->in_frame;
        if (n > len)
            n = len;
        if ((rc = zc_run(st, p, n, ZSTD_e_continue, err)) != EDR_OK)
            return rc;
        p += n;
        len -= n;
        st->in_frame += n;
        if (st->in_frame == EDR_ZSTD_FRAME_SIZE) {
            if ((rc = zc_run(st, NULL, 0, ZSTD_e_end, err)) != EDR_OK)
                return rc;
            st->in_frame = 0;
            st->ended = 1;
        }
    }
    return EDR_OK;
}

static edr_rc
zc_finish(struct edr_stream *s, struct edr_err *err)
{
    struct zc_stream *st = (struct zc_stream *)s;
    edr_rc rc;

    /* no empty frame after a full one; an empty stream still gets a frame */
    if ((st->in_frame > 0 || !st->ended) && (rc = zc_run(st, NULL, 0, ZSTD_e_end, err)) != EDR_OK)
        return rc;
    return edr_stream_finish(s->next, err);
}

static void
zc_free(struct edr_stream *s)
{
    struct zc_stream *st = (struct zc_stream *)s;

    if (st == NULL)
        return;
    ZSTD_freeCCtx(st->cctx);
    free(st->out);
    free(st);
}

static const struct edr_stream_ops zc_ops = {"zstd-compress", zc_write, zc_finish, zc_free};

edr_rc
edr_stream_zstd_compress_new(struct edr_stream *next, int level, int threads, uint64_t pledged,
                             struct edr_stream **out, struct edr_err *err)
{
    struct zc_stream *st;
    size_t r;
    edr_rc rc = EDR_OK;

    *out = NULL;
    if (level < ZSTD_minCLevel() || level > ZSTD_maxCLevel() || level == 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid zstd level %d (expected 1..%d)", level,
                           ZSTD_maxCLevel());
    if (threads < 0)
        return edr_err_set(err, EDR_E_USAGE, "invalid number of zstd threads %d", threads);
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &zc_ops;
    st->base.next = next;
    st->out_size = ZSTD_CStreamOutSize();
    st->out = malloc(st->out_size);
    st->cctx = ZSTD_createCCtx();
    st->framed = pledged == EDR_ZSTD_SIZE_UNKNOWN;
    if (st->out == NULL || st->cctx == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    r = ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_compressionLevel, level);
    if (!ZSTD_isError(r))
        r = ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_checksumFlag, 1);
    if (!ZSTD_isError(r) && threads > 0)
        r = ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_nbWorkers, threads);
    /* zstd's default job for multithreading is 4x the window (8 MiB at level
     * 3), buffered per worker: 1 MiB jobs keep memory flat for 1% more output */
    if (!ZSTD_isError(r) && threads > 0)
        r = ZSTD_CCtx_setParameter(st->cctx, ZSTD_c_jobSize, EDR_ZSTD_JOB_SIZE);
    if (!ZSTD_isError(r) && pledged != EDR_ZSTD_SIZE_UNKNOWN)
        r = ZSTD_CCtx_setPledgedSrcSize(st->cctx, pledged);
    if (ZSTD_isError(r)) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(r));
        goto out;
    }
out:
    if (rc != EDR_OK) {
        zc_free(&st->base);
        return rc;
    }
    *out = &st->base;
    return EDR_OK;
}

static edr_rc
zd_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct zd_stream *st = (struct zd_stream *)s;
    ZSTD_inBuffer in = {buf, len, 0};

    /* Loop until all input is consumed and the last call did not fill the
     * output buffer (a full buffer may mean more output is pending). */
    for (;;) {
        ZSTD_outBuffer o = {st->out, st->out_size, 0};
        size_t before = in.pos;
        size_t r = ZSTD_decompressStream(st->dctx, &o, &in);
        edr_rc rc;

        if (ZSTD_isError(r))
            return edr_err_set(err, EDR_E_INTEGRITY, "zstd: %s", ZSTD_getErrorName(r));
        if (r == 0) {
            st->in_frame = 0;
            st->any = 1;
        } else if (in.pos > before || o.pos > 0) {
            st->in_frame = 1;
        }
        if (o.pos > 0 && (rc = edr_stream_write(s->next, st->out, o.pos, err)) != EDR_OK)
            return rc;
        if (in.pos == in.size && o.pos < o.size)
            return EDR_OK;
    }
}

static edr_rc
zd_finish(struct edr_stream *s, struct edr_err *err)
{
    struct zd_stream *st = (struct zd_stream *)s;

    if (st->in_frame || !st->any)
        return edr_err_set(err, EDR_E_INTEGRITY, "zstd: truncated input");
    return edr_stream_finish(s->next, err);
}

static void
zd_free(struct edr_stream *s)
{
    struct zd_stream *st = (struct zd_stream *)s;

    if (st == NULL)
        return;
    ZSTD_freeDCtx(st->dctx);
    free(st->out);
    free(st);
}

static const struct edr_stream_ops zd_ops = {"zstd-decompress", zd_write, zd_finish, zd_free};

edr_rc
edr_stream_zstd_decompress_new(struct edr_stream *next, struct edr_stream **out,
                               struct edr_err *err)
{
    struct zd_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &zd_ops;
    st->base.next = next;
    st->out_size = ZSTD_DStreamOutSize();
    st->out = malloc(st->out_size);
    st->dctx = ZSTD_createDCtx();
    if (st->out == NULL || st->dctx == NULL) {
        zd_free(&st->base);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    *out = &st->base;
    return EDR_OK;
}
