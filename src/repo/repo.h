/*
 * A repository of backups on one storage backend, per cluster:
 *   <cluster>/<id>.edr          data file (etcd-dr-format(5))
 *   <cluster>/<id>.json         manifest, written last: the commit marker
 *   <cluster>/<id>.verify.json  result of the last `verify`
 *   <cluster>/.lock             lock held by backup and prune
 * Ids sort by time: 20261126T183000Z-r12345 (UTC start time, revision
 * reported by etcd's Status just before the snapshot).
 */
#ifndef EDR_REPO_REPO_H
#define EDR_REPO_REPO_H

#include <stddef.h>

#include "common/err.h"
#include "repo/manifest.h"
#include "storage/storage.h"

struct edr_repo {
    struct edr_storage *st;
    char *cluster;
};

edr_rc edr_repo_check_cluster_name(const char *name, struct edr_err *err);
edr_rc edr_repo_open(const char *url, const struct edr_storage_opts *sopts, const char *cluster,
                     int create, struct edr_repo **out, struct edr_err *err);
void edr_repo_free(struct edr_repo *r);
/* Point r at another cluster of the same storage (name checked as for open). */
edr_rc edr_repo_set_cluster(struct edr_repo *r, const char *cluster, struct edr_err *err);
/* The clusters of the repository: the valid cluster names of its top-level
 * directories holding a backup object or captured changes (a lock alone does
 * not make a cluster), sorted. *names malloc'ed, each name too; free with
 * edr_strv_free(*names, *n). */
edr_rc edr_repo_clusters(struct edr_repo *r, char ***names, int *n, struct edr_err *err);

/* "<cluster>/<id><suffix>" into buf. */
void edr_repo_object_name(const struct edr_repo *r, const char *id, const char *suffix, char *buf,
                          size_t n);

/* Complete backups (manifest parsed and data object present), sorted by id
 * ascending; broken manifests are skipped with a warning. *list is malloc'ed. */
edr_rc edr_repo_list(struct edr_repo *r, struct edr_manifest **list, size_t *n,
                     struct edr_err *err);
/* An object of the cluster that looks like a backup but is not a complete,
 * sound one: a manifest without data, an unreadable or invalid manifest, one
 * naming another id or cluster, data without a manifest. */
struct edr_repo_problem {
    char id[128];
    char msg[EDR_ERR_MSG_MAX];
};
/* edr_repo_list, plus the problems (malloc'ed, *nprobs of them) instead of
 * warnings about them: what verify --all reports. */
edr_rc edr_repo_list_all(struct edr_repo *r, struct edr_manifest **list, size_t *n,
                         struct edr_repo_problem **probs, size_t *nprobs, struct edr_err *err);
/* "latest", an id, or a unique id prefix. EDR_E_NOTFOUND when absent. */
edr_rc edr_repo_resolve(struct edr_repo *r, const char *ref, struct edr_manifest *out,
                        struct edr_err *err);

edr_rc edr_repo_lock(struct edr_repo *r, int wait_s, struct edr_storage_lock **out,
                     struct edr_err *err);
/* Another lock of the cluster, e.g. "changes/.lock" (held by capture). */
edr_rc edr_repo_lock_named(struct edr_repo *r, const char *lock, int wait_s,
                           struct edr_storage_lock **out, struct edr_err *err);
void edr_repo_unlock(struct edr_repo *r, struct edr_storage_lock *lk);

/* With the lock held: remove temp files and multipart uploads older than
 * age_s, and data objects that have no manifest (leftovers of killed runs). */
edr_rc edr_repo_cleanup(struct edr_repo *r, int age_s, struct edr_err *err);

/* The files kept beside backup m's snapshot, as its manifest records them
 * (edr_manifest_files_from_json); *files malloc'ed, NULL when none. */
edr_rc edr_repo_read_files(struct edr_repo *r, const struct edr_manifest *m,
                           struct edr_manifest_file **files, size_t *n, struct edr_err *err);

edr_rc edr_repo_write_manifest(struct edr_repo *r, const struct edr_manifest *m,
                               struct edr_err *err);
/* Delete a backup: manifest first (it stops being a backup), then data, then
 * the verification record. */
edr_rc edr_repo_delete(struct edr_repo *r, const char *id, struct edr_err *err);

/* Record a verification result next to the manifest. */
edr_rc edr_repo_record_verify(struct edr_repo *r, const char *id, const char *level, int ok,
                              const char *detail, struct edr_err *err);

#endif
