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
 * Design (once, at creation): N = (A - 7.95) / (14.36 df) taps (the Kaiser estimate for A dB, df
 * the transition width over the prototype rate), rounded up to phases of a multiple of 16 taps.
 * Linear phase: a Kaiser-windowed sinc of N taps, cutoff in the middle of the transition band,
 * beta (0.1102 (A - 8.7)) raised to the attenuation the longer filter reaches; it delays every
 * frequency by (N - 1) / 2 samples (5.3 ms at 8 kHz). Minimum phase (create_ex): N designed with a
 * 6 dB margin, then a Kaiser-windowed sinc of 2N - 1 taps (about twice the attenuation in dB)
 * turned into the N-tap minimum-phase filter with the square root of its magnitude response
 * (homomorphic method: the real cepstrum of log|H| / 2 folded onto positive quefrencies, through
 * FFTs 64 times the filter's length; cached per design): the same selectivity with 0.3 ms of
 * group delay at low frequencies and about 1.2 ms at the passband edge. Every phase is normalised to a DC gain of exactly
 * one, then quantised to int16 at the largest scale 2^shift (shift <= 15) for which no partial sum
 * can overflow int32 (phases longer than SPLIT_TAPS are summed in two int32 halves, added in 64
 * bits), and its rounding error is put back on its largest tap so that the phase still sums to
 * exactly 2^shift.
 */
#include "resample.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
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
/* The minimum-phase filter falls a few dB short of the linear-phase design right at the stopband
 * edge: it is designed this much longer (about 10 % more taps). */
#define MINIMUM_PHASE_MARGIN_DB 6.0

typedef struct stage stage_t;
typedef void (*stage_fn)(stage_t *s, const int16_t *in, int16_t *out);

struct stage {
    stage_fn run;
    uint32_t L, M, K;
    uint32_t half; /* taps in the first partial sum: K, or about K / 2 for long phases */
    uint32_t in_frame, out_frame;
    uint32_t shift;
    double delay;  /* group delay at DC, prototype samples */
    int16_t *coef; /* L phases of K taps, each reversed */
    int16_t *buf;  /* K - 1 history samples, then in_frame samples */
    uint32_t *at;  /* per output: where its K samples start in buf, and its phase's taps in coef */
    uint32_t *tap;
};

struct media_resampler {
    uint32_t in_rate, out_rate, in_frame, out_frame;
    int minimum_phase;
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

/* -- minimum-phase design ---------------------------------------------------------------------- */

/* In-place complex FFT of n (a power of two) points; inverse when `inverse` (scaled by 1 / n). */
static void fft(double *re, double *im, uint32_t n, int inverse)
{
    for (uint32_t i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
        uint32_t bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (uint32_t len = 2; len <= n; len <<= 1) {
        double angle = (inverse ? 2.0 : -2.0) * M_PI / len;
        for (uint32_t k = 0; k < len / 2; k++) {
            double wr = cos(angle * k), wi = sin(angle * k);
            for (uint32_t i = k; i < n; i += len) {
                uint32_t j = i + len / 2;
                double xr = re[j] * wr - im[j] * wi, xi = re[j] * wi + im[j] * wr;
                re[j] = re[i] - xr;
                im[j] = im[i] - xi;
                re[i] += xr;
                im[i] += xi;
            }
        }
    }
    if (inverse)
        for (uint32_t i = 0; i < n; i++) {
            re[i] /= n;
            im[i] /= n;
        }
}

/* The minimum-phase filter of (n2 + 1) / 2 taps whose magnitude response is the square root of
 * that of the linear-phase h2 (n2 taps, odd): the homomorphic (real cepstrum) method. log|H2| / 2
 * is taken over a fine frequency grid, its cepstrum folded onto positive quefrencies (the causal
 * part doubled), and exp of its transform gives the minimum-phase spectrum. */
static int minimum_phase(const double *h2, uint32_t n2, double *out)
{
    uint32_t n = 1, half = (n2 + 1) / 2;
    double *re, *im, floor_ = INFINITY;
    while (n < 64u * n2)
        n <<= 1;
    re = calloc(n, sizeof(double));
    im = calloc(n, sizeof(double));
    if (re == NULL || im == NULL) {
        free(re);
        free(im);
        return -ENOMEM;
    }
    memcpy(re, h2, n2 * sizeof(double));
    fft(re, im, n, 0);
    for (uint32_t i = 0; i < n; i++) {
        re[i] = hypot(re[i], im[i]);
        im[i] = 0.0;
        if (re[i] > 0.0 && re[i] < floor_)
            floor_ = re[i];
    }
    for (uint32_t i = 0; i < n; i++) /* a floor far below the stopband keeps the log finite */
        re[i] = 0.5 * log(re[i] + 1e-10 * floor_);
    fft(re, im, n, 1);
    for (uint32_t i = 0; i < n; i++) { /* real cepstrum -> its causal fold */
        double w = i == 0 || i == half ? 1.0 : (i < half ? 2.0 : 0.0);
        re[i] *= w;
        im[i] = 0.0;
    }
    fft(re, im, n, 0);
    for (uint32_t i = 0; i < n; i++) {
        double magnitude = exp(re[i]), phase = im[i];
        re[i] = magnitude * cos(phase);
        im[i] = magnitude * sin(phase);
    }
    fft(re, im, n, 1);
    memcpy(out, re, half * sizeof(double));
    free(re);
    free(im);
    return 0;
}

/* Minimum-phase designs are cached (the same few rate pairs recur for every port and they take a
 * few milliseconds): the prototype in doubles. */
typedef struct design {
    uint32_t N;
    double F, f_pass, f_stop;
    double *h;
} design_t;

#define DESIGN_CACHE 24
static design_t designs[DESIGN_CACHE];
static uint32_t design_count;
static pthread_mutex_t design_lock = PTHREAD_MUTEX_INITIALIZER;

/* The minimum-phase prototype of N taps for a lowpass flat to f_pass and stopping from f_stop at
 * the prototype rate F: a Kaiser-windowed sinc of 2N - 1 taps (so about twice the attenuation in
 * dB) made minimum-phase (the square root of its magnitude: the same attenuation as a
 * linear-phase filter of N taps, and a fraction of its delay). */
static int minimum_phase_prototype(uint32_t N, double F, double f_pass, double f_stop, double *h)
{
    uint32_t n2 = 2 * N - 1;
    double fc = (f_pass + f_stop) / 2.0 / F, beta, i0_beta, *h2;
    int status;

    pthread_mutex_lock(&design_lock);
    for (uint32_t i = 0; i < design_count; i++) {
        const design_t *d = &designs[i];
        if (d->N == N && d->F == F && d->f_pass == f_pass && d->f_stop == f_stop) {
            memcpy(h, d->h, N * sizeof(double));
            pthread_mutex_unlock(&design_lock);
            return 0;
        }
    }
    pthread_mutex_unlock(&design_lock);

    if ((h2 = malloc(n2 * sizeof(double))) == NULL)
        return -ENOMEM;
    /* beta for the attenuation the 2N - 1 taps reach over this transition band */
    beta = 0.1102 * (14.36 * (f_stop - f_pass) / F * n2 + 7.95 - 8.7);
    i0_beta = bessel_i0(beta);
    for (uint32_t m = 0; m < n2; m++) {
        double x = (double)m - (n2 - 1) / 2.0, r = 2.0 * m / (n2 - 1) - 1.0;
        double arg = M_PI * 2.0 * fc * x;
        double sinc = x == 0.0 ? 1.0 : sin(arg) / arg;
        h2[m] = 2.0 * fc * sinc * bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
    }
    status = minimum_phase(h2, n2, h);
    free(h2);
    if (status != 0)
        return status;

    pthread_mutex_lock(&design_lock);
    if (design_count < DESIGN_CACHE) {
        design_t *d = &designs[design_count];
        if ((d->h = malloc(N * sizeof(double))) != NULL) {
            memcpy(d->h, h, N * sizeof(double));
            d->N = N;
            d->F = F;
            d->f_pass = f_pass;
            d->f_stop = f_stop;
            design_count++;
        }
    }
    pthread_mutex_unlock(&design_lock);
    return 0;
}

/* The linear-phase prototype of N taps: a Kaiser-windowed sinc, cutoff in the middle of the
 * transition band, beta for the attenuation N taps reach over it. */
static void linear_phase_prototype(uint32_t N, double F, double f_pass, double f_stop, double *h)
{
    double fc = (f_pass + f_stop) / 2.0 / F; /* cycles per prototype sample */
    double beta = 0.1102 * (14.36 * (f_stop - f_pass) / F * N + 7.95 - 8.7), i0_beta = bessel_i0(beta);
    for (uint32_t m = 0; m < N; m++) {
        double x = (double)m - (N - 1) / 2.0, r = N > 1 ? 2.0 * m / (N - 1) - 1.0 : 0.0;
        double arg = M_PI * 2.0 * fc * x;
        double sinc = x == 0.0 ? 1.0 : sin(arg) / arg;
        h[m] = 2.0 * fc * sinc * bessel_i0(beta * sqrt(fmax(0.0, 1.0 - r * r))) / i0_beta;
    }
}

/* Designs a stage converting in_rate -> out_rate, flat to f_pass Hz and stopping from f_stop Hz. */
static int stage_init(stage_t *s, uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, double f_pass,
                      double f_stop, int minimum_phase)
{
    const double A = MEDIA_RESAMPLER_ATTENUATION_DB;
    uint32_t g = gcd(in_rate, out_rate), L = out_rate / g, M = in_rate / g, K, N;
    double F = (double)in_rate * L, l1_max = 0.0, c_max = 0.0;
    double *h;
    int shift;

    memset(s, 0, sizeof(*s));
    if ((uint64_t)in_frame * L % M != 0)
        return -EINVAL;
    /* Taps per phase for A dB, rounded up to whole vectors; beta then uses the attenuation the
     * longer filter can reach. */
    K = (uint32_t)ceil((A + (minimum_phase ? MINIMUM_PHASE_MARGIN_DB : 0.0) - 7.95) / (14.36 * (f_stop - f_pass) / F) / L);
    K = (K + TAP_MULTIPLE - 1) / TAP_MULTIPLE * TAP_MULTIPLE;
    if (K > MAX_TAPS)
        return -EINVAL;
    N = K * L;
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

    if (!minimum_phase) {
        linear_phase_prototype(N, F, f_pass, f_stop, h);
    } else if (minimum_phase_prototype(N, F, f_pass, f_stop, h) != 0) {
        free(h);
        stage_free(s);
        return -ENOMEM;
    }
    /* its delay at low frequencies (the group delay at DC: the taps' centre of mass) */
    {
        double moment = 0.0, sum = 0.0;
        for (uint32_t m = 0; m < N; m++) {
            moment += m * h[m];
            sum += h[m];
        }
        s->delay = moment / sum;
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
    return media_resampler_create_ex(in_rate, out_rate, in_frame, 0, out);
}

int media_resampler_create_ex(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, int minimum_phase,
                              media_resampler_t **out)
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
    r->minimum_phase = minimum_phase != 0;
    if (high >= 3 * low) {
        /* Two stages: the sharp filter at twice the lower rate, a gentle one for the rest. */
        uint32_t mid = 2 * low, mid_frame = in_rate < out_rate ? 2 * in_frame : 2 * r->out_frame;
        r->count = 2;
        if (in_rate < out_rate) {
            status = stage_init(&r->stage[0], in_rate, mid, in_frame, MEDIA_RESAMPLER_PASSBAND * nyquist, nyquist, r->minimum_phase);
            if (status == 0)
                status = stage_init(&r->stage[1], mid, out_rate, mid_frame, nyquist, mid - nyquist, r->minimum_phase);
        } else {
            status = stage_init(&r->stage[0], in_rate, mid, in_frame, nyquist, mid - nyquist, r->minimum_phase);
            if (status == 0)
                status = stage_init(&r->stage[1], mid, out_rate, mid_frame, MEDIA_RESAMPLER_PASSBAND * nyquist,
                                    nyquist, r->minimum_phase);
        }
        if (status == 0 && (r->middle = malloc(mid_frame * sizeof(int16_t))) == NULL)
            status = -ENOMEM;
    } else {
        r->count = 1;
        status = stage_init(&r->stage[0], in_rate, out_rate, in_frame, MEDIA_RESAMPLER_PASSBAND * nyquist, nyquist, r->minimum_phase);
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

/* The history a stage keeps after taking `in` (its in_frame samples), without computing outputs. */
static void stage_history(stage_t *s, const int16_t *in)
{
    const uint32_t keep = s->K - 1;
    if (s->in_frame >= keep) {
        memcpy(s->buf, in + s->in_frame - keep, keep * sizeof(int16_t));
    } else {
        memmove(s->buf, s->buf + s->in_frame, (keep - s->in_frame) * sizeof(int16_t));
        memcpy(s->buf + keep - s->in_frame, in, s->in_frame * sizeof(int16_t));
    }
}

/* The last `count` outputs of a stage for the frame `in` (into out[out_frame - count ..]), the
 * history updated as by a full run. The same sums as stage_run, output by output. */
static HOT void stage_tail(stage_t *s, const int16_t *in, int16_t *out, uint32_t count)
{
    memcpy(s->buf + s->K - 1, in, s->in_frame * sizeof(int16_t));
    for (uint32_t k = s->out_frame - count; k < s->out_frame; k++)
        out[k] = fir(s->coef + s->tap[k], s->buf + s->at[k], s->K, s->half, s->shift);
    memmove(s->buf, s->buf + s->in_frame, (s->K - 1) * sizeof(int16_t));
}

void media_resampler_skip(media_resampler_t *r, const int16_t *in)
{
    if (r->count == 1) {
        stage_history(&r->stage[0], in);
    } else {
        /* the second stage's history is the tail of the first stage's output: compute only that */
        uint32_t need = r->stage[1].K - 1, total = r->stage[0].out_frame;
        stage_tail(&r->stage[0], in, r->middle, need < total ? need : total);
        stage_history(&r->stage[1], r->middle);
    }
}

static int same_design(const media_resampler_t *a, const media_resampler_t *b)
{
    if (a->in_rate != b->in_rate || a->out_rate != b->out_rate || a->in_frame != b->in_frame || a->count != b->count ||
        a->minimum_phase != b->minimum_phase)
        return 0;
    for (uint32_t i = 0; i < a->count; i++)
        if (a->stage[i].K != b->stage[i].K)
            return 0;
    return 1;
}

int media_resampler_copy_state(media_resampler_t *dst, const media_resampler_t *src)
{
    if (!same_design(dst, src))
        return -EINVAL;
    for (uint32_t i = 0; i < src->count; i++)
        memcpy(dst->stage[i].buf, src->stage[i].buf, ((size_t)src->stage[i].K - 1) * sizeof(int16_t));
    return 0;
}

int media_resampler_same_state(const media_resampler_t *a, const media_resampler_t *b)
{
    if (!same_design(a, b))
        return 0;
    for (uint32_t i = 0; i < a->count; i++)
        if (memcmp(a->stage[i].buf, b->stage[i].buf, ((size_t)a->stage[i].K - 1) * sizeof(int16_t)) != 0)
            return 0;
    return 1;
}

void media_resampler_reset(media_resampler_t *r)
{
    for (uint32_t i = 0; i < r->count; i++)
        memset(r->stage[i].buf, 0, ((size_t)r->stage[i].K - 1 + r->stage[i].in_frame) * sizeof(int16_t));
}

int media_resampler_minimum_phase(const media_resampler_t *r)
{
    return r->minimum_phase;
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
    out->minimum_phase = r->minimum_phase;
    for (uint32_t i = 0; i < r->count; i++) {
        const stage_t *s = &r->stage[i];
        out->up[i] = s->L;
        out->down[i] = s->M;
        out->taps[i] = s->K;
        out->shift[i] = s->shift;
        out->half[i] = s->half;
        out->macs_per_frame += s->K * s->out_frame;
        /* the stage's group delay at DC, from prototype samples to the converter's input samples */
        delay += s->delay / s->L * (r->in_rate / rate);
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
