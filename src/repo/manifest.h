/*
 * The backup manifest: a plaintext JSON document next to each data file,
 * written last (it is the commit marker: a data file without a manifest is
 * not a backup). It holds no secret, so list, prune and stored-level verify
 * work on a host without the secret key. Schema: etcd-dr-format(5).
 */
#ifndef EDR_REPO_MANIFEST_H
#define EDR_REPO_MANIFEST_H

#include <stdint.h>
#include <time.h>

#include "common/err.h"

#define EDR_MANIFEST_FORMAT 1
#define EDR_MANIFEST_MAX_RECIPIENTS 32
#define EDR_MANIFEST_MAX_SIZE (4u << 20)
/* backup --include: at most this many files, paths of at most this length */
#define EDR_MANIFEST_MAX_FILES 1024
#define EDR_MANIFEST_PATH_MAX 1024

/*
 * A file kept beside the snapshot (backup --include): its record in the
 * manifest, never its content. The path is absolute and normal (no "." or
 * ".." component, no "//", no trailing '/'); the tar entry holding the bytes
 * is "files" followed by the path.
 */
struct edr_manifest_file {
    char path[EDR_MANIFEST_PATH_MAX];
    uint64_t size;
    unsigned mode; /* permission bits, 07777 at most */
    unsigned uid, gid;
    char owner[33], group[33]; /* names when known, else "" */
    char sha256[65];
};

/* Where an imported backup came from (etcd-dr import); tool[0] == '\0' for
 * a backup etcd-dr took itself. Written as the "origin" object only when set,
 * so manifests of other backups are unchanged; older manifests have none. */
struct edr_manifest_origin {
    char tool[16];        /* "etcdctl", "k3s", "rke2", "gardener" */
    char source[1024];    /* path, or s3://bucket/key, of the file as stored */
    char node[256];       /* node that took it, "" unknown */
    char cluster_id[128]; /* the tool's cluster id, "" unknown */
    char token_hash[160]; /* k3s/RKE2 server token hash, "" unknown */
    time_t time;          /* when the tool took it, 0 unknown */
    uint64_t size;        /* bytes of the source as stored (zip included) */
    char sha256[65];      /* SHA-256 of those bytes, lower-case hex */
    char metadata[2048];  /* k3s/RKE2 .metadata file: a JSON object, compact; "" none */
};

struct edr_manifest {
    int format;
    char id[64];
    char cluster[128];
    time_t started, finished;
    double duration_s;
    char tool_version[32];
    char endpoint[256];
    char etcd_version[32];
    uint64_t cluster_id, member_id;
    int64_t revision;
    uint64_t raft_index, raft_term;
    uint64_t db_size;
    char db_sha256[65];
    uint64_t stored_size;
    char stored_sha256[65];
    char compression[16]; /* "zstd" */
    int compress_level;
    int encrypted;
    int nrecipients;
    char recipients[EDR_MANIFEST_MAX_RECIPIENTS][17]; /* key ids */
    uint64_t total_keys;    /* pairs in all buckets (etcdctl 3.4 "total keys") */
    uint64_t key_revisions; /* entries in the mvcc key bucket */
    struct edr_manifest_origin origin;
    /* the files kept beside the snapshot: edr_manifest_to_json writes
     * files[0..nfiles) (borrowed, not owned); edr_manifest_from_json only
     * counts them (files stays NULL): edr_manifest_files_from_json reads them */
    size_t nfiles;
    const struct edr_manifest_file *files;
    /* last verification, from <id>.verify.json (not part of the manifest file) */
    int verified; /* 0 never, 1 ok, -1 failed */
    char verify_level[16];
    time_t verify_time;
};

/* Serialize to a malloc'ed JSON string (pretty, trailing newline). */
edr_rc edr_manifest_to_json(const struct edr_manifest *m, char **out, struct edr_err *err);
/* Parse; `what` names the source in messages. Unknown fields are ignored. */
edr_rc edr_manifest_from_json(const char *json, size_t len, const char *what,
                              struct edr_manifest *m, struct edr_err *err);

/* The "files" array of a manifest into a malloc'ed *files (NULL and 0 when
 * there is none). EDR_E_INTEGRITY, naming `what`, for a bad document or
 * record ("manifest 'x': field 'files[2].path' is not a normal absolute
 * path"). */
edr_rc edr_manifest_files_from_json(const char *json, size_t len, const char *what,
                                    struct edr_manifest_file **files, size_t *n,
                                    struct edr_err *err);
/* Path rules of the records: 0 when path is absolute and normal, with
 * components of at most 255 bytes and the whole below EDR_MANIFEST_PATH_MAX. */
int edr_manifest_path_ok(const char *path);
/* Two records say the same: 0, or -1 with the first differing field name in
 * *field. */
int edr_manifest_file_cmp(const struct edr_manifest_file *a, const struct edr_manifest_file *b,
                          const char **field);

/* "2026-11-26T18:30:00Z" <-> time_t (UTC). */
void edr_time_iso(time_t t, char out[32]);
int edr_time_parse_iso(const char *s, time_t *out);

#endif
