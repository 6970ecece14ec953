/*
 * Internal to src/mvcc: what its files share. check.c knows a `key`-bucket
 * entry, livekeys.c the live-key map, status.c the one-pass status walk,
 * summary.c the status of a snapshot streaming past, k8s.c the Kubernetes
 * view. Not thread-safe, like the rest of src/mvcc.
 */
#ifndef EDR_MVCC_INTERN_H
#define EDR_MVCC_INTERN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "mvcc/mvcc.h"

#define EDR_MVCC_REV_LEN 17         /* main revision, '_', sub revision */
#define EDR_MVCC_BUCKET_KEY "key"   /* the revisions */
#define EDR_MVCC_BUCKET_META "meta" /* consistent_index, compaction marks */

static inline int
name_is(const uint8_t *n, size_t nl, const char *s)
{
    return nl == strlen(s) && memcmp(n, s, nl) == 0;
}

/* ---- `key`-bucket entries (check.c) ---- */

/* A `key`-bucket key: 0 and the revision when well-formed, else -1. */
int edr_mvcc_parse_rev(const uint8_t *k, size_t kl, int64_t *main, int64_t *sub, int *tomb);
/* "12_0", "12_0t", or the leading bytes in hex for a malformed key; cap >= 41. */
const char *edr_mvcc_rev_str(const uint8_t *k, size_t kl, char *out, size_t cap);
/* One entry of the key bucket as edr_mvcc_check wants it: 0 and *kv filled
 * (untouched for a bump-revision marker), or -1 with err filled. */
int edr_mvcc_check_rev_kv(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl,
                          struct edr_kv *kv, struct edr_err *err);

/* ---- the live-key map (livekeys.c) ---- */

/* One user key: its bytes in the arena, its latest put. */
struct live_ent {
    size_t koff;
    uint32_t klen;
    uint32_t hash;
    int64_t main, sub; /* latest put */
    uint64_t vlen;
    int dead;
    uint16_t cls; /* of the latest put's value (edr_mvcc_scan_classify) */
};

/* Open addressing over ents; zeroed is empty. */
struct livemap {
    struct live_ent *ents;
    size_t n, cap;
    uint64_t *slots; /* hash << 32 | (entry index + 1); 0 = empty */
    size_t nslots;
    uint8_t *arena;
    size_t alen, acap;
};

/* The entry of key, added (dead) when absent and add; NULL when absent and
 * !add (*oom unset) or out of memory (*oom set). */
struct live_ent *edr_mvcc_livemap_get(struct livemap *lm, const uint8_t *key, size_t kl, int add,
                                      int *oom);
/* Applies one parsed `key`-bucket entry; -1 when out of memory. */
int edr_mvcc_livemap_apply(struct livemap *lm, const struct edr_kv *kv, int64_t main, int64_t sub,
                           int tomb);
void edr_mvcc_livemap_release(struct livemap *lm);

/* A scan of the `key` bucket into lm: the keys starting with prefix, up to
 * revision rev (0 = latest). Zero it, set prefix, plen and rev. */
struct live_scan {
    struct livemap lm;
    const uint8_t *prefix;
    size_t plen;
    int64_t rev;
    int64_t maxmain;
    int beyond; /* saw a revision above rev */
    struct edr_err *err;
};

/* The errors of edr_mvcc_foreach_live (compacted, future revision). The
 * caller releases c->lm also on failure. */
edr_rc edr_mvcc_live_scan(struct edr_bolt *b, struct live_scan *c, struct edr_err *err);

/* ---- status (status.c) and its summaries of a stream (summary.c) ---- */

/* What the summary keeps of one summed-up `key`-bucket leaf. */
struct leafsum {
    uint32_t crc;
    uint64_t bytes; /* hashed */
    int64_t last_rev;
    size_t ent_off, ent_n;
    uint32_t markers; /* bump-revision markers (empty values) */
};

#define EDR_MVCC_ENT_TOMB 0x80000000u

struct sument {
    uint32_t ref;  /* live-key map index, EDR_MVCC_ENT_TOMB: tombstone */
    uint32_t vlen; /* the KeyValue's value length (a put) */
};

struct edr_mvcc_scan {
    struct edr_stream *cap;
    struct livemap lm;
    struct sument *ents;
    size_t nents, capents;
    struct leafsum *sums;
    size_t nsums, capsums;
    uint16_t *cls; /* with a classifier: the class of each put of ents */
    size_t capcls;
    uint16_t (*classify)(void *ud, const struct edr_kv *kv);
    void *classify_ud;
    int members_summed; /* a summed-up leaf turned out to be in `members` */
    int keys_lenient;   /* the walk skipped `key` pairs edr_mvcc_k8s_stats refuses */
};

/* edr_mvcc_status (strict: edr_mvcc_status_checked). With scan, the walk is
 * over its capture and continues its live-key map (left in scan->lm). */
edr_rc edr_mvcc_status_walk(struct edr_bolt *b, struct edr_mvcc_status *st, int strict,
                            struct edr_mvcc_scan *scan, struct edr_err *err);
/* Swaps the scan's live-key map with *lm (the walk borrows it). */
void edr_mvcc_scan_take_map(struct edr_mvcc_scan *s, struct livemap *lm);

/* ---- Kubernetes (k8s.c) ---- */

/* The Kubernetes view of the live keys of lm that are under /registry/. */
edr_rc edr_mvcc_k8s_from_map(const struct livemap *lm, struct edr_k8s_stats **out,
                             struct edr_err *err);

#endif
