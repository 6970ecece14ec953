/*
 * Backend selection from a repository URL and small-object helpers shared by
 * every backend.
 */
#include "storage/storage.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

edr_rc
edr_storage_open(const char *url, const struct edr_storage_opts *opts, int create,
                 struct edr_storage **out, struct edr_err *err)
{
    edr_rc rc;

    *out = NULL;
    if (url == NULL || *url == '\0')
        return edr_err_set(err, EDR_E_USAGE, "no repository given (--repo)");
    if (strncmp(url, "s3://", 5) == 0)
        rc = edr_storage_s3_open(url, opts, out, err);
    else if (strstr(url, "://") != NULL)
        return edr_err_set(err, EDR_E_USAGE, "unsupported repository URL '%s'", url);
    else
        rc = edr_storage_local_open(url, create, out, err);
    if (rc == EDR_OK && opts != NULL)
        (*out)->interrupted = opts->interrupted;
    return rc;
}

int
edr_storage_interrupted(const struct edr_storage *st)
{
    return st->interrupted != NULL && st->interrupted();
}

void
edr_storage_free(struct edr_storage *st)
{
    if (st != NULL)
        st->ops->free(st);
}

edr_rc
edr_storage_put_buf(struct edr_storage *st, const char *name, const void *buf, size_t len,
                    struct edr_err *err)
{
    struct edr_stream *w = NULL;
    edr_rc rc;

    rc = st->ops->put_open(st, name, len, &w, err);
    if (rc != EDR_OK)
        return rc;
    rc = edr_stream_write(w, buf, len, err);
    if (rc == EDR_OK)
        rc = edr_stream_finish(w, err);
    edr_stream_free(w);
    return rc;
}

/* A sink collecting at most `max` bytes in memory. */
struct memsink {
    struct edr_stream base;
    struct edr_buf b;
    size_t max;
    const char *name;
};

static edr_rc
memsink_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct memsink *m = (struct memsink *)s;

    if (len > m->max - m->b.len)
        return edr_err_set(err, EDR_E_INTEGRITY, "object '%s' is larger than %zu bytes", m->name,
                           m->max);
    if (edr_buf_add(&m->b, buf, len) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    return EDR_OK;
}

static edr_rc
memsink_finish(struct edr_stream *s, struct edr_err *err)
{
    (void)s;
    (void)err;
    return EDR_OK;
}

static void
memsink_free(struct edr_stream *s)
{
    (void)s;
}

static const struct edr_stream_ops memsink_ops = {"memory", memsink_write, memsink_finish,
                                                  memsink_free};

edr_rc
edr_storage_get_buf(struct edr_storage *st, const char *name, size_t max, char **out,
                    size_t *outlen, struct edr_err *err)
{
    struct memsink m = {{&memsink_ops, NULL}, {0}, max, name};
    edr_rc rc;

    *out = NULL;
    rc = st->ops->get(st, name, 0, &m.base, err);
    if (rc == EDR_OK && edr_buf_cstr(&m.b) != 0)
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (rc != EDR_OK) {
        edr_buf_release(&m.b);
        return rc;
    }
    *out = (char *)m.b.data;
    if (outlen != NULL)
        *outlen = m.b.len;
    return EDR_OK;
}
