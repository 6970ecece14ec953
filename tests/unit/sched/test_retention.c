/*
 * Unit tests for retention: table-driven policies over two synthetic sets
 * (a year boundary with ISO week 53 and week 1 starting in December; a leap
 * year with month ends), exact keep sets and reasons, tie-breaking,
 * durations and the error paths.
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

#include "sched/retention.h"
#include "../support.h"

struct item {
    const char *id;
    const char *time;
    int verified;
};

/*
 * Set 1, labelled a (newest) to o; given to the function in a shuffled order.
 * 2026 has 53 ISO weeks: 2026-12-28 .. 2027-01-03 is 2026-W53, and
 * 2025-12-31 belongs to 2026-W01.
 */
static const struct item set1[] = {
    {"h", "2027-01-01 00:10:00", 0}, /* Fri, 2026-W53 */
    {"a", "2027-01-04 01:55:00", 0}, /* Mon, 2027-W01 */
    {"o", "2025-12-31 12:00:00", 0}, /* Wed, 2026-W01 */
    {"c", "2027-01-04 00:45:00", 1}, {"b", "2027-01-04 01:05:00", 0},
    {"e", "2027-01-04 00:00:00", 0}, {"d", "2027-01-04 00:30:00", 0},
    {"f", "2027-01-03 23:59:59", 0},                                  /* Sun, 2026-W53 */
    {"g", "2027-01-01 00:40:00", 0}, {"i", "2026-12-31 23:30:00", 0}, /* Thu, 2026-W53 */
    {"j", "2026-12-28 12:00:00", 1},                                  /* Mon, 2026-W53 */
    {"k", "2026-12-27 12:00:00", 0},                                  /* Sun, 2026-W52 */
    {"l", "2026-11-30 23:00:00", 0},                                  /* month end, 2026-W49 */
    {"n", "2026-10-31 23:59:00", 0},                                  /* Sat, 2026-W44 */
    {"m", "2026-11-01 00:00:00", 0},                                  /* Sun, 2026-W44 */
};

/* Set 2: a leap year, month ends, a gap, an exact 24 h step (a-h newest first). */
static const struct item set2[] = {
    {"g", "2028-01-31 09:00:00", 0}, {"a", "2028-03-31 10:00:00", 0},
    {"c", "2028-03-01 00:00:00", 0}, {"b", "2028-03-30 10:00:00", 0},
    {"d", "2028-02-29 23:59:00", 0}, {"e", "2028-02-29 00:01:00", 0},
    {"f", "2028-02-28 23:00:00", 0}, {"h", "2027-12-31 10:00:00", 0},
};

struct policy_case {
    const char *name;
    int last, hourly, daily, weekly, monthly, yearly, verified;
    const char *within; /* NULL = off */
    const char *kept;   /* labels, sorted */
};

static const struct policy_case set1_cases[] = {
    {"last 3", 3, 0, 0, 0, 0, 0, 0, NULL, "abc"},
    {"hourly 4", 0, 4, 0, 0, 0, 0, 0, NULL, "acfg"},
    {"hourly all", 0, EDR_KEEP_ALL, 0, 0, 0, 0, 0, NULL, "acfgijklmno"},
    {"daily 3", 0, 0, 3, 0, 0, 0, 0, NULL, "afg"},
    {"daily all", 0, 0, EDR_KEEP_ALL, 0, 0, 0, 0, NULL, "afgijklmno"},
    {"weekly 3", 0, 0, 0, 3, 0, 0, 0, NULL, "afk"},
    {"weekly all", 0, 0, 0, EDR_KEEP_ALL, 0, 0, 0, NULL, "afklmo"},
    {"monthly 4", 0, 0, 0, 0, 4, 0, 0, NULL, "ailn"},
    {"monthly 2", 0, 0, 0, 0, 2, 0, 0, NULL, "ai"},
    {"yearly all", 0, 0, 0, 0, 0, EDR_KEEP_ALL, 0, NULL, "aio"},
    {"yearly 2", 0, 0, 0, 0, 0, 2, 0, NULL, "ai"},
    {"within 2d", 0, 0, 0, 0, 0, 0, 0, "2d", "abcdef"},
    {"within 1h", 0, 0, 0, 0, 0, 0, 0, "1h", "ab"},
    {"within 2h", 0, 0, 0, 0, 0, 0, 0, "2h", "abcdef"},
    {"within 3d23h", 0, 0, 0, 0, 0, 0, 0, "3d23h", "abcdefghi"},
    {"within 1m", 0, 0, 0, 0, 0, 0, 0, "1m", "abcdefghijk"},
    {"within 1w", 0, 0, 0, 0, 0, 0, 0, "1w", "abcdefghij"},
    {"within 1y", 0, 0, 0, 0, 0, 0, 0, "1y", "abcdefghijklmn"},
    {"within 0h", 0, 0, 0, 0, 0, 0, 0, "0h", "a"},
    {"verified 1", 0, 0, 0, 0, 0, 0, 1, NULL, "ac"},
    {"verified 2", 0, 0, 0, 0, 0, 0, 2, NULL, "acj"},
    {"verified all", 0, 0, 0, 0, 0, 0, EDR_KEEP_ALL, NULL, "acj"},
    {"last 1 (newest only)", 1, 0, 0, 0, 0, 0, 0, NULL, "a"},
    {"last all", EDR_KEEP_ALL, 0, 0, 0, 0, 0, 0, NULL, "abcdefghijklmno"},
    {"last 2 daily 2 monthly 2", 2, 0, 2, 0, 2, 0, 0, NULL, "abfi"},
    {"hourly 1 weekly 2 verified 1", 0, 1, 0, 2, 0, 0, 1, NULL, "acf"},
    {"daily 5 within 1d", 0, 0, 5, 0, 0, 0, 0, "1d", "abcdefgij"},
};

static const struct policy_case set2_cases[] = {
    /* Mar 31 minus one month clamps to Feb 29 10:00 (not Mar 2) */
    {"within 1m", 0, 0, 0, 0, 0, 0, 0, "1m", "abcd"},
    {"within 1d inclusive", 0, 0, 0, 0, 0, 0, 0, "1d", "ab"},
    {"within 23h", 0, 0, 0, 0, 0, 0, 0, "23h", "a"},
    {"within 2m", 0, 0, 0, 0, 0, 0, 0, "2m", "abcdef"},
    {"within 2m1d", 0, 0, 0, 0, 0, 0, 0, "2m1d", "abcdefg"},
    /* exactly at the cutoff, across the year boundary */
    {"within 3m", 0, 0, 0, 0, 0, 0, 0, "3m", "abcdefgh"},
    {"daily 4", 0, 0, 4, 0, 0, 0, 0, NULL, "abcd"},
    {"monthly all", 0, 0, 0, 0, EDR_KEEP_ALL, 0, 0, NULL, "adgh"},
    {"weekly all", 0, 0, 0, EDR_KEEP_ALL, 0, 0, 0, NULL, "acgh"},
    {"yearly 5", 0, 0, 0, 0, 0, 5, 0, NULL, "ah"},
};

static void
run_case(const struct item *set, size_t n, const struct policy_case *pc,
         struct edr_retention_decision *out)
{
    struct edr_backup_ref refs[32];
    struct edr_retention_policy pol;
    struct edr_err err;
    char kept[64] = "";
    size_t k = 0;

    assert_true(n <= 32);
    memset(&pol, 0, sizeof(pol));
    pol.keep_last = pc->last;
    pol.keep_hourly = pc->hourly;
    pol.keep_daily = pc->daily;
    pol.keep_weekly = pc->weekly;
    pol.keep_monthly = pc->monthly;
    pol.keep_yearly = pc->yearly;
    pol.keep_verified = pc->verified;
    if (pc->within != NULL) {
        pol.has_within = 1;
        assert_int_equal(edr_duration_parse(pc->within, &pol.keep_within, &err), EDR_OK);
    }
    for (size_t i = 0; i < n; i++) {
        refs[i].id = set[i].id;
        refs[i].time = tu_time(set[i].time);
        refs[i].verified = set[i].verified;
    }
    edr_err_clear(&err);
    assert_int_equal(edr_retention_apply(&pol, refs, n, out, &err), EDR_OK);
    for (char label = 'a'; label <= 'z'; label++) {
        for (size_t i = 0; i < n; i++) {
            if (set[i].id[0] != label)
                continue;
            if (out[i].keep) {
                kept[k++] = label;
                assert_true(out[i].rules != 0);
                assert_true(out[i].reasons[0] != '\0');
            } else {
                assert_true(out[i].rules == 0);
                assert_string_equal(out[i].reasons, "");
            }
        }
    }
    kept[k] = '\0';
    if (strcmp(kept, pc->kept) != 0)
        fail_msg("policy '%s': kept '%s', expected '%s'", pc->name, kept, pc->kept);
}

static void
test_set1(void **state)
{
    struct edr_retention_decision out[32];

    (void)state;
    for (size_t c = 0; c < sizeof(set1_cases) / sizeof(set1_cases[0]); c++)
        run_case(set1, sizeof(set1) / sizeof(set1[0]), &set1_cases[c], out);
}

static void
test_set2(void **state)
{
    struct edr_retention_decision out[32];

    (void)state;
    for (size_t c = 0; c < sizeof(set2_cases) / sizeof(set2_cases[0]); c++)
        run_case(set2, sizeof(set2) / sizeof(set2[0]), &set2_cases[c], out);
}

static const char *
reasons_of(const struct item *set, size_t n, const struct edr_retention_decision *out,
           const char *label)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(set[i].id, label) == 0)
            return out[i].reasons;
    fail_msg("no label %s", label);
    return NULL;
}

static void
test_reasons(void **state)
{
    static const struct policy_case all = {"everything", 2, 2, 2, 3, 2, 2, 1, "2d", NULL};
    struct edr_retention_decision out[32];
    struct edr_backup_ref refs[32];
    struct edr_retention_policy pol;
    struct edr_err err;
    const size_t n = sizeof(set1) / sizeof(set1[0]);

    (void)state;
    memset(&pol, 0, sizeof(pol));
    pol.keep_last = all.last;
    pol.keep_hourly = all.hourly;
    pol.keep_daily = all.daily;
    pol.keep_weekly = all.weekly;
    pol.keep_monthly = all.monthly;
    pol.keep_yearly = all.yearly;
    pol.keep_verified = all.verified;
    pol.has_within = 1;
    assert_int_equal(edr_duration_parse(all.within, &pol.keep_within, &err), EDR_OK);
    for (size_t i = 0; i < n; i++) {
        refs[i].id = set1[i].id;
        refs[i].time = tu_time(set1[i].time);
        refs[i].verified = set1[i].verified;
    }
    assert_int_equal(edr_retention_apply(&pol, refs, n, out, &err), EDR_OK);
    assert_string_equal(reasons_of(set1, n, out, "a"),
                        "newest, last 2, hourly 2027-01-04T01, daily 2027-01-04, "
                        "weekly 2027-W01, monthly 2027-01, yearly 2027, within 2d");
    assert_string_equal(reasons_of(set1, n, out, "b"), "last 2, within 2d");
    assert_string_equal(reasons_of(set1, n, out, "c"),
                        "hourly 2027-01-04T00, within 2d, verified 1");
    assert_string_equal(reasons_of(set1, n, out, "f"),
                        "daily 2027-01-03, weekly 2026-W53, within 2d");
    assert_string_equal(reasons_of(set1, n, out, "i"), "monthly 2026-12, yearly 2026");
    assert_string_equal(reasons_of(set1, n, out, "k"), "weekly 2026-W52");
    assert_string_equal(reasons_of(set1, n, out, "g"), "");
    assert_int_equal(out[2].keep, 0); /* "o" */
    assert_int_equal(out[1].rules, EDR_KEEP_NEWEST | EDR_KEEP_LAST | EDR_KEEP_HOURLY |
                                       EDR_KEEP_DAILY | EDR_KEEP_WEEKLY | EDR_KEEP_MONTHLY |
                                       EDR_KEEP_YEARLY | EDR_KEEP_WITHIN);

    /* "all" counts and week/month durations in the reasons */
    memset(&pol, 0, sizeof(pol));
    pol.keep_last = EDR_KEEP_ALL;
    pol.keep_verified = EDR_KEEP_ALL;
    pol.has_within = 1;
    assert_int_equal(edr_duration_parse("1m2w", &pol.keep_within, &err), EDR_OK);
    assert_int_equal(edr_retention_apply(&pol, refs, n, out, &err), EDR_OK);
    assert_string_equal(reasons_of(set1, n, out, "j"), "last all, within 1m2w, verified all");
    assert_string_equal(reasons_of(set1, n, out, "o"), "last all");
}

static void
test_ties_and_edges(void **state)
{
    struct edr_backup_ref refs[3] = {
        {"20261126T100000Z-r5", 1795687200, 0},
        {"20261126T100000Z-r9", 1795687200, 0},
        {"20261126T090000Z-r1", 1795683600, 0},
    };
    struct edr_retention_decision out[3];
    struct edr_retention_policy pol;
    struct edr_err err;

    (void)state;
    memset(&pol, 0, sizeof(pol));
    pol.keep_last = 1;
    assert_int_equal(edr_retention_apply(&pol, refs, 3, out, &err), EDR_OK);
    /* equal times: the larger id is the newer */
    assert_int_equal(out[0].keep, 0);
    assert_int_equal(out[1].keep, 1);
    assert_string_equal(out[1].reasons, "newest, last 1");
    assert_int_equal(out[2].keep, 0);

    /* hourly: the newest of the hour wins */
    pol.keep_last = 0;
    pol.keep_hourly = 5;
    assert_int_equal(edr_retention_apply(&pol, refs, 3, out, &err), EDR_OK);
    assert_int_equal(out[0].keep, 0);
    assert_string_equal(out[1].reasons, "newest, hourly 2026-11-26T10");
    assert_string_equal(out[2].reasons, "hourly 2026-11-26T09");

    /* nothing to decide */
    assert_int_equal(edr_retention_apply(&pol, refs, 0, out, &err), EDR_OK);

    /* a single backup is always kept, whatever the rule */
    pol.keep_hourly = 0;
    pol.keep_verified = 3;
    assert_int_equal(edr_retention_apply(&pol, refs + 2, 1, out, &err), EDR_OK);
    assert_int_equal(out[0].keep, 1);
    assert_string_equal(out[0].reasons, "newest");
    assert_int_equal(out[0].rules, EDR_KEEP_NEWEST);
}

static void
test_errors(void **state)
{
    struct edr_retention_policy pol;
    struct edr_retention_decision out[1];
    struct edr_backup_ref ref = {"x", 0, 0};
    struct edr_err err;

    (void)state;
    memset(&pol, 0, sizeof(pol));
    assert_int_equal(edr_retention_apply(&pol, &ref, 1, out, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "retention: no keep rule given");
    assert_string_equal(err.hint, "give at least one of --keep-last, --keep-hourly, --keep-daily, "
                                  "--keep-weekly, --keep-monthly, --keep-yearly, --keep-within");
    pol.keep_daily = -2;
    assert_int_equal(edr_retention_apply(&pol, &ref, 1, out, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "keep-daily: invalid count -2");
    pol.keep_daily = 0;
    pol.keep_last = -5;
    assert_int_equal(edr_retention_apply(&pol, &ref, 1, out, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "keep-last: invalid count -5");
    pol.keep_last = 0;
    pol.keep_verified = -3;
    assert_int_equal(edr_retention_apply(&pol, &ref, 1, out, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "keep-verified: invalid count -3");
}

static void
expect_duration(const char *s, int y, int m, int w, int d, int h, const char *formatted)
{
    struct edr_duration dur;
    struct edr_err err;
    char buf[64];

    if (edr_duration_parse(s, &dur, &err) != EDR_OK)
        fail_msg("'%s': %s", s, err.msg);
    assert_int_equal(dur.years, y);
    assert_int_equal(dur.months, m);
    assert_int_equal(dur.weeks, w);
    assert_int_equal(dur.days, d);
    assert_int_equal(dur.hours, h);
    edr_duration_format(&dur, buf, sizeof(buf));
    assert_string_equal(buf, formatted);
}

static void
expect_bad_duration(const char *s, const char *msg)
{
    struct edr_duration dur;
    struct edr_err err;

    assert_int_equal(edr_duration_parse(s, &dur, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, msg);
    assert_int_equal(dur.years + dur.months + dur.weeks + dur.days + dur.hours, 0);
}

static void
test_durations(void **state)
{
    char small[3];
    struct edr_duration d = {1, 2, 3, 4, 5};

    (void)state;
    expect_duration("2d", 0, 0, 0, 2, 0, "2d");
    expect_duration("36h", 0, 0, 0, 0, 36, "36h");
    expect_duration("1w", 0, 0, 1, 0, 0, "1w");
    expect_duration("1m", 0, 1, 0, 0, 0, "1m");
    expect_duration("1y6m2d", 1, 6, 0, 2, 0, "1y6m2d");
    expect_duration("6m1y", 1, 6, 0, 0, 0, "1y6m");
    expect_duration("1d1d", 0, 0, 0, 2, 0, "2d");
    expect_duration("0d", 0, 0, 0, 0, 0, "0h");
    expect_duration("999999h", 0, 0, 0, 0, 999999, "999999h");
    expect_bad_duration("", "invalid duration '': empty");
    expect_bad_duration("5", "invalid duration '5': missing unit (y m w d h)");
    expect_bad_duration("2x", "invalid duration '2x': unknown unit 'x'");
    expect_bad_duration("2D", "invalid duration '2D': unknown unit 'D'");
    expect_bad_duration("d", "invalid duration 'd': expected a number at 'd'");
    expect_bad_duration("1d-2h", "invalid duration '1d-2h': expected a number at '-2h'");
    expect_bad_duration("1d 2h", "invalid duration '1d 2h': expected a number at ' 2h'");
    expect_bad_duration("1000000h", "invalid duration '1000000h': number too large");
    expect_bad_duration("999999h1h", "invalid duration '999999h1h': number too large");
    /* truncation is safe */
    edr_duration_format(&d, small, sizeof(small));
    assert_string_equal(small, "1y");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set1),    cmocka_unit_test(test_set2),
        cmocka_unit_test(test_reasons), cmocka_unit_test(test_ties_and_edges),
        cmocka_unit_test(test_errors),  cmocka_unit_test(test_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
