/*
 * A small etcd database for the mvcc tests (see etcd_db.h), written with the
 * bolt writer; the status hash is recomputed here from its definition.
 */
#include "etcd_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "common/hash.h"
#include "mvcc/mvcc.h"
#include "../support.h"

struct op {
    int64_t main, sub;
    int tomb;
    const char *key;
    const char *value; /* NULL: bump marker (empty value) */
    int64_t create, version, lease;
};

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

void
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

uint32_t
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

int64_t etcd_db_scheduled_compact = 3;

uint32_t
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
    revkey(metap[nm].v, etcd_db_scheduled_compact, 0);
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
