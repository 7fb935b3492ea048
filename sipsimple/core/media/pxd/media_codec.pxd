# Declarations of our codec interface, csrc/codec.h (see docs/media-codecs.md).
#
# Other extensions (the mixer, the RTP stream) cimport this file for the types and get the
# function table at run time from the _codecs extension's capsule:
#
#     from cpython.pycapsule cimport PyCapsule_GetPointer
#     from sipsimple.core.media.pxd.media_codec cimport *
#     from sipsimple.core.media import _codecs
#     cdef const media_codec_api *api = <const media_codec_api *>PyCapsule_GetPointer(
#         _codecs._C_API, MEDIA_CODEC_API_CAPSULE)
#     if api.version != MEDIA_CODEC_API_VERSION: raise ImportError(...)
#
# They need sipsimple/core/media/csrc on their include path, and nothing to link.

from libc.stdint cimport int16_t, uint8_t, uint32_t


cdef extern from "codec.h" nogil:
    enum:
        MEDIA_CODEC_OK
        MEDIA_CODEC_EINVAL
        MEDIA_CODEC_EFRAME
        MEDIA_CODEC_ENOSPACE
        MEDIA_CODEC_ECORRUPT
        MEDIA_CODEC_ENOMEM
        MEDIA_CODEC_EDIRECTION
        MEDIA_CODEC_ELIBRARY
        MEDIA_CODEC_EFMTP

    enum:
        MEDIA_CODEC_ENCODER
        MEDIA_CODEC_DECODER
        MEDIA_CODEC_MAX_DURATIONS
        MEDIA_CODEC_API_VERSION

    const char *MEDIA_CODEC_API_CAPSULE
    const char *MEDIA_CODEC_CAPSULE

    ctypedef struct media_codec_params:
        unsigned flags
        unsigned channels
        unsigned sample_rate
        int bitrate
        int complexity
        int fec
        int dtx
        int cbr
        int packet_loss
        int stereo
        int max_playback_rate
        int mode

    ctypedef struct media_codec

    ctypedef struct media_codec_state:
        const media_codec *codec
        unsigned flags
        unsigned channels
        unsigned sample_rate
        unsigned frame_quantum

    ctypedef struct media_codec_encode_job:
        media_codec_state *state
        const int16_t *pcm
        size_t n
        uint8_t *out
        size_t cap
        int result
        void *user

    ctypedef struct media_codec_decode_job:
        media_codec_state *state
        const uint8_t *payload
        size_t len
        int16_t *pcm
        size_t cap
        int result
        void *user

    ctypedef struct media_codec:
        const char *name
        uint8_t payload_type
        uint8_t static_payload_type
        uint8_t rtp_channels
        uint32_t clock_rate
        uint32_t rtp_clock_rate
        uint32_t frame_quantum
        uint32_t frame_durations_us[MEDIA_CODEC_MAX_DURATIONS]
        int (*create)(const media_codec *codec, const media_codec_params *params, media_codec_state **out)
        void (*destroy)(media_codec_state *state)
        int (*encode)(media_codec_state *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
        int (*decode)(media_codec_state *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
        int (*conceal)(media_codec_state *state, int16_t *pcm, size_t n)
        int (*recover)(media_codec_state *state, const uint8_t *next, size_t len, int16_t *pcm, size_t n)
        size_t (*encoded_bound)(const media_codec_state *state, size_t n)
        size_t (*decoded_bound)(const media_codec_state *state, const uint8_t *payload, size_t len)
        int (*set_fmtp)(media_codec_params *params, const char *key, size_t klen, const char *value, size_t vlen)
        void (*encode_batch)(media_codec_encode_job *jobs, size_t count)
        void (*decode_batch)(media_codec_decode_job *jobs, size_t count)

    ctypedef struct media_codec_api:
        unsigned version
        size_t (*count)()
        const media_codec *(*at)(size_t index)
        const media_codec *(*find)(const char *name, unsigned rate)
        const char *(*strerror)(int status)
        void (*params_init)(media_codec_params *params, unsigned flags)
        int (*apply_fmtp)(const media_codec *codec, media_codec_params *params, const char *fmtp, size_t len)

    const media_codec_api media_codec_api_table

    size_t media_codec_count()
    const media_codec *media_codec_at(size_t index)
    const media_codec *media_codec_find(const char *name, unsigned rate)
    const char *media_codec_strerror(int status)
    void media_codec_params_init(media_codec_params *params, unsigned flags)
    int media_codec_apply_fmtp(const media_codec *codec, media_codec_params *params, const char *fmtp, size_t len)

    int media_codec_create(const media_codec *codec, const media_codec_params *params, media_codec_state **out)
    void media_codec_destroy(media_codec_state *state)
    int media_codec_encode(media_codec_state *s, const int16_t *pcm, size_t n, uint8_t *out, size_t cap)
    int media_codec_decode(media_codec_state *s, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap)
    int media_codec_conceal(media_codec_state *s, int16_t *pcm, size_t n)
    int media_codec_recover(media_codec_state *s, const uint8_t *next, size_t len, int16_t *pcm, size_t n)
    void media_codec_encode_batch(media_codec_encode_job *jobs, size_t count)
    void media_codec_decode_batch(media_codec_decode_job *jobs, size_t count)
    int media_codec_has_batch(const media_codec_state *s, unsigned direction)
