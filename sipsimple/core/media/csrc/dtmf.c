/* RFC 4733 telephone-events: see dtmf.h. */
#include "dtmf.h"

#include <string.h>

static const char DIGITS[] = "0123456789*#ABCD";

int dtmf_event_from_char(char c)
{
    const char *p;
    if (c >= 'a' && c <= 'd')
        c = (char)(c - 'a' + 'A');
    if (!c)
        return -1;
    p = strchr(DIGITS, c);
    return p ? (int)(p - DIGITS) : -1;
}

char dtmf_char_from_event(uint8_t event) { return event < 16 ? DIGITS[event] : 0; }

/* ---- sender ---- */

enum { TX_IDLE, TX_ACTIVE, TX_ENDING, TX_PAUSE };

void dtmf_sender_init(dtmf_sender_t *s, uint32_t clock_rate, uint32_t pause_ms)
{
    memset(s, 0, sizeof *s);
    s->clock_rate = clock_rate ? clock_rate : 8000;
    s->pause = (uint32_t)((uint64_t)pause_ms * s->clock_rate / 1000);
    s->state = TX_IDLE;
}

int dtmf_sender_queue(dtmf_sender_t *s, uint8_t event, uint32_t duration_ms, uint8_t volume)
{
    uint64_t duration = (uint64_t)duration_ms * s->clock_rate / 1000;
    dtmf_queued_t *q;
    if (volume > DTMF_MAX_VOLUME)
        return DTMF_E_ARGUMENT;
    if (s->q_len >= DTMF_MAX_QUEUE)
        return DTMF_E_FULL;
    q = &s->queue[(s->q_head + s->q_len) % DTMF_MAX_QUEUE];
    q->event = event;
    q->volume = volume;
    q->duration = duration > 0xffff ? 0xffff : (uint32_t)duration;
    s->q_len++;
    return 0;
}

int dtmf_sender_busy(const dtmf_sender_t *s) { return s->state != TX_IDLE || s->q_len > 0; }

void dtmf_sender_clear(dtmf_sender_t *s)
{
    s->q_len = 0;
    if (s->state == TX_ACTIVE) {
        s->state = TX_ENDING;
        s->ends_sent = 0;
    }
}

static void fill(dtmf_sender_t *s, dtmf_packet_t *pkt, int end)
{
    uint32_t d = s->elapsed > 0xffff ? 0xffff : s->elapsed;
    pkt->payload[0] = s->current.event;
    pkt->payload[1] = (uint8_t)((end ? 0x80 : 0) | (s->current.volume & 0x3f));
    pkt->payload[2] = (uint8_t)(d >> 8);
    pkt->payload[3] = (uint8_t)d;
    pkt->timestamp = s->start_ts;
    pkt->marker = s->first;
    pkt->end = (uint8_t)(end != 0);
    s->first = 0;
    s->packets++;
}

int dtmf_sender_tick(dtmf_sender_t *s, uint32_t media_timestamp, uint32_t frame_samples, dtmf_packet_t *pkt)
{
    if (s->state == TX_PAUSE) {
        if (s->pause_left > frame_samples) {
            s->pause_left -= frame_samples;
            return DTMF_TX_IDLE;
        }
        s->pause_left = 0;
        s->state = TX_IDLE;
        /* the interval that finishes the pause still carries audio */
        return DTMF_TX_IDLE;
    }
    if (s->state == TX_IDLE) {
        if (!s->q_len)
            return DTMF_TX_IDLE;
        s->current = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % DTMF_MAX_QUEUE;
        s->q_len--;
        s->start_ts = media_timestamp;
        s->elapsed = 0;
        s->first = 1;
        s->state = TX_ACTIVE;
    }
    if (s->state == TX_ACTIVE) {
        s->elapsed += frame_samples;
        if (s->elapsed < s->current.duration && s->elapsed < 0xffff) {
            fill(s, pkt, 0);
            return DTMF_TX_PACKET;
        }
        s->state = TX_ENDING;
        s->ends_sent = 0;
    }
    /* TX_ENDING: the end packet, three times, same duration */
    fill(s, pkt, 1);
    if (++s->ends_sent >= DTMF_END_PACKETS) {
        s->events++;
        if (s->pause) {
            s->state = TX_PAUSE;
            s->pause_left = s->pause;
        } else {
            s->state = TX_IDLE;
        }
    }
    return DTMF_TX_PACKET;
}

/* ---- receiver ---- */

void dtmf_receiver_init(dtmf_receiver_t *r, uint32_t clock_rate, uint32_t timeout_ms)
{
    memset(r, 0, sizeof *r);
    r->clock_rate = clock_rate ? clock_rate : 8000;
    r->timeout_ns = (uint64_t)(timeout_ms ? timeout_ms : 500) * 1000000ULL;
}

static void finish(dtmf_receiver_t *r, uint8_t ended, dtmf_event_t *out)
{
    *out = r->current;
    out->ended = ended;
    r->active = 0;
    r->have_done = 1;
    r->done_timestamp = r->current.timestamp;
    r->done_event = r->current.event;
    r->reported++;
}

int dtmf_receiver_put(dtmf_receiver_t *r, const uint8_t *payload, size_t length, uint32_t timestamp,
                      uint64_t now_ns, dtmf_event_t out[2])
{
    uint8_t event, end, volume;
    uint32_t duration;
    int n = 0;

    if (length < DTMF_PAYLOAD_SIZE) {
        r->malformed++;
        return DTMF_E_SHORT;
    }
    r->packets++;
    event = payload[0];
    end = payload[1] >> 7;
    volume = payload[1] & 0x3f;
    duration = ((uint32_t)payload[2] << 8) | payload[3];

    if (r->have_done) {
        int32_t age = (int32_t)(timestamp - r->done_timestamp);
        /* the reported event again (retransmitted end packets), or an older one */
        if (age < 0 || (age == 0 && event == r->done_event)) {
            r->ignored++;
            return 0;
        }
    }
    if (r->active && (timestamp != r->current.timestamp || event != r->current.event)) {
        if ((int32_t)(timestamp - r->current.timestamp) < 0) {
            r->ignored++;  /* a late packet of an older event that never got reported: drop */
            return 0;
        }
        finish(r, 0, &out[n++]);  /* the previous event lost all its end packets */
    }
    if (!r->active) {
        r->active = 1;
        r->current.event = event;
        r->current.volume = volume;
        r->current.timestamp = timestamp;
        r->current.duration = duration;
        r->current.ended = 0;
    } else if (duration > r->current.duration) {
        r->current.duration = duration;
        r->current.volume = volume;
    }
    r->last_ns = now_ns;
    if (end)
        finish(r, 1, &out[n++]);
    return n;
}

int dtmf_receiver_tick(dtmf_receiver_t *r, uint64_t now_ns, dtmf_event_t *out)
{
    if (r->active && now_ns > r->last_ns && now_ns - r->last_ns >= r->timeout_ns) {
        finish(r, 0, out);
        return 1;
    }
    return 0;
}
