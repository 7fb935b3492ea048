/*
 * padev.c - the device bridge and PortAudio sound devices (see padev.h).
 *
 * The capture ring is single-producer single-consumer: the producer owns `tail`, the consumer
 * `head`; each publishes its index with a release store after touching the samples and reads the
 * other's with an acquire load, so no lock is needed between a device's input thread and the
 * thread that ticks the mixer. Indexes count samples since the last reset (64 bits: they never
 * wrap); the ring's size is a power of two.
 */
#include "padev.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <portaudio.h>
#ifdef __linux__
#include <alsa/asoundlib.h>
#endif

#define RING_MIN 16384u /* samples; at least 16 frames */

struct media_bridge {
    media_port_t capture;  /* first: the port's address is the bridge's */
    media_port_t playback;
    uint32_t frame;
    media_bridge_tick_fn tick;
    void *arg;
    int16_t *ring;
    uint64_t size, mask;
    uint64_t head; /* consumer: next sample to read */
    uint64_t tail; /* producer: next sample to write */
    int16_t *play; /* the last frame the mixer played, `play_pos` samples of it already given */
    uint32_t play_pos, play_len;
    /* counters: the producer's are atomics, the driver's are plain */
    uint64_t captured, capture_overflows;
    uint64_t largest; /* the largest capture callback so far (producer writes, consumer reads) */
    uint64_t ticks, played, capture_underruns, capture_trimmed, playback_overflows;
};

static media_bridge_t *bridge_of_playback(media_port_t *port)
{
    return (media_bridge_t *)port->user_data;
}

/* Consumer side (the tick): one frame from the ring, or silence. */
static int bridge_capture_get(media_port_t *port, int16_t *pcm, size_t n)
{
    media_bridge_t *b = (media_bridge_t *)port->user_data;
    uint64_t head = b->head, tail = __atomic_load_n(&b->tail, __ATOMIC_ACQUIRE);
    size_t first;
    /* Capture running ahead of the ticks (another clock): drop whole frames. When the playback
     * drives, the fill at a tick is at most one frame plus one capture buffer; more than one frame
     * beyond that is drift. */
    uint64_t high = 2u * (uint64_t)b->frame + __atomic_load_n(&b->largest, __ATOMIC_RELAXED);
    while (tail - head > high) {
        head += b->frame;
        b->capture_trimmed++;
    }
    if (tail - head < n) {
        __atomic_store_n(&b->head, head, __ATOMIC_RELEASE);
        b->capture_underruns++;
        return MEDIA_PORT_SILENCE;
    }
    first = (size_t)(b->size - (head & b->mask));
    if (first >= n) {
        memcpy(pcm, b->ring + (head & b->mask), n * sizeof(int16_t));
    } else {
        memcpy(pcm, b->ring + (head & b->mask), first * sizeof(int16_t));
        memcpy(pcm + first, b->ring, (n - first) * sizeof(int16_t));
    }
    __atomic_store_n(&b->head, head + n, __ATOMIC_RELEASE);
    return MEDIA_PORT_OK;
}

static int bridge_playback_put(media_port_t *port, const int16_t *pcm, size_t n)
{
    media_bridge_t *b = bridge_of_playback(port);
    if (b->play_pos < b->play_len)
        b->playback_overflows++;
    memcpy(b->play, pcm, n * sizeof(int16_t));
    b->play_pos = 0;
    b->play_len = (uint32_t)n;
    return MEDIA_PORT_OK;
}

int media_bridge_create(uint32_t rate, uint32_t frame, media_bridge_tick_fn tick, void *arg, media_bridge_t **out)
{
    media_bridge_t *b;
    uint64_t size = RING_MIN;
    *out = NULL;
    if (frame == 0 || tick == NULL)
        return -EINVAL;
    while (size < 16u * (uint64_t)frame)
        size *= 2;
    if ((b = calloc(1, sizeof(*b))) == NULL)
        return -ENOMEM;
    b->ring = calloc(size, sizeof(int16_t));
    b->play = calloc(frame, sizeof(int16_t));
    if (b->ring == NULL || b->play == NULL) {
        media_bridge_destroy(b);
        return -ENOMEM;
    }
    b->size = size;
    b->mask = size - 1;
    b->frame = frame;
    b->tick = tick;
    b->arg = arg;
    media_port_init(&b->capture, "device-capture", rate, 1, frame);
    b->capture.get_frame = bridge_capture_get;
    b->capture.user_data = b;
    media_port_init(&b->playback, "device-playback", rate, 1, frame);
    b->playback.put_frame = bridge_playback_put;
    b->playback.user_data = b;
    *out = b;
    return 0;
}

void media_bridge_destroy(media_bridge_t *b)
{
    if (b == NULL)
        return;
    free(b->ring);
    free(b->play);
    free(b);
}

media_port_t *media_bridge_capture_port(media_bridge_t *b) { return &b->capture; }
media_port_t *media_bridge_playback_port(media_bridge_t *b) { return &b->playback; }

void media_bridge_reset(media_bridge_t *b, int prefill)
{
    memset(b->ring, 0, b->size * sizeof(int16_t));
    __atomic_store_n(&b->head, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&b->tail, prefill ? (uint64_t)b->frame : 0, __ATOMIC_RELEASE);
    __atomic_store_n(&b->largest, 0, __ATOMIC_RELAXED);
    b->play_pos = b->play_len = 0;
}

void media_bridge_capture(media_bridge_t *b, const int16_t *in, uint32_t channels, size_t frames)
{
    uint64_t tail = b->tail, head = __atomic_load_n(&b->head, __ATOMIC_ACQUIRE);
    size_t room = (size_t)(b->size - (tail - head)), take = frames < room ? frames : room;
    for (size_t i = 0; i < take; i++, tail++) {
        int16_t v = channels == 2 ? (int16_t)(((int32_t)in[2 * i] + in[2 * i + 1]) >> 1) : in[i * channels];
        b->ring[tail & b->mask] = v;
    }
    if (frames > __atomic_load_n(&b->largest, __ATOMIC_RELAXED))
        __atomic_store_n(&b->largest, (uint64_t)frames, __ATOMIC_RELAXED);
    __atomic_store_n(&b->tail, tail, __ATOMIC_RELEASE);
    __atomic_add_fetch(&b->captured, frames, __ATOMIC_RELAXED);
    if (take < frames)
        __atomic_add_fetch(&b->capture_overflows, frames - take, __ATOMIC_RELAXED);
}

void media_bridge_playback(media_bridge_t *b, int16_t *out, uint32_t channels, size_t frames)
{
    size_t done = 0;
    while (done < frames) {
        size_t k;
        if (b->play_pos == b->play_len) {
            b->play_pos = b->play_len = 0;
            b->tick(b->arg);
            b->ticks++;
            if (b->play_len == 0) { /* the playback port is not in a mixer: silence */
                memset(out + done * channels, 0, (frames - done) * channels * sizeof(int16_t));
                break;
            }
        }
        k = b->play_len - b->play_pos;
        if (k > frames - done)
            k = frames - done;
        if (channels == 1) {
            memcpy(out + done, b->play + b->play_pos, k * sizeof(int16_t));
        } else {
            for (size_t i = 0; i < k; i++)
                for (uint32_t c = 0; c < channels; c++)
                    out[(done + i) * channels + c] = b->play[b->play_pos + i];
        }
        done += k;
        b->play_pos += (uint32_t)k;
    }
    b->played += frames;
}

void media_bridge_pump(media_bridge_t *b)
{
    while (__atomic_load_n(&b->tail, __ATOMIC_ACQUIRE) - b->head >= b->frame) {
        uint64_t before = b->head;
        b->tick(b->arg);
        b->ticks++;
        if (b->head == before) /* the capture port is not in a mixer: the trim keeps the ring bounded */
            break;
    }
}

void media_bridge_get_stats(media_bridge_t *b, media_bridge_stats_t *out)
{
    out->ticks = b->ticks;
    out->captured = __atomic_load_n(&b->captured, __ATOMIC_RELAXED);
    out->played = b->played;
    out->capture_underruns = b->capture_underruns;
    out->capture_overflows = __atomic_load_n(&b->capture_overflows, __ATOMIC_RELAXED);
    out->capture_trimmed = b->capture_trimmed;
    out->playback_overflows = b->playback_overflows;
}

/* -- PortAudio ------------------------------------------------------------------------------------ */

struct media_padev {
    media_bridge_t *bridge;
    PaStream *duplex;     /* one stream for both sides, or: */
    PaStream *in_stream;  /* the input alone (feeds the ring; drives when there is no output) */
    PaStream *out_stream; /* the output alone (drives) */
    int has_in, has_out;
    uint32_t in_channels, out_channels;
    double in_latency, out_latency;
    int running;
    int stopping; /* atomic: a stop was asked for, the finished callbacks are expected */
    media_event_queue_t *events;
    uint64_t source;
    int64_t tag;
};

static int duplex_callback(const void *input, void *output, unsigned long frames,
                           const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *data)
{
    media_padev_t *d = data;
    (void)time, (void)flags;
    if (input != NULL)
        media_bridge_capture(d->bridge, input, d->in_channels, frames);
    media_bridge_playback(d->bridge, output, d->out_channels, frames);
    return paContinue;
}

static int output_callback(const void *input, void *output, unsigned long frames,
                           const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *data)
{
    media_padev_t *d = data;
    (void)input, (void)time, (void)flags;
    media_bridge_playback(d->bridge, output, d->out_channels, frames);
    return paContinue;
}

static int input_callback(const void *input, void *output, unsigned long frames,
                          const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags, void *data)
{
    media_padev_t *d = data;
    (void)output, (void)time, (void)flags;
    if (input != NULL)
        media_bridge_capture(d->bridge, input, d->in_channels, frames);
    if (!d->has_out) /* nobody else drives the mixer */
        media_bridge_pump(d->bridge);
    return paContinue;
}

static void post_stopped(media_padev_t *d, int which)
{
    if (!__atomic_load_n(&d->stopping, __ATOMIC_ACQUIRE))
        media_event_post(d->events, MEDIA_EVENT_DEVICE_STOPPED, d->source, which, d->tag);
}

static void duplex_finished(void *data) { post_stopped(data, MEDIA_PADEV_INPUT | MEDIA_PADEV_OUTPUT); }
static void input_finished(void *data) { post_stopped(data, MEDIA_PADEV_INPUT); }
static void output_finished(void *data) { post_stopped(data, MEDIA_PADEV_OUTPUT); }

/* Mono when the device takes it, else stereo. */
static int stream_parameters(int device, int input, uint32_t rate, PaStreamParameters *p)
{
    const PaDeviceInfo *info = Pa_GetDeviceInfo(device);
    int err = paInvalidDevice;
    if (info == NULL)
        return paInvalidDevice;
    memset(p, 0, sizeof(*p));
    p->device = device;
    p->sampleFormat = paInt16;
    p->suggestedLatency = input ? info->defaultLowInputLatency : info->defaultLowOutputLatency;
    p->hostApiSpecificStreamInfo = NULL;
    for (int channels = 1; channels <= 2; channels++) {
        if ((input ? info->maxInputChannels : info->maxOutputChannels) < channels)
            break;
        p->channelCount = channels;
        err = input ? Pa_IsFormatSupported(p, NULL, rate) : Pa_IsFormatSupported(NULL, p, rate);
        if (err == paFormatIsSupported)
            return paNoError;
    }
    return err == paFormatIsSupported ? paInvalidChannelCount : err;
}

int media_padev_open(const media_padev_config_t *config, media_padev_t **out, int *which)
{
    media_padev_t *d;
    PaStreamParameters in, out_params;
    const PaStreamInfo *info;
    int err = paNoError;

    *out = NULL;
    *which = 0;
    if (config->input_device < 0 && config->output_device < 0)
        return paInvalidDevice;
    if ((d = calloc(1, sizeof(*d))) == NULL)
        return paInsufficientMemory;
    if (media_bridge_create(config->rate, config->frame, config->tick, config->tick_arg, &d->bridge) != 0) {
        free(d);
        return paInsufficientMemory;
    }
    d->has_in = config->input_device >= 0;
    d->has_out = config->output_device >= 0;
    d->events = config->events;
    d->source = config->source;
    d->tag = config->tag;
    if (d->has_in && (err = stream_parameters(config->input_device, 1, config->rate, &in)) != paNoError) {
        *which = MEDIA_PADEV_INPUT;
        goto fail;
    }
    if (d->has_out && (err = stream_parameters(config->output_device, 0, config->rate, &out_params)) != paNoError) {
        *which = MEDIA_PADEV_OUTPUT;
        goto fail;
    }
    d->in_channels = d->has_in ? (uint32_t)in.channelCount : 0;
    d->out_channels = d->has_out ? (uint32_t)out_params.channelCount : 0;
    if (d->has_in && d->has_out &&
        Pa_GetDeviceInfo(in.device)->hostApi == Pa_GetDeviceInfo(out_params.device)->hostApi &&
        Pa_OpenStream(&d->duplex, &in, &out_params, config->rate, paFramesPerBufferUnspecified, paDitherOff,
                      duplex_callback, d) == paNoError) {
        Pa_SetStreamFinishedCallback(d->duplex, duplex_finished);
        if ((info = Pa_GetStreamInfo(d->duplex)) != NULL) {
            d->in_latency = info->inputLatency;
            d->out_latency = info->outputLatency;
        }
    } else {
        d->duplex = NULL; /* two streams: the output drives, the input feeds the ring */
        if (d->has_out) {
            err = Pa_OpenStream(&d->out_stream, NULL, &out_params, config->rate, paFramesPerBufferUnspecified,
                                paDitherOff, output_callback, d);
            if (err != paNoError) {
                d->out_stream = NULL;
                *which = MEDIA_PADEV_OUTPUT;
                goto fail;
            }
            Pa_SetStreamFinishedCallback(d->out_stream, output_finished);
            if ((info = Pa_GetStreamInfo(d->out_stream)) != NULL)
                d->out_latency = info->outputLatency;
        }
        if (d->has_in) {
            err = Pa_OpenStream(&d->in_stream, &in, NULL, config->rate, paFramesPerBufferUnspecified, paDitherOff,
                                input_callback, d);
            if (err != paNoError) {
                d->in_stream = NULL;
                *which = MEDIA_PADEV_INPUT;
                goto fail;
            }
            Pa_SetStreamFinishedCallback(d->in_stream, input_finished);
            if ((info = Pa_GetStreamInfo(d->in_stream)) != NULL)
                d->in_latency = info->inputLatency;
        }
    }
    *out = d;
    return paNoError;
fail:
    media_padev_close(d);
    return err;
}

int media_padev_start(media_padev_t *d)
{
    int err = paNoError;
    if (d->running)
        return paNoError;
    __atomic_store_n(&d->stopping, 0, __ATOMIC_RELEASE);
    media_bridge_reset(d->bridge, d->has_in && d->has_out);
    if (d->duplex) {
        err = Pa_StartStream(d->duplex);
    } else {
        if (d->in_stream)
            err = Pa_StartStream(d->in_stream);
        if (err == paNoError && d->out_stream && (err = Pa_StartStream(d->out_stream)) != paNoError && d->in_stream) {
            __atomic_store_n(&d->stopping, 1, __ATOMIC_RELEASE);
            Pa_StopStream(d->in_stream);
        }
    }
    d->running = err == paNoError;
    return err;
}

void media_padev_stop(media_padev_t *d)
{
    if (!d->running)
        return;
    __atomic_store_n(&d->stopping, 1, __ATOMIC_RELEASE);
    if (d->duplex)
        Pa_StopStream(d->duplex);
    if (d->out_stream)
        Pa_StopStream(d->out_stream);
    if (d->in_stream)
        Pa_StopStream(d->in_stream);
    d->running = 0;
}

void media_padev_close(media_padev_t *d)
{
    if (d == NULL)
        return;
    media_padev_stop(d);
    __atomic_store_n(&d->stopping, 1, __ATOMIC_RELEASE);
    if (d->duplex)
        Pa_CloseStream(d->duplex);
    if (d->out_stream)
        Pa_CloseStream(d->out_stream);
    if (d->in_stream)
        Pa_CloseStream(d->in_stream);
    media_bridge_destroy(d->bridge);
    free(d);
}

int media_padev_running(const media_padev_t *d) { return d->running; }
int media_padev_duplex(const media_padev_t *d) { return d->duplex != NULL; }

uint32_t media_padev_channels(const media_padev_t *d, int which)
{
    return which == MEDIA_PADEV_INPUT ? d->in_channels : d->out_channels;
}

double media_padev_latency(const media_padev_t *d, int which)
{
    return which == MEDIA_PADEV_INPUT ? d->in_latency : d->out_latency;
}

media_port_t *media_padev_capture_port(media_padev_t *d)
{
    return d->has_in ? media_bridge_capture_port(d->bridge) : NULL;
}

media_port_t *media_padev_playback_port(media_padev_t *d)
{
    return d->has_out ? media_bridge_playback_port(d->bridge) : NULL;
}

media_bridge_t *media_padev_bridge(media_padev_t *d) { return d->bridge; }


/* --- quiet initialisation ---------------------------------------------------------------------- */

#ifdef __linux__
static void quiet_alsa(const char *file, int line, const char *function, int err, const char *fmt, ...)
{
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}
#endif

int media_padev_initialize(int verbose)
{
    int saved = -1, devnull = -1;
    int err;
    if (!verbose) {
#ifdef __linux__
        snd_lib_error_set_handler(quiet_alsa);
#endif
        fflush(stderr);
        saved = dup(STDERR_FILENO);
        devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (saved >= 0 && devnull >= 0)
            dup2(devnull, STDERR_FILENO);
    }
    err = Pa_Initialize();
    if (saved >= 0) {
        fflush(stderr);
        dup2(saved, STDERR_FILENO);
        close(saved);
    }
    if (devnull >= 0)
        close(devnull);
    return err;
}
