# libspeexdsp: the resampler and the echo canceller (the mixer calls them from csrc/mixer.c; these
# declarations are for Cython code that needs them directly).

from libc.stdint cimport int16_t, int32_t, uint32_t


cdef extern from "speex/speex_resampler.h" nogil:
    ctypedef struct SpeexResamplerState:
        pass

    enum:
        SPEEX_RESAMPLER_QUALITY_MAX
        SPEEX_RESAMPLER_QUALITY_MIN
        SPEEX_RESAMPLER_QUALITY_DEFAULT
        SPEEX_RESAMPLER_QUALITY_VOIP
        SPEEX_RESAMPLER_QUALITY_DESKTOP

    SpeexResamplerState *speex_resampler_init(uint32_t nb_channels, uint32_t in_rate, uint32_t out_rate,
                                              int quality, int *err)
    void speex_resampler_destroy(SpeexResamplerState *st)
    int speex_resampler_process_int(SpeexResamplerState *st, uint32_t channel_index, const int16_t *inp,
                                    uint32_t *in_len, int16_t *out, uint32_t *out_len)
    int speex_resampler_reset_mem(SpeexResamplerState *st)
    int speex_resampler_get_input_latency(SpeexResamplerState *st)
    int speex_resampler_get_output_latency(SpeexResamplerState *st)
    const char *speex_resampler_strerror(int err)


cdef extern from "speex/speex_echo.h" nogil:
    ctypedef struct SpeexEchoState:
        pass

    enum:
        SPEEX_ECHO_SET_SAMPLING_RATE
        SPEEX_ECHO_GET_SAMPLING_RATE

    SpeexEchoState *speex_echo_state_init(int frame_size, int filter_length)
    void speex_echo_state_destroy(SpeexEchoState *st)
    void speex_echo_cancellation(SpeexEchoState *st, const int16_t *rec, const int16_t *play, int16_t *out)
    void speex_echo_state_reset(SpeexEchoState *st)
    int speex_echo_ctl(SpeexEchoState *st, int request, void *ptr)
