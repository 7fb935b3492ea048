/* RTCP compound packets, reception statistics and timing: see rtcp.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1 /* clock_gettime, getrandom */
#endif
#include "rtcp.h"

#include <string.h>
#include <time.h>

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

static inline uint64_t ns_to_units(uint64_t ns, uint32_t rate)
{
    return (ns / 1000000000ULL) * rate + ((ns % 1000000000ULL) * rate) / 1000000000ULL;
}

/* ---- parsing ---- */

static void read_block(const uint8_t *p, rtcp_report_block_t *b)
{
    uint32_t lost = ((uint32_t)p[5] << 16) | ((uint32_t)p[6] << 8) | p[7];
    b->ssrc = rd32(p);
    b->fraction_lost = p[4];
    b->cumulative_lost = (lost & 0x800000) ? (int32_t)lost - 0x1000000 : (int32_t)lost;
    b->highest_sequence = rd32(p + 8);
    b->jitter = rd32(p + 12);
    b->lsr = rd32(p + 16);
    b->dlsr = rd32(p + 20);
}

static int parse_blocks(const uint8_t *p, size_t len, unsigned count, rtcp_compound_t *out)
{
    unsigned i;
    if ((size_t)count * 24 > len)
        return RTCP_E_FORMAT;
    for (i = 0; i < count; i++, p += 24) {
        if (out->block_count < RTCP_MAX_COMPOUND_BLOCKS)
            read_block(p, &out->blocks[out->block_count++]);
        else
            out->blocks_dropped++;
    }
    return RTCP_OK;
}

/* body: after the 4-byte common header; len: body length without padding. */
static int parse_sdes(const uint8_t *body, size_t len, unsigned count, rtcp_compound_t *out)
{
    size_t off = 0;
    unsigned c;
    for (c = 0; c < count; c++) {
        uint32_t ssrc;
        if (len - off < 4)
            return RTCP_E_FORMAT;
        ssrc = rd32(body + off);
        off += 4;
        for (;;) {
            uint8_t type, ilen;
            if (off >= len)
                return RTCP_E_FORMAT;  /* chunk not terminated */
            type = body[off];
            if (type == RTCP_SDES_END) {
                /* the null item, then zero bytes up to the next 32-bit boundary */
                off = (off + 4) & ~(size_t)3;
                if (off > len)
                    return RTCP_E_FORMAT;
                break;
            }
            if (len - off < 2)
                return RTCP_E_FORMAT;
            ilen = body[off + 1];
            if (len - off - 2 < ilen)
                return RTCP_E_FORMAT;
            if (type == RTCP_SDES_CNAME && out->cname_count < RTCP_MAX_SDES) {
                rtcp_cname_t *cn = &out->cnames[out->cname_count++];
                cn->ssrc = ssrc;
                cn->length = ilen;
                memcpy(cn->cname, body + off + 2, ilen);
                cn->cname[ilen] = 0;
            }
            off += 2 + (size_t)ilen;
        }
    }
    return RTCP_OK;
}

int rtcp_parse(const uint8_t *buf, size_t len, rtcp_compound_t *out)
{
    size_t off = 0;
    int rc;

    memset(out, 0, offsetof(rtcp_compound_t, blocks));
    out->block_count = 0;
    out->blocks_dropped = 0;
    out->cname_count = 0;
    out->bye_count = 0;
    out->bye_reason_length = 0;
    out->bye_reason[0] = 0;
    if (len < 4)
        return RTCP_E_SHORT;
    while (off < len) {
        const uint8_t *p = buf + off;
        size_t plen, body_len;
        unsigned count, type;
        if (len - off < 4)
            return RTCP_E_SHORT;
        if ((p[0] >> 6) != 2)
            return RTCP_E_VERSION;
        count = p[0] & 0x1f;
        type = p[1];
        plen = ((size_t)rd16(p + 2) + 1) * 4;
        if (plen > len - off)
            return RTCP_E_SHORT;
        body_len = plen - 4;
        if (p[0] & 0x20) {
            uint8_t pad;
            if (off + plen != len)
                return RTCP_E_PADDING;  /* only the last packet may be padded */
            pad = p[plen - 1];
            if (pad == 0 || pad > body_len)
                return RTCP_E_PADDING;
            body_len -= pad;
        }
        if (out->packets == 0)
            out->first_type = (uint8_t)type;
        out->packets++;
        switch (type) {
        case RTCP_SR:
            if (body_len < 24)
                return RTCP_E_FORMAT;
            if (!out->has_reporter) {
                out->has_reporter = 1;
                out->has_sender_info = 1;
                out->reporter_ssrc = rd32(p + 4);
                out->sender_info.ssrc = out->reporter_ssrc;
                out->sender_info.ntp_timestamp = ((uint64_t)rd32(p + 8) << 32) | rd32(p + 12);
                out->sender_info.rtp_timestamp = rd32(p + 16);
                out->sender_info.packet_count = rd32(p + 20);
                out->sender_info.octet_count = rd32(p + 24);
            }
            rc = parse_blocks(p + 28, body_len - 24, count, out);
            if (rc)
                return rc;
            break;
        case RTCP_RR:
            if (body_len < 4)
                return RTCP_E_FORMAT;
            if (!out->has_reporter) {
                out->has_reporter = 1;
                out->reporter_ssrc = rd32(p + 4);
            }
            rc = parse_blocks(p + 8, body_len - 4, count, out);
            if (rc)
                return rc;
            break;
        case RTCP_SDES:
            rc = parse_sdes(p + 4, body_len, count, out);
            if (rc)
                return rc;
            break;
        case RTCP_BYE: {
            unsigned i;
            if ((size_t)count * 4 > body_len)
                return RTCP_E_FORMAT;
            out->has_bye = 1;
            for (i = 0; i < count; i++)
                if (out->bye_count < RTCP_MAX_BYE)
                    out->bye_ssrcs[out->bye_count++] = rd32(p + 4 + 4 * i);
            if (body_len > (size_t)count * 4) {
                const uint8_t *r = p + 4 + 4 * count;
                uint8_t rlen = r[0];
                if ((size_t)rlen + 1 > body_len - (size_t)count * 4)
                    return RTCP_E_FORMAT;
                out->bye_reason_length = rlen;
                memcpy(out->bye_reason, r + 1, rlen);
                out->bye_reason[rlen] = 0;
            }
            break;
        }
        default:
            out->skipped++;  /* APP, RTPFB, PSFB, XR and anything unknown */
            break;
        }
        off += plen;
    }
    return RTCP_OK;
}

const char *rtcp_strerror(int status)
{
    switch (status) {
    case RTCP_OK: return "success";
    case RTCP_E_SHORT: return "RTCP packet truncated";
    case RTCP_E_VERSION: return "RTCP version is not 2";
    case RTCP_E_PADDING: return "bad RTCP padding";
    case RTCP_E_FORMAT: return "RTCP packet contents do not fit its length";
    case RTCP_E_SPACE: return "output buffer too small";
    case RTCP_E_ARGUMENT: return "RTCP field out of range";
    default: return "unknown RTCP error";
    }
}

/* ---- building ---- */

void rtcp_writer_init(rtcp_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
}

static void write_common(uint8_t *p, unsigned count, unsigned type, size_t total)
{
    p[0] = (uint8_t)(0x80 | (count & 0x1f));
    p[1] = (uint8_t)type;
    wr16(p + 2, (uint16_t)(total / 4 - 1));
}

static void write_block(uint8_t *p, const rtcp_report_block_t *b)
{
    int32_t lost = b->cumulative_lost;
    uint32_t l24;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    l24 = (uint32_t)lost & 0xffffff;
    wr32(p, b->ssrc);
    p[4] = b->fraction_lost;
    p[5] = (uint8_t)(l24 >> 16);
    p[6] = (uint8_t)(l24 >> 8);
    p[7] = (uint8_t)l24;
    wr32(p + 8, b->highest_sequence);
    wr32(p + 12, b->jitter);
    wr32(p + 16, b->lsr);
    wr32(p + 20, b->dlsr);
}

int rtcp_write_sr(rtcp_writer_t *w, const rtcp_sender_info_t *si, const rtcp_report_block_t *blocks,
                  unsigned count)
{
    size_t total = 28 + 24 * (size_t)count;
    uint8_t *p;
    unsigned i;
    if (count > RTCP_MAX_BLOCKS)
        return RTCP_E_ARGUMENT;
    if (w->cap - w->len < total)
        return RTCP_E_SPACE;
    p = w->buf + w->len;
    write_common(p, count, RTCP_SR, total);
    wr32(p + 4, si->ssrc);
    wr32(p + 8, (uint32_t)(si->ntp_timestamp >> 32));
    wr32(p + 12, (uint32_t)si->ntp_timestamp);
    wr32(p + 16, si->rtp_timestamp);
    wr32(p + 20, si->packet_count);
    wr32(p + 24, si->octet_count);
    for (i = 0; i < count; i++)
        write_block(p + 28 + 24 * i, &blocks[i]);
    w->len += total;
    return (int)w->len;
}

int rtcp_write_rr(rtcp_writer_t *w, uint32_t ssrc, const rtcp_report_block_t *blocks, unsigned count)
{
    size_t total = 8 + 24 * (size_t)count;
    uint8_t *p;
    unsigned i;
    if (count > RTCP_MAX_BLOCKS)
        return RTCP_E_ARGUMENT;
    if (w->cap - w->len < total)
        return RTCP_E_SPACE;
    p = w->buf + w->len;
    write_common(p, count, RTCP_RR, total);
    wr32(p + 4, ssrc);
    for (i = 0; i < count; i++)
        write_block(p + 8 + 24 * i, &blocks[i]);
    w->len += total;
    return (int)w->len;
}

int rtcp_write_sdes_cname(rtcp_writer_t *w, uint32_t ssrc, const char *cname, size_t length)
{
    /* one chunk: SSRC, CNAME item, END item and zero padding to a 32-bit boundary */
    size_t chunk, total;
    uint8_t *p;
    if (length > 255)
        return RTCP_E_ARGUMENT;
    chunk = 4 + 2 + length + 1;
    chunk = (chunk + 3) & ~(size_t)3;
    total = 4 + chunk;
    if (w->cap - w->len < total)
        return RTCP_E_SPACE;
    p = w->buf + w->len;
    memset(p, 0, total);
    write_common(p, 1, RTCP_SDES, total);
    wr32(p + 4, ssrc);
    p[8] = RTCP_SDES_CNAME;
    p[9] = (uint8_t)length;
    if (length)
        memcpy(p + 10, cname, length);
    w->len += total;
    return (int)w->len;
}

int rtcp_write_bye(rtcp_writer_t *w, const uint32_t *ssrcs, unsigned count, const char *reason,
                   size_t reason_length)
{
    size_t total;
    uint8_t *p;
    unsigned i;
    if (count > RTCP_MAX_BYE || reason_length > 255)
        return RTCP_E_ARGUMENT;
    total = 4 + 4 * (size_t)count;
    if (reason_length)
        total += (1 + reason_length + 3) & ~(size_t)3;
    if (w->cap - w->len < total)
        return RTCP_E_SPACE;
    p = w->buf + w->len;
    memset(p, 0, total);
    write_common(p, count, RTCP_BYE, total);
    for (i = 0; i < count; i++)
        wr32(p + 4 + 4 * i, ssrcs[i]);
    if (reason_length) {
        p[4 + 4 * count] = (uint8_t)reason_length;
        memcpy(p + 5 + 4 * count, reason, reason_length);
    }
    w->len += total;
    return (int)w->len;
}

/* ---- NTP time ---- */

#define NTP_UNIX_OFFSET 2208988800ULL /* seconds from 1900-01-01 to 1970-01-01 */

uint64_t rtcp_ntp_from_unix_ns(uint64_t unix_ns)
{
    uint64_t sec = unix_ns / 1000000000ULL + NTP_UNIX_OFFSET;
    uint64_t frac = ((unix_ns % 1000000000ULL) << 32) / 1000000000ULL;
    return (sec << 32) | frac;
}

void rtcp_clock_init_with(rtcp_clock_t *c, uint64_t unix_ns, uint64_t monotonic_now_ns)
{
    c->unix_ns_at_base = unix_ns;
    c->monotonic_ns_at_base = monotonic_now_ns;
}

void rtcp_clock_init(rtcp_clock_t *c, uint64_t monotonic_now_ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    rtcp_clock_init_with(c, (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec, monotonic_now_ns);
}

uint64_t rtcp_clock_ntp(const rtcp_clock_t *c, uint64_t monotonic_ns)
{
    int64_t delta = (int64_t)(monotonic_ns - c->monotonic_ns_at_base);
    return rtcp_ntp_from_unix_ns((uint64_t)((int64_t)c->unix_ns_at_base + delta));
}

int64_t rtcp_rtt_ns(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr)
{
    int32_t rtt;
    if (lsr == 0)
        return -1;
    rtt = (int32_t)(arrival_ntp_middle - lsr - dlsr);
    if (rtt < 0)
        return 0;
    return (int64_t)(((uint64_t)(uint32_t)rtt * 1000000000ULL) >> 16);
}

/* ---- reception statistics ---- */

#define SEQ_MOD (1u << 16)

static void init_seq(rtcp_rx_stats_t *st, uint16_t seq)
{
    st->base_seq = seq;
    st->max_seq = seq;
    st->bad_seq = SEQ_MOD + 1; /* so seq == bad_seq is false */
    st->cycles = 0;
    st->received = 0;
    st->received_prior = 0;
    st->expected_prior = 0;
    st->have_transit = 0;
    st->jitter_q4 = 0;
}

void rtcp_rx_init(rtcp_rx_stats_t *st, uint32_t ssrc, uint32_t clock_rate)
{
    memset(st, 0, sizeof *st);
    st->ssrc = ssrc;
    st->clock_rate = clock_rate ? clock_rate : 8000;
    st->bad_seq = SEQ_MOD + 1;
}

/* RFC 3550 A.1 update_seq: 1 when the packet is valid, 0 otherwise; *restarted on a resync. */
static int update_seq(rtcp_rx_stats_t *st, uint16_t seq, int *restarted)
{
    uint16_t udelta = (uint16_t)(seq - st->max_seq);

    if (st->probation) {
        /* packet is in sequence */
        if (seq == (uint16_t)(st->max_seq + 1)) {
            st->probation--;
            st->max_seq = seq;
            if (st->probation == 0) {
                init_seq(st, seq);
                st->received++;
                return 1;
            }
        } else {
            st->probation = RTCP_MIN_SEQUENTIAL - 1;
            st->max_seq = seq;
        }
        return 0;
    } else if (udelta < RTCP_MAX_DROPOUT) {
        /* in order, with permissible gap */
        if (seq < st->max_seq)
            st->cycles += SEQ_MOD;  /* sequence number wrapped */
        st->max_seq = seq;
    } else if (udelta <= SEQ_MOD - RTCP_MAX_MISORDER) {
        /* the sequence number made a very large jump */
        if (seq == st->bad_seq) {
            /* two sequential packets: assume the other side restarted without telling us */
            init_seq(st, seq);
            *restarted = 1;
        } else {
            st->bad_seq = (uint32_t)((seq + 1) & (SEQ_MOD - 1));
            return 0;
        }
    } else {
        /* duplicate or reordered packet */
    }
    st->received++;
    return 1;
}

int rtcp_rx_update(rtcp_rx_stats_t *st, uint16_t seq, uint32_t rtp_timestamp, uint64_t arrival_ns,
                   size_t payload_length, unsigned flags)
{
    int restarted = 0;
    st->last_arrival_ns = arrival_ns;
    if (!st->started) {
        /* a new source: probation (A.1: max_seq = seq - 1, probation = MIN_SEQUENTIAL) */
        init_seq(st, seq);
        st->max_seq = (uint16_t)(seq - 1);
        st->probation = RTCP_MIN_SEQUENTIAL;
        st->started = 1;
    }
    if (!update_seq(st, seq, &restarted)) {
        if (st->probation) {
            st->probation_packets++;
            return RTCP_RX_PROBATION;
        }
        st->bad_packets++;
        return RTCP_RX_BAD;
    }
    st->octets += payload_length;
    if (!(flags & RTCP_RX_NO_JITTER)) {
        /* A.8: transit = arrival (in RTP units) - RTP timestamp; J += (|D| - J) / 16 */
        uint32_t arrival = (uint32_t)ns_to_units(arrival_ns, st->clock_rate);
        uint32_t transit = arrival - rtp_timestamp;
        if (st->have_transit) {
            int32_t d = (int32_t)(transit - st->transit);
            uint32_t ad = d < 0 ? (uint32_t)(-(int64_t)d) : (uint32_t)d;
            st->jitter_q4 += ad - ((st->jitter_q4 + 8) >> 4);
        }
        st->transit = transit;
        st->have_transit = 1;
    }
    return restarted ? RTCP_RX_RESTARTED : RTCP_RX_VALID;
}

void rtcp_rx_got_sr(rtcp_rx_stats_t *st, uint64_t ntp_timestamp, uint32_t rtp_timestamp, uint64_t arrival_ns)
{
    st->have_sr = 1;
    st->ntp_of_sr = ntp_timestamp;
    st->sr_rtp_timestamp = rtp_timestamp;
    st->lsr = rtcp_ntp_middle(ntp_timestamp);
    st->lsr_arrival_ns = arrival_ns;
}

void rtcp_rx_report(rtcp_rx_stats_t *st, uint64_t now_ns, rtcp_report_block_t *b)
{
    uint32_t expected, expected_interval, received_interval;
    int64_t lost, lost_interval;

    memset(b, 0, sizeof *b);
    b->ssrc = st->ssrc;
    if (st->started && !st->probation) {
        expected = rtcp_rx_expected(st);
        lost = (int64_t)expected - (int64_t)st->received;
        if (lost > 0x7fffff)
            lost = 0x7fffff;
        if (lost < -0x800000)
            lost = -0x800000;
        expected_interval = expected - st->expected_prior;
        st->expected_prior = expected;
        received_interval = st->received - st->received_prior;
        st->received_prior = st->received;
        lost_interval = (int64_t)expected_interval - (int64_t)received_interval;
        if (expected_interval == 0 || lost_interval <= 0)
            b->fraction_lost = 0;
        else
            b->fraction_lost = (uint8_t)((lost_interval << 8) / expected_interval);
        b->cumulative_lost = (int32_t)lost;
        b->highest_sequence = rtcp_rx_extended_max(st);
        b->jitter = rtcp_rx_jitter(st);
    }
    if (st->have_sr) {
        uint64_t delay = now_ns > st->lsr_arrival_ns ? now_ns - st->lsr_arrival_ns : 0;
        b->lsr = st->lsr;
        b->dlsr = (uint32_t)((delay << 16) / 1000000000ULL);
    }
}

/* ---- transmission interval ---- */

#define RTCP_SENDER_BW_FRACTION 0.25
#define RTCP_RCVR_BW_FRACTION 0.75
#define RTCP_COMPENSATION (2.71828182845904523536 - 1.5)

double rtcp_interval(unsigned members, unsigned senders, double rtcp_bw, int we_sent,
                     double avg_rtcp_size, int initial, double min_interval, double u)
{
    double min_time = min_interval > 0 ? min_interval : RTCP_MIN_INTERVAL;
    double n = members ? members : 1;
    double t;

    if (initial)
        min_time /= 2;
    /* when senders are at most a quarter of the members, they share a quarter of the bandwidth */
    if (senders <= n * RTCP_SENDER_BW_FRACTION) {
        if (we_sent) {
            rtcp_bw *= RTCP_SENDER_BW_FRACTION;
            n = senders;
        } else {
            rtcp_bw *= RTCP_RCVR_BW_FRACTION;
            n -= senders;
        }
    }
    t = rtcp_bw > 0 ? avg_rtcp_size * n / rtcp_bw : min_time;
    if (t < min_time)
        t = min_time;
    if (u < 0)
        u = 0;
    if (u >= 1)
        u = 0.999999;
    t = t * (u + 0.5);
    return t / RTCP_COMPENSATION;
}

static double schedule_interval(const rtcp_schedule_t *s, double u)
{
    return rtcp_interval(s->members, s->senders, s->rtcp_bw, s->we_sent, s->avg_rtcp_size, s->initial,
                         s->min_interval, u);
}

void rtcp_schedule_init(rtcp_schedule_t *s, double now, double rtcp_bw, double min_interval,
                        double first_packet_size, double u)
{
    memset(s, 0, sizeof *s);
    s->tp = now;
    s->pmembers = 1;
    s->members = 1;
    s->senders = 0;
    s->rtcp_bw = rtcp_bw;
    s->avg_rtcp_size = first_packet_size;
    s->min_interval = min_interval;
    s->initial = 1;
    s->tn = now + schedule_interval(s, u);
}

int rtcp_schedule_expired(rtcp_schedule_t *s, double now, double u)
{
    /* timer reconsideration: recompute with the current membership from the last transmission */
    double tn = s->tp + schedule_interval(s, u);
    s->pmembers = s->members;
    if (tn <= now)
        return 1;
    s->tn = tn;
    return 0;
}

void rtcp_schedule_sent(rtcp_schedule_t *s, double now, double packet_size, double u)
{
    s->avg_rtcp_size = rtcp_average_size(s->avg_rtcp_size, packet_size);
    s->tp = now;
    s->initial = 0;
    s->tn = now + schedule_interval(s, u);
    s->pmembers = s->members;
}
