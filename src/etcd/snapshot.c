/*
 * Snapshot stream verification. etcd sends the bbolt image in 32 KiB blobs,
 * each with remaining_bytes counting down to 0, then one more message whose
 * blob is the SHA-256 of the image. We trust nothing: the size announced by
 * the first message must be met exactly, remaining_bytes must agree with what
 * arrived, and the checksum must be 32 bytes and match our own hash.
 */
#include "etcd/snapshot.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "etcd/proto.h"

static edr_rc rx_fail(const struct edr_etcd_snap_rx *rx, struct edr_err *err, edr_rc code,
                      const char *fmt, ...) EDR_PRINTF(4, 5);

static edr_rc
rx_fail(const struct edr_etcd_snap_rx *rx, struct edr_err *err, edr_rc code, const char *fmt, ...)
{
    char buf[EDR_ERR_MSG_MAX - 300];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return edr_err_set(err, code, "etcd '%.256s': Snapshot: %s", rx->url, buf);
}

edr_rc
edr_etcd_snap_rx_init(struct edr_etcd_snap_rx *rx, const char *url,
                      struct edr_etcd_snapshot_sink *sink, struct edr_err *err)
{
    memset(rx, 0, sizeof(*rx));
    rx->url = url;
    rx->sink = sink;
    if (edr_sha256_init(&rx->sha) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "sha256 initialisation failed");
    rx->sha_ok = 1;
    return EDR_OK;
}

void
edr_etcd_snap_rx_release(struct edr_etcd_snap_rx *rx)
{
    if (rx != NULL && rx->sha_ok) {
        edr_sha256_release(&rx->sha);
        rx->sha_ok = 0;
    }
}

edr_rc
edr_etcd_snap_rx_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    struct edr_etcd_snap_rx *rx = ud;
    struct edr_pb_snapshot_resp r;
    edr_rc rc;

    if ((rc = edr_pb_decode_snapshot_resp(msg, len, &r, err)) != EDR_OK)
        return edr_err_prefix(err, "etcd '%s': Snapshot", rx->url);
    if (!rx->begun) {
        rx->total = r.remaining_bytes + r.blob_len;
        if (rx->total < r.remaining_bytes || rx->total == 0)
            return rx_fail(rx, err, EDR_E_INTEGRITY, "first message announces %s database",
                           rx->total == 0 ? "an empty" : "an impossibly large");
        rx->begun = 1;
        if ((rc = rx->sink->begin(rx->sink->ud, rx->total, &rx->out, err)) != EDR_OK)
            return rc;
    }
    if (rx->have_sum)
        return rx_fail(rx, err, EDR_E_INTEGRITY, "unexpected message after the sha256 checksum");
    if (rx->got < rx->total) {
        if (r.blob_len > rx->total - rx->got)
            return rx_fail(rx, err, EDR_E_INTEGRITY,
                           "data at offset %llu exceeds the announced %llu bytes",
                           (unsigned long long)rx->got, (unsigned long long)rx->total);
        rx->got += r.blob_len;
        if (r.remaining_bytes != rx->total - rx->got)
            return rx_fail(rx, err, EDR_E_INTEGRITY,
                           "remaining_bytes %llu at offset %llu, expected %llu",
                           (unsigned long long)r.remaining_bytes, (unsigned long long)rx->got,
                           (unsigned long long)(rx->total - rx->got));
        edr_sha256_update(&rx->sha, r.blob, r.blob_len);
        return edr_stream_write(rx->out, r.blob, r.blob_len, err);
    }
    if (r.blob_len != EDR_SHA256_LEN || r.remaining_bytes != 0)
        return rx_fail(rx, err, EDR_E_INTEGRITY,
                       "checksum message has %zu bytes (remaining_bytes %llu), expected 32",
                       r.blob_len, (unsigned long long)r.remaining_bytes);
    rx->have_sum = 1;
    edr_sha256_final(&rx->sha, rx->digest);
    if (memcmp(rx->digest, r.blob, EDR_SHA256_LEN) != 0) {
        char want[2 * EDR_SHA256_LEN + 1], got[2 * EDR_SHA256_LEN + 1];
        edr_hex(r.blob, EDR_SHA256_LEN, want);
        edr_hex(rx->digest, EDR_SHA256_LEN, got);
        return rx_fail(rx, err, EDR_E_INTEGRITY,
                       "sha256 mismatch: etcd sent %s, the received data hashes to %s", want, got);
    }
    return EDR_OK;
}

edr_rc
edr_etcd_snap_rx_end(struct edr_etcd_snap_rx *rx, struct edr_etcd_snapshot_result *res,
                     struct edr_err *err)
{
    if (!rx->begun)
        return rx_fail(rx, err, EDR_E_INTEGRITY, "stream ended without any data");
    if (rx->got < rx->total)
        return rx_fail(rx, err, EDR_E_INTEGRITY, "truncated: got %llu of %llu bytes",
                       (unsigned long long)rx->got, (unsigned long long)rx->total);
    if (!rx->have_sum)
        return rx_fail(rx, err, EDR_E_INTEGRITY, "stream ended without the sha256 checksum");
    res->db_size = rx->total;
    memcpy(res->sha256, rx->digest, EDR_SHA256_LEN);
    return EDR_OK;
}
