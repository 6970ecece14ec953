/*
 * Change segments: what `capture` records between full backups, and what a
 * point-in-time restore replays (doc/pitr.md, etcd-dr-format(5)).
 *
 * A segment holds every event of the main revisions first..last, complete:
 * it always ends at the end of a revision. In the repository:
 *   <cluster>/changes/<first>-<last>.edr    data file (revisions as 20 digits)
 *   <cluster>/changes/<first>-<last>.json   manifest, written last
 * The data file is a backup's data file (recipients, zstd, secretstream)
 * around a tar holding `changes.bin` (the records below) and a copy of the
 * manifest. The records, after the 8-byte magic "EDRCHG1\n", are
 *   event:  type (1 put, 2 delete), rev, time_ms, kv length, kv bytes
 *   lease:  3, rev, lease id, granted TTL (s)
 * with every number a protobuf varint; kv is the mvccpb.KeyValue etcd sent
 * in the watch event. Events come in revision order and, within a revision,
 * in etcd's sub-revision order. A lease record says which TTL lease id had
 * when the capture first saw it used at revision rev.
 *
 * Segments link into chains: each names the records_sha256 of the one before
 * (prev_sha256, empty for the first of a chain), and starts at the revision
 * after the previous one's last. A chain covers (first - 1, last]: restored
 * on top of any full backup whose revision lies in that range, it reaches
 * any revision up to last.
 */
#ifndef EDR_CHANGES_SEGMENT_H
#define EDR_CHANGES_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "common/buf.h"
#include "crypto/keys.h"
#include "repo/repo.h"

#define EDR_SEG_MAGIC "EDRCHG1\n"
#define EDR_SEG_MAGIC_LEN 8
#define EDR_SEG_RECORD_MAX (64u << 20)

enum edr_seg_type { EDR_SEG_PUT = 1, EDR_SEG_DEL = 2, EDR_SEG_LEASE = 3 };

struct edr_seg_record {
    enum edr_seg_type type;
    int64_t rev;
    int64_t time_ms;   /* events */
    const uint8_t *kv; /* events: the KeyValue bytes */
    size_t kv_len;
    int64_t lease_id, lease_ttl; /* leases */
};

/* Append one record (the magic first when b is empty). 0, or -1 when out of
 * memory. */
int edr_seg_put_event(struct edr_buf *b, enum edr_seg_type type, int64_t rev, int64_t time_ms,
                      const uint8_t *kv, size_t kv_len);
int edr_seg_put_lease(struct edr_buf *b, int64_t rev, int64_t id, int64_t ttl);

/* A terminal stream parsing records: fn gets each one (pointers valid during
 * the call). Checks the magic and that revisions never go back. Errors:
 * EDR_E_INTEGRITY "<what>: ..." for bad input, or fn's. */
typedef edr_rc (*edr_seg_record_fn)(void *ud, const struct edr_seg_record *r, struct edr_err *err);
edr_rc edr_seg_parser_new(edr_seg_record_fn fn, void *ud, const char *what, struct edr_stream **out,
                          struct edr_err *err);

#define EDR_SEG_FORMAT 1

struct edr_segment {
    int format;
    char cluster[128];
    int64_t first_revision, last_revision;
    int64_t first_time_ms, last_time_ms; /* capture times of the first and last revision */
    uint64_t events, leases;
    uint64_t records_size;
    char records_sha256[65];
    char prev_sha256[65]; /* "" for the first segment of a chain */
    char base[64];        /* first of a chain: the full backup it continues */
    uint64_t cluster_id;
    time_t created;
    char tool_version[32];
    int compress_level;
    int encrypted;
    int nrecipients;
    char recipients[EDR_MANIFEST_MAX_RECIPIENTS][17];
    uint64_t stored_size;
    char stored_sha256[65];
};

edr_rc edr_segment_to_json(const struct edr_segment *s, char **out, struct edr_err *err);
edr_rc edr_segment_from_json(const char *json, size_t len, const char *what, struct edr_segment *s,
                             struct edr_err *err);
/* "<cluster>/changes/<first>-<last><suffix>" */
void edr_segment_name(const char *cluster, int64_t first, int64_t last, const char *suffix,
                      char *buf, size_t n);

/*
 * Store records (len bytes, from edr_seg_put_*) as a segment: s comes with
 * the revision, time, count, link and base fields filled; the stored and
 * record hashes are filled here. The data object is published first, then
 * the manifest (the commit marker). Nothing is left on failure.
 */
edr_rc edr_segment_publish(struct edr_repo *repo, const struct edr_pubkey *rcpt, size_t nrcpt,
                           int level, struct edr_segment *s, const uint8_t *records, size_t len,
                           struct edr_err *err);

/*
 * Read segment s back with every check: stored size and hash, decryption,
 * the records' hash, the manifest copy inside, every event inside
 * first..last and every main revision in between present. fn (may be NULL)
 * gets each record.
 */
edr_rc edr_segment_read(struct edr_repo *repo, const struct edr_segment *s,
                        struct edr_identity *identity, edr_seg_record_fn fn, void *ud,
                        struct edr_err *err);

/* The segments of the repository's cluster sorted by first revision, and the
 * objects under changes/ that are not sound segments (manifest without data,
 * unreadable manifest, data without manifest). Arrays malloc'ed. */
struct edr_seg_problem {
    char name[160];
    char msg[EDR_ERR_MSG_MAX];
};
edr_rc edr_segment_list(struct edr_repo *repo, struct edr_segment **segs, size_t *n,
                        struct edr_seg_problem **probs, size_t *nprobs, struct edr_err *err);

/* Chains of a sorted segment list: segs[first..last] each. */
struct edr_chain {
    size_t first, last;
    int64_t from_rev, to_rev; /* covers (from_rev, to_rev] */
    int64_t from_ms, to_ms;
};
/* The revision captured changes continue a backup from: its revision,
 * except that a db holding no key revision at all (revision 0: a cluster
 * never written) is etcd's state at revision 1, where every store starts;
 * changes of such a cluster may start at 2 (Gardener's first delta does). */
static inline int64_t
edr_backup_base_rev(int64_t revision)
{
    return revision > 0 ? revision : 1;
}

/* Group sorted segments into chains; a segment that overlaps the one before
 * or does not link to it starts a new chain. *chains malloc'ed. */
edr_rc edr_segment_chains(const struct edr_segment *segs, size_t n, struct edr_chain **chains,
                          size_t *nchains, struct edr_err *err);

/*
 * Retention of captured changes: the revision at or below which they serve
 * no kept backup. Backups are (revision, start time) pairs of the backups
 * kept; with has_cutoff the oldest point to stay reachable is `cutoff`, so
 * the base is the newest kept backup started at or before it (the oldest
 * kept one when none is); without, the oldest kept backup. Segments that end
 * at or below the result can go. -1 when no backup is kept (keep them all).
 */
int64_t edr_segment_floor(const int64_t *revs, const time_t *times, size_t n, int has_cutoff,
                          time_t cutoff);
/* Remove a segment: manifest first (it stops being listed), then data. */
edr_rc edr_segment_delete(struct edr_repo *repo, const struct edr_segment *s, struct edr_err *err);

#endif
