/*
 * Unit tests for the schedule loop, driven by a fake clock: run order, jobs
 * skipped while another runs, jobs due together, retries, jitter, late
 * wake-ups, stop and reload requests, the exact log lines; plus the signal
 * handlers and the real clock's interruptible sleep.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/log.h"
#include "sched/daemon.h"
#include "../support.h"

/* ---- fake clock ---- */

struct fake {
    time_t now;
    time_t stop_at;      /* a sleep reaching this requests a stop */
    time_t oversleep;    /* the first sleep lasts this much longer (suspend) */
    int reload_on_sleep; /* the first sleep requests a reload instead */
    unsigned long rnd;
    int sleeps;
};

static time_t
fake_now(void *ctx)
{
    return ((struct fake *)ctx)->now;
}

static void
fake_sleep_until(void *ctx, time_t until)
{
    struct fake *f = ctx;

    f->sleeps++;
    if (f->reload_on_sleep) {
        f->reload_on_sleep = 0;
        edr_sched_request_reload();
        return;
    }
    if (until >= f->stop_at) {
        f->now = f->stop_at;
        edr_sched_request_stop();
        return;
    }
    if (until > f->now)
        f->now = until;
    f->now += f->oversleep;
    f->oversleep = 0;
}

static unsigned long
fake_random(void *ctx)
{
    return ((struct fake *)ctx)->rnd;
}

/* ---- fake jobs ---- */

static char events[4096];

struct fjob {
    const char *name;
    struct fake *clk;
    int calls;
    int duration[8];  /* seconds per call; the last entry repeats */
    edr_rc result[8]; /* per call; the last entry repeats */
    int stop_in_run;  /* request a stop from inside the job */
};

static edr_rc
fjob_run(void *ud, struct edr_err *err)
{
    struct fjob *j = ud;
    int k = j->calls < 8 ? j->calls : 7;
    char stamp[32];
    struct tm tm;
    edr_rc rc = j->result[k];

    gmtime_r(&j->clk->now, &tm);
    strftime(stamp, sizeof(stamp), "%H:%M:%S", &tm);
    snprintf(events + strlen(events), sizeof(events) - strlen(events), "%s%s@%s",
             events[0] ? " " : "", j->name, stamp);
    j->calls++;
    j->clk->now += j->duration[k];
    if (j->stop_in_run) {
        edr_sched_request_stop();
        return edr_err_set(err, EDR_E_INTERRUPTED, "interrupted");
    }
    if (rc != EDR_OK)
        return edr_err_set(err, rc, "etcd down");
    return EDR_OK;
}

static void
fjob_fill(struct fjob *j, const char *name, struct fake *clk, int duration, edr_rc result)
{
    memset(j, 0, sizeof(*j));
    j->name = name;
    j->clk = clk;
    for (int i = 0; i < 8; i++) {
        j->duration[i] = duration;
        j->result[i] = result;
    }
}

static void
job_init(struct edr_sched_job *job, struct fjob *fj, const char *cron)
{
    struct edr_err err;

    memset(job, 0, sizeof(*job));
    job->name = fj->name;
    job->run = fjob_run;
    job->ud = fj;
    if (edr_cron_parse(&job->cron, cron, &err) != EDR_OK)
        fail_msg("%s", err.msg);
}

static void
fake_init(struct fake *f, const char *start, const char *stop)
{
    memset(f, 0, sizeof(*f));
    f->now = tu_time(start);
    f->stop_at = tu_time(stop);
}

/* ---- stderr capture for the log lines ---- */

static char logbuf[8192];
static FILE *cap;
static int saved_fd = -1;

static void
capture_start(void)
{
    fflush(stderr);
    cap = tmpfile();
    assert_non_null(cap);
    saved_fd = dup(2);
    dup2(fileno(cap), 2);
}

static const char *
capture_end(void)
{
    size_t n;

    fflush(stderr);
    dup2(saved_fd, 2);
    close(saved_fd);
    rewind(cap);
    n = fread(logbuf, 1, sizeof(logbuf) - 1, cap);
    logbuf[n] = '\0';
    fclose(cap);
    return logbuf;
}

static int
setup(void **state)
{
    (void)state;
    events[0] = '\0';
    edr_sched_reset_flags();
    edr_log_setup(EDR_LOG_INFO, 0);
    return 0;
}

static enum edr_sched_outcome
run_loop(const struct edr_sched_job *jobs, size_t n, struct fake *f, const char **log)
{
    struct edr_sched_clock clock = {fake_now, fake_sleep_until, fake_random, f};
    enum edr_sched_outcome outcome = 0;
    struct edr_err err;

    edr_err_clear(&err);
    capture_start();
    if (edr_sched_run(jobs, n, &clock, &outcome, &err) != EDR_OK) {
        capture_end();
        fail_msg("edr_sched_run: %s", err.msg);
    }
    *log = capture_end();
    return outcome;
}

/* ---- tests ---- */

static void
test_single_job(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    const char *log;

    (void)state;
    fake_init(&f, "2026-11-26 00:00:05", "2026-11-26 01:00:00");
    fjob_fill(&a, "A", &f, 0, EDR_OK);
    job_init(&job, &a, "*/10 * * * *");
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@00:10:00 A@00:20:00 A@00:30:00 A@00:40:00 A@00:50:00");
    assert_string_equal(log, "etcd-dr: info: job 'A' ok in 0s; next run 2026-11-26T00:20:00Z\n"
                             "etcd-dr: info: job 'A' ok in 0s; next run 2026-11-26T00:30:00Z\n"
                             "etcd-dr: info: job 'A' ok in 0s; next run 2026-11-26T00:40:00Z\n"
                             "etcd-dr: info: job 'A' ok in 0s; next run 2026-11-26T00:50:00Z\n"
                             "etcd-dr: info: job 'A' ok in 0s; next run 2026-11-26T01:00:00Z\n");
    assert_true(edr_sched_stop_requested());
    assert_int_equal(f.now, tu_time("2026-11-26 01:00:00"));
}

static void
test_skip_while_running(void **state)
{
    struct fake f;
    struct fjob a, b;
    struct edr_sched_job jobs[2];
    const char *log;

    (void)state;
    fake_init(&f, "2026-11-26 00:30:30", "2026-11-26 05:00:00");
    fjob_fill(&a, "A", &f, 60, EDR_OK);
    a.duration[0] = 5400;
    fjob_fill(&b, "B", &f, 0, EDR_OK);
    job_init(&jobs[0], &a, "0 * * * *");
    job_init(&jobs[1], &b, "30 * * * *");
    assert_int_equal(run_loop(jobs, 2, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00 A@03:00:00 B@03:30:00 A@04:00:00 B@04:30:00");
    assert_string_equal(
        log, "etcd-dr: warning: job 'B' skipped at 2026-11-26T01:30:00Z: job 'A' was running\n"
             "etcd-dr: warning: job 'A' skipped at 2026-11-26T02:00:00Z: it was still running\n"
             "etcd-dr: info: job 'A' ok in 5400s; next run 2026-11-26T03:00:00Z\n"
             "etcd-dr: info: job 'A' ok in 60s; next run 2026-11-26T04:00:00Z\n"
             "etcd-dr: info: job 'B' ok in 0s; next run 2026-11-26T04:30:00Z\n"
             "etcd-dr: info: job 'A' ok in 60s; next run 2026-11-26T05:00:00Z\n"
             "etcd-dr: info: job 'B' ok in 0s; next run 2026-11-26T05:30:00Z\n");
}

static void
test_due_together(void **state)
{
    struct fake f;
    struct fjob a, b;
    struct edr_sched_job jobs[2];
    const char *log;

    (void)state;
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 02:30:00");
    fjob_fill(&a, "A", &f, 60, EDR_OK);
    fjob_fill(&b, "B", &f, 60, EDR_OK);
    job_init(&jobs[0], &a, "0 * * * *");
    job_init(&jobs[1], &b, "@hourly");
    assert_int_equal(run_loop(jobs, 2, &f, &log), EDR_SCHED_STOPPED);
    /* due together: one after the other, neither skipped */
    assert_string_equal(events, "A@01:00:00 B@01:01:00 A@02:00:00 B@02:01:00");
    assert_null(strstr(log, "skipped"));
}

/* Another case in the same test: no events yet, no stop requested, the
 * clock running from start to stop, job "A" taking duration seconds to end
 * with result. */
static void
next_case(struct fake *f, struct fjob *a, const char *start, const char *stop, int duration,
          edr_rc result)
{
    events[0] = '\0';
    edr_sched_reset_flags();
    fake_init(f, start, stop);
    fjob_fill(a, "A", f, duration, result);
}

static void
test_retries(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    const char *log;

    (void)state;
    /* fails twice, then succeeds */
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 01:30:00");
    fjob_fill(&a, "A", &f, 0, EDR_OK);
    a.result[0] = a.result[1] = EDR_E_ETCD;
    job_init(&job, &a, "0 * * * *");
    job.retries = 3;
    job.retry_delay = 60;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00 A@01:01:00 A@01:02:00");
    assert_string_equal(
        log, "etcd-dr: warning: job 'A': attempt 1 of 4 failed: etcd down; retrying in 60s\n"
             "etcd-dr: warning: job 'A': attempt 2 of 4 failed: etcd down; retrying in 60s\n"
             "etcd-dr: info: job 'A' ok in 120s; next run 2026-11-26T02:00:00Z\n");

    /* always fails: the loop goes on */
    next_case(&f, &a, "2026-11-26 00:30:00", "2026-11-26 02:30:00", 0, EDR_E_ETCD);
    job.retries = 1;
    job.retry_delay = 60;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00 A@01:01:00 A@02:00:00 A@02:01:00");
    assert_string_equal(
        log, "etcd-dr: warning: job 'A': attempt 1 of 2 failed: etcd down; retrying in 60s\n"
             "etcd-dr: error: job 'A' failed after 2 attempts in 60s: etcd down; next run "
             "2026-11-26T02:00:00Z\n"
             "etcd-dr: warning: job 'A': attempt 1 of 2 failed: etcd down; retrying in 60s\n"
             "etcd-dr: error: job 'A' failed after 2 attempts in 60s: etcd down; next run "
             "2026-11-26T03:00:00Z\n");

    /* no retries */
    next_case(&f, &a, "2026-11-26 00:30:00", "2026-11-26 01:30:00", 5, EDR_E_ETCD);
    job.retries = 0;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00");
    assert_string_equal(log, "etcd-dr: error: job 'A' failed in 5s: etcd down; next run "
                             "2026-11-26T02:00:00Z\n");
}

static void
test_jitter(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    const char *log;

    (void)state;
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 02:30:00");
    f.rnd = 301 * 7 + 123; /* 123 modulo 301 */
    fjob_fill(&a, "A", &f, 10, EDR_OK);
    job_init(&job, &a, "0 * * * *");
    job.jitter = 300;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    /* the jitter delays each fire but does not drift the schedule */
    assert_string_equal(events, "A@01:02:03 A@02:02:03");
    assert_string_equal(log, "etcd-dr: info: job 'A' ok in 10s; next run 2026-11-26T02:02:03Z\n"
                             "etcd-dr: info: job 'A' ok in 10s; next run 2026-11-26T03:02:03Z\n");
}

static void
test_late_wakeup(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    const char *log;

    (void)state;
    fake_init(&f, "2026-11-26 00:05:00", "2026-11-26 01:25:00");
    f.oversleep = 3600; /* the machine slept through six fires */
    fjob_fill(&a, "A", &f, 0, EDR_OK);
    job_init(&job, &a, "*/10 * * * *");
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:10:00 A@01:20:00");
}

static void
test_stop_and_reload(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    const char *log;

    (void)state;
    /* a stop requested inside the job: no retry, the loop ends */
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 05:00:00");
    fjob_fill(&a, "A", &f, 0, EDR_OK);
    a.stop_in_run = 1;
    job_init(&job, &a, "0 * * * *");
    job.retries = 5;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00");
    assert_string_equal(log, "etcd-dr: error: job 'A' failed in 0s: interrupted; next run "
                             "2026-11-26T02:00:00Z\n");

    /* a stop during the wait between attempts */
    next_case(&f, &a, "2026-11-26 00:30:00", "2026-11-26 01:05:00", 0, EDR_E_ETCD);
    job.retries = 5;
    job.retry_delay = 600;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "A@01:00:00");
    assert_non_null(strstr(log, "etcd-dr: error: job 'A' failed in 300s: etcd down"));

    /* stop already requested: nothing runs */
    events[0] = '\0';
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 05:00:00");
    edr_sched_request_stop();
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_STOPPED);
    assert_string_equal(events, "");
    assert_int_equal(f.sleeps, 0);

    /* reload: returns to the caller with the flag cleared */
    edr_sched_reset_flags();
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 05:00:00");
    f.reload_on_sleep = 1;
    assert_int_equal(run_loop(&job, 1, &f, &log), EDR_SCHED_RELOAD);
    assert_false(edr_sched_reload_requested());
    assert_false(edr_sched_stop_requested());
    assert_string_equal(events, "");
    assert_string_equal(log, "");
}

static void
test_errors(void **state)
{
    struct fake f;
    struct fjob a;
    struct edr_sched_job job;
    struct edr_sched_clock clock = {fake_now, fake_sleep_until, fake_random, &f};
    enum edr_sched_outcome outcome;
    struct edr_err err;

    (void)state;
    fake_init(&f, "2026-11-26 00:30:00", "2026-11-26 05:00:00");
    assert_int_equal(edr_sched_run(NULL, 0, &clock, &outcome, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "schedule: no jobs");
    fjob_fill(&a, "A", &f, 0, EDR_OK);
    job_init(&job, &a, "0 * * * *");
    job.run = NULL;
    assert_int_equal(edr_sched_run(&job, 1, &clock, &outcome, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "schedule: job 1 has no name or function");
    /* a job that can never fire again (9999 is the last year searched) */
    job_init(&job, &a, "@yearly");
    f.now = tu_time("9999-12-31 12:00:00");
    assert_int_equal(edr_sched_run(&job, 1, &clock, &outcome, &err), EDR_E_USAGE);
    assert_string_equal(err.msg, "job 'A': cron: no fire time before the year 10000");
}

static void
test_signals(void **state)
{
    struct edr_err err;

    (void)state;
    assert_int_equal(edr_sched_install_signals(&err), EDR_OK);
    assert_false(edr_sched_stop_requested());
    raise(SIGHUP);
    assert_true(edr_sched_reload_requested());
    assert_false(edr_sched_stop_requested());
    raise(SIGTERM);
    assert_true(edr_sched_stop_requested());
    edr_sched_reset_flags();
    assert_false(edr_sched_stop_requested());
    assert_false(edr_sched_reload_requested());
    raise(SIGINT);
    assert_true(edr_sched_stop_requested());
    edr_sched_reset_flags();
}

static double
mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void
test_real_clock(void **state)
{
    const struct edr_sched_clock *real = edr_sched_real_clock();
    struct edr_err err;
    double t0;
    pid_t child;
    int status;

    (void)state;
    assert_int_equal(edr_sched_install_signals(&err), EDR_OK);
    assert_true(real->now(real->ctx) - time(NULL) <= 1);
    assert_true(real->random(real->ctx) != real->random(real->ctx));

    /* a pending stop makes the sleep return at once */
    edr_sched_request_stop();
    t0 = mono();
    real->sleep_until(real->ctx, time(NULL) + 30);
    assert_true(mono() - t0 < 1.0);
    edr_sched_reset_flags();

    /* SIGTERM from another process interrupts a long sleep */
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        usleep(200000);
        kill(getppid(), SIGTERM);
        _exit(0);
    }
    t0 = mono();
    real->sleep_until(real->ctx, time(NULL) + 30);
    assert_true(mono() - t0 < 10.0);
    assert_true(edr_sched_stop_requested());
    assert_int_equal(waitpid(child, &status, 0), child);
    edr_sched_reset_flags();

    /* a short sleep in the past returns at once */
    t0 = mono();
    real->sleep_until(real->ctx, time(NULL) - 5);
    assert_true(mono() - t0 < 1.0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_single_job, setup),
        cmocka_unit_test_setup(test_skip_while_running, setup),
        cmocka_unit_test_setup(test_due_together, setup),
        cmocka_unit_test_setup(test_retries, setup),
        cmocka_unit_test_setup(test_jitter, setup),
        cmocka_unit_test_setup(test_late_wakeup, setup),
        cmocka_unit_test_setup(test_stop_and_reload, setup),
        cmocka_unit_test_setup(test_errors, setup),
        cmocka_unit_test_setup(test_signals, setup),
        cmocka_unit_test_setup(test_real_clock, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
