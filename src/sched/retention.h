/*
 * Retention policy for `etcd-dr prune`: restic/borg-style keep rules over the
 * backups of one cluster, deciding for each backup whether it stays and which
 * rules keep it, so that `prune --dry-run` can explain itself.
 */
#ifndef EDR_SCHED_RETENTION_H
#define EDR_SCHED_RETENTION_H

#include <stddef.h>
#include <time.h>

#include "common/err.h"

/* A calendar duration for --keep-within: "1y6m", "2d", "36h", "1w" (units y m w d h). */
struct edr_duration {
    int years, months, weeks, days, hours;
};

/*
 * Parse a duration: one or more <number><unit> pairs, units y (years), m
 * (months), w (weeks), d (days), h (hours), e.g. "1y6m", "2w3d", "36h".
 * Numbers are decimal, at most 6 digits each. EDR_E_USAGE with
 * "invalid duration '2x': unknown unit 'x'" etc. on error.
 */
edr_rc edr_duration_parse(const char *s, struct edr_duration *d, struct edr_err *err);

/* Format in the order y m w d h, units summed ("1y6m2d" for "6m1y2d"), "0h" if zero. */
/* t - d: years and months on the calendar (a day clamped to the month's end),
 * then weeks, days and hours. */
time_t edr_duration_before(time_t t, const struct edr_duration *d);
void edr_duration_format(const struct edr_duration *d, char *buf, size_t size);

/*
 * Counts: 0 = rule off, N > 0 = keep N, EDR_KEEP_ALL (-1) = no limit (one per
 * bucket for the bucket rules). Any other negative count is an error.
 */
#define EDR_KEEP_ALL (-1)

struct edr_retention_policy {
    int keep_last;     /* the N newest backups */
    int keep_hourly;   /* the newest backup of each of the last N hours that have one */
    int keep_daily;    /* ... days */
    int keep_weekly;   /* ... ISO 8601 weeks (Monday to Sunday) */
    int keep_monthly;  /* ... months */
    int keep_yearly;   /* ... years */
    int keep_verified; /* the N newest backups with verified != 0 */
    int has_within;    /* keep_within is set */
    /*
     * Keep every backup not older than the newest backup's time minus this
     * duration (inclusive). Measured from the newest backup, not from the
     * current time, as restic does: a cluster whose backups stopped keeps its
     * last backups however long the outage lasts.
     */
    struct edr_duration keep_within;
    int has_changes_within; /* keep_changes_within is set */
    /* Captured changes are kept as far as they reach points in time not
     * older than the newest change's time minus this duration. */
    struct edr_duration keep_changes_within;
};

/* Non-zero when a rule about backups is set (keep_changes_within is not one). */
int edr_retention_has_backup_rule(const struct edr_retention_policy *p);

struct edr_backup_ref {
    const char *id; /* sorts by time; breaks ties between equal times */
    time_t time;    /* when the backup was taken (UTC seconds) */
    int verified;   /* last verification passed */
};

/* Bits of edr_retention_decision.rules. */
enum edr_keep_rule {
    EDR_KEEP_NEWEST = 1 << 0,
    EDR_KEEP_LAST = 1 << 1,
    EDR_KEEP_HOURLY = 1 << 2,
    EDR_KEEP_DAILY = 1 << 3,
    EDR_KEEP_WEEKLY = 1 << 4,
    EDR_KEEP_MONTHLY = 1 << 5,
    EDR_KEEP_YEARLY = 1 << 6,
    EDR_KEEP_WITHIN = 1 << 7,
    EDR_KEEP_VERIFIED = 1 << 8,
};

#define EDR_RETENTION_REASONS_MAX 256

struct edr_retention_decision {
    int keep;       /* 1 = keep, 0 = remove */
    unsigned rules; /* enum edr_keep_rule bits that keep it; 0 iff keep == 0 */
    /*
     * The rules that keep it, comma separated, in the order newest, last,
     * hourly, daily, weekly, monthly, yearly, within, verified, e.g.
     * "newest, last 3, daily 2026-11-25, weekly 2026-W48, within 2d".
     * Buckets are named in UTC: hourly "2026-11-25T14", daily "2026-11-25",
     * weekly "2026-W48" (ISO week-numbering year), monthly "2026-11",
     * yearly "2026". "last N" and "verified N" name the rule's count
     * ("all" for EDR_KEEP_ALL), "within" the duration. Empty when removed.
     */
    char reasons[EDR_RETENTION_REASONS_MAX];
};

/*
 * Decide which of the n backups to keep. out[i] is the decision for
 * backups[i]; the input order does not matter (backups are ranked newest
 * first by time, then by id). The newest backup is always kept; a backup kept
 * by any rule stays. Bucket rules walk the backups newest first and keep the
 * first (newest) backup of each new bucket until N buckets are taken.
 *
 * Errors: EDR_E_USAGE if a count is below EDR_KEEP_ALL ("keep-daily: invalid
 * count -2") or if no rule is set at all ("retention: no keep rule given",
 * with a hint): an empty policy would remove every backup but the newest.
 * EDR_E_INTERNAL on allocation failure.
 */
edr_rc edr_retention_apply(const struct edr_retention_policy *policy,
                           const struct edr_backup_ref *backups, size_t n,
                           struct edr_retention_decision *out, struct edr_err *err);

#endif
