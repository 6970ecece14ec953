/*
 * tar writer and reader. The writer lets libarchive produce the headers
 * (pax_restricted: plain ustar unless a name or size needs a pax header) and
 * pushes its output, unblocked, into the next stream. The reader is our own
 * state machine because the chain is push-style while libarchive reads by
 * pulling; it understands what the writer and the common tar programs emit:
 * ustar, pax 'x'/'g' headers (path, size) and GNU 'L' long names.
 */
#include "stream/tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512
/* Extended headers and long names larger than this are refused. */
#define EXT_MAX (1024 * 1024)

/* ---- writer ---- */

struct tar_writer {
    struct edr_stream base;
    struct archive *a;
    struct edr_err cb_err; /* error of next, seen inside libarchive's callback */
    int cb_failed;
    int in_entry;
    char *name;
    uint64_t size, written;
};

static la_ssize_t
tw_cb_write(struct archive *a, void *ud, const void *buf, size_t len)
{
    struct tar_writer *st = ud;

    if (edr_stream_write(st->base.next, buf, len, &st->cb_err) != EDR_OK) {
        st->cb_failed = 1;
        archive_set_error(a, EIO, "%s", st->cb_err.msg);
        return -1;
    }
    return (la_ssize_t)len;
}

/* Translate a libarchive failure into err. */
static edr_rc
tw_fail(struct tar_writer *st, const char *what, struct edr_err *err)
{
    if (st->cb_failed) {
        if (err != NULL)
            *err = st->cb_err;
        return st->cb_err.code;
    }
    return edr_err_set(err, EDR_E_INTERNAL, "tar: %s: %s", what,
                       archive_error_string(st->a) ? archive_error_string(st->a) : "failed");
}

static edr_rc
tw_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct tar_writer *st = (struct tar_writer *)s;
    la_ssize_t w;

    if (!st->in_entry)
        return edr_err_set(err, EDR_E_INTERNAL, "tar: data written outside an entry");
    if (len > st->size - st->written)
        return edr_err_set(err, EDR_E_INTERNAL,
                           "tar: entry '%s' is longer than its declared "
                           "%llu bytes",
                           st->name, (unsigned long long)st->size);
    w = archive_write_data(st->a, buf, len);
    if (w < 0 || (size_t)w != len)
        return tw_fail(st, "unable to write entry data", err);
    st->written += len;
    return EDR_OK;
}

edr_rc
edr_tar_writer_begin(struct edr_stream *s, const char *name, uint64_t size, mode_t mode,
                     time_t mtime, struct edr_err *err)
{
    struct tar_writer *st = (struct tar_writer *)s;
    struct archive_entry *e;
    edr_rc rc = EDR_OK;

    if (st->in_entry)
        return edr_err_set(err, EDR_E_INTERNAL, "tar: entry '%s' not ended", st->name);
    if (size > INT64_MAX)
        return edr_err_set(err, EDR_E_INTERNAL, "tar: entry '%s' is too large", name);
    free(st->name);
    st->name = strdup(name);
    e = archive_entry_new();
    if (st->name == NULL || e == NULL) {
        archive_entry_free(e);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, mode & 07777);
    archive_entry_set_size(e, (la_int64_t)size);
    archive_entry_set_mtime(e, mtime, 0);
    if (archive_write_header(st->a, e) != ARCHIVE_OK)
        rc = tw_fail(st, "unable to write header", err);
    archive_entry_free(e);
    if (rc == EDR_OK) {
        st->in_entry = 1;
        st->size = size;
        st->written = 0;
    }
    return rc;
}

edr_rc
edr_tar_writer_end(struct edr_stream *s, struct edr_err *err)
{
    struct tar_writer *st = (struct tar_writer *)s;

    if (!st->in_entry)
        return edr_err_set(err, EDR_E_INTERNAL, "tar: no entry to end");
    if (st->written != st->size)
        return edr_err_set(err, EDR_E_INTEGRITY, "tar: entry '%s' ended after %llu of %llu bytes",
                           st->name, (unsigned long long)st->written, (unsigned long long)st->size);
    st->in_entry = 0;
    if (archive_write_finish_entry(st->a) != ARCHIVE_OK)
        return tw_fail(st, "unable to end entry", err);
    return EDR_OK;
}

static edr_rc
tw_finish(struct edr_stream *s, struct edr_err *err)
{
    struct tar_writer *st = (struct tar_writer *)s;

    if (st->in_entry)
        return edr_err_set(err, EDR_E_INTERNAL, "tar: entry '%s' not ended", st->name);
    if (archive_write_close(st->a) != ARCHIVE_OK)
        return tw_fail(st, "unable to end the archive", err);
    return edr_stream_finish(s->next, err);
}

static void
tw_free(struct edr_stream *s)
{
    struct tar_writer *st = (struct tar_writer *)s;

    if (st == NULL)
        return;
    if (st->a != NULL) {
        /* do not let libarchive write end-of-archive blocks into next from
         * a free after a failure */
        st->base.next = NULL;
        archive_write_free(st->a);
    }
    free(st->name);
    free(st);
}

static const struct edr_stream_ops tw_ops = {"tar-writer", tw_write, tw_finish, tw_free};

edr_rc
edr_tar_writer_new(struct edr_stream *next, struct edr_stream **out, struct edr_err *err)
{
    struct tar_writer *st = calloc(1, sizeof(*st));
    edr_rc rc = EDR_OK;

    *out = NULL;
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &tw_ops;
    st->base.next = next;
    st->a = archive_write_new();
    if (st->a == NULL) {
        free(st);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    if (archive_write_set_format_pax_restricted(st->a) != ARCHIVE_OK ||
        archive_write_add_filter_none(st->a) != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(st->a, 0) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(st->a, 1) != ARCHIVE_OK ||
        archive_write_open(st->a, st, NULL, tw_cb_write, NULL) != ARCHIVE_OK)
        rc = tw_fail(st, "unable to set up the writer", err);
    if (rc != EDR_OK) {
        tw_free(&st->base);
        return rc;
    }
    *out = &st->base;
    return EDR_OK;
}

/* ---- reader ---- */

enum tr_state { TR_HEADER, TR_DATA, TR_EXT, TR_PAD, TR_END };

struct tar_reader {
    struct edr_stream base;
    edr_tar_begin_fn begin;
    edr_tar_end_fn end;
    void *ud;
    enum tr_state state;
    uint8_t blk[BLOCK];
    size_t blk_len;
    uint64_t offset;     /* bytes consumed so far */
    uint64_t hdr_offset; /* offset of the current header block */
    uint64_t remaining;  /* bytes of entry data or extended header left */
    size_t pad;          /* padding bytes left after them */
    /* current entry */
    char *name;
    struct edr_stream *sink;
    /* extended header being collected */
    char ext_type;
    uint8_t *ext;
    size_t ext_len;
    /* pending overrides for the next entry */
    char *long_name; /* pax path or GNU long name */
    int have_size;
    uint64_t pax_size;
};

static edr_rc
tr_bad(struct edr_err *err, const char *what, uint64_t off)
{
    return edr_err_set(err, EDR_E_INTEGRITY, "tar: %s at offset %llu", what,
                       (unsigned long long)off);
}

/* Octal (space/NUL padded) or base-256 (GNU) numeric field. */
static int
parse_num(const uint8_t *f, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    size_t i = 0;
    int digits = 0;

    if (f[0] & 0x80) {
        if (f[0] != 0x80) /* negative or over 2^63: refuse */
            return -1;
        for (i = 1; i < n; i++) {
            if (v >> 55)
                return -1;
            v = (v << 8) | f[i];
        }
        *out = v;
        return 0;
    }
    while (i < n && f[i] == ' ')
        i++;
    for (; i < n && f[i] >= '0' && f[i] <= '7'; i++, digits++) {
        if (v >> 60)
            return -1;
        v = v * 8 + (uint64_t)(f[i] - '0');
    }
    for (; i < n; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return -1;
    if (digits == 0)
        return -1;
    *out = v;
    return 0;
}

static int
checksum_ok(const uint8_t *b)
{
    uint64_t want;
    unsigned long u = 0;
    long sg = 0;

    if (parse_num(b + 148, 8, &want) != 0)
        return 0;
    for (size_t i = 0; i < BLOCK; i++) {
        uint8_t c = (i >= 148 && i < 156) ? ' ' : b[i];
        u += c;
        sg += (signed char)c;
    }
    return want == u || (sg >= 0 && want == (uint64_t)sg);
}

static void
clear_pending(struct tar_reader *st)
{
    free(st->long_name);
    st->long_name = NULL;
    st->have_size = 0;
}

static size_t
field_len(const uint8_t *f, size_t n)
{
    const uint8_t *z = memchr(f, '\0', n);

    return z ? (size_t)(z - f) : n;
}

/* Parse a pax extended header in st->ext ('x' only: keep path and size). */
static edr_rc
parse_pax(struct tar_reader *st, struct edr_err *err)
{
    size_t i = 0;

    while (i < st->ext_len) {
        size_t len = 0, j = i, k, eq;
        if (st->ext[i] == '\0') /* some writers pad with NULs */
            break;
        while (j < st->ext_len && st->ext[j] >= '0' && st->ext[j] <= '9' && len < EXT_MAX)
            len = len * 10 + (size_t)(st->ext[j++] - '0');
        if (j == i || j >= st->ext_len || st->ext[j] != ' ' || len <= j - i + 1 ||
            len > st->ext_len - i || st->ext[i + len - 1] != '\n')
            return tr_bad(err, "malformed pax header", st->hdr_offset);
        k = j + 1;
        for (eq = k; eq < i + len - 1 && st->ext[eq] != '='; eq++)
            ;
        if (eq == i + len - 1)
            return tr_bad(err, "malformed pax header", st->hdr_offset);
        if (st->ext_type == 'x') {
            const char *key = (const char *)st->ext + k;
            const char *val = (const char *)st->ext + eq + 1;
            size_t klen = eq - k, vlen = i + len - 1 - (eq + 1);
            if (klen == 4 && memcmp(key, "path", 4) == 0) {
                free(st->long_name);
                st->long_name = strndup(val, vlen);
                if (st->long_name == NULL)
                    return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            } else if (klen == 4 && memcmp(key, "size", 4) == 0) {
                uint64_t v = 0;
                if (vlen == 0 || vlen > 19)
                    return tr_bad(err, "malformed pax header", st->hdr_offset);
                for (size_t q = 0; q < vlen; q++) {
                    if (val[q] < '0' || val[q] > '9')
                        return tr_bad(err, "malformed pax header", st->hdr_offset);
                    v = v * 10 + (uint64_t)(val[q] - '0');
                }
                st->have_size = 1;
                st->pax_size = v;
            }
        }
        i += len;
    }
    return EDR_OK;
}

static void
after_data(struct tar_reader *st, uint64_t size)
{
    st->pad = (size_t)((BLOCK - size % BLOCK) % BLOCK);
    st->state = st->pad ? TR_PAD : TR_HEADER;
}

static edr_rc
entry_done(struct tar_reader *st, struct edr_err *err)
{
    edr_rc rc;

    if (st->sink != NULL) {
        struct edr_stream *sink = st->sink;
        st->sink = NULL;
        if ((rc = edr_stream_finish(sink, err)) != EDR_OK)
            return rc;
    }
    if (st->end != NULL && (rc = st->end(st->ud, st->name, err)) != EDR_OK)
        return rc;
    return EDR_OK;
}

static edr_rc
ext_done(struct tar_reader *st, struct edr_err *err)
{
    if (st->ext_type == 'L') {
        free(st->long_name);
        st->long_name = strndup((const char *)st->ext, field_len(st->ext, st->ext_len));
        if (st->long_name == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        return EDR_OK;
    }
    if (st->ext_type == 'x' || st->ext_type == 'g')
        return parse_pax(st, err);
    return EDR_OK; /* 'K' (GNU long link name): not needed */
}

static edr_rc
header_block(struct tar_reader *st, struct edr_err *err)
{
    const uint8_t *b = st->blk;
    uint64_t size;
    char type = (char)b[156];
    int zero = 1;
    edr_rc rc;

    for (size_t i = 0; i < BLOCK && zero; i++)
        zero = b[i] == 0;
    if (zero) {
        st->state = TR_END;
        return EDR_OK;
    }
    if (!checksum_ok(b))
        return tr_bad(err, "bad header checksum", st->hdr_offset);
    if (parse_num(b + 124, 12, &size) != 0)
        return tr_bad(err, "bad size field", st->hdr_offset);

    if (type == 'x' || type == 'g' || type == 'L' || type == 'K') {
        if (size > EXT_MAX)
            return tr_bad(err, "extended header too large", st->hdr_offset);
        free(st->ext);
        st->ext = malloc(size + 1);
        if (st->ext == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        st->ext_type = type;
        st->ext_len = 0;
        st->remaining = size;
        st->state = TR_EXT;
        if (size == 0) {
            if ((rc = ext_done(st, err)) != EDR_OK)
                return rc;
            st->state = TR_HEADER;
        }
        return EDR_OK;
    }

    if (st->have_size)
        size = st->pax_size;
    free(st->name);
    if (st->long_name != NULL) {
        st->name = st->long_name;
        st->long_name = NULL;
    } else {
        size_t nl = field_len(b, 100);
        size_t pl = memcmp(b + 257, "ustar\0", 6) == 0 ? field_len(b + 345, 155) : 0;
        st->name = malloc(pl + 1 + nl + 1);
        if (st->name != NULL) {
            size_t o = 0;
            if (pl > 0) {
                memcpy(st->name, b + 345, pl);
                st->name[pl] = '/';
                o = pl + 1;
            }
            memcpy(st->name + o, b, nl);
            st->name[o + nl] = '\0';
        }
    }
    clear_pending(st);
    if (st->name == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");

    /* links, devices, directories and fifos carry no data */
    if (type >= '1' && type <= '6') {
        st->state = TR_HEADER;
        return EDR_OK;
    }
    st->sink = NULL;
    if ((rc = st->begin(st->ud, st->name, size, &st->sink, err)) != EDR_OK)
        return rc;
    st->remaining = size;
    st->state = TR_DATA;
    if (size == 0) {
        if ((rc = entry_done(st, err)) != EDR_OK)
            return rc;
        after_data(st, 0);
    }
    return EDR_OK;
}

static edr_rc
tr_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct tar_reader *st = (struct tar_reader *)s;
    const uint8_t *p = buf;
    edr_rc rc;

    while (len > 0) {
        size_t n;
        switch (st->state) {
        case TR_HEADER:
            if (st->blk_len == 0)
                st->hdr_offset = st->offset;
            n = BLOCK - st->blk_len;
            if (n > len)
                n = len;
            memcpy(st->blk + st->blk_len, p, n);
            st->blk_len += n;
            if (st->blk_len == BLOCK) {
                st->blk_len = 0;
                st->offset += n;
                p += n;
                len -= n;
                if ((rc = header_block(st, err)) != EDR_OK)
                    return rc;
                continue;
            }
            break;
        case TR_DATA:
            n = st->remaining < len ? (size_t)st->remaining : len;
            if (st->sink != NULL && (rc = edr_stream_write(st->sink, p, n, err)) != EDR_OK)
                return rc;
            st->remaining -= n;
            if (st->remaining == 0) {
                st->offset += n;
                p += n;
                len -= n;
                if ((rc = entry_done(st, err)) != EDR_OK)
                    return rc;
                after_data(st, st->offset - st->hdr_offset - BLOCK);
                continue;
            }
            break;
        case TR_EXT:
            n = st->remaining < len ? (size_t)st->remaining : len;
            memcpy(st->ext + st->ext_len, p, n);
            st->ext_len += n;
            st->remaining -= n;
            if (st->remaining == 0) {
                st->offset += n;
                p += n;
                len -= n;
                st->ext[st->ext_len] = '\0';
                if ((rc = ext_done(st, err)) != EDR_OK)
                    return rc;
                after_data(st, st->ext_len);
                continue;
            }
            break;
        case TR_PAD:
            n = st->pad < len ? st->pad : len;
            st->pad -= n;
            if (st->pad == 0)
                st->state = TR_HEADER;
            break;
        case TR_END:
        default:
            n = len;
            break;
        }
        st->offset += n;
        p += n;
        len -= n;
    }
    return EDR_OK;
}

static edr_rc
tr_finish(struct edr_stream *s, struct edr_err *err)
{
    struct tar_reader *st = (struct tar_reader *)s;

    switch (st->state) {
    case TR_END:
        return EDR_OK;
    case TR_DATA:
        return edr_err_set(err, EDR_E_INTEGRITY, "tar: truncated entry '%s'", st->name);
    case TR_EXT:
        return tr_bad(err, "truncated extended header", st->hdr_offset);
    case TR_HEADER:
        if (st->blk_len > 0)
            return tr_bad(err, "truncated header", st->hdr_offset);
        /* fall through */
    case TR_PAD:
    default:
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "tar: truncated archive (no end-of-archive marker)");
    }
}

static void
tr_free(struct edr_stream *s)
{
    struct tar_reader *st = (struct tar_reader *)s;

    if (st == NULL)
        return;
    free(st->name);
    free(st->ext);
    free(st->long_name);
    free(st);
}

static const struct edr_stream_ops tr_ops = {"tar-reader", tr_write, tr_finish, tr_free};

edr_rc
edr_tar_reader_new(edr_tar_begin_fn begin, edr_tar_end_fn end, void *ud, struct edr_stream **out,
                   struct edr_err *err)
{
    struct tar_reader *st = calloc(1, sizeof(*st));

    *out = NULL;
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &tr_ops;
    st->begin = begin;
    st->end = end;
    st->ud = ud;
    *out = &st->base;
    return EDR_OK;
}
