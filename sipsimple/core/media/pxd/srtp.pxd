# Declarations of the SRTP session pair (our AES-CM engine, libsrtp2 for AEAD): csrc/srtp_ctx.h (see docs/media-srtp.md).
#
# Another extension (the RTP stream) does not link libsrtp: it takes the function table from the
# _srtp extension at import time and a session from an SRTPSession's capsule:
#
#     from cpython.pycapsule cimport PyCapsule_GetPointer
#     from sipsimple.core.media.pxd.srtp cimport *
#     from sipsimple.core.media import _srtp
#     cdef const media_srtp_api *api = <const media_srtp_api *>PyCapsule_GetPointer(
#         _srtp._C_API, MEDIA_SRTP_API_CAPSULE)
#     if api.version != MEDIA_SRTP_API_VERSION: raise ImportError(...)
#     cdef media_srtp_t *s = <media_srtp_t *>PyCapsule_GetPointer(session.capsule(), MEDIA_SRTP_SESSION_CAPSULE)
#     # then on its native threads:  n = api.protect_rtp(s, buf, length, capacity)
#
# It needs sipsimple/core/media/csrc on its include path. Every function is nogil.

from libc.stdint cimport uint8_t, uint32_t, uint64_t


cdef extern from "srtp_ctx.h" nogil:
    enum:
        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80
        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32
        MEDIA_SRTP_AEAD_AES_128_GCM
        MEDIA_SRTP_AEAD_AES_256_GCM
        MEDIA_SRTP_SUITE_COUNT
        MEDIA_SRTP_OUTBOUND
        MEDIA_SRTP_INBOUND
        MEDIA_SRTP_OK
        MEDIA_SRTP_E_ARGUMENT
        MEDIA_SRTP_E_UNSUPPORTED
        MEDIA_SRTP_E_NO_KEY
        MEDIA_SRTP_E_SPACE
        MEDIA_SRTP_E_MALFORMED
        MEDIA_SRTP_E_AUTH
        MEDIA_SRTP_E_REPLAY
        MEDIA_SRTP_E_KEY_EXPIRED
        MEDIA_SRTP_E_NO_MEMORY
        MEDIA_SRTP_E_INIT
        MEDIA_SRTP_E_LIBRARY
        MEDIA_SRTP_E_SOURCES
        MEDIA_SRTP_ENGINE_DEFAULT
        MEDIA_SRTP_ENGINE_LIBSRTP
        MEDIA_SRTP_MAX_KEY_LENGTH
        MEDIA_SRTP_MAX_RTP_TAIL
        MEDIA_SRTP_MAX_RTCP_TAIL
        MEDIA_SRTP_REPLAY_WINDOW
        MEDIA_SRTP_FALLBACK_PACKETS
        MEDIA_SRTP_API_VERSION

    const char *MEDIA_SRTP_API_CAPSULE
    const char *MEDIA_SRTP_SESSION_CAPSULE

    ctypedef struct media_srtp_suite_info:
        int suite
        const char *name
        unsigned key_length
        unsigned salt_length
        unsigned rtp_tail
        unsigned rtcp_tail

    ctypedef struct media_srtp_stats:
        uint64_t rtp_protected
        uint64_t rtcp_protected
        uint64_t rtp_unprotected
        uint64_t rtcp_unprotected
        uint64_t unprotected_with_previous_key
        uint64_t auth_failures
        uint64_t replay_failures
        uint64_t malformed
        uint64_t other_failures
        uint64_t protect_failures
        uint32_t outbound_rekeys
        uint32_t inbound_rekeys
        int outbound_suite
        int inbound_suite

    ctypedef struct media_srtp_t:
        pass

    int media_srtp_init()
    const char *media_srtp_library_version()
    const char *media_srtp_crypto_backend()
    const char *media_srtp_strerror(int status)
    const media_srtp_suite_info *media_srtp_suite_info_get(int suite)
    int media_srtp_suite_by_name(const char *name, size_t length)
    int media_srtp_suite_available(int suite)
    size_t media_srtp_tail_room(media_srtp_t *s, int rtcp)
    int media_srtp_create(media_srtp_t **out)
    void media_srtp_destroy(media_srtp_t *s)
    int media_srtp_set_engine(media_srtp_t *s, int engine)
    int media_srtp_set_key(media_srtp_t *s, int direction, int suite, const uint8_t *key, size_t length)
    int media_srtp_clear_key(media_srtp_t *s, int direction)
    int media_srtp_protect_rtp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
    int media_srtp_unprotect_rtp(media_srtp_t *s, uint8_t *packet, size_t length)
    int media_srtp_protect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
    int media_srtp_unprotect_rtcp(media_srtp_t *s, uint8_t *packet, size_t length)
    void media_srtp_get_stats(media_srtp_t *s, media_srtp_stats *out)

    ctypedef struct media_srtp_api:
        unsigned version
        int (*init)()
        const char *(*strerror)(int status)
        const media_srtp_suite_info *(*suite_info)(int suite)
        int (*suite_by_name)(const char *name, size_t length)
        int (*suite_available)(int suite)
        size_t (*tail_room)(media_srtp_t *s, int rtcp)
        int (*create)(media_srtp_t **out)
        void (*destroy)(media_srtp_t *s)
        int (*set_key)(media_srtp_t *s, int direction, int suite, const uint8_t *key, size_t length)
        int (*clear_key)(media_srtp_t *s, int direction)
        int (*protect_rtp)(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
        int (*unprotect_rtp)(media_srtp_t *s, uint8_t *packet, size_t length)
        int (*protect_rtcp)(media_srtp_t *s, uint8_t *packet, size_t length, size_t capacity)
        int (*unprotect_rtcp)(media_srtp_t *s, uint8_t *packet, size_t length)
        void (*get_stats)(media_srtp_t *s, media_srtp_stats *out)

    const media_srtp_api *media_srtp_api_table()
