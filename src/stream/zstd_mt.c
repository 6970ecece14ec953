/*
 * Parallel zstd decompression (see zstd.h).
 *
 * The producer (the caller's thread) cuts the input at frame boundaries:
 * ZSTD_findFrameCompressedSize on the bytes buffered so far only walks block
 * headers, so a frame is known complete as soon as its last byte arrives.
 * Whole frames wait in a short queue for a pool of workers. A worker
 * decompresses its frame into pieces that it appends to a slot; an output
 * thread pushes the pieces into `next` slot by slot in frame order. Workers
 * never wait for each other: only when the pieces held for frames whose turn
 * has not come exceed ZMT_HOLD does a worker pause. A frame still incomplete
 * after ZMT_FRAME_MAX buffered bytes (a stream written as one big frame, as
 * etcd-dr 0.1 wrote them) sends the rest of the stream through the
 * sequential filter in the caller's thread, once everything before it is out.
 */
#include "stream/zstd.h"
#include "stream/thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#define ZMT_FRAME_MAX (16u << 20)    /* compressed bytes buffered for one frame */
#define ZMT_HOLD (8u << 20)          /* output held for frames whose turn has not come */
#define ZMT_PIECE (256u << 10)       /* output piece */
#define ZMT_FLAT EDR_ZSTD_FRAME_SIZE /* a whole frame's output, decompressed in one call */
#define ZMT_FLAT_SPARE 8
#define ZMT_QUEUE 2 /* whole frames waiting for a worker */
#define ZMT_MAX_WORKERS 8
#define ZMT_SLOTS (2 * ZMT_MAX_WORKERS)
#define ZMT_SPARE 72 /* pieces kept for reuse: ZMT_HOLD plus what is in flight */

struct job {
    uint8_t *p;
    size_t len;
    uint64_t seq;
};

struct piece {
    struct piece *next;
    size_t len, cap;
    uint8_t data[];
};

/* One frame's output on its way out. */
struct slot {
    int used, done;
    uint64_t seq;
    struct piece *head, *tail;
    edr_rc rc; /* the frame's error, reported when its turn comes */
    struct edr_err err;
};

struct zmt {
    struct edr_stream base;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t th[ZMT_MAX_WORKERS], out_th;
    int nth, out_started;
    /* the producer's side: the frame being assembled */
    uint8_t *cur;
    size_t cur_len, cur_cap;
    struct edr_stream *seq;     /* the sequential filter, once switched to it */
    struct edr_stream *seq_thr; /* its output's thread boundary */
    /* shared, under mu */
    struct job q[ZMT_QUEUE];
    unsigned qhead, qcount;
    struct slot slot[ZMT_SLOTS];
    unsigned nslots;
    size_t held;         /* bytes in pieces */
    struct piece *spare; /* pieces to reuse (no page faults for each new one) */
    unsigned nspare;
    struct piece *flat_spare; /* the same for whole-frame pieces */
    unsigned nflat_spare;
    uint64_t submitted; /* frames handed out so far (the next frame's seq) */
    uint64_t turn;      /* the frame whose output goes into `next` now */
    int stop;
    edr_rc rc; /* the first error, in frame order, or of `next`; sticky */
    struct edr_err err;
};

static void
fail_locked(struct zmt *z, edr_rc rc, const struct edr_err *e)
{
    if (z->rc == EDR_OK) {
        z->rc = rc;
        z->err = *e;
    }
}

static void
free_pieces(struct slot *sl)
{
    while (sl->head != NULL) {
        struct piece *p = sl->head;
        sl->head = p->next;
        free(p);
    }
    sl->tail = NULL;
}

/* Appends a piece to the worker's slot; waits while too much is held for
 * frames that are not next. Returns 0, or -1 when the work is to stop. */
static int
emit(struct zmt *z, struct slot *sl, struct piece *p)
{
    int stop;

    pthread_mutex_lock(&z->mu);
    p->next = NULL;
    if (sl->tail != NULL)
        sl->tail->next = p;
    else
        sl->head = p;
    sl->tail = p;
    z->held += p->len;
    pthread_cond_broadcast(&z->cv);
    while (z->held > ZMT_HOLD && sl->seq != z->turn && !z->stop && z->rc == EDR_OK)
        pthread_cond_wait(&z->cv, &z->mu);
    stop = z->stop || z->rc != EDR_OK;
    pthread_mutex_unlock(&z->mu);
    return stop ? -1 : 0;
}

/* A piece of ZMT_PIECE bytes, or with `flat` of ZMT_FLAT. */
static struct piece *
get_piece(struct zmt *z, int flat)
{
    struct piece **list = flat ? &z->flat_spare : &z->spare, *p;
    size_t cap = flat ? ZMT_FLAT : ZMT_PIECE;

    pthread_mutex_lock(&z->mu);
    p = *list;
    if (p != NULL) {
        *list = p->next;
        if (flat)
            z->nflat_spare--;
        else
            z->nspare--;
    }
    pthread_mutex_unlock(&z->mu);
    if (p == NULL && (p = malloc(sizeof(*p) + cap)) != NULL)
        p->cap = cap;
    return p;
}

/* Keeps p for reuse, or frees it; under mu. */
static void
put_piece_locked(struct zmt *z, struct piece *p)
{
    if (p->cap == ZMT_PIECE && z->nspare < ZMT_SPARE) {
        p->next = z->spare;
        z->spare = p;
        z->nspare++;
    } else if (p->cap == ZMT_FLAT && z->nflat_spare < ZMT_FLAT_SPARE) {
        p->next = z->flat_spare;
        z->flat_spare = p;
        z->nflat_spare++;
    } else {
        free(p);
    }
}

/* The frame in one call into one piece: no copy through zstd's window. 1
 * when done, 0 when the frame is to go through the streaming path (its
 * output is larger than ZMT_FLAT, or it is damaged: that path says how). */
static int
run_flat(struct zmt *z, ZSTD_DCtx *d, const struct job *j, struct slot *sl, edr_rc *rc)
{
    unsigned long long size = ZSTD_getFrameContentSize(j->p, j->len);
    struct piece *p;
    size_t r;

    if (size != ZSTD_CONTENTSIZE_UNKNOWN && size > ZMT_FLAT)
        return 0;
    *rc = EDR_OK;
    if ((p = get_piece(z, 1)) == NULL)
        return 0;
    r = ZSTD_decompressDCtx(d, p->data, p->cap, j->p, j->len);
    if (ZSTD_isError(r) || r == 0) {
        pthread_mutex_lock(&z->mu);
        put_piece_locked(z, p);
        pthread_mutex_unlock(&z->mu);
        return ZSTD_isError(r) ? 0 : 1;
    }
    p->len = r;
    *rc = emit(z, sl, p) != 0 ? EDR_E_INTERRUPTED : EDR_OK;
    return 1;
}

/* Decompresses one whole frame into pieces of its slot. */
static edr_rc
run_job(struct zmt *z, ZSTD_DCtx *d, const struct job *j, struct slot *sl, struct edr_err *e)
{
    ZSTD_inBuffer in = {j->p, j->len, 0};
    edr_rc rc = EDR_OK;

    if (run_flat(z, d, j, sl, &rc))
        return rc;
    ZSTD_DCtx_reset(d, ZSTD_reset_session_only);
    for (;;) {
        struct piece *p = get_piece(z, 0);
        ZSTD_outBuffer o;
        size_t r;

        if (p == NULL)
            return edr_err_set(e, EDR_E_INTERNAL, "out of memory");
        o = (ZSTD_outBuffer){p->data, p->cap, 0};
        r = ZSTD_decompressStream(d, &o, &in);
        if (ZSTD_isError(r)) {
            free(p); /* no lock taken on error paths */
            return edr_err_set(e, EDR_E_INTEGRITY, "zstd: %s", ZSTD_getErrorName(r));
        }
        if (r != 0 && in.pos == in.size && o.pos < o.size) {
            free(p);
            return edr_err_set(e, EDR_E_INTEGRITY, "zstd: truncated input");
        }
        p->len = o.pos;
        if (o.pos == 0)
            free(p);
        else if (emit(z, sl, p) != 0)
            return EDR_E_INTERRUPTED; /* stopping, or an earlier failure */
        if (r == 0)
            return EDR_OK;
    }
}

static void *
worker(void *arg)
{
    struct zmt *z = arg;
    ZSTD_DCtx *d = ZSTD_createDCtx();

    pthread_mutex_lock(&z->mu);
    for (;;) {
        struct slot *sl = NULL;
        struct job j;
        struct edr_err e = {EDR_OK, "", ""};
        edr_rc rc = EDR_OK;
        unsigned i;
        int failed;

        for (;;) {
            if (z->stop)
                goto out;
            for (i = 0; i < z->nslots && z->slot[i].used; i++)
                ;
            if (z->qcount > 0 && i < z->nslots)
                break;
            pthread_cond_wait(&z->cv, &z->mu);
        }
        j = z->q[z->qhead];
        z->qhead = (z->qhead + 1) % ZMT_QUEUE;
        z->qcount--;
        sl = &z->slot[i];
        *sl = (struct slot){1, 0, j.seq, NULL, NULL, EDR_OK, {0, "", ""}};
        failed = z->rc != EDR_OK; /* then the frame is dropped unread */
        pthread_cond_broadcast(&z->cv);
        pthread_mutex_unlock(&z->mu);
        if (d == NULL)
            rc = edr_err_set(&e, EDR_E_INTERNAL, "out of memory");
        else if (!failed)
            rc = run_job(z, d, &j, sl, &e);
        free(j.p);
        pthread_mutex_lock(&z->mu);
        sl->done = 1;
        if (rc != EDR_OK) {
            sl->rc = rc;
            sl->err = e;
        }
        pthread_cond_broadcast(&z->cv);
    }
out:
    pthread_mutex_unlock(&z->mu);
    ZSTD_freeDCtx(d);
    return NULL;
}

/* The output thread: pushes the slots' pieces into `next` in frame order. */
static void *
output(void *arg)
{
    struct zmt *z = arg;

    pthread_mutex_lock(&z->mu);
    while (!z->stop) {
        struct slot *sl = NULL;
        unsigned i;

        for (i = 0; i < z->nslots; i++)
            if (z->slot[i].used && z->slot[i].seq == z->turn)
                sl = &z->slot[i];
        if (sl != NULL && sl->head != NULL) {
            struct piece *p = sl->head;
            struct edr_err e;
            edr_rc rc = EDR_OK;

            sl->head = p->next;
            if (sl->head == NULL)
                sl->tail = NULL;
            pthread_mutex_unlock(&z->mu);
            if (z->rc == EDR_OK) /* only this thread sets it */
                rc = edr_stream_write(z->base.next, p->data, p->len, &e);
            pthread_mutex_lock(&z->mu);
            z->held -= p->len;
            put_piece_locked(z, p);
            if (rc != EDR_OK)
                fail_locked(z, rc, &e);
            pthread_cond_broadcast(&z->cv);
        } else if (sl != NULL && sl->done) {
            if (sl->rc != EDR_OK && sl->rc != EDR_E_INTERRUPTED)
                fail_locked(z, sl->rc, &sl->err);
            sl->used = 0;
            z->turn++;
            pthread_cond_broadcast(&z->cv);
        } else {
            pthread_cond_wait(&z->cv, &z->mu);
        }
    }
    pthread_mutex_unlock(&z->mu);
    return NULL;
}

/* Hands the first `len` bytes of cur to the workers (waiting for room in
 * the queue) and keeps the rest as the start of the next frame. */
static edr_rc
submit(struct zmt *z, size_t len, struct edr_err *err)
{
    /* room for a frame like this one, so that cur rarely grows */
    size_t rest = z->cur_len - len, cap = len + len / 4 > rest ? len + len / 4 : rest;
    uint8_t *next = malloc(cap);
    edr_rc rc;

    if (next == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    memcpy(next, z->cur + len, rest);
    pthread_mutex_lock(&z->mu);
    while (z->qcount == ZMT_QUEUE && z->rc == EDR_OK)
        pthread_cond_wait(&z->cv, &z->mu);
    rc = z->rc;
    if (rc == EDR_OK) {
        z->q[(z->qhead + z->qcount) % ZMT_QUEUE] = (struct job){z->cur, len, z->submitted++};
        z->qcount++;
        pthread_cond_broadcast(&z->cv);
    } else {
        *err = z->err;
        free(z->cur);
    }
    pthread_mutex_unlock(&z->mu);
    z->cur = next;
    z->cur_len = rest;
    z->cur_cap = cap;
    return rc;
}

/* The sticky error (copied into err), or EDR_OK. */
static edr_rc
sticky(struct zmt *z, struct edr_err *err)
{
    edr_rc rc;

    pthread_mutex_lock(&z->mu);
    rc = z->rc;
    if (rc != EDR_OK)
        *err = z->err;
    pthread_mutex_unlock(&z->mu);
    return rc;
}

/* Waits until every frame handed out has been pushed on; the sticky error. */
static edr_rc
drain(struct zmt *z, struct edr_err *err)
{
    pthread_mutex_lock(&z->mu);
    while (z->turn < z->submitted && z->rc == EDR_OK)
        pthread_cond_wait(&z->cv, &z->mu);
    pthread_mutex_unlock(&z->mu);
    return sticky(z, err);
}

/* A frame too large to buffer: the rest goes through the sequential filter,
 * whose output still leaves from another thread (so that decryption and
 * decompression share this one, and the consumer has the other core). */
static edr_rc
go_sequential(struct zmt *z, struct edr_err *err)
{
    edr_rc rc;

    if ((rc = drain(z, err)) != EDR_OK)
        return rc;
    if ((rc = edr_stream_thread_new(z->base.next, &z->seq_thr, err)) != EDR_OK ||
        (rc = edr_stream_zstd_decompress_new(z->seq_thr, &z->seq, err)) != EDR_OK)
        return rc;
    rc = edr_stream_write(z->seq, z->cur, z->cur_len, err);
    z->cur_len = 0;
    return rc;
}

static edr_rc
zmt_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct zmt *z = (struct zmt *)s;
    edr_rc rc;

    if (z->seq != NULL)
        return edr_stream_write(z->seq, buf, len, err);
    if (z->cur_cap - z->cur_len < len) {
        size_t cap = z->cur_cap * 2 > z->cur_len + len ? z->cur_cap * 2 : z->cur_len + len;
        uint8_t *p = realloc(z->cur, cap);
        if (p == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        z->cur = p;
        z->cur_cap = cap;
    }
    memcpy(z->cur + z->cur_len, buf, len);
    z->cur_len += len;
    while (z->cur_len > 0) {
        size_t n = ZSTD_findFrameCompressedSize(z->cur, z->cur_len);
        if (!ZSTD_isError(n)) {
            if ((rc = submit(z, n, err)) != EDR_OK)
                return rc;
            continue;
        }
        if (ZSTD_getErrorCode(n) != ZSTD_error_srcSize_wrong)
            return edr_err_set(err, EDR_E_INTEGRITY, "zstd: %s", ZSTD_getErrorName(n));
        if (z->cur_len > ZMT_FRAME_MAX)
            return go_sequential(z, err);
        break;
    }
    return sticky(z, err);
}

static edr_rc
zmt_finish(struct edr_stream *s, struct edr_err *err)
{
    struct zmt *z = (struct zmt *)s;
    edr_rc rc;

    if (z->seq != NULL)
        return edr_stream_finish(z->seq, err);
    if ((rc = drain(z, err)) != EDR_OK)
        return rc;
    if (z->cur_len > 0 || z->submitted == 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "zstd: truncated input");
    return edr_stream_finish(s->next, err);
}

static void
zmt_free(struct edr_stream *s)
{
    struct zmt *z = (struct zmt *)s;
    unsigned i;
    int t;

    if (z == NULL)
        return;
    pthread_mutex_lock(&z->mu);
    z->stop = 1;
    pthread_cond_broadcast(&z->cv);
    pthread_mutex_unlock(&z->mu);
    for (t = 0; t < z->nth; t++)
        pthread_join(z->th[t], NULL);
    if (z->out_started)
        pthread_join(z->out_th, NULL);
    while (z->qcount > 0) {
        free(z->q[z->qhead].p);
        z->qhead = (z->qhead + 1) % ZMT_QUEUE;
        z->qcount--;
    }
    for (i = 0; i < z->nslots; i++)
        free_pieces(&z->slot[i]);
    while (z->spare != NULL) {
        struct piece *p = z->spare;
        z->spare = p->next;
        free(p);
    }
    while (z->flat_spare != NULL) {
        struct piece *p = z->flat_spare;
        z->flat_spare = p->next;
        free(p);
    }
    edr_stream_free(z->seq);
    edr_stream_free(z->seq_thr);
    free(z->cur);
    pthread_cond_destroy(&z->cv);
    pthread_mutex_destroy(&z->mu);
    free(z);
}

static const struct edr_stream_ops zmt_ops = {"zstd-decompress-mt", zmt_write, zmt_finish,
                                              zmt_free};

edr_rc
edr_stream_zstd_decompress_mt_new(struct edr_stream *next, int workers, struct edr_stream **out,
                                  struct edr_err *err)
{
    struct zmt *z;

    *out = NULL;
    if (workers < 1 || workers > ZMT_MAX_WORKERS)
        return edr_err_set(err, EDR_E_USAGE, "invalid number of zstd workers %d", workers);
    z = calloc(1, sizeof(*z));
    if (z == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    z->base.ops = &zmt_ops;
    z->base.next = next;
    z->nslots = 2 * (unsigned)workers;
    pthread_mutex_init(&z->mu, NULL);
    pthread_cond_init(&z->cv, NULL);
    z->cur_cap = 1u << 20;
    z->cur = malloc(z->cur_cap);
    if (z->cur == NULL) {
        zmt_free(&z->base);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    if (pthread_create(&z->out_th, NULL, output, z) != 0) {
        zmt_free(&z->base);
        return edr_err_set(err, EDR_E_INTERNAL, "unable to start a zstd output thread");
    }
    z->out_started = 1;
    for (z->nth = 0; z->nth < workers; z->nth++) {
        if (pthread_create(&z->th[z->nth], NULL, worker, z) != 0) {
            zmt_free(&z->base);
            return edr_err_set(err, EDR_E_INTERNAL, "unable to start a zstd worker thread");
        }
    }
    *out = &z->base;
    return EDR_OK;
}
