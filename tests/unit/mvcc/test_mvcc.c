/*
 * Unit tests of src/mvcc: the KeyValue codec, status numbers on a small
 * etcd-like database written with the bolt writer (hash recomputed here from
 * its definition), live keys at revisions (overwrites, deletes, compaction,
 * bump markers), the Kubernetes summary and the MVCC check's errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/hash.h"
#include "mvcc/mvcc.h"
#include "../support.h"

/* ---- codec ---- */

static void
test_kv_codec(void **state)
{
    struct edr_kv kv = {0}, out;
    struct edr_err err;
    uint8_t buf[256];
    size_t n;

    (void)state;
    kv.key = (const uint8_t *)"/a";
    kv.key_len = 2;
    kv.value = (const uint8_t *)"hello";
    kv.value_len = 5;
    kv.create_revision = 2;
    kv.mod_revision = 300;
    kv.version = 7;
    kv.lease = 0x468aa219410eb20bll;
    n = edr_mvcc_kv_encode(&kv, buf, sizeof(buf));
    assert_int_equal(edr_mvcc_kv_encode(&kv, buf, 3), n); /* too small: size only */
    assert_int_equal(edr_mvcc_kv_decode(buf, n, &out, &err), EDR_OK);
    assert_int_equal(out.key_len, 2);
    assert_memory_equal(out.key, "/a", 2);
    assert_int_equal(out.value_len, 5);
    assert_int_equal(out.create_revision, 2);
    assert_int_equal(out.mod_revision, 300);
    assert_int_equal(out.version, 7);
    assert_int_equal(out.lease, 0x468aa219410eb20bll);
    /* every truncation fails cleanly or decodes a prefix of the fields */
    for (size_t i = 0; i < n; i++)
        (void)edr_mvcc_kv_decode(buf, i, &out, &err);
    assert_int_equal(edr_mvcc_kv_decode(buf, n - 1, &out, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "field 6: truncated varint");
    assert_int_equal(edr_mvcc_kv_decode(buf, 3, &out, &err), EDR_E_INTEGRITY);
    assert_string_equal(err.msg, "field 1: out of bounds");
    /* unknown fields are skipped: 7 varint, 8 fixed64, 9 bytes, 10 fixed32 */
    {
        const uint8_t x[] = {0x0a, 0x01, 'k',  0x38, 0x05, 0x41, 1, 2, 3, 4, 5,    6,   7,
                             8,    0x4a, 0x02, 'z',  'z',  0x55, 1, 2, 3, 4, 0x10, 0x09};
        assert_int_equal(edr_mvcc_kv_decode(x, sizeof(x), &out, &err), EDR_OK);
        assert_int_equal(out.key_len, 1);
        assert_int_equal(out.create_revision, 9);
    }
    {
        const uint8_t bad[] = {0x0b};      /* field 1, group */
        const uint8_t wt[] = {0x08, 0x01}; /* key as varint */
        const uint8_t zero[] = {0x00, 0x01};
        assert_int_equal(edr_mvcc_kv_decode(bad, sizeof(bad), &out, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "field 1: unsupported wire type 3");
        assert_int_equal(edr_mvcc_kv_decode(wt, sizeof(wt), &out, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "field 1: wrong wire type");
        assert_int_equal(edr_mvcc_kv_decode(zero, sizeof(zero), &out, &err), EDR_E_INTEGRITY);
    }
    assert_int_equal(edr_mvcc_kv_decode(buf, 0, &out, &err), EDR_OK);
    assert_int_equal(out.key_len, 0);
}

/* ---- a small etcd database ---- */

struct op {
    int64_t main, sub;
    int tomb;
    const char *key;
    const char *value; /* NULL: bump marker (empty value) */
    int64_t create, version, lease;
};

/* History: rev 2 put /a=1, 3 put /b=2, 4 put /a=3 (v2), 5 del /b, 6 put
 * /registry/pods/ns1/p1, 6_1 put /registry/pods/ns2/p2 (txn), 7 put
 * /registry/namespaces/ns1, 8 put /registry/apps/deployments/ns1/d,
 * 9 put /registry/apiextensions.k8s.io/customresourcedefinitions/x.y,
 * 10 put /registry/example.com/foos/ns1/f, 11 put /registry/services/specs/ns1/s,
 * 12 bump marker. Compacted at 3. */
static const struct op history[] = {
    {2, 0, 0, "/a", "1", 2, 1, 0},
    {3, 0, 0, "/b", "2", 3, 1, 5},
    {4, 0, 0, "/a", "333", 2, 2, 0},
    {5, 0, 1, "/b", "", 0, 0, 0},
    {6, 0, 0, "/registry/pods/ns1/p1", "pod-1", 6, 1, 0},
    {6, 1, 0, "/registry/pods/ns2/p2", "pod-22", 6, 1, 0},
    {7, 0, 0, "/registry/namespaces/ns1", "ns", 7, 1, 0},
    {8, 0, 0, "/registry/apps/deployments/ns1/d", "dep", 8, 1, 0},
    {9, 0, 0, "/registry/apiextensions.k8s.io/customresourcedefinitions/x.y", "crd", 9, 1, 0},
    {10, 0, 0, "/registry/example.com/foos/ns1/f", "foo1", 10, 1, 0},
    {11, 0, 0, "/registry/services/specs/ns1/s", "svc", 11, 1, 0},
    {12, 0, 0, NULL, NULL, 0, 0, 0},
};

struct pair {
    uint8_t k[64];
    size_t kl;
    uint8_t v[256];
    size_t vl;
};

static void
revkey(uint8_t *k, int64_t main, int64_t sub)
{
    for (int i = 7; i >= 0; i--) {
        k[i] = (uint8_t)main;
        k[9 + i] = (uint8_t)sub;
        main >>= 8;
        sub >>= 8;
    }
    k[8] = '_';
}

static size_t
history_pairs(struct pair *p)
{
    size_t n = 0;
    for (size_t i = 0; i < sizeof(history) / sizeof(history[0]); i++) {
        const struct op *o = &history[i];
        struct edr_kv kv = {0};
        revkey(p[n].k, o->main, o->sub);
        p[n].kl = 17;
        if (o->tomb)
            p[n].k[p[n].kl++] = 't';
        p[n].vl = 0;
        if (o->key != NULL) {
            kv.key = (const uint8_t *)o->key;
            kv.key_len = strlen(o->key);
            if (!o->tomb) {
                kv.value = (const uint8_t *)o->value;
                kv.value_len = strlen(o->value);
                kv.create_revision = o->create;
                kv.mod_revision = o->main;
                kv.version = o->version;
                kv.lease = o->lease;
            }
            p[n].vl = edr_mvcc_kv_encode(&kv, p[n].v, sizeof(p[n].v));
        }
        n++;
    }
    return n;
}

struct bucket {
    const char *name;
    const struct pair *pairs;
    size_t n;
};

/* Writes buckets and returns the expected status hash. */
static uint32_t
write_db(const struct bucket *bk, size_t nb)
{
    struct edr_bolt_writer *w;
    struct edr_err err;
    uint32_t crc = 0;

    assert_int_equal(edr_bolt_writer_new(tu_path, 4096, &w, &err), EDR_OK);
    for (size_t i = 0; i < nb; i++) {
        assert_int_equal(edr_bolt_writer_bucket(w, bk[i].name, strlen(bk[i].name), &err), EDR_OK);
        crc = edr_crc32c(crc, bk[i].name, strlen(bk[i].name));
        for (size_t j = 0; j < bk[i].n; j++) {
            const struct pair *p = &bk[i].pairs[j];
            assert_int_equal(edr_bolt_writer_put(w, p->k, p->kl, p->v, p->vl, &err), EDR_OK);
            crc = edr_crc32c(crc, p->k, p->kl);
            crc = edr_crc32c(crc, p->v, p->vl);
        }
    }
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    return crc;
}

static struct pair *
pairs_of(const char *const *kv, size_t n)
{
    struct pair *p = calloc(n ? n : 1, sizeof(*p));
    for (size_t i = 0; i < n; i++) {
        p[i].kl = strlen(kv[2 * i]);
        memcpy(p[i].k, kv[2 * i], p[i].kl);
        p[i].vl = strlen(kv[2 * i + 1]);
        memcpy(p[i].v, kv[2 * i + 1], p[i].vl);
    }
    return p;
}

static struct pair metap[4];
static struct pair keyp[32];

static uint32_t
write_etcd_db(int with_ci)
{
    static const char *const auth[] = {"authEnabled", "\x01", "authRevision", "xxxxxxxx"};
    static const char *const cluster[] = {"clusterVersion", "3.4.0"};
    static const char *const lease[] = {"\x46\x8a\xa2\x19\x41\x0e\xb2\x0b", "lease"};
    static const char *const members[] = {
        "32021084443468a",
        "{\"id\":225216300757239434,\"peerURLs\":[\"http://127.0.0.1:28101\"],\"name\":\"src\"}",
        "eafde92c9249e7d8",
        "{\"id\":16932946551625082840,\"peerURLs\":[\"http://"
        "127.0.0.1:28198\"],\"isLearner\":true}"};
    static const char *const removed[] = {"f682f848f989e5f4", "removed"};
    struct pair *pa = pairs_of(auth, 2), *pc = pairs_of(cluster, 1), *pl = pairs_of(lease, 1),
                *pm = pairs_of(members, 2), *pr = pairs_of(removed, 1);
    size_t nk = history_pairs(keyp), nm = 0;
    uint32_t crc;

    /* meta: consistent_index, finishedCompactRev, scheduledCompactRev (sorted) */
    if (with_ci) {
        memcpy(metap[nm].k, "consistent_index", 16);
        metap[nm].kl = 16;
        memcpy(metap[nm].v, "\0\0\0\0\0\0\0\x10", 8);
        metap[nm++].vl = 8;
    }
    memcpy(metap[nm].k, "finishedCompactRev", 18);
    metap[nm].kl = 18;
    revkey(metap[nm].v, 3, 0);
    metap[nm++].vl = 17;
    memcpy(metap[nm].k, "scheduledCompactRev", 19);
    metap[nm].kl = 19;
    revkey(metap[nm].v, 3, 0);
    metap[nm++].vl = 17;
    {
        const struct bucket bk[] = {
            {"alarm", NULL, 0},     {"auth", pa, 2},    {"authRoles", NULL, 0},
            {"authUsers", NULL, 0}, {"cluster", pc, 1}, {"key", keyp, nk},
            {"lease", pl, 1},       {"members", pm, 2}, {"members_removed", pr, 1},
            {"meta", metap, nm},
        };
        crc = write_db(bk, sizeof(bk) / sizeof(bk[0]));
    }
    free(pa);
    free(pc);
    free(pl);
    free(pm);
    free(pr);
    return crc;
}

static void
test_status(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct edr_mvcc_status st;
    uint32_t crc;

    (void)state;
    crc = write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_status(b, &st, &err), EDR_OK);
    assert_int_equal(st.hash, crc);
    assert_int_equal(st.revision, 12);
    assert_int_equal(st.total_keys, 2 + 1 + 12 + 1 + 2 + 1 + 3);
    assert_int_equal(st.total_size, 4 * 4096);
    assert_int_equal(st.db_size_in_use, 4 * 4096);
    assert_int_equal(st.live_keys, 8); /* /a and 7 registry keys */
    assert_int_equal(st.compact_revision, 3);
    assert_int_equal(st.scheduled_compact_revision, 3);
    assert_int_equal(st.consistent_index, 16);
    assert_int_equal(st.has_term, 0);
    assert_int_equal(st.leases, 1);
    assert_int_equal(st.alarms, 0);
    assert_string_equal(st.cluster_version, "3.4.0");
    assert_int_equal(st.auth_enabled, 1);
    assert_string_equal(
        st.members_json,
        "[{\"id\":225216300757239434,\"peerURLs\":[\"http://127.0.0.1:28101\"],\"name\":\"src\"},"
        "{\"id\":16932946551625082840,\"peerURLs\":[\"http://127.0.0.1:28198\"],"
        "\"isLearner\":true}]");
    edr_mvcc_status_release(&st);
    edr_mvcc_status_release(&st); /* twice is harmless */
    assert_int_equal(edr_mvcc_check(b, &err), EDR_OK);
    edr_bolt_close(b);
}

struct got {
    char s[2048];
    int stop_after;
    int n;
};

static int
on_kv(void *ud, const struct edr_kv *kv)
{
    struct got *g = ud;
    size_t o = strlen(g->s);
    snprintf(g->s + o, sizeof(g->s) - o, "%.*s=%.*s@%lld/%lld/%lld%s;", (int)kv->key_len,
             (const char *)kv->key, (int)kv->value_len, (const char *)kv->value,
             (long long)kv->create_revision, (long long)kv->mod_revision, (long long)kv->version,
             kv->lease ? "L" : "");
    return ++g->n == g->stop_after ? 1 : 0;
}

static int
on_kv_abort(void *ud, const struct edr_kv *kv)
{
    (void)kv;
    edr_err_set(ud, EDR_E_IO, "callback failed");
    return -1;
}

static void
test_live(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct got g;

    (void)state;
    write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/", 1, 0, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s,
                        "/a=333@2/4/2;"
                        "/registry/apiextensions.k8s.io/customresourcedefinitions/x.y=crd@9/9/1;"
                        "/registry/apps/deployments/ns1/d=dep@8/8/1;"
                        "/registry/example.com/foos/ns1/f=foo1@10/10/1;"
                        "/registry/namespaces/ns1=ns@7/7/1;"
                        "/registry/pods/ns1/p1=pod-1@6/6/1;"
                        "/registry/pods/ns2/p2=pod-22@6/6/1;"
                        "/registry/services/specs/ns1/s=svc@11/11/1;");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 4, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s, "/a=333@2/4/2;/b=2@3/3/1L;");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/b", 2, 5, on_kv, &g, &err),
                     EDR_OK);
    assert_string_equal(g.s, "");
    memset(&g, 0, sizeof(g));
    assert_int_equal(edr_mvcc_foreach_live(b, (const uint8_t *)"/", 1, 3, on_kv, &g, &err), EDR_OK);
    assert_string_equal(g.s, "/a=1@2/2/1;/b=2@3/3/1L;");
    memset(&g, 0, sizeof(g));
    g.stop_after = 1;
    assert_int_equal(
        edr_mvcc_foreach_live(b, (const uint8_t *)"/registry/pods/", 15, 6, on_kv, &g, &err),
        EDR_OK);
    assert_string_equal(g.s, "/registry/pods/ns1/p1=pod-1@6/6/1;");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 2, on_kv, &g, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "revision 2 is compacted");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 13, on_kv, &g, &err), EDR_E_NOTFOUND);
    assert_string_equal(err.msg, "revision 13 is a future revision (current 12)");
    assert_int_equal(edr_mvcc_foreach_live(b, NULL, 0, 0, on_kv_abort, &err, &err), EDR_E_IO);
    assert_string_equal(err.msg, "callback failed");
    edr_bolt_close(b);
}

static void
test_k8s(void **state)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct edr_k8s_stats *s;
    char buf[1024] = "";

    (void)state;
    write_etcd_db(1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_k8s_stats(b, &s, &err), EDR_OK);
    assert_int_equal(s->objects, 7);
    assert_int_equal(s->bytes, 5 + 6 + 2 + 3 + 3 + 4 + 3);
    for (size_t i = 0; i < s->n_resources; i++) {
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof(buf) - o, "%s:%llu:%llu;", s->resources[i].name,
                 (unsigned long long)s->resources[i].count,
                 (unsigned long long)s->resources[i].bytes);
    }
    assert_string_equal(buf, "apiextensions.k8s.io/customresourcedefinitions:1:3;apps:1:3;"
                             "example.com/foos:1:4;namespaces:1:2;pods:2:11;services/specs:1:3;");
    buf[0] = '\0';
    for (size_t i = 0; i < s->n_namespaces; i++) {
        size_t o = strlen(buf);
        snprintf(buf + o, sizeof(buf) - o, "%s:%llu;", s->namespaces[i].name,
                 (unsigned long long)s->namespaces[i].count);
    }
    /* apps/deployments/ns1/d: "apps" has no dot, so its namespace is "deployments" */
    assert_string_equal(buf, "deployments:1;ns1:3;ns2:1;");
    edr_mvcc_k8s_stats_free(s);
    edr_mvcc_k8s_stats_free(NULL);
    edr_bolt_close(b);
}

static void
check_one(const struct pair *kp, size_t n, int with_meta, edr_rc want, const char *msg)
{
    struct edr_bolt *b;
    struct edr_err err;
    struct pair ci;
    struct bucket bk[2] = {{"key", kp, n}, {"meta", &ci, 1}};

    memset(&ci, 0, sizeof(ci));
    memcpy(ci.k, "consistent_index", 16);
    ci.kl = 16;
    ci.vl = 8;
    write_db(bk, with_meta ? 2 : 1);
    assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
    assert_int_equal(edr_mvcc_check(b, &err), want);
    if (msg != NULL)
        assert_string_equal(err.msg, msg);
    {
        /* the one-pass variant verify uses finds the same problem */
        struct edr_mvcc_status st;
        assert_int_equal(edr_mvcc_status_checked(b, &st, &err), want);
        if (msg != NULL)
            assert_string_equal(err.msg, msg);
        edr_mvcc_status_release(&st);
    }
    edr_bolt_close(b);
}

static void
test_check(void **state)
{
    struct pair p[2];
    struct edr_kv kv = {0};

    (void)state;
    memset(p, 0, sizeof(p));
    revkey(p[0].k, 5, 0);
    p[0].kl = 17;
    kv.key = (const uint8_t *)"/x";
    kv.key_len = 2;
    p[0].vl = edr_mvcc_kv_encode(&kv, p[0].v, sizeof(p[0].v));
    check_one(p, 1, 1, EDR_OK, NULL);
    check_one(p, 1, 0, EDR_E_INTEGRITY, "meta: consistent_index not found");
    p[0].vl = 0; /* bump marker */
    check_one(p, 1, 1, EDR_OK, NULL);
    p[0].k[17] = 't';
    p[0].kl = 18;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "revision 5_0t: empty tombstone");
    p[0].kl = 17;
    p[0].v[0] = 0x0a;
    p[0].v[1] = 0x05;
    p[0].vl = 2;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "revision 5_0: invalid KeyValue: field 1: out of bounds");
    p[0].v[0] = 0x10;
    p[0].v[1] = 0x05;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "revision 5_0: KeyValue without a key");
    p[0].k[8] = '-';
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 00000000000000052d0000000000000000");
    p[0].k[8] = '_';
    p[0].k[0] = 0x80;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 80000000000000055f0000000000000000");
    p[0].kl = 5;
    check_one(p, 1, 1, EDR_E_INTEGRITY, "invalid revision key 8000000000");
    {
        struct edr_bolt *b;
        struct edr_err err;
        write_etcd_db(0);
        assert_int_equal(edr_bolt_open(tu_path, &b, &err), EDR_OK);
        assert_int_equal(edr_mvcc_check(b, &err), EDR_E_INTEGRITY);
        assert_string_equal(err.msg, "meta: consistent_index not found");
        edr_bolt_close(b);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kv_codec),
        cmocka_unit_test_setup_teardown(test_status, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_live, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_k8s, tu_setup_file, tu_teardown_file),
        cmocka_unit_test_setup_teardown(test_check, tu_setup_file, tu_teardown_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
