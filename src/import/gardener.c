/*
 * Gardener snapshots (gardener.h): names, decompression and the delta
 * parser. A delta is read whole (Gardener flushes one at its memory limit,
 * 100 MiB by default), its hash checked before any event is looked at.
 */
#include <archive.h>
#include <ctype.h>
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

static edr_rc
too_big(const char *what, struct edr_err *err)
{
    return edr_err_set(err, EDR_E_INTEGRITY, "'%s': more than %u MiB once decompressed", what,
                       EDR_GARDENER_DELTA_MAX >> 20);
}

static edr_rc
gunzip(const uint8_t *in, size_t len, struct edr_buf *out, const char *what, struct edr_err *err)
{
    struct archive *a = archive_read_new();
    struct archive_entry *e;
    uint8_t chunk[65536];
    la_ssize_t n;
    edr_rc rc = EDR_OK;

    if (a == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    /* the raw format and only the gzip filter: anything else is refused */
    archive_read_support_filter_gzip(a);
    archive_read_support_format_raw(a);
    if (len < 2 || in[0] != 0x1f || in[1] != 0x8b) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': not gzip data", what);
        goto out;
    }
    if (archive_read_open_memory(a, in, len) != ARCHIVE_OK ||
        archive_filter_code(a, 0) != ARCHIVE_FILTER_GZIP) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", what,
                         archive_error_string(a) ? archive_error_string(a) : "unreadable header");
        goto out;
    }
    if (archive_read_next_header(a, &e) != ARCHIVE_OK) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", what,
                         archive_error_string(a));
        goto out;
    }
    while ((n = archive_read_data(a, chunk, sizeof(chunk))) > 0) {
        if (out->len + (size_t)n > EDR_GARDENER_DELTA_MAX) {
            rc = too_big(what, err);
            goto out;
        }
        if (edr_buf_add(out, chunk, (size_t)n) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (n < 0)
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged gzip data: %s", what,
                         archive_error_string(a));
out:
    archive_read_free(a);
    return rc;
}

static edr_rc
unzlib(const uint8_t *in, size_t len, struct edr_buf *out, const char *what, struct edr_err *err)
{
    z_stream z;
    uint8_t chunk[65536];
    int zr = Z_OK;
    edr_rc rc = EDR_OK;

    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    z.next_in = (Bytef *)(uintptr_t)in;
    while (zr != Z_STREAM_END) {
        size_t have;
        /* feed at most 1 GiB at a time: avail_in is 32 bits */
        if (z.avail_in == 0 && (size_t)(z.next_in - in) < len) {
            size_t left = len - (size_t)(z.next_in - in);
            z.avail_in = (uInt)(left > (1u << 30) ? 1u << 30 : left);
        }
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END) {
            rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged zlib data: %s", what,
                             zr == Z_BUF_ERROR ? "unexpected end"
                             : z.msg           ? z.msg
                                               : "error");
            goto out;
        }
        have = sizeof(chunk) - z.avail_out;
        if (out->len + have > EDR_GARDENER_DELTA_MAX) {
            rc = too_big(what, err);
            goto out;
        }
        if (edr_buf_add(out, chunk, have) != 0) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (z.avail_in != 0 || (size_t)(z.next_in - in) != len)
        rc = edr_err_set(err, EDR_E_INTEGRITY, "'%s': data after the zlib stream", what);
out:
    inflateEnd(&z);
    return rc;
}

/*
 * LZW as Go's compress/lzw writes it with LSB order and 8-bit literals:
 * codes are read least significant bit first, 9 bits wide at the start;
 * 256 resets the table, 257 ends the data. Each code after the first (of a
 * reset) defines the next table entry as the previous code's string plus the
 * first byte of this one's; the width grows by one when the next entry to
 * define reaches 2^width, up to 12 bits, after which no entry is defined
 * until a reset.
 */
#define LZW_CLEAR 256
#define LZW_END 257
#define LZW_MAXW 12
#define LZW_NONE 0xffff

static edr_rc
unlzw(const uint8_t *in, size_t len, struct edr_buf *out, const char *what, struct edr_err *err)
{
    uint16_t prefix[1 << LZW_MAXW];
    uint8_t suffix[1 << LZW_MAXW], stack[1 << LZW_MAXW];
    uint32_t bits = 0, nbits = 0, width = 9, next = LZW_END, prev = LZW_NONE;
    size_t pos = 0;

    for (;;) {
        uint32_t code, c, sp = 0;
        uint8_t first;
        while (nbits < width) {
            if (pos == len)
                return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged LZW data: unexpected end",
                                   what);
            bits |= (uint32_t)in[pos++] << nbits;
            nbits += 8;
        }
        code = bits & ((1u << width) - 1);
        bits >>= width;
        nbits -= width;
        if (code == LZW_CLEAR) {
            width = 9;
            next = LZW_END;
            prev = LZW_NONE;
            continue;
        }
        if (code == LZW_END)
            break;
        if (code > next || (code == next && prev == LZW_NONE))
            return edr_err_set(err, EDR_E_INTEGRITY, "'%s': damaged LZW data: invalid code %u",
                               what, code);
        /* the string of code, last byte first, onto the stack */
        c = code == next ? prev : code;
        while (c > LZW_END) {
            stack[sp++] = suffix[c];
            c = prefix[c];
        }
        first = (uint8_t)c;
        stack[sp++] = first;
        if (out->len + sp + 1 > EDR_GARDENER_DELTA_MAX)
            return too_big(what, err);
        while (sp > 0)
            if (edr_buf_byte(out, stack[--sp]) != 0)
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        if (code == next && edr_buf_byte(out, first) != 0) /* the string plus its own first byte */
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        if (prev != LZW_NONE) {
            prefix[next] = (uint16_t)prev;
            suffix[next] = first;
        }
        prev = code;
        next++;
        if (next == (1u << width)) {
            if (width == LZW_MAXW) {
                next--;
                prev = LZW_NONE;
            } else {
                width++;
            }
        }
    }
    if (pos != len)
        return edr_err_set(err, EDR_E_INTEGRITY, "'%s': data after the LZW end code", what);
    return EDR_OK;
}

edr_rc
edr_gardener_decompress(enum edr_gardener_comp comp, const uint8_t *in, size_t len,
                        struct edr_buf *out, const char *what, struct edr_err *err)
{
    switch (comp) {
    case EDR_GARDENER_GZIP:
        return gunzip(in, len, out, what, err);
    case EDR_GARDENER_ZLIB:
        return unzlib(in, len, out, what, err);
    case EDR_GARDENER_LZW:
        return unlzw(in, len, out, what, err);
    case EDR_GARDENER_PLAIN:
        break;
    }
    if (len > EDR_GARDENER_DELTA_MAX)
        return too_big(what, err);
    if (edr_buf_add(out, in, len) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    return EDR_OK;
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
