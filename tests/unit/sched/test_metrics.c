/*
 * Unit tests for the metrics textfile writer: exact output, a strict checker
 * of the Prometheus text exposition format (written here, independent of the
 * writer's own parser), carrying values over a failed run, several clusters
 * with label escaping, damaged files, atomic-write leftovers and errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched/metrics.h"

/* ---- strict exposition-format checker ---- */

#define MAX_FAMILIES 64
#define MAX_SAMPLES 256

static int
valid_name(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return 0;
    }
    return 1;
}

static int
valid_value(const char *s)
{
    char *end;
    if (strcmp(s, "NaN") == 0 || strcmp(s, "+Inf") == 0 || strcmp(s, "-Inf") == 0)
        return 1;
    if (*s == '\0' || strchr("+-.0123456789", *s) == NULL)
        return 0;
    errno = 0;
    strtod(s, &end);
    return end != s && *end == '\0' && errno == 0;
}

/*
 * Returns NULL if `text` is well formed: HELP/TYPE before the samples of
 * their family, each family once and contiguous, types known, sample names
 * matching their family, labels quoted with only \\ \" \n escapes, no
 * duplicate label names or series, finite-or-special values, no timestamps,
 * no blank lines, a final newline.
 */
static const char *
strict_check(const char *text)
{
    static char why[256];
    static char fams[MAX_FAMILIES][1024];
    int nfam = 0, cur = -1, have_type[MAX_FAMILIES] = {0}, have_help[MAX_FAMILIES] = {0};
    int have_samples[MAX_FAMILIES] = {0};
    static char series[MAX_SAMPLES][1024];
    int nseries = 0, lineno = 0;
    const char *line = text;

    if (*text == '\0')
        return "empty";
    if (text[strlen(text) - 1] != '\n')
        return "no final newline";
    while (*line != '\0') {
        const char *eol = strchr(line, '\n');
        size_t len = (size_t)(eol - line);
        char buf[1024];

        lineno++;
        if (len == 0 || len >= sizeof(buf))
            goto bad;
        memcpy(buf, line, len);
        buf[len] = '\0';
        line = eol + 1;
        if (strncmp(buf, "# HELP ", 7) == 0 || strncmp(buf, "# TYPE ", 7) == 0) {
            int help = buf[2] == 'H';
            char *name = buf + 7, *sp = strchr(name, ' ');
            int f;
            if (sp == NULL || !valid_name(name, (size_t)(sp - name)) || sp[1] == '\0')
                goto bad;
            *sp = '\0';
            for (f = 0; f < nfam; f++)
                if (strcmp(fams[f], name) == 0)
                    break;
            if (f == nfam) {
                if (nfam == MAX_FAMILIES)
                    goto bad;
                snprintf(fams[nfam++], sizeof(fams[0]), "%s", name);
            } else if (f != cur) {
                goto bad; /* family not contiguous */
            }
            if (have_samples[f] || (help ? have_help[f] : have_type[f]))
                goto bad;
            if (!help && strcmp(sp + 1, "gauge") != 0 && strcmp(sp + 1, "counter") != 0 &&
                strcmp(sp + 1, "untyped") != 0 && strcmp(sp + 1, "summary") != 0 &&
                strcmp(sp + 1, "histogram") != 0)
                goto bad;
            if (help)
                have_help[f] = 1;
            else
                have_type[f] = 1;
            cur = f;
            continue;
        }
        if (buf[0] == '#')
            goto bad;
        {
            char *p = buf, labels[64][64];
            size_t nlen = 0;
            int nlabels = 0;
            while (p[nlen] != '\0' && p[nlen] != '{' && p[nlen] != ' ')
                nlen++;
            if (!valid_name(p, nlen) || cur < 0 || strlen(fams[cur]) != nlen ||
                strncmp(fams[cur], p, nlen) != 0 || !have_type[cur])
                goto bad;
            have_samples[cur] = 1;
            p += nlen;
            if (*p == '{') {
                p++;
                while (*p != '}') {
                    size_t l = 0;
                    while (p[l] != '=' && p[l] != '\0')
                        l++;
                    if (!valid_name(p, l) || p[l] != '=' || p[l + 1] != '"' || l >= 64 ||
                        nlabels == 64)
                        goto bad;
                    for (int i = 0; i < nlabels; i++)
                        if (strlen(labels[i]) == l && strncmp(labels[i], p, l) == 0)
                            goto bad;
                    snprintf(labels[nlabels++], 64, "%.*s", (int)l, p);
                    p += l + 2;
                    while (*p != '"') {
                        if (*p == '\0' || *p == '\n')
                            goto bad;
                        if (*p == '\\') {
                            p++;
                            if (*p != '\\' && *p != '"' && *p != 'n')
                                goto bad;
                        }
                        p++;
                    }
                    p++;
                    if (*p == ',')
                        p++;
                    else if (*p != '}')
                        goto bad;
                }
                p++;
            }
            if (*p != ' ' || strchr(p + 1, ' ') != NULL || !valid_value(p + 1))
                goto bad;
            *p = '\0';
            for (int i = 0; i < nseries; i++)
                if (strcmp(series[i], buf) == 0)
                    goto bad;
            if (nseries == MAX_SAMPLES)
                goto bad;
            snprintf(series[nseries++], sizeof(series[0]), "%s", buf);
        }
    }
    return NULL;
bad:
    snprintf(why, sizeof(why), "line %d", lineno);
    return why;
}

static void
test_checker_can_fail(void **state)
{
    (void)state;
    assert_null(strict_check("# HELP a x\n# TYPE a gauge\na{c=\"1\"} 2\n"));
    assert_non_null(strict_check(""));
    assert_non_null(strict_check("# HELP a x\n# TYPE a gauge\na 1"));   /* newline */
    assert_non_null(strict_check("a 1\n"));                             /* no TYPE */
    assert_non_null(strict_check("# TYPE a gauge\nb 1\n"));             /* wrong family */
    assert_non_null(strict_check("# TYPE a gauge\na 1\n# HELP a x\n")); /* HELP late */
    assert_non_null(strict_check("# TYPE a gauge\na 1\na 2\n"));        /* duplicate */
    assert_non_null(strict_check("# TYPE a gauge\na{c=\"\\x\"} 1\n"));  /* escape */
    assert_non_null(strict_check("# TYPE a gauge\na{c=\"1\",c=\"2\"} 1\n"));
    assert_non_null(strict_check("# TYPE a gauge\na 1 123\n")); /* timestamp */
    assert_non_null(strict_check("# TYPE a gauge\na one\n"));
    assert_non_null(strict_check("# TYPE a gauge\na inf\n"));
    assert_non_null(strict_check("# TYPE a gauge\n\na 1\n")); /* blank line */
    assert_non_null(strict_check("# TYPE a gauge\n# TYPE b gauge\n# TYPE a gauge\n"));
    assert_non_null(strict_check("# TYPE a gauges\n"));
    assert_non_null(strict_check("# TYPE 1a gauge\n"));
}

/* ---- helpers ---- */

static char dir[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/edr-test-metrics-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    return 0;
}

static int
teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[512];

    (void)state;
    while (d != NULL && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
    return 0;
}

static char *
slurp(const char *path)
{
    static char buf[65536];
    FILE *f = fopen(path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void
spit(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int
dir_entries(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    while (d != NULL && (de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    if (d != NULL)
        closedir(d);
    return n;
}

static void
prom_path(char *buf, size_t size)
{
    snprintf(buf, size, "%s/etcd-dr.prom", dir);
}

static void
full_success(struct edr_metrics *m, const char *cluster)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->cluster, sizeof(m->cluster), "%s", cluster);
    edr_metrics_set(m, EDR_M_LAST_SUCCESS, 1795687200);
    edr_metrics_set(m, EDR_M_LAST_ATTEMPT, 1795687200);
    edr_metrics_set(m, EDR_M_LAST_RESULT, 0);
    edr_metrics_set(m, EDR_M_LAST_EXIT_CODE, 0);
    edr_metrics_set(m, EDR_M_LAST_DURATION, 12.345);
    edr_metrics_set(m, EDR_M_DB_SIZE, 9007199254740992.0);
    edr_metrics_set(m, EDR_M_STORED_SIZE, 1234567);
    edr_metrics_set(m, EDR_M_REVISION, 424242);
    edr_metrics_set(m, EDR_M_BACKUPS, 17);
    edr_metrics_set(m, EDR_M_LAST_VERIFY, 1795680000);
    edr_metrics_set(m, EDR_M_LAST_VERIFY_OK, 1);
    edr_metrics_set(m, EDR_M_CAPTURE_REVISION, 424300);
    edr_metrics_set(m, EDR_M_CAPTURE_PUBLISH, 1795687205);
    edr_metrics_set(m, EDR_M_CAPTURE_EVENTS, 58);
    edr_metrics_set(m, EDR_M_CAPTURE_LAG, 3);
    edr_metrics_set(m, EDR_M_LOCK_ACQUIRED, 0);
}

/* ---- tests ---- */

static void
test_write_fresh(void **state)
{
    static const char expected[] =
        "# HELP etcd_dr_backup_last_success_timestamp_seconds Unix time of the last successful "
        "backup.\n"
        "# TYPE etcd_dr_backup_last_success_timestamp_seconds gauge\n"
        "etcd_dr_backup_last_success_timestamp_seconds{cluster=\"prod\"} 1795687200\n"
        "# HELP etcd_dr_backup_last_attempt_timestamp_seconds Unix time of the last backup run, ok "
        "or "
        "not.\n"
        "# TYPE etcd_dr_backup_last_attempt_timestamp_seconds gauge\n"
        "etcd_dr_backup_last_attempt_timestamp_seconds{cluster=\"prod\"} 1795687200\n"
        "# HELP etcd_dr_backup_last_failed Result of the last backup run: 0 ok, 1 failed.\n"
        "# TYPE etcd_dr_backup_last_failed gauge\n"
        "etcd_dr_backup_last_failed{cluster=\"prod\"} 0\n"
        "# HELP etcd_dr_backup_last_exit_code Exit status of the last backup run, 0 on success.\n"
        "# TYPE etcd_dr_backup_last_exit_code gauge\n"
        "etcd_dr_backup_last_exit_code{cluster=\"prod\"} 0\n"
        "# HELP etcd_dr_backup_last_duration_seconds Duration of the last backup run.\n"
        "# TYPE etcd_dr_backup_last_duration_seconds gauge\n"
        "etcd_dr_backup_last_duration_seconds{cluster=\"prod\"} 12.345\n"
        "# HELP etcd_dr_backup_db_size_bytes Size of the etcd database in the last successful "
        "backup.\n"
        "# TYPE etcd_dr_backup_db_size_bytes gauge\n"
        "etcd_dr_backup_db_size_bytes{cluster=\"prod\"} 9007199254740992\n"
        "# HELP etcd_dr_backup_stored_size_bytes Bytes stored in the repository by the last "
        "successful backup.\n"
        "# TYPE etcd_dr_backup_stored_size_bytes gauge\n"
        "etcd_dr_backup_stored_size_bytes{cluster=\"prod\"} 1234567\n"
        "# HELP etcd_dr_backup_revision etcd revision of the last successful backup.\n"
        "# TYPE etcd_dr_backup_revision gauge\n"
        "etcd_dr_backup_revision{cluster=\"prod\"} 424242\n"
        "# HELP etcd_dr_backups Number of backups of the cluster in the repository.\n"
        "# TYPE etcd_dr_backups gauge\n"
        "etcd_dr_backups{cluster=\"prod\"} 17\n"
        "# HELP etcd_dr_verify_last_timestamp_seconds Unix time of the last verification.\n"
        "# TYPE etcd_dr_verify_last_timestamp_seconds gauge\n"
        "etcd_dr_verify_last_timestamp_seconds{cluster=\"prod\"} 1795680000\n"
        "# HELP etcd_dr_verify_last_success Result of the last verification: 1 passed, 0 failed.\n"
        "# TYPE etcd_dr_verify_last_success gauge\n"
        "etcd_dr_verify_last_success{cluster=\"prod\"} 1\n"
        "# HELP etcd_dr_capture_last_revision Last etcd revision published by capture.\n"
        "# TYPE etcd_dr_capture_last_revision gauge\n"
        "etcd_dr_capture_last_revision{cluster=\"prod\"} 424300\n"
        "# HELP etcd_dr_capture_last_publish_timestamp_seconds Unix time of capture's last "
        "published segment: the age of the newest durable change.\n"
        "# TYPE etcd_dr_capture_last_publish_timestamp_seconds gauge\n"
        "etcd_dr_capture_last_publish_timestamp_seconds{cluster=\"prod\"} 1795687205\n"
        "# HELP etcd_dr_capture_events_total Events published by the running capture.\n"
        "# TYPE etcd_dr_capture_events_total counter\n"
        "etcd_dr_capture_events_total{cluster=\"prod\"} 58\n"
        "# HELP etcd_dr_capture_lag_revisions Revisions etcd had written that capture had not "
        "published yet, at its last publish.\n"
        "# TYPE etcd_dr_capture_lag_revisions gauge\n"
        "etcd_dr_capture_lag_revisions{cluster=\"prod\"} 3\n"
        "# HELP etcd_dr_backup_lock_acquired_timestamp_seconds Unix time the running backup took "
        "the repository lock, 0 when it released it.\n"
        "# TYPE etcd_dr_backup_lock_acquired_timestamp_seconds gauge\n"
        "etcd_dr_backup_lock_acquired_timestamp_seconds{cluster=\"prod\"} 0\n";
    struct edr_metrics m;
    struct edr_err err;
    struct stat st;
    char path[512];
    const char *text;

    (void)state;
    prom_path(path, sizeof(path));
    full_success(&m, "prod");
    edr_err_clear(&err);
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    text = slurp(path);
    assert_null(strict_check(text));
    assert_string_equal(text, expected);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_int_equal(dir_entries(), 1); /* no temporary file left */
    /* writing the same values again gives the same bytes */
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    assert_string_equal(slurp(path), expected);
    assert_string_equal(edr_metric_name(EDR_M_REVISION), "etcd_dr_backup_revision");
}

static void
test_failed_run_carries_over(void **state)
{
    struct edr_metrics m, back;
    struct edr_err err;
    char path[512];
    const char *text;

    (void)state;
    prom_path(path, sizeof(path));
    full_success(&m, "prod");
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);

    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "prod");
    edr_metrics_set(&m, EDR_M_LAST_ATTEMPT, 1795690800);
    edr_metrics_set(&m, EDR_M_LAST_RESULT, 1);
    edr_metrics_set(&m, EDR_M_LAST_EXIT_CODE, 4);
    edr_metrics_set(&m, EDR_M_LAST_DURATION, 0.5);
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    text = slurp(path);
    assert_null(strict_check(text));
    assert_non_null(strstr(
        text, "\netcd_dr_backup_last_success_timestamp_seconds{cluster=\"prod\"} 1795687200\n"));
    assert_non_null(strstr(
        text, "\netcd_dr_backup_last_attempt_timestamp_seconds{cluster=\"prod\"} 1795690800\n"));
    assert_non_null(strstr(text, "\netcd_dr_backup_last_failed{cluster=\"prod\"} 1\n"));
    assert_non_null(strstr(text, "\netcd_dr_backup_last_exit_code{cluster=\"prod\"} 4\n"));
    assert_non_null(strstr(text, "\netcd_dr_backup_last_duration_seconds{cluster=\"prod\"} 0.5\n"));
    assert_non_null(
        strstr(text, "\netcd_dr_backup_db_size_bytes{cluster=\"prod\"} 9007199254740992\n"));

    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_string_equal(back.cluster, "prod");
    assert_int_equal(back.has, (1u << EDR_M_COUNT) - 1);
    assert_true(back.value[EDR_M_LAST_SUCCESS] == 1795687200);
    assert_true(back.value[EDR_M_LAST_ATTEMPT] == 1795690800);
    assert_true(back.value[EDR_M_LAST_DURATION] == 0.5);
    assert_true(back.value[EDR_M_DB_SIZE] == 9007199254740992.0);
    assert_true(back.value[EDR_M_REVISION] == 424242);
    assert_true(back.value[EDR_M_LAST_VERIFY_OK] == 1);
    assert_true(back.value[EDR_M_CAPTURE_REVISION] == 424300);
    assert_true(back.value[EDR_M_CAPTURE_PUBLISH] == 1795687205);
}

static void
test_clusters_and_escaping(void **state)
{
    static const char odd[] = "we\"ird\\na\nme";
    struct edr_metrics m, back;
    struct edr_err err;
    char path[512];
    const char *text;

    (void)state;
    prom_path(path, sizeof(path));
    full_success(&m, "prod");
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "%s", odd);
    edr_metrics_set(&m, EDR_M_REVISION, 7);
    edr_metrics_set(&m, EDR_M_LAST_DURATION, 1.0 / 3.0);
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    text = slurp(path);
    assert_null(strict_check(text));
    assert_non_null(strstr(text, "etcd_dr_backup_revision{cluster=\"prod\"} 424242\n"
                                 "etcd_dr_backup_revision{cluster=\"we\\\"ird\\\\na\\nme\"} 7\n"));
    assert_int_equal(edr_metrics_read(path, odd, &back, &err), EDR_OK);
    assert_string_equal(back.cluster, odd);
    assert_int_equal(back.has, (1u << EDR_M_REVISION) | (1u << EDR_M_LAST_DURATION));
    assert_true(back.value[EDR_M_REVISION] == 7);
    assert_true(back.value[EDR_M_LAST_DURATION] == 1.0 / 3.0); /* exact round trip */
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_int_equal(back.has, (1u << EDR_M_COUNT) - 1);
    assert_int_equal(edr_metrics_read(path, "staging", &back, &err), EDR_OK);
    assert_int_equal(back.has, 0);
    assert_string_equal(back.cluster, "staging");

    /* special values */
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "prod");
    edr_metrics_set(&m, EDR_M_LAST_DURATION, NAN);
    edr_metrics_set(&m, EDR_M_DB_SIZE, INFINITY);
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    text = slurp(path);
    assert_null(strict_check(text));
    assert_non_null(strstr(text, "etcd_dr_backup_last_duration_seconds{cluster=\"prod\"} NaN\n"));
    assert_non_null(strstr(text, "etcd_dr_backup_db_size_bytes{cluster=\"prod\"} +Inf\n"));
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_true(isnan(back.value[EDR_M_LAST_DURATION]));
    assert_true(isinf(back.value[EDR_M_DB_SIZE]));
}

static void
test_read_missing_and_foreign(void **state)
{
    struct edr_metrics back;
    struct edr_err err;
    char path[512];

    (void)state;
    prom_path(path, sizeof(path));
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_int_equal(back.has, 0);
    /* other metrics, comments, blank lines, samples without our label, timestamps */
    spit(path, "# a comment\n\nnode_foo{cluster=\"prod\"} 5\n"
               "etcd_dr_backup_revision 99\n"
               "etcd_dr_backup_revision{job=\"x\",cluster=\"prod\"} 12 1795687200000\n"
               "etcd_dr_backups{cluster=\"prod\"}\t3\n");
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_int_equal(back.has, (1u << EDR_M_REVISION) | (1u << EDR_M_BACKUPS));
    assert_true(back.value[EDR_M_REVISION] == 12);
    assert_true(back.value[EDR_M_BACKUPS] == 3);
    assert_int_equal(edr_metrics_read(path, "x", &back, &err), EDR_OK);
    assert_int_equal(back.has, 0);
}

static void
expect_damaged(const char *content, const char *why)
{
    struct edr_metrics back;
    struct edr_err err;
    char path[512], msg[1024];

    prom_path(path, sizeof(path));
    spit(path, content);
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_E_IO);
    snprintf(msg, sizeof(msg), "metrics file '%s': %s", path, why);
    assert_string_equal(err.msg, msg);
}

static void
test_damaged_file(void **state)
{
    struct edr_metrics m, back;
    struct edr_err err;
    char path[512];

    (void)state;
    expect_damaged("etcd_dr_backup_revision{cluster=\"x\" 5\n",
                   "line 1: expected ',' or '}' after a label");
    expect_damaged("\netcd_dr_backup_revision{cluster=\"x\"} five\n", "line 2: invalid value");
    expect_damaged("etcd_dr_backup_revision{cluster=\"x} 5\n", "line 1: unterminated label value");
    expect_damaged("etcd_dr_backup_revision{cluster=\"\\t\"} 5\n",
                   "line 1: invalid escape in label value");
    expect_damaged("etcd_dr_backup_revision{=\"x\"} 5\n", "line 1: invalid label");
    expect_damaged("etcd_dr_backup_revision{cluster=\"x\"}5\n", "line 1: expected a value");
    expect_damaged("etcd_dr_backup_revision{cluster=\"x\"} 5 6 7\n", "line 1: trailing garbage");
    expect_damaged("{cluster=\"x\"} 5\n", "line 1: invalid metric name");

    /* the writer replaces a damaged file instead of failing for ever */
    prom_path(path, sizeof(path));
    spit(path, "etcd_dr_backup_revision{cluster=\"x\" 5\n");
    memset(&m, 0, sizeof(m));
    snprintf(m.cluster, sizeof(m.cluster), "prod");
    edr_metrics_set(&m, EDR_M_BACKUPS, 2);
    assert_int_equal(edr_metrics_write(path, &m, &err), EDR_OK);
    assert_null(strict_check(slurp(path)));
    assert_int_equal(edr_metrics_read(path, "prod", &back, &err), EDR_OK);
    assert_int_equal(back.has, 1u << EDR_M_BACKUPS);
}

static void
test_errors(void **state)
{
    struct edr_metrics m, back;
    struct edr_err err;
    char msg[400], longname[300];

    (void)state;
    full_success(&m, "prod");
    assert_int_equal(edr_metrics_write("/nonexistent-dir/x.prom", &m, &err), EDR_E_IO);
    /* a hidden temp name: the pid, then 16 random hex digits */
    snprintf(msg, sizeof(msg), "unable to create '/nonexistent-dir/.x.prom.tmp.%ld.",
             (long)getpid());
    assert_int_equal(strncmp(err.msg, msg, strlen(msg)), 0);
    assert_string_equal(err.msg + strlen(msg) + 16, "': [2] No such file or directory");

    /* rename onto a directory fails and the temporary file is removed */
    snprintf(msg, sizeof(msg), "%s/sub", dir);
    assert_int_equal(mkdir(msg, 0755), 0);
    {
        char inner[512], want[2048];
        snprintf(inner, sizeof(inner), "%s/f", msg);
        spit(inner, "x");
        assert_int_equal(edr_metrics_write(msg, &m, &err), EDR_E_IO);
        snprintf(want, sizeof(want), "unable to rename '%s/.sub.tmp.%ld.", dir, (long)getpid());
        assert_int_equal(strncmp(err.msg, want, strlen(want)), 0);
        snprintf(want, sizeof(want), "' to '%s': [21] Is a directory", msg);
        assert_string_equal(err.msg + strlen(err.msg) - strlen(want), want);
        unlink(inner);
    }
    assert_int_equal(dir_entries(), 1);
    rmdir(msg);

    memset(longname, 'c', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(edr_metrics_read("/nonexistent", longname, &back, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "cluster name too long for metrics (299 bytes)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_can_fail),
        cmocka_unit_test_setup_teardown(test_write_fresh, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_run_carries_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clusters_and_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_missing_and_foreign, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
