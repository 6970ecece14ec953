/*
 * Unit tests of the data file format: seal -> open round trips with odd
 * write sizes and chunk-boundary sizes, recipients, wrong or missing keys,
 * and every kind of tampering, each with its exact error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/basic.h"
#include "stream/open.h"
#include "stream/seal.h"
#include "../support.h"

#define CH (EDR_SEAL_CHUNK_KIB * 1024)

static struct edr_identity *ids[3];
static struct edr_pubkey pubs[3];

static int
setup(void **state)
{
    struct edr_err err;
    (void)state;
    for (int i = 0; i < 3; i++) {
        uint8_t sk[32];
        memset(sk, i + 1, sizeof(sk));
        if (edr_identity_from_secret(sk, &ids[i], &err) != EDR_OK)
            return -1;
        pubs[i] = *edr_identity_pubkey(ids[i]);
    }
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        edr_identity_free(ids[i]);
    return 0;
}

static uint8_t *
seal(const uint8_t *buf, size_t len, const struct edr_pubkey *r, size_t n, unsigned flags,
     size_t split, size_t *out_len)
{
    struct edr_err err;
    struct edr_stream *mem = NULL, *s = NULL;
    const uint8_t *d;
    uint8_t *copy;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "sealed", &mem, &err), EDR_OK);
    assert_int_equal(edr_stream_seal_new(mem, r, n, flags, &s, &err), EDR_OK);
    assert_int_equal(tu_feed_finish(s, buf, len, split, len, &err), EDR_OK);
    d = edr_stream_mem_data(mem, out_len);
    copy = malloc(*out_len + 1);
    memcpy(copy, d, *out_len);
    edr_stream_free(s);
    edr_stream_free(mem);
    return copy;
}

/* Open; on success compare with want (if not NULL). */
static edr_rc
open_it(const uint8_t *c, size_t clen, struct edr_identity *id, size_t split, const uint8_t *want,
        size_t want_len, struct edr_err *err)
{
    struct edr_stream *mem = NULL, *o = NULL;
    edr_rc rc;

    assert_int_equal(edr_stream_mem_new(SIZE_MAX, "plain", &mem, err), EDR_OK);
    assert_int_equal(edr_stream_open_new(mem, id, &o, err), EDR_OK);
    rc = tu_feed_finish(o, c, clen, split, clen, err);
    if (rc == EDR_OK && want != NULL) {
        size_t len;
        const uint8_t *d = edr_stream_mem_data(mem, &len);
        assert_int_equal(len, want_len);
        if (len > 0)
            assert_memory_equal(d, want, len);
        assert_int_equal(edr_stream_open_plain_size(o), want_len);
    }
    edr_stream_free(o);
    edr_stream_free(mem);
    return rc;
}

static void
test_roundtrip(void **state)
{
    size_t sizes[] = {0, 1, 17, CH - 1, CH, CH + 1, 2 * CH, 3 * CH + 1000, 1000003};
    uint8_t *buf = malloc(1000003);
    (void)state;

    tu_random(buf, 1000003, 42);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        for (int sp = 0; sp < TU_NSPLITS; sp++) {
            struct edr_err err;
            size_t clen;
            uint8_t *c;
            if (sizes[i] > 3 * CH && tu_splits[sp] == 1)
                continue;
            c = seal(buf, sizes[i], pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, tu_splits[sp], &clen);
            assert_int_equal(clen, edr_seal_stored_size(sizes[i], 1, EDR_SEAL_FLAG_ENCRYPTED));
            assert_int_equal(clen, 36 + 88 + sizes[i] + 17 * (sizes[i] / CH + 1));
            assert_memory_equal(c, "EDRBAK\1\1\1\0\0\100", 12);
            assert_int_equal(
                open_it(c, clen, ids[0], tu_splits[(sp + 1) % TU_NSPLITS], buf, sizes[i], &err),
                EDR_OK);
            free(c);

            c = seal(buf, sizes[i], NULL, 0, 0, tu_splits[sp], &clen);
            assert_int_equal(clen, 8 + sizes[i]);
            assert_int_equal(clen, edr_seal_stored_size(sizes[i], 0, 0));
            assert_memory_equal(c, "EDRBAK\1\0", 8);
            /* unencrypted files open with or without identity */
            assert_int_equal(open_it(c, clen, NULL, tu_splits[sp], buf, sizes[i], &err), EDR_OK);
            assert_int_equal(open_it(c, clen, ids[1], 3, buf, sizes[i], &err), EDR_OK);
            free(c);
        }
    }
    free(buf);
}

static void
test_fresh_key_each_time(void **state)
{
    uint8_t buf[100] = {0}, *a, *b;
    size_t la, lb;
    (void)state;

    a = seal(buf, sizeof(buf), pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, 0, &la);
    b = seal(buf, sizeof(buf), pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, 0, &lb);
    assert_int_equal(la, lb);
    assert_memory_not_equal(a + 20, b + 20, la - 20);
    free(a);
    free(b);
}

static void
test_recipients(void **state)
{
    struct edr_err err;
    struct edr_stream *o = NULL;
    uint8_t buf[5000], *c;
    size_t clen;
    char msg[300];
    (void)state;

    tu_random(buf, sizeof(buf), 1);
    c = seal(buf, sizeof(buf), pubs, 2, EDR_SEAL_FLAG_ENCRYPTED, 7, &clen);
    assert_int_equal(open_it(c, clen, ids[0], 1, buf, sizeof(buf), &err), EDR_OK);
    assert_int_equal(open_it(c, clen, ids[1], 65537, buf, sizeof(buf), &err), EDR_OK);

    /* wrong key */
    assert_int_equal(open_it(c, clen, ids[2], 7, NULL, 0, &err), EDR_E_KEY);
    snprintf(msg, sizeof(msg), "backup is not encrypted to key %s (recipients: %s, %s)", pubs[2].id,
             pubs[0].id, pubs[1].id);
    assert_string_equal(err.msg, msg);

    /* no identity: key error once the header is read; getters still work */
    assert_int_equal(edr_stream_open_new(NULL, NULL, &o, &err), EDR_OK);
    assert_int_equal(edr_stream_open_header_done(o), 0);
    assert_int_equal(edr_stream_open_recipient_count(o), 0);
    assert_int_equal(edr_stream_write(o, c, 100, &err), EDR_OK); /* header is 36+176 bytes */
    assert_int_equal(tu_feed(o, c + 100, clen - 100, 1, 0, &err), EDR_E_KEY);
    assert_string_equal(err.msg, "backup is encrypted; an identity (--identity) is required");
    snprintf(msg, sizeof(msg), "the backup is encrypted to key %s, %s", pubs[0].id, pubs[1].id);
    assert_string_equal(err.hint, msg);
    assert_int_equal(edr_stream_open_header_done(o), 1);
    assert_int_equal(edr_stream_open_encrypted(o), 1);
    assert_int_equal(edr_stream_open_recipient_count(o), 2);
    assert_string_equal(edr_stream_open_recipient_id(o, 0), pubs[0].id);
    assert_string_equal(edr_stream_open_recipient_id(o, 1), pubs[1].id);
    assert_null(edr_stream_open_recipient_id(o, 2));
    /* used after the error: refused, no crash */
    assert_int_equal(edr_stream_write(o, "x", 1, &err), EDR_E_INTERNAL);
    edr_stream_free(o);
    free(c);
}

static void
test_seal_bad_args(void **state)
{
    struct edr_pubkey many[33];
    struct edr_stream *s = NULL;
    struct edr_err err;
    char msg[200];
    (void)state;

    for (int i = 0; i < 33; i++) {
        uint8_t k[32];
        memset(k, 0, sizeof(k));
        k[0] = (uint8_t)(i + 9);
        edr_pubkey_from_raw(&many[i], k);
    }
    assert_int_equal(edr_stream_seal_new(NULL, many, 33, EDR_SEAL_FLAG_ENCRYPTED, &s, &err),
                     EDR_E_USAGE);
    assert_string_equal(err.msg, "too many recipients (33, at most 32)");
    assert_int_equal(edr_stream_seal_new(NULL, many, 0, EDR_SEAL_FLAG_ENCRYPTED, &s, &err),
                     EDR_E_USAGE);
    assert_string_equal(err.msg, "no recipient for an encrypted backup");
    many[2] = many[0];
    assert_int_equal(edr_stream_seal_new(NULL, many, 3, EDR_SEAL_FLAG_ENCRYPTED, &s, &err),
                     EDR_E_USAGE);
    snprintf(msg, sizeof(msg), "recipient %s given twice", many[0].id);
    assert_string_equal(err.msg, msg);
    assert_null(s);
}

/* Open a modified copy and expect code + message. */
static void
expect(const uint8_t *c, size_t clen, struct edr_identity *id, edr_rc code, const char *msg)
{
    for (int sp = 0; sp < TU_NSPLITS; sp++) {
        struct edr_err err;
        edr_err_clear(&err);
        assert_int_equal(open_it(c, clen, id, tu_splits[sp], NULL, 0, &err), code);
        if (strcmp(err.msg, msg) != 0)
            fail_msg("split %zu: got '%s', want '%s'", tu_splits[sp], err.msg, msg);
    }
}

static void
flip_expect(uint8_t *c, size_t clen, size_t at, edr_rc code, const char *msg)
{
    c[at] ^= 0x01;
    expect(c, clen, ids[0], code, msg);
    c[at] ^= 0x01;
}

static void
test_tamper(void **state)
{
    size_t plen = 3 * CH + 1000, clen, hdr = 36 + 2 * 88, full = CH + 17;
    uint8_t *buf = malloc(plen), *c;
    char msg[300];
    (void)state;

    tu_random(buf, plen, 7);
    /* two recipients: ids[0] (ours) and ids[1] */
    c = seal(buf, plen, pubs, 2, EDR_SEAL_FLAG_ENCRYPTED, 0, &clen);
    assert_int_equal(clen, hdr + 3 * full + 1017);

    for (size_t i = 0; i < 6; i++)
        flip_expect(c, clen, i, EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)");
    flip_expect(c, clen, 6, EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)"); /* version */
    c[6] = 2;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)");
    c[6] = 1;
    c[7] = 3;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "unsupported data file flags 0x03");
    c[7] = 1;
    c[8] = 0;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "corrupt header: 0 recipients");
    c[8] = 33;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "corrupt header: 33 recipients");
    c[8] = 2;
    flip_expect(c, clen, 9, EDR_E_INTEGRITY, "corrupt header: reserved byte is 1");
    c[10] = 0x10;
    c[11] = 1;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "corrupt header: chunk size 4097 KiB");
    c[10] = 0;
    c[11] = 0;
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "corrupt header: chunk size 0 KiB");
    c[11] = 65; /* plausible but wrong chunk size */
    expect(c, clen, ids[0], EDR_E_INTEGRITY, "chunk 1: authentication failed");
    c[11] = 64;

    /* our recipient entry: key id, then sealed key */
    {
        uint8_t saved = c[12];
        char flipped[17];
        c[12] ^= 0x01;
        edr_hex(c + 12, 8, flipped);
        snprintf(msg, sizeof(msg), "backup is not encrypted to key %s (recipients: %s, %s)",
                 pubs[0].id, flipped, pubs[1].id);
        expect(c, clen, ids[0], EDR_E_KEY, msg);
        c[12] = saved;
    }
    snprintf(msg, sizeof(msg),
             "unable to unseal the data key with key %s (corrupt header or wrong key)", pubs[0].id);
    flip_expect(c, clen, 12 + 8 + 40, EDR_E_KEY, msg);
    /* the other recipient's entry is covered by chunk 1's additional data */
    flip_expect(c, clen, 12 + 88 + 3, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    flip_expect(c, clen, 12 + 88 + 50, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    /* secretstream header */
    flip_expect(c, clen, hdr - 24, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    flip_expect(c, clen, hdr - 1, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    /* chunks: first, middle, last; tag byte and MAC */
    flip_expect(c, clen, hdr, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    flip_expect(c, clen, hdr + full - 1, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    flip_expect(c, clen, hdr + full + 5000, EDR_E_INTEGRITY, "chunk 2: authentication failed");
    flip_expect(c, clen, hdr + 2 * full + 17, EDR_E_INTEGRITY, "chunk 3: authentication failed");
    flip_expect(c, clen, hdr + 3 * full, EDR_E_INTEGRITY, "chunk 4: authentication failed");
    flip_expect(c, clen, clen - 1, EDR_E_INTEGRITY, "chunk 4: authentication failed");

    /* truncations */
    expect(c, clen - 1, ids[0], EDR_E_INTEGRITY, "chunk 4: authentication failed");
    expect(c, hdr + 3 * full, ids[0], EDR_E_INTEGRITY,
           "truncated: final chunk missing after chunk 3");
    expect(c, hdr + 3 * full + 16, ids[0], EDR_E_INTEGRITY,
           "truncated: final chunk missing after chunk 3");
    expect(c, hdr + full, ids[0], EDR_E_INTEGRITY, "truncated: final chunk missing after chunk 1");
    expect(c, clen / 2, ids[0], EDR_E_INTEGRITY, "chunk 2: authentication failed");
    expect(c, hdr, ids[0], EDR_E_INTEGRITY, "truncated: final chunk missing after the header");
    expect(c, hdr - 1, ids[0], EDR_E_INTEGRITY, "truncated: incomplete header");
    expect(c, 5, ids[0], EDR_E_INTEGRITY, "truncated: incomplete header");
    expect(c, 0, ids[0], EDR_E_INTEGRITY, "truncated: incomplete header");

    /* swapping two full chunks */
    {
        uint8_t *tmp = malloc(full);
        memcpy(tmp, c + hdr + full, full);
        memcpy(c + hdr + full, c + hdr + 2 * full, full);
        memcpy(c + hdr + 2 * full, tmp, full);
        expect(c, clen, ids[0], EDR_E_INTEGRITY, "chunk 2: authentication failed");
        memcpy(c + hdr + 2 * full, c + hdr + full, full);
        memcpy(c + hdr + full, tmp, full);
        free(tmp);
    }

    /* appended bytes */
    c = realloc(c, clen + full + 100);
    c[clen] = 0;
    expect(c, clen + 1, ids[0], EDR_E_INTEGRITY, "trailing data after final chunk");
    memset(c + clen, 'x', 64);
    expect(c, clen + 64, ids[0], EDR_E_INTEGRITY, "trailing data after final chunk");
    /* much more than a few bytes: the last chunk no longer authenticates */
    memset(c + clen, 'x', full);
    expect(c, clen + full, ids[0], EDR_E_INTEGRITY, "chunk 4: authentication failed");

    /* and the untouched file still opens */
    expect(c, clen, ids[0], EDR_OK, "");
    free(c);
    free(buf);
}

static void
test_tamper_boundaries(void **state)
{
    size_t plen = 2 * CH, clen, hdr = 36 + 88, full = CH + 17;
    uint8_t *buf = malloc(plen + 10), *c;
    (void)state;

    tu_random(buf, plen, 8);
    /* exact multiple: ends with an empty final chunk */
    c = seal(buf, plen, pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, 65537, &clen);
    assert_int_equal(clen, hdr + 2 * full + 17);
    expect(c, clen - 17, ids[0], EDR_E_INTEGRITY, "truncated: final chunk missing after chunk 2");
    expect(c, clen - 1, ids[0], EDR_E_INTEGRITY, "truncated: final chunk missing after chunk 2");
    flip_expect(c, clen, clen - 17, EDR_E_INTEGRITY, "chunk 3: authentication failed");
    c = realloc(c, clen + 1);
    c[clen] = '\n';
    expect(c, clen + 1, ids[0], EDR_E_INTEGRITY, "trailing data after final chunk");
    free(c);

    /* final chunk of CH-1 bytes (CH+16 ciphertext): one appended byte makes a
     * full-size piece that is decrypted as a message chunk first */
    c = seal(buf, CH - 1, pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, 7, &clen);
    assert_int_equal(clen, hdr + full - 1);
    c = realloc(c, clen + 1);
    c[clen] = 'x';
    expect(c, clen + 1, ids[0], EDR_E_INTEGRITY, "trailing data after final chunk");
    free(c);

    /* empty plaintext: just the final chunk */
    c = seal(buf, 0, pubs, 1, EDR_SEAL_FLAG_ENCRYPTED, 1, &clen);
    assert_int_equal(clen, hdr + 17);
    expect(c, clen, ids[0], EDR_OK, "");
    expect(c, clen - 1, ids[0], EDR_E_INTEGRITY, "truncated: final chunk missing after the header");
    flip_expect(c, clen, hdr + 3, EDR_E_INTEGRITY, "chunk 1: authentication failed");
    free(c);
    free(buf);
}

static void
test_unencrypted_bad(void **state)
{
    uint8_t junk[100];
    (void)state;

    memcpy(junk, "EDRBAK\1\0payload", 15);
    expect(junk, 15, NULL, EDR_OK, "");
    expect(junk, 7, NULL, EDR_E_INTEGRITY, "truncated: incomplete header");
    memcpy(junk, "\x28\xb5\x2f\xfd", 4); /* a bare zstd file */
    expect(junk, 15, NULL, EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)");
    expect(junk, 1, NULL, EDR_E_INTEGRITY, "not an etcd-dr backup (bad magic)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),       cmocka_unit_test(test_fresh_key_each_time),
        cmocka_unit_test(test_recipients),      cmocka_unit_test(test_seal_bad_args),
        cmocka_unit_test(test_tamper),          cmocka_unit_test(test_tamper_boundaries),
        cmocka_unit_test(test_unencrypted_bad),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
