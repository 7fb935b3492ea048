/*
 * g722.h - ITU-T G.722 at 64 kbit/s (sub-band ADPCM, 16 kHz audio, one byte per pair of samples),
 * our own implementation of the Recommendation's fixed-point arithmetic.
 *
 * Bit-exact with the Recommendation's algorithm as the usual implementations compute it (tested
 * byte for byte and sample for sample against spandsp over long random and tone signals, and
 * cross-decoded with FFmpeg: tests/core/media/test_g722.py). 64 kbit/s only (mode 1: 6 bits for
 * the lower band, 2 for the upper); no 56/48 kbit/s modes, no 8 kHz input option.
 *
 * Encoding takes pairs of 16 kHz samples (an even count) and writes one code byte per pair:
 * bits 7..6 the upper band, 5..0 the lower band. Decoding writes two samples per byte.
 * A state belongs to one thread at a time; nothing allocates after init.
 */
#ifndef SIPSIMPLE_MEDIA_G722_H
#define SIPSIMPLE_MEDIA_G722_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One sub-band's adaptive predictor and quantiser scale (Recommendation blocks 3 and 4). Every
 * value lies in the 16-bit range. */
typedef struct g722_band {
    int16_t b[8]; /* zero-section coefficients b1..b6 (b[6], b[7] stay 0) */
    int16_t d[8]; /* quantised differences d1..d6, newest first (d[6], d[7]: don't care) */
    int32_t s;    /* signal estimate */
    int32_t sz;   /* its zero-section part */
    int32_t det;  /* quantiser scale factor */
    int32_t nb;   /* its logarithm */
    int32_t a1, a2; /* pole-section coefficients */
    int32_t p1, p2; /* partial reconstructions, newest first */
    int32_t rr1;  /* the last reconstructed signal, doubled and saturated (as FILTEP uses it) */
} g722_band_t;

typedef struct g722_encoder {
    g722_band_t band[2];    /* lower, upper */
    int16_t x[22];          /* the last 22 input samples (the QMF's history), oldest first */
} g722_encoder_t;

typedef struct g722_decoder {
    g722_band_t band[2];
    int16_t xs[11], xd[11]; /* the receive QMF's history: the last 11 band sums and differences */
} g722_decoder_t;

void g722_encoder_init(g722_encoder_t *encoder);
void g722_decoder_init(g722_decoder_t *decoder);

/* n samples (even) -> n / 2 bytes. */
void g722_encode_block(g722_encoder_t *encoder, const int16_t *pcm, size_t n, uint8_t *out);
/* len bytes -> 2 * len samples. */
void g722_decode_block(g722_decoder_t *decoder, const uint8_t *codes, size_t len, int16_t *pcm);

/* Several independent streams at once, G722_MULTI of them in the lanes of one SIMD pass where the
 * CPU has AVX2 (chosen at run time), else one after the other: count (1..G722_MULTI) states, the
 * same n (even) / len for all; the bytes / samples and the states afterwards are exactly those
 * that g722_encode_block / g722_decode_block give stream by stream. */
#define G722_MULTI 4
/* 1 when g722_*_blocks run several streams per pass here (AVX2 build and CPU), else 0. */
int g722_multi_active(void);
void g722_encode_blocks(g722_encoder_t *const *enc, const int16_t *const *pcm, size_t count, size_t n,
                        uint8_t *const *out);
void g722_decode_blocks(g722_decoder_t *const *dec, const uint8_t *const *codes, size_t count,
                        size_t len, int16_t *const *pcm);

#ifdef __cplusplus
}
#endif

#endif
