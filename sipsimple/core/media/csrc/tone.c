/*
 * tone.c - the tone generator port (see tone.h).
 *
 * Synthesis: each component is a phase accumulator in double precision. Within one stretch of a
 * frame the sine comes from the recurrence y[k+1] = 2 cos(w) y[k] - y[k-1], started from two exact
 * sin() values, so a frame costs two sin() calls per component instead of one per sample and the
 * phase is exact again at the next stretch.
 */
#include "tone.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TWO_PI 6.283185307179586

typedef struct active {
    media_tone_t tone;
    uint32_t on_total, on_left, off_left; /* samples */
    double phase1, phase2;
} active_t;

struct media_tonegen {
    media_port_t port; /* first */
    pthread_mutex_t lock;
    media_tone_t queue[MEDIA_TONE_QUEUE];
    size_t first, count;
    int playing; /* `current` is valid */
    active_t current;
    int announced; /* the end of the current run of tones was posted */
    media_event_queue_t *events;
    uint64_t source;
    int64_t generation;
    uint32_t ramp;
    int32_t *acc; /* one frame */
};

static const char DTMF_KEYS[] = "123A456B789C*0#D";
static const uint32_t DTMF_LOW[] = {697, 770, 852, 941};
static const uint32_t DTMF_HIGH[] = {1209, 1336, 1477, 1633};

int media_tone_dtmf(char digit, uint32_t *low, uint32_t *high)
{
    if (digit >= 'a' && digit <= 'd')
        digit = (char)(digit - 'a' + 'A');
    for (int i = 0; i < 16; i++) {
        if (DTMF_KEYS[i] == digit) {
            *low = DTMF_LOW[i / 4];
            *high = DTMF_HIGH[i % 4];
            return 0;
        }
    }
    return -1;
}

/* Adds one component over k samples starting at on-position `pos`, with the ramp envelope. */
static void synth(int32_t *acc, uint32_t k, double *phase, uint32_t freq, uint32_t rate, int32_t amp)
{
    double w = TWO_PI * freq / rate;
    double c = 2.0 * cos(w), y0 = sin(*phase - w), y1 = sin(*phase);
    for (uint32_t i = 0; i < k; i++) {
        double y2;
        acc[i] += (int32_t)lrint(y1 * amp);
        y2 = c * y1 - y0;
        y0 = y1;
        y1 = y2;
    }
    *phase = fmod(*phase + w * k, TWO_PI);
}

static void start_next(media_tonegen_t *g)
{
    media_tone_t *t = &g->queue[g->first];
    uint32_t rate = g->port.clock_rate;
    g->current.tone = *t;
    g->current.on_total = g->current.on_left = (uint32_t)((uint64_t)t->on_ms * rate / 1000u);
    g->current.off_left = (uint32_t)((uint64_t)t->off_ms * rate / 1000u);
    g->current.phase1 = g->current.phase2 = 0.0;
    g->first = (g->first + 1) % MEDIA_TONE_QUEUE;
    g->count--;
    g->playing = 1;
    g->announced = 0;
}

static int get_frame(media_port_t *port, int16_t *pcm, size_t n)
{
    media_tonegen_t *g = (media_tonegen_t *)port;
    int32_t *acc = g->acc;
    size_t done = 0;
    int sound = 0;

    pthread_mutex_lock(&g->lock);
    if ((!g->playing && g->count == 0) || n > port->samples_per_frame) {
        pthread_mutex_unlock(&g->lock);
        return MEDIA_PORT_SILENCE;
    }
    memset(acc, 0, n * sizeof(int32_t));
    while (done < n) {
        active_t *a = &g->current;
        if (!g->playing || (a->on_left == 0 && a->off_left == 0)) {
            g->playing = 0;
            if (g->count == 0)
                break;
            start_next(g);
            continue;
        }
        if (a->on_left) {
            uint32_t k = (uint32_t)(n - done) < a->on_left ? (uint32_t)(n - done) : a->on_left;
            uint32_t pos = a->on_total - a->on_left;
            int32_t *out = acc + done;
            if (a->tone.freq1)
                synth(out, k, &a->phase1, a->tone.freq1, port->clock_rate, a->tone.amplitude);
            if (a->tone.freq2)
                synth(out, k, &a->phase2, a->tone.freq2, port->clock_rate, a->tone.amplitude);
            /* linear ramps at both ends of the tone */
            for (uint32_t i = 0; i < k && g->ramp; i++) {
                uint32_t from_start = pos + i, to_end = a->on_total - 1 - (pos + i);
                uint32_t edge = from_start < to_end ? from_start : to_end;
                if (edge < g->ramp)
                    out[i] = (int32_t)((int64_t)out[i] * edge / g->ramp);
            }
            a->on_left -= k;
            done += k;
            sound = 1;
        } else {
            uint32_t k = (uint32_t)(n - done) < a->off_left ? (uint32_t)(n - done) : a->off_left;
            a->off_left -= k;
            done += k;
        }
    }
    if (g->playing && g->current.on_left == 0 && g->current.off_left == 0 && g->count == 0)
        g->playing = 0;
    if (!g->playing && g->count == 0 && !g->announced) {
        g->announced = 1;
        media_event_post(g->events, MEDIA_EVENT_TONE_END, g->source, g->generation, 0);
    }
    if (sound) {
        for (size_t i = 0; i < n; i++)
            pcm[i] = acc[i] > 32767 ? 32767 : (acc[i] < -32768 ? -32768 : (int16_t)acc[i]);
    }
    pthread_mutex_unlock(&g->lock);
    return sound ? MEDIA_PORT_OK : MEDIA_PORT_SILENCE;
}

int media_tonegen_create(uint32_t clock_rate, uint32_t spf, media_tonegen_t **out)
{
    media_tonegen_t *g;
    *out = NULL;
    if (clock_rate < MEDIA_PORT_MIN_RATE || clock_rate > MEDIA_PORT_MAX_RATE || spf == 0)
        return -1;
    if ((g = calloc(1, sizeof(*g))) == NULL)
        return -2;
    if ((g->acc = malloc(spf * sizeof(int32_t))) == NULL || pthread_mutex_init(&g->lock, NULL) != 0) {
        free(g->acc);
        free(g);
        return -2;
    }
    media_port_init(&g->port, "tone-generator", clock_rate, 1, spf);
    g->port.get_frame = get_frame;
    g->port.user_data = g;
    g->ramp = clock_rate * MEDIA_TONE_RAMP_MS / 1000u;
    g->announced = 1; /* nothing played yet: nothing to announce */
    *out = g;
    return 0;
}

void media_tonegen_destroy(media_tonegen_t *g)
{
    if (g == NULL)
        return;
    pthread_mutex_destroy(&g->lock);
    free(g->acc);
    free(g);
}

media_port_t *media_tonegen_port(media_tonegen_t *g)
{
    return &g->port;
}

void media_tonegen_set_events(media_tonegen_t *g, media_event_queue_t *queue, uint64_t source)
{
    pthread_mutex_lock(&g->lock);
    g->events = queue;
    g->source = source;
    pthread_mutex_unlock(&g->lock);
}

int media_tonegen_play(media_tonegen_t *g, const media_tone_t *tones, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const media_tone_t *t = &tones[i];
        if (t->amplitude < 0 || t->amplitude > 32767 || t->freq1 * 2 > g->port.clock_rate ||
            t->freq2 * 2 > g->port.clock_rate || t->on_ms > 3600000u || t->off_ms > 3600000u)
            return -1;
    }
    pthread_mutex_lock(&g->lock);
    if (g->count + count > MEDIA_TONE_QUEUE) {
        pthread_mutex_unlock(&g->lock);
        return -2;
    }
    for (size_t i = 0; i < count; i++)
        g->queue[(g->first + g->count + i) % MEDIA_TONE_QUEUE] = tones[i];
    g->count += count;
    if (count)
        g->announced = 0;
    pthread_mutex_unlock(&g->lock);
    return 0;
}

void media_tonegen_clear(media_tonegen_t *g, int64_t generation)
{
    pthread_mutex_lock(&g->lock);
    g->count = 0;
    g->playing = 0;
    g->announced = 1;
    g->generation = generation;
    pthread_mutex_unlock(&g->lock);
}

int media_tonegen_busy(media_tonegen_t *g)
{
    int busy;
    pthread_mutex_lock(&g->lock);
    busy = g->playing || g->count > 0;
    pthread_mutex_unlock(&g->lock);
    return busy;
}
