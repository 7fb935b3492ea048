/*
 * resample.h - the mixer's own sample-rate converter for small integer ratios (8 <-> 16, 32, 48 kHz,
 * 16 <-> 32, 48 kHz, 24 <-> 48 kHz, 32 <-> 48 kHz...).
 *
 * A converter turns one frame of `in_frame` mono int16 samples at `in_rate` into one frame of
 * `out_frame = in_frame * out_rate / in_rate` samples at `out_rate`, keeping its filter history
 * from one frame to the next, so a stream cut into frames comes out exactly as if it had been
 * converted in one piece (no clicks at frame boundaries).
 *
 * The filter: a polyphase FIR (int16 coefficients, int32 accumulation) designed from a
 * Kaiser-windowed sinc when the converter is created, linear phase (every frequency delayed
 * alike: the waveform is kept) or, with media_resampler_create_ex(..., minimum_phase = 1, ...),
 * minimum phase (the same selectivity with a fraction of the delay; the design is cached):
 *   - passband: flat (ripple well under 0.1 dB) up to 0.9 x the lower rate's Nyquist frequency;
 *   - stopband: from the lower rate's Nyquist frequency up, attenuated by at least
 *     MEDIA_RESAMPLER_ATTENUATION_DB (design) - what would alias when going down, or be an image
 *     when going up, is removed;
 *   - DC passes exactly: a constant input gives the same constant output (every phase sums to one);
 *   - delay: linear phase, (taps - 1) / 2 samples at every frequency (5.3 ms at 8 kHz, 2.6 ms at
 *     16 kHz); minimum phase, 0.3-0.6 ms through the voice band and about 1.2 ms at the passband
 *     edge (media_resampler_info_t.delay is the group delay at DC);
 *   - overflow is impossible: the coefficient scale is chosen so that the largest possible sum of a
 *     phase (full-scale input of the worst sign pattern) fits 32 bits; the result saturates to 16.
 * Ratios of 3 and more run in two stages to halve the work: the sharp filter at twice the lower
 * rate and a short, gentle filter for the remaining factor (rates r -> 2r -> R going up, R -> 2r -> r
 * going down).
 *
 * Ratios the converter does not take (see media_resampler_supports) stay with speexdsp.
 *
 * Threads: a converter belongs to one thread at a time (the mixer's tick); creation computes the
 * filter, processing never allocates.
 */
#ifndef SIPSIMPLE_MEDIA_RESAMPLE_H
#define SIPSIMPLE_MEDIA_RESAMPLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_RESAMPLER_ATTENUATION_DB 63.0 /* design stopband attenuation */
#define MEDIA_RESAMPLER_PASSBAND 0.9        /* passband edge, fraction of the lower Nyquist */
#define MEDIA_RESAMPLER_MAX_FACTOR 12u      /* L and M of the reduced ratio L/M at most this */

typedef struct media_resampler media_resampler_t;

/* Description of a converter (for tests, benchmarks and documentation). */
typedef struct media_resampler_info {
    uint32_t in_rate, out_rate;
    uint32_t in_frame, out_frame;
    uint32_t stages;      /* 1 or 2 */
    int minimum_phase;    /* 1: minimum-phase filters, 0: linear phase */
    uint32_t up[2], down[2];  /* stage i converts by up[i]/down[i] */
    uint32_t taps[2];     /* taps per phase of stage i */
    uint32_t shift[2];    /* coefficient scale of stage i: 2^shift is unity */
    uint32_t half[2];     /* taps in the first of the two int32 partial sums of stage i */
    uint32_t macs_per_frame; /* multiply-accumulates per frame, all stages */
    double delay;         /* group delay at DC, in input samples */
} media_resampler_info_t;

/* 1 when the converter takes this pair of rates (a small integer ratio, not 1), else 0. */
int media_resampler_supports(uint32_t in_rate, uint32_t out_rate);

/* 0, -EINVAL (unsupported rates, or in_frame not a whole number of ratio periods), -ENOMEM.
 * media_resampler_create() designs linear-phase filters; _ex chooses. */
int media_resampler_create(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, media_resampler_t **out);
int media_resampler_create_ex(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, int minimum_phase,
                              media_resampler_t **out);
void media_resampler_destroy(media_resampler_t *resampler);

/* Converts exactly in_frame samples into exactly out_frame samples (in and out may not overlap). */
void media_resampler_process(media_resampler_t *resampler, const int16_t *in, int16_t *out);

/* Takes a frame without producing its output: the history becomes exactly what processing `in`
 * would have left (the next frame comes out as if this one had been converted), at a fraction of
 * the cost (a copy for one stage; the few first-stage outputs the second stage keeps for two). */
void media_resampler_skip(media_resampler_t *resampler, const int16_t *in);

/* The filter state (history) of `src` into `dst`, two converters created with the same rates and
 * frame: 0, or -EINVAL when their designs differ. */
int media_resampler_copy_state(media_resampler_t *dst, const media_resampler_t *src);
/* 1 when two converters of the same design hold the same history (the next frame gives the same
 * output from both), else 0. */
int media_resampler_same_state(const media_resampler_t *a, const media_resampler_t *b);

/* Forgets the history (the next frame starts from silence). */
void media_resampler_reset(media_resampler_t *resampler);

uint32_t media_resampler_out_frame(const media_resampler_t *resampler);
int media_resampler_minimum_phase(const media_resampler_t *resampler); /* 1 or 0 */
void media_resampler_get_info(const media_resampler_t *resampler, media_resampler_info_t *out);
/* Copies the taps[stage] int16 coefficients of one phase, newest sample first (h_p[0], h_p[1]...):
 * output k of the stage is sum_j h_p[j] x[n - j] >> shift with t = k down, n = t / up, p = t % up.
 * Returns 0, or -EINVAL for a stage or phase that does not exist. */
int media_resampler_get_phase(const media_resampler_t *resampler, uint32_t stage, uint32_t phase, int16_t *taps);

#ifdef __cplusplus
}
#endif

#endif
