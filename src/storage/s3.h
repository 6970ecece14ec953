/*
 * Helpers of the S3 backend (storage/s3*.c) that are worth testing on their
 * own: the bucket/prefix split of an s3:// URL and the multipart part size.
 * The backend itself is reached through storage.h (edr_storage_s3_open).
 * Environment variables it reads: AWS's usual ones only (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_DEFAULT_REGION,
 * AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, AWS_PROFILE,
 * AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE).
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

/* Limits the backend applies, as S3 wants them. A seam for tests, which
 * lower them to run against a local server in seconds: only test programs
 * write this (tests/unit/storage/s3_test_env.c); etcd-dr never does, and
 * no option or environment variable reaches it. Read when a backend is
 * opened. */
struct edr_s3_limits {
    uint64_t min_part_size; /* EDR_S3_MIN_PART_SIZE; S3 refuses smaller parts */
    int max_keys;           /* listing page size; 0 = the server's (1000) */
    long retry_ms;          /* first retry delay, doubled at each try: 200 */
};
extern struct edr_s3_limits edr_s3_limits;

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
