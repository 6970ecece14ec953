/*
 * libFuzzer target for the XML reader of S3 answers (src/storage/s3_xml.c):
 * the input is one document, read by the tree parser and by every response
 * reader the backend uses (Error, ListObjectsV2, ListMultipartUploads,
 * InitiateMultipartUpload). Whatever the bytes, a reader either fails with
 * EDR_E_REPO and a message or returns a result whose strings are all set;
 * a parsed tree has a name and a text on every node. Also built as a corpus
 * replay for `make check` (tests/fuzz/replay.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "storage/s3_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A failed reader must say why, as EDR_E_REPO. */
static void
check_failure(edr_rc rc, const struct edr_err *err)
{
    if (rc != EDR_E_REPO || err->code != EDR_E_REPO || err->msg[0] == '\0')
        abort();
}

static void
walk(const struct edr_s3_xml *n, int depth)
{
    for (; n != NULL; n = n->next) {
        if (n->name == NULL || n->name[0] == '\0' || n->text == NULL || depth > 1000)
            abort();
        (void)strlen(n->text);
        walk(n->child, depth + 1);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    struct edr_s3_xml *root = NULL;
    struct edr_s3_list_page lp;
    struct edr_s3_upload_page up;
    struct edr_err err;
    char code[64], msg[400], *id = NULL;
    edr_rc rc;
    size_t i;

    edr_err_clear(&err);
    rc = edr_s3_xml_parse(buf, size, &root, &err);
    if (rc == EDR_OK) {
        walk(root, 0);
        edr_s3_xml_free(root);
    } else {
        check_failure(rc, &err);
    }

    if (edr_s3_xml_error(buf, size, code, sizeof(code), msg, sizeof(msg)) == 0 &&
        (strlen(code) >= sizeof(code) || strlen(msg) >= sizeof(msg)))
        abort();

    memset(&lp, 0, sizeof(lp));
    edr_err_clear(&err);
    rc = edr_s3_xml_list_objects(buf, size, &lp, &err);
    if (rc == EDR_OK) {
        for (i = 0; i < lp.n; i++)
            if (lp.objs[i].key == NULL)
                abort();
        if (lp.truncated && lp.next_token == NULL)
            abort();
    } else {
        check_failure(rc, &err);
    }
    edr_s3_list_page_release(&lp);

    memset(&up, 0, sizeof(up));
    edr_err_clear(&err);
    rc = edr_s3_xml_list_uploads(buf, size, &up, &err);
    if (rc == EDR_OK) {
        for (i = 0; i < up.n; i++)
            if (up.ups[i].key == NULL || up.ups[i].upload_id == NULL)
                abort();
    } else {
        check_failure(rc, &err);
    }
    edr_s3_upload_page_release(&up);

    edr_err_clear(&err);
    rc = edr_s3_xml_upload_id(buf, size, &id, &err);
    if (rc == EDR_OK) {
        if (id == NULL)
            abort();
        free(id);
    } else {
        check_failure(rc, &err);
    }
    return 0;
}
