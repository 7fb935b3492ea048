/*
 * mixer.c - the conference mixer (see mixer.h for the model and the threading rules).
 *
 * Layout: an array of slots; slot 0 is the device. Each sink slot has a list of the slots it
 * hears, kept in one (slots x slots) table of uint16 indexes so that connections survive a device
 * change and cost no allocation. A slot's buffers and converters (slot_res) are allocated before
 * the lock is taken and freed after it is released, so the lock is held only for pointer updates.
 *
 * Gains are Q12 fixed point (4096 = unity). Levels keep the peak and the sum of squares of the
 * last frame; the RMS is computed when asked for.
 *
 * Shortcuts (on unless media_mixer_set_shortcuts() turns them off; each gives exactly the samples
 * the general path gives, which tests/core/media/test_mixer_shortcuts.py checks):
 *   - a sink hearing one source at unity gain takes that source's frame as it is (no mixing pass)
 *     and its levels (no second measurement of the same samples);
 *   - a source nobody hears is still pulled every tick (a stream's jitter buffer drains, a file
 *     advances) but not converted to the mixer's rate: its frame goes into a small ring (the
 *     backlog) and only when the source is heard again does our converter take the frames the
 *     ring holds into its history (media_resampler_skip); the ring holds enough of them for the
 *     converter's history to come out as if it had taken every frame, so a listener connected
 *     later hears what the general path would give. Its levels are then measured on its own
 *     (mono) frame, before conversion;
 *   - a source's frame is converted to another rate once per tick for all the sinks at that rate
 *     that hear only it at unity gain (many calls hearing one microphone, file or tone): a shared
 *     converter per (source, rate) with our converter's design, allocated when such a connection
 *     is made. A sink joins when its own converter's history equals the shared one's (which it
 *     does one tick after it starts hearing the source alone: a 20 ms frame is longer than the
 *     filters) and leaves with the shared converter's history copied back into its own;
 *   - ports whose codec codes several streams in one pass (G.722) hand their decodes and encodes
 *     to the tick's batch (tick_batch.h: get_frame_batch/put_frame_batch), which runs them
 *     together between the tick's phases: the same bytes and samples, stream by stream.
 * A connection between two ports at the same rate other than the mixer's still goes up and down
 * (the filters' delay and response are part of what the general path gives).
 */
#include "mixer.h"
#include "resample.h"
#include "tick_batch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <speex/speex_echo.h>
#include <speex/speex_resampler.h>

#define UNITY_GAIN 4096
/* Rates with a small integer ratio go through our polyphase converter (resample.h: about 30 % of
 * speexdsp's cost for 8k <-> 48k); speexdsp converts the others. Quality 3 ("VoIP"): a 48-tap
 * filter, the cheapest speexdsp setting that still uses its direct (non-interpolated) tables for
 * the usual rate pairs; about 15 us per 20 ms frame for 8k <-> 48k both ways on the benchmark
 * machine (quality 4: about 19 us). */
#define RESAMPLER_QUALITY SPEEX_RESAMPLER_QUALITY_VOIP
#define MAX_EC_TAIL_MS 1000u

/* The per-sample loops: vectorised, with an AVX2 clone picked at load time where the CPU has it. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__GLIBC__)
#define HOT __attribute__((hot, optimize("O3"), target_clones("avx2", "default")))
#elif defined(__GNUC__) && !defined(__clang__)
#define HOT __attribute__((hot, optimize("O3")))
#else
#define HOT
#endif

typedef struct conv {
    media_resampler_t *polyphase;   /* our converter, for small integer ratios */
    SpeexResamplerState *resampler; /* speexdsp, for the other ratios; both NULL at the mixer's rate */
    uint32_t rate, channels, spf;   /* the port's format */
    int16_t *mono;                  /* spf samples, for stereo ports */
    int identity;                   /* mono at the mixer's rate: no conversion at all */
    int minimum_phase;              /* the polyphase converter's design (looked up every tick) */
    /* A source's polyphase converter (rx) takes the frames of the ticks nobody hears it only when
     * it is heard again: the last `backlog_keep` mono frames wait in a ring of backlog_keep + 1
     * (the converter's history after them does not depend on older ones, see backlog_frames). */
    int16_t *backlog;
    uint32_t backlog_keep, backlog_next, backlog_pending;
} conv_t;

/* A source's frame converted to another rate once per tick for all its single-source listeners
 * at that rate (see "Shortcuts" above). Same design as the listeners' own converters. */
typedef struct shared_conv {
    uint32_t rate;             /* the listeners' rate */
    int minimum_phase;         /* the listeners' converters' design */
    media_resampler_t *conv;   /* mixer rate -> rate */
    media_resampler_t *before; /* conv's history before this tick's frame (for listeners leaving) */
    int16_t *out;              /* this tick's output, mono */
    uint64_t stamp;            /* tick of the last run (ticks + 1 during a tick), 0: never */
} shared_conv_t;

#define MAX_SHARED 4 /* rates a source is shared at */

typedef struct slot_res {
    conv_t rx, tx;
    int16_t *io;    /* one frame in the port's format */
    int16_t *frame; /* the source's frame of this tick, in the mixer's format */
    shared_conv_t shared[MAX_SHARED];
    uint32_t n_shared;
} slot_res_t;

typedef struct slot {
    int used;
    int active; /* frame holds sound this tick */
    int heard;  /* some sink lists this slot as a source (set at the start of every tick) */
    uint32_t generation; /* changes whenever the slot's ports or resources change */
    shared_conv_t *sharing; /* the source's shared converter this sink's output came from on the
                             * last tick (its own tx converter idle meanwhile), or NULL */
    media_port_t *src;
    media_port_t *dst;
    slot_res_t res;
    uint32_t n_sources;
    int32_t gain[2];
    uint32_t rx_peak, tx_peak;
    uint64_t rx_sumsq, tx_sumsq;
    int16_t *rx_into; /* where the source's get_frame wrote this tick (read_source_start) */
    int rx_status;    /* what it returned */
} slot_t;

struct media_mixer {
    pthread_mutex_t lock;
    uint32_t rate, frame_ms, spf, total; /* total = slot_count + 1 */
    uint32_t used;                       /* ports in slots 1.. */
    slot_t *slots;
    uint16_t *sources; /* total x total: row d lists the slots that d hears */
    int32_t *acc;
    int16_t *mix;
    int muted;
    int resampler_kind; /* MEDIA_MIXER_RESAMPLER_*, for ports added from now on */
    int shortcuts;      /* 1: the shortcuts (see above) are taken; 0: every frame the general way */
    SpeexEchoState *ec;
    int16_t *ec_play; /* what the device played on the previous tick */
    int16_t *ec_out;
    tick_batch_t batch; /* the codec work the ports leave during a tick (tick_batch.h) */
    media_mixer_stats_t stats;
};

const char *media_mixer_strerror(int status)
{
    switch (status) {
    case MEDIA_MIXER_OK:
        return "success";
    case MEDIA_MIXER_EINVAL:
        return "invalid argument";
    case MEDIA_MIXER_ENOMEM:
        return "out of memory";
    case MEDIA_MIXER_EFULL:
        return "no free slot in the mixer";
    case MEDIA_MIXER_ESLOT:
        return "no port in that slot";
    case MEDIA_MIXER_EDIRECTION:
        return "the source slot does not produce audio or the destination slot does not consume it";
    case MEDIA_MIXER_EFORMAT:
        return "the port's clock rate, channels or frame time do not fit the mixer";
    case MEDIA_MIXER_EBUSY:
        return "the port is in a slot of this mixer already";
    default:
        return "unknown mixer error";
    }
}

/* -- sample helpers -------------------------------------------------------------------------- */

static inline int16_t clamp16(int32_t v)
{
    return v > 32767 ? 32767 : (v < -32768 ? -32768 : (int16_t)v);
}

static HOT void apply_gain(int16_t *x, uint32_t n, int32_t gain)
{
    for (uint32_t i = 0; i < n; i++)
        x[i] = clamp16((x[i] * gain) >> 12);
}

static HOT void measure(const int16_t *x, uint32_t n, uint32_t *peak, uint64_t *sumsq)
{
    int16_t high = 0, low = 0;
    uint64_t s = 0;
    uint32_t i;
    for (i = 0; i < n; i++) {
        high = x[i] > high ? x[i] : high;
        low = x[i] < low ? x[i] : low;
    }
    /* two squares (each <= 2^30) fit an unsigned 32-bit sum: the pairs vectorise well */
    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(x[i] * x[i]) + (uint32_t)(x[i + 1] * x[i + 1]);
    if (i < n)
        s += (uint32_t)(x[i] * x[i]);
    *peak = (uint32_t)(high > -(int32_t)low ? high : -(int32_t)low);
    *sumsq = s;
}

static HOT void add2(int32_t *acc, const int16_t *a, const int16_t *b, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        acc[i] = (int32_t)a[i] + b[i];
}

static HOT void add1(int32_t *acc, const int16_t *a, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        acc[i] += a[i];
}

static HOT void saturate(int16_t *out, const int32_t *acc, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        out[i] = clamp16(acc[i]);
}

/* -- format conversion ----------------------------------------------------------------------- */

/* How many of the last input frames decide a converter's history (resample.h): a stage keeps its
 * last taps - 1 inputs; a second stage keeps the last taps[1] - 1 outputs of the first, which
 * reach back (taps[1] - 1) * down[0] / up[0] + taps[0] input samples. One frame more than that,
 * for safety: replaying more frames than needed is exact too, only slower. */
static uint32_t backlog_frames(const media_resampler_t *polyphase)
{
    media_resampler_info_t info;
    uint64_t span;
    media_resampler_get_info(polyphase, &info);
    span = info.taps[0];
    if (info.stages == 2)
        span += ((uint64_t)(info.taps[1] - 1) * info.down[0] + info.up[0] - 1) / info.up[0];
    return (uint32_t)((span + info.in_frame - 1) / info.in_frame) + 1;
}

static int conv_init(conv_t *c, const media_port_t *port, const media_mixer_t *m, int into_mixer)
{
    uint32_t mixer_rate = m->rate;
    memset(c, 0, sizeof(*c));
    if (port == NULL)
        return MEDIA_MIXER_OK;
    c->rate = port->clock_rate;
    c->channels = port->channels;
    c->spf = port->samples_per_frame;
    if (c->rate != mixer_rate) {
        uint32_t from = into_mixer ? c->rate : mixer_rate, to = into_mixer ? mixer_rate : c->rate;
        int err = 0;
        int kind = __atomic_load_n(&m->resampler_kind, __ATOMIC_RELAXED);
        if (kind != MEDIA_MIXER_RESAMPLER_SPEEXDSP && media_resampler_supports(from, to)) {
            err = media_resampler_create_ex(from, to, into_mixer ? c->spf : m->spf,
                                            kind == MEDIA_MIXER_RESAMPLER_LOW_DELAY, &c->polyphase);
            if (err == -ENOMEM)
                return MEDIA_MIXER_ENOMEM;
        }
        if (c->polyphase == NULL) { /* another ratio, or a frame our converter cannot take */
            c->resampler = speex_resampler_init(1, from, to, RESAMPLER_QUALITY, &err);
            if (c->resampler == NULL)
                return MEDIA_MIXER_ENOMEM;
        }
    }
    if (c->channels == 2) {
        c->mono = malloc(c->spf * sizeof(int16_t));
        if (c->mono == NULL)
            return MEDIA_MIXER_ENOMEM;
    }
    if (c->polyphase != NULL) {
        c->minimum_phase = media_resampler_minimum_phase(c->polyphase);
        if (into_mixer) {
            c->backlog_keep = backlog_frames(c->polyphase);
            c->backlog = malloc((size_t)(c->backlog_keep + 1) * c->spf * sizeof(int16_t));
            if (c->backlog == NULL)
                return MEDIA_MIXER_ENOMEM;
        }
    }
    c->identity = c->resampler == NULL && c->polyphase == NULL && c->channels == 1;
    return MEDIA_MIXER_OK;
}

static void conv_free(conv_t *c)
{
    media_resampler_destroy(c->polyphase);
    if (c->resampler)
        speex_resampler_destroy(c->resampler);
    free(c->mono);
    free(c->backlog);
    memset(c, 0, sizeof(*c));
}

/* The frames waiting in the backlog into the converter, oldest first (before it converts again). */
static void conv_catch_up(conv_t *c)
{
    uint32_t ring = c->backlog_keep + 1;
    uint32_t i = (c->backlog_next + ring - c->backlog_pending) % ring;
    for (; c->backlog_pending > 0; c->backlog_pending--, i = (i + 1) % ring)
        media_resampler_skip(c->polyphase, c->backlog + (size_t)i * c->spf);
}

/* Port frame -> mono frame at the mixer's rate (n samples). */
static void conv_in(media_mixer_t *m, conv_t *c, const int16_t *in, int16_t *out)
{
    const int16_t *mono = in;
    uint32_t n = m->spf;
    if (c->channels == 2) {
        int16_t *dst = c->resampler || c->polyphase ? c->mono : out;
        for (uint32_t i = 0; i < c->spf; i++)
            dst[i] = (int16_t)(((int32_t)in[2 * i] + in[2 * i + 1]) >> 1);
        mono = dst;
    }
    if (c->polyphase) {
        media_resampler_process(c->polyphase, mono, out);
    } else if (c->resampler) {
        spx_uint32_t in_len = c->spf, out_len = n;
        speex_resampler_process_int(c->resampler, 0, mono, &in_len, out, &out_len);
        if (out_len < n) {
            memset(out + out_len, 0, (n - out_len) * sizeof(int16_t));
            m->stats.resample_short++;
        }
    } else if (mono != out) {
        memcpy(out, mono, n * sizeof(int16_t));
    }
}

/* Mono frame at the mixer's rate -> port frame. */
static void conv_out(media_mixer_t *m, conv_t *c, const int16_t *in, int16_t *out)
{
    const int16_t *mono = in;
    if (c->polyphase) {
        int16_t *dst = c->channels == 2 ? c->mono : out;
        media_resampler_process(c->polyphase, in, dst);
        mono = dst;
    } else if (c->resampler) {
        int16_t *dst = c->channels == 2 ? c->mono : out;
        spx_uint32_t in_len = m->spf, out_len = c->spf;
        speex_resampler_process_int(c->resampler, 0, in, &in_len, dst, &out_len);
        if (out_len < c->spf) {
            memset(dst + out_len, 0, (c->spf - out_len) * sizeof(int16_t));
            m->stats.resample_short++;
        }
        mono = dst;
    }
    if (c->channels == 2) {
        for (uint32_t i = 0; i < c->spf; i++)
            out[2 * i] = out[2 * i + 1] = mono[i];
    } else if (mono != out) {
        memcpy(out, mono, c->spf * sizeof(int16_t));
    }
}

/* -- slot resources -------------------------------------------------------------------------- */

static void shared_free(shared_conv_t *e)
{
    media_resampler_destroy(e->conv);
    media_resampler_destroy(e->before);
    free(e->out);
    memset(e, 0, sizeof(*e));
}

static int shared_alloc(shared_conv_t *e, const media_mixer_t *m, uint32_t rate, int minimum_phase)
{
    memset(e, 0, sizeof(*e));
    e->rate = rate;
    e->minimum_phase = minimum_phase;
    if (media_resampler_create_ex(m->rate, rate, m->spf, minimum_phase, &e->conv) != 0 ||
        media_resampler_create_ex(m->rate, rate, m->spf, minimum_phase, &e->before) != 0 ||
        (e->out = malloc(media_resampler_out_frame(e->conv) * sizeof(int16_t))) == NULL) {
        shared_free(e);
        return MEDIA_MIXER_ENOMEM;
    }
    return MEDIA_MIXER_OK;
}

static shared_conv_t *find_shared(slot_res_t *r, uint32_t rate, int minimum_phase)
{
    for (uint32_t i = 0; i < r->n_shared; i++)
        if (r->shared[i].rate == rate && r->shared[i].minimum_phase == minimum_phase)
            return &r->shared[i];
    return NULL;
}

static void res_free(slot_res_t *r)
{
    for (uint32_t i = 0; i < r->n_shared; i++)
        shared_free(&r->shared[i]);
    conv_free(&r->rx);
    conv_free(&r->tx);
    free(r->io);
    free(r->frame);
    memset(r, 0, sizeof(*r));
}

static int res_alloc(media_mixer_t *m, slot_res_t *r, const media_port_t *src, const media_port_t *dst)
{
    size_t io = 0;
    int status;
    memset(r, 0, sizeof(*r));
    if ((status = conv_init(&r->rx, src, m, 1)) != MEDIA_MIXER_OK ||
        (status = conv_init(&r->tx, dst, m, 0)) != MEDIA_MIXER_OK)
        goto fail;
    status = MEDIA_MIXER_ENOMEM;
    if (src) {
        io = (size_t)src->samples_per_frame * src->channels;
        if ((r->frame = malloc(m->spf * sizeof(int16_t))) == NULL)
            goto fail;
    }
    if (dst && (size_t)dst->samples_per_frame * dst->channels > io)
        io = (size_t)dst->samples_per_frame * dst->channels;
    if (io && (r->io = malloc(io * sizeof(int16_t))) == NULL)
        goto fail;
    return MEDIA_MIXER_OK;
fail:
    res_free(r);
    return status;
}

static int check_port(const media_mixer_t *m, const media_port_t *p)
{
    if (p->get_frame == NULL && p->put_frame == NULL)
        return MEDIA_MIXER_EDIRECTION;
    if (p->clock_rate < MEDIA_PORT_MIN_RATE || p->clock_rate > MEDIA_PORT_MAX_RATE || p->channels < 1 ||
        p->channels > MEDIA_PORT_MAX_CHANNELS || p->samples_per_frame == 0 ||
        (uint64_t)p->samples_per_frame * 1000u != (uint64_t)p->clock_rate * m->frame_ms)
        return MEDIA_MIXER_EFORMAT;
    return MEDIA_MIXER_OK;
}

/* Removes `src` from every sink's list (lock held). */
static void forget_source(media_mixer_t *m, uint32_t src)
{
    for (uint32_t d = 0; d < m->total; d++) {
        slot_t *sl = &m->slots[d];
        uint16_t *list = &m->sources[(size_t)d * m->total];
        for (uint32_t i = 0; i < sl->n_sources; i++) {
            if (list[i] == src) {
                list[i] = list[--sl->n_sources];
                break;
            }
        }
    }
}

/* The sink `d` stops taking its output from a shared converter (lock held): its own converter
 * gets the history the shared one had before the current tick (between ticks: its history now). */
static void leave_shared(slot_t *sl, uint64_t now)
{
    shared_conv_t *e = sl->sharing;
    media_resampler_copy_state(sl->res.tx.polyphase, e->stamp == now ? e->before : e->conv);
    sl->sharing = NULL;
}

/* Every sink taking its output from one of slot `s`'s shared converters goes back to its own
 * (lock held, between ticks): before the source's resources are freed or replaced. */
static void unshare_source(media_mixer_t *m, uint32_t s)
{
    slot_res_t *r = &m->slots[s].res;
    if (r->n_shared == 0)
        return;
    for (uint32_t d = 0; d < m->total; d++) {
        slot_t *sl = &m->slots[d];
        if (sl->sharing && sl->sharing >= r->shared && sl->sharing < r->shared + r->n_shared)
            leave_shared(sl, 0);
    }
}

/* -- life cycle ------------------------------------------------------------------------------ */

int media_mixer_create(uint32_t clock_rate, uint32_t frame_ms, uint32_t slot_count, media_mixer_t **out)
{
    media_mixer_t *m;
    *out = NULL;
    if ((frame_ms != 10 && frame_ms != 20) || clock_rate < MEDIA_PORT_MIN_RATE ||
        clock_rate > MEDIA_PORT_MAX_RATE || clock_rate * frame_ms % 1000u != 0 || slot_count < 1 ||
        slot_count >= MEDIA_MIXER_MAX_SLOTS)
        return MEDIA_MIXER_EINVAL;
    if ((m = calloc(1, sizeof(*m))) == NULL)
        return MEDIA_MIXER_ENOMEM;
    m->rate = clock_rate;
    m->frame_ms = frame_ms;
    m->spf = clock_rate * frame_ms / 1000u;
    m->total = slot_count + 1;
    m->slots = calloc(m->total, sizeof(slot_t));
    m->sources = calloc((size_t)m->total * m->total, sizeof(uint16_t));
    m->acc = calloc(m->spf, sizeof(int32_t));
    m->mix = calloc(m->spf, sizeof(int16_t));
    if (m->slots == NULL || m->sources == NULL || m->acc == NULL || m->mix == NULL ||
        tick_batch_init(&m->batch, m->total) != 0 || pthread_mutex_init(&m->lock, NULL) != 0) {
        tick_batch_free(&m->batch);
        free(m->slots);
        free(m->sources);
        free(m->acc);
        free(m->mix);
        free(m);
        return MEDIA_MIXER_ENOMEM;
    }
    for (uint32_t s = 0; s < m->total; s++)
        m->slots[s].gain[0] = m->slots[s].gain[1] = UNITY_GAIN;
    m->slots[0].used = 1; /* the device slot exists even before a device is set */
    m->shortcuts = 1;
    *out = m;
    return MEDIA_MIXER_OK;
}

void media_mixer_destroy(media_mixer_t *m)
{
    if (m == NULL)
        return;
    for (uint32_t s = 0; s < m->total; s++)
        res_free(&m->slots[s].res);
    if (m->ec)
        speex_echo_state_destroy(m->ec);
    free(m->ec_play);
    free(m->ec_out);
    pthread_mutex_destroy(&m->lock);
    tick_batch_free(&m->batch);
    free(m->slots);
    free(m->sources);
    free(m->acc);
    free(m->mix);
    free(m);
}

uint32_t media_mixer_clock_rate(const media_mixer_t *m) { return m->rate; }
uint32_t media_mixer_frame_ms(const media_mixer_t *m) { return m->frame_ms; }
uint32_t media_mixer_samples_per_frame(const media_mixer_t *m) { return m->spf; }
uint32_t media_mixer_slot_count(const media_mixer_t *m) { return m->total - 1; }

uint32_t media_mixer_used_slot_count(media_mixer_t *m)
{
    uint32_t n;
    pthread_mutex_lock(&m->lock);
    n = m->used;
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* -- ports ----------------------------------------------------------------------------------- */

int media_mixer_set_device(media_mixer_t *m, media_port_t *capture, media_port_t *playback)
{
    slot_res_t res, old;
    slot_t *sl = &m->slots[0];
    int status = MEDIA_MIXER_OK;
    if (capture && (capture->get_frame == NULL || (status = check_port(m, capture)) != MEDIA_MIXER_OK))
        return capture->get_frame == NULL ? MEDIA_MIXER_EDIRECTION : status;
    if (playback && (playback->put_frame == NULL || (status = check_port(m, playback)) != MEDIA_MIXER_OK))
        return playback->put_frame == NULL ? MEDIA_MIXER_EDIRECTION : status;
    if ((status = res_alloc(m, &res, capture, playback)) != MEDIA_MIXER_OK)
        return status;
    pthread_mutex_lock(&m->lock);
    unshare_source(m, 0);
    sl->sharing = NULL; /* a new playback converter starts from silence, as in the general path */
    sl->generation++;
    old = sl->res;
    sl->res = res;
    sl->src = capture;
    sl->dst = playback;
    sl->active = 0;
    sl->rx_peak = sl->tx_peak = 0;
    sl->rx_sumsq = sl->tx_sumsq = 0;
    if (capture == NULL)
        forget_source(m, 0);
    if (playback == NULL)
        sl->n_sources = 0;
    if (m->ec) {
        speex_echo_state_reset(m->ec);
        memset(m->ec_play, 0, m->spf * sizeof(int16_t));
    }
    pthread_mutex_unlock(&m->lock);
    res_free(&old);
    return MEDIA_MIXER_OK;
}

int media_mixer_add_port(media_mixer_t *m, media_port_t *port, uint32_t *slot)
{
    slot_res_t res;
    int status;
    uint32_t s;
    if (port == NULL)
        return MEDIA_MIXER_EINVAL;
    if ((status = check_port(m, port)) != MEDIA_MIXER_OK)
        return status;
    if ((status = res_alloc(m, &res, port->get_frame ? port : NULL, port->put_frame ? port : NULL)) !=
        MEDIA_MIXER_OK)
        return status;
    pthread_mutex_lock(&m->lock);
    /* one slot per port: a port's per-tick state (a stream's jitter buffer, its codec work in the
     * tick's batch) is for one frame per tick */
    for (s = 0; s < m->total; s++) {
        if (m->slots[s].used && (m->slots[s].src == port || m->slots[s].dst == port)) {
            pthread_mutex_unlock(&m->lock);
            res_free(&res);
            return MEDIA_MIXER_EBUSY;
        }
    }
    for (s = 1; s < m->total && m->slots[s].used; s++)
        ;
    if (s == m->total) {
        pthread_mutex_unlock(&m->lock);
        res_free(&res);
        return MEDIA_MIXER_EFULL;
    }
    slot_t *sl = &m->slots[s];
    sl->used = 1;
    sl->active = 0;
    sl->sharing = NULL;
    sl->generation++;
    sl->src = port->get_frame ? port : NULL;
    sl->dst = port->put_frame ? port : NULL;
    sl->res = res;
    sl->n_sources = 0;
    sl->gain[0] = sl->gain[1] = UNITY_GAIN;
    sl->rx_peak = sl->tx_peak = 0;
    sl->rx_sumsq = sl->tx_sumsq = 0;
    m->used++;
    pthread_mutex_unlock(&m->lock);
    *slot = s;
    return MEDIA_MIXER_OK;
}

int media_mixer_remove_port(media_mixer_t *m, uint32_t s)
{
    slot_res_t res;
    if (s == 0 || s >= m->total)
        return MEDIA_MIXER_ESLOT;
    pthread_mutex_lock(&m->lock);
    slot_t *sl = &m->slots[s];
    if (!sl->used) {
        pthread_mutex_unlock(&m->lock);
        return MEDIA_MIXER_ESLOT;
    }
    unshare_source(m, s);
    forget_source(m, s);
    sl->n_sources = 0;
    sl->sharing = NULL;
    sl->generation++;
    sl->used = 0;
    sl->active = 0;
    sl->src = sl->dst = NULL;
    res = sl->res;
    memset(&sl->res, 0, sizeof(sl->res));
    m->used--;
    pthread_mutex_unlock(&m->lock);
    res_free(&res);
    return MEDIA_MIXER_OK;
}

/* -- connections ----------------------------------------------------------------------------- */

static int find_source(const media_mixer_t *m, uint32_t src, uint32_t dst)
{
    const uint16_t *list = &m->sources[(size_t)dst * m->total];
    for (uint32_t i = 0; i < m->slots[dst].n_sources; i++)
        if (list[i] == src)
            return (int)i;
    return -1;
}

static int check_pair(const media_mixer_t *m, uint32_t src, uint32_t dst)
{
    if (src >= m->total || dst >= m->total || !m->slots[src].used || !m->slots[dst].used)
        return MEDIA_MIXER_ESLOT;
    if (m->slots[src].src == NULL || m->slots[dst].dst == NULL)
        return MEDIA_MIXER_EDIRECTION;
    return MEDIA_MIXER_OK;
}

/* Whether `src` wants a shared converter for `dst`'s rate that it does not have (lock held). */
static int wants_shared(media_mixer_t *m, uint32_t src, uint32_t dst)
{
    slot_res_t *r = &m->slots[src].res;
    const conv_t *tx = &m->slots[dst].res.tx;
    return m->shortcuts && tx->polyphase != NULL && r->n_shared < MAX_SHARED &&
           find_shared(r, tx->rate, tx->minimum_phase) == NULL;
}

int media_mixer_connect(media_mixer_t *m, uint32_t src, uint32_t dst)
{
    int status, wanted = 0, minimum_phase = 0;
    uint32_t rate = 0, generation = 0;
    shared_conv_t fresh;
    pthread_mutex_lock(&m->lock);
    status = check_pair(m, src, dst);
    if (status == MEDIA_MIXER_OK && find_source(m, src, dst) < 0) {
        m->sources[(size_t)dst * m->total + m->slots[dst].n_sources] = (uint16_t)src;
        m->slots[dst].n_sources++;
    }
    if (status == MEDIA_MIXER_OK && (wanted = wants_shared(m, src, dst))) {
        rate = m->slots[dst].res.tx.rate;
        minimum_phase = m->slots[dst].res.tx.minimum_phase;
        generation = m->slots[src].generation;
    }
    pthread_mutex_unlock(&m->lock);
    /* The source's shared converter for the sink's rate: built outside the lock, attached if the
     * source is still the same and still lacks one (else dropped: an optimisation, not a need). */
    if (wanted && shared_alloc(&fresh, m, rate, minimum_phase) == MEDIA_MIXER_OK) {
        pthread_mutex_lock(&m->lock);
        slot_res_t *r = &m->slots[src].res;
        if (m->slots[src].used && m->slots[src].generation == generation && r->n_shared < MAX_SHARED &&
            find_shared(r, rate, minimum_phase) == NULL) {
            r->shared[r->n_shared++] = fresh;
            memset(&fresh, 0, sizeof(fresh));
        }
        pthread_mutex_unlock(&m->lock);
        shared_free(&fresh);
    }
    return status;
}

int media_mixer_disconnect(media_mixer_t *m, uint32_t src, uint32_t dst)
{
    int status = MEDIA_MIXER_OK, i;
    pthread_mutex_lock(&m->lock);
    if (src >= m->total || dst >= m->total || !m->slots[src].used || !m->slots[dst].used)
        status = MEDIA_MIXER_ESLOT;
    else if ((i = find_source(m, src, dst)) >= 0) {
        uint16_t *list = &m->sources[(size_t)dst * m->total];
        list[i] = list[--m->slots[dst].n_sources];
    }
    pthread_mutex_unlock(&m->lock);
    return status;
}

int media_mixer_is_connected(media_mixer_t *m, uint32_t src, uint32_t dst)
{
    int found;
    if (src >= m->total || dst >= m->total)
        return 0;
    pthread_mutex_lock(&m->lock);
    found = find_source(m, src, dst) >= 0;
    pthread_mutex_unlock(&m->lock);
    return found;
}

static int compare_pairs(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

size_t media_mixer_connections(media_mixer_t *m, uint32_t *pairs, size_t max)
{
    size_t count = 0;
    pthread_mutex_lock(&m->lock);
    for (uint32_t d = 0; d < m->total; d++) {
        const uint16_t *list = &m->sources[(size_t)d * m->total];
        for (uint32_t i = 0; i < m->slots[d].n_sources; i++, count++) {
            if (count < max) {
                pairs[2 * count] = list[i];
                pairs[2 * count + 1] = d;
            }
        }
    }
    pthread_mutex_unlock(&m->lock);
    qsort(pairs, count < max ? count : max, 2 * sizeof(uint32_t), compare_pairs);
    return count;
}

/* -- volume, echo canceller, levels ---------------------------------------------------------- */

int media_mixer_set_gain(media_mixer_t *m, uint32_t s, int direction, uint32_t percent)
{
    int status = MEDIA_MIXER_OK;
    if (percent > MEDIA_MIXER_MAX_GAIN || (direction != MEDIA_MIXER_RX && direction != MEDIA_MIXER_TX))
        return MEDIA_MIXER_EINVAL;
    pthread_mutex_lock(&m->lock);
    if (s >= m->total || !m->slots[s].used)
        status = MEDIA_MIXER_ESLOT;
    else
        m->slots[s].gain[direction] = (int32_t)((percent * UNITY_GAIN + 50) / 100);
    pthread_mutex_unlock(&m->lock);
    return status;
}

int media_mixer_set_resampler(media_mixer_t *m, int kind)
{
    if (kind != MEDIA_MIXER_RESAMPLER_AUTO && kind != MEDIA_MIXER_RESAMPLER_SPEEXDSP &&
        kind != MEDIA_MIXER_RESAMPLER_LOW_DELAY)
        return MEDIA_MIXER_EINVAL;
    __atomic_store_n(&m->resampler_kind, kind, __ATOMIC_RELAXED);
    return MEDIA_MIXER_OK;
}

void media_mixer_set_shortcuts(media_mixer_t *m, int on)
{
    pthread_mutex_lock(&m->lock);
    if (!on)
        for (uint32_t d = 0; d < m->total; d++)
            if (m->slots[d].sharing)
                leave_shared(&m->slots[d], 0);
    m->shortcuts = on != 0;
    pthread_mutex_unlock(&m->lock);
}

int media_mixer_shortcuts(media_mixer_t *m)
{
    int on;
    pthread_mutex_lock(&m->lock);
    on = m->shortcuts;
    pthread_mutex_unlock(&m->lock);
    return on;
}

int media_mixer_resampler(const media_mixer_t *m)
{
    return __atomic_load_n(&m->resampler_kind, __ATOMIC_RELAXED);
}

void media_mixer_set_muted(media_mixer_t *m, int muted)
{
    pthread_mutex_lock(&m->lock);
    m->muted = muted != 0;
    pthread_mutex_unlock(&m->lock);
}

int media_mixer_set_echo_canceller(media_mixer_t *m, uint32_t tail_ms)
{
    SpeexEchoState *ec = NULL, *old_ec;
    int16_t *play = NULL, *out = NULL, *old_play, *old_out;
    if (tail_ms > MAX_EC_TAIL_MS)
        return MEDIA_MIXER_EINVAL;
    if (tail_ms) {
        int rate = (int)m->rate;
        ec = speex_echo_state_init((int)m->spf, (int)(tail_ms * m->rate / 1000u));
        play = calloc(m->spf, sizeof(int16_t));
        out = malloc(m->spf * sizeof(int16_t));
        if (ec == NULL || play == NULL || out == NULL) {
            if (ec)
                speex_echo_state_destroy(ec);
            free(play);
            free(out);
            return MEDIA_MIXER_ENOMEM;
        }
        speex_echo_ctl(ec, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
    }
    pthread_mutex_lock(&m->lock);
    old_ec = m->ec;
    old_play = m->ec_play;
    old_out = m->ec_out;
    m->ec = ec;
    m->ec_play = play;
    m->ec_out = out;
    pthread_mutex_unlock(&m->lock);
    if (old_ec)
        speex_echo_state_destroy(old_ec);
    free(old_play);
    free(old_out);
    return MEDIA_MIXER_OK;
}

void media_mixer_reset_echo_canceller(media_mixer_t *m)
{
    pthread_mutex_lock(&m->lock);
    if (m->ec) {
        speex_echo_state_reset(m->ec);
        memset(m->ec_play, 0, m->spf * sizeof(int16_t));
    }
    pthread_mutex_unlock(&m->lock);
}

static uint32_t rms(uint64_t sumsq, uint32_t n)
{
    return (uint32_t)lround(sqrt((double)sumsq / n));
}

int media_mixer_levels(media_mixer_t *m, uint32_t s, media_mixer_levels_t *out)
{
    int status = MEDIA_MIXER_OK;
    pthread_mutex_lock(&m->lock);
    if (s >= m->total || !m->slots[s].used) {
        status = MEDIA_MIXER_ESLOT;
    } else {
        const slot_t *sl = &m->slots[s];
        out->rx_peak = sl->rx_peak;
        out->tx_peak = sl->tx_peak;
        out->rx_rms = rms(sl->rx_sumsq, m->spf);
        out->tx_rms = rms(sl->tx_sumsq, m->spf);
    }
    pthread_mutex_unlock(&m->lock);
    return status;
}

void media_mixer_get_stats(media_mixer_t *m, media_mixer_stats_t *out)
{
    pthread_mutex_lock(&m->lock);
    *out = m->stats;
    pthread_mutex_unlock(&m->lock);
}

/* -- the tick -------------------------------------------------------------------------------- */

/* A source frame nobody hears (in the port's format at `in`: the backlog's next entry for a mono
 * port, io for a stereo one): into the backlog, converted only when the source is heard again
 * (conv_catch_up); the levels from the port's mono frame (the sum of squares scaled to the
 * mixer's frame length). */
static void read_unheard(media_mixer_t *m, slot_t *sl, const int16_t *in)
{
    conv_t *c = &sl->res.rx;
    int16_t *mono = c->backlog + (size_t)c->backlog_next * c->spf;
    const int16_t *level = mono;
    if (c->channels == 2)
        for (uint32_t i = 0; i < c->spf; i++)
            mono[i] = (int16_t)(((int32_t)in[2 * i] + in[2 * i + 1]) >> 1);
    c->backlog_next = (c->backlog_next + 1) % (c->backlog_keep + 1);
    if (c->backlog_pending < c->backlog_keep)
        c->backlog_pending++;
    m->stats.unheard_frames++;
    if (sl->gain[MEDIA_MIXER_RX] == 0)
        return;
    if (sl->gain[MEDIA_MIXER_RX] != UNITY_GAIN) { /* the backlog keeps the frame as it came */
        memcpy(sl->res.io, mono, c->spf * sizeof(int16_t));
        apply_gain(sl->res.io, c->spf, sl->gain[MEDIA_MIXER_RX]);
        level = sl->res.io;
    }
    measure(level, c->spf, &sl->rx_peak, &sl->rx_sumsq);
    sl->rx_sumsq = sl->rx_sumsq * m->spf / c->spf;
}

static inline int is_unheard(const media_mixer_t *m, const slot_t *sl, uint32_t s)
{
    return m->shortcuts && !sl->heard && sl->res.rx.backlog != NULL && s != MEDIA_MIXER_DEVICE_SLOT;
}

/* A source's frame, first half: the port's get_frame, which may leave its decode in the batch. */
static void read_source_start(media_mixer_t *m, uint32_t s)
{
    slot_t *sl = &m->slots[s];
    const conv_t *c = &sl->res.rx;
    int16_t *into = c->identity ? sl->res.frame : sl->res.io;

    if (is_unheard(m, sl, s) && c->channels == 1)
        into = c->backlog + (size_t)c->backlog_next * c->spf; /* no copy */
    sl->rx_into = into;
    if (m->shortcuts && sl->src->get_frame_batch)
        sl->rx_status = sl->src->get_frame_batch(sl->src, into, c->spf, &m->batch);
    else
        sl->rx_status = sl->src->get_frame(sl->src, into, c->spf);
}

/* ... second half, once the batch's decodes have run: conversion, echo cancelling, gain, levels. */
static void read_source_finish(media_mixer_t *m, uint32_t s)
{
    slot_t *sl = &m->slots[s];
    slot_res_t *r = &sl->res;
    conv_t *c = &r->rx;
    int status = sl->rx_status;

    sl->active = 0;
    sl->rx_peak = 0;
    sl->rx_sumsq = 0;
    if (status != MEDIA_PORT_OK) {
        if (status < 0)
            m->stats.get_errors++;
        return;
    }
    if (is_unheard(m, sl, s)) {
        read_unheard(m, sl, sl->rx_into);
        return;
    }
    if (!c->identity) {
        if (c->backlog_pending)
            conv_catch_up(c);
        conv_in(m, c, r->io, r->frame);
    }
    if (s == MEDIA_MIXER_DEVICE_SLOT) {
        if (m->ec) {
            speex_echo_cancellation(m->ec, r->frame, m->ec_play, m->ec_out);
            memcpy(r->frame, m->ec_out, m->spf * sizeof(int16_t));
        }
        if (m->muted)
            return;
    }
    if (sl->gain[MEDIA_MIXER_RX] == 0)
        return;
    if (sl->gain[MEDIA_MIXER_RX] != UNITY_GAIN)
        apply_gain(r->frame, m->spf, sl->gain[MEDIA_MIXER_RX]);
    measure(r->frame, m->spf, &sl->rx_peak, &sl->rx_sumsq);
    sl->active = 1;
}

/* The shared converter the sink `d` takes this tick's output from, joined or run as needed, or NULL
 * when it converts with its own (see "Shortcuts" at the top). `single`: the slot it hears alone at
 * unity gain, or -1. */
static shared_conv_t *shared_output(media_mixer_t *m, slot_t *sl, int single, uint64_t now)
{
    shared_conv_t *e = NULL;
    media_resampler_t *own = sl->res.tx.polyphase;
    if (m->shortcuts && own != NULL && single >= 0)
        e = find_shared(&m->slots[single].res, sl->res.tx.rate, sl->res.tx.minimum_phase);
    if (sl->sharing && sl->sharing != e)
        leave_shared(sl, now);
    if (e == NULL)
        return NULL;
    if (sl->sharing != e) { /* join only where the histories agree: the output is then the same */
        if (e->stamp == now) {
            if (!media_resampler_same_state(own, e->before))
                return NULL;
        } else if (e->stamp != 0 && e->stamp + 1 == now) {
            if (!media_resampler_same_state(own, e->conv))
                return NULL;
        } else { /* nobody used it on the last tick: it takes this sink's history */
            media_resampler_copy_state(e->conv, own);
        }
        sl->sharing = e;
    }
    if (e->stamp != now) {
        media_resampler_copy_state(e->before, e->conv);
        media_resampler_process(e->conv, m->slots[single].res.frame, e->out);
        e->stamp = now;
    } else {
        m->stats.shared_frames++;
    }
    return e;
}

static inline int put_frame(media_mixer_t *m, media_port_t *port, const int16_t *pcm, uint32_t n)
{
    if (m->shortcuts && port->put_frame_batch)
        return port->put_frame_batch(port, pcm, n, &m->batch);
    return port->put_frame(port, pcm, n);
}

static void write_sink(media_mixer_t *m, uint32_t d, uint64_t now)
{
    slot_t *sl = &m->slots[d];
    const uint16_t *list = &m->sources[(size_t)d * m->total];
    const int16_t *first = NULL;
    int16_t *out = m->mix;
    uint32_t n = m->spf, heard = 0;
    int status, single = -1;
    shared_conv_t *shared;

    for (uint32_t i = 0; i < sl->n_sources; i++) {
        const slot_t *from = &m->slots[list[i]];
        if (!from->active)
            continue;
        if (heard == 0) {
            first = from->res.frame;
            single = list[i];
        }
        else if (heard == 1)
            add2(m->acc, first, from->res.frame, n);
        else
            add1(m->acc, from->res.frame, n);
        heard++;
    }
    if (heard == 0) {
        memset(out, 0, n * sizeof(int16_t));
    } else if (heard == 1) {
        if (sl->gain[MEDIA_MIXER_TX] == UNITY_GAIN)
            out = (int16_t *)first; /* read only from here on: no copy needed */
        else
            memcpy(out, first, n * sizeof(int16_t));
    } else {
        saturate(out, m->acc, n);
    }
    if (heard && sl->gain[MEDIA_MIXER_TX] != UNITY_GAIN)
        apply_gain(out, n, sl->gain[MEDIA_MIXER_TX]);
    if (heard == 1 && out == first) { /* the source's own frame: its levels are already known */
        const slot_t *from = &m->slots[single];
        sl->tx_peak = from->rx_peak;
        sl->tx_sumsq = from->rx_sumsq;
    } else if (heard) {
        measure(out, n, &sl->tx_peak, &sl->tx_sumsq);
    } else {
        sl->tx_peak = 0;
        sl->tx_sumsq = 0;
    }
    if (d == MEDIA_MIXER_DEVICE_SLOT && m->ec)
        memcpy(m->ec_play, out, n * sizeof(int16_t));
    if (heard != 1 || sl->gain[MEDIA_MIXER_TX] != UNITY_GAIN)
        single = -1;
    if (sl->res.tx.identity) {
        status = put_frame(m, sl->dst, out, n);
    } else if ((shared = shared_output(m, sl, single, now)) != NULL) {
        const conv_t *c = &sl->res.tx;
        if (c->channels == 2) {
            for (uint32_t i = 0; i < c->spf; i++)
                sl->res.io[2 * i] = sl->res.io[2 * i + 1] = shared->out[i];
            status = put_frame(m, sl->dst, sl->res.io, c->spf);
        } else {
            status = put_frame(m, sl->dst, shared->out, c->spf);
        }
    } else {
        conv_out(m, &sl->res.tx, out, sl->res.io);
        status = put_frame(m, sl->dst, sl->res.io, sl->res.tx.spf);
    }
    if (status < 0)
        m->stats.put_errors++;
}

/* Which slots some sink hears (lock held). */
static void mark_heard(media_mixer_t *m)
{
    for (uint32_t s = 0; s < m->total; s++)
        m->slots[s].heard = 0;
    for (uint32_t d = 0; d < m->total; d++) {
        const slot_t *sl = &m->slots[d];
        const uint16_t *list = &m->sources[(size_t)d * m->total];
        if (sl->used && sl->dst)
            for (uint32_t i = 0; i < sl->n_sources; i++)
                m->slots[list[i]].heard = 1;
    }
}

/* The first source (direction RX) or sink (TX) slot from `s` on, or m->total. */
static inline uint32_t next_port(const media_mixer_t *m, uint32_t s, int direction)
{
    for (; s < m->total; s++)
        if (m->slots[s].used && (direction == MEDIA_MIXER_RX ? m->slots[s].src : m->slots[s].dst))
            break;
    return s;
}

/* A port's first cache lines: the port struct, and its owner's state that usually follows it (a
 * stream's), fetched while the slot before it is served. With a few hundred ports their state does
 * not stay in the cache from one tick to the next; the loads would otherwise wait, one port after
 * the other. */
static inline void prefetch_port(const media_port_t *port)
{
    __builtin_prefetch(port);
    __builtin_prefetch((const char *)port + 64);
}

void media_mixer_tick(media_mixer_t *m)
{
    uint64_t now;
    uint32_t s, next;
    pthread_mutex_lock(&m->lock);
    now = m->stats.ticks + 1;
    if (m->shortcuts)
        mark_heard(m);
    for (s = next_port(m, 0, MEDIA_MIXER_RX); s < m->total; s = next) {
        next = next_port(m, s + 1, MEDIA_MIXER_RX);
        if (next < m->total)
            prefetch_port(m->slots[next].src);
        read_source_start(m, s);
    }
    m->stats.batched_frames += tick_batch_run_decodes(&m->batch);
    for (s = next_port(m, 0, MEDIA_MIXER_RX); s < m->total; s = next_port(m, s + 1, MEDIA_MIXER_RX))
        read_source_finish(m, s);
    for (s = next_port(m, 0, MEDIA_MIXER_TX); s < m->total; s = next) {
        next = next_port(m, s + 1, MEDIA_MIXER_TX);
        if (next < m->total) {
            prefetch_port(m->slots[next].dst);
            __builtin_prefetch(&m->sources[(size_t)next * m->total]);
        }
        write_sink(m, s, now);
    }
    m->stats.batched_frames += tick_batch_run_encodes(&m->batch);
    m->stats.ticks++;
    pthread_mutex_unlock(&m->lock);
}
