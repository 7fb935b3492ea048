/*
 * resample.c - polyphase FIR sample-rate conversion for small integer ratios (see resample.h).
 *
 * One stage converts by L/M (reduced). Its prototype filter h[0..N-1] runs at in_rate * L; it is
 * split into L phases of K = N / L taps, h_p[j] = h[p + j L]. Output k sits at prototype time
 * t = k M, and with n = t / L and p = t % L it is
 *     y[k] = sum_j h_p[j] x[n - j],   j = 0..K-1.
 * Each phase is stored reversed, so the sum is a forward dot product over K consecutive samples of
 * a buffer holding the last K - 1 samples of the previous frame followed by the current frame:
 * multiply-add-pairs of int16 (pmaddwd). A frame always spans whole ratio periods, so every frame
 * starts at phase 0 and only the history carries over. Two implementations compute the same sums:
 * stage_run (plain loops the compiler vectorises, one output at a time) and, on AVX2 machines,
 * stage_run_avx2 (four outputs at a time, reduced together), picked per stage at creation.
 *
 * Design (once, at creation): Kaiser window for A dB (beta = 0.1102 (A - 8.7), length
 * N = (A - 7.95) / (14.36 df) with df the transition width over the prototype rate), cutoff in the
 * middle of the transition band, N rounded up to phases of a multiple of 16 taps, beta then raised
 * to the attenuation the longer filter reaches. Every phase is normalised to a DC gain of exactly
 * one, then quantised to int16 at the largest scale 2^shift (shift <= 15) for which no partial sum
 * can overflow int32 (phases longer than SPLIT_TAPS are summed in two int32 halves, added in 64
 * bits), and its rounding error is put back on its largest tap so that the phase still sums to
 * exactly 2^shift.
 */
#include "resample.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#include <immintrin.h>
#define HAVE_AVX2_KERNEL 1
#define AVX2_KERNEL_TAPS 32u
#endif

/* The dot products: vectorised, with an AVX2 clone picked at load time where the CPU has it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOT __attribute__((hot, optimize("O3"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((hot, optimize("O3")))
#else
#define HOT
#endif

#define TAP_MULTIPLE 16u /* int16 lanes of an AVX2 vector */
#define SPLIT_TAPS 48u    /* longer phases are summed in two halves (one more bit of precision) */
#define MAX_TAPS 2048u    /* per phase: a sanity bound, far above what the supported ratios need */

typedef struct stage stage_t;
typedef void (*stage_fn)(stage_t *s, const int16_t *in, int16_t *out);

struct stage {
    stage_fn run;
    uint32_t L, M, K;
    uint32_t half; /* taps in the first partial sum: K, or about K / 2 for long phases */
    uint32_t in_frame, out_frame;
    uint32_t shift;
    int16_t *coef; /* L phases of K taps, each reversed */
    int16_t *buf;  /* K - 1 history samples, then in_frame samples */
    uint32_t *at;  /* per output: where its K samples start in buf, and its phase's taps in coef */
    uint32_t *tap;
};

struct media_resampler {
    uint32_t in_rate, out_rate, in_frame, out_frame;
    uint32_t count;
    stage_t stage[2];
    int16_t *middle; /* the frame between the two stages */
};

static uint32_t gcd(uint32_t a, uint32_t b)
{
    while (b) {
        uint32_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0 (power series). */
static double bessel_i0(double x)
{
    double sum = 1.0, term = 1.0, q = x * x / 4.0;
    for (int k = 1; k < 200; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-15)
            break;
    }
    return sum;
}

static void stage_free(stage_t *s)
{
    free(s->coef);
    free(s->buf);
    free(s->at);
    free(s->tap);
    memset(s, 0, sizeof(*s));
}

static inline int16_t saturate(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : (int16_t)v);
}

/* One output: the phase `c` over the K samples from `x`, in one or two int32 partial sums. */
static inline __attribute__((always_inline)) int16_t fir(const int16_t *c, const int16_t *x, uint32_t K,
                                                         uint32_t H, uint32_t shift)
{
    int32_t a = 0, b = 0;
    for (uint32_t j = 0; j < H; j++)
        a += (int32_t)c[j] * x[j];
    if (H == K)
        return saturate((a + (1 << (shift - 1))) >> shift);
    for (uint32_t j = H; j < K; j++)
        b += (int32_t)c[j] * x[j];
    return saturate((int32_t)(((int64_t)a + b + (1 << (shift - 1))) >> shift));
}

static HOT void stage_run(stage_t *s, const int16_t *in, int16_t *out)
{
    /* The masks tell the compiler that the loops run whole vectors. */
    const uint32_t K = s->K & ~(TAP_MULTIPLE - 1), H = s->half & ~(TAP_MULTIPLE - 1);
    const uint32_t L = s->L, M = s->M, shift = s->shift, in_frame = s->in_frame;
    const int16_t *coef = s->coef;
    int16_t *buf = s->buf;

    memcpy(buf + K - 1, in, in_frame * sizeof(int16_t));
    if (M == 1) { /* up by L: L outputs per input sample */
        for (uint32_t n = 0; n < in_frame; n++)
            for (uint32_t p = 0; p < L; p++)
                *out++ = fir(coef + (size_t)p * K, buf + n, K, H, shift);
    } else if (L == 1) { /* down by M: one output every M input samples */
        for (uint32_t n = 0; n < in_frame; n += M)
            *out++ = fir(coef, buf + n, K, H, shift);
    } else {
        uint32_t n = 0, p = 0;
        for (uint32_t k = 0; k < s->out_frame; k++) {
            out[k] = fir(coef + (size_t)p * K, buf + n, K, H, shift);
            for (p += M; p >= L; p -= L)
                n++;
        }
    }
    memmove(buf, buf + in_frame, (K - 1) * sizeof(int16_t));
}

#ifdef HAVE_AVX2_KERNEL
/* Four int32 vectors -> their four horizontal sums. */
__attribute__((target("avx2"))) static inline __m128i sum4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}

#define MADD(acc, c, x, j)                                                                               \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)((c) + (j))),         \
                                                  _mm256_loadu_si256((const __m256i *)((x) + (j)))))

/* The same sums as stage_run, four outputs at a time: each output's products are accumulated in
 * one vector (two when split) and the four outputs are reduced together, which saves most of the
 * horizontal additions that dominate short filters. */
__attribute__((target("avx2"))) static void stage_run_avx2(stage_t *s, const int16_t *in, int16_t *out)
{
    const uint32_t K = s->K, H = s->half, shift = s->shift;
    const int16_t *coef = s->coef;
    int16_t *buf = s->buf;
    uint32_t k = 0;

    memcpy(buf + K - 1, in, s->in_frame * sizeof(int16_t));
    for (; k + 4 <= s->out_frame; k += 4) {
        const int16_t *c0 = coef + s->tap[k], *c1 = coef + s->tap[k + 1];
        const int16_t *c2 = coef + s->tap[k + 2], *c3 = coef + s->tap[k + 3];
        const int16_t *x0 = buf + s->at[k], *x1 = buf + s->at[k + 1];
        const int16_t *x2 = buf + s->at[k + 2], *x3 = buf + s->at[k + 3];
        __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
        uint32_t j;
        for (j = 0; j < H; j += 16) {
            MADD(a0, c0, x0, j);
            MADD(a1, c1, x1, j);
            MADD(a2, c2, x2, j);
            MADD(a3, c3, x3, j);
        }
        if (H == K) { /* one sum per output: fits int32 with the rounding term (see stage_init) */
            __m128i r = _mm_add_epi32(sum4(a0, a1, a2, a3), _mm_set1_epi32(1 << (shift - 1)));
            r = _mm_srai_epi32(r, (int)shift);
            _mm_storel_epi64((__m128i *)(out + k), _mm_packs_epi32(r, r));
        } else {
            __m256i b0 = _mm256_setzero_si256(), b1 = b0, b2 = b0, b3 = b0;
            int32_t va[4], vb[4];
            for (; j < K; j += 16) {
                MADD(b0, c0, x0, j);
                MADD(b1, c1, x1, j);
                MADD(b2, c2, x2, j);
                MADD(b3, c3, x3, j);
            }
            _mm_storeu_si128((__m128i *)va, sum4(a0, a1, a2, a3));
            _mm_storeu_si128((__m128i *)vb, sum4(b0, b1, b2, b3));
            for (int i = 0; i < 4; i++)
                out[k + i] = saturate((int32_t)(((int64_t)va[i] + vb[i] + (1 << (shift - 1))) >> shift));
        }
    }
    for (; k < s->out_frame; k++)
        out[k] = fir(coef + s->tap[k], buf + s->at[k], K, H, shift);
    memmove(buf, buf + s->in_frame, (K - 1) * sizeof(int16_t));
}
#undef MADD
#endif

/* Designs a stage converting in_rate -> out_rate, flat to f_pass Hz and stopping from f_stop Hz. */
static int stage_init(stage_t *s, uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, double f_pass,
                      double f_stop)
{
    const double A = MEDIA_RESAMPLER_ATTENUATION_DB;
    uint32_t g = gcd(in_rate, out_rate), L = out_rate / g, M = in_rate / g, K, N;
    double F = (double)in_rate * L, beta, fc, i0_beta, l1_max = 0.0, c_max = 0.0;
    double *h;
    int shift;

    memset(s, 0, sizeof(*s));
    if ((uint64_t)in_frame * L % M != 0)
        return -EINVAL;
    /* Taps per phase for A dB, rounded up to whole vectors; beta then uses the attenuation the
     * longer filter can reach. */
    K = (uint32_t)ceil((A - 7.95) / (14.36 * (f_stop - f_pass) / F) / L);
    K = (K + TAP_MULTIPLE - 1) / TAP_MULTIPLE * TAP_MULTIPLE;
    if (K > MAX_TAPS)
        return -EINVAL;
    N = K * L;
    beta = 0.1102 * (14.36 * (f_stop - f_pass) / F * N + 7.95 - 8.7);
    s->L = L;
    s->M = M;
    s->K = K;
    s->half = K > SPLIT_TAPS ? K / 2 / TAP_MULTIPLE * TAP_MULTIPLE : K;
    s->in_frame = in_frame;
    s->out_frame = (uint32_t)((uint64_t)in_frame * L / M);
    s->coef = malloc((size_t)N * sizeof(int16_t));
    s->buf = calloc((size_t)K - 1 + in_frame, sizeof(int16_t));
    s->at = malloc((size_t)s->out_frame * sizeof(uint32_t));
    s->tap = malloc((size_t)s->out_frame * sizeof(uint32_t));
    h = malloc((size_t)N * sizeof(double));
    if (s->coef == NULL || s->buf == NULL || s->at == NULL || s->tap == NULL || h == NULL) {
        free(h);
        stage_free(s);
        return -ENOMEM;
    }

    /* Kaiser-windowed sinc, cutoff in the middle of the transition band. */
    fc = (f_pass + f_stop) / 2.0 / F; /* cycles per prototype sample */
    i0_beta = bessel_i0(beta);
    for (uint32_t m = 0; m < N; m++) {
        double x = (double)m - (N - 1) / 2.0, r = N > 1 ? 2.0 * m / (N - 1) - 1.0 : 0.0;
        double arg = M_PI * 2.0 * fc * x;
        double sinc = x == 0.0 ? 1.0 : sin(arg) / arg;
        h[m] = 2.0 * fc * sinc * bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
    }
    /* Every phase to a DC gain of one. The scale is bounded by the largest sum of absolute taps
     * over one partial sum (a half of the phase when split: each half has its own int32 sum). */
    for (uint32_t p = 0; p < L; p++) {
        double sum = 0.0, l1[2] = {0.0, 0.0};
        for (uint32_t j = 0; j < K; j++)
            sum += h[p + j * L];
        for (uint32_t j = 0; j < K; j++) {
            h[p + j * L] /= sum;
            /* reversed position K - 1 - j decides the half */
            l1[K - 1 - j >= s->half] += fabs(h[p + j * L]);
            c_max = fmax(c_max, fabs(h[p + j * L]));
        }
        l1_max = fmax(l1_max, fmax(l1[0], l1[1]));
    }
    /* 32768 * (l1 * 2^shift + rounding slack) plus the rounding term must stay below 2^31, and
     * taps (with the correction of the largest one, at most K / 2) must fit int16. */
    for (shift = 15; shift > 8; shift--) {
        double scale = ldexp(1.0, shift);
        if (32768.0 * (l1_max * scale + K) + scale < 2147483647.0 && c_max * scale + K < 32767.0)
            break;
    }
    s->shift = (uint32_t)shift;
    for (uint32_t p = 0; p < L; p++) {
        int16_t *phase = s->coef + (size_t)p * K;
        int32_t total = 0;
        uint32_t biggest = 0;
        for (uint32_t j = 0; j < K; j++) {
            phase[K - 1 - j] = (int16_t)lrint(ldexp(h[p + j * L], shift));
            total += phase[K - 1 - j];
        }
        for (uint32_t i = 1; i < K; i++)
            if (abs(phase[i]) > abs(phase[biggest]))
                biggest = i;
        phase[biggest] = (int16_t)(phase[biggest] + ((1 << shift) - total));
    }
    for (uint32_t k = 0; k < s->out_frame; k++) {
        uint64_t t = (uint64_t)k * M;
        s->at[k] = (uint32_t)(t / L);
        s->tap[k] = (uint32_t)(t % L) * K;
    }
    free(h);
    s->run = stage_run;
#ifdef HAVE_AVX2_KERNEL
    /* Four outputs at a time pays where the horizontal sums weigh (short phases) or where each
     * output reads another phase at another place (L/M ratios); a long decimating filter gains
     * nothing over the plain loop. */
    if ((K <= AVX2_KERNEL_TAPS || L > 1) && __builtin_cpu_supports("avx2"))
        s->run = stage_run_avx2;
#endif
    return 0;
}

int media_resampler_supports(uint32_t in_rate, uint32_t out_rate)
{
    uint32_t g;
    if (in_rate == 0 || out_rate == 0 || in_rate == out_rate)
        return 0;
    g = gcd(in_rate, out_rate);
    return out_rate / g <= MEDIA_RESAMPLER_MAX_FACTOR && in_rate / g <= MEDIA_RESAMPLER_MAX_FACTOR;
}

int media_resampler_create(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, media_resampler_t **out)
{
    media_resampler_t *r;
    uint32_t low = in_rate < out_rate ? in_rate : out_rate, high = in_rate ^ out_rate ^ low;
    double nyquist = low / 2.0;
    int status;

    *out = NULL;
    if (!media_resampler_supports(in_rate, out_rate) || in_frame == 0 ||
        (uint64_t)in_frame * out_rate % in_rate != 0)
        return -EINVAL;
    if ((r = calloc(1, sizeof(*r))) == NULL)
        return -ENOMEM;
    r->in_rate = in_rate;
    r->out_rate = out_rate;
    r->in_frame = in_frame;
    r->out_frame = (uint32_t)((uint64_t)in_frame * out_rate / in_rate);
    if (high >= 3 * low) {
        /* Two stages: the sharp filter at twice the lower rate, a gentle one for the rest. */
        uint32_t mid = 2 * low, mid_frame = in_rate < out_rate ? 2 * in_frame : 2 * r->out_frame;
        r->count = 2;
        if (in_rate < out_rate) {
            status = stage_init(&r->stage[0], in_rate, mid, in_frame, MEDIA_RESAMPLER_PASSBAND * nyquist, nyquist);
            if (status == 0)
                status = stage_init(&r->stage[1], mid, out_rate, mid_frame, nyquist, mid - nyquist);
        } else {
            status = stage_init(&r->stage[0], in_rate, mid, in_frame, nyquist, mid - nyquist);
            if (status == 0)
                status = stage_init(&r->stage[1], mid, out_rate, mid_frame, MEDIA_RESAMPLER_PASSBAND * nyquist,
                                    nyquist);
        }
        if (status == 0 && (r->middle = malloc(mid_frame * sizeof(int16_t))) == NULL)
            status = -ENOMEM;
    } else {
        r->count = 1;
        status = stage_init(&r->stage[0], in_rate, out_rate, in_frame, MEDIA_RESAMPLER_PASSBAND * nyquist, nyquist);
    }
    if (status != 0) {
        media_resampler_destroy(r);
        return status;
    }
    *out = r;
    return 0;
}

void media_resampler_destroy(media_resampler_t *r)
{
    if (r == NULL)
        return;
    stage_free(&r->stage[0]);
    stage_free(&r->stage[1]);
    free(r->middle);
    free(r);
}

void media_resampler_process(media_resampler_t *r, const int16_t *in, int16_t *out)
{
    if (r->count == 1) {
        r->stage[0].run(&r->stage[0], in, out);
    } else {
        r->stage[0].run(&r->stage[0], in, r->middle);
        r->stage[1].run(&r->stage[1], r->middle, out);
    }
}

void media_resampler_reset(media_resampler_t *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        memset(r->stage[i].buf, 0, ((size_t)r->stage[i].K - 1 + r->stage[i].in_frame) * sizeof(int16_t));
}

uint32_t media_resampler_out_frame(const media_resampler_t *r)
{
    return r->out_frame;
}

void media_resampler_get_info(const media_resampler_t *r, media_resampler_info_t *out)
{
    double delay = 0.0, rate = r->in_rate;
    memset(out, 0, sizeof(*out));
    out->in_rate = r->in_rate;
    out->out_rate = r->out_rate;
    out->in_frame = r->in_frame;
    out->out_frame = r->out_frame;
    out->stages = r->count;
    for (uint32_t i = 0; i < r->count; i++) {
        const stage_t *s = &r->stage[i];
        out->up[i] = s->L;
        out->down[i] = s->M;
        out->taps[i] = s->K;
        out->shift[i] = s->shift;
        out->half[i] = s->half;
        out->macs_per_frame += s->K * s->out_frame;
        /* a linear-phase filter of N taps delays by (N - 1) / 2 prototype samples */
        delay += ((double)s->K * s->L - 1.0) / 2.0 / s->L * (r->in_rate / rate);
        rate = rate * s->L / s->M;
    }
    out->delay = delay;
}

int media_resampler_get_phase(const media_resampler_t *r, uint32_t stage, uint32_t phase, int16_t *taps)
{
    const stage_t *s;
    if (stage >= r->count || phase >= r->stage[stage].L)
        return -EINVAL;
    s = &r->stage[stage];
    for (uint32_t j = 0; j < s->K; j++)
        taps[j] = s->coef[(size_t)phase * s->K + s->K - 1 - j];
    return 0;
}
