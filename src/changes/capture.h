/*
 * Change capture: one watch over the whole keyspace turned into change
 * segments (segment.h), published every flush interval at a revision
 * boundary. What is published is durable; what is buffered is not, and a
 * new watch starts again at the revision after the last durable one, so a
 * reconnect, an endpoint failover or a killed process leaves neither a gap
 * nor an overlap.
 */
#ifndef EDR_CHANGES_CAPTURE_H
#define EDR_CHANGES_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "changes/segment.h"
#include "etcd/client.h"

struct edr_capture_opts {
    struct edr_repo *repo;
    const struct edr_pubkey *rcpt;
    size_t nrcpt;
    int level;
    double flush_s;     /* publish buffered revisions at least this often */
    size_t flush_bytes; /* or when this much is buffered */
    /* the watch runs on watch_client; lease lookups go through query_client
     * (a watch keeps its connection busy) */
    struct edr_etcd_client *watch_client, *query_client;
    /* called after each published segment (may be NULL), with the newest
     * revision etcd reported (watch response headers) */
    void (*published)(void *ud, const struct edr_segment *s, int64_t etcd_revision);
    void *ud;
};

/* Where the chain stands: the next revision to capture and the link to the
 * last published segment ("" and base set when a chain starts). */
struct edr_capture_state {
    int64_t next_rev;
    char prev_sha256[65];
    char base[64];
    uint64_t cluster_id;
    int64_t compact_revision; /* set when the watch was refused as compacted */
    double last_publish;      /* edr_now() of the last published segment */
    int64_t last_publish_rev;
    int64_t etcd_rev; /* the newest revision etcd reported */
    /* the first revision the next segment declares when it is the first of a
     * watch (0: next_rev): revisions before the first event that etcd wrote
     * nothing for, or that the base backup already holds */
    int64_t seg_start;
    /* set by the caller after a full backup: the revision etcd reported just
     * before it (the snapshot holds at least that much) */
    int64_t backup_holds;
    /* auth: changes of users, roles and permissions are not in the watch;
     * etcd's auth revision (AuthStatus, 3.5+) is polled instead */
    uint64_t auth_rev;    /* 0: not known yet */
    int auth_unsupported; /* etcd 3.4 */
    double auth_checked;
    int auth_changed; /* set when the watch ended because auth changed */
};

/*
 * Watch from st->next_rev on endpoint i and publish segments until the
 * stream ends. Returns EDR_E_ETCD when the stream broke or ended (st holds
 * the durable position: try the next endpoint), EDR_E_NOTFOUND when the
 * revision to start from was compacted (st->compact_revision set: a new
 * chain must start from a new full backup) or when etcd's auth revision
 * changed (st->auth_changed set, after publishing what was complete: a full
 * backup must record the new users and roles), EDR_E_INTERRUPTED when
 * interrupted (after publishing what was complete), EDR_E_INTEGRITY when the
 * watch skipped revisions, or a repository error.
 */
edr_rc edr_capture_watch(const struct edr_capture_opts *o, size_t i, struct edr_capture_state *st,
                         struct edr_err *err);

#endif
