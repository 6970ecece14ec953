/*
 * The seal filter: writes the data file header, then encrypts the payload in
 * fixed-size secretstream chunks. Plaintext is gathered into one chunk
 * buffer only when writes do not line up with chunks; whole chunks in the
 * input are encrypted straight from the caller's buffer into the single
 * output buffer, so each byte is copied at most once before encryption.
 */
#include "stream/seal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_MAX                                                                                 \
    (EDR_SEAL_FIXED_LEN + 4 + EDR_SEAL_RECIPIENT_LEN * EDR_SEAL_MAX_RECIPIENTS + EDR_SEAL_SS_HEADER)

struct seal_stream {
    struct edr_stream base;
    int encrypted;
    int header_sent;
    uint8_t header[HEADER_MAX];
    size_t header_len;
    crypto_secretstream_xchacha20poly1305_state *state; /* sodium_malloc */
    size_t chunk;                                       /* plaintext chunk size */
    uint8_t *plain; /* chunk buffer (malloc: the plaintext is not secret to us) */
    size_t plain_len;
    uint8_t *cipher; /* chunk + ABYTES */
    uint64_t nchunks;
};

size_t
edr_seal_header_len(size_t n, unsigned flags)
{
    if (!(flags & EDR_SEAL_FLAG_ENCRYPTED))
        return EDR_SEAL_FIXED_LEN;
    return EDR_SEAL_FIXED_LEN + 4 + EDR_SEAL_RECIPIENT_LEN * n + EDR_SEAL_SS_HEADER;
}

uint64_t
edr_seal_stored_size(uint64_t plain, size_t n, unsigned flags)
{
    uint64_t chunk = (uint64_t)EDR_SEAL_CHUNK_KIB * 1024;

    if (!(flags & EDR_SEAL_FLAG_ENCRYPTED))
        return EDR_SEAL_FIXED_LEN + plain;
    return edr_seal_header_len(n, flags) + plain + EDR_SEAL_ABYTES * (plain / chunk + 1);
}

static edr_rc
send_header(struct seal_stream *st, struct edr_err *err)
{
    if (st->header_sent)
        return EDR_OK;
    st->header_sent = 1;
    return edr_stream_write(st->base.next, st->header, st->header_len, err);
}

/* Encrypt len bytes from m as one chunk and push it. */
static edr_rc
push_chunk(struct seal_stream *st, const uint8_t *m, size_t len, unsigned char tag,
           struct edr_err *err)
{
    unsigned long long clen = 0;
    const uint8_t *ad = st->nchunks == 0 ? st->header : NULL;
    size_t adlen = st->nchunks == 0 ? st->header_len : 0;

    if (crypto_secretstream_xchacha20poly1305_push(st->state, st->cipher, &clen, m, len, ad, adlen,
                                                   tag) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "chunk %llu: encryption failed",
                           (unsigned long long)st->nchunks + 1);
    st->nchunks++;
    return edr_stream_write(st->base.next, st->cipher, (size_t)clen, err);
}

static edr_rc
seal_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct seal_stream *st = (struct seal_stream *)s;
    const uint8_t *p = buf;
    edr_rc rc;

    if ((rc = send_header(st, err)) != EDR_OK)
        return rc;
    if (!st->encrypted)
        return edr_stream_write(s->next, buf, len, err);
    while (len > 0) {
        if (st->plain_len == 0 && len >= st->chunk) {
            /* A whole chunk in the input: no copy. A full chunk is never the
             * final one (the final chunk is shorter), so encrypt it now. */
            if ((rc = push_chunk(st, p, st->chunk,
                                 crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, err)) != EDR_OK)
                return rc;
            p += st->chunk;
            len -= st->chunk;
            continue;
        }
        size_t n = st->chunk - st->plain_len;
        if (n > len)
            n = len;
        memcpy(st->plain + st->plain_len, p, n);
        st->plain_len += n;
        p += n;
        len -= n;
        if (st->plain_len == st->chunk) {
            rc = push_chunk(st, st->plain, st->chunk,
                            crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, err);
            st->plain_len = 0;
            if (rc != EDR_OK)
                return rc;
        }
    }
    return EDR_OK;
}

static edr_rc
seal_finish(struct edr_stream *s, struct edr_err *err)
{
    struct seal_stream *st = (struct seal_stream *)s;
    edr_rc rc;

    if ((rc = send_header(st, err)) != EDR_OK)
        return rc;
    if (st->encrypted) {
        rc = push_chunk(st, st->plain, st->plain_len,
                        crypto_secretstream_xchacha20poly1305_TAG_FINAL, err);
        st->plain_len = 0;
        if (rc != EDR_OK)
            return rc;
    }
    return edr_stream_finish(s->next, err);
}

static void
seal_free(struct edr_stream *s)
{
    struct seal_stream *st = (struct seal_stream *)s;

    if (st == NULL)
        return;
    sodium_free(st->state);
    if (st->plain != NULL)
        sodium_memzero(st->plain, st->chunk);
    free(st->plain);
    free(st->cipher);
    free(st);
}

static const struct edr_stream_ops seal_ops = {"seal", seal_write, seal_finish, seal_free};

edr_rc
edr_stream_seal_new(struct edr_stream *next, const struct edr_pubkey *recipients, size_t n,
                    unsigned flags, struct edr_stream **out, struct edr_err *err)
{
    struct seal_stream *st = NULL;
    unsigned char *key = NULL;
    uint8_t *h;
    edr_rc rc = EDR_OK;

    *out = NULL;
    if ((rc = edr_crypto_init(err)) != EDR_OK)
        return rc;
    if (flags & ~(unsigned)EDR_SEAL_FLAG_ENCRYPTED)
        return edr_err_set(err, EDR_E_INTERNAL, "seal: unknown flags 0x%x", flags);
    if (flags & EDR_SEAL_FLAG_ENCRYPTED) {
        if (n == 0)
            return edr_err_set(err, EDR_E_USAGE, "no recipient for an encrypted backup");
        if (n > EDR_SEAL_MAX_RECIPIENTS)
            return edr_err_set(err, EDR_E_USAGE, "too many recipients (%zu, at most %d)", n,
                               EDR_SEAL_MAX_RECIPIENTS);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (memcmp(recipients[i].key, recipients[j].key, EDR_KEY_LEN) == 0)
                    return edr_err_set(err, EDR_E_USAGE, "recipient %s given twice",
                                       recipients[i].id);
    } else if (n != 0) {
        return edr_err_set(err, EDR_E_INTERNAL, "seal: recipients for an unencrypted backup");
    }

    st = calloc(1, sizeof(*st));
    if (st == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    st->base.ops = &seal_ops;
    st->base.next = next;
    st->encrypted = (flags & EDR_SEAL_FLAG_ENCRYPTED) != 0;
    h = st->header;
    memcpy(h, EDR_SEAL_MAGIC, EDR_SEAL_MAGIC_LEN);
    h[6] = EDR_SEAL_VERSION;
    h[7] = (uint8_t)flags;
    st->header_len = edr_seal_header_len(n, flags);
    if (!st->encrypted)
        goto out;

    st->chunk = (size_t)EDR_SEAL_CHUNK_KIB * 1024;
    st->plain = malloc(st->chunk);
    st->cipher = malloc(st->chunk + EDR_SEAL_ABYTES);
    st->state = sodium_malloc(sizeof(*st->state));
    key = sodium_malloc(crypto_secretstream_xchacha20poly1305_KEYBYTES);
    if (st->plain == NULL || st->cipher == NULL || st->state == NULL || key == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    h[8] = (uint8_t)n;
    h[9] = 0;
    h[10] = (uint8_t)(EDR_SEAL_CHUNK_KIB >> 8);
    h[11] = (uint8_t)(EDR_SEAL_CHUNK_KIB & 0xff);
    crypto_secretstream_xchacha20poly1305_keygen(key);
    for (size_t i = 0; i < n; i++) {
        uint8_t *r = h + 12 + EDR_SEAL_RECIPIENT_LEN * i;
        memcpy(r, recipients[i].id_raw, EDR_KEY_ID_RAW_LEN);
        if (crypto_box_seal(r + EDR_KEY_ID_RAW_LEN, key, EDR_KEY_LEN, recipients[i].key) != 0) {
            rc = edr_err_set(err, EDR_E_KEY, "unable to seal the data key to recipient %s",
                             recipients[i].id);
            goto out;
        }
    }
    crypto_secretstream_xchacha20poly1305_init_push(st->state, h + 12 + EDR_SEAL_RECIPIENT_LEN * n,
                                                    key);
out:
    sodium_free(key);
    if (rc != EDR_OK) {
        seal_free(&st->base);
        return rc;
    }
    *out = &st->base;
    return EDR_OK;
}
