/*
 * Unit tests of src/common/hash.c: SHA-256/SHA-1 known vectors, CRC-32C
 * known vectors through both the SSE4.2 and the table implementation, CRC
 * combination, hex and unhex.
 *
 * The table path of CRC-32C is forced by compiling a second copy of hash.c
 * into this test with the CPU feature probe answering "no" and its extern
 * names renamed; the library's copy picks the hardware path when the CPU has
 * it. Both are compared with a bit-at-a-time reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"

/* ---- the table-only copy of hash.c (its own #include of hash.h is a no-op
 * now, so the renamed functions are declared here) ---- */
int sw_sha256_init(struct edr_sha256 *h);
void sw_sha256_update(struct edr_sha256 *h, const void *buf, size_t len);
void sw_sha256_final(struct edr_sha256 *h, uint8_t out[EDR_SHA256_LEN]);
void sw_sha256_release(struct edr_sha256 *h);
void sw_sha256_buf(const void *buf, size_t len, uint8_t out[EDR_SHA256_LEN]);
void sw_sha1_buf(const void *buf, size_t len, uint8_t out[20]);
uint32_t sw_crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t sw_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);
void sw_hex(const uint8_t *buf, size_t len, char *out);
int sw_unhex(const char *hex, uint8_t *out, size_t len);
int sw_hexval(int c);

#define edr_sha256_init sw_sha256_init
#define edr_sha256_update sw_sha256_update
#define edr_sha256_final sw_sha256_final
#define edr_sha256_release sw_sha256_release
#define edr_sha256_buf sw_sha256_buf
#define edr_sha1_buf sw_sha1_buf
#define edr_crc32c sw_crc32c
#define edr_crc32c_combine sw_crc32c_combine
#define edr_hex sw_hex
#define edr_unhex sw_unhex
#define edr_hexval sw_hexval
#define __builtin_cpu_supports(feature) 0
#include "common/hash.c"
#undef __builtin_cpu_supports
#undef edr_hexval
#undef edr_sha256_init
#undef edr_sha256_update
#undef edr_sha256_final
#undef edr_sha256_release
#undef edr_sha256_buf
#undef edr_sha1_buf
#undef edr_crc32c
#undef edr_crc32c_combine
#undef edr_hex
#undef edr_unhex

static void
hexof(const uint8_t *b, size_t n, char *out)
{
    edr_hex(b, n, out);
}

static void
test_sha(void **state)
{
    uint8_t d[32], d2[32];
    char hex[65];
    struct edr_sha256 h;
    const char *abc2 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    (void)state;

    edr_sha256_buf("", 0, d);
    hexof(d, 32, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    edr_sha256_buf("abc", 3, d);
    hexof(d, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    edr_sha256_buf(abc2, strlen(abc2), d);
    hexof(d, 32, hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* incremental in 1-byte and odd pieces */
    for (size_t step = 1; step < 10; step += 4) {
        assert_int_equal(edr_sha256_init(&h), 0);
        for (size_t i = 0; i < strlen(abc2); i += step) {
            size_t n = strlen(abc2) - i < step ? strlen(abc2) - i : step;
            edr_sha256_update(&h, abc2 + i, n);
        }
        edr_sha256_update(&h, "", 0);
        edr_sha256_final(&h, d2);
        edr_sha256_release(&h);
        edr_sha256_release(&h);
        assert_memory_equal(d, d2, 32);
    }
    edr_sha256_release(NULL);
    edr_sha1_buf("abc", 3, d);
    hexof(d, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
}

/* bit-at-a-time CRC-32C, the definition */
static uint32_t
ref_crc32c(uint32_t crc, const uint8_t *p, size_t len)
{
    uint32_t c = ~crc;

    while (len-- > 0) {
        c ^= *p++;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void
crc_vectors(crc_fn f)
{
    uint8_t b[48];

    assert_int_equal(f(0, "", 0), 0);
    assert_int_equal(f(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(f(0, "a", 1), 0xC1D04330u);
    /* RFC 3720 B.4 */
    memset(b, 0, 32);
    assert_int_equal(f(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, 32);
    assert_int_equal(f(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(f(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(f(0, b, 32), 0x113FDB5Cu);
    {
        static const uint8_t iscsi[48] = {
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
            0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        assert_int_equal(f(0, iscsi, 48), 0xD9963A56u);
    }
    /* Go-style continuation: crc of the parts chained equals the whole */
    assert_int_equal(f(f(0, "1234", 4), "56789", 5), 0xE3069283u);
}

static void
crc_random(crc_fn f)
{
    size_t n = 70000;
    uint8_t *buf = malloc(n + 16);
    uint64_t x = 88172645463325252ull;

    assert_non_null(buf);
    for (size_t i = 0; i < n + 16; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    /* every alignment and short length */
    for (size_t off = 0; off < 16; off++)
        for (size_t len = 0; len < 80; len++)
            assert_int_equal(f(0, buf + off, len), ref_crc32c(0, buf + off, len));
    for (size_t off = 0; off < 9; off++)
        assert_int_equal(f(0, buf + off, n), ref_crc32c(0, buf + off, n));
    /* around the interleaved block sizes (3 x 512, 3 x 4096) */
    {
        static const size_t lens[] = {1535,  1536,  1537,  3071,  3072,  4607, 12287,
                                      12288, 12289, 13824, 13825, 24576, 36871};
        for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
            for (size_t off = 0; off < 3; off++)
                assert_int_equal(f(0x9u + (uint32_t)i, buf + off, lens[i]),
                                 ref_crc32c(0x9u + (uint32_t)i, buf + off, lens[i]));
    }
    /* chained at odd split points, with a non-zero start value */
    for (size_t cut = 0; cut < 200; cut += 13) {
        uint32_t c = f(0x12345678u, buf, cut);
        c = f(c, buf + cut, n - cut);
        assert_int_equal(c, ref_crc32c(0x12345678u, buf, n));
    }
    free(buf);
}

static void
test_crc32c_library(void **state)
{
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2"))
        print_message("# library CRC-32C uses the SSE4.2 instruction\n");
    else
        print_message("# no SSE4.2: library CRC-32C uses the table as well\n");
#endif
    crc_vectors(edr_crc32c);
    crc_random(edr_crc32c);
}

/* CRC of A|B from the CRCs of A and B, for splits of every size near the
 * powers of two the combination works by, and of 0 and 1 byte. */
static void
test_crc32c_combine(void **state)
{
    static uint8_t buf[70000];
    uint32_t seed = 7;
    (void)state;

    for (size_t i = 0; i < sizeof(buf); i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (size_t a = 0; a < 300; a += 37) {
        for (size_t b = 0; b + a <= sizeof(buf); b = b < 4 ? b + 1 : b * 2 + 3) {
            uint32_t ca = ref_crc32c(0, buf, a), cb = ref_crc32c(0, buf + a, b);
            assert_int_equal(edr_crc32c_combine(ca, cb, b), ref_crc32c(0, buf, a + b));
        }
    }
    /* chained, as the walk does it: one piece after the other */
    {
        uint32_t c = 0;
        size_t off = 0;
        for (size_t n = 1; off + n <= sizeof(buf); off += n, n = n * 3 + 1)
            c = edr_crc32c_combine(c, ref_crc32c(0, buf + off, n), n);
        assert_int_equal(c, ref_crc32c(0, buf, off));
    }
}

static void
test_crc32c_table(void **state)
{
    (void)state;
    crc_vectors(sw_crc32c);
    crc_random(sw_crc32c);
    assert_int_equal(crc_hw, 0); /* this copy really took the table path */
}

static void
test_hex(void **state)
{
    static const uint8_t bytes[] = {0x00, 0xff, 0x0a, 0xb5, 0x7e};
    uint8_t out[8], rnd[32], back[32];
    char hex[65];
    (void)state;

    edr_hex(bytes, sizeof(bytes), hex);
    assert_string_equal(hex, "00ff0ab57e");
    edr_hex(bytes, 0, hex);
    assert_string_equal(hex, "");

    memset(out, 0, sizeof(out));
    assert_int_equal(edr_unhex("00ff0ab57e", out, 5), 0);
    assert_memory_equal(out, bytes, 5);
    assert_int_equal(edr_unhex("00FF0AB57E", out, 5), 0);
    assert_memory_equal(out, bytes, 5);
    assert_int_equal(edr_unhex("", out, 0), 0);
    /* wrong length, bad digits */
    assert_int_equal(edr_unhex("00ff0ab5", out, 5), -1);
    assert_int_equal(edr_unhex("00ff0ab57", out, 5), -1);
    assert_int_equal(edr_unhex("00ff0ab57e0", out, 5), -1);
    assert_int_equal(edr_unhex("00ff0ab57e00", out, 5), -1);
    assert_int_equal(edr_unhex("0g", out, 1), -1);
    assert_int_equal(edr_unhex("g0", out, 1), -1);
    assert_int_equal(edr_unhex(" 0", out, 1), -1);
    assert_int_equal(edr_unhex("0:", out, 1), -1);
    assert_int_equal(edr_unhex("@0", out, 1), -1);
    assert_int_equal(edr_unhex("0G", out, 1), -1);
    for (int s = 0; s < 20; s++) {
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (uint8_t)(i * 37 + (size_t)s * 101);
        edr_hex(rnd, sizeof(rnd), hex);
        assert_int_equal(strlen(hex), 64);
        assert_int_equal(edr_unhex(hex, back, sizeof(back)), 0);
        assert_memory_equal(rnd, back, sizeof(rnd));
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha),          cmocka_unit_test(test_crc32c_library),
        cmocka_unit_test(test_crc32c_table), cmocka_unit_test(test_crc32c_combine),
        cmocka_unit_test(test_hex),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
