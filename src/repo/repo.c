/*
 * Repository catalog on top of a storage backend: naming, listing complete
 * backups, resolving "latest", locking and removing leftovers.
 */
#include "repo/repo.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

edr_rc
edr_repo_check_cluster_name(const char *name, struct edr_err *err)
{
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > 100)
        return edr_err_set(err, EDR_E_USAGE, "invalid cluster name '%s': 1 to 100 characters",
                           name ? name : "");
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.') ||
            (i == 0 && c == '.'))
            return edr_err_set(err, EDR_E_USAGE,
                               "invalid cluster name '%s': use letters, digits, '.', '_', '-'",
                               name);
    }
    if (strstr(name, "..") != NULL)
        return edr_err_set(err, EDR_E_USAGE, "invalid cluster name '%s': '..' is not allowed",
                           name);
    return EDR_OK;
}

edr_rc
edr_repo_open(const char *url, const struct edr_storage_opts *sopts, const char *cluster,
              int create, struct edr_repo **out, struct edr_err *err)
{
    struct edr_repo *r;
    edr_rc rc;

    *out = NULL;
    if ((rc = edr_repo_check_cluster_name(cluster, err)) != EDR_OK)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL || (r->cluster = strdup(cluster)) == NULL) {
        free(r);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    rc = edr_storage_open(url, sopts, create, &r->st, err);
    if (rc != EDR_OK) {
        edr_repo_free(r);
        return rc;
    }
    *out = r;
    return EDR_OK;
}

void
edr_repo_free(struct edr_repo *r)
{
    if (r == NULL)
        return;
    edr_storage_free(r->st);
    free(r->cluster);
    free(r);
}

edr_rc
edr_repo_set_cluster(struct edr_repo *r, const char *cluster, struct edr_err *err)
{
    char *c;
    edr_rc rc;

    if ((rc = edr_repo_check_cluster_name(cluster, err)) != EDR_OK)
        return rc;
    if ((c = strdup(cluster)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    free(r->cluster);
    r->cluster = c;
    return EDR_OK;
}

static int push(char ***arr, size_t *n, size_t *cap, const char *s, size_t len);
static int cmp_str(const void *a, const void *b);

struct clusters_scan {
    char **names;
    size_t n, cap;
    int oom;
};

static int
clusters_cb(const struct edr_storage_entry *e, void *ud)
{
    struct clusters_scan *s = ud;
    const char *slash = strchr(e->name, '/');
    struct edr_err ignored;
    char name[128];
    size_t len;

    if (slash == NULL || slash[1] == '.' || (size_t)(slash - e->name) >= sizeof(name))
        return 0; /* top-level files, locks and temp files make no cluster */
    len = (size_t)(slash - e->name);
    memcpy(name, e->name, len);
    name[len] = '\0';
    if (edr_repo_check_cluster_name(name, &ignored) != EDR_OK)
        return 0;
    if (s->n > 0 && strcmp(s->names[s->n - 1], name) == 0)
        return 0; /* listings come grouped by directory: cheap dedup first */
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return 0;
    if (push(&s->names, &s->n, &s->cap, name, len) != 0) {
        s->oom = 1;
        return 1;
    }
    return 0;
}

edr_rc
edr_repo_clusters(struct edr_repo *r, char ***names, int *n, struct edr_err *err)
{
    struct clusters_scan s = {NULL, 0, 0, 0};
    edr_rc rc;

    *names = NULL;
    *n = 0;
    rc = r->st->ops->list(r->st, "", clusters_cb, &s, err);
    if (rc == EDR_OK && s.oom)
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (rc != EDR_OK) {
        for (size_t i = 0; i < s.n; i++)
            free(s.names[i]);
        free(s.names);
        return rc;
    }
    if (s.n > 0)
        qsort(s.names, s.n, sizeof(*s.names), cmp_str);
    *names = s.names;
    *n = (int)s.n;
    return EDR_OK;
}

void
edr_repo_object_name(const struct edr_repo *r, const char *id, const char *suffix, char *buf,
                     size_t n)
{
    snprintf(buf, n, "%s/%s%s", r->cluster, id, suffix);
}

struct scan {
    struct edr_repo *r;
    size_t plen;
    char **manifests;
    size_t nman, capman;
    char **data;
    size_t ndata, capdata;
    char **verify;
    size_t nver, capver;
    edr_rc rc;
};

static int
push(char ***arr, size_t *n, size_t *cap, const char *s, size_t len)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **na = realloc(*arr, nc * sizeof(*na));
        if (na == NULL)
            return -1;
        *arr = na;
        *cap = nc;
    }
    (*arr)[*n] = strndup(s, len);
    if ((*arr)[*n] == NULL)
        return -1;
    (*n)++;
    return 0;
}

static int
ends_with(const char *s, size_t len, const char *suffix, size_t *stem)
{
    size_t sl = strlen(suffix);

    if (len <= sl || memcmp(s + len - sl, suffix, sl) != 0)
        return 0;
    *stem = len - sl;
    return 1;
}

static int
scan_cb(const struct edr_storage_entry *e, void *ud)
{
    struct scan *s = ud;
    const char *base = e->name + s->plen;
    size_t len = strlen(base), stem;

    if (strchr(base, '/') != NULL || base[0] == '.')
        return 0;
    if (ends_with(base, len, ".verify.json", &stem)) {
        if (push(&s->verify, &s->nver, &s->capver, base, stem) != 0)
            goto oom;
    } else if (ends_with(base, len, ".json", &stem)) {
        if (push(&s->manifests, &s->nman, &s->capman, base, stem) != 0)
            goto oom;
    } else if (ends_with(base, len, ".edr", &stem)) {
        if (push(&s->data, &s->ndata, &s->capdata, base, stem) != 0)
            goto oom;
    }
    return 0;
oom:
    s->rc = EDR_E_INTERNAL;
    return 1;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
has(char **arr, size_t n, const char *s)
{
    return n > 0 && bsearch(&s, arr, n, sizeof(*arr), cmp_str) != NULL;
}

static void
free_arr(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

static edr_rc
scan_repo(struct edr_repo *r, struct scan *s, struct edr_err *err)
{
    char prefix[256];
    edr_rc rc;

    memset(s, 0, sizeof(*s));
    s->r = r;
    snprintf(prefix, sizeof(prefix), "%s/", r->cluster);
    s->plen = strlen(prefix);
    rc = r->st->ops->list(r->st, prefix, scan_cb, s, err);
    if (rc == EDR_OK && s->rc != EDR_OK)
        rc = edr_err_set(err, s->rc, "out of memory");
    if (s->nman)
        qsort(s->manifests, s->nman, sizeof(char *), cmp_str);
    if (s->ndata)
        qsort(s->data, s->ndata, sizeof(char *), cmp_str);
    if (s->nver)
        qsort(s->verify, s->nver, sizeof(char *), cmp_str);
    return rc;
}

static void
scan_release(struct scan *s)
{
    free_arr(s->manifests, s->nman);
    free_arr(s->data, s->ndata);
    free_arr(s->verify, s->nver);
}

static void
load_verify(struct edr_repo *r, struct edr_manifest *m)
{
    char name[256], *buf = NULL;
    struct edr_err err;
    json_t *o;

    edr_repo_object_name(r, m->id, ".verify.json", name, sizeof(name));
    if (edr_storage_get_buf(r->st, name, 65536, &buf, NULL, &err) != EDR_OK)
        return;
    o = json_loads(buf, 0, NULL);
    if (o != NULL) {
        json_t *ok = json_object_get(o, "ok");
        json_t *lvl = json_object_get(o, "level");
        json_t *t = json_object_get(o, "time");
        m->verified = json_is_true(ok) ? 1 : -1;
        if (json_is_string(lvl))
            snprintf(m->verify_level, sizeof(m->verify_level), "%s", json_string_value(lvl));
        if (json_is_string(t))
            edr_time_parse_iso(json_string_value(t), &m->verify_time);
        json_decref(o);
    }
    free(buf);
}

edr_rc
edr_repo_read_files(struct edr_repo *r, const struct edr_manifest *m,
                    struct edr_manifest_file **files, size_t *n, struct edr_err *err)
{
    char name[256], *buf = NULL;
    size_t len = 0;
    edr_rc rc;

    *files = NULL;
    *n = 0;
    if (m->nfiles == 0)
        return EDR_OK;
    edr_repo_object_name(r, m->id, ".json", name, sizeof(name));
    if ((rc = edr_storage_get_buf(r->st, name, EDR_MANIFEST_MAX_SIZE, &buf, &len, err)) != EDR_OK)
        return rc;
    rc = edr_manifest_files_from_json(buf, len, name, files, n, err);
    free(buf);
    return rc;
}

/* The complete backups, and (probs non-NULL) every object that looks like a
 * backup but is not a complete one; without probs those are warned about. */
static edr_rc
list_backups(struct edr_repo *r, struct edr_manifest **list, size_t *n,
             struct edr_repo_problem **probs, size_t *nprobs, struct edr_err *err)
{
    struct scan s;
    struct edr_manifest *out = NULL;
    struct edr_repo_problem *pr = NULL;
    size_t cnt = 0, np = 0;
    edr_rc rc;

    *list = NULL;
    *n = 0;
    if ((rc = scan_repo(r, &s, err)) != EDR_OK)
        goto out;
    out = calloc(s.nman ? s.nman : 1, sizeof(*out));
    pr = calloc(s.nman + s.ndata + 1, sizeof(*pr));
    if (out == NULL || pr == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
#define PROBLEM(id_, ...)                                                                          \
    do {                                                                                           \
        snprintf(pr[np].id, sizeof(pr[np].id), "%s", id_);                                         \
        snprintf(pr[np].msg, sizeof(pr[np].msg), __VA_ARGS__);                                     \
        if (probs == NULL)                                                                         \
            edr_warn("%s; ignored", pr[np].msg);                                                   \
        np++;                                                                                      \
    } while (0)
    for (size_t i = 0; i < s.nman; i++) {
        char name[256], *buf = NULL;
        size_t len;
        struct edr_err e2;
        if (!has(s.data, s.ndata, s.manifests[i])) {
            PROBLEM(s.manifests[i], "backup '%s/%s' has a manifest but no data object", r->cluster,
                    s.manifests[i]);
            continue;
        }
        edr_repo_object_name(r, s.manifests[i], ".json", name, sizeof(name));
        if (edr_storage_get_buf(r->st, name, EDR_MANIFEST_MAX_SIZE, &buf, &len, &e2) != EDR_OK) {
            PROBLEM(s.manifests[i], "%s", e2.msg);
            continue;
        }
        if (edr_manifest_from_json(buf, len, name, &out[cnt], &e2) != EDR_OK) {
            PROBLEM(s.manifests[i], "%s", e2.msg);
        } else if (strcmp(out[cnt].id, s.manifests[i]) != 0) {
            PROBLEM(s.manifests[i], "manifest '%s' names another backup id '%.64s'", name,
                    out[cnt].id);
        } else if (strcmp(out[cnt].cluster, r->cluster) != 0) {
            PROBLEM(s.manifests[i], "manifest '%s' names another cluster '%.64s'", name,
                    out[cnt].cluster);
        } else {
            if (has(s.verify, s.nver, s.manifests[i]))
                load_verify(r, &out[cnt]);
            cnt++;
        }
        free(buf);
    }
    /* a data object without a manifest is a backup that never completed */
    for (size_t i = 0; probs != NULL && i < s.ndata; i++)
        if (!has(s.manifests, s.nman, s.data[i]))
            PROBLEM(s.data[i], "backup '%s/%s' has a data object but no manifest (incomplete)",
                    r->cluster, s.data[i]);
#undef PROBLEM
    *list = out;
    *n = cnt;
    out = NULL;
    if (probs != NULL) {
        *probs = pr;
        *nprobs = np;
        pr = NULL;
    }
out:
    free(out);
    free(pr);
    scan_release(&s);
    return rc;
}

edr_rc
edr_repo_list(struct edr_repo *r, struct edr_manifest **list, size_t *n, struct edr_err *err)
{
    return list_backups(r, list, n, NULL, NULL, err);
}

edr_rc
edr_repo_list_all(struct edr_repo *r, struct edr_manifest **list, size_t *n,
                  struct edr_repo_problem **probs, size_t *nprobs, struct edr_err *err)
{
    return list_backups(r, list, n, probs, nprobs, err);
}

edr_rc
edr_repo_resolve(struct edr_repo *r, const char *ref, struct edr_manifest *out, struct edr_err *err)
{
    struct edr_manifest *list;
    struct edr_repo_problem *probs = NULL;
    size_t n, np = 0, found = SIZE_MAX, matches = 0;
    edr_rc rc;

    /* ids are printable ASCII: anything else is no id, and must not reach
     * a message or a JSON document as it is */
    for (const unsigned char *p = (const unsigned char *)ref; *p != '\0'; p++)
        if (*p < 0x21 || *p > 0x7e)
            return edr_err_set(err, EDR_E_NOTFOUND,
                               "no backup with that id in '%s' for cluster '%s' (it holds bytes "
                               "that are not printable ASCII)",
                               r->st->url, r->cluster);
    rc = list_backups(r, &list, &n, &probs, &np, err);
    if (rc != EDR_OK)
        return rc;
    if (strcmp(ref, "latest") == 0) {
        if (n > 0)
            found = n - 1, matches = 1;
        /* a damaged backup newer than the newest good one: never fall back
         * to an older backup without saying so, loudly */
        for (size_t i = 0; i < np; i++)
            if ((n == 0 || strcmp(probs[i].id, list[n - 1].id) > 0) &&
                strstr(probs[i].msg, "(incomplete)") == NULL)
                edr_warn("the newest backup '%s/%s' is DAMAGED (%s); 'latest' is the older "
                         "'%s/%s'",
                         r->cluster, probs[i].id, probs[i].msg, r->cluster,
                         n > 0 ? list[n - 1].id : "(none)");
    } else {
        for (size_t i = 0; i < np; i++)
            if (strcmp(probs[i].id, ref) == 0)
                edr_warn("%s", probs[i].msg); /* why the id asked for is not found */
        for (size_t i = 0; i < n; i++) {
            if (strcmp(list[i].id, ref) == 0) {
                found = i;
                matches = 1;
                break;
            }
            if (strncmp(list[i].id, ref, strlen(ref)) == 0) {
                found = i;
                matches++;
            }
        }
    }
    if (matches == 1) {
        *out = list[found];
        rc = EDR_OK;
    } else if (matches > 1) {
        rc = edr_err_set(err, EDR_E_USAGE, "backup id '%s' is ambiguous in '%s/%s'", ref,
                         r->st->url, r->cluster);
    } else {
        rc = edr_err_set(err, EDR_E_NOTFOUND, "no backup '%s' in '%s' for cluster '%s'", ref,
                         r->st->url, r->cluster);
        edr_err_hint(err, "run 'etcd-dr list' to see the backups");
    }
    free(list);
    free(probs);
    return rc;
}

edr_rc
edr_repo_lock(struct edr_repo *r, int wait_s, struct edr_storage_lock **out, struct edr_err *err)
{
    return edr_repo_lock_named(r, ".lock", wait_s, out, err);
}

edr_rc
edr_repo_lock_named(struct edr_repo *r, const char *lock, int wait_s, struct edr_storage_lock **out,
                    struct edr_err *err)
{
    char name[256], owner[512], host[256] = "unknown", now[32];

    gethostname(host, sizeof(host) - 1);
    edr_time_iso(time(NULL), now);
    snprintf(name, sizeof(name), "%s/%s", r->cluster, lock);
    snprintf(owner, sizeof(owner), "{\"host\":\"%s\",\"pid\":%ld,\"since\":\"%s\"}\n", host,
             (long)getpid(), now);
    return r->st->ops->lock(r->st, name, owner, wait_s, 6 * 3600, out, err);
}

void
edr_repo_unlock(struct edr_repo *r, struct edr_storage_lock *lk)
{
    if (lk != NULL)
        r->st->ops->unlock(r->st, lk);
}

edr_rc
edr_repo_cleanup(struct edr_repo *r, int age_s, struct edr_err *err)
{
    struct scan s;
    char prefix[256];
    edr_rc rc;

    snprintf(prefix, sizeof(prefix), "%s/", r->cluster);
    rc = r->st->ops->cleanup(r->st, prefix, age_s, err);
    if (rc != EDR_OK)
        return rc;
    if ((rc = scan_repo(r, &s, err)) != EDR_OK)
        goto out;
    for (size_t i = 0; i < s.ndata; i++) {
        char name[256];
        if (has(s.manifests, s.nman, s.data[i]))
            continue;
        edr_repo_object_name(r, s.data[i], ".edr", name, sizeof(name));
        if ((rc = r->st->ops->del(r->st, name, err)) != EDR_OK)
            goto out;
        edr_info("removed incomplete backup '%s' (no manifest)", name);
    }
    for (size_t i = 0; i < s.nver; i++) {
        char name[256];
        if (has(s.manifests, s.nman, s.verify[i]))
            continue;
        edr_repo_object_name(r, s.verify[i], ".verify.json", name, sizeof(name));
        r->st->ops->del(r->st, name, err);
    }
out:
    scan_release(&s);
    return rc;
}

edr_rc
edr_repo_write_manifest(struct edr_repo *r, const struct edr_manifest *m, struct edr_err *err)
{
    char name[256], *json = NULL;
    edr_rc rc;

    if ((rc = edr_manifest_to_json(m, &json, err)) != EDR_OK)
        return rc;
    edr_repo_object_name(r, m->id, ".json", name, sizeof(name));
    rc = edr_storage_put_buf(r->st, name, json, strlen(json), err);
    free(json);
    return rc;
}

edr_rc
edr_repo_delete(struct edr_repo *r, const char *id, struct edr_err *err)
{
    static const char *const suffixes[] = {".json", ".edr", ".verify.json"};
    char name[256];
    edr_rc rc;

    for (size_t i = 0; i < 3; i++) {
        edr_repo_object_name(r, id, suffixes[i], name, sizeof(name));
        if ((rc = r->st->ops->del(r->st, name, err)) != EDR_OK)
            return rc;
    }
    return EDR_OK;
}

edr_rc
edr_repo_record_verify(struct edr_repo *r, const char *id, const char *level, int ok,
                       const char *detail, struct edr_err *err)
{
    char name[256], now[32], *s;
    json_t *o;
    edr_rc rc;

    edr_time_iso(time(NULL), now);
    o = json_pack("{s:s, s:s, s:b, s:s, s:s}", "id", id, "level", level, "ok", ok, "time", now,
                  "detail", detail ? detail : "");
    s = o ? json_dumps(o, JSON_PRESERVE_ORDER) : NULL;
    json_decref(o);
    if (s == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    edr_repo_object_name(r, id, ".verify.json", name, sizeof(name));
    rc = edr_storage_put_buf(r->st, name, s, strlen(s), err);
    free(s);
    return rc;
}
