/*
 * codec_opus.c - Opus (libopus), RFC 6716 and its RTP payload format RFC 7587.
 *
 * The RTP clock is always 48 kHz and the rtpmap always says 2 channels; the PCM side may run at
 * 8, 12, 16, 24 or 48 kHz (libopus resamples internally, which spares the mixer a resampler) with
 * 1 or 2 channels. encode() takes exactly one Opus frame duration (2.5, 5, 10, 20, 40 or 60 ms)
 * and makes one packet. Packet-loss concealment and in-band FEC are libopus's own: conceal()
 * decodes without a packet, recover() decodes the FEC data that the packet following a loss
 * carries for the lost one (or conceals when it carries none).
 *
 * fmtp (RFC 7587 section 6.1), what the remote receiver asks of our encoder: maxaveragebitrate
 * (caps the bitrate), useinbandfec, usedtx, cbr, stereo, maxplaybackrate (caps the bandwidth).
 */
#include <stdlib.h>

#include <opus.h>

#include "codec_impl.h"

#define OPUS_MAX_PACKET 1275 /* bytes per 20 ms frame at most (RFC 6716 section 3.4) */

typedef struct opus_codec_state {
    media_codec_state base;
    OpusEncoder *encoder;
    OpusDecoder *decoder;
} opus_codec_state;

static int status_of(int opus_error)
{
    switch (opus_error) {
    case OPUS_BAD_ARG:
        return MEDIA_CODEC_EINVAL;
    case OPUS_BUFFER_TOO_SMALL:
        return MEDIA_CODEC_ENOSPACE;
    case OPUS_INVALID_PACKET:
        return MEDIA_CODEC_ECORRUPT;
    case OPUS_ALLOC_FAIL:
        return MEDIA_CODEC_ENOMEM;
    default:
        return MEDIA_CODEC_ELIBRARY;
    }
}

static opus_int32 bandwidth_for(int max_playback_rate)
{
    if (max_playback_rate <= 8000)
        return OPUS_BANDWIDTH_NARROWBAND;
    if (max_playback_rate <= 12000)
        return OPUS_BANDWIDTH_MEDIUMBAND;
    if (max_playback_rate <= 16000)
        return OPUS_BANDWIDTH_WIDEBAND;
    if (max_playback_rate <= 24000)
        return OPUS_BANDWIDTH_SUPERWIDEBAND;
    return OPUS_BANDWIDTH_FULLBAND;
}

static void opus_codec_destroy(media_codec_state *base)
{
    opus_codec_state *state = (opus_codec_state *)base;
    if (state->encoder)
        opus_encoder_destroy(state->encoder);
    if (state->decoder)
        opus_decoder_destroy(state->decoder);
    free(state);
}

static int configure_encoder(OpusEncoder *encoder, const media_codec_params *params, unsigned channels)
{
    int fec = params->fec == 1;
    int loss = params->packet_loss >= 0 ? params->packet_loss : fec ? 10 : 0;
    if (loss > 100 || params->complexity > 10 || params->bitrate < 0 || params->max_playback_rate < 0)
        return MEDIA_CODEC_EINVAL;
    int errors = 0;
    errors |= opus_encoder_ctl(encoder, OPUS_SET_BITRATE(params->bitrate > 0 ? params->bitrate : OPUS_AUTO));
    errors |= opus_encoder_ctl(encoder, OPUS_SET_INBAND_FEC(fec));
    errors |= opus_encoder_ctl(encoder, OPUS_SET_PACKET_LOSS_PERC(loss));
    errors |= opus_encoder_ctl(encoder, OPUS_SET_DTX(params->dtx == 1));
    errors |= opus_encoder_ctl(encoder, OPUS_SET_VBR(params->cbr != 1));
    if (params->complexity >= 0)
        errors |= opus_encoder_ctl(encoder, OPUS_SET_COMPLEXITY(params->complexity));
    if (params->max_playback_rate > 0)
        errors |= opus_encoder_ctl(encoder, OPUS_SET_MAX_BANDWIDTH(bandwidth_for(params->max_playback_rate)));
    if (channels == 2 && params->stereo == 0)
        errors |= opus_encoder_ctl(encoder, OPUS_SET_FORCE_CHANNELS(1));
    return errors ? MEDIA_CODEC_EINVAL : MEDIA_CODEC_OK;
}

static int opus_codec_create(const media_codec *codec, const media_codec_params *params,
                             media_codec_state **out)
{
    opus_codec_state *state = calloc(1, sizeof(*state));
    if (state == NULL)
        return MEDIA_CODEC_ENOMEM;
    int status = media_codec_state_init(&state->base, codec, params, 2, 1);
    if (status < 0) {
        free(state);
        return status;
    }
    opus_int32 rate = (opus_int32)state->base.sample_rate;
    int channels = (int)state->base.channels;
    if (rate != 8000 && rate != 12000 && rate != 16000 && rate != 24000 && rate != 48000) {
        free(state);
        return MEDIA_CODEC_EINVAL;
    }
    state->base.frame_quantum = (unsigned)rate / 400; /* 2.5 ms */
    int error = OPUS_OK;
    if (media_codec_can(&state->base, MEDIA_CODEC_ENCODER)) {
        state->encoder = opus_encoder_create(rate, channels, OPUS_APPLICATION_VOIP, &error);
        if (state->encoder == NULL || error != OPUS_OK) {
            opus_codec_destroy(&state->base);
            return status_of(error);
        }
        if ((status = configure_encoder(state->encoder, params, (unsigned)channels)) < 0) {
            opus_codec_destroy(&state->base);
            return status;
        }
    }
    if (media_codec_can(&state->base, MEDIA_CODEC_DECODER)) {
        state->decoder = opus_decoder_create(rate, channels, &error);
        if (state->decoder == NULL || error != OPUS_OK) {
            opus_codec_destroy(&state->base);
            return status_of(error);
        }
    }
    *out = &state->base;
    return MEDIA_CODEC_OK;
}

/* n is a multiple of 2.5 ms */
static int whole_quanta(const media_codec_state *state, size_t n)
{
    return n > 0 && n <= INT_MAX && n % state->frame_quantum == 0;
}

static int opus_codec_encode(media_codec_state *base, const int16_t *pcm, size_t n, uint8_t *out,
                             size_t cap)
{
    opus_codec_state *state = (opus_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_ENCODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL || out == NULL)
        return MEDIA_CODEC_EINVAL;
    size_t quanta = whole_quanta(base, n) ? n / base->frame_quantum : 0;
    if (quanta != 1 && quanta != 2 && quanta != 4 && quanta != 8 && quanta != 16 && quanta != 24)
        return MEDIA_CODEC_EFRAME;
    opus_int32 room = cap > INT32_MAX ? INT32_MAX : (opus_int32)cap;
    opus_int32 bytes = opus_encode(state->encoder, pcm, (int)n, out, room);
    return bytes < 0 ? status_of(bytes) : bytes;
}

static int opus_codec_decode(media_codec_state *base, const uint8_t *payload, size_t len, int16_t *pcm,
                             size_t cap)
{
    opus_codec_state *state = (opus_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (payload == NULL || pcm == NULL)
        return MEDIA_CODEC_EINVAL;
    if (len == 0 || len > INT32_MAX)
        return MEDIA_CODEC_ECORRUPT;
    int samples = opus_packet_get_nb_samples(payload, (opus_int32)len, (opus_int32)base->sample_rate);
    if (samples <= 0 || (unsigned)samples > base->sample_rate / 1000 * 120)
        return MEDIA_CODEC_ECORRUPT; /* RFC 6716 section 3.2.5: at most 120 ms per packet */
    if ((size_t)samples > cap)
        return MEDIA_CODEC_ENOSPACE;
    int decoded = opus_decode(state->decoder, payload, (opus_int32)len, pcm, samples, 0);
    /* the arguments are right by now: whatever libopus refuses is the packet's fault */
    return decoded < 0 ? (decoded == OPUS_ALLOC_FAIL ? MEDIA_CODEC_ENOMEM : MEDIA_CODEC_ECORRUPT) : decoded;
}

static int opus_codec_conceal(media_codec_state *base, int16_t *pcm, size_t n)
{
    opus_codec_state *state = (opus_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (pcm == NULL)
        return MEDIA_CODEC_EINVAL;
    if (!whole_quanta(base, n))
        return MEDIA_CODEC_EFRAME;
    size_t limit = base->sample_rate / 1000 * 120, done = 0; /* at most 120 ms per call */
    while (done < n) {
        size_t chunk = n - done < limit ? n - done : limit;
        int decoded = opus_decode(state->decoder, NULL, 0, pcm + done * base->channels, (int)chunk, 0);
        if (decoded <= 0)
            return decoded < 0 ? status_of(decoded) : MEDIA_CODEC_ELIBRARY;
        done += (size_t)decoded;
    }
    return (int)n;
}

static int opus_codec_recover(media_codec_state *base, const uint8_t *next, size_t len, int16_t *pcm,
                              size_t n)
{
    opus_codec_state *state = (opus_codec_state *)base;
    if (!media_codec_can(base, MEDIA_CODEC_DECODER))
        return MEDIA_CODEC_EDIRECTION;
    if (next == NULL || pcm == NULL)
        return MEDIA_CODEC_EINVAL;
    if (len == 0 || len > INT32_MAX)
        return MEDIA_CODEC_ECORRUPT;
    if (!whole_quanta(base, n) || n > base->sample_rate / 1000 * 120)
        return MEDIA_CODEC_EFRAME;
    int next_samples = opus_packet_get_nb_samples(next, (opus_int32)len, (opus_int32)base->sample_rate);
    if (next_samples <= 0 || (unsigned)next_samples > base->sample_rate / 1000 * 120)
        return MEDIA_CODEC_ECORRUPT;
    /* libopus conceals what the FEC of `next` cannot cover, then decodes the FEC data */
    int decoded = opus_decode(state->decoder, next, (opus_int32)len, pcm, (int)n, 1);
    if (decoded < 0)
        return decoded == OPUS_ALLOC_FAIL ? MEDIA_CODEC_ENOMEM : MEDIA_CODEC_ECORRUPT;
    return decoded == (int)n ? decoded : MEDIA_CODEC_ELIBRARY;
}

static size_t opus_encoded_bound(const media_codec_state *state, size_t n)
{
    size_t twenty_ms = state->sample_rate / 50;
    return (n + twenty_ms - 1) / twenty_ms * OPUS_MAX_PACKET + 7;
}

static size_t opus_decoded_bound(const media_codec_state *state, const uint8_t *payload, size_t len)
{
    if (payload == NULL || len == 0 || len > INT32_MAX)
        return 0;
    int samples = opus_packet_get_nb_samples(payload, (opus_int32)len, (opus_int32)state->sample_rate);
    if (samples <= 0 || (unsigned)samples > state->sample_rate / 1000 * 120)
        return 0; /* decode() will call it corrupt */
    return (size_t)samples;
}

static int flag_value(const char *value, size_t vlen, int *out)
{
    long flag = media_codec_parse_uint(value, vlen);
    if (flag != 0 && flag != 1)
        return MEDIA_CODEC_EFMTP;
    *out = (int)flag;
    return MEDIA_CODEC_OK;
}

static int opus_set_fmtp(media_codec_params *params, const char *key, size_t klen, const char *value,
                         size_t vlen)
{
    if (media_codec_word_is(key, klen, "maxaveragebitrate")) {
        long bitrate = media_codec_parse_uint(value, vlen);
        if (bitrate < 0)
            return MEDIA_CODEC_EFMTP;
        if (bitrate < 6000) /* RFC 7587: 6000..510000 */
            bitrate = 6000;
        if (bitrate > 510000)
            bitrate = 510000;
        if (params->bitrate <= 0 || bitrate < params->bitrate)
            params->bitrate = (int)bitrate;
        return MEDIA_CODEC_OK;
    }
    if (media_codec_word_is(key, klen, "maxplaybackrate")) {
        long rate = media_codec_parse_uint(value, vlen);
        if (rate <= 0)
            return MEDIA_CODEC_EFMTP;
        params->max_playback_rate = (int)rate;
        return MEDIA_CODEC_OK;
    }
    if (media_codec_word_is(key, klen, "useinbandfec"))
        return flag_value(value, vlen, &params->fec);
    if (media_codec_word_is(key, klen, "usedtx"))
        return flag_value(value, vlen, &params->dtx);
    if (media_codec_word_is(key, klen, "cbr"))
        return flag_value(value, vlen, &params->cbr);
    if (media_codec_word_is(key, klen, "stereo"))
        return flag_value(value, vlen, &params->stereo);
    return MEDIA_CODEC_OK;
}

const media_codec media_codec_opus = {
    .name = "opus",
    .payload_type = 111,
    .static_payload_type = 0,
    .rtp_channels = 2,
    .clock_rate = 48000,
    .rtp_clock_rate = 48000,
    .frame_quantum = 0,
    .frame_durations_us = {2500, 5000, 10000, 20000, 40000, 60000},
    .create = opus_codec_create,
    .destroy = opus_codec_destroy,
    .encode = opus_codec_encode,
    .decode = opus_codec_decode,
    .conceal = opus_codec_conceal,
    .recover = opus_codec_recover,
    .encoded_bound = opus_encoded_bound,
    .decoded_bound = opus_decoded_bound,
    .set_fmtp = opus_set_fmtp,
};
