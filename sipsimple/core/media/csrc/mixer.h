/*
 * mixer.h - the conference mixer: slots of ports, a connection matrix, one tick per frame.
 *
 * A mixer runs at one clock rate (8/16/32/48 kHz...) with one frame time (10 or 20 ms), mono.
 * Slot 0 is the sound device: its source is the capture side and its sink the playback side
 * (media_mixer_set_device); slots 1..slot_count hold ports (media_mixer_add_port).
 *
 * One tick (media_mixer_tick):
 *   1. every source port gives one frame (get_frame); it is converted to the mixer's format
 *      (channels averaged to mono, clock rate resampled: our polyphase converter for small integer
 *      ratios (resample.h), speexdsp for the others), passed through the echo
 *      canceller when it is the device's capture, scaled by the slot's input gain (and silenced
 *      when the device is muted);
 *   2. every sink port gets one frame (put_frame): the sum of the frames of the sources connected
 *      to it, accumulated in 32 bits and clamped to 16 bits, scaled by the slot's output gain,
 *      converted to the port's format. A sink with no (audible) source receives silence.
 * A slot hears a source only through an explicit connection (src -> dst); a slot connected to
 * itself hears its own frame of the same tick.
 * mixer.c takes shortcuts that give the same samples with less work (a one-source sink without a
 * mixing pass, no conversion for a source nobody hears, one conversion per source and rate shared
 * by its one-source listeners, several streams' codec work in one pass);
 * media_mixer_set_shortcuts(mixer, 0) turns them off.
 *
 * Threads: media_mixer_tick() may be called from any one thread at a time (the clock thread, or a
 * sound device callback). Every other function may be called from any thread; they take the
 * mixer's lock only for short updates (allocation and freeing happen outside it) and, since the
 * tick holds the same lock, their effect applies between two ticks. After media_mixer_remove_port()
 * or media_mixer_set_device() returns, the mixer no longer touches the removed ports.
 */
#ifndef SIPSIMPLE_MEDIA_MIXER_H
#define SIPSIMPLE_MEDIA_MIXER_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    MEDIA_MIXER_OK = 0,
    MEDIA_MIXER_EINVAL = -1,     /* an argument is out of range */
    MEDIA_MIXER_ENOMEM = -2,     /* allocation failed */
    MEDIA_MIXER_EFULL = -3,      /* no free slot */
    MEDIA_MIXER_ESLOT = -4,      /* the slot is out of range or empty */
    MEDIA_MIXER_EDIRECTION = -5, /* the source is not a source port, or the sink not a sink port */
    MEDIA_MIXER_EFORMAT = -6,    /* the port's frame time, rate or channels do not fit */
    MEDIA_MIXER_EBUSY = -7,      /* the port is in a slot of this mixer already */
};

/* Gains are percentages: 100 = unchanged, 0 = silent, up to MEDIA_MIXER_MAX_GAIN. */
#define MEDIA_MIXER_MAX_GAIN 200u
#define MEDIA_MIXER_DEVICE_SLOT 0u
#define MEDIA_MIXER_MAX_SLOTS 1024u /* slots including slot 0: the connection table is MAX^2 x 2 bytes */

/* Which converter ports at another clock rate get (chosen when the port is added). */
enum media_mixer_resampler {
    MEDIA_MIXER_RESAMPLER_AUTO = 0,     /* resample.h where the ratio allows it, else speexdsp */
    MEDIA_MIXER_RESAMPLER_SPEEXDSP = 1, /* speexdsp for every ratio (baseline for benchmarks) */
    MEDIA_MIXER_RESAMPLER_LOW_DELAY = 2, /* as AUTO, with minimum-phase filters (resample.h): about
                                          * 5 ms less delay per conversion to or from 8 kHz, the
                                          * waveform not kept (phase varies with frequency) */
};

enum media_mixer_direction {
    MEDIA_MIXER_RX = 0, /* from the port into the mixer (the port as a source) */
    MEDIA_MIXER_TX = 1, /* from the mixer to the port (the port as a sink) */
};

typedef struct media_mixer media_mixer_t;

typedef struct media_mixer_levels {
    uint32_t rx_rms, rx_peak; /* last frame the slot's source gave (after gain), 0..32768 */
    uint32_t tx_rms, tx_peak; /* last frame the slot's sink received (after gain) */
} media_mixer_levels_t;

typedef struct media_mixer_stats {
    uint64_t ticks;
    uint64_t get_errors;      /* get_frame() returned an error */
    uint64_t put_errors;      /* put_frame() returned an error */
    uint64_t resample_short;  /* frames the resampler could not fill entirely (zero-padded) */
    uint64_t unheard_frames;  /* source frames nobody heard: taken into the converter's history only */
    uint64_t shared_frames;   /* sink frames a shared converter had already converted this tick */
    uint64_t batched_frames;  /* decodes and encodes the ports left in the tick's batch (tick_batch.h) */
} media_mixer_stats_t;

const char *media_mixer_strerror(int status);

/* slot_count: slots besides the device's (1..MEDIA_MIXER_MAX_SLOTS-1); frame_ms: 10 or 20. */
int media_mixer_create(uint32_t clock_rate, uint32_t frame_ms, uint32_t slot_count, media_mixer_t **out);
void media_mixer_destroy(media_mixer_t *mixer);

uint32_t media_mixer_clock_rate(const media_mixer_t *mixer);
uint32_t media_mixer_frame_ms(const media_mixer_t *mixer);
uint32_t media_mixer_samples_per_frame(const media_mixer_t *mixer);
uint32_t media_mixer_slot_count(const media_mixer_t *mixer); /* without slot 0 */
uint32_t media_mixer_used_slot_count(media_mixer_t *mixer);  /* without slot 0 */

/* The device's capture (a source) and playback (a sink) ports; either may be NULL. */
int media_mixer_set_device(media_mixer_t *mixer, media_port_t *capture, media_port_t *playback);
int media_mixer_add_port(media_mixer_t *mixer, media_port_t *port, uint32_t *slot);
int media_mixer_remove_port(media_mixer_t *mixer, uint32_t slot);

int media_mixer_connect(media_mixer_t *mixer, uint32_t src, uint32_t dst);    /* idempotent */
int media_mixer_disconnect(media_mixer_t *mixer, uint32_t src, uint32_t dst); /* idempotent */
int media_mixer_is_connected(media_mixer_t *mixer, uint32_t src, uint32_t dst);
/* Writes up to `max` (src, dst) pairs, sorted; returns how many connections there are. */
size_t media_mixer_connections(media_mixer_t *mixer, uint32_t *pairs, size_t max);

int media_mixer_set_gain(media_mixer_t *mixer, uint32_t slot, int direction, uint32_t percent);
void media_mixer_set_muted(media_mixer_t *mixer, int muted); /* silences the device's capture */
/* The converter for ports added (or devices set) from now on: MEDIA_MIXER_RESAMPLER_*. */
int media_mixer_set_resampler(media_mixer_t *mixer, int kind);
int media_mixer_resampler(const media_mixer_t *mixer);
/* The mixer's shortcuts (mixer.c: one-source sinks, unheard sources, converters shared per source
 * and rate, the codec batch of a tick) on (the default) or off; off gives the same samples the slow way (tests, benchmarks). */
void media_mixer_set_shortcuts(media_mixer_t *mixer, int on);
int media_mixer_shortcuts(media_mixer_t *mixer);
/* Echo canceller between the device's playback and capture: tail in ms, 0 turns it off. */
int media_mixer_set_echo_canceller(media_mixer_t *mixer, uint32_t tail_ms);
void media_mixer_reset_echo_canceller(media_mixer_t *mixer);

int media_mixer_levels(media_mixer_t *mixer, uint32_t slot, media_mixer_levels_t *out);
void media_mixer_get_stats(media_mixer_t *mixer, media_mixer_stats_t *out);

/* One frame of mixing (see above). */
void media_mixer_tick(media_mixer_t *mixer);

#ifdef __cplusplus
}
#endif

#endif
