/*
 * etcd-dr: global options, the command table and dispatch; nothing else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/version.h"
#include "common/log.h"
#include "common/secret.h"
#include "repo/repo.h"

/* name, run, options, help's arguments, min/max arguments, usage error, needs, summary */
static const struct edr_cmd commands[] = {
    {"backup", edr_cmd_backup, edr_cmd_backup_opts, "", 0, 0, "[OPTIONS]", EDR_CMD_SIGNALS,
     "snapshot etcd into the repository (checked, compressed, encrypted)"},
    {"capture", edr_cmd_capture, edr_cmd_capture_opts, "", 0, 0, "[OPTIONS]", EDR_CMD_SIGNALS,
     "record every change as segments, for restores to any revision"},
    {"config", edr_cmd_config, edr_cmd_config_opts, "check", 1, 1, "check --config FILE [--json]",
     0, "validate a config file and print the effective settings"},
    {"decrypt", edr_cmd_decrypt, edr_cmd_decrypt_opts, "BACKUP", 1, 1, "BACKUP -o FILE",
     EDR_CMD_SIGNALS, "write a backup's decrypted tar.zst stream (zstd -d | tar x opens it)"},
    {"diff", edr_cmd_diff, edr_cmd_diff_opts, "A B", 2, 2, "A B [--prefix P] [--json]",
     EDR_CMD_SIGNALS, "what changed between two backups, by Kubernetes resource and namespace"},
    {"export", edr_cmd_export, edr_cmd_export_opts, "BACKUP", 1, 1, "BACKUP -o FILE",
     EDR_CMD_SIGNALS, "write a backup as a plain etcd snapshot file"},
    {"get", edr_cmd_get, edr_cmd_get_opts, "BACKUP KEY", 2, 2, "BACKUP|FILE.db KEY [-o value|json]",
     EDR_CMD_SIGNALS, "print one key's value from a backup"},
    {"import", edr_cmd_import, edr_cmd_import_opts, "FILE|DIR|s3://BUCKET/PREFIX", 1, 1,
     "[--from TOOL] FILE|DIR|s3://BUCKET/PREFIX", EDR_CMD_SIGNALS,
     "store etcd snapshots (etcdctl, k3s, RKE2; plain or zipped) as backups"},
    {"info", edr_cmd_info, edr_cmd_info_opts, "", 0, 0, "[--max-age DURATION] [--json]",
     EDR_CMD_REPO, "every cluster of the repository: status, backups, verification, age"},
    {"inspect", edr_cmd_inspect, edr_cmd_inspect_opts, "BACKUP|FILE.db", 1, 1, "BACKUP|FILE.db",
     EDR_CMD_SIGNALS, "snapshot status, keyspace and Kubernetes resource counts"},
    {"keygen", edr_cmd_keygen, edr_cmd_keygen_opts, "", 0, 0, "-o PATH", 0,
     "create an X25519 key pair"},
    {"list", edr_cmd_list, edr_cmd_list_opts, "", 0, 0, "[--json]", EDR_CMD_REPO,
     "list the backups in the repository"},
    {"ls", edr_cmd_ls, edr_cmd_ls_opts, "BACKUP [PREFIX]", 1, 2, "BACKUP|FILE.db [PREFIX]",
     EDR_CMD_SIGNALS, "list keys in a backup"},
    {"prune", edr_cmd_prune, edr_cmd_prune_opts, "", 0, 0, "--keep-... [--dry-run]", EDR_CMD_REPO,
     "remove backups outside the retention rules"},
    /* BACKUP may be left out with --to-revision/--to-time: restore checks */
    {"restore", edr_cmd_restore, edr_cmd_restore_opts, "[BACKUP|FILE.db]", 0, 1,
     "BACKUP|FILE.db [OPTIONS]", EDR_CMD_SIGNALS, "write fresh member data dirs from a backup"},
    /* the daemon installs its own handlers (sched/daemon.c) */
    {"schedule", edr_cmd_schedule, edr_cmd_schedule_opts, "", 0, 0, "--config FILE [OPTIONS]", 0,
     "daemon: run backup, prune and verify on cron schedules"},
    /* one BACKUP, or none with --all: verify checks which */
    {"verify", edr_cmd_verify, edr_cmd_verify_opts, "[BACKUP]", 0, 1,
     "BACKUP|FILE [--level L|--drill] or verify --all", EDR_CMD_SIGNALS,
     "check backups: stored bytes, content, or a boot drill"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: etcd-dr COMMAND [OPTIONS] [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'etcd-dr help COMMAND' lists a command's options; etcd-dr(1) has them all.\n");
}

static void
command_help(const struct edr_cmd *c)
{
    printf("usage: etcd-dr %s [OPTIONS] %s\n\n%s\n\noptions:\n", c->name, c->args, c->summary);
    for (const enum edr_opt_id *o = c->opts; *o != EDR_O__COUNT; o++) {
        const struct edr_optdef *d = &edr_optdefs[*o];
        char flag[96];
        snprintf(flag, sizeof(flag), "--%s%s%s", d->name, d->metavar ? " " : "",
                 d->metavar ? d->metavar : "");
        printf("  %-34s %s%s%s%s\n", flag, d->help, d->def ? " [" : "", d->def ? d->def : "",
               d->def ? "]" : "");
    }
}

static const struct edr_cmd *
find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* A bad value from the config file is a config error naming its line. */
static edr_rc
bad_log_option(struct edr_ctx *ctx, enum edr_opt_id id, const char *valid)
{
    const char *v = edr_opt_str(&ctx->opts, id);

    if (ctx->opts.src[id] == EDR_SRC_FILE)
        return edr_err_set(&ctx->err, EDR_E_CONFIG, "%s:%d: [log] %s: invalid value '%s' (%s)",
                           ctx->opts.config_path, ctx->opts.file_line[id], edr_optdefs[id].cfgkey,
                           v, valid);
    return edr_err_set(&ctx->err, EDR_E_USAGE, "invalid --%s '%s' (%s)", edr_optdefs[id].name, v,
                       valid);
}

/* What the table says a command needs, then the command. */
static edr_rc
run_command(const struct edr_cmd *cmd, struct edr_ctx *ctx)
{
    edr_rc rc;

    if (ctx->opts.nargs < cmd->min_args || ctx->opts.nargs > cmd->max_args)
        return edr_cmd_usage(ctx);
    if (cmd->flags & EDR_CMD_SIGNALS)
        edr_cmd_catch_signals();
    if ((cmd->flags & EDR_CMD_REPO) && (rc = edr_cmd_open_repo(ctx, 0, &ctx->repo)) != EDR_OK)
        return rc;
    rc = cmd->run(ctx);
    edr_repo_free(ctx->repo);
    ctx->repo = NULL;
    return rc;
}

int
main(int argc, char **argv)
{
    struct edr_ctx ctx;
    const struct edr_cmd *cmd;
    edr_rc rc;
    int level;

    /* it holds decrypted snapshots and keys: no core dumps, no ptrace */
    edr_secret_harden_process();
    memset(&ctx, 0, sizeof(ctx));
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EDR_E_USAGE : EDR_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        int json = argc == 3 && strcmp(argv[2], "--json") == 0;
        if (argc > 2 && !json) {
            fprintf(stderr, "etcd-dr: error: usage: etcd-dr --version [--json]\n");
            return EDR_E_USAGE;
        }
        return edr_version_print(stdout, json) == 0 ? EDR_OK : EDR_E_IO;
    }
    if (strcmp(argv[1], "help") == 0) {
        if (argc > 2 && (cmd = find_command(argv[2])) != NULL) {
            command_help(cmd);
            return EDR_OK;
        }
        usage(stdout);
        return argc > 2 ? EDR_E_USAGE : EDR_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "etcd-dr: error: unknown command '%s'\n", argv[1]);
        usage(stderr);
        return EDR_E_USAGE;
    }
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            command_help(cmd);
            return EDR_OK;
        }
    }
    ctx.cmd = cmd;
    ctx.cmd_name = cmd->name;
    rc = edr_opts_load(&ctx.opts, argc - 2, argv + 2, cmd->opts, &ctx.err);
    if (rc == EDR_OK) {
        level = edr_log_level_parse(edr_opt_str(&ctx.opts, EDR_O_LOG_LEVEL));
        if (level < 0) {
            rc = bad_log_option(&ctx, EDR_O_LOG_LEVEL, "error, warn, info or debug");
        } else {
            const char *lf = edr_opt_str(&ctx.opts, EDR_O_LOG_FORMAT);
            if (lf != NULL && strcmp(lf, "text") != 0 && strcmp(lf, "json") != 0)
                rc = bad_log_option(&ctx, EDR_O_LOG_FORMAT, "text or json");
            ctx.quiet = edr_opt_bool(&ctx.opts, EDR_O_QUIET);
            edr_log_setup(ctx.quiet ? EDR_LOG_ERROR : level, lf && strcmp(lf, "json") == 0);
        }
    }
    if (rc == EDR_OK) {
        ctx.json = edr_opt_bool(&ctx.opts, EDR_O_JSON);
        ctx.progress = !ctx.quiet && !ctx.json && !edr_opt_bool(&ctx.opts, EDR_O_NO_PROGRESS);
        rc = run_command(cmd, &ctx);
    }
    if (rc != EDR_OK) {
        if (ctx.err.msg[0] == '\0')
            edr_err_set(&ctx.err, rc, "%s failed", cmd->name);
        if (edr_log_is_json()) {
            edr_log(EDR_LOG_ERROR, "%s (exit %d %s)", ctx.err.msg, rc, edr_rc_name(rc));
        } else {
            fprintf(stderr, "etcd-dr: error: %s\n", ctx.err.msg);
            if (ctx.err.hint[0] != '\0')
                fprintf(stderr, "HINT: %s\n", ctx.err.hint);
        }
    }
    edr_cmd_cleanup(&ctx);
    edr_opts_release(&ctx.opts);
    return rc;
}
