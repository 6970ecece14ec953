/*
 * Cron expressions for `etcd-dr schedule`: the five classic fields (minute,
 * hour, day of month, month, day of week) with an optional leading seconds
 * field, lists, ranges, steps, month and weekday names and the @ macros, and
 * the computation of the next fire time in UTC or in a named time zone.
 */
#ifndef EDR_SCHED_CRON_H
#define EDR_SCHED_CRON_H

#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* Longest expression accepted (bytes, without the NUL). */
#define EDR_CRON_EXPR_MAX 255

/*
 * A parsed expression. Each field is a bit set: bit i set means value i
 * matches. mday uses bits 1..31, month bits 1..12, wday bits 0..6 with
 * Sunday = 0 (the 7 of the input is folded into 0). Without a seconds field,
 * `second` holds only bit 0.
 */
struct edr_cron {
    uint64_t second;
    uint64_t minute;
    uint32_t hour;
    uint32_t mday;
    uint16_t month;
    uint8_t wday;
    /* The field text began with '*' (Vixie's rule, see edr_cron_parse). */
    unsigned char mday_star;
    unsigned char wday_star;
    unsigned char has_seconds;
};

/*
 * Parse `expr` into *cron.
 *
 * Grammar: `[sec] min hour dom month dow`, fields separated by blanks; a field
 * is a comma list of items `*`, `V`, `A-B`, `*`/S, `A-B/S` or `V/S` (= V to the
 * field's maximum, step S). Ranges: second and minute 0-59, hour 0-23, dom
 * 1-31, month 1-12 or jan-dec, dow 0-7 or sun-sat (0 and 7 are Sunday). Names
 * are case-insensitive. Six fields means the first one is seconds.
 * Macros (case-insensitive): @yearly @annually @monthly @weekly @daily
 * @midnight @hourly.
 *
 * Day matching follows Vixie cron: if the day-of-month or the day-of-week
 * field starts with '*', a day must match both fields; otherwise (both
 * restricted) a day matching either field matches. An expression that can
 * never fire (e.g. "0 0 30 2 *") is rejected.
 *
 * Errors: EDR_E_USAGE with a message naming the expression and the field, e.g.
 * "cron 'x * * * *': minute field: invalid value 'x'". A caller that read the
 * expression from a configuration file may change err->code to EDR_E_CONFIG.
 * *cron is left zeroed on failure.
 */
edr_rc edr_cron_parse(struct edr_cron *cron, const char *expr, struct edr_err *err);

/*
 * Does the civil time in *tm (tm_sec..tm_year and tm_wday, as filled by
 * gmtime_r/localtime_r) match? Returns 1 or 0.
 */
int edr_cron_matches(const struct edr_cron *cron, const struct tm *tm);

/*
 * The first fire time strictly after `after`, stored in *next.
 *
 * `tz` NULL, "" or "UTC" computes in UTC with pure arithmetic (thread-safe, no
 * environment access). Any other value is a TZ string for the C library
 * (an IANA name such as "Europe/Berlin" or a POSIX rule such as
 * "CET-1CEST,M3.5.0,M10.5.0/3"): the function sets the TZ environment variable
 * for the duration of the call, uses localtime_r, and restores TZ afterwards,
 * so it is not thread-safe and must not race with other users of TZ. Check
 * a zone name first with edr_cron_tz_check: glibc silently treats an unknown
 * name as UTC.
 *
 * Daylight saving time: wall-clock times that do not exist (the hour skipped
 * in spring) are skipped, not moved; a wall-clock time that occurs twice (the
 * hour repeated in autumn) fires once, at its first occurrence after `after`,
 * and the repeated span is not fired again. The search assumes a zone changes
 * its UTC offset at most once within any two days.
 *
 * Errors: EDR_E_USAGE if no fire time exists before the year 9999 (the time
 * is out of range), EDR_E_INTERNAL if the C library cannot convert a time.
 */
edr_rc edr_cron_next(const struct edr_cron *cron, time_t after, const char *tz, time_t *next,
                     struct edr_err *err);

/*
 * Check a time zone name for edr_cron_next: NULL, "", "UTC" and POSIX rule
 * strings (containing a digit, e.g. "EST5EDT" or "<+03>-3") are accepted
 * as is; any other name must be a relative path without ".." naming a file
 * under $TZDIR or /usr/share/zoneinfo. EDR_E_USAGE with
 * "unknown time zone 'x'" otherwise.
 */
edr_rc edr_cron_tz_check(const char *tz, struct edr_err *err);

#endif
