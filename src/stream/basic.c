/*
 * Observers (SHA-256, size) and sinks (fd, memory, null, tee). They are the
 * two ends of every pipeline: the hash and the size of the plaintext and of
 * the stored bytes go into the manifest, and the fd sink writes files.
 */
#include "stream/basic.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fs.h"

static edr_rc
oom(struct edr_err *err)
{
    return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
}

/* ---- sha256 ---- */

struct sha_stream {
    struct edr_stream base;
    struct edr_sha256 h;
    int done;
    uint8_t digest[EDR_SHA256_LEN];
};

static edr_rc
sha_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct sha_stream *st = (struct sha_stream *)s;

    edr_sha256_update(&st->h, buf, len);
    return edr_stream_write(s->next, buf, len, err);
}

static edr_rc
sha_finish(struct edr_stream *s, struct edr_err *err)
{
    struct sha_stream *st = (struct sha_stream *)s;

    if (!st->done) {
        edr_sha256_final(&st->h, st->digest);
        st->done = 1;
    }
    return edr_stream_finish(s->next, err);
}

static void
sha_free(struct edr_stream *s)
{
    struct sha_stream *st = (struct sha_stream *)s;

    edr_sha256_release(&st->h);
    free(st);
}

static const struct edr_stream_ops sha_ops = {"sha256", sha_write, sha_finish, sha_free};

edr_rc
edr_stream_sha256_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err)
{
    struct sha_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return oom(err);
    if (edr_sha256_init(&st->h) != 0) {
        free(st);
        return oom(err);
    }
    st->base.ops = &sha_ops;
    st->base.next = next;
    *out = &st->base;
    return EDR_OK;
}

const uint8_t *
edr_stream_sha256_digest(const struct edr_stream *s)
{
    const struct sha_stream *st = (const struct sha_stream *)s;

    return st->done ? st->digest : NULL;
}

int
edr_stream_sha256_hex(const struct edr_stream *s, char out[2 * EDR_SHA256_LEN + 1])
{
    const uint8_t *d = edr_stream_sha256_digest(s);

    if (d == NULL)
        return -1;
    edr_hex(d, EDR_SHA256_LEN, out);
    return 0;
}

/* ---- size ---- */

struct size_stream {
    struct edr_stream base;
    uint64_t *counter;
    uint64_t n;
};

static edr_rc
size_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct size_stream *st = (struct size_stream *)s;

    st->n += len;
    if (st->counter != NULL)
        *st->counter += len;
    return edr_stream_write(s->next, buf, len, err);
}

static edr_rc
pass_finish(struct edr_stream *s, struct edr_err *err)
{
    return edr_stream_finish(s->next, err);
}

static void
plain_free(struct edr_stream *s)
{
    free(s);
}

static const struct edr_stream_ops size_ops = {"size", size_write, pass_finish, plain_free};

edr_rc
edr_stream_size_new(struct edr_stream *next, uint64_t *counter, struct edr_stream **out,
                    struct edr_err *err)
{
    struct size_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return oom(err);
    st->base.ops = &size_ops;
    st->base.next = next;
    st->counter = counter;
    *out = &st->base;
    return EDR_OK;
}

uint64_t
edr_stream_size_get(const struct edr_stream *s)
{
    return ((const struct size_stream *)s)->n;
}

/* ---- fd sink ---- */

struct fd_stream {
    struct edr_stream base;
    int fd;
    char name[]; /* flexible */
};

static edr_rc
fd_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct fd_stream *st = (struct fd_stream *)s;

    if (edr_fs_write_all(st->fd, buf, len) != 0)
        return edr_err_errno(err, EDR_E_IO, errno, "unable to write '%s'", st->name);
    return EDR_OK;
}

static const struct edr_stream_ops fd_ops = {"fd", fd_write, pass_finish, plain_free};

edr_rc
edr_stream_fd_new(int fd, const char *name, struct edr_stream **out, struct edr_err *err)
{
    size_t n = strlen(name);
    struct fd_stream *st = calloc(1, sizeof(*st) + n + 1);

    *out = NULL;
    if (st == NULL)
        return oom(err);
    st->base.ops = &fd_ops;
    st->fd = fd;
    memcpy(st->name, name, n + 1);
    *out = &st->base;
    return EDR_OK;
}

/* ---- memory sink ---- */

struct mem_stream {
    struct edr_stream base;
    struct edr_buf b;
    size_t max;
    char *name;
};

static edr_rc
mem_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct mem_stream *st = (struct mem_stream *)s;

    if (len > st->max - st->b.len)
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s' is larger than %zu bytes", st->name,
                           st->max);
    if (edr_buf_add(&st->b, buf, len) != 0)
        return oom(err);
    return EDR_OK;
}

static void
mem_free(struct edr_stream *s)
{
    struct mem_stream *st = (struct mem_stream *)s;

    edr_buf_release(&st->b);
    free(st->name);
    free(st);
}

static const struct edr_stream_ops mem_ops = {"memory", mem_write, pass_finish, mem_free};

edr_rc
edr_stream_mem_new(size_t max, const char *name, struct edr_stream **out, struct edr_err *err)
{
    struct mem_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL || (st->name = strdup(name)) == NULL || edr_buf_cstr(&st->b) != 0) {
        if (st != NULL) {
            free(st->name);
            edr_buf_release(&st->b);
        }
        free(st);
        return oom(err);
    }
    st->max = max;
    st->base.ops = &mem_ops;
    *out = &st->base;
    return EDR_OK;
}

const uint8_t *
edr_stream_mem_data(const struct edr_stream *s, size_t *len)
{
    const struct mem_stream *st = (const struct mem_stream *)s;

    if (len != NULL)
        *len = st->b.len;
    return st->b.data;
}

/* ---- null sink ---- */

static edr_rc
null_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    (void)s;
    (void)buf;
    (void)len;
    (void)err;
    return EDR_OK;
}

static const struct edr_stream_ops null_ops = {"null", null_write, pass_finish, plain_free};

edr_rc
edr_stream_null_new(struct edr_stream **out, struct edr_err *err)
{
    struct edr_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return oom(err);
    st->ops = &null_ops;
    *out = st;
    return EDR_OK;
}

/* ---- tee ---- */

struct tee_stream {
    struct edr_stream base;
    struct edr_stream *other;
};

static edr_rc
tee_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct tee_stream *st = (struct tee_stream *)s;
    edr_rc rc = edr_stream_write(s->next, buf, len, err);

    if (rc != EDR_OK)
        return rc;
    return edr_stream_write(st->other, buf, len, err);
}

static edr_rc
tee_finish(struct edr_stream *s, struct edr_err *err)
{
    struct tee_stream *st = (struct tee_stream *)s;
    edr_rc rc = edr_stream_finish(s->next, err);

    if (rc != EDR_OK)
        return rc;
    return edr_stream_finish(st->other, err);
}

static const struct edr_stream_ops tee_ops = {"tee", tee_write, tee_finish, plain_free};

edr_rc
edr_stream_tee_new(struct edr_stream *next, struct edr_stream *other, struct edr_stream **out,
                   struct edr_err *err)
{
    struct tee_stream *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return oom(err);
    st->base.ops = &tee_ops;
    st->base.next = next;
    st->other = other;
    *out = &st->base;
    return EDR_OK;
}
