/*
 * Schedule loop. Each job keeps its cron time (`base`) apart from the time it
 * is actually due (base plus jitter), so jitter never drifts the schedule.
 * The loop only ever runs the job with the earliest due time, and after a run
 * reschedules every job whose due time fell inside that run: this is what
 * "never two runs at once" means without threads.
 */
#include "sched/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <unistd.h>

#include "common/log.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

int
edr_sched_stop_requested(void)
{
    return stop_flag != 0;
}

int
edr_sched_reload_requested(void)
{
    return reload_flag != 0;
}

void
edr_sched_request_stop(void)
{
    stop_flag = 1;
}

void
edr_sched_request_reload(void)
{
    reload_flag = 1;
}

void
edr_sched_reset_flags(void)
{
    stop_flag = 0;
    reload_flag = 0;
}

static void
on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_flag = 1;
    else
        stop_flag = 1;
}

edr_rc
edr_sched_install_signals(struct edr_err *err)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return edr_err_errno(err, EDR_E_INTERNAL, errno,
                                 "unable to install handler for "
                                 "signal %d",
                                 sigs[i]);
    return EDR_OK;
}

/* ---- the real clock ---- */

#define REAL_SLEEP_MAX 60

static time_t
real_now(void *ctx)
{
    (void)ctx;
    return time(NULL);
}

static void
real_sleep_until(void *ctx, time_t until)
{
    sigset_t block, old;
    time_t now = time(NULL);
    struct timespec ts;

    (void)ctx;
    if (until <= now)
        return;
    ts.tv_sec = until - now > REAL_SLEEP_MAX ? REAL_SLEEP_MAX : until - now;
    ts.tv_nsec = 0;
    /* a signal between the flag check and the sleep is delivered inside pselect */
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGHUP);
    sigprocmask(SIG_BLOCK, &block, &old);
    if (!stop_flag && !reload_flag)
        (void)pselect(0, NULL, NULL, NULL, &ts, &old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static unsigned long
real_random(void *ctx)
{
    static unsigned long long state;

    (void)ctx;
    if (state == 0)
        state = ((unsigned long long)time(NULL) << 20) ^ (unsigned long long)getpid() ^
                0x9e3779b97f4a7c15ULL;
    /* xorshift64: jitter needs spread, not secrecy */
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (unsigned long)(state >> 11);
}

const struct edr_sched_clock *
edr_sched_real_clock(void)
{
    static const struct edr_sched_clock real = {real_now, real_sleep_until, real_random, NULL};
    return &real;
}

/* ---- the loop ---- */

struct job_state {
    time_t base; /* cron time */
    time_t due;  /* base + jitter */
};

static void
fmt_time(time_t t, char *buf, size_t size)
{
    struct tm tm;

    if (gmtime_r(&t, &tm) == NULL || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, size, "%lld", (long long)t);
}

/* Schedule job j at its first cron time strictly after `after`. */
static edr_rc
schedule(const struct edr_sched_job *job, const struct edr_sched_clock *clock, struct job_state *st,
         time_t after, struct edr_err *err)
{
    edr_rc rc;

    if ((rc = edr_cron_next(&job->cron, after, job->tz, &st->base, err)) != EDR_OK)
        return edr_err_prefix(err, "job '%s'", job->name);
    st->due = st->base;
    if (job->jitter > 0)
        st->due += (time_t)(clock->random(clock->ctx) % ((unsigned long)job->jitter + 1));
    return EDR_OK;
}

/* Wait until `until` unless a stop is requested; returns 0, or -1 if stopped. */
static int
wait_until(const struct edr_sched_clock *clock, time_t until)
{
    while (clock->now(clock->ctx) < until) {
        if (stop_flag)
            return -1;
        clock->sleep_until(clock->ctx, until);
    }
    return stop_flag ? -1 : 0;
}

/* All attempts of one run; returns the last attempt's code, *attempts the count. */
static edr_rc
run_attempts(const struct edr_sched_job *job, const struct edr_sched_clock *clock,
             unsigned *attempts, struct edr_err *jerr)
{
    edr_rc rc = EDR_OK;

    for (unsigned a = 1; a <= job->retries + 1; a++) {
        *attempts = a;
        edr_err_clear(jerr);
        rc = job->run(job->ud, jerr);
        if (rc == EDR_OK)
            return rc;
        if (jerr->code == EDR_OK) /* a job that forgot its message */
            edr_err_set(jerr, rc, "%s", edr_rc_desc(rc));
        if (rc == EDR_E_INTERRUPTED || stop_flag || a == job->retries + 1)
            return rc;
        edr_warn("job '%s': attempt %u of %u failed: %s; retrying in %us", job->name, a,
                 job->retries + 1, jerr->msg, job->retry_delay);
        if (wait_until(clock, clock->now(clock->ctx) + (time_t)job->retry_delay) != 0)
            return rc;
    }
    return rc;
}

edr_rc
edr_sched_run(const struct edr_sched_job *jobs, size_t njobs, const struct edr_sched_clock *clock,
              enum edr_sched_outcome *outcome, struct edr_err *err)
{
    struct job_state *st = NULL;
    struct edr_err jerr;
    time_t now;
    edr_rc rc = EDR_OK;

    *outcome = EDR_SCHED_STOPPED;
    if (njobs == 0)
        return edr_err_set(err, EDR_E_USAGE, "schedule: no jobs");
    for (size_t i = 0; i < njobs; i++)
        if (jobs[i].name == NULL || jobs[i].run == NULL)
            return edr_err_set(err, EDR_E_USAGE, "schedule: job %zu has no name or function",
                               i + 1);
    if ((st = calloc(njobs, sizeof(*st))) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    now = clock->now(clock->ctx);
    for (size_t i = 0; i < njobs; i++)
        if ((rc = schedule(&jobs[i], clock, &st[i], now, err)) != EDR_OK)
            goto out;

    for (;;) {
        const struct edr_sched_job *job;
        time_t start, end;
        unsigned attempts = 0;
        char next[32];
        size_t j = 0;
        edr_rc jrc;

        if (stop_flag) {
            *outcome = EDR_SCHED_STOPPED;
            break;
        }
        if (reload_flag) {
            *outcome = EDR_SCHED_RELOAD;
            reload_flag = 0;
            break;
        }
        for (size_t i = 1; i < njobs; i++)
            if (st[i].due < st[j].due)
                j = i;
        now = clock->now(clock->ctx);
        if (st[j].due > now) {
            clock->sleep_until(clock->ctx, st[j].due);
            continue;
        }

        job = &jobs[j];
        start = now;
        jrc = run_attempts(job, clock, &attempts, &jerr);
        end = clock->now(clock->ctx);
        if (end < start)
            end = start; /* the clock went back during the run */

        /* jobs that came due during the run are skipped */
        for (size_t i = 0; i < njobs; i++) {
            if (i == j || st[i].due <= start || st[i].due > end)
                continue;
            fmt_time(st[i].due, next, sizeof(next));
            edr_warn("job '%s' skipped at %s: job '%s' was running", jobs[i].name, next, job->name);
            if ((rc = schedule(&jobs[i], clock, &st[i], end, err)) != EDR_OK)
                goto out;
        }
        {
            struct edr_err scratch;
            time_t missed;
            if (edr_cron_next(&job->cron, st[j].base, job->tz, &missed, &scratch) == EDR_OK &&
                missed <= end) {
                fmt_time(missed, next, sizeof(next));
                edr_warn("job '%s' skipped at %s: it was still running", job->name, next);
            }
        }
        if ((rc = schedule(job, clock, &st[j], end > st[j].base ? end : st[j].base, err)) != EDR_OK)
            goto out;
        fmt_time(st[j].due, next, sizeof(next));
        if (jrc == EDR_OK)
            edr_info("job '%s' ok in %llds; next run %s", job->name, (long long)(end - start),
                     next);
        else if (attempts > 1)
            edr_log(EDR_LOG_ERROR, "job '%s' failed after %u attempts in %llds: %s; next run %s",
                    job->name, attempts, (long long)(end - start), jerr.msg, next);
        else
            edr_log(EDR_LOG_ERROR, "job '%s' failed in %llds: %s; next run %s", job->name,
                    (long long)(end - start), jerr.msg, next);
    }
out:
    free(st);
    return rc;
}
