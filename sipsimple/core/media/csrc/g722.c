/*
 * g722.c - ITU-T G.722 at 64 kbit/s (see g722.h), from the Recommendation's block descriptions.
 *
 * Encoder, per pair of input samples:
 *   QMF (transmit): the last 24 samples against the 24 symmetric QMF coefficients, split into the
 *     sum of the even-indexed products (newest sample first) and of the odd ones: lower band
 *     (A + B) >> 14, upper band (A - B) >> 14. Both come out of one pass as two 24-tap dot
 *     products (coefficients h and h with the even ones negated) over a history written twice,
 *     so the window is always 24 samples in a row (no shifting of a delay line).
 *   Lower band (blocks 1L-4L): the difference from the predictor's estimate is quantised to 6 bits
 *     (30 decision levels scaled by the quantiser scale det: a branch-free binary search), the
 *     4-bit truncation of the code drives the adaptation: inverse quantiser, logarithmic scale
 *     factor, and the pole-zero predictor update (block 4).
 *   Upper band (blocks 1H-4H): the same with a 2-bit quantiser (one decision level).
 * Decoder, per byte: the lower band reconstructed from the 6-bit code (its 4-bit truncation
 * adapts, as in the encoder), the upper band from its 2 bits, both limited to 15 bits; the receive
 * QMF turns their sum and difference into two output samples ((12-tap dot products) >> 11).
 *
 * Block 4 (the predictor: RECONS, PARREC, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP, FILTEZ, PREDIC)
 * is one inline function shared by the four band paths (predict(): the pole section in scalars,
 * the six-tap zero section in one vector with GCC, in a loop otherwise); every intermediate is
 * saturated to 16 bits exactly where the Recommendation saturates. Signs are compared with an
 * XOR: the values compared all lie in the 16-bit range, where sign(x) = x >> 15. Each block call
 * splits into a vectorised QMF pass over the whole frame and the serial ADPCM pass.
 */
#include "g722.h"

#include <string.h>

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* The block loops: vectorised (the QMF passes, the quantiser's comparisons), with an AVX2 clone
 * picked at load time where the CPU has it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOT __attribute__((hot, optimize("O3"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((hot, optimize("O3")))
#else
#define HOT
#endif

#define CHUNK 160 /* pairs per pass (a 20 ms frame) */

/* The QMF coefficients h0..h23 (symmetric). */
static const int16_t qmf[24] = {3,    -11, -11,  53,   12,   -156, 32,  362, -210, -805, 951, 3876,
                                3876, 951, -805, -210, 362,  32,   -156, 12, 53,   -11,  -11, 3};

/* Transmit QMF over the window w[0..23], oldest first: lower = sum h[m] w[m], upper = sum of the
 * same products with the even m negated (see the file comment). */
static const int16_t qmf_minus[24] = {-3,    -11, 11,  53,   -12,  -156, -32,  362, 210, -805, -951, 3876,
                                      -3876, 951, 805, -210, -362, 32,   156,  12,  -53, -11,  11,   3};

/* Lower-band quantiser decision levels (Q12 of det), levels 1..29, padded to 32 with a level
 * above them all (the count is capped at 29). Every product with det fits int32. */
static const int32_t q6[32] = {35,   72,   110,  150,  190,  233,  276,  323,  370,  422,  473,
                               530,  587,  650,  714,  786,  858,  940,  1023, 1121, 1219, 1339,
                               1458, 1612, 1765, 1980, 2195, 2557, 2919, 65535, 65535, 65535};
/* Quantiser interval (1..30) -> 6-bit code, for a negative and for a positive difference. */
static const uint8_t iln[31] = {0,  63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
                                18, 17, 16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4};
static const uint8_t ilp[31] = {0,  61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
                                46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32};
/* Inverse quantisers: 4-bit (the lower band's adaptation), 6-bit (the lower band's output),
 * 2-bit (the upper band). */
static const int32_t qm4[16] = {0,     -20456, -12896, -8968, -6288, -4240, -2584, -1200,
                                20456, 12896,  8968,   6288,  4240,  2584,  1200,  0};
static const int32_t qm6[64] = {
    -136,   -136,   -136,   -136,   -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360,  -8576,  -7856,  -7192,  -6576,  -6000,  -5456,  -4944,  -4464,  -4008,  -3576,  -3168,  -2776,
    -2400,  -2032,  -1688,  -1360,  -1040,  -728,   24808,  21904,  19008,  16704,  14984,  13512,  12280,
    11192,  10232,  9360,   8576,   7856,   7192,   6576,   6000,   5456,   4944,   4464,   4008,   3576,
    3168,   2776,   2400,   2032,   1688,   1360,   1040,   728,    432,    136,    -432,   -136};
static const int32_t qm2[4] = {-7408, -1616, 7408, 1616};
/* Logarithmic scale factor: the 4-bit code's magnitude class, and the step per class. */
static const uint8_t rl42[16] = {0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0};
static const int32_t wl[8] = {-60, -30, 58, 172, 334, 538, 1198, 3042};
static const uint8_t rh2[4] = {2, 1, 2, 1};
static const int32_t wh[3] = {0, -214, 798};
/* Upper-band codes for the quantiser interval (1 inner, 2 outer): negative, positive. */
static const uint8_t ihn[3] = {0, 1, 0};
static const uint8_t ihp[3] = {0, 3, 2};
/* Antilogarithm table of the scale factor (mantissa). */
static const int32_t ilb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
                                2599, 2656, 2714, 2774, 2834, 2896, 2960, 3025, 3091, 3158, 3228,
                                3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008};

INLINE int32_t sat16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : v);
}

INLINE int32_t clamp(int32_t v, int32_t low, int32_t high)
{
    return v > high ? high : (v < low ? low : v);
}

INLINE int same_sign(int32_t a, int32_t b)
{
    return (a ^ b) >= 0;
}

/* Blocks 3L/3H: the log scale factor after a code of class `step` and the scale it gives. */
INLINE void scale_adapt(g722_band_t *band, int32_t step, int32_t ceiling, int32_t exponent_bias)
{
    int32_t nb = clamp(((band->nb * 127) >> 7) + step, 0, ceiling);
    int32_t mantissa = ilb[(nb >> 6) & 31], shift = exponent_bias - (nb >> 11);
    band->nb = nb;
    band->det = (shift < 0 ? mantissa << -shift : mantissa >> shift) << 2;
}

#if defined(__GNUC__) && !defined(__clang__) && !defined(G722_SCALAR_PREDICTOR)
/* Block 4 with the six zero-section taps in one vector of eight int32 lanes (b1..b6, d1..d6, two
 * lanes kept at zero): the sign agreements, coefficient updates, the shift of the difference
 * history and the six products of FILTEZ are a handful of vector operations. */
#pragma GCC diagnostic ignored "-Wpsabi" /* the vectors never cross a call: everything is inlined */
typedef int32_t v8si __attribute__((vector_size(32)));

INLINE v8si vsat16(v8si v)
{
    const v8si hi = {32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767}, lo = -hi - 1;
    v8si m = v > hi;
    v = (v & ~m) | (hi & m);
    m = v < lo;
    return (v & ~m) | (lo & m);
}

INLINE void predict(g722_band_t *band, int32_t dx)
{
    int32_t *a = band->a;
    int32_t r0 = sat16(band->s + dx), p0 = sat16(band->sz + dx);
    int32_t wd1, wd2, wd3, a1, a2, sp;
    v8si b, d, dxv = {dx, dx, dx, dx, dx, dx, dx, dx};
    const v8si six = {-1, -1, -1, -1, -1, -1, 0, 0};

    memcpy(&b, band->b + 1, sizeof b); /* b1..b6, then two zeros */
    memcpy(&d, band->d + 1, sizeof d);
    /* UPPOL2 */
    wd1 = sat16(a[1] * 4);
    wd2 = same_sign(p0, band->p[1]) ? -wd1 : wd1;
    wd2 = wd2 > 32767 ? 32767 : wd2;
    wd3 = (wd2 >> 7) + (same_sign(p0, band->p[2]) ? 128 : -128) + ((a[2] * 32512) >> 15);
    a2 = clamp(wd3, -12288, 12288);
    /* UPPOL1 */
    a1 = sat16((same_sign(p0, band->p[1]) ? 192 : -192) + ((a[1] * 32640) >> 15));
    wd3 = sat16(15360 - a2);
    a1 = clamp(a1, -wd3, wd3);
    /* UPZERO: +-128 by the sign agreement of each old difference with dx (0 when dx is 0) */
    {
        int32_t step = dx == 0 ? 0 : 128;
        v8si flip = (d ^ dxv) >> 31, stepv = {step, step, step, step, step, step, step, step};
        b = vsat16(((stepv ^ flip) - flip) + ((b * 32640) >> 15)) & six;
    }
    /* DELAYA */
    d = __builtin_shuffle(d, dxv, (v8si){8, 0, 1, 2, 3, 4, 6, 7});
    memcpy(band->b + 1, &b, sizeof b);
    memcpy(band->d + 1, &d, sizeof d);
    band->r[2] = band->r[1];
    band->r[1] = r0;
    band->p[2] = band->p[1];
    band->p[1] = p0;
    a[1] = a1;
    a[2] = a2;
    /* FILTEP, FILTEZ, PREDIC */
    sp = sat16(((a1 * sat16(r0 + r0)) >> 15) + ((a2 * sat16(band->r[2] + band->r[2])) >> 15));
    {
        v8si t = (b * vsat16(d + d)) >> 15;
        band->sz = sat16(t[0] + t[1] + t[2] + t[3] + t[4] + t[5]);
    }
    band->s = sat16(sp + band->sz);
}

#else
/* Block 4 (see above), one lane at a time. */
INLINE void predict(g722_band_t *band, int32_t dx)
{
    int32_t *a = band->a, *b = band->b, *d = band->d;
    int32_t r0 = sat16(band->s + dx), p0 = sat16(band->sz + dx);
    int32_t wd1, wd2, wd3, a1, a2, sp, sz;

    /* UPPOL2 */
    wd1 = sat16(a[1] * 4);
    wd2 = same_sign(p0, band->p[1]) ? -wd1 : wd1;
    wd2 = wd2 > 32767 ? 32767 : wd2;
    wd3 = (wd2 >> 7) + (same_sign(p0, band->p[2]) ? 128 : -128) + ((a[2] * 32512) >> 15);
    a2 = clamp(wd3, -12288, 12288);
    /* UPPOL1 */
    a1 = sat16((same_sign(p0, band->p[1]) ? 192 : -192) + ((a[1] * 32640) >> 15));
    wd3 = sat16(15360 - a2);
    a1 = clamp(a1, -wd3, wd3);
    /* UPZERO (the signs against the differences before the shift), DELAYA */
    wd1 = dx == 0 ? 0 : 128;
    for (int i = 1; i <= 6; i++)
        b[i] = sat16((same_sign(d[i], dx) ? wd1 : -wd1) + ((b[i] * 32640) >> 15));
    d[6] = d[5];
    d[5] = d[4];
    d[4] = d[3];
    d[3] = d[2];
    d[2] = d[1];
    d[1] = dx;
    band->r[2] = band->r[1];
    band->r[1] = r0;
    band->p[2] = band->p[1];
    band->p[1] = p0;
    a[1] = a1;
    a[2] = a2;
    /* FILTEP, FILTEZ, PREDIC */
    sp = sat16(((a1 * sat16(r0 + r0)) >> 15) + ((a2 * sat16(band->r[2] + band->r[2])) >> 15));
    sz = 0;
    for (int i = 1; i <= 6; i++)
        sz += (b[i] * sat16(d[i] + d[i])) >> 15;
    band->sz = sat16(sz);
    band->s = sat16(sp + band->sz);
}

#endif

static void band_init(g722_band_t *band, int32_t det)
{
    memset(band, 0, sizeof(*band));
    band->det = det;
}

void g722_encoder_init(g722_encoder_t *e)
{
    memset(e, 0, sizeof(*e));
    band_init(&e->band[0], 32);
    band_init(&e->band[1], 8);
}

void g722_decoder_init(g722_decoder_t *dec)
{
    memset(dec, 0, sizeof(*dec));
    band_init(&dec->band[0], 32);
    band_init(&dec->band[1], 8);
}

/* The lower band's 6-bit quantiser: the interval (1..30) is one more than the number of decision
 * levels floor(q6[k] det / 4096) that |el| reaches, i.e. with q6[k] det < (|el| + 1) 4096. All 32
 * comparisons at once (they vectorise), no search loop with branches. */
INLINE int32_t quantise_low(int32_t wd, int32_t det)
{
    int32_t limit = (wd << 12) + 4095, count = 0;
    for (int k = 0; k < 32; k++)
        count += q6[k] * det <= limit;
    return (count > 29 ? 29 : count) + 1;
}

INLINE uint8_t encode_pair(g722_encoder_t *e, int32_t xlow, int32_t xhigh)
{
    g722_band_t *low = &e->band[0], *high = &e->band[1];
    int32_t el = sat16(xlow - low->s), eh = sat16(xhigh - high->s);
    int32_t wdl = el ^ (el >> 31), wdh = eh ^ (eh >> 31); /* magnitudes, one's complement for negatives */
    int32_t interval = quantise_low(wdl, low->det);
    int32_t ilow = el < 0 ? iln[interval] : ilp[interval], ril = ilow >> 2;
    int32_t outer = wdh >= ((564 * high->det) >> 12);
    int32_t ihigh = eh < 0 ? ihn[1 + outer] : ihp[1 + outer];
    int32_t dlow = (low->det * qm4[ril]) >> 15, dhigh = (high->det * qm2[ihigh]) >> 15;

    scale_adapt(low, wl[rl42[ril]], 18432, 8);
    scale_adapt(high, wh[rh2[ihigh]], 22528, 10);
    predict(low, dlow);
    predict(high, dhigh);
    return (uint8_t)((ihigh << 6) | ilow);
}

/* Transmit QMF of `pairs` pairs: x holds the 22 samples before them, then their 2 x pairs samples. */
static HOT void qmf_analysis(const int16_t *x, size_t pairs, int32_t *xlow, int32_t *xhigh)
{
    for (size_t k = 0; k < pairs; k++) {
        const int16_t *w = x + 2 * k;
        int32_t sum_low = 0, sum_high = 0;
        for (int m = 0; m < 24; m++) {
            sum_low += qmf[m] * w[m];
            sum_high += qmf_minus[m] * w[m];
        }
        xlow[k] = sum_low >> 14;
        xhigh[k] = sum_high >> 14;
    }
}

static HOT void adpcm_encode(g722_encoder_t *e, const int32_t *xlow, const int32_t *xhigh, size_t pairs,
                             uint8_t *out)
{
    for (size_t k = 0; k < pairs; k++)
        out[k] = encode_pair(e, xlow[k], xhigh[k]);
}

void g722_encode_block(g722_encoder_t *e, const int16_t *pcm, size_t n, uint8_t *out)
{
    int16_t x[22 + 2 * CHUNK];
    int32_t xlow[CHUNK], xhigh[CHUNK];
    size_t pairs = n / 2;
    while (pairs) {
        size_t count = pairs < CHUNK ? pairs : CHUNK;
        memcpy(x, e->x, sizeof(e->x));
        memcpy(x + 22, pcm, 2 * count * sizeof(int16_t));
        qmf_analysis(x, count, xlow, xhigh);
        memcpy(e->x, x + 2 * count, sizeof(e->x));
        adpcm_encode(e, xlow, xhigh, count, out);
        pcm += 2 * count;
        out += count;
        pairs -= count;
    }
}

/* One code byte -> the lower and upper band reconstructions' sum and difference. */
INLINE void decode_byte(g722_decoder_t *dec, uint8_t code, int16_t *sum, int16_t *difference)
{
    g722_band_t *low = &dec->band[0], *high = &dec->band[1];
    int32_t ilow = code & 0x3F, ihigh = code >> 6, ril = ilow >> 2;
    int32_t rlow = clamp(low->s + ((low->det * qm6[ilow]) >> 15), -16384, 16383);
    int32_t dlow = (low->det * qm4[ril]) >> 15, dhigh = (high->det * qm2[ihigh]) >> 15;
    int32_t rhigh = clamp(dhigh + high->s, -16384, 16383);

    scale_adapt(low, wl[rl42[ril]], 18432, 8);
    scale_adapt(high, wh[rh2[ihigh]], 22528, 10);
    predict(low, dlow);
    predict(high, dhigh);
    *sum = (int16_t)(rlow + rhigh);
    *difference = (int16_t)(rlow - rhigh);
}

static HOT void adpcm_decode(g722_decoder_t *dec, const uint8_t *codes, size_t len, int16_t *xs, int16_t *xd)
{
    for (size_t k = 0; k < len; k++)
        decode_byte(dec, codes[k], xs + k, xd + k);
}

/* Receive QMF: xs and xd hold the 11 values before the `len` new ones; two samples each. */
static HOT void qmf_synthesis(const int16_t *xs, const int16_t *xd, size_t len, int16_t *pcm)
{
    for (size_t k = 0; k < len; k++) {
        int32_t out1 = 0, out2 = 0;
        for (int m = 0; m < 12; m++) {
            out1 += qmf[2 * m + 1] * xd[k + m];
            out2 += qmf[2 * m] * xs[k + m];
        }
        pcm[2 * k] = (int16_t)sat16(out1 >> 11);
        pcm[2 * k + 1] = (int16_t)sat16(out2 >> 11);
    }
}

void g722_decode_block(g722_decoder_t *dec, const uint8_t *codes, size_t len, int16_t *pcm)
{
    int16_t xs[11 + CHUNK], xd[11 + CHUNK];
    while (len) {
        size_t count = len < CHUNK ? len : CHUNK;
        memcpy(xs, dec->xs, sizeof(dec->xs));
        memcpy(xd, dec->xd, sizeof(dec->xd));
        adpcm_decode(dec, codes, count, xs + 11, xd + 11);
        qmf_synthesis(xs, xd, count, pcm);
        memcpy(dec->xs, xs + count, sizeof(dec->xs));
        memcpy(dec->xd, xd + count, sizeof(dec->xd));
        codes += count;
        pcm += 2 * count;
        len -= count;
    }
}
