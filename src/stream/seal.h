/*
 * The etcd-dr data file ("<backup-id>.edr") and the filter that writes it:
 * an 8-byte header, then either the payload as is (unencrypted backups) or a
 * recipient list and libsodium secretstream chunks. The payload is a zstd
 * stream of a tar archive (see stream/zstd.h, stream/tar.h); this layer does
 * not care. stream/open.h reads the format back.
 *
 * DATA FILE FORMAT, version 1 (all integers big-endian)
 *
 *   offset  size  field
 *   0       6     magic "EDRBAK" (45 44 52 42 41 4b)
 *   6       1     format version = 1
 *   7       1     flags: bit 0 = encrypted; bits 1..7 must be 0
 *
 * Unencrypted (flags = 0): the payload follows at offset 8, to the end of
 * the file. There is no framing and no authentication at this layer; the
 * zstd content checksum and the manifest's stored hash detect damage.
 *
 * Encrypted (flags = 1):
 *   8       1     n = number of recipients, 1..32
 *   9       1     reserved, 0
 *   10      2     C = plaintext chunk size in KiB (writers use 64; readers
 *                 accept 1..4096)
 *   12      88*n  n recipient entries, each:
 *                   8 bytes  key id: the first 8 bytes of
 *                            crypto_generichash(public key) (BLAKE2b, 32-byte
 *                            output, no key); its hex is the key id shown to
 *                            users (crypto/keys.h)
 *                  80 bytes  crypto_box_seal(data key, recipient public key):
 *                            the 32-byte data key sealed to an X25519 key
 *   12+88n  24    crypto_secretstream_xchacha20poly1305 header
 *   36+88n  ...   chunks
 *
 * H = bytes 0 .. 36+88n-1 (everything up to and including the secretstream
 * header). The data key is random for each file
 * (crypto_secretstream_xchacha20poly1305_keygen); the secretstream state is
 * initialised from the data key and the 24-byte header.
 *
 * Chunks: the plaintext is cut into pieces of exactly C*1024 bytes; each is
 * encrypted with crypto_secretstream_xchacha20poly1305_push, tag
 * TAG_MESSAGE, giving C*1024+17 bytes. The rest (0 .. C*1024-1 bytes, so an
 * empty plaintext or one of a multiple of C*1024 bytes ends with an empty
 * chunk) is pushed last with TAG_FINAL, giving 17..C*1024+16 bytes. The first
 * chunk (whichever tag it has) is pushed with H as additional data, later
 * chunks with none: any change to the header fails authentication of chunk
 * 1. A reader therefore knows that a piece of C*1024+17 bytes is a message
 * chunk and that the final chunk is the shorter remainder at end of file. A
 * file must end right after the TAG_FINAL chunk; anything else (missing final
 * chunk, a message chunk tagged final, bytes after the final chunk) is
 * corrupt.
 *
 * Size of an encrypted file: 36 + 88n + P + 17 * (floor(P / (C*1024)) + 1)
 * for P bytes of plaintext.
 */
#ifndef EDR_STREAM_SEAL_H
#define EDR_STREAM_SEAL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "crypto/keys.h"
#include "stream/stream.h"

#define EDR_SEAL_MAGIC "EDRBAK"
#define EDR_SEAL_MAGIC_LEN 6
#define EDR_SEAL_VERSION 1
#define EDR_SEAL_FLAG_ENCRYPTED 0x01
#define EDR_SEAL_MAX_RECIPIENTS 32
#define EDR_SEAL_CHUNK_KIB 64
#define EDR_SEAL_MAX_CHUNK_KIB 4096
#define EDR_SEAL_ABYTES 17    /* crypto_secretstream_xchacha20poly1305_ABYTES */
#define EDR_SEAL_SS_HEADER 24 /* crypto_secretstream_xchacha20poly1305_HEADERBYTES */
#define EDR_SEAL_RECIPIENT_LEN (EDR_KEY_ID_RAW_LEN + EDR_KEY_SEALED_LEN) /* 88 */
#define EDR_SEAL_FIXED_LEN 8                                             /* magic, version, flags */

/* Header length: 8 unencrypted, 36 + 88 n encrypted. */
size_t edr_seal_header_len(size_t n_recipients, unsigned flags);

/* Size of the data file for `plain` bytes of payload. */
uint64_t edr_seal_stored_size(uint64_t plain, size_t n_recipients, unsigned flags);

/*
 * Writes a data file into next: with EDR_SEAL_FLAG_ENCRYPTED, encrypted to
 * the n (1..32, distinct) recipients with a fresh random data key; with
 * flags 0 (n must be 0) an unencrypted file. The header goes out with the
 * first write or at finish. Errors: EDR_E_USAGE for a bad recipient list
 * ("too many recipients (33, at most 32)", "recipient <id> given twice").
 * The data key and stream state live in sodium_malloc memory, wiped by free.
 */
edr_rc edr_stream_seal_new(struct edr_stream *next, const struct edr_pubkey *recipients, size_t n,
                           unsigned flags, struct edr_stream **out, struct edr_err *err);

#endif
