/*
 * schedule --capture: capture as a supervised child of the daemon
 * (cmd/supervise.c).
 */
#ifndef EDR_CMD_SUPERVISE_H
#define EDR_CMD_SUPERVISE_H

#include "cmd/cmd.h"

struct edr_capture_child;

/* Start the child (with the options of o that capture takes from the
 * command line, and the config file) and the thread that restarts it. */
edr_rc edr_capture_child_start(const struct edr_opts *o, struct edr_capture_child **out,
                               struct edr_err *err);
/* SIGTERM to the child, wait for it (30 s, then SIGKILL), free. NULL is fine. */
void edr_capture_child_stop(struct edr_capture_child *c);

#endif
