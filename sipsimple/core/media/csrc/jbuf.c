/* Adaptive jitter buffer: see jbuf.h for the rules. */
#include "jbuf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define HIST 512u                       /* jitter samples kept at most (power of two) */
#define HMASK (HIST - 1u)
#define RECOMPUTE_NS 200000000ULL       /* periodic percentile recomputation */
#define RESYNC_PACKETS 5u
#define RESYNC_SPAN_NS 100000000ULL
#define SEQ_RESTART 3000                /* a sequence number this far behind means a restart */
#define LATE_PAIR_NS 500000000ULL       /* two late packets this close raise the target at once */

typedef struct slot {
    int64_t seq;
    int64_t ts;
    uint64_t arrival_ns;
    uint32_t samples;
    uint32_t flags;
    uint32_t length;
    uint8_t used;
} slot_t;

typedef struct sample {
    uint64_t arrival_ns;
    int64_t transit;
} sample_t;

struct jbuf {
    pthread_mutex_t lock;
    jbuf_config_t cfg;
    uint32_t mask;
    slot_t *slots;
    uint8_t *data;
    int32_t scratch[HIST];
    /* configuration in RTP units / ns */
    int64_t min_delay, max_delay, frame, resync_threshold, hysteresis, decay;
    uint64_t window_ns, shrink_interval_ns;
    /* numbering of the current source */
    uint8_t have_ref;
    uint32_t ssrc;
    uint16_t ref_seq16;
    int64_t ref_seq;
    uint32_t ref_ts32;
    int64_t ref_ts;
    /* buffered packets: slots hold sequence numbers in [next_seq, next_seq + capacity) */
    uint32_t count;
    int64_t next_seq;
    int64_t top_seq;       /* one past the highest sequence number buffered */
    uint64_t seen;         /* bit i: sequence next_seq - 1 - i was received */
    /* playout */
    uint8_t started;
    uint8_t in_gap;
    int64_t play_ts;
    uint64_t last_shrink_ns;
    /* jitter window and delay control */
    sample_t hist[HIST];
    uint64_t hist_end;
    uint32_t hist_len;
    uint64_t dq[HIST];     /* indices into hist with increasing transit: the window minimum */
    uint32_t dq_head, dq_len;
    uint8_t have_base;
    int64_t base;
    int64_t target;
    int64_t pctl;
    uint64_t last_recompute_ns;
    uint64_t last_late_ns;
    int64_t last_late_delay;
    int64_t late_floor;            /* the target stays at least this (late packets) ... */
    uint64_t late_floor_until_ns;  /* ... until then (one window after the late pair) */
    /* resynchronisation candidates */
    uint32_t oos_count;
    uint64_t oos_first_ns;
    int64_t oos_transit;
    jbuf_stats_t st;
};

static inline int64_t to_units(uint64_t ns, uint32_t rate)
{
    return (int64_t)((ns / 1000000000ULL) * rate + ((ns % 1000000000ULL) * rate) / 1000000000ULL);
}

static inline int64_t ms_to_units(uint32_t ms, uint32_t rate) { return (int64_t)ms * rate / 1000; }

void jbuf_config_default(jbuf_config_t *c, uint32_t clock_rate, uint32_t frame_samples)
{
    memset(c, 0, sizeof *c);
    c->clock_rate = clock_rate;
    c->frame_samples = frame_samples ? frame_samples : clock_rate / 50;
    c->min_delay_ms = JBUF_DEFAULT_MIN_DELAY_MS;
    c->max_delay_ms = 300;
    c->window_ms = 2000;
    c->percentile = 950;
    c->shrink_interval_ms = 100;
    c->capacity = 0;
    c->max_payload = 1500;
}

static void clear_history(jbuf_t *jb)
{
    jb->hist_end = 0;
    jb->hist_len = 0;
    jb->dq_head = 0;
    jb->dq_len = 0;
    jb->have_base = 0;
    jb->base = 0;
    jb->pctl = 0;
    jb->target = jb->min_delay;
    jb->last_recompute_ns = 0;
    jb->last_late_ns = 0;
    jb->last_late_delay = 0;
    jb->late_floor = 0;
    jb->late_floor_until_ns = 0;
    jb->oos_count = 0;
}

static void flush_slots(jbuf_t *jb)
{
    uint32_t i;
    for (i = 0; i <= jb->mask; i++)
        jb->slots[i].used = 0;
    jb->count = 0;
}

/* Forget everything about the current source (statistics stay). */
static void reset_locked(jbuf_t *jb)
{
    flush_slots(jb);
    clear_history(jb);
    jb->have_ref = 0;
    jb->started = 0;
    jb->in_gap = 0;
    jb->seen = 0;
    jb->next_seq = jb->top_seq = 0;
    jb->play_ts = 0;
    jb->last_shrink_ns = 0;
}

static void start_source(jbuf_t *jb, uint16_t seq, uint32_t ts, uint32_t ssrc)
{
    reset_locked(jb);
    jb->have_ref = 1;
    jb->ssrc = ssrc;
    jb->ref_seq16 = seq;
    jb->ref_seq = (int64_t)1 << 32 | seq;  /* keep extended values positive */
    jb->ref_ts32 = ts;
    jb->ref_ts = (int64_t)1 << 40 | ts;
    jb->next_seq = jb->top_seq = jb->ref_seq;
}

jbuf_t *jbuf_create(const jbuf_config_t *c)
{
    jbuf_t *jb;
    uint32_t cap = 32, want;

    if (!c || !c->clock_rate || !c->frame_samples || c->max_delay_ms < c->min_delay_ms ||
        !c->max_payload || c->max_payload > 65536 || !c->window_ms || c->percentile > 1000 ||
        c->capacity > 4096)
        return NULL;
    want = c->capacity;
    if (!want) {
        uint64_t frames = (uint64_t)c->max_delay_ms * c->clock_rate / 1000 / c->frame_samples;
        want = (uint32_t)(frames > 1024 ? 2048 : 2 * frames + 16);
    }
    while (cap < want)
        cap <<= 1;
    jb = calloc(1, sizeof *jb);
    if (!jb)
        return NULL;
    jb->slots = calloc(cap, sizeof *jb->slots);
    jb->data = malloc((size_t)cap * c->max_payload);
    if (!jb->slots || !jb->data || pthread_mutex_init(&jb->lock, NULL) != 0) {
        free(jb->slots);
        free(jb->data);
        free(jb);
        return NULL;
    }
    jb->cfg = *c;
    jb->cfg.capacity = cap;
    jb->mask = cap - 1;
    jb->min_delay = ms_to_units(c->min_delay_ms, c->clock_rate);
    jb->max_delay = ms_to_units(c->max_delay_ms, c->clock_rate);
    jb->frame = c->frame_samples;
    jb->hysteresis = jb->frame / 2;
    if (jb->hysteresis < ms_to_units(5, c->clock_rate))
        jb->hysteresis = ms_to_units(5, c->clock_rate);
    jb->decay = jb->frame > ms_to_units(10, c->clock_rate) ? jb->frame : ms_to_units(10, c->clock_rate);
    jb->resync_threshold = jb->max_delay + c->clock_rate;  /* max delay + 1 s */
    jb->window_ns = (uint64_t)c->window_ms * 1000000ULL;
    jb->shrink_interval_ns = (uint64_t)c->shrink_interval_ms * 1000000ULL;
    reset_locked(jb);
    return jb;
}

void jbuf_destroy(jbuf_t *jb)
{
    if (!jb)
        return;
    pthread_mutex_destroy(&jb->lock);
    free(jb->slots);
    free(jb->data);
    free(jb);
}

void jbuf_reset(jbuf_t *jb)
{
    pthread_mutex_lock(&jb->lock);
    reset_locked(jb);
    pthread_mutex_unlock(&jb->lock);
}

void jbuf_get_config(const jbuf_t *jb, jbuf_config_t *out) { *out = jb->cfg; }

/* ---- jitter window ---- */

static int32_t select_kth(int32_t *a, int n, int k)
{
    /* iterative quickselect (Hoare partition around a median-of-three pivot) */
    int lo = 0, hi = n - 1;
    while (hi > lo) {
        int32_t x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi], pivot;
        int i = lo, j = hi;
        pivot = (x < y) ? ((y < z) ? y : (x < z ? z : x)) : ((x < z) ? x : (y < z ? z : y));
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                int32_t t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        /* now a[lo..j] <= pivot, a[i..hi] >= pivot and anything between equals it */
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return a[k];
    }
    return a[k];
}

static void recompute_target(jbuf_t *jb, uint64_t now_ns)
{
    uint32_t n = jb->hist_len, i, k;
    uint64_t first = jb->hist_end - n;
    int64_t t, h;
    for (i = 0; i < n; i++) {
        int64_t d = jb->hist[(first + i) & HMASK].transit - jb->base;
        jb->scratch[i] = d > INT32_MAX ? INT32_MAX : (int32_t)d;
    }
    if (n == 0) {
        jb->pctl = 0;
    } else {
        uint64_t rank = ((uint64_t)n * jb->cfg.percentile + 999) / 1000; /* nearest rank */
        k = rank ? (uint32_t)rank - 1 : 0;
        if (k >= n)
            k = n - 1;
        jb->pctl = select_kth(jb->scratch, (int)n, (int)k);
    }
    t = jb->pctl;
    if (t < jb->late_floor && now_ns < jb->late_floor_until_ns)
        t = jb->late_floor;
    if (t < jb->min_delay)
        t = jb->min_delay;
    if (t > jb->max_delay)
        t = jb->max_delay;
    /* grow at once; come down only for a clear drop (so that small wobbles of the percentile do
       not make the playout insert and drop frames), and then by at most `decay` per step; a small
       target needs a proportionally smaller drop, or it could never return to a minimum below
       the hysteresis */
    h = jb->target / 2 < jb->hysteresis ? jb->target / 2 : jb->hysteresis;
    if (t > jb->target)
        jb->target = t;
    else if (jb->pctl + h < jb->target) {
        int64_t down = jb->target - jb->decay;
        /* the last step lands on t, never below min_delay */
        jb->target = down < jb->pctl + h || down < t ? t : down;
    }
    jb->last_recompute_ns = now_ns;
}

static void add_sample(jbuf_t *jb, int64_t transit, uint64_t arrival_ns)
{
    uint64_t idx;
    /* expire by age and by room */
    while (jb->hist_len) {
        const sample_t *old = &jb->hist[(jb->hist_end - jb->hist_len) & HMASK];
        if (jb->hist_len < HIST && !(arrival_ns > old->arrival_ns && arrival_ns - old->arrival_ns > jb->window_ns))
            break;
        jb->hist_len--;
    }
    while (jb->dq_len && jb->dq[jb->dq_head] < jb->hist_end - jb->hist_len) {
        jb->dq_head = (jb->dq_head + 1) & HMASK;
        jb->dq_len--;
    }
    idx = jb->hist_end++;
    jb->hist[idx & HMASK].arrival_ns = arrival_ns;
    jb->hist[idx & HMASK].transit = transit;
    jb->hist_len++;
    while (jb->dq_len && jb->hist[jb->dq[(jb->dq_head + jb->dq_len - 1) & HMASK] & HMASK].transit >= transit)
        jb->dq_len--;
    jb->dq[(jb->dq_head + jb->dq_len) & HMASK] = idx;
    jb->dq_len++;
    jb->base = jb->hist[jb->dq[jb->dq_head] & HMASK].transit;
    jb->have_base = 1;
    if (transit - jb->base > jb->target || arrival_ns - jb->last_recompute_ns >= RECOMPUTE_NS ||
        arrival_ns < jb->last_recompute_ns)
        recompute_target(jb, arrival_ns);
}

/* A packet came after its playout time: two of them within LATE_PAIR_NS lift the target to the
   smaller of their delays without waiting for the percentile (one outlier alone does not), and
   keep it there for a window (the percentile may not see such rare delays). */
static void note_late(jbuf_t *jb, int64_t delay, uint64_t arrival_ns)
{
    if (jb->last_late_ns && arrival_ns >= jb->last_late_ns && arrival_ns - jb->last_late_ns < LATE_PAIR_NS) {
        int64_t t = delay < jb->last_late_delay ? delay : jb->last_late_delay;
        if (t > jb->max_delay)
            t = jb->max_delay;
        if (t > jb->target)
            jb->target = t;
        if (t > jb->late_floor || arrival_ns >= jb->late_floor_until_ns)
            jb->late_floor = t;
        jb->late_floor_until_ns = arrival_ns + jb->window_ns;
    }
    jb->last_late_ns = arrival_ns;
    jb->last_late_delay = delay;
}

/* ---- buffer ---- */

/* next_seq moves to new_next; `consumed` marks new_next - 1 as received. */
static void advance_seq(jbuf_t *jb, int64_t new_next, int consumed)
{
    int64_t shift = new_next - jb->next_seq;
    if (shift <= 0)
        return;
    jb->seen = shift >= 64 ? 0 : jb->seen << shift;
    if (consumed)
        jb->seen |= 1;
    jb->next_seq = new_next;
    if (jb->top_seq < new_next)
        jb->top_seq = new_next;
}

static slot_t *front(jbuf_t *jb)
{
    int64_t s;
    if (!jb->count)
        return NULL;
    for (s = jb->next_seq; s < jb->top_seq; s++) {
        slot_t *p = &jb->slots[s & jb->mask];
        if (p->used && p->seq == s)
            return p;
    }
    return NULL;
}

static void release(jbuf_t *jb, slot_t *p)
{
    p->used = 0;
    jb->count--;
    advance_seq(jb, p->seq + 1, 1);
}

static int was_seen(const jbuf_t *jb, int64_t seq)
{
    int64_t back = jb->next_seq - 1 - seq;
    return back >= 0 && back < 64 && ((jb->seen >> back) & 1);
}

static void mark_seen(jbuf_t *jb, int64_t seq)
{
    int64_t back = jb->next_seq - 1 - seq;
    if (back >= 0 && back < 64)
        jb->seen |= (uint64_t)1 << back;
}

int jbuf_put(jbuf_t *jb, const uint8_t *payload, size_t length, uint16_t seq, uint32_t timestamp,
             uint32_t ssrc, uint32_t samples, uint32_t flags, uint64_t arrival_ns)
{
    int status = JBUF_PUT_OK;
    int64_t seq_ext, ts_ext, transit;
    slot_t *p;

    pthread_mutex_lock(&jb->lock);
    if (length > jb->cfg.max_payload) {
        jb->st.too_big++;
        status = JBUF_PUT_TOO_BIG;
        goto out;
    }
    if (!samples)
        samples = jb->cfg.frame_samples;
    if (!jb->have_ref) {
        start_source(jb, seq, timestamp, ssrc);
    } else if (ssrc != jb->ssrc) {
        start_source(jb, seq, timestamp, ssrc);
        jb->st.resyncs++;
        status = JBUF_PUT_RESYNC;
    }
    seq_ext = jb->ref_seq + (int16_t)(uint16_t)(seq - jb->ref_seq16);
    ts_ext = jb->ref_ts + (int32_t)(timestamp - jb->ref_ts32);
    transit = to_units(arrival_ns, jb->cfg.clock_rate) - ts_ext;

    if (jb->have_base) {
        int64_t dev = transit - jb->base;
        int restart = (jb->started && seq_ext < jb->next_seq - SEQ_RESTART &&
                       ts_ext + samples > jb->play_ts);
        if (dev > jb->resync_threshold || dev < -jb->resync_threshold) {
            int64_t agree = transit - jb->oos_transit;
            if (jb->oos_count == 0 || agree > jb->max_delay || agree < -jb->max_delay) {
                jb->oos_count = 1;
                jb->oos_first_ns = arrival_ns;
                jb->oos_transit = transit;
            } else {
                jb->oos_count++;
            }
            if (jb->oos_count < RESYNC_PACKETS || arrival_ns - jb->oos_first_ns < RESYNC_SPAN_NS) {
                jb->st.out_of_sync++;
                status = JBUF_PUT_OUT_OF_SYNC;
                goto out;
            }
            restart = 1;
        } else {
            jb->oos_count = 0;
        }
        if (restart) {
            start_source(jb, seq, timestamp, ssrc);
            jb->st.resyncs++;
            status = JBUF_PUT_RESYNC;
            seq_ext = jb->ref_seq;
            ts_ext = jb->ref_ts;
            transit = to_units(arrival_ns, jb->cfg.clock_rate) - ts_ext;
        }
    }
    /* commit the numbering references */
    if (seq_ext > jb->ref_seq) {
        jb->ref_seq = seq_ext;
        jb->ref_seq16 = seq;
    }
    if (ts_ext > jb->ref_ts) {
        jb->ref_ts = ts_ext;
        jb->ref_ts32 = timestamp;
    }
    /* duplicates: buffered, or played/dropped recently */
    if (seq_ext >= jb->next_seq) {
        p = &jb->slots[seq_ext & jb->mask];
        if (p->used && p->seq == seq_ext) {
            jb->st.duplicates++;
            status = JBUF_PUT_DUPLICATE;
            goto out;
        }
    } else if (was_seen(jb, seq_ext)) {
        jb->st.duplicates++;
        status = JBUF_PUT_DUPLICATE;
        goto out;
    }
    add_sample(jb, transit, arrival_ns);
    if (jb->started && (ts_ext + samples <= jb->play_ts || seq_ext < jb->next_seq)) {
        mark_seen(jb, seq_ext);
        note_late(jb, transit - jb->base, arrival_ns);
        jb->st.late++;
        status = JBUF_PUT_LATE;
        goto out;
    }
    if (seq_ext < jb->next_seq) {
        /* before playout starts: an earlier packet arrived after a later one */
        if (jb->top_seq - seq_ext > (int64_t)jb->mask) {
            jb->st.late++;
            status = JBUF_PUT_LATE;
            goto out;
        }
        jb->next_seq = seq_ext;
        jb->seen = 0;
    }
    if (seq_ext - jb->next_seq > (int64_t)jb->mask) {
        /* full: make room by dropping the oldest packets */
        if (seq_ext - jb->next_seq > 2 * (int64_t)jb->mask) {
            jb->st.overflow += jb->count;
            flush_slots(jb);
            jb->seen = 0;
            jb->next_seq = seq_ext;
            jb->top_seq = seq_ext;
        }
        while (seq_ext - jb->next_seq > (int64_t)jb->mask) {
            slot_t *old = &jb->slots[jb->next_seq & jb->mask];
            if (old->used && old->seq == jb->next_seq) {
                old->used = 0;
                jb->count--;
                jb->st.overflow++;
                advance_seq(jb, jb->next_seq + 1, 1);
            } else {
                advance_seq(jb, jb->next_seq + 1, 0);
            }
        }
    }
    p = &jb->slots[seq_ext & jb->mask];
    p->used = 1;
    p->seq = seq_ext;
    p->ts = ts_ext;
    p->arrival_ns = arrival_ns;
    p->samples = samples;
    p->flags = flags & (JBUF_F_MARKER | JBUF_F_CNG);
    p->length = (uint32_t)length;
    if (length)
        memcpy(jb->data + (size_t)(seq_ext & jb->mask) * jb->cfg.max_payload, payload, length);
    jb->count++;
    if (seq_ext + 1 > jb->top_seq)
        jb->top_seq = seq_ext + 1;
    jb->st.received++;
out:
    pthread_mutex_unlock(&jb->lock);
    return status;
}

/* A silence the sender chose (DTX) rather than a loss lies before packet p at play_ts. */
static int gap_before(const jbuf_t *jb, const slot_t *p)
{
    if (jb->in_gap)
        return 1;
    return p && p->ts > jb->play_ts && (p->seq == jb->next_seq || (p->flags & JBUF_F_MARKER));
}

int jbuf_get(jbuf_t *jb, uint64_t now_ns, uint8_t *payload, size_t cap, jbuf_frame_t *out)
{
    int64_t now_u, pd;
    slot_t *p;

    pthread_mutex_lock(&jb->lock);
    memset(out, 0, sizeof *out);
    out->kind = JBUF_NOT_YET;
    out->ssrc = jb->ssrc;
    if (!jb->have_ref)
        goto out;
    now_u = to_units(now_ns, jb->cfg.clock_rate);
    if (!jb->started) {
        p = front(jb);
        if (!p || !jb->have_base)
            goto out;
        if (now_u - jb->base - p->ts < jb->target)
            goto out;
        jb->started = 1;
        jb->play_ts = p->ts;
        jb->next_seq = p->seq;
        jb->seen = 0;
        jb->last_shrink_ns = now_ns;
    }
    pd = now_u - jb->base - jb->play_ts;
    if (pd > jb->max_delay + 4 * jb->frame) {
        /* far behind (the caller stopped pulling): jump to the target delay */
        jb->play_ts = now_u - jb->base - jb->target;
        jb->st.catchups++;
        pd = jb->target;
    }
    /* drop what the playout point has passed */
    while ((p = front(jb)) && p->ts + p->samples <= jb->play_ts) {
        jb->st.shrunk++;
        release(jb, p);
    }
    jb->st.play_delay = (int32_t)pd;
    out->timestamp = (uint32_t)jb->play_ts;
    if (pd < jb->target) {
        /* grow: insert a frame without advancing */
        out->kind = gap_before(jb, p) ? JBUF_GAP : JBUF_MISSING;
        out->flags = JBUF_F_EXPAND;
        out->samples = (uint32_t)jb->frame;
        jb->st.expanded++;
        goto out;
    }
    if (pd >= jb->target + jb->frame + jb->frame / 4 && p) {
        if (p->ts > jb->play_ts && gap_before(jb, p)) {
            /* inside a silence: shorten it */
            int64_t skip = pd - jb->target;
            if (skip > p->ts - jb->play_ts)
                skip = p->ts - jb->play_ts;
            jb->play_ts += skip;
            out->timestamp = (uint32_t)jb->play_ts;
        } else if (p->ts <= jb->play_ts && now_ns - jb->last_shrink_ns >= jb->shrink_interval_ns) {
            jb->play_ts = p->ts + p->samples;
            jb->last_shrink_ns = now_ns;
            jb->st.shrunk++;
            release(jb, p);
            p = front(jb);
            out->timestamp = (uint32_t)jb->play_ts;
        }
    }
    if (p && p->ts <= jb->play_ts) {
        if (p->length > cap) {
            pthread_mutex_unlock(&jb->lock);
            return JBUF_E_SPACE;
        }
        if (p->length)
            memcpy(payload, jb->data + (size_t)(p->seq & jb->mask) * jb->cfg.max_payload, p->length);
        out->kind = JBUF_FRAME;
        out->flags = p->flags;
        out->timestamp = (uint32_t)p->ts;
        out->samples = p->samples;
        out->sequence = (uint16_t)p->seq;
        out->length = p->length;
        out->buffered_ns = now_ns > p->arrival_ns ? now_ns - p->arrival_ns : 0;
        jb->play_ts = p->ts + p->samples;
        jb->in_gap = (p->flags & JBUF_F_CNG) != 0;
        jb->st.played++;
        release(jb, p);
    } else {
        int64_t dur = jb->frame;
        if (p && p->ts - jb->play_ts < dur)
            dur = p->ts - jb->play_ts;
        if (gap_before(jb, p)) {
            out->kind = JBUF_GAP;
            jb->st.gaps++;
        } else {
            out->kind = JBUF_MISSING;
            jb->st.missing++;
        }
        out->samples = (uint32_t)dur;
        jb->play_ts += dur;
    }
out:
    pthread_mutex_unlock(&jb->lock);
    return out->kind;
}

int jbuf_peek(jbuf_t *jb, uint8_t *payload, size_t cap, jbuf_frame_t *out)
{
    slot_t *p;
    int kind = JBUF_NOT_YET;

    pthread_mutex_lock(&jb->lock);
    memset(out, 0, sizeof *out);
    out->kind = JBUF_NOT_YET;
    out->ssrc = jb->ssrc;
    p = jb->have_ref && jb->started ? front(jb) : NULL;
    if (p && p->ts == jb->play_ts) {
        if (p->length > cap) {
            kind = JBUF_E_SPACE;
        } else {
            if (p->length)
                memcpy(payload, jb->data + (size_t)(p->seq & jb->mask) * jb->cfg.max_payload, p->length);
            out->kind = kind = JBUF_FRAME;
            out->flags = p->flags;
            out->timestamp = (uint32_t)p->ts;
            out->samples = p->samples;
            out->sequence = (uint16_t)p->seq;
            out->length = p->length;
        }
    }
    pthread_mutex_unlock(&jb->lock);
    return kind;
}

void jbuf_get_stats(jbuf_t *jb, jbuf_stats_t *out)
{
    pthread_mutex_lock(&jb->lock);
    *out = jb->st;
    out->buffered = jb->count;
    out->target_delay = (uint32_t)jb->target;
    out->jitter_percentile = (uint32_t)(jb->pctl < 0 ? 0 : jb->pctl);
    pthread_mutex_unlock(&jb->lock);
}
