/*
 * Commands: orchestration only. Each command reads its options from the
 * context, calls the lower layers and is the only code that prints results
 * (stdout) or the final error (main.c prints ctx->err).
 */
#ifndef EDR_CMD_CMD_H
#define EDR_CMD_CMD_H

#include "common/err.h"
#include <stddef.h>
#include <stdint.h>

#include "common/opts.h"

struct edr_repo;
struct edr_identity;
struct edr_pubkey;
struct edr_etcd_client;
struct edr_storage_opts;

struct edr_cmd;

struct edr_ctx {
    struct edr_opts opts;
    const struct edr_cmd *cmd;
    const char *cmd_name;
    int json;
    int quiet;
    int progress; /* progress bars allowed (stderr may still not be a tty) */
    struct edr_err err;
    char *password;        /* etcd password, sodium_malloc'ed; wiped by edr_cmd_cleanup */
    struct edr_repo *repo; /* with EDR_CMD_REPO: opened before run, freed after */
};

/* What a command needs before it runs; main.c provides it, in one place. */
enum {
    /* SIGINT/SIGTERM set the flag its work polls (edr_cmd_interrupted)
     * instead of killing it: it ends with EDR_E_INTERRUPTED, cleaned up */
    EDR_CMD_SIGNALS = 1 << 0,
    /* the repository of --repo/--cluster, which must exist, in ctx->repo */
    EDR_CMD_REPO = 1 << 1,
};

struct edr_cmd {
    const char *name;
    edr_rc (*run)(struct edr_ctx *ctx);
    const enum edr_opt_id *opts; /* terminated by EDR_O__COUNT */
    const char *args;            /* positional arguments, for help */
    int min_args, max_args;      /* how many positional arguments it takes */
    const char *usage;           /* the usage error's text after the command name */
    unsigned flags;              /* EDR_CMD_* */
    const char *summary;
};

#define EDR_CMD_DECLARE(name)                                                                      \
    edr_rc edr_cmd_##name(struct edr_ctx *ctx);                                                    \
    extern const enum edr_opt_id edr_cmd_##name##_opts[]

EDR_CMD_DECLARE(backup);
EDR_CMD_DECLARE(capture);
EDR_CMD_DECLARE(config);
EDR_CMD_DECLARE(decrypt);
EDR_CMD_DECLARE(diff);
EDR_CMD_DECLARE(export);
EDR_CMD_DECLARE(get);
EDR_CMD_DECLARE(import);
EDR_CMD_DECLARE(info);
EDR_CMD_DECLARE(inspect);
EDR_CMD_DECLARE(keygen);
EDR_CMD_DECLARE(list);
EDR_CMD_DECLARE(ls);
EDR_CMD_DECLARE(prune);
EDR_CMD_DECLARE(restore);
EDR_CMD_DECLARE(schedule);
EDR_CMD_DECLARE(verify);

/* Shared option groups (cmd/common.c), for building the per-command lists. */
#define EDR_OPTS_ETCD                                                                              \
    EDR_O_ENDPOINTS, EDR_O_CACERT, EDR_O_CERT, EDR_O_KEY, EDR_O_INSECURE_SKIP_TLS_VERIFY,          \
        EDR_O_USER, EDR_O_PASSWORD_FILE, EDR_O_ENDPOINT_POLICY, EDR_O_CONNECT_TIMEOUT,             \
        EDR_O_STALL_TIMEOUT, EDR_O_RETRIES
#define EDR_OPTS_REPO                                                                              \
    EDR_O_REPO, EDR_O_CLUSTER, EDR_O_S3_ENDPOINT, EDR_O_S3_REGION, EDR_O_S3_PATH_STYLE,            \
        EDR_O_S3_CACERT, EDR_O_S3_PART_SIZE, EDR_O_S3_SECRET_FILE, EDR_O_LOCK_WAIT
/* the retention rules that take a count */
#define EDR_OPTS_RETENTION_COUNTS                                                                  \
    EDR_O_KEEP_LAST, EDR_O_KEEP_HOURLY, EDR_O_KEEP_DAILY, EDR_O_KEEP_WEEKLY, EDR_O_KEEP_MONTHLY,   \
        EDR_O_KEEP_YEARLY, EDR_O_KEEP_VERIFIED
#define EDR_OPTS_RETENTION EDR_OPTS_RETENTION_COUNTS, EDR_O_KEEP_WITHIN, EDR_O_KEEP_CHANGES_WITHIN

/* verify --chain (cmd/verify_chain.c) */
edr_rc edr_verify_chain(struct edr_ctx *ctx);

/* Helpers (cmd/common.c). */
void edr_cmd_cleanup(struct edr_ctx *ctx);
void edr_cmd_storage_opts(const struct edr_ctx *ctx, struct edr_storage_opts *so);
edr_rc edr_cmd_open_repo(struct edr_ctx *ctx, int create, struct edr_repo **out);
/* required: EDR_E_KEY with a hint when --identity is missing. */
edr_rc edr_cmd_load_identity(struct edr_ctx *ctx, int required, struct edr_identity **out);
edr_rc edr_cmd_etcd_client(struct edr_ctx *ctx, struct edr_etcd_client **out);
/* The keys of --encryption-config into *out (NULL without the option);
 * free with edr_k8s_keys_free. */
struct edr_k8s_keys;
edr_rc edr_cmd_k8s_keys(struct edr_ctx *ctx, struct edr_k8s_keys **out);
/* The etcd user of --user / ETCDCTL_USER into user[n] ("" when none) and its
 * password into ctx->password (from NAME:PASSWORD in the environment, the
 * password file, ETCD_DR_PASSWORD or ETCDCTL_PASSWORD). EDR_E_USAGE when a
 * user has no password or --user carries one. */
edr_rc edr_cmd_etcd_credentials(struct edr_ctx *ctx, char *user, size_t n);
/* EDR_E_USAGE: "usage: etcd-dr COMMAND USAGE" from the command table. */
edr_rc edr_cmd_usage(struct edr_ctx *ctx);
/* Print a JSON value (jansson json_t *) to stdout and free it. */
void edr_cmd_print_json(void *json);
/* Bytes as a JSON string: as they are when they are text ("utf-8" in
 * *encoding), else base64 ("base64"). */
struct json_t;
struct json_t *edr_cmd_bytes_json(const uint8_t *p, size_t n, const char **encoding);
void edr_fmt_bytes(uint64_t n, char *buf, size_t len);
/* Observer that counts bytes into the progress bar and fails with
 * EDR_E_INTERRUPTED once SIGINT/SIGTERM arrived (edr_cmd_catch_signals). */
struct edr_progress;
struct edr_stream;
edr_rc edr_cmd_progress_stream_new(struct edr_stream *next, struct edr_progress *p,
                                   struct edr_stream **out, struct edr_err *err);
/* SIGINT/SIGTERM set a flag long work polls (cmd/signals.c). */
void edr_cmd_catch_signals(void);
int edr_cmd_interrupted(void);
/* EDR_OK, or EDR_E_INTERRUPTED ("interrupted by a signal") set in err once a
 * signal came. */
edr_rc edr_cmd_check_interrupted(struct edr_err *err);

#endif
