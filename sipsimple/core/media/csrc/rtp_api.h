/*
 * The RTP machinery (rtp.h, rtcp.h, jbuf.h, dtmf.h) as a table of function pointers, exported by
 * the sipsimple.core.media._rtp extension in a PyCapsule, for other extensions (the RTP stream)
 * that call it from their native threads without linking these sources themselves:
 *
 *     const media_rtp_api *api = PyCapsule_Import(MEDIA_RTP_API_CAPSULE, 0);   (with the GIL, once)
 *     if (!api || api->version != MEDIA_RTP_API_VERSION) ... refuse
 *     api->jbuf_put(jb, ...);                                                  (any thread, no GIL)
 *
 * The functions stay valid while the _rtp module is loaded (it is never unloaded once imported).
 * Objects created by _rtp's Python classes expose their C struct in capsules named
 * "sipsimple.core.media.<struct>" (rtp_sender_t, rtcp_rx_stats_t, jbuf_t, dtmf_sender_t,
 * dtmf_receiver_t); each capsule keeps its Python owner alive.
 */
#ifndef SIPSIMPLE_MEDIA_RTP_API_H
#define SIPSIMPLE_MEDIA_RTP_API_H

#include "dtmf.h"
#include "jbuf.h"
#include "rtcp.h"
#include "rtp.h"

#define MEDIA_RTP_API_VERSION 1u
#define MEDIA_RTP_API_CAPSULE "sipsimple.core.media._rtp._C_API"

typedef struct media_rtp_api {
    unsigned version;
    /* rtp.h */
    int (*rtp_parse)(const uint8_t *buf, size_t len, rtp_header_t *h);
    int (*rtp_is_rtcp)(const uint8_t *buf, size_t len);
    int (*rtp_build)(uint8_t *buf, size_t cap, const rtp_header_t *h, const uint8_t *ext_data,
                     const uint8_t *payload, size_t payload_len);
    void (*rtp_sender_init)(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate);
    int (*rtp_sender_write)(rtp_sender_t *s, uint8_t *buf, size_t cap, int pt, const uint8_t *payload,
                            size_t payload_len, uint32_t samples, uint64_t now_ns);
    int (*rtp_sender_write_at)(rtp_sender_t *s, uint8_t *buf, size_t cap, uint8_t pt, int marker,
                               uint32_t timestamp, const uint8_t *payload, size_t payload_len,
                               uint64_t now_ns);
    void (*rtp_sender_skip)(rtp_sender_t *s, uint32_t samples, int start_talkspurt);
    uint32_t (*rtp_sender_timestamp_at)(const rtp_sender_t *s, uint64_t now_ns);
    const char *(*rtp_strerror)(int status);
    /* rtcp.h */
    int (*rtcp_parse)(const uint8_t *buf, size_t len, rtcp_compound_t *out);
    void (*rtcp_writer_init)(rtcp_writer_t *w, uint8_t *buf, size_t cap);
    int (*rtcp_write_sr)(rtcp_writer_t *w, const rtcp_sender_info_t *si, const rtcp_report_block_t *blocks,
                         unsigned count);
    int (*rtcp_write_rr)(rtcp_writer_t *w, uint32_t ssrc, const rtcp_report_block_t *blocks, unsigned count);
    int (*rtcp_write_sdes_cname)(rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t length);
    int (*rtcp_write_bye)(rtcp_writer_t *w, const uint32_t *ssrcs, unsigned count, const char *reason,
                          size_t reason_length);
    void (*rtcp_clock_init)(rtcp_clock_t *c, uint64_t monotonic_now_ns);
    uint64_t (*rtcp_clock_ntp)(const rtcp_clock_t *c, uint64_t monotonic_ns);
    int64_t (*rtcp_rtt_ns)(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr);
    void (*rtcp_rx_init)(rtcp_rx_stats_t *st, uint32_t ssrc, uint32_t clock_rate);
    int (*rtcp_rx_update)(rtcp_rx_stats_t *st, uint16_t seq, uint32_t rtp_timestamp, uint64_t arrival_ns,
                          size_t payload_length, unsigned flags);
    void (*rtcp_rx_got_sr)(rtcp_rx_stats_t *st, uint64_t ntp_timestamp, uint32_t rtp_timestamp,
                           uint64_t arrival_ns);
    void (*rtcp_rx_report)(rtcp_rx_stats_t *st, uint64_t now_ns, rtcp_report_block_t *block);
    void (*rtcp_schedule_init)(rtcp_schedule_t *s, double now, double rtcp_bw, double min_interval,
                               double first_packet_size, double u);
    int (*rtcp_schedule_expired)(rtcp_schedule_t *s, double now, double u);
    void (*rtcp_schedule_sent)(rtcp_schedule_t *s, double now, double packet_size, double u);
    const char *(*rtcp_strerror)(int status);
    /* jbuf.h */
    void (*jbuf_config_default)(jbuf_config_t *c, uint32_t clock_rate, uint32_t frame_samples);
    jbuf_t *(*jbuf_create)(const jbuf_config_t *c);
    void (*jbuf_destroy)(jbuf_t *jb);
    void (*jbuf_reset)(jbuf_t *jb);
    int (*jbuf_put)(jbuf_t *jb, const uint8_t *payload, size_t length, uint16_t seq, uint32_t timestamp,
                    uint32_t ssrc, uint32_t samples, uint32_t flags, uint64_t arrival_ns);
    int (*jbuf_get)(jbuf_t *jb, uint64_t now_ns, uint8_t *payload, size_t cap, jbuf_frame_t *out);
    void (*jbuf_get_stats)(jbuf_t *jb, jbuf_stats_t *out);
    /* dtmf.h */
    void (*dtmf_sender_init)(dtmf_sender_t *s, uint32_t clock_rate, uint32_t pause_ms);
    int (*dtmf_sender_queue)(dtmf_sender_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume);
    int (*dtmf_sender_tick)(dtmf_sender_t *s, uint32_t media_timestamp, uint32_t frame_samples,
                            dtmf_packet_t *pkt);
    void (*dtmf_receiver_init)(dtmf_receiver_t *r, uint32_t clock_rate, uint32_t timeout_ms);
    int (*dtmf_receiver_put)(dtmf_receiver_t *r, const uint8_t *payload, size_t length, uint32_t timestamp,
                             uint64_t now_ns, dtmf_event_t out[2]);
    int (*dtmf_receiver_tick)(dtmf_receiver_t *r, uint64_t now_ns, dtmf_event_t *out);
} media_rtp_api;

#endif
