/*
 * Push-style byte streams. A stream receives bytes with write() and is told
 * the input is complete with finish(). Transform filters (compress, seal,
 * tar) push their output into `next`; observers (hash, size) look at the
 * bytes and pass them on unchanged, or end the chain when next is NULL.
 *
 * Ownership: a filter never owns `next`; whoever builds a chain frees every
 * element (edr_stream_free accepts NULL). finish() of a filter finishes its
 * own output and then calls edr_stream_finish(next). After an error the chain
 * must only be freed. Not thread-safe: one chain is used by one thread.
 */
#ifndef EDR_STREAM_STREAM_H
#define EDR_STREAM_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct edr_stream;

struct edr_stream_ops {
    const char *name;
    edr_rc (*write)(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err);
    edr_rc (*finish)(struct edr_stream *s, struct edr_err *err);
    void (*free)(struct edr_stream *s);
};

struct edr_stream {
    const struct edr_stream_ops *ops;
    struct edr_stream *next;
};

static inline edr_rc
edr_stream_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    if (s == NULL || len == 0)
        return EDR_OK;
    return s->ops->write(s, buf, len, err);
}

static inline edr_rc
edr_stream_finish(struct edr_stream *s, struct edr_err *err)
{
    if (s == NULL)
        return EDR_OK;
    return s->ops->finish(s, err);
}

static inline void
edr_stream_free(struct edr_stream *s)
{
    if (s != NULL)
        s->ops->free(s);
}

#endif
