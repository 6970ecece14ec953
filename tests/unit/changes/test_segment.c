/*
 * Unit tests of src/changes: the record format (written, then parsed back in
 * pieces of 1, 7 and random sizes; bad input refused), the segment manifest
 * (round trip, what the parser refuses), publishing and reading segments in
 * a local repository (plain and encrypted; tampered data, an edited manifest
 * and a gap inside are named), chains and the restore plan, and the replay
 * into a bbolt image (revision keys with sub-revisions, tombstones as etcd
 * writes them, leases).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bolt/bolt.h"
#include "changes/replay.h"
#include "changes/segment.h"
#include "common/bytes.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "mvcc/mvcc.h"
#include "repo/repo.h"
#include "../support.h"

static char *root;

static int
setup(void **state)
{
    (void)state;
    edr_log_setup(EDR_LOG_ERROR, 0);
    root = tu_tmpdir();
    return root == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
    (void)state;
    tu_rmrf(root);
    return 0;
}

/* A KeyValue as etcd sends it in a watch event. */
static size_t
kv_bytes(uint8_t *out, size_t cap, const char *key, const char *val, int64_t create, int64_t mod,
         int64_t version, int64_t lease)
{
    struct edr_kv kv = {(const uint8_t *)key,
                        strlen(key),
                        (const uint8_t *)val,
                        val ? strlen(val) : 0,
                        create,
                        mod,
                        version,
                        lease};

    return edr_mvcc_kv_encode(&kv, out, cap);
}

/* ---- records ---------------------------------------------------------- */

struct seen {
    int n;
    int64_t rev[32];
    int type[32];
    size_t kv_len[32];
    int64_t lease_id[32], lease_ttl[32];
};

static edr_rc
collect(void *ud, const struct edr_seg_record *r, struct edr_err *err)
{
    struct seen *s = ud;

    (void)err;
    if (s->n >= 32)
        return EDR_OK;
    s->rev[s->n] = r->rev;
    s->type[s->n] = r->type;
    s->kv_len[s->n] = r->kv_len;
    s->lease_id[s->n] = r->lease_id;
    s->lease_ttl[s->n] = r->lease_ttl;
    s->n++;
    return EDR_OK;
}

static void
sample_records(struct edr_buf *b)
{
    uint8_t kv[256];
    size_t n;

    memset(b, 0, sizeof(*b));
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 3, 3, 1, 0);
    assert_int_equal(edr_seg_put_event(b, EDR_SEG_PUT, 3, 1000, kv, n), 0);
    n = kv_bytes(kv, sizeof(kv), "/b", "2", 4, 4, 1, 0x77);
    assert_int_equal(edr_seg_put_event(b, EDR_SEG_PUT, 4, 1001, kv, n), 0);
    n = kv_bytes(kv, sizeof(kv), "/a", NULL, 0, 4, 0, 0);
    assert_int_equal(edr_seg_put_event(b, EDR_SEG_DEL, 4, 1001, kv, n), 0);
    assert_int_equal(edr_seg_put_lease(b, 4, 0x77, 600), 0);
    n = kv_bytes(kv, sizeof(kv), "/c", "3", 5, 5, 1, 0);
    assert_int_equal(edr_seg_put_event(b, EDR_SEG_PUT, 5, 1500, kv, n), 0);
}

static void
test_records_roundtrip(void **state)
{
    static const size_t splits[] = {1, 7, 0, 100000};
    struct edr_buf b;
    struct edr_err err;

    (void)state;
    sample_records(&b);
    assert_memory_equal(b.data, EDR_SEG_MAGIC, EDR_SEG_MAGIC_LEN);
    for (size_t i = 0; i < sizeof(splits) / sizeof(splits[0]); i++) {
        struct seen s = {0};
        struct edr_stream *p = NULL;

        assert_int_equal(edr_seg_parser_new(collect, &s, "t", &p, &err), EDR_OK);
        assert_int_equal(tu_feed_finish(p, b.data, b.len, splits[i], i + 1, &err), EDR_OK);
        edr_stream_free(p);
        assert_int_equal(s.n, 5);
        assert_int_equal(s.rev[0], 3);
        assert_int_equal(s.rev[2], 4);
        assert_int_equal(s.type[2], EDR_SEG_DEL);
        assert_int_equal(s.type[3], EDR_SEG_LEASE);
        assert_int_equal(s.lease_id[3], 0x77);
        assert_int_equal(s.lease_ttl[3], 600);
        assert_int_equal(s.rev[4], 5);
        assert_true(s.kv_len[0] > 0);
    }
    edr_buf_release(&b);
}

static edr_rc
parse_all(const void *buf, size_t len, struct edr_err *err)
{
    struct edr_stream *p = NULL;
    edr_rc rc;

    assert_int_equal(edr_seg_parser_new(NULL, NULL, "t", &p, err), EDR_OK);
    rc = tu_feed_finish(p, buf, len, 3, 9, err);
    edr_stream_free(p);
    return rc;
}

static void
test_records_refused(void **state)
{
    struct edr_buf b, c = {0};
    struct edr_err err;
    uint8_t kv[64];
    size_t n;

    (void)state;
    sample_records(&b);
    /* truncated in the last record */
    assert_int_equal(parse_all(b.data, b.len - 1, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "truncated record"));
    /* bad magic */
    b.data[0] = 'X';
    assert_int_equal(parse_all(b.data, b.len, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "bad magic"));
    /* empty */
    assert_int_equal(parse_all("", 0, &err), EDR_E_INTEGRITY);
    /* an event going back in revision */
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 9, 9, 1, 0);
    assert_int_equal(edr_seg_put_event(&c, EDR_SEG_PUT, 9, 1, kv, n), 0);
    assert_int_equal(edr_seg_put_event(&c, EDR_SEG_PUT, 8, 1, kv, n), 0);
    assert_int_equal(parse_all(c.data, c.len, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "revision 8 after 9"));
    /* an unknown record type */
    c.len = 0;
    assert_int_equal(edr_seg_put_event(&c, EDR_SEG_PUT, 9, 1, kv, n), 0);
    c.data[EDR_SEG_MAGIC_LEN] = 9;
    assert_int_equal(parse_all(c.data, c.len, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "unknown record type 9"));
    edr_buf_release(&b);
    edr_buf_release(&c);
}

/* ---- manifest --------------------------------------------------------- */

static void
fill_segment(struct edr_segment *s, int64_t first, int64_t last)
{
    memset(s, 0, sizeof(*s));
    s->format = EDR_SEG_FORMAT;
    snprintf(s->cluster, sizeof(s->cluster), "prod");
    s->first_revision = first;
    s->last_revision = last;
    s->first_time_ms = 1000 * first;
    s->last_time_ms = 1000 * last;
    s->events = (uint64_t)(last - first + 1);
    memset(s->records_sha256, 'a', 64);
    memset(s->stored_sha256, 'b', 64);
    s->created = 1796000000;
    snprintf(s->tool_version, sizeof(s->tool_version), "0.1.0");
    s->compress_level = 2;
}

static void
test_manifest_roundtrip(void **state)
{
    struct edr_segment s, t;
    struct edr_err err;
    char *json = NULL;

    (void)state;
    fill_segment(&s, 10, 20);
    memset(s.prev_sha256, 'c', 64);
    s.cluster_id = 0x1234abcd;
    s.encrypted = 1;
    s.nrecipients = 1;
    snprintf(s.recipients[0], 17, "0123456789abcdef");
    assert_int_equal(edr_segment_to_json(&s, &json, &err), EDR_OK);
    assert_int_equal(edr_segment_from_json(json, strlen(json), "m", &t, &err), EDR_OK);
    assert_memory_equal(&s, &t, sizeof(s));
    free(json);
    /* what the writer cannot write, the parser refuses */
    s.records_sha256[3] = 'Z';
    assert_int_not_equal(edr_segment_to_json(&s, &json, &err), EDR_OK);
    fill_segment(&s, 20, 10);
    assert_int_not_equal(edr_segment_to_json(&s, &json, &err), EDR_OK);
    assert_int_equal(edr_segment_from_json("{\"kind\":\"backup\"}", 17, "m", &t, &err),
                     EDR_E_INTEGRITY);
    assert_int_equal(edr_segment_from_json("[1", 2, "m", &t, &err), EDR_E_INTEGRITY);
}

/* ---- publish and read -------------------------------------------------- */

static struct edr_repo *
open_repo(const char *sub)
{
    struct edr_storage_opts so = {0};
    struct edr_repo *r = NULL;
    struct edr_err err;
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/%s", root, sub);
    if (edr_repo_open(dir, &so, "prod", 1, &r, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    return r;
}

static void
publish(struct edr_repo *r, const struct edr_pubkey *pk, size_t npk, struct edr_segment *s,
        int64_t first, int64_t last, const char *prev)
{
    struct edr_buf b = {0};
    struct edr_err err;
    uint8_t kv[64];

    for (int64_t rev = first; rev <= last; rev++) {
        char key[32];
        snprintf(key, sizeof(key), "/k%lld", (long long)rev);
        size_t n = kv_bytes(kv, sizeof(kv), key, "v", rev, rev, 1, 0);
        assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, rev, 1000 * rev, kv, n), 0);
    }
    memset(s, 0, sizeof(*s));
    s->first_revision = first;
    s->last_revision = last;
    s->first_time_ms = 1000 * first;
    s->last_time_ms = 1000 * last;
    s->events = (uint64_t)(last - first + 1);
    snprintf(s->prev_sha256, sizeof(s->prev_sha256), "%s", prev);
    if (edr_segment_publish(r, pk, npk, 1, s, b.data, b.len, &err) != EDR_OK)
        fail_msg("%s", err.msg);
    edr_buf_release(&b);
}

static void
test_publish_read(void **state)
{
    struct edr_repo *r = open_repo("pr");
    struct edr_pubkey pk;
    struct edr_identity *id = NULL;
    struct edr_segment s1, s2, *list = NULL;
    struct edr_seg_problem *probs = NULL;
    struct edr_chain *chains = NULL;
    size_t n = 0, np = 0, nc = 0;
    struct edr_err err;
    struct seen seen = {0};
    char path[700], kpath[600];

    (void)state;
    assert_int_equal(edr_crypto_init(&err), EDR_OK);
    snprintf(kpath, sizeof(kpath), "%s/k", root);
    assert_int_equal(edr_keygen(kpath, &pk, &err), EDR_OK);
    snprintf(path, sizeof(path), "%s.key", kpath);
    assert_int_equal(edr_identity_load(path, &id, &err), EDR_OK);

    publish(r, &pk, 1, &s1, 3, 5, "");
    publish(r, &pk, 1, &s2, 6, 9, s1.records_sha256);
    assert_int_equal(edr_segment_read(r, &s2, id, collect, &seen, &err), EDR_OK);
    assert_int_equal(seen.n, 4);
    assert_int_equal(seen.rev[3], 9);
    /* without the key: refused */
    assert_int_not_equal(edr_segment_read(r, &s2, NULL, NULL, NULL, &err), EDR_OK);

    assert_int_equal(edr_segment_list(r, &list, &n, &probs, &np, &err), EDR_OK);
    assert_int_equal(n, 2);
    assert_int_equal(np, 0);
    assert_int_equal(edr_segment_chains(list, n, &chains, &nc, &err), EDR_OK);
    assert_int_equal(nc, 1);
    assert_int_equal(chains[0].from_rev, 2);
    assert_int_equal(chains[0].to_rev, 9);
    free(chains);

    /* an edited outer manifest (another link) is caught by the copy inside */
    s2.prev_sha256[0] = s2.prev_sha256[0] == 'a' ? 'b' : 'a';
    assert_int_equal(edr_segment_read(r, &s2, id, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "does not match the one beside it"));
    /* and it breaks the chain */
    list[1] = s2;
    assert_int_equal(edr_segment_chains(list, n, &chains, &nc, &err), EDR_OK);
    assert_int_equal(nc, 2);
    free(chains);

    /* flipped stored bytes */
    snprintf(path, sizeof(path), "%s/pr/prod/changes/00000000000000000003-00000000000000000005.edr",
             root);
    {
        size_t len;
        uint8_t *d = tu_read_file(path, &len);
        assert_non_null(d);
        d[len / 2] ^= 1;
        assert_int_equal(tu_write_file(path, d, len), 0);
        free(d);
    }
    assert_int_equal(edr_segment_read(r, &s1, id, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "00000000000000000003-00000000000000000005"));

    /* a data file without its manifest is a problem, not a segment */
    snprintf(path, sizeof(path),
             "%s/pr/prod/changes/00000000000000000006-00000000000000000009.json", root);
    assert_int_equal(unlink(path), 0);
    free(list);
    free(probs);
    assert_int_equal(edr_segment_list(r, &list, &n, &probs, &np, &err), EDR_OK);
    assert_int_equal(n, 1);
    assert_int_equal(np, 1);
    assert_non_null(strstr(probs[0].msg, "without a manifest"));
    free(list);
    free(probs);
    edr_identity_free(id);
    edr_repo_free(r);
}

static void
test_gap_inside(void **state)
{
    struct edr_repo *r = open_repo("gap");
    struct edr_buf b = {0};
    struct edr_segment s;
    struct edr_err err;
    uint8_t kv[64];
    size_t n;

    (void)state;
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 3, 3, 1, 0);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, 3, 1, kv, n), 0);
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 3, 5, 2, 0);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, 5, 1, kv, n), 0);
    memset(&s, 0, sizeof(s));
    s.first_revision = 3;
    s.last_revision = 5;
    s.first_time_ms = s.last_time_ms = 1;
    s.events = 2;
    assert_int_equal(edr_segment_publish(r, NULL, 0, 1, &s, b.data, b.len, &err), EDR_OK);
    assert_int_equal(edr_segment_read(r, &s, NULL, NULL, NULL, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "revisions 4..4 are missing"));
    /* revisions before a segment's first event may be empty (etcd's revision 1) */
    edr_buf_reset(&b);
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 2, 2, 1, 0);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, 2, 1, kv, n), 0);
    memset(&s, 0, sizeof(s));
    s.first_revision = 1;
    s.last_revision = 2;
    s.first_time_ms = s.last_time_ms = 1;
    s.events = 1;
    assert_int_equal(edr_segment_publish(r, NULL, 0, 1, &s, b.data, b.len, &err), EDR_OK);
    assert_int_equal(edr_segment_read(r, &s, NULL, NULL, NULL, &err), EDR_OK);
    edr_buf_release(&b);
    edr_repo_free(r);
}

/* ---- plan -------------------------------------------------------------- */

static void
test_plan(void **state)
{
    struct edr_manifest b[2];
    struct edr_segment s[3];
    struct edr_err err;
    size_t bi, first, last;

    (void)state;
    memset(b, 0, sizeof(b));
    b[0].revision = 10;
    snprintf(b[0].id, sizeof(b[0].id), "b10");
    b[1].revision = 25;
    snprintf(b[1].id, sizeof(b[1].id), "b25");
    fill_segment(&s[0], 11, 20);
    fill_segment(&s[1], 21, 30);
    memcpy(s[1].prev_sha256, s[0].records_sha256, 65);
    s[1].records_sha256[0] = 'd';
    fill_segment(&s[2], 31, 40);
    memcpy(s[2].prev_sha256, s[1].records_sha256, 65);
    /* the newest backup at or below the target that the changes continue */
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 35, &bi, &first, &last, &err), EDR_OK);
    assert_int_equal(bi, 1);
    assert_int_equal(first, 1);
    assert_int_equal(last, 2);
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 15, &bi, &first, &last, &err), EDR_OK);
    assert_int_equal(bi, 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);
    /* a backup at the target needs no changes */
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 25, &bi, &first, &last, &err), EDR_OK);
    assert_int_equal(bi, 1);
    assert_true(first > last);
    /* beyond the changes, or with a broken link: not recoverable */
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 41, &bi, &first, &last, &err), EDR_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "revision 41 is not recoverable"));
    assert_non_null(strstr(err.msg, "backups at revisions 10..25, changes up to 40"));
    s[2].prev_sha256[0] = 'f';
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 35, &bi, &first, &last, &err), EDR_E_NOTFOUND);
    assert_int_equal(edr_replay_plan(b, 2, s, 3, 5, &bi, &first, &last, &err), EDR_E_NOTFOUND);
}

/* A backup of a cluster never written holds no key revision (revision 0):
 * it is the state at revision 1, so changes that start at 2 continue it. */
static void
test_plan_empty_backup(void **state)
{
    struct edr_manifest b[1];
    struct edr_segment s[1];
    struct edr_err err;
    size_t bi, first, last;

    (void)state;
    memset(b, 0, sizeof(b));
    snprintf(b[0].id, sizeof(b[0].id), "b0");
    fill_segment(&s[0], 2, 9);
    assert_int_equal(edr_replay_plan(b, 1, s, 1, 5, &bi, &first, &last, &err), EDR_OK);
    assert_int_equal(bi, 0);
    assert_int_equal(first, 0);
    assert_int_equal(last, 0);
    assert_int_equal(edr_replay_plan(b, 1, s, 1, 1, &bi, &first, &last, &err), EDR_OK);
    assert_true(first > last);
    fill_segment(&s[0], 3, 9);
    assert_int_equal(edr_replay_plan(b, 1, s, 1, 5, &bi, &first, &last, &err), EDR_E_NOTFOUND);
}

/* ---- replay into a db -------------------------------------------------- */

struct pair {
    uint8_t k[32], v[64];
    size_t kl, vl;
};

struct dump {
    struct pair p[16];
    int n;
};

static int
dump_cb(void *ud, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
    struct dump *d = ud;

    if (d->n < 16 && kl <= 32 && vl <= 64) {
        memcpy(d->p[d->n].k, k, kl);
        memcpy(d->p[d->n].v, v, vl);
        d->p[d->n].kl = kl;
        d->p[d->n].vl = vl;
        d->n++;
    }
    return 0;
}

/* Rewrite src into dst with segment s replayed from revision 2 up to `to`. */
static edr_rc
replay_to(struct edr_repo *r, const struct edr_segment *s, const char *src,
          const struct edr_restore_cluster *cl, const char *dst, int64_t to, struct edr_replay *rp,
          struct edr_err *err)
{
    struct edr_restore_db_opts o = {0};

    edr_replay_release(rp);
    memset(rp, 0, sizeof(*rp));
    rp->repo = r;
    rp->segs = s;
    rp->from_rev = 2;
    rp->to_rev = to;
    o.append_keys = edr_replay_append_keys;
    o.lease_entries = edr_replay_lease_entries;
    o.replay_ud = rp;
    o.replay_to = to;
    return edr_restore_write_db(src, cl, &o, dst, err);
}

static void
test_replay(void **state)
{
    struct edr_repo *r = open_repo("rp");
    struct edr_restore_cluster *cl = NULL;
    struct edr_bolt_writer *w = NULL;
    struct edr_bolt *db = NULL;
    struct edr_replay rp;
    struct edr_buf b = {0};
    struct edr_segment s;
    struct edr_err err;
    struct dump d = {0};
    uint8_t kv[64], key[18], want[64];
    char src[600], dst[600];
    size_t n;

    (void)state;
    /* the backup: one put at revision 2 */
    snprintf(src, sizeof(src), "%s/src.db", root);
    snprintf(dst, sizeof(dst), "%s/dst.db", root);
    assert_int_equal(edr_bolt_writer_new(src, 4096, &w, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_bucket(w, "key", 3, &err), EDR_OK);
    edr_put_be64(key, 2);
    key[8] = '_';
    edr_put_be64(key + 9, 0);
    n = kv_bytes(kv, sizeof(kv), "/a", "1", 2, 2, 1, 0);
    assert_int_equal(edr_bolt_writer_put(w, key, 17, kv, n, &err), EDR_OK);
    /* and a lease of 3600 s that a replayed put uses again */
    assert_int_equal(edr_bolt_writer_bucket(w, "lease", 5, &err), EDR_OK);
    edr_put_be64(key, 0x66);
    assert_int_equal(edr_bolt_writer_put(w, key, 8, "\x08\x66\x10\x90\x1c", 5, &err), EDR_OK);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    /* the changes: revision 3 overwrites /a with a lease and puts /b, 4 deletes both */
    n = kv_bytes(kv, sizeof(kv), "/a", "2", 2, 3, 2, 0x55);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, 3, 1, kv, n), 0);
    n = kv_bytes(kv, sizeof(kv), "/b", "x", 3, 3, 1, 0x66);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_PUT, 3, 1, kv, n), 0);
    assert_int_equal(edr_seg_put_lease(&b, 3, 0x55, 120), 0);
    n = kv_bytes(kv, sizeof(kv), "/a", NULL, 0, 4, 0, 0);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_DEL, 4, 2, kv, n), 0);
    n = kv_bytes(kv, sizeof(kv), "/b", NULL, 0, 4, 0, 0);
    assert_int_equal(edr_seg_put_event(&b, EDR_SEG_DEL, 4, 2, kv, n), 0);
    memset(&s, 0, sizeof(s));
    s.first_revision = 3;
    s.last_revision = 4;
    s.first_time_ms = 1;
    s.last_time_ms = 2;
    s.events = 4;
    s.leases = 1;
    assert_int_equal(edr_segment_publish(r, NULL, 0, 1, &s, b.data, b.len, &err), EDR_OK);
    edr_buf_release(&b);

    assert_int_equal(edr_restore_cluster_parse("x=http://127.0.0.1:2380", "t", &cl, &err), EDR_OK);
    memset(&rp, 0, sizeof(rp));
    assert_int_equal(replay_to(r, &s, src, cl, dst, 4, &rp, &err), EDR_OK);
    assert_int_equal(rp.events, 4);
    assert_int_equal(edr_bolt_open(dst, &db, &err), EDR_OK);
    assert_int_equal(edr_bolt_foreach(db, "key", 3, dump_cb, &d, &err), EDR_OK);
    assert_int_equal(d.n, 5);
    /* 3_0, 3_1, then the tombstones 4_0t and 4_1t */
    assert_int_equal(d.p[2].kl, 17);
    assert_int_equal(edr_be64(d.p[2].k), 3);
    assert_int_equal(edr_be64(d.p[2].k + 9), 1);
    assert_int_equal(d.p[3].kl, 18);
    assert_int_equal(d.p[3].k[17], 't');
    assert_int_equal(edr_be64(d.p[4].k + 9), 1);
    /* etcd's tombstone value: a KeyValue of just the key */
    n = kv_bytes(want, sizeof(want), "/a", NULL, 0, 0, 0, 0);
    assert_int_equal(d.p[3].vl, n);
    assert_memory_equal(d.p[3].v, want, n);
    /* the lease with its captured TTL: leasepb.Lease{ID: 0x55, TTL: 120} */
    memset(&d, 0, sizeof(d));
    assert_int_equal(edr_bolt_foreach(db, "lease", 5, dump_cb, &d, &err), EDR_OK);
    assert_int_equal(d.n, 2);
    assert_int_equal(edr_be64(d.p[0].k), 0x55);
    assert_int_equal(d.p[0].vl, 4);
    assert_memory_equal(d.p[0].v, "\x08\x55\x10\x78", 4);
    /* a lease without a captured TTL keeps the backup's entry */
    assert_int_equal(edr_be64(d.p[1].k), 0x66);
    assert_int_equal(d.p[1].vl, 5);
    assert_memory_equal(d.p[1].v, "\x08\x66\x10\x90\x1c", 5);
    edr_bolt_close(db);

    /* up to revision 3: the segment's later events are left out */
    assert_int_equal(replay_to(r, &s, src, cl, dst, 3, &rp, &err), EDR_OK);
    assert_int_equal(rp.events, 2);
    assert_int_equal(edr_bolt_open(dst, &db, &err), EDR_OK);
    memset(&d, 0, sizeof(d));
    assert_int_equal(edr_bolt_foreach(db, "key", 3, dump_cb, &d, &err), EDR_OK);
    assert_int_equal(d.n, 3);
    edr_bolt_close(db);
    /* a target beyond the segment: the replay says where the changes end */
    assert_int_equal(replay_to(r, &s, src, cl, dst, 9, &rp, &err), EDR_E_INTEGRITY);
    assert_non_null(strstr(err.msg, "the changes end at revision 4, not 9"));
    edr_replay_release(&rp);
    edr_restore_cluster_free(cl);
    edr_repo_free(r);
}

static void
test_floor(void **state)
{
    const int64_t revs[] = {100, 300, 200};
    const time_t times[] = {1000, 3000, 2000};

    (void)state;
    /* nothing kept: keep every segment */
    assert_int_equal(edr_segment_floor(revs, times, 0, 0, 0), -1);
    /* the oldest kept backup */
    assert_int_equal(edr_segment_floor(revs, times, 3, 0, 0), 100);
    /* the newest backup started at or before the cutoff */
    assert_int_equal(edr_segment_floor(revs, times, 3, 1, 2500), 200);
    assert_int_equal(edr_segment_floor(revs, times, 3, 1, 3000), 300);
    /* a cutoff before every backup: the oldest */
    assert_int_equal(edr_segment_floor(revs, times, 3, 1, 10), 100);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_roundtrip),
        cmocka_unit_test(test_records_refused),
        cmocka_unit_test(test_manifest_roundtrip),
        cmocka_unit_test(test_publish_read),
        cmocka_unit_test(test_gap_inside),
        cmocka_unit_test(test_plan),
        cmocka_unit_test(test_plan_empty_backup),
        cmocka_unit_test(test_replay),
        cmocka_unit_test(test_floor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
