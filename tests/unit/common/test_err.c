/*
 * Unit tests of src/common/err.c: error formatting (errno suffix, prefixes,
 * hints, truncation) and the code table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"

static void
test_set_clear(void **state)
{
    struct edr_err err;
    (void)state;

    memset(&err, 'x', sizeof(err));
    edr_err_clear(&err);
    assert_int_equal(err.code, EDR_OK);
    assert_string_equal(err.msg, "");
    assert_string_equal(err.hint, "");
    edr_err_clear(NULL);

    assert_int_equal(edr_err_set(&err, EDR_E_REPO, "unable to open '%s' (%d)", "/r", 3),
                     EDR_E_REPO);
    assert_int_equal(err.code, EDR_E_REPO);
    assert_string_equal(err.msg, "unable to open '/r' (3)");
    assert_int_equal(edr_err_set(NULL, EDR_E_KEY, "x"), EDR_E_KEY);

    /* a hint keeps code and message; a new error drops the old hint */
    edr_err_hint(&err, "run '%s'", "etcd-dr list");
    assert_string_equal(err.hint, "run 'etcd-dr list'");
    assert_int_equal(err.code, EDR_E_REPO);
    assert_string_equal(err.msg, "unable to open '/r' (3)");
    edr_err_hint(NULL, "nothing");
    edr_err_set(&err, EDR_E_IO, "second");
    assert_string_equal(err.hint, "");
    assert_string_equal(err.msg, "second");
}

static void
test_errno(void **state)
{
    struct edr_err err;
    char want[256];
    (void)state;

    edr_err_clear(&err);
    assert_int_equal(edr_err_errno(&err, EDR_E_CONFIG, ENOENT, "unable to open config file '%s'",
                                   "/nonexistent"),
                     EDR_E_CONFIG);
    assert_int_equal(err.code, EDR_E_CONFIG);
    assert_string_equal(err.msg,
                        "unable to open config file '/nonexistent': [2] No such file or directory");
    edr_err_hint(&err, "h");
    edr_err_errno(&err, EDR_E_IO, ENOSPC, "unable to write '%s'", "f");
    assert_string_equal(err.msg, "unable to write 'f': [28] No space left on device");
    assert_string_equal(err.hint, "");
    snprintf(want, sizeof(want), "x: [%d] %s", EACCES, strerror(EACCES));
    edr_err_errno(&err, EDR_E_REPO, EACCES, "x");
    assert_string_equal(err.msg, want);
    assert_int_equal(edr_err_errno(NULL, EDR_E_LOCK, EAGAIN, "x"), EDR_E_LOCK);
}

static void
test_prefix(void **state)
{
    struct edr_err err;
    (void)state;

    edr_err_set(&err, EDR_E_INTEGRITY, "page %d: out of bounds", 12);
    edr_err_hint(&err, "restore from another backup");
    assert_int_equal(edr_err_prefix(&err, "backup '%s'", "b1"), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "backup 'b1': page 12: out of bounds");
    assert_int_equal(err.code, EDR_E_INTEGRITY);
    assert_string_equal(err.hint, "restore from another backup");
    edr_err_prefix(&err, "verify");
    assert_string_equal(err.msg, "verify: backup 'b1': page 12: out of bounds");
    /* prefixing an errno message keeps the suffix at the end */
    edr_err_errno(&err, EDR_E_REPO, ENOENT, "unable to open '%s'", "a");
    edr_err_prefix(&err, "repository 'r'");
    assert_string_equal(err.msg,
                        "repository 'r': unable to open 'a': [2] No such file or directory");
    assert_int_equal(edr_err_prefix(NULL, "x"), EDR_E_INTERNAL);
}

static void
test_truncation(void **state)
{
    struct edr_err err;
    char *big = malloc(3 * EDR_ERR_MSG_MAX);
    (void)state;

    assert_non_null(big);
    memset(big, 'a', 3 * EDR_ERR_MSG_MAX - 1);
    big[3 * EDR_ERR_MSG_MAX - 1] = '\0';
    edr_err_set(&err, EDR_E_IO, "%s", big);
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 1);
    /* the errno suffix does not overflow a full message */
    edr_err_errno(&err, EDR_E_IO, ENOENT, "%s", big);
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 1);
    /* almost full: the suffix is cut, not the message */
    big[EDR_ERR_MSG_MAX - 10] = '\0';
    edr_err_errno(&err, EDR_E_IO, ENOENT, "%s", big);
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg + EDR_ERR_MSG_MAX - 10, ": [2] No", 8);
    /* a long prefix keeps the message bounded */
    edr_err_set(&err, EDR_E_IO, "tail");
    edr_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 10 + 6);
    assert_string_equal(err.msg + EDR_ERR_MSG_MAX - 10, ": tail");
    big[EDR_ERR_MSG_MAX - 10] = 'a';
    big[EDR_ERR_MSG_MAX + 10] = '\0';
    edr_err_set(&err, EDR_E_IO, "tail");
    edr_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "aaaa", 4);
    edr_err_set(&err, EDR_E_IO, "%s", big);
    edr_err_prefix(&err, "ctx");
    assert_int_equal(strlen(err.msg), EDR_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "ctx: aaa", 8);
    memset(big, 'h', EDR_ERR_HINT_MAX + 10);
    big[EDR_ERR_HINT_MAX + 10] = '\0';
    edr_err_hint(&err, "%s", big);
    assert_int_equal(strlen(err.hint), EDR_ERR_HINT_MAX - 1);
    free(big);
}

static void
test_codes(void **state)
{
    static const struct {
        edr_rc rc;
        int status;
        const char *name;
    } want[] = {
        {EDR_OK, 0, "EDR_OK"},
        {EDR_E_INTERNAL, 1, "EDR_E_INTERNAL"},
        {EDR_E_USAGE, 2, "EDR_E_USAGE"},
        {EDR_E_CONFIG, 3, "EDR_E_CONFIG"},
        {EDR_E_ETCD, 4, "EDR_E_ETCD"},
        {EDR_E_ETCD_AUTH, 5, "EDR_E_ETCD_AUTH"},
        {EDR_E_TLS, 6, "EDR_E_TLS"},
        {EDR_E_REPO, 7, "EDR_E_REPO"},
        {EDR_E_NOTFOUND, 8, "EDR_E_NOTFOUND"},
        {EDR_E_INTEGRITY, 9, "EDR_E_INTEGRITY"},
        {EDR_E_KEY, 10, "EDR_E_KEY"},
        {EDR_E_LOCK, 11, "EDR_E_LOCK"},
        {EDR_E_IO, 12, "EDR_E_IO"},
        {EDR_E_TARGET, 13, "EDR_E_TARGET"},
        {EDR_E_DRILL, 14, "EDR_E_DRILL"},
        {EDR_E_INTERRUPTED, 15, "EDR_E_INTERRUPTED"},
        {EDR_E_CHECK, 16, "EDR_E_CHECK"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *d = edr_rc_desc(want[i].rc);
        assert_int_equal(want[i].rc, want[i].status);
        assert_string_equal(edr_rc_name(want[i].rc), want[i].name);
        assert_true(strlen(d) > 5);
        assert_int_not_equal(d[strlen(d) - 1], '.');
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(d, edr_rc_desc(want[j].rc));
    }
    assert_string_equal(edr_rc_desc(EDR_OK), "success");
    assert_string_equal(edr_rc_desc(EDR_E_LOCK), "repository locked by another run");
    assert_string_equal(edr_rc_name(17), "EDR_E_UNKNOWN");
    assert_string_equal(edr_rc_name(-1), "EDR_E_UNKNOWN");
    assert_string_equal(edr_rc_desc(99), "unknown error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_clear), cmocka_unit_test(test_errno),
        cmocka_unit_test(test_prefix),    cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_codes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
