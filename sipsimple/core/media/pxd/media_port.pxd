# Declarations of the audio port interface, csrc/port.h (see docs/media-mixer.md).
#
# An extension that owns a port hands it to the mixer as a PyCapsule named MEDIA_PORT_CAPSULE
# (AudioMixer.add_port); it needs sipsimple/core/media/csrc on its include path and nothing to link.

from libc.stdint cimport int16_t, uint32_t


cdef extern from "port.h" nogil:
    enum:
        MEDIA_PORT_OK
        MEDIA_PORT_SILENCE
        MEDIA_PORT_MIN_RATE
        MEDIA_PORT_MAX_RATE
        MEDIA_PORT_MAX_CHANNELS

    const char *MEDIA_PORT_CAPSULE

    ctypedef struct media_port_t:
        uint32_t clock_rate
        uint32_t channels
        uint32_t samples_per_frame
        int (*get_frame)(media_port_t *port, int16_t *pcm, size_t n)
        int (*put_frame)(media_port_t *port, const int16_t *pcm, size_t n)
        void *user_data
        const char *name

    void media_port_init(media_port_t *port, const char *name, uint32_t clock_rate, uint32_t channels,
                         uint32_t samples_per_frame)
    uint32_t media_port_frame_samples(uint32_t clock_rate, uint32_t frame_ms)
