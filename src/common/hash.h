/*
 * Hash primitives shared by every layer: SHA-256 (snapshot trailers, stored
 * object hashes) and SHA-1 (etcd's member ids) from OpenSSL's libcrypto, and
 * CRC-32C (WAL, raft snapshot files, `snapshot status` hash) implemented here
 * with the SSE4.2 instruction when the CPU has it.
 */
#ifndef EDR_COMMON_HASH_H
#define EDR_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

#define EDR_SHA256_LEN 32

struct edr_sha256 {
    void *ctx; /* EVP_MD_CTX */
};

/* Returns 0 on success, -1 when libcrypto cannot allocate. */
int edr_sha256_init(struct edr_sha256 *h);
void edr_sha256_update(struct edr_sha256 *h, const void *buf, size_t len);
void edr_sha256_final(struct edr_sha256 *h, uint8_t out[EDR_SHA256_LEN]);
void edr_sha256_release(struct edr_sha256 *h); /* safe after final or on an init'ed ctx */
void edr_sha256_buf(const void *buf, size_t len, uint8_t out[EDR_SHA256_LEN]);

void edr_sha1_buf(const void *buf, size_t len, uint8_t out[20]);

/* Standard CRC-32C (Castagnoli, reflected, init/xorout 0xFFFFFFFF); `crc` is
 * the result so far (0 to start), like Go's crc32.Update. */
uint32_t edr_crc32c(uint32_t crc, const void *buf, size_t len);

/* CRC-32C of A|B from crc1 = CRC of A and crc2 = CRC of B (len2 bytes). */
uint32_t edr_crc32c_combine(uint32_t crc1, uint32_t crc2, uint64_t len2);

/* Lower-case hex of len bytes into out (2*len+1 bytes). */
void edr_hex(const uint8_t *buf, size_t len, char *out);
/* Parse 2*len hex chars; returns 0 or -1. */
/* The value of one hex digit (either case), or -1. */
int edr_hexval(int c);
int edr_unhex(const char *hex, uint8_t *out, size_t len);

#endif
