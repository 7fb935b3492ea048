/*
 * g722_impl.h - what g722.c shares with g722_multi.c (not part of the public interface): the
 * Recommendation's tables, defined once in g722.c, and the QMF passes, which work on one stream
 * at a time in both.
 */
#ifndef SIPSIMPLE_MEDIA_G722_IMPL_H
#define SIPSIMPLE_MEDIA_G722_IMPL_H

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define G722_HIDDEN __attribute__((visibility("hidden")))
#else
#define G722_HIDDEN
#endif

/* Pairs of samples per pass of the block functions (a 20 ms frame). */
#define G722_CHUNK 160

/* The lower band's 29 quantiser decision levels times 16, padded to 32 with zeros. */
G722_HIDDEN extern const uint16_t g722_q6_16[32];
/* Inverse quantisers: 4-bit (the lower band's adaptation, by the code's 4-bit truncation), 6-bit
 * (the lower band's output), 2-bit (the upper band). */
G722_HIDDEN extern const int32_t g722_qm4[16];
G722_HIDDEN extern const int32_t g722_qm6[64];
G722_HIDDEN extern const int32_t g722_qm2[4];
/* Log scale-factor steps by the lower band's 4-bit code and by the upper band's 2-bit code. */
G722_HIDDEN extern const int32_t g722_wl4[16];
G722_HIDDEN extern const int32_t g722_wh2[4];
/* Antilogarithm table of the scale factor (mantissa). */
G722_HIDDEN extern const int32_t g722_ilb[32];

/* Transmit QMF of `pairs` pairs: x holds the 22 samples before them, then their 2 x pairs
 * samples; xpair[k] gets the lower band's value in its low 16 bits, the upper band's in the high. */
G722_HIDDEN void g722_qmf_analysis(const int16_t *x, size_t pairs, uint32_t *xpair);
/* Receive QMF: xs and xd hold the 11 band sums / differences before the `len` new ones; writes
 * 2 x len samples. */
G722_HIDDEN void g722_qmf_synthesis(const int16_t *xs, const int16_t *xd, size_t len, int16_t *pcm);

#endif
