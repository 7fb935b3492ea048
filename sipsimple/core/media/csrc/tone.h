/*
 * tone.h - a tone generator port: queued sine tones (one or two frequencies), with pauses.
 *
 * Each queued tone plays freq1 + freq2 (either may be 0) for on_ms, each component with the
 * given peak amplitude, then silence for off_ms. The start and end of every tone are shaped by a
 * short linear ramp (MEDIA_TONE_RAMP_MS) so that they do not click. When the queue runs empty
 * after playing, the generator posts MEDIA_EVENT_TONE_END (a = the generation set by
 * media_tonegen_clear, so a stale event can be told apart).
 *
 * The port is a source only, mono, at the rate given to media_tonegen_create(). Python queues
 * tones from the Twisted thread while the mixer's clock thread plays them: the queue has its own
 * short lock.
 */
#ifndef SIPSIMPLE_MEDIA_TONE_H
#define SIPSIMPLE_MEDIA_TONE_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_TONE_QUEUE 64
#define MEDIA_TONE_RAMP_MS 2u
#define MEDIA_TONE_DEFAULT_AMPLITUDE 8192 /* per component: -12 dBFS */

typedef struct media_tone {
    uint32_t freq1, freq2; /* Hz; 0 = none */
    uint32_t on_ms, off_ms;
    int32_t amplitude; /* peak of each component, 0..32767 */
} media_tone_t;

typedef struct media_tonegen media_tonegen_t;

int media_tonegen_create(uint32_t clock_rate, uint32_t samples_per_frame, media_tonegen_t **out);
void media_tonegen_destroy(media_tonegen_t *gen);
media_port_t *media_tonegen_port(media_tonegen_t *gen);
void media_tonegen_set_events(media_tonegen_t *gen, media_event_queue_t *queue, uint64_t source);
/* Appends all the tones or none: returns 0, -1 (bad tone) or -2 (not enough room). */
int media_tonegen_play(media_tonegen_t *gen, const media_tone_t *tones, size_t count);
/* Drops the queue and the tone being played; later events carry `generation`. */
void media_tonegen_clear(media_tonegen_t *gen, int64_t generation);
int media_tonegen_busy(media_tonegen_t *gen);
/* The DTMF frequencies of a digit (0-9 * # A-D, case-insensitive); -1 for anything else. */
int media_tone_dtmf(char digit, uint32_t *low, uint32_t *high);

#ifdef __cplusplus
}
#endif

#endif
