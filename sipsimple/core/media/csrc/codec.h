/*
 * codec.h - the audio codec interface of the media engine.
 *
 * Every codec is a constant table of facts and function pointers (struct media_codec). The mixer
 * and the RTP stream call it from native threads without the Python interpreter: nothing here
 * touches Python, nothing allocates after create(), and every failure is a negative status code
 * (MEDIA_CODEC_E*), never an abort or an exception.
 *
 * Sample counts: PCM buffers are interleaved int16_t in host byte order. Every count named `n` or
 * `cap` for PCM is in samples PER CHANNEL (one sample of each channel = one sample), so a buffer of
 * n samples holds n * state->channels int16_t values. Payload counts are in bytes.
 *
 * A state is created for encoding, decoding or both (MEDIA_CODEC_ENCODER / _DECODER flags); using
 * a direction the state was not created for returns MEDIA_CODEC_EDIRECTION. One state must not be
 * used by two threads at the same time; different states are independent.
 *
 * Return values:
 *   encode   -> bytes written to `out` (>= 0; with Opus DTX a result of 1-2 bytes means "no speech,
 *               nothing need be sent") or a negative status;
 *   decode   -> samples per channel written to `pcm` or a negative status;
 *   conceal  -> n (samples of concealment written) or a negative status;
 *   recover  -> n (the lost samples rebuilt from the in-band FEC of the packet that followed the
 *               loss; codecs without FEC conceal instead) or a negative status.
 */
#ifndef SIPSIMPLE_MEDIA_CODEC_H
#define SIPSIMPLE_MEDIA_CODEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes (0 and positive counts are success). */
enum {
    MEDIA_CODEC_OK = 0,
    MEDIA_CODEC_EINVAL = -1,     /* an argument or parameter value is not acceptable */
    MEDIA_CODEC_EFRAME = -2,     /* the PCM length is not a frame size this codec encodes */
    MEDIA_CODEC_ENOSPACE = -3,   /* the output buffer is too small */
    MEDIA_CODEC_ECORRUPT = -4,   /* the payload is not a valid packet of this codec */
    MEDIA_CODEC_ENOMEM = -5,     /* create() could not allocate */
    MEDIA_CODEC_EDIRECTION = -6, /* encode on a decode-only state, or the reverse */
    MEDIA_CODEC_ELIBRARY = -7,   /* the codec library reported an internal error */
    MEDIA_CODEC_EFMTP = -8,      /* an fmtp parameter has a value this codec cannot use */
};

/* Directions of a state (media_codec_params.flags). */
#define MEDIA_CODEC_ENCODER 0x1u
#define MEDIA_CODEC_DECODER 0x2u

/* At most this many frame durations per codec (the list is zero-terminated). */
#define MEDIA_CODEC_MAX_DURATIONS 8

/* Settings for create(). media_codec_params_init() gives the "codec default" for every field;
 * media_codec_apply_fmtp() sets them from the fmtp the remote party sent (RFC 7587 for Opus,
 * RFC 5574 for Speex); applications may also set them directly. */
typedef struct media_codec_params {
    unsigned flags;        /* MEDIA_CODEC_ENCODER | MEDIA_CODEC_DECODER */
    unsigned channels;     /* PCM channels; 0 = 1. Only Opus takes 2. */
    unsigned sample_rate;  /* PCM rate; 0 = the codec's clock_rate. Opus also 8/12/16/24 kHz. */
    int bitrate;           /* encoder target in bit/s; 0 = codec default (Opus: maxaveragebitrate) */
    int complexity;        /* encoder complexity 0..10; -1 = codec default */
    int fec;               /* Opus in-band FEC (useinbandfec): 1 on, 0 off, -1 default (off) */
    int dtx;               /* Opus DTX (usedtx): 1 on, 0 off, -1 default (off) */
    int cbr;               /* Opus constant bitrate (cbr): 1 on, 0 off, -1 default (off) */
    int packet_loss;       /* expected loss in percent for the Opus FEC; -1 = 10 with FEC, else 0 */
    int stereo;            /* Opus "stereo": 0 = the receiver wants mono, so 2 PCM channels are
                              coded as mono; 1 = stereo welcome; -1 = not said */
    int max_playback_rate; /* Opus maxplaybackrate in Hz: caps the coded bandwidth; 0 = no limit */
    int mode;              /* Speex mode (RFC 5574 "mode"); -1 = default (3 narrowband, 6 wider) */
} media_codec_params;

typedef struct media_codec media_codec;
typedef struct media_codec_state media_codec_state;

/* One encode()/decode() call for media_codec_encode_batch()/decode_batch(): the arguments, the
 * result (what encode()/decode() returns), and `user`, the caller's (never touched). */
typedef struct media_codec_encode_job {
    media_codec_state *state;
    const int16_t *pcm;
    size_t n;
    uint8_t *out;
    size_t cap;
    int result;
    void *user;
} media_codec_encode_job;

typedef struct media_codec_decode_job {
    media_codec_state *state;
    const uint8_t *payload;
    size_t len;
    int16_t *pcm;
    size_t cap;
    int result;
    void *user;
} media_codec_decode_job;

/* The part of every state that callers may read. Codecs extend it (first member). */
struct media_codec_state {
    const media_codec *codec;
    unsigned flags;          /* the directions it was created for */
    unsigned channels;       /* PCM channels */
    unsigned sample_rate;    /* PCM sample rate */
    unsigned frame_quantum;  /* encode() takes a multiple of this many samples (Opus: 2.5 ms, and
                                only the durations of an Opus frame) */
};

struct media_codec {
    const char *name;            /* the SDP encoding name (RFC 4855: compared case-insensitively) */
    uint8_t payload_type;        /* RFC 3551 static type, or the dynamic type we offer by default */
    uint8_t static_payload_type; /* 1 when payload_type is assigned statically by RFC 3551 */
    uint8_t rtp_channels;        /* channel count in the rtpmap (Opus: always 2, RFC 7587) */
    uint8_t reserved;
    uint32_t clock_rate;         /* PCM sample rate of the audio (G.722: 16000) */
    uint32_t rtp_clock_rate;     /* RTP timestamp rate, as in the rtpmap (G.722: 8000) */
    /* encode() takes a multiple of this many samples at clock_rate; 0: exactly one of the
     * durations below (Opus) */
    uint32_t frame_quantum;
    /* Packet durations we offer (ptime), in microseconds, zero-terminated. */
    uint32_t frame_durations_us[MEDIA_CODEC_MAX_DURATIONS];

    int (*create)(const media_codec *codec, const media_codec_params *params, media_codec_state **out);
    void (*destroy)(media_codec_state *state);
    int (*encode)(media_codec_state *state, const int16_t *pcm, size_t n, uint8_t *out, size_t cap);
    int (*decode)(media_codec_state *state, const uint8_t *payload, size_t len, int16_t *pcm, size_t cap);
    int (*conceal)(media_codec_state *state, int16_t *pcm, size_t n);
    int (*recover)(media_codec_state *state, const uint8_t *next, size_t len, int16_t *pcm, size_t n);
    /* Upper bounds for sizing buffers: the payload bytes encode() may write for n samples, and the
     * samples per channel decode() may write for this payload (garbage included). */
    size_t (*encoded_bound)(const media_codec_state *state, size_t n);
    size_t (*decoded_bound)(const media_codec_state *state, const uint8_t *payload, size_t len);
    /* One fmtp parameter (key and value without surrounding blanks). Unknown keys are ignored
     * (return MEDIA_CODEC_OK), bad values of known keys return MEDIA_CODEC_EFMTP. NULL when the
     * codec has no fmtp parameters. */
    int (*set_fmtp)(media_codec_params *params, const char *key, size_t klen, const char *value,
                    size_t vlen);
    /* Optional (NULL: no batch form): several encode()/decode() calls at once, each job's result
     * exactly what encode()/decode() would have given it. All jobs of one call belong to this
     * codec; a state with several jobs has them done in their order. Codecs that code several streams in the lanes of one SIMD
     * pass (G.722) offer these; callers go through media_codec_encode_batch()/decode_batch(). */
    void (*encode_batch)(media_codec_encode_job *jobs, size_t count);
    void (*decode_batch)(media_codec_decode_job *jobs, size_t count);
};

/* The registry (codec_registry.c). */
size_t media_codec_count(void);
const media_codec *media_codec_at(size_t index);        /* NULL past the end */
/* `rate` matches clock_rate or rtp_clock_rate; 0 matches any. NULL when there is no such codec. */
const media_codec *media_codec_find(const char *name, unsigned rate);
const char *media_codec_strerror(int status);
void media_codec_params_init(media_codec_params *params, unsigned flags);
/* Parses "key=value; key=value" (RFC 4566 fmtp syntax, blanks allowed around ';' and '='). */
int media_codec_apply_fmtp(const media_codec *codec, media_codec_params *params, const char *fmtp,
                           size_t len);

/* Batches (codec_batch.c: it only calls through the tables, so the extensions that use it link
 * it). Every job is done as encode()/decode() would do it (its `result` set). Jobs may mix
 * codecs; those of a codec with a batch form go to it in one call, the others one
 * encode()/decode() each. The array may come back reordered (a state's own jobs keep their
 * order): callers find their jobs by `user`. */
void media_codec_encode_batch(media_codec_encode_job *jobs, size_t count);
void media_codec_decode_batch(media_codec_decode_job *jobs, size_t count);

/* Calls through the table (what the mixer and the RTP stream use). */
static inline int media_codec_create(const media_codec *codec, const media_codec_params *params,
                                     media_codec_state **out)
{
    return codec->create(codec, params, out);
}
static inline void media_codec_destroy(media_codec_state *state)
{
    if (state)
        state->codec->destroy(state);
}
static inline int media_codec_encode(media_codec_state *s, const int16_t *pcm, size_t n, uint8_t *out,
                                     size_t cap)
{
    return s->codec->encode(s, pcm, n, out, cap);
}
static inline int media_codec_decode(media_codec_state *s, const uint8_t *payload, size_t len,
                                     int16_t *pcm, size_t cap)
{
    return s->codec->decode(s, payload, len, pcm, cap);
}
/* Whether the state's codec has a batch form for `direction` (MEDIA_CODEC_ENCODER or _DECODER). */
static inline int media_codec_has_batch(const media_codec_state *s, unsigned direction)
{
    if (direction == MEDIA_CODEC_ENCODER)
        return s->codec->encode_batch != NULL;
    if (direction == MEDIA_CODEC_DECODER)
        return s->codec->decode_batch != NULL;
    return 0;
}
static inline int media_codec_conceal(media_codec_state *s, int16_t *pcm, size_t n)
{
    return s->codec->conceal(s, pcm, n);
}
static inline int media_codec_recover(media_codec_state *s, const uint8_t *next, size_t len,
                                      int16_t *pcm, size_t n)
{
    return s->codec->recover(s, next, len, pcm, n);
}

/* What the _codecs extension exports to other extensions in a PyCapsule (no Python types here:
 * the capsule only carries this pointer): the module attribute `_C_API`, named
 * MEDIA_CODEC_API_CAPSULE. Import sipsimple.core.media._codecs, take the pointer with
 * PyCapsule_GetPointer(module._C_API, MEDIA_CODEC_API_CAPSULE) and check `version` before use.
 * Codec tables and functions stay valid for the life of the process (extension modules are
 * never unloaded). */
#define MEDIA_CODEC_API_VERSION 2u /* 2: the batch entries of struct media_codec */
#define MEDIA_CODEC_API_CAPSULE "sipsimple.core.media._codecs._C_API"
/* The name of the capsules codec_capsule() returns: each holds one `const media_codec *`. */
#define MEDIA_CODEC_CAPSULE "sipsimple.core.media.media_codec"

typedef struct media_codec_api {
    unsigned version;
    size_t (*count)(void);
    const media_codec *(*at)(size_t index);
    const media_codec *(*find)(const char *name, unsigned rate);
    const char *(*strerror)(int status);
    void (*params_init)(media_codec_params *params, unsigned flags);
    int (*apply_fmtp)(const media_codec *codec, media_codec_params *params, const char *fmtp, size_t len);
} media_codec_api;

extern const media_codec_api media_codec_api_table;

#ifdef __cplusplus
}
#endif

#endif
