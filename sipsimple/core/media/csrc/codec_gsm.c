/*
 * codec_gsm.c - GSM 06.10 full rate (libgsm), RFC 3551 section 4.5.8.
 *
 * 160 samples (20 ms at 8 kHz) make one 33-byte frame; a packet carries whole frames. libgsm has
 * no packet loss concealment: plc.c conceals.
 */
#include <stdlib.h>
#include <string.h>

#include <gsm/gsm.h>

#include "codec_impl.h"
#include "plc.h"

#define GSM_SAMPLES 160
#define GSM_BYTES 33

typedef struct gsm_codec_state {
    media_codec_state base;
    gsm encoder;
    gsm decoder;
    media_plc plc;
} gsm_codec_state;

static void gsm_codec_destroy(media_codec_state *base)
{
    gsm_codec_state *state = (gsm_codec_state *)base;
    if (state->encoder)
        gsm_destroy(state->encoder);
    if (state->decoder)
        gsm_destroy(state->decoder);
    free(state);
}

static int gsm_codec_create(const media_codec *codec, const media_codec_params *params,
                            media_codec_state **out)
{
    gsm_codec_state *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return MEDIA_CODEC_ENOMEM;
    int status = media_codec_state_init(&state->base, codec, params, 1, 0);
    if (status < 0) {
        free(state);
        return status;
    }
    if (media_codec_can(&state->base, MEDIA_CODEC_ENCODER) && (state->encoder = gsm_create()) == NULL) {
        gsm_codec_destroy(&state->base);
        return MEDIA_CODEC_ENOMEM;
    }
    if (media_codec_can(&state->base, MEDIA_CODEC_DECODER) && (state->decoder = gsm_create()) == NULL) {
        gsm_codec_destroy(&state->base);
        return MEDIA_CODEC_ENOMEM;
    }
    media_plc_init(&state->plc, 8000);
    *out = &state->base;
    return MEDIA_CODEC_OK;
}

static int gsm_codec_encode(media_codec_state *base, const int16_t *pcm, size_t n, uint8_t *out,
                            size_t cap)
{
    gsm_codec_state *state = (gsm_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_ENCODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || out == NULL || n > INT_MAX)
        return MEDIA_CODEC_EINVAL;
    if (n == 0 || n % GSM_SAMPLES)
        return MEDIA_CODEC_EFRAME;
    size_t frames = n / GSM_SAMPLES;
    if (cap / GSM_BYTES < frames)
        return MEDIA_CODEC_ENOSPACE;
    gsm_signal frame[GSM_SAMPLES]; /* libgsm's prototype is not const */
    for (size_t i = 0; i < frames; i++) {
        memcpy(frame, pcm + i * GSM_SAMPLES, sizeof(frame));
        gsm_encode(state->encoder, frame, out + i * GSM_BYTES);
    }
    return (int)(frames * GSM_BYTES);
}

static int gsm_codec_decode(media_codec_state *base, const uint8_t *payload, size_t len, int16_t *pcm,
                            size_t cap)
{
    gsm_codec_state *state = (gsm_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (payload == NULL || pcm == NULL || len > INT_MAX / GSM_SAMPLES)
        return MEDIA_CODEC_EINVAL;
    if (len == 0 || len % GSM_BYTES)
        return MEDIA_CODEC_ECORRUPT;
    size_t frames = len / GSM_BYTES;
    if (cap / GSM_SAMPLES < frames)
        return MEDIA_CODEC_ENOSPACE;
    gsm_byte frame[GSM_BYTES];
    for (size_t i = 0; i < frames; i++) {
        memcpy(frame, payload + i * GSM_BYTES, GSM_BYTES);
        if (gsm_decode(state->decoder, frame, pcm + i * GSM_SAMPLES) < 0)
            return MEDIA_CODEC_ECORRUPT; /* not a GSM frame: its signature nibble is not 0xD */
    }
    media_plc_good(&state->plc, pcm, frames * GSM_SAMPLES);
    return (int)(frames * GSM_SAMPLES);
}

static int gsm_codec_conceal(media_codec_state *base, int16_t *pcm, size_t n)
{
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || n == 0 || n > INT_MAX)
        return MEDIA_CODEC_EINVAL;
    media_plc_conceal(&((gsm_codec_state *)base)->plc, pcm, n);
    return (int)n;
}

static size_t gsm_encoded_bound(const media_codec_state *state, size_t n)
{
    (void)state;
    return n / GSM_SAMPLES * GSM_BYTES;
}

static size_t gsm_decoded_bound(const media_codec_state *state, const uint8_t *payload, size_t len)
{
    (void)state;
    (void)payload;
    return len / GSM_BYTES * GSM_SAMPLES;
}

const media_codec media_codec_gsm = {
    .name = "GSM",
    .payload_type = 3,
    .static_payload_type = 1,
    .rtp_channels = 1,
    .clock_rate = 8000,
    .rtp_clock_rate = 8000,
    .frame_quantum = 160,
    .frame_durations_us = {20000, 40000, 60000},
    .create = gsm_codec_create,
    .destroy = gsm_codec_destroy,
    .encode = gsm_codec_encode,
    .decode = gsm_codec_decode,
    .conceal = gsm_codec_conceal,
    .recover = media_codec_recover_by_concealing,
    .encoded_bound = gsm_encoded_bound,
    .decoded_bound = gsm_decoded_bound,
    .set_fmtp = NULL,
};
