/*
 * The S3 backend's repository lock: a small JSON object written with
 * conditional PUTs, so that two runs cannot both hold it (see below).
 */
#include "storage/s3_int.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"

/*
 * The lock is an object holding JSON {owner, host, pid, boot_id, pid_ns,
 * token, created, expires}. It is created with a conditional PUT
 * (If-None-Match: *), which S3 answers with 412 when the object exists. A
 * stale lock (past expires) is replaced with If-Match on the ETag that was
 * read, so two runs cannot both take it over. So is a lock whose holder is
 * known to be gone before it expires: a run that failed because the server
 * went away cannot remove its lock, and the next run on the same machine
 * would otherwise wait for hours. "Known to be gone" is strict: same host
 * name, same boot (boot_id) and same pid namespace (containers sharing a
 * host name do not share pids), and no such pid any more. Servers that
 * ignore conditional headers are covered on a best-effort basis: the lock is
 * read first and read back after the write, and only a read-back with our
 * random token counts as taken; two writers racing within that window could
 * still both believe they hold it.
 *
 * A run longer than the lock's time to live (6 hours for a backup) must not
 * see its lock taken over as stale: edr_s3_lock_refresh() moves "expires"
 * on, the same way (If-Match on our ETag, read back), each time a third of
 * the time to live has passed.
 */
struct edr_storage_lock {
    char *key;
    char token[33];
    json_t *doc; /* what was written; a refresh changes "expires" */
    int ttl_s;
    time_t written; /* when "expires" was last set */
    char etag[200]; /* of the object holding doc */
};

struct lock_info {
    char owner[256];
    char host[256];
    long long pid;
    char boot_id[64];
    char pid_ns[64];
    char token[64];
    long long expires;
    char etag[200];
};

/* Where this process runs: boot id and pid namespace ("" when unknown). */
static void
process_place(char boot_id[64], char pid_ns[64])
{
    FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
    ssize_t n;

    boot_id[0] = pid_ns[0] = '\0';
    if (f != NULL) {
        if (fgets(boot_id, 64, f) == NULL)
            boot_id[0] = '\0';
        fclose(f);
        edr_s3_trim(boot_id);
    }
    n = readlink("/proc/self/ns/pid", pid_ns, 63);
    pid_ns[n > 0 ? n : 0] = '\0';
}

/* Non-zero when the lock's holder certainly no longer runs (see above). */
static int
holder_gone(const struct lock_info *li, const char *host)
{
    char boot_id[64], pid_ns[64];

    if (li->pid <= 0 || li->pid > 0x7fffffff || strcmp(li->host, host) != 0 ||
        li->pid == (long long)getpid())
        return 0;
    process_place(boot_id, pid_ns);
    if (boot_id[0] == '\0' || pid_ns[0] == '\0' || strcmp(li->boot_id, boot_id) != 0 ||
        strcmp(li->pid_ns, pid_ns) != 0)
        return 0;
    return kill((pid_t)li->pid, 0) != 0 && errno == ESRCH;
}

/* Keep s on one line (it goes into messages): control characters become
 * spaces, the ends are trimmed. */
static void
one_line(char *s)
{
    size_t i;

    for (i = 0; s[i]; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            s[i] = ' ';
    edr_s3_trim(s);
}

static void
iso_utc(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (gmtime_r(&tt, &tm) == NULL || strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, 32, "%lld", t);
}

/* 0 = read, 1 = no lock object, <0 = error in err. */
static int
lock_read(struct edr_s3 *s, const char *key, struct lock_info *li, struct edr_err *err)
{
    struct edr_s3_req r = {0};
    json_t *j = NULL;
    json_error_t je;
    int res = -1;

    memset(li, 0, sizeof(*li));
    r.method = "GET";
    r.key = key;
    if (edr_s3_request(s, &r, err) != EDR_OK)
        goto out;
    if (r.status == 404) {
        res = 1;
        goto out;
    }
    if (r.status != 200) {
        edr_s3_http_error(s, &r, err);
        goto out;
    }
    snprintf(li->etag, sizeof(li->etag), "%s", r.etag);
    j = json_loadb(r.resp.data != NULL ? (char *)r.resp.data : "", r.resp.len, 0, &je);
    if (j == NULL || !json_is_object(j)) {
        /* Unreadable: treat as a lock held by an unknown owner that expires
         * never; the user has to remove it. */
        snprintf(li->owner, sizeof(li->owner), "unknown (unreadable lock object)");
        li->expires = (long long)1 << 62;
        res = 0;
        goto out;
    }
    snprintf(li->owner, sizeof(li->owner), "%s",
             json_string_value(json_object_get(j, "owner")) ?: "?");
    one_line(li->owner);
    snprintf(li->host, sizeof(li->host), "%s",
             json_string_value(json_object_get(j, "host")) ?: "?");
    one_line(li->host);
    snprintf(li->token, sizeof(li->token), "%s",
             json_string_value(json_object_get(j, "token")) ?: "");
    snprintf(li->boot_id, sizeof(li->boot_id), "%s",
             json_string_value(json_object_get(j, "boot_id")) ?: "");
    snprintf(li->pid_ns, sizeof(li->pid_ns), "%s",
             json_string_value(json_object_get(j, "pid_ns")) ?: "");
    li->pid = json_integer_value(json_object_get(j, "pid"));
    li->expires = json_integer_value(json_object_get(j, "expires"));
    res = 0;
out:
    json_decref(j);
    edr_s3_req_release(&r);
    return res;
}

/* 0 = written, 1 = precondition failed, <0 = error. */
static int
lock_write(struct edr_s3 *s, const char *key, const char *body, const char *cond_name,
           const char *cond_value, struct edr_err *err)
{
    struct edr_s3_req r = {0};
    int res = -1;

    r.method = "PUT";
    r.key = key;
    r.body = body;
    r.body_len = strlen(body);
    r.xname[0] = "content-type";
    r.xvalue[0] = "application/json";
    r.xname[1] = cond_name;
    r.xvalue[1] = cond_value;
    r.nx = 2;
    if (edr_s3_request(s, &r, err) != EDR_OK)
        goto out;
    if (r.status == 412 || r.status == 409 ||
        (r.status == 404 && strcmp(cond_name, "if-match") == 0))
        res = 1;
    else if (r.status != 200)
        edr_s3_http_error(s, &r, err);
    else
        res = 0;
out:
    edr_s3_req_release(&r);
    return res;
}

edr_rc
edr_s3_lock(struct edr_storage *st, const char *name, const char *owner, int wait_s, int ttl_s,
            struct edr_storage_lock **out, struct edr_err *err)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct edr_storage_lock *l = calloc(1, sizeof(*l));
    struct lock_info li;
    unsigned char rnd[16];
    char host[256] = "?", boot_id[64], pid_ns[64], *body = NULL;
    time_t deadline = time(NULL) + (wait_s > 0 ? wait_s : 0);
    json_t *j = NULL;
    edr_rc rc = EDR_OK;

    if (ttl_s <= 0)
        ttl_s = 3600;
    *out = NULL;
    if (l == NULL || (l->key = edr_s3_full_key(s, name)) == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "s3: out of memory");
        goto out;
    }
    randombytes_buf(rnd, sizeof(rnd));
    edr_hex(rnd, sizeof(rnd), l->token);
    gethostname(host, sizeof(host) - 1);
    process_place(boot_id, pid_ns);
    for (;;) {
        time_t now = time(NULL);
        int r = lock_read(s, l->key, &li, err);
        int w, gone = 0;

        if (r < 0) {
            rc = edr_err_prefix(err, "lock");
            goto out;
        }
        if (r == 0 && strcmp(li.token, l->token) == 0)
            break; /* ours: a lost answer to a PUT that went through, then 412 */
        if (r == 0 && li.expires > (long long)now)
            gone = holder_gone(&li, host);
        if (r == 0 && li.expires > (long long)now && !gone) {
            if (now >= deadline) {
                char until[32];
                iso_utc(li.expires, until);
                rc = edr_err_set(err, EDR_E_LOCK,
                                 "repository 's3://%s/%s' is locked by %s (host %s, pid %lld)"
                                 " until %s",
                                 s->bucket, l->key, li.owner, li.host, li.pid, until);
                edr_err_hint(err, "wait for the other run; if it died, the lock expires by"
                                  " itself, or remove the lock object");
                goto out;
            }
            if (edr_storage_interrupted(&s->base)) {
                rc = edr_err_set(err, EDR_E_INTERRUPTED,
                                 "interrupted while waiting for the lock 's3://%s/%s'", s->bucket,
                                 l->key);
                goto out;
            }
            sleep(1);
            continue;
        }
        json_decref(j);
        j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:I, s:I}", "owner",
                      owner != NULL ? owner : "", "host", host, "pid", (json_int_t)getpid(),
                      "boot_id", boot_id, "pid_ns", pid_ns, "token", l->token, "created",
                      (json_int_t)now, "expires", (json_int_t)(now + ttl_s));
        free(body);
        body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        if (body == NULL) {
            rc = edr_err_set(err, EDR_E_INTERNAL, "lock: out of memory");
            goto out;
        }
        if (r == 0 && gone) {
            edr_warn("taking over the lock 's3://%s/%s' of %s (host %s, pid %lld): that process"
                     " is no longer running",
                     s->bucket, l->key, li.owner, li.host, li.pid);
            w = lock_write(s, l->key, body, "if-match", li.etag, err);
        } else if (r == 0) {
            edr_warn("taking over the stale lock 's3://%s/%s' of %s (host %s, pid %lld), expired"
                     " %llds ago",
                     s->bucket, l->key, li.owner, li.host, li.pid, (long long)now - li.expires);
            w = lock_write(s, l->key, body, "if-match", li.etag, err);
        } else {
            w = lock_write(s, l->key, body, "if-none-match", "*", err);
        }
        if (w < 0) {
            rc = edr_err_prefix(err, "lock");
            goto out;
        }
        if (w == 0) {
            /* Read back: only our token means we hold it. */
            r = lock_read(s, l->key, &li, err);
            if (r < 0) {
                rc = edr_err_prefix(err, "lock");
                goto out;
            }
            if (r == 0 && strcmp(li.token, l->token) == 0)
                break;
        }
        if (time(NULL) >= deadline && w == 1)
            continue; /* report the holder on the next round */
    }
    /* li is the read that found our token */
    snprintf(l->etag, sizeof(l->etag), "%s", li.etag);
    l->ttl_s = ttl_s;
    l->written = (time_t)(json_integer_value(json_object_get(j, "expires")) - ttl_s);
    l->doc = j;
    j = NULL;
    s->held = l;
    *out = l;
    l = NULL;
out:
    json_decref(j);
    free(body);
    if (l != NULL) {
        free(l->key);
        free(l);
    }
    return rc;
}

void
edr_s3_unlock(struct edr_storage *st, struct edr_storage_lock *l)
{
    struct edr_s3 *s = (struct edr_s3 *)st;
    struct lock_info li;
    struct edr_err err;

    if (l == NULL)
        return;
    edr_err_clear(&err);
    if (lock_read(s, l->key, &li, &err) == 0) {
        if (strcmp(li.token, l->token) == 0) {
            /* del() wants a name relative to the root */
            if (st->ops->del(st, l->key + strlen(s->root), &err) != EDR_OK)
                edr_warn("unable to remove the lock 's3://%s/%s': %s", s->bucket, l->key, err.msg);
        } else {
            edr_warn("the lock 's3://%s/%s' was taken over by %s (host %s); not removing it",
                     s->bucket, l->key, li.owner, li.host);
        }
    } else if (err.code != EDR_OK) {
        edr_warn("unable to read the lock 's3://%s/%s': %s", s->bucket, l->key, err.msg);
    }
    if (s->held == l)
        s->held = NULL;
    json_decref(l->doc);
    free(l->key);
    free(l);
}

edr_rc
edr_s3_lock_refresh(struct edr_s3 *s, struct edr_err *err)
{
    struct edr_storage_lock *l = s->held;
    struct lock_info li;
    struct edr_err e2;
    time_t now = time(NULL);
    char *body;
    int w, r = -1;

    if (l == NULL || now - l->written < l->ttl_s / 3)
        return EDR_OK;
    if (json_object_set_new(l->doc, "expires", json_integer((json_int_t)(now + l->ttl_s))) != 0 ||
        (body = json_dumps(l->doc, JSON_COMPACT)) == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "lock: out of memory");
    edr_err_clear(&e2);
    w = lock_write(s, l->key, body, "if-match", l->etag, &e2);
    free(body);
    if (w >= 0)
        r = lock_read(s, l->key, &li, &e2);
    if (r < 0) {
        edr_warn("unable to refresh the lock 's3://%s/%s' (tried again later): %s", s->bucket,
                 l->key, e2.msg);
        return EDR_OK;
    }
    if (r == 0 && strcmp(li.token, l->token) == 0) {
        /* w == 1 with our token: our ETag was out of date (the answer to an
         * earlier write lost); the next call writes with the right one */
        snprintf(l->etag, sizeof(l->etag), "%s", li.etag);
        if (w == 0) {
            l->written = now;
            edr_debug("refreshed the lock 's3://%s/%s' for %ds", s->bucket, l->key, l->ttl_s);
        }
        return EDR_OK;
    }
    if (r == 1)
        return edr_err_set(err, EDR_E_LOCK, "the lock 's3://%s/%s' was removed during the run",
                           s->bucket, l->key);
    return edr_err_set(err, EDR_E_LOCK,
                       "the lock 's3://%s/%s' was taken over by %s (host %s, pid %lld) during the"
                       " run",
                       s->bucket, l->key, li.owner, li.host, li.pid);
}
