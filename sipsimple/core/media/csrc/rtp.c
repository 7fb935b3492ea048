/* RTP packets and the sending side of a session: see rtp.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* clock_gettime, getrandom */
#endif
#include "rtp.h"

#include <string.h>
#include <time.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}
static inline void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

int rtp_is_rtcp(const uint8_t *buf, size_t len)
{
    /* RFC 5761 §4: RTCP packet types 192..223 fall where RTP's M bit + payload type 64..95 would. */
    return len >= 2 && (buf[0] >> 6) == RTP_VERSION && buf[1] >= 192 && buf[1] <= 223;
}

int rtp_parse(const uint8_t *buf, size_t len, rtp_header_t *h)
{
    size_t off;
    unsigned i;

    if (len < RTP_HEADER_SIZE)
        return RTP_E_SHORT;
    h->version = buf[0] >> 6;
    if (h->version != RTP_VERSION)
        return RTP_E_VERSION;
    h->padding = (buf[0] >> 5) & 1;
    h->extension = (buf[0] >> 4) & 1;
    h->csrc_count = buf[0] & 0x0f;
    h->marker = buf[1] >> 7;
    h->payload_type = buf[1] & 0x7f;
    h->sequence = rd16(buf + 2);
    h->timestamp = rd32(buf + 4);
    h->ssrc = rd32(buf + 8);
    off = RTP_HEADER_SIZE;
    if (len - off < (size_t)h->csrc_count * 4)
        return RTP_E_CSRC;
    for (i = 0; i < h->csrc_count; i++, off += 4)
        h->csrc[i] = rd32(buf + off);
    h->extension_profile = 0;
    h->extension_words = 0;
    h->extension_offset = 0;
    if (h->extension) {
        if (len - off < 4)
            return RTP_E_EXTENSION;
        h->extension_profile = rd16(buf + off);
        h->extension_words = rd16(buf + off + 2);
        off += 4;
        if (len - off < (size_t)h->extension_words * 4)
            return RTP_E_EXTENSION;
        h->extension_offset = off;
        off += (size_t)h->extension_words * 4;
    }
    h->padding_length = 0;
    if (h->padding) {
        uint8_t pad;
        if (len == off)
            return RTP_E_PADDING;
        pad = buf[len - 1];
        if (pad == 0 || (size_t)pad > len - off)
            return RTP_E_PADDING;
        h->padding_length = pad;
    }
    h->payload_offset = off;
    h->payload_length = len - off - h->padding_length;
    return RTP_OK;
}

size_t rtp_header_size(const rtp_header_t *h)
{
    size_t n = RTP_HEADER_SIZE + (size_t)(h->csrc_count & 0x0f) * 4;
    if (h->extension)
        n += 4 + (size_t)h->extension_words * 4;
    return n;
}

int rtp_build(uint8_t *buf, size_t cap, const rtp_header_t *h, const uint8_t *ext_data,
              const uint8_t *payload, size_t payload_len)
{
    size_t hlen, total, off;
    unsigned i;

    if (h->payload_type > 127 || h->csrc_count > RTP_MAX_CSRC)
        return RTP_E_ARGUMENT;
    hlen = rtp_header_size(h);
    total = hlen + payload_len + h->padding_length;
    if (total > cap || total > 0x7fffffff)
        return RTP_E_SPACE;
    buf[0] = (uint8_t)((RTP_VERSION << 6) | ((h->padding_length ? 1 : 0) << 5) |
                       ((h->extension ? 1 : 0) << 4) | h->csrc_count);
    buf[1] = (uint8_t)(((h->marker ? 1 : 0) << 7) | h->payload_type);
    wr16(buf + 2, h->sequence);
    wr32(buf + 4, h->timestamp);
    wr32(buf + 8, h->ssrc);
    off = RTP_HEADER_SIZE;
    for (i = 0; i < h->csrc_count; i++, off += 4)
        wr32(buf + off, h->csrc[i]);
    if (h->extension) {
        size_t n = (size_t)h->extension_words * 4;
        wr16(buf + off, h->extension_profile);
        wr16(buf + off + 2, h->extension_words);
        off += 4;
        if (n) {
            if (ext_data)
                memcpy(buf + off, ext_data, n);
            else
                memset(buf + off, 0, n);
        }
        off += n;
    }
    if (payload_len)
        memmove(buf + off, payload, payload_len);
    off += payload_len;
    if (h->padding_length) {
        memset(buf + off, 0, (size_t)h->padding_length - 1);
        buf[off + h->padding_length - 1] = h->padding_length;
        off += h->padding_length;
    }
    return (int)off;
}

void rtp_write_fixed_header(uint8_t *buf, uint8_t payload_type, int marker, uint16_t sequence,
                            uint32_t timestamp, uint32_t ssrc)
{
    buf[0] = RTP_VERSION << 6;
    buf[1] = (uint8_t)(((marker ? 1 : 0) << 7) | (payload_type & 0x7f));
    wr16(buf + 2, sequence);
    wr32(buf + 4, timestamp);
    wr32(buf + 8, ssrc);
}

const char *rtp_strerror(int status)
{
    switch (status) {
    case RTP_OK: return "success";
    case RTP_E_SHORT: return "packet shorter than the 12-byte RTP header";
    case RTP_E_VERSION: return "RTP version is not 2";
    case RTP_E_CSRC: return "CSRC list runs past the end of the packet";
    case RTP_E_EXTENSION: return "header extension runs past the end of the packet";
    case RTP_E_PADDING: return "bad padding count";
    case RTP_E_SPACE: return "output buffer too small";
    case RTP_E_ARGUMENT: return "header field out of range";
    case RTP_E_IS_RTCP: return "packet is RTCP (rtcp-mux)";
    default: return "unknown RTP error";
    }
}

/* ---- sending side ---- */

uint32_t rtp_random32(void)
{
    uint32_t v = 0;
#if defined(__linux__)
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
#endif
    {
        struct timespec ts;
        uint64_t x;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)(uintptr_t)&v;
        /* splitmix64 finaliser */
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        x ^= x >> 31;
        return (uint32_t)x;
    }
}

void rtp_sender_init_with(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate, uint32_t ssrc,
                          uint16_t sequence, uint32_t timestamp)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->sequence = sequence;
    s->timestamp = timestamp;
    s->clock_rate = clock_rate ? clock_rate : 8000;
    s->payload_type = payload_type & 0x7f;
    s->talkspurt = 1;
    s->last_timestamp = timestamp;
    s->last_media_timestamp = timestamp;
}

void rtp_sender_init(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate)
{
    uint32_t ssrc = rtp_random32();
    uint32_t seq = rtp_random32();
    uint32_t ts = rtp_random32();
    /* RFC 3550 §5.1 only asks for a random start; keep the sequence away from the wrap so that
       receivers that (wrongly) do not handle it at least survive the first minutes. */
    rtp_sender_init_with(s, payload_type, clock_rate, ssrc, (uint16_t)(seq & 0x7fff), ts);
}

int rtp_sender_write_at(rtp_sender_t *s, uint8_t *buf, size_t cap, uint8_t pt, int marker,
                        uint32_t timestamp, const uint8_t *payload, size_t payload_len, uint64_t now_ns)
{
    if (cap < RTP_HEADER_SIZE || cap - RTP_HEADER_SIZE < payload_len)
        return RTP_E_SPACE;
    rtp_write_fixed_header(buf, pt, marker, s->sequence, timestamp, s->ssrc);
    if (payload_len)
        memmove(buf + RTP_HEADER_SIZE, payload, payload_len);
    s->sequence++;
    s->packets_sent++;
    s->octets_sent += (uint32_t)payload_len;
    s->last_timestamp = timestamp;
    s->last_time_ns = now_ns;
    return (int)(RTP_HEADER_SIZE + payload_len);
}

int rtp_sender_write(rtp_sender_t *s, uint8_t *buf, size_t cap, int pt, const uint8_t *payload,
                     size_t payload_len, uint32_t samples, uint64_t now_ns)
{
    int n = rtp_sender_write_at(s, buf, cap, (uint8_t)(pt < 0 ? s->payload_type : pt), s->talkspurt,
                                s->timestamp, payload, payload_len, now_ns);
    if (n < 0)
        return n;
    s->talkspurt = 0;
    s->last_media_timestamp = s->timestamp;
    s->last_media_time_ns = now_ns ? now_ns : 1;
    s->timestamp += samples;
    return n;
}

void rtp_sender_skip(rtp_sender_t *s, uint32_t samples, int start_talkspurt)
{
    s->timestamp += samples;
    if (start_talkspurt)
        s->talkspurt = 1;
}

uint64_t rtp_ns_to_units(uint64_t ns, uint32_t clock_rate)
{
    return (ns / 1000000000ULL) * clock_rate + ((ns % 1000000000ULL) * clock_rate) / 1000000000ULL;
}

uint32_t rtp_sender_timestamp_at(const rtp_sender_t *s, uint64_t now_ns)
{
    if (!s->last_media_time_ns || now_ns < s->last_media_time_ns)
        return s->last_media_time_ns ? s->last_media_timestamp : s->timestamp;
    return s->last_media_timestamp + (uint32_t)rtp_ns_to_units(now_ns - s->last_media_time_ns, s->clock_rate);
}
