/*
 * Helpers shared by the unit tests: deterministic random data, feeding a
 * buffer into a stream in pieces of a given size, reading and writing files,
 * temp dirs, a cmocka setup/teardown for tests of one file, UTC times.
 * The functions that can fail a test (tu_setup_file, tu_time) use cmocka.
 */
#ifndef EDR_TESTS_UNIT_SUPPORT_H
#define EDR_TESTS_UNIT_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "stream/stream.h"

/* Piece sizes every filter is tested with; 0 means random sizes. */
#define TU_NSPLITS 4
extern const size_t tu_splits[TU_NSPLITS];

/* xorshift PRNG: fill buf deterministically from seed. */
void tu_random(uint8_t *buf, size_t len, uint64_t seed);
/* Compressible pseudo-text. */
void tu_text(uint8_t *buf, size_t len, uint64_t seed);
/* Write len bytes into s in pieces of `split` bytes (0 = random 1..100000);
 * does not finish. */
edr_rc tu_feed(struct edr_stream *s, const void *buf, size_t len, size_t split, uint64_t seed,
               struct edr_err *err);
/* Write and finish. */
edr_rc tu_feed_finish(struct edr_stream *s, const void *buf, size_t len, size_t split,
                      uint64_t seed, struct edr_err *err);
/* Read a whole file (malloc'd, caller frees); NULL on failure. */
uint8_t *tu_read_file(const char *path, size_t *len);
/* DIR/NAME read whole and NUL-terminated (the NUL not counted in *len); fails
 * the test (cmocka) when it cannot be read. */
uint8_t *tu_fixture(const char *dir, const char *name, size_t *len);
int tu_write_file(const char *path, const void *buf, size_t len);
/* mkdtemp under $TMPDIR or /tmp; returns a static-lifetime malloc'd path. */
char *tu_tmpdir(void);
/* rm -rf dir */
void tu_rmrf(const char *dir);

/* cmocka setup and teardown of a test that works on one file: tu_path is
 * "db" in a fresh temp dir, which the teardown removes with what is in it. */
extern char tu_path[4200];
int tu_setup_file(void **state);
int tu_teardown_file(void **state);

/* "2026-11-26 01:30:00" (UTC) as a time_t; a malformed string fails the test. */
time_t tu_time(const char *s);

#endif
