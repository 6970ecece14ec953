/*
 * etcd's keyspace on top of the bbolt reader (doc/etcd-internals.md §3, §4): the
 * `snapshot status` numbers, an MVCC-level check, the live keys at a revision
 * and a Kubernetes summary. Also the mvccpb.KeyValue protobuf codec.
 * Not thread-safe (the struct edr_bolt is not); none of the callbacks may
 * call back into the same struct edr_bolt.
 */
#ifndef EDR_MVCC_MVCC_H
#define EDR_MVCC_MVCC_H

#include <stddef.h>
#include <stdint.h>

#include "bolt/bolt.h"
#include "common/err.h"

struct edr_mvcc_status {
    /* exactly etcdctl 3.4's and etcdutl 3.5's `snapshot status` */
    uint32_t hash;       /* CRC-32C over every bucket name, then its keys and values */
    int64_t revision;    /* highest main revision in the `key` bucket */
    uint64_t total_keys; /* pairs in all buckets (etcdutl 3.6+ counts otherwise: */
    uint64_t total_size; /* meta pgid * page size        edr_mvcc_status_total_keys) */
    /* more */
    uint64_t live_keys;                 /* distinct user keys not deleted at the latest revision */
    uint64_t bump_markers;              /* `key` pairs with an empty value (--bump-revision) */
    char storage_version[32];           /* meta/storageVersion (etcd >= 3.6), "" if absent */
    int64_t compact_revision;           /* meta/finishedCompactRev, 0 if none */
    int64_t scheduled_compact_revision; /* meta/scheduledCompactRev, 0 if none */
    uint64_t consistent_index;
    uint64_t term; /* meta/term (etcd >= 3.5), when has_term */
    int has_term;
    uint64_t leases;
    uint64_t alarms;
    char cluster_version[32]; /* cluster/clusterVersion, "" if absent */
    int auth_enabled;
    uint64_t db_size_in_use; /* reachable pages * page size */
    char *members_json;      /* JSON array of the `members` values, malloc'ed */
};

/*
 * Reads the whole file once: runs edr_bolt_check (any structural error fails,
 * like etcdctl) and fills *st. Memory grows with the number of distinct user
 * keys (for live_keys): one table entry plus the key bytes per key, no
 * per-key malloc. Release with edr_mvcc_status_release() also on failure.
 * A missing `key` bucket gives revision 0; a missing `meta`/consistent_index
 * gives 0 (edr_mvcc_check reports it).
 */
edr_rc edr_mvcc_status(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err);
/* edr_mvcc_status plus every check of edr_mvcc_check, in one pass over the
 * file (what verify uses): the first problem is the error. */
edr_rc edr_mvcc_status_checked(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err);
void edr_mvcc_status_release(struct edr_mvcc_status *st);

/*
 * `snapshot status`'s "totalKey" as the tool of etcd minor version `minor`
 * (4, 5, 6, 7, ...) prints it: up to 3.5 every pair in every bucket
 * (total_keys); from 3.6 on (etcdutl) the keys live at the latest revision,
 * where a bump-revision marker counts as one live key "" (its empty value
 * decodes as a KeyValue with an empty key).
 */
uint64_t edr_mvcc_status_total_keys(const struct edr_mvcc_status *st, int minor);

/* The etcd minor version (5 for "3.5.x") a snapshot came from, for the
 * numbers above: etcd_version when given (a backup's manifest, "3.6.16"),
 * else 6 when the snapshot has a storage version (only 3.6+ write it), else
 * 4 (3.4 and 3.5 count alike). */
int edr_mvcc_status_minor(const struct edr_mvcc_status *st, const char *etcd_version);

/*
 * The same status and checks without a file: the snapshot (db followed by
 * its 32-byte trailer, as the backup reader delivers it) is written to
 * edr_mvcc_scan_stream(), which keeps what a walk needs (src/bolt capture:
 * every branch page and small bucket whole, each `key`-bucket leaf summed
 * up), then edr_mvcc_scan_status() walks it. Same numbers and, for a
 * damaged image, the same first error as edr_mvcc_status_checked on the
 * file, except when *redo is set: the capture could not keep what the walk
 * needed (more than 256 MiB of pages kept whole, an unusual image), and the
 * file must be checked instead. Memory: about 16 bytes per page, plus the
 * live-key map, plus 4 bytes per `key`-bucket pair.
 */
struct edr_mvcc_scan;
struct edr_stream;
struct edr_k8s_stats;
struct edr_kv;
edr_rc edr_mvcc_scan_new(struct edr_mvcc_scan **out, struct edr_err *err);
struct edr_stream *edr_mvcc_scan_stream(struct edr_mvcc_scan *s);
edr_rc edr_mvcc_scan_status(struct edr_mvcc_scan *s, struct edr_mvcc_status *st, int *redo,
                            struct edr_err *err);
/* What `inspect` shows, from the same capture: edr_mvcc_status (lenient,
 * like etcdctl) and edr_mvcc_k8s_stats, equal to theirs on the file; *redo
 * as above, and also when the `key` bucket holds pairs the file's
 * edr_mvcc_k8s_stats would refuse (so that the file reports them). */
edr_rc edr_mvcc_scan_inspect(struct edr_mvcc_scan *s, struct edr_mvcc_status *st,
                             struct edr_k8s_stats **k8s, int *redo, struct edr_err *err);
/* Values classed as they stream past (inspect's encryption report): set
 * before the stream, classify(ud, kv) is called for each put of the `key`
 * bucket, in any revision order, and returns a class; after
 * edr_mvcc_scan_inspect, edr_mvcc_scan_live_classes calls back for each
 * live key with the class of its latest value. 2 bytes per `key`-bucket
 * pair more. */
void edr_mvcc_scan_classify(struct edr_mvcc_scan *s,
                            uint16_t (*classify)(void *ud, const struct edr_kv *kv), void *ud);
/* cb returns 0, or -1 to stop (EDR_E_INTERNAL "out of memory"). */
edr_rc edr_mvcc_scan_live_classes(struct edr_mvcc_scan *s,
                                  int (*cb)(void *ud, const uint8_t *key, size_t kl, uint16_t cls),
                                  void *ud, struct edr_err *err);
void edr_mvcc_scan_free(struct edr_mvcc_scan *s);

/*
 * MVCC-level check: every `key`-bucket key is 17 bytes (or 18 ending 't')
 * with '_' at byte 8 and main/sub >= 0; every value decodes as
 * mvccpb.KeyValue with a non-empty key (an empty value is allowed only for a
 * 17-byte bump-revision marker); meta/consistent_index is present and 8
 * bytes. Errors are EDR_E_INTEGRITY naming the revision ("revision 12_0: ...").
 * Does not repeat edr_bolt_check.
 */
edr_rc edr_mvcc_check(struct edr_bolt *b, struct edr_err *err);

struct edr_kv {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
    int64_t create_revision, mod_revision, version, lease;
};

/*
 * Live keys whose key starts with prefix (prefix_len 0 = all) at revision
 * rev (0 = latest), in key order, to cb (0 continue, 1 stop, -1 abort with
 * the caller's err filled, see bolt.h). A rev below the compacted revision
 * is EDR_E_NOTFOUND "revision N is compacted"; a rev above the latest is
 * EDR_E_NOTFOUND "revision N is a future revision (current M)".
 * Memory: one entry (about 80 bytes) plus the key bytes per matching key
 * seen up to rev; values are re-read from the file when emitted. Pointers in
 * *kv are valid during the call only.
 */
edr_rc edr_mvcc_foreach_live(struct edr_bolt *b, const uint8_t *prefix, size_t prefix_len,
                             int64_t rev, int (*cb)(void *ud, const struct edr_kv *kv), void *ud,
                             struct edr_err *err);

/*
 * Kubernetes view of the live keys under "/registry/", split into resource
 * and namespace as k8s/key.h says. bytes = value sizes (the stored objects).
 * Arrays are sorted by name.
 */
struct edr_k8s_count {
    char *name;
    uint64_t count;
    uint64_t bytes;
};

struct edr_k8s_stats {
    struct edr_k8s_count *resources;
    size_t n_resources;
    struct edr_k8s_count *namespaces;
    size_t n_namespaces;
    uint64_t objects; /* all live keys under /registry/ */
    uint64_t bytes;
};

/* Memory as for edr_mvcc_foreach_live, for the keys under /registry/.
 * *out is malloc'ed; free with edr_mvcc_k8s_stats_free (accepts NULL). */
edr_rc edr_mvcc_k8s_stats(struct edr_bolt *b, struct edr_k8s_stats **out, struct edr_err *err);
void edr_mvcc_k8s_stats_free(struct edr_k8s_stats *s);

/* mvccpb.KeyValue codec (kvpb.c). decode: bounds-checked, unknown fields
 * skipped, pointers into buf. encode: returns the encoded size and writes
 * only when it fits in cap (proto3: zero fields omitted). */
edr_rc edr_mvcc_kv_decode(const uint8_t *buf, size_t len, struct edr_kv *kv, struct edr_err *err);
size_t edr_mvcc_kv_encode(const struct edr_kv *kv, uint8_t *out, size_t cap);

#endif
