/*
 * Test helper for tests/integration/t0400-inspect-vs-etcdctl.sh:
 *   mvcc_status status DB      prints etcdctl 3.4's `snapshot status -w json` line
 *   mvcc_status copy DB OUT PS rewrites DB with the bolt writer (page size PS)
 * Exit status is the edr_rc; the message goes to stderr.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bolt/bolt.h"
#include "mvcc/mvcc.h"

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
        fprintf(stderr, "usage: mvcc_status status DB | copy DB OUT PAGESIZE\n");
        return 2;
    }
    if ((rc = edr_bolt_open(argv[2], &b, &err)) != EDR_OK)
        goto out;
    if (strcmp(argv[1], "status") == 0) {
        struct edr_mvcc_status st;
        if ((rc = edr_mvcc_status(b, &st, &err)) == EDR_OK)
            printf("{\"hash\":%u,\"revision\":%lld,\"totalKey\":%llu,\"totalSize\":%llu}\n",
                   st.hash, (long long)st.revision, (unsigned long long)st.total_keys,
                   (unsigned long long)st.total_size);
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
