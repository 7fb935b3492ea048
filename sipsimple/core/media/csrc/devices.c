/*
 * devices.c - null, WAV player/recorder, loopback and memory ports (see devices.h).
 */
#include "devices.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* -- null ---------------------------------------------------------------------------------- */

static int null_get(media_port_t *port, int16_t *pcm, size_t n)
{
    (void)port, (void)pcm, (void)n;
    return MEDIA_PORT_SILENCE;
}

static int null_put(media_port_t *port, const int16_t *pcm, size_t n)
{
    (void)port, (void)pcm, (void)n;
    return MEDIA_PORT_OK;
}

void media_null_port_init(media_port_t *port, uint32_t clock_rate, uint32_t spf)
{
    media_port_init(port, "null", clock_rate, 1, spf);
    port->get_frame = null_get;
    port->put_frame = null_put;
}

/* -- WAV player ------------------------------------------------------------------------------ */

struct media_wav_player {
    media_port_t port; /* first */
    wav_reader_t reader;
    uint32_t loop_count; /* 0 = forever */
    uint32_t loops_done;
    uint32_t pause_total, pause_left; /* frames */
    int finished;
    media_event_queue_t *events;
    uint64_t source;
    uint32_t end_event;
    int64_t tag;
};

static void player_finish(media_wav_player_t *p, uint32_t type, int64_t a)
{
    p->finished = 1;
    media_event_post(p->events, type, p->source, a, p->tag);
}

static int player_get(media_port_t *port, int16_t *pcm, size_t n)
{
    media_wav_player_t *p = (media_wav_player_t *)port;
    size_t filled = 0, ch = port->channels;
    int sound = 0;
    if (p->finished)
        return MEDIA_PORT_SILENCE;
    while (filled < n) {
        long got;
        if (p->pause_left) {
            size_t k = n - filled < p->pause_left ? n - filled : p->pause_left;
            memset(pcm + filled * ch, 0, k * ch * sizeof(int16_t));
            p->pause_left -= (uint32_t)k;
            filled += k;
            continue;
        }
        got = wav_reader_read(&p->reader, pcm + filled * ch, n - filled);
        if (got < 0) {
            player_finish(p, MEDIA_EVENT_WAV_ERROR, got);
            break;
        }
        if (got > 0) {
            filled += (size_t)got;
            sound = 1;
            continue;
        }
        p->loops_done++;
        if ((p->loop_count && p->loops_done >= p->loop_count) || p->reader.frames == 0) {
            player_finish(p, p->end_event, p->loops_done);
            break;
        }
        if (wav_reader_rewind(&p->reader) != WAV_OK) {
            player_finish(p, MEDIA_EVENT_WAV_ERROR, WAV_EIO);
            break;
        }
        p->pause_left = p->pause_total;
    }
    if (!sound)
        return MEDIA_PORT_SILENCE;
    if (filled < n)
        memset(pcm + filled * ch, 0, (n - filled) * ch * sizeof(int16_t));
    return MEDIA_PORT_OK;
}

int media_wav_player_open(const char *path, uint32_t frame_ms, uint32_t loop_count, uint32_t pause_ms,
                          media_wav_player_t **out, int *saved_errno)
{
    media_wav_player_t *p;
    int status;
    *out = NULL;
    *saved_errno = 0;
    if ((p = calloc(1, sizeof(*p))) == NULL) {
        *saved_errno = ENOMEM;
        return WAV_EOPEN;
    }
    status = wav_reader_open(&p->reader, path);
    if (status == WAV_OK && (uint64_t)p->reader.rate * frame_ms % 1000u != 0) {
        wav_reader_close(&p->reader);
        status = WAV_EFRAME;
    }
    if (status != WAV_OK) {
        *saved_errno = p->reader.saved_errno;
        free(p);
        return status;
    }
    media_port_init(&p->port, "wav-player", p->reader.rate, p->reader.channels,
                    p->reader.rate * frame_ms / 1000u);
    p->port.get_frame = player_get;
    p->port.user_data = p;
    p->loop_count = loop_count;
    p->pause_total = (uint32_t)((uint64_t)pause_ms * p->reader.rate / 1000u);
    p->end_event = MEDIA_EVENT_WAV_END;
    *out = p;
    return WAV_OK;
}

void media_wav_player_close(media_wav_player_t *p)
{
    if (p == NULL)
        return;
    wav_reader_close(&p->reader);
    free(p);
}

media_port_t *media_wav_player_port(media_wav_player_t *p) { return &p->port; }

void media_wav_player_set_events(media_wav_player_t *p, media_event_queue_t *queue, uint64_t source,
                                 uint32_t end_event, int64_t tag)
{
    p->events = queue;
    p->source = source;
    p->end_event = end_event;
    p->tag = tag;
}

uint64_t media_wav_player_frames(const media_wav_player_t *p) { return p->reader.frames; }

/* -- WAV recorder ---------------------------------------------------------------------------- */

struct media_wav_recorder {
    media_port_t port; /* first */
    wav_writer_t writer;
    int failed;
    media_event_queue_t *events;
    uint64_t source;
    int64_t tag;
};

static int recorder_put(media_port_t *port, const int16_t *pcm, size_t n)
{
    media_wav_recorder_t *r = (media_wav_recorder_t *)port;
    int status;
    if (r->failed)
        return MEDIA_PORT_OK;
    status = wav_writer_write(&r->writer, pcm, n);
    if (status != WAV_OK) {
        r->failed = 1;
        media_event_post(r->events, MEDIA_EVENT_RECORDER_ERROR, r->source,
                         status == WAV_ETOOBIG ? EFBIG : r->writer.saved_errno, r->tag);
        return -1;
    }
    return MEDIA_PORT_OK;
}

int media_wav_recorder_open(const char *path, uint32_t clock_rate, uint32_t channels, uint32_t frame_ms,
                            media_wav_recorder_t **out, int *saved_errno)
{
    media_wav_recorder_t *r;
    int status;
    *out = NULL;
    *saved_errno = 0;
    if ((uint64_t)clock_rate * frame_ms % 1000u != 0)
        return WAV_EFRAME;
    if ((r = calloc(1, sizeof(*r))) == NULL) {
        *saved_errno = ENOMEM;
        return WAV_EOPEN;
    }
    status = wav_writer_open(&r->writer, path, clock_rate, channels);
    if (status != WAV_OK) {
        *saved_errno = r->writer.saved_errno;
        free(r);
        return status;
    }
    media_port_init(&r->port, "wav-recorder", clock_rate, channels, clock_rate * frame_ms / 1000u);
    r->port.put_frame = recorder_put;
    r->port.user_data = r;
    *out = r;
    return WAV_OK;
}

int media_wav_recorder_close(media_wav_recorder_t *r, int *saved_errno)
{
    int status;
    if (r == NULL)
        return WAV_OK;
    status = wav_writer_close(&r->writer);
    *saved_errno = r->writer.saved_errno;
    free(r);
    return status;
}

media_port_t *media_wav_recorder_port(media_wav_recorder_t *r) { return &r->port; }

void media_wav_recorder_set_events(media_wav_recorder_t *r, media_event_queue_t *queue, uint64_t source,
                                   int64_t tag)
{
    r->events = queue;
    r->source = source;
    r->tag = tag;
}

uint64_t media_wav_recorder_frames(const media_wav_recorder_t *r) { return r->writer.frames; }

/* -- loopback -------------------------------------------------------------------------------- */

struct media_loopback {
    media_port_t port; /* first */
    int16_t *frame;
    int full;
};

static int loopback_get(media_port_t *port, int16_t *pcm, size_t n)
{
    media_loopback_t *l = (media_loopback_t *)port;
    if (!l->full)
        return MEDIA_PORT_SILENCE;
    memcpy(pcm, l->frame, n * sizeof(int16_t));
    l->full = 0;
    return MEDIA_PORT_OK;
}

static int loopback_put(media_port_t *port, const int16_t *pcm, size_t n)
{
    media_loopback_t *l = (media_loopback_t *)port;
    memcpy(l->frame, pcm, n * sizeof(int16_t));
    l->full = 1;
    return MEDIA_PORT_OK;
}

media_loopback_t *media_loopback_create(uint32_t clock_rate, uint32_t spf)
{
    media_loopback_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    if ((l->frame = calloc(spf, sizeof(int16_t))) == NULL) {
        free(l);
        return NULL;
    }
    media_port_init(&l->port, "loopback", clock_rate, 1, spf);
    l->port.get_frame = loopback_get;
    l->port.put_frame = loopback_put;
    l->port.user_data = l;
    return l;
}

void media_loopback_destroy(media_loopback_t *l)
{
    if (l == NULL)
        return;
    free(l->frame);
    free(l);
}

media_port_t *media_loopback_port(media_loopback_t *l) { return &l->port; }

/* -- memory ---------------------------------------------------------------------------------- */

struct media_memory_port {
    media_port_t port; /* first */
    pthread_mutex_t lock;
    int16_t *play;
    size_t play_frames, played, position;
    int loop;
    int16_t *record;
    size_t record_frames, recorded;
    uint64_t dropped;
};

static int memory_get(media_port_t *port, int16_t *pcm, size_t n)
{
    media_memory_port_t *m = (media_memory_port_t *)port;
    size_t ch = port->channels, k;
    size_t done = 0;
    pthread_mutex_lock(&m->lock);
    if (m->position >= m->play_frames && (!m->loop || m->play_frames == 0)) {
        pthread_mutex_unlock(&m->lock);
        return MEDIA_PORT_SILENCE;
    }
    while (done < n) {
        if (m->position >= m->play_frames) {
            if (!m->loop)
                break;
            m->position = 0;
        }
        k = m->play_frames - m->position < n - done ? m->play_frames - m->position : n - done;
        memcpy(pcm + done * ch, m->play + m->position * ch, k * ch * sizeof(int16_t));
        m->position += k;
        done += k;
    }
    memset(pcm + done * ch, 0, (n - done) * ch * sizeof(int16_t));
    m->played += done;
    pthread_mutex_unlock(&m->lock);
    return MEDIA_PORT_OK;
}

static int memory_put(media_port_t *port, const int16_t *pcm, size_t n)
{
    media_memory_port_t *m = (media_memory_port_t *)port;
    size_t ch = port->channels, k;
    pthread_mutex_lock(&m->lock);
    k = m->record_frames - m->recorded < n ? m->record_frames - m->recorded : n;
    memcpy(m->record + m->recorded * ch, pcm, k * ch * sizeof(int16_t));
    m->recorded += k;
    m->dropped += n - k;
    pthread_mutex_unlock(&m->lock);
    return MEDIA_PORT_OK;
}

media_memory_port_t *media_memory_port_create(uint32_t clock_rate, uint32_t channels, uint32_t spf,
                                              const int16_t *play, size_t play_frames, int loop, int sink,
                                              size_t record_frames)
{
    media_memory_port_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }
    media_port_init(&m->port, "memory", clock_rate, channels, spf);
    m->port.user_data = m;
    if (play) {
        m->play = malloc(play_frames * channels * sizeof(int16_t) + 1);
        if (m->play == NULL)
            goto fail;
        memcpy(m->play, play, play_frames * channels * sizeof(int16_t));
        m->play_frames = play_frames;
        m->loop = loop;
        m->port.get_frame = memory_get;
    }
    if (sink) {
        m->record = malloc(record_frames * channels * sizeof(int16_t) + 1);
        if (m->record == NULL)
            goto fail;
        m->record_frames = record_frames;
        m->port.put_frame = memory_put;
    }
    return m;
fail:
    media_memory_port_destroy(m);
    return NULL;
}

void media_memory_port_destroy(media_memory_port_t *m)
{
    if (m == NULL)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m->play);
    free(m->record);
    free(m);
}

media_port_t *media_memory_port_port(media_memory_port_t *m) { return &m->port; }

size_t media_memory_port_recorded(media_memory_port_t *m)
{
    size_t n;
    pthread_mutex_lock(&m->lock);
    n = m->recorded;
    pthread_mutex_unlock(&m->lock);
    return n;
}

size_t media_memory_port_take(media_memory_port_t *m, int16_t *out, size_t max_frames)
{
    size_t ch = m->port.channels, k;
    pthread_mutex_lock(&m->lock);
    k = m->recorded < max_frames ? m->recorded : max_frames;
    memcpy(out, m->record, k * ch * sizeof(int16_t));
    memmove(m->record, m->record + k * ch, (m->recorded - k) * ch * sizeof(int16_t));
    m->recorded -= k;
    pthread_mutex_unlock(&m->lock);
    return k;
}

size_t media_memory_port_played(media_memory_port_t *m)
{
    size_t n;
    pthread_mutex_lock(&m->lock);
    n = m->played;
    pthread_mutex_unlock(&m->lock);
    return n;
}

uint64_t media_memory_port_dropped(media_memory_port_t *m)
{
    uint64_t n;
    pthread_mutex_lock(&m->lock);
    n = m->dropped;
    pthread_mutex_unlock(&m->lock);
    return n;
}
