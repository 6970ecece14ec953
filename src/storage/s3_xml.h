/*
 * The little XML S3 answers with: a small, strict, non-validating parser into
 * a tree (elements and their text; attributes, comments, processing
 * instructions skipped; CDATA and the five predefined and numeric entities
 * decoded; no DTDs) and readers for the responses the S3 backend uses.
 */
#ifndef EDR_STORAGE_S3_XML_H
#define EDR_STORAGE_S3_XML_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

struct edr_s3_xml {
    char *name; /* local name, namespace prefix dropped */
    char *text; /* concatenated character data directly inside, never NULL */
    struct edr_s3_xml *child;
    struct edr_s3_xml *next;
};

/* Parse a whole document. Errors (EDR_E_REPO): "malformed xml at byte N: why". */
edr_rc edr_s3_xml_parse(const char *buf, size_t len, struct edr_s3_xml **out, struct edr_err *err);
void edr_s3_xml_free(struct edr_s3_xml *n);
/* First child element named name, or NULL. */
const struct edr_s3_xml *edr_s3_xml_child(const struct edr_s3_xml *n, const char *name);
/* Text of the first child named name, or NULL when there is none. */
const char *edr_s3_xml_child_text(const struct edr_s3_xml *n, const char *name);

/* "2009-10-12T17:50:30.000Z" (fraction optional) -> time_t. 0 or -1. */
int edr_s3_time_parse(const char *s, time_t *out);

/* An <Error> document: copies Code and Message (truncated to fit); returns 0,
 * or -1 when buf is not one. */
int edr_s3_xml_error(const char *buf, size_t len, char *code, size_t codesz, char *msg,
                     size_t msgsz);

struct edr_s3_object {
    char *key;
    uint64_t size;
    time_t mtime;
};

struct edr_s3_list_page {
    struct edr_s3_object *objs;
    size_t n;
    int truncated;
    char *next_token; /* NextContinuationToken, NULL when none */
};

/* ListObjectsV2 result. A truncated page without a token is an error. */
edr_rc edr_s3_xml_list_objects(const char *buf, size_t len, struct edr_s3_list_page *page,
                               struct edr_err *err);
void edr_s3_list_page_release(struct edr_s3_list_page *page);

struct edr_s3_upload {
    char *key;
    char *upload_id;
    time_t initiated;
};

struct edr_s3_upload_page {
    struct edr_s3_upload *ups;
    size_t n;
    int truncated;
    char *next_key_marker;
    char *next_upload_id_marker;
};

/* ListMultipartUploads result. */
edr_rc edr_s3_xml_list_uploads(const char *buf, size_t len, struct edr_s3_upload_page *page,
                               struct edr_err *err);
void edr_s3_upload_page_release(struct edr_s3_upload_page *page);

/* InitiateMultipartUploadResult: the UploadId, malloc'ed. */
edr_rc edr_s3_xml_upload_id(const char *buf, size_t len, char **upload_id, struct edr_err *err);

#endif
