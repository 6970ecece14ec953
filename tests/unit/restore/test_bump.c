/*
 * Unit tests of the --bump-revision auto formula (restore/bump.h): the
 * highest recorded revision, the peak rate over windows of at least a
 * minute, the margin's floor and rounding, records in any order, the
 * default rate without two points in time, and the caps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "restore/bump.h"

#define MIN_MS (60 * 1000LL)
#define T0 1796000000000LL /* a Unix time in ms */

/* Two backups an hour apart, 36,000 revisions between them (10/s); the
 * newest is 10 minutes old: margin = 2 x 10/s x 600 s = 12,000. */
static void
test_two_backups(void **state)
{
    struct edr_bump_record r[] = {
        {100000, T0, "backup a"},
        {136000, T0 + 60 * MIN_MS, "backup b"},
    };
    struct edr_bump_choice c;

    (void)state;
    edr_bump_auto(r, 2, 100000, T0 + 70 * MIN_MS, &c);
    assert_int_equal(c.highest, 136000);
    assert_int_equal(c.from, 1);
    assert_true(c.rate_observed);
    assert_true(c.rate > 9.999 && c.rate < 10.001);
    assert_int_equal(c.gap_s, 600);
    assert_int_equal(c.margin, 12000);
    assert_int_equal(c.bump, 36000 + 12000);
    /* restoring the newest: only the margin */
    edr_bump_auto(r, 2, 136000, T0 + 70 * MIN_MS, &c);
    assert_int_equal(c.bump, 12000);
    /* the order of the records does not matter */
    {
        struct edr_bump_record rev[] = {r[1], r[0]};
        edr_bump_auto(rev, 2, 100000, T0 + 70 * MIN_MS, &c);
        assert_int_equal(c.bump, 48000);
        assert_int_equal(c.from, 0);
    }
}

/* A quiet cluster, a fresh record: the floor. */
static void
test_floor(void **state)
{
    struct edr_bump_record r[] = {
        {500, T0, "backup a"},
        {560, T0 + 60 * MIN_MS, "backup b"},
    };
    struct edr_bump_choice c;

    (void)state;
    edr_bump_auto(r, 2, 500, T0 + 61 * MIN_MS, &c);
    assert_int_equal(c.margin, EDR_BUMP_FLOOR);
    assert_int_equal(c.bump, 60 + EDR_BUMP_FLOOR);
    /* the margin rounds up: 2 x (1/60)/s x 300,001 s = 10,000.03 */
    edr_bump_auto(r, 2, 560, T0 + 60 * MIN_MS + 300001000LL, &c);
    assert_int_equal(c.margin, 10001);
}

/* The peak, not the mean: captured changes show a burst of 60,000
 * revisions in a minute between two quiet hours. Records less than a
 * minute apart are measured over a window reaching a minute. */
static void
test_peak_rate(void **state)
{
    struct edr_bump_record r[] = {
        {1000, T0, "backup a"},
        {2000, T0 + 60 * MIN_MS, "capture"},
        {2010, T0 + 60 * MIN_MS + 10000, "capture"}, /* 10 s later */
        {62000, T0 + 61 * MIN_MS, "capture"},        /* the burst */
        {63000, T0 + 121 * MIN_MS, "capture"},
    };
    struct edr_bump_choice c;

    (void)state;
    edr_bump_auto(r, 5, 1000, T0 + 131 * MIN_MS, &c);
    assert_int_equal(c.highest, 63000);
    assert_int_equal(c.from, 4);
    /* from 2000 at 60:00 to 62000 at 61:00: 1000/s */
    assert_true(c.rate > 999.9 && c.rate < 1000.1);
    assert_int_equal(c.margin, 2 * 1000 * 600);
    assert_int_equal(c.bump, 62000 + 1200000);
}

/* Nothing to measure a rate on: EDR_BUMP_DEFAULT_RATE; a record in the
 * future counts as now. */
static void
test_default_rate(void **state)
{
    struct edr_bump_record one = {4000, T0, "backup a"};
    struct edr_bump_record same[] = {{4000, T0, "backup a"}, {4100, T0, "capture"}};
    struct edr_bump_choice c;

    (void)state;
    edr_bump_auto(&one, 1, 4000, T0 + 3600 * 1000LL, &c);
    assert_false(c.rate_observed);
    assert_int_equal(c.margin, 2 * EDR_BUMP_DEFAULT_RATE * 3600);
    assert_int_equal(c.bump, 720000);
    edr_bump_auto(same, 2, 4000, T0 + 1000, &c);
    assert_false(c.rate_observed);
    assert_int_equal(c.highest, 4100);
    assert_int_equal(c.bump, 100 + EDR_BUMP_FLOOR);
    edr_bump_auto(&one, 1, 4000, T0 - 5000, &c);
    assert_int_equal(c.gap_s, 0);
    assert_int_equal(c.bump, EDR_BUMP_FLOOR);
    edr_bump_auto(NULL, 0, 7, T0, &c);
    assert_int_equal(c.highest, 7);
    assert_int_equal(c.bump, EDR_BUMP_FLOOR);
}

/* The oldest record of the highest revision counts (the longest gap);
 * revisions that went back (an earlier restore) give no negative rate;
 * absurd inputs stay below the cap. */
static void
test_edges(void **state)
{
    struct edr_bump_record r[] = {
        {9000, T0 + 10 * MIN_MS, "capture"},
        {9000, T0, "backup b"},
        {3000, T0 + 20 * MIN_MS, "backup c"},
    };
    struct edr_bump_record huge[] = {
        {0, T0, "backup a"},
        {INT64_MAX / 8, T0 + MIN_MS, "backup b"},
    };
    struct edr_bump_choice c;

    (void)state;
    edr_bump_auto(r, 3, 3000, T0 + 30 * MIN_MS, &c);
    assert_int_equal(c.from, 1);
    assert_int_equal(c.gap_s, 1800);
    assert_true(c.rate >= 0);
    assert_int_equal(c.bump, 6000 + c.margin);
    edr_bump_auto(huge, 2, 0, T0 + 1000 * MIN_MS, &c);
    assert_int_equal(c.margin, EDR_BUMP_MAX);
    assert_int_equal(c.bump, EDR_BUMP_MAX);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_backups), cmocka_unit_test(test_floor),
        cmocka_unit_test(test_peak_rate),   cmocka_unit_test(test_default_rate),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
