/*
 * Unit tests of gRPC framing and status handling: a response stream cut at
 * every possible chunk boundary and fed in 1-byte and odd-sized chunks, the
 * decoder's errors, header/trailer lines (Trailers-Only included) and the
 * percent-decoding of grpc-message, and the status-to-error mapping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd/grpc.h"

struct collect {
    uint8_t out[70000];
    size_t len;
    size_t lens[16];
    size_t n;
    int zero_copy; /* messages delivered from the caller's chunk */
    const uint8_t *chunk;
    size_t chunk_len;
    size_t fail_at; /* fail on this message number (1-based), 0 never */
};

static edr_rc
on_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    struct collect *c = ud;

    if (c->fail_at != 0 && c->n + 1 == c->fail_at)
        return edr_err_set(err, EDR_E_IO, "sink failed");
    assert_true(c->len + len <= sizeof(c->out));
    assert_true(c->n < 16);
    if (len > 0)
        memcpy(c->out + c->len, msg, len);
    if (len > 0 && c->chunk != NULL && msg >= c->chunk && msg + len <= c->chunk + c->chunk_len)
        c->zero_copy++;
    c->len += len;
    c->lens[c->n++] = len;
    return EDR_OK;
}

/* Four messages: 0, 1, `big` and 7 bytes; the bodies concatenated in *body. */
static size_t
build_stream(uint8_t *buf, uint8_t *body, size_t *blen, size_t big)
{
    const size_t sizes[] = {0, 1, big, 7};
    size_t n = 0, b = 0;

    for (size_t m = 0; m < sizeof(sizes) / sizeof(sizes[0]); m++) {
        size_t s = sizes[m];
        buf[n++] = 0;
        buf[n++] = (uint8_t)(s >> 24);
        buf[n++] = (uint8_t)(s >> 16);
        buf[n++] = (uint8_t)(s >> 8);
        buf[n++] = (uint8_t)s;
        for (size_t i = 0; i < s; i++) {
            uint8_t v = (uint8_t)(i * 7 + m);
            buf[n++] = v;
            body[b++] = v;
        }
    }
    *blen = b;
    return n;
}

static void
feed_chunked(const uint8_t *buf, size_t n, size_t chunk, struct collect *c)
{
    struct edr_grpc_dec d;
    struct edr_err err;

    memset(c, 0, sizeof(*c));
    edr_grpc_dec_init(&d, 0, on_msg, c);
    for (size_t off = 0; off < n; off += chunk) {
        size_t len = n - off < chunk ? n - off : chunk;
        c->chunk = buf + off;
        c->chunk_len = len;
        assert_int_equal(edr_grpc_dec_feed(&d, buf + off, len, &err), EDR_OK);
    }
    assert_int_equal(edr_grpc_dec_finish(&d, &err), EDR_OK);
    assert_int_equal(d.nmsgs, 4);
    edr_grpc_dec_release(&d);
}

static void
check_collected(const struct collect *c, const uint8_t *body, size_t blen, size_t big)
{
    assert_int_equal(c->n, 4);
    assert_int_equal(c->lens[0], 0);
    assert_int_equal(c->lens[1], 1);
    assert_int_equal(c->lens[2], big);
    assert_int_equal(c->lens[3], 7);
    assert_int_equal(c->len, blen);
    assert_memory_equal(c->out, body, blen);
}

static void
test_dec_chunk_sizes(void **state)
{
    static uint8_t buf[41000], body[41000];
    static struct collect c;
    static const size_t chunks[] = {1, 2, 3, 4, 5, 6, 7, 13, 4096, 16384, 40004, 40005, 1 << 20};
    size_t blen, n = build_stream(buf, body, &blen, 40000);
    (void)state;

    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        feed_chunked(buf, n, chunks[i], &c);
        check_collected(&c, body, blen, 40000);
        if (chunks[i] == 1)
            assert_int_equal(c.zero_copy, 0);
    }
    /* everything in one chunk: every non-empty message passed in place */
    assert_int_equal(c.zero_copy, 3);
}

static void
test_dec_every_split(void **state)
{
    static uint8_t buf[1000], body[1000];
    static struct collect c;
    size_t blen, n = build_stream(buf, body, &blen, 300);
    (void)state;

    /* three chunks, cut at every pair of positions (covers every two-chunk split) */
    for (size_t a = 0; a <= n; a++) {
        for (size_t b = a; b <= n; b++) {
            struct edr_grpc_dec d;
            struct edr_err err;

            c.n = c.len = 0; /* (no memset of the 70 KB buffer per split) */
            edr_grpc_dec_init(&d, 0, on_msg, &c);
            assert_int_equal(edr_grpc_dec_feed(&d, buf, a, &err), EDR_OK);
            assert_int_equal(edr_grpc_dec_feed(&d, buf + a, b - a, &err), EDR_OK);
            assert_int_equal(edr_grpc_dec_feed(&d, buf + b, n - b, &err), EDR_OK);
            assert_int_equal(edr_grpc_dec_finish(&d, &err), EDR_OK);
            check_collected(&c, body, blen, 300);
            edr_grpc_dec_release(&d);
        }
    }
}

static void
test_dec_errors(void **state)
{
    static const uint8_t compressed[] = {1, 0, 0, 0, 1, 'x'};
    static const uint8_t big[] = {0, 0, 0, 0, 17};
    static const uint8_t two[] = {0, 0, 0, 0, 1, 'a', 0, 0, 0, 0, 1, 'b'};
    static struct collect c;
    struct edr_grpc_dec d;
    struct edr_err err;
    (void)state;

    memset(&c, 0, sizeof(c));
    edr_grpc_dec_init(&d, 16, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, compressed, sizeof(compressed), &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "compressed grpc message (flag 1) not supported");
    edr_grpc_dec_release(&d);

    /* the size limit, whole and split prefix */
    edr_grpc_dec_init(&d, 16, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, big, sizeof(big), &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "grpc message of 17 bytes exceeds the 16-byte limit");
    edr_grpc_dec_release(&d);
    edr_grpc_dec_init(&d, 16, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, big, 2, &err), EDR_OK);
    assert_int_equal(edr_grpc_dec_feed(&d, big + 2, 3, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "grpc message of 17 bytes exceeds the 16-byte limit");
    edr_grpc_dec_release(&d);

    /* default limit is 4 MiB */
    edr_grpc_dec_init(&d, 0, on_msg, &c);
    {
        static const uint8_t over[] = {0, 0, 0x40, 0, 1};
        static const uint8_t at[] = {0, 0, 0x40, 0, 0};
        assert_int_equal(edr_grpc_dec_feed(&d, over, sizeof(over), &err), EDR_E_ETCD);
        assert_string_equal(err.msg,
                            "grpc message of 4194305 bytes exceeds the 4194304-byte limit");
        edr_grpc_dec_release(&d);
        edr_grpc_dec_init(&d, 0, on_msg, &c);
        assert_int_equal(edr_grpc_dec_feed(&d, at, sizeof(at), &err), EDR_OK);
    }
    edr_grpc_dec_release(&d);

    /* ends inside the prefix / the body */
    edr_grpc_dec_init(&d, 0, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, two, 3, &err), EDR_OK);
    assert_int_equal(edr_grpc_dec_finish(&d, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "response ended inside a grpc message prefix (3 of 5 bytes)");
    edr_grpc_dec_release(&d);
    edr_grpc_dec_init(&d, 0, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, two, 5, &err), EDR_OK);
    assert_int_equal(edr_grpc_dec_finish(&d, &err), EDR_E_ETCD);
    assert_string_equal(err.msg, "response ended inside a grpc message (got 0 of 1 bytes)");
    edr_grpc_dec_release(&d);

    /* a callback error stops at once, with the callback's code */
    memset(&c, 0, sizeof(c));
    c.fail_at = 2;
    edr_grpc_dec_init(&d, 0, on_msg, &c);
    assert_int_equal(edr_grpc_dec_feed(&d, two, sizeof(two), &err), EDR_E_IO);
    assert_string_equal(err.msg, "sink failed");
    assert_int_equal(c.n, 1);
    edr_grpc_dec_release(&d);
}

static void
feed_lines(struct edr_grpc_status *s, const char *const *lines)
{
    edr_grpc_status_init(s);
    for (size_t i = 0; lines[i] != NULL; i++)
        edr_grpc_status_line(s, lines[i], strlen(lines[i]));
}

static void
test_status_lines(void **state)
{
    static const char *const ok[] = {
        "HTTP/2 200 \r\n",
        "content-type: application/grpc\r\n",
        "\r\n",
        "grpc-status: 0\r\n",
        "grpc-message: \r\n",
        NULL,
    };
    static const char *const trailers_only[] = {
        "HTTP/2 200 \r\n",
        "Content-Type: application/grpc+proto\r\n",
        "grpc-status: 3\r\n",
        "grpc-message: etcdserver: user name is empty\r\n",
        "\r\n",
        NULL,
    };
    static const char *const encoded[] = {
        "HTTP/2 200 \r\n",
        "content-type: application/grpc\r\n",
        "\r\n",
        "grpc-status:16\r\n",
        "grpc-message:  caf%C3%A9%20%25%zz%4%0Aend%\r\n",
        NULL,
    };
    static const char *const not_grpc[] = {
        "HTTP/2 404 \r\n",
        "content-type: text/plain; charset=utf-8\r\n",
        "\r\n",
        NULL,
    };
    static const char *const bad_status[] = {
        "HTTP/2 200 \r\n",
        "content-type: application/grpcx\r\n",
        "grpc-status: 1x\r\n",
        NULL,
    };
    struct edr_grpc_status s;
    (void)state;

    feed_lines(&s, ok);
    assert_int_equal(s.http_status, 200);
    assert_true(s.is_grpc);
    assert_true(s.have_status);
    assert_int_equal(s.status, 0);
    assert_string_equal(s.message, "");

    feed_lines(&s, trailers_only);
    assert_true(s.is_grpc);
    assert_int_equal(s.status, 3);
    assert_string_equal(s.message, "etcdserver: user name is empty");

    feed_lines(&s, encoded);
    assert_int_equal(s.status, 16);
    assert_string_equal(s.message, "caf\xc3\xa9 %%zz%4?end%");

    feed_lines(&s, not_grpc);
    assert_int_equal(s.http_status, 404);
    assert_false(s.is_grpc);
    assert_false(s.have_status);

    feed_lines(&s, bad_status);
    assert_false(s.is_grpc);
    assert_true(s.have_status);
    assert_int_equal(s.status, 2);
    assert_string_equal(s.message, "invalid grpc-status");
}

/* An HTTP status is three digits: a long run of digits (fuzz_grpc: signed
 * overflow in the `code * 10` loop) or a short one is not a status. */
static void
test_status_line_digits(void **state)
{
    static const struct {
        const char *line;
        int status;
    } cases[] = {
        {"HTTP/2 200 \r\n", 200},
        {"HTTP/2 200", 200},
        {"HTTP/1.1 100 Continue\r\n", 100},
        {"HTTP/2 503\r\n", 503},
        {"HTTP/2 99999999999999999999999999999999999999 \r\n", -1},
        {"HTTP/2 2147483648\r\n", -1},
        {"HTTP/2 2000\r\n", -1},
        {"HTTP/2 20 \r\n", -1},
        {"HTTP/2 \r\n", -1},
        {"HTTP/2 x200\r\n", -1},
    };
    struct edr_grpc_status s;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        edr_grpc_status_init(&s);
        s.is_grpc = 1; /* a status line starts a new response */
        edr_grpc_status_line(&s, cases[i].line, strlen(cases[i].line));
        assert_int_equal(s.http_status, cases[i].status);
        assert_false(s.is_grpc);
    }
    /* no space: not a status line, nothing changes */
    edr_grpc_status_init(&s);
    edr_grpc_status_line(&s, "HTTP/2", 6);
    assert_int_equal(s.http_status, 0);
}

static edr_rc
on_msg_ptr(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    int *calls = ud;

    (void)err;
    assert_non_null(msg); /* (NULL, 0) made the decoders compute NULL + 0 */
    assert_int_equal(len, 0);
    (*calls)++;
    return EDR_OK;
}

/* An empty message whose prefix arrived split, before any message needed the
 * buffer, is handed over with a pointer that is not NULL. */
static void
test_dec_empty_split(void **state)
{
    static const uint8_t empty[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    struct edr_grpc_dec d;
    struct edr_err err;
    int calls = 0;
    (void)state;

    edr_grpc_dec_init(&d, 0, on_msg_ptr, &calls);
    for (size_t i = 0; i < sizeof(empty); i++)
        assert_int_equal(edr_grpc_dec_feed(&d, empty + i, 1, &err), EDR_OK);
    assert_int_equal(edr_grpc_dec_finish(&d, &err), EDR_OK);
    assert_int_equal(calls, 2);
    assert_null(d.buf);
    edr_grpc_dec_release(&d);
}

static void
test_percent_decode(void **state)
{
    char out[8];
    (void)state;

    edr_grpc_percent_decode("%41%42", 6, out, sizeof(out));
    assert_string_equal(out, "AB");
    /* truncated to the buffer */
    edr_grpc_percent_decode("abcdefghij", 10, out, sizeof(out));
    assert_string_equal(out, "abcdefg");
    /* a percent at the very end and a lone digit stay literal */
    edr_grpc_percent_decode("a%4", 3, out, sizeof(out));
    assert_string_equal(out, "a%4");
    edr_grpc_percent_decode("%7f%00", 6, out, sizeof(out));
    assert_string_equal(out, "??");
}

static void
test_status_rc(void **state)
{
    (void)state;
    assert_int_equal(edr_grpc_status_rc(16, "etcdserver: invalid auth token"), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(7, ""), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(3, "etcdserver: user name is empty"), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(2, "auth: user name is empty"), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(2, "auth: permission denied"), EDR_E_ETCD_AUTH);
    /* seen from etcd 3.4.23 with a client certificate whose CN is not a user */
    assert_int_equal(edr_grpc_status_rc(2, "auth: user not found"), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(3, "etcdserver: user not found"), EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(3, "etcdserver: authentication failed, invalid user ID "
                                           "or password"),
                     EDR_E_ETCD_AUTH);
    assert_int_equal(edr_grpc_status_rc(9, "etcdserver: authentication is not enabled"),
                     EDR_E_ETCD);
    assert_int_equal(edr_grpc_status_rc(14, "etcdserver: no leader"), EDR_E_ETCD);
    assert_int_equal(edr_grpc_status_rc(2, "permission denied"), EDR_E_ETCD);
    assert_int_equal(edr_grpc_status_rc(2, NULL), EDR_E_ETCD);
    assert_string_equal(edr_grpc_code_name(0), "OK");
    assert_string_equal(edr_grpc_code_name(3), "InvalidArgument");
    assert_string_equal(edr_grpc_code_name(16), "Unauthenticated");
    assert_string_equal(edr_grpc_code_name(17), "Unknown");
    assert_string_equal(edr_grpc_code_name(-1), "Unknown");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dec_chunk_sizes),    cmocka_unit_test(test_dec_every_split),
        cmocka_unit_test(test_dec_errors),         cmocka_unit_test(test_status_lines),
        cmocka_unit_test(test_status_line_digits), cmocka_unit_test(test_dec_empty_split),
        cmocka_unit_test(test_percent_decode),     cmocka_unit_test(test_status_rc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
