/*
 * plc.h - our packet-loss concealment for codecs that have none (G.711, G.722, GSM 06.10).
 *
 * The idea is the one of ITU-T G.711 Appendix I, written from its description:
 *   - the decoder keeps the last 50 ms of output;
 *   - when a frame is lost, the pitch period (5..15 ms) of the recent signal is estimated by
 *     normalised cross-correlation, and the last period is repeated; after 10 ms the last two
 *     periods, after 20 ms the last three are cycled (less buzzy), with short cross-fades;
 *   - the first concealed samples get a decaying offset so the waveform continues from the last
 *     real sample (no click);
 *   - after 10 ms of loss the level falls by 20 % per 10 ms and is silent after 60 ms;
 *   - the first good frame after a loss is cross-faded with the continued synthetic signal over
 *     4 ms, plus 4 ms per further 10 ms of loss (at most 10 ms).
 * Unlike Appendix I there is no added output delay (the real-time path gets no extra latency);
 * the decaying offset takes the place of its overlap-add at the start of an erasure.
 * No allocation: the state is a fixed-size struct embedded in the decoder state.
 */
#ifndef SIPSIMPLE_MEDIA_PLC_H
#define SIPSIMPLE_MEDIA_PLC_H

#include <stddef.h>
#include <stdint.h>

#define MEDIA_PLC_MAX_RATE 16000
#define MEDIA_PLC_HISTORY (MEDIA_PLC_MAX_RATE / 1000 * 50)    /* 50 ms */
#define MEDIA_PLC_MAX_PITCH (MEDIA_PLC_MAX_RATE / 1000 * 15)  /* 15 ms */

/* Room for the history and what comes after it: the history slides along and is moved back to the
 * start only when it reaches the end (one move every few frames instead of one per frame). */
#define MEDIA_PLC_ROOM (2 * MEDIA_PLC_HISTORY)

typedef struct media_plc {
    unsigned rate;
    unsigned history_len;              /* samples of history kept at this rate (50 ms) */
    unsigned history_end;              /* the history is room[history_end - history_len ..] */
    int16_t room[MEDIA_PLC_ROOM];      /* the last output, oldest first, within */
    /* erasure in progress (lost > 0) */
    unsigned lost;                     /* samples concealed so far in this erasure */
    unsigned pitch;                    /* estimated period, samples */
    unsigned cycle;                    /* samples in the repeated cycle (1..3 periods) */
    unsigned pos;                      /* read position in the cycle */
    unsigned old_cycle, old_pos;       /* the previous cycle while cross-fading to a longer one */
    unsigned fade_left, fade_len;      /* cross-fade between cycles in progress */
    float offset;                      /* continuity correction at the erasure start */
    int16_t periods[3 * MEDIA_PLC_MAX_PITCH];  /* the last three periods before the loss */
} media_plc;

void media_plc_init(media_plc *plc, unsigned rate);
/* After decoding real audio: smooths the return from an erasure, then remembers the samples. */
void media_plc_good(media_plc *plc, int16_t *pcm, size_t n);
/* Writes n samples of concealment and remembers them. */
void media_plc_conceal(media_plc *plc, int16_t *pcm, size_t n);

#endif
