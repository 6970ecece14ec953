/*
 * The cluster a restore creates: --initial-cluster parsed and validated the
 * way etcd does it, member ids and the cluster id computed from the peer URLs
 * and the cluster token (doc/etcd-internals.md §5.1, §5.2), and the member JSON
 * etcd stores for each member (§3.5). Pure computation: no I/O, no DNS.
 */
#ifndef EDR_RESTORE_CLUSTER_H
#define EDR_RESTORE_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define EDR_RESTORE_DEFAULT_NAME "default"
#define EDR_RESTORE_DEFAULT_PEER_URL "http://localhost:2380"
#define EDR_RESTORE_DEFAULT_TOKEN "etcd-cluster"
/* The v2 store's event history holds 1000 events; a restore writes one per
 * member, so this bound keeps the .snap file exactly in etcd's shape. */
#define EDR_RESTORE_MAX_MEMBERS 512

struct edr_restore_member {
    char *name;
    char **urls; /* peer URLs, normalised (scheme lower-cased), sorted bytewise */
    size_t n_urls;
    uint64_t id; /* SHA1(join(urls, "") + token)[0:8], big-endian */
};

struct edr_restore_cluster {
    struct edr_restore_member *members; /* sorted by ascending id */
    size_t n_members;
    uint64_t cluster_id; /* SHA1(BE u64 of the sorted ids)[0:8] */
    char *token;
};

/*
 * Parse `name=url,name=url,...` (a name may repeat to give several URLs).
 * Rules as etcd: each URL is trimmed of white space, has scheme http, https,
 * unix or unixs, an authority `host:port` with a numeric port, and no path;
 * additionally (so the URL string etcd hashes is exactly the one given) no
 * user info, query or fragment and only [A-Za-z0-9._-] in host names, or a
 * bracketed IPv6 literal. Names must be non-empty; a URL may appear only once
 * in the whole cluster. token NULL means EDR_RESTORE_DEFAULT_TOKEN.
 * Errors: EDR_E_USAGE naming the offending element; EDR_E_INTERNAL on OOM.
 * *out is owned by the caller: edr_restore_cluster_free().
 */
edr_rc edr_restore_cluster_parse(const char *initial_cluster, const char *token,
                                 struct edr_restore_cluster **out, struct edr_err *err);
void edr_restore_cluster_free(struct edr_restore_cluster *cl);

/* The member called name, or NULL. */
const struct edr_restore_member *edr_restore_cluster_find(const struct edr_restore_cluster *cl,
                                                          const char *name);

/*
 * etcd's bootstrap check for the local member: name must be in the cluster,
 * and advertise_peer_urls (comma-separated; NULL means "the name's URLs")
 * must, once parsed and sorted, equal the name's URLs string for string (no
 * DNS resolution, unlike etcd). EDR_E_USAGE otherwise. *member (may be NULL)
 * receives the member.
 */
edr_rc edr_restore_cluster_check_member(const struct edr_restore_cluster *cl, const char *name,
                                        const char *advertise_peer_urls,
                                        const struct edr_restore_member **member,
                                        struct edr_err *err);

/* Member id as etcd prints it: lower-case hex without leading zeros.
 * out must hold 17 bytes. */
void edr_restore_id_hex(uint64_t id, char out[17]);

/*
 * The JSON etcd stores for a new member (members bucket, ConfChange
 * context): {"id":<decimal>,"peerURLs":[...],"name":"..."}, strings escaped
 * exactly as Go's encoding/json (go1.19) does. *out is malloc'ed and
 * NUL-terminated; *out_len excludes the NUL. EDR_E_INTERNAL on OOM.
 */
edr_rc edr_restore_member_json(const struct edr_restore_member *m, char **out, size_t *out_len,
                               struct edr_err *err);

/* The raft attributes JSON of the v2 store: {"peerURLs":[...]}. As above. */
edr_rc edr_restore_raft_attrs_json(const struct edr_restore_member *m, char **out, size_t *out_len,
                                   struct edr_err *err);

#endif
