/*
 * --initial-cluster parsing and etcd's member/cluster ids. etcd builds a map
 * name -> URLs (types.NewURLsMap), sorts each name's URLs by their string
 * form and hashes them with the token; the cluster id hashes the sorted
 * member ids. We accept a slightly narrower URL syntax than Go's url.Parse
 * (no user info, query, fragment or escapes) so that the string we hash is
 * byte for byte the one Go's url.String() would give: a refused URL is a
 * clear error, a mis-normalised one would silently give other ids.
 */
#include "restore/cluster.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/hash.h"
#include "restore/json.h"

static char *
xstrndup(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static void
member_release(struct edr_restore_member *m)
{
    size_t i;

    free(m->name);
    for (i = 0; i < m->n_urls; i++)
        free(m->urls[i]);
    free(m->urls);
    memset(m, 0, sizeof(*m));
}

void
edr_restore_cluster_free(struct edr_restore_cluster *cl)
{
    size_t i;

    if (cl == NULL)
        return;
    for (i = 0; i < cl->n_members; i++)
        member_release(&cl->members[i]);
    free(cl->members);
    free(cl->token);
    free(cl);
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static int
is_host_char(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static int
is_all_digits(const char *s, size_t n)
{
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        if (!isdigit((unsigned char)s[i]))
            return 0;
    return 1;
}

/*
 * Check one URL (already trimmed, len bytes) and return its normalised form
 * in *out (malloc'ed). On a syntax error returns EDR_E_USAGE with *why set to
 * a static reason; EDR_E_INTERNAL on OOM.
 */
static edr_rc
check_url(const char *in, size_t len, char **out, const char **why)
{
    static const char *const schemes[] = {"http", "https", "unix", "unixs"};
    const char *colon, *auth, *end, *p, *port;
    size_t slen, i, alen;
    char scheme[8];
    char *res;

    *out = NULL;
    colon = memchr(in, ':', len);
    slen = colon ? (size_t)(colon - in) : 0;
    if (slen == 0 || slen >= sizeof(scheme)) {
        *why = "scheme must be http, https, unix or unixs";
        return EDR_E_USAGE;
    }
    for (i = 0; i < slen; i++)
        scheme[i] = (char)tolower((unsigned char)in[i]);
    scheme[slen] = '\0';
    for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (strcmp(scheme, schemes[i]) == 0)
            break;
    if (i == sizeof(schemes) / sizeof(schemes[0])) {
        *why = "scheme must be http, https, unix or unixs";
        return EDR_E_USAGE;
    }
    auth = colon + 1;
    end = in + len;
    if (end - auth < 2 || auth[0] != '/' || auth[1] != '/') {
        *why = "address does not have the form \"host:port\"";
        return EDR_E_USAGE;
    }
    auth += 2;
    for (p = auth; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
        ;
    if (p < end) {
        *why = *p == '/'   ? "URL must not contain a path"
               : *p == '?' ? "URL must not contain a query"
                           : "URL must not contain a fragment";
        return EDR_E_USAGE;
    }
    alen = (size_t)(end - auth);
    if (memchr(auth, '@', alen) != NULL) {
        *why = "URL must not contain user information";
        return EDR_E_USAGE;
    }
    *why = "address does not have the form \"host:port\"";
    if (alen > 0 && auth[0] == '[') {
        const char *rb = memchr(auth, ']', alen);

        if (rb == NULL || rb == auth + 1 || rb + 1 >= end || rb[1] != ':')
            return EDR_E_USAGE;
        for (p = auth + 1; p < rb; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') {
                *why = "host contains a character other than [0-9a-fA-F:.] in its IPv6 address";
                return EDR_E_USAGE;
            }
        port = rb + 2;
    } else {
        const char *c = memchr(auth, ':', alen);

        if (c == NULL || c == auth || memchr(c + 1, ':', (size_t)(end - c - 1)) != NULL)
            return EDR_E_USAGE;
        for (p = auth; p < c; p++)
            if (!is_host_char(*p)) {
                *why = "host contains a character other than [A-Za-z0-9._-]";
                return EDR_E_USAGE;
            }
        port = c + 1;
    }
    if (!is_all_digits(port, (size_t)(end - port))) {
        *why = "port is not a number";
        return EDR_E_USAGE;
    }
    res = malloc(len + 1);
    if (res == NULL)
        return EDR_E_INTERNAL;
    memcpy(res, scheme, slen);
    memcpy(res + slen, in + slen, len - slen);
    res[len] = '\0';
    *out = res;
    *why = NULL;
    return EDR_OK;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
cmp_member_id(const void *a, const void *b)
{
    const struct edr_restore_member *x = a, *y = b;

    return x->id < y->id ? -1 : x->id > y->id;
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    int i;

    for (i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get_be64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static edr_rc
member_id(struct edr_restore_member *m, const char *token, struct edr_err *err)
{
    struct edr_buf b = {0};
    uint8_t sum[20];
    size_t i;

    for (i = 0; i < m->n_urls; i++)
        edr_buf_str(&b, m->urls[i]);
    if (edr_buf_str(&b, token) < 0) {
        edr_buf_release(&b);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    edr_sha1_buf(b.data, b.len, sum);
    edr_buf_release(&b);
    m->id = get_be64(sum);
    return EDR_OK;
}

/* Find or append the member called name (len bytes). */
static struct edr_restore_member *
member_slot(struct edr_restore_cluster *cl, size_t *cap, const char *name, size_t len)
{
    struct edr_restore_member *m;
    size_t i;

    for (i = 0; i < cl->n_members; i++)
        if (strlen(cl->members[i].name) == len && memcmp(cl->members[i].name, name, len) == 0)
            return &cl->members[i];
    if (cl->n_members == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;

        m = realloc(cl->members, ncap * sizeof(*m));
        if (m == NULL)
            return NULL;
        cl->members = m;
        *cap = ncap;
    }
    m = &cl->members[cl->n_members];
    memset(m, 0, sizeof(*m));
    m->name = xstrndup(name, len);
    if (m->name == NULL)
        return NULL;
    cl->n_members++;
    return m;
}

static int
member_add_url(struct edr_restore_member *m, char *url)
{
    char **u = realloc(m->urls, (m->n_urls + 1) * sizeof(*u));

    if (u == NULL)
        return -1;
    m->urls = u;
    m->urls[m->n_urls++] = url;
    return 0;
}

/* Reject a URL given twice anywhere in the cluster (etcd: "has duplicate url"). */
static edr_rc
check_duplicate_urls(const struct edr_restore_cluster *cl, struct edr_err *err)
{
    size_t i, j, k, l;

    for (i = 0; i < cl->n_members; i++)
        for (j = 0; j < cl->members[i].n_urls; j++)
            for (k = i; k < cl->n_members; k++)
                for (l = (k == i ? j + 1 : 0); l < cl->members[k].n_urls; l++) {
                    if (strcmp(cl->members[i].urls[j], cl->members[k].urls[l]) != 0)
                        continue;
                    if (k == i)
                        return edr_err_set(err, EDR_E_USAGE,
                                           "--initial-cluster: URL '%s' is given twice for "
                                           "member '%s'",
                                           cl->members[i].urls[j], cl->members[i].name);
                    return edr_err_set(err, EDR_E_USAGE,
                                       "--initial-cluster: URL '%s' is given for both '%s' "
                                       "and '%s'",
                                       cl->members[i].urls[j], cl->members[i].name,
                                       cl->members[k].name);
                }
    return EDR_OK;
}

edr_rc
edr_restore_cluster_parse(const char *initial_cluster, const char *token,
                          struct edr_restore_cluster **out, struct edr_err *err)
{
    struct edr_restore_cluster *cl = NULL;
    const char *s, *entry_end, *eq, *u0, *u1;
    size_t cap = 0, i;
    uint8_t *ids = NULL, sum[20];
    char *url;
    const char *why;
    edr_rc rc;

    *out = NULL;
    if (initial_cluster == NULL || *initial_cluster == '\0')
        return edr_err_set(err, EDR_E_USAGE, "--initial-cluster is empty");
    if (token == NULL)
        token = EDR_RESTORE_DEFAULT_TOKEN;
    cl = calloc(1, sizeof(*cl));
    if (cl == NULL || (cl->token = strdup(token)) == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (s = initial_cluster; *s != '\0'; s = *entry_end ? entry_end + 1 : entry_end) {
        struct edr_restore_member *m;
        int elen;

        entry_end = strchr(s, ',');
        if (entry_end == NULL)
            entry_end = s + strlen(s);
        elen = (int)(entry_end - s);
        if (elen == 0)
            continue; /* like etcd, "a=x,,b=y" skips the empty entry */
        eq = memchr(s, '=', (size_t)elen);
        if (eq == NULL) {
            rc =
                edr_err_set(err, EDR_E_USAGE,
                            "--initial-cluster: entry '%.*s' is not of the form name=URL", elen, s);
            goto out;
        }
        if (eq == s) {
            rc = edr_err_set(err, EDR_E_USAGE, "--initial-cluster: entry '%.*s' has an empty name",
                             elen, s);
            goto out;
        }
        /* the name becomes a path component ({name} in --data-dir, archive names) */
        if (memchr(s, '/', (size_t)(eq - s)) != NULL || (eq - s == 1 && s[0] == '.') ||
            (eq - s == 2 && s[0] == '.' && s[1] == '.')) {
            rc = edr_err_set(err, EDR_E_USAGE,
                             "--initial-cluster: member name '%.*s' cannot be used in a path (no "
                             "'/', not '.' or '..')",
                             (int)(eq - s), s);
            goto out;
        }
        for (u0 = eq + 1; u0 < entry_end && is_space(*u0); u0++)
            ;
        for (u1 = entry_end; u1 > u0 && is_space(u1[-1]); u1--)
            ;
        rc = check_url(u0, (size_t)(u1 - u0), &url, &why);
        if (rc == EDR_E_USAGE) {
            rc = edr_err_set(err, rc, "--initial-cluster: member '%.*s': URL '%.*s': %s",
                             (int)(eq - s), s, (int)(u1 - u0), u0, why);
            goto out;
        }
        if (rc != EDR_OK) {
            rc = edr_err_set(err, rc, "out of memory");
            goto out;
        }
        m = member_slot(cl, &cap, s, (size_t)(eq - s));
        if (m == NULL || member_add_url(m, url) < 0) {
            free(url);
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
    }
    if (cl->n_members == 0) {
        rc = edr_err_set(err, EDR_E_USAGE, "--initial-cluster names no member");
        goto out;
    }
    if (cl->n_members > EDR_RESTORE_MAX_MEMBERS) {
        rc = edr_err_set(err, EDR_E_USAGE, "--initial-cluster: %zu members, at most %d supported",
                         cl->n_members, EDR_RESTORE_MAX_MEMBERS);
        goto out;
    }
    for (i = 0; i < cl->n_members; i++)
        qsort(cl->members[i].urls, cl->members[i].n_urls, sizeof(char *), cmp_str);
    rc = check_duplicate_urls(cl, err);
    if (rc != EDR_OK)
        goto out;
    for (i = 0; i < cl->n_members; i++) {
        rc = member_id(&cl->members[i], cl->token, err);
        if (rc != EDR_OK)
            goto out;
        if (cl->members[i].id == 0) {
            rc = edr_err_set(err, EDR_E_USAGE, "--initial-cluster: member '%s' has id 0",
                             cl->members[i].name);
            goto out;
        }
    }
    qsort(cl->members, cl->n_members, sizeof(cl->members[0]), cmp_member_id);
    for (i = 1; i < cl->n_members; i++)
        if (cl->members[i].id == cl->members[i - 1].id) {
            rc = edr_err_set(err, EDR_E_USAGE,
                             "--initial-cluster: members '%s' and '%s' have the same id %016llx",
                             cl->members[i - 1].name, cl->members[i].name,
                             (unsigned long long)cl->members[i].id);
            goto out;
        }
    ids = malloc(cl->n_members * 8);
    if (ids == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (i = 0; i < cl->n_members; i++)
        put_be64(ids + 8 * i, cl->members[i].id);
    edr_sha1_buf(ids, cl->n_members * 8, sum);
    cl->cluster_id = get_be64(sum);
    *out = cl;
    cl = NULL;
    rc = EDR_OK;
out:
    free(ids);
    edr_restore_cluster_free(cl);
    return rc;
}

const struct edr_restore_member *
edr_restore_cluster_find(const struct edr_restore_cluster *cl, const char *name)
{
    size_t i;

    for (i = 0; i < cl->n_members; i++)
        if (strcmp(cl->members[i].name, name) == 0)
            return &cl->members[i];
    return NULL;
}

static void
join_urls(struct edr_buf *b, char *const *urls, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (i > 0)
            edr_buf_byte(b, ',');
        edr_buf_str(b, urls[i]);
    }
    edr_buf_cstr(b);
}

edr_rc
edr_restore_cluster_check_member(const struct edr_restore_cluster *cl, const char *name,
                                 const char *advertise_peer_urls,
                                 const struct edr_restore_member **member, struct edr_err *err)
{
    const struct edr_restore_member *m;
    struct edr_buf names = {0}, want = {0}, got = {0};
    char **urls = NULL;
    size_t n = 0, i;
    const char *s, *e, *u0, *u1, *why;
    edr_rc rc;

    if (member != NULL)
        *member = NULL;
    if (name == NULL || *name == '\0')
        return edr_err_set(err, EDR_E_USAGE, "--name is empty");
    m = edr_restore_cluster_find(cl, name);
    if (m == NULL) {
        for (i = 0; i < cl->n_members; i++) {
            edr_buf_str(&names, i ? "', '" : "'");
            edr_buf_str(&names, cl->members[i].name);
        }
        edr_buf_byte(&names, '\'');
        edr_buf_cstr(&names);
        rc =
            edr_err_set(err, EDR_E_USAGE, "--name '%s' is not a member of --initial-cluster", name);
        if (!names.failed)
            edr_err_hint(err, "--initial-cluster names %s", (char *)names.data);
        goto out;
    }
    if (advertise_peer_urls != NULL) {
        for (s = advertise_peer_urls;; s = e + 1) {
            char **nu;
            char *url;

            e = strchr(s, ',');
            if (e == NULL)
                e = s + strlen(s);
            for (u0 = s; u0 < e && is_space(*u0); u0++)
                ;
            for (u1 = e; u1 > u0 && is_space(u1[-1]); u1--)
                ;
            rc = check_url(u0, (size_t)(u1 - u0), &url, &why);
            if (rc == EDR_E_USAGE) {
                rc = edr_err_set(err, rc, "--initial-advertise-peer-urls: URL '%.*s': %s",
                                 (int)(u1 - u0), u0, why);
                goto out;
            }
            if (rc != EDR_OK) {
                rc = edr_err_set(err, rc, "out of memory");
                goto out;
            }
            nu = realloc(urls, (n + 1) * sizeof(*urls));
            if (nu == NULL) {
                free(url);
                rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
                goto out;
            }
            urls = nu;
            urls[n++] = url;
            if (*e == '\0')
                break;
        }
        qsort(urls, n, sizeof(*urls), cmp_str);
        join_urls(&want, m->urls, m->n_urls);
        join_urls(&got, urls, n);
        if (want.failed || got.failed) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            goto out;
        }
        if (strcmp((char *)want.data, (char *)got.data) != 0) {
            rc = edr_err_set(err, EDR_E_USAGE,
                             "--initial-advertise-peer-urls '%s' does not match the URLs of "
                             "member '%s' in --initial-cluster ('%s')",
                             (char *)got.data, name, (char *)want.data);
            goto out;
        }
    }
    if (member != NULL)
        *member = m;
    rc = EDR_OK;
out:
    for (i = 0; i < n; i++)
        free(urls[i]);
    free(urls);
    edr_buf_release(&names);
    edr_buf_release(&want);
    edr_buf_release(&got);
    return rc;
}

void
edr_restore_id_hex(uint64_t id, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0, i;

    do {
        tmp[n++] = hex[id & 0xF];
        id >>= 4;
    } while (id != 0);
    for (i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void
peer_urls_json(struct edr_buf *b, const struct edr_restore_member *m)
{
    size_t i;

    edr_buf_str(b, "\"peerURLs\":[");
    for (i = 0; i < m->n_urls; i++) {
        if (i > 0)
            edr_buf_byte(b, ',');
        edr_restore_json_str(b, m->urls[i], strlen(m->urls[i]));
    }
    edr_buf_byte(b, ']');
}

static edr_rc
finish_json(struct edr_buf *b, char **out, size_t *out_len, struct edr_err *err)
{
    if (edr_buf_cstr(b) < 0) {
        edr_buf_release(b);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    *out = (char *)b->data;
    if (out_len != NULL)
        *out_len = b->len;
    return EDR_OK;
}

edr_rc
edr_restore_member_json(const struct edr_restore_member *m, char **out, size_t *out_len,
                        struct edr_err *err)
{
    struct edr_buf b = {0};

    edr_buf_printf(&b, "{\"id\":%llu,", (unsigned long long)m->id);
    peer_urls_json(&b, m);
    if (m->name != NULL && *m->name != '\0') {
        edr_buf_str(&b, ",\"name\":");
        edr_restore_json_str(&b, m->name, strlen(m->name));
    }
    edr_buf_byte(&b, '}');
    return finish_json(&b, out, out_len, err);
}

edr_rc
edr_restore_raft_attrs_json(const struct edr_restore_member *m, char **out, size_t *out_len,
                            struct edr_err *err)
{
    struct edr_buf b = {0};

    edr_buf_byte(&b, '{');
    peer_urls_json(&b, m);
    edr_buf_byte(&b, '}');
    return finish_json(&b, out, out_len, err);
}
