/*
 * etcd client over real gRPC (HTTP/2 through libcurl): Status, MemberList,
 * Authenticate and the streaming Snapshot, against one or more endpoints.
 * Cleartext endpoints (http://, or a bare host:port) use HTTP/2 with prior
 * knowledge; https:// endpoints negotiate h2 by ALPN.
 *
 * Errors: EDR_E_ETCD (unreachable, timeout, broken stream, gRPC error),
 * EDR_E_ETCD_AUTH (refused credentials or permission), EDR_E_TLS (certificate,
 * CA, handshake; with a HINT), EDR_E_INTEGRITY (snapshot size or checksum),
 * EDR_E_USAGE (bad endpoint list), EDR_E_INTERRUPTED (opts.interrupted set).
 * Messages read like "etcd 'http://127.0.0.1:2379': Snapshot: etcdserver: user
 * name is empty (grpc status 3 InvalidArgument)".
 *
 * Threads: a client is used by one thread at a time. The password is copied
 * into sodium_malloc'ed memory and wiped by edr_etcd_client_free; it is never
 * logged.
 */
#ifndef EDR_ETCD_CLIENT_H
#define EDR_ETCD_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "stream/stream.h"

enum edr_etcd_policy { EDR_ETCD_POLICY_FOLLOWER, EDR_ETCD_POLICY_LEADER, EDR_ETCD_POLICY_FIRST };

struct edr_etcd_opts {
    const char *endpoints; /* comma-separated URLs, http:// or https:// (bare host:port = http) */
    const char *cacert, *cert, *key;
    int insecure_skip_tls_verify;
    const char *user;       /* NULL: no auth */
    const char *password;   /* secret, owned by caller (sodium_malloc'ed); copied */
    long connect_timeout_s; /* default 5 when 0 */
    long stall_timeout_s;   /* no bytes for this long aborts a stream; default 60 when 0 */
    long request_timeout_s; /* unary calls; default 10 when 0 */
    /* Optional: polled while a call runs (at least once a second); when it
     * returns non-zero (e.g. after a signal), the call stops with
     * EDR_E_INTERRUPTED. */
    int (*interrupted)(void);
};

struct edr_etcd_status {
    char endpoint[256];
    int ok;          /* the Status call succeeded */
    char error[512]; /* ok == 0: why the call failed; ok && !healthy: why rank dropped it */
    char version[32];
    uint64_t cluster_id, member_id, leader, raft_index, raft_term, raft_applied_index;
    int64_t revision, db_size, db_size_in_use;
    int is_learner;
    char alarms_and_errors[512]; /* StatusResponse.errors joined with "; " */
    /* added fields */
    edr_rc rc;      /* error code of the failed call (ok == 0), else EDR_OK */
    char hint[256]; /* the failed call's HINT line, if any */
    int healthy;    /* set by edr_etcd_rank / edr_etcd_rank_statuses */
};

struct edr_etcd_member {
    uint64_t id;
    char name[128];
    char peer_urls[512];   /* joined with "," */
    char client_urls[512]; /* joined with "," */
    int is_learner;
};

struct edr_etcd_client;

/* Parse the endpoint list and set up the client; connects to nothing yet.
 * EDR_E_USAGE for an empty list or an unsupported scheme. */
edr_rc edr_etcd_client_new(const struct edr_etcd_opts *o, struct edr_etcd_client **out,
                           struct edr_err *err);
void edr_etcd_client_free(struct edr_etcd_client *c);

size_t edr_etcd_endpoint_count(const struct edr_etcd_client *c);
/* Normalized URL ("http://127.0.0.1:2379", no trailing slash). */
const char *edr_etcd_endpoint(const struct edr_etcd_client *c, size_t i);

/* Maintenance/Status of endpoint i. On success st->ok = 1 and st->endpoint is
 * set; on failure st->ok = 0, st->rc and st->error hold the error too. */
edr_rc edr_etcd_status(struct edr_etcd_client *c, size_t i, struct edr_etcd_status *st,
                       struct edr_err *err);

/* Cluster/MemberList via endpoint i; *members is malloc'ed (free() it). */
edr_rc edr_etcd_member_list(struct edr_etcd_client *c, size_t i, struct edr_etcd_member **members,
                            size_t *n, struct edr_err *err);

/* Status on every endpoint; drop unhealthy ones (error, alarms/errors list
 * non-empty, leader == 0); order the healthy ones by policy: FOLLOWER =
 * non-leaders first, highest raft_applied_index first, then the leader;
 * LEADER = leader first, then the others as for FOLLOWER; FIRST = command-line
 * order. Learners always come after voting members. statuses[] has
 * edr_etcd_endpoint_count() entries and is filled for every endpoint. No
 * healthy endpoint -> EDR_E_ETCD (or EDR_E_ETCD_AUTH / EDR_E_TLS if every
 * endpoint failed that way) with a message naming each endpoint's problem. */
edr_rc edr_etcd_rank(struct edr_etcd_client *c, enum edr_etcd_policy p, size_t *order,
                     size_t *norder, struct edr_etcd_status *statuses, struct edr_err *err);

/* The pure part of edr_etcd_rank: decides health (sets healthy, and error for
 * reachable but unhealthy endpoints) and the order of n filled statuses. */
edr_rc edr_etcd_rank_statuses(struct edr_etcd_status *statuses, size_t n, enum edr_etcd_policy p,
                              size_t *order, size_t *norder, struct edr_err *err);

struct edr_etcd_snapshot_sink {
    /* called once, before the first byte, when the db size is known (first
     * message: remaining_bytes + blob len); must return in *out the stream that
     * receives the db bytes (NOT the 32-byte sha256 trailer). */
    edr_rc (*begin)(void *ud, uint64_t db_size, struct edr_stream **out, struct edr_err *err);
    void *ud;
};

struct edr_etcd_snapshot_result {
    uint64_t db_size;
    uint8_t sha256[32];
};

/* Stream a snapshot from endpoint i (re-authenticating first when a user is
 * set). Verifies: total bytes == db_size, the extra final message is exactly
 * 32 bytes and equals SHA-256 of the db bytes, and the stream ended with
 * grpc-status 0. Missing checksum/mismatch/short -> EDR_E_INTEGRITY; a broken
 * or stalled stream -> EDR_E_ETCD (retryable on another endpoint, with a new
 * sink pipeline). Errors of the sink stream are returned as they are. The
 * sink stream is NOT finished by this call. Memory use is constant: at most
 * one gRPC message (max 4 MiB) is buffered. */
edr_rc edr_etcd_snapshot(struct edr_etcd_client *c, size_t i, struct edr_etcd_snapshot_sink *sink,
                         struct edr_etcd_snapshot_result *res, struct edr_err *err);

/* Range (KV service): keys in [key, range_end) (range_end_len 0 = the one
 * key), at most limit (0 = no limit), or only the count. kvs (mvcc/mvcc.h's
 * KeyValue, decoded as in a data file) point into the response, valid until
 * edr_etcd_range_release. */
struct edr_kv;

struct edr_etcd_range {
    int64_t revision; /* header revision */
    int64_t count;
    int more;
    struct edr_kv *kvs;
    size_t nkvs;
    uint8_t *raw;
};

edr_rc edr_etcd_range(struct edr_etcd_client *c, size_t i, const void *key, size_t key_len,
                      const void *range_end, size_t range_end_len, int64_t limit, int count_only,
                      struct edr_etcd_range *out, struct edr_err *err);
void edr_etcd_range_release(struct edr_etcd_range *r);

/*
 * A long-lived server stream (Watch): the request message msg is sent whole
 * (the client side then half-closes, which etcd's watch server takes as "no
 * more requests", not as the end), and each response message goes to
 * on_msg. tick runs at least once a second while the call is open, outside
 * libcurl's callbacks. The call ends when a callback returns an error (that
 * error is returned), on interruption, or when the stream breaks or the
 * server ends it (EDR_E_ETCD, also for a clean end: a watch never ends).
 */
struct edr_etcd_stream_cb {
    edr_rc (*on_msg)(void *ud, const uint8_t *msg, size_t len, struct edr_err *err);
    edr_rc (*tick)(void *ud, struct edr_err *err);
    void *ud;
};
edr_rc edr_etcd_stream_call(struct edr_etcd_client *c, size_t i, const char *service,
                            const char *method, const uint8_t *msg, size_t len,
                            const struct edr_etcd_stream_cb *cb, struct edr_err *err);
/* A unary call of service/method with request message msg (authenticating
 * as needed); *resp (malloc'ed) receives the response message. */
edr_rc edr_etcd_unary(struct edr_etcd_client *c, size_t i, const char *service, const char *method,
                      const uint8_t *msg, size_t len, uint8_t **resp, size_t *resp_len,
                      struct edr_err *err);

/* LeaseTimeToLive of lease id on endpoint i: *granted_ttl and *ttl in
 * seconds; *ttl is -1 (and *granted_ttl 0) for a lease that no longer
 * exists. */
edr_rc edr_etcd_lease_ttl(struct edr_etcd_client *c, size_t i, int64_t id, int64_t *granted_ttl,
                          int64_t *ttl, struct edr_err *err);

/* AuthStatus's auth revision (it grows with every change of users, roles
 * and permissions) of endpoint i. EDR_E_NOTFOUND from etcd 3.4, which has
 * no AuthStatus. */
edr_rc edr_etcd_auth_revision(struct edr_etcd_client *c, size_t i, uint64_t *rev,
                              struct edr_err *err);

#endif
