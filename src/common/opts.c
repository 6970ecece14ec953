/*
 * Option parsing: argv, environment, INI config file, defaults.
 */
#include "common/opts.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct edr_optdef edr_optdefs[EDR_O__COUNT] = {
#define EDR_X_OPT_DEF(id, name, sh, type, sec, key, env, def, mv, help)                            \
    {EDR_O_##id, name, sh, EDR_OT_##type, sec, key, env, def, mv, help},
    EDR_OPTION_TABLE(EDR_X_OPT_DEF)
#undef EDR_X_OPT_DEF
};

/* Always accepted, whatever the command. */
static const enum edr_opt_id global_opts[] = {EDR_O_CONFIG, EDR_O_LOG_LEVEL, EDR_O_LOG_FORMAT,
                                              EDR_O_QUIET, EDR_O_NO_PROGRESS};

/* Names that would carry a secret on argv: refused with a hint. */
static const struct {
    const char *name;
    const char *hint;
} secret_flags[] = {
    {"password", "use --password-file FILE or the ETCD_DR_PASSWORD environment variable"},
    {"secret-key", "use --identity FILE"},
    {"s3-secret", "use --s3-secret-file FILE or AWS_SECRET_ACCESS_KEY"},
    {"s3-secret-key", "use --s3-secret-file FILE or AWS_SECRET_ACCESS_KEY"},
};

static int
cmp_name(const void *key, const void *elem)
{
    return strcmp(key, ((const struct edr_optdef *)elem)->name);
}

const struct edr_optdef *
edr_opt_by_name(const char *name)
{
    return bsearch(name, edr_optdefs, EDR_O__COUNT, sizeof(edr_optdefs[0]), cmp_name);
}

void
edr_opt_env_name(const struct edr_optdef *d, char *buf, size_t n)
{
    size_t j = (size_t)snprintf(buf, n, "ETCD_DR_");

    if (n == 0)
        return;
    if (j >= n) /* truncated: stop at the end of the buffer */
        j = n - 1;
    for (const char *p = d->name; *p && j + 1 < n; p++)
        buf[j++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    buf[j] = '\0';
}

static int
allowed_has(const enum edr_opt_id *allowed, enum edr_opt_id id)
{
    for (size_t i = 0; i < sizeof(global_opts) / sizeof(global_opts[0]); i++)
        if (global_opts[i] == id)
            return 1;
    if (allowed == NULL)
        return 1;
    for (; *allowed != EDR_O__COUNT; allowed++)
        if (*allowed == id)
            return 1;
    return 0;
}

static edr_rc
set_val(struct edr_opts *o, const struct edr_optdef *d, const char *v, enum edr_opt_source src,
        struct edr_err *err)
{
    char *nv;

    if (d->type == EDR_OT_LIST && o->src[d->id] == src && o->val[d->id] != NULL) {
        size_t a = strlen(o->val[d->id]), b = strlen(v);
        nv = malloc(a + b + 2);
        if (nv != NULL) {
            memcpy(nv, o->val[d->id], a);
            nv[a] = ',';
            memcpy(nv + a + 1, v, b + 1);
        }
    } else {
        nv = strdup(v);
    }
    if (nv == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    free(o->val[d->id]);
    o->val[d->id] = nv;
    o->src[d->id] = src;
    return EDR_OK;
}

static edr_rc
push_arg(struct edr_opts *o, const char *a, struct edr_err *err)
{
    char **na = realloc(o->args, (size_t)(o->nargs + 2) * sizeof(*na));

    if (na == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    o->args = na;
    o->args[o->nargs] = strdup(a);
    if (o->args[o->nargs] == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    o->args[++o->nargs] = NULL;
    return EDR_OK;
}

static edr_rc
refuse_secret(const char *name, struct edr_err *err)
{
    for (size_t i = 0; i < sizeof(secret_flags) / sizeof(secret_flags[0]); i++) {
        if (strcmp(name, secret_flags[i].name) == 0) {
            edr_err_set(err, EDR_E_USAGE,
                        "option '--%s' would put a secret on the command line; refused", name);
            edr_err_hint(err, "%s", secret_flags[i].hint);
            return EDR_E_USAGE;
        }
    }
    return EDR_OK;
}

static edr_rc
parse_argv(struct edr_opts *o, int argc, char **argv, const enum edr_opt_id *allowed,
           struct edr_err *err)
{
    edr_rc rc;
    int only_args = 0;

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        const struct edr_optdef *d = NULL;
        char name[128];

        if (only_args || a[0] != '-' || a[1] == '\0') {
            if ((rc = push_arg(o, a, err)) != EDR_OK)
                return rc;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_args = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (n >= sizeof(name))
                n = sizeof(name) - 1;
            memcpy(name, a + 2, n);
            name[n] = '\0';
            if ((rc = refuse_secret(name, err)) != EDR_OK)
                return rc;
            d = edr_opt_by_name(name);
            if (eq != NULL)
                val = eq + 1;
        } else {
            for (size_t k = 0; k < EDR_O__COUNT; k++)
                if (edr_optdefs[k].short_name == a[1])
                    d = &edr_optdefs[k];
            snprintf(name, sizeof(name), "%c", a[1]);
            if (d != NULL && a[2] != '\0')
                val = a + 2;
        }
        if (d == NULL || !allowed_has(allowed, d->id)) {
            edr_err_set(err, EDR_E_USAGE, "unknown option '%s'", a);
            edr_err_hint(err, "see 'etcd-dr help' and etcd-dr(1)");
            return EDR_E_USAGE;
        }
        if (d->type == EDR_OT_BOOL) {
            if (val != NULL && strcmp(val, "true") != 0 && strcmp(val, "false") != 0 &&
                strcmp(val, "1") != 0 && strcmp(val, "0") != 0)
                return edr_err_set(err, EDR_E_USAGE, "option '--%s' takes no value", d->name);
            if ((rc = set_val(o, d, val ? val : "true", EDR_SRC_FLAG, err)) != EDR_OK)
                return rc;
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                return edr_err_set(err, EDR_E_USAGE, "option '--%s' needs a value (%s)", d->name,
                                   d->metavar ? d->metavar : "VALUE");
            val = argv[++i];
        }
        if ((rc = set_val(o, d, val, EDR_SRC_FLAG, err)) != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

static char *
trim(char *s)
{
    char *e;

    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static const struct edr_optdef *
by_cfgkey(const char *section, const char *key)
{
    for (size_t i = 0; i < EDR_O__COUNT; i++)
        if (strcmp(edr_optdefs[i].section, section) == 0 && strcmp(edr_optdefs[i].cfgkey, key) == 0)
            return &edr_optdefs[i];
    return NULL;
}

static edr_rc
validate_value(const struct edr_optdef *d, const char *v, const char *path, int line,
               struct edr_err *err)
{
    if (d->type == EDR_OT_INT) {
        char *end;
        errno = 0;
        (void)strtoll(v, &end, 10);
        if (errno != 0 || end == v || *end != '\0')
            return edr_err_set(err, EDR_E_CONFIG, "%s:%d: '%s' needs a whole number, not '%s'",
                               path, line, d->cfgkey, v);
    } else if (d->type == EDR_OT_BOOL) {
        if (strcmp(v, "true") && strcmp(v, "false") && strcmp(v, "yes") && strcmp(v, "no") &&
            strcmp(v, "1") && strcmp(v, "0"))
            return edr_err_set(err, EDR_E_CONFIG, "%s:%d: '%s' needs true or false, not '%s'", path,
                               line, d->cfgkey, v);
    }
    return EDR_OK;
}

/* Reads the file into o->val with source FILE; options already set from a
 * higher-precedence source are kept. */
static edr_rc
read_file(struct edr_opts *o, const char *path, struct edr_err *err)
{
    FILE *f = fopen(path, "r");
    char line[4096], section[64] = "";
    int lineno = 0;
    edr_rc rc = EDR_OK;

    if (f == NULL) {
        int e = errno;
        return edr_err_errno(err, EDR_E_CONFIG, e, "unable to open config file '%s'", path);
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        char *s = trim(line), *eq, *key, *val;
        const struct edr_optdef *d;

        lineno++;
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end == NULL || end[1] != '\0') {
                rc =
                    edr_err_set(err, EDR_E_CONFIG, "%s:%d: malformed section header", path, lineno);
                break;
            }
            *end = '\0';
            snprintf(section, sizeof(section), "%s", trim(s + 1));
            if (strcmp(section, "etcd") && strcmp(section, "repo") && strcmp(section, "backup") &&
                strcmp(section, "restore") && strcmp(section, "schedule") &&
                strcmp(section, "retention") && strcmp(section, "metrics") &&
                strcmp(section, "verify") && strcmp(section, "log") && strcmp(section, "hooks") &&
                strcmp(section, "output") && strcmp(section, "inspect") && strcmp(section, "get") &&
                strcmp(section, "export") && strcmp(section, "capture") &&
                strcmp(section, "diff") && strcmp(section, "kubernetes") &&
                strcmp(section, "import")) {
                rc = edr_err_set(err, EDR_E_CONFIG, "%s:%d: unknown section [%s]", path, lineno,
                                 section);
                break;
            }
            continue;
        }
        eq = strchr(s, '=');
        if (eq == NULL) {
            rc = edr_err_set(err, EDR_E_CONFIG, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        *eq = '\0';
        key = trim(s);
        val = trim(eq + 1);
        if (section[0] == '\0') {
            rc = edr_err_set(err, EDR_E_CONFIG, "%s:%d: '%s' outside of a [section]", path, lineno,
                             key);
            break;
        }
        if (strcmp(section, "schedule") == 0 && by_cfgkey(section, key) == NULL) {
            /* a job: name = cron expression */
            if (strcmp(key, "backup") && strcmp(key, "verify") && strcmp(key, "prune")) {
                rc = edr_err_set(err, EDR_E_CONFIG,
                                 "%s:%d: unknown job '%s' in [schedule] (backup, verify, prune)",
                                 path, lineno, key);
                break;
            }
            if (o->nsched >= 16)
                continue;
            o->sched_name[o->nsched] = strdup(key);
            o->sched_cron[o->nsched] = strdup(val);
            o->nsched++;
            continue;
        }
        if (refuse_secret(key, NULL) != EDR_OK || strcmp(key, "password") == 0 ||
            strcmp(key, "secret-access-key") == 0) {
            rc = edr_err_set(err, EDR_E_CONFIG,
                             "%s:%d: '%s': secrets are not accepted in the config file; give a "
                             "file path (password-file, s3-secret-file, identity)",
                             path, lineno, key);
            break;
        }
        d = by_cfgkey(section, key);
        if (d != NULL && d->id == EDR_O_USER && strchr(val, ':') != NULL) {
            rc = edr_err_set(err, EDR_E_CONFIG,
                             "%s:%d: 'user': a password (NAME:PASSWORD) is not accepted in the "
                             "config file; give password-file",
                             path, lineno);
            break;
        }
        if (d == NULL || d->id == EDR_O_CONFIG) {
            rc = edr_err_set(err, EDR_E_CONFIG, "%s:%d: unknown key '%s' in [%s]", path, lineno,
                             key, section);
            break;
        }
        if ((rc = validate_value(d, val, path, lineno, err)) != EDR_OK)
            break;
        if (o->src[d->id] > EDR_SRC_FILE)
            continue;
        if ((rc = set_val(o, d, val, EDR_SRC_FILE, err)) != EDR_OK)
            break;
        o->file_line[d->id] = lineno;
    }
    fclose(f);
    return rc;
}

edr_rc
edr_opts_read_file(struct edr_opts *o, const char *path, struct edr_err *err)
{
    free(o->config_path);
    o->config_path = strdup(path);
    return read_file(o, path, err);
}

edr_rc
edr_opts_load(struct edr_opts *o, int argc, char **argv, const enum edr_opt_id *allowed,
              struct edr_err *err)
{
    edr_rc rc;
    const char *cfg;

    memset(o, 0, sizeof(*o));
    if ((rc = parse_argv(o, argc, argv, allowed, err)) != EDR_OK)
        return rc;
    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        const struct edr_optdef *d = &edr_optdefs[i];
        char env[96];
        const char *v;
        if (o->src[i] != EDR_SRC_DEFAULT || !allowed_has(allowed, d->id))
            continue;
        edr_opt_env_name(d, env, sizeof(env));
        v = getenv(env);
        if ((v == NULL || *v == '\0') && d->alt_env != NULL)
            v = getenv(d->alt_env);
        if (v != NULL && *v != '\0' && (rc = set_val(o, d, v, EDR_SRC_ENV, err)) != EDR_OK)
            return rc;
    }
    cfg = o->val[EDR_O_CONFIG];
    if (cfg != NULL) {
        o->config_path = strdup(cfg);
        if ((rc = read_file(o, cfg, err)) != EDR_OK)
            return rc;
        /* the file may name options this command does not take: drop them */
        for (size_t i = 0; i < EDR_O__COUNT; i++) {
            if (o->src[i] == EDR_SRC_FILE && !allowed_has(allowed, (enum edr_opt_id)i)) {
                free(o->val[i]);
                o->val[i] = NULL;
                o->src[i] = EDR_SRC_DEFAULT;
            }
        }
    }
    for (size_t i = 0; i < EDR_O__COUNT; i++) {
        const struct edr_optdef *d = &edr_optdefs[i];
        if (o->val[i] == NULL && d->def != NULL &&
            (rc = set_val(o, d, d->def, EDR_SRC_DEFAULT, err)) != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

void
edr_opts_release(struct edr_opts *o)
{
    for (size_t i = 0; i < EDR_O__COUNT; i++)
        free(o->val[i]);
    for (int i = 0; i < o->nargs; i++)
        free(o->args[i]);
    free(o->args);
    for (int i = 0; i < o->nsched; i++) {
        free(o->sched_name[i]);
        free(o->sched_cron[i]);
    }
    free(o->config_path);
    memset(o, 0, sizeof(*o));
}

const char *
edr_opt_str(const struct edr_opts *o, enum edr_opt_id id)
{
    const char *v = o->val[id];

    return (v != NULL && *v != '\0') ? v : NULL;
}

int
edr_opt_bool(const struct edr_opts *o, enum edr_opt_id id)
{
    const char *v = o->val[id];

    return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcmp(v, "yes") == 0);
}

edr_rc
edr_opt_int(const struct edr_opts *o, enum edr_opt_id id, int64_t min, int64_t max, int64_t *out,
            struct edr_err *err)
{
    const char *v = o->val[id];
    char *end;
    long long n;

    *out = 0;
    if (v == NULL || *v == '\0')
        return EDR_OK;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || n < min || n > max)
        return edr_err_set(err, EDR_E_USAGE,
                           "option '--%s': '%s' is not a whole number from %lld to %lld",
                           edr_optdefs[id].name, v, (long long)min, (long long)max);
    *out = n;
    return EDR_OK;
}

char **
edr_opt_list(const struct edr_opts *o, enum edr_opt_id id, int *n)
{
    const char *v = o->val[id];
    char **out = NULL, *copy, *tok, *save = NULL;
    int cnt = 0;

    *n = 0;
    if (v == NULL || *v == '\0')
        return NULL;
    copy = strdup(v);
    if (copy == NULL)
        return NULL;
    for (tok = strtok_r(copy, ",\n", &save); tok; tok = strtok_r(NULL, ",\n", &save)) {
        char **na = realloc(out, (size_t)(cnt + 2) * sizeof(*na));
        if (na == NULL)
            break;
        out = na;
        out[cnt] = strdup(trim(tok));
        if (out[cnt] == NULL)
            break;
        out[++cnt] = NULL;
    }
    free(copy);
    *n = cnt;
    return out;
}

void
edr_strv_free(char **v, int n)
{
    for (int i = 0; v != NULL && i < n; i++)
        free(v[i]);
    free(v);
}

const char *
edr_opt_source_desc(const struct edr_opts *o, enum edr_opt_id id, char *buf, size_t n)
{
    switch (o->src[id]) {
    case EDR_SRC_FLAG:
        snprintf(buf, n, "flag");
        break;
    case EDR_SRC_ENV:
        snprintf(buf, n, "environment");
        break;
    case EDR_SRC_FILE:
        snprintf(buf, n, "%s:%d", o->config_path ? o->config_path : "config", o->file_line[id]);
        break;
    default:
        snprintf(buf, n, "default");
    }
    return buf;
}
