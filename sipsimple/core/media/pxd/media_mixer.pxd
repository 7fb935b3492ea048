# Declarations of the mixer, clock, WAV, tone, device, resampler and PortAudio-device C code
# (csrc/mixer.h, clock.h, wav.h, tone.h, devices.h, resample.h, padev.h), linked into the _mixer
# extension (see docs/media-mixer.md).

from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t, uint64_t

from sipsimple.core.media.pxd.media_events cimport media_event_queue_t
from sipsimple.core.media.pxd.media_port cimport media_port_t


cdef extern from "mixer.h" nogil:
    enum:
        MEDIA_MIXER_OK
        MEDIA_MIXER_EINVAL
        MEDIA_MIXER_ENOMEM
        MEDIA_MIXER_EFULL
        MEDIA_MIXER_ESLOT
        MEDIA_MIXER_EDIRECTION
        MEDIA_MIXER_EFORMAT
        MEDIA_MIXER_EBUSY
        MEDIA_MIXER_MAX_GAIN
        MEDIA_MIXER_DEVICE_SLOT
        MEDIA_MIXER_MAX_SLOTS
        MEDIA_MIXER_RX
        MEDIA_MIXER_TX
        MEDIA_MIXER_RESAMPLER_AUTO
        MEDIA_MIXER_RESAMPLER_SPEEXDSP
        MEDIA_MIXER_RESAMPLER_LOW_DELAY

    ctypedef struct media_mixer_t:
        pass

    ctypedef struct media_mixer_levels_t:
        uint32_t rx_rms, rx_peak, tx_rms, tx_peak

    ctypedef struct media_mixer_stats_t:
        uint64_t ticks
        uint64_t get_errors
        uint64_t put_errors
        uint64_t resample_short
        uint64_t unheard_frames
        uint64_t shared_frames
        uint64_t batched_frames

    const char *media_mixer_strerror(int status)
    int media_mixer_create(uint32_t clock_rate, uint32_t frame_ms, uint32_t slot_count, media_mixer_t **out)
    void media_mixer_destroy(media_mixer_t *mixer)
    uint32_t media_mixer_clock_rate(const media_mixer_t *mixer)
    uint32_t media_mixer_frame_ms(const media_mixer_t *mixer)
    uint32_t media_mixer_samples_per_frame(const media_mixer_t *mixer)
    uint32_t media_mixer_slot_count(const media_mixer_t *mixer)
    uint32_t media_mixer_used_slot_count(media_mixer_t *mixer)
    int media_mixer_set_device(media_mixer_t *mixer, media_port_t *capture, media_port_t *playback)
    int media_mixer_add_port(media_mixer_t *mixer, media_port_t *port, uint32_t *slot)
    int media_mixer_remove_port(media_mixer_t *mixer, uint32_t slot)
    int media_mixer_connect(media_mixer_t *mixer, uint32_t src, uint32_t dst)
    int media_mixer_disconnect(media_mixer_t *mixer, uint32_t src, uint32_t dst)
    int media_mixer_is_connected(media_mixer_t *mixer, uint32_t src, uint32_t dst)
    size_t media_mixer_connections(media_mixer_t *mixer, uint32_t *pairs, size_t max)
    int media_mixer_set_gain(media_mixer_t *mixer, uint32_t slot, int direction, uint32_t percent)
    void media_mixer_set_muted(media_mixer_t *mixer, int muted)
    int media_mixer_set_resampler(media_mixer_t *mixer, int kind)
    int media_mixer_resampler(const media_mixer_t *mixer)
    void media_mixer_set_shortcuts(media_mixer_t *mixer, int on)
    int media_mixer_shortcuts(media_mixer_t *mixer)
    int media_mixer_set_echo_canceller(media_mixer_t *mixer, uint32_t tail_ms)
    void media_mixer_reset_echo_canceller(media_mixer_t *mixer)
    int media_mixer_levels(media_mixer_t *mixer, uint32_t slot, media_mixer_levels_t *out)
    void media_mixer_get_stats(media_mixer_t *mixer, media_mixer_stats_t *out)
    void media_mixer_tick(media_mixer_t *mixer)


cdef extern from "clock.h" nogil:
    enum:
        MEDIA_CLOCK_MAX_LAG

    ctypedef void (*media_clock_fn)(void *arg) noexcept nogil

    ctypedef struct media_clock_t:
        pass

    ctypedef struct media_clock_stats_t:
        uint64_t ticks
        uint64_t overruns
        uint64_t underruns

    int media_clock_create(uint64_t period_ns, media_clock_fn fn, void *arg, media_clock_t **out)
    void media_clock_destroy(media_clock_t *clock)
    int media_clock_start(media_clock_t *clock)
    void media_clock_stop(media_clock_t *clock)
    int media_clock_running(const media_clock_t *clock)
    void media_clock_get_stats(const media_clock_t *clock, media_clock_stats_t *out)


cdef extern from "wav.h" nogil:
    enum:
        WAV_OK
        WAV_EOPEN
        WAV_EIO
        WAV_ENOTRIFF
        WAV_ENOTWAVE
        WAV_ENOFMT
        WAV_EFORMAT
        WAV_EBITS
        WAV_ECHANNELS
        WAV_ERATE
        WAV_EBLOCKALIGN
        WAV_ENODATA
        WAV_ETRUNCATED
        WAV_ETOOBIG
        WAV_EFRAME
        WAV_EFMTSIZE

    const char *wav_strerror(int status)

    ctypedef struct wav_reader_t:
        uint32_t rate
        uint32_t channels
        uint64_t frames
        uint64_t position
        int saved_errno

    int wav_reader_open(wav_reader_t *reader, const char *path)
    long wav_reader_read(wav_reader_t *reader, int16_t *pcm, size_t frames)
    int wav_reader_rewind(wav_reader_t *reader)
    void wav_reader_close(wav_reader_t *reader)

    ctypedef struct wav_writer_t:
        uint32_t rate
        uint32_t channels
        uint64_t frames
        int saved_errno

    int wav_writer_open(wav_writer_t *writer, const char *path, uint32_t rate, uint32_t channels)
    int wav_writer_write(wav_writer_t *writer, const int16_t *pcm, size_t frames)
    int wav_writer_close(wav_writer_t *writer)
    void wav_writer_abort(wav_writer_t *writer)


cdef extern from "tone.h" nogil:
    enum:
        MEDIA_TONE_QUEUE
        MEDIA_TONE_RAMP_MS
        MEDIA_TONE_DEFAULT_AMPLITUDE

    ctypedef struct media_tone_t:
        uint32_t freq1, freq2
        uint32_t on_ms, off_ms
        int32_t amplitude

    ctypedef struct media_tonegen_t:
        pass

    int media_tonegen_create(uint32_t clock_rate, uint32_t samples_per_frame, media_tonegen_t **out)
    void media_tonegen_destroy(media_tonegen_t *gen)
    media_port_t *media_tonegen_port(media_tonegen_t *gen)
    void media_tonegen_set_events(media_tonegen_t *gen, media_event_queue_t *queue, uint64_t source)
    int media_tonegen_play(media_tonegen_t *gen, const media_tone_t *tones, size_t count)
    void media_tonegen_clear(media_tonegen_t *gen, int64_t generation)
    int media_tonegen_busy(media_tonegen_t *gen)
    int media_tone_dtmf(char digit, uint32_t *low, uint32_t *high)


cdef extern from "devices.h" nogil:
    void media_null_port_init(media_port_t *port, uint32_t clock_rate, uint32_t samples_per_frame)

    ctypedef struct media_wav_player_t:
        pass

    int media_wav_player_open(const char *path, uint32_t frame_ms, uint32_t loop_count, uint32_t pause_ms,
                              media_wav_player_t **out, int *saved_errno)
    void media_wav_player_close(media_wav_player_t *player)
    media_port_t *media_wav_player_port(media_wav_player_t *player)
    void media_wav_player_set_events(media_wav_player_t *player, media_event_queue_t *queue, uint64_t source,
                                     uint32_t end_event, int64_t tag)
    uint64_t media_wav_player_frames(const media_wav_player_t *player)

    ctypedef struct media_wav_recorder_t:
        pass

    int media_wav_recorder_open(const char *path, uint32_t clock_rate, uint32_t channels, uint32_t frame_ms,
                                media_wav_recorder_t **out, int *saved_errno)
    int media_wav_recorder_close(media_wav_recorder_t *recorder, int *saved_errno)
    media_port_t *media_wav_recorder_port(media_wav_recorder_t *recorder)
    void media_wav_recorder_set_events(media_wav_recorder_t *recorder, media_event_queue_t *queue,
                                       uint64_t source, int64_t tag)
    uint64_t media_wav_recorder_frames(const media_wav_recorder_t *recorder)

    ctypedef struct media_loopback_t:
        pass

    media_loopback_t *media_loopback_create(uint32_t clock_rate, uint32_t samples_per_frame)
    void media_loopback_destroy(media_loopback_t *loopback)
    media_port_t *media_loopback_port(media_loopback_t *loopback)

    ctypedef struct media_memory_port_t:
        pass

    media_memory_port_t *media_memory_port_create(uint32_t clock_rate, uint32_t channels,
                                                  uint32_t samples_per_frame, const int16_t *play,
                                                  size_t play_frames, int loop, int sink,
                                                  size_t record_frames)
    void media_memory_port_destroy(media_memory_port_t *port)
    media_port_t *media_memory_port_port(media_memory_port_t *port)
    size_t media_memory_port_recorded(media_memory_port_t *port)
    size_t media_memory_port_take(media_memory_port_t *port, int16_t *out, size_t max_frames)
    size_t media_memory_port_played(media_memory_port_t *port)
    uint64_t media_memory_port_dropped(media_memory_port_t *port)


cdef extern from "resample.h" nogil:
    double MEDIA_RESAMPLER_ATTENUATION_DB
    double MEDIA_RESAMPLER_PASSBAND
    enum:
        MEDIA_RESAMPLER_MAX_FACTOR

    ctypedef struct media_resampler_t:
        pass

    ctypedef struct media_resampler_info_t:
        uint32_t in_rate, out_rate
        uint32_t in_frame, out_frame
        uint32_t stages
        uint32_t up[2]
        uint32_t down[2]
        uint32_t taps[2]
        uint32_t shift[2]
        uint32_t half[2]
        uint32_t macs_per_frame
        double delay

    int media_resampler_supports(uint32_t in_rate, uint32_t out_rate)
    int media_resampler_create(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, media_resampler_t **out)
    int media_resampler_create_ex(uint32_t in_rate, uint32_t out_rate, uint32_t in_frame, int minimum_phase,
                                  media_resampler_t **out)
    void media_resampler_destroy(media_resampler_t *resampler)
    void media_resampler_process(media_resampler_t *resampler, const int16_t *inp, int16_t *out)
    void media_resampler_reset(media_resampler_t *resampler)
    void media_resampler_skip(media_resampler_t *resampler, const int16_t *inp)
    int media_resampler_copy_state(media_resampler_t *dst, const media_resampler_t *src)
    int media_resampler_same_state(const media_resampler_t *a, const media_resampler_t *b)
    uint32_t media_resampler_out_frame(const media_resampler_t *resampler)
    void media_resampler_get_info(const media_resampler_t *resampler, media_resampler_info_t *out)
    int media_resampler_get_phase(const media_resampler_t *resampler, uint32_t stage, uint32_t phase, int16_t *taps)


cdef extern from "padev.h" nogil:
    enum:
        MEDIA_EVENT_DEVICE_STOPPED
        MEDIA_EVENT_DEVICE_FAILED
        MEDIA_PADEV_INPUT
        MEDIA_PADEV_OUTPUT

    ctypedef void (*media_bridge_tick_fn)(void *arg) noexcept nogil

    ctypedef struct media_bridge_t:
        pass

    ctypedef struct media_bridge_stats_t:
        uint64_t ticks
        uint64_t captured
        uint64_t played
        uint64_t capture_underruns
        uint64_t capture_overflows
        uint64_t capture_trimmed
        uint64_t playback_overflows

    int media_bridge_create(uint32_t rate, uint32_t frame, media_bridge_tick_fn tick, void *arg,
                            media_bridge_t **out)
    void media_bridge_destroy(media_bridge_t *bridge)
    media_port_t *media_bridge_capture_port(media_bridge_t *bridge)
    media_port_t *media_bridge_playback_port(media_bridge_t *bridge)
    void media_bridge_reset(media_bridge_t *bridge, int prefill)
    void media_bridge_capture(media_bridge_t *bridge, const int16_t *inp, uint32_t channels, size_t frames)
    void media_bridge_playback(media_bridge_t *bridge, int16_t *out, uint32_t channels, size_t frames)
    void media_bridge_pump(media_bridge_t *bridge)
    void media_bridge_get_stats(media_bridge_t *bridge, media_bridge_stats_t *out)

    ctypedef struct media_padev_t:
        pass

    ctypedef struct media_padev_config_t:
        int input_device
        int output_device
        uint32_t rate, frame
        media_bridge_tick_fn tick
        void *tick_arg
        media_event_queue_t *events
        uint64_t source
        int64_t tag

    int media_padev_initialize(int verbose)
    int media_padev_open(const media_padev_config_t *config, media_padev_t **out, int *which)
    int media_padev_start(media_padev_t *dev)
    void media_padev_stop(media_padev_t *dev)
    void media_padev_close(media_padev_t *dev)
    int media_padev_running(const media_padev_t *dev)
    int media_padev_duplex(const media_padev_t *dev)
    uint32_t media_padev_channels(const media_padev_t *dev, int which)
    double media_padev_latency(const media_padev_t *dev, int which)
    media_port_t *media_padev_capture_port(media_padev_t *dev)
    media_port_t *media_padev_playback_port(media_padev_t *dev)
    media_bridge_t *media_padev_bridge(media_padev_t *dev)
