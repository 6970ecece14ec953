/*
 * The schedule loop behind `etcd-dr schedule`: named jobs on cron
 * expressions, run one at a time, with jitter and retries, until SIGTERM or
 * SIGINT; SIGHUP hands control back to the caller to reload its
 * configuration. The loop knows nothing of what a job does, and takes its
 * clock and sleep from the caller so tests can run it in fake time.
 */
#ifndef EDR_SCHED_DAEMON_H
#define EDR_SCHED_DAEMON_H

#include <stddef.h>
#include <time.h>

#include "common/err.h"
#include "sched/cron.h"

struct edr_sched_job {
    const char *name;     /* for log lines */
    struct edr_cron cron; /* from edr_cron_parse */
    const char *tz;       /* edr_cron_next's time zone; NULL = UTC */
    /*
     * The work. Returns EDR_OK or an error code with err filled. A long job
     * should poll edr_sched_stop_requested() and return EDR_E_INTERRUPTED.
     */
    edr_rc (*run)(void *ud, struct edr_err *err);
    void *ud;
    unsigned jitter;      /* each fire is delayed by a random 0..jitter seconds */
    unsigned retries;     /* further attempts after a failed one (0 = none) */
    unsigned retry_delay; /* seconds between attempts */
};

/*
 * Time source. now() returns the current time; sleep_until() waits until the
 * absolute time `until` and may return earlier (a signal, a slice of a long
 * wait): the loop re-reads now() and the flags after every return. random()
 * returns a uniformly distributed number (only its remainder modulo
 * jitter + 1 is used). Fake implementations let a unit test drive the loop.
 */
struct edr_sched_clock {
    time_t (*now)(void *ctx);
    void (*sleep_until)(void *ctx, time_t until);
    unsigned long (*random)(void *ctx);
    void *ctx;
};

/*
 * The real clock: time(), and a sleep of at most 60 s per call (so a wall
 * clock change is noticed within a minute) that returns at once when a stop
 * or reload is requested, without the race of checking the flags and then
 * sleeping (pselect with the signals blocked in between). Statically
 * allocated.
 */
const struct edr_sched_clock *edr_sched_real_clock(void);

enum edr_sched_outcome {
    EDR_SCHED_STOPPED = 1, /* stop requested (SIGTERM, SIGINT, edr_sched_request_stop) */
    EDR_SCHED_RELOAD = 2,  /* reload requested (SIGHUP): re-read the config, call again */
};

/*
 * Run the jobs until a stop or reload is requested; *outcome says which.
 * The reload flag is cleared on return; the stop flag stays set.
 *
 * Each job's first fire is the first cron time after the clock's now() at
 * entry (plus its jitter). Rules:
 *  - one job at a time. Jobs that are due together run one after another in
 *    the order of their due times (ties in array order). A job whose due time
 *    falls while another job runs is skipped, with a warning, and scheduled
 *    for its next cron time after the run; fires of a job missed during its
 *    own run are skipped the same way. A loop that wakes up late (suspend)
 *    runs a due job once, not once per missed fire.
 *  - a failed attempt is retried up to `retries` times, `retry_delay`
 *    seconds apart (the wait is interruptible); EDR_E_INTERRUPTED or a stop
 *    request ends the attempts. A failure never stops the loop.
 *  - one log line per run: info "job 'backup' ok in 12s; next run
 *    2026-11-27T00:00:00Z" or error "job 'backup' failed after 3 attempts in
 *    200s: <message>; next run ..."; failed attempts that are retried add a
 *    warning each.
 *
 * Errors: EDR_E_USAGE for no jobs or a job without name or run function;
 * errors of edr_cron_next (a job that can never fire again).
 */
edr_rc edr_sched_run(const struct edr_sched_job *jobs, size_t njobs,
                     const struct edr_sched_clock *clock, enum edr_sched_outcome *outcome,
                     struct edr_err *err);

/*
 * Install handlers: SIGTERM and SIGINT request a stop, SIGHUP a reload
 * (SA_RESTART, so a job's system calls are not interrupted by them).
 * EDR_E_INTERNAL if sigaction fails.
 */
edr_rc edr_sched_install_signals(struct edr_err *err);

/* The flags, readable from any thread and from the running job. */
int edr_sched_stop_requested(void);
int edr_sched_reload_requested(void);

/* Set a flag as the signals would (async-signal-safe). */
void edr_sched_request_stop(void);
void edr_sched_request_reload(void);

/* Clear both flags (before starting the loop again after a stop, and in tests). */
void edr_sched_reset_flags(void);

#endif
