/*
 * verify --chain: the captured changes of a cluster are complete, linked and
 * intact. Every segment's stored bytes are checked against its manifest;
 * with --identity every record is read back (decryption, records hash,
 * revisions without a gap, the manifest copy inside). Between segments: a
 * segment that names a predecessor (prev_sha256) must follow it directly, so
 * a segment removed, replaced, reordered or taken from another cluster is
 * named. A chain that starts afresh (after a compaction) is not a fault, nor
 * is a first segment whose predecessors prune removed (prune removes the
 * oldest ones only; what they covered is no longer recoverable, as `list`
 * says).
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "changes/segment.h"
#include "cmd/cmd.h"
#include "common/log.h"
#include "crypto/keys.h"
#include "repo/repo.h"
#include "stream/basic.h"

struct problems {
    json_t *arr;
    size_t n;
};

static void
problem(struct problems *p, const char *name, const char *msg)
{
    const char *rest = strstr(msg, "': ");

    /* the reader's messages name the segment already */
    if (strncmp(msg, "segment '", 9) == 0 && rest != NULL)
        msg = rest + 3;
    p->n++;
    json_array_append_new(p->arr, json_pack("{s:s, s:s}", "segment", name, "error", msg));
}

/* Size and SHA-256 of the stored object against the manifest. */
static edr_rc
check_stored(struct edr_repo *repo, const struct edr_segment *s, struct edr_err *err)
{
    struct edr_stream *sha = NULL, *size = NULL;
    char name[320], hex[65];
    edr_rc rc;

    edr_segment_name(s->cluster, s->first_revision, s->last_revision, ".edr", name, sizeof(name));
    if ((rc = edr_stream_sha256_new(NULL, &sha, err)) == EDR_OK &&
        (rc = edr_stream_size_new(sha, NULL, &size, err)) == EDR_OK &&
        (rc = repo->st->ops->get(repo->st, name, 0, size, err)) == EDR_OK &&
        (rc = edr_stream_finish(size, err)) == EDR_OK) {
        edr_stream_sha256_hex(sha, hex);
        if (edr_stream_size_get(size) != s->stored_size || strcmp(hex, s->stored_sha256) != 0)
            rc = edr_err_set(err, EDR_E_INTEGRITY,
                             "stored object does not match the manifest (sha256 %.16s..., "
                             "expected %.16s...)",
                             hex, s->stored_sha256);
    }
    edr_stream_free(size);
    edr_stream_free(sha);
    return rc;
}

edr_rc
edr_verify_chain(struct edr_ctx *ctx)
{
    struct edr_repo *repo = NULL;
    struct edr_identity *identity = NULL;
    struct edr_segment *segs = NULL;
    struct edr_seg_problem *probs = NULL;
    struct edr_chain *chains = NULL;
    size_t n = 0, np = 0, nc = 0;
    struct problems p = {json_array(), 0};
    uint64_t events = 0;
    edr_rc rc;

    if ((rc = edr_cmd_open_repo(ctx, 0, &repo)) != EDR_OK ||
        (rc = edr_cmd_load_identity(ctx, 0, &identity)) != EDR_OK ||
        (rc = edr_segment_list(repo, &segs, &n, &probs, &np, &ctx->err)) != EDR_OK ||
        (rc = edr_segment_chains(segs, n, &chains, &nc, &ctx->err)) != EDR_OK)
        goto out;
    edr_cmd_catch_signals();
    for (size_t i = 0; i < np; i++)
        problem(&p, probs[i].name, probs[i].msg);
    for (size_t i = 0; i < n && !edr_cmd_interrupted(); i++) {
        const struct edr_segment *s = &segs[i];
        char name[320];
        struct edr_err e2;

        edr_segment_name(s->cluster, s->first_revision, s->last_revision, ".edr", name,
                         sizeof(name));
        if (i > 0 && s->first_revision <= segs[i - 1].last_revision) {
            snprintf(e2.msg, sizeof(e2.msg),
                     "overlaps the segment before it (revisions to %" PRId64 ")",
                     segs[i - 1].last_revision);
            problem(&p, name, e2.msg);
        } else if (s->prev_sha256[0] != '\0' && i > 0 &&
                   (s->first_revision != segs[i - 1].last_revision + 1 ||
                    strcmp(s->prev_sha256, segs[i - 1].records_sha256) != 0)) {
            snprintf(e2.msg, sizeof(e2.msg),
                     "the segment it continues (ending at revision %" PRId64
                     ") is missing or was replaced",
                     s->first_revision - 1);
            problem(&p, name, e2.msg);
        }
        if (identity != NULL)
            rc = edr_segment_read(repo, s, identity, NULL, NULL, &e2);
        else
            rc = check_stored(repo, s, &e2);
        if (rc == EDR_E_INTERRUPTED) {
            ctx->err = e2;
            goto out;
        }
        if (rc != EDR_OK)
            problem(&p, name, e2.msg);
        events += s->events;
    }
    rc = edr_cmd_check_interrupted(&ctx->err);
    if (rc != EDR_OK)
        goto out;
    if (ctx->json) {
        json_t *ch = json_array();
        for (size_t k = 0; k < nc; k++)
            json_array_append_new(ch,
                                  json_pack("{s:I, s:I, s:I}", "from_revision",
                                            (json_int_t)chains[k].from_rev + 1, "to_revision",
                                            (json_int_t)chains[k].to_rev, "segments",
                                            (json_int_t)(chains[k].last - chains[k].first + 1)));
        edr_cmd_print_json(
            json_pack("{s:s, s:b, s:s, s:I, s:I, s:o, s:O}", "cluster", repo->cluster, "ok",
                      p.n == 0, "level", identity ? "content" : "stored", "segments", (json_int_t)n,
                      "events", (json_int_t)events, "chains", ch, "problems", p.arr));
    } else {
        for (size_t i = 0; i < p.n; i++) {
            json_t *o = json_array_get(p.arr, i);
            fprintf(stderr, "etcd-dr: FAIL %s: %s\n",
                    json_string_value(json_object_get(o, "segment")),
                    json_string_value(json_object_get(o, "error")));
        }
        if (!ctx->quiet) {
            printf("changes of cluster '%s': %zu segment%s, %" PRIu64
                   " events, %zu chain%s, %s%s\n",
                   repo->cluster, n, n == 1 ? "" : "s", events, nc, nc == 1 ? "" : "s",
                   p.n == 0 ? "ok" : "FAILED",
                   identity ? "" : " (stored bytes only; --identity reads every record)");
            for (size_t k = 0; k < nc; k++)
                printf("  revisions %" PRId64 "..%" PRId64 ", %zu segment%s\n",
                       chains[k].from_rev + 1, chains[k].to_rev,
                       chains[k].last - chains[k].first + 1,
                       chains[k].last == chains[k].first ? "" : "s");
        }
    }
    if (p.n > 0)
        rc =
            edr_err_set(&ctx->err, EDR_E_INTEGRITY, "%zu problem%s in the captured changes of '%s'",
                        p.n, p.n == 1 ? "" : "s", repo->cluster);
out:
    json_decref(p.arr);
    free(segs);
    free(probs);
    free(chains);
    edr_identity_free(identity);
    edr_repo_free(repo);
    return rc;
}
