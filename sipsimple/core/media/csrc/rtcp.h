/*
 * RTCP (RFC 3550 §6 and Appendix A): compound packets, reception statistics, round-trip time and
 * the transmission interval.
 *
 * Plain C, no global state, no allocation, no locks, no clock reads except rtcp_clock_init():
 * times are passed in by the caller (nanoseconds of its monotonic clock, or 64-bit NTP values),
 * so every function can run on a native thread without the GIL and be tested deterministically.
 * One rtcp_rx_stats_t / rtcp_schedule_t must not be used by two threads at once.
 *
 * Compound packets are parsed into a fixed-size summary (rtcp_compound_t): the first SR or RR's
 * sender, every report block (up to RTCP_MAX_COMPOUND_BLOCKS, the rest counted), the CNAME of each SDES chunk, and BYE
 * sources and reason. APP, XR, feedback and unknown packet types are skipped and counted, as are
 * SDES items other than CNAME. Every packet must be version 2, fit in what is left, and only the
 * last may carry padding (RFC 3550 A.2); the first packet is not required to be an SR or RR
 * (reduced-size RTCP, RFC 5506, is accepted).
 */
#ifndef SIPSIMPLE_MEDIA_RTCP_H
#define SIPSIMPLE_MEDIA_RTCP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RTCP_SR = 200,
    RTCP_RR = 201,
    RTCP_SDES = 202,
    RTCP_BYE = 203,
    RTCP_APP = 204,
    RTCP_RTPFB = 205,
    RTCP_PSFB = 206,
    RTCP_XR = 207
};

enum { RTCP_SDES_END = 0, RTCP_SDES_CNAME = 1 };

#define RTCP_MAX_BLOCKS 31   /* per SR/RR packet (5-bit count) */
#define RTCP_MAX_COMPOUND_BLOCKS 96  /* report blocks kept from one compound packet */
#define RTCP_MAX_SDES 8      /* CNAME chunks kept per compound */
#define RTCP_MAX_BYE 31

enum {
    RTCP_OK = 0,
    RTCP_E_SHORT = -1,    /* fewer than 4 bytes, or a packet's length runs past the end */
    RTCP_E_VERSION = -2,  /* a packet is not version 2 */
    RTCP_E_PADDING = -3,  /* padding on a packet that is not the last, or a bad padding count */
    RTCP_E_FORMAT = -4,   /* a packet's count does not fit its length, or a malformed SDES chunk */
    RTCP_E_SPACE = -5,    /* output buffer too small */
    RTCP_E_ARGUMENT = -6  /* more than 31 blocks/sources, a CNAME/reason over 255 bytes */
};

typedef struct rtcp_sender_info {
    uint32_t ssrc;
    uint64_t ntp_timestamp;   /* 32.32 fixed point seconds since 1900 */
    uint32_t rtp_timestamp;
    uint32_t packet_count;
    uint32_t octet_count;
} rtcp_sender_info_t;

typedef struct rtcp_report_block {
    uint32_t ssrc;             /* the source this block is about */
    uint8_t fraction_lost;     /* /256, since the previous report */
    int32_t cumulative_lost;   /* 24-bit signed */
    uint32_t highest_sequence; /* extended highest sequence number received */
    uint32_t jitter;           /* interarrival jitter, RTP timestamp units */
    uint32_t lsr;              /* middle 32 bits of the last SR's NTP timestamp, 0 if none */
    uint32_t dlsr;             /* delay since that SR, 1/65536 s */
} rtcp_report_block_t;

typedef struct rtcp_cname {
    uint32_t ssrc;
    uint8_t length;
    char cname[256];           /* not NUL-terminated beyond length (but a NUL is written) */
} rtcp_cname_t;

typedef struct rtcp_compound {
    unsigned packets;          /* RTCP packets in the compound */
    unsigned skipped;          /* APP/XR/feedback/unknown packets skipped */
    uint8_t first_type;
    uint8_t has_sender_info;   /* an SR was present (sender_info is the first one) */
    uint8_t has_reporter;      /* an SR or RR was present */
    uint8_t has_bye;
    uint32_t reporter_ssrc;    /* SSRC of the first SR/RR's sender */
    rtcp_sender_info_t sender_info;
    unsigned block_count;
    unsigned blocks_dropped;   /* beyond RTCP_MAX_COMPOUND_BLOCKS */
    rtcp_report_block_t blocks[RTCP_MAX_COMPOUND_BLOCKS];
    unsigned cname_count;
    rtcp_cname_t cnames[RTCP_MAX_SDES];
    unsigned bye_count;
    uint32_t bye_ssrcs[RTCP_MAX_BYE];
    uint8_t bye_reason_length;
    char bye_reason[256];
} rtcp_compound_t;

/* Parse a compound packet. Returns RTCP_OK or a negative RTCP_E_* code. */
int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out);
const char *rtcp_strerror(int status);

/* ---- building: append packets to a buffer ---- */

typedef struct rtcp_writer {
    uint8_t *buf;
    size_t cap;
    size_t len;
} rtcp_writer_t;

void rtcp_writer_init(rtcp_writer_t *w, uint8_t *buf, size_t cap);
/* Each returns the new total length or a negative RTCP_E_* (the writer is then unchanged). */
int rtcp_write_sr(rtcp_writer_t *w, const rtcp_sender_info_t *si, const rtcp_report_block_t *blocks,
                  unsigned count);
int rtcp_write_rr(rtcp_writer_t *w, uint32_t ssrc, const rtcp_report_block_t *blocks, unsigned count);
int rtcp_write_sdes_cname(rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t length);
int rtcp_write_bye(rtcp_writer_t *w, const uint32_t *ssrcs, unsigned count, const char *reason,
                   size_t reason_length);

/* ---- NTP time ---- */

/* NTP 32.32 timestamp for a Unix time in nanoseconds. */
uint64_t rtcp_ntp_from_unix_ns(uint64_t unix_ns);
/* The middle 32 bits (16.16) used by LSR and for round-trip times. */
static inline uint32_t rtcp_ntp_middle(uint64_t ntp) { return (uint32_t)(ntp >> 16); }

/*
 * A wall clock that cannot jump: the Unix time read once at init plus the caller's monotonic
 * nanoseconds since then. SR timestamps and RR arrival times from the same rtcp_clock_t stay
 * consistent, so round-trip times are right even if the system clock is set meanwhile.
 */
typedef struct rtcp_clock {
    uint64_t unix_ns_at_base;
    uint64_t monotonic_ns_at_base;
} rtcp_clock_t;
void rtcp_clock_init(rtcp_clock_t *c, uint64_t monotonic_now_ns);  /* reads CLOCK_REALTIME */
void rtcp_clock_init_with(rtcp_clock_t *c, uint64_t unix_ns, uint64_t monotonic_now_ns);
uint64_t rtcp_clock_ntp(const rtcp_clock_t *c, uint64_t monotonic_ns);

/*
 * Round-trip time from a report block about us (RFC 3550 §6.4.1): A - LSR - DLSR, where A is the
 * middle 32 bits of our NTP time when the report arrived. Returns nanoseconds, or -1 when the
 * block carries no LSR (the peer has not received an SR from us yet). A negative difference
 * (clock rounding) gives 0.
 */
int64_t rtcp_rtt_ns(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr);

/* ---- reception statistics (RFC 3550 A.1, A.3, A.8) ---- */

#define RTCP_MAX_DROPOUT 3000
#define RTCP_MAX_MISORDER 100
#define RTCP_MIN_SEQUENTIAL 2

enum {
    RTCP_RX_VALID = 0,      /* counted */
    RTCP_RX_PROBATION = 1,  /* new source, not yet validated (not counted) */
    RTCP_RX_BAD = 2,        /* large jump or old duplicate: not counted */
    RTCP_RX_RESTARTED = 3   /* the source restarted its sequence: statistics reset, counted */
};

/* Flags for rtcp_rx_update(). */
#define RTCP_RX_NO_JITTER 1u  /* do not feed the jitter estimate (e.g. telephone-events) */

typedef struct rtcp_rx_stats {
    uint32_t ssrc;
    uint32_t clock_rate;
    uint16_t max_seq;
    uint32_t cycles;           /* count of sequence wraps, shifted << 16 */
    uint32_t base_seq;
    uint32_t bad_seq;
    uint32_t probation;
    uint32_t received;
    uint32_t expected_prior;
    uint32_t received_prior;
    uint32_t transit;          /* relative transit time of the previous packet (RTP units) */
    uint8_t have_transit;
    uint8_t started;
    uint8_t have_sr;
    uint32_t jitter_q4;        /* jitter * 16, the integer form of A.8 */
    uint32_t lsr;
    uint64_t lsr_arrival_ns;
    uint64_t ntp_of_sr;
    uint32_t sr_rtp_timestamp;
    uint32_t bad_packets;      /* RTCP_RX_BAD results */
    uint32_t probation_packets;
    uint64_t octets;
    uint64_t last_arrival_ns;
} rtcp_rx_stats_t;

void rtcp_rx_init(rtcp_rx_stats_t *st, uint32_t ssrc, uint32_t clock_rate);
/* One arriving RTP packet; arrival_ns on the caller's monotonic clock. Returns RTCP_RX_*. */
int rtcp_rx_update(rtcp_rx_stats_t *st, uint16_t seq, uint32_t rtp_timestamp, uint64_t arrival_ns,
                   size_t payload_length, unsigned flags);
/* An SR from this source arrived at arrival_ns (for LSR/DLSR). */
void rtcp_rx_got_sr(rtcp_rx_stats_t *st, uint64_t ntp_timestamp, uint32_t rtp_timestamp, uint64_t arrival_ns);
/* Fill a report block about this source at now_ns; starts a new interval for fraction_lost. */
void rtcp_rx_report(rtcp_rx_stats_t *st, uint64_t now_ns, rtcp_report_block_t *block);

static inline uint32_t rtcp_rx_extended_max(const rtcp_rx_stats_t *st) { return st->cycles + st->max_seq; }
static inline uint32_t rtcp_rx_expected(const rtcp_rx_stats_t *st)
{
    return rtcp_rx_extended_max(st) - st->base_seq + 1;
}
/* Cumulative lost as RFC 3550 A.3 computes it (may be negative with duplicates), not clamped. */
static inline int64_t rtcp_rx_lost(const rtcp_rx_stats_t *st)
{
    return st->started ? (int64_t)rtcp_rx_expected(st) - (int64_t)st->received : 0;
}
static inline uint32_t rtcp_rx_jitter(const rtcp_rx_stats_t *st) { return st->jitter_q4 >> 4; }
/* `expected` for people rather than for report blocks. A.1 starts counting at the packet that ends
 * the probation (or a restart), so the RTCP_MIN_SEQUENTIAL - 1 packets before it, which arrived in
 * sequence just before base_seq, are in neither `expected` nor `received`; this adds them back, so
 * that packets counted from this source + rtcp_rx_lost() == this. 0 while on probation. Report
 * blocks keep the A.1/A.3 numbers. */
static inline uint32_t rtcp_rx_expected_all(const rtcp_rx_stats_t *st)
{
    return st->started && !st->probation ? rtcp_rx_expected(st) + (RTCP_MIN_SEQUENTIAL - 1) : 0;
}

/* ---- transmission interval (RFC 3550 §6.2, §6.3, A.7) ---- */

#define RTCP_MIN_INTERVAL 5.0

/*
 * The deterministic interval times a randomisation factor: u is a uniform number in [0, 1) from the
 * caller, giving a factor in [0.5, 1.5) and then divided by e - 3/2 (the compensation for timer
 * reconsideration). rtcp_bw is in octets/s (5% of the session bandwidth), avg_rtcp_size in octets,
 * min_interval in seconds (RTCP_MIN_INTERVAL, or less: see docs/media-rtp.md); `initial` halves it.
 */
double rtcp_interval(unsigned members, unsigned senders, double rtcp_bw, int we_sent,
                     double avg_rtcp_size, int initial, double min_interval, double u);
/* avg_rtcp_size after a packet of `size` octets (including UDP/IP headers) was sent or received. */
static inline double rtcp_average_size(double avg, double size) { return size / 16.0 + avg * 15.0 / 16.0; }

/* A.7 scheduling with timer reconsideration; times are seconds on the caller's clock. */
typedef struct rtcp_schedule {
    double tp;                /* last transmission */
    double tn;                /* next scheduled transmission */
    unsigned pmembers;
    unsigned members;
    unsigned senders;
    double rtcp_bw;
    double avg_rtcp_size;
    double min_interval;
    int initial;
    int we_sent;
} rtcp_schedule_t;

void rtcp_schedule_init(rtcp_schedule_t *s, double now, double rtcp_bw, double min_interval,
                        double first_packet_size, double u);
/* At tn: returns 1 to send now (then call rtcp_schedule_sent), or 0 after moving tn later. */
int rtcp_schedule_expired(rtcp_schedule_t *s, double now, double u);
void rtcp_schedule_sent(rtcp_schedule_t *s, double now, double packet_size, double u);

#ifdef __cplusplus
}
#endif
#endif
