/*
 * padev.h - sound devices through PortAudio, and the bridge between a device's buffers and the
 * mixer's frames.
 *
 * The bridge (sans-IO: no PortAudio, no thread of its own) adapts whatever buffer size a device
 * delivers (256 samples, 441, a different size on every callback...) to the mixer's fixed frame:
 *   - capture: media_bridge_capture() puts device samples into a single-producer single-consumer
 *     ring (lock-free: the producer may be another device thread); the bridge's capture port gives
 *     the mixer one frame from it per tick (silence, counted, when a whole frame is not there);
 *   - playback: media_bridge_playback() fills a device buffer from the frames the bridge's
 *     playback port received, running one mixer tick (the tick function) each time it has nothing
 *     left to give. The device's callback thus drives the mixer: no clock thread is needed;
 *   - a device with capture only drives the mixer with media_bridge_pump(): one tick for every
 *     whole frame captured.
 * When the playback drives, the capture ring starts with one frame of silence: then a whole frame
 * has always arrived by the time a tick needs it, whatever the buffer sizes, and the bridge adds
 * exactly one frame of latency in each direction. Capture that outruns the ticks (two devices on
 * different clocks) by more than a frame beyond the largest capture buffer is trimmed a frame at a
 * time, counted; a buffer that does not fit the ring (16 frames, at least 16384 samples) loses
 * its excess, counted. Stereo device buffers are averaged
 * into the mono mixer and mono frames are copied to every output channel.
 *
 * Threads: media_bridge_capture() from one thread at a time (the producer), everything else on
 * the driving thread (the device callback, or a test), never concurrently with itself. Reset and
 * destroy only while no device thread runs.
 *
 * PortAudio devices (media_padev_*): one or two PortAudio streams (one full-duplex stream when the
 * input and the output can share it, else an output stream that drives plus an input stream that
 * feeds the ring), 16-bit, at the mixer's rate, with the host's preferred buffer size. A stream
 * that stops without being asked (device unplugged, host error) posts MEDIA_EVENT_DEVICE_STOPPED.
 * Open/start/stop/close are called from the controlling thread, with PortAudio initialised, one
 * call at a time (PortAudio is not thread-safe for them).
 */
#ifndef SIPSIMPLE_MEDIA_PADEV_H
#define SIPSIMPLE_MEDIA_PADEV_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device-range events (events.h reserves 0x0301 and 0x0302 for the device list and the defaults). */
#define MEDIA_EVENT_DEVICE_STOPPED 0x0303u /* a device stream stopped by itself; a = which (below), b = tag */
#define MEDIA_EVENT_DEVICE_FAILED 0x0304u  /* a device could not be opened; a = which, b = tag */

#define MEDIA_PADEV_INPUT 1
#define MEDIA_PADEV_OUTPUT 2

/* -- the bridge -------------------------------------------------------------------------------- */

typedef struct media_bridge media_bridge_t;
typedef void (*media_bridge_tick_fn)(void *arg);

typedef struct media_bridge_stats {
    uint64_t ticks;             /* ticks the bridge ran */
    uint64_t captured;          /* samples (per channel) given to media_bridge_capture */
    uint64_t played;            /* samples (per channel) written by media_bridge_playback */
    uint64_t capture_underruns; /* frames the mixer got as silence: not enough captured */
    uint64_t capture_overflows; /* samples dropped: the ring was full */
    uint64_t capture_trimmed;   /* frames dropped because capture ran ahead (two clocks) */
    uint64_t playback_overflows; /* frames replaced before the device took them (ticks not driven
                                    by the device) */
} media_bridge_stats_t;

/* frame: the mixer's samples per frame; rate: its clock rate (for the ports). */
int media_bridge_create(uint32_t rate, uint32_t frame, media_bridge_tick_fn tick, void *arg,
                        media_bridge_t **out);
void media_bridge_destroy(media_bridge_t *bridge);
media_port_t *media_bridge_capture_port(media_bridge_t *bridge);
media_port_t *media_bridge_playback_port(media_bridge_t *bridge);

/* Empties both sides; with `prefill`, the capture ring starts with one frame of silence. */
void media_bridge_reset(media_bridge_t *bridge, int prefill);
/* Producer side: `frames` samples per channel, interleaved `channels` (1 or 2). */
void media_bridge_capture(media_bridge_t *bridge, const int16_t *in, uint32_t channels, size_t frames);
/* Driver side: fills `frames` samples per channel, ticking the mixer as needed. */
void media_bridge_playback(media_bridge_t *bridge, int16_t *out, uint32_t channels, size_t frames);
/* Driver side without playback: one tick per whole frame waiting in the capture ring. */
void media_bridge_pump(media_bridge_t *bridge);
void media_bridge_get_stats(media_bridge_t *bridge, media_bridge_stats_t *out);

/* -- PortAudio devices --------------------------------------------------------------------------- */

typedef struct media_padev media_padev_t;

typedef struct media_padev_config {
    int input_device;        /* PortAudio device index, or -1 (no input) */
    int output_device;       /* PortAudio device index, or -1 (no output) */
    uint32_t rate, frame;    /* the mixer's */
    media_bridge_tick_fn tick;
    void *tick_arg;
    media_event_queue_t *events; /* for MEDIA_EVENT_DEVICE_STOPPED; may be NULL */
    uint64_t source;
    int64_t tag;
} media_padev_config_t;

/* Returns 0 (paNoError) or a PortAudio error code; *which says which side failed
 * (MEDIA_PADEV_INPUT or MEDIA_PADEV_OUTPUT). Streams are opened, not started. */
int media_padev_open(const media_padev_config_t *config, media_padev_t **out, int *which);
int media_padev_start(media_padev_t *dev); /* 0 or a PortAudio error code */
void media_padev_stop(media_padev_t *dev); /* returns once the callbacks have finished */
void media_padev_close(media_padev_t *dev); /* stops first */
int media_padev_running(const media_padev_t *dev);
int media_padev_duplex(const media_padev_t *dev); /* 1: one full-duplex stream */
uint32_t media_padev_channels(const media_padev_t *dev, int which);
double media_padev_latency(const media_padev_t *dev, int which); /* seconds, as PortAudio reports */
media_port_t *media_padev_capture_port(media_padev_t *dev);  /* NULL without input */
media_port_t *media_padev_playback_port(media_padev_t *dev); /* NULL without output */
media_bridge_t *media_padev_bridge(media_padev_t *dev);

/* Pa_Initialize() with the sound libraries' own chatter kept off stderr (unless `verbose`): ALSA's
 * error messages go to a handler that drops them (for the whole process, from then on), and what
 * JACK's client library prints while PortAudio probes for a server is discarded by pointing fd 2
 * at /dev/null for the duration of the call. Returns PortAudio's error code (0: paNoError). */
int media_padev_initialize(int verbose);

#ifdef __cplusplus
}
#endif

#endif
