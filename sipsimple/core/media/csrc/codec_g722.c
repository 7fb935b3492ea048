/*
 * codec_g722.c - G.722 at 64 kbit/s: the codec table entry around our g722.c.
 *
 * 16 kHz audio, but 8000 RTP timestamp units per second (RFC 3551 section 4.5.2 keeps the rate
 * of the original, erroneous, registration). One byte carries two samples. G.722 has no packet
 * loss concealment of its own: plc.c conceals at 16 kHz.
 */
#include <stdint.h>
#include <stdlib.h>

#include "codec_impl.h"
#include "g722.h"
#include "plc.h"

typedef struct g722_state {
    media_codec_state base;
    g722_encoder_t encoder;
    g722_decoder_t decoder;
    media_plc plc;
} g722_state;

static void g722_destroy(media_codec_state *base)
{
    free(base);
}

static int g722_create(const media_codec *codec, const media_codec_params *params,
                       media_codec_state **out)
{
    g722_state *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return MEDIA_CODEC_ENOMEM;
    int status = media_codec_state_init(&state->base, codec, params, 1, 0);
    if (status < 0) {
        free(state);
        return status;
    }
    g722_encoder_init(&state->encoder);
    g722_decoder_init(&state->decoder);
    media_plc_init(&state->plc, 16000);
    *out = &state->base;
    return MEDIA_CODEC_OK;
}

/* What encode() checks before coding: MEDIA_CODEC_OK or its error result. */
static int g722_encode_check(media_codec_state *base, const int16_t *pcm, size_t n, const uint8_t *out,
                             size_t cap)
{
    if (!media_codec_can(base, MEDIA_CODEC_ENCODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || out == NULL || n > INT_MAX)
        return MEDIA_CODEC_EINVAL;
    if (n == 0 || n % 2)
        return MEDIA_CODEC_EFRAME;
    if (cap < n / 2)
        return MEDIA_CODEC_ENOSPACE;
    return MEDIA_CODEC_OK;
}

static int g722_decode_check(media_codec_state *base, const uint8_t *payload, size_t len,
                             const int16_t *pcm, size_t cap)
{
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (payload == NULL || pcm == NULL || len > INT_MAX / 2)
        return MEDIA_CODEC_EINVAL;
    if (len == 0)
        return MEDIA_CODEC_ECORRUPT;
    if (cap < 2 * len)
        return MEDIA_CODEC_ENOSPACE;
    return MEDIA_CODEC_OK;
}

static int g722_encode_frame(media_codec_state *base, const int16_t *pcm, size_t n, uint8_t *out,
                             size_t cap)
{
    int status = g722_encode_check(base, pcm, n, out, cap);
    if (status < 0)
        return status;
    g722_encode_block(&((g722_state *)base)->encoder, pcm, n, out);
    return (int)(n / 2);
}

static int g722_decode_frame(media_codec_state *base, const uint8_t *payload, size_t len, int16_t *pcm,
                             size_t cap)
{
    g722_state *state = (g722_state *)base;
    int status = g722_decode_check(base, payload, len, pcm, cap);
    if (status < 0)
        return status;
    g722_decode_block(&state->decoder, payload, len, pcm);
    media_plc_good(&state->plc, pcm, 2 * len);
    return (int)(2 * len);
}

/* The batch forms: every job checked as encode()/decode() checks it (a bad job gets its error and
 * is left out), then the good ones coded G722_MULTI at a time, each group of one length and of
 * distinct states (a job whose length no other job shares goes alone; a state's second job waits
 * for a later group, so a state's jobs run in their order). PENDING marks a job checked but not
 * yet coded. */
#define PENDING INT_MIN

static int in_group(media_codec_state *const *members, size_t group, const media_codec_state *state)
{
    for (size_t k = 0; k < group; k++)
        if (members[k] == state)
            return 1;
    return 0;
}

static void g722_encode_batch(media_codec_encode_job *jobs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        media_codec_encode_job *job = &jobs[i];
        int status = g722_encode_check(job->state, job->pcm, job->n, job->out, job->cap);
        job->result = status < 0 ? status : PENDING;
    }
    for (size_t i = 0; i < count; i++) {
        if (jobs[i].result != PENDING)
            continue;
        g722_encoder_t *enc[G722_MULTI];
        const int16_t *pcm[G722_MULTI];
        uint8_t *out[G722_MULTI];
        media_codec_state *states[G722_MULTI];
        size_t group = 0, n = jobs[i].n;
        for (size_t j = i; j < count && group < G722_MULTI; j++) {
            media_codec_encode_job *job = &jobs[j];
            if (job->result != PENDING || job->n != n || in_group(states, group, job->state))
                continue;
            states[group] = job->state;
            enc[group] = &((g722_state *)job->state)->encoder;
            pcm[group] = job->pcm;
            out[group++] = job->out;
            job->result = (int)(n / 2);
        }
        g722_encode_blocks(enc, pcm, group, n, out);
    }
}

static void g722_decode_batch(media_codec_decode_job *jobs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        media_codec_decode_job *job = &jobs[i];
        int status = g722_decode_check(job->state, job->payload, job->len, job->pcm, job->cap);
        job->result = status < 0 ? status : PENDING;
    }
    for (size_t i = 0; i < count; i++) {
        if (jobs[i].result != PENDING)
            continue;
        g722_decoder_t *dec[G722_MULTI];
        const uint8_t *codes[G722_MULTI];
        int16_t *pcm[G722_MULTI];
        media_codec_decode_job *members[G722_MULTI];
        media_codec_state *states[G722_MULTI];
        size_t group = 0, len = jobs[i].len;
        for (size_t j = i; j < count && group < G722_MULTI; j++) {
            media_codec_decode_job *job = &jobs[j];
            if (job->result != PENDING || job->len != len || in_group(states, group, job->state))
                continue;
            states[group] = job->state;
            dec[group] = &((g722_state *)job->state)->decoder;
            codes[group] = job->payload;
            pcm[group] = job->pcm;
            members[group++] = job;
            job->result = (int)(2 * len);
        }
        g722_decode_blocks(dec, codes, group, len, pcm);
        for (size_t k = 0; k < group; k++)
            media_plc_good(&((g722_state *)members[k]->state)->plc, members[k]->pcm, 2 * len);
    }
}

static int g722_conceal(media_codec_state *base, int16_t *pcm, size_t n)
{
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || n == 0 || n > INT_MAX)
        return MEDIA_CODEC_EINVAL;
    media_plc_conceal(&((g722_state *)base)->plc, pcm, n);
    return (int)n;
}

static size_t g722_encoded_bound(const media_codec_state *state, size_t n)
{
    (void)state;
    return n / 2;
}

static size_t g722_decoded_bound(const media_codec_state *state, const uint8_t *payload, size_t len)
{
    (void)state;
    (void)payload;
    return 2 * len;
}

const media_codec media_codec_g722 = {
    .name = "G722",
    .payload_type = 9,
    .static_payload_type = 1,
    .rtp_channels = 1,
    .clock_rate = 16000,
    .rtp_clock_rate = 8000,
    .frame_quantum = 2,
    .frame_durations_us = {10000, 20000, 30000, 40000, 60000},
    .create = g722_create,
    .destroy = g722_destroy,
    .encode = g722_encode_frame,
    .decode = g722_decode_frame,
    .conceal = g722_conceal,
    .recover = media_codec_recover_by_concealing,
    .encoded_bound = g722_encoded_bound,
    .decoded_bound = g722_decoded_bound,
    .set_fmtp = NULL,
    .encode_batch = g722_encode_batch,
    .decode_batch = g722_decode_batch,
};
