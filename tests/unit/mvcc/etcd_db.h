/*
 * A small etcd database for the mvcc tests, written to tu_path (support.h).
 * History: rev 2 put /a=1, 3 put /b=2 (with a lease), 4 put /a=333 (v2),
 * 5 del /b, 6 put /registry/pods/ns1/p1, 6_1 put /registry/pods/ns2/p2
 * (txn), 7 put /registry/namespaces/ns1, 8 put
 * /registry/apps/deployments/ns1/d, 9 put
 * /registry/apiextensions.k8s.io/customresourcedefinitions/x.y, 10 put
 * /registry/example.com/foos/ns1/f, 11 put /registry/services/specs/ns1/s,
 * 12 bump marker. Compacted at 3. Besides `key` and `meta`: auth (enabled),
 * cluster (version 3.4.0), one lease, two members (one a learner) and one
 * removed member, empty alarm, authRoles and authUsers.
 */
#ifndef EDR_TESTS_UNIT_MVCC_ETCD_DB_H
#define EDR_TESTS_UNIT_MVCC_ETCD_DB_H

#include <stddef.h>
#include <stdint.h>

/* One key/value as the bolt writer takes it. */
struct pair {
    uint8_t k[64];
    size_t kl;
    uint8_t v[256];
    size_t vl;
};

/* A bucket and its pairs, in key order. */
struct bucket {
    const char *name;
    const struct pair *pairs;
    size_t n;
};

/* The 17-byte `key`-bucket key of revision main_sub. */
void revkey(uint8_t *k, int64_t main, int64_t sub);
/* Writes buckets (in name order) and returns the expected status hash. */
uint32_t write_db(const struct bucket *bk, size_t nb);
/* Writes the database above, without meta/consistent_index unless with_ci;
 * returns the expected status hash. */
uint32_t write_etcd_db(int with_ci);
/* meta/scheduledCompactRev write_etcd_db writes (3 unless a test sets it:
 * above 3 is a compaction etcd scheduled and had not finished). */
extern int64_t etcd_db_scheduled_compact;

#endif
