/*
 * S3 backend pieces that need no server: part-size rule, s3:// URL parsing,
 * where credentials and settings come from and the errors when they are
 * missing, and the message for an endpoint nobody listens on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/s3.h"
#include "storage/storage.h"

#define MiB (1ULL << 20)

static void
test_part_size(void **state)
{
    unsigned i;
    uint64_t total;

    (void)state;
    assert_int_equal(edr_s3_part_size(0, 0, 0), 8 * MiB);
    assert_int_equal(edr_s3_part_size(1000, 0, 0), 8 * MiB);
    /* 100 GiB fills 5000 parts of 21 MiB (20.48 rounded up) */
    assert_int_equal(edr_s3_part_size(100ULL << 30, 0, 0), 21 * MiB);
    assert_int_equal(edr_s3_part_size(100ULL << 30, 0, 4999), 21 * MiB);
    assert_int_equal(edr_s3_part_size(100ULL << 30, 0, 5000), 42 * MiB);
    assert_int_equal(edr_s3_part_size(100ULL << 30, 0, 6000), 84 * MiB);
    /* 5 TiB, S3's largest object, still fits; parts never exceed 5 GiB */
    assert_int_equal(edr_s3_part_size(5ULL << 40, 0, 0), 1049 * MiB);
    assert_int_equal(edr_s3_part_size(5ULL << 40, 0, 9999), 5ULL << 30);
    /* fixed size, also the test-only small ones */
    assert_int_equal(edr_s3_part_size(1ULL << 40, 6 * MiB, 0), 6 * MiB);
    assert_int_equal(edr_s3_part_size(0, 1000, 4999), 1000);
    assert_int_equal(edr_s3_part_size(0, 1000, 5000), 2000);
    /* unknown size: 10,000 parts hold over 500 GiB (etcd's quota tops out at 8 GiB) */
    for (i = 0, total = 0; i < EDR_S3_MAX_PARTS; i++) {
        uint64_t p = edr_s3_part_size(0, 0, i);
        assert_true(p >= EDR_S3_MIN_PART_SIZE && p <= EDR_S3_MAX_PART_SIZE);
        total += p;
    }
    assert_true(total > (500ULL << 30));
    /* an announced size that was too small by 4x still fits */
    for (i = 0, total = 0; i < EDR_S3_MAX_PARTS; i++)
        total += edr_s3_part_size(10ULL << 30, 0, i);
    assert_true(total > (40ULL << 30));
}

static void
url_ok(const char *url, const char *bucket, const char *prefix)
{
    char *b, *p;
    struct edr_err err;

    assert_int_equal(edr_s3_parse_url(url, &b, &p, &err), 0);
    assert_string_equal(b, bucket);
    assert_string_equal(p, prefix);
    free(b);
    free(p);
}

static void
url_bad(const char *url, const char *msg)
{
    char *b, *p;
    struct edr_err err;

    assert_int_equal(edr_s3_parse_url(url, &b, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, msg);
    assert_null(b);
    assert_null(p);
}

static void
test_parse_url(void **state)
{
    (void)state;
    url_ok("s3://bkt", "bkt", "");
    url_ok("s3://bkt/", "bkt", "");
    url_ok("s3://my.bucket-1/prod", "my.bucket-1", "prod/");
    url_ok("s3://bkt//a///b/", "bkt", "a/b/");
    url_bad("http://bkt/x", "'http://bkt/x': not an s3:// url");
    url_bad("s3://ab", "'s3://ab': bucket name must be 3 to 63 characters");
    url_bad("s3:///x", "'s3:///x': bucket name must be 3 to 63 characters");
    url_bad("s3://Bucket/x", "'s3://Bucket/x': invalid character 'B' in bucket name");
    url_bad("s3://bkt/a/../b", "'s3://bkt/a/../b': '.' and '..' are not allowed in the prefix");
}

static void
clear_env(void)
{
    static const char *vars[] = {
        "AWS_ACCESS_KEY_ID",  "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL_S3",   "AWS_ENDPOINT_URL",  "AWS_PROFILE",
    };
    size_t i;

    for (i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/config", 1);
    edr_s3_limits.min_part_size = EDR_S3_MIN_PART_SIZE;
    edr_s3_limits.retry_ms = 1;
}

static void
test_no_credentials(void **state)
{
    struct edr_storage *st = NULL;
    struct edr_err err;

    (void)state;
    clear_env();
    assert_int_equal(edr_storage_s3_open("s3://bkt/p", NULL, &st, &err), EDR_E_REPO);
    assert_null(st);
    assert_string_equal(err.msg, "s3 's3://bkt/p': no access key id");
    assert_string_equal(err.hint, "set AWS_ACCESS_KEY_ID or aws_access_key_id in the profile's"
                                  " section of ~/.aws/credentials (AWS_PROFILE selects the"
                                  " profile)");
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    assert_int_equal(edr_storage_s3_open("s3://bkt/p", NULL, &st, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "s3 's3://bkt/p': no secret access key");
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void
test_profile_and_secret_file(void **state)
{
    char dir[] = "/tmp/test_s3_XXXXXX", cred[64], sec[64], empty[64];
    struct edr_storage_opts o = {0};
    struct edr_storage *st = NULL;
    struct edr_err err;

    (void)state;
    clear_env();
    assert_non_null(mkdtemp(dir));
    snprintf(cred, sizeof(cred), "%s/credentials", dir);
    snprintf(sec, sizeof(sec), "%s/secret", dir);
    snprintf(empty, sizeof(empty), "%s/empty", dir);
    write_file(cred, "[default]\naws_access_key_id = DEF\n# comment\n[prod]\n"
                     "aws_access_key_id=PRODKEY\n");
    write_file(sec, "  s3cr3t \n");
    write_file(empty, "\n\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", cred, 1);
    setenv("AWS_PROFILE", "prod", 1);
    /* the profile has the key id but no secret */
    assert_int_equal(edr_storage_s3_open("s3://bkt", NULL, &st, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "s3 's3://bkt': no secret access key");
    o.s3_secret_file = sec;
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), 0);
    assert_string_equal(st->ops->name, "s3");
    edr_storage_free(st);
    o.s3_secret_file = empty;
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_KEY);
    assert_string_equal(err.msg + strlen(err.msg) - 10, "' is empty");
    o.s3_secret_file = "/nonexistent/secret";
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_KEY);
    assert_string_equal(err.msg, "unable to open s3 secret file '/nonexistent/secret': [2] No "
                                 "such file or directory");
    unlink(cred);
    unlink(sec);
    unlink(empty);
    rmdir(dir);
}

static void
test_settings_errors(void **state)
{
    struct edr_storage_opts o = {0};
    struct edr_storage *st = NULL;
    struct edr_err err;

    (void)state;
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    o.s3_part_size = 1 << 20;
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "s3 part size 1048576 is below the 5 MiB minimum");
    edr_s3_limits.min_part_size = 1; /* the seam tests lower it through */
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), 0);
    edr_storage_free(st);
    edr_s3_limits.min_part_size = EDR_S3_MIN_PART_SIZE;
    o.s3_part_size = 0;
    o.s3_endpoint = "ftp://x";
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "s3 endpoint 'ftp://x': must start with http:// or https://");
    o.s3_endpoint = "http://host:9000/path";
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "s3 endpoint 'http://host:9000/path': expected"
                                 " scheme://host[:port]");
    o.s3_endpoint = NULL;
    o.s3_region = "us-east-1/../x";
    assert_int_equal(edr_storage_s3_open("s3://bkt", &o, &st, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid s3 region 'us-east-1/../x'");
}

static void
test_unreachable(void **state)
{
    struct edr_storage_opts o = {0};
    struct edr_storage *st = NULL;
    struct edr_storage_stat ss;
    struct edr_err err;
    const char *want = "s3 endpoint 'http://127.0.0.1:1': unreachable: ";

    (void)state;
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1); /* trailing slash is dropped */
    assert_int_equal(edr_storage_s3_open("s3://bkt/p", &o, &st, &err), 0);
    assert_int_equal(st->ops->stat(st, "x", &ss, &err), EDR_E_REPO);
    assert_memory_equal(err.msg, want, strlen(want));
    assert_non_null(strstr(err.msg, "onnect"));
    edr_storage_free(st);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_part_size),       cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_no_credentials),  cmocka_unit_test(test_profile_and_secret_file),
        cmocka_unit_test(test_settings_errors), cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
