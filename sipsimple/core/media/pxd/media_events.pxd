# Declarations of the media event queue, csrc/events.h (see docs/media-mixer.md).
#
# Producers in other extensions get the queue from EventQueue.capsule (a PyCapsule named
# MEDIA_EVENT_QUEUE_CAPSULE), keep a reference to the EventQueue object while they may post, and post
# with media_event_post(): the function pointer lives in the struct, so there is nothing to link.

from libc.stdint cimport int64_t, uint32_t, uint64_t


cdef extern from "events.h" nogil:
    const char *MEDIA_EVENT_QUEUE_CAPSULE
    enum:
        MEDIA_EVENT_QUEUE_VERSION
        MEDIA_EVENT_RANGE_GENERIC
        MEDIA_EVENT_RANGE_MIXER
        MEDIA_EVENT_RANGE_STREAM
        MEDIA_EVENT_RANGE_DEVICE
        MEDIA_EVENT_TEST
        MEDIA_EVENT_WAV_END
        MEDIA_EVENT_WAV_ERROR
        MEDIA_EVENT_RECORDER_ERROR
        MEDIA_EVENT_TONE_END
        MEDIA_EVENT_DEVICE_INPUT_END
        MEDIA_EVENT_DEVICE_LIST_CHANGED
        MEDIA_EVENT_DEFAULT_DEVICE_CHANGED

    ctypedef struct media_event_t:
        uint32_t type
        uint32_t reserved
        uint64_t source
        int64_t a
        int64_t b

    ctypedef struct media_event_queue_t:
        uint32_t version
        int (*post)(media_event_queue_t *queue, const media_event_t *event)

    int media_event_post(media_event_queue_t *queue, uint32_t type, uint64_t source, int64_t a, int64_t b)

    # Implementation: linked into the _events extension only.
    media_event_queue_t *media_event_queue_new(size_t capacity)
    void media_event_queue_free(media_event_queue_t *queue)
    int media_event_queue_fd(const media_event_queue_t *queue)
    size_t media_event_queue_drain(media_event_queue_t *queue, media_event_t *out, size_t max)
    size_t media_event_queue_pending(media_event_queue_t *queue)
    uint64_t media_event_queue_dropped(media_event_queue_t *queue)
    size_t media_event_queue_capacity(const media_event_queue_t *queue)
