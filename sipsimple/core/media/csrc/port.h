/*
 * port.h - the audio port interface of the media engine.
 *
 * A port is anything that produces and/or consumes frames of PCM audio on the mixer's clock:
 * the sound device (slot 0 of a mixer), RTP audio streams, WAV players and recorders, tone
 * generators. The mixer (mixer.h) holds ports in slots and, once per tick, calls get_frame() on
 * every source port and put_frame() on every sink port.
 *
 * Contract for implementers:
 *   - PCM is interleaved int16_t in host byte order. `n` is the number of samples PER CHANNEL
 *     (as in codec.h); the buffer holds n * channels int16_t values. The mixer always passes
 *     n == samples_per_frame.
 *   - samples_per_frame / clock_rate must be the mixer's frame time (10 or 20 ms): a port added
 *     to a 20 ms mixer at 8 kHz has samples_per_frame 160. The mixer converts clock rates (its own
 *     polyphase resampler for small integer ratios, speexdsp for the rest, see resample.h) and
 *     channel counts (1 or 2) itself; ports never need to.
 *   - get_frame() fills all n * channels values and returns MEDIA_PORT_OK, or returns
 *     MEDIA_PORT_SILENCE (the buffer is then ignored: the port has nothing to say this frame).
 *     A negative return is an error: the mixer counts it and treats the frame as silence.
 *   - put_frame() consumes the frame (it must copy what it keeps) and returns MEDIA_PORT_OK or a
 *     negative error (counted by the mixer). Sinks receive a frame on every tick, silence (zeros)
 *     when no source is connected to them, so they keep a steady timeline.
 *   - get_frame == NULL: the port is not a source; put_frame == NULL: not a sink.
 *   - Both are called on the mixer's clock thread (or a device callback), never with the Python
 *     GIL, with the mixer's tick lock held: they must not block, sleep, take the GIL, call back
 *     into the mixer or take a lock that is held while calling into the mixer. They may post
 *     events (events.h).
 *   - get_frame_batch / put_frame_batch (optional, NULL for most ports): the same calls with the
 *     mixer's tick_batch_t (tick_batch.h), where a port whose codec codes several streams in one
 *     pass may leave its decode or encode; the mixer uses them instead of get_frame / put_frame
 *     when they are set. A frame whose decode was queued is complete once the mixer has run the
 *     batch's decodes, before it reads any frame.
 *   - A port is in at most one slot of one mixer (media_mixer_add_port refuses it a second slot
 *     with MEDIA_MIXER_EBUSY; two mixers sharing a port is the owner's error): it is asked for one
 *     frame and given one per tick.
 *   - The port's memory belongs to whoever created it. The mixer never frees a port; the owner
 *     removes it from the mixer (mixer_remove_port) before freeing it. After mixer_remove_port()
 *     returns, the mixer does not touch the port again.
 *
 * Cross-extension use: an extension that owns a port hands it to the mixer extension in a
 * PyCapsule named MEDIA_PORT_CAPSULE whose pointer is the media_port_t (AudioMixer.add_port()).
 */
#ifndef SIPSIMPLE_MEDIA_PORT_H
#define SIPSIMPLE_MEDIA_PORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_PORT_OK 0
#define MEDIA_PORT_SILENCE 1

#define MEDIA_PORT_CAPSULE "sipsimple.core.media.port"

/* Clock rates a port may have (Hz) and the largest channel count. */
#define MEDIA_PORT_MIN_RATE 8000u
#define MEDIA_PORT_MAX_RATE 192000u
#define MEDIA_PORT_MAX_CHANNELS 2u

typedef struct media_port media_port_t;

typedef int (*media_port_get_frame_fn)(media_port_t *port, int16_t *pcm, size_t n);
typedef int (*media_port_put_frame_fn)(media_port_t *port, const int16_t *pcm, size_t n);
typedef struct tick_batch tick_batch_t;
typedef int (*media_port_get_frame_batch_fn)(media_port_t *port, int16_t *pcm, size_t n, tick_batch_t *batch);
typedef int (*media_port_put_frame_batch_fn)(media_port_t *port, const int16_t *pcm, size_t n,
                                             tick_batch_t *batch);

struct media_port {
    uint32_t clock_rate;        /* samples per second per channel */
    uint32_t channels;          /* 1 or 2 */
    uint32_t samples_per_frame; /* per channel, one frame time at clock_rate */
    media_port_get_frame_fn get_frame; /* NULL: not a source */
    media_port_put_frame_fn put_frame; /* NULL: not a sink */
    void *user_data;            /* for the implementation */
    const char *name;           /* for logs and statistics; may be NULL */
    media_port_get_frame_batch_fn get_frame_batch; /* optional (see above); needs get_frame */
    media_port_put_frame_batch_fn put_frame_batch; /* optional; needs put_frame */
};

/* Fills the common fields; get/put/user_data are set by the caller. */
static inline void media_port_init(media_port_t *port, const char *name, uint32_t clock_rate,
                                   uint32_t channels, uint32_t samples_per_frame)
{
    port->clock_rate = clock_rate;
    port->channels = channels;
    port->samples_per_frame = samples_per_frame;
    port->get_frame = NULL;
    port->put_frame = NULL;
    port->user_data = NULL;
    port->name = name;
    port->get_frame_batch = NULL;
    port->put_frame_batch = NULL;
}

/* Samples per channel in one frame of `frame_ms` milliseconds at `clock_rate`. */
static inline uint32_t media_port_frame_samples(uint32_t clock_rate, uint32_t frame_ms)
{
    return clock_rate * frame_ms / 1000u;
}

#ifdef __cplusplus
}
#endif

#endif
