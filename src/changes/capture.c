/*
 * Change capture (see capture.h).
 *
 * Records pile up in one buffer. Watch responses end at revision boundaries
 * unless they are fragments of one large revision, so whenever the last
 * response was not a fragment, everything buffered is complete. Lease ids
 * seen in puts are looked up at the next tick (outside the watch's
 * callbacks, on the query client) and recorded with the revision that used
 * them first; a flush publishes the buffer at a tick where it is complete.
 */
#include "changes/capture.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "common/grow.h"
#include "common/log.h"
#include "common/progress.h"
#include "etcd/watch.h"
#include "mvcc/mvcc.h"

struct pending_lease {
    int64_t id, rev;
};

struct cap {
    const struct edr_capture_opts *o;
    struct edr_capture_state *st;
    size_t ep;
    struct edr_buf buf;
    int in_fragment;  /* a revision is split and not complete yet */
    int64_t last_rev; /* revision of the last event (0: none buffered) */
    int64_t first_rev, first_ms, last_ms;
    uint64_t events, leases;
    int64_t *known; /* lease ids already recorded in this run */
    size_t nknown, capknown;
    struct pending_lease *pend;
    size_t npend, cappend;
    int compacted;
    int started;       /* an event came on this watch */
    int64_t seg_first; /* the first revision the next segment declares */
};

static int64_t
now_ms(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static int
lease_seen(const struct cap *c, int64_t id)
{
    for (size_t i = 0; i < c->nknown; i++)
        if (c->known[i] == id)
            return 1;
    for (size_t i = 0; i < c->npend; i++)
        if (c->pend[i].id == id)
            return 1;
    return 0;
}

static edr_rc
add_event(struct cap *c, const struct edr_watch_event *ev, int64_t t, struct edr_err *err)
{
    struct edr_kv kv;
    int64_t want;
    edr_rc rc;

    if ((rc = edr_mvcc_kv_decode(ev->kv, ev->kv_len, &kv, err)) != EDR_OK)
        return edr_err_prefix(err, "watch event");
    want = c->last_rev != 0 ? c->last_rev + 1 : c->st->next_rev;
    /* the watch's first event may come after its start revision (revision 1
     * of a fresh etcd has none); from then on every revision must follow */
    if (!c->started && kv.mod_revision > want)
        want = kv.mod_revision;
    c->started = 1;
    if (kv.mod_revision != want && (c->last_rev == 0 || kv.mod_revision != c->last_rev))
        return edr_err_set(err, EDR_E_INTEGRITY,
                           "the watch sent revision %" PRId64 " where %" PRId64
                           " was due (revisions missing)",
                           kv.mod_revision, want);
    if (edr_seg_put_event(&c->buf, ev->type == EDR_WATCH_DELETE ? EDR_SEG_DEL : EDR_SEG_PUT,
                          kv.mod_revision, t, ev->kv, ev->kv_len) != 0)
        return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
    if (c->first_rev == 0) {
        c->first_rev = kv.mod_revision;
        c->first_ms = t;
    }
    c->last_rev = kv.mod_revision;
    c->last_ms = t;
    c->events++;
    if (ev->type == EDR_WATCH_PUT && kv.lease != 0 && !lease_seen(c, kv.lease)) {
        if (edr_grow(&c->pend, &c->cappend, c->npend + 1, sizeof(*c->pend)) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        c->pend[c->npend++] = (struct pending_lease){kv.lease, kv.mod_revision};
    }
    return EDR_OK;
}

static edr_rc
on_msg(void *ud, const uint8_t *msg, size_t len, struct edr_err *err)
{
    struct cap *c = ud;
    struct edr_watch_resp r;
    int64_t t = now_ms();
    edr_rc rc;

    if ((rc = edr_watch_decode(msg, len, &r, err)) != EDR_OK)
        return rc;
    if (r.header.revision > c->st->etcd_rev)
        c->st->etcd_rev = r.header.revision;
    if (r.header.cluster_id != 0) {
        if (c->st->cluster_id == 0)
            c->st->cluster_id = r.header.cluster_id;
        else if (c->st->cluster_id != r.header.cluster_id) {
            edr_watch_resp_release(&r);
            return edr_err_set(err, EDR_E_ETCD,
                               "the endpoint belongs to cluster %016" PRIx64 ", not %016" PRIx64
                               " as the chain does",
                               r.header.cluster_id, c->st->cluster_id);
        }
    }
    if (r.canceled) {
        edr_watch_resp_release(&r);
        if (r.compact_revision > 0) {
            c->st->compact_revision = r.compact_revision;
            c->compacted = 1;
            return edr_err_set(err, EDR_E_NOTFOUND,
                               "revision %" PRId64
                               " is compacted (etcd keeps revisions from %" PRId64 ")",
                               c->st->next_rev, r.compact_revision);
        }
        return edr_err_set(err, EDR_E_ETCD, "etcd cancelled the watch%s%s",
                           r.cancel_reason[0] ? ": " : "", r.cancel_reason);
    }
    for (size_t k = 0; k < r.nevents; k++)
        if ((rc = add_event(c, &r.events[k], t, err)) != EDR_OK)
            break;
    c->in_fragment = r.fragment;
    edr_watch_resp_release(&r);
    return rc;
}

/* Look up the leases new puts used (only while no revision is open, so the
 * records land in the segment that holds their revision). */
static edr_rc
resolve_leases(struct cap *c, struct edr_err *err)
{
    for (size_t k = 0; k < c->npend; k++) {
        struct pending_lease *p = &c->pend[k];
        int64_t granted = 0, ttl = -1;
        struct edr_err e2;

        edr_rc lrc = EDR_E_ETCD;
        size_t nep = edr_etcd_endpoint_count(c->o->query_client);

        /* the watched member first, then any other that answers */
        for (size_t j = 0; j < nep && lrc != EDR_OK; j++)
            lrc = edr_etcd_lease_ttl(c->o->query_client, (c->ep + j) % nep, p->id, &granted, &ttl,
                                     &e2);
        if (lrc != EDR_OK)
            edr_warn("lease %016" PRIx64 ": TTL lookup failed (%s); recorded without a TTL",
                     (uint64_t)p->id, e2.msg);
        if (edr_seg_put_lease(&c->buf, p->rev, p->id, granted > 0 ? granted : 0) != 0 ||
            edr_grow(&c->known, &c->capknown, c->nknown + 1, sizeof(*c->known)) != 0)
            return edr_err_set(err, EDR_E_INTERNAL, "out of memory");
        c->known[c->nknown++] = p->id;
        c->leases++;
    }
    c->npend = 0;
    return EDR_OK;
}

static edr_rc
flush(struct cap *c, struct edr_err *err)
{
    struct edr_capture_state *st = c->st;
    struct edr_segment s;
    edr_rc rc;

    if (c->in_fragment || c->last_rev == 0)
        return EDR_OK;
    if ((rc = resolve_leases(c, err)) != EDR_OK)
        return rc;
    memset(&s, 0, sizeof(s));
    s.first_revision = c->seg_first;
    s.last_revision = c->last_rev;
    s.first_time_ms = c->first_ms;
    s.last_time_ms = c->last_ms;
    s.events = c->events;
    s.leases = c->leases;
    s.cluster_id = st->cluster_id;
    snprintf(s.prev_sha256, sizeof(s.prev_sha256), "%s", st->prev_sha256);
    snprintf(s.base, sizeof(s.base), "%s", st->prev_sha256[0] ? "" : st->base);
    rc = edr_segment_publish(c->o->repo, c->o->rcpt, c->o->nrcpt, c->o->level, &s, c->buf.data,
                             c->buf.len, err);
    if (rc != EDR_OK)
        return rc;
    edr_debug("published changes %" PRId64 "..%" PRId64 " (%" PRIu64 " events)", s.first_revision,
              s.last_revision, s.events);
    snprintf(st->prev_sha256, sizeof(st->prev_sha256), "%s", s.records_sha256);
    st->next_rev = s.last_revision + 1;
    st->seg_start = 0;
    c->seg_first = st->next_rev;
    st->last_publish = edr_now();
    st->last_publish_rev = s.last_revision;
    edr_buf_reset(&c->buf);
    c->first_rev = c->last_rev = 0;
    c->events = c->leases = 0;
    if (c->o->published != NULL)
        c->o->published(c->o->ud, &s, st->etcd_rev);
    return EDR_OK;
}

#define AUTH_POLL_S 15

/* Auth changes are not in the watch: poll etcd's auth revision. A change ends
 * the watch (after a flush) so that a full backup records it. */
static edr_rc
check_auth(struct cap *c, struct edr_err *err)
{
    struct edr_capture_state *st = c->st;
    struct edr_err e2;
    uint64_t rev;
    edr_rc rc;

    if (st->auth_unsupported || edr_now() - st->auth_checked < AUTH_POLL_S)
        return EDR_OK;
    st->auth_checked = edr_now();
    rc = edr_etcd_auth_revision(c->o->query_client, c->ep, &rev, &e2);
    if (rc == EDR_E_NOTFOUND) {
        edr_info("etcd has no auth revision (AuthStatus, etcd 3.5+): changes of users and roles "
                 "are recorded by full backups only");
        st->auth_unsupported = 1;
        return EDR_OK;
    }
    if (rc != EDR_OK) {
        edr_debug("auth revision: %s", e2.msg);
        return EDR_OK;
    }
    if (st->auth_rev != 0 && rev != st->auth_rev) {
        if ((rc = flush(c, err)) != EDR_OK)
            return rc;
        st->auth_changed = 1;
        edr_warn("etcd's users, roles or permissions changed (auth revision %" PRIu64 " -> %" PRIu64
                 "): they are not in the watch",
                 st->auth_rev, rev);
        st->auth_rev = rev;
        return edr_err_set(err, EDR_E_NOTFOUND, "auth changed");
    }
    st->auth_rev = rev;
    return EDR_OK;
}

static edr_rc
tick(void *ud, struct edr_err *err)
{
    struct cap *c = ud;
    edr_rc rc;

    if (c->in_fragment)
        return EDR_OK;
    if ((rc = check_auth(c, err)) != EDR_OK)
        return rc;
    if (c->last_rev == 0)
        return EDR_OK;
    if (edr_now() - c->st->last_publish < c->o->flush_s && c->buf.len < c->o->flush_bytes)
        return EDR_OK;
    return flush(c, err);
}

edr_rc
edr_capture_watch(const struct edr_capture_opts *o, size_t i, struct edr_capture_state *st,
                  struct edr_err *err)
{
    struct edr_etcd_stream_cb cb;
    struct cap c;
    uint8_t req[64];
    size_t len;
    edr_rc rc;

    memset(&c, 0, sizeof(c));
    c.o = o;
    c.st = st;
    c.ep = i;
    st->compact_revision = 0;
    st->auth_changed = 0;
    c.seg_first = st->seg_start > 0 ? st->seg_start : st->next_rev;
    if (st->last_publish == 0)
        st->last_publish = edr_now();
    len = edr_watch_create_request(st->next_rev, req, sizeof(req));
    cb.on_msg = on_msg;
    cb.tick = tick;
    cb.ud = &c;
    edr_info("capturing changes from revision %" PRId64 " on %s", st->next_rev,
             edr_etcd_endpoint(o->watch_client, i));
    rc = edr_etcd_stream_call(o->watch_client, i, "Watch", "Watch", req, len, &cb, err);
    /* what is complete is kept, whatever ended the stream */
    if (!c.compacted && !st->auth_changed && rc != EDR_E_INTEGRITY) {
        struct edr_err e2;
        edr_rc frc = flush(&c, &e2);
        if (frc != EDR_OK && (rc == EDR_E_ETCD || rc == EDR_E_INTERRUPTED)) {
            *err = e2;
            rc = frc;
        }
    }
    edr_buf_release(&c.buf);
    free(c.known);
    free(c.pend);
    return rc;
}
