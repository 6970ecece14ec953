/*
 * Gardener etcd-backup-restore snapshots: the object names, the three
 * compressions and the delta format, turned into what etcd-dr stores
 * (backups for full snapshots, change segments for deltas; doc/pitr.md).
 *
 * Facts, from etcd-backup-restore v0.37.0 (pkg/types/snapstore.go,
 * pkg/snapstore/snapshot.go, pkg/snapshot/snapshotter/snapshotter.go,
 * pkg/snapshot/restorer/restorer.go, pkg/compressor):
 * - objects lie flat under "<prefix>/v2/", named
 *   "<kind>-<start>-<last>-<unix>[<compression>][.final]" with kind "Full" or
 *   "Incr", both revisions printed with at least 8 digits (zero padded) and
 *   the creation time in Unix seconds; a full snapshot's start is 0.
 *   ".final" marks the snapshot taken when the member stopped. A name with a
 *   '/' below v2/ is a chunk of an unfinished upload, never a snapshot.
 * - compression suffixes: ".gz" (gzip), ".Z" (Go's compress/lzw, least
 *   significant bit first, 8-bit literals: GIF-style LZW with a clear code
 *   256, an end code 257 and codes up to 12 bits, *not* the Unix compress(1)
 *   format, which has a header and no end code) and ".zlib" (RFC 1950).
 * - a delta holds the watch events from the previous snapshot's last
 *   revision + 1 (its start) to the mod revision of its last event: the JSON
 *   array `[{"etcdEvent":<mvccpb.Event>,"time":<RFC 3339>},...]`, followed by
 *   the raw 32-byte SHA-256 of the array, the whole then compressed. The
 *   event is Go's encoding/json of mvccpb.Event: "type" omitted for a put,
 *   1 for a delete; "kv" with key and value base64 and create_revision,
 *   mod_revision, version, lease as numbers, each omitted when zero.
 * - the revision in a full snapshot's name may be lower than the one in the
 *   snapshot (etcd-io/etcd#9037): the first delta after it may repeat
 *   revisions the snapshot holds. A restore skips them (replay.h).
 * - a full snapshot drops the events buffered since the last delta, so
 *   deltas restart at the full snapshot's revision + 1.
 */
#ifndef EDR_IMPORT_GARDENER_H
#define EDR_IMPORT_GARDENER_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

enum edr_gardener_comp {
    EDR_GARDENER_PLAIN,
    EDR_GARDENER_GZIP, /* ".gz" */
    EDR_GARDENER_LZW,  /* ".Z" */
    EDR_GARDENER_ZLIB, /* ".zlib" */
};

struct edr_gardener_name {
    int full; /* 1: "Full-", 0: "Incr-" */
    int64_t start, last;
    int64_t created; /* Unix seconds */
    enum edr_gardener_comp comp;
    int final;
};

/* Parse a base name (no directory). 0, or -1 when it is not a Gardener
 * snapshot name (start above last, unknown suffix, ...). */
int edr_gardener_parse_name(const char *name, struct edr_gardener_name *n);

/* Pulls compressed input: up to n bytes into buf, *got = 0 at its end.
 * Errors set in err name the input. */
typedef edr_rc (*edr_gardener_pull_fn)(void *ud, void *buf, size_t n, size_t *got,
                                       struct edr_err *err);

/*
 * A decompressing reader for one object, pulling its input from pull; what
 * names it in errors: EDR_E_INTEGRITY "'<what>': damaged gzip data: ...",
 * "... not gzip data", "... damaged zlib data: ...", "... damaged LZW data:
 * ...", "... data after ...", or the pull's own error. gzip goes through
 * libarchive; zlib (RFC 1950) through zlib, as libarchive reads no zlib
 * stream; LZW is decoded here, as libarchive's compress filter wants the
 * compress(1) header and code-width rules, which Go's LZW does not follow.
 * Streams of any size (full snapshots); one thread.
 */
struct edr_gardener_reader;
edr_rc edr_gardener_reader_new(enum edr_gardener_comp comp, edr_gardener_pull_fn pull, void *ud,
                               const char *what, struct edr_gardener_reader **out,
                               struct edr_err *err);
/* Up to n plain bytes; *got = 0 at the end, once the input was checked to
 * end there too. */
edr_rc edr_gardener_reader_read(struct edr_gardener_reader *r, void *buf, size_t n, size_t *got,
                                struct edr_err *err);
void edr_gardener_reader_free(struct edr_gardener_reader *r);

/* Deltas above this size once decompressed are refused. */
#define EDR_GARDENER_DELTA_MAX (1024u << 20)

/* A whole object in memory, decompressed and appended to out (a delta);
 * errors as the reader's, or "'<what>': more than 1024 MiB once
 * decompressed". */
edr_rc edr_gardener_decompress(enum edr_gardener_comp comp, const uint8_t *in, size_t len,
                               struct edr_buf *out, const char *what, struct edr_err *err);

/* A delta turned into change records (segment.h). */
struct edr_gardener_delta {
    struct edr_buf records; /* the magic, then one event record per event */
    int64_t first_rev, last_rev;
    int64_t first_ms, last_ms; /* the "time" of the first and last event */
    uint64_t events;
};

/*
 * Check and convert a decompressed delta (JSON array + SHA-256): the hash,
 * every event (type, key, revisions), and that revisions run without a gap
 * (each event on the revision before it or the next one). The caller checks
 * them against the name. Errors: EDR_E_INTEGRITY "'<what>': ..." (the
 * message names the event), EDR_E_INTERNAL when out of memory. Release d
 * either way.
 */
edr_rc edr_gardener_delta_parse(const uint8_t *data, size_t len, const char *what,
                                struct edr_gardener_delta *d, struct edr_err *err);
void edr_gardener_delta_release(struct edr_gardener_delta *d);

#endif
