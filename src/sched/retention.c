/*
 * Retention decisions. The backups are ranked newest first; each rule marks
 * the backups it keeps with a bit, and the human-readable reasons are built
 * from the bits at the end, so every rule is evaluated independently and a
 * backup kept by several rules names them all. Time buckets are strftime
 * strings in UTC, which also gives ISO week numbering (%G-W%V) for free.
 */
#include "sched/retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DURATION_MAX_DIGITS 6

edr_rc
edr_duration_parse(const char *s, struct edr_duration *d, struct edr_err *err)
{
    const char *p = s;
    edr_rc rc;

    memset(d, 0, sizeof(*d));
    if (*p == '\0')
        return edr_err_set(err, EDR_E_USAGE, "invalid duration '': empty");
    while (*p != '\0') {
        long v = 0;
        int digits = 0;
        int *field;

        while (*p >= '0' && *p <= '9') {
            if (++digits > DURATION_MAX_DIGITS) {
                rc = edr_err_set(err, EDR_E_USAGE, "invalid duration '%s': number too large", s);
                goto out;
            }
            v = v * 10 + (*p++ - '0');
        }
        if (digits == 0) {
            rc = edr_err_set(err, EDR_E_USAGE, "invalid duration '%s': expected a number at '%s'",
                             s, p);
            goto out;
        }
        switch (*p) {
        case 'y':
            field = &d->years;
            break;
        case 'm':
            field = &d->months;
            break;
        case 'w':
            field = &d->weeks;
            break;
        case 'd':
            field = &d->days;
            break;
        case 'h':
            field = &d->hours;
            break;
        case '\0':
            rc =
                edr_err_set(err, EDR_E_USAGE, "invalid duration '%s': missing unit (y m w d h)", s);
            goto out;
        default:
            rc = edr_err_set(err, EDR_E_USAGE, "invalid duration '%s': unknown unit '%c'", s, *p);
            goto out;
        }
        if (*field > 999999 - v) {
            rc = edr_err_set(err, EDR_E_USAGE, "invalid duration '%s': number too large", s);
            goto out;
        }
        *field += (int)v;
        p++;
    }
    return EDR_OK;
out:
    memset(d, 0, sizeof(*d));
    return rc;
}

void
edr_duration_format(const struct edr_duration *d, char *buf, size_t size)
{
    const int vals[] = {d->years, d->months, d->weeks, d->days, d->hours};
    const char units[] = "ymwdh";
    size_t len = 0;

    if (size == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < 5; i++) {
        if (vals[i] != 0 && len < size) {
            int n = snprintf(buf + len, size - len, "%d%c", vals[i], units[i]);
            if (n > 0)
                len += (size_t)n;
        }
    }
    if (buf[0] == '\0')
        snprintf(buf, size, "0h");
}

struct ranked {
    size_t idx;
    time_t time;
    const char *id;
};

static int
cmp_newest_first(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    int c;

    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    c = strcmp(y->id != NULL ? y->id : "", x->id != NULL ? x->id : "");
    if (c != 0)
        return c;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

enum bucket { B_HOURLY, B_DAILY, B_WEEKLY, B_MONTHLY, B_YEARLY, B_COUNT };

static const struct {
    const char *name;
    const char *format;
    unsigned rule;
} buckets[B_COUNT] = {
    {"hourly", "%Y-%m-%dT%H", EDR_KEEP_HOURLY}, {"daily", "%Y-%m-%d", EDR_KEEP_DAILY},
    {"weekly", "%G-W%V", EDR_KEEP_WEEKLY},      {"monthly", "%Y-%m", EDR_KEEP_MONTHLY},
    {"yearly", "%Y", EDR_KEEP_YEARLY},
};

static void
bucket_key(enum bucket b, time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, buckets[b].format, &tm) == 0)
        snprintf(buf, size, "?");
}

static int
days_in_month(int year, int mon0)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return mon0 == 1 && leap ? 29 : dim[mon0];
}

/* newest - d: years and months on the calendar (clamped to the month's end), then the rest. */
time_t
edr_duration_before(time_t newest, const struct edr_duration *d)
{
    struct tm tm;
    long long months;
    int dim;

    if (gmtime_r(&newest, &tm) == NULL)
        return newest;
    months = (long long)tm.tm_year * 12 + tm.tm_mon - (long long)d->years * 12 - d->months;
    tm.tm_year = (int)(months >= 0 ? months / 12 : -((-months + 11) / 12));
    tm.tm_mon = (int)(months - (long long)tm.tm_year * 12);
    dim = days_in_month(tm.tm_year + 1900, tm.tm_mon);
    if (tm.tm_mday > dim)
        tm.tm_mday = dim;
    tm.tm_isdst = 0;
    return timegm(&tm) - ((time_t)d->weeks * 7 + d->days) * 86400 - (time_t)d->hours * 3600;
}

static void
append_reason(char *buf, const char *fmt, const char *arg)
{
    size_t len = strlen(buf);

    if (len > 0 && len + 2 < EDR_RETENTION_REASONS_MAX) {
        memcpy(buf + len, ", ", 3);
        len += 2;
    }
    snprintf(buf + len, EDR_RETENTION_REASONS_MAX - len, fmt, arg);
}

static void
count_text(int n, char *buf, size_t size)
{
    if (n == EDR_KEEP_ALL)
        snprintf(buf, size, "all");
    else
        snprintf(buf, size, "%d", n);
}

static edr_rc
check_count(const char *name, int n, struct edr_err *err)
{
    if (n < EDR_KEEP_ALL)
        return edr_err_set(err, EDR_E_USAGE, "keep-%s: invalid count %d", name, n);
    return EDR_OK;
}

int
edr_retention_has_backup_rule(const struct edr_retention_policy *p)
{
    return p->keep_last != 0 || p->keep_verified != 0 || p->has_within || p->keep_hourly != 0 ||
           p->keep_daily != 0 || p->keep_weekly != 0 || p->keep_monthly != 0 || p->keep_yearly != 0;
}

edr_rc
edr_retention_apply(const struct edr_retention_policy *policy, const struct edr_backup_ref *backups,
                    size_t n, struct edr_retention_decision *out, struct edr_err *err)
{
    const int counts[B_COUNT] = {policy->keep_hourly, policy->keep_daily, policy->keep_weekly,
                                 policy->keep_monthly, policy->keep_yearly};
    struct ranked *rank = NULL;
    char text[64];
    edr_rc rc;

    if ((rc = check_count("last", policy->keep_last, err)) != EDR_OK ||
        (rc = check_count("verified", policy->keep_verified, err)) != EDR_OK)
        return rc;
    for (int b = 0; b < B_COUNT; b++)
        if ((rc = check_count(buckets[b].name, counts[b], err)) != EDR_OK)
            return rc;
    if (!edr_retention_has_backup_rule(policy)) {
        edr_err_set(err, EDR_E_USAGE, "retention: no keep rule given");
        edr_err_hint(err, "give at least one of --keep-last, --keep-hourly, --keep-daily, "
                          "--keep-weekly, --keep-monthly, --keep-yearly, --keep-within");
        return EDR_E_USAGE;
    }
    if (n == 0)
        return EDR_OK;
    if ((rank = calloc(n, sizeof(*rank))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rank[i].idx = i;
        rank[i].time = backups[i].time;
        rank[i].id = backups[i].id;
        memset(&out[i], 0, sizeof(out[i]));
    }
    qsort(rank, n, sizeof(*rank), cmp_newest_first);

    out[rank[0].idx].rules |= EDR_KEEP_NEWEST;
    for (size_t r = 0; r < n; r++)
        if (policy->keep_last == EDR_KEEP_ALL || r < (size_t)policy->keep_last)
            out[rank[r].idx].rules |= EDR_KEEP_LAST;
    for (int b = 0; b < B_COUNT; b++) {
        char last[64] = "", key[64];
        long left = counts[b];
        for (size_t r = 0; r < n && left != 0; r++) {
            bucket_key((enum bucket)b, rank[r].time, key, sizeof(key));
            if (strcmp(key, last) == 0)
                continue;
            out[rank[r].idx].rules |= buckets[b].rule;
            memcpy(last, key, sizeof(last));
            if (left > 0)
                left--;
        }
    }
    if (policy->has_within) {
        time_t cutoff = edr_duration_before(rank[0].time, &policy->keep_within);
        for (size_t r = 0; r < n; r++)
            if (rank[r].time >= cutoff)
                out[rank[r].idx].rules |= EDR_KEEP_WITHIN;
    }
    {
        long left = policy->keep_verified;
        for (size_t r = 0; r < n && left != 0; r++) {
            if (!backups[rank[r].idx].verified)
                continue;
            out[rank[r].idx].rules |= EDR_KEEP_VERIFIED;
            if (left > 0)
                left--;
        }
    }

    for (size_t i = 0; i < n; i++) {
        struct edr_retention_decision *d = &out[i];
        char key[64];

        d->keep = d->rules != 0;
        if (d->rules & EDR_KEEP_NEWEST)
            append_reason(d->reasons, "%s", "newest");
        if (d->rules & EDR_KEEP_LAST) {
            count_text(policy->keep_last, text, sizeof(text));
            append_reason(d->reasons, "last %s", text);
        }
        for (int b = 0; b < B_COUNT; b++) {
            if (d->rules & buckets[b].rule) {
                char reason[96];
                bucket_key((enum bucket)b, backups[i].time, key, sizeof(key));
                snprintf(reason, sizeof(reason), "%s %s", buckets[b].name, key);
                append_reason(d->reasons, "%s", reason);
            }
        }
        if (d->rules & EDR_KEEP_WITHIN) {
            edr_duration_format(&policy->keep_within, text, sizeof(text));
            append_reason(d->reasons, "within %s", text);
        }
        if (d->rules & EDR_KEEP_VERIFIED) {
            count_text(policy->keep_verified, text, sizeof(text));
            append_reason(d->reasons, "verified %s", text);
        }
    }
    free(rank);
    return EDR_OK;
}
