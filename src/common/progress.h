/*
 * A progress bar on stderr for long work (bytes, MB/s, ETA), drawn only
 * when stderr is a terminal; otherwise nothing (commands print one summary
 * line at the end instead). Updates are throttled to 10 per second.
 */
#ifndef EDR_COMMON_PROGRESS_H
#define EDR_COMMON_PROGRESS_H

#include <stdint.h>

struct edr_progress {
    int enabled;
    const char *label;
    uint64_t total; /* 0 = unknown */
    double start, last;
};

void edr_progress_start(struct edr_progress *p, int allowed, const char *label, uint64_t total);
void edr_progress_update(struct edr_progress *p, uint64_t done);
void edr_progress_end(struct edr_progress *p);
double edr_now(void); /* monotonic seconds */

#endif
