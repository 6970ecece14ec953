/*
 * Starting etcd on restored data dirs (restore --start, verify --drill) and
 * waiting until it serves.
 */
#ifndef EDR_CMD_LAUNCH_H
#define EDR_CMD_LAUNCH_H

#include <sys/types.h>

#include "cmd/cmd.h"
#include "restore/cluster.h"

/* Start `bin` for member m on data_dir (wal_dir may be NULL), serving clients
 * on client_url, logging to log_path, with an environment without secrets.
 * The child gets its own session, so it outlives us (restore --start);
 * with die_with_us it is killed when we die, even by SIGKILL (a drill: its
 * etcd serves the backup's data and must not stay behind). */
edr_rc edr_launch_etcd(const char *bin, const struct edr_restore_member *m, const char *data_dir,
                       const char *wal_dir, const char *client_url, const char *log_path,
                       int die_with_us, pid_t *pid, struct edr_err *err);

/* Wait until every endpoint (comma-separated) answers Status with a leader,
 * or timeout_s passes (EDR_E_DRILL naming the endpoint and the last error).
 * pids (may be NULL) are checked for early exits. user/password (NULL: none)
 * authenticate the probes: once auth is on, etcd 3.5+ want a token even for
 * Status. */
edr_rc edr_launch_wait_healthy(const char *endpoints, const char *user, const char *password,
                               const pid_t *pids, size_t npids, int timeout_s, struct edr_err *err);

/* The version `bin --version` reports ("etcd Version: 3.6.16" gives
 * "3.6.16") into out; "" when bin cannot be run or names no version. */
void edr_launch_etcd_version(const char *bin, char *out, size_t n);

/* SIGTERM, then SIGKILL after 10 s. */
void edr_launch_stop(pid_t pid);

#endif
