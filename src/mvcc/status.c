/*
 * What `etcdctl snapshot status` prints (hash, revision, total keys, size)
 * and more, in one pass over the file: the hash is CRC-32C over every bucket
 * name, key and value in tree order, the live keys come from the live-key
 * map. Over a capture (summary.c) the summed-up leaves arrive already
 * hashed and counted (on_status_sum).
 */
#include "mvcc/intern.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"
#include "common/hash.h"
#include "common/buf.h"

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

static int
on_status_bucket(void *ud, const uint8_t *name, size_t nl)
{
    struct sctx *c = ud;

    c->crc = edr_crc32c(c->crc, name, nl);
    if (name_is(name, nl, EDR_MVCC_BUCKET_KEY))
        c->saw_key = 1;
    c->cur = name_is(name, nl, EDR_MVCC_BUCKET_KEY)    ? BK_KEYS
             : name_is(name, nl, EDR_MVCC_BUCKET_META) ? BK_METAS
             : name_is(name, nl, "lease")              ? BK_LEASE
             : name_is(name, nl, "alarm")              ? BK_ALARM
             : name_is(name, nl, "auth")               ? BK_AUTH
             : name_is(name, nl, "cluster")            ? BK_CLUSTER
             : name_is(name, nl, "members")            ? BK_MEMBERS
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
        if (c->strict && edr_mvcc_check_rev_kv(k, kl, v, vl, &kv, c->err) != 0)
            return -1;
        if (vl == 0 && kl == 17)
            st->bump_markers++;
        if (edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb) != 0 || vl == 0 ||
            edr_mvcc_kv_decode(v, vl, &kv, NULL) != EDR_OK) {
            /* status is lenient like etcdctl; edr_mvcc_check reports these,
             * and edr_mvcc_k8s_stats refuses all but the empty values */
            if (c->scan != NULL && (vl > 0 || edr_mvcc_parse_rev(k, kl, &main, &sub, &tomb) != 0))
                c->scan->keys_lenient = 1;
            break;
        }
        if (edr_mvcc_livemap_apply(&c->lm, &kv, main, sub, tomb) != 0) {
            edr_err_set(c->err, EDR_E_INTERNAL, "out of memory");
            return -1;
        }
        if (c->scan != NULL && c->scan->classify != NULL && !tomb) {
            /* a pair the capture kept whole: classed here, in tree order */
            int oom;
            struct live_ent *e = edr_mvcc_livemap_get(&c->lm, kv.key, kv.key_len, 0, &oom);
            if (e != NULL)
                e->cls = c->scan->classify(c->scan->classify_ud, &kv);
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

/* A summed-up leaf (summary.c): what on_status_kv would have made of its
 * pairs. */
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
            struct live_ent *e = &c->lm.ents[se->ref & ~EDR_MVCC_ENT_TOMB];
            e->dead = (se->ref & EDR_MVCC_ENT_TOMB) != 0;
            if (!e->dead)
                e->vlen = se->vlen;
            if (!e->dead && c->scan->cls != NULL)
                e->cls = c->scan->cls[i];
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

/* scan: the walk is over a capture, whose live-key map it continues */
edr_rc
edr_mvcc_status_walk(struct edr_bolt *b, struct edr_mvcc_status *st, int strict,
                     struct edr_mvcc_scan *scan, struct edr_err *err)
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
        edr_mvcc_scan_take_map(scan, &c.lm);
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
        edr_mvcc_scan_take_map(scan, &c.lm); /* back: edr_mvcc_scan_inspect reads it */
    edr_mvcc_livemap_release(&c.lm);
    return rc;
}

edr_rc
edr_mvcc_status(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err)
{
    return edr_mvcc_status_walk(b, st, 0, NULL, err);
}

edr_rc
edr_mvcc_status_checked(struct edr_bolt *b, struct edr_mvcc_status *st, struct edr_err *err)
{
    return edr_mvcc_status_walk(b, st, 1, NULL, err);
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
