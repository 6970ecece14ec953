/*
 * etcd-like databases of several shapes (see shapes.h).
 */
#include "shapes.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bolt/bolt.h"
#include "common/bytes.h"
#include "mvcc/mvcc.h"
#include "../support.h"

const struct spec specs[] = {
    {"inline key bucket", 4096, 6, 0, 0, 3, 0, 2},
    {"overflow values", 4096, 1500, 97, 20000, 7, 0, 2},
    {"multi-level branches", 4096, 40000, 0, 0, 11, 0, 1000},
    {"root bucket with branches", 4096, 300, 0, 0, 5, 600, 2},
    {"16 KiB pages", 16384, 20000, 500, 100000, 13, 40, 5},
    {"no key bucket", 4096, 0, 0, 0, 0, 3, 0},
    {"empty key bucket", 16384, 0, 0, 0, 0, 0, -1},
};

const size_t n_specs = sizeof(specs) / sizeof(specs[0]);

static void
put(struct edr_bolt_writer *w, const void *k, size_t kl, const void *v, size_t vl)
{
    struct edr_err err;

    assert_int_equal(edr_bolt_writer_put(w, k, kl, v, vl, &err), EDR_OK);
}

static void
bucket(struct edr_bolt_writer *w, const char *name)
{
    struct edr_err err;

    assert_int_equal(edr_bolt_writer_bucket(w, name, strlen(name), &err), EDR_OK);
}

void
build(const struct spec *s)
{
    struct edr_bolt_writer *w = NULL;
    struct edr_err err;
    uint8_t *val = malloc(s->big_size + 256), *enc = malloc(s->big_size + 512);
    uint8_t ci[8];

    assert_non_null(val);
    assert_non_null(enc);
    assert_int_equal(edr_bolt_writer_new(tu_path, s->ps, &w, &err), EDR_OK);
    for (unsigned b = 0; b < s->nextra; b++) {
        char name[16];
        snprintf(name, sizeof(name), "a%04u", b);
        bucket(w, name);
        for (unsigned k = 0; k < b % 4; k++) {
            char key[8];
            snprintf(key, sizeof(key), "k%u", k);
            put(w, key, strlen(key), name, strlen(name));
        }
    }
    bucket(w, "cluster");
    put(w, "clusterVersion", 14, "3.4.0", 5);
    if (s->nrev > 0 || s->first_rev < 0) {
        bucket(w, "key");
        for (unsigned i = 0; i < s->nrev; i++) {
            uint8_t k[18];
            struct edr_kv kv;
            char uk[32];
            int tomb = s->tomb_every && i % s->tomb_every == s->tomb_every - 1;
            size_t vl = s->big_every && i % s->big_every == 1 ? s->big_size : i % 200;
            size_t n;
            edr_put_be64(k, (uint64_t)s->first_rev + i);
            k[8] = '_';
            edr_put_be64(k + 9, 0);
            k[17] = 't';
            snprintf(uk, sizeof(uk), "/registry/k%05u", i % 1000);
            memset(&kv, 0, sizeof(kv));
            kv.key = (const uint8_t *)uk;
            kv.key_len = strlen(uk);
            if (!tomb) {
                tu_random(val, vl, i);
                kv.value = val;
                kv.value_len = vl;
                kv.create_revision = s->first_rev;
                kv.mod_revision = s->first_rev + i;
                kv.version = 1;
            }
            n = edr_mvcc_kv_encode(&kv, enc, s->big_size + 512);
            assert_true(n <= s->big_size + 512);
            put(w, k, tomb ? 18 : 17, enc, n);
        }
    }
    bucket(w, "lease");
    bucket(w, "meta");
    edr_put_be64(ci, 12345);
    put(w, "consistent_index", 16, ci, 8);
    assert_int_equal(edr_bolt_writer_finish(w, &err), EDR_OK);
    edr_bolt_writer_free(w);
    free(val);
    free(enc);
}
