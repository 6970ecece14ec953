/*
 * Helpers of the S3 backend (storage/s3*.c) that are worth testing on their
 * own: the bucket/prefix split of an s3:// URL and the multipart part size.
 * The backend itself is reached through storage.h (edr_storage_s3_open).
 *
 * Environment variables read by the backend besides AWS's usual ones
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION,
 * AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE), for TESTS ONLY:
 *   EDR_S3_TEST_SMALL_PARTS=1   allow opts->s3_part_size below S3's 5 MiB
 *                               minimum (s3rver does not enforce it; real S3
 *                               rejects such uploads at completion)
 *   EDR_S3_TEST_MAX_KEYS=N      ListObjectsV2/ListMultipartUploads page size,
 *                               to exercise pagination with few objects
 *   EDR_S3_TEST_RETRY_MS=N      first retry delay in ms (default 200)
 */
#ifndef EDR_STORAGE_S3_H
#define EDR_STORAGE_S3_H

#include <stdint.h>

#include "common/err.h"

#define EDR_S3_MIN_PART_SIZE (5ULL << 20)
#define EDR_S3_MAX_PART_SIZE (5ULL << 30)
#define EDR_S3_MAX_PARTS 10000
#define EDR_S3_DEFAULT_PART_SIZE (8ULL << 20)
#define EDR_S3_MAX_TRIES 5

/* Size of part number index+1 (index from 0). With fixed != 0 every part
 * has that size; otherwise parts are at least 8 MiB and sized so that
 * expected_size (0 = unknown) fills half of the 10,000-part budget. In both
 * cases parts from index 5000 on double every 1000 parts (capped at 5 GiB),
 * so an object larger than announced still fits in 10,000 parts. */
uint64_t edr_s3_part_size(uint64_t expected_size, uint64_t fixed, unsigned index);

/* Split "s3://bucket/some/prefix/" into bucket and a key prefix that is ""
 * or ends with one '/' ("some/prefix/"). Errors are EDR_E_USAGE. */
edr_rc edr_s3_parse_url(const char *url, char **bucket, char **prefix, struct edr_err *err);

#endif
