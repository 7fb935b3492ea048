/*
 * g722_multi.c - G.722 for several streams at once (g722_encode_blocks, g722_decode_blocks).
 *
 * One stream's ADPCM loop is a chain of dependent steps per sample and already runs both bands
 * as lanes of SSE2 vectors (g722.c); what is left is to let every vector instruction work for
 * several streams. With AVX2, four streams go through the loop together (their states must be
 * distinct), one "band lane" per stream and band, band lane L = 2 x stream + band (0 lower,
 * 1 upper):
 *   - the per-band scalars (s, sz, a1, a2, p1, p2, rr1, the log scale factor nb and the scale
 *     det) are eight 16-bit lanes of one xmm register each: the pole section (RECONS, PARREC,
 *     UPPOL2, UPPOL1, FILTEP, PREDIC) is the same arithmetic as g722.c's, on eight lanes;
 *   - the zero sections of all eight band lanes are six ymm registers: b1 b2 | b3 b4 | b5 b6 and
 *     d1 d2 | d3 d4 | d5 d6, each band lane one 32-bit lane holding a pair. DELAYA is then a
 *     16-bit shift between neighbouring registers, and FILTEZ's six products (b_i sat16(2 d_i))
 *     >> 15 are pmulhw/pmullw per pair, summed exactly in 32 bits by pmaddwd;
 *   - the quantised differences and the scale-factor steps that feed the adaptation depend only
 *     on which of seven levels |el| reaches (lower band: where the code's 4-bit truncation
 *     changes; upper band: the outer interval): seven compares of all eight lanes, and the value
 *     of the highest level reached is a max over the compares (adpcm_encode4);
 *   - the lower band's 6-bit code, needed only for the output, compares the four streams' |el|
 *     with all 29 decision levels in eight ymm compares (four levels of four streams per
 *     register; levels 29..31 repeat level 28, so that a count of 32 means 29) and counts the
 *     levels above by adding the compare masks;
 *   - the scale factor's antilogarithm: 32-bit lanes, the mantissa table (doubled, two entries per
 *     32-bit word) looked up with two vpermd, the variable shifts with vpsrlvd / vpsllvd.
 * The decoder reads the code bytes' inverse-quantised values and steps from one 16-byte row per
 * byte value (built from g722.c's tables at load time), four rows transposed per sample. The QMF
 * passes stay per stream (g722.c's, already vectorised over the samples of a frame); samples and
 * codes are transposed between the streams' buffers and the lanes in blocks of four.
 *
 * Fewer than four streams pad the missing lanes with a copy of the first stream's state and
 * input (results thrown away): three streams cost what four do, still less than three one by
 * one (measured: two streams 2.5 us each per 20 ms encode against 3.1 alone). A single stream,
 * every CPU without AVX2 (checked once, at load time) and builds by compilers other than GCC for
 * x86-64 take g722.c's one-stream code. The build flags stay portable: only the functions
 * between the target pragmas below are compiled for AVX2.
 */
#include "g722.h"

#include <string.h>

#include "g722_impl.h"

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(G722_NO_SIMD)
#define G722_AVX2 1
#endif

#ifdef G722_AVX2
#include <immintrin.h>

/* The vector constants of the kernel: rows of 16 16-bit lanes, repeating the 4 values given (the
 * rows given as zeros here — levels, values and steps of the quantiser — are filled by multi_init
 * with a pair of values, lower band / upper band, repeated). They are read from a table written at load time (multi_init) rather than built in the code:
 * GCC builds a constant vector from a general register (3 instructions) when it runs out of
 * vector registers, which it does in these loops, while a table row is a memory operand. */
#define MULTI_CONSTANTS(X) \
    X(K_128, 128, 128, 128, 128) \
    X(K_M256, -256, -256, -256, -256) \
    X(K_LOW16, -1, 0, -1, 0) \
    X(K_2, 2, 2, 2, 2) \
    X(K_1, 1, 1, 1, 1) \
    X(K_M1, -1, -1, -1, -1) \
    X(K_M128, -128, -128, -128, -128) \
    X(K_256, 256, 256, 256, 256) \
    X(K_M512, -512, -512, -512, -512) \
    X(K_M12288, -12288, -12288, -12288, -12288) \
    X(K_12288, 12288, 12288, 12288, 12288) \
    X(K_M192, -192, -192, -192, -192) \
    X(K_384, 384, 384, 384, 384) \
    X(K_15360, 15360, 15360, 15360, 15360) \
    X(K_CEILING, 18432, 22528, 18432, 22528) \
    X(K_SHIFT, 25, 0, 27, 0) \
    X(K_65024, (int16_t)65024, (int16_t)65024, (int16_t)65024, (int16_t)65024) \
    X(K_16_32, 16, 0, 16, 0) \
    X(K_PICK_LOW, 0x0100, 0x0504, 0x0908, 0x0D0C) \
    X(K_32, 32, 32, 32, 32) \
    X(K_29, 29, 29, 29, 29) \
    X(K_M28, -28, -28, -28, -28) \
    X(K_30, 30, 30, 30, 30) \
    X(K_61, 61, 61, 61, 61) \
    X(K_CODE, 1, 64, 1, 64) \
    X(K_M16384, -16384, -16384, -16384, -16384) \
    X(K_16383, 16383, 16383, 16383, 16383) \
    X(K_LEVEL0, 0, 0, 0, 0) \
    X(K_VALUE0, 0, 0, 0, 0) \
    X(K_STEP0, 0, 0, 0, 0) \
    X(K_LEVEL1, 0, 0, 0, 0) \
    X(K_VALUE1, 0, 0, 0, 0) \
    X(K_STEP1, 0, 0, 0, 0) \
    X(K_LEVEL2, 0, 0, 0, 0) \
    X(K_VALUE2, 0, 0, 0, 0) \
    X(K_STEP2, 0, 0, 0, 0) \
    X(K_LEVEL3, 0, 0, 0, 0) \
    X(K_VALUE3, 0, 0, 0, 0) \
    X(K_STEP3, 0, 0, 0, 0) \
    X(K_LEVEL4, 0, 0, 0, 0) \
    X(K_VALUE4, 0, 0, 0, 0) \
    X(K_STEP4, 0, 0, 0, 0) \
    X(K_LEVEL5, 0, 0, 0, 0) \
    X(K_VALUE5, 0, 0, 0, 0) \
    X(K_STEP5, 0, 0, 0, 0) \
    X(K_LEVEL6, 0, 0, 0, 0) \
    X(K_VALUE6, 0, 0, 0, 0) \
    X(K_STEP6, 0, 0, 0, 0) \
    X(K_STEP_BASE, 0, 0, 0, 0) \
    X(K_1000, 1000, 1000, 1000, 1000)

enum {
#define MULTI_CONSTANT_NAME(name, a, b, c, d) name,
    MULTI_CONSTANTS(MULTI_CONSTANT_NAME)
#undef MULTI_CONSTANT_NAME
    K_COUNT
};

static const int16_t multi_constant_values[K_COUNT][4] = {
#define MULTI_CONSTANT_VALUES(name, a, b, c, d) {a, b, c, d},
    MULTI_CONSTANTS(MULTI_CONSTANT_VALUES)
#undef MULTI_CONSTANT_VALUES
};

/* Tables derived at load time from g722.c's (multi_init), for the AVX2 kernel. */
static struct {
    int avx2;                  /* the CPU (and the OS) can run it */
    uint32_t ilb_pairs[16];    /* 2 ilb[i] | 2 ilb[i + 16] << 16 */
    uint16_t levels[8][16];    /* quantiser pass g, 16-bit lane 4l + s: level 4g + l (max 28) x 16 */
    int16_t by_code[256][8];   /* decoder, by code byte: qm6, qm2, qm4, qm2, wl4, wh2, 0, 0 */
    int16_t constants[K_COUNT][16] __attribute__((aligned(32)));
} multi;

#define V16(k) _mm_load_si128((const __m128i *)multi.constants[k])
#define V256(k) _mm256_load_si256((const __m256i *)multi.constants[k])

__attribute__((constructor)) static void multi_init(void)
{
    for (int i = 0; i < 16; i++)
        multi.ilb_pairs[i] = (uint32_t)(g722_ilb[i] << 1) | (uint32_t)(g722_ilb[i + 16] << 1) << 16;
    for (int g = 0; g < 8; g++)
        for (int w = 0; w < 16; w++) {
            int level = 4 * g + (w >> 2);
            multi.levels[g][w] = g722_q6_16[level < 28 ? level : 28];
        }
    for (int code = 0; code < 256; code++) {
        int low = code & 0x3F, high = code >> 6;
        int16_t *row = multi.by_code[code];
        row[0] = (int16_t)g722_qm6[low];
        row[1] = row[3] = (int16_t)g722_qm2[high];
        row[2] = (int16_t)g722_qm4[low >> 2];
        row[4] = (int16_t)g722_wl4[low >> 2];
        row[5] = (int16_t)g722_wh2[high];
        row[6] = row[7] = 0;
    }
    for (int k = 0; k < K_COUNT; k++)
        for (int i = 0; i < 16; i++)
            multi.constants[k][i] = multi_constant_values[k][i & 3];
    /* the encoder's seven levels (lower band: where the 4-bit inverse quantiser steps up; upper
     * band: 0, reached by everything, and the outer interval) with their values and steps */
    for (int k = 0; k < 7; k++) {
        int16_t level[2] = {(int16_t)g722_q6_16[1 + 4 * k], (int16_t)(k == 1 ? 564 * 16 : 0)};
        int16_t value[2] = {(int16_t)g722_qm4[14 - k], (int16_t)(k < 2 ? g722_qm2[3 - k] : 0)};
        int16_t step[2] = {(int16_t)(g722_wl4[14 - k] + 1000), (int16_t)(k < 2 ? g722_wh2[1 - k] + 1000 : 0)};
        for (int i = 0; i < 16; i++) {
            multi.constants[K_LEVEL0 + 3 * k][i] = level[i & 1];
            multi.constants[K_VALUE0 + 3 * k][i] = value[i & 1];
            multi.constants[K_STEP0 + 3 * k][i] = step[i & 1];
        }
    }
    for (int i = 0; i < 16; i++)
        multi.constants[K_STEP_BASE][i] = (int16_t)(i & 1 ? 0 : g722_wl4[15] + 1000);
    __builtin_cpu_init();
    multi.avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
}

/* Everything from here to the pop is compiled for AVX2 and only called when multi.avx2. */
#pragma GCC push_options
#pragma GCC target("avx2")

#define INLINE static inline __attribute__((always_inline))
#define LANES 4 /* streams per pass (G722_MULTI) */

/* The states of the four streams' two bands while a block is coded (see the file comment). */
typedef struct multi_regs {
    __m128i s, sz, a1, a2, p1, p2, rr1, nb, det;
    __m256i b[3], d[3];
} multi_regs;

#define GATHER16(band, field)                                                                       \
    _mm_setr_epi16((int16_t)(band)[0]->field, (int16_t)(band)[1]->field, (int16_t)(band)[2]->field, \
                   (int16_t)(band)[3]->field, (int16_t)(band)[4]->field, (int16_t)(band)[5]->field, \
                   (int16_t)(band)[6]->field, (int16_t)(band)[7]->field)

#define SCATTER16(band, field, v)                                                                   \
    do {                                                                                            \
        int16_t lanes_[8];                                                                          \
        _mm_storeu_si128((__m128i *)lanes_, (v));                                                   \
        for (int l_ = 0; l_ < 8; l_++)                                                              \
            (band)[l_]->field = lanes_[l_];                                                         \
    } while (0)

INLINE uint32_t pair_at(const int16_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static void regs_load(multi_regs *x, g722_band_t *const band[8])
{
    x->s = GATHER16(band, s);
    x->sz = GATHER16(band, sz);
    x->a1 = GATHER16(band, a1);
    x->a2 = GATHER16(band, a2);
    x->p1 = GATHER16(band, p1);
    x->p2 = GATHER16(band, p2);
    x->rr1 = GATHER16(band, rr1);
    x->nb = GATHER16(band, nb);
    x->det = GATHER16(band, det);
    for (int i = 0; i < 3; i++) {
        uint32_t b[8], d[8];
        for (int l = 0; l < 8; l++) {
            b[l] = pair_at(band[l]->b + 2 * i);
            d[l] = pair_at(band[l]->d + 2 * i);
        }
        x->b[i] = _mm256_loadu_si256((const __m256i *)b);
        x->d[i] = _mm256_loadu_si256((const __m256i *)d);
    }
}

static void regs_store(g722_band_t *const band[8], const multi_regs *x)
{
    SCATTER16(band, s, x->s);
    SCATTER16(band, sz, x->sz);
    SCATTER16(band, a1, x->a1);
    SCATTER16(band, a2, x->a2);
    SCATTER16(band, p1, x->p1);
    SCATTER16(band, p2, x->p2);
    SCATTER16(band, rr1, x->rr1);
    SCATTER16(band, nb, x->nb);
    SCATTER16(band, det, x->det);
    for (int i = 0; i < 3; i++) {
        uint32_t b[8], d[8];
        _mm256_storeu_si256((__m256i *)b, x->b[i]);
        _mm256_storeu_si256((__m256i *)d, x->d[i]);
        for (int l = 0; l < 8; l++) {
            memcpy(band[l]->b + 2 * i, &b[l], sizeof(uint32_t));
            memcpy(band[l]->d + 2 * i, &d[l], sizeof(uint32_t));
        }
    }
}

/* (x y) >> 15 per lane, for products whose result fits 16 bits. */
INLINE __m128i mul15(__m128i x, __m128i y)
{
    __m128i high = _mm_mulhi_epi16(x, y);
    return _mm_add_epi16(_mm_add_epi16(high, high), _mm_srli_epi16(_mm_mullo_epi16(x, y), 15));
}

/* The zero sections of the eight band lanes after the differences dx: UPZERO (with the old
 * d_i), DELAYA, FILTEZ; returns sz, saturated to 16 bits. */
INLINE __m128i zero_sections(multi_regs *x, __m128i dx)
{
    const __m256i zero = _mm256_setzero_si256();
    __m256i dx2 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(dx, dx)),
                                          _mm_unpackhi_epi16(dx, dx), 1);
    __m256i up = _mm256_andnot_si256(_mm256_cmpeq_epi16(dx2, zero), V256(K_128));
    __m256i sum, bits, d0, d1, d2;
    #pragma GCC unroll 3
    for (int i = 0; i < 3; i++) {
        __m256i flip = _mm256_srai_epi16(_mm256_xor_si256(x->d[i], dx2), 15), b = x->b[i];
        b = _mm256_add_epi16(b, _mm256_mulhi_epi16(b, V256(K_M256)));
        x->b[i] = _mm256_adds_epi16(_mm256_sub_epi16(_mm256_xor_si256(up, flip), flip), b);
    }
    d2 = _mm256_or_si256(_mm256_srli_epi32(x->d[1], 16), _mm256_slli_epi32(x->d[2], 16));
    d1 = _mm256_or_si256(_mm256_srli_epi32(x->d[0], 16), _mm256_slli_epi32(x->d[1], 16));
    d0 = _mm256_or_si256(_mm256_slli_epi32(x->d[0], 16), _mm256_and_si256(dx2, V256(K_LOW16)));
    x->d[0] = d0;
    x->d[1] = d1;
    x->d[2] = d2;
    sum = zero;
    bits = zero;
    #pragma GCC unroll 3
    for (int i = 0; i < 3; i++) {
        __m256i h = _mm256_adds_epi16(x->d[i], x->d[i]);
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(_mm256_mulhi_epi16(x->b[i], h), V256(K_2)));
        bits = _mm256_add_epi16(bits, _mm256_srli_epi16(_mm256_mullo_epi16(x->b[i], h), 15));
    }
    sum = _mm256_add_epi32(sum, _mm256_madd_epi16(bits, V256(K_1)));
    return _mm_packs_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
}

/* Block 4 for the eight band lanes after the quantised differences dx (g722.c's predict()). */
INLINE void predict(multi_regs *x, __m128i dx)
{
    const __m128i minus1 = V16(K_M1);
    __m128i r0 = _mm_adds_epi16(x->s, dx), p0 = _mm_adds_epi16(x->sz, dx);
    __m128i same1 = _mm_cmpgt_epi16(_mm_xor_si128(p0, x->p1), minus1);
    __m128i same2 = _mm_cmpgt_epi16(_mm_xor_si128(p0, x->p2), minus1);
    __m128i wd1, wd2, a1, a2, limit, rr0, sp;

    /* UPPOL2 */
    wd1 = _mm_adds_epi16(x->a1, x->a1);
    wd1 = _mm_adds_epi16(wd1, wd1);
    wd2 = _mm_subs_epi16(_mm_xor_si128(wd1, same1), same1);
    a2 = _mm_add_epi16(_mm_srai_epi16(wd2, 7),
                       _mm_add_epi16(V16(K_M128), _mm_and_si128(same2, V16(K_256))));
    a2 = _mm_add_epi16(a2, _mm_add_epi16(x->a2, _mm_mulhi_epi16(x->a2, V16(K_M512))));
    a2 = _mm_min_epi16(_mm_max_epi16(a2, V16(K_M12288)), V16(K_12288));
    /* UPPOL1 */
    a1 = _mm_add_epi16(V16(K_M192), _mm_and_si128(same1, V16(K_384)));
    a1 = _mm_add_epi16(a1, _mm_add_epi16(x->a1, _mm_mulhi_epi16(x->a1, V16(K_M256))));
    limit = _mm_sub_epi16(V16(K_15360), a2);
    a1 = _mm_max_epi16(_mm_min_epi16(a1, limit), _mm_sub_epi16(_mm_setzero_si128(), limit));
    /* FILTEP */
    rr0 = _mm_adds_epi16(r0, r0);
    sp = _mm_adds_epi16(mul15(a1, rr0), _mm_mulhi_epi16(_mm_add_epi16(a2, a2), x->rr1));
    /* UPZERO, DELAYA, FILTEZ; PREDIC */
    x->sz = zero_sections(x, dx);
    x->s = _mm_adds_epi16(sp, x->sz);
    x->a1 = a1;
    x->a2 = a2;
    x->p2 = x->p1;
    x->p1 = p0;
    x->rr1 = rr0;
}

/* Blocks 3L/3H for the eight lanes: the log scale factor after the steps, and the scale it gives
 * (g722.c's log_scale() and scale(): ilb's mantissa, doubled, shifted right by bias + 1 - nb / 2048,
 * times 4; the bias is 8 for the lower band, 10 for the upper). */
INLINE void adapt(multi_regs *x, __m128i step)
{
    const __m128i ceiling = V16(K_CEILING);
    const __m256i shift = V256(K_SHIFT);
    const __m256i low_table = _mm256_loadu_si256((const __m256i *)multi.ilb_pairs);
    const __m256i high_table = _mm256_loadu_si256((const __m256i *)(multi.ilb_pairs + 8));
    __m128i nb = _mm_add_epi16(_mm_mulhi_epu16(x->nb, V16(K_65024)), step);
    __m256i nb32, index, mantissa, half, det;
    nb = _mm_min_epi16(_mm_max_epi16(nb, _mm_setzero_si128()), ceiling);
    x->nb = nb;
    nb32 = _mm256_cvtepu16_epi32(nb);
    index = _mm256_srli_epi32(nb32, 6);
    mantissa = _mm256_castps_si256(_mm256_blendv_ps(
        _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(low_table, index)),
        _mm256_castsi256_ps(_mm256_permutevar8x32_epi32(high_table, index)),
        _mm256_castsi256_ps(_mm256_slli_epi32(index, 28))));
    half = _mm256_and_si256(index, V256(K_16_32));
    mantissa = _mm256_sllv_epi32(mantissa, _mm256_xor_si256(half, V256(K_16_32)));
    det = _mm256_srlv_epi32(mantissa, _mm256_sub_epi32(shift, _mm256_srli_epi32(nb32, 11)));
    det = _mm256_slli_epi32(det, 2);
    x->det = _mm_packus_epi32(_mm256_castsi256_si128(det), _mm256_extracti128_si256(det, 1));
}

/* x[k]: 32-bit lane s holds stream s's pair k (lower band low 16 bits); codes[k]: byte s the
 * code of stream s.
 *
 * The shortest path from one estimate to the next does not wait for the quantiser's code: the
 * quantised difference and the scale-factor step only depend on which of seven levels |el|
 * reaches (lower band: the levels where the code's 4-bit truncation changes; upper band: the
 * outer interval, plus a level 0 every value reaches), and the levels increase with their
 * values, so each is the largest value of a level reached (steps biased by 1000 to be positive).
 * The products of the levels with det come from the previous sample. The 6-bit code (the count of
 * the 29 levels reached) is only needed for the output. */
static void adpcm_encode4(multi_regs *x, const __m128i *in, size_t pairs, uint32_t *codes)
{
    const __m128i pick_low = V16(K_PICK_LOW);
    const __m128i zero = _mm_setzero_si128();
    __m256i levels[8];
    #pragma GCC unroll 8
    for (int g = 0; g < 8; g++)
        levels[g] = _mm256_loadu_si256((const __m256i *)multi.levels[g]);
    for (size_t k = 0; k < pairs; k++) {
        __m128i el = _mm_subs_epi16(_mm_loadu_si128(in + k), x->s), sign = _mm_srai_epi16(el, 15);
        __m128i wd = _mm_xor_si128(el, sign), det = x->det;
        __m256i det4 = _mm256_broadcastsi128_si256(_mm_shuffle_epi8(det, pick_low));
        __m256i wd4 = _mm256_broadcastsi128_si256(_mm_shuffle_epi8(wd, pick_low));
        __m256i above[8];
        __m128i a[7], value[7], step[7], sum, count, inner, magnitude, steps, low, high, code;
        /* the path to the next estimate */
#define REACHED(i)                                                                                  \
        a[i] = _mm_cmpgt_epi16(_mm_mulhi_epu16(V16(K_LEVEL##i), det), wd);                          \
        value[i] = _mm_andnot_si128(a[i], V16(K_VALUE##i));                                         \
        step[i] = _mm_andnot_si128(a[i], V16(K_STEP##i))
        REACHED(0);
        REACHED(1);
        REACHED(2);
        REACHED(3);
        REACHED(4);
        REACHED(5);
        REACHED(6);
#undef REACHED
        magnitude = _mm_max_epi16(_mm_max_epi16(_mm_max_epi16(value[0], value[1]), _mm_max_epi16(value[2], value[3])),
                                  _mm_max_epi16(_mm_max_epi16(value[4], value[5]), value[6]));
        steps = _mm_max_epi16(_mm_max_epi16(_mm_max_epi16(step[0], step[1]), _mm_max_epi16(step[2], step[3])),
                              _mm_max_epi16(_mm_max_epi16(step[4], step[5]), _mm_max_epi16(step[6], V16(K_STEP_BASE))));
        inner = a[1]; /* odd lanes: the upper band's difference is in the inner interval */
        predict(x, mul15(det, _mm_sub_epi16(_mm_xor_si128(magnitude, sign), sign)));
        adapt(x, _mm_sub_epi16(steps, V16(K_1000)));
        /* the lower band's 6-bit code: how many of the 29 levels are above |el| (lane 4l + s:
         * stream s) */
        #pragma GCC unroll 8
        for (int g = 0; g < 8; g++)
            above[g] = _mm256_cmpgt_epi16(_mm256_mulhi_epu16(levels[g], det4), wd4);
        #pragma GCC unroll 4
        for (int g = 0; g < 4; g++)
            above[g] = _mm256_add_epi16(above[g], above[g + 4]);
        above[0] = _mm256_add_epi16(_mm256_add_epi16(above[0], above[1]), _mm256_add_epi16(above[2], above[3]));
        sum = _mm_add_epi16(_mm256_castsi256_si128(above[0]), _mm256_extracti128_si256(above[0], 1));
        sum = _mm_add_epi16(sum, _mm_shuffle_epi32(sum, 0x4E));
        count = _mm_min_epi16(_mm_add_epi16(sum, V16(K_32)), V16(K_29));
        count = _mm_unpacklo_epi16(count, zero); /* even lanes: the lower bands' counts */
        /* the code bytes: lower band 61 - count (positive), 63 - count (negative, count < 2),
         * 33 - count (negative); upper band 2 + 2 sign - inner, shifted to bits 7..6 */
        low = _mm_add_epi16(V16(K_M28), _mm_and_si128(_mm_cmpgt_epi16(V16(K_2), count), V16(K_30)));
        low = _mm_add_epi16(_mm_sub_epi16(V16(K_61), count), _mm_and_si128(sign, low));
        high = _mm_sub_epi16(_mm_add_epi16(_mm_add_epi16(sign, sign), V16(K_2)), inner);
        code = _mm_madd_epi16(_mm_blend_epi16(low, high, 0xAA), V16(K_CODE));
        code = _mm_packus_epi16(_mm_packs_epi32(code, code), zero);
        codes[k] = (uint32_t)_mm_cvtsi128_si32(code);
    }
}

/* codes[s]: stream s's code bytes; out[k]: 32-bit lane s = stream s's band sum (low 16 bits) and
 * difference (high 16 bits) for the receive QMF. */
static void adpcm_decode4(multi_regs *x, const uint8_t *const codes[LANES], size_t len, __m128i *out)
{
    const __m128i low_limit = V16(K_M16384), high_limit = V16(K_16383);
    for (size_t k = 0; k < len; k++) {
        __m128i r0 = _mm_loadu_si128((const __m128i *)multi.by_code[codes[0][k]]);
        __m128i r1 = _mm_loadu_si128((const __m128i *)multi.by_code[codes[1][k]]);
        __m128i r2 = _mm_loadu_si128((const __m128i *)multi.by_code[codes[2][k]]);
        __m128i r3 = _mm_loadu_si128((const __m128i *)multi.by_code[codes[3][k]]);
        __m128i t0 = _mm_unpacklo_epi32(r0, r1), t1 = _mm_unpacklo_epi32(r2, r3);
        __m128i q6 = _mm_unpacklo_epi64(t0, t1), q4 = _mm_unpackhi_epi64(t0, t1);
        __m128i step = _mm_unpacklo_epi64(_mm_unpackhi_epi32(r0, r1), _mm_unpackhi_epi32(r2, r3));
        __m128i r = _mm_adds_epi16(x->s, mul15(x->det, q6)), swapped;
        r = _mm_min_epi16(_mm_max_epi16(r, low_limit), high_limit);
        swapped = _mm_shufflehi_epi16(_mm_shufflelo_epi16(r, 0xB1), 0xB1);
        _mm_storeu_si128(out + k, _mm_blend_epi16(_mm_add_epi16(r, swapped), _mm_sub_epi16(swapped, r), 0xAA));
        predict(x, mul15(x->det, q4));
        adapt(x, step);
    }
}

/* The eight band lanes of four states. */
INLINE void bands_of(g722_band_t *band[8], g722_band_t *low0, g722_band_t *low1, g722_band_t *low2,
                     g722_band_t *low3)
{
    g722_band_t *low[LANES] = {low0, low1, low2, low3};
    for (int s = 0; s < LANES; s++) {
        band[2 * s] = low[s];
        band[2 * s + 1] = low[s] + 1;
    }
}

static void encode4(g722_encoder_t *const enc[LANES], const int16_t *const pcm[LANES], size_t count,
                    size_t n, uint8_t *const *out)
{
    const __m128i transpose = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    g722_band_t *band[8];
    multi_regs x;
    __m128i in[G722_CHUNK];
    uint32_t xpair[LANES][G722_CHUNK], codes[G722_CHUNK];
    int16_t window[22 + 2 * G722_CHUNK];
    size_t done = 0, pairs = n / 2;
    bands_of(band, enc[0]->band, enc[1]->band, enc[2]->band, enc[3]->band);
    regs_load(&x, band);
    while (done < pairs) {
        size_t chunk = pairs - done < G722_CHUNK ? pairs - done : G722_CHUNK, k = 0;
        const uint32_t *lane[LANES];
        for (size_t s = 0; s < LANES; s++) {
            if (s >= count) { /* padding: the first stream's input again */
                lane[s] = xpair[0];
                continue;
            }
            memcpy(window, enc[s]->x, sizeof(enc[s]->x));
            memcpy(window + 22, pcm[s] + 2 * done, 2 * chunk * sizeof(int16_t));
            g722_qmf_analysis(window, chunk, xpair[s]);
            memcpy(enc[s]->x, window + 2 * chunk, sizeof(enc[s]->x));
            lane[s] = xpair[s];
        }
        for (; k + 4 <= chunk; k += 4) {
            __m128i a = _mm_loadu_si128((const __m128i *)(lane[0] + k));
            __m128i b = _mm_loadu_si128((const __m128i *)(lane[1] + k));
            __m128i c = _mm_loadu_si128((const __m128i *)(lane[2] + k));
            __m128i d = _mm_loadu_si128((const __m128i *)(lane[3] + k));
            __m128i ab0 = _mm_unpacklo_epi32(a, b), ab1 = _mm_unpackhi_epi32(a, b);
            __m128i cd0 = _mm_unpacklo_epi32(c, d), cd1 = _mm_unpackhi_epi32(c, d);
            in[k] = _mm_unpacklo_epi64(ab0, cd0);
            in[k + 1] = _mm_unpackhi_epi64(ab0, cd0);
            in[k + 2] = _mm_unpacklo_epi64(ab1, cd1);
            in[k + 3] = _mm_unpackhi_epi64(ab1, cd1);
        }
        for (; k < chunk; k++)
            in[k] = _mm_setr_epi32((int32_t)lane[0][k], (int32_t)lane[1][k], (int32_t)lane[2][k], (int32_t)lane[3][k]);
        adpcm_encode4(&x, in, chunk, codes);
        for (k = 0; k + 4 <= chunk; k += 4) {
            __m128i t = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(codes + k)), transpose);
            uint32_t per_stream[LANES];
            _mm_storeu_si128((__m128i *)per_stream, t);
            for (size_t s = 0; s < count; s++)
                memcpy(out[s] + done + k, &per_stream[s], sizeof(uint32_t));
        }
        for (; k < chunk; k++)
            for (size_t s = 0; s < count; s++)
                out[s][done + k] = (uint8_t)(codes[k] >> (8 * s));
        done += chunk;
    }
    regs_store(band, &x);
}

static void decode4(g722_decoder_t *const dec[LANES], const uint8_t *const codes[LANES], size_t count,
                    size_t len, int16_t *const *pcm)
{
    const __m128i split = _mm_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15);
    g722_band_t *band[8];
    multi_regs x;
    __m128i sums[G722_CHUNK];
    int16_t xs[LANES][11 + G722_CHUNK], xd[LANES][11 + G722_CHUNK];
    size_t done = 0;
    bands_of(band, dec[0]->band, dec[1]->band, dec[2]->band, dec[3]->band);
    regs_load(&x, band);
    while (done < len) {
        size_t chunk = len - done < G722_CHUNK ? len - done : G722_CHUNK, k = 0;
        const uint8_t *lane[LANES];
        for (size_t s = 0; s < LANES; s++)
            lane[s] = codes[s] + done;
        adpcm_decode4(&x, lane, chunk, sums);
        /* each stream's sums and differences out of its 32-bit lane, four samples at a time */
        for (; k + 4 <= chunk; k += 4) {
            __m128i ab0 = _mm_unpacklo_epi32(sums[k], sums[k + 1]), ab1 = _mm_unpackhi_epi32(sums[k], sums[k + 1]);
            __m128i cd0 = _mm_unpacklo_epi32(sums[k + 2], sums[k + 3]);
            __m128i cd1 = _mm_unpackhi_epi32(sums[k + 2], sums[k + 3]);
            __m128i v[LANES] = {_mm_unpacklo_epi64(ab0, cd0), _mm_unpackhi_epi64(ab0, cd0),
                                _mm_unpacklo_epi64(ab1, cd1), _mm_unpackhi_epi64(ab1, cd1)};
            for (size_t s = 0; s < count; s++) {
                __m128i both = _mm_shuffle_epi8(v[s], split);
                _mm_storel_epi64((__m128i *)(xs[s] + 11 + k), both);
                _mm_storel_epi64((__m128i *)(xd[s] + 11 + k), _mm_unpackhi_epi64(both, both));
            }
        }
        for (; k < chunk; k++) {
            uint32_t all[LANES];
            _mm_storeu_si128((__m128i *)all, sums[k]);
            for (size_t s = 0; s < count; s++) {
                xs[s][11 + k] = (int16_t)(all[s] & 0xFFFF);
                xd[s][11 + k] = (int16_t)(all[s] >> 16);
            }
        }
        for (size_t s = 0; s < count; s++) {
            memcpy(xs[s], dec[s]->xs, sizeof(dec[s]->xs));
            memcpy(xd[s], dec[s]->xd, sizeof(dec[s]->xd));
            g722_qmf_synthesis(xs[s], xd[s], chunk, pcm[s] + 2 * done);
            memcpy(dec[s]->xs, xs[s] + chunk, sizeof(dec[s]->xs));
            memcpy(dec[s]->xd, xd[s] + chunk, sizeof(dec[s]->xd));
        }
        done += chunk;
    }
    regs_store(band, &x);
}

#pragma GCC pop_options
#endif /* G722_AVX2 */

void g722_encode_blocks(g722_encoder_t *const *enc, const int16_t *const *pcm, size_t count, size_t n,
                        uint8_t *const *out)
{
#ifdef G722_AVX2
    if (multi.avx2 && count > 1 && count <= G722_MULTI) {
        g722_encoder_t spare = *enc[0];
        g722_encoder_t *lanes[LANES];
        const int16_t *input[LANES];
        for (size_t s = 0; s < LANES; s++) {
            lanes[s] = s < count ? enc[s] : &spare;
            input[s] = s < count ? pcm[s] : pcm[0];
        }
        encode4(lanes, input, count, n, out);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++)
        g722_encode_block(enc[i], pcm[i], n, out[i]);
}

void g722_decode_blocks(g722_decoder_t *const *dec, const uint8_t *const *codes, size_t count,
                        size_t len, int16_t *const *pcm)
{
#ifdef G722_AVX2
    if (multi.avx2 && count > 1 && count <= G722_MULTI) {
        g722_decoder_t spare = *dec[0];
        g722_decoder_t *lanes[LANES];
        const uint8_t *input[LANES];
        for (size_t s = 0; s < LANES; s++) {
            lanes[s] = s < count ? dec[s] : &spare;
            input[s] = s < count ? codes[s] : codes[0];
        }
        decode4(lanes, input, count, len, pcm);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++)
        g722_decode_block(dec[i], codes[i], len, pcm[i]);
}

int g722_multi_active(void)
{
#ifdef G722_AVX2
    return multi.avx2;
#else
    return 0;
#endif
}
