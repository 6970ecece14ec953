/*
 * Point-in-time restore: which full backup and which change segments reach
 * a target revision (or time), and the replay of those segments into the
 * bbolt image the restore writes (edr_restore_db_opts.append_keys and
 * .lease_entries).
 *
 * Replayed entries are what etcd itself would have stored: a put is the
 * revision key (main revision, sub-revision = its place among the events of
 * that revision) with the KeyValue bytes of the event; a delete is the
 * revision key with the tombstone mark 't' and a KeyValue holding only the
 * key. Leases used by replayed puts go into the lease bucket with the TTL
 * captured for them; a lease whose TTL was not captured (it was seen before
 * the backup, or the lookup failed) keeps the backup's entry, and gets
 * EDR_REPLAY_LEASE_TTL_UNKNOWN seconds only when the backup has none.
 */
#ifndef EDR_CHANGES_REPLAY_H
#define EDR_CHANGES_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "changes/segment.h"
#include "restore/restore.h"

#define EDR_REPLAY_LEASE_TTL_UNKNOWN 60

/* What reaches revision `to`: backups[*backup] (the newest backup at or below
 * `to` that a chain continues up to `to`) and segs[*first..*last] (none when
 * *first > *last: the backup is at `to`). EDR_E_NOTFOUND with what the
 * repository can reach when nothing does. */
edr_rc edr_replay_plan(const struct edr_manifest *backups, size_t nb,
                       const struct edr_segment *segs, size_t nsegs, int64_t to, size_t *backup,
                       size_t *first, size_t *last, struct edr_err *err);

/* The last revision captured at or before time t_ms (Unix ms): reads the one
 * segment whose time range holds t. A backup counts from the time it
 * finished (its revision may hold writes made while it ran).
 * EDR_E_NOTFOUND when nothing is that old. */
edr_rc edr_replay_time_to_rev(struct edr_repo *repo, struct edr_identity *identity,
                              const struct edr_manifest *backups, size_t nb,
                              const struct edr_segment *segs, size_t nsegs, int64_t t_ms,
                              int64_t *rev, struct edr_err *err);

struct edr_replay {
    struct edr_repo *repo;
    struct edr_identity *identity;
    const struct edr_segment *segs;
    size_t first, last;
    int64_t from_rev; /* the backup's revision: events at or below it are in the backup */
    int64_t to_rev;
    struct edr_restore_drop *drop; /* --drop-prefix: events of these keys are left out */
    /* results */
    uint64_t events;
    int64_t last_rev;
    /* internals */
    struct edr_bolt_writer *w;
    int64_t cur_rev, sub;
    uint8_t *tomb;
    size_t tomb_cap;
    struct replay_lease *leases;
    size_t nleases, capleases;
    struct edr_restore_kv *lease_kvs;
    uint8_t *lease_bytes;
};

/* Callbacks for edr_restore_db_opts (ud = struct edr_replay *). */
edr_rc edr_replay_append_keys(void *ud, struct edr_bolt_writer *w, struct edr_err *err);
edr_rc edr_replay_lease_entries(void *ud, struct edr_bolt *src, const struct edr_restore_kv **kvs,
                                size_t *n, struct edr_err *err);
void edr_replay_release(struct edr_replay *r);

#endif
