/*
 * Whether an etcd of a given version can start a snapshot, and what state a
 * restored cluster inherits from it, decided before a restore writes
 * anything (doc/etcd-internals.md §6, §7). etcd refuses data newer than itself:
 * 3.6+ check meta/storageVersion against the schema versions they know, and
 * a cluster/clusterVersion above the binary's own is a downgrade they panic
 * on; 3.5 and older read no storage version but still treat a newer cluster
 * version as a downgrade. Nothing here prints.
 */
#ifndef EDR_RESTORE_COMPAT_H
#define EDR_RESTORE_COMPAT_H

#include <stddef.h>

#include "bolt/bolt.h"
#include "common/err.h"

struct edr_restore_facts {
    char storage_version[32];  /* meta/storageVersion ("3.6.0"), written by 3.6+; "" if absent */
    char cluster_version[32];  /* cluster/clusterVersion ("3.5.0"); "" if absent */
    int auth_enabled;          /* auth/authEnabled */
    int alarm_nospace;         /* alarm bucket: some member raised NOSPACE */
    int alarm_corrupt;         /* ... CORRUPT */
    char downgrade_target[32]; /* cluster/downgrade enabled: its target version, else "" */
};

/* Reads the facts from an open snapshot; absent buckets and keys leave their
 * fields empty. Errors are the reader's (EDR_E_INTEGRITY). */
edr_rc edr_restore_facts_read(struct edr_bolt *b, struct edr_restore_facts *f, struct edr_err *err);

/* The minor version of "3.6.16", "v3.6", "3.6.0-rc.0": 6; -1 unless it is 3.x. */
int edr_restore_version_minor(const char *v);

/* The newest etcd minor version whose data the snapshot holds (the higher of
 * its storage and cluster versions), -1 when it names neither. */
int edr_restore_data_minor(const struct edr_restore_facts *f);

/*
 * EDR_OK when etcd `target` ("3.6.16") can start the snapshot; EDR_E_TARGET
 * when the snapshot holds newer data ("backup holds etcd 3.7 data (storage
 * version 3.7.0); etcd 3.6.16 cannot start it"), with a HINT; EDR_E_USAGE
 * when target is not a 3.x version.
 */
edr_rc edr_restore_check_target(const struct edr_restore_facts *f, const char *target,
                                struct edr_err *err);

/*
 * State the restored cluster inherits that an operator must know about: one
 * line each (an alarm makes it read-only, a downgrade in progress, a target
 * more than one minor version newer than the data), into lines[0..max).
 * target may be NULL (unknown). Returns the number of lines.
 */
size_t edr_restore_inherited(const struct edr_restore_facts *f, const char *target,
                             char lines[][256], size_t max);

#endif
