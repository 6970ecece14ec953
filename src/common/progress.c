/*
 * Terminal progress bar.
 */
#include "common/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double
edr_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
edr_progress_start(struct edr_progress *p, int allowed, const char *label, uint64_t total)
{
    p->enabled = allowed && isatty(STDERR_FILENO);
    p->label = label;
    p->total = total;
    p->start = edr_now();
    p->last = 0;
}

void
edr_progress_update(struct edr_progress *p, uint64_t done)
{
    double now, el, rate;
    char bar[31];
    int fill;

    if (!p->enabled)
        return;
    now = edr_now();
    if (now - p->last < 0.1)
        return;
    p->last = now;
    el = now - p->start;
    rate = el > 0 ? (double)done / el : 0;
    fill = p->total ? (int)(30.0 * (double)done / (double)p->total) : 0;
    if (fill > 30)
        fill = 30;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    if (p->total)
        fprintf(stderr, "\r%s [%s] %6.1f/%.1f MiB %7.1f MB/s ETA %3.0fs ", p->label, bar,
                (double)done / 1048576.0, (double)p->total / 1048576.0, rate / 1e6,
                rate > 0 && p->total > done ? (double)(p->total - done) / rate : 0.0);
    else
        fprintf(stderr, "\r%s %6.1f MiB %7.1f MB/s ", p->label, (double)done / 1048576.0,
                rate / 1e6);
    fflush(stderr);
}

void
edr_progress_end(struct edr_progress *p)
{
    if (p->enabled && p->last > 0) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->enabled = 0;
}
