/*
 * Zstandard compress and decompress filters. Output is pushed into `next` in
 * pieces of at most ZSTD_CStreamOutSize()/ZSTD_DStreamOutSize() bytes; memory
 * stays constant whatever the stream size (the decompressor refuses frames
 * whose window exceeds zstd's default limit of 128 MiB).
 */
#ifndef EDR_STREAM_ZSTD_H
#define EDR_STREAM_ZSTD_H

#include <stdint.h>

#include "common/err.h"
#include "stream/stream.h"

#define EDR_ZSTD_SIZE_UNKNOWN UINT64_MAX

/* Input bytes per frame when the size is not pledged: frames are independent,
 * so that readers can decompress them in parallel. */
#define EDR_ZSTD_FRAME_SIZE (4u << 20)

/*
 * Compress into zstd frames with content checksums: one frame when `pledged`
 * is known, else a frame per EDR_ZSTD_FRAME_SIZE input bytes. level: zstd level
 * (1..19, negative for fast modes); threads: worker threads (0 = compress
 * in the calling thread); pledged: the exact input size when known (stored in
 * the frame header; writing a different amount then fails at finish), else
 * EDR_ZSTD_SIZE_UNKNOWN. Errors: EDR_E_USAGE for a bad level, EDR_E_INTERNAL
 * "zstd: <reason>" for compression failures.
 */
edr_rc edr_stream_zstd_compress_new(struct edr_stream *next, int level, int threads,
                                    uint64_t pledged, struct edr_stream **out, struct edr_err *err);

/*
 * Decompress one or more concatenated zstd frames. Errors are
 * EDR_E_INTEGRITY: "zstd: <ZSTD_getErrorName>" for corrupt input (checksum
 * mismatch included), "zstd: truncated input" when finish() comes mid-frame
 * or without any frame.
 */
edr_rc edr_stream_zstd_decompress_new(struct edr_stream *next, struct edr_stream **out,
                                      struct edr_err *err);

/*
 * The same on `workers` threads (1..8): whole frames are decompressed in
 * parallel and pushed into `next` in order, from the workers' threads (one
 * at a time). Memory: two queued frames plus, per worker, its frame, up to
 * its share of 4 MiB of held output and a zstd window. Streams of one big frame (over
 * 16 MiB compressed) are decompressed sequentially after that point.
 * Errors as above, in the order of the frames.
 */
edr_rc edr_stream_zstd_decompress_mt_new(struct edr_stream *next, int workers,
                                         struct edr_stream **out, struct edr_err *err);

#endif
