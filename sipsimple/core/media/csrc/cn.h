/*
 * cn.h - comfort noise (RFC 3389): the SID payload, a noise generator for the receiver and a
 * silence detector for the sender.
 *
 * Levels. A SID's first byte is the noise level in -dBov (0..127; the top bit is unused). Here 0
 * dBov is the RMS of a full-scale 16-bit square wave (32767), the linear-PCM counterpart of the
 * RFC's u-law example, so a level byte L stands for an RMS of 32767 * 10^(-L/20). Digital silence
 * is level 127.
 *
 * Spectrum. The bytes after the level, when present, are reflection coefficients of an all-pole
 * model of the noise, each quantised as k = (q - 127) / 128. The generator keeps at most
 * CN_MAX_ORDER of them (the RFC lets a decoder drop the higher ones), turns them into a direct-form
 * filter 1/A(z) by the step-up recursion, and feeds it white noise whose power is the target power
 * times prod(1 - k_i^2): for a stable all-pole model that is the power ratio between the filter's
 * input and its output, so the output has the level the SID gave whatever its shape. Without
 * coefficients the noise is white. The sender's SIDs carry the level only.
 *
 * Silence detection (the sender). Each packet's level in dBov is compared with a noise floor: the
 * level of the quietest packet of the last second or so (the minimum over CN_VAD_BLOCKS blocks of
 * CN_VAD_BLOCK_MS and the current block). Speech has pauses between syllables and words that pull
 * the floor down to the background; steady background noise becomes its own floor within that
 * window. A packet is speech when it is louder than the floor by CN_SPEECH_MARGIN dB, or louder
 * than CN_SPEECH_ALWAYS dBov (a steady loud signal is never taken for background); after the last
 * speech packet the detector waits CN_HANGOVER_MS before it calls the input silent, so that word
 * endings and short pauses go out as voice.
 *
 * Plain C, no allocation, no locks, no global state: each structure belongs to one thread.
 */
#ifndef SIPSIMPLE_MEDIA_CN_H
#define SIPSIMPLE_MEDIA_CN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_PAYLOAD_TYPE 13          /* RFC 3551: CN/8000 */
#define CN_MAX_ORDER 12             /* reflection coefficients used; more are ignored */
#define CN_LEVEL_SILENCE 127        /* digital silence */
#define CN_FULL_SCALE 32767.0       /* RMS at 0 dBov */

#define CN_VAD_BLOCKS 4
#define CN_VAD_BLOCK_MS 250u
#define CN_SPEECH_MARGIN 10.0       /* dB above the floor */
#define CN_SPEECH_ALWAYS (-30.0)    /* dBov: always speech */
#define CN_HANGOVER_MS 200u

typedef struct cn_params {
    uint8_t level;                  /* -dBov, 0..127 */
    unsigned order;                 /* reflection coefficients in k */
    double k[CN_MAX_ORDER];
} cn_params_t;

typedef struct cn_generator {
    double a[CN_MAX_ORDER + 1];     /* A(z) = 1 + a[1] z^-1 + ...; a[0] unused */
    double history[CN_MAX_ORDER];   /* the last outputs, newest first */
    unsigned order;
    double gain;                    /* excitation scale for a uniform variable in [-1, 1) */
    uint64_t rng;
    uint8_t level;
} cn_generator_t;

typedef struct cn_vad {
    double floor;                   /* dBov, after the last update */
    double blocks[CN_VAD_BLOCKS];   /* the quietest level of each recent block */
    unsigned filled;                /* blocks completed so far (up to CN_VAD_BLOCKS) */
    unsigned next;                  /* the block the current one replaces */
    double current;                 /* the quietest level of the current block */
    unsigned in_block, block_packets;
    unsigned hangover;              /* packets */
    unsigned hang_left;
    int speech;                     /* the last decision */
} cn_vad_t;

/* The level of n samples in dBov (<= 0 for sane input; -127 or below is reported as -127). */
double cn_level_db(const int16_t *pcm, size_t n);
/* dBov -> the SID level byte (rounded, clamped to 0..127). */
uint8_t cn_level_byte(double db);
/* The RMS a level byte stands for. */
double cn_level_rms(uint8_t level);

/* Reads a SID payload. Returns 0, or -1 when it is empty. The top bit of the level is ignored and
 * coefficients beyond CN_MAX_ORDER are dropped. */
int cn_parse(const uint8_t *payload, size_t length, cn_params_t *out);
/* Writes a level-only SID. Returns its length (1), or 0 when cap is 0. */
size_t cn_write(uint8_t *out, size_t cap, uint8_t level);

/* seed: any value (0 is replaced). The generator starts at digital silence. */
void cn_generator_init(cn_generator_t *g, uint64_t seed);
/* A new SID: the level and spectrum of the noise from now on (the filter's memory is kept when the
 * model order does not change, so that successive SIDs join without a click). */
void cn_generator_set(cn_generator_t *g, const cn_params_t *p);
void cn_generate(cn_generator_t *g, int16_t *pcm, size_t n);

/* xorshift64* (state never 0): a uniform number in [0, 1) with 53 random bits. Also the RTCP
 * interval's randomisation in stream_audio.c. */
static inline double cn_random_unit(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return (double)((x * 2685821657736338717ull) >> 11) / 9007199254740992.0;
}

/* packet_ms: the duration of the packets the detector is given. */
void cn_vad_init(cn_vad_t *v, unsigned packet_ms);
/* One packet's level (cn_level_db). Returns 1 for speech (send it), 0 for silence. */
int cn_vad_update(cn_vad_t *v, double level_db);

#ifdef __cplusplus
}
#endif
#endif
