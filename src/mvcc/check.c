/*
 * What a well-formed `key`-bucket entry is: a revision key (8-byte main
 * revision, '_', 8-byte sub revision, 't' for a tombstone) and a KeyValue
 * with a key, or the empty value of a bump-revision marker. The status walk
 * (strict), the stream summary and edr_mvcc_check all judge entries here, so
 * that they report the same first error.
 */
#include "mvcc/intern.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/hash.h"

int
edr_mvcc_parse_rev(const uint8_t *k, size_t kl, int64_t *main, int64_t *sub, int *tomb)
{
    if (!(kl == EDR_MVCC_REV_LEN || (kl == EDR_MVCC_REV_LEN + 1 && k[EDR_MVCC_REV_LEN] == 't')) ||
        k[8] != '_')
        return -1;
    *main = (int64_t)edr_be64(k);
    *sub = (int64_t)edr_be64(k + 9);
    *tomb = kl == EDR_MVCC_REV_LEN + 1;
    return *main < 0 || *sub < 0 ? -1 : 0;
}

const char *
edr_mvcc_rev_str(const uint8_t *k, size_t kl, char *out, size_t cap)
{
    int64_t main, sub;
    int tomb;

    if (edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb) == 0) {
        snprintf(out, cap, "%" PRId64 "_%" PRId64 "%s", main, sub, tomb ? "t" : "");
    } else {
        size_t n = kl > 20 ? 20 : kl;
        edr_hex(k, n, out); /* cap >= 41 */
        if (kl > n)
            strcat(out, "...");
    }
    return out;
}

struct cctx {
    struct edr_err *err;
};

static int
on_check_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct cctx *c = ud;

    struct edr_kv kv;

    return edr_mvcc_check_rev_kv(k, kl, v, vl, &kv, c->err);
}

/* One entry of the key bucket: a valid revision key, and a KeyValue with a
 * key (or the empty value of a bump-revision marker). */
int
edr_mvcc_check_rev_kv(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct edr_kv *kvp,
                      struct edr_err *err)
{
    struct edr_kv kv;
    int64_t main, sub;
    int tomb;
    char rs[64];

    if (edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb) != 0) {
        edr_err_set(err, EDR_E_INTEGRITY, "invalid revision key %s",
                    edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (vl == 0) {
        if (tomb) {
            edr_err_set(err, EDR_E_INTEGRITY, "revision %s: empty tombstone",
                        edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
            return -1;
        }
        return 0; /* bump-revision marker */
    }
    if (edr_mvcc_kv_decode(v, vl, &kv, err) != EDR_OK) {
        edr_err_prefix(err, "revision %s: invalid KeyValue",
                       edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (kv.key_len == 0) {
        edr_err_set(err, EDR_E_INTEGRITY, "revision %s: KeyValue without a key",
                    edr_mvcc_rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    *kvp = kv;
    return 0;
}

edr_rc
edr_mvcc_check(struct edr_bolt *b, struct edr_err *err)
{
    struct cctx c = {err};
    uint8_t *v = NULL;
    size_t vl;
    edr_rc rc;

    edr_err_clear(err);
    rc = edr_bolt_foreach(b, EDR_MVCC_BUCKET_KEY, 3, on_check_kv, &c, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket 'key' not found");
    if (rc != EDR_OK)
        return rc;
    rc = edr_bolt_get(b, EDR_MVCC_BUCKET_META, 4, "consistent_index", 16, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_INTEGRITY, "meta: consistent_index not found");
    if (rc != EDR_OK)
        return rc;
    free(v);
    if (vl != 8)
        return edr_err_set(err, EDR_E_INTEGRITY, "meta: consistent_index has %zu bytes, not 8", vl);
    return EDR_OK;
}
