/*
 * Helpers shared by the commands: building the repository, identity and etcd
 * client from options, and reading secrets from files or the environment.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/progress.h"
#include "stream/stream.h"
#include "crypto/keys.h"
#include "etcd/client.h"
#include "k8s/encryption.h"
#include "repo/repo.h"

void
edr_cmd_cleanup(struct edr_ctx *ctx)
{
    if (ctx->password != NULL) {
        sodium_free(ctx->password);
        ctx->password = NULL;
    }
}

void
edr_cmd_storage_opts(const struct edr_ctx *ctx, struct edr_storage_opts *so)
{
    int64_t part = 0;

    memset(so, 0, sizeof(*so));
    so->s3_endpoint = edr_opt_str(&ctx->opts, EDR_O_S3_ENDPOINT);
    so->s3_region = edr_opt_str(&ctx->opts, EDR_O_S3_REGION);
    so->s3_path_style = edr_opt_bool(&ctx->opts, EDR_O_S3_PATH_STYLE);
    so->s3_cacert = edr_opt_str(&ctx->opts, EDR_O_S3_CACERT);
    so->s3_secret_file = edr_opt_str(&ctx->opts, EDR_O_S3_SECRET_FILE);
    if (edr_opt_int(&ctx->opts, EDR_O_S3_PART_SIZE, 0, INT64_MAX, &part, NULL) == EDR_OK)
        so->s3_part_size = (uint64_t)part;
    /* a request hanging on an S3 server must not outlive a signal */
    so->interrupted = edr_cmd_interrupted;
}

edr_rc
edr_cmd_open_repo(struct edr_ctx *ctx, int create, struct edr_repo **out)
{
    struct edr_storage_opts so;
    const char *url = edr_opt_str(&ctx->opts, EDR_O_REPO);
    int64_t part;
    edr_rc rc;

    if (url == NULL) {
        edr_err_set(&ctx->err, EDR_E_USAGE, "no repository given");
        edr_err_hint(&ctx->err, "use --repo DIR|s3://BUCKET/PREFIX, ETCD_DR_REPO or [repo] path");
        return EDR_E_USAGE;
    }
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_S3_PART_SIZE, 0, INT64_MAX, &part, &ctx->err)))
        return rc;
    edr_cmd_storage_opts(ctx, &so);
    return edr_repo_open(url, &so, edr_opt_str(&ctx->opts, EDR_O_CLUSTER), create, out, &ctx->err);
}

edr_rc
edr_cmd_load_identity(struct edr_ctx *ctx, int required, struct edr_identity **out)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_IDENTITY);

    *out = NULL;
    if (path == NULL) {
        if (!required)
            return EDR_OK;
        edr_err_set(&ctx->err, EDR_E_KEY, "this backup is encrypted; an identity is required");
        edr_err_hint(&ctx->err, "give the secret key file with --identity FILE");
        return EDR_E_KEY;
    }
    if (edr_crypto_init(&ctx->err) != EDR_OK)
        return ctx->err.code;
    return edr_identity_load(path, out, &ctx->err);
}

/* The password file into sodium memory, final newlines trimmed. */
static edr_rc
read_password_file(const char *path, char **out, struct edr_err *err)
{
    struct stat sb;
    size_t n;
    edr_rc rc = edr_secret_read_file(path, "password file", 65536, 0, out, &n, err);

    if (rc != EDR_OK)
        return rc;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0)
        edr_warn("password file '%s' is readable by others (mode %04o)", path,
                 (unsigned)(sb.st_mode & 07777));
    while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
        (*out)[--n] = '\0';
    return EDR_OK;
}

static edr_rc
copy_secret(const char *s, char **out, struct edr_err *err)
{
    size_t n = strlen(s);
    char *buf = sodium_malloc(n + 1);

    if (buf == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    memcpy(buf, s, n + 1);
    *out = buf;
    return EDR_OK;
}

edr_rc
edr_cmd_etcd_credentials(struct edr_ctx *ctx, char *user, size_t n)
{
    const char *u = edr_opt_str(&ctx->opts, EDR_O_USER);
    const char *pwfile = edr_opt_str(&ctx->opts, EDR_O_PASSWORD_FILE);
    const char *colon;
    edr_rc rc;

    user[0] = '\0';
    if (u == NULL)
        return EDR_OK;
    colon = strchr(u, ':');
    /* etcdctl accepts ETCDCTL_USER=name:password */
    if (colon != NULL) {
        if (ctx->opts.src[EDR_O_USER] == EDR_SRC_FLAG) {
            edr_err_set(&ctx->err, EDR_E_USAGE,
                        "option '--user' must not carry a password on the command line");
            edr_err_hint(&ctx->err, "use --password-file FILE or ETCD_DR_PASSWORD");
            return EDR_E_USAGE;
        }
        snprintf(user, n, "%.*s", (int)(colon - u), u);
        if (ctx->password == NULL &&
            (rc = copy_secret(colon + 1, &ctx->password, &ctx->err)) != EDR_OK)
            return rc;
    } else {
        snprintf(user, n, "%s", u);
    }
    if (ctx->password == NULL && pwfile != NULL) {
        if ((rc = read_password_file(pwfile, &ctx->password, &ctx->err)) != EDR_OK)
            return rc;
    }
    if (ctx->password == NULL) {
        const char *env = getenv("ETCD_DR_PASSWORD");
        if (env == NULL)
            env = getenv("ETCDCTL_PASSWORD");
        if (env == NULL) {
            edr_err_set(&ctx->err, EDR_E_USAGE, "no password for etcd user '%s'", user);
            edr_err_hint(&ctx->err, "use --password-file FILE or ETCD_DR_PASSWORD");
            return EDR_E_USAGE;
        }
        if ((rc = copy_secret(env, &ctx->password, &ctx->err)) != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

edr_rc
edr_cmd_etcd_client(struct edr_ctx *ctx, struct edr_etcd_client **out)
{
    struct edr_etcd_opts eo;
    char user[256];
    int64_t ct, st;
    edr_rc rc;

    memset(&eo, 0, sizeof(eo));
    if ((rc = edr_opt_int(&ctx->opts, EDR_O_CONNECT_TIMEOUT, 1, 3600, &ct, &ctx->err)) ||
        (rc = edr_opt_int(&ctx->opts, EDR_O_STALL_TIMEOUT, 1, 86400, &st, &ctx->err)))
        return rc;
    eo.endpoints = edr_opt_str(&ctx->opts, EDR_O_ENDPOINTS);
    eo.cacert = edr_opt_str(&ctx->opts, EDR_O_CACERT);
    eo.cert = edr_opt_str(&ctx->opts, EDR_O_CERT);
    eo.key = edr_opt_str(&ctx->opts, EDR_O_KEY);
    eo.insecure_skip_tls_verify = edr_opt_bool(&ctx->opts, EDR_O_INSECURE_SKIP_TLS_VERIFY);
    eo.connect_timeout_s = ct;
    eo.stall_timeout_s = st;
    eo.interrupted = edr_cmd_interrupted;
    if (eo.insecure_skip_tls_verify)
        edr_warn("--insecure-skip-tls-verify: etcd's certificate is NOT verified; anyone on the "
                 "path can read and alter this backup");
    if ((rc = edr_cmd_etcd_credentials(ctx, user, sizeof(user))) != EDR_OK)
        return rc;
    if (user[0] != '\0') {
        eo.user = user;
        eo.password = ctx->password;
    }
    return edr_etcd_client_new(&eo, out, &ctx->err);
}

edr_rc
edr_cmd_k8s_keys(struct edr_ctx *ctx, struct edr_k8s_keys **out)
{
    const char *path = edr_opt_str(&ctx->opts, EDR_O_ENCRYPTION_CONFIG);

    *out = NULL;
    if (path == NULL || path[0] == '\0')
        return EDR_OK;
    return edr_k8s_keys_load(path, out, &ctx->err);
}

edr_rc
edr_cmd_usage(struct edr_ctx *ctx)
{
    return edr_err_set(&ctx->err, EDR_E_USAGE, "usage: etcd-dr %s %s", ctx->cmd->name,
                       ctx->cmd->usage);
}

void
edr_cmd_print_json(void *json)
{
    json_t *j = json;
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    if (s != NULL) {
        puts(s);
        free(s);
    }
    json_decref(j);
}

static int
is_text(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x20 && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

struct json_t *
edr_cmd_bytes_json(const uint8_t *p, size_t n, const char **encoding)
{
    char *b64;
    json_t *j;

    if (is_text(p, n) && (j = json_stringn((const char *)p, n)) != NULL) {
        *encoding = "utf-8";
        return j;
    }
    b64 = malloc(n * 4 / 3 + 8);
    if (b64 == NULL)
        return json_null();
    {
        static const char tbl[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        for (size_t i = 0; i < n; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) |
                         (i + 2 < n ? p[i + 2] : 0);
            b64[o++] = tbl[v >> 18];
            b64[o++] = tbl[(v >> 12) & 63];
            b64[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
            b64[o++] = i + 2 < n ? tbl[v & 63] : '=';
        }
        b64[o] = '\0';
    }
    *encoding = "base64";
    j = json_string(b64);
    free(b64);
    return j;
}

void
edr_fmt_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)n;
    int u = 0;

    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)n);
    else
        snprintf(buf, len, "%.1f %s", v, units[u]);
}

struct prog_stream {
    struct edr_stream base;
    struct edr_progress *p;
    uint64_t done;
};

static edr_rc
prog_write(struct edr_stream *s, const void *buf, size_t len, struct edr_err *err)
{
    struct prog_stream *p = (struct prog_stream *)s;
    edr_rc rc;

    if ((rc = edr_cmd_check_interrupted(err)) != EDR_OK)
        return rc;
    p->done += len;
    if (p->p != NULL)
        edr_progress_update(p->p, p->done);
    return edr_stream_write(s->next, buf, len, err);
}

static edr_rc
prog_finish(struct edr_stream *s, struct edr_err *err)
{
    return edr_stream_finish(s->next, err);
}

static void
prog_free(struct edr_stream *s)
{
    free(s);
}

static const struct edr_stream_ops prog_ops = {"progress", prog_write, prog_finish, prog_free};

edr_rc
edr_cmd_progress_stream_new(struct edr_stream *next, struct edr_progress *p,
                            struct edr_stream **out, struct edr_err *err)
{
    struct prog_stream *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    s->base.ops = &prog_ops;
    s->base.next = next;
    s->p = p;
    *out = &s->base;
    return EDR_OK;
}
