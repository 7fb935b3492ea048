/*
 * codec_registry.c - the table of codecs, look-up, status strings, parameters and fmtp parsing.
 */
#include <string.h>

#include "codec_impl.h"

/* One row per codec (RTP payload format), in the order they are listed to applications. */
static const media_codec *const registry[] = {
    &media_codec_opus,     &media_codec_g722,     &media_codec_speex_uwb, &media_codec_speex_wb,
    &media_codec_speex_nb, &media_codec_gsm,      &media_codec_pcmu,      &media_codec_pcma,
};

#define REGISTRY_SIZE (sizeof(registry) / sizeof(registry[0]))

size_t media_codec_count(void)
{
    return REGISTRY_SIZE;
}

const media_codec *media_codec_at(size_t index)
{
    return index < REGISTRY_SIZE ? registry[index] : NULL;
}

int media_codec_word_is(const char *s, size_t len, const char *word)
{
    size_t i;
    for (i = 0; i < len; i++) {
        char a = s[i], b = word[i];
        if (b == '\0')
            return 0;
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return word[i] == '\0';
}

long media_codec_parse_uint(const char *s, size_t len)
{
    if (len == 0 || len > 9)
        return -1;
    long value = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        value = value * 10 + (s[i] - '0');
    }
    return value;
}

const media_codec *media_codec_find(const char *name, unsigned rate)
{
    if (name == NULL)
        return NULL;
    size_t len = strlen(name);
    for (size_t i = 0; i < REGISTRY_SIZE; i++) {
        const media_codec *codec = registry[i];
        if (!media_codec_word_is(name, len, codec->name))
            continue;
        if (rate == 0 || rate == codec->clock_rate || rate == codec->rtp_clock_rate)
            return codec;
    }
    return NULL;
}

const char *media_codec_strerror(int status)
{
    switch (status) {
    case MEDIA_CODEC_EINVAL:
        return "invalid argument";
    case MEDIA_CODEC_EFRAME:
        return "the PCM length is not a frame size of this codec";
    case MEDIA_CODEC_ENOSPACE:
        return "output buffer too small";
    case MEDIA_CODEC_ECORRUPT:
        return "the payload is not a valid packet of this codec";
    case MEDIA_CODEC_ENOMEM:
        return "out of memory";
    case MEDIA_CODEC_EDIRECTION:
        return "the codec state was not created for this direction";
    case MEDIA_CODEC_ELIBRARY:
        return "internal error of the codec library";
    case MEDIA_CODEC_EFMTP:
        return "unusable fmtp parameter value";
    default:
        return status >= 0 ? "success" : "unknown error";
    }
}

void media_codec_params_init(media_codec_params *params, unsigned flags)
{
    memset(params, 0, sizeof(*params));
    params->flags = flags;
    params->complexity = -1;
    params->fec = -1;
    params->dtx = -1;
    params->cbr = -1;
    params->packet_loss = -1;
    params->stereo = -1;
    params->mode = -1;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int media_codec_apply_fmtp(const media_codec *codec, media_codec_params *params, const char *fmtp,
                           size_t len)
{
    if (codec == NULL || params == NULL || (fmtp == NULL && len))
        return MEDIA_CODEC_EINVAL;
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && fmtp[end] != ';')
            end++;
        /* one "key=value" between i and end */
        size_t key = i, eq = i;
        while (eq < end && fmtp[eq] != '=')
            eq++;
        if (eq < end && codec->set_fmtp) {
            size_t key_end = eq, value = eq + 1, value_end = end;
            while (key < key_end && is_blank(fmtp[key]))
                key++;
            while (key_end > key && is_blank(fmtp[key_end - 1]))
                key_end--;
            while (value < value_end && is_blank(fmtp[value]))
                value++;
            while (value_end > value && is_blank(fmtp[value_end - 1]))
                value_end--;
            int status = codec->set_fmtp(params, fmtp + key, key_end - key, fmtp + value,
                                         value_end - value);
            if (status < 0)
                return status;
        }
        i = end + 1;
    }
    return MEDIA_CODEC_OK;
}

int media_codec_state_init(media_codec_state *state, const media_codec *codec,
                           const media_codec_params *params, unsigned max_channels, int any_rate)
{
    unsigned flags = params->flags;
    if (flags == 0 || (flags & ~(MEDIA_CODEC_ENCODER | MEDIA_CODEC_DECODER)))
        return MEDIA_CODEC_EINVAL;
    unsigned channels = params->channels ? params->channels : 1;
    if (channels > max_channels)
        return MEDIA_CODEC_EINVAL;
    unsigned rate = params->sample_rate ? params->sample_rate : codec->clock_rate;
    if (rate != codec->clock_rate && !any_rate)
        return MEDIA_CODEC_EINVAL;
    state->codec = codec;
    state->flags = flags;
    state->channels = channels;
    state->sample_rate = rate;
    state->frame_quantum = codec->frame_quantum;
    return MEDIA_CODEC_OK;
}

int media_codec_recover_by_concealing(media_codec_state *state, const uint8_t *next, size_t len,
                                      int16_t *pcm, size_t n)
{
    (void)next;
    (void)len;
    return state->codec->conceal(state, pcm, n);
}

const media_codec_api media_codec_api_table = {
    MEDIA_CODEC_API_VERSION, media_codec_count,       media_codec_at,         media_codec_find,
    media_codec_strerror,    media_codec_params_init, media_codec_apply_fmtp,
};
