# Declarations of the RTP stream C code: csrc/netio.h, stream.h, stream_transport.h, stream_audio.h,
# stream_srtp.h, stream_bench.h (see docs/media-stream.md). Linked into the _stream extension only.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t

from sipsimple.core.media.pxd.media_codec cimport media_codec, media_codec_params
from sipsimple.core.media.pxd.media_events cimport media_event_queue_t
from sipsimple.core.media.pxd.media_port cimport media_port_t
from sipsimple.core.media.pxd.media_rtp cimport jbuf_stats_t
from sipsimple.core.media.pxd.srtp cimport media_srtp_api, media_srtp_t


cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    ctypedef unsigned short sa_family_t
    cdef struct sockaddr:
        sa_family_t sa_family
    cdef struct sockaddr_storage:
        sa_family_t ss_family
    enum:
        AF_INET
        AF_INET6
        AF_UNSPEC


cdef extern from "netio.h" nogil:
    const uint64_t NETIO_NEVER
    ctypedef struct netio_t
    ctypedef struct netio_stats_t:
        uint64_t wakeups
        uint64_t reads
        uint64_t timers
        uint64_t calls
        uint32_t handles
    int netio_create(netio_t **out)
    void netio_destroy(netio_t *io)
    void netio_get_stats(netio_t *io, netio_stats_t *out)


cdef extern from "stream.h" nogil:
    enum:
        STREAM_EVENT_RTP_TIMEOUT
        STREAM_EVENT_ADDRESS
        STREAM_EVENT_STUN
        STREAM_EVENT_DTMF
        STREAM_EVENT_RTCP_BYE
        STREAM_COMPONENT_RTP
        STREAM_COMPONENT_RTCP
        STREAM_OK
        STREAM_E_CLOSED
        STREAM_E_NO_REMOTE
        STREAM_E_SEND
        STREAM_E_SPACE
        STREAM_E_TRANSFORM
        STREAM_E_ARGUMENT
        STREAM_E_NOMEM
        STREAM_E_CODEC
        STREAM_E_STATE
        STREAM_MAX_DATAGRAM
    const char *STREAM_TRANSFORM_CAPSULE

    ctypedef struct stream_clock_t:
        int manual
        uint64_t manual_ns
    uint64_t stream_clock_now(const stream_clock_t *clock)
    void stream_clock_set(stream_clock_t *clock, uint64_t now_ns)

    ctypedef struct stream_transform_t:
        void *ctx
        int (*protect)(void *ctx, int rtcp, uint8_t *buf, size_t *len, size_t cap)
        int (*unprotect)(void *ctx, int rtcp, uint8_t *buf, size_t *len)


cdef extern from "stream_transport.h" nogil:
    ctypedef struct stream_transport_t
    ctypedef struct stream_transport_stats_t:
        uint64_t rx_datagrams[2]
        uint64_t rx_bytes[2]
        uint64_t rx_rtp
        uint64_t rx_rtcp
        uint64_t rx_stun
        uint64_t rx_stun_dropped
        uint64_t rx_ignored
        uint64_t rx_malformed
        uint64_t rx_transform_failed
        uint64_t rx_no_sink
        uint64_t tx_datagrams[2]
        uint64_t tx_bytes[2]
        uint64_t tx_errors
        uint64_t tx_dropped
        uint64_t tx_transform_failed
        uint64_t timeouts
        uint64_t latches
        int last_errno
    enum:
        STREAM_STUN_MAX

    int stream_transport_bind(const sockaddr *local, socklen_t local_length, unsigned start, unsigned end,
                              unsigned first, int rtcp_mux, int *fd_rtp, int *fd_rtcp, unsigned *tries)
    int stream_transport_create(netio_t *io, int fd_rtp, int fd_rtcp, int rtcp_mux, media_event_queue_t *queue,
                                uint64_t source, const stream_clock_t *clock, stream_transport_t **out)
    void stream_transport_destroy(stream_transport_t *t)
    void stream_transport_close(stream_transport_t *t)
    int stream_transport_is_closed(stream_transport_t *t)
    void stream_transport_link_memory(stream_transport_t *a, stream_transport_t *b)
    void stream_transport_set_loss(stream_transport_t *t, uint32_t every)
    void stream_transport_set_remote(stream_transport_t *t, const sockaddr *rtp, socklen_t rtp_length,
                                     const sockaddr *rtcp, socklen_t rtcp_length)
    socklen_t stream_transport_remote(stream_transport_t *t, int component, sockaddr_storage *out)
    socklen_t stream_transport_received(stream_transport_t *t, int component, sockaddr_storage *out)
    socklen_t stream_transport_local(stream_transport_t *t, int component, sockaddr_storage *out)
    void stream_transport_set_latching(stream_transport_t *t, int latching, uint32_t latch_packets)
    void stream_transport_set_timeout(stream_transport_t *t, uint64_t timeout_ns)
    uint64_t stream_transport_service(stream_transport_t *t, uint64_t now_ns)
    void stream_transport_set_transform(stream_transport_t *t, const stream_transform_t *transform)
    int stream_transport_send_to(stream_transport_t *t, int component, const uint8_t *data, size_t length,
                                 const sockaddr *to, socklen_t to_length)
    size_t stream_transport_take_stun(stream_transport_t *t, uint8_t *buf, size_t cap, int *component,
                                      sockaddr_storage *from_, socklen_t *from_length)
    void stream_transport_get_stats(stream_transport_t *t, stream_transport_stats_t *out)
    int stream_is_stun(const uint8_t *buf, size_t length)
    socklen_t stream_make_address(const char *host, unsigned port, int family, sockaddr_storage *out)
    int stream_address_parts(const sockaddr_storage *addr, char *host, size_t host_size)


cdef extern from "stream_audio.h" nogil:
    enum:
        STREAM_SEND
        STREAM_RECV
        STREAM_INACTIVE
        STREAM_SENDONLY
        STREAM_RECVONLY
        STREAM_SENDRECV

    ctypedef struct stream_audio_t

    ctypedef struct stream_audio_config_t:
        const media_codec *codec
        media_codec_params encoder
        media_codec_params decoder
        uint8_t payload_type
        int dtmf_payload_type
        int cn_payload_type
        int rx_payload_type
        int rx_dtmf_payload_type
        int rx_cn_payload_type
        int silence_detection
        int expect_fec
        uint32_t frame_ms
        uint32_t ptime_ms
        uint32_t dtmf_pause_ms
        uint32_t dtmf_timeout_ms
        double rtcp_min_interval
        double rtcp_bandwidth
        uint32_t jitter_min_ms
        uint32_t jitter_max_ms
        uint8_t cname_length
        char cname[255]

    ctypedef struct stream_audio_stats_t:
        uint32_t ssrc
        uint64_t tx_packets
        uint64_t tx_bytes
        uint64_t tx_dtmf_packets
        uint64_t tx_dtx_frames
        uint64_t tx_errors
        uint64_t tx_frames
        uint64_t tx_cn_packets
        uint64_t tx_silent_packets
        int rx_started
        uint32_t rx_ssrc
        uint64_t rx_packets
        uint64_t rx_bytes
        uint64_t rx_unknown_payload
        uint64_t rx_dtmf_packets
        uint64_t rx_cn_packets
        uint32_t rx_expected
        int64_t rx_lost
        uint32_t rx_jitter
        uint64_t rx_dtmf_events
        uint64_t frames_decoded
        uint64_t frames_concealed
        uint64_t frames_dtx
        uint64_t frames_expanded
        uint64_t frames_recovered
        uint64_t frames_silent
        uint64_t frames_comfort_noise
        uint64_t decode_errors
        jbuf_stats_t jitter_buffer
        uint64_t rtcp_sent
        uint64_t rtcp_received
        uint64_t rtcp_malformed
        uint64_t rtt_count
        int64_t rtt_last_ns
        int64_t rtt_min_ns
        int64_t rtt_max_ns
        int64_t rtt_sum_ns
        int remote_report
        uint8_t remote_fraction_lost
        int32_t remote_cumulative_lost
        uint32_t remote_jitter

    int stream_audio_create(const stream_audio_config_t *config, stream_transport_t *transport, netio_t *io,
                            media_event_queue_t *queue, uint64_t source, const stream_clock_t *clock,
                            stream_audio_t **out, int *codec_status)
    void stream_audio_destroy(stream_audio_t *s)
    media_port_t *stream_audio_port(stream_audio_t *s)
    int stream_audio_start(stream_audio_t *s)
    void stream_audio_stop(stream_audio_t *s, int bye)
    int stream_audio_is_running(const stream_audio_t *s)
    void stream_audio_set_direction(stream_audio_t *s, int direction)
    int stream_audio_direction(const stream_audio_t *s)
    int stream_audio_send_dtmf(stream_audio_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume)
    int stream_audio_dtmf_busy(stream_audio_t *s)
    uint64_t stream_audio_service(stream_audio_t *s, uint64_t now_ns)
    void stream_audio_get_stats(stream_audio_t *s, stream_audio_stats_t *out)


cdef extern from "stream_srtp.h" nogil:
    ctypedef struct stream_srtp_t:
        stream_transform_t transform
    void stream_srtp_init(stream_srtp_t *adapter, const media_srtp_api *api, media_srtp_t *session)


cdef extern from "stream_bench.h" nogil:
    int64_t stream_bench_loopback(unsigned pairs, unsigned rounds, unsigned payload, uint64_t *moved)
