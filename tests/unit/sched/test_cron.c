/*
 * Unit tests for the cron parser and next-fire-time search: field syntax,
 * names, the day-of-month/day-of-week rule, calendar edges, macros, the
 * seconds field, time zones with DST, every kind of invalid input, and a
 * brute-force cross-check of edr_cron_next against edr_cron_matches.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "sched/cron.h"
#include "../support.h"

static const char *
fmt(time_t t)
{
    static char buf[64];
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* next fire time after `after` (UTC text), formatted in UTC */
static const char *
nx_tz(const char *expr, const char *after, const char *tz)
{
    struct edr_cron c;
    struct edr_err err;
    time_t next = 0;

    edr_err_clear(&err);
    if (edr_cron_parse(&c, expr, &err) != EDR_OK)
        fail_msg("parse '%s': %s", expr, err.msg);
    if (edr_cron_next(&c, tu_time(after), tz, &next, &err) != EDR_OK)
        fail_msg("next '%s': %s", expr, err.msg);
    return fmt(next);
}

static const char *
nx(const char *expr, const char *after)
{
    return nx_tz(expr, after, NULL);
}

static void
test_steps(void **state)
{
    (void)state;
    assert_string_equal(nx("*/15 * * * *", "2026-11-26 10:07:00"), "2026-11-26 10:15:00");
    /* strictly after */
    assert_string_equal(nx("*/15 * * * *", "2026-11-26 10:45:00"), "2026-11-26 11:00:00");
    assert_string_equal(nx("*/15 * * * *", "2026-11-26 10:44:59"), "2026-11-26 10:45:00");
    assert_string_equal(nx("1-30/2 * * * *", "2026-11-26 10:29:00"), "2026-11-26 11:01:00");
    assert_string_equal(nx("1-30/2 * * * *", "2026-11-26 10:02:00"), "2026-11-26 10:03:00");
    /* V/S means V to the maximum */
    assert_string_equal(nx("50/5 * * * *", "2026-11-26 10:56:00"), "2026-11-26 11:50:00");
    assert_string_equal(nx("0 */6 * * *", "2026-11-26 18:00:00"), "2026-11-27 00:00:00");
    assert_string_equal(nx("0 0 */10 * *", "2026-11-21 00:00:00"), "2026-12-01 00:00:00");
    assert_string_equal(nx("0 0 1 */4 *", "2026-05-01 00:00:00"), "2026-09-01 00:00:00");
    /* a step as large as the field */
    assert_string_equal(nx("*/60 * * * *", "2026-11-26 10:00:00"), "2026-11-26 11:00:00");
}

static void
test_ranges_lists(void **state)
{
    (void)state;
    /* 2026-11-27 is a Friday */
    assert_string_equal(nx("0 9-17 * * 1-5", "2026-11-27 17:00:00"), "2026-11-30 09:00:00");
    assert_string_equal(nx("0 9-17 * * 1-5", "2026-11-27 12:30:00"), "2026-11-27 13:00:00");
    assert_string_equal(nx("5,10,50 * * * *", "2026-11-26 10:10:00"), "2026-11-26 10:50:00");
    assert_string_equal(nx("5,10,50 * * * *", "2026-11-26 10:50:00"), "2026-11-26 11:05:00");
    assert_string_equal(nx("0 0 1,15 * *", "2026-11-15 00:00:00"), "2026-12-01 00:00:00");
    assert_string_equal(nx("0-4,58-59 3 * * *", "2026-11-26 03:04:00"), "2026-11-26 03:58:00");
    assert_string_equal(nx("30 2 * 1,6-7,12 *", "2026-07-31 02:30:00"), "2026-12-01 02:30:00");
}

static void
test_names(void **state)
{
    (void)state;
    assert_string_equal(nx("0 0 1 JAN,jul *", "2026-02-01 00:00:00"), "2026-07-01 00:00:00");
    assert_string_equal(nx("0 0 1 mar-May *", "2026-05-01 00:00:00"), "2027-03-01 00:00:00");
    /* sun, 0 and 7 are all Sunday; 2026-11-29 is a Sunday */
    assert_string_equal(nx("0 12 * * SUN", "2026-11-26 00:00:00"), "2026-11-29 12:00:00");
    assert_string_equal(nx("0 12 * * 0", "2026-11-26 00:00:00"), "2026-11-29 12:00:00");
    assert_string_equal(nx("0 12 * * 7", "2026-11-26 00:00:00"), "2026-11-29 12:00:00");
    assert_string_equal(nx("0 12 * * fri-sun", "2026-11-28 12:00:00"), "2026-11-29 12:00:00");
    assert_string_equal(nx("0 12 * * 5-7", "2026-11-29 12:00:00"), "2026-12-04 12:00:00");
    assert_string_equal(nx("0 12 * * Mon-Wed/2", "2026-11-30 12:00:00"), "2026-12-02 12:00:00");
}

static void
test_calendar_edges(void **state)
{
    (void)state;
    assert_string_equal(nx("0 0 29 2 *", "2027-03-01 00:00:00"), "2028-02-29 00:00:00");
    assert_string_equal(nx("0 0 29 2 *", "2028-02-29 00:00:00"), "2032-02-29 00:00:00");
    /* 2100 is not a leap year */
    assert_string_equal(nx("0 0 29 2 *", "2096-03-01 00:00:00"), "2104-02-29 00:00:00");
    /* 2000 is */
    assert_string_equal(nx("0 0 29 2 *", "1999-01-01 00:00:00"), "2000-02-29 00:00:00");
    /* the 31st skips the short months */
    assert_string_equal(nx("0 0 31 * *", "2026-01-31 00:00:00"), "2026-03-31 00:00:00");
    assert_string_equal(nx("0 0 31 * *", "2026-05-31 00:00:00"), "2026-07-31 00:00:00");
    assert_string_equal(nx("0 0 30 * *", "2026-01-30 00:00:00"), "2026-03-30 00:00:00");
    /* year boundary */
    assert_string_equal(nx("59 23 31 12 *", "2026-12-31 23:59:00"), "2027-12-31 23:59:00");
    assert_string_equal(nx("* * * * *", "2026-12-31 23:59:59"), "2027-01-01 00:00:00");
    /* before 1970 */
    assert_string_equal(nx("0 0 1 1 *", "1969-06-01 00:00:00"), "1970-01-01 00:00:00");
}

static void
test_dom_dow_rule(void **state)
{
    (void)state;
    /* both restricted: either matches. 2026-11-27 is a Friday, 2026-12-13 a Sunday */
    assert_string_equal(nx("0 0 13 * fri", "2026-11-26 00:00:00"), "2026-11-27 00:00:00");
    assert_string_equal(nx("0 0 13 * fri", "2026-12-11 00:00:00"), "2026-12-13 00:00:00");
    assert_string_equal(nx("0 0 13 * fri", "2026-12-13 00:00:00"), "2026-12-18 00:00:00");
    /* dow '*': only the day of month counts */
    assert_string_equal(nx("0 0 13 * *", "2026-11-26 00:00:00"), "2026-12-13 00:00:00");
    /* dom '*': only the day of week counts */
    assert_string_equal(nx("0 0 * * fri", "2026-11-27 00:00:00"), "2026-12-04 00:00:00");
    /* a field starting with '*' means AND: odd days that are Mondays (2026-11-30 is even) */
    assert_string_equal(nx("0 0 */2 * mon", "2026-11-26 00:00:00"), "2026-12-07 00:00:00");
    /* Friday the 13th with AND (dow given as a '*' step never reaches OR) */
    assert_string_equal(nx("0 0 13 * */5", "2026-01-01 00:00:00"), "2026-02-13 00:00:00");
}

static void
test_macros(void **state)
{
    (void)state;
    assert_string_equal(nx("@yearly", "2026-11-26 10:00:00"), "2027-01-01 00:00:00");
    assert_string_equal(nx("@annually", "2027-01-01 00:00:00"), "2028-01-01 00:00:00");
    assert_string_equal(nx("@monthly", "2026-11-26 10:00:00"), "2026-12-01 00:00:00");
    assert_string_equal(nx("@weekly", "2026-11-26 10:00:00"), "2026-11-29 00:00:00");
    assert_string_equal(nx("@daily", "2026-11-26 10:00:00"), "2026-11-27 00:00:00");
    assert_string_equal(nx("@MIDNIGHT", "2026-11-26 10:00:00"), "2026-11-27 00:00:00");
    assert_string_equal(nx("  @hourly  ", "2026-11-26 10:00:00"), "2026-11-26 11:00:00");
}

static void
test_seconds(void **state)
{
    struct edr_cron c;
    struct edr_err err;

    (void)state;
    assert_string_equal(nx("*/10 * * * * *", "2026-11-26 10:00:05"), "2026-11-26 10:00:10");
    assert_string_equal(nx("*/10 * * * * *", "2026-11-26 10:00:50"), "2026-11-26 10:01:00");
    assert_string_equal(nx("30 0 0 * * *", "2026-11-26 00:00:30"), "2026-11-27 00:00:30");
    assert_string_equal(nx("15,45 */2 * * * *", "2026-11-26 00:01:15"), "2026-11-26 00:02:15");
    /* five fields: second 0 only */
    assert_string_equal(nx("* * * * *", "2026-11-26 00:01:15"), "2026-11-26 00:02:00");
    assert_int_equal(edr_cron_parse(&c, "5 * * * * *", &err), EDR_OK);
    assert_int_equal(c.has_seconds, 1);
    assert_true(c.second == ((uint64_t)1 << 5));
    assert_int_equal(edr_cron_parse(&c, "5 * * * *", &err), EDR_OK);
    assert_int_equal(c.has_seconds, 0);
    assert_true(c.second == 1);
    assert_true(c.minute == ((uint64_t)1 << 5));
    /* whitespace of every kind separates fields */
    assert_string_equal(nx("\t0\t0  * *\t*\n", "2026-11-26 10:00:00"), "2026-11-27 00:00:00");
}

static void
expect_error(const char *expr, const char *msg)
{
    struct edr_cron c;
    struct edr_err err;

    edr_err_clear(&err);
    memset(&c, 0xff, sizeof(c));
    if (edr_cron_parse(&c, expr, &err) != EDR_E_USAGE)
        fail_msg("'%s' parsed", expr);
    assert_int_equal(err.code, EDR_E_USAGE);
    assert_string_equal(err.msg, msg);
    assert_true(c.minute == 0 && c.second == 0 && c.wday == 0);
}

static void
test_invalid(void **state)
{
    char longexpr[EDR_CRON_EXPR_MAX + 2];

    (void)state;
    expect_error("x * * * *", "cron 'x * * * *': minute field: invalid value 'x'");
    expect_error("", "cron '': empty expression");
    expect_error("   ", "cron '   ': empty expression");
    expect_error("* * * *", "cron '* * * *': expected 5 or 6 fields, got 4");
    expect_error("* * * * * * *", "cron '* * * * * * *': expected 5 or 6 fields, got 7");
    expect_error("60 * * * *", "cron '60 * * * *': minute field: value '60' out of range 0-59");
    expect_error("61 * * * * *", "cron '61 * * * * *': second field: value '61' out of range 0-59");
    expect_error("* 24 * * *", "cron '* 24 * * *': hour field: value '24' out of range 0-23");
    expect_error("* * 0 * *", "cron '* * 0 * *': day-of-month field: value '0' out of range 1-31");
    expect_error("* * 32 * *",
                 "cron '* * 32 * *': day-of-month field: value '32' out of range 1-31");
    expect_error("* * * 13 *", "cron '* * * 13 *': month field: value '13' out of range 1-12");
    expect_error("* * * 0 *", "cron '* * * 0 *': month field: value '0' out of range 1-12");
    expect_error("* * * * 8", "cron '* * * * 8': day-of-week field: value '8' out of range 0-7");
    expect_error("* * * * -1", "cron '* * * * -1': day-of-week field: invalid value ''");
    expect_error("* * * foo *", "cron '* * * foo *': month field: invalid value 'foo'");
    expect_error("* * * * sunday",
                 "cron '* * * * sunday': day-of-week field: invalid value 'sunday'");
    /* names only where they belong */
    expect_error("* * * * jan", "cron '* * * * jan': day-of-week field: invalid value 'jan'");
    expect_error("mon * * * *", "cron 'mon * * * *': minute field: invalid value 'mon'");
    expect_error("5-1 * * * *", "cron '5-1 * * * *': minute field: invalid range '5-1'");
    expect_error("* * * * sat-fri",
                 "cron '* * * * sat-fri': day-of-week field: invalid range 'sat-fri'");
    expect_error("* * * dec-jan *", "cron '* * * dec-jan *': month field: invalid range 'dec-jan'");
    expect_error("1-2-3 * * * *", "cron '1-2-3 * * * *': minute field: invalid value '2-3'");
    expect_error("*/0 * * * *", "cron '*/0 * * * *': minute field: invalid step '0'");
    expect_error("*/ * * * *", "cron '*/ * * * *': minute field: invalid step ''");
    expect_error("*/x * * * *", "cron '*/x * * * *': minute field: invalid step 'x'");
    expect_error("*/61 * * * *", "cron '*/61 * * * *': minute field: invalid step '61'");
    expect_error("*/2/3 * * * *", "cron '*/2/3 * * * *': minute field: invalid step '2/3'");
    expect_error("/5 * * * *", "cron '/5 * * * *': minute field: invalid value ''");
    expect_error("1,,2 * * * *", "cron '1,,2 * * * *': minute field: empty list item");
    expect_error("1, * * * *", "cron '1, * * * *': minute field: empty list item");
    expect_error("** * * * *", "cron '** * * * *': minute field: invalid value '**'");
    expect_error("1.5 * * * *", "cron '1.5 * * * *': minute field: invalid value '1.5'");
    expect_error("+1 * * * *", "cron '+1 * * * *': minute field: invalid value '+1'");
    expect_error("0000000001 * * * *",
                 "cron '0000000001 * * * *': minute field: invalid value '0000000001'");
    expect_error("0 0 30 2 *",
                 "cron '0 0 30 2 *': day-of-month field: no selected month has such a day");
    expect_error("0 0 31 4,6,9,11 *", "cron '0 0 31 4,6,9,11 *': day-of-month field: no "
                                      "selected month has such a day");
    expect_error("@reboot", "cron '@reboot': unknown macro '@reboot'");
    expect_error("@daily 5", "cron '@daily 5': unexpected text after macro '@daily'");
    expect_error("@", "cron '@': unknown macro '@'");
    memset(longexpr, '*', sizeof(longexpr) - 1);
    longexpr[sizeof(longexpr) - 1] = '\0';
    expect_error(longexpr, "cron expression too long (256 bytes, at most 255)");
}

static void
test_or_rule_rescues(void **state)
{
    struct edr_cron c;
    struct edr_err err;

    (void)state;
    /* Feb 30 never exists, but with the OR rule Mondays in February do */
    assert_int_equal(edr_cron_parse(&c, "0 0 30 2 mon", &err), EDR_OK);
    assert_string_equal(nx("0 0 30 2 mon", "2026-11-26 00:00:00"), "2027-02-01 00:00:00");
}

/* Berlin: DST starts 2026-03-29 02:00 CET and ends 2026-10-25 03:00 CEST. */
static void
check_berlin(const char *tz)
{
    /* 02:30 does not exist on 2026-03-29: skipped to the next day (00:30 UTC = 02:30 CEST) */
    assert_string_equal(nx_tz("30 2 * * *", "2026-03-28 12:00:00", tz), "2026-03-30 00:30:00");
    /* a time outside the gap on the change day */
    assert_string_equal(nx_tz("30 3 * * *", "2026-03-28 12:00:00", tz), "2026-03-29 01:30:00");
    /* 02:30 occurs twice on 2026-10-25: fires at the first only */
    assert_string_equal(nx_tz("30 2 * * *", "2026-10-24 12:00:00", tz), "2026-10-25 00:30:00");
    assert_string_equal(nx_tz("30 2 * * *", "2026-10-25 00:30:00", tz), "2026-10-26 01:30:00");
    /* started inside the repeated hour, after its first 02:30: fire at the second */
    assert_string_equal(nx_tz("30 2 * * *", "2026-10-25 01:10:00", tz), "2026-10-25 01:30:00");
    /* hourly over the repeated hour: 02:00 CEST, then 03:00 CET, not 02:00 CET again */
    assert_string_equal(nx_tz("0 * * * *", "2026-10-24 23:30:00", tz), "2026-10-25 00:00:00");
    assert_string_equal(nx_tz("0 * * * *", "2026-10-25 00:00:00", tz), "2026-10-25 02:00:00");
    /* winter and summer offsets */
    assert_string_equal(nx_tz("0 9 * * *", "2026-01-10 00:00:00", tz), "2026-01-10 08:00:00");
    assert_string_equal(nx_tz("0 9 * * *", "2026-07-10 00:00:00", tz), "2026-07-10 07:00:00");
    assert_string_equal(nx_tz("@daily", "2026-07-10 00:00:00", tz), "2026-07-10 22:00:00");
}

static void
test_time_zones(void **state)
{
    char *before;

    (void)state;
    setenv("TZ", "Asia/Tokyo", 1);
    check_berlin("CET-1CEST,M3.5.0,M10.5.0/3");
    if (edr_cron_tz_check("Europe/Berlin", NULL) == EDR_OK)
        check_berlin("Europe/Berlin");
    else
        printf("# Europe/Berlin not installed, skipped\n");
    /* TZ is restored */
    before = getenv("TZ");
    assert_non_null(before);
    assert_string_equal(before, "Asia/Tokyo");
    unsetenv("TZ");
    assert_string_equal(nx_tz("0 9 * * *", "2026-01-10 00:00:00", "EST5EDT,M3.2.0,M11.1.0"),
                        "2026-01-10 14:00:00");
    assert_null(getenv("TZ"));
    assert_string_equal(nx_tz("0 9 * * *", "2026-01-10 00:00:00", "UTC"), "2026-01-10 09:00:00");
    assert_string_equal(nx_tz("0 9 * * *", "2026-01-10 00:00:00", ""), "2026-01-10 09:00:00");
}

static void
test_tz_check(void **state)
{
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_cron_tz_check(NULL, &err), EDR_OK);
    assert_int_equal(edr_cron_tz_check("UTC", &err), EDR_OK);
    assert_int_equal(edr_cron_tz_check("EST5EDT,M3.2.0,M11.1.0", &err), EDR_OK);
    assert_int_equal(edr_cron_tz_check("Mars/Olympus", &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "unknown time zone 'Mars/Olympus'");
    assert_int_equal(edr_cron_tz_check("../../etc/passwd", &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "unknown time zone '../../etc/passwd'");
    assert_int_equal(edr_cron_tz_check("/etc/passwd", &err), EDR_E_USAGE);
    setenv("TZDIR", "/nonexistent", 1);
    assert_int_equal(edr_cron_tz_check("Europe/Berlin", &err), EDR_E_USAGE);
    unsetenv("TZDIR");
}

/* edr_cron_next agrees with a minute-by-minute scan using edr_cron_matches. */
static void
test_brute_force(void **state)
{
    static const char *exprs[] = {
        "*/7 * * * *", "0 */5 * * *",      "13 2 1-3 * *",    "0 0 13 * fri",
        "0 0 */3 * 2", "45 23 * * 6,0",    "0 12 31 * *",     "10-20/3 4 * 2 *",
        "0 0 29 2 *",  "5 4 * 1,3,12 sun", "59 23 28-31 * *", "0 6 * * mon-fri",
    };
    static const char *starts[] = {"2026-11-26 10:07:00", "2027-12-30 23:59:00",
                                   "2028-02-28 00:00:00", "2026-02-01 00:00:00"};

    (void)state;
    for (size_t e = 0; e < sizeof(exprs) / sizeof(exprs[0]); e++) {
        struct edr_cron c;
        struct edr_err err;
        assert_int_equal(edr_cron_parse(&c, exprs[e], &err), EDR_OK);
        for (size_t s = 0; s < sizeof(starts) / sizeof(starts[0]); s++) {
            time_t after = tu_time(starts[s]), t = after, next;
            for (int i = 0; i < 5; i++) {
                time_t want = t - t % 60 + 60;
                struct tm tm;
                for (;; want += 60) {
                    gmtime_r(&want, &tm);
                    if (edr_cron_matches(&c, &tm))
                        break;
                    if (want - t > 6L * 366 * 86400)
                        fail_msg("%s: no match", exprs[e]);
                }
                assert_int_equal(edr_cron_next(&c, t, NULL, &next, &err), EDR_OK);
                if (next != want)
                    fail_msg("%s after %s: got %lld want %lld", exprs[e], fmt(t), (long long)next,
                             (long long)want);
                t = next;
            }
        }
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steps),           cmocka_unit_test(test_ranges_lists),
        cmocka_unit_test(test_names),           cmocka_unit_test(test_calendar_edges),
        cmocka_unit_test(test_dom_dow_rule),    cmocka_unit_test(test_macros),
        cmocka_unit_test(test_seconds),         cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_or_rule_rescues), cmocka_unit_test(test_time_zones),
        cmocka_unit_test(test_tz_check),        cmocka_unit_test(test_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
