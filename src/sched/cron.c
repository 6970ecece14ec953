/*
 * Cron expression parser and next-fire-time search. The search walks civil
 * (wall-clock) time field by field, from months down to seconds, so a year
 * with no match costs at most a few hundred steps. UTC uses our own calendar
 * arithmetic; a named zone maps each civil candidate back to UTC through
 * localtime_r, which is how nonexistent and repeated wall-clock times are
 * recognised.
 */
#include "sched/cron.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Years searched past `after` before giving up: the Gregorian calendar repeats every 400. */
#define SEARCH_YEARS 401
#define YEAR_LIMIT 9999

struct field_spec {
    const char *name;
    int min;
    int max;
    /* the '*' range: day-of-week stops at 6 since 7 repeats Sunday */
    int star_max;
    const char *const *names; /* names[i] has value min + i */
};

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                                          "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

enum { F_SEC, F_MIN, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const struct field_spec specs[F_COUNT] = {
    {"second", 0, 59, 59, NULL},       {"minute", 0, 59, 59, NULL},
    {"hour", 0, 23, 23, NULL},         {"day-of-month", 1, 31, 31, NULL},
    {"month", 1, 12, 12, month_names}, {"day-of-week", 0, 7, 6, day_names},
};

static const struct {
    const char *name;
    const char *expr;
} macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- calendar arithmetic (proleptic Gregorian, UTC) ---- */

struct civil {
    int64_t y;
    int mon; /* 1..12 */
    int d;   /* 1..31 */
    int h, mi, s;
};

static int
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month(int64_t y, int mon)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return mon == 2 && is_leap(y) ? 29 : dim[mon - 1];
}

static int64_t
floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Days since 1970-01-01 of a civil date; eras of 400 years keep it exact for any year. */
static int64_t
days_from_civil(int64_t y, int mon, int d)
{
    int64_t era, yoe, doy, doe;

    y -= mon <= 2;
    era = floor_div(y, 400);
    yoe = y - era * 400;
    doy = (153 * (mon + (mon > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, struct civil *c)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = floor_div(z, 146097);
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    c->d = (int)(doy - (153 * mp + 2) / 5 + 1);
    c->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    c->y = yoe + era * 400 + (c->mon <= 2);
}

static int64_t
civil_to_seconds(const struct civil *c)
{
    return days_from_civil(c->y, c->mon, c->d) * 86400 + c->h * 3600 + c->mi * 60 + c->s;
}

static void
civil_from_seconds(int64_t t, struct civil *c)
{
    int64_t days = floor_div(t, 86400);
    int64_t rem = t - days * 86400;

    civil_from_days(days, c);
    c->h = (int)(rem / 3600);
    c->mi = (int)(rem / 60 % 60);
    c->s = (int)(rem % 60);
}

static void
civil_from_tm(const struct tm *tm, struct civil *c)
{
    c->y = (int64_t)tm->tm_year + 1900;
    c->mon = tm->tm_mon + 1;
    c->d = tm->tm_mday;
    c->h = tm->tm_hour;
    c->mi = tm->tm_min;
    c->s = tm->tm_sec > 59 ? 59 : tm->tm_sec;
}

static int
civil_eq(const struct civil *a, const struct civil *b)
{
    return a->y == b->y && a->mon == b->mon && a->d == b->d && a->h == b->h && a->mi == b->mi &&
           a->s == b->s;
}

static int
weekday(const struct civil *c)
{
    int64_t days = days_from_civil(c->y, c->mon, c->d);
    return (int)((days % 7 + 11) % 7); /* 1970-01-01 was a Thursday (4) */
}

/* Carry overflowing fields upwards; each field exceeds its range by at most one step. */
static void
civil_carry(struct civil *c)
{
    if (c->s > 59) {
        c->s = 0;
        c->mi++;
    }
    if (c->mi > 59) {
        c->mi = 0;
        c->h++;
    }
    if (c->h > 23) {
        c->h = 0;
        c->d++;
    }
    if (c->mon <= 12 && c->d > days_in_month(c->y, c->mon)) {
        c->d = 1;
        c->mon++;
    }
    if (c->mon > 12) {
        c->mon = 1;
        c->y++;
    }
}

/* ---- matching ---- */

static int
day_matches(const struct edr_cron *cr, int mday, int wday)
{
    int dom = (cr->mday >> mday) & 1;
    int dow = (cr->wday >> wday) & 1;

    if (cr->mday_star || cr->wday_star)
        return dom && dow;
    return dom || dow;
}

int
edr_cron_matches(const struct edr_cron *cron, const struct tm *tm)
{
    if (tm->tm_sec < 0 || tm->tm_sec > 59 || tm->tm_min < 0 || tm->tm_min > 59 || tm->tm_hour < 0 ||
        tm->tm_hour > 23 || tm->tm_mday < 1 || tm->tm_mday > 31 || tm->tm_mon < 0 ||
        tm->tm_mon > 11 || tm->tm_wday < 0 || tm->tm_wday > 6)
        return 0;
    return ((cron->second >> tm->tm_sec) & 1) && ((cron->minute >> tm->tm_min) & 1) &&
           ((cron->hour >> tm->tm_hour) & 1) && ((cron->month >> (tm->tm_mon + 1)) & 1) &&
           day_matches(cron, tm->tm_mday, tm->tm_wday);
}

/*
 * Move *c forward to the first matching civil time at or after *c. Returns 0,
 * or -1 once the year passes ymax.
 */
static int
search(const struct edr_cron *cr, struct civil *c, int64_t ymax)
{
    for (;;) {
        if (c->y > ymax)
            return -1;
        if (!((cr->month >> c->mon) & 1)) {
            c->d = 1;
            c->h = c->mi = c->s = 0;
            c->mon++;
            civil_carry(c);
            continue;
        }
        if (!day_matches(cr, c->d, weekday(c))) {
            c->h = c->mi = c->s = 0;
            c->d++;
            civil_carry(c);
            continue;
        }
        if (!((cr->hour >> c->h) & 1)) {
            c->mi = c->s = 0;
            c->h++;
            civil_carry(c);
            continue;
        }
        if (!((cr->minute >> c->mi) & 1)) {
            c->s = 0;
            c->mi++;
            civil_carry(c);
            continue;
        }
        if (!((cr->second >> c->s) & 1)) {
            c->s++;
            civil_carry(c);
            continue;
        }
        return 0;
    }
}

static edr_rc
next_utc(const struct edr_cron *cr, time_t after, time_t *next, struct edr_err *err)
{
    struct civil c;
    int64_t ymax;

    civil_from_seconds((int64_t)after, &c);
    ymax = c.y + SEARCH_YEARS;
    if (ymax > YEAR_LIMIT)
        ymax = YEAR_LIMIT;
    c.s++;
    civil_carry(&c);
    if (search(cr, &c, ymax) != 0)
        return edr_err_set(err, EDR_E_USAGE, "cron: no fire time before the year %lld",
                           (long long)ymax + 1);
    *next = (time_t)civil_to_seconds(&c);
    return EDR_OK;
}

/* UTC offset in seconds at instant t in the current TZ, or -1 with *ok = 0. */
static int64_t
local_offset(int64_t t, int *ok)
{
    time_t tt = (time_t)t;
    struct tm tm;
    struct civil c;

    if (localtime_r(&tt, &tm) == NULL) {
        *ok = 0;
        return 0;
    }
    civil_from_tm(&tm, &c);
    return civil_to_seconds(&c) - t;
}

static edr_rc
next_local(const struct edr_cron *cr, time_t after, time_t *next, struct edr_err *err)
{
    struct civil c;
    struct tm tm;
    int64_t ymax;

    if (localtime_r(&after, &tm) == NULL)
        return edr_err_errno(err, EDR_E_INTERNAL, errno, "cron: cannot convert time %lld",
                             (long long)after);
    civil_from_tm(&tm, &c);
    ymax = c.y + SEARCH_YEARS;
    if (ymax > YEAR_LIMIT)
        ymax = YEAR_LIMIT;
    c.s++;
    civil_carry(&c);
    for (;;) {
        int64_t u, offs[3], best = 0;
        int have = 0, ok = 1;

        if (search(cr, &c, ymax) != 0)
            return edr_err_set(err, EDR_E_USAGE, "cron: no fire time before the year %lld",
                               (long long)ymax + 1);
        /*
         * Civil time c read as UTC is u; the instants showing c on a local clock
         * are u - offset for the offsets in force around u. Sampling a day on
         * each side finds both offsets of a transition.
         */
        u = civil_to_seconds(&c);
        offs[0] = local_offset(u - 86400, &ok);
        offs[1] = local_offset(u, &ok);
        offs[2] = local_offset(u + 86400, &ok);
        if (!ok)
            return edr_err_set(err, EDR_E_INTERNAL, "cron: cannot convert time %lld", (long long)u);
        for (int i = 0; i < 3; i++) {
            time_t t = (time_t)(u - offs[i]);
            struct civil back;

            if (localtime_r(&t, &tm) == NULL)
                continue;
            civil_from_tm(&tm, &back);
            if (!civil_eq(&back, &c) || t <= after)
                continue;
            if (!have || t < best)
                best = t;
            have = 1;
        }
        if (have) {
            *next = (time_t)best;
            return EDR_OK;
        }
        /* c does not exist on this clock (a DST gap): look further. */
        c.s++;
        civil_carry(&c);
    }
}

static int
tz_is_utc(const char *tz)
{
    return tz == NULL || tz[0] == '\0' || strcmp(tz, "UTC") == 0;
}

edr_rc
edr_cron_next(const struct edr_cron *cron, time_t after, const char *tz, time_t *next,
              struct edr_err *err)
{
    char *saved = NULL;
    const char *old;
    edr_rc rc;

    if (tz_is_utc(tz))
        return next_utc(cron, after, next, err);

    old = getenv("TZ");
    if (old != NULL && (saved = strdup(old)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (setenv("TZ", tz, 1) != 0) {
        rc = edr_err_errno(err, EDR_E_INTERNAL, errno, "cron: cannot set time zone '%s'", tz);
        goto out;
    }
    tzset();
    rc = next_local(cron, after, next, err);
out:
    if (saved != NULL)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    tzset();
    free(saved);
    return rc;
}

edr_rc
edr_cron_tz_check(const char *tz, struct edr_err *err)
{
    const char *dir;
    char path[4096];

    if (tz_is_utc(tz))
        return EDR_OK;
    if (strpbrk(tz, "0123456789") != NULL && tz[0] != '/' && strstr(tz, "..") == NULL)
        return EDR_OK; /* a POSIX rule string, which needs no file */
    if (tz[0] == ':')
        tz++;
    if (tz[0] == '\0' || tz[0] == '/' || strstr(tz, "..") != NULL)
        goto bad;
    dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = "/usr/share/zoneinfo";
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, tz) >= sizeof(path))
        goto bad;
    if (access(path, R_OK) == 0)
        return EDR_OK;
bad:
    return edr_err_set(err, EDR_E_USAGE, "unknown time zone '%s'", tz);
}

/* ---- parser ---- */

struct parse_ctx {
    const char *expr;
    const struct field_spec *spec;
    struct edr_err *err;
};

static edr_rc
field_error(const struct parse_ctx *px, const char *what, const char *tok, size_t len)
{
    return edr_err_set(px->err, EDR_E_USAGE, "cron '%s': %s field: %s '%.*s'", px->expr,
                       px->spec->name, what, (int)len, tok);
}

/* A number or (for month and day-of-week) a name. */
static edr_rc
parse_value(const struct parse_ctx *px, const char *tok, size_t len, int *out)
{
    const struct field_spec *sp = px->spec;

    if (len > 0 && isdigit((unsigned char)tok[0])) {
        long v = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)tok[i]) || i >= 9)
                return field_error(px, "invalid value", tok, len);
            v = v * 10 + (tok[i] - '0');
        }
        if (v < sp->min || v > sp->max)
            return edr_err_set(px->err, EDR_E_USAGE,
                               "cron '%s': %s field: value '%.*s' out "
                               "of range %d-%d",
                               px->expr, sp->name, (int)len, tok, sp->min, sp->max);
        *out = (int)v;
        return EDR_OK;
    }
    if (sp->names != NULL && len == 3) {
        for (int i = 0; sp->names[i] != NULL; i++) {
            if (strncasecmp(tok, sp->names[i], 3) == 0) {
                *out = sp->min + i;
                return EDR_OK;
            }
        }
    }
    return field_error(px, "invalid value", tok, len);
}

static edr_rc
parse_item(const struct parse_ctx *px, const char *tok, size_t len, uint64_t *bits)
{
    const struct field_spec *sp = px->spec;
    const char *slash = memchr(tok, '/', len);
    size_t base_len = slash != NULL ? (size_t)(slash - tok) : len;
    int lo, hi, step = 1;
    edr_rc rc;

    if (slash != NULL) {
        const char *s = slash + 1;
        size_t slen = len - base_len - 1;
        long v = 0;

        if (slen == 0 || slen > 3)
            return field_error(px, "invalid step", s, slen);
        for (size_t i = 0; i < slen; i++) {
            if (!isdigit((unsigned char)s[i]))
                return field_error(px, "invalid step", s, slen);
            v = v * 10 + (s[i] - '0');
        }
        if (v < 1 || v > sp->max - sp->min + 1)
            return field_error(px, "invalid step", s, slen);
        step = (int)v;
    }
    if (base_len == 1 && tok[0] == '*') {
        lo = sp->min;
        hi = sp->star_max;
    } else {
        const char *dash = memchr(tok, '-', base_len);
        if (base_len == 0)
            return field_error(px, "invalid value", tok, base_len);
        if (dash != NULL) {
            size_t alen = (size_t)(dash - tok);
            if ((rc = parse_value(px, tok, alen, &lo)) != EDR_OK)
                return rc;
            if ((rc = parse_value(px, dash + 1, base_len - alen - 1, &hi)) != EDR_OK)
                return rc;
            if (sp->names == day_names && hi == 0 && lo > 0)
                hi = 7; /* "fri-sun": Sunday as the end of a week */
            if (lo > hi)
                return field_error(px, "invalid range", tok, base_len);
        } else {
            if ((rc = parse_value(px, tok, base_len, &lo)) != EDR_OK)
                return rc;
            hi = slash != NULL ? sp->star_max : lo;
            if (hi < lo)
                hi = lo;
        }
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= (uint64_t)1 << v;
    return EDR_OK;
}

static edr_rc
parse_field(const struct parse_ctx *px, const char *text, size_t len, uint64_t *bits)
{
    size_t start = 0;
    edr_rc rc;

    *bits = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || text[i] == ',') {
            if (i == start)
                return edr_err_set(px->err, EDR_E_USAGE, "cron '%s': %s field: empty list item",
                                   px->expr, px->spec->name);
            if ((rc = parse_item(px, text + start, i - start, bits)) != EDR_OK)
                return rc;
            start = i + 1;
        }
    }
    return EDR_OK;
}

/* Can a day ever match? Only a day-of-month that no selected month has can fail. */
static int
days_possible(const struct edr_cron *cr)
{
    if (!cr->mday_star && !cr->wday_star)
        return 1; /* OR rule: every weekday occurs */
    for (int mon = 1; mon <= 12; mon++) {
        if (!((cr->month >> mon) & 1))
            continue;
        for (int d = 1; d <= days_in_month(2000, mon); d++) /* 2000: Feb has 29 days */
            if ((cr->mday >> d) & 1)
                return 1;
    }
    return 0;
}

static int
is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

edr_rc
edr_cron_parse(struct edr_cron *cron, const char *expr, struct edr_err *err)
{
    const char *fields[F_COUNT + 1];
    size_t lens[F_COUNT + 1];
    const char *p, *text = expr;
    struct parse_ctx px = {expr, NULL, err};
    uint64_t bits[F_COUNT];
    int n = 0, first;
    size_t len = strlen(expr);
    edr_rc rc;

    memset(cron, 0, sizeof(*cron));
    if (len > EDR_CRON_EXPR_MAX)
        return edr_err_set(err, EDR_E_USAGE, "cron expression too long (%zu bytes, at most %d)",
                           len, EDR_CRON_EXPR_MAX);
    while (is_blank(*text))
        text++;
    if (text[0] == '@') {
        size_t mlen = strcspn(text, " \t\n\r\v\f");
        const char *rest = text + mlen;
        while (is_blank(*rest))
            rest++;
        for (size_t i = 0; i < sizeof(macros) / sizeof(macros[0]); i++) {
            if (strlen(macros[i].name) == mlen && strncasecmp(text, macros[i].name, mlen) == 0) {
                if (*rest != '\0')
                    return edr_err_set(err, EDR_E_USAGE,
                                       "cron '%s': unexpected text after macro '%.*s'", expr,
                                       (int)mlen, text);
                return edr_cron_parse(cron, macros[i].expr, err);
            }
        }
        return edr_err_set(err, EDR_E_USAGE, "cron '%s': unknown macro '%.*s'", expr, (int)mlen,
                           text);
    }
    for (p = text; *p != '\0';) {
        size_t flen = 0;
        while (p[flen] != '\0' && !is_blank(p[flen]))
            flen++;
        if (n < F_COUNT + 1) {
            fields[n] = p;
            lens[n] = flen;
        }
        n++;
        p += flen;
        while (is_blank(*p))
            p++;
    }
    if (n == 0)
        return edr_err_set(err, EDR_E_USAGE, "cron '%s': empty expression", expr);
    if (n != 5 && n != 6)
        return edr_err_set(err, EDR_E_USAGE, "cron '%s': expected 5 or 6 fields, got %d", expr, n);
    first = n == 6 ? F_SEC : F_MIN;
    bits[F_SEC] = 1;
    for (int f = first; f < F_COUNT; f++) {
        px.spec = &specs[f];
        if ((rc = parse_field(&px, fields[f - first], lens[f - first], &bits[f])) != EDR_OK)
            return rc;
    }
    cron->second = bits[F_SEC];
    cron->minute = bits[F_MIN];
    cron->hour = (uint32_t)bits[F_HOUR];
    cron->mday = (uint32_t)bits[F_MDAY];
    cron->month = (uint16_t)bits[F_MONTH];
    /* 7 is Sunday too */
    cron->wday = (uint8_t)((bits[F_WDAY] | (bits[F_WDAY] >> 7)) & 0x7f);
    cron->mday_star = fields[F_MDAY - first][0] == '*';
    cron->wday_star = fields[F_WDAY - first][0] == '*';
    cron->has_seconds = n == 6;
    if (!days_possible(cron)) {
        memset(cron, 0, sizeof(*cron));
        return edr_err_set(err, EDR_E_USAGE,
                           "cron '%s': day-of-month field: no selected month has such a day", expr);
    }
    return EDR_OK;
}
