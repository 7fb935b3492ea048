/*
 * RTP packets (RFC 3550 §5) and the sending side of an RTP session.
 *
 * Plain C, no global state, no allocation, no locks: every function works on the caller's memory
 * and may be called from any thread without the GIL. A given rtp_sender_t must not be used by two
 * threads at once (the caller serialises; the stream keeps it on its sending thread).
 *
 * Parsing checks every length before reading it: the fixed header (12 bytes), the CSRC list
 * (4 bytes each), the header extension (4 bytes + 4 * length) and the padding count (the last
 * byte, at least 1 and at most what is left after the headers). The header extension is skipped
 * (its place is reported) but not interpreted. Status codes are negative RTP_E_* values.
 */
#ifndef SIPSIMPLE_MEDIA_RTP_H
#define SIPSIMPLE_MEDIA_RTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RTP_VERSION 2
#define RTP_HEADER_SIZE 12   /* fixed part */
#define RTP_MAX_CSRC 15

/* Status codes (0 is success; builders return a byte count >= 0 instead). */
enum {
    RTP_OK = 0,
    RTP_E_SHORT = -1,      /* fewer than 12 bytes */
    RTP_E_VERSION = -2,    /* version field is not 2 */
    RTP_E_CSRC = -3,       /* the CSRC list runs past the end of the packet */
    RTP_E_EXTENSION = -4,  /* the header extension runs past the end of the packet */
    RTP_E_PADDING = -5,    /* padding count is 0 or larger than what follows the header */
    RTP_E_SPACE = -6,      /* output buffer too small */
    RTP_E_ARGUMENT = -7,   /* a field out of range (payload type > 127, more than 15 CSRCs...) */
    RTP_E_IS_RTCP = -8     /* rtcp-mux: the second byte is an RTCP packet type (RFC 5761 §4) */
};

/* A parsed (or to-be-built) RTP header. Offsets are from the start of the packet. */
typedef struct rtp_header {
    uint8_t version;
    uint8_t padding;          /* P bit */
    uint8_t extension;        /* X bit */
    uint8_t csrc_count;       /* CC */
    uint8_t marker;           /* M bit */
    uint8_t payload_type;     /* 0..127 */
    uint16_t sequence;
    uint32_t timestamp;
    uint32_t ssrc;
    uint32_t csrc[RTP_MAX_CSRC];
    uint16_t extension_profile;  /* "defined by profile" field, when extension */
    uint16_t extension_words;    /* length of the extension data in 32-bit words */
    size_t extension_offset;     /* where the extension data starts (after its 4-byte header) */
    size_t payload_offset;
    size_t payload_length;
    uint8_t padding_length;      /* bytes of padding including the count byte (0 without P) */
} rtp_header_t;

/* Parse buf[0:len] into *h. Returns RTP_OK or a negative RTP_E_* code (h is then unspecified). */
int rtp_parse(const uint8_t *buf, size_t len, rtp_header_t *h);

/* True (1) if the packet looks like RTCP under rtcp-mux (second byte in 192..223, RFC 5761 §4). */
int rtp_is_rtcp(const uint8_t *buf, size_t len);

/* Size in bytes of the header rtp_build() will write for h (12 + 4*CC + extension). */
size_t rtp_header_size(const rtp_header_t *h);

/*
 * Write a packet: the header described by h (version is always 2; csrc_count, extension,
 * extension_profile, extension_words are used; the extension data comes from ext_data, 4 *
 * extension_words bytes), then the payload, then h->padding_length bytes of padding (zeros and a
 * final count byte; 0 for none, which also clears P). Returns the packet size or RTP_E_SPACE /
 * RTP_E_ARGUMENT.
 */
int rtp_build(uint8_t *buf, size_t cap, const rtp_header_t *h, const uint8_t *ext_data,
              const uint8_t *payload, size_t payload_len);

/* Fast path: write only the 12-byte fixed header (no CSRC, no extension, no padding). */
void rtp_write_fixed_header(uint8_t *buf, uint8_t payload_type, int marker, uint16_t sequence,
                            uint32_t timestamp, uint32_t ssrc);

const char *rtp_strerror(int status);

/* ---- sending side -------------------------------------------------------------------------- */

typedef struct rtp_sender {
    uint32_t ssrc;
    uint16_t sequence;         /* of the next packet */
    uint32_t timestamp;        /* of the next media packet (advanced by samples sent or skipped) */
    uint32_t clock_rate;
    uint8_t payload_type;      /* default payload type */
    uint8_t talkspurt;         /* 1: the next media packet starts a talk spurt (marker bit) */
    uint32_t packets_sent;     /* for the SR sender info (wraps, as in RFC 3550) */
    uint32_t octets_sent;      /* payload octets */
    uint32_t last_timestamp;   /* timestamp of the last packet sent */
    uint64_t last_time_ns;     /* caller's clock when it was sent; 0 before the first packet */
    uint64_t last_media_time_ns; /* caller's clock when the last *media* packet was sent */
    uint32_t last_media_timestamp;
} rtp_sender_t;

/*
 * Start a sender. SSRC, first sequence number and first timestamp are random (getrandom(2), or a
 * time/address-seeded fallback), as RFC 3550 §5.1 asks. The first packet carries the marker bit.
 */
void rtp_sender_init(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate);
/* Same with chosen values (tests, and a restart that must keep its SSRC). */
void rtp_sender_init_with(rtp_sender_t *s, uint8_t payload_type, uint32_t clock_rate, uint32_t ssrc,
                          uint16_t sequence, uint32_t timestamp);

/*
 * Write the next media packet: header (payload type pt, or the default when pt < 0; marker on a
 * talk-spurt start) and payload; then advance the sequence by 1 and the timestamp by `samples`
 * (at the RTP clock rate). now_ns is the caller's monotonic clock (kept for the SR timestamp).
 * Returns the packet size or RTP_E_SPACE.
 */
int rtp_sender_write(rtp_sender_t *s, uint8_t *buf, size_t cap, int pt, const uint8_t *payload,
                     size_t payload_len, uint32_t samples, uint64_t now_ns);

/*
 * Write a packet with an explicit timestamp and marker (telephone-events: the whole event keeps
 * its start timestamp). Uses and advances the sequence number; the media timestamp is unchanged.
 */
int rtp_sender_write_at(rtp_sender_t *s, uint8_t *buf, size_t cap, uint8_t pt, int marker,
                        uint32_t timestamp, const uint8_t *payload, size_t payload_len, uint64_t now_ns);

/*
 * Nothing is sent for `samples` (silence suppression / DTX, or media replaced by telephone-events):
 * the timestamp still advances, and the next media packet starts a talk spurt when
 * start_talkspurt is true.
 */
void rtp_sender_skip(rtp_sender_t *s, uint32_t samples, int start_talkspurt);

/* The RTP timestamp that corresponds to now_ns (for an SR), extrapolated from the last media packet. */
uint32_t rtp_sender_timestamp_at(const rtp_sender_t *s, uint64_t now_ns);

/* Convert a monotonic/any nanosecond time to RTP clock units (64-bit, no overflow for 500 years). */
uint64_t rtp_ns_to_units(uint64_t ns, uint32_t clock_rate);

/* A random 32-bit value from getrandom(2) (fallback: clock and address mix). */
uint32_t rtp_random32(void);

#ifdef __cplusplus
}
#endif
#endif
