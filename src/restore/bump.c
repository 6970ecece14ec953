/*
 * The --bump-revision auto formula (bump.h). Under-bumping is what hurts: a
 * client that saw a revision above the restored cluster's would take the new
 * writes for ones it already has. Over-bumping costs nothing (revisions are
 * int64), so every estimate leans high: the peak rate observed rather than
 * the mean, doubled, over the whole time since the newest record.
 */
#include "restore/bump.h"

#include <stdlib.h>
#include <string.h>

static int
by_time(const void *a, const void *b)
{
    const struct edr_bump_record *x = *(const struct edr_bump_record *const *)a;
    const struct edr_bump_record *y = *(const struct edr_bump_record *const *)b;

    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return x->revision < y->revision ? -1 : x->revision > y->revision;
}

/* The peak rate over windows of at least EDR_BUMP_MIN_SPAN seconds, each
 * from one record to the first one that far after it (or to the last
 * record, over the minimum span, when none is); -1 without two points in
 * time. Two pointers over the records sorted by time: linear after the sort. */
static double
peak_rate(const struct edr_bump_record *recs, size_t n)
{
    const struct edr_bump_record **s = n ? malloc(n * sizeof(*s)) : NULL;
    const int64_t span_ms = (int64_t)EDR_BUMP_MIN_SPAN * 1000;
    double best = -1;
    size_t j = 0;

    if (s == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        s[i] = &recs[i];
    qsort(s, n, sizeof(*s), by_time);
    for (size_t i = 0; i + 1 < n; i++) {
        double dt, dr;

        if (j <= i)
            j = i + 1;
        while (j < n && s[j]->time_ms - s[i]->time_ms < span_ms)
            j++;
        if (j < n) {
            dt = (double)(s[j]->time_ms - s[i]->time_ms) / 1000.0;
            dr = (double)(s[j]->revision - s[i]->revision);
        } else if (s[n - 1]->time_ms > s[i]->time_ms) {
            dt = EDR_BUMP_MIN_SPAN;
            dr = (double)(s[n - 1]->revision - s[i]->revision);
        } else {
            continue; /* the same moment: no time to measure a rate over */
        }
        if (dr < 0)
            dr = 0; /* records of two histories (a restore in between): no rate */
        if (dr / dt > best)
            best = dr / dt;
    }
    free(s);
    return best;
}

void
edr_bump_auto(const struct edr_bump_record *recs, size_t n, int64_t restoring, int64_t now_ms,
              struct edr_bump_choice *out)
{
    double rate, m;
    int64_t h = restoring, t_h = now_ms, above;

    memset(out, 0, sizeof(*out));
    out->from = n;
    for (size_t i = 0; i < n; i++)
        if (recs[i].revision > h)
            h = recs[i].revision;
    /* the oldest record of H: the cluster may have moved on from then */
    for (size_t i = 0; i < n; i++)
        if (recs[i].revision == h && (out->from == n || recs[i].time_ms < t_h)) {
            t_h = recs[i].time_ms;
            out->from = i;
        }
    rate = peak_rate(recs, n);
    out->rate_observed = rate >= 0;
    if (rate < 0)
        rate = EDR_BUMP_DEFAULT_RATE;
    out->rate = rate;
    out->gap_s = now_ms > t_h ? (now_ms - t_h) / 1000 : 0;
    m = EDR_BUMP_RATE_FACTOR * rate * (double)(now_ms > t_h ? now_ms - t_h : 0) / 1000.0;
    if (!(m < (double)EDR_BUMP_MAX)) {
        out->margin = EDR_BUMP_MAX;
    } else {
        out->margin = (int64_t)m;
        if ((double)out->margin < m)
            out->margin++; /* rounded up */
        if (out->margin < EDR_BUMP_FLOOR)
            out->margin = EDR_BUMP_FLOOR;
    }
    out->highest = h;
    above = h > restoring ? h - restoring : 0;
    out->bump = above > EDR_BUMP_MAX - out->margin ? EDR_BUMP_MAX : above + out->margin;
}
