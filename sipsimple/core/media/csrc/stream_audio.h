/*
 * stream_audio.h - an RTP audio stream: a mixer port (port.h) over an RTP transport.
 *
 * Sending, on the mixer's thread (put_frame): PCM is gathered into packets of `ptime`, encoded
 * with the negotiated codec, written as RTP (rtp.h) and sent at once through the transport
 * (sendto() from this thread: no hand-over to another thread, no wake-up per packet). While a
 * telephone-event is queued (send_dtmf), its RFC 4733 packets replace the audio (dtmf.h). Opus
 * DTX "no speech" frames are not sent (the timestamp still advances; the next packet is a talk
 * spurt). With silence detection and a CN payload type (RFC 3389, cn.h), packets the detector
 * finds silent are not encoded: a SID with the noise level goes out at the start of the silence,
 * again every CN_SID_INTERVAL_MS and when the level moves by CN_SID_STEP dB; the timestamp keeps
 * advancing and the first voice packet after the silence carries the marker bit (RFC 3551 4.1).
 * Without the send direction nothing is sent and the timestamp keeps advancing.
 *
 * Payload types per direction (RFC 3264 5.1): packets go out with the numbers of the peer's SDP
 * (payload_type, dtmf_payload_type, cn_payload_type) and are accepted with the numbers of ours
 * (rx_payload_type, rx_dtmf_payload_type, rx_cn_payload_type); the two sets may differ.
 *
 * Receiving, on the I/O thread (the transport's sink): RTP of the codec's payload type updates
 * the reception statistics (RFC 3550 A.1/A.3/A.8) and goes into the adaptive jitter buffer
 * (jbuf.h); telephone-events go to the RFC 4733 receiver, whose digits are posted as
 * STREAM_EVENT_DTMF; comfort noise (CN) is buffered as a SID that starts a pause; other payload
 * types are counted and dropped. RTCP: SR (for LSR/DLSR), report blocks about our SSRC (round-trip time,
 * the remote's view of our loss and jitter), BYE.
 *
 * Playing, on the mixer's thread (get_frame): the jitter buffer gives the next stretch of audio:
 * a packet is decoded; a missing one is concealed by the codec's PLC, or rebuilt from the next
 * packet's in-band FEC (Opus) when that packet has already arrived and carries FEC data (when the
 * peer says it sends FEC, expect_fec, the Opus jitter buffer's minimum delay is one packet longer,
 * unless jitter_min_ms is given, so that it normally has; otherwise no time is spent waiting for
 * FEC that never comes, and FEC is still used when the next packet happens to be there); a SID
 * and the pause after it play comfort noise at the SID's level and spectrum (cn.h); a DTX gap
 * without CN is silence (Opus fills its own DTX pauses).
 *
 * RTCP sending, on the I/O thread's timer (or stream_audio_service() with a manual clock): a
 * compound SR or RR + SDES CNAME on the RFC 3550 A.7 schedule with a configurable minimum
 * interval (the reduced minimum of §6.2 for a two-party call); RR+BYE when stopped.
 *
 * Locks: tx_lock (sender, DTMF sender, encoder; the mixer thread, RTCP reading the sender's
 * counts, Python queueing digits) and rx_lock (reception statistics, DTMF receiver, RTCP schedule
 * and results). They are never held together. The decoder and the play-out buffer belong to the
 * mixer's thread alone; the jitter buffer has its own lock.
 */
#ifndef SIPSIMPLE_MEDIA_STREAM_AUDIO_H
#define SIPSIMPLE_MEDIA_STREAM_AUDIO_H

#include <stddef.h>
#include <stdint.h>

#include "cn.h"
#include "codec.h"
#include "events.h"
#include "jbuf.h"
#include "netio.h"
#include "port.h"
#include "stream.h"
#include "stream_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CN_SID_INTERVAL_MS 200u  /* a SID at least this often while silent */
#define CN_SID_STEP 3             /* dB of level change that sends a SID at once */

/* Directions: bit 0 = send, bit 1 = receive. */
#define STREAM_SEND 1
#define STREAM_RECV 2
enum {
    STREAM_INACTIVE = 0,
    STREAM_SENDONLY = STREAM_SEND,
    STREAM_RECVONLY = STREAM_RECV,
    STREAM_SENDRECV = STREAM_SEND | STREAM_RECV
};

typedef struct stream_audio stream_audio_t;

/* jitter_min_ms when the caller gave none: the jitter buffer's default minimum */
#define STREAM_JITTER_DEFAULT UINT32_MAX

typedef struct stream_audio_config {
    const media_codec *codec;
    media_codec_params encoder;   /* fmtp applied; sample_rate = the port's rate */
    media_codec_params decoder;   /* same sample_rate */
    uint8_t payload_type;         /* the codec's, as we send it (the peer's number) */
    int dtmf_payload_type;        /* -1: none */
    int cn_payload_type;          /* -1: none */
    int rx_payload_type;          /* the codec's as we receive it (our number); -1: payload_type */
    int rx_dtmf_payload_type;     /* -1: none */
    int rx_cn_payload_type;       /* -1: none */
    int silence_detection;        /* send CN in silence (needs cn_payload_type) */
    int expect_fec;               /* the peer sends Opus in-band FEC: wait one packet for it */
    uint32_t frame_ms;            /* the mixer's frame time: 10 or 20 */
    uint32_t ptime_ms;            /* packet duration we send */
    uint32_t dtmf_pause_ms;       /* between queued telephone-events */
    uint32_t dtmf_timeout_ms;     /* a telephone-event whose end packets never came */
    double rtcp_min_interval;     /* seconds */
    double rtcp_bandwidth;        /* octets per second for RTCP (5% of the session's) */
    uint32_t jitter_min_ms;       /* STREAM_JITTER_DEFAULT: the jitter buffer's default (0 is a floor of 0) */
    uint32_t jitter_max_ms;
    uint8_t cname_length;
    char cname[255];
} stream_audio_config_t;

typedef struct stream_audio_stats {
    /* sending */
    uint32_t ssrc;
    uint64_t tx_packets;          /* media and telephone-event packets handed to the transport */
    uint64_t tx_bytes;            /* their payload octets */
    uint64_t tx_dtmf_packets;
    uint64_t tx_dtx_frames;       /* Opus DTX frames not sent */
    uint64_t tx_errors;           /* encoder failures and packets the transport refused */
    uint64_t tx_frames;           /* mixer frames received while sending */
    uint64_t tx_cn_packets;       /* SIDs sent */
    uint64_t tx_silent_packets;   /* packets not sent because the input was silent */
    /* receiving */
    int rx_started;
    uint32_t rx_ssrc;
    uint64_t rx_packets;          /* RTP packets of any known payload type */
    uint64_t rx_bytes;
    uint64_t rx_unknown_payload;  /* packets of payload types we did not negotiate */
    uint64_t rx_dtmf_packets;
    uint64_t rx_cn_packets;
    /* RFC 3550 A.3, counted from the first packet of the probation run (rtcp_rx_expected_all), so
     * that rx_packets + rx_lost == rx_expected while one source sent every packet, none was more
     * than 3000 out of sequence and the source's first packets arrived in order. rx_packets counts
     * every packet of our payload types since the stream started (a previous source's, and packets
     * A.1 rejects, too); expected and lost cover the current source. 0 during the probation. */
    uint32_t rx_expected;
    int64_t rx_lost;
    uint32_t rx_jitter;           /* RTP units */
    uint64_t rx_dtmf_events;
    /* play-out */
    uint64_t frames_decoded;
    uint64_t frames_concealed;    /* PLC for lost/late packets */
    uint64_t frames_dtx;          /* PLC over the sender's pauses (DTX without comfort noise) */
    uint64_t frames_expanded;     /* inserted by the jitter buffer to grow its delay */
    uint64_t frames_recovered;    /* of frames_concealed, those rebuilt from FEC data instead */
    uint64_t frames_silent;       /* DTX gaps without CN and nothing-yet */
    uint64_t frames_comfort_noise;/* SIDs and the pauses after them, played as comfort noise */
    uint64_t decode_errors;
    jbuf_stats_t jitter_buffer;
    /* RTCP */
    uint64_t rtcp_sent;
    uint64_t rtcp_received;
    uint64_t rtcp_malformed;
    uint64_t rtt_count;
    int64_t rtt_last_ns, rtt_min_ns, rtt_max_ns, rtt_sum_ns;
    int remote_report;            /* a report block about us has arrived */
    uint8_t remote_fraction_lost; /* /256 */
    int32_t remote_cumulative_lost;
    uint32_t remote_jitter;       /* RTP units */
} stream_audio_stats_t;

/* Creates a stream on `transport` (not yet receiving or sending). Returns 0 or a negative
 * STREAM_E_* status (STREAM_E_CODEC: *codec_status has the codec's). */
int stream_audio_create(const stream_audio_config_t *config, stream_transport_t *transport, netio_t *io,
                        media_event_queue_t *queue, uint64_t source, const stream_clock_t *clock,
                        stream_audio_t **out, int *codec_status);
/* Stops (without BYE) and frees. The port must not be in a mixer any more. */
void stream_audio_destroy(stream_audio_t *s);
media_port_t *stream_audio_port(stream_audio_t *s);

/* Attaches to the transport and starts the RTCP schedule. */
int stream_audio_start(stream_audio_t *s);
/* Stops sending and receiving (an RTCP BYE first when bye), detaches from the transport.
 * Synchronous: afterwards no thread but the mixer's touches the stream, and the mixer's only to
 * find it stopped. */
void stream_audio_stop(stream_audio_t *s, int bye);
int stream_audio_is_running(const stream_audio_t *s);

void stream_audio_set_direction(stream_audio_t *s, int direction);
int stream_audio_direction(const stream_audio_t *s);
/* Queues an RFC 4733 event (0-15 are the digits). Returns 0 or DTMF_E_FULL/DTMF_E_ARGUMENT. */
int stream_audio_send_dtmf(stream_audio_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume);
int stream_audio_dtmf_busy(stream_audio_t *s);

/* RTCP and telephone-event timeouts at now_ns (the I/O thread calls it; with a manual clock the
 * caller does). Returns the next deadline (NETIO_NEVER when stopped). */
uint64_t stream_audio_service(stream_audio_t *s, uint64_t now_ns);
void stream_audio_get_stats(stream_audio_t *s, stream_audio_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
