/* An RTP audio stream as a mixer port: see stream_audio.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
#include "stream_audio.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dtmf.h"
#include "rtcp.h"
#include "rtp.h"
#include "tick_batch.h"

#define IP_UDP_OVERHEAD 28.0       /* octets added to an RTCP packet's size for A.7 averages */
#define MAX_PACKET_MS 120u         /* the longest packet we decode (Opus: 120 ms) */
#define RTCP_BUFFER 1024u
#define FEC_MARGIN_MS 10u          /* beyond one packet, for the packet that carries FEC */

#define CACHE_LINE 64

/* Counters, grouped by the thread that writes them (so that two threads never write one cache line). */
typedef struct tx_counters {     /* the mixer's thread, under tx_lock */
    uint64_t packets, bytes, dtmf_packets, dtx_frames, errors, frames, cn_packets, silent_packets;
} tx_counters_t;

typedef struct play_counters {   /* the mixer's thread */
    uint64_t decoded, concealed, dtx, expanded, recovered, silent, decode_errors, comfort_noise;
} play_counters_t;

typedef struct rx_counters {     /* the receiving thread and the RTCP timer, under rx_lock */
    uint64_t packets, bytes, unknown_payload, dtmf_packets, cn_packets, dtmf_events;
    uint64_t rtcp_sent, rtcp_received, rtcp_malformed;
} rx_counters_t;

struct stream_audio {
    /* read-mostly: set at creation (the atomics change only on control calls) */
    media_port_t port;
    stream_transport_t *transport;
    netio_t *io;
    netio_handle_t *timer;
    const stream_clock_t *clock;
    media_event_queue_t *queue;
    uint64_t source;
    jbuf_t *jbuf;
    media_codec_state *encoder;   /* the mixer's thread only: under tx_lock, or in the tick's batch */
    media_codec_state *decoder;   /* the mixer's thread (decoded_bound() from the receiving one) */
    uint32_t rate;                /* PCM rate of the port and the codec states */
    uint32_t rtp_rate;
    uint32_t frame_samples;       /* PCM samples per mixer frame */
    uint32_t packet_samples;      /* PCM samples per packet we send */
    uint32_t packet_units;        /* RTP units per packet we send */
    uint32_t max_packet_samples;  /* PCM samples of the longest packet we decode */
    uint32_t ssrc;                /* ours, fixed at creation */
    int payload_type, dtmf_payload_type, cn_payload_type;          /* sending: the peer's numbers */
    int rx_payload_type, rx_dtmf_payload_type, rx_cn_payload_type; /* receiving: ours */
    int silence_detection;        /* CN instead of silent packets (cn_payload_type >= 0) */
    int dtx;                      /* the encoder may say "nothing to send" (Opus DTX) */
    int fec;                      /* the decoder can rebuild from in-band FEC (Opus) */
    int duration_from_payload;    /* decoded_bound() gives a packet's exact duration */
    int running;                  /* atomic */
    int direction;                /* atomic */
    int rx_reset;                 /* atomic: the play-out buffer must be emptied */

    /* sending: tx_lock (the mixer's thread; RTCP reads the sender's counts; Python queues digits) */
    pthread_mutex_t tx_lock __attribute__((aligned(CACHE_LINE)));
    rtp_sender_t sender;
    uint32_t tx_fill;
    uint32_t unit_remainder;      /* PCM samples not yet counted in RTP units while not sending */
    uint32_t packets_at_report;   /* sender.packets_sent at the last RTCP report */
    int16_t *tx_pcm;
    tx_counters_t txc;
    dtmf_sender_t dtmf_tx;
    cn_vad_t vad;
    int tx_silent;                /* the input is silent: SIDs only */
    uint64_t tx_queued_at;        /* the clock when the packet whose encode is in the batch was due */
    int tx_queued;                /* an encode of ours is in the batch (never two: a state per job) */
    uint32_t tx_epoch;            /* stream_audio_stop() counts it up: a packet encoded before a stop
                                     is not sent after a quick restart */
    uint32_t tx_queued_epoch;
    uint8_t sid_level;            /* of the last SID sent */
    uint32_t sid_age_ms;          /* since it was sent */

    /* play-out: the mixer's thread alone */
    uint32_t rx_fill __attribute__((aligned(CACHE_LINE)));
    uint32_t rx_cap;
    int16_t *rx_pcm;
    uint16_t last_sequence;       /* of the last packet played */
    int have_last_sequence;
    uint32_t pending_missing;     /* frames concealed since then: a loss, or the sender's DTX */
    int comfort_noise;            /* a SID was played last: pauses and losses are comfort noise */
    cn_generator_t cng;
    play_counters_t play;
    /* the frame whose decode is in the mixer's batch (frame_decoded) */
    int16_t *rx_queued_pcm;       /* NULL: none queued (never two: a state per job) */
    uint32_t rx_queued_n;
    uint16_t rx_queued_sequence;

    /* receiving and RTCP: rx_lock (the I/O thread) */
    pthread_mutex_t rx_lock __attribute__((aligned(CACHE_LINE)));
    int rx_running;
    int rx_started;
    rtcp_rx_stats_t rx;
    uint32_t rx_packets_at_report;
    rx_counters_t rxc;
    dtmf_receiver_t dtmf_rx;
    rtcp_clock_t ntp;
    rtcp_schedule_t schedule;
    uint64_t rng;
    int64_t rtt_last, rtt_min, rtt_max, rtt_sum;
    uint64_t rtt_count;
    int remote_report;
    uint8_t remote_fraction_lost;
    int32_t remote_cumulative_lost;
    uint32_t remote_jitter;

    /* buffers */
    uint8_t tx_packet[STREAM_MAX_DATAGRAM + STREAM_TRANSFORM_OVERHEAD] __attribute__((aligned(CACHE_LINE)));
    uint8_t payload[STREAM_MAX_DATAGRAM] __attribute__((aligned(CACHE_LINE)));
    uint8_t next_payload[STREAM_MAX_DATAGRAM] __attribute__((aligned(CACHE_LINE)));
    stream_audio_config_t cfg;    /* as given (cold) */
};

static void post(stream_audio_t *s, uint32_t type, int64_t a, int64_t b)
{
    media_event_post(s->queue, type, s->source, a, b);
}

static uint32_t units_to_samples(const stream_audio_t *s, uint32_t units)
{
    uint64_t samples = (uint64_t)units * s->rate / s->rtp_rate;
    return samples > s->max_packet_samples ? s->max_packet_samples : (uint32_t)samples;
}

/* A uniform number in [0, 1) for the RTCP interval (rx_lock held). */
static double uniform(stream_audio_t *s)
{
    return cn_random_unit(&s->rng);
}

/* ---- sending (the mixer's thread) ------------------------------------------------------------ */

/* A packet's worth of silent input (tx_lock held): a SID at the start of the silence, when the
 * level moved by CN_SID_STEP dB and every CN_SID_INTERVAL_MS; nothing otherwise. The timestamp
 * advances either way and the next voice packet starts a talk spurt (marker bit). */
static void send_silence(stream_audio_t *s, double level_db, uint64_t now)
{
    uint8_t *buf = s->tx_packet;
    size_t cap = sizeof s->tx_packet - STREAM_TRANSFORM_OVERHEAD;
    uint8_t level = cn_level_byte(level_db);
    int step = (int)level - (int)s->sid_level;

    s->sid_age_ms += s->cfg.ptime_ms;
    if (!s->tx_silent || step >= CN_SID_STEP || step <= -CN_SID_STEP || s->sid_age_ms >= CN_SID_INTERVAL_MS) {
        uint8_t sid[1];
        size_t sid_length = cn_write(sid, sizeof sid, level);
        int length = rtp_sender_write_at(&s->sender, buf, cap, (uint8_t)s->cn_payload_type, 0, s->sender.timestamp,
                                         sid, sid_length, now);
        if (length >= 0 &&
            stream_transport_send(s->transport, STREAM_COMPONENT_RTP, buf, (size_t)length, sizeof s->tx_packet) ==
                STREAM_OK) {
            STREAM_COUNT(s->txc.packets);
            STREAM_COUNT(s->txc.cn_packets);
            STREAM_COUNT_ADD(s->txc.bytes, (uint64_t)sid_length);
        } else {
            STREAM_COUNT(s->txc.errors);
        }
        s->sid_level = level;
        s->sid_age_ms = 0;
    } else {
        STREAM_COUNT(s->txc.silent_packets);
    }
    s->tx_silent = 1;
    rtp_sender_skip(&s->sender, s->packet_units, 1);
}

/* The silence detector's verdict on one packet's worth of PCM (tx_lock held); *level_db its level. */
static int is_silent(stream_audio_t *s, const int16_t *pcm, double *level_db)
{
    *level_db = cn_level_db(pcm, s->packet_samples);
    return !cn_vad_update(&s->vad, *level_db);
}

/* The RTP packet of `length` bytes in tx_packet (negative: it could not be written) goes out. */
static void transmit(stream_audio_t *s, int length, int payload_length)
{
    if (length < 0) {
        STREAM_COUNT(s->txc.errors);
        return;
    }
    if (stream_transport_send(s->transport, STREAM_COMPONENT_RTP, s->tx_packet, (size_t)length,
                              sizeof s->tx_packet) == STREAM_OK) {
        STREAM_COUNT(s->txc.packets);
        STREAM_COUNT_ADD(s->txc.bytes, (uint64_t)payload_length);
    } else {
        STREAM_COUNT(s->txc.errors);
    }
}

#define TX_CAP (sizeof(((stream_audio_t *)0)->tx_packet) - STREAM_TRANSFORM_OVERHEAD)

/* The encoder wrote `payload_length` bytes (or failed) after the RTP header's room in tx_packet
 * (tx_lock held). */
static void send_encoded(stream_audio_t *s, int payload_length, uint64_t now)
{
    uint8_t *buf = s->tx_packet;

    if (payload_length < 0) {
        STREAM_COUNT(s->txc.errors);
        rtp_sender_skip(&s->sender, s->packet_units, 1);
        return;
    }
    if (payload_length <= 2 && s->dtx) {
        /* Opus DTX: nothing worth sending; the gap tells the receiver */
        STREAM_COUNT(s->txc.dtx_frames);
        rtp_sender_skip(&s->sender, s->packet_units, 1);
        return;
    }
    transmit(s,
             rtp_sender_write(&s->sender, buf, TX_CAP, -1, buf + RTP_HEADER_SIZE, (size_t)payload_length,
                              s->packet_units, now),
             payload_length);
}

/* The batch has run the encode that send_packet() left there: the packet goes out now, unless the
 * stream stopped in the meantime (stream_audio_stop promises no packet after it returns). */
static void packet_encoded(void *owner, int payload_length)
{
    stream_audio_t *s = owner;
    pthread_mutex_lock(&s->tx_lock);
    s->tx_queued = 0;
    if (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE) && s->tx_queued_epoch == s->tx_epoch)
        send_encoded(s, payload_length, s->tx_queued_at);
    pthread_mutex_unlock(&s->tx_lock);
}

/* One packet's worth of PCM at pcm (tx_lock held). With a batch (the mixer's, when the encoder
 * codes several streams in one pass), pcm is tx_pcm or a frame copied there, and the encode may be
 * left in the batch: packet_encoded() then sends. */
static void send_packet(stream_audio_t *s, const int16_t *pcm, uint64_t now, tick_batch_t *batch)
{
    uint8_t *buf = s->tx_packet;
    dtmf_packet_t event;
    double level_db;

    if (s->dtmf_payload_type >= 0 &&
        dtmf_sender_tick(&s->dtmf_tx, s->sender.timestamp, s->packet_units, &event) == DTMF_TX_PACKET) {
        int length = rtp_sender_write_at(&s->sender, buf, TX_CAP, (uint8_t)s->dtmf_payload_type, event.marker,
                                         event.timestamp, event.payload, DTMF_PAYLOAD_SIZE, now);
        rtp_sender_skip(&s->sender, s->packet_units, 1);
        STREAM_COUNT(s->txc.dtmf_packets);
        transmit(s, length, DTMF_PAYLOAD_SIZE);
    } else if (s->silence_detection && is_silent(s, pcm, &level_db)) {
        send_silence(s, level_db, now);
    } else {
        media_codec_encode_job job = {.state = s->encoder, .pcm = s->tx_pcm, .n = s->packet_samples,
                                      .out = buf + RTP_HEADER_SIZE, .cap = TX_CAP - RTP_HEADER_SIZE};
        s->tx_silent = 0;
        if (batch != NULL && !s->tx_queued && media_codec_has_batch(s->encoder, MEDIA_CODEC_ENCODER)) {
            if (pcm != s->tx_pcm)
                memcpy(s->tx_pcm, pcm, s->packet_samples * sizeof *pcm);
            if (tick_batch_queue_encode(batch, &job, packet_encoded, s) == 0) {
                s->tx_queued = 1;
                s->tx_queued_at = now;
                s->tx_queued_epoch = s->tx_epoch;
                return;
            }
        }
        send_encoded(s, media_codec_encode(s->encoder, pcm, job.n, job.out, job.cap), now);
    }
}

static int put_frame_into(media_port_t *port, const int16_t *pcm, size_t n, tick_batch_t *batch)
{
    stream_audio_t *s = port->user_data;
    if (!__atomic_load_n(&s->running, __ATOMIC_ACQUIRE))
        return MEDIA_PORT_OK;
    int direction = __atomic_load_n(&s->direction, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->tx_lock);
    STREAM_COUNT(s->txc.frames);
    if (!(direction & STREAM_SEND)) {
        /* on hold: time passes without packets (PCM gathered for a packet too); the next packet
         * starts a talk spurt */
        uint64_t samples = (uint64_t)n + s->tx_fill + s->unit_remainder;
        uint32_t units = (uint32_t)(samples * s->rtp_rate / s->rate);
        s->unit_remainder = (uint32_t)(samples - (uint64_t)units * s->rate / s->rtp_rate);
        rtp_sender_skip(&s->sender, units, 1);
        s->tx_fill = 0;
        s->tx_silent = 0; /* a silence after the hold starts with a SID */
        pthread_mutex_unlock(&s->tx_lock);
        return MEDIA_PORT_OK;
    }
    uint64_t now = stream_clock_now(s->clock);
    if (s->tx_fill == 0 && n == s->packet_samples) {
        send_packet(s, pcm, now, batch); /* the usual case: one frame, one packet */
    } else {
        size_t offset = 0;
        while (offset < n) {
            size_t take = s->packet_samples - s->tx_fill;
            if (take > n - offset)
                take = n - offset;
            memcpy(s->tx_pcm + s->tx_fill, pcm + offset, take * sizeof *pcm);
            s->tx_fill += (uint32_t)take;
            offset += take;
            if (s->tx_fill == s->packet_samples) {
                send_packet(s, s->tx_pcm, now, NULL); /* tx_pcm is refilled at once */
                s->tx_fill = 0;
            }
        }
    }
    pthread_mutex_unlock(&s->tx_lock);
    return MEDIA_PORT_OK;
}

static int put_frame(media_port_t *port, const int16_t *pcm, size_t n)
{
    return put_frame_into(port, pcm, n, NULL);
}

static int put_frame_batch(media_port_t *port, const int16_t *pcm, size_t n, tick_batch_t *batch)
{
    return put_frame_into(port, pcm, n, batch);
}

/* ---- play-out (the mixer's thread) ----------------------------------------------------------- */

/* A packet is played. When its sequence number follows the previous packet's, the frames concealed
 * in between were not lost but a pause the sender chose (DTX without comfort noise): they are
 * counted as such instead. */
static void played(stream_audio_t *s, uint16_t sequence)
{
    if (s->pending_missing && s->have_last_sequence && sequence == (uint16_t)(s->last_sequence + 1)) {
        STREAM_COUNT_ADD(s->play.concealed, -(uint64_t)s->pending_missing);
        STREAM_COUNT_ADD(s->play.dtx, s->pending_missing);
    }
    s->pending_missing = 0;
    s->last_sequence = sequence;
    s->have_last_sequence = 1;
}

static void append_silence(stream_audio_t *s, uint32_t samples)
{
    memset(s->rx_pcm + s->rx_fill, 0, samples * sizeof *s->rx_pcm);
    s->rx_fill += samples;
}

static void append_comfort_noise(stream_audio_t *s, uint32_t samples)
{
    cn_generate(&s->cng, s->rx_pcm + s->rx_fill, samples);
    s->rx_fill += samples;
    STREAM_COUNT(s->play.comfort_noise);
}

/* A SID (RFC 3389) is played: the noise it describes from now until the next voice packet. */
static void play_sid(stream_audio_t *s, const uint8_t *payload, size_t length, uint32_t samples)
{
    cn_params_t p;
    if (cn_parse(payload, length, &p) == 0)
        cn_generator_set(&s->cng, &p);
    s->comfort_noise = 1;
    append_comfort_noise(s, samples);
}

static void append_concealment(stream_audio_t *s, uint32_t samples)
{
    if (samples == 0)
        return;
    if (s->comfort_noise) {
        append_comfort_noise(s, samples);
        return;
    }
    if (media_codec_conceal(s->decoder, s->rx_pcm + s->rx_fill, samples) == (int)samples)
        s->rx_fill += samples;
    else
        append_silence(s, samples);
}

static void append_decoded(stream_audio_t *s, const uint8_t *payload, size_t length, uint32_t samples)
{
    s->comfort_noise = 0;
    int decoded = media_codec_decode(s->decoder, payload, length, s->rx_pcm + s->rx_fill,
                                     s->rx_cap - s->rx_fill);
    if (decoded > 0 && (uint32_t)decoded <= s->max_packet_samples) {
        s->rx_fill += (uint32_t)decoded;
        STREAM_COUNT(s->play.decoded);
    } else {
        STREAM_COUNT(s->play.decode_errors);
        append_concealment(s, samples);
    }
}

/* Whether an Opus payload carries in-band FEC (LBRR) data for the frame before it. RFC 6716: the
 * TOC byte (section 3.1) gives the mode, frame size and stereo flag; FEC exists only in SILK-only
 * and hybrid packets. The first frame's range-coded data begins with equiprobable header bits
 * (section 4.2.3): per channel (mid, then side), one VAD flag per SILK frame (1 for a 10 or 20 ms
 * Opus frame, 2 for 40 ms, 3 for 60 ms) and then the LBRR flag, so they are the first bits of
 * that frame's first byte. */
static int opus_payload_has_fec(const uint8_t *p, size_t len)
{
    static const uint8_t silk_frames[4] = {1, 1, 2, 3}; /* by the 10/20/40/60 ms size code */
    size_t at = 1;
    unsigned config, frames;

    if (len < 2)
        return 0;
    config = p[0] >> 3;
    if (config >= 16)
        return 0; /* CELT only */
    frames = config < 12 ? silk_frames[config & 3] : 1; /* hybrid frames are 10 or 20 ms */
    switch (p[0] & 3) {
    case 0:
    case 1:
        break; /* one frame, or two of equal size: the first starts after the TOC */
    case 2:
        at += p[1] < 252 ? 1 : 2; /* the first frame's length (section 3.2.1) */
        break;
    default: { /* code 3: frame count byte, then padding length, then VBR lengths */
        unsigned count = p[1] & 0x3f, i;
        int vbr = (p[1] & 0x80) != 0, padded = (p[1] & 0x40) != 0;
        at = 2;
        if (count == 0)
            return 0;
        if (padded) {
            while (at < len && p[at] == 255)
                at++;
            at++;
        }
        if (vbr)
            for (i = 0; i + 1 < count && at < len; i++)
                at += p[at] < 252 ? 1 : 2;
        break;
    }
    }
    if (at >= len)
        return 0;
    uint8_t first = p[at];
    int lbrr = (first >> (7 - frames)) & 1;
    if (p[0] & 0x04)
        lbrr |= (first >> (6 - 2 * frames)) & 1; /* the side channel's flag */
    return lbrr;
}

/* A MISSING packet: conceal it, or rebuild it from the in-band FEC of the packet that follows it,
 * when that one is already buffered (jbuf_peek: it is left in the buffer and played at the next
 * pull, as usual) and carries FEC data. The jitter buffer keeps one packet more of delay when FEC
 * is used (stream_audio_create), so that the following packet is normally there in time. */
static void handle_missing(stream_audio_t *s, const jbuf_frame_t *missing, uint32_t samples)
{
    jbuf_frame_t next;

    if (missing->flags & JBUF_F_EXPAND) {
        STREAM_COUNT(s->play.expanded);
        append_concealment(s, samples);
        return;
    }
    STREAM_COUNT(s->play.concealed);
    s->pending_missing++;
    if (s->fec && jbuf_peek(s->jbuf, s->next_payload, sizeof s->next_payload, &next) == JBUF_FRAME &&
        !(next.flags & JBUF_F_CNG) &&
        !(s->have_last_sequence && next.sequence == (uint16_t)(s->last_sequence + 1)) && /* DTX, no loss */
        opus_payload_has_fec(s->next_payload, next.length) &&
        media_codec_recover(s->decoder, s->next_payload, next.length, s->rx_pcm + s->rx_fill, samples) ==
            (int)samples) {
        s->rx_fill += samples;
        STREAM_COUNT(s->play.recovered);
        return;
    }
    append_concealment(s, samples);
}

/* Puts what the jitter buffer gave into the play-out buffer; 0 when nothing was due yet. */
static int consume(stream_audio_t *s, int kind, const jbuf_frame_t *f)
{
    uint32_t samples = units_to_samples(s, f->samples);

    switch (kind) {
    case JBUF_FRAME:
        played(s, f->sequence);
        if (f->flags & JBUF_F_CNG) {
            play_sid(s, s->payload, f->length, samples);
        } else {
            append_decoded(s, s->payload, f->length, samples);
        }
        return 1;
    case JBUF_MISSING:
        handle_missing(s, f, samples);
        return 1;
    case JBUF_GAP:
        if (s->comfort_noise && samples > 0) {
            append_comfort_noise(s, samples);
            return 1;
        }
        STREAM_COUNT(s->play.silent);
        append_silence(s, samples);
        return samples > 0;
    default:
        return 0; /* NOT_YET, or an error */
    }
}

/* A packet was decoded straight into the mixer's buffer (the usual case: one packet, one frame). */
static void played_decoded(stream_audio_t *s, uint16_t sequence)
{
    played(s, sequence);
    s->comfort_noise = 0;
    STREAM_COUNT(s->play.decoded);
}

/* The batch has run the decode that get_frame_into() left there (straight into the mixer's
 * buffer): the same accounting as a decode done at once, and concealment where it failed. */
static void frame_decoded(void *owner, int samples)
{
    stream_audio_t *s = owner;
    int16_t *pcm = s->rx_queued_pcm;

    s->rx_queued_pcm = NULL;
    if (samples == (int)s->rx_queued_n) {
        played_decoded(s, s->rx_queued_sequence);
        return;
    }
    played(s, s->rx_queued_sequence);
    s->comfort_noise = 0;
    STREAM_COUNT(s->play.decode_errors);
    if (media_codec_conceal(s->decoder, pcm, s->rx_queued_n) != (int)s->rx_queued_n)
        memset(pcm, 0, s->rx_queued_n * sizeof *pcm);
}

static int get_frame_into(media_port_t *port, int16_t *pcm, size_t n, tick_batch_t *batch)
{
    stream_audio_t *s = port->user_data;
    jbuf_frame_t f;
    int kind;

    if (!__atomic_load_n(&s->running, __ATOMIC_ACQUIRE) ||
        !(__atomic_load_n(&s->direction, __ATOMIC_RELAXED) & STREAM_RECV)) {
        s->rx_fill = 0;
        return MEDIA_PORT_SILENCE;
    }
    if (__atomic_exchange_n(&s->rx_reset, 0, __ATOMIC_ACQ_REL)) {
        s->rx_fill = 0;
        s->comfort_noise = 0;
    }
    uint64_t now = stream_clock_now(s->clock);
    if (s->rx_fill == 0) {
        /* the usual case: one packet is one frame, decoded straight into the mixer's buffer */
        kind = jbuf_get(s->jbuf, now, s->payload, sizeof s->payload, &f);
        if (kind == JBUF_FRAME && !(f.flags & JBUF_F_CNG) && s->duration_from_payload &&
            s->decoder->codec->decoded_bound(s->decoder, s->payload, f.length) == n) {
            if (batch != NULL && s->rx_queued_pcm == NULL &&
                media_codec_has_batch(s->decoder, MEDIA_CODEC_DECODER)) {
                media_codec_decode_job job = {.state = s->decoder, .payload = s->payload, .len = f.length,
                                              .pcm = pcm, .cap = n};
                if (tick_batch_queue_decode(batch, &job, frame_decoded, s) == 0) {
                    s->rx_queued_sequence = f.sequence;
                    s->rx_queued_pcm = pcm;
                    s->rx_queued_n = (uint32_t)n;
                    return MEDIA_PORT_OK; /* complete when the mixer has run the batch */
                }
            }
            if (media_codec_decode(s->decoder, s->payload, f.length, pcm, n) == (int)n) {
                played_decoded(s, f.sequence);
                return MEDIA_PORT_OK;
            }
        }
        if (!consume(s, kind, &f)) {
            STREAM_COUNT(s->play.silent);
            return MEDIA_PORT_SILENCE;
        }
    }
    while (s->rx_fill < n) {
        kind = jbuf_get(s->jbuf, now, s->payload, sizeof s->payload, &f);
        if (!consume(s, kind, &f))
            break;
    }
    if (s->rx_fill < n)
        append_silence(s, (uint32_t)(n - s->rx_fill));
    memcpy(pcm, s->rx_pcm, n * sizeof *pcm);
    s->rx_fill -= (uint32_t)n;
    if (s->rx_fill)
        memmove(s->rx_pcm, s->rx_pcm + n, s->rx_fill * sizeof *pcm);
    return MEDIA_PORT_OK;
}

static int get_frame(media_port_t *port, int16_t *pcm, size_t n)
{
    return get_frame_into(port, pcm, n, NULL);
}

static int get_frame_batch(media_port_t *port, int16_t *pcm, size_t n, tick_batch_t *batch)
{
    return get_frame_into(port, pcm, n, batch);
}

/* ---- receiving (the I/O thread) -------------------------------------------------------------- */

static uint32_t payload_units(const stream_audio_t *s, const uint8_t *payload, size_t length)
{
    if (!s->duration_from_payload)
        return 0; /* the jitter buffer assumes our packet duration */
    size_t samples = s->decoder->codec->decoded_bound(s->decoder, payload, length);
    if (samples == 0 || samples > s->max_packet_samples)
        return 0;
    return (uint32_t)((uint64_t)samples * s->rtp_rate / s->rate);
}

static void on_rtp(void *ctx, const uint8_t *packet, size_t length, const rtp_header_t *h, uint64_t now)
{
    stream_audio_t *s = ctx;
    const uint8_t *payload = packet + h->payload_offset;
    size_t payload_length = h->payload_length;
    int pt = h->payload_type;
    dtmf_event_t events[2];

    (void)length;
    pthread_mutex_lock(&s->rx_lock);
    if (!s->rx_running)
        goto out;
    if (pt != s->rx_payload_type && pt != s->rx_dtmf_payload_type && pt != s->rx_cn_payload_type) {
        STREAM_COUNT(s->rxc.unknown_payload);
        goto out;
    }
    if (!s->rx_started || h->ssrc != s->rx.ssrc) {
        rtcp_rx_init(&s->rx, h->ssrc, s->rtp_rate);
        s->rx_started = 1;
        s->rx_packets_at_report = 0;
    }
    STREAM_COUNT(s->rxc.packets);
    STREAM_COUNT_ADD(s->rxc.bytes, payload_length);
    int receiving = (__atomic_load_n(&s->direction, __ATOMIC_RELAXED) & STREAM_RECV) != 0;
    if (pt == s->rx_payload_type) {
        if (rtcp_rx_update(&s->rx, h->sequence, h->timestamp, now, payload_length, 0) != RTCP_RX_BAD && receiving)
            jbuf_put(s->jbuf, payload, payload_length, h->sequence, h->timestamp, h->ssrc,
                     payload_units(s, payload, payload_length), h->marker ? JBUF_F_MARKER : 0, now);
    } else if (pt == s->rx_dtmf_payload_type) {
        STREAM_COUNT(s->rxc.dtmf_packets);
        rtcp_rx_update(&s->rx, h->sequence, h->timestamp, now, payload_length, RTCP_RX_NO_JITTER);
        int count = dtmf_receiver_put(&s->dtmf_rx, payload, payload_length, h->timestamp, now, events);
        for (int i = 0; i < count; i++) {
            STREAM_COUNT(s->rxc.dtmf_events);
            post(s, STREAM_EVENT_DTMF,
                 events[i].event | (int64_t)events[i].ended << 8 | (int64_t)events[i].volume << 16,
                 events[i].duration);
        }
        if (count >= 0 && s->dtmf_rx.active && s->timer != NULL && !(s->clock && s->clock->manual))
            netio_set_timer(s->timer, now + s->dtmf_rx.timeout_ns);
    } else {
        STREAM_COUNT(s->rxc.cn_packets);
        if (rtcp_rx_update(&s->rx, h->sequence, h->timestamp, now, payload_length, 0) != RTCP_RX_BAD && receiving)
            jbuf_put(s->jbuf, payload, payload_length, h->sequence, h->timestamp, h->ssrc, 0,
                     JBUF_F_CNG | (h->marker ? JBUF_F_MARKER : 0), now);
    }
out:
    pthread_mutex_unlock(&s->rx_lock);
}

static void on_rtcp(void *ctx, const uint8_t *packet, size_t length, uint64_t now)
{
    stream_audio_t *s = ctx;
    rtcp_compound_t c;
    unsigned i;

    if (rtcp_parse(packet, length, &c) != RTCP_OK) {
        pthread_mutex_lock(&s->rx_lock);
        STREAM_COUNT(s->rxc.rtcp_malformed);
        pthread_mutex_unlock(&s->rx_lock);
        return;
    }
    pthread_mutex_lock(&s->rx_lock);
    if (!s->rx_running)
        goto out;
    STREAM_COUNT(s->rxc.rtcp_received);
    s->schedule.avg_rtcp_size = rtcp_average_size(s->schedule.avg_rtcp_size, (double)length + IP_UDP_OVERHEAD);
    if (c.has_sender_info && s->rx_started && c.sender_info.ssrc == s->rx.ssrc)
        rtcp_rx_got_sr(&s->rx, c.sender_info.ntp_timestamp, c.sender_info.rtp_timestamp, now);
    for (i = 0; i < c.block_count; i++) {
        const rtcp_report_block_t *b = &c.blocks[i];
        if (b->ssrc != s->ssrc)
            continue;
        s->remote_report = 1;
        s->remote_fraction_lost = b->fraction_lost;
        s->remote_cumulative_lost = b->cumulative_lost;
        s->remote_jitter = b->jitter;
        int64_t rtt = rtcp_rtt_ns(rtcp_ntp_middle(rtcp_clock_ntp(&s->ntp, now)), b->lsr, b->dlsr);
        if (rtt >= 0) {
            s->rtt_last = rtt;
            if (s->rtt_count == 0 || rtt < s->rtt_min)
                s->rtt_min = rtt;
            if (rtt > s->rtt_max)
                s->rtt_max = rtt;
            s->rtt_sum += rtt;
            s->rtt_count++;
        }
    }
    if (c.has_bye && s->rx_started) {
        for (i = 0; i < c.bye_count && i < RTCP_MAX_BYE; i++)
            if (c.bye_ssrcs[i] == s->rx.ssrc)
                post(s, STREAM_EVENT_RTCP_BYE, s->rx.ssrc, 0);
    }
out:
    pthread_mutex_unlock(&s->rx_lock);
}

/* ---- RTCP sending --------------------------------------------------------------------------- */

typedef struct sender_snapshot {
    rtcp_sender_info_t info;
    int we_sent;
} sender_snapshot_t;

static void snapshot_sender(stream_audio_t *s, uint64_t now, sender_snapshot_t *out)
{
    pthread_mutex_lock(&s->tx_lock);
    out->info.ssrc = s->ssrc;
    out->info.ntp_timestamp = rtcp_clock_ntp(&s->ntp, now);
    out->info.rtp_timestamp = rtp_sender_timestamp_at(&s->sender, now);
    out->info.packet_count = s->sender.packets_sent;
    out->info.octet_count = s->sender.octets_sent;
    out->we_sent = s->sender.packets_sent != s->packets_at_report;
    pthread_mutex_unlock(&s->tx_lock);
}

/* A report went out: "we sent" starts over. */
static void mark_reported(stream_audio_t *s, const sender_snapshot_t *snap)
{
    pthread_mutex_lock(&s->tx_lock);
    s->packets_at_report = snap->info.packet_count;
    pthread_mutex_unlock(&s->tx_lock);
}

/* Builds SR or RR + SDES (+ BYE) into buf (rx_lock held). Returns the length or a negative error. */
static int build_report(stream_audio_t *s, const sender_snapshot_t *snap, uint64_t now, int bye, uint8_t *buf,
                        size_t cap)
{
    rtcp_writer_t w;
    rtcp_report_block_t block;
    unsigned blocks = 0;
    int status;

    rtcp_writer_init(&w, buf, cap);
    if (s->rx_started && s->rx.received > 0) {
        rtcp_rx_report(&s->rx, now, &block);
        blocks = 1;
    }
    if (snap->we_sent)
        status = rtcp_write_sr(&w, &snap->info, &block, blocks);
    else
        status = rtcp_write_rr(&w, s->ssrc, &block, blocks);
    if (status >= 0 && s->cfg.cname_length)
        status = rtcp_write_sdes_cname(&w, s->ssrc, s->cfg.cname, s->cfg.cname_length);
    if (status >= 0 && bye)
        status = rtcp_write_bye(&w, &s->ssrc, 1, NULL, 0);
    return status < 0 ? status : (int)w.len;
}

static void send_report(stream_audio_t *s, uint8_t *buf, int length)
{
    if (length > 0 &&
        stream_transport_send(s->transport, STREAM_COMPONENT_RTCP, buf, (size_t)length, RTCP_BUFFER) == STREAM_OK) {
        pthread_mutex_lock(&s->rx_lock);
        STREAM_COUNT(s->rxc.rtcp_sent);
        pthread_mutex_unlock(&s->rx_lock);
    }
}

uint64_t stream_audio_service(stream_audio_t *s, uint64_t now)
{
    uint8_t buf[RTCP_BUFFER] __attribute__((aligned(8)));
    sender_snapshot_t snap;
    dtmf_event_t event;
    int length = 0;
    uint64_t next = NETIO_NEVER;
    double t = (double)now / 1e9;

    if (!__atomic_load_n(&s->running, __ATOMIC_ACQUIRE))
        return NETIO_NEVER;
    pthread_mutex_lock(&s->rx_lock);
    if (!s->rx_running) {
        pthread_mutex_unlock(&s->rx_lock);
        return NETIO_NEVER;
    }
    if (dtmf_receiver_tick(&s->dtmf_rx, now, &event) == 1) {
        STREAM_COUNT(s->rxc.dtmf_events);
        post(s, STREAM_EVENT_DTMF, event.event | (int64_t)event.ended << 8 | (int64_t)event.volume << 16,
             event.duration);
    }
    if (s->dtmf_rx.active)
        next = s->dtmf_rx.last_ns + s->dtmf_rx.timeout_ns;
    int due = t >= s->schedule.tn;
    pthread_mutex_unlock(&s->rx_lock);
    if (due) {
        snapshot_sender(s, now, &snap); /* tx_lock, never inside rx_lock */
        pthread_mutex_lock(&s->rx_lock);
        s->schedule.members = 1 + (s->rx_started ? 1u : 0u);
        int remote_sent = s->rx_started && s->rx.received != s->rx_packets_at_report;
        s->schedule.senders = (snap.we_sent ? 1u : 0u) + (remote_sent ? 1u : 0u);
        s->schedule.we_sent = snap.we_sent;
        if (rtcp_schedule_expired(&s->schedule, t, uniform(s))) {
            length = build_report(s, &snap, now, 0, buf, sizeof buf - STREAM_TRANSFORM_OVERHEAD);
            if (s->rx_started)
                s->rx_packets_at_report = s->rx.received;
            rtcp_schedule_sent(&s->schedule, t, (length > 0 ? length : 0) + IP_UDP_OVERHEAD, uniform(s));
        }
        pthread_mutex_unlock(&s->rx_lock);
        if (length > 0) {
            mark_reported(s, &snap);
            send_report(s, buf, length);
        }
    }
    pthread_mutex_lock(&s->rx_lock);
    uint64_t tn = (uint64_t)(s->schedule.tn * 1e9);
    pthread_mutex_unlock(&s->rx_lock);
    return tn < next ? tn : next;
}

static void on_timer(netio_handle_t *h, void *user, uint64_t now)
{
    uint64_t next = stream_audio_service(user, now);
    if (next != NETIO_NEVER)
        netio_set_timer(h, next);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

int stream_audio_create(const stream_audio_config_t *config, stream_transport_t *transport, netio_t *io,
                        media_event_queue_t *queue, uint64_t source, const stream_clock_t *clock,
                        stream_audio_t **out, int *codec_status)
{
    stream_audio_t *s;
    jbuf_config_t jc;
    const media_codec *codec = config->codec;
    int status;

    *out = NULL;
    *codec_status = 0;
    if (codec == NULL || config->frame_ms == 0 || config->ptime_ms == 0 ||
        config->encoder.sample_rate != config->decoder.sample_rate || config->encoder.sample_rate == 0)
        return STREAM_E_ARGUMENT;
    /* cache-line aligned, for the per-thread groups of fields */
    if (posix_memalign((void **)&s, CACHE_LINE, sizeof *s) != 0)
        return STREAM_E_NOMEM;
    memset(s, 0, sizeof *s);
    s->cfg = *config;
    s->payload_type = config->payload_type;
    s->dtmf_payload_type = config->dtmf_payload_type;
    s->cn_payload_type = config->cn_payload_type;
    s->rx_payload_type = config->rx_payload_type >= 0 ? config->rx_payload_type : config->payload_type;
    s->rx_dtmf_payload_type = config->rx_dtmf_payload_type;
    s->rx_cn_payload_type = config->rx_cn_payload_type;
    s->silence_detection = config->silence_detection && config->cn_payload_type >= 0;
    s->dtx = config->encoder.dtx == 1;
    s->transport = transport;
    s->io = io;
    s->clock = clock;
    s->queue = queue;
    s->source = source;
    s->rate = config->encoder.sample_rate;
    s->rtp_rate = codec->rtp_clock_rate;
    s->frame_samples = s->rate * config->frame_ms / 1000u;
    s->packet_samples = s->rate * config->ptime_ms / 1000u;
    s->packet_units = s->rtp_rate * config->ptime_ms / 1000u;
    s->max_packet_samples = s->rate * MAX_PACKET_MS / 1000u;
    s->fec = strcmp(codec->name, "opus") == 0;
    s->duration_from_payload = strcmp(codec->name, "speex") != 0;
    s->direction = STREAM_SENDRECV;
    pthread_mutex_init(&s->tx_lock, NULL);
    pthread_mutex_init(&s->rx_lock, NULL);
    media_port_init(&s->port, "rtp-audio", s->rate, 1, s->frame_samples);
    s->port.get_frame = get_frame;
    s->port.put_frame = put_frame;
    s->port.get_frame_batch = get_frame_batch;
    s->port.put_frame_batch = put_frame_batch;
    s->port.user_data = s;

    s->tx_pcm = calloc(s->packet_samples, sizeof *s->tx_pcm);
    s->rx_cap = s->frame_samples + 3 * s->max_packet_samples;
    s->rx_pcm = calloc(s->rx_cap, sizeof *s->rx_pcm);
    if (s->tx_pcm == NULL || s->rx_pcm == NULL) {
        stream_audio_destroy(s);
        return STREAM_E_NOMEM;
    }
    status = media_codec_create(codec, &config->encoder, &s->encoder);
    if (status >= 0)
        status = media_codec_create(codec, &config->decoder, &s->decoder);
    if (status < 0) {
        *codec_status = status;
        stream_audio_destroy(s);
        return STREAM_E_CODEC;
    }
    jbuf_config_default(&jc, s->rtp_rate, s->packet_units);
    if (config->jitter_min_ms != STREAM_JITTER_DEFAULT)
        jc.min_delay_ms = config->jitter_min_ms;
    if (config->jitter_max_ms)
        jc.max_delay_ms = config->jitter_max_ms;
    if (s->fec && config->expect_fec && config->jitter_min_ms == STREAM_JITTER_DEFAULT) {
        /* in-band FEC needs the packet after a loss in time: wait one packet more, and at least a
         * packet and FEC_MARGIN_MS, since the next packet may come a little after the lost one's
         * turn (only for a peer that sends FEC: for the others the wait would add latency and buy
         * nothing) */
        jc.min_delay_ms += config->ptime_ms;
        if (jc.min_delay_ms < config->ptime_ms + FEC_MARGIN_MS)
            jc.min_delay_ms = config->ptime_ms + FEC_MARGIN_MS;
        if (jc.min_delay_ms > jc.max_delay_ms)
            jc.min_delay_ms = jc.max_delay_ms;
    }
    jc.capacity = 0;
    /* room for packets of up to 120 ms of this codec (the jitter buffer's memory is capacity x this) */
    size_t bound = s->encoder->codec->encoded_bound(s->encoder, s->max_packet_samples);
    jc.max_payload = (uint32_t)(bound < 64 ? 64 : bound > 1500 ? 1500 : bound);
    s->jbuf = jbuf_create(&jc);
    if (s->jbuf == NULL) {
        stream_audio_destroy(s);
        return STREAM_E_ARGUMENT;
    }
    rtp_sender_init(&s->sender, config->payload_type, s->rtp_rate);
    s->ssrc = s->sender.ssrc;
    dtmf_sender_init(&s->dtmf_tx, s->rtp_rate, config->dtmf_pause_ms);
    cn_vad_init(&s->vad, config->ptime_ms);
    cn_generator_init(&s->cng, (uint64_t)rtp_random32() << 32 | rtp_random32());
    dtmf_receiver_init(&s->dtmf_rx, s->rtp_rate, config->dtmf_timeout_ms);
    s->rng = ((uint64_t)rtp_random32() << 32 | rtp_random32()) | 1u;
    *out = s;
    return STREAM_OK;
}

void stream_audio_destroy(stream_audio_t *s)
{
    if (s == NULL)
        return;
    stream_audio_stop(s, 0);
    media_codec_destroy(s->encoder);
    media_codec_destroy(s->decoder);
    jbuf_destroy(s->jbuf);
    free(s->tx_pcm);
    free(s->rx_pcm);
    pthread_mutex_destroy(&s->tx_lock);
    pthread_mutex_destroy(&s->rx_lock);
    free(s);
}

media_port_t *stream_audio_port(stream_audio_t *s)
{
    return &s->port;
}

int stream_audio_start(stream_audio_t *s)
{
    stream_sink_t sink;
    uint64_t now = stream_clock_now(s->clock);
    int manual = s->clock != NULL && s->clock->manual;

    if (__atomic_load_n(&s->running, __ATOMIC_ACQUIRE))
        return STREAM_E_STATE;
    if (stream_transport_is_closed(s->transport))
        return STREAM_E_CLOSED;
    pthread_mutex_lock(&s->rx_lock);
    rtcp_clock_init(&s->ntp, now);
    rtcp_schedule_init(&s->schedule, (double)now / 1e9, s->cfg.rtcp_bandwidth, s->cfg.rtcp_min_interval, 100.0,
                       uniform(s));
    s->rx_running = 1;
    uint64_t first = (uint64_t)(s->schedule.tn * 1e9);
    pthread_mutex_unlock(&s->rx_lock);
    jbuf_reset(s->jbuf);
    __atomic_store_n(&s->rx_reset, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&s->running, 1, __ATOMIC_RELEASE);
    /* the timer exists before the sink is attached and goes after it is detached: on_rtp() may use it */
    if (!manual && s->io != NULL && netio_add(s->io, -1, NULL, on_timer, s, &s->timer) == 0)
        netio_set_timer(s->timer, first);
    sink.ctx = s;
    sink.on_rtp = on_rtp;
    sink.on_rtcp = on_rtcp;
    int status = stream_transport_set_sink(s->transport, &sink);
    if (status != STREAM_OK) {
        /* another stream has the transport (or it was closed meanwhile): back to stopped */
        __atomic_store_n(&s->running, 0, __ATOMIC_RELEASE);
        if (s->timer != NULL) {
            netio_remove(s->io, s->timer);
            s->timer = NULL;
        }
        pthread_mutex_lock(&s->rx_lock);
        s->rx_running = 0;
        pthread_mutex_unlock(&s->rx_lock);
        return status;
    }
    return STREAM_OK;
}

void stream_audio_stop(stream_audio_t *s, int bye)
{
    uint8_t buf[RTCP_BUFFER] __attribute__((aligned(8)));
    sender_snapshot_t snap;
    int length = 0;

    if (!__atomic_load_n(&s->running, __ATOMIC_ACQUIRE))
        return;
    __atomic_store_n(&s->running, 0, __ATOMIC_RELEASE);
    stream_transport_clear_sink(s->transport, s); /* waits for the receive path to let go */
    if (s->timer != NULL) {
        netio_remove(s->io, s->timer); /* waits for a service() in progress on the I/O thread */
        s->timer = NULL;
    }
    if (bye) {
        uint64_t now = stream_clock_now(s->clock);
        snapshot_sender(s, now, &snap);
        pthread_mutex_lock(&s->rx_lock);
        length = build_report(s, &snap, now, 1, buf, sizeof buf - STREAM_TRANSFORM_OVERHEAD);
        pthread_mutex_unlock(&s->rx_lock);
        send_report(s, buf, length);
    }
    pthread_mutex_lock(&s->rx_lock);
    s->rx_running = 0;
    pthread_mutex_unlock(&s->rx_lock);
    /* a put_frame() that saw `running` before it was cleared finishes under tx_lock; a packet it
     * left in the mixer's batch is dropped (packet_encoded: running, and the epoch, checked) */
    pthread_mutex_lock(&s->tx_lock);
    s->tx_fill = 0;
    s->tx_epoch++;
    pthread_mutex_unlock(&s->tx_lock);
}

int stream_audio_is_running(const stream_audio_t *s)
{
    return __atomic_load_n(&s->running, __ATOMIC_ACQUIRE);
}

void stream_audio_set_direction(stream_audio_t *s, int direction)
{
    int old = __atomic_exchange_n(&s->direction, direction & STREAM_SENDRECV, __ATOMIC_ACQ_REL);
    if ((direction & STREAM_RECV) && !(old & STREAM_RECV)) {
        /* receiving again: start the play-out afresh rather than from what was buffered before */
        jbuf_reset(s->jbuf);
        __atomic_store_n(&s->rx_reset, 1, __ATOMIC_RELEASE);
    }
}

int stream_audio_direction(const stream_audio_t *s)
{
    return __atomic_load_n(&s->direction, __ATOMIC_RELAXED);
}

int stream_audio_send_dtmf(stream_audio_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume)
{
    pthread_mutex_lock(&s->tx_lock);
    int status = dtmf_sender_queue(&s->dtmf_tx, event, duration_ms, volume);
    pthread_mutex_unlock(&s->tx_lock);
    return status;
}

int stream_audio_dtmf_busy(stream_audio_t *s)
{
    pthread_mutex_lock(&s->tx_lock);
    int busy = dtmf_sender_busy(&s->dtmf_tx);
    pthread_mutex_unlock(&s->tx_lock);
    return busy;
}

#define LOAD(field) STREAM_READ(s->field)

void stream_audio_get_stats(stream_audio_t *s, stream_audio_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->ssrc = s->ssrc;
    out->tx_packets = LOAD(txc.packets);
    out->tx_bytes = LOAD(txc.bytes);
    out->tx_dtmf_packets = LOAD(txc.dtmf_packets);
    out->tx_dtx_frames = LOAD(txc.dtx_frames);
    out->tx_errors = LOAD(txc.errors);
    out->tx_frames = LOAD(txc.frames);
    out->tx_cn_packets = LOAD(txc.cn_packets);
    out->tx_silent_packets = LOAD(txc.silent_packets);
    out->frames_decoded = LOAD(play.decoded);
    out->frames_concealed = LOAD(play.concealed);
    out->frames_dtx = LOAD(play.dtx);
    out->frames_expanded = LOAD(play.expanded);
    out->frames_recovered = LOAD(play.recovered);
    out->frames_silent = LOAD(play.silent);
    out->frames_comfort_noise = LOAD(play.comfort_noise);
    out->decode_errors = LOAD(play.decode_errors);
    jbuf_get_stats(s->jbuf, &out->jitter_buffer);
    pthread_mutex_lock(&s->rx_lock);
    out->rx_started = s->rx_started;
    if (s->rx_started) {
        out->rx_ssrc = s->rx.ssrc;
        out->rx_expected = rtcp_rx_expected_all(&s->rx); /* packets + lost == expected (stream_audio.h) */
        out->rx_lost = rtcp_rx_lost(&s->rx);
        out->rx_jitter = rtcp_rx_jitter(&s->rx);
    }
    out->rx_packets = s->rxc.packets;
    out->rx_bytes = s->rxc.bytes;
    out->rx_unknown_payload = s->rxc.unknown_payload;
    out->rx_dtmf_packets = s->rxc.dtmf_packets;
    out->rx_cn_packets = s->rxc.cn_packets;
    out->rx_dtmf_events = s->rxc.dtmf_events;
    out->rtcp_sent = s->rxc.rtcp_sent;
    out->rtcp_received = s->rxc.rtcp_received;
    out->rtcp_malformed = s->rxc.rtcp_malformed;
    out->rtt_count = s->rtt_count;
    out->rtt_last_ns = s->rtt_last;
    out->rtt_min_ns = s->rtt_min;
    out->rtt_max_ns = s->rtt_max;
    out->rtt_sum_ns = s->rtt_sum;
    out->remote_report = s->remote_report;
    out->remote_fraction_lost = s->remote_fraction_lost;
    out->remote_cumulative_lost = s->remote_cumulative_lost;
    out->remote_jitter = s->remote_jitter;
    pthread_mutex_unlock(&s->rx_lock);
}
