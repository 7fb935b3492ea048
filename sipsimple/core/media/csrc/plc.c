/*
 * plc.c - packet-loss concealment by pitch repetition with fade (see plc.h for the rules).
 */
#include "plc.h"

#include <math.h>
#include <string.h>

/* The last history_len output samples, oldest first. */
static inline const int16_t *history(const media_plc *plc)
{
    return plc->room + plc->history_end - plc->history_len;
}

static void remember(media_plc *plc, const int16_t *pcm, size_t n)
{
    size_t h = plc->history_len;
    if (n >= h) {
        memcpy(plc->room, pcm + n - h, h * sizeof(int16_t));
        plc->history_end = (unsigned)h;
        return;
    }
    if (plc->history_end + n > MEDIA_PLC_ROOM) { /* the h - n samples still wanted back to the start */
        memmove(plc->room, plc->room + plc->history_end - (h - n), (h - n) * sizeof(int16_t));
        plc->history_end = (unsigned)(h - n);
    }
    memcpy(plc->room + plc->history_end, pcm, n * sizeof(int16_t));
    plc->history_end += (unsigned)n;
}

static inline int16_t saturate(float v)
{
    if (v >= 32767.0f)
        return 32767;
    if (v <= -32768.0f)
        return -32768;
    return (int16_t)lrintf(v);
}

void media_plc_init(media_plc *plc, unsigned rate)
{
    memset(plc, 0, sizeof(*plc));
    if (rate > MEDIA_PLC_MAX_RATE)
        rate = MEDIA_PLC_MAX_RATE;
    if (rate < 4000)
        rate = 4000;
    plc->rate = rate;
    plc->history_len = rate / 1000 * 50;
    plc->history_end = plc->history_len; /* silence so far */
}

/* Normalised cross-correlation of the last `window` samples with the samples `lag` earlier,
 * looking at every `step`-th sample. */
static double similarity(const int16_t *end, unsigned window, unsigned lag, unsigned step)
{
    const int16_t *recent = end - window, *earlier = recent - lag;
    double cross = 0.0, energy = 0.0;
    for (unsigned i = 0; i < window; i += step) {
        double a = recent[i], b = earlier[i];
        cross += a * b;
        energy += b * b;
    }
    return energy > 0.0 ? cross / sqrt(energy) : 0.0;
}

/* The pitch period (5..15 ms) that best predicts the last 20 ms: a coarse search on decimated
 * samples and lags, then a fine search around the best coarse lag. */
static unsigned estimate_pitch(const media_plc *plc)
{
    const int16_t *end = history(plc) + plc->history_len;
    unsigned rate = plc->rate;
    unsigned lo = rate / 200, hi = rate * 15 / 1000, window = rate / 50;
    unsigned step = rate / 4000 ? rate / 4000 : 1;
    unsigned best = hi;
    double best_score = 0.0;
    for (unsigned lag = lo; lag <= hi; lag += step) {
        double score = similarity(end, window, lag, step);
        if (score > best_score) {
            best_score = score;
            best = lag;
        }
    }
    unsigned first = best > lo + step ? best - step + 1 : lo;
    unsigned last = best + step - 1 < hi ? best + step - 1 : hi;
    double fine_score = -1.0;
    unsigned fine = best;
    for (unsigned lag = first; lag <= last; lag++) {
        double score = similarity(end, window, lag, 1);
        if (score > fine_score) {
            fine_score = score;
            fine = lag;
        }
    }
    return fine;
}

static void start_erasure(media_plc *plc)
{
    unsigned h = plc->history_len;
    const int16_t *past = history(plc);
    unsigned period = estimate_pitch(plc);
    plc->pitch = period;
    memcpy(plc->periods, past + h - 3 * period, 3 * period * sizeof(int16_t));
    plc->cycle = period;
    plc->pos = 0;
    plc->fade_left = 0;
    /* the periodic extension's sample "before" the first repeated one is history[h-1-period];
     * the real one is history[h-1]: their difference, decaying, joins the two waveforms */
    plc->offset = (float)past[h - 1] - (float)past[h - 1 - period];
}

/* The next synthetic sample of the current erasure. */
static float synthesise(media_plc *plc)
{
    unsigned period = plc->pitch, span = 3 * period;
    unsigned ten_ms = plc->rate / 100;
    unsigned t = plc->lost;
    if ((t == ten_ms || t == 2 * ten_ms) && plc->cycle < span) {
        /* one more period in the cycle, same phase one period earlier, cross-faded in */
        plc->old_cycle = plc->cycle;
        plc->old_pos = plc->pos;
        plc->cycle += period;
        plc->fade_len = plc->fade_left = period / 4 ? period / 4 : 1;
    }
    float v = plc->periods[span - plc->cycle + plc->pos];
    if (plc->fade_left) {
        float old = plc->periods[span - plc->old_cycle + plc->old_pos];
        float w = (float)(plc->fade_len - plc->fade_left + 1) / (float)(plc->fade_len + 1);
        v = w * v + (1.0f - w) * old;
        plc->old_pos = (plc->old_pos + 1) % plc->old_cycle;
        plc->fade_left--;
    }
    plc->pos = (plc->pos + 1) % plc->cycle;
    unsigned join = period / 4 ? period / 4 : 1;
    if (t < join)
        v += plc->offset * (1.0f - (float)(t + 1) / (float)(join + 1));
    if (t >= ten_ms) {
        float gain = 1.0f - 0.2f * (float)(t - ten_ms) / (float)ten_ms;
        v = gain > 0.0f ? v * gain : 0.0f;
    }
    if (plc->lost < 0x40000000u)
        plc->lost++;
    return v;
}

void media_plc_conceal(media_plc *plc, int16_t *pcm, size_t n)
{
    if (plc->lost == 0)
        start_erasure(plc);
    unsigned silent_after = plc->rate / 1000 * 60;
    for (size_t i = 0; i < n; i++) {
        if (plc->lost >= silent_after) {
            size_t rest = n - i;
            memset(pcm + i, 0, rest * sizeof(int16_t));
            plc->lost = rest >= 0x40000000u - plc->lost ? 0x40000000u : plc->lost + (unsigned)rest;
            break;
        }
        pcm[i] = saturate(synthesise(plc));
    }
    remember(plc, pcm, n);
}

void media_plc_good(media_plc *plc, int16_t *pcm, size_t n)
{
    if (plc->lost) {
        unsigned lost_ms = plc->lost / (plc->rate / 1000);
        unsigned ola_ms = 4 + (lost_ms > 10 ? 4 * ((lost_ms - 10) / 10) : 0);
        if (ola_ms > 10)
            ola_ms = 10;
        size_t ola = plc->rate / 1000 * ola_ms;
        if (ola > n)
            ola = n;
        unsigned silent_after = plc->rate / 1000 * 60;
        for (size_t i = 0; i < ola; i++) {
            float synthetic = plc->lost < silent_after ? synthesise(plc) : 0.0f;
            float w = (float)(i + 1) / (float)(ola + 1);
            pcm[i] = saturate(w * (float)pcm[i] + (1.0f - w) * synthetic);
        }
        plc->lost = 0;
    }
    remember(plc, pcm, n);
}
