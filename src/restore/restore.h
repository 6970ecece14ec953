/*
 * Native restore of an etcd snapshot into member data dirs (doc/design-notes.md,
 * doc/etcd-internals.md §5): the bbolt file rewritten for the new cluster, then
 * per member a data dir with that db, a WAL and a raft .snap file, written
 * under a temp name and renamed into place. Ids come out identical to what
 * `etcdctl snapshot restore` computes from the same flags; etcd 3.4 to 3.6
 * start from the result. Nothing here prints.
 */
#ifndef EDR_RESTORE_RESTORE_H
#define EDR_RESTORE_RESTORE_H

#include <stdint.h>

#include "common/err.h"
#include "bolt/bolt.h"
#include "restore/cluster.h"
#include "restore/drop.h"

/* What the restore command collects from its flags; NULL means the default
 * of doc/etcd-internals.md §5.1 (advertise_peer_urls: the name's URLs). */
struct edr_restore_opts {
    const char *name;
    const char *initial_cluster;
    const char *token;
    const char *advertise_peer_urls;
    const char *data_dir;
    const char *wal_dir;
    int64_t bump_revision;
    int mark_compacted;
    int force;
};

/*
 * Parse and check the cluster of opts: defaults applied (name "default",
 * initial cluster "<name>=http://localhost:2380"), --name checked against
 * the cluster and the advertise URLs. EDR_E_USAGE with the reason.
 */
edr_rc edr_restore_opts_cluster(const struct edr_restore_opts *o, struct edr_restore_cluster **out,
                                struct edr_err *err);

/*
 * Rewrite the verified plain bbolt image src_db (no sha256 trailer: the
 * caller checked and stripped it) into the new file dst_db (created 0600,
 * replaced if present) as a fresh compact bbolt file. Every bucket is copied
 * byte for byte except:
 *   members         = members/<hex id> -> member JSON, for each new member
 *   members_removed = empty
 *   meta            consistent_index = N (8-byte BE), term = 1 (8-byte BE),
 *                   confState = {"voters":[new ids ascending],"auto_leave":false}
 *   auth            authEnabled = 0 when o->auth_off
 *   with bump > 0 && mark_compacted: key gets an empty-value entry at
 *   revision (max(highest main + bump, bump_floor), 0) and
 *   meta/scheduledCompactRev = that revision (doc/etcd-internals.md §5.5);
 *   with drop: the key entries of the dropped keys are left out (counted in
 *   drop). The highest main revision is taken before dropping.
 * The buckets members, members_removed and meta (and key when bumping) are
 * created if the source lacks them; other absent buckets stay absent (etcd
 * creates them at start). Errors: EDR_E_INTEGRITY from the bolt reader (also
 * for a malformed revision key when bumping), EDR_E_USAGE for a bump that
 * overflows, EDR_E_IO for dst_db. On failure dst_db is removed.
 */
struct edr_restore_kv {
    const uint8_t *k;
    size_t klen;
    const uint8_t *v;
    size_t vlen;
};
struct edr_restore_db_opts {
    int64_t bump;       /* --bump-revision (only with mark_compacted, like etcd) */
    int mark_compacted; /* --mark-compacted */
    int auth_off;       /* auth/authEnabled = 0 when the bucket exists (a drill's private copy) */
    /* Replay (a point-in-time restore): after the source's key bucket,
     * append_keys adds the entries of revisions up to replay_to (all after
     * the source's); then lease_entries gives the lease bucket's entries to
     * add or replace (sorted by key, valid until the write ends), with the
     * source db at hand to look at its leases. The buckets key and lease are
     * created if the source lacks them. */
    edr_rc (*append_keys)(void *ud, struct edr_bolt_writer *w, struct edr_err *err);
    edr_rc (*lease_entries)(void *ud, struct edr_bolt *src, const struct edr_restore_kv **kvs,
                            size_t *n, struct edr_err *err);
    void *replay_ud;
    int64_t replay_to;
    /* --drop-prefix (NULL: none): the source's key entries it matches are
     * left out; a replay filters its own through the same set */
    struct edr_restore_drop *drop;
    /* --bump-revision auto: the bumped revision is at least this (the
     * highest recorded one plus the margin), whatever the db's highest */
    int64_t bump_floor;
    /* out: the revision of the bump marker (0: no bump) */
    int64_t bumped_to;
};
edr_rc edr_restore_write_db(const char *src_db, const struct edr_restore_cluster *cl,
                            struct edr_restore_db_opts *o, const char *dst_db, struct edr_err *err);

/*
 * Write the complete data dir of member_name:
 *   <data_dir>/member/snap/db                      copy (or reflink) of prepared_db, 0600
 *   <data_dir>/member/snap/0000000000000001-<N>.snap   0666 & ~umask
 *   <data_dir>/member/wal/0000000000000000-0000000000000000.wal   0600, 64,000,000 bytes
 * with directories 0700; with wal_dir (non-NULL, not the default path) the
 * WAL goes to <wal_dir>/ instead and member/wal is not created. wal_dir must
 * not lie inside data_dir.
 * Everything is written under <dir>.etcd-dr-tmp-<pid> next to each target,
 * fsynced, then renamed into place and the parent fsynced. Missing parent
 * directories are created (0700). A target that exists and is not an empty
 * directory is refused with EDR_E_TARGET (plus a HINT) unless force; with
 * force it is renamed to <dir>.etcd-dr-old-<UTC yyyymmddThhmmssZ>[-k] (never
 * deleted). On failure the temp dirs are removed, nothing is left at
 * data_dir / wal_dir and a target moved aside is moved back.
 */
edr_rc edr_restore_member_dir(const struct edr_restore_cluster *cl, const char *member_name,
                              const char *prepared_db, const char *data_dir, const char *wal_dir,
                              int force, struct edr_err *err);

/*
 * edr_restore_member_dir in two steps, so that several members are restored
 * all or none: stage writes the whole data dir (and WAL dir) under its temp
 * names and checks the targets (nothing at data_dir / wal_dir changes);
 * commit moves a staged member into place (a busy target aside with force).
 * abort undoes a commit (the new dirs go, what was moved aside comes back)
 * and removes the temp dirs; free releases, removing what is not committed.
 * A failed stage or commit cleans up after itself.
 */
struct edr_restore_staged;
edr_rc edr_restore_member_stage(const struct edr_restore_cluster *cl, const char *member_name,
                                const char *prepared_db, const char *data_dir, const char *wal_dir,
                                int force, struct edr_restore_staged **out, struct edr_err *err);
edr_rc edr_restore_staged_commit(struct edr_restore_staged *st, struct edr_err *err);
void edr_restore_staged_abort(struct edr_restore_staged *st);
void edr_restore_staged_free(struct edr_restore_staged *st);

/* Placeholder for the client URLs in edr_restore_member_cmdline(). */
#define EDR_RESTORE_CLIENT_URLS_PLACEHOLDER "<CLIENT_URLS>"

/*
 * The etcd command line member_name must be started with, as one malloc'ed
 * shell-quoted string: etcd --name N --data-dir D [--wal-dir W]
 * --initial-advertise-peer-urls U --listen-peer-urls L
 * --advertise-client-urls <CLIENT_URLS> --listen-client-urls <CLIENT_URLS>.
 * L is U with host names (other than localhost) replaced by 0.0.0.0, since
 * etcd binds only to IP addresses. EDR_E_USAGE for an unknown member.
 */
edr_rc edr_restore_member_cmdline(const struct edr_restore_cluster *cl, const char *member_name,
                                  const char *data_dir, const char *wal_dir, char **out,
                                  struct edr_err *err);

#endif
