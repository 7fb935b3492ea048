# Declarations of the RTP machinery in C: csrc/rtp.h, rtcp.h, jbuf.h, dtmf.h and the function
# table rtp_api.h (see docs/media-rtp.md).
#
# Another extension either compiles csrc/{rtp,rtcp,jbuf,dtmf}.c into itself (they have no global
# state), or takes the function table from the _rtp extension at run time:
#
#     from cpython.pycapsule cimport PyCapsule_Import
#     from sipsimple.core.media.pxd.media_rtp cimport *
#     cdef const media_rtp_api *api = <const media_rtp_api *>PyCapsule_Import(MEDIA_RTP_API_CAPSULE, 0)
#     if api.version != MEDIA_RTP_API_VERSION: raise ImportError(...)
#
# Either way it needs sipsimple/core/media/csrc on its include path. Every function is nogil.

from libc.stdint cimport int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t


cdef extern from "rtp.h" nogil:
    enum:
        RTP_VERSION
        RTP_HEADER_SIZE
        RTP_MAX_CSRC
        RTP_OK
        RTP_E_SHORT
        RTP_E_VERSION
        RTP_E_CSRC
        RTP_E_EXTENSION
        RTP_E_PADDING
        RTP_E_SPACE
        RTP_E_ARGUMENT
        RTP_E_IS_RTCP

    ctypedef struct rtp_header_t:
        uint8_t version
        uint8_t padding
        uint8_t extension
        uint8_t csrc_count
        uint8_t marker
        uint8_t payload_type
        uint16_t sequence
        uint32_t timestamp
        uint32_t ssrc
        uint32_t csrc[15]
        uint16_t extension_profile
        uint16_t extension_words
        size_t extension_offset
        size_t payload_offset
        size_t payload_length
        uint8_t padding_length

    int rtp_parse(const uint8_t *buf, size_t len, rtp_header_t *h)
    int rtp_is_rtcp(const uint8_t *buf, size_t len)
    size_t rtp_header_size(const rtp_header_t *h)
    int rtp_build(uint8_t *buf, size_t cap, const rtp_header_t *h, const uint8_t *ext_data,
                  const uint8_t *payload, size_t payload_len)
    void rtp_write_fixed_header(uint8_t *buf, uint8_t payload_type, int marker, uint16_t sequence,
                                uint32_t timestamp, uint32_t ssrc)
    const char *rtp_strerror(int status)

    ctypedef struct rtp_sender_t:
        uint32_t ssrc
        uint16_t sequence
        uint32_t timestamp
        uint32_t clock_rate
        uint8_t payload_type
        uint8_t talkspurt
        uint32_t packets_sent
        uint32_t octets_sent
        uint32_t last_timestamp
        uint64_t last_time_ns
        uint64_t last_media_time_ns
        uint32_t last_media_timestamp

    void rtp_sender_init(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate)
    void rtp_sender_init_with(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate, uint32_t ssrc,
                              uint16_t sequence, uint32_t timestamp)
    int rtp_sender_write(rtp_sender_t *s, uint8_t *buf, size_t cap, int pt, const uint8_t *payload,
                         size_t payload_len, uint32_t samples, uint64_t now_ns)
    int rtp_sender_write_at(rtp_sender_t *s, uint8_t *buf, size_t cap, uint8_t pt, int marker,
                            uint32_t timestamp, const uint8_t *payload, size_t payload_len, uint64_t now_ns)
    void rtp_sender_skip(rtp_sender_t *s, uint32_t samples, int start_talkspurt)
    uint32_t rtp_sender_timestamp_at(const rtp_sender_t *s, uint64_t now_ns)
    uint64_t rtp_ns_to_units(uint64_t ns, uint32_t clock_rate)
    uint32_t rtp_random32()


cdef extern from "rtcp.h" nogil:
    enum:
        RTCP_SR
        RTCP_RR
        RTCP_SDES
        RTCP_BYE
        RTCP_APP
        RTCP_RTPFB
        RTCP_PSFB
        RTCP_XR
        RTCP_MAX_BLOCKS
        RTCP_MAX_COMPOUND_BLOCKS
        RTCP_MAX_SDES
        RTCP_MAX_BYE
        RTCP_OK
        RTCP_E_SHORT
        RTCP_E_VERSION
        RTCP_E_PADDING
        RTCP_E_FORMAT
        RTCP_E_SPACE
        RTCP_E_ARGUMENT
        RTCP_RX_VALID
        RTCP_RX_PROBATION
        RTCP_RX_BAD
        RTCP_RX_RESTARTED
        RTCP_RX_NO_JITTER
        RTCP_MAX_DROPOUT
        RTCP_MAX_MISORDER
        RTCP_MIN_SEQUENTIAL

    double RTCP_MIN_INTERVAL

    ctypedef struct rtcp_sender_info_t:
        uint32_t ssrc
        uint64_t ntp_timestamp
        uint32_t rtp_timestamp
        uint32_t packet_count
        uint32_t octet_count

    ctypedef struct rtcp_report_block_t:
        uint32_t ssrc
        uint8_t fraction_lost
        int32_t cumulative_lost
        uint32_t highest_sequence
        uint32_t jitter
        uint32_t lsr
        uint32_t dlsr

    ctypedef struct rtcp_cname_t:
        uint32_t ssrc
        uint8_t length
        char cname[256]

    ctypedef struct rtcp_compound_t:
        unsigned packets
        unsigned skipped
        uint8_t first_type
        uint8_t has_sender_info
        uint8_t has_reporter
        uint8_t has_bye
        uint32_t reporter_ssrc
        rtcp_sender_info_t sender_info
        unsigned block_count
        unsigned blocks_dropped
        rtcp_report_block_t blocks[96]
        unsigned cname_count
        rtcp_cname_t cnames[8]
        unsigned bye_count
        uint32_t bye_ssrcs[31]
        uint8_t bye_reason_length
        char bye_reason[256]

    int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out)
    const char *rtcp_strerror(int status)

    ctypedef struct rtcp_writer_t:
        uint8_t *buf
        size_t cap
        size_t len

    void rtcp_writer_init(rtcp_writer_t *w, uint8_t *buf, size_t cap)
    int rtcp_write_sr(rtcp_writer_t *w, const rtcp_sender_info_t *si, const rtcp_report_block_t *blocks,
                      unsigned count)
    int rtcp_write_rr(rtcp_writer_t *w, uint32_t ssrc, const rtcp_report_block_t *blocks, unsigned count)
    int rtcp_write_sdes_cname(rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t length)
    int rtcp_write_bye(rtcp_writer_t *w, const uint32_t *ssrcs, unsigned count, const char *reason,
                       size_t reason_length)

    uint64_t rtcp_ntp_from_unix_ns(uint64_t unix_ns)
    uint32_t rtcp_ntp_middle(uint64_t ntp)

    ctypedef struct rtcp_clock_t:
        uint64_t unix_ns_at_base
        uint64_t monotonic_ns_at_base

    void rtcp_clock_init(rtcp_clock_t *c, uint64_t monotonic_now_ns)
    void rtcp_clock_init_with(rtcp_clock_t *c, uint64_t unix_ns, uint64_t monotonic_now_ns)
    uint64_t rtcp_clock_ntp(const rtcp_clock_t *c, uint64_t monotonic_ns)
    int64_t rtcp_rtt_ns(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr)

    ctypedef struct rtcp_rx_stats_t:
        uint32_t ssrc
        uint32_t clock_rate
        uint16_t max_seq
        uint32_t cycles
        uint32_t base_seq
        uint32_t bad_seq
        uint32_t probation
        uint32_t received
        uint32_t expected_prior
        uint32_t received_prior
        uint32_t transit
        uint8_t have_transit
        uint8_t started
        uint8_t have_sr
        uint32_t jitter_q4
        uint32_t lsr
        uint64_t lsr_arrival_ns
        uint64_t ntp_of_sr
        uint32_t sr_rtp_timestamp
        uint32_t bad_packets
        uint32_t probation_packets
        uint64_t octets
        uint64_t last_arrival_ns

    void rtcp_rx_init(rtcp_rx_stats_t *st, uint32_t ssrc, uint32_t clock_rate)
    int rtcp_rx_update(rtcp_rx_stats_t *st, uint16_t seq, uint32_t rtp_timestamp, uint64_t arrival_ns,
                       size_t payload_length, unsigned flags)
    void rtcp_rx_got_sr(rtcp_rx_stats_t *st, uint64_t ntp_timestamp, uint32_t rtp_timestamp, uint64_t arrival_ns)
    void rtcp_rx_report(rtcp_rx_stats_t *st, uint64_t now_ns, rtcp_report_block_t *block)
    uint32_t rtcp_rx_extended_max(const rtcp_rx_stats_t *st)
    uint32_t rtcp_rx_expected(const rtcp_rx_stats_t *st)
    int64_t rtcp_rx_lost(const rtcp_rx_stats_t *st)
    uint32_t rtcp_rx_jitter(const rtcp_rx_stats_t *st)

    # named rtcp_interval in C; renamed here so that _rtp can offer a Python rtcp_interval()
    double rtcp_interval_c "rtcp_interval"(unsigned members, unsigned senders, double rtcp_bw, int we_sent,
                           double avg_rtcp_size, int initial, double min_interval, double u)
    double rtcp_average_size(double avg, double size)

    ctypedef struct rtcp_schedule_t:
        double tp
        double tn
        unsigned pmembers
        unsigned members
        unsigned senders
        double rtcp_bw
        double avg_rtcp_size
        double min_interval
        int initial
        int we_sent

    void rtcp_schedule_init(rtcp_schedule_t *s, double now, double rtcp_bw, double min_interval,
                            double first_packet_size, double u)
    int rtcp_schedule_expired(rtcp_schedule_t *s, double now, double u)
    void rtcp_schedule_sent(rtcp_schedule_t *s, double now, double packet_size, double u)


cdef extern from "jbuf.h" nogil:
    ctypedef struct jbuf_t

    ctypedef struct jbuf_config_t:
        uint32_t clock_rate
        uint32_t frame_samples
        uint32_t min_delay_ms
        uint32_t max_delay_ms
        uint32_t window_ms
        uint32_t percentile
        uint32_t shrink_interval_ms
        uint32_t capacity
        uint32_t max_payload

    enum:
        JBUF_F_MARKER
        JBUF_F_CNG
        JBUF_F_EXPAND
        JBUF_NOT_YET
        JBUF_FRAME
        JBUF_MISSING
        JBUF_GAP
        JBUF_PUT_OK
        JBUF_PUT_DUPLICATE
        JBUF_PUT_LATE
        JBUF_PUT_TOO_BIG
        JBUF_PUT_OUT_OF_SYNC
        JBUF_PUT_RESYNC
        JBUF_E_SPACE
        JBUF_E_ARGUMENT

    ctypedef struct jbuf_frame_t:
        int kind
        uint32_t flags
        uint32_t timestamp
        uint32_t samples
        uint16_t sequence
        uint32_t ssrc
        size_t length
        uint64_t buffered_ns

    ctypedef struct jbuf_stats_t:
        uint64_t received
        uint64_t played
        uint64_t missing
        uint64_t expanded
        uint64_t gaps
        uint64_t late
        uint64_t duplicates
        uint64_t shrunk
        uint64_t overflow
        uint64_t too_big
        uint64_t out_of_sync
        uint64_t resyncs
        uint64_t catchups
        uint32_t buffered
        uint32_t target_delay
        int32_t play_delay
        uint32_t jitter_percentile

    void jbuf_config_default(jbuf_config_t *c, uint32_t clock_rate, uint32_t frame_samples)
    jbuf_t *jbuf_create(const jbuf_config_t *c)
    void jbuf_destroy(jbuf_t *jb)
    void jbuf_reset(jbuf_t *jb)
    int jbuf_put(jbuf_t *jb, const uint8_t *payload, size_t length, uint16_t seq, uint32_t timestamp,
                 uint32_t ssrc, uint32_t samples, uint32_t flags, uint64_t arrival_ns)
    int jbuf_get(jbuf_t *jb, uint64_t now_ns, uint8_t *payload, size_t cap, jbuf_frame_t *out)
    void jbuf_get_stats(jbuf_t *jb, jbuf_stats_t *out)
    void jbuf_get_config(const jbuf_t *jb, jbuf_config_t *out)


cdef extern from "dtmf.h" nogil:
    enum:
        DTMF_PAYLOAD_SIZE
        DTMF_MAX_QUEUE
        DTMF_END_PACKETS
        DTMF_MAX_VOLUME
        DTMF_E_SHORT
        DTMF_E_FULL
        DTMF_E_ARGUMENT
        DTMF_TX_IDLE
        DTMF_TX_PACKET

    int dtmf_event_from_char(char c)
    char dtmf_char_from_event(uint8_t event)

    ctypedef struct dtmf_packet_t:
        uint8_t payload[4]
        uint32_t timestamp
        uint8_t marker
        uint8_t end

    ctypedef struct dtmf_sender_t:
        uint32_t clock_rate
        uint32_t pause
        unsigned q_len
        uint32_t packets
        uint32_t events

    void dtmf_sender_init(dtmf_sender_t *s, uint32_t clock_rate, uint32_t pause_ms)
    int dtmf_sender_queue(dtmf_sender_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume)
    int dtmf_sender_busy(const dtmf_sender_t *s)
    void dtmf_sender_clear(dtmf_sender_t *s)
    int dtmf_sender_tick(dtmf_sender_t *s, uint32_t media_timestamp, uint32_t frame_samples, dtmf_packet_t *pkt)

    ctypedef struct dtmf_event_t:
        uint8_t event
        uint8_t volume
        uint8_t ended
        uint32_t timestamp
        uint32_t duration

    ctypedef struct dtmf_receiver_t:
        uint32_t clock_rate
        uint32_t packets
        uint32_t ignored
        uint32_t malformed
        uint32_t reported

    void dtmf_receiver_init(dtmf_receiver_t *r, uint32_t clock_rate, uint32_t timeout_ms)
    int dtmf_receiver_put(dtmf_receiver_t *r, const uint8_t *payload, size_t length, uint32_t timestamp,
                          uint64_t now_ns, dtmf_event_t *out)
    int dtmf_receiver_tick(dtmf_receiver_t *r, uint64_t now_ns, dtmf_event_t *out)


cdef extern from "rtp_api.h" nogil:
    enum:
        MEDIA_RTP_API_VERSION
    const char *MEDIA_RTP_API_CAPSULE

    ctypedef struct media_rtp_api:
        unsigned version
        int (*rtp_parse)(const uint8_t *buf, size_t len, rtp_header_t *h)
        int (*rtp_is_rtcp)(const uint8_t *buf, size_t len)
        int (*rtp_build)(uint8_t *buf, size_t cap, const rtp_header_t *h, const uint8_t *ext_data,
                         const uint8_t *payload, size_t payload_len)
        void (*rtp_sender_init)(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate)
        int (*rtp_sender_write)(rtp_sender_t *s, uint8_t *buf, size_t cap, int pt, const uint8_t *payload,
                                size_t payload_len, uint32_t samples, uint64_t now_ns)
        int (*rtp_sender_write_at)(rtp_sender_t *s, uint8_t *buf, size_t cap, uint8_t pt, int marker,
                                   uint32_t timestamp, const uint8_t *payload, size_t payload_len,
                                   uint64_t now_ns)
        void (*rtp_sender_skip)(rtp_sender_t *s, uint32_t samples, int start_talkspurt)
        uint32_t (*rtp_sender_timestamp_at)(const rtp_sender_t *s, uint64_t now_ns)
        const char *(*rtp_strerror)(int status)
        int (*rtcp_parse)(const uint8_t *buf, size_t len, rtcp_compound_t *out)
        void (*rtcp_writer_init)(rtcp_writer_t *w, uint8_t *buf, size_t cap)
        int (*rtcp_write_sr)(rtcp_writer_t *w, const rtcp_sender_info_t *si,
                             const rtcp_report_block_t *blocks, unsigned count)
        int (*rtcp_write_rr)(rtcp_writer_t *w, uint32_t ssrc, const rtcp_report_block_t *blocks,
                             unsigned count)
        int (*rtcp_write_sdes_cname)(rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t length)
        int (*rtcp_write_bye)(rtcp_writer_t *w, const uint32_t *ssrcs, unsigned count, const char *reason,
                              size_t reason_length)
        void (*rtcp_clock_init)(rtcp_clock_t *c, uint64_t monotonic_now_ns)
        uint64_t (*rtcp_clock_ntp)(const rtcp_clock_t *c, uint64_t monotonic_ns)
        int64_t (*rtcp_rtt_ns)(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr)
        void (*rtcp_rx_init)(rtcp_rx_stats_t *st, uint32_t ssrc, uint32_t clock_rate)
        int (*rtcp_rx_update)(rtcp_rx_stats_t *st, uint16_t seq, uint32_t rtp_timestamp,
                              uint64_t arrival_ns, size_t payload_length, unsigned flags)
        void (*rtcp_rx_got_sr)(rtcp_rx_stats_t *st, uint64_t ntp_timestamp, uint32_t rtp_timestamp,
                               uint64_t arrival_ns)
        void (*rtcp_rx_report)(rtcp_rx_stats_t *st, uint64_t now_ns, rtcp_report_block_t *block)
        void (*rtcp_schedule_init)(rtcp_schedule_t *s, double now, double rtcp_bw, double min_interval,
                                   double first_packet_size, double u)
        int (*rtcp_schedule_expired)(rtcp_schedule_t *s, double now, double u)
        void (*rtcp_schedule_sent)(rtcp_schedule_t *s, double now, double packet_size, double u)
        const char *(*rtcp_strerror)(int status)
        void (*jbuf_config_default)(jbuf_config_t *c, uint32_t clock_rate, uint32_t frame_samples)
        jbuf_t *(*jbuf_create)(const jbuf_config_t *c)
        void (*jbuf_destroy)(jbuf_t *jb)
        void (*jbuf_reset)(jbuf_t *jb)
        int (*jbuf_put)(jbuf_t *jb, const uint8_t *payload, size_t length, uint16_t seq, uint32_t timestamp,
                        uint32_t ssrc, uint32_t samples, uint32_t flags, uint64_t arrival_ns)
        int (*jbuf_get)(jbuf_t *jb, uint64_t now_ns, uint8_t *payload, size_t cap, jbuf_frame_t *out)
        void (*jbuf_get_stats)(jbuf_t *jb, jbuf_stats_t *out)
        void (*dtmf_sender_init)(dtmf_sender_t *s, uint32_t clock_rate, uint32_t pause_ms)
        int (*dtmf_sender_queue)(dtmf_sender_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume)
        int (*dtmf_sender_tick)(dtmf_sender_t *s, uint32_t media_timestamp, uint32_t frame_samples,
                                dtmf_packet_t *pkt)
        void (*dtmf_receiver_init)(dtmf_receiver_t *r, uint32_t clock_rate, uint32_t timeout_ms)
        int (*dtmf_receiver_put)(dtmf_receiver_t *r, const uint8_t *payload, size_t length,
                                 uint32_t timestamp, uint64_t now_ns, dtmf_event_t *out)
        int (*dtmf_receiver_tick)(dtmf_receiver_t *r, uint64_t now_ns, dtmf_event_t *out)
