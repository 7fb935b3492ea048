/*
 * RFC 4733 telephone-events (DTMF digits) over RTP: a sender that turns queued digits into event
 * packets frame by frame, and a receiver that turns event packets back into one report per digit.
 *
 * Payload (RFC 4733 §2.3): event (8 bits), E (end), R (reserved), volume (6 bits, -dBm0),
 * duration (16 bits, RTP timestamp units, counted from the event's start).
 *
 * Sender: every packet of an event carries the event's start timestamp; the first has the marker
 * bit; each packet interval sends the duration so far; the last carries E and is sent three times
 * (§2.5.1.4), in three consecutive intervals, with the same duration. Events are queued (up to
 * DTMF_MAX_QUEUE) and separated by a pause. Durations are limited to 65535 units (8.2 s at
 * 8 kHz, 1.36 s at 48 kHz): the long-event segmentation of §2.5.1.5 is not implemented.
 *
 * Receiver: one report per event, when its end packet arrives (with the duration it carries), or,
 * when every end packet is lost, when the next event starts or after a timeout without packets.
 * Packets of an event already reported (the retransmitted end packets) and packets older than it
 * are ignored, so each digit is reported once.
 *
 * Plain C, no allocation, no locks, no clock reads: times are passed in. One dtmf_sender_t or
 * dtmf_receiver_t must not be used by two threads at once.
 */
#ifndef SIPSIMPLE_MEDIA_DTMF_H
#define SIPSIMPLE_MEDIA_DTMF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DTMF_PAYLOAD_SIZE 4
#define DTMF_MAX_QUEUE 64
#define DTMF_END_PACKETS 3
#define DTMF_MAX_EVENT 255
#define DTMF_MAX_VOLUME 63

enum { DTMF_E_SHORT = -1, DTMF_E_FULL = -2, DTMF_E_ARGUMENT = -3 };

/* Event codes 0-15 are the digits "0123456789*#ABCD" (RFC 4733 §3.2); 16 is flash. */
int dtmf_event_from_char(char c);   /* -1 if not a DTMF character */
char dtmf_char_from_event(uint8_t event);  /* 0 if not a digit event */

typedef struct dtmf_packet {
    uint8_t payload[DTMF_PAYLOAD_SIZE];
    uint32_t timestamp;        /* the event's start timestamp */
    uint8_t marker;            /* first packet of the event */
    uint8_t end;               /* E bit */
} dtmf_packet_t;

enum { DTMF_TX_IDLE = 0, DTMF_TX_PACKET = 1 };

typedef struct dtmf_queued {
    uint8_t event;
    uint8_t volume;
    uint32_t duration;         /* RTP units */
} dtmf_queued_t;

typedef struct dtmf_sender {
    uint32_t clock_rate;
    uint32_t pause;            /* between events, RTP units */
    dtmf_queued_t queue[DTMF_MAX_QUEUE];
    unsigned q_head, q_len;
    int state;
    dtmf_queued_t current;
    uint32_t start_ts;
    uint32_t elapsed;
    unsigned ends_sent;
    uint8_t first;
    uint32_t pause_left;
    uint32_t packets;          /* packets produced */
    uint32_t events;           /* events completed */
} dtmf_sender_t;

void dtmf_sender_init(dtmf_sender_t *s, uint32_t clock_rate, uint32_t pause_ms);
/* Queue an event (0..255) of duration_ms (at least one packet interval is sent) at volume 0..63. */
int dtmf_sender_queue(dtmf_sender_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume);
/* 1 while an event is being sent or queued, or the pause after one is running. */
int dtmf_sender_busy(const dtmf_sender_t *s);
/* Forget queued events (an event being sent is ended properly: its end packets still go out). */
void dtmf_sender_clear(dtmf_sender_t *s);
/*
 * Call once per packet interval with the media timestamp of the audio this interval would carry
 * and the interval's length. DTMF_TX_PACKET: send *pkt (telephone-event payload type, pkt->marker,
 * pkt->timestamp) instead of audio; DTMF_TX_IDLE: send audio as usual.
 */
int dtmf_sender_tick(dtmf_sender_t *s, uint32_t media_timestamp, uint32_t frame_samples, dtmf_packet_t *pkt);

typedef struct dtmf_event {
    uint8_t event;
    uint8_t volume;
    uint8_t ended;             /* 1: an end packet arrived; 0: inferred (next event or timeout) */
    uint32_t timestamp;
    uint32_t duration;         /* RTP units */
} dtmf_event_t;

typedef struct dtmf_receiver {
    uint32_t clock_rate;
    uint64_t timeout_ns;
    uint8_t active;
    dtmf_event_t current;
    uint64_t last_ns;
    uint8_t have_done;
    uint32_t done_timestamp;
    uint8_t done_event;
    uint32_t packets;
    uint32_t ignored;          /* retransmissions and stale packets */
    uint32_t malformed;
    uint32_t reported;
} dtmf_receiver_t;

void dtmf_receiver_init(dtmf_receiver_t *r, uint32_t clock_rate, uint32_t timeout_ms);
/*
 * One telephone-event payload with its RTP timestamp. Writes 0, 1 or 2 finished events to out
 * (room for 2 needed: the previous event, when it never saw its end, then this one) and returns
 * how many, or DTMF_E_SHORT for a payload under 4 bytes.
 */
int dtmf_receiver_put(dtmf_receiver_t *r, const uint8_t *payload, size_t length, uint32_t timestamp,
                      uint64_t now_ns, dtmf_event_t out[2]);
/* Report an event whose packets stopped without an end packet for timeout_ms. Returns 0 or 1. */
int dtmf_receiver_tick(dtmf_receiver_t *r, uint64_t now_ns, dtmf_event_t *out);

#ifdef __cplusplus
}
#endif
#endif
