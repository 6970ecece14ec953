/*
 * restore --drop-prefix: keys left out of a restored database, every
 * revision of them (puts and tombstones, from the backup and from replayed
 * changes), with counts per prefix for the summary. Typical use: the API
 * server endpoint leases of the old control plane (/registry/masterleases/)
 * and leader-election leases (/registry/leases/kube-system/), which point
 * at hosts that may not come back.
 */
#ifndef EDR_RESTORE_DROP_H
#define EDR_RESTORE_DROP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct edr_restore_drop;

struct edr_restore_drop_count {
    uint64_t keys;      /* distinct keys dropped */
    uint64_t live;      /* of them, alive at the restored revision (last entry a put) */
    uint64_t revisions; /* key-bucket entries dropped */
};

/* prefixes[0..n) are copied; an empty prefix is EDR_E_USAGE (it would drop
 * everything). A key under several prefixes counts for the first. */
edr_rc edr_restore_drop_new(char *const *prefixes, size_t n, struct edr_restore_drop **out,
                            struct edr_err *err);
/* Whether the entry of key (a put, or a tombstone when tomb) is dropped:
 * 1 dropped (and counted), 0 kept, -1 out of memory (err filled). Entries
 * must come in revision order (liveness is the last one's). d may be NULL:
 * nothing is dropped. */
int edr_restore_drop_key(struct edr_restore_drop *d, const uint8_t *key, size_t key_len, int tomb,
                         struct edr_err *err);
/* The same for a `key` bucket pair: the revision key (18 bytes ending 't'
 * for a tombstone) and the mvccpb.KeyValue; an empty value (a bump marker)
 * is kept. -1 with EDR_E_INTEGRITY for a value that does not decode. */
int edr_restore_drop_entry(struct edr_restore_drop *d, const uint8_t *rk, size_t rk_len,
                           const uint8_t *v, size_t v_len, struct edr_err *err);
size_t edr_restore_drop_n(const struct edr_restore_drop *d);
const char *edr_restore_drop_prefix(const struct edr_restore_drop *d, size_t i);
void edr_restore_drop_count(const struct edr_restore_drop *d, size_t i,
                            struct edr_restore_drop_count *c);
void edr_restore_drop_free(struct edr_restore_drop *d);

#endif
