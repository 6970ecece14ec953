/*
 * The S3 XML reader: real-looking responses, entities, CDATA, comments,
 * attributes with '>' inside, and every kind of broken input: each proper
 * prefix of a valid document must be refused, never half-read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/s3_xml.h"

static const char LIST[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<!-- a comment -->\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "  <Name>bkt</Name><Prefix>prod/</Prefix><KeyCount>2</KeyCount>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  "
    "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
    "  <Contents><Key>prod/a&amp;b &lt;&#x41;&#66;&gt; &quot;&apos;</Key>"
    "<LastModified>2009-10-12T17:50:30.000Z</LastModified>"
    "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
    "<StorageClass>STANDARD</StorageClass></Contents>\n"
    "  <Contents><Key><![CDATA[prod/<raw> & ]]>x</Key>"
    "<LastModified>2026-01-02T03:04:05Z</LastModified><Size>0</Size></Contents>\n"
    "</ListBucketResult>\n";

static void
test_list_objects(void **state)
{
    struct edr_s3_list_page page;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_list_objects(LIST, strlen(LIST), &page, &err), 0);
    assert_int_equal(page.n, 2);
    assert_true(page.truncated);
    assert_string_equal(page.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    assert_string_equal(page.objs[0].key, "prod/a&b <AB> \"'");
    assert_int_equal(page.objs[0].size, 434234);
    assert_int_equal(page.objs[0].mtime, 1255369830);
    assert_string_equal(page.objs[1].key, "prod/<raw> & x");
    assert_int_equal(page.objs[1].size, 0);
    assert_int_equal(page.objs[1].mtime, 1767323045);
    edr_s3_list_page_release(&page);
}

static void
test_every_prefix_is_refused(void **state)
{
    size_t end = strlen(LIST), n;
    struct edr_s3_xml *root;
    struct edr_err err;

    (void)state;
    /* The document without its trailing newline is the shortest valid one. */
    for (n = 0; n < end - 1; n++) {
        root = NULL;
        assert_int_not_equal(edr_s3_xml_parse(LIST, n, &root, &err), 0);
        assert_null(root);
        assert_int_equal(err.code, EDR_E_REPO);
        assert_memory_equal(err.msg, "malformed xml at byte ", 22);
    }
    assert_int_equal(edr_s3_xml_parse(LIST, end - 1, &root, &err), 0);
    edr_s3_xml_free(root);
}

static void
test_truncated_message(void **state)
{
    const char doc[] = "<Error><Code>NoSuchKey</Code><Message>gone";
    struct edr_s3_xml *root;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_parse(doc, strlen(doc), &root, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "malformed xml at byte 42: unexpected end of input");
}

static void
bad_doc(const char *doc, const char *msg)
{
    struct edr_s3_xml *root = NULL;
    struct edr_err err;

    assert_int_equal(edr_s3_xml_parse(doc, strlen(doc), &root, &err), EDR_E_REPO);
    assert_null(root);
    assert_string_equal(err.msg, msg);
}

static void
test_malformed(void **state)
{
    (void)state;
    bad_doc("", "malformed xml at byte 0: no root element");
    bad_doc("<a><b></a></b>", "malformed xml at byte 8: mismatched end tag");
    bad_doc("<a>x</ab>", "malformed xml at byte 6: mismatched end tag");
    bad_doc("<a>&nbsp;</a>", "malformed xml at byte 3: unknown entity");
    bad_doc("<a>&#0;</a>", "malformed xml at byte 3: invalid character reference");
    bad_doc("<a>&#xD800;</a>", "malformed xml at byte 3: invalid character reference");
    bad_doc("<a>&#x110000;</a>", "malformed xml at byte 3: character reference out of range");
    bad_doc("<a>&#12</a>", "malformed xml at byte 3: invalid character reference");
    bad_doc("<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>",
            "malformed xml at byte 0: document type declarations are not supported");
    bad_doc("<a></a><b></b>", "malformed xml at byte 7: content after the root element");
    bad_doc("<a></a>junk", "malformed xml at byte 7: content after the root element");
    bad_doc("<a x=\"1></a>", "malformed xml at byte 12: unexpected end of input in attribute");
    bad_doc("<a <b>", "malformed xml at byte 3: '<' inside a tag");
    bad_doc("< a/>", "malformed xml at byte 1: bad element name");
    bad_doc("<a/ >", "malformed xml at byte 2: expected '>'");
    bad_doc("<a><![CDATA[x</a>", "malformed xml at byte 17: unexpected end of input in cdata");
}

static void
test_depth_limit(void **state)
{
    char doc[2048] = "";
    struct edr_s3_xml *root = NULL;
    struct edr_err err;
    int i;

    (void)state;
    for (i = 0; i < 40; i++)
        strcat(doc, "<a>");
    for (i = 0; i < 40; i++)
        strcat(doc, "</a>");
    assert_int_equal(edr_s3_xml_parse(doc, strlen(doc), &root, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "malformed xml at byte 99: elements nested too deeply");
    doc[0] = '\0';
    for (i = 0; i < 30; i++)
        strcat(doc, "<a>");
    for (i = 0; i < 30; i++)
        strcat(doc, "</a>");
    assert_int_equal(edr_s3_xml_parse(doc, strlen(doc), &root, &err), 0);
    edr_s3_xml_free(root);
}

static void
test_tree_details(void **state)
{
    const char doc[] =
        "\xEF\xBB\xBF<s3:R xmlns:s3=\"u\" a='>'><s3:K>v&#233;&#x20AC;&#x1F600;</s3:K>"
        "<E/><?pi x?><!--c--><K>second</K></s3:R>";
    struct edr_s3_xml *root;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_parse(doc, strlen(doc), &root, &err), 0);
    assert_string_equal(root->name, "R");
    assert_string_equal(edr_s3_xml_child_text(root, "K"), "v\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    assert_string_equal(edr_s3_xml_child_text(root, "E"), "");
    assert_null(edr_s3_xml_child_text(root, "Nope"));
    assert_string_equal(root->child->next->next->text, "second");
    edr_s3_xml_free(root);
}

static void
test_error_doc(void **state)
{
    const char doc[] =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
        "<Message>The request signature we calculated does not match the signature you "
        "provided. Check your key and signing method.</Message><RequestId>X</RequestId></Error>";
    const char notdoc[] = "<ListBucketResult><Code>x</Code></ListBucketResult>";
    char code[16], msg[32];

    (void)state;
    assert_int_equal(edr_s3_xml_error(doc, strlen(doc), code, sizeof(code), msg, sizeof(msg)), 0);
    assert_string_equal(code, "SignatureDoesN"
                              "o");
    assert_string_equal(msg, "The request signature we calcul");
    assert_int_equal(edr_s3_xml_error(notdoc, strlen(notdoc), code, sizeof(code), msg, sizeof(msg)),
                     -1);
    assert_int_equal(edr_s3_xml_error("<Error>", 7, code, sizeof(code), msg, sizeof(msg)), -1);
}

static void
test_list_objects_errors(void **state)
{
    const char *trunc = "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>";
    const char *nokey = "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>";
    const char *badsize = "<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents>"
                          "</ListBucketResult>";
    const char *badtime = "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>"
                          "yesterday</LastModified></Contents></ListBucketResult>";
    const char *other = "<Error><Code>x</Code></Error>";
    struct edr_s3_list_page page;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_list_objects(trunc, strlen(trunc), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "list objects: truncated listing without a continuation token");
    assert_int_equal(edr_s3_xml_list_objects(nokey, strlen(nokey), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "list objects: entry 0 has no key");
    assert_int_equal(edr_s3_xml_list_objects(badsize, strlen(badsize), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "list objects: 'k': bad size");
    assert_int_equal(edr_s3_xml_list_objects(badtime, strlen(badtime), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "list objects: 'k': bad time 'yesterday'");
    assert_int_equal(edr_s3_xml_list_objects(other, strlen(other), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "unexpected xml document <Error>, wanted <ListBucketResult>");
    assert_null(page.objs);
}

static void
test_list_uploads(void **state)
{
    const char doc[] =
        "<ListMultipartUploadsResult><Bucket>b</Bucket><NextKeyMarker>p/k2</NextKeyMarker>"
        "<NextUploadIdMarker>id2</NextUploadIdMarker><IsTruncated>true</IsTruncated>"
        "<Upload><Key>p/k1</Key><UploadId>id1</UploadId><Initiated>2026-01-02T03:04:05.123Z"
        "</Initiated></Upload><Upload><Key>p/k2</Key><UploadId>id2</UploadId>"
        "<Initiated>2026-01-02T03:04:06.000Z</Initiated></Upload></ListMultipartUploadsResult>";
    const char bad[] = "<ListMultipartUploadsResult><Upload><Key>k</Key></Upload>"
                       "</ListMultipartUploadsResult>";
    struct edr_s3_upload_page page;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_list_uploads(doc, strlen(doc), &page, &err), 0);
    assert_int_equal(page.n, 2);
    assert_string_equal(page.ups[1].key, "p/k2");
    assert_string_equal(page.ups[0].upload_id, "id1");
    assert_int_equal(page.ups[0].initiated, 1767323045);
    assert_string_equal(page.next_key_marker, "p/k2");
    assert_string_equal(page.next_upload_id_marker, "id2");
    edr_s3_upload_page_release(&page);
    assert_int_equal(edr_s3_xml_list_uploads(bad, strlen(bad), &page, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "list uploads: entry 0 incomplete");
}

static void
test_upload_id(void **state)
{
    const char doc[] = "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key>"
                       "<UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>";
    const char none[] = "<InitiateMultipartUploadResult/>";
    char *id = NULL;
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_s3_xml_upload_id(doc, strlen(doc), &id, &err), 0);
    assert_string_equal(id, "VXBsb2FkIElE");
    free(id);
    assert_int_equal(edr_s3_xml_upload_id(none, strlen(none), &id, &err), EDR_E_REPO);
    assert_string_equal(err.msg, "initiate multipart upload: no UploadId in the answer");
    assert_null(id);
}

static void
test_time_parse(void **state)
{
    time_t t;

    (void)state;
    assert_int_equal(edr_s3_time_parse("1970-01-01T00:00:00Z", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(edr_s3_time_parse("2009-10-12T17:50:30.000Z", &t), 0);
    assert_int_equal(t, 1255369830);
    assert_int_equal(edr_s3_time_parse("2009-10-12T17:50:30+00:00", &t), 0);
    assert_int_equal(edr_s3_time_parse("2009-10-12T17:50:30", &t), -1);
    assert_int_equal(edr_s3_time_parse("2009-10-12T17:50:30.Z", &t), -1);
    assert_int_equal(edr_s3_time_parse("2009-10-12 17:50:30Z", &t), -1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_objects),      cmocka_unit_test(test_every_prefix_is_refused),
        cmocka_unit_test(test_truncated_message), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth_limit),       cmocka_unit_test(test_tree_details),
        cmocka_unit_test(test_error_doc),         cmocka_unit_test(test_list_objects_errors),
        cmocka_unit_test(test_list_uploads),      cmocka_unit_test(test_upload_id),
        cmocka_unit_test(test_time_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
