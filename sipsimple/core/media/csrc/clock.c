/*
 * clock.c - the periodic native thread (see clock.h).
 */
#define _GNU_SOURCE
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct media_clock {
    uint64_t period_ns;
    media_clock_fn fn;
    void *arg;
    pthread_t thread;
    int running;     /* a thread exists (controlling thread only) */
    int stop;        /* atomic: asks the thread to leave */
    uint64_t ticks;  /* atomics: written by the thread, read by anyone */
    uint64_t overruns;
    uint64_t underruns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_until(uint64_t deadline)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(deadline / 1000000000u);
    ts.tv_nsec = (long)(deadline % 1000000000u);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static void *run(void *data)
{
    media_clock_t *c = data;
    uint64_t deadline = now_ns() + c->period_ns;
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        uint64_t now = now_ns();
        if (now < deadline) {
            sleep_until(deadline);
            if (__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
                break;
        } else if (now - deadline > MEDIA_CLOCK_MAX_LAG * c->period_ns) {
            uint64_t behind = (now - deadline) / c->period_ns;
            __atomic_add_fetch(&c->underruns, behind, __ATOMIC_RELAXED);
            deadline += behind * c->period_ns;
        } else if (now - deadline > c->period_ns) {
            __atomic_add_fetch(&c->overruns, 1, __ATOMIC_RELAXED);
        }
        c->fn(c->arg);
        __atomic_add_fetch(&c->ticks, 1, __ATOMIC_RELAXED);
        deadline += c->period_ns;
    }
    return NULL;
}

int media_clock_create(uint64_t period_ns, media_clock_fn fn, void *arg, media_clock_t **out)
{
    media_clock_t *c;
    *out = NULL;
    if (period_ns == 0 || fn == NULL)
        return -EINVAL;
    if ((c = calloc(1, sizeof(*c))) == NULL)
        return -ENOMEM;
    c->period_ns = period_ns;
    c->fn = fn;
    c->arg = arg;
    *out = c;
    return 0;
}

int media_clock_start(media_clock_t *c)
{
    sigset_t all, saved;
    int err;
    if (c->running)
        return 0;
    __atomic_store_n(&c->stop, 0, __ATOMIC_RELEASE);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &saved); /* the new thread inherits "all blocked" */
    err = pthread_create(&c->thread, NULL, run, c);
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (err != 0)
        return -err;
#ifdef __linux__
    pthread_setname_np(c->thread, "media-clock");
#endif
    c->running = 1;
    return 0;
}

void media_clock_stop(media_clock_t *c)
{
    if (!c->running)
        return;
    __atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
    pthread_join(c->thread, NULL);
    c->running = 0;
}

void media_clock_destroy(media_clock_t *c)
{
    if (c == NULL)
        return;
    media_clock_stop(c);
    free(c);
}

int media_clock_running(const media_clock_t *c)
{
    return c->running;
}

void media_clock_get_stats(const media_clock_t *c, media_clock_stats_t *out)
{
    out->ticks = __atomic_load_n(&c->ticks, __ATOMIC_RELAXED);
    out->overruns = __atomic_load_n(&c->overruns, __ATOMIC_RELAXED);
    out->underruns = __atomic_load_n(&c->underruns, __ATOMIC_RELAXED);
}
