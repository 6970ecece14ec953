/*
 * SIGINT/SIGTERM for the commands that do long work: the handler only sets a
 * flag; the work polls it (the progress stream, the etcd client, the
 * storage backends through their options, the drill) and ends with EDR_E_INTERRUPTED, undoing what
 * it started. The schedule daemon has its own handler; its stop flag counts too.
 */
#include <signal.h>
#include <string.h>

#include "cmd/cmd.h"
#include "sched/daemon.h"

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
    got_signal = sig;
}

void
edr_cmd_catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int
edr_cmd_interrupted(void)
{
    /* the schedule daemon's SIGTERM/SIGINT handler sets the loop's stop flag instead */
    return got_signal != 0 || edr_sched_stop_requested();
}

edr_rc
edr_cmd_check_interrupted(struct edr_err *err)
{
    if (!edr_cmd_interrupted())
        return EDR_OK;
    return edr_err_set(err, EDR_E_INTERRUPTED, "interrupted by a signal");
}
