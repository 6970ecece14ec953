/*
 * Options: one table (EDR_OPTION_TABLE) for flags, environment variables and
 * the config file. Precedence: flag > ETCD_DR_* (or the etcdctl/AWS name that
 * means the same) > config file > default. Every option has a config key
 * ("[section] key"), so everything can be set in etcd-dr.conf(5). Secrets are
 * never options: only paths to files holding them are; values that look like
 * secrets on argv (--password, --secret-key, ...) are refused with a hint.
 */
#ifndef EDR_COMMON_OPTS_H
#define EDR_COMMON_OPTS_H

#include <stdint.h>

#include "common/err.h"

enum edr_opt_type { EDR_OT_STR, EDR_OT_BOOL, EDR_OT_INT, EDR_OT_LIST };

/* X(ID, "long-name", short, type, "section", "config key", "alt env", "default", "METAVAR", "help")
 * Sorted by long name: lookups use bsearch. The ETCD_DR_ env name is derived from the long name. */
/* clang-format off */
#define EDR_OPTION_TABLE(X)                                                                       \
    X(ALL, "all", 0, BOOL, "verify", "all", NULL, NULL, NULL, "verify every backup of the cluster") \
    X(ALL_MEMBERS, "all-members", 0, BOOL, "restore", "all-members", NULL, NULL, NULL,          \
      "write the data dir of every member of --initial-cluster")                                  \
    X(BUMP_REVISION, "bump-revision", 0, STR, "restore", "bump-revision", NULL, NULL, "N|auto",   \
      "raise the revision by N, or by what the repository saw (auto)")                            \
    X(CACERT, "cacert", 0, STR, "etcd", "cacert", "ETCDCTL_CACERT", NULL, "FILE",                 \
      "CA bundle to verify etcd's server certificate")                                            \
    X(CAPTURE, "capture", 0, BOOL, "capture", "enabled", NULL, NULL, NULL,                         \
      "schedule: also run capture, restarted when it stops")                                      \
    X(CERT, "cert", 0, STR, "etcd", "cert", "ETCDCTL_CERT", NULL, "FILE",                         \
      "client certificate for etcd")                                                              \
    X(CHAIN, "chain", 0, BOOL, "verify", "chain", NULL, NULL, NULL,                              \
      "verify the captured changes: complete, linked, intact")                                    \
    X(CHECK, "check", 0, BOOL, "restore", "check", NULL, NULL, NULL,                              \
      "restore: run the preflight checks only, write nothing")                                    \
    X(CLUSTER, "cluster", 0, STR, "repo", "cluster", NULL, "default", "NAME",                      \
      "cluster name: backups live under <repo>/<NAME>/")                                          \
    X(COMPRESS_LEVEL, "compress-level", 0, INT, "backup", "compress-level", NULL, "2", "N",       \
      "zstd level, 1 (fast) to 19")                                                               \
    X(CONFIG, "config", 'c', STR, "", "", NULL, NULL, "FILE", "read options from FILE")           \
    X(CONNECT_TIMEOUT, "connect-timeout", 0, INT, "etcd", "connect-timeout", NULL, "5", "SEC",    \
      "etcd connection timeout")                                                                  \
    X(DATA_DIR, "data-dir", 0, STR, "restore", "data-dir", NULL, NULL, "DIR",                     \
      "data dir to write ({name} is replaced by the member name)")                                \
    X(DRILL, "drill", 0, BOOL, "verify", "drill", NULL, NULL, NULL,                              \
      "restore into a temp dir, start etcd and probe it")                                         \
    X(DROP_PREFIX, "drop-prefix", 0, LIST, "restore", "drop-prefix", NULL, NULL, "PREFIX",       \
      "restore: leave out the keys under PREFIX (repeatable)")                                    \
    X(DRY_RUN, "dry-run", 'n', BOOL, "retention", "dry-run", NULL, NULL, NULL,                    \
      "show what would be removed and why, remove nothing")                                       \
    X(ENCRYPTION_CONFIG, "encryption-config", 0, STR, "kubernetes", "encryption-config", NULL,   \
      NULL, "FILE", "the API server's EncryptionConfiguration, to read encrypted objects")       \
    X(ENDPOINT_POLICY, "endpoint-policy", 0, STR, "etcd", "endpoint-policy", NULL, "follower",   \
      "POLICY", "which member to snapshot: follower, leader or first")                           \
    X(ENDPOINTS, "endpoints", 0, STR, "etcd", "endpoints", "ETCDCTL_ENDPOINTS",                   \
      "http://127.0.0.1:2379", "URLS", "comma-separated etcd client URLs")                        \
    X(ETCD_BIN, "etcd-bin", 0, STR, "verify", "etcd-bin", NULL, "etcd", "PATH",                   \
      "etcd binary for --drill")                                                                  \
    X(EXTRACT_FILES, "extract-files", 0, STR, "restore", "extract-files", NULL, NULL, "DIR",      \
      "restore: also write the files kept beside the snapshot into DIR")                          \
    X(FILES, "files", 0, BOOL, "output", "files", NULL, NULL, NULL,                              \
      "ls, export: the files kept beside the snapshot instead of keys")                           \
    X(FLUSH, "flush", 0, STR, "capture", "flush", NULL, "5s", "SEC",                               \
      "publish captured changes at least every SEC (5, 5s, 2m)")                                  \
    X(FORCE, "force", 'f', BOOL, "restore", "force", NULL, NULL, NULL,                            \
      "move a non-empty data dir aside instead of refusing")                                      \
    X(FROM, "from", 0, STR, "import", "from", NULL, NULL, "TOOL",                                 \
      "import: the tool that made the input: etcdctl, k3s, rke2 or gardener")                    \
    X(IDENTITY, "identity", 'i', STR, "repo", "identity", NULL, NULL, "FILE",                     \
      "secret key file that opens encrypted backups")                                             \
    X(INCLUDE, "include", 0, LIST, "backup", "include", NULL, NULL, "PATH",                       \
      "keep PATH (file or glob; ?PATH if optional) beside the snapshot (repeatable)")             \
    X(INCLUDE_MAX_SIZE, "include-max-size", 0, INT, "backup", "include-max-size", NULL,           \
      "16777216", "BYTES", "refuse an --include file larger than BYTES")                          \
    X(INITIAL_ADVERTISE_PEER_URLS, "initial-advertise-peer-urls", 0, STR, "restore",              \
      "initial-advertise-peer-urls", NULL, NULL, "URLS", "peer URLs of --name")                  \
    X(INITIAL_CLUSTER, "initial-cluster", 0, STR, "restore", "initial-cluster", NULL, NULL,       \
      "NAME=URL,...", "the new cluster's members")                                                \
    X(INITIAL_CLUSTER_TOKEN, "initial-cluster-token", 0, STR, "restore",                          \
      "initial-cluster-token", NULL, "etcd-cluster", "TOKEN", "the new cluster's token")          \
    X(INSECURE_SKIP_TLS_VERIFY, "insecure-skip-tls-verify", 0, BOOL, "etcd",                      \
      "insecure-skip-tls-verify", NULL, NULL, NULL, "do not verify etcd's certificate (unsafe)") \
    X(JITTER, "jitter", 0, INT, "schedule", "jitter", NULL, "0", "SEC",                           \
      "random delay up to SEC before each scheduled run")                                         \
    X(JSON, "json", 0, BOOL, "output", "json", NULL, NULL, NULL, "print results as JSON")         \
    X(JUNIT, "junit", 0, STR, "verify", "junit", NULL, NULL, "FILE", "also write JUnit XML")      \
    X(K8S, "k8s", 0, BOOL, "kubernetes", "view", NULL, NULL, NULL,                                \
      "ls, get: show Kubernetes objects (kind, namespace, name, uid)")                            \
    X(KEEP_CHANGES_WITHIN, "keep-changes-within", 0, STR, "retention", "keep-changes-within",     \
      NULL, NULL, "DURATION", "keep captured changes that reach the last DURATION")              \
    X(KEEP_DAILY, "keep-daily", 0, INT, "retention", "keep-daily", NULL, "0", "N",                \
      "keep the newest backup of each of the last N days")                                        \
    X(KEEP_HOURLY, "keep-hourly", 0, INT, "retention", "keep-hourly", NULL, "0", "N",             \
      "keep the newest backup of each of the last N hours")                                       \
    X(KEEP_LAST, "keep-last", 0, INT, "retention", "keep-last", NULL, "0", "N",                   \
      "keep the N newest backups")                                                                \
    X(KEEP_MONTHLY, "keep-monthly", 0, INT, "retention", "keep-monthly", NULL, "0", "N",          \
      "keep the newest backup of each of the last N months")                                      \
    X(KEEP_VERIFIED, "keep-verified", 0, INT, "retention", "keep-verified", NULL, "0", "N",       \
      "never remove the newest N verified backups")                                               \
    X(KEEP_WEEKLY, "keep-weekly", 0, INT, "retention", "keep-weekly", NULL, "0", "N",             \
      "keep the newest backup of each of the last N ISO weeks")                                   \
    X(KEEP_WITHIN, "keep-within", 0, STR, "retention", "keep-within", NULL, NULL, "DURATION",     \
      "keep everything newer than DURATION (e.g. 36h, 2d, 1w)")                                   \
    X(KEEP_YEARLY, "keep-yearly", 0, INT, "retention", "keep-yearly", NULL, "0", "N",             \
      "keep the newest backup of each of the last N years")                                       \
    X(KEY, "key", 0, STR, "etcd", "key", "ETCDCTL_KEY", NULL, "FILE", "client key for etcd")      \
    X(LEVEL, "level", 0, STR, "verify", "level", NULL, NULL, "LEVEL",                             \
      "verify level: stored, content or drill")                                                   \
    X(LISTEN_CLIENT_URLS, "listen-client-urls", 0, STR, "restore", "listen-client-urls", NULL,   \
      NULL, "URL|NAME=URL,...", "client URLs for --start (one per started member)")             \
    X(LOCK_WAIT, "lock-wait", 0, INT, "repo", "lock-wait", NULL, "0", "SEC",                      \
      "wait up to SEC for the repository lock")                                                   \
    X(LOG_FORMAT, "log-format", 0, STR, "log", "format", NULL, "text", "FORMAT",                  \
      "log lines as text or json")                                                                \
    X(LOG_LEVEL, "log-level", 0, STR, "log", "level", NULL, "warn", "LEVEL",                      \
      "error, warn, info or debug")                                                               \
    X(MARK_COMPACTED, "mark-compacted", 0, BOOL, "restore", "mark-compacted", NULL, NULL, NULL,   \
      "mark the bumped revision compacted so watchers relist")                                    \
    X(MAX_AGE, "max-age", 0, STR, "schedule", "max-age", NULL, NULL, "DURATION",                  \
      "info: stale when the newest backup is older (e.g. 36h, 2d)")                                \
    X(METRICS_FILE, "metrics-file", 0, STR, "metrics", "file", NULL, NULL, "FILE",                \
      "write a node_exporter textfile")                                                           \
    X(NAME, "name", 0, STR, "restore", "name", NULL, NULL, "NAME",                                \
      "member to restore (default: the only member, or 'default')")                              \
    X(NO_ENCRYPT, "no-encrypt", 0, BOOL, "backup", "no-encrypt", NULL, NULL, NULL,                \
      "store the backup unencrypted (recorded in the manifest)")                                  \
    X(NO_PROGRESS, "no-progress", 0, BOOL, "output", "no-progress", NULL, NULL, NULL,             \
      "no progress bar")                                                                          \
    X(ON_FAILURE, "on-failure", 0, STR, "hooks", "on-failure", NULL, NULL, "CMD",                 \
      "run CMD after a failed run")                                                               \
    X(ON_SUCCESS, "on-success", 0, STR, "hooks", "on-success", NULL, NULL, "CMD",                 \
      "run CMD after a successful run")                                                           \
    X(OUTPUT, "output", 'o', STR, "output", "output", NULL, NULL, "FILE",                         \
      "output file (export, keygen) or format (get: json, raw, value)")                                \
    X(OUTPUT_ARCHIVES, "output-archives", 0, STR, "restore", "output-archives", NULL, NULL, "DIR", \
      "write one tarball per member into DIR")                                                    \
    X(PASSWORD_FILE, "password-file", 0, STR, "etcd", "password-file", NULL, NULL, "FILE",        \
      "file holding the etcd password")                                                           \
    X(PEER_CERT, "peer-cert", 0, STR, "restore", "peer-cert", NULL, NULL, "FILE",                \
      "restore --check: peer certificate whose SANs must cover the peer URLs")                    \
    X(PREFIX, "prefix", 0, STR, "diff", "prefix", NULL, NULL, "PREFIX",                           \
      "diff: only keys that start with PREFIX")                                                   \
    X(PRUNE, "prune", 0, BOOL, "backup", "prune", NULL, NULL, NULL,                               \
      "apply the retention rules after the backup")                                               \
    X(QUIET, "quiet", 'q', BOOL, "output", "quiet", NULL, NULL, NULL, "print only errors")        \
    X(RAW, "raw", 0, BOOL, "export", "raw", NULL, NULL, NULL,                                    \
      "export the decrypted tar stream (zstd) instead of the snapshot")                           \
    X(RECIPIENT, "recipient", 'r', LIST, "repo", "recipient", NULL, NULL, "FILE",                 \
      "public key file to encrypt to (repeatable)")                                               \
    X(REPO, "repo", 0, STR, "repo", "path", NULL, NULL, "DIR|s3://BUCKET/PREFIX",                 \
      "the backup repository")                                                                    \
    X(RETRIES, "retries", 0, INT, "etcd", "retries", NULL, "3", "N",                              \
      "snapshot attempts on other endpoints after a failure")                                     \
    X(REV, "rev", 0, INT, "get", "rev", NULL, "0", "REV", "read keys at revision REV")            \
    X(S3_CACERT, "s3-cacert", 0, STR, "repo", "s3-cacert", NULL, NULL, "FILE",                    \
      "CA bundle for the S3 endpoint")                                                            \
    X(S3_ENDPOINT, "s3-endpoint", 0, STR, "repo", "s3-endpoint", "AWS_ENDPOINT_URL_S3", NULL,     \
      "URL", "S3-compatible endpoint")                                                            \
    X(S3_PART_SIZE, "s3-part-size", 0, INT, "repo", "s3-part-size", NULL, "0", "BYTES",           \
      "multipart part size (default from the expected size)")                                     \
    X(S3_PATH_STYLE, "s3-path-style", 0, BOOL, "repo", "s3-path-style", NULL, NULL, NULL,         \
      "path-style S3 addressing")                                                                 \
    X(S3_REGION, "s3-region", 0, STR, "repo", "s3-region", "AWS_REGION", NULL, "REGION",          \
      "S3 region")                                                                                \
    X(S3_SECRET_FILE, "s3-secret-file", 0, STR, "repo", "s3-secret-file", NULL, NULL, "FILE",     \
      "file holding the S3 secret access key")                                                    \
    X(SERVER_TOKEN_FILE, "server-token-file", 0, STR, "kubernetes", "server-token-file", NULL,   \
      NULL, "FILE", "restore --check: the k3s/RKE2 server token to find")                         \
    X(SKIP_HASH_CHECK, "skip-hash-check", 0, BOOL, "restore", "skip-hash-check", NULL, NULL,      \
      NULL, "accept a db without a valid sha256 trailer")                                         \
    X(STALL_TIMEOUT, "stall-timeout", 0, INT, "etcd", "stall-timeout", NULL, "60", "SEC",         \
      "abort a snapshot stream silent for SEC")                                                   \
    X(START, "start", 0, BOOL, "restore", "start", NULL, NULL, NULL,                              \
      "start the restored member(s) and wait until healthy")                                      \
    X(TARGET_VERSION, "target-version", 0, STR, "restore", "target-version", NULL, NULL,          \
      "VERSION", "etcd version that will start the restore (refuses newer data)")               \
    X(THREADS, "threads", 'T', INT, "backup", "threads", NULL, "0", "N",                          \
      "compression threads (0 = all cores)")                                                      \
    X(TIMEZONE, "timezone", 0, STR, "schedule", "timezone", NULL, "UTC", "TZ",                    \
      "time zone of the schedule")                                                                \
    X(TO_REVISION, "to-revision", 0, INT, "restore", "to-revision", NULL, NULL, "REV",              \
      "restore the state at revision REV (a backup plus captured changes)")                      \
    X(TO_TIME, "to-time", 0, STR, "restore", "to-time", NULL, NULL, "TIME",                       \
      "restore the last revision captured at or before TIME (UTC, 2026-12-02T10:15:00Z)")        \
    X(TOP, "top", 0, INT, "inspect", "top", NULL, "10", "N", "namespaces shown")                  \
    X(USER, "user", 'u', STR, "etcd", "user", "ETCDCTL_USER", NULL, "NAME", "etcd user name")     \
    X(WAL_DIR, "wal-dir", 0, STR, "restore", "wal-dir", NULL, NULL, "DIR", "separate WAL dir")
/* clang-format on */

enum edr_opt_id {
#define EDR_X_OPT_ID(id, ...) EDR_O_##id,
    EDR_OPTION_TABLE(EDR_X_OPT_ID)
#undef EDR_X_OPT_ID
        EDR_O__COUNT
};

enum edr_opt_source { EDR_SRC_DEFAULT = 0, EDR_SRC_FILE, EDR_SRC_ENV, EDR_SRC_FLAG };

struct edr_optdef {
    enum edr_opt_id id;
    const char *name;
    char short_name;
    enum edr_opt_type type;
    const char *section;
    const char *cfgkey;
    const char *alt_env;
    const char *def;
    const char *metavar;
    const char *help;
};

struct edr_opts {
    char *val[EDR_O__COUNT];
    enum edr_opt_source src[EDR_O__COUNT];
    int file_line[EDR_O__COUNT];
    char **args; /* positional arguments */
    int nargs;
    /* [schedule] jobs from the config file: name = cron */
    char *sched_name[16];
    char *sched_cron[16];
    int nsched;
    char *config_path;
};

extern const struct edr_optdef edr_optdefs[EDR_O__COUNT];

const struct edr_optdef *edr_opt_by_name(const char *name);

/* Parse argv (after the command name). `allowed` lists the option ids the
 * command accepts (terminated by EDR_O__COUNT); global options are always
 * accepted. Then the environment and the config file (--config or
 * ETCD_DR_CONFIG) fill the allowed options not given as flags, and every
 * option still unset gets its default. */
edr_rc edr_opts_load(struct edr_opts *o, int argc, char **argv, const enum edr_opt_id *allowed,
                     struct edr_err *err);
void edr_opts_release(struct edr_opts *o);

/* Parse only a config file into o (for `config check` and SIGHUP reloads);
 * every option is accepted. */
edr_rc edr_opts_read_file(struct edr_opts *o, const char *path, struct edr_err *err);

const char *edr_opt_str(const struct edr_opts *o, enum edr_opt_id id);
int edr_opt_bool(const struct edr_opts *o, enum edr_opt_id id);
/* Integer value; EDR_E_USAGE naming the option when not a number in range. */
edr_rc edr_opt_int(const struct edr_opts *o, enum edr_opt_id id, int64_t min, int64_t max,
                   int64_t *out, struct edr_err *err);
/* List option values split on ',' (or newline): malloc'ed array of malloc'ed strings. */
char **edr_opt_list(const struct edr_opts *o, enum edr_opt_id id, int *n);
void edr_strv_free(char **v, int n);
/* Where a value came from: "flag", "environment", "<config path>:<line>" or "default". */
const char *edr_opt_source_desc(const struct edr_opts *o, enum edr_opt_id id, char *buf, size_t n);
void edr_opt_env_name(const struct edr_optdef *d, char *buf, size_t n);

#endif
