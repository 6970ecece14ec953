/*
 * Thread boundary (see thread.h): a bounded single-producer,
 * single-consumer ring of buffers between two halves of a chain.
 */
#include "stream/thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct thr {
    struct edr_stream base;
    pthread_t th;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint8_t *slot[EDR_STREAM_THREAD_SLOTS];
    size_t len[EDR_STREAM_THREAD_SLOTS];
    unsigned head, count; /* slots ready for the worker: head .. head+count */
    unsigned tail;        /* the producer's slot; only the producer touches it */
    size_t fill;          /* bytes in the producer's slot */
    int finishing, done, stop;
    edr_rc rc; /* the worker's first error, sticky */
    struct edr_err err;
};

static void *
worker(void *arg)
{
    struct thr *t = arg;

    pthread_mutex_lock(&t->mu);
    for (;;) {
        unsigned i;
        size_t n;
        while (t->count == 0 && !t->finishing && !t->stop)
            pthread_cond_wait(&t->cv, &t->mu);
        if (t->stop || (t->count == 0 && t->finishing))
            break;
        i = t->head;
        n = t->len[i];
        if (t->rc == EDR_OK) {
            struct edr_err e;
            edr_rc rc;
            pthread_mutex_unlock(&t->mu);
            rc = edr_stream_write(t->base.next, t->slot[i], n, &e);
            pthread_mutex_lock(&t->mu);
            if (rc != EDR_OK) {
                t->rc = rc;
                t->err = e;
            }
        }
        t->head = (t->head + 1) % EDR_STREAM_THREAD_SLOTS;
        t->count--;
        pthread_cond_broadcast(&t->cv);
    }
    if (!t->stop && t->rc == EDR_OK) {
        struct edr_err e;
        edr_rc rc;
        pthread_mutex_unlock(&t->mu);
        rc = edr_stream_finish(t->base.next, &e);
        pthread_mutex_lock(&t->mu);
        if (rc != EDR_OK) {
            t->rc = rc;
            t->err = e;
        }
    }
    t->done = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Hand the producer's slot to the worker, waiting for room. Called locked. */
static void
commit_locked(struct thr *t)
{
    t->len[t->tail] = t->fill;
    t->tail = (t->tail + 1) % EDR_STREAM_THREAD_SLOTS;
    t->count++;
    t->fill = 0;
    pthread_cond_broadcast(&t->cv);
    while (t->count == EDR_STREAM_THREAD_SLOTS)
        pthread_cond_wait(&t->cv, &t->mu);
}

static edr_rc
thr_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct thr *t = (struct thr *)s;
    const uint8_t *p = buf;

    while (len > 0) {
        size_t n = EDR_STREAM_THREAD_SLOT - t->fill;
        if (n > len)
            n = len;
        /* the producer's slot is never one the worker reads (count < SLOTS) */
        memcpy(t->slot[t->tail] + t->fill, p, n);
        t->fill += n;
        p += n;
        len -= n;
        if (t->fill == EDR_STREAM_THREAD_SLOT) {
            edr_rc rc;
            pthread_mutex_lock(&t->mu);
            commit_locked(t);
            rc = t->rc;
            if (rc != EDR_OK)
                *err = t->err;
            pthread_mutex_unlock(&t->mu);
            if (rc != EDR_OK)
                return rc;
        }
    }
    return EDR_OK;
}

static edr_rc
thr_finish(struct edr_stream *s, struct edr_err *err)
{
    struct thr *t = (struct thr *)s;

    pthread_mutex_lock(&t->mu);
    if (t->fill > 0)
        commit_locked(t);
    t->finishing = 1;
    pthread_cond_broadcast(&t->cv);
    while (!t->done)
        pthread_cond_wait(&t->cv, &t->mu);
    pthread_mutex_unlock(&t->mu);
    if (t->rc != EDR_OK) {
        *err = t->err;
        return t->rc;
    }
    return EDR_OK;
}

static void
thr_free(struct edr_stream *s)
{
    struct thr *t = (struct thr *)s;

    if (t == NULL)
        return;
    if (t->started) {
        pthread_mutex_lock(&t->mu);
        t->stop = 1;
        pthread_cond_broadcast(&t->cv);
        pthread_mutex_unlock(&t->mu);
        pthread_join(t->th, NULL);
        pthread_cond_destroy(&t->cv);
        pthread_mutex_destroy(&t->mu);
    }
    for (unsigned i = 0; i < EDR_STREAM_THREAD_SLOTS; i++)
        free(t->slot[i]);
    free(t);
}

static const struct edr_stream_ops thr_ops = {"thread", thr_write, thr_finish, thr_free};

edr_rc
edr_stream_thread_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err)
{
    struct thr *t = calloc(1, sizeof(*t));

    *out = NULL;
    if (t == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    t->base.ops = &thr_ops;
    t->base.next = next;
    for (unsigned i = 0; i < EDR_STREAM_THREAD_SLOTS; i++) {
        if ((t->slot[i] = malloc(EDR_STREAM_THREAD_SLOT)) == NULL) {
            thr_free(&t->base);
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        }
    }
    if (pthread_mutex_init(&t->mu, NULL) != 0 || pthread_cond_init(&t->cv, NULL) != 0 ||
        pthread_create(&t->th, NULL, worker, t) != 0) {
        free(t->slot[0]);
        t->slot[0] = NULL;
        thr_free(&t->base);
        return edr_err_set(err, EDR_E_INTERNAL, "unable to start a stream thread");
    }
    t->started = 1;
    *out = &t->base;
    return EDR_OK;
}
