/*
 * Unit tests of src/common/opts.c: the option table's invariants, argv
 * parsing (long, short, attached values, booleans, lists, positional
 * arguments, "--", refused secrets), the precedence flag > environment >
 * config file > default, the config file's syntax errors with their exact
 * messages, [schedule] jobs and the typed accessors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/opts.h"

static char tmpdir[64];
static char cfgpath[128];

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Every variable the loader could read: none may leak in from the caller. */
static void
clear_env(void)
{
    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        char env[96];
        edr_opt_env_name(&edr_optdefs[i], env, sizeof(env));
        unsetenv(env);
        if (edr_optdefs[i].alt_env != NULL)
            unsetenv(edr_optdefs[i].alt_env);
    }
}

static int
setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/edr-opts-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    snprintf(cfgpath, sizeof(cfgpath), "%s/etcd-dr.conf", tmpdir);
    clear_env();
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    unlink(cfgpath);
    rmdir(tmpdir);
    clear_env();
    return 0;
}

static void
write_cfg(const char *text)
{
    FILE *f = fopen(cfgpath, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Loads argv (a NULL-free array) with `allowed`; returns the code. */
static edr_rc
load(struct edr_opts *o, int argc, const char *const *argv, const enum edr_opt_id *allowed,
     struct edr_err *err)
{
    char **copy = calloc((size_t)argc + 1, sizeof(char *));
    edr_rc rc;

    assert_non_null(copy);
    for (int i = 0; i < argc; i++)
        copy[i] = strdup(argv[i]);
    edr_err_clear(err);
    rc = edr_opts_load(o, argc, copy, allowed, err);
    for (int i = 0; i < argc; i++)
        free(copy[i]);
    free(copy);
    return rc;
}

static const enum edr_opt_id backup_opts[] = {
    EDR_O_CLUSTER,     EDR_O_REPO,    EDR_O_ENDPOINTS, EDR_O_RECIPIENT, EDR_O_LOCK_WAIT,
    EDR_O_NO_ENCRYPT,  EDR_O_JSON,    EDR_O_DRY_RUN,   EDR_O_OUTPUT,    EDR_O_COMPRESS_LEVEL,
    EDR_O_KEEP_WITHIN, EDR_O_THREADS, EDR_O__COUNT};

/* ---------------------------------------------------------------- table */

static void
test_table(void **state)
{
    (void)state;

    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        const struct edr_optdef *d = &edr_optdefs[i];
        assert_int_equal(d->id, i);
        assert_ptr_equal(edr_opt_by_name(d->name), d);
        assert_non_null(d->help);
        if (i > 0)
            assert_true(strcmp(edr_optdefs[i - 1].name, d->name) < 0); /* bsearch needs it */
        for (size_t j = 0; j < i; j++) {
            if (d->short_name != 0)
                assert_int_not_equal(d->short_name, edr_optdefs[j].short_name);
            if (d->id != EDR_O_CONFIG)
                assert_false(strcmp(d->section, edr_optdefs[j].section) == 0 &&
                             strcmp(d->cfgkey, edr_optdefs[j].cfgkey) == 0);
        }
        if (d->id != EDR_O_CONFIG) {
            assert_true(d->section[0] != '\0' && d->cfgkey[0] != '\0');
        }
        if (d->type == EDR_OT_BOOL) {
            assert_null(d->def);
            assert_null(d->metavar);
        } else {
            assert_non_null(d->metavar);
        }
        if (d->type == EDR_OT_INT && d->def != NULL) {
            char *end;
            (void)strtoll(d->def, &end, 10);
            assert_int_equal(*end, '\0');
        }
    }
    assert_null(edr_opt_by_name("bogus"));
    assert_null(edr_opt_by_name(""));
    assert_null(edr_opt_by_name("repos"));
    assert_int_equal(edr_opt_by_name("wal-dir")->id, EDR_O_WAL_DIR);
    assert_int_equal(edr_opt_by_name("all")->id, EDR_O_ALL);
}

static void
test_env_name(void **state)
{
    char buf[96];
    (void)state;

    edr_opt_env_name(&edr_optdefs[EDR_O_LOCK_WAIT], buf, sizeof(buf));
    assert_string_equal(buf, "ETCD_DR_LOCK_WAIT");
    edr_opt_env_name(&edr_optdefs[EDR_O_INITIAL_ADVERTISE_PEER_URLS], buf, sizeof(buf));
    assert_string_equal(buf, "ETCD_DR_INITIAL_ADVERTISE_PEER_URLS");
    edr_opt_env_name(&edr_optdefs[EDR_O_S3_ENDPOINT], buf, sizeof(buf));
    assert_string_equal(buf, "ETCD_DR_S3_ENDPOINT");
    /* small buffers truncate, always terminated, never overrun */
    memset(buf, 'x', sizeof(buf));
    edr_opt_env_name(&edr_optdefs[EDR_O_LOCK_WAIT], buf, 12);
    assert_string_equal(buf, "ETCD_DR_LOC");
    memset(buf, 'x', sizeof(buf));
    edr_opt_env_name(&edr_optdefs[EDR_O_LOCK_WAIT], buf, 9);
    assert_string_equal(buf, "ETCD_DR_");
    memset(buf, 'x', sizeof(buf));
    edr_opt_env_name(&edr_optdefs[EDR_O_LOCK_WAIT], buf, 4);
    assert_string_equal(buf, "ETC");
    for (size_t k = 4; k < sizeof(buf); k++)
        assert_int_equal(buf[k], 'x');
    memset(buf, 'x', sizeof(buf));
    edr_opt_env_name(&edr_optdefs[EDR_O_LOCK_WAIT], buf, 1);
    assert_string_equal(buf, "");
    for (size_t k = 1; k < sizeof(buf); k++)
        assert_int_equal(buf[k], 'x');
}

/* ---------------------------------------------------------------- argv */

static void
test_argv(void **state)
{
    static const char *const argv[] = {
        "pos1",
        "--cluster",
        "prod",
        "--lock-wait=30",
        "-",
        "--json",
        "-r",
        "a.pub",
        "--recipient=b.pub",
        "-rc.pub",
        "-n",
        "--output",
        "-x",
        "pos2",
        "--",
        "--json",
        "-q",
    };
    struct edr_opts o;
    struct edr_err err;
    char **list;
    int n;
    int64_t v;
    (void)state;

    assert_int_equal(load(&o, ARGC(argv), argv, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "prod");
    assert_int_equal(o.src[EDR_O_CLUSTER], EDR_SRC_FLAG);
    assert_int_equal(edr_opt_int(&o, EDR_O_LOCK_WAIT, 0, 3600, &v, &err), EDR_OK);
    assert_int_equal(v, 30);
    assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 1);
    assert_int_equal(edr_opt_bool(&o, EDR_O_DRY_RUN), 1);
    assert_int_equal(edr_opt_bool(&o, EDR_O_NO_ENCRYPT), 0);
    assert_int_equal(edr_opt_bool(&o, EDR_O_QUIET), 0); /* after "--": an argument */
    /* a value that looks like an option is still the value */
    assert_string_equal(edr_opt_str(&o, EDR_O_OUTPUT), "-x");
    assert_string_equal(o.val[EDR_O_RECIPIENT], "a.pub,b.pub,c.pub");
    list = edr_opt_list(&o, EDR_O_RECIPIENT, &n);
    assert_int_equal(n, 3);
    assert_string_equal(list[0], "a.pub");
    assert_string_equal(list[1], "b.pub");
    assert_string_equal(list[2], "c.pub");
    assert_null(list[3]);
    edr_strv_free(list, n);
    assert_int_equal(o.nargs, 5);
    assert_string_equal(o.args[0], "pos1");
    assert_string_equal(o.args[1], "-");
    assert_string_equal(o.args[2], "pos2");
    assert_string_equal(o.args[3], "--json");
    assert_string_equal(o.args[4], "-q");
    assert_null(o.args[5]);
    /* defaults of the rest */
    assert_string_equal(edr_opt_str(&o, EDR_O_ENDPOINTS), "http://127.0.0.1:2379");
    assert_int_equal(o.src[EDR_O_ENDPOINTS], EDR_SRC_DEFAULT);
    assert_int_equal(edr_opt_int(&o, EDR_O_COMPRESS_LEVEL, 1, 19, &v, &err), EDR_OK);
    assert_int_equal(v, 2);
    assert_null(edr_opt_str(&o, EDR_O_REPO));
    edr_opts_release(&o);
    edr_opts_release(&o); /* released twice: harmless */
}

static void
test_argv_bools(void **state)
{
    static const char *const a1[] = {"--json=false", "--dry-run=0", "--no-encrypt=1", "-q"};
    static const char *const a2[] = {"--json=maybe"};
    static const char *const a3[] = {"-qx"};
    struct edr_opts o;
    struct edr_err err;
    (void)state;

    assert_int_equal(load(&o, ARGC(a1), a1, backup_opts, &err), EDR_OK);
    assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 0);
    assert_int_equal(o.src[EDR_O_JSON], EDR_SRC_FLAG);
    assert_int_equal(edr_opt_bool(&o, EDR_O_DRY_RUN), 0);
    assert_int_equal(edr_opt_bool(&o, EDR_O_NO_ENCRYPT), 1);
    assert_int_equal(edr_opt_bool(&o, EDR_O_QUIET), 1); /* global */
    edr_opts_release(&o);

    assert_int_equal(load(&o, ARGC(a2), a2, backup_opts, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "option '--json' takes no value");
    edr_opts_release(&o);
    assert_int_equal(load(&o, ARGC(a3), a3, backup_opts, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "option '--quiet' takes no value");
    edr_opts_release(&o);
}

static void
test_argv_errors(void **state)
{
    static const struct {
        const char *argv[3];
        int argc;
        const char *msg;
        const char *hint;
    } cases[] = {
        {{"--bogus"}, 1, "unknown option '--bogus'", "see 'etcd-dr help' and etcd-dr(1)"},
        {{"--bogus=1"}, 1, "unknown option '--bogus=1'", "see 'etcd-dr help' and etcd-dr(1)"},
        {{"-Z"}, 1, "unknown option '-Z'", "see 'etcd-dr help' and etcd-dr(1)"},
        /* a real option this command does not take */
        {{"--drill"}, 1, "unknown option '--drill'", "see 'etcd-dr help' and etcd-dr(1)"},
        {{"-f"}, 1, "unknown option '-f'", "see 'etcd-dr help' and etcd-dr(1)"},
        {{"x", "--cluster"}, 2, "option '--cluster' needs a value (NAME)", ""},
        {{"-o"}, 1, "option '--output' needs a value (FILE)", ""},
        {{"--password", "hunter2"},
         2,
         "option '--password' would put a secret on the command line; refused",
         "use --password-file FILE or the ETCD_DR_PASSWORD environment variable"},
        {{"--password=hunter2"},
         1,
         "option '--password' would put a secret on the command line; refused",
         "use --password-file FILE or the ETCD_DR_PASSWORD environment variable"},
        {{"--secret-key=abc"},
         1,
         "option '--secret-key' would put a secret on the command line; refused",
         "use --identity FILE"},
        {{"--s3-secret", "x"},
         2,
         "option '--s3-secret' would put a secret on the command line; refused",
         "use --s3-secret-file FILE or AWS_SECRET_ACCESS_KEY"},
        {{"--s3-secret-key=x"},
         1,
         "option '--s3-secret-key' would put a secret on the command line; refused",
         "use --s3-secret-file FILE or AWS_SECRET_ACCESS_KEY"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct edr_opts o;
        struct edr_err err;
        assert_int_equal(load(&o, cases[i].argc, cases[i].argv, backup_opts, &err), EDR_E_USAGE);
        assert_int_equal(err.code, EDR_E_USAGE);
        assert_string_equal(err.msg, cases[i].msg);
        assert_string_equal(err.hint, cases[i].hint);
        edr_opts_release(&o);
    }
    /* NULL allowed: every option */
    {
        static const char *const a[] = {"--drill", "-f"};
        struct edr_opts o;
        struct edr_err err;
        assert_int_equal(load(&o, 2, a, NULL, &err), EDR_OK);
        assert_int_equal(edr_opt_bool(&o, EDR_O_DRILL), 1);
        assert_int_equal(edr_opt_bool(&o, EDR_O_FORCE), 1);
        edr_opts_release(&o);
    }
}

/* ---------------------------------------------------------------- precedence */

static void
test_precedence(void **state)
{
    static const char *const flag[] = {"--cluster", "fromflag"};
    struct edr_opts o;
    struct edr_err err;
    char buf[256], want[256];
    (void)state;

    write_cfg("# comment\n"
              "; another\n"
              "\n"
              "[repo]\n"
              "  cluster = fromfile  \n"
              "path=/var/backups\n"
              "lock-wait = 7\n"
              "[etcd]\n"
              "endpoints = http://file:2379\n");
    setenv("ETCD_DR_CONFIG", cfgpath, 1);
    setenv("ETCD_DR_CLUSTER", "fromenv", 1);
    setenv("ETCD_DR_LOCK_WAIT", "9", 1);
    assert_int_equal(load(&o, 2, flag, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "fromflag");
    assert_string_equal(edr_opt_source_desc(&o, EDR_O_CLUSTER, buf, sizeof(buf)), "flag");
    assert_string_equal(edr_opt_str(&o, EDR_O_LOCK_WAIT), "9");
    assert_string_equal(edr_opt_source_desc(&o, EDR_O_LOCK_WAIT, buf, sizeof(buf)), "environment");
    assert_string_equal(edr_opt_str(&o, EDR_O_REPO), "/var/backups");
    snprintf(want, sizeof(want), "%s:6", cfgpath);
    assert_string_equal(edr_opt_source_desc(&o, EDR_O_REPO, buf, sizeof(buf)), want);
    assert_int_equal(o.file_line[EDR_O_REPO], 6);
    assert_string_equal(edr_opt_str(&o, EDR_O_ENDPOINTS), "http://file:2379");
    assert_string_equal(edr_opt_source_desc(&o, EDR_O_COMPRESS_LEVEL, buf, sizeof(buf)), "default");
    assert_string_equal(o.config_path, cfgpath);
    edr_opts_release(&o);

    /* without the flag the environment wins over the file */
    assert_int_equal(load(&o, 0, flag, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "fromenv");
    edr_opts_release(&o);
    /* without both the file wins over the default */
    unsetenv("ETCD_DR_CLUSTER");
    assert_int_equal(load(&o, 0, flag, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "fromfile");
    assert_int_equal(o.src[EDR_O_CLUSTER], EDR_SRC_FILE);
    edr_opts_release(&o);
    /* an empty variable does not count */
    setenv("ETCD_DR_CLUSTER", "", 1);
    unsetenv("ETCD_DR_CONFIG");
    assert_int_equal(load(&o, 0, flag, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "default");
    assert_int_equal(o.src[EDR_O_CLUSTER], EDR_SRC_DEFAULT);
    assert_null(o.config_path);
    edr_opts_release(&o);
    clear_env();
}

static void
test_alt_env(void **state)
{
    static const enum edr_opt_id only_cluster[] = {EDR_O_CLUSTER, EDR_O__COUNT};
    struct edr_opts o;
    struct edr_err err;
    (void)state;

    setenv("ETCDCTL_ENDPOINTS", "http://alt:2379", 1);
    assert_int_equal(load(&o, 0, NULL, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_ENDPOINTS), "http://alt:2379");
    assert_int_equal(o.src[EDR_O_ENDPOINTS], EDR_SRC_ENV);
    edr_opts_release(&o);
    setenv("ETCD_DR_ENDPOINTS", "http://own:2379", 1);
    assert_int_equal(load(&o, 0, NULL, backup_opts, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_ENDPOINTS), "http://own:2379");
    edr_opts_release(&o);
    /* a command that does not take the option ignores its variable */
    setenv("ETCD_DR_REPO", "/x", 1);
    setenv("ETCD_DR_JSON", "true", 1);
    assert_int_equal(load(&o, 0, NULL, only_cluster, &err), EDR_OK);
    assert_null(edr_opt_str(&o, EDR_O_REPO));
    assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 0);
    edr_opts_release(&o);
    unsetenv("ETCD_DR_REPO");
    /* a list from the environment splits on ',' and newlines, trimmed */
    setenv("ETCD_DR_RECIPIENT", " a.pub ,b.pub\nc.pub,,", 1);
    assert_int_equal(load(&o, 0, NULL, backup_opts, &err), EDR_OK);
    {
        int n;
        char **l = edr_opt_list(&o, EDR_O_RECIPIENT, &n);
        assert_int_equal(n, 3);
        assert_string_equal(l[0], "a.pub");
        assert_string_equal(l[1], "b.pub");
        assert_string_equal(l[2], "c.pub");
        edr_strv_free(l, n);
        l = edr_opt_list(&o, EDR_O_REPO, &n);
        assert_null(l);
        assert_int_equal(n, 0);
    }
    edr_opts_release(&o);
    clear_env();
}

/* ---------------------------------------------------------------- config file */

static void
test_file_options(void **state)
{
    const char *argv[2] = {"-c", cfgpath};
    static const enum edr_opt_id only_cluster[] = {EDR_O_CLUSTER, EDR_O__COUNT};
    struct edr_opts o;
    struct edr_err err;
    char **l;
    int n;
    (void)state;

    write_cfg("[repo]\n"
              "recipient = a.pub\n"
              "recipient = b.pub, c.pub\n"
              "cluster=x\n"
              "[backup]\n"
              "no-encrypt = yes\n"
              "[output]\n"
              "json = no\n"
              "[schedule]\n"
              "backup = 0 * * * *\n"
              "prune = 30 2 * * *\n"
              "jitter = 5\n");
    assert_int_equal(load(&o, 2, argv, backup_opts, &err), EDR_OK);
    l = edr_opt_list(&o, EDR_O_RECIPIENT, &n);
    assert_int_equal(n, 3);
    assert_string_equal(l[2], "c.pub");
    edr_strv_free(l, n);
    assert_int_equal(edr_opt_bool(&o, EDR_O_NO_ENCRYPT), 1);
    assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 0);
    assert_int_equal(o.src[EDR_O_JSON], EDR_SRC_FILE);
    assert_int_equal(o.nsched, 2);
    assert_string_equal(o.sched_name[0], "backup");
    assert_string_equal(o.sched_cron[0], "0 * * * *");
    assert_string_equal(o.sched_name[1], "prune");
    assert_string_equal(o.sched_cron[1], "30 2 * * *");
    /* jitter is not a backup option: dropped, back to its default */
    assert_int_equal(o.src[EDR_O_JITTER], EDR_SRC_DEFAULT);
    assert_string_equal(o.config_path, cfgpath);
    edr_opts_release(&o);

    /* a flag list replaces the file's list; it does not append to it */
    {
        const char *a2[4] = {"-c", cfgpath, "-r", "z.pub"};
        assert_int_equal(load(&o, 4, a2, backup_opts, &err), EDR_OK);
        assert_string_equal(o.val[EDR_O_RECIPIENT], "z.pub");
        edr_opts_release(&o);
    }
    /* options of other commands in the file are no error, just dropped */
    assert_int_equal(load(&o, 2, argv, only_cluster, &err), EDR_OK);
    assert_string_equal(edr_opt_str(&o, EDR_O_CLUSTER), "x");
    assert_null(o.val[EDR_O_RECIPIENT]);
    assert_int_equal(edr_opt_bool(&o, EDR_O_NO_ENCRYPT), 0);
    edr_opts_release(&o);

    /* read_file takes everything */
    memset(&o, 0, sizeof(o));
    assert_int_equal(edr_opts_read_file(&o, cfgpath, &err), EDR_OK);
    assert_string_equal(o.val[EDR_O_JITTER], "5");
    assert_int_equal(o.file_line[EDR_O_JITTER], 12);
    assert_string_equal(o.val[EDR_O_RECIPIENT], "a.pub,b.pub, c.pub");
    assert_string_equal(o.config_path, cfgpath);
    edr_opts_release(&o);
}

static void
test_file_errors(void **state)
{
    static const struct {
        const char *text;
        const char *msg; /* after "<path>:" */
    } cases[] = {
        {"[repo\n", "1: malformed section header"},
        {"[repo] x\n", "1: malformed section header"},
        {"\n[bogus]\n", "2: unknown section [bogus]"},
        {"[repo]\ncluster\n", "2: expected 'key = value'"},
        {"cluster = x\n", "1: 'cluster' outside of a [section]"},
        {"[repo]\nfoo = 1\n", "2: unknown key 'foo' in [repo]"},
        {"[etcd]\ncluster = x\n", "2: unknown key 'cluster' in [etcd]"},
        {"[repo]\nlock-wait = abc\n", "2: 'lock-wait' needs a whole number, not 'abc'"},
        {"[repo]\nlock-wait = 5s\n", "2: 'lock-wait' needs a whole number, not '5s'"},
        {"[repo]\nlock-wait =\n", "2: 'lock-wait' needs a whole number, not ''"},
        {"[repo]\nlock-wait = 99999999999999999999\n",
         "2: 'lock-wait' needs a whole number, not '99999999999999999999'"},
        {"[output]\njson = maybe\n", "2: 'json' needs true or false, not 'maybe'"},
        {"[etcd]\npassword = hunter2\n",
         "2: 'password': secrets are not accepted in the config file; give a file path "
         "(password-file, s3-secret-file, identity)"},
        {"[repo]\ns3-secret-key = x\n",
         "2: 's3-secret-key': secrets are not accepted in the config file; give a file path "
         "(password-file, s3-secret-file, identity)"},
        {"[repo]\nsecret-access-key = x\n",
         "2: 'secret-access-key': secrets are not accepted in the config file; give a file "
         "path (password-file, s3-secret-file, identity)"},
        {"[schedule]\nrestore = * * * * *\n",
         "2: unknown job 'restore' in [schedule] (backup, verify, prune)"},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *argv[2] = {"--config", cfgpath};
        struct edr_opts o;
        struct edr_err err;
        char want[512];
        write_cfg(cases[i].text);
        assert_int_equal(load(&o, 2, argv, NULL, &err), EDR_E_CONFIG);
        snprintf(want, sizeof(want), "%s:%s", cfgpath, cases[i].msg);
        assert_string_equal(err.msg, want);
        edr_opts_release(&o);
        memset(&o, 0, sizeof(o));
        assert_int_equal(edr_opts_read_file(&o, cfgpath, &err), EDR_E_CONFIG);
        assert_string_equal(err.msg, want);
        edr_opts_release(&o);
    }
    {
        const char *argv[2] = {"--config=/nonexistent/etcd-dr.conf"};
        struct edr_opts o;
        struct edr_err err;
        assert_int_equal(load(&o, 1, argv, NULL, &err), EDR_E_CONFIG);
        assert_string_equal(err.msg, "unable to open config file '/nonexistent/etcd-dr.conf': "
                                     "[2] No such file or directory");
        edr_opts_release(&o);
    }
}

static void
test_sched_limit(void **state)
{
    struct edr_opts o;
    struct edr_err err;
    char text[2048] = "[schedule]\n";
    (void)state;

    for (int i = 0; i < 20; i++)
        snprintf(text + strlen(text), sizeof(text) - strlen(text), "backup = %d * * * *\n", i);
    write_cfg(text);
    memset(&o, 0, sizeof(o));
    assert_int_equal(edr_opts_read_file(&o, cfgpath, &err), EDR_OK);
    assert_int_equal(o.nsched, 16);
    assert_string_equal(o.sched_cron[15], "15 * * * *");
    edr_opts_release(&o);
}

/* ---------------------------------------------------------------- accessors */

static void
test_int(void **state)
{
    struct edr_opts o;
    struct edr_err err;
    int64_t v = 99;
    static const struct {
        const char *val;
        edr_rc rc;
        int64_t want;
    } cases[] = {
        {"0", EDR_OK, 0},
        {"3600", EDR_OK, 3600},
        {"-1", EDR_E_USAGE, 0},
        {"3601", EDR_E_USAGE, 0},
        {"12x", EDR_E_USAGE, 0},
        {"x", EDR_E_USAGE, 0},
        {"99999999999999999999", EDR_E_USAGE, 0},
    };
    (void)state;

    memset(&o, 0, sizeof(o));
    assert_int_equal(edr_opt_int(&o, EDR_O_LOCK_WAIT, 0, 3600, &v, &err), EDR_OK);
    assert_int_equal(v, 0); /* unset */
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char want[256];
        o.val[EDR_O_LOCK_WAIT] = strdup(cases[i].val);
        v = 99;
        assert_int_equal(edr_opt_int(&o, EDR_O_LOCK_WAIT, 0, 3600, &v, &err), cases[i].rc);
        assert_int_equal(v, cases[i].want);
        if (cases[i].rc != EDR_OK) {
            snprintf(want, sizeof(want),
                     "option '--lock-wait': '%s' is not a whole number from 0 to 3600",
                     cases[i].val);
            assert_string_equal(err.msg, want);
        }
        free(o.val[EDR_O_LOCK_WAIT]);
        o.val[EDR_O_LOCK_WAIT] = NULL;
    }
    edr_opts_release(&o);
}

static void
test_bool_str(void **state)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no", "", "TRUE", "y"};
    struct edr_opts o;
    (void)state;

    memset(&o, 0, sizeof(o));
    assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 0);
    assert_null(edr_opt_str(&o, EDR_O_REPO));
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        o.val[EDR_O_JSON] = strdup(yes[i]);
        assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 1);
        free(o.val[EDR_O_JSON]);
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        o.val[EDR_O_JSON] = strdup(no[i]);
        assert_int_equal(edr_opt_bool(&o, EDR_O_JSON), 0);
        free(o.val[EDR_O_JSON]);
    }
    o.val[EDR_O_JSON] = NULL;
    o.val[EDR_O_REPO] = strdup("");
    assert_null(edr_opt_str(&o, EDR_O_REPO)); /* empty means unset */
    edr_opts_release(&o);
    assert_null(o.val[EDR_O_REPO]);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_table),       T(test_env_name),    T(test_argv),    T(test_argv_bools),
        T(test_argv_errors), T(test_precedence),  T(test_alt_env), T(test_file_options),
        T(test_file_errors), T(test_sched_limit), T(test_int),     T(test_bool_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
