/*
 * clock.h - a native thread that calls a function once per period, on absolute deadlines.
 *
 * The mixer uses it when no sound device drives the ticks (the null device and the file devices).
 * Deadlines are computed from the start time (start + k * period on CLOCK_MONOTONIC) and the
 * thread sleeps with clock_nanosleep(TIMER_ABSTIME), so lateness never accumulates into drift.
 *
 * Counters:
 *   ticks     - calls made;
 *   overruns  - calls that started more than one period after their deadline (the previous call or
 *               the scheduler overran the frame time); the clock catches up by calling at once;
 *   underruns - deadlines given up: when the clock is more than MEDIA_CLOCK_MAX_LAG periods
 *               behind, it skips to the current time instead of bursting (a gap in the audio).
 *
 * The thread blocks all signals (they stay with the threads Python runs on) and never takes the
 * GIL. start/stop/destroy must be called from one controlling thread (the Twisted thread).
 */
#ifndef SIPSIMPLE_MEDIA_CLOCK_H
#define SIPSIMPLE_MEDIA_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_CLOCK_MAX_LAG 5u

typedef void (*media_clock_fn)(void *arg);
typedef struct media_clock media_clock_t;

typedef struct media_clock_stats {
    uint64_t ticks;
    uint64_t overruns;
    uint64_t underruns;
} media_clock_stats_t;

/* period_ns > 0. Returns 0 or a negative errno value. */
int media_clock_create(uint64_t period_ns, media_clock_fn fn, void *arg, media_clock_t **out);
void media_clock_destroy(media_clock_t *clock); /* stops it first */
int media_clock_start(media_clock_t *clock);    /* 0, or -errno; starting a running clock is a no-op */
void media_clock_stop(media_clock_t *clock);    /* returns after the last call has finished */
int media_clock_running(const media_clock_t *clock);
void media_clock_get_stats(const media_clock_t *clock, media_clock_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif
