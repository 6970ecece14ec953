/*
 * The open filter: parses the data file header as bytes arrive, unseals the
 * data key with the caller's identity and decrypts chunk by chunk. Every
 * byte pushed on has been authenticated; the final tag and the end of the
 * input must coincide, so truncation and appended data are caught.
 */
#include "stream/open.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "stream/seal.h"

#define HEADER_MAX                                                                                 \
    (EDR_SEAL_FIXED_LEN + 4 + EDR_SEAL_RECIPIENT_LEN * EDR_SEAL_MAX_RECIPIENTS + EDR_SEAL_SS_HEADER)
/* When a chunk fails, shorter lengths down to this many bytes less are tried
 * as a final chunk, to tell "bytes appended after the final chunk" from
 * "corrupt chunk". Only runs on the failure path. */
#define TRAILING_PROBE 64

typedef crypto_secretstream_xchacha20poly1305_state ss_state;

struct open_stream {
    struct edr_stream base;
    struct edr_identity *identity;
    uint8_t hdr[HEADER_MAX];
    size_t hdr_len, hdr_need;
    int header_done;
    int encrypted;
    int ready; /* encrypted: data key unsealed, stream state set */
    size_t n_recipients;
    char ids[EDR_SEAL_MAX_RECIPIENTS][EDR_KEY_ID_HEX_LEN + 1];
    ss_state *state;   /* sodium_malloc */
    ss_state *scratch; /* sodium_malloc, for probing */
    size_t chunk;      /* plaintext chunk size */
    size_t full;       /* chunk + ABYTES */
    uint8_t *cbuf;     /* partial ciphertext chunk */
    size_t cbuf_len;
    uint8_t *plain; /* decrypted chunk */
    uint64_t nchunks;
    uint64_t plain_size;
};

static edr_rc
bad_magic(struct edr_err *err)
{
    return edr_err_set(err, EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)");
}

static void
list_ids(const struct open_stream *st, char *buf, size_t size)
{
    size_t off = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < st->n_recipients && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, "%s%s", i ? ", " : "", st->ids[i]);
}

/* The whole header is in hdr: read the recipients, unseal the data key. */
static edr_rc
header_complete(struct open_stream *st, struct edr_err *err)
{
    const struct edr_pubkey *me;
    unsigned char *key = NULL;
    const uint8_t *mine = NULL;
    char list[EDR_SEAL_MAX_RECIPIENTS * (EDR_KEY_ID_HEX_LEN + 2) + 1];
    edr_rc rc = EDR_OK;

    for (size_t i = 0; i < st->n_recipients; i++) {
        const uint8_t *r = st->hdr + 12 + EDR_SEAL_RECIPIENT_LEN * i;
        edr_hex(r, EDR_KEY_ID_RAW_LEN, st->ids[i]);
    }
    st->header_done = 1;
    list_ids(st, list, sizeof(list));
    if (st->identity == NULL) {
        edr_err_set(err, EDR_E_KEY, "backup is encrypted; an identity (--identity) is required");
        edr_err_hint(err, "the backup is encrypted to key %s", list);
        return EDR_E_KEY;
    }
    me = edr_identity_pubkey(st->identity);
    for (size_t i = 0; i < st->n_recipients && mine == NULL; i++) {
        const uint8_t *r = st->hdr + 12 + EDR_SEAL_RECIPIENT_LEN * i;
        if (memcmp(r, me->id_raw, EDR_KEY_ID_RAW_LEN) == 0)
            mine = r + EDR_KEY_ID_RAW_LEN;
    }
    if (mine == NULL)
        return edr_err_set(err, EDR_E_KEY, "backup is not encrypted to key %s (recipients: %s)",
                           me->id, list);
    st->chunk = (size_t)((st->hdr[10] << 8) | st->hdr[11]) * 1024;
    st->full = st->chunk + EDR_SEAL_ABYTES;
    key = sodium_malloc(EDR_KEY_LEN);
    st->state = sodium_malloc(sizeof(*st->state));
    st->scratch = sodium_malloc(sizeof(*st->scratch));
    st->cbuf = malloc(st->full);
    st->plain = malloc(st->chunk);
    if (key == NULL || st->state == NULL || st->scratch == NULL || st->cbuf == NULL ||
        st->plain == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    if ((rc = edr_identity_unseal(st->identity, mine, key, err)) != EDR_OK)
        goto out;
    if (crypto_secretstream_xchacha20poly1305_init_pull(
            st->state, st->hdr + st->hdr_len - EDR_SEAL_SS_HEADER, key) != 0) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "corrupt header: invalid stream header");
        goto out;
    }
    st->ready = 1;
out:
    sodium_free(key);
    return rc;
}

/* Validate what we have of the header so far and work out how much more
 * is needed; called each time hdr_len reaches hdr_need. */
static edr_rc
header_step(struct open_stream *st, struct edr_err *err)
{
    const uint8_t *h = st->hdr;

    if (st->hdr_len == EDR_SEAL_FIXED_LEN) {
        if (h[7] & ~EDR_SEAL_FLAG_ENCRYPTED)
            return edr_err_set(err, EDR_E_INTEGRITY, "unsupported data file flags 0x%02x", h[7]);
        st->encrypted = (h[7] & EDR_SEAL_FLAG_ENCRYPTED) != 0;
        if (!st->encrypted) {
            st->header_done = 1;
            return EDR_OK;
        }
        st->hdr_need = EDR_SEAL_FIXED_LEN + 4;
        return EDR_OK;
    }
    if (st->hdr_len == EDR_SEAL_FIXED_LEN + 4) {
        unsigned kib = (unsigned)((h[10] << 8) | h[11]);
        if (h[8] < 1 || h[8] > EDR_SEAL_MAX_RECIPIENTS)
            return edr_err_set(err, EDR_E_INTEGRITY, "corrupt header: %u recipients", h[8]);
        if (h[9] != 0)
            return edr_err_set(err, EDR_E_INTEGRITY, "corrupt header: reserved byte is %u", h[9]);
        if (kib < 1 || kib > EDR_SEAL_MAX_CHUNK_KIB)
            return edr_err_set(err, EDR_E_INTEGRITY, "corrupt header: chunk size %u KiB", kib);
        st->n_recipients = h[8];
        st->hdr_need = edr_seal_header_len(st->n_recipients, EDR_SEAL_FLAG_ENCRYPTED);
        return EDR_OK;
    }
    return header_complete(st, err);
}

/* Feed header bytes; returns how many were consumed in *used. */
static edr_rc
header_feed(struct open_stream *st, const uint8_t *p, size_t len, size_t *used, struct edr_err *err)
{
    size_t i = 0;
    edr_rc rc;

    while (i < len && !st->header_done) {
        size_t n = st->hdr_need - st->hdr_len;
        if (n > len - i)
            n = len - i;
        for (size_t k = 0; k < n; k++) {
            size_t pos = st->hdr_len + k;
            /* check the magic and version byte by byte: a wrong file fails
             * on its first bytes */
            if ((pos < EDR_SEAL_MAGIC_LEN && p[i + k] != (uint8_t)EDR_SEAL_MAGIC[pos]) ||
                (pos == EDR_SEAL_MAGIC_LEN && p[i + k] != EDR_SEAL_VERSION))
                return bad_magic(err);
        }
        memcpy(st->hdr + st->hdr_len, p + i, n);
        st->hdr_len += n;
        i += n;
        if (st->hdr_len == st->hdr_need && (rc = header_step(st, err)) != EDR_OK)
            return rc;
    }
    *used = i;
    return EDR_OK;
}

/* Chunk c (len bytes) failed to authenticate: is it a valid final chunk
 * followed by a few extra bytes? */
static int
is_final_plus_trailing(struct open_stream *st, const uint8_t *c, size_t len)
{
    const uint8_t *ad = st->nchunks == 0 ? st->hdr : NULL;
    size_t adlen = st->nchunks == 0 ? st->hdr_len : 0;
    size_t low = len > TRAILING_PROBE + EDR_SEAL_ABYTES ? len - TRAILING_PROBE : EDR_SEAL_ABYTES;
    int found = 0;

    for (size_t l = len - 1; l >= low && l < len && !found; l--) {
        unsigned char tag = 0;
        memcpy(st->scratch, st->state, sizeof(*st->state));
        if (crypto_secretstream_xchacha20poly1305_pull(st->scratch, st->plain, NULL, &tag, c, l, ad,
                                                       adlen) == 0 &&
            tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL)
            found = 1;
    }
    sodium_memzero(st->scratch, sizeof(*st->scratch));
    return found;
}

/* Decrypt one chunk of len bytes and push its plaintext; *tag gets its tag. */
static edr_rc
open_chunk(struct open_stream *st, const uint8_t *c, size_t len, unsigned char *tag,
           struct edr_err *err)
{
    const uint8_t *ad = st->nchunks == 0 ? st->hdr : NULL;
    size_t adlen = st->nchunks == 0 ? st->hdr_len : 0;
    unsigned long long mlen = 0;
    uint64_t no = st->nchunks + 1;

    if (crypto_secretstream_xchacha20poly1305_pull(st->state, st->plain, &mlen, tag, c, len, ad,
                                                   adlen) != 0) {
        if (len > EDR_SEAL_ABYTES && is_final_plus_trailing(st, c, len))
            return edr_err_set(err, EDR_E_INTEGRITY, "trailing data after final chunk");
        return edr_err_set(err, EDR_E_INTEGRITY, "chunk %llu: authentication failed",
                           (unsigned long long)no);
    }
    st->nchunks = no;
    if (len == st->full && *tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE)
        return edr_err_set(err, EDR_E_INTEGRITY, "chunk %llu: final tag on a full-size chunk",
                           (unsigned long long)no);
    st->plain_size += mlen;
    return edr_stream_write(st->base.next, st->plain, (size_t)mlen, err);
}

static edr_rc
open_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct open_stream *st = (struct open_stream *)s;
    const uint8_t *p = buf;
    unsigned char tag;
    edr_rc rc;

    if (!st->header_done) {
        size_t used = 0;
        if ((rc = header_feed(st, p, len, &used, err)) != EDR_OK)
            return rc;
        p += used;
        len -= used;
    }
    if (len == 0)
        return EDR_OK;
    if (!st->encrypted) {
        st->plain_size += len;
        return edr_stream_write(s->next, p, len, err);
    }
    if (!st->ready)
        return edr_err_set(err, EDR_E_INTERNAL, "open: stream used after an error");
    /* A piece of exactly `full` bytes is always a message chunk (the final
     * chunk is shorter), so it is decrypted as soon as it is complete. */
    while (len > 0) {
        if (st->cbuf_len == 0 && len >= st->full) {
            if ((rc = open_chunk(st, p, st->full, &tag, err)) != EDR_OK)
                return rc;
            p += st->full;
            len -= st->full;
            continue;
        }
        size_t n = st->full - st->cbuf_len;
        if (n > len)
            n = len;
        memcpy(st->cbuf + st->cbuf_len, p, n);
        st->cbuf_len += n;
        p += n;
        len -= n;
        if (st->cbuf_len == st->full) {
            st->cbuf_len = 0;
            if ((rc = open_chunk(st, st->cbuf, st->full, &tag, err)) != EDR_OK)
                return rc;
        }
    }
    return EDR_OK;
}

static edr_rc
truncated(struct open_stream *st, struct edr_err *err)
{
    if (st->nchunks == 0)
        return edr_err_set(err, EDR_E_INTEGRITY, "truncated: final chunk missing after the header");
    return edr_err_set(err, EDR_E_INTEGRITY, "truncated: final chunk missing after chunk %llu",
                       (unsigned long long)st->nchunks);
}

static edr_rc
open_finish(struct edr_stream *s, struct edr_err *err)
{
    struct open_stream *st = (struct open_stream *)s;
    unsigned char tag = 0;
    edr_rc rc;

    if (!st->header_done)
        return edr_err_set(err, EDR_E_INTEGRITY, "truncated: incomplete header");
    if (st->encrypted) {
        if (!st->ready)
            return edr_err_set(err, EDR_E_INTERNAL, "open: stream used after an error");
        if (st->cbuf_len < EDR_SEAL_ABYTES)
            return truncated(st, err);
        rc = open_chunk(st, st->cbuf, st->cbuf_len, &tag, err);
        st->cbuf_len = 0;
        if (rc != EDR_OK)
            return rc;
        if (tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
            return truncated(st, err);
    }
    return edr_stream_finish(s->next, err);
}

static void
open_free(struct edr_stream *s)
{
    struct open_stream *st = (struct open_stream *)s;

    if (st == NULL)
        return;
    sodium_free(st->state);
    sodium_free(st->scratch);
    if (st->plain != NULL)
        sodium_memzero(st->plain, st->chunk);
    free(st->plain);
    free(st->cbuf);
    free(st);
}

static const struct edr_stream_ops open_ops = {"open", open_write, open_finish, open_free};

edr_rc
edr_stream_open_new(struct edr_stream *next, struct edr_identity *identity, struct edr_stream **out,
                    struct edr_err *err)
{
    struct open_stream *st;
    edr_rc rc;

    *out = NULL;
    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &open_ops;
    st->base.next = next;
    st->identity = identity;
    st->hdr_need = EDR_SEAL_FIXED_LEN;
    *out = &st->base;
    return EDR_OK;
}

int
edr_stream_open_header_done(const struct edr_stream *s)
{
    return ((const struct open_stream *)s)->header_done;
}

int
edr_stream_open_encrypted(const struct edr_stream *s)
{
    return ((const struct open_stream *)s)->encrypted;
}

size_t
edr_stream_open_recipient_count(const struct edr_stream *s)
{
    const struct open_stream *st = (const struct open_stream *)s;

    return st->header_done ? st->n_recipients : 0;
}

const char *
edr_stream_open_recipient_id(const struct edr_stream *s, size_t i)
{
    const struct open_stream *st = (const struct open_stream *)s;

    if (!st->header_done || i >= st->n_recipients)
        return NULL;
    return st->ids[i];
}

uint64_t
edr_stream_open_plain_size(const struct edr_stream *s)
{
    return ((const struct open_stream *)s)->plain_size;
}
