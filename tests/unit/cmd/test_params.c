/*
 * Unit tests of the commands' typed parameters (cmd/backup.h, cmd/verify.h):
 * what each *_params_from_opts reads from the options, its exact usage
 * errors, and that the options are left as they were, so that the schedule
 * daemon can fill its own parameters and change them without touching them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cmd/backup.h"
#include "cmd/verify.h"
#include "common/opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Every variable the loader could read: none may leak in from the caller. */
static int
clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        char env[96];
        edr_opt_env_name(&edr_optdefs[i], env, sizeof(env));
        unsetenv(env);
        if (edr_optdefs[i].alt_env != NULL)
            unsetenv(edr_optdefs[i].alt_env);
    }
    return 0;
}

/* argv as a command's arguments (after its name), loaded with `allowed`. */
static void
load(struct edr_opts *o, int argc, const char *const *argv, const enum edr_opt_id *allowed)
{
    char **copy = calloc((size_t)argc + 1, sizeof(char *));
    struct edr_err err;

    assert_non_null(copy);
    for (int i = 0; i < argc; i++)
        copy[i] = strdup(argv[i]);
    edr_err_clear(&err);
    assert_int_equal(edr_opts_load(o, argc, copy, allowed, &err), EDR_OK);
    for (int i = 0; i < argc; i++)
        free(copy[i]);
    free(copy);
}

/* ---------------------------------------------------------------- verify */

static void
test_verify_defaults(void **state)
{
    static const char *const argv[] = {"latest"};
    struct edr_verify_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(argv), argv, edr_cmd_verify_opts);
    assert_int_equal(edr_verify_params_from_opts(&o, &p, &err), EDR_OK);
    assert_string_equal(p.backup, "latest");
    assert_int_equal(p.level, EDR_VERIFY_CONTENT);
    assert_int_equal(p.level_given, 0);
    assert_int_equal(p.all, 0);
    assert_int_equal(p.have_identity, 0);
    assert_null(p.junit);
    assert_string_equal(p.etcd_bin, "etcd");
    edr_opts_release(&o);
}

static void
test_verify_levels(void **state)
{
    static const char *const stored[] = {"--level", "stored", "--identity", "k.key", "x"};
    static const char *const drill[] = {"--level", "stored", "--drill", "--all"};
    struct edr_verify_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(stored), stored, edr_cmd_verify_opts);
    assert_int_equal(edr_verify_params_from_opts(&o, &p, &err), EDR_OK);
    assert_int_equal(p.level, EDR_VERIFY_STORED);
    assert_int_equal(p.level_given, 1);
    assert_int_equal(p.have_identity, 1);
    edr_opts_release(&o);
    /* --drill wins over --level */
    load(&o, ARGC(drill), drill, edr_cmd_verify_opts);
    assert_int_equal(edr_verify_params_from_opts(&o, &p, &err), EDR_OK);
    assert_int_equal(p.level, EDR_VERIFY_DRILL);
    assert_int_equal(p.all, 1);
    assert_null(p.backup);
    edr_opts_release(&o);
}

static void
test_verify_bad_level(void **state)
{
    static const char *const argv[] = {"--level", "deep", "x"};
    struct edr_verify_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(argv), argv, edr_cmd_verify_opts);
    assert_int_equal(edr_verify_params_from_opts(&o, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid --level 'deep' (stored, content or drill)");
    edr_opts_release(&o);
}

/* The daemon's verify job: its own parameters, the options unchanged. */
static void
test_verify_params_leave_opts(void **state)
{
    static const char *const argv[] = {"--identity", "k.key"};
    struct edr_verify_params p;
    struct edr_opts o;
    struct edr_err err;
    char **args;
    int nargs;

    (void)state;
    load(&o, ARGC(argv), argv, edr_cmd_schedule_opts);
    args = o.args;
    nargs = o.nargs;
    assert_int_equal(edr_verify_params_from_opts(&o, &p, &err), EDR_OK);
    p.backup = "latest";
    p.level = EDR_VERIFY_STORED;
    assert_null(o.val[EDR_O_LEVEL]);
    assert_ptr_equal(o.args, args);
    assert_int_equal(o.nargs, nargs);
    edr_opts_release(&o);
}

/* ---------------------------------------------------------------- prune */

static void
test_prune_params(void **state)
{
    static const char *const argv[] = {
        "--keep-last", "3",         "--keep-daily", "7", "--keep-within",
        "2d",          "--dry-run", "--lock-wait",  "30"};
    struct edr_prune_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(argv), argv, edr_cmd_prune_opts);
    assert_int_equal(edr_prune_params_from_opts(&o, &p, &err), EDR_OK);
    assert_int_equal(p.policy.keep_last, 3);
    assert_int_equal(p.policy.keep_daily, 7);
    assert_int_equal(p.policy.keep_hourly, 0);
    assert_int_equal(p.policy.has_within, 1);
    assert_int_equal(p.dry_run, 1);
    assert_int_equal(p.lock_wait, 30);
    edr_opts_release(&o);
}

static void
test_prune_bad_values(void **state)
{
    static const char *const count[] = {"--keep-last", "lots"};
    static const char *const within[] = {"--keep-within", "3x"};
    struct edr_prune_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(count), count, edr_cmd_prune_opts);
    assert_int_equal(edr_prune_params_from_opts(&o, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg,
                        "option '--keep-last': 'lots' is not a whole number from -1 to 1000000");
    edr_opts_release(&o);
    load(&o, ARGC(within), within, edr_cmd_prune_opts);
    assert_int_equal(edr_prune_params_from_opts(&o, &p, &err), EDR_E_USAGE);
    assert_non_null(strstr(err.msg, "invalid duration '3x'"));
    edr_opts_release(&o);
}

/* ---------------------------------------------------------------- backup */

static void
test_backup_params(void **state)
{
    static const char *const argv[] = {"--recipient",
                                       "a.pub,b.pub",
                                       "--compress-level",
                                       "5",
                                       "--threads",
                                       "2",
                                       "--endpoint-policy",
                                       "leader",
                                       "--retries",
                                       "4",
                                       "--prune",
                                       "--keep-last",
                                       "2"};
    struct edr_backup_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(argv), argv, edr_cmd_backup_opts);
    assert_int_equal(edr_backup_params_from_opts(&o, 1, &p, &err), EDR_OK);
    assert_int_equal(p.nrecipients, 2);
    assert_string_equal(p.recipients[0], "a.pub");
    assert_string_equal(p.recipients[1], "b.pub");
    assert_int_equal(p.compress_level, 5);
    assert_int_equal(p.threads, 2);
    assert_int_equal(p.policy, EDR_ETCD_POLICY_LEADER);
    assert_int_equal(p.retries, 4);
    assert_int_equal(p.prune, 1);
    assert_int_equal(p.prune_params.policy.keep_last, 2);
    edr_backup_params_release(&p);
    /* import's: no etcd, no prune */
    assert_int_equal(edr_backup_params_from_opts(&o, 0, &p, &err), EDR_OK);
    assert_int_equal(p.prune, 0);
    assert_int_equal(p.retries, 0);
    edr_backup_params_release(&p);
    edr_opts_release(&o);
}

static void
test_backup_refusals(void **state)
{
    static const char *const none[] = {"--compress-level", "3"};
    static const char *const both[] = {"--no-encrypt", "--recipient", "a.pub"};
    static const char *const policy[] = {"--endpoint-policy", "random", "--no-encrypt"};
    struct edr_backup_params p;
    struct edr_opts o;
    struct edr_err err;

    (void)state;
    load(&o, ARGC(none), none, edr_cmd_backup_opts);
    assert_int_equal(edr_backup_params_from_opts(&o, 1, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "no recipient for the backup's encryption");
    edr_backup_params_release(&p);
    edr_opts_release(&o);
    load(&o, ARGC(both), both, edr_cmd_backup_opts);
    assert_int_equal(edr_backup_params_from_opts(&o, 1, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "--no-encrypt and --recipient exclude each other");
    edr_backup_params_release(&p);
    edr_opts_release(&o);
    load(&o, ARGC(policy), policy, edr_cmd_backup_opts);
    assert_int_equal(edr_backup_params_from_opts(&o, 1, &p, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "invalid --endpoint-policy 'random' (follower, leader or first)");
    edr_backup_params_release(&p);
    edr_opts_release(&o);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_verify_defaults, clear_env),
        cmocka_unit_test_setup(test_verify_levels, clear_env),
        cmocka_unit_test_setup(test_verify_bad_level, clear_env),
        cmocka_unit_test_setup(test_verify_params_leave_opts, clear_env),
        cmocka_unit_test_setup(test_prune_params, clear_env),
        cmocka_unit_test_setup(test_prune_bad_values, clear_env),
        cmocka_unit_test_setup(test_backup_params, clear_env),
        cmocka_unit_test_setup(test_backup_refusals, clear_env),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
