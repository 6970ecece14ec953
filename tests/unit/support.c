/*
 * Helpers shared by the unit tests (see support.h).
 */
#include "support.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

const size_t tu_splits[TU_NSPLITS] = {1, 7, 65537, 0};

static uint64_t
next_rand(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

void
tu_random(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = next_rand(&x);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(buf + i, &r, n);
    }
}

void
tu_text(uint8_t *buf, size_t len, uint64_t seed)
{
    static const char *words[] = {"etcd ",           "key ",     "value ",
                                  "/registry/pods/", "default ", "kube-system ",
                                  "revision ",       "\n",       "{\"a\":1} "};
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t i = 0;

    while (i < len) {
        const char *w = words[next_rand(&x) % (sizeof(words) / sizeof(words[0]))];
        for (; *w && i < len; w++)
            buf[i++] = (uint8_t)*w;
    }
}

edr_rc
tu_feed(struct edr_stream *s, const void *buf, size_t len, size_t split, uint64_t seed,
        struct edr_err *err)
{
    const uint8_t *p = buf;
    uint64_t x = seed + 12345;
    edr_rc rc;

    while (len > 0) {
        size_t n = split ? split : (size_t)(next_rand(&x) % 100000) + 1;
        if (n > len)
            n = len;
        if ((rc = edr_stream_write(s, p, n, err)) != EDR_OK)
            return rc;
        p += n;
        len -= n;
    }
    return EDR_OK;
}

edr_rc
tu_feed_finish(struct edr_stream *s, const void *buf, size_t len, size_t split, uint64_t seed,
               struct edr_err *err)
{
    edr_rc rc = tu_feed(s, buf, len, split, seed, err);

    if (rc != EDR_OK)
        return rc;
    return edr_stream_finish(s, err);
}

uint8_t *
tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, r;

    if (f == NULL)
        return NULL;
    do {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap ? cap * 2 : 65536);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        r = fread(buf + n, 1, cap - n, f);
        n += r;
    } while (r > 0);
    fclose(f);
    *len = n;
    return buf;
}

uint8_t *
tu_fixture(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    uint8_t *b, *nb;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    b = tu_read_file(path, len);
    assert_non_null(b);
    nb = realloc(b, *len + 1);
    if (nb == NULL)
        free(b);
    assert_non_null(nb);
    nb[*len] = 0;
    return nb;
}

int
tu_write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    if (len > 0 && fwrite(buf, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

char *
tu_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    char *p = malloc(4096);

    if (p == NULL)
        return NULL;
    snprintf(p, 4096, "%s/edr-test-XXXXXX", t && *t ? t : "/tmp");
    if (mkdtemp(p) == NULL) {
        free(p);
        return NULL;
    }
    return p;
}

void
tu_rmrf(const char *dir)
{
    char cmd[4200];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "# unable to remove %s\n", dir);
}

char tu_path[4200];
static char *file_dir;

int
tu_setup_file(void **state)
{
    (void)state;
    file_dir = tu_tmpdir();
    if (file_dir == NULL)
        return -1;
    snprintf(tu_path, sizeof(tu_path), "%s/db", file_dir);
    return 0;
}

int
tu_teardown_file(void **state)
{
    (void)state;
    tu_rmrf(file_dir);
    free(file_dir);
    file_dir = NULL;
    return 0;
}

time_t
tu_time(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        fail_msg("bad time '%s'", s);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm(&tm);
}
