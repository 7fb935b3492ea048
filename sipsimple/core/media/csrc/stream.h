/*
 * stream.h - what the RTP transport (stream_transport.h) and the audio stream (stream_audio.h)
 * share: their event types, the clock they read, the packet transform seam (SRTP), counters.
 *
 * Threads. A transport's sockets belong to the engine's I/O thread (netio.h): it receives, parses,
 * latches and hands RTP/RTCP to the audio stream attached to the transport, all without the GIL.
 * The audio stream is a mixer port: it encodes and sends on the mixer's thread (put_frame) and
 * decodes on the same thread (get_frame). Python configures both from the Twisted thread and
 * hears about what happened through the media event queue (events.h).
 *
 * Event types (range MEDIA_EVENT_RANGE_STREAM, events.h); `source` is the id the Python object
 * registered with the queue:
 *   STREAM_EVENT_RTP_TIMEOUT  no RTP for the transport's timeout; a = timeout (ms), b = RTP
 *                             packets received before the silence
 *   STREAM_EVENT_ADDRESS      the address RTP (a = 1) or RTCP (a = 2) comes from is known or
 *                             changed; b = 1 when the transport now also sends there (latched)
 *   STREAM_EVENT_STUN         STUN datagrams wait in the transport's queue; a = how many
 *   STREAM_EVENT_DTMF         a telephone-event ended; a = event | ended << 8 | volume << 16,
 *                             b = duration in RTP units
 *   STREAM_EVENT_RTCP_BYE     the remote source sent an RTCP BYE; a = its SSRC
 */
#ifndef SIPSIMPLE_MEDIA_STREAM_H
#define SIPSIMPLE_MEDIA_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define STREAM_EVENT_RTP_TIMEOUT 0x0201u
#define STREAM_EVENT_ADDRESS 0x0202u
#define STREAM_EVENT_STUN 0x0203u
#define STREAM_EVENT_DTMF 0x0204u
#define STREAM_EVENT_RTCP_BYE 0x0205u

/* Components, numbered as ICE numbers them (RFC 8445 §5.1.1.1). */
#define STREAM_COMPONENT_RTP 1
#define STREAM_COMPONENT_RTCP 2

/* Status codes of the stream C code (0 or a count is success). */
enum {
    STREAM_OK = 0,
    STREAM_E_CLOSED = -1,    /* the transport is closed or the stream stopped */
    STREAM_E_NO_REMOTE = -2, /* no remote address to send to yet */
    STREAM_E_SEND = -3,      /* sendto() failed (errno kept in the counters) */
    STREAM_E_SPACE = -4,     /* a buffer is too small */
    STREAM_E_TRANSFORM = -5, /* the transform (SRTP) refused the packet */
    STREAM_E_ARGUMENT = -6,
    STREAM_E_NOMEM = -7,
    STREAM_E_CODEC = -8,     /* the codec could not be created (its status in errno-like detail) */
    STREAM_E_STATE = -9      /* not allowed in this state (started twice...) */
};

/*
 * The clock: CLOCK_MONOTONIC, or a manual one that tests and the no-network benchmark advance
 * themselves (time is injected). One clock is shared by the objects that must agree on "now".
 */
typedef struct stream_clock {
    int manual;
    uint64_t manual_ns; /* read and written atomically */
} stream_clock_t;

static inline uint64_t stream_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t stream_clock_now(const stream_clock_t *clock)
{
    if (clock != NULL && clock->manual)
        return __atomic_load_n(&clock->manual_ns, __ATOMIC_ACQUIRE);
    return stream_monotonic_ns();
}

static inline void stream_clock_set(stream_clock_t *clock, uint64_t now_ns)
{
    __atomic_store_n(&clock->manual_ns, now_ns, __ATOMIC_RELEASE);
}

/*
 * Counters written by one thread and read by others: relaxed atomic stores and loads (a plain
 * increment by the single writer, no locked instruction).
 */
#define STREAM_COUNT(field) __atomic_store_n(&(field), (field) + 1, __ATOMIC_RELAXED)
#define STREAM_COUNT_ADD(field, n) __atomic_store_n(&(field), (field) + (n), __ATOMIC_RELAXED)
#define STREAM_READ(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/*
 * The packet transform seam, for SRTP (RFC 3711) or anything that rewrites whole packets.
 *
 * protect() turns a plain RTP (rtcp = 0) or RTCP (rtcp = 1) packet of *len bytes in buf into its
 * protected form in place (cap bytes available: SRTP appends a tag) and updates *len; unprotect()
 * does the reverse on a received packet. Both return 0, or a negative value to drop the packet
 * (counted by the transport as transform failures: an SRTP authentication failure, a replay).
 *
 * Calls to protect() are serialised by the transport (one at a time, under its send lock, from the
 * mixer's thread for RTP, the I/O thread for RTCP, or Python's thread); calls to unprotect() are
 * made on the receiving thread only (the I/O thread). A transform object is installed with
 * stream_transport_set_transform() and must stay valid until it is replaced or the transport closed.
 * Python objects hand it over in a PyCapsule named STREAM_TRANSFORM_CAPSULE.
 */
#define STREAM_TRANSFORM_CAPSULE "sipsimple.core.media.stream_transform"

typedef struct stream_transform {
    void *ctx;
    int (*protect)(void *ctx, int rtcp, uint8_t *buf, size_t *len, size_t cap);
    int (*unprotect)(void *ctx, int rtcp, uint8_t *buf, size_t *len);
} stream_transform_t;

/* Room a transform may add to a packet (SRTP: a 4-byte MKI plus a 16-byte tag at most; SRTCP adds
 * the 4-byte index too). Send buffers keep at least this much free after the packet. */
#define STREAM_TRANSFORM_OVERHEAD 64u

/* The largest datagram the transport receives or sends. */
#define STREAM_MAX_DATAGRAM 2048u

#ifdef __cplusplus
}
#endif
#endif
