/*
 * Linked into test programs only (s3_driver and etcd-dr-s3test, the test
 * build of etcd-dr that the S3 integration tests run where they need small
 * parts or fast retries): before main(), lowers the S3 backend's limits
 * (edr_s3_limits) from these environment variables, which the shipped
 * etcd-dr never reads:
 *   EDR_S3_TEST_SMALL_PARTS=1   allow a part size below S3's 5 MiB minimum
 *                               (s3rver does not enforce it; real S3 rejects
 *                               such uploads at completion)
 *   EDR_S3_TEST_MAX_KEYS=N      ListObjectsV2/ListMultipartUploads page size,
 *                               to exercise pagination with few objects
 *   EDR_S3_TEST_RETRY_MS=N      first retry delay in ms (default 200)
 */
#include <stdlib.h>
#include <string.h>

#include "storage/s3.h"

__attribute__((constructor)) static void
s3_test_env(void)
{
    const char *v;

    if ((v = getenv("EDR_S3_TEST_SMALL_PARTS")) != NULL && strcmp(v, "1") == 0)
        edr_s3_limits.min_part_size = 1;
    if ((v = getenv("EDR_S3_TEST_MAX_KEYS")) != NULL && *v != '\0')
        edr_s3_limits.max_keys = atoi(v);
    if ((v = getenv("EDR_S3_TEST_RETRY_MS")) != NULL && *v != '\0')
        edr_s3_limits.retry_ms = atol(v);
}
