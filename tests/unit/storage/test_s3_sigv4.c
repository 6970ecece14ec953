/*
 * SigV4 signer against AWS's published examples: the S3 developer guide's
 * signature examples (GET object with Range, PUT object, GET ?lifecycle, list
 * objects) and the aws-sig-v4-test-suite's get-vanilla cases; plus the URI
 * and query canonicalisation rules S3 depends on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/s3_sigv4.h"

#define S3_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_AKID "AKIAIOSFODNN7EXAMPLE"

static void
sign_s3(const char *method, const char *uri, const char *query, const struct edr_s3_header *h,
        size_t nh, const char *payload, const char *want)
{
    struct edr_s3_sign_in in = {0};
    char sig[EDR_S3_SIG_HEX_LEN];
    struct edr_err err;

    in.method = method;
    in.uri = uri;
    in.query = query;
    in.headers = h;
    in.nheaders = nh;
    in.payload_hash = payload;
    in.amz_date = "20130524T000000Z";
    in.region = "us-east-1";
    in.service = "s3";
    in.access_key = S3_AKID;
    in.secret_key = S3_SECRET;
    assert_int_equal(edr_s3_sigv4_sign(&in, sig, NULL, &err), 0);
    assert_string_equal(sig, want);
}

static void
test_s3_get_object(void **state)
{
    /* headers deliberately unsorted: the signer sorts them */
    struct edr_s3_header h[] = {
        {"x-amz-date", "20130524T000000Z"},
        {"range", "bytes=0-9"},
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-content-sha256", EDR_S3_EMPTY_SHA256},
    };
    struct edr_s3_sign_in in = {0};
    char sig[EDR_S3_SIG_HEX_LEN], *auth = NULL, *creq = NULL;
    struct edr_err err;

    (void)state;
    in.method = "GET";
    in.uri = "/test.txt";
    in.query = "";
    in.headers = h;
    in.nheaders = 4;
    in.payload_hash = EDR_S3_EMPTY_SHA256;
    in.amz_date = "20130524T000000Z";
    in.region = "us-east-1";
    in.service = "s3";
    in.access_key = S3_AKID;
    in.secret_key = S3_SECRET;
    assert_int_equal(edr_s3_sigv4_canonical_request(&in, &creq, &err), 0);
    assert_string_equal(creq, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\n"
                              "range:bytes=0-9\n"
                              "x-amz-content-sha256:" EDR_S3_EMPTY_SHA256 "\n"
                              "x-amz-date:20130524T000000Z\n\n"
                              "host;range;x-amz-content-sha256;x-amz-date\n" EDR_S3_EMPTY_SHA256);
    free(creq);
    assert_int_equal(edr_s3_sigv4_sign(&in, sig, &auth, &err), 0);
    assert_string_equal(sig, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    assert_string_equal(auth, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/"
                              "us-east-1/s3/aws4_request, SignedHeaders=host;range;"
                              "x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd"
                              "35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    free(auth);
}

static void
test_s3_put_object(void **state)
{
    char *uri = edr_s3_uri_encode("/test$file.text", 0);
    struct edr_s3_header h[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"x-amz-content-sha256",
         "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
    };

    (void)state;
    assert_string_equal(uri, "/test%24file.text");
    sign_s3("PUT", uri, "", h, 5,
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    free(uri);
}

static void
test_s3_get_lifecycle(void **state)
{
    struct edr_s3_qparam q[] = {{"lifecycle", NULL}};
    char *query = edr_s3_query_canonical(q, 1);
    struct edr_s3_header h[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", EDR_S3_EMPTY_SHA256},
    };

    (void)state;
    assert_string_equal(query, "lifecycle=");
    sign_s3("GET", "/", query, h, 3, EDR_S3_EMPTY_SHA256,
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    free(query);
}

static void
test_s3_list_objects(void **state)
{
    struct edr_s3_qparam q[] = {{"prefix", "J"}, {"max-keys", "2"}};
    char *query = edr_s3_query_canonical(q, 2);
    struct edr_s3_header h[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", "20130524T000000Z"},
        {"x-amz-content-sha256", EDR_S3_EMPTY_SHA256},
    };

    (void)state;
    assert_string_equal(query, "max-keys=2&prefix=J");
    sign_s3("GET", "/", query, h, 3, EDR_S3_EMPTY_SHA256,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    free(query);
}

static void
suite_sign(const char *query, const char *want)
{
    struct edr_s3_header h[] = {
        {"host", "example.amazonaws.com"},
        {"x-amz-date", "20150830T123600Z"},
    };
    struct edr_s3_sign_in in = {0};
    char sig[EDR_S3_SIG_HEX_LEN];
    struct edr_err err;

    in.method = "GET";
    in.uri = "/";
    in.query = query;
    in.headers = h;
    in.nheaders = 2;
    in.payload_hash = EDR_S3_EMPTY_SHA256;
    in.amz_date = "20150830T123600Z";
    in.region = "us-east-1";
    in.service = "service";
    in.access_key = "AKIDEXAMPLE";
    in.secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    assert_int_equal(edr_s3_sigv4_sign(&in, sig, NULL, &err), 0);
    assert_string_equal(sig, want);
}

static void
test_suite_get_vanilla(void **state)
{
    (void)state;
    suite_sign("", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

static void
test_suite_query_order(void **state)
{
    struct edr_s3_qparam q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
    char *query = edr_s3_query_canonical(q, 2);

    (void)state;
    assert_string_equal(query, "Param1=value1&Param2=value2");
    suite_sign(query, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    free(query);
}

static void
test_wrong_secret_changes_signature(void **state)
{
    struct edr_s3_header h[] = {{"host", "h"}};
    struct edr_s3_sign_in in = {0};
    char a[EDR_S3_SIG_HEX_LEN], b[EDR_S3_SIG_HEX_LEN];
    struct edr_err err;

    (void)state;
    in.method = "GET";
    in.uri = "/";
    in.query = "";
    in.headers = h;
    in.nheaders = 1;
    in.payload_hash = EDR_S3_EMPTY_SHA256;
    in.amz_date = "20240101T000000Z";
    in.region = "us-east-1";
    in.service = "s3";
    in.access_key = "test";
    in.secret_key = "one";
    assert_int_equal(edr_s3_sigv4_sign(&in, a, NULL, &err), 0);
    in.secret_key = "two";
    assert_int_equal(edr_s3_sigv4_sign(&in, b, NULL, &err), 0);
    assert_string_not_equal(a, b);
    in.amz_date = "2024-01-01";
    assert_int_equal(edr_s3_sigv4_sign(&in, a, NULL, &err), EDR_E_INTERNAL);
    assert_string_equal(err.msg, "sigv4: bad date '2024-01-01'");
}

static void
test_uri_encode(void **state)
{
    char *s;

    (void)state;
    s = edr_s3_uri_encode("prod/a b+c~d_e.f-g/\xc3\xa9=&?%", 0);
    assert_string_equal(s, "prod/a%20b%2Bc~d_e.f-g/%C3%A9%3D%26%3F%25");
    free(s);
    s = edr_s3_uri_encode("prod/x", 1);
    assert_string_equal(s, "prod%2Fx");
    free(s);
    s = edr_s3_uri_encode("", 1);
    assert_string_equal(s, "");
    free(s);
}

static void
test_query_canonical(void **state)
{
    struct edr_s3_qparam q[] = {
        {"prefix", "prod/2026 x"},
        {"uploads", NULL},
        {"list-type", "2"},
        {"continuation-token", "1/a+b=="},
        {"a", "2"},
        {"a", "1"},
        {"B", ""},
    };
    char *s;

    (void)state;
    s = edr_s3_query_canonical(q, 7);
    /* upper case sorts before lower case (byte order), equal keys by value */
    assert_string_equal(s, "B=&a=1&a=2&continuation-token=1%2Fa%2Bb%3D%3D&list-type=2&"
                           "prefix=prod%2F2026%20x&uploads=");
    free(s);
    s = edr_s3_query_canonical(q, 0);
    assert_string_equal(s, "");
    free(s);
}

static void
test_header_value_trimming(void **state)
{
    struct edr_s3_header h[] = {{"x-amz-meta-a", "  one   two\t three  "}, {"host", "h"}};
    struct edr_s3_sign_in in = {0};
    char *creq = NULL;
    struct edr_err err;

    (void)state;
    in.method = "PUT";
    in.uri = "/b/k";
    in.query = "partNumber=1&uploadId=x";
    in.headers = h;
    in.nheaders = 2;
    in.payload_hash = "UNSIGNED-PAYLOAD";
    assert_int_equal(edr_s3_sigv4_canonical_request(&in, &creq, &err), 0);
    assert_string_equal(creq, "PUT\n/b/k\npartNumber=1&uploadId=x\nhost:h\n"
                              "x-amz-meta-a:one two three\n\nhost;x-amz-meta-a\nUNSIGNED-PAYLOAD");
    free(creq);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s3_get_object),
        cmocka_unit_test(test_s3_put_object),
        cmocka_unit_test(test_s3_get_lifecycle),
        cmocka_unit_test(test_s3_list_objects),
        cmocka_unit_test(test_suite_get_vanilla),
        cmocka_unit_test(test_suite_query_order),
        cmocka_unit_test(test_wrong_secret_changes_signature),
        cmocka_unit_test(test_uri_encode),
        cmocka_unit_test(test_query_canonical),
        cmocka_unit_test(test_header_value_trimming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
