/*
 * Test helper for tests/integration/t0400-inspect-vs-etcdctl.sh:
 *   mvcc_status status DB [MINOR]
 *                              prints `snapshot status -w json` as etcd 3.MINOR's
 *                              tool does (default 4: etcdctl 3.4; 6+: etcdutl's
 *                              live-key count and storage "version")
 *   mvcc_status copy DB OUT PS rewrites DB with the bolt writer (page size PS)
 *   mvcc_status diff DB        the status with every check from the file and
 *                              from a capture of DB streaming past, in
 *                              several write sizes, must agree and the
 *                              capture must not need the file; prints "same"
 * Exit status is the edr_rc (diff: 0 or 1); the message goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "mvcc/mvcc.h"
#include "scan_diff.h"

/* the diff mode: whole image, pages, odd sizes */
static int
diff(const char *path)
{
    static const size_t steps[] = {0, 4096, 1000, 65537, 300000};
    FILE *f = fopen(path, "rb");
    uint8_t *img = NULL;
    size_t len = 0, cap = 0, n;
    int bad = 0;

    if (f == NULL) {
        perror(path);
        return 2;
    }
    do {
        if (len + 65536 > cap) {
            uint8_t *ni = realloc(img, cap = cap * 2 + 65536);
            if (ni == NULL) {
                fclose(f);
                free(img);
                return 2;
            }
            img = ni;
        }
        n = fread(img + len, 1, cap - len, f);
        len += n;
    } while (n > 0);
    fclose(f);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]) && !bad; i++) {
        char why[512];
        int redo;
        if (scan_diff(img, len, steps[i], &redo, why, sizeof(why)) != 0) {
            fprintf(stderr, "mvcc_status: %s, writes of %zu: %s\n", path, steps[i], why);
            bad = 1;
        } else if (redo) {
            fprintf(stderr, "mvcc_status: %s, writes of %zu: the capture needed the file\n", path,
                    steps[i]);
            bad = 1;
        }
    }
    free(img);
    if (!bad)
        printf("same\n");
    return bad;
}

struct cp {
    struct edr_bolt_writer *w;
    struct edr_err *err;
};

static int
on_bucket(void *ud, const uint8_t *name, size_t len)
{
    struct cp *c = ud;
    return edr_bolt_writer_bucket(c->w, name, len, c->err) == EDR_OK ? 0 : -1;
}

static int
on_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct cp *c = ud;
    return edr_bolt_writer_put(c->w, k, kl, v, vl, c->err) == EDR_OK ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct edr_bolt *b = NULL;
    struct edr_err err;
    edr_rc rc;

    if (argc < 3 || (strcmp(argv[1], "copy") == 0 && argc < 5)) {
        fprintf(stderr, "usage: mvcc_status status DB [MINOR] | copy DB OUT PAGESIZE | diff DB\n");
        return 2;
    }
    if (strcmp(argv[1], "diff") == 0)
        return diff(argv[2]);
    if ((rc = edr_bolt_open(argv[2], &b, &err)) != EDR_OK)
        goto out;
    if (strcmp(argv[1], "status") == 0) {
        struct edr_mvcc_status st;
        int minor = argc > 3 ? atoi(argv[3]) : 4;
        if ((rc = edr_mvcc_status(b, &st, &err)) == EDR_OK) {
            printf("{\"hash\":%u,\"revision\":%lld,\"totalKey\":%llu,\"totalSize\":%llu", st.hash,
                   (long long)st.revision,
                   (unsigned long long)edr_mvcc_status_total_keys(&st, minor),
                   (unsigned long long)st.total_size);
            if (minor >= 6)
                printf(",\"version\":\"%s\"", st.storage_version);
            printf("}\n");
        }
        edr_mvcc_status_release(&st);
        if (rc == EDR_OK)
            rc = edr_mvcc_check(b, &err);
    } else {
        struct cp c = {NULL, &err};
        rc = edr_bolt_writer_new(argv[3], (uint32_t)atoi(argv[4]), &c.w, &err);
        if (rc == EDR_OK)
            rc = edr_bolt_walk(b, 1, on_bucket, on_kv, &c, NULL, &err);
        if (rc == EDR_OK)
            rc = edr_bolt_writer_finish(c.w, &err);
        edr_bolt_writer_free(c.w);
    }
out:
    if (rc != EDR_OK)
        fprintf(stderr, "mvcc_status: %s\n", err.msg);
    edr_bolt_close(b);
    return rc;
}
