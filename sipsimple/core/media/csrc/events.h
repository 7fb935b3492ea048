/*
 * events.h - the queue that carries events from native media threads to the Twisted thread.
 *
 * Native threads (the mixer clock, device callbacks, RTP I/O) never call Python. When something
 * happens that Python must hear about ("WAV file ended", "RTP timeout", "DTMF received", "device
 * list changed") they post a small fixed-size event into a media_event_queue. The queue is a
 * mutex-protected ring; posting never allocates and never blocks for long. The first event posted
 * into an empty batch writes once to a wake-up file descriptor (an eventfd, or a pipe where there is
 * none); the Twisted thread watches that descriptor, and on readability drains the whole batch.
 *
 * Each event names its `source`: an id the receiving Python object obtained from the queue's
 * Python wrapper (EventQueue.register()). The queue itself does not interpret ids or types.
 *
 * Cross-extension use: the queue's Python wrapper (sipsimple.core.media._events.EventQueue) hands
 * out a PyCapsule named MEDIA_EVENT_QUEUE_CAPSULE whose pointer is a media_event_queue_t. Other
 * extensions post through the function pointer in the struct (media_event_post() below), so they
 * need this header only, not events.c.
 *
 * Event types are split in ranges, one per concern; each concern defines its own constants in its
 * header and documents the meaning of the two arguments `a` and `b`.
 */
#ifndef SIPSIMPLE_MEDIA_EVENTS_H
#define SIPSIMPLE_MEDIA_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MEDIA_EVENT_QUEUE_CAPSULE "sipsimple.core.media.event_queue"
#define MEDIA_EVENT_QUEUE_VERSION 1u

/* Type ranges. */
#define MEDIA_EVENT_RANGE_GENERIC 0x0000u /* 0x0000-0x00ff: tests and generic events */
#define MEDIA_EVENT_RANGE_MIXER 0x0100u   /* 0x0100-0x01ff: mixer, WAV/tone ports, null/file devices */
#define MEDIA_EVENT_RANGE_STREAM 0x0200u  /* 0x0200-0x02ff: RTP/RTCP, streams, DTMF */
#define MEDIA_EVENT_RANGE_DEVICE 0x0300u  /* 0x0300-0x03ff: sound devices (PortAudio) */

/* Generic events. */
#define MEDIA_EVENT_TEST 0x0001u /* a, b: anything (used by tests) */

/* Mixer range (mixer, devices, WAV and tone ports). */
#define MEDIA_EVENT_WAV_END 0x0101u         /* a WAV player played its last loop; a = loops played */
#define MEDIA_EVENT_WAV_ERROR 0x0102u       /* a WAV player could not read; a = WAV_E* error code */
#define MEDIA_EVENT_RECORDER_ERROR 0x0103u  /* a WAV recorder could not write; a = errno */
#define MEDIA_EVENT_TONE_END 0x0104u        /* a tone generator played its last queued tone */
#define MEDIA_EVENT_DEVICE_INPUT_END 0x0105u /* a file input device reached the end of its file */

/* Device range (reserved for the sound-device layer). */
#define MEDIA_EVENT_DEVICE_LIST_CHANGED 0x0301u
#define MEDIA_EVENT_DEFAULT_DEVICE_CHANGED 0x0302u

typedef struct media_event {
    uint32_t type;
    uint32_t reserved; /* zero */
    uint64_t source;   /* id registered by the receiving object */
    int64_t a;
    int64_t b;
} media_event_t;

typedef struct media_event_queue media_event_queue_t;

/* The public head of a queue; the implementation (events.c) extends it. */
struct media_event_queue {
    uint32_t version; /* MEDIA_EVENT_QUEUE_VERSION */
    /* Thread-safe. Returns 0, or -1 when the queue is full (the event is dropped and counted). */
    int (*post)(media_event_queue_t *queue, const media_event_t *event);
};

static inline int media_event_post(media_event_queue_t *queue, uint32_t type, uint64_t source,
                                   int64_t a, int64_t b)
{
    media_event_t event;
    if (queue == NULL)
        return -1;
    event.type = type;
    event.reserved = 0;
    event.source = source;
    event.a = a;
    event.b = b;
    return queue->post(queue, &event);
}

/* Implementation (events.c; linked into the _events extension only). */
media_event_queue_t *media_event_queue_new(size_t capacity); /* NULL on failure (errno set) */
void media_event_queue_free(media_event_queue_t *queue);
int media_event_queue_fd(const media_event_queue_t *queue); /* readable when a batch is waiting */
/* Takes up to `max` events (oldest first) and re-arms the wake-up descriptor once the queue is
 * empty. Returns how many were written to `out`. */
size_t media_event_queue_drain(media_event_queue_t *queue, media_event_t *out, size_t max);
size_t media_event_queue_pending(media_event_queue_t *queue);
uint64_t media_event_queue_dropped(media_event_queue_t *queue);
size_t media_event_queue_capacity(const media_event_queue_t *queue);

#ifdef __cplusplus
}
#endif

#endif
