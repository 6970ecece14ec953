/*
 * Differential check of the two ways to get a snapshot's status: from a
 * file, and from the capture of the image streaming past (edr_mvcc_scan_*).
 * Both what `verify` computes (edr_mvcc_status_checked vs
 * edr_mvcc_scan_status) and what `inspect` shows (edr_mvcc_status and
 * edr_mvcc_k8s_stats vs edr_mvcc_scan_inspect) are compared. Used by the bbolt
 * fuzz target and by tests/unit/mvcc/mvcc_status (t0400, real snapshots).
 */
#ifndef EDR_TESTS_SCAN_DIFF_H
#define EDR_TESTS_SCAN_DIFF_H

#include <stddef.h>
#include <stdint.h>

/* Feeds the image (a trailer, when len % 512 is 32, is dropped first; 32
 * bytes are appended) to the capture in
 * writes of `step` bytes, growing (0: one write). Returns 0 when both ways
 * agree: same result code, same message on failure, same numbers on
 * success, or the capture asked for the file (redo). Else 1 and why. When
 * redo is not NULL it tells whether the capture asked for the file. */
int scan_diff(const uint8_t *img, size_t len, size_t step, int *redo, char *why, size_t cap);

#endif
