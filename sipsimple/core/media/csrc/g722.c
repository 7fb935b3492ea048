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
 *     (29 decision levels scaled by the quantiser scale det, all compared at once), the 4-bit
 *     truncation of the code drives the adaptation: inverse quantiser, logarithmic scale factor,
 *     and the pole-zero predictor update (block 4).
 *   Upper band (blocks 1H-4H): the same with a 2-bit quantiser (one decision level).
 * Decoder, per byte: the lower band reconstructed from the 6-bit code (its 4-bit truncation
 * adapts, as in the encoder), the upper band from its 2 bits, both limited to 15 bits; the receive
 * QMF turns their sum and difference into two output samples ((12-tap dot products) >> 11).
 *
 * Where the time goes, and how it is kept short. Each block call splits into a vectorised QMF pass
 * over the whole frame and a serial ADPCM pass; the ADPCM pass is nearly all of the cost: every
 * sample's estimate depends on the previous sample's (in the encoder through the quantiser too:
 * estimate -> difference -> quantiser -> predictor update -> next estimate). So, with SSE2:
 *   - both bands go through the loop body together, their states in registers for the whole
 *     block. Block 4's scalar part is the same arithmetic on both bands, on values that all lie in
 *     the 16-bit range, so each of its variables is one vector (lane 0 the lower band, lane 1 the
 *     upper): the Recommendation's 16-bit saturations are what saturating 16-bit adds do anyway,
 *     its limiters are 16-bit min/max, and a product (x y) >> 15 is 2 (x y >> 16) + bit 15 of x y
 *     (pmulhw, pmullw), or (2x y) >> 16 where 2x fits, and a leak x - x/256 (x 32640 >> 15) is
 *     x + (x (-256) >> 16);
 *   - each band's zero section (UPZERO, DELAYA, FILTEZ: six coefficients, six differences) is a
 *     vector of eight 16-bit lanes;
 *   - the lower band's quantiser compares |el| with all 29 decision levels at once: level k is
 *     reached when q6[k] det <= 4096 |el| + 4095, i.e. when (q6[k] det) >> 12 <= |el|, a 16-bit
 *     comparison; the levels increase, so the levels reached are the low bits of the comparison
 *     mask and their count is its trailing zeros. The code and its scale-factor step come from
 *     tables indexed by that count; the quantised difference that feeds the predictor comes from
 *     a shorter path that never leaves the vector registers (adpcm_encode).
 * Without SSE2 the bands go one at a time, the zero section in GCC's generic vectors (or a loop):
 * the same results. Every intermediate is saturated to 16 bits exactly where the Recommendation
 * saturates; signs are compared with an XOR (the values compared all lie in the 16-bit range).
 */
#include "g722.h"

#include <string.h>

#include "g722_impl.h"

#if defined(__SSE2__) && !defined(G722_NO_SIMD)
#include <emmintrin.h>
#define G722_SSE2 1
#endif

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* The QMF passes, vectorised, with an AVX2 clone picked at load time where the CPU has it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOT __attribute__((hot, optimize("O3"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((hot, optimize("O3")))
#else
#define HOT
#endif

/* The ADPCM loops. With SSE2 they are written with vector operations already, and the
 * vectoriser's attempts on the rest (it packs unrelated scalar limiters into vector registers)
 * lose more in moves than they gain; without SSE2 the vectoriser is welcome. */
#if defined(__GNUC__) && !defined(__clang__) && defined(G722_SSE2)
#define SERIAL __attribute__((hot, optimize("O2", "no-tree-vectorize")))
#elif defined(__GNUC__) && !defined(__clang__)
#define SERIAL __attribute__((hot, optimize("O3")))
#else
#define SERIAL
#endif

#define CHUNK G722_CHUNK /* pairs per pass (a 20 ms frame) */

/* The QMF coefficients h0..h23 (symmetric). */
static const int16_t qmf[24] = {3,    -11, -11,  53,   12,   -156, 32,  362, -210, -805, 951, 3876,
                                3876, 951, -805, -210, 362,  32,   -156, 12, 53,   -11,  -11, 3};

/* Transmit QMF over the window w[0..23], oldest first: lower = sum h[m] w[m], upper = sum of the
 * same products with the even m negated (see the file comment). */
static const int16_t qmf_minus[24] = {-3,    -11, 11,  53,   -12,  -156, -32,  362, 210, -805, -951, 3876,
                                      -3876, 951, 805, -210, -362, 32,   156,  12,  -53, -11,  11,   3};

/* The lower band's 29 quantiser decision levels (Recommendation table: Q12 multiples of det),
 * times 16, so that an unsigned 16 x 16 -> high 16 bits product gives (level det) >> 12; padded
 * to 32 with zeros (lanes the quantiser masks off). */
const uint16_t g722_q6_16[32] = {
    35 * 16,   72 * 16,   110 * 16,  150 * 16,  190 * 16,  233 * 16,  276 * 16,  323 * 16,
    370 * 16,  422 * 16,  473 * 16,  530 * 16,  587 * 16,  650 * 16,  714 * 16,  786 * 16,
    858 * 16,  940 * 16,  1023 * 16, 1121 * 16, 1219 * 16, 1339 * 16, 1458 * 16, 1612 * 16,
    1765 * 16, 1980 * 16, 2195 * 16, 2557 * 16, 2919 * 16, 0,         0,         0};

/* The lower band's encoder, by quantiser result (levels reached, 0..29; + 32 for a negative
 * difference): the 6-bit code (the Recommendation's ILP/ILN tables at interval = levels + 1), its
 * 4-bit truncation's inverse-quantised value (QM4) and its log scale-factor step (WL by RL42).
 * Entries 30 and 31 of each half repeat entry 29. */
static const uint8_t low_code[64] = {
    61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40,
    39, 38, 37, 36, 35, 34, 33, 32, 32, 32, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22,
    21, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9,  8,  7,  6,  5,  4,  4,  4};
#ifndef G722_SSE2 /* (the vector encoder finds these values another way) */
static const int16_t low_qm4[64] = {
    0,      0,      1200,   1200,   1200,   1200,   2584,   2584,   2584,   2584,   4240,   4240,   4240,
    4240,   6288,   6288,   6288,   6288,   8968,   8968,   8968,   8968,   12896,  12896,  12896,  12896,
    20456,  20456,  20456,  20456,  20456,  20456,  0,      0,      -1200,  -1200,  -1200,  -1200,  -2584,
    -2584,  -2584,  -2584,  -4240,  -4240,  -4240,  -4240,  -6288,  -6288,  -6288,  -6288,  -8968,  -8968,
    -8968,  -8968,  -12896, -12896, -12896, -12896, -20456, -20456, -20456, -20456, -20456, -20456};
#endif
static const int16_t low_wl[64] = {
    -60,  -60,  -30,  -30,  -30,  -30,  58,   58,   58,   58,   172,  172,  172,  172,  334,  334,
    334,  334,  538,  538,  538,  538,  1198, 1198, 1198, 1198, 3042, 3042, 3042, 3042, 3042, 3042,
    -60,  -60,  -30,  -30,  -30,  -30,  58,   58,   58,   58,   172,  172,  172,  172,  334,  334,
    334,  334,  538,  538,  538,  538,  1198, 1198, 1198, 1198, 3042, 3042, 3042, 3042, 3042, 3042};

/* Inverse quantisers: 4-bit (the lower band's adaptation), 6-bit (the lower band's output),
 * 2-bit (the upper band). */
const int32_t g722_qm4[16] = {0,     -20456, -12896, -8968, -6288, -4240, -2584, -1200,
                                20456, 12896,  8968,   6288,  4240,  2584,  1200,  0};
const int32_t g722_qm6[64] = {
    -136,   -136,   -136,   -136,   -24808, -21904, -19008, -16704, -14984, -13512, -12280, -11192, -10232,
    -9360,  -8576,  -7856,  -7192,  -6576,  -6000,  -5456,  -4944,  -4464,  -4008,  -3576,  -3168,  -2776,
    -2400,  -2032,  -1688,  -1360,  -1040,  -728,   24808,  21904,  19008,  16704,  14984,  13512,  12280,
    11192,  10232,  9360,   8576,   7856,   7192,   6576,   6000,   5456,   4944,   4464,   4008,   3576,
    3168,   2776,   2400,   2032,   1688,   1360,   1040,   728,    432,    136,    -432,   -136};
const int32_t g722_qm2[4] = {-7408, -1616, 7408, 1616};
/* Log scale-factor steps: the lower band's by the 4-bit code (WL by RL42), the upper band's by
 * its 2-bit code (WH by RH2). */
const int32_t g722_wl4[16] = {-60, 3042, 1198, 538, 334, 172, 58, -30, 3042, 1198, 538, 334, 172, 58, -30, -60};
const int32_t g722_wh2[4] = {798, -214, 798, -214};
/* The upper band's encoder: the 2-bit code by 2 (negative difference) + 1 (inner interval). */
static const uint8_t high_index[4] = {2, 3, 0, 1};
/* Antilogarithm table of the scale factor (mantissa). */
const int32_t g722_ilb[32] = {2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543,
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

/* Blocks 3L/3H: the log scale factor after a code whose step is `step`. */
INLINE int32_t log_scale(int32_t nb, int32_t step, int32_t ceiling)
{
    return clamp(((nb * 127) >> 7) + step, 0, ceiling);
}

/* ... and the quantiser scale it gives: ilb's mantissa shifted right by (bias - exponent), times
 * 4. The shift is -1 at most (nb at its ceiling), so it is taken as a right shift of twice the
 * mantissa by one more: the same value, without a branch. */
INLINE int32_t scale(int32_t nb, int32_t exponent_bias)
{
    return ((g722_ilb[(nb >> 6) & 31] << 1) >> (exponent_bias + 1 - (nb >> 11))) << 2;
}

#ifdef G722_SSE2
/* Both bands at once (see the file comment): lane 0 the lower band, lane 1 the upper band; the
 * other lanes are don't-cares. */
typedef struct pair_regs {
    __m128i s, sz, a1, a2, p1, p2, rr1; /* lane 0 lower band, lane 1 upper band */
    __m128i b[2], d[2];                 /* the zero sections: b1..b6 / d1..d6 in lanes 0..5 */
} pair_regs;

/* Lanes 0 and 1 of a vector from two 16-bit values. */
INLINE __m128i lanes(int32_t low, int32_t high)
{
    return _mm_cvtsi32_si128((int32_t)(((uint32_t)low & 0xFFFFu) | ((uint32_t)high << 16)));
}

INLINE int32_t lane(__m128i v, int i)
{
    return (int16_t)(i ? _mm_extract_epi16(v, 1) : _mm_extract_epi16(v, 0));
}

/* (x y) >> 15 per lane, for products whose result fits 16 bits. */
INLINE __m128i mul15(__m128i x, __m128i y)
{
    __m128i high = _mm_mulhi_epi16(x, y);
    return _mm_add_epi16(_mm_add_epi16(high, high), _mm_srli_epi16(_mm_mullo_epi16(x, y), 15));
}

INLINE void pair_load(pair_regs *x, const g722_band_t band[2])
{
    x->s = lanes(band[0].s, band[1].s);
    x->sz = lanes(band[0].sz, band[1].sz);
    x->a1 = lanes(band[0].a1, band[1].a1);
    x->a2 = lanes(band[0].a2, band[1].a2);
    x->p1 = lanes(band[0].p1, band[1].p1);
    x->p2 = lanes(band[0].p2, band[1].p2);
    x->rr1 = lanes(band[0].rr1, band[1].rr1);
    for (int i = 0; i < 2; i++) {
        x->b[i] = _mm_loadu_si128((const __m128i *)band[i].b);
        x->d[i] = _mm_loadu_si128((const __m128i *)band[i].d);
    }
}

INLINE void pair_store(g722_band_t band[2], const pair_regs *x)
{
    for (int i = 0; i < 2; i++) {
        band[i].s = lane(x->s, i);
        band[i].sz = lane(x->sz, i);
        band[i].a1 = lane(x->a1, i);
        band[i].a2 = lane(x->a2, i);
        band[i].p1 = lane(x->p1, i);
        band[i].p2 = lane(x->p2, i);
        band[i].rr1 = lane(x->rr1, i);
        _mm_storeu_si128((__m128i *)band[i].b, x->b[i]);
        _mm_storeu_si128((__m128i *)band[i].d, x->d[i]);
    }
}

/* One band's zero section after the difference dx (broadcast to all lanes in dx8): UPZERO (each
 * b_i leaks by 1/256 and moves 128 towards agreement of d_i's sign with dx's; not at all when dx
 * is 0), DELAYA (dx becomes d1), and FILTEZ's six products (b_i sat16(2 d_i)) >> 15, summed in
 * pairs into four 32-bit lanes. */
INLINE __m128i zero_section(__m128i *bp, __m128i *dp, __m128i dx8)
{
    const __m128i up = _mm_set_epi16(0, 0, 128, 128, 128, 128, 128, 128);
    __m128i b = *bp, d = *dp, flip, step, high, low;

    flip = _mm_srai_epi16(_mm_xor_si128(d, dx8), 15);
    step = _mm_andnot_si128(_mm_cmpeq_epi16(dx8, _mm_setzero_si128()), up);
    step = _mm_sub_epi16(_mm_xor_si128(step, flip), flip);
    b = _mm_adds_epi16(step, _mm_add_epi16(b, _mm_mulhi_epi16(b, _mm_set1_epi16(-256))));
    d = _mm_or_si128(_mm_slli_si128(d, 2), _mm_and_si128(dx8, _mm_set_epi16(0, 0, 0, 0, 0, 0, 0, -1)));
    high = _mm_adds_epi16(d, d);
    low = _mm_mullo_epi16(b, high);
    high = _mm_mulhi_epi16(b, high);
    *bp = b;
    *dp = d;
    return _mm_add_epi32(_mm_madd_epi16(high, _mm_set1_epi16(2)),
                         _mm_madd_epi16(_mm_srli_epi16(low, 15), _mm_set1_epi16(1)));
}

/* Block 4 for both bands after the quantised differences dx (lanes 0, 1): RECONS, PARREC,
 * UPPOL2, UPPOL1, the zero sections, FILTEP and PREDIC. a1 stays within +-27648 (UPPOL1's
 * limit) and a2 within +-12288 (UPPOL2's), so their leaks cannot overflow and 2 a2 fits 16 bits. */
INLINE void predict(pair_regs *x, __m128i dx)
{
    const __m128i minus1 = _mm_set1_epi16(-1);
    __m128i r0 = _mm_adds_epi16(x->s, dx), p0 = _mm_adds_epi16(x->sz, dx);
    /* -1 where p0 has the sign of p1 (of p2) */
    __m128i same1 = _mm_cmpgt_epi16(_mm_xor_si128(p0, x->p1), minus1);
    __m128i same2 = _mm_cmpgt_epi16(_mm_xor_si128(p0, x->p2), minus1);
    __m128i wd1, wd2, a1, a2, limit, rr0, sp, low, high, sum;

    /* UPPOL2: wd2 = sat16(4 a1), negated (saturating: -32768 becomes 32767, the Recommendation's
     * limit) where the signs agree */
    wd1 = _mm_adds_epi16(x->a1, x->a1);
    wd1 = _mm_adds_epi16(wd1, wd1);
    wd2 = _mm_subs_epi16(_mm_xor_si128(wd1, same1), same1);
    a2 = _mm_add_epi16(_mm_srai_epi16(wd2, 7),
                       _mm_add_epi16(_mm_set1_epi16(-128), _mm_and_si128(same2, _mm_set1_epi16(256))));
    a2 = _mm_add_epi16(a2, _mm_add_epi16(x->a2, _mm_mulhi_epi16(x->a2, _mm_set1_epi16(-512))));
    a2 = _mm_min_epi16(_mm_max_epi16(a2, _mm_set1_epi16(-12288)), _mm_set1_epi16(12288));
    /* UPPOL1 */
    a1 = _mm_add_epi16(_mm_set1_epi16(-192), _mm_and_si128(same1, _mm_set1_epi16(384)));
    a1 = _mm_add_epi16(a1, _mm_add_epi16(x->a1, _mm_mulhi_epi16(x->a1, _mm_set1_epi16(-256))));
    limit = _mm_sub_epi16(_mm_set1_epi16(15360), a2);
    a1 = _mm_max_epi16(_mm_min_epi16(a1, limit), _mm_sub_epi16(_mm_setzero_si128(), limit));
    /* FILTEP (with the reconstructed signal before this one) */
    rr0 = _mm_adds_epi16(r0, r0);
    sp = _mm_adds_epi16(mul15(a1, rr0), _mm_mulhi_epi16(_mm_add_epi16(a2, a2), x->rr1));
    /* the zero sections, each with its band's dx in every lane; then both sums, saturated */
    low = zero_section(&x->b[0], &x->d[0], _mm_shuffle_epi32(_mm_shufflelo_epi16(dx, 0x00), 0x00));
    high = zero_section(&x->b[1], &x->d[1], _mm_shuffle_epi32(_mm_shufflelo_epi16(dx, 0x55), 0x00));
    sum = _mm_add_epi32(_mm_unpacklo_epi32(low, high), _mm_unpackhi_epi32(low, high));
    sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
    x->sz = _mm_packs_epi32(sum, sum);
    /* PREDIC */
    x->s = _mm_adds_epi16(sp, x->sz);
    x->a1 = a1;
    x->a2 = a2;
    x->p2 = x->p1;
    x->p1 = p0;
    x->rr1 = rr0;
}

#else
/* One band at a time (the same arithmetic as the vector version above), the zero section in GCC's
 * generic vectors where there are those (eight 32-bit lanes, two of them kept at zero), else in a
 * loop. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi" /* the vectors never cross a call: everything is inlined */
typedef int32_t zero_lanes __attribute__((vector_size(32)));
#define LANE(lanes_, i) ((lanes_)[i])
#else
typedef struct {
    int32_t v[8];
} zero_lanes;
#define LANE(lanes_, i) ((lanes_).v[i])
#endif

typedef struct band_regs {
    zero_lanes b, d;
    int32_t s, sz, a1, a2, p1, p2, rr1;
} band_regs;

INLINE void band_load(band_regs *x, const g722_band_t *band)
{
    for (int i = 0; i < 8; i++) {
        LANE(x->b, i) = band->b[i];
        LANE(x->d, i) = i < 6 ? band->d[i] : 0;
    }
    x->s = band->s;
    x->sz = band->sz;
    x->a1 = band->a1;
    x->a2 = band->a2;
    x->p1 = band->p1;
    x->p2 = band->p2;
    x->rr1 = band->rr1;
}

INLINE void band_store(g722_band_t *band, const band_regs *x)
{
    for (int i = 0; i < 8; i++) {
        band->b[i] = (int16_t)LANE(x->b, i);
        band->d[i] = (int16_t)LANE(x->d, i);
    }
    band->s = x->s;
    band->sz = x->sz;
    band->a1 = x->a1;
    band->a2 = x->a2;
    band->p1 = x->p1;
    band->p2 = x->p2;
    band->rr1 = x->rr1;
}

#if defined(__GNUC__) && !defined(__clang__)
INLINE zero_lanes vsat16(zero_lanes v)
{
    const zero_lanes hi = {32767, 32767, 32767, 32767, 32767, 32767, 32767, 32767}, lo = -hi - 1;
    zero_lanes m = v > hi;
    v = (v & ~m) | (hi & m);
    m = v < lo;
    return (v & ~m) | (lo & m);
}

INLINE int32_t zero_section(band_regs *x, int32_t dx)
{
    const zero_lanes six = {-1, -1, -1, -1, -1, -1, 0, 0};
    int32_t up = dx == 0 ? 0 : 128;
    zero_lanes dxv = {dx, dx, dx, dx, dx, dx, dx, dx}, upv = {up, up, up, up, up, up, up, up};
    zero_lanes flip = (x->d ^ dxv) >> 31, t;

    x->b = vsat16(((upv ^ flip) - flip) + ((x->b * 32640) >> 15)) & six;
    x->d = __builtin_shuffle(x->d, dxv, (zero_lanes){8, 0, 1, 2, 3, 4, 6, 7});
    t = (x->b * vsat16(x->d + x->d)) >> 15;
    return sat16(t[0] + t[1] + t[2] + t[3] + t[4] + t[5]);
}
#else
INLINE int32_t zero_section(band_regs *x, int32_t dx)
{
    int32_t *b = x->b.v, *d = x->d.v, up = dx == 0 ? 0 : 128, sz = 0;
    for (int i = 0; i < 6; i++)
        b[i] = sat16((same_sign(d[i], dx) ? up : -up) + ((b[i] * 32640) >> 15));
    for (int i = 5; i > 0; i--)
        d[i] = d[i - 1];
    d[0] = dx;
    for (int i = 0; i < 6; i++)
        sz += (b[i] * sat16(d[i] + d[i])) >> 15;
    return sat16(sz);
}
#endif

INLINE void predict(band_regs *x, int32_t dx)
{
    int32_t r0 = sat16(x->s + dx), p0 = sat16(x->sz + dx);
    int32_t same1 = same_sign(p0, x->p1), same2 = same_sign(p0, x->p2);
    int32_t wd1 = sat16(x->a1 * 4), wd2, a1, a2, limit, rr0, sp;

    /* UPPOL2 */
    wd2 = same1 ? -wd1 : wd1;
    wd2 = wd2 > 32767 ? 32767 : wd2;
    a2 = clamp((wd2 >> 7) + (same2 ? 128 : -128) + ((x->a2 * 32512) >> 15), -12288, 12288);
    /* UPPOL1 */
    a1 = (same1 ? 192 : -192) + ((x->a1 * 32640) >> 15);
    limit = 15360 - a2;
    a1 = clamp(a1, -limit, limit);
    /* FILTEP (with the reconstructed signal before this one) */
    rr0 = sat16(r0 + r0);
    sp = sat16(((a1 * rr0) >> 15) + ((a2 * x->rr1) >> 15));
    /* UPZERO, DELAYA, FILTEZ; PREDIC */
    x->sz = zero_section(x, dx);
    x->s = sat16(sp + x->sz);
    x->a1 = a1;
    x->a2 = a2;
    x->p2 = x->p1;
    x->p1 = p0;
    x->rr1 = rr0;
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

/* The lower band's quantiser: how many of the 29 decision levels |el| (as wd, 0..32767) reaches
 * with this det (at most 16384): level k is reached when (q6[k] det) >> 12 <= wd. */
#ifdef G722_SSE2
INLINE int32_t quantise_low(__m128i wd8, int32_t det)
{
    const __m128i *levels = (const __m128i *)g722_q6_16;
    __m128i det8 = _mm_set1_epi16((int16_t)det);
    __m128i above0 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(levels), det8), wd8);
    __m128i above1 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(levels + 1), det8), wd8);
    __m128i above2 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(levels + 2), det8), wd8);
    __m128i above3 = _mm_cmpgt_epi16(_mm_mulhi_epu16(_mm_loadu_si128(levels + 3), det8), wd8);
    uint32_t mask = (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(above0, above1)) |
                    (uint32_t)_mm_movemask_epi8(_mm_packs_epi16(above2, above3)) << 16;
    return __builtin_ctz(mask | 0xE0000000u); /* the padding lanes count as not reached */
}
#else
INLINE int32_t quantise_low(int32_t wd, int32_t det)
{
    int32_t count = 0;
    for (int k = 0; k < 29; k++)
        count += (int32_t)(((uint32_t)g722_q6_16[k] * (uint32_t)det) >> 16) <= wd;
    return count;
}
#endif
/* Transmit QMF of `pairs` pairs: x holds the 22 samples before them, then their 2 x pairs samples. */
HOT void g722_qmf_analysis(const int16_t *x, size_t pairs, uint32_t *xpair)
{
    for (size_t k = 0; k < pairs; k++) {
        const int16_t *w = x + 2 * k;
        int32_t sum_low = 0, sum_high = 0;
        for (int m = 0; m < 24; m++) {
            sum_low += qmf[m] * w[m];
            sum_high += qmf_minus[m] * w[m];
        }
        /* both fit 16 bits: the |h| add up to 12964, so |sum| >> 14 < 26000 */
        xpair[k] = ((uint32_t)(sum_low >> 14) & 0xFFFFu) | (uint32_t)(sum_high >> 14) << 16;
    }
}

#ifdef G722_SSE2
/* The quantised differences straight from the quantisers' comparisons, without going through
 * the codes (the shortest path from one estimate to the next): the lower band's 4-bit inverse
 * quantiser magnitude steps up at 7 of the 29 decision levels (the levels where the 4-bit
 * truncation of the code changes), so it is the largest of these values whose level is reached;
 * the upper band's is 1616 in the inner interval and 7408 in the outer one. */
static const uint16_t qm4_levels_16[8] = {72 * 16, 233 * 16, 422 * 16, 650 * 16, 940 * 16, 1339 * 16, 1980 * 16, 0};
static const int16_t qm4_values[8] = {1200, 2584, 4240, 6288, 8968, 12896, 20456, 0};

/* xpair[k]: the pair's lower-band input in the low 16 bits, the upper band's in the high 16. */
static SERIAL void adpcm_encode(g722_encoder_t *e, const uint32_t *xpair, size_t pairs, uint8_t *out)
{
    const __m128i steps = _mm_loadu_si128((const __m128i *)qm4_levels_16);
    const __m128i values = _mm_loadu_si128((const __m128i *)qm4_values);
    const __m128i lane0 = _mm_set_epi16(0, 0, 0, 0, 0, 0, 0, -1), outer = lanes(0, 7408);
    const __m128i outer_to_inner = lanes(0, 7408 ^ 1616);
    pair_regs x;
    int32_t nbl = e->band[0].nb, nbh = e->band[1].nb, detl = e->band[0].det, deth = e->band[1].det;
    pair_load(&x, e->band);
    for (size_t k = 0; k < pairs; k++) {
        __m128i el = _mm_subs_epi16(_mm_cvtsi32_si128((int32_t)xpair[k]), x.s), sign = _mm_srai_epi16(el, 15);
        /* magnitudes, one's complement for negatives (as the Recommendation's quantisers take them) */
        __m128i wd = _mm_xor_si128(el, sign), wd8 = _mm_shuffle_epi32(_mm_shufflelo_epi16(wd, 0x00), 0x00);
        __m128i inner = _mm_cmpgt_epi16(lanes(0, (564 * deth) >> 12), wd);
        __m128i reached = _mm_andnot_si128(_mm_cmpgt_epi16(_mm_mulhi_epu16(steps, _mm_set1_epi16((int16_t)detl)), wd8), values);
        __m128i magnitude;
        /* bit 0: el (lower) < 0, bit 1: eh (upper) < 0, bit 9: the upper band's inner interval */
        int32_t flags = _mm_movemask_epi8(_mm_packs_epi16(el, inner));
        int32_t il = quantise_low(wd8, detl) + ((flags & 1) << 5);
        int32_t ih = high_index[(flags >> 1 & 1) * 2 + (flags >> 9 & 1)];

        reached = _mm_max_epi16(reached, _mm_shuffle_epi32(reached, 0x4E));
        reached = _mm_max_epi16(reached, _mm_shuffle_epi32(reached, 0xB1));
        reached = _mm_max_epi16(reached, _mm_shufflelo_epi16(reached, 0xB1));
        magnitude = _mm_or_si128(_mm_and_si128(reached, lane0), _mm_xor_si128(outer, _mm_and_si128(inner, outer_to_inner)));
        out[k] = (uint8_t)((ih << 6) | low_code[il]);
        predict(&x, mul15(lanes(detl, deth), _mm_sub_epi16(_mm_xor_si128(magnitude, sign), sign)));
        nbl = log_scale(nbl, low_wl[il], 18432);
        nbh = log_scale(nbh, g722_wh2[ih], 22528);
        detl = scale(nbl, 8);
        deth = scale(nbh, 10);
    }
    pair_store(e->band, &x);
    e->band[0].nb = nbl;
    e->band[1].nb = nbh;
    e->band[0].det = detl;
    e->band[1].det = deth;
}
#else
static SERIAL void adpcm_encode(g722_encoder_t *e, const uint32_t *xpair, size_t pairs, uint8_t *out)
{
    band_regs low, high;
    int32_t nbl = e->band[0].nb, nbh = e->band[1].nb, detl = e->band[0].det, deth = e->band[1].det;
    band_load(&low, &e->band[0]);
    band_load(&high, &e->band[1]);
    for (size_t k = 0; k < pairs; k++) {
        int32_t el = sat16((int16_t)(xpair[k] & 0xFFFF) - low.s), eh = sat16((int16_t)(xpair[k] >> 16) - high.s);
        int32_t wdl = el ^ (el >> 31), wdh = eh ^ (eh >> 31);
        int32_t il = quantise_low(wdl, detl) + (el < 0 ? 32 : 0);
        int32_t ih = high_index[(eh < 0) * 2 + (wdh < ((564 * deth) >> 12))];
        int32_t dlow = (detl * low_qm4[il]) >> 15, dhigh = (deth * g722_qm2[ih]) >> 15;

        out[k] = (uint8_t)((ih << 6) | low_code[il]);
        nbl = log_scale(nbl, low_wl[il], 18432);
        nbh = log_scale(nbh, g722_wh2[ih], 22528);
        detl = scale(nbl, 8);
        deth = scale(nbh, 10);
        predict(&low, dlow);
        predict(&high, dhigh);
    }
    band_store(&e->band[0], &low);
    band_store(&e->band[1], &high);
    e->band[0].nb = nbl;
    e->band[1].nb = nbh;
    e->band[0].det = detl;
    e->band[1].det = deth;
}
#endif
void g722_encode_block(g722_encoder_t *e, const int16_t *pcm, size_t n, uint8_t *out)
{
    int16_t x[22 + 2 * CHUNK];
    uint32_t xpair[CHUNK];
    size_t pairs = n / 2;
    while (pairs) {
        size_t count = pairs < CHUNK ? pairs : CHUNK;
        memcpy(x, e->x, sizeof(e->x));
        memcpy(x + 22, pcm, 2 * count * sizeof(int16_t));
        g722_qmf_analysis(x, count, xpair);
        memcpy(e->x, x + 2 * count, sizeof(e->x));
        adpcm_encode(e, xpair, count, out);
        pcm += 2 * count;
        out += count;
        pairs -= count;
    }
}

/* The ADPCM half of the decoder: per code byte, the lower and upper band reconstructions' sum and
 * difference (the receive QMF's inputs). */
#ifdef G722_SSE2
static SERIAL void adpcm_decode(g722_decoder_t *dec, const uint8_t *codes, size_t len, int16_t *xs, int16_t *xd)
{
    const __m128i low_limit = _mm_set1_epi16(-16384), high_limit = _mm_set1_epi16(16383);
    pair_regs x;
    int32_t nbl = dec->band[0].nb, nbh = dec->band[1].nb, detl = dec->band[0].det, deth = dec->band[1].det;
    pair_load(&x, dec->band);
    for (size_t k = 0; k < len; k++) {
        int32_t ilow = codes[k] & 0x3F, ihigh = codes[k] >> 6, ril = ilow >> 2;
        int32_t dhigh = (deth * g722_qm2[ihigh]) >> 15;
        /* the reconstructions (lanes 0, 1), limited to 15 bits; then their sum and difference */
        __m128i r = _mm_adds_epi16(x.s, lanes((detl * g722_qm6[ilow]) >> 15, dhigh));
        __m128i swapped;
        r = _mm_min_epi16(_mm_max_epi16(r, low_limit), high_limit);
        swapped = _mm_shufflelo_epi16(r, 0xE1);
        r = _mm_unpacklo_epi16(_mm_add_epi16(r, swapped), _mm_sub_epi16(r, swapped));
        xs[k] = (int16_t)_mm_extract_epi16(r, 0);
        xd[k] = (int16_t)_mm_extract_epi16(r, 1);
        r = lanes((detl * g722_qm4[ril]) >> 15, dhigh);
        nbl = log_scale(nbl, g722_wl4[ril], 18432);
        nbh = log_scale(nbh, g722_wh2[ihigh], 22528);
        detl = scale(nbl, 8);
        deth = scale(nbh, 10);
        predict(&x, r);
    }
    pair_store(dec->band, &x);
    dec->band[0].nb = nbl;
    dec->band[1].nb = nbh;
    dec->band[0].det = detl;
    dec->band[1].det = deth;
}
#else
static SERIAL void adpcm_decode(g722_decoder_t *dec, const uint8_t *codes, size_t len, int16_t *xs, int16_t *xd)
{
    band_regs low, high;
    int32_t nbl = dec->band[0].nb, nbh = dec->band[1].nb, detl = dec->band[0].det, deth = dec->band[1].det;
    band_load(&low, &dec->band[0]);
    band_load(&high, &dec->band[1]);
    for (size_t k = 0; k < len; k++) {
        int32_t ilow = codes[k] & 0x3F, ihigh = codes[k] >> 6, ril = ilow >> 2;
        int32_t rlow = clamp(low.s + ((detl * g722_qm6[ilow]) >> 15), -16384, 16383);
        int32_t dlow = (detl * g722_qm4[ril]) >> 15, dhigh = (deth * g722_qm2[ihigh]) >> 15;
        int32_t rhigh = clamp(dhigh + high.s, -16384, 16383);

        xs[k] = (int16_t)(rlow + rhigh);
        xd[k] = (int16_t)(rlow - rhigh);
        nbl = log_scale(nbl, g722_wl4[ril], 18432);
        nbh = log_scale(nbh, g722_wh2[ihigh], 22528);
        detl = scale(nbl, 8);
        deth = scale(nbh, 10);
        predict(&low, dlow);
        predict(&high, dhigh);
    }
    band_store(&dec->band[0], &low);
    band_store(&dec->band[1], &high);
    dec->band[0].nb = nbl;
    dec->band[1].nb = nbh;
    dec->band[0].det = detl;
    dec->band[1].det = deth;
}
#endif
/* Receive QMF: xs and xd hold the 11 values before the `len` new ones; two samples each. */
#ifdef G722_SSE2
/* The receive QMF's coefficients in pairs (m, m + 1) for pmaddwd, low half first: h1, h3, ... for
 * the differences, h0, h2, ... for the sums. */
#define PAIR(low, high) ((int32_t)(((uint32_t)(low) & 0xFFFFu) | (uint32_t)(high) << 16))
static const int32_t qmf_odd_pairs[6] = {PAIR(-11, 53),  PAIR(-156, 362), PAIR(-805, 3876),
                                         PAIR(951, -210), PAIR(32, 12),    PAIR(-11, 3)};
static const int32_t qmf_even_pairs[6] = {PAIR(3, -11),     PAIR(12, 32),     PAIR(-210, 951),
                                          PAIR(3876, -805), PAIR(362, -156), PAIR(53, -11)};

/* sum over m < 12 of c[m] v[k + m] for k = 0..7, as two vectors of four 32-bit sums: each pair of
 * taps is one pmaddwd over the pairs (v[k + m], v[k + m + 1]). */
INLINE void dot12x8(const int16_t *v, const int32_t *pairs, __m128i *first, __m128i *second)
{
    __m128i sum1 = _mm_setzero_si128(), sum2 = _mm_setzero_si128();
    for (int m = 0; m < 12; m += 2) {
        __m128i a = _mm_loadu_si128((const __m128i *)(v + m)), b = _mm_loadu_si128((const __m128i *)(v + m + 1));
        __m128i c = _mm_set1_epi32(pairs[m / 2]);
        sum1 = _mm_add_epi32(sum1, _mm_madd_epi16(_mm_unpacklo_epi16(a, b), c));
        sum2 = _mm_add_epi32(sum2, _mm_madd_epi16(_mm_unpackhi_epi16(a, b), c));
    }
    *first = sum1;
    *second = sum2;
}
#endif

HOT void g722_qmf_synthesis(const int16_t *xs, const int16_t *xd, size_t len, int16_t *pcm)
{
    size_t k = 0;
#ifdef G722_SSE2
    for (; k + 8 <= len; k += 8) {
        __m128i d1, d2, s1, s2, out1, out2;
        dot12x8(xd + k, qmf_odd_pairs, &d1, &d2);
        dot12x8(xs + k, qmf_even_pairs, &s1, &s2);
        /* >> 11, saturated to 16 bits (packssdw), the two outputs interleaved */
        out1 = _mm_packs_epi32(_mm_srai_epi32(d1, 11), _mm_srai_epi32(d2, 11));
        out2 = _mm_packs_epi32(_mm_srai_epi32(s1, 11), _mm_srai_epi32(s2, 11));
        _mm_storeu_si128((__m128i *)(pcm + 2 * k), _mm_unpacklo_epi16(out1, out2));
        _mm_storeu_si128((__m128i *)(pcm + 2 * k + 8), _mm_unpackhi_epi16(out1, out2));
    }
#endif
    for (; k < len; k++) {
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
        g722_qmf_synthesis(xs, xd, count, pcm);
        memcpy(dec->xs, xs + count, sizeof(dec->xs));
        memcpy(dec->xd, xd + count, sizeof(dec->xd));
        codes += count;
        pcm += 2 * count;
        len -= count;
    }
}
