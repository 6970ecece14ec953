/*
 * etcd's MVCC keyspace read from a bbolt file: status (etcdctl's hash,
 * revision, totals and more in one pass over the file), an MVCC-level check,
 * the live keys at a revision, and a per-resource summary of Kubernetes
 * objects. Live-key tracking uses one open-addressing table over an arena of
 * key bytes, so there is no malloc per key.
 */
#include "common/bytes.h"
#include "mvcc/mvcc.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/grow.h"
#include "common/hash.h"
#include "stream/stream.h"

#define REV_LEN 17

static const char BK_KEY[] = "key";
static const char BK_META[] = "meta";

static void
put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static int
name_is(const uint8_t *n, size_t nl, const char *s)
{
    return nl == strlen(s) && memcmp(n, s, nl) == 0;
}

/* A `key`-bucket key: 0 and the revision when well-formed, else -1. */
static int
parse_rev(const uint8_t *k, size_t kl, int64_t *main, int64_t *sub, int *tomb)
{
    if (!(kl == REV_LEN || (kl == REV_LEN + 1 && k[REV_LEN] == 't')) || k[8] != '_')
        return -1;
    *main = (int64_t)edr_be64(k);
    *sub = (int64_t)edr_be64(k + 9);
    *tomb = kl == REV_LEN + 1;
    return *main < 0 || *sub < 0 ? -1 : 0;
}

static const char *
rev_str(const uint8_t *k, size_t kl, char *out, size_t cap)
{
    int64_t main, sub;
    int tomb;

    if (parse_rev(k, kl, &main, &sub, &tomb) == 0) {
        snprintf(out, cap, "%" PRId64 "_%" PRId64 "%s", main, sub, tomb ? "t" : "");
    } else {
        size_t n = kl > 20 ? 20 : kl;
        edr_hex(k, n, out); /* cap >= 41 */
        if (kl > n)
            strcat(out, "...");
    }
    return out;
}

/* ---- live keys ---- */

struct lent {
    size_t koff;
    uint32_t klen;
    uint32_t hash;
    int64_t main, sub; /* latest put */
    uint64_t vlen;
    int dead;
};

struct livemap {
    struct lent *ents;
    size_t n, cap;
    uint64_t *slots; /* hash << 32 | (entry index + 1); 0 = empty */
    size_t nslots;
    struct edr_buf arena; /* the keys, one after another */
};

static void
lm_release(struct livemap *lm)
{
    free(lm->ents);
    free(lm->slots);
    edr_buf_release(&lm->arena);
    memset(lm, 0, sizeof(*lm));
}

static int
lm_rehash(struct livemap *lm, size_t nslots)
{
    uint64_t *s = calloc(nslots, sizeof(*s));

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < lm->n; i++) {
        size_t j = lm->ents[i].hash & (nslots - 1);
        while (s[j] != 0)
            j = (j + 1) & (nslots - 1);
        s[j] = (uint64_t)lm->ents[i].hash << 32 | (uint64_t)(i + 1);
    }
    free(lm->slots);
    lm->slots = s;
    lm->nslots = nslots;
    return 0;
}

/* The entry of key, or NULL (and *oom unset) when absent and !add. */
static struct lent *
lm_get(struct livemap *lm, const uint8_t *key, size_t kl, int add, int *oom)
{
    uint32_t h = edr_crc32c(0, key, kl);
    struct lent *e;
    size_t j;

    *oom = 0;
    if (lm->nslots == 0 && lm_rehash(lm, 1024) != 0)
        goto oom;
    for (j = h & (lm->nslots - 1); lm->slots[j] != 0; j = (j + 1) & (lm->nslots - 1)) {
        if ((uint32_t)(lm->slots[j] >> 32) != h)
            continue;
        e = &lm->ents[(uint32_t)lm->slots[j] - 1];
        if (e->klen == kl && memcmp(lm->arena.data + e->koff, key, kl) == 0)
            return e;
    }
    if (!add)
        return NULL;
    if (lm->n >= UINT32_MAX - 1 || kl > UINT32_MAX)
        goto oom;
    if (lm->n == lm->cap) {
        size_t nc = lm->cap ? lm->cap * 2 : 1024;
        struct lent *ne = realloc(lm->ents, nc * sizeof(*ne));
        if (ne == NULL)
            goto oom;
        lm->ents = ne;
        lm->cap = nc;
    }
    if (edr_buf_add(&lm->arena, key, kl) != 0)
        goto oom;
    e = &lm->ents[lm->n];
    memset(e, 0, sizeof(*e));
    e->koff = lm->arena.len - kl;
    e->klen = (uint32_t)kl;
    e->hash = h;
    e->dead = 1;
    lm->slots[j] = (uint64_t)h << 32 | (uint64_t)(++lm->n);
    if (lm->n * 2 > lm->nslots && lm_rehash(lm, lm->nslots * 2) != 0)
        goto oom;
    return &lm->ents[lm->n - 1];
oom:
    *oom = 1;
    return NULL;
}

/* Applies one `key`-bucket entry (already parsed) to the map. */
static int
lm_apply(struct livemap *lm, const struct edr_kv *kv, int64_t main, int64_t sub, int tomb)
{
    int oom;
    struct lent *e = lm_get(lm, kv->key, kv->key_len, !tomb, &oom);

    if (e == NULL)
        return oom ? -1 : 0;
    if (tomb) {
        e->dead = 1;
        return 0;
    }
    e->dead = 0;
    e->main = main;
    e->sub = sub;
    e->vlen = kv->value_len;
    return 0;
}

/* ---- status ---- */

/* the state of edr_mvcc_scan (see "status of a snapshot streaming past") */
struct leafsum {
    uint32_t crc;
    uint64_t bytes; /* hashed */
    int64_t last_rev;
    size_t ent_off, ent_n;
    uint32_t markers; /* bump-revision markers (empty values) */
};

struct sument {
    uint32_t ref;  /* live-key map index, bit 31: tombstone */
    uint32_t vlen; /* the KeyValue's value length (a put) */
};

struct edr_mvcc_scan {
    struct edr_stream *cap;
    struct livemap lm;
    struct sument *ents;
    size_t nents, capents;
    struct leafsum *sums;
    size_t nsums, capsums;
    int members_summed; /* a summed-up leaf turned out to be in `members` */
    int keys_lenient;   /* the walk skipped `key` pairs edr_mvcc_k8s_stats refuses */
};

enum bk { BK_OTHER, BK_KEYS, BK_METAS, BK_LEASE, BK_ALARM, BK_AUTH, BK_CLUSTER, BK_MEMBERS };

struct sctx {
    struct edr_mvcc_status *st;
    uint32_t crc;
    enum bk cur;
    struct livemap lm;
    struct edr_buf mj; /* members JSON being built */
    struct edr_err *err;
    int strict; /* also run edr_mvcc_check's checks, in the same pass */
    int saw_key, saw_cindex;
    struct edr_mvcc_scan *scan; /* status of a captured stream */
};

static int check_rev_kv(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct edr_kv *kv,
                        struct edr_err *err);

static int
on_status_bucket(void *ud, const uint8_t *name, size_t nl)
{
    struct sctx *c = ud;

    c->crc = edr_crc32c(c->crc, name, nl);
    if (name_is(name, nl, BK_KEY))
        c->saw_key = 1;
    c->cur = name_is(name, nl, BK_KEY)      ? BK_KEYS
             : name_is(name, nl, BK_META)   ? BK_METAS
             : name_is(name, nl, "lease")   ? BK_LEASE
             : name_is(name, nl, "alarm")   ? BK_ALARM
             : name_is(name, nl, "auth")    ? BK_AUTH
             : name_is(name, nl, "cluster") ? BK_CLUSTER
             : name_is(name, nl, "members") ? BK_MEMBERS
                                            : BK_OTHER;
    return 0;
}

/* A members value goes in verbatim when it is JSON (ids exceed int64, so
 * re-encoding through jansson would change them), else as a string. */
static int
mj_member(struct sctx *c, const uint8_t *v, size_t vl)
{
    json_error_t je;
    json_t *j;
    int r;

    if (c->mj.len > 1 && edr_buf_byte(&c->mj, ',') != 0)
        return -1;
    j = json_loadb((const char *)v, vl, JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &je);
    if (j != NULL) {
        json_decref(j);
        return edr_buf_add(&c->mj, v, vl);
    }
    j = json_stringn((const char *)v, vl);
    if (j == NULL) {
        char *hex = malloc(vl * 2 + 1);
        if (hex == NULL)
            return -1;
        edr_hex(v, vl, hex);
        j = json_string(hex);
        free(hex);
    }
    if (j == NULL)
        return -1;
    {
        char *s = json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT);
        json_decref(j);
        if (s == NULL)
            return -1;
        r = edr_buf_str(&c->mj, s);
        free(s);
    }
    return r;
}

static int
on_status_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct sctx *c = ud;
    struct edr_mvcc_status *st = c->st;

    c->crc = edr_crc32c(c->crc, k, kl);
    c->crc = edr_crc32c(c->crc, v, vl);
    st->total_keys++;
    switch (c->cur) {
    case BK_KEYS: {
        int64_t main, sub;
        int tomb;
        struct edr_kv kv;
        if (kl >= 8)
            st->revision = (int64_t)edr_be64(k);
        if (c->strict && check_rev_kv(k, kl, v, vl, &kv, c->err) != 0)
            return -1;
        if (vl == 0 && kl == 17)
            st->bump_markers++;
        if (parse_rev(k, kl, &main, &sub, &tomb) != 0 || vl == 0 ||
            edr_mvcc_kv_decode(v, vl, &kv, NULL) != EDR_OK) {
            /* status is lenient like etcdctl; edr_mvcc_check reports these,
             * and edr_mvcc_k8s_stats refuses all but the empty values */
            if (c->scan != NULL && (vl > 0 || parse_rev(k, kl, &main, &sub, &tomb) != 0))
                c->scan->keys_lenient = 1;
            break;
        }
        if (lm_apply(&c->lm, &kv, main, sub, tomb) != 0) {
            edr_err_set(c->err, EDR_E_INTERNAL, "out of memory");
            return -1;
        }
        break;
    }
    case BK_METAS:
        if (name_is(k, kl, "consistent_index") && c->strict && vl != 8) {
            edr_err_set(c->err, EDR_E_INTEGRITY, "meta: consistent_index has %zu bytes, not 8", vl);
            return -1;
        }
        if (name_is(k, kl, "consistent_index") && vl == 8) {
            st->consistent_index = edr_be64(v);
            c->saw_cindex = 1;
        } else if (name_is(k, kl, "term") && vl == 8) {
            st->term = edr_be64(v);
            st->has_term = 1;
        } else if (name_is(k, kl, "finishedCompactRev") && vl >= 8)
            st->compact_revision = (int64_t)edr_be64(v);
        else if (name_is(k, kl, "scheduledCompactRev") && vl >= 8)
            st->scheduled_compact_revision = (int64_t)edr_be64(v);
        else if (name_is(k, kl, "storageVersion"))
            edr_copy_text(st->storage_version, sizeof(st->storage_version), v, vl);
        break;
    case BK_LEASE:
        st->leases++;
        break;
    case BK_ALARM:
        st->alarms++;
        break;
    case BK_AUTH:
        if (name_is(k, kl, "authEnabled"))
            st->auth_enabled = vl == 1 && v[0] == 1;
        break;
    case BK_CLUSTER:
        if (name_is(k, kl, "clusterVersion"))
            edr_copy_text(st->cluster_version, sizeof(st->cluster_version), v, vl);
        break;
    case BK_MEMBERS:
        if (mj_member(c, v, vl) != 0) {
            edr_err_set(c->err, EDR_E_INTERNAL, "out of memory");
            return -1;
        }
        break;
    default:
        break;
    }
    return 0;
}

static int on_status_sum(void *ud, uint32_t id, uint32_t count);
static void scan_take_map(struct edr_mvcc_scan *s, struct livemap *lm);

/* scan: the walk is over a capture, whose live-key map it continues */
static edr_rc
status(struct edr_bolt *b, struct edr_mvcc_status *st, int strict, struct edr_mvcc_scan *scan,
       struct edr_err *err)
{
    struct edr_bolt_info info;
    struct sctx c;
    uint64_t used = 0;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    memset(&c, 0, sizeof(c));
    c.st = st;
    c.err = err;
    c.strict = strict;
    c.scan = scan;
    if (scan != NULL)
        scan_take_map(scan, &c.lm);
    if (edr_buf_byte(&c.mj, '[') != 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    edr_err_clear(err);
    if ((rc = edr_bolt_walk_sum(b, 1, on_status_bucket, on_status_kv,
                                scan != NULL ? on_status_sum : NULL, &c, &used, err)) != EDR_OK)
        goto out;
    if (strict && !c.saw_key) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "bucket 'key' not found");
        goto out;
    }
    if (strict && !c.saw_cindex) {
        rc = edr_err_set(err, EDR_E_INTEGRITY, "meta: consistent_index not found");
        goto out;
    }
    if (edr_buf_byte(&c.mj, ']') != 0) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    edr_bolt_get_info(b, &info);
    st->hash = c.crc;
    st->total_size = info.size;
    st->db_size_in_use = used * info.page_size;
    for (size_t i = 0; i < c.lm.n; i++)
        st->live_keys += !c.lm.ents[i].dead;
    st->members_json = (char *)c.mj.data;
    c.mj.data = NULL;
out:
    edr_buf_release(&c.mj);
    if (scan != NULL)
        scan_take_map(scan, &c.lm); /* back: edr_mvcc_scan_inspect reads it */
    lm_release(&c.lm);
    return rc;
}

edr_rc
edr_mvcc_status(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err)
{
    return status(b, st, 0, NULL, err);
}

edr_rc
edr_mvcc_status_checked(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err)
{
    return status(b, st, 1, NULL, err);
}

void
edr_mvcc_status_release(struct edr_mvcc_status *st)
{
    if (st == NULL)
        return;
    free(st->members_json);
    st->members_json = NULL;
}

uint64_t
edr_mvcc_status_total_keys(const struct edr_mvcc_status *st, int minor)
{
    if (minor < 6)
        return st->total_keys;
    return st->live_keys + (st->bump_markers > 0);
}

int
edr_mvcc_status_minor(const struct edr_mvcc_status *st, const char *etcd_version)
{
    unsigned major, minor;

    if (etcd_version != NULL && sscanf(etcd_version, "%u.%u", &major, &minor) == 2 && major == 3)
        return (int)minor;
    return st->storage_version[0] != '\0' ? 6 : 4;
}

/* ---- status of a snapshot streaming past ---- */

/* Most of a snapshot is leaves of the `key` bucket: the capture hands each
 * such run here while it streams past, and keeps only what the final walk
 * needs of it: its share of the hash (CRC-32C, combined in tree order), its
 * last revision, and per pair the live-key map entry and whether it is a
 * tombstone, applied in tree order (= revision order) by the walk. A run
 * with anything the walk would report is left to the capture, which keeps
 * it whole, so the walk finds and reports it exactly as from a file. */
#define SCAN_RAW_CAP (256u << 20)
#define ENT_TOMB 0x80000000u

static int
scan_leaf(void *ud, const uint8_t *run, size_t len, uint32_t *id)
{
    struct edr_mvcc_scan *s = ud;
    unsigned n = edr_le16(run + 10);
    struct leafsum sum = {0, 0, 0, s->nents, 0, 0};
    const uint8_t *pk = NULL, *k = NULL;
    size_t pkl = 0, kl = 0;
    struct edr_err scratch;

    if (n == 0 || 16 + (size_t)n * 16 > len || s->nsums >= UINT32_MAX ||
        edr_grow(&s->sums, &s->capsums, s->nsums + 1, sizeof(*s->sums)) != 0)
        return 0;
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = run + 16 + (size_t)i * 16, *v;
        uint64_t start = 16 + (uint64_t)i * 16 + edr_le32(e + 4), ks = edr_le32(e + 8),
                 vs = edr_le32(e + 12);
        struct edr_kv kv;
        int64_t main, sub;
        int tomb, oom;
        struct lent *le;
        if ((edr_le32(e) & 1) || start > len || ks > len - start || vs > len - start - ks)
            goto leave;
        k = run + start;
        kl = (size_t)ks;
        v = k + ks;
        if ((pk != NULL && edr_keycmp(pk, pkl, k, kl) >= 0) ||
            check_rev_kv(k, kl, v, (size_t)vs, &kv, &scratch) != 0)
            goto leave;
        pk = k;
        pkl = kl;
        sum.crc = edr_crc32c(sum.crc, k, kl);
        sum.crc = edr_crc32c(sum.crc, v, (size_t)vs);
        sum.bytes += ks + vs;
        if (vs == 0) {
            sum.markers++; /* a bump-revision marker: no key */
            continue;
        }
        parse_rev(k, kl, &main, &sub, &tomb);
        le = lm_get(&s->lm, kv.key, kv.key_len, 1, &oom);
        if (le == NULL || le - s->lm.ents >= (ptrdiff_t)ENT_TOMB ||
            edr_grow(&s->ents, &s->capents, s->nents + 1, sizeof(*s->ents)) != 0) {
            s->nents = sum.ent_off;
            return -1;
        }
        s->ents[s->nents].ref = (uint32_t)(le - s->lm.ents) | (tomb ? ENT_TOMB : 0);
        s->ents[s->nents++].vlen = kv.value_len < UINT32_MAX ? (uint32_t)kv.value_len : UINT32_MAX;
    }
    sum.last_rev = (int64_t)edr_be64(k);
    sum.ent_n = s->nents - sum.ent_off;
    s->sums[s->nsums] = sum;
    *id = (uint32_t)s->nsums++;
    return 1;
leave:
    s->nents = sum.ent_off;
    return 0;
}

/* Swaps the scan's live-key map with *lm (the walk borrows it). */
static void
scan_take_map(struct edr_mvcc_scan *s, struct livemap *lm)
{
    struct livemap t = s->lm;

    s->lm = *lm;
    *lm = t;
}

static int
on_status_sum(void *ud, uint32_t id, uint32_t count)
{
    struct sctx *c = ud;
    const struct leafsum *sum = &c->scan->sums[id];

    c->crc = edr_crc32c_combine(c->crc, sum->crc, sum->bytes);
    c->st->total_keys += count;
    switch (c->cur) {
    case BK_KEYS:
        c->st->revision = sum->last_rev;
        c->st->bump_markers += sum->markers;
        for (size_t i = sum->ent_off; i < sum->ent_off + sum->ent_n; i++) {
            const struct sument *se = &c->scan->ents[i];
            struct lent *e = &c->lm.ents[se->ref & ~ENT_TOMB];
            e->dead = (se->ref & ENT_TOMB) != 0;
            if (!e->dead)
                e->vlen = se->vlen;
        }
        break;
    case BK_LEASE:
        c->st->leases += count;
        break;
    case BK_ALARM:
        c->st->alarms += count;
        break;
    case BK_MEMBERS: /* its values are needed: read the file instead */
        c->scan->members_summed = 1;
        edr_err_set(c->err, EDR_E_INTEGRITY, "members: summed up by the capture");
        return -1;
    default: /* meta, auth and cluster keys never look like revisions */
        break;
    }
    return 0;
}

edr_rc
edr_mvcc_scan_new(struct edr_mvcc_scan **out, struct edr_err *err)
{
    struct edr_mvcc_scan *s = calloc(1, sizeof(*s));

    *out = NULL;
    if (s == NULL ||
        (s->cap = edr_bolt_capture_new(NULL, 32, SCAN_RAW_CAP, scan_leaf, s)) == NULL) {
        free(s);
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    }
    *out = s;
    return EDR_OK;
}

struct edr_stream *
edr_mvcc_scan_stream(struct edr_mvcc_scan *s)
{
    return s->cap;
}

/* The status walk over the capture; *redo when it needs the file. */
static edr_rc
scan_walk(struct edr_mvcc_scan *s, int strict, struct edr_mvcc_status *st, int *redo,
          struct edr_err *err)
{
    struct edr_bolt *b = NULL;
    edr_rc rc;

    memset(st, 0, sizeof(*st));
    if ((rc = edr_bolt_open_capture(s->cap, "snapshot.db", &b, redo, err)) != EDR_OK)
        return rc;
    rc = status(b, st, strict, s, err);
    *redo = rc != EDR_OK && (edr_bolt_incomplete(b) || s->members_summed);
    edr_bolt_close(b);
    return rc;
}

edr_rc
edr_mvcc_scan_status(struct edr_mvcc_scan *s, struct edr_mvcc_status *st, int *redo,
                     struct edr_err *err)
{
    return scan_walk(s, 1, st, redo, err);
}

void
edr_mvcc_scan_free(struct edr_mvcc_scan *s)
{
    if (s == NULL)
        return;
    edr_stream_free(s->cap);
    lm_release(&s->lm);
    free(s->ents);
    free(s->sums);
    free(s);
}

/* ---- check ---- */

struct cctx {
    struct edr_err *err;
};

static int
on_check_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct cctx *c = ud;

    struct edr_kv kv;

    return check_rev_kv(k, kl, v, vl, &kv, c->err);
}

/* One entry of the key bucket: a valid revision key, and a KeyValue with a
 * key (or the empty value of a bump-revision marker). */
static int
check_rev_kv(const uint8_t *k, size_t kl, const uint8_t *v, size_t vl, struct edr_kv *kvp,
             struct edr_err *err)
{
    struct edr_kv kv;
    int64_t main, sub;
    int tomb;
    char rs[64];

    if (parse_rev(k, kl, &main, &sub, &tomb) != 0) {
        edr_err_set(err, EDR_E_INTEGRITY, "invalid revision key %s",
                    rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (vl == 0) {
        if (tomb) {
            edr_err_set(err, EDR_E_INTEGRITY, "revision %s: empty tombstone",
                        rev_str(k, kl, rs, sizeof(rs)));
            return -1;
        }
        return 0; /* bump-revision marker */
    }
    if (edr_mvcc_kv_decode(v, vl, &kv, err) != EDR_OK) {
        edr_err_prefix(err, "revision %s: invalid KeyValue", rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (kv.key_len == 0) {
        edr_err_set(err, EDR_E_INTEGRITY, "revision %s: KeyValue without a key",
                    rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    *kvp = kv;
    return 0;
}

edr_rc
edr_mvcc_check(struct edr_bolt *b, struct edr_err *err)
{
    struct cctx c = {err};
    uint8_t *v = NULL;
    size_t vl;
    edr_rc rc;

    edr_err_clear(err);
    rc = edr_bolt_foreach(b, BK_KEY, 3, on_check_kv, &c, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_INTEGRITY, "bucket 'key' not found");
    if (rc != EDR_OK)
        return rc;
    rc = edr_bolt_get(b, BK_META, 4, "consistent_index", 16, &v, &vl, err);
    if (rc == EDR_E_NOTFOUND)
        return edr_err_set(err, EDR_E_INTEGRITY, "meta: consistent_index not found");
    if (rc != EDR_OK)
        return rc;
    free(v);
    if (vl != 8)
        return edr_err_set(err, EDR_E_INTEGRITY, "meta: consistent_index has %zu bytes, not 8", vl);
    return EDR_OK;
}

/* ---- live keys ---- */

struct lctx {
    struct livemap lm;
    const uint8_t *prefix;
    size_t plen;
    int64_t rev;
    int64_t maxmain;
    int beyond; /* saw a revision above rev */
    struct edr_err *err;
};

static int
on_live_kv(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct lctx *c = ud;
    struct edr_kv kv;
    int64_t main, sub;
    int tomb;
    char rs[64];

    if (parse_rev(k, kl, &main, &sub, &tomb) != 0) {
        edr_err_set(c->err, EDR_E_INTEGRITY, "invalid revision key %s",
                    rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (c->rev > 0 && main > c->rev) {
        c->beyond = 1;
        return 1;
    }
    c->maxmain = main;
    if (vl == 0 && !tomb)
        return 0;
    if (edr_mvcc_kv_decode(v, vl, &kv, c->err) != EDR_OK) {
        edr_err_prefix(c->err, "revision %s: invalid KeyValue", rev_str(k, kl, rs, sizeof(rs)));
        return -1;
    }
    if (kv.key_len < c->plen || (c->plen > 0 && memcmp(kv.key, c->prefix, c->plen) != 0))
        return 0;
    if (lm_apply(&c->lm, &kv, main, sub, tomb) != 0) {
        edr_err_set(c->err, EDR_E_INTERNAL, "out of memory");
        return -1;
    }
    return 0;
}

static edr_rc
read_rev_meta(struct edr_bolt *b, const char *name, int64_t *rev, struct edr_err *err)
{
    uint8_t *v = NULL;
    size_t vl;
    edr_rc rc;

    *rev = 0;
    rc = edr_bolt_get(b, BK_META, 4, name, strlen(name), &v, &vl, err);
    if (rc == EDR_E_NOTFOUND) {
        edr_err_clear(err);
        return EDR_OK;
    }
    if (rc != EDR_OK)
        return rc;
    if (vl >= 8)
        *rev = (int64_t)edr_be64(v);
    free(v);
    return EDR_OK;
}

/* Scans the `key` bucket up to rev into c->lm. */
static edr_rc
scan_live(struct edr_bolt *b, struct lctx *c, struct edr_err *err)
{
    int64_t compacted;
    edr_rc rc;

    if ((rc = read_rev_meta(b, "finishedCompactRev", &compacted, err)) != EDR_OK)
        return rc;
    if (c->rev > 0 && c->rev < compacted)
        return edr_err_set(err, EDR_E_NOTFOUND, "revision %" PRId64 " is compacted", c->rev);
    c->err = err;
    edr_err_clear(err);
    rc = edr_bolt_foreach(b, BK_KEY, 3, on_live_kv, c, err);
    if (rc != EDR_OK && rc != EDR_E_NOTFOUND)
        return rc;
    edr_err_clear(err);
    if (c->rev > 0 && !c->beyond && c->rev > c->maxmain)
        return edr_err_set(err, EDR_E_NOTFOUND,
                           "revision %" PRId64 " is a future revision (current %" PRId64 ")",
                           c->rev, c->maxmain);
    return EDR_OK;
}

struct sitem {
    const uint8_t *k;
    size_t kl;
    const struct lent *e;
};

static int
sitem_cmp(const void *a, const void *b)
{
    const struct sitem *x = a, *y = b;
    size_t n = x->kl < y->kl ? x->kl : y->kl;
    int c = n ? memcmp(x->k, y->k, n) : 0;

    if (c != 0)
        return c;
    return x->kl < y->kl ? -1 : x->kl > y->kl;
}

/* Live entries sorted by key; *items malloc'ed. */
static edr_rc
sorted_live(struct livemap *lm, struct sitem **items, size_t *n, struct edr_err *err)
{
    size_t m = 0;

    *items = malloc((lm->n ? lm->n : 1) * sizeof(**items));
    if (*items == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < lm->n; i++) {
        if (lm->ents[i].dead)
            continue;
        (*items)[m].k = lm->arena.data + lm->ents[i].koff;
        (*items)[m].kl = lm->ents[i].klen;
        (*items)[m].e = &lm->ents[i];
        m++;
    }
    qsort(*items, m, sizeof(**items), sitem_cmp);
    *n = m;
    return EDR_OK;
}

edr_rc
edr_mvcc_foreach_live(struct edr_bolt *b, const uint8_t *prefix, size_t prefix_len, int64_t rev,
                      int (*cb)(void *ud, const struct edr_kv *kv), void *ud, struct edr_err *err)
{
    struct lctx c;
    struct sitem *items = NULL;
    size_t n = 0;
    uint8_t *v = NULL;
    edr_rc rc;

    memset(&c, 0, sizeof(c));
    c.prefix = prefix;
    c.plen = prefix_len;
    c.rev = rev;
    if ((rc = scan_live(b, &c, err)) != EDR_OK)
        goto out;
    if ((rc = sorted_live(&c.lm, &items, &n, err)) != EDR_OK)
        goto out;
    for (size_t i = 0; i < n; i++) {
        uint8_t rk[REV_LEN];
        struct edr_kv kv;
        size_t vl;
        int r;

        put_be64(rk, (uint64_t)items[i].e->main);
        rk[8] = '_';
        put_be64(rk + 9, (uint64_t)items[i].e->sub);
        free(v);
        v = NULL;
        if ((rc = edr_bolt_get(b, BK_KEY, 3, rk, sizeof(rk), &v, &vl, err)) != EDR_OK)
            goto out;
        if ((rc = edr_mvcc_kv_decode(v, vl, &kv, err)) != EDR_OK)
            goto out;
        edr_err_clear(err);
        r = cb(ud, &kv);
        if (r < 0) {
            rc = err != NULL && err->code != EDR_OK
                     ? err->code
                     : edr_err_set(err, EDR_E_INTERNAL, "aborted by the callback");
            goto out;
        }
        if (r > 0)
            break;
    }
out:
    free(v);
    free(items);
    lm_release(&c.lm);
    return rc;
}

/* ---- Kubernetes ---- */

struct kitem {
    const uint8_t *s;
    size_t len;
    uint64_t bytes;
};

static int
kitem_cmp(const void *a, const void *b)
{
    const struct kitem *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->s, y->s, n) : 0;

    if (c != 0)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

/* Sorts items and merges equal names into out (malloc'ed). */
static edr_rc
merge_counts(struct kitem *it, size_t n, struct edr_k8s_count **out, size_t *nout,
             struct edr_err *err)
{
    size_t m = 0;

    *out = NULL;
    *nout = 0;
    if (n == 0)
        return EDR_OK;
    qsort(it, n, sizeof(*it), kitem_cmp);
    *out = calloc(n, sizeof(**out));
    if (*out == NULL)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || kitem_cmp(&it[i - 1], &it[i]) != 0) {
            (*out)[m].name = malloc(it[i].len + 1);
            if ((*out)[m].name == NULL) {
                *nout = m;
                return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
            }
            memcpy((*out)[m].name, it[i].s, it[i].len);
            (*out)[m].name[it[i].len] = '\0';
            m++;
        }
        (*out)[m - 1].count++;
        (*out)[m - 1].bytes += it[i].bytes;
    }
    *nout = m;
    return EDR_OK;
}

/* Splits a key after "/registry/" into resource and namespace. */
static void
k8s_split(const uint8_t *k, size_t kl, struct kitem *res, struct kitem *ns)
{
    const uint8_t *p = k, *end = k + kl, *s1e, *s2e, *rest;
    size_t nseg = 0;

    s1e = memchr(p, '/', kl);
    if (s1e == NULL)
        s1e = end;
    res->s = p;
    res->len = (size_t)(s1e - p);
    rest = s1e < end ? s1e + 1 : end;
    if (rest < end) {
        s2e = memchr(rest, '/', (size_t)(end - rest));
        if (s2e == NULL)
            s2e = end;
        if (memchr(p, '.', res->len) != NULL ||
            (name_is(p, res->len, "services") &&
             (name_is(rest, (size_t)(s2e - rest), "specs") ||
              name_is(rest, (size_t)(s2e - rest), "endpoints")))) {
            res->len = (size_t)(s2e - p);
            rest = s2e < end ? s2e + 1 : end;
        }
    }
    ns->s = NULL;
    ns->len = 0;
    if (rest < end) {
        nseg = 1;
        for (const uint8_t *q = rest; q < end; q++)
            nseg += *q == '/';
    }
    if (nseg >= 2) {
        const uint8_t *e = memchr(rest, '/', (size_t)(end - rest));
        ns->s = rest;
        ns->len = (size_t)(e - rest);
    }
}

static const char K8S_PREFIX[] = "/registry/";
#define K8S_PLEN (sizeof(K8S_PREFIX) - 1)

/* The Kubernetes view of the live keys of lm that are under /registry/. */
static edr_rc
k8s_from_map(const struct livemap *lm, struct edr_k8s_stats **out, struct edr_err *err)
{
    struct edr_k8s_stats *s = NULL;
    struct kitem *res = NULL, *nss = NULL;
    size_t nres = 0, nns = 0;
    edr_rc rc = EDR_OK;

    *out = NULL;
    s = calloc(1, sizeof(*s));
    res = malloc((lm->n ? lm->n : 1) * sizeof(*res));
    nss = malloc((lm->n ? lm->n : 1) * sizeof(*nss));
    if (s == NULL || res == NULL || nss == NULL) {
        rc = edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < lm->n; i++) {
        const struct lent *e = &lm->ents[i];
        const uint8_t *k = lm->arena.data + e->koff;
        struct kitem r, n;
        if (e->dead || e->klen < K8S_PLEN || memcmp(k, K8S_PREFIX, K8S_PLEN) != 0)
            continue;
        k8s_split(k + K8S_PLEN, e->klen - K8S_PLEN, &r, &n);
        r.bytes = e->vlen;
        res[nres++] = r;
        if (n.s != NULL) {
            n.bytes = e->vlen;
            nss[nns++] = n;
        }
        s->objects++;
        s->bytes += e->vlen;
    }
    if ((rc = merge_counts(res, nres, &s->resources, &s->n_resources, err)) != EDR_OK)
        goto out;
    if ((rc = merge_counts(nss, nns, &s->namespaces, &s->n_namespaces, err)) != EDR_OK)
        goto out;
    *out = s;
    s = NULL;
out:
    edr_mvcc_k8s_stats_free(s);
    free(res);
    free(nss);
    return rc;
}

edr_rc
edr_mvcc_k8s_stats(struct edr_bolt *b, struct edr_k8s_stats **out, struct edr_err *err)
{
    struct lctx c;
    edr_rc rc;

    *out = NULL;
    memset(&c, 0, sizeof(c));
    c.prefix = (const uint8_t *)K8S_PREFIX;
    c.plen = K8S_PLEN;
    if ((rc = scan_live(b, &c, err)) == EDR_OK)
        rc = k8s_from_map(&c.lm, out, err);
    lm_release(&c.lm);
    return rc;
}

edr_rc
edr_mvcc_scan_inspect(struct edr_mvcc_scan *s, struct edr_mvcc_status *st,
                      struct edr_k8s_stats **k8s, int *redo, struct edr_err *err)
{
    edr_rc rc;

    *k8s = NULL;
    if ((rc = scan_walk(s, 0, st, redo, err)) != EDR_OK)
        return rc;
    if (s->keys_lenient) {
        *redo = 1;
        return edr_err_set(err, EDR_E_INTEGRITY, "'key' pairs the Kubernetes view would refuse");
    }
    return k8s_from_map(&s->lm, k8s, err);
}

void
edr_mvcc_k8s_stats_free(struct edr_k8s_stats *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_resources; i++)
        free(s->resources[i].name);
    for (size_t i = 0; i < s->n_namespaces; i++)
        free(s->namespaces[i].name);
    free(s->resources);
    free(s->namespaces);
    free(s);
}
