/*
 * codec_speex.c - Speex narrowband, wideband and ultra-wideband (libspeex), RFC 5574.
 *
 * A packet carries one or more 20 ms frames followed by the terminator bits (at most
 * SPEEX_MAX_FRAMES frames: larger packets are not something a sender produces and are treated as
 * corrupt). Packet-loss concealment is libspeex's own (decoding without bits).
 *
 * The fmtp "mode" (RFC 5574 section 5) is libspeex's SPEEX_SET_MODE: the narrowband sub-mode
 * 1..8, and for wideband and ultra-wideband the quality 0..10. Several "mode" parameters are in
 * order of preference: the first numeric one is used; "any" keeps the default (3 narrowband,
 * 6 wider). The bit buffers live in the state, so nothing is allocated per frame.
 */
#include <stdlib.h>
#include <string.h>

#include <speex/speex.h>

#include "codec_impl.h"

#define SPEEX_MAX_FRAMES 16
#define SPEEX_MAX_FRAME 640        /* samples: 20 ms at 32 kHz */
#define SPEEX_FRAME_BOUND 160      /* bytes: more than any Speex mode uses for 20 ms */
#define SPEEX_PACKET_MAX (SPEEX_MAX_FRAMES * SPEEX_FRAME_BOUND)

typedef struct speex_codec_state {
    media_codec_state base;
    void *encoder;
    void *decoder;
    int frame_size;
    SpeexBits encode_bits;
    SpeexBits decode_bits;
    char encode_buffer[SPEEX_PACKET_MAX];
    char decode_buffer[SPEEX_PACKET_MAX];
    spx_int16_t scratch[SPEEX_MAX_FRAME];
} speex_codec_state;

static void speex_codec_destroy(media_codec_state *base)
{
    speex_codec_state *state = (speex_codec_state *)base;
    if (state->encoder)
        speex_encoder_destroy(state->encoder);
    if (state->decoder)
        speex_decoder_destroy(state->decoder);
    free(state);
}

static int speex_codec_create(const media_codec *codec, const media_codec_params *params,
                              media_codec_state **out)
{
    int mode_id = codec->clock_rate == 8000 ? SPEEX_MODEID_NB
                  : codec->clock_rate == 16000 ? SPEEX_MODEID_WB
                                               : SPEEX_MODEID_UWB;
    const SpeexMode *mode = speex_lib_get_mode(mode_id);
    int frame_size = (int)(codec->clock_rate / 50);
    int narrow = mode_id == SPEEX_MODEID_NB;
    spx_int32_t submode = params->mode >= 0 ? params->mode : narrow ? 3 : 6;
    if (mode == NULL)
        return MEDIA_CODEC_ELIBRARY;
    if (narrow ? submode < 1 || submode > 8 : submode > 10)
        return MEDIA_CODEC_EINVAL;
    if (params->complexity > 10 || params->bitrate < 0)
        return MEDIA_CODEC_EINVAL;

    speex_codec_state *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return MEDIA_CODEC_ENOMEM;
    int status = media_codec_state_init(&state->base, codec, params, 1, 0);
    if (status < 0) {
        free(state);
        return status;
    }
    state->frame_size = frame_size;
    if (media_codec_can(&state->base, MEDIA_CODEC_ENCODER)) {
        if ((state->encoder = speex_encoder_init(mode)) == NULL) {
            speex_codec_destroy(&state->base);
            return MEDIA_CODEC_ENOMEM;
        }
        speex_encoder_ctl(state->encoder, SPEEX_SET_MODE, &submode);
        if (params->complexity >= 0) {
            spx_int32_t complexity = params->complexity ? params->complexity : 1;
            speex_encoder_ctl(state->encoder, SPEEX_SET_COMPLEXITY, &complexity);
        }
        if (params->bitrate > 0) {
            spx_int32_t bitrate = params->bitrate;
            speex_encoder_ctl(state->encoder, SPEEX_SET_BITRATE, &bitrate);
        }
        spx_int32_t encoder_frame = 0;
        speex_encoder_ctl(state->encoder, SPEEX_GET_FRAME_SIZE, &encoder_frame);
        if (encoder_frame != frame_size) {
            speex_codec_destroy(&state->base);
            return MEDIA_CODEC_ELIBRARY;
        }
        speex_bits_init_buffer(&state->encode_bits, state->encode_buffer, SPEEX_PACKET_MAX);
    }
    if (media_codec_can(&state->base, MEDIA_CODEC_DECODER)) {
        if ((state->decoder = speex_decoder_init(mode)) == NULL) {
            speex_codec_destroy(&state->base);
            return MEDIA_CODEC_ENOMEM;
        }
        spx_int32_t enhance = 1;
        speex_decoder_ctl(state->decoder, SPEEX_SET_ENH, &enhance);
        spx_int32_t decoder_frame = 0;
        speex_decoder_ctl(state->decoder, SPEEX_GET_FRAME_SIZE, &decoder_frame);
        if (decoder_frame != frame_size) {
            speex_codec_destroy(&state->base);
            return MEDIA_CODEC_ELIBRARY;
        }
        speex_bits_init_buffer(&state->decode_bits, state->decode_buffer, SPEEX_PACKET_MAX);
    }
    *out = &state->base;
    return MEDIA_CODEC_OK;
}

static int speex_codec_encode(media_codec_state *base, const int16_t *pcm, size_t n, uint8_t *out,
                              size_t cap)
{
    speex_codec_state *state = (speex_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_ENCODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || out == NULL)
        return MEDIA_CODEC_EINVAL;
    size_t frame = (size_t)state->frame_size;
    if (n == 0 || n % frame || n / frame > SPEEX_MAX_FRAMES)
        return MEDIA_CODEC_EFRAME;
    speex_bits_reset(&state->encode_bits);
    for (size_t i = 0; i < n; i += frame) {
        /* libspeex may overwrite its input: encode a copy */
        memcpy(state->scratch, pcm + i, frame * sizeof(int16_t));
        speex_encode_int(state->encoder, state->scratch, &state->encode_bits);
    }
    speex_bits_insert_terminator(&state->encode_bits);
    int bytes = speex_bits_nbytes(&state->encode_bits);
    if (bytes <= 0 || bytes > SPEEX_PACKET_MAX)
        return MEDIA_CODEC_ELIBRARY;
    if (cap < (size_t)bytes)
        return MEDIA_CODEC_ENOSPACE;
    return speex_bits_write(&state->encode_bits, (char *)out, bytes);
}

static int speex_codec_decode(media_codec_state *base, const uint8_t *payload, size_t len, int16_t *pcm,
                              size_t cap)
{
    speex_codec_state *state = (speex_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (payload == NULL || pcm == NULL)
        return MEDIA_CODEC_EINVAL;
    if (len == 0 || len > SPEEX_PACKET_MAX)
        return MEDIA_CODEC_ECORRUPT;
    size_t frame = (size_t)state->frame_size, frames = 0;
    speex_bits_read_from(&state->decode_bits, (const char *)payload, (int)len);
    for (;;) {
        int status = speex_decode_int(state->decoder, &state->decode_bits, state->scratch);
        if (status == -1)
            break; /* the terminator, or too few bits left for another frame */
        if (status < 0 || speex_bits_remaining(&state->decode_bits) < 0)
            return MEDIA_CODEC_ECORRUPT; /* a bad mode, or a frame running past the end */
        if (frames == SPEEX_MAX_FRAMES)
            return MEDIA_CODEC_ECORRUPT;
        if (cap < (frames + 1) * frame)
            return MEDIA_CODEC_ENOSPACE;
        memcpy(pcm + frames * frame, state->scratch, frame * sizeof(int16_t));
        frames++;
    }
    return frames ? (int)(frames * frame) : MEDIA_CODEC_ECORRUPT;
}

static int speex_codec_conceal(media_codec_state *base, int16_t *pcm, size_t n)
{
    speex_codec_state *state = (speex_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || n > INT_MAX)
        return MEDIA_CODEC_EINVAL;
    size_t frame = (size_t)state->frame_size;
    if (n == 0 || n % frame)
        return MEDIA_CODEC_EFRAME;
    for (size_t i = 0; i < n; i += frame)
        speex_decode_int(state->decoder, NULL, pcm + i);
    return (int)n;
}

static size_t speex_encoded_bound(const media_codec_state *base, size_t n)
{
    const speex_codec_state *state = (const speex_codec_state *)base;
    return (n / (size_t)state->frame_size + 1) * SPEEX_FRAME_BOUND;
}

static size_t speex_decoded_bound(const media_codec_state *base, const uint8_t *payload, size_t len)
{
    const speex_codec_state *state = (const speex_codec_state *)base;
    (void)payload;
    /* a frame takes at least 5 bits (wideband flag and mode) */
    size_t frames = len * 8 / 5;
    if (frames > SPEEX_MAX_FRAMES)
        frames = SPEEX_MAX_FRAMES;
    return frames * (size_t)state->frame_size;
}

static int speex_set_fmtp(media_codec_params *params, const char *key, size_t klen, const char *value,
                          size_t vlen)
{
    if (!media_codec_word_is(key, klen, "mode"))
        return MEDIA_CODEC_OK;
    if (media_codec_word_is(value, vlen, "any"))
        return MEDIA_CODEC_OK;
    long mode = media_codec_parse_uint(value, vlen);
    if (mode < 0 || mode > 10)
        return MEDIA_CODEC_EFMTP;
    if (params->mode < 0)
        params->mode = (int)mode;
    return MEDIA_CODEC_OK;
}

#define SPEEX_CODEC(symbol, rate, pt)                                                               \
    const media_codec symbol = {                                                                    \
        .name = "speex",                                                                           \
        .payload_type = pt,                                                                        \
        .static_payload_type = 0,                                                                  \
        .rtp_channels = 1,                                                                         \
        .clock_rate = rate,                                                                        \
        .rtp_clock_rate = rate,                                                                    \
        .frame_quantum = rate / 50,                                                                \
        .frame_durations_us = {20000, 40000, 60000},                                               \
        .create = speex_codec_create,                                                              \
        .destroy = speex_codec_destroy,                                                            \
        .encode = speex_codec_encode,                                                              \
        .decode = speex_codec_decode,                                                              \
        .conceal = speex_codec_conceal,                                                            \
        .recover = media_codec_recover_by_concealing,                                              \
        .encoded_bound = speex_encoded_bound,                                                      \
        .decoded_bound = speex_decoded_bound,                                                      \
        .set_fmtp = speex_set_fmtp,                                                                \
    }

SPEEX_CODEC(media_codec_speex_nb, 8000, 97);
SPEEX_CODEC(media_codec_speex_wb, 16000, 98);
SPEEX_CODEC(media_codec_speex_uwb, 32000, 99);
