/*
 * codec_impl.h - what the codec implementations share (not part of the public interface).
 */
#ifndef SIPSIMPLE_MEDIA_CODEC_IMPL_H
#define SIPSIMPLE_MEDIA_CODEC_IMPL_H

#include <limits.h>

#include "codec.h"

/* Fills the common part of a new state and checks the parameters every codec shares: a known
 * direction, mono (unless max_channels is 2) and the codec's own rate (unless any_rate). */
int media_codec_state_init(media_codec_state *state, const media_codec *codec,
                           const media_codec_params *params, unsigned max_channels, int any_rate);

/* For codecs without in-band FEC: a loss followed by a packet is concealed. */
int media_codec_recover_by_concealing(media_codec_state *state, const uint8_t *next, size_t len,
                                      int16_t *pcm, size_t n);

static inline int media_codec_can(const media_codec_state *state, unsigned direction)
{
    return (state->flags & direction) != 0;
}

/* Case-insensitive comparison of a counted string with a NUL-terminated ASCII word. */
int media_codec_word_is(const char *s, size_t len, const char *word);
/* A non-negative decimal integer (at most 9 digits); -1 when it is not one. */
long media_codec_parse_uint(const char *s, size_t len);

extern const media_codec media_codec_pcmu;
extern const media_codec media_codec_pcma;
extern const media_codec media_codec_g722;
extern const media_codec media_codec_gsm;
extern const media_codec media_codec_speex_nb;
extern const media_codec media_codec_speex_wb;
extern const media_codec media_codec_speex_uwb;
extern const media_codec media_codec_opus;

#endif
