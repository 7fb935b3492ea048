/*
 * Adaptive jitter buffer for audio packets.
 *
 * Packets go in with their RTP sequence number, timestamp, SSRC and arrival time; the playout side
 * asks for the next piece of audio whenever it needs one, passing its current time:
 *
 *   JBUF_FRAME    a packet to decode (payload copied out), duration `samples`;
 *   JBUF_MISSING  no packet for this stretch: the caller conceals (PLC) `samples` of audio; either a
 *                 packet is lost/late, or (flag JBUF_F_EXPAND) the buffer is growing its delay;
 *   JBUF_GAP      no packet was sent for this stretch (DTX after comfort noise, or a timestamp gap
 *                 between contiguous sequence numbers): comfort noise or silence, not a loss;
 *   JBUF_NOT_YET  nothing to play yet (before the first packet has waited its delay): silence.
 *
 * Times are nanoseconds of the caller's monotonic clock, always passed in: the buffer never reads
 * a clock, so tests drive it deterministically. All arithmetic is done on 64-bit extended
 * sequence numbers and timestamps, so both may wrap.
 *
 * Delay control. For each packet, transit = arrival (RTP units) - timestamp; the base is the
 * smallest transit in a sliding window (window_ms of arrivals) and a packet's jitter delay is
 * transit - base. The target delay is the `percentile` of the jitter delays in the window,
 * clamped to [min_delay_ms, max_delay_ms]. It grows at once: when a packet exceeds it (the
 * percentile is recomputed then, and every 200 ms), or when two packets within 500 ms come late
 * (to the smaller of their delays, which then stays a floor of the target for window_ms). It
 * comes down only when the percentile is lower by more than h = min(max(frame/2, 5 ms),
 * target/2), by at most max(frame, 10 ms) per 200 ms, landing on the percentile (never below
 * min_delay): it falls as the window forgets a burst (shrinks slowly). The playout point is kept
 * so that
 * play delay = now - base - (timestamp being played) lies in [target, target + frame): below,
 * the buffer inserts a frame (MISSING/GAP with JBUF_F_EXPAND); at target + 1.25 frames or more it
 * drops a frame (at most one per shrink_interval_ms while audio is playing, at once inside a DTX
 * gap). More than max_delay + 4 frames behind (the caller stopped pulling), it jumps forward
 * ("catch-up").
 *
 * The minimum: the play delay is the margin a packet has against jitter (a packet is late only
 * when its jitter delay exceeds it), and it includes the phase of the playout clock to the
 * packets' clock, anywhere in [0, frame). For the calls whose phase is near 0 that is no margin at
 * all, and a loaded machine's scheduling stalls then make packets late: hence the default floor
 * (JBUF_DEFAULT_MIN_DELAY_MS); 0 is the low-latency setting (a clean network then costs only the
 * phase, and the measured jitter raises the target as soon as there is any).
 *
 * Resynchronisation: an SSRC change flushes the buffer and starts again; so does a jump of the
 * transit (timestamp discontinuity) beyond max_delay + 1 s that persists for 5 packets over at
 * least 100 ms (a stall followed by a burst does not qualify), and a sequence number more than
 * 3000 behind the playout with a current timestamp (sequence restart).
 *
 * Thread safety: a jbuf_t has its own mutex; jbuf_put() (network thread) and jbuf_get() (audio
 * clock thread) may be called concurrently, without the GIL. jbuf_create/jbuf_destroy allocate.
 */
#ifndef SIPSIMPLE_MEDIA_JBUF_H
#define SIPSIMPLE_MEDIA_JBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jbuf jbuf_t;

/* The default lower bound of the target delay. The wait for the next mixer pull (0..1 frame
 * between two unsynchronised clocks) gives some slack already, but measured on loopback under CPU
 * load (two calls' mixer threads preempted for a few ms) a floor of 0, 2 or 5 ms let 10-15 % of
 * 3.6 s calls conceal a frame, where 10 ms let none (docs/media-rtp.md, "Minimum delay"). */
#define JBUF_DEFAULT_MIN_DELAY_MS 10u

typedef struct jbuf_config {
    uint32_t clock_rate;          /* RTP clock rate (Hz) */
    uint32_t frame_samples;       /* nominal packet duration in RTP units (ptime); the expansion unit */
    uint32_t min_delay_ms;        /* lower bound of the target delay (default JBUF_DEFAULT_MIN_DELAY_MS) */
    uint32_t max_delay_ms;        /* upper bound of the target delay (default 300) */
    uint32_t window_ms;           /* jitter measurement window (default 2000) */
    uint32_t percentile;          /* per mille of jitter delays the target covers (default 950) */
    uint32_t shrink_interval_ms;  /* minimum time between two frame drops in speech (default 100) */
    uint32_t capacity;            /* packets held; rounded up to a power of two (0: from the delays) */
    uint32_t max_payload;         /* largest payload accepted, bytes (default 1500) */
} jbuf_config_t;

/* Input flags (jbuf_put) and output flags (jbuf_frame_t.flags). */
#define JBUF_F_MARKER 0x01u   /* RTP marker: talk-spurt start */
#define JBUF_F_CNG 0x02u      /* comfort noise / DTX packet: the silence after it is not a loss */
#define JBUF_F_EXPAND 0x04u   /* output only: inserted to grow the delay */

enum { JBUF_NOT_YET = 0, JBUF_FRAME = 1, JBUF_MISSING = 2, JBUF_GAP = 3 };

enum {
    JBUF_PUT_OK = 0,
    JBUF_PUT_DUPLICATE = 1,    /* dropped: already buffered or played */
    JBUF_PUT_LATE = 2,         /* dropped: its time has passed */
    JBUF_PUT_TOO_BIG = 3,      /* dropped: payload larger than max_payload */
    JBUF_PUT_OUT_OF_SYNC = 4,  /* dropped: transit far from the others (may lead to a resync) */
    JBUF_PUT_RESYNC = 5        /* accepted after flushing: new SSRC or a persistent jump */
};

#define JBUF_E_SPACE (-1)      /* jbuf_get: the caller's buffer is smaller than the payload */
#define JBUF_E_ARGUMENT (-2)

typedef struct jbuf_frame {
    int kind;               /* JBUF_NOT_YET, JBUF_FRAME, JBUF_MISSING, JBUF_GAP */
    uint32_t flags;         /* JBUF_F_* */
    uint32_t timestamp;     /* RTP timestamp of the audio this result stands for */
    uint32_t samples;       /* its duration in RTP units (0 for NOT_YET) */
    uint16_t sequence;      /* FRAME only */
    uint32_t ssrc;
    size_t length;          /* FRAME: payload bytes written */
    uint64_t buffered_ns;   /* FRAME: now - arrival (time the packet spent in the buffer) */
} jbuf_frame_t;

typedef struct jbuf_stats {
    uint64_t received;      /* packets accepted */
    uint64_t played;        /* FRAME results */
    uint64_t missing;       /* MISSING results that were not expansions (concealment) */
    uint64_t expanded;      /* results inserted to grow the delay */
    uint64_t gaps;          /* GAP results that were not expansions */
    uint64_t late;          /* packets dropped because they arrived after their time */
    uint64_t duplicates;
    uint64_t shrunk;        /* packets dropped to reduce the delay */
    uint64_t overflow;      /* packets dropped because the buffer was full */
    uint64_t too_big;
    uint64_t out_of_sync;
    uint64_t resyncs;       /* SSRC changes and timestamp/sequence jumps */
    uint64_t catchups;
    uint32_t buffered;      /* packets in the buffer now */
    uint32_t target_delay;  /* RTP units */
    int32_t play_delay;     /* RTP units, at the last jbuf_get once playing (now - base - timestamp) */
    uint32_t jitter_percentile; /* last measured percentile of jitter delays, RTP units */
} jbuf_stats_t;

/* Defaults for the given rate and packet duration (frame_samples 0 means 20 ms). */
void jbuf_config_default(jbuf_config_t *c, uint32_t clock_rate, uint32_t frame_samples);
/* NULL on a bad configuration (rate 0, max < min...) or out of memory. */
jbuf_t *jbuf_create(const jbuf_config_t *c);
void jbuf_destroy(jbuf_t *jb);
/* Forget the buffered packets and the jitter history (statistics are kept). */
void jbuf_reset(jbuf_t *jb);

/* samples: the packet's duration in RTP units (0: the configured frame_samples). Returns JBUF_PUT_*. */
int jbuf_put(jbuf_t *jb, const uint8_t *payload, size_t length, uint16_t seq, uint32_t timestamp,
             uint32_t ssrc, uint32_t samples, uint32_t flags, uint64_t arrival_ns);
/* Returns out->kind, or JBUF_E_SPACE (nothing consumed) when cap is too small for the packet. */
int jbuf_get(jbuf_t *jb, uint64_t now_ns, uint8_t *payload, size_t cap, jbuf_frame_t *out);
/* Looks at the packet that starts exactly at the playout point (the one a following jbuf_get
 * plays, unless it expands or shrinks first) without consuming it: copies its payload out and
 * returns JBUF_FRAME, or JBUF_NOT_YET when that packet is not buffered (or playout has not
 * started), or JBUF_E_SPACE. Used after a MISSING result to find the packet whose in-band FEC
 * describes the lost one; out->buffered_ns is 0. */
int jbuf_peek(jbuf_t *jb, uint8_t *payload, size_t cap, jbuf_frame_t *out);
void jbuf_get_stats(jbuf_t *jb, jbuf_stats_t *out);
/* The configuration in use (capacity rounded, defaults filled in). */
void jbuf_get_config(const jbuf_t *jb, jbuf_config_t *out);

#ifdef __cplusplus
}
#endif
#endif
