/*
 * Gardener snapshots (gardener.h): names, decompression and the delta
 * parser. A delta is read whole (Gardener flushes one at its memory limit,
 * 100 MiB by default), its hash checked before any event is looked at.
 */
#include <archive.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "changes/segment.h"
#include "common/hash.h"
#include "common/pb.h"
#include "import/gardener.h"

static int
parse_digits(const char *s, size_t n, int64_t *v)
{
    int64_t x = 0;
    if (n == 0 || n > 18)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int
edr_gardener_parse_name(const char *name, struct edr_gardener_name *n)
{
    const char *p, *d1, *d2, *end;
    static const struct {
        const char *sfx;
        enum edr_gardener_comp comp;
    } comps[] = {
        {".gz", EDR_GARDENER_GZIP}, {".Z", EDR_GARDENER_LZW}, {".zlib", EDR_GARDENER_ZLIB}};

    memset(n, 0, sizeof(*n));
    if (strncmp(name, "Full-", 5) == 0)
        n->full = 1;
    else if (strncmp(name, "Incr-", 5) != 0)
        return -1;
    p = name + 5;
    if ((d1 = strchr(p, '-')) == NULL || (d2 = strchr(d1 + 1, '-')) == NULL)
        return -1;
    if (parse_digits(p, (size_t)(d1 - p), &n->start) != 0 ||
        parse_digits(d1 + 1, (size_t)(d2 - d1 - 1), &n->last) != 0)
        return -1;
    p = d2 + 1;
    end = p + strspn(p, "0123456789");
    if (parse_digits(p, (size_t)(end - p), &n->created) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(comps) / sizeof(comps[0]); i++) {
        size_t l = strlen(comps[i].sfx);
        if (strncmp(end, comps[i].sfx, l) == 0 && (end[l] == '\0' || end[l] == '.')) {
            n->comp = comps[i].comp;
            end += l;
            break;
        }
    }
    if (strcmp(end, ".final") == 0) {
        n->final = 1;
        end += 6;
    }
    if (*end != '\0' || n->start > n->last || (n->full && n->start != 0))
        return -1;
    return 0;
}

/*
 * The reader: compressed bytes pulled from the caller, plain bytes pulled by
 * the caller. gzip through libarchive (raw format, gzip filter only), zlib
 * through zlib's inflate, LZW by the decoder below.
 */
#define LZW_CLEAR 256
#define LZW_END 257
#define LZW_MAXW 12
#define LZW_NONE 0xffff

struct lzw {
    uint32_t bits, nbits, width, next, prev;
    uint16_t prefix[1 << LZW_MAXW];
    uint8_t suffix[1 << LZW_MAXW];
    uint8_t stack[(1 << LZW_MAXW) + 1]; /* a string, last byte at the bottom */
    size_t sp;
    int ended;
};

struct edr_gardener_reader {
    enum edr_gardener_comp comp;
    edr_gardener_pull_fn pull;
    void *ud;
    char what[512];
    uint8_t in[1 << 16];
    size_t in_pos, in_len;
    int in_eof;
    struct edr_err pull_err; /* the pull's failure, seen through libarchive */
    edr_rc pull_rc;
    struct archive *ar;
    z_stream z;
    int z_live, z_end;
    struct lzw *lzw;
};

/* More input into r->in when it is used up; 0 at the end of the input. */
static edr_rc
fill(struct edr_gardener_reader *r, struct edr_err *err)
{
    size_t got = 0;
    edr_rc rc;

    if (r->in_pos < r->in_len || r->in_eof)
        return EDR_OK;
    if ((rc = r->pull(r->ud, r->in, sizeof(r->in), &got, err)) != EDR_OK)
        return rc;
    r->in_pos = 0;
    r->in_len = got;
    r->in_eof = got == 0;
    return EDR_OK;
}

static la_ssize_t
ar_read(struct archive *a, void *ud, const void **buf)
{
    struct edr_gardener_reader *r = ud;

    if ((r->pull_rc = fill(r, &r->pull_err)) != EDR_OK) {
        archive_set_error(a, EIO, "%s", r->pull_err.msg);
        return -1;
    }
    *buf = r->in + r->in_pos;
    r->in_pos = r->in_len;
    return (la_ssize_t)(r->in_len - (size_t)((const uint8_t *)*buf - r->in));
}

edr_rc
edr_gardener_reader_new(enum edr_gardener_comp comp, edr_gardener_pull_fn pull, void *ud,
                        const char *what, struct edr_gardener_reader **out, struct edr_err *err)
{
    struct edr_gardener_reader *r = calloc(1, sizeof(*r));
    struct archive_entry *e;

    *out = NULL;
    if (r == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    r->comp = comp;
    r->pull = pull;
    r->ud = ud;
    snprintf(r->what, sizeof(r->what), "%s", what);
    *out = r;
    switch (comp) {
    case EDR_GARDENER_GZIP:
        if ((r->ar = archive_read_new()) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        archive_read_support_filter_gzip(r->ar);
        archive_read_support_format_raw(r->ar);
        if (archive_read_open(r->ar, r, NULL, ar_read, NULL) != ARCHIVE_OK) {
            if (r->pull_rc != EDR_OK) {
                *err = r->pull_err;
                return r->pull_rc;
            }
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", what,
                               archive_error_string(r->ar));
        }
        /* the raw format takes anything: only gzip is asked for here */
        if (archive_filter_code(r->ar, 0) != ARCHIVE_FILTER_GZIP)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': not gzip data", what);
        if (archive_read_next_header(r->ar, &e) != ARCHIVE_OK)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", what,
                               archive_error_string(r->ar));
        break;
    case EDR_GARDENER_ZLIB:
        if (inflateInit(&r->z) != Z_OK)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        r->z_live = 1;
        break;
    case EDR_GARDENER_LZW:
        if ((r->lzw = calloc(1, sizeof(*r->lzw))) == NULL)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        r->lzw->width = 9;
        r->lzw->next = LZW_END;
        r->lzw->prev = LZW_NONE;
        break;
    case EDR_GARDENER_PLAIN:
        break;
    }
    return EDR_OK;
}

static edr_rc
gz_read(struct edr_gardener_reader *r, uint8_t *buf, size_t n, size_t *got, struct edr_err *err)
{
    la_ssize_t k = archive_read_data(r->ar, buf, n);

    if (k < 0) {
        if (r->pull_rc != EDR_OK) {
            *err = r->pull_err;
            return r->pull_rc;
        }
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", r->what,
                           archive_error_string(r->ar));
    }
    *got = (size_t)k;
    return EDR_OK;
}

static edr_rc
z_read(struct edr_gardener_reader *r, uint8_t *buf, size_t n, size_t *got, struct edr_err *err)
{
    edr_rc rc;

    *got = 0;
    if (n > (1u << 30))
        n = 1u << 30; /* avail_out is 32 bits */
    while (*got == 0 && !r->z_end) {
        int zr;
        if ((rc = fill(r, err)) != EDR_OK)
            return rc;
        if (r->in_eof)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged zlib data: unexpected end",
                               r->what);
        r->z.next_in = r->in + r->in_pos;
        r->z.avail_in = (uInt)(r->in_len - r->in_pos);
        r->z.next_out = buf;
        r->z.avail_out = (uInt)n;
        zr = inflate(&r->z, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->z.avail_in;
        *got = n - r->z.avail_out;
        if (zr == Z_STREAM_END)
            r->z_end = 1;
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged zlib data: %s", r->what,
                               r->z.msg ? r->z.msg : "error");
    }
    return EDR_OK;
}

/*
 * LZW as Go's compress/lzw writes it with LSB order and 8-bit literals:
 * codes are read least significant bit first, 9 bits wide at the start;
 * 256 resets the table, 257 ends the data. Each code after the first (of a
 * reset) defines the next table entry as the previous code's string plus the
 * first byte of this one's; the width grows by one when the next entry to
 * define reaches 2^width, up to 12 bits; once all 4096 codes are defined,
 * none is added until a reset (Go's writer resets before; its reader
 * accepts both). Go's reader fails on input that ends before the end code,
 * and so does this one.
 */
static edr_rc
lzw_code(struct edr_gardener_reader *r, struct edr_err *err)
{
    struct lzw *l = r->lzw;
    uint32_t code, c;
    edr_rc rc;

    while (l->nbits < l->width) {
        if ((rc = fill(r, err)) != EDR_OK)
            return rc;
        if (r->in_eof)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged LZW data: unexpected end",
                               r->what);
        l->bits |= (uint32_t)r->in[r->in_pos++] << l->nbits;
        l->nbits += 8;
    }
    code = l->bits & ((1u << l->width) - 1);
    l->bits >>= l->width;
    l->nbits -= l->width;
    if (code == LZW_CLEAR) {
        l->width = 9;
        l->next = LZW_END;
        l->prev = LZW_NONE;
        return EDR_OK;
    }
    if (code == LZW_END) {
        l->ended = 1;
        return EDR_OK;
    }
    if (code > l->next || (code == l->next && l->prev == LZW_NONE))
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged LZW data: invalid code %u", r->what,
                           code);
    /* the string onto the stack, last byte first; a code not defined yet
     * (the entry this very code defines) is the previous string plus its
     * own first byte, which goes to the bottom once known */
    l->sp = code == l->next ? 1 : 0;
    for (c = code == l->next ? l->prev : code; c > LZW_END; c = l->prefix[c])
        l->stack[l->sp++] = l->suffix[c];
    l->stack[l->sp++] = (uint8_t)c;
    if (code == l->next)
        l->stack[0] = (uint8_t)c;
    /* a full table (next = 4096) stays as it is until a reset: every code
     * up to 4095 is defined, none is added */
    if (l->prev != LZW_NONE && l->next < (1u << LZW_MAXW)) {
        l->prefix[l->next] = (uint16_t)l->prev;
        l->suffix[l->next] = (uint8_t)c;
    }
    l->prev = code;
    if (l->next < (1u << LZW_MAXW) && ++l->next == (1u << l->width) && l->width < LZW_MAXW)
        l->width++;
    return EDR_OK;
}

static edr_rc
lzw_read(struct edr_gardener_reader *r, uint8_t *buf, size_t n, size_t *got, struct edr_err *err)
{
    struct lzw *l = r->lzw;
    edr_rc rc;

    *got = 0;
    while (*got < n) {
        if (l->sp > 0) {
            buf[(*got)++] = l->stack[--l->sp];
            continue;
        }
        if (l->ended)
            break;
        if ((rc = lzw_code(r, err)) != EDR_OK)
            return rc;
    }
    if (l->ended && l->sp == 0 && *got == 0) {
        /* after the end code: the rest of its byte is padding, no more */
        if ((rc = fill(r, err)) != EDR_OK)
            return rc;
        if (!r->in_eof)
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': data after the LZW end code", r->what);
    }
    return EDR_OK;
}

edr_rc
edr_gardener_reader_read(struct edr_gardener_reader *r, void *buf, size_t n, size_t *got,
                         struct edr_err *err)
{
    edr_rc rc;

    *got = 0;
    if (n == 0)
        return EDR_OK;
    switch (r->comp) {
    case EDR_GARDENER_GZIP:
        return gz_read(r, buf, n, got, err);
    case EDR_GARDENER_ZLIB:
        if ((rc = z_read(r, buf, n, got, err)) != EDR_OK)
            return rc;
        if (*got == 0 && r->z_end) {
            if ((rc = fill(r, err)) != EDR_OK)
                return rc;
            if (!r->in_eof)
                return edr_err_set(err, EDR_E_INTEGRITY, "'%s': data after the zlib stream",
                                   r->what);
        }
        return EDR_OK;
    case EDR_GARDENER_LZW:
        return lzw_read(r, buf, n, got, err);
    case EDR_GARDENER_PLAIN:
        break;
    }
    if ((rc = fill(r, err)) != EDR_OK)
        return rc;
    *got = r->in_len - r->in_pos < n ? r->in_len - r->in_pos : n;
    memcpy(buf, r->in + r->in_pos, *got);
    r->in_pos += *got;
    return EDR_OK;
}

void
edr_gardener_reader_free(struct edr_gardener_reader *r)
{
    if (r == NULL)
        return;
    if (r->ar != NULL)
        archive_read_free(r->ar);
    if (r->z_live)
        inflateEnd(&r->z);
    free(r->lzw);
    free(r);
}

struct mem_src {
    const uint8_t *p;
    size_t left;
};

static edr_rc
mem_pull(void *ud, void *buf, size_t n, size_t *got, struct edr_err *err)
{
    struct mem_src *m = ud;
    (void)err;
    *got = m->left < n ? m->left : n;
    memcpy(buf, m->p, *got);
    m->p += *got;
    m->left -= *got;
    return EDR_OK;
}

edr_rc
edr_gardener_decompress(enum edr_gardener_comp comp, const uint8_t *in, size_t len,
                        struct edr_buf *out, const char *what, struct edr_err *err)
{
    struct mem_src m = {in, len};
    struct edr_gardener_reader *r = NULL;
    uint8_t chunk[1 << 16];
    size_t got;
    edr_rc rc;

    if ((rc = edr_gardener_reader_new(comp, mem_pull, &m, what, &r, err)) != EDR_OK)
        goto out;
    do {
        if ((rc = edr_gardener_reader_read(r, chunk, sizeof(chunk), &got, err)) != EDR_OK)
            goto out;
        if (out->len + got > EDR_GARDENER_DELTA_MAX) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': more than %u MiB once decompressed", what,
                             EDR_GARDENER_DELTA_MAX >> 20);
            goto out;
        }
        if (edr_buf_add(out, chunk, got) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
    } while (got > 0);
out:
    edr_gardener_reader_free(r);
    return rc;
}

/* Go's time.Time in JSON (RFC 3339, nanoseconds optional, Z or +hh:mm) as
 * Unix milliseconds. */
static int
parse_time(const char *s, int64_t *ms)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0, frac_ms = 0, digits = 0;
    int64_t t;

    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return -1;
    s += n;
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++, digits++)
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*s - '0');
        if (digits == 0)
            return -1;
        for (int i = digits; i < 3; i++)
            frac_ms *= 10;
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = (int64_t)timegm(&tm);
    if (*s == 'Z' && s[1] == '\0') {
        /* UTC */
    } else if ((*s == '+' || *s == '-') && isdigit((unsigned char)s[1]) &&
               isdigit((unsigned char)s[2]) && s[3] == ':' && isdigit((unsigned char)s[4]) &&
               isdigit((unsigned char)s[5]) && s[6] == '\0') {
        int off =
            ((s[1] - '0') * 10 + (s[2] - '0')) * 3600 + ((s[4] - '0') * 10 + (s[5] - '0')) * 60;
        t += *s == '+' ? -off : off;
    } else {
        return -1;
    }
    *ms = t * 1000 + frac_ms;
    return 0;
}

/* A JSON integer field of kv, 0 when absent. -1 when it is not an integer
 * or negative. */
static int
kv_int(json_t *kv, const char *name, int64_t *v)
{
    json_t *j = json_object_get(kv, name);
    *v = 0;
    if (j == NULL)
        return 0;
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *v = (int64_t)json_integer_value(j);
    return 0;
}

/* A base64 field of kv into b (emptied first); absent is empty. */
static int
kv_bytes(json_t *kv, const char *name, struct edr_buf *b)
{
    json_t *j = json_object_get(kv, name);
    const char *s;
    size_t l, got = 0;

    edr_buf_reset(b);
    if (j == NULL)
        return 0;
    if (!json_is_string(j))
        return -1;
    s = json_string_value(j);
    l = json_string_length(j);
    if (l / 4 * 3 + 3 > EDR_SEG_RECORD_MAX)
        return -1;
    if (l == 0)
        return 0;
    {
        size_t cap = l / 4 * 3 + 3;
        uint8_t *p = malloc(cap);
        int r;
        if (p == NULL)
            return -1;
        r = sodium_base642bin(p, cap, s, l, NULL, &got, NULL, sodium_base64_VARIANT_ORIGINAL);
        if (r == 0)
            r = edr_buf_add(b, p, got);
        free(p);
        return r == 0 ? 0 : -1;
    }
}

/* mvccpb.KeyValue as etcd marshals it: fields in order, zero values left out */
static int
put_kv(struct edr_buf *o, const struct edr_buf *key, int64_t create, int64_t mod, int64_t version,
       const struct edr_buf *value, int64_t lease)
{
    edr_buf_reset(o);
    if (edr_pb_buf_bytes(o, 1, key->data, key->len) != 0 ||
        (create != 0 && edr_pb_buf_uint(o, 2, (uint64_t)create) != 0) ||
        (mod != 0 && edr_pb_buf_uint(o, 3, (uint64_t)mod) != 0) ||
        (version != 0 && edr_pb_buf_uint(o, 4, (uint64_t)version) != 0) ||
        (value->len != 0 && edr_pb_buf_bytes(o, 5, value->data, value->len) != 0) ||
        (lease != 0 && edr_pb_buf_uint(o, 6, (uint64_t)lease) != 0))
        return -1;
    return 0;
}

edr_rc
edr_gardener_delta_parse(const uint8_t *data, size_t len, const char *what,
                         struct edr_gardener_delta *d, struct edr_err *err)
{
    uint8_t sha[32];
    json_t *root = NULL, *ev;
    json_error_t je;
    struct edr_buf key, value, kvb;
    size_t i;
    edr_rc rc = EDR_OK;

    memset(d, 0, sizeof(*d));
    memset(&key, 0, sizeof(key));
    memset(&value, 0, sizeof(value));
    memset(&kvb, 0, sizeof(kvb));
    if (len <= 32)
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': too short for a delta snapshot", what);
    edr_sha256_buf(data, len - 32, sha);
    if (memcmp(sha, data + len - 32, 32) != 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': sha256 mismatch (damaged delta snapshot)",
                           what);
    root = json_loadb((const char *)data, len - 32, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL || !json_is_array(root) || json_array_size(root) == 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': %s%s", what,
                         root == NULL ? "invalid JSON: " : "not a non-empty JSON array of events",
                         root == NULL ? je.text : "");
        goto out;
    }
    json_array_foreach(root, i, ev)
    {
        json_t *ee = json_object_get(ev, "etcdEvent"), *kv = json_object_get(ee, "kv"),
               *type = json_object_get(ee, "type"), *tm = json_object_get(ev, "time");
        int64_t create, mod, version, lease, ms;
        enum edr_seg_type t;
        const char *bad = NULL;

        if (!json_is_object(ev) || !json_is_object(ee) || !json_is_object(kv))
            bad = "no etcdEvent with a kv";
        else if (type == NULL || (json_is_integer(type) && json_integer_value(type) == 0) ||
                 (json_is_string(type) && strcmp(json_string_value(type), "PUT") == 0))
            t = EDR_SEG_PUT;
        else if ((json_is_integer(type) && json_integer_value(type) == 1) ||
                 (json_is_string(type) && strcmp(json_string_value(type), "DELETE") == 0))
            t = EDR_SEG_DEL;
        else
            bad = "unknown event type";
        if (bad == NULL &&
            (kv_int(kv, "create_revision", &create) != 0 || kv_int(kv, "mod_revision", &mod) != 0 ||
             kv_int(kv, "version", &version) != 0 || kv_int(kv, "lease", &lease) != 0))
            bad = "a revision, version or lease that is not a number";
        else if (bad == NULL &&
                 (kv_bytes(kv, "key", &key) != 0 || kv_bytes(kv, "value", &value) != 0))
            bad = "a key or value that is not base64";
        else if (bad == NULL && key.len == 0)
            bad = "no key";
        else if (bad == NULL && mod <= 0)
            bad = "no mod_revision";
        else if (bad == NULL && t == EDR_SEG_PUT && (create <= 0 || create > mod || version <= 0))
            bad = "a put without create_revision or version";
        else if (bad == NULL &&
                 (!json_is_string(tm) || parse_time(json_string_value(tm), &ms) != 0))
            bad = "no valid time";
        if (bad != NULL) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': event %zu: %s", what, i + 1, bad);
            goto out;
        }
        if (d->events != 0 && mod != d->last_rev && mod != d->last_rev + 1) {
            rc = edr_err_set(err, EDR_E_INTEGRITY,
                             "'%s': event %zu is at revision %" PRId64 " after revision %" PRId64
                             " (revisions %s)",
                             what, i + 1, mod, d->last_rev,
                             mod < d->last_rev ? "out of order" : "missing");
            goto out;
        }
        if (put_kv(&kvb, &key, create, mod, version, &value, lease) != 0 ||
            edr_seg_put_event(&d->records, t, mod, ms, kvb.data, kvb.len) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
        if (d->events == 0) {
            d->first_rev = mod;
            d->first_ms = ms;
        }
        d->last_rev = mod;
        d->last_ms = ms;
        d->events++;
    }
out:
    json_decref(root);
    edr_buf_release(&key);
    edr_buf_release(&value);
    edr_buf_release(&kvb);
    return rc;
}

void
edr_gardener_delta_release(struct edr_gardener_delta *d)
{
    if (d != NULL)
        edr_buf_release(&d->records);
}
