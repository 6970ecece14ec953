/*
 * --bump-revision auto: how far to raise the revision of a restored cluster
 * so that it lies above every revision a client of the old cluster can have
 * seen (doc/pitr.md, "Revision bump"). A pure function of what the
 * repository recorded (backups and captured changes: a revision and the time
 * the cluster had reached it), the revision restored and the current time.
 */
#ifndef EDR_RESTORE_BUMP_H
#define EDR_RESTORE_BUMP_H

#include <stddef.h>
#include <stdint.h>

/* No margin below this many revisions, however quiet the cluster looked. */
#define EDR_BUMP_FLOOR 10000
/* The write rate assumed when the records show none (fewer than two
 * distinct points in time): revisions per second. */
#define EDR_BUMP_DEFAULT_RATE 100
/* Rates are measured over windows of at least this many seconds. */
#define EDR_BUMP_MIN_SPAN 60
/* The observed peak rate times this covers bursts the records missed. */
#define EDR_BUMP_RATE_FACTOR 2
/* The bump never exceeds this (INT64_MAX / 4, as an explicit --bump-revision). */
#define EDR_BUMP_MAX (INT64_MAX / 4)

/* A revision the cluster had reached by time_ms (Unix ms). what names the
 * record in the explanation ("backup 20261203T100000Z", "capture"). */
struct edr_bump_record {
    int64_t revision;
    int64_t time_ms;
    const char *what;
};

struct edr_bump_choice {
    int64_t bump;      /* what to add to the restored revision */
    int64_t highest;   /* the highest recorded revision (H) */
    int64_t margin;    /* M: revisions the repository may not have seen */
    double rate;       /* revisions per second used for M */
    int rate_observed; /* 0: EDR_BUMP_DEFAULT_RATE, nothing to measure */
    int64_t gap_s;     /* seconds from the newest record of H to now */
    size_t from;       /* index of the record holding H (n: none) */
};

/*
 * bump = max(H - restoring, 0) + M, with
 *   H    = the highest revision among recs (restoring when there are none),
 *   rate = the peak write rate the records show: over the records sorted by
 *          time, the highest (rev[j] - rev[i]) / (t[j] - t[i]) with j the
 *          first record at least 60 s after i (the last record, over 60 s,
 *          when none is that late); 100/s with fewer than two points in time,
 *   gap  = now - the time of the record holding H (0 when in the future),
 *   M    = max(10000, ceil(2 x rate x gap)),
 * capped at EDR_BUMP_MAX. recs may be NULL when n is 0; their order does not
 * matter. Never fails.
 */
void edr_bump_auto(const struct edr_bump_record *recs, size_t n, int64_t restoring, int64_t now_ms,
                   struct edr_bump_choice *out);

#endif
