/*
 * SHA-256 and SHA-1 through libcrypto's EVP interface (SHA-NI accelerated,
 * about 4x libsodium's SHA-256 here), CRC-32C in software with a slicing-by-8
 * table, or with the SSE4.2 crc32 instruction when available.
 */
#include "common/hash.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <string.h>

int
edr_sha256_init(struct edr_sha256 *h)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    h->ctx = NULL;
    if (ctx == NULL)
        return -1;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return -1;
    }
    h->ctx = ctx;
    return 0;
}

void
edr_sha256_update(struct edr_sha256 *h, const void *buf, size_t len)
{
    if (len > 0)
        EVP_DigestUpdate(h->ctx, buf, len);
}

void
edr_sha256_final(struct edr_sha256 *h, uint8_t out[EDR_SHA256_LEN])
{
    unsigned int n = 0;

    EVP_DigestFinal_ex(h->ctx, out, &n);
}

void
edr_sha256_release(struct edr_sha256 *h)
{
    if (h != NULL && h->ctx != NULL) {
        EVP_MD_CTX_free(h->ctx);
        h->ctx = NULL;
    }
}

void
edr_sha256_buf(const void *buf, size_t len, uint8_t out[EDR_SHA256_LEN])
{
    SHA256(buf, len, out);
}

void
edr_sha1_buf(const void *buf, size_t len, uint8_t out[20])
{
    SHA1(buf, len, out);
}

static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;
static int crc_hw;

/* Three-way interleaving (hardware path): three CRCs over adjacent blocks of
 * CRC_BLOCK[t] bytes run in parallel (the crc32 instruction has a latency of
 * three cycles and a throughput of one), then are joined: CRC-32C is linear,
 * so crc(A|B|C) = shift(2n, crc(A)) ^ shift(n, crc0(B)) ^ crc0(C), where
 * shift(n, x) is the register x advanced over n zero bytes. crc_shift[t][s]
 * holds that map for s+1 blocks, as four byte-indexed tables. */
static const size_t CRC_BLOCK[2] = {4096, 512};
static uint32_t crc_shift[2][2][4][256];

static uint32_t
crc_zeros(uint32_t c, size_t n)
{
    while (n-- > 0)
        c = (c >> 8) ^ crc_table[0][c & 0xff];
    return c;
}

static void
crc_init_shifts(void)
{
    for (int t = 0; t < 2; t++)
        for (int s = 0; s < 2; s++) {
            uint32_t basis[32];
            for (int bit = 0; bit < 32; bit++)
                basis[bit] = crc_zeros(1u << bit, CRC_BLOCK[t] * (size_t)(s + 1));
            for (int k = 0; k < 4; k++)
                for (uint32_t b = 0; b < 256; b++) {
                    uint32_t v = 0;
                    for (int j = 0; j < 8; j++)
                        if (b & (1u << j))
                            v ^= basis[8 * k + j];
                    crc_shift[t][s][k][b] = v;
                }
        }
}

static inline uint32_t
crc_shift_apply(const uint32_t tb[4][256], uint32_t x)
{
    return tb[0][x & 0xff] ^ tb[1][(x >> 8) & 0xff] ^ tb[2][(x >> 16) & 0xff] ^ tb[3][x >> 24];
}

static void
crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    crc_hw = __builtin_cpu_supports("sse4.2");
#endif
    if (crc_hw)
        crc_init_shifts();
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static uint32_t
crc_sse42(uint32_t c, const uint8_t *p, size_t len)
{
    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = __builtin_ia32_crc32qi(c, *p++);
        len--;
    }
    for (int t = 0; t < 2; t++) {
        size_t n = CRC_BLOCK[t];
        while (len >= 3 * n) {
            uint64_t a = c, b = 0, d = 0;
            for (size_t i = 0; i < n; i += 8) {
                uint64_t va, vb, vd;
                memcpy(&va, p + i, 8);
                memcpy(&vb, p + n + i, 8);
                memcpy(&vd, p + 2 * n + i, 8);
                a = __builtin_ia32_crc32di(a, va);
                b = __builtin_ia32_crc32di(b, vb);
                d = __builtin_ia32_crc32di(d, vd);
            }
            c = crc_shift_apply(crc_shift[t][1], (uint32_t)a) ^
                crc_shift_apply(crc_shift[t][0], (uint32_t)b) ^ (uint32_t)d;
            p += 3 * n;
            len -= 3 * n;
        }
    }
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = (uint32_t)__builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = __builtin_ia32_crc32qi(c, *p++);
    return c;
}
#endif

uint32_t
edr_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;

    pthread_once(&crc_once, crc_init);
#if defined(__x86_64__) && defined(__GNUC__)
    if (crc_hw)
        return ~crc_sse42(c, p, len);
#endif
    while (len >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
            crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
            crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len-- > 0)
        c = (c >> 8) ^ crc_table[0][(c ^ *p++) & 0xff];
    return ~c;
}

/* a * b modulo the CRC polynomial, both reflected (bit 31 is x^0). */
static uint32_t
crc_mulmod(uint32_t a, uint32_t b)
{
    uint32_t p = 0;

    for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
        if (a & m)
            p ^= b;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : b >> 1;
    }
    return p;
}

/* crc_pow8[i] = x^(8 * 2^i) modulo the polynomial */
static uint32_t crc_pow8[64];
static pthread_once_t crc_pow_once = PTHREAD_ONCE_INIT;

static void
crc_init_pow8(void)
{
    crc_pow8[0] = 1u << 23; /* x^8 */
    for (int i = 1; i < 64; i++)
        crc_pow8[i] = crc_mulmod(crc_pow8[i - 1], crc_pow8[i - 1]);
}

uint32_t
edr_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2)
{
    /* crc(A|B) = crc1 * x^(8 * len2) ^ crc2: the initial value and final
     * xor cancel out */
    uint32_t x = 1u << 31; /* x^0 */

    pthread_once(&crc_pow_once, crc_init_pow8);
    for (int i = 0; len2 != 0; i++, len2 >>= 1)
        if (len2 & 1)
            x = crc_mulmod(x, crc_pow8[i]);
    return crc_mulmod(x, crc1) ^ crc2;
}

void
edr_hex(const uint8_t *buf, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[buf[i] >> 4];
        out[2 * i + 1] = digits[buf[i] & 15];
    }
    out[2 * len] = '\0';
}

int
edr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
edr_unhex(const char *hex, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = edr_hexval(hex[2 * i]), lo;
        if (hi < 0)
            return -1;
        lo = edr_hexval(hex[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return hex[2 * len] == '\0' ? 0 : -1;
}
