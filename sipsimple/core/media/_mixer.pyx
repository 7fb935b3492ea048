# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The audio mixer of the media engine and the ports that live in it (reference core names).

:class:`AudioMixer` is a conference bridge in C (csrc/mixer.c): slot 0 is the sound device, the
other slots hold ports (WAV players and recorders, tone generators, RTP streams...), and audio flows
only along connections made with :meth:`AudioMixer.connect_slots`. A native clock thread ticks the
mixer once per frame (:meth:`AudioMixer.start`), or tests tick it themselves (:meth:`AudioMixer.tick`).
Neither touches Python: events for Python (a WAV file ended, a tone finished) go through the
mixer's :class:`~sipsimple.core.media._events.EventQueue` and come back on the Twisted thread as
notifications (``WaveFileDidFinishPlaying``, ``ToneGeneratorDidFinishPlaying``).

Devices: until the sound-device layer exists, ``None`` and device names select the null device
(silent input, discarded output); ``"file:<path>"`` selects a WAV file as the input (played once,
then silence) or as the output (written at the mixer's rate, mono, finished when the device is
replaced or the mixer is deallocated).

Volumes are percentages: 100 leaves the signal unchanged, 0 silences it, 200 doubles it (the most).
"""

import logging
import os

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from sipsimple.core.media.pxd.media_events cimport *
from sipsimple.core.media.pxd.media_mixer cimport *
from sipsimple.core.media.pxd.media_port cimport *

from sipsimple.core._errors import SIPCoreError, SIPCoreInvalidStateError
from sipsimple.core.media._events import EventQueue
from sipsimple.notification import NotificationCenter, NotificationData

__all__ = [
    "DEFAULT_TONE_AMPLITUDE",
    "FILE_DEVICE_PREFIX",
    "MAX_VOLUME",
    "AudioMixer",
    "MemoryPort",
    "MixerPort",
    "RecordingWaveFile",
    "ToneGenerator",
    "WaveFile",
    "WaveFileError",
    "dtmf_frequencies",
    "read_wave_file",
    "write_wave_file",
]

log = logging.getLogger("sipsimple.core.media")

FILE_DEVICE_PREFIX = "file:"
MAX_VOLUME = MEDIA_MIXER_MAX_GAIN
DEFAULT_TONE_AMPLITUDE = MEDIA_TONE_DEFAULT_AMPLITUDE
DTMF_ON_MS = 200
DTMF_OFF_MS = 50


class WaveFileError(SIPCoreError):
    """A WAV file cannot be opened, read or written.

    ``reason`` says why in a sentence, ``code`` is the C reader's/writer's status (WAV_E* in
    csrc/wav.h) and ``errno`` the operating system's error number when there is one (else 0).
    """

    def __init__(self, filename, int code, int os_errno=0):
        reason = wav_strerror(code).decode()
        if os_errno and code in (WAV_EOPEN, WAV_EIO):
            reason = f"{reason}: {os.strerror(os_errno)}"
        self.filename = filename
        self.code = code
        self.errno = os_errno
        self.reason = reason
        SIPCoreError.__init__(self, f"{os.fsdecode(filename)}: {reason}")


cdef int _check(int status, str what) except -1:
    if status == MEDIA_MIXER_OK:
        return 0
    message = f"{what}: {media_mixer_strerror(status).decode()}"
    if status == MEDIA_MIXER_ENOMEM:
        raise MemoryError(message)
    if status == MEDIA_MIXER_EINVAL:
        raise ValueError(message)
    raise SIPCoreError(message)


cdef int _check_volume(object value, str name) except -1:
    if value < 0:
        raise ValueError(f"{name} attribute cannot be negative")
    if value > MEDIA_MIXER_MAX_GAIN:
        raise ValueError(f"{name} attribute cannot exceed {MEDIA_MIXER_MAX_GAIN}")
    return 0


cdef bytes _fs_path(object filename):
    return os.fsencode(filename)


cdef object _file_device_path(object device, str argument):
    if device is None:
        return None
    if not isinstance(device, str):
        raise TypeError(f"{argument} must be a device name, {FILE_DEVICE_PREFIX!r}<path> or None")
    if device.startswith(FILE_DEVICE_PREFIX):
        path = device[len(FILE_DEVICE_PREFIX):]
        if not path:
            raise ValueError(f"{argument} {device!r} names no file")
        return path
    return None


cdef void _clock_tick(void *arg) noexcept nogil:
    media_mixer_tick(<media_mixer_t *>arg)


def _post_notification(name, sender, **attributes):
    NotificationCenter().post_notification(name, sender=sender, data=NotificationData(**attributes))


# ---------------------------------------------------------------------------------------------
# AudioMixer
# ---------------------------------------------------------------------------------------------

@cython.no_gc_clear
cdef class AudioMixer:
    """A conference mixer: ``slot_count`` slots plus the device's slot 0, at ``sample_rate`` Hz.

    ``frame_time`` is 10 or 20 ms. ``ec_tail_length`` (ms, 0 = off) sizes the echo canceller
    between the device's playback and capture. Events go to ``event_queue`` (a new
    :class:`EventQueue` when None; whoever runs the reactor must watch it, see
    :mod:`sipsimple.core.media.events`).
    """

    cdef media_mixer_t *_mixer
    cdef media_clock_t *_clock
    cdef media_port_t _null_port
    cdef media_wav_player_t *_input_file
    cdef media_wav_recorder_t *_output_file
    cdef media_event_queue_t *_queue
    cdef uint64_t _source
    cdef readonly object event_queue
    cdef readonly int sample_rate
    cdef readonly int slot_count
    cdef readonly int frame_time
    cdef readonly int ec_tail_length
    cdef readonly object input_device
    cdef readonly object output_device
    cdef readonly object real_input_device
    cdef readonly object real_output_device
    cdef readonly bint input_finished
    cdef int _input_volume
    cdef int _output_volume
    cdef bint _muted
    cdef int64_t _device_generation
    cdef dict _external
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._input_volume = 100
        self._output_volume = 100
        self._external = {}

    def __init__(self, input_device, output_device, int sample_rate, int ec_tail_length, int slot_count=254,
                 *, int frame_time=20, event_queue=None):
        cdef int status
        if self._mixer != NULL:
            raise SIPCoreError("AudioMixer.__init__() was already called")
        if ec_tail_length < 0:
            raise ValueError("ec_tail_length argument cannot be negative")
        if frame_time not in (10, 20):
            raise ValueError("frame_time argument must be 10 or 20 (ms)")
        if not <int>MEDIA_PORT_MIN_RATE <= sample_rate <= <int>MEDIA_PORT_MAX_RATE or sample_rate * frame_time % 1000:
            raise ValueError(f"sample_rate argument must be 8000..192000 Hz in whole {frame_time} ms frames")
        if not 1 <= slot_count < <int>MEDIA_MIXER_MAX_SLOTS:
            raise ValueError(f"slot_count argument must be 1..{MEDIA_MIXER_MAX_SLOTS - 1}")
        if event_queue is None:
            event_queue = EventQueue()
        self._queue = <media_event_queue_t *>PyCapsule_GetPointer(event_queue.capsule, MEDIA_EVENT_QUEUE_CAPSULE)
        self.event_queue = event_queue
        self._source = event_queue.register(self)
        _check(media_mixer_create(sample_rate, frame_time, slot_count, &self._mixer), "Could not create audio mixer")
        self.sample_rate = sample_rate
        self.slot_count = slot_count
        self.frame_time = frame_time
        media_null_port_init(&self._null_port, sample_rate, sample_rate * frame_time // 1000)
        status = media_clock_create(<uint64_t>frame_time * 1000000, _clock_tick, self._mixer, &self._clock)
        if status != 0:
            raise OSError(-status, "Could not create the mixer clock")
        self.set_sound_devices(input_device, output_device, ec_tail_length)

    def __dealloc__(self):
        cdef int saved_errno
        if self._clock != NULL:
            with nogil:
                media_clock_destroy(self._clock)
            self._clock = NULL
        if self._mixer != NULL:
            media_mixer_destroy(self._mixer)
            self._mixer = NULL
        if self._input_file != NULL:
            media_wav_player_close(self._input_file)
            self._input_file = NULL
        if self._output_file != NULL:
            with nogil:
                media_wav_recorder_close(self._output_file, &saved_errno)
            self._output_file = NULL
        if self.event_queue is not None:
            self.event_queue.unregister(self._source)

    cdef int _require(self) except -1:
        if self._mixer == NULL or self._clock == NULL:
            raise SIPCoreError("AudioMixer.__init__() was not called or failed")
        return 0

    # devices -------------------------------------------------------------------------------

    def set_sound_devices(self, input_device, output_device, int ec_tail_length):
        """Selects the devices of slot 0 (see the module text) and the echo canceller's tail (ms)."""
        cdef media_wav_player_t *new_input = NULL
        cdef media_wav_recorder_t *new_output = NULL
        cdef media_wav_player_t *old_input
        cdef media_wav_recorder_t *old_output
        cdef media_port_t *capture
        cdef media_port_t *playback
        cdef int status, close_status, saved_errno = 0
        cdef bytes path
        cdef const char *c_path
        cdef uint32_t frame_ms
        self._require()
        if ec_tail_length < 0:
            raise ValueError("ec_tail_length argument cannot be negative")
        if ec_tail_length > 1000:
            raise ValueError("ec_tail_length argument cannot exceed 1000 (ms)")
        input_path = _file_device_path(input_device, "input_device")
        output_path = _file_device_path(output_device, "output_device")
        frame_ms = self.frame_time
        self._device_generation += 1
        if input_path is not None:
            path = _fs_path(input_path)
            c_path = path
            with nogil:
                status = media_wav_player_open(c_path, frame_ms, 1, 0, &new_input, &saved_errno)
            if status != WAV_OK:
                raise WaveFileError(input_path, status, saved_errno)
            media_wav_player_set_events(new_input, self._queue, self._source, MEDIA_EVENT_DEVICE_INPUT_END,
                                        self._device_generation)
        if output_path is not None:
            path = _fs_path(output_path)
            c_path = path
            with nogil:
                status = media_wav_recorder_open(c_path, self.sample_rate, 1, frame_ms, &new_output, &saved_errno)
            if status != WAV_OK:
                media_wav_player_close(new_input)
                raise WaveFileError(output_path, status, saved_errno)
            media_wav_recorder_set_events(new_output, self._queue, self._source, 0)
        capture = media_wav_player_port(new_input) if new_input != NULL else &self._null_port
        playback = media_wav_recorder_port(new_output) if new_output != NULL else &self._null_port
        with nogil:
            status = media_mixer_set_device(self._mixer, capture, playback)
        if status != MEDIA_MIXER_OK:
            # the old devices are still in place: keep them, drop the new ones
            media_wav_player_close(new_input)
            if new_output != NULL:
                with nogil:
                    media_wav_recorder_close(new_output, &saved_errno)
            _check(status, "Could not set sound devices")
        previous_output = self.output_device
        old_input, old_output = self._input_file, self._output_file
        self._input_file, self._output_file = new_input, new_output
        media_wav_player_close(old_input)
        status = WAV_OK
        if old_output != NULL:
            with nogil:
                status = media_wav_recorder_close(old_output, &saved_errno)
        self.input_device = input_device if input_path is not None else None
        self.output_device = output_device if output_path is not None else None
        self.real_input_device = self.input_device
        self.real_output_device = self.output_device
        self.input_finished = False
        close_status = status
        with nogil:
            status = media_mixer_set_echo_canceller(self._mixer, ec_tail_length)
        _check(status, "Could not set up the echo canceller")
        self.ec_tail_length = ec_tail_length
        if close_status != WAV_OK:
            raise WaveFileError(_file_device_path(previous_output, "output_device"), close_status, saved_errno)

    def reset_ec(self):
        """Forgets what the echo canceller has learnt (after the echo path changed)."""
        self._require()
        with nogil:
            media_mixer_reset_echo_canceller(self._mixer)

    # clock ---------------------------------------------------------------------------------

    def start(self):
        """Starts the clock thread that ticks the mixer once per frame (no-op when running)."""
        cdef int status
        self._require()
        with nogil:
            status = media_clock_start(self._clock)
        if status != 0:
            raise OSError(-status, "Could not start the mixer clock thread")

    def stop(self):
        """Stops the clock thread; returns once the last tick has finished."""
        if self._clock != NULL:
            with nogil:
                media_clock_stop(self._clock)

    @property
    def is_running(self):
        return self._clock != NULL and media_clock_running(self._clock) != 0

    def tick(self, int count=1):
        """Runs ``count`` ticks now, on this thread (tests and tools; not while the clock runs)."""
        cdef int i
        self._require()
        if count < 0:
            raise ValueError("count cannot be negative")
        if media_clock_running(self._clock):
            raise SIPCoreInvalidStateError("the mixer's clock thread is running")
        with nogil:
            for i in range(count):
                media_mixer_tick(self._mixer)

    # slots ---------------------------------------------------------------------------------

    cdef int _add_port(self, media_port_t *port) except -1:
        cdef uint32_t slot = 0
        cdef int status
        self._require()
        with nogil:
            status = media_mixer_add_port(self._mixer, port, &slot)
        _check(status, "Could not add audio object to audio mixer")
        return slot

    cdef int _remove_port(self, int slot) except -1:
        cdef int status
        with nogil:
            status = media_mixer_remove_port(self._mixer, slot)
        _check(status, "Could not remove audio object from audio mixer")
        return 0

    cdef int _set_gain(self, int slot, int direction, int percent) except -1:
        cdef int status
        with nogil:
            status = media_mixer_set_gain(self._mixer, slot, direction, percent)
        _check(status, "Could not set the volume")
        return 0

    def add_port(self, capsule, owner=None):
        """Adds a port from another extension (a PyCapsule named "sipsimple.core.media.port").

        Returns its slot. The mixer keeps ``capsule`` and ``owner`` referenced until
        :meth:`remove_port`; the owner must call that before freeing the port.
        """
        cdef media_port_t *port = <media_port_t *>PyCapsule_GetPointer(capsule, MEDIA_PORT_CAPSULE)
        slot = self._add_port(port)
        self._external[slot] = (capsule, owner)
        return slot

    def remove_port(self, int slot):
        """Removes a port added with :meth:`add_port`; the mixer no longer uses it on return."""
        if slot not in self._external:
            raise SIPCoreError(f"slot {slot} does not hold a port added with add_port()")
        self._remove_port(slot)
        del self._external[slot]

    def connect_slots(self, int src_slot, int dst_slot):
        """Lets ``dst_slot`` hear ``src_slot`` (idempotent; a slot may hear itself)."""
        cdef int status
        self._require()
        if src_slot < 0:
            raise ValueError("src_slot argument cannot be negative")
        if dst_slot < 0:
            raise ValueError("dst_slot argument cannot be negative")
        with nogil:
            status = media_mixer_connect(self._mixer, src_slot, dst_slot)
        _check(status, "Could not connect slots on audio mixer")

    def disconnect_slots(self, int src_slot, int dst_slot):
        """Undoes :meth:`connect_slots` (idempotent)."""
        cdef int status
        self._require()
        if src_slot < 0:
            raise ValueError("src_slot argument cannot be negative")
        if dst_slot < 0:
            raise ValueError("dst_slot argument cannot be negative")
        with nogil:
            status = media_mixer_disconnect(self._mixer, src_slot, dst_slot)
        _check(status, "Could not disconnect slots on audio mixer")

    @property
    def connected_slots(self):
        """The connections as a sorted list of ``(src_slot, dst_slot)`` tuples."""
        cdef size_t count, room = 64, i
        cdef uint32_t *pairs = NULL
        self._require()
        while True:
            pairs = <uint32_t *>malloc(room * 2 * sizeof(uint32_t))
            if pairs == NULL:
                raise MemoryError()
            with nogil:
                count = media_mixer_connections(self._mixer, pairs, room)
            if count <= room:
                break
            free(pairs)
            room = count + 64
        try:
            return [(pairs[2 * i], pairs[2 * i + 1]) for i in range(count)]
        finally:
            free(pairs)

    @property
    def used_slot_count(self):
        """Slots holding a port (the device's slot 0 not counted)."""
        self._require()
        return media_mixer_used_slot_count(self._mixer)

    @property
    def samples_per_frame(self):
        return self.sample_rate * self.frame_time // 1000

    # volume and levels ---------------------------------------------------------------------

    @property
    def input_volume(self):
        """The device's capture volume in percent (100 = unchanged, 0..200)."""
        return self._input_volume

    @input_volume.setter
    def input_volume(self, int value):
        self._require()
        _check_volume(value, "input_volume")
        self._set_gain(0, MEDIA_MIXER_RX, value)
        if value > 0 and self._muted:
            self.muted = False
        self._input_volume = value

    @property
    def output_volume(self):
        """The device's playback volume in percent (100 = unchanged, 0..200)."""
        return self._output_volume

    @output_volume.setter
    def output_volume(self, int value):
        self._require()
        _check_volume(value, "output_volume")
        self._set_gain(0, MEDIA_MIXER_TX, value)
        self._output_volume = value

    @property
    def muted(self):
        """True while the device's capture is silenced (the echo canceller keeps adapting)."""
        return self._muted

    @muted.setter
    def muted(self, bint muted):
        self._require()
        with nogil:
            media_mixer_set_muted(self._mixer, muted)
        self._muted = muted

    def slot_levels(self, int slot):
        """``(rx_rms, rx_peak, tx_rms, tx_peak)`` of the last frame a slot gave and received.

        Linear, 0..32768 (full scale); dBFS = 20 * log10(level / 32768). Frames after the slot's
        volume; a silent or muted source reads 0.
        """
        cdef media_mixer_levels_t levels
        cdef int status
        self._require()
        if slot < 0:
            raise ValueError("slot argument cannot be negative")
        with nogil:
            status = media_mixer_levels(self._mixer, slot, &levels)
        _check(status, "Could not read signal levels")
        return (levels.rx_rms, levels.rx_peak, levels.tx_rms, levels.tx_peak)

    @property
    def input_level(self):
        """RMS of the device's last captured frame (after echo cancelling and input volume)."""
        return self.slot_levels(0)[0]

    @property
    def output_level(self):
        """RMS of the device's last played frame (after output volume)."""
        return self.slot_levels(0)[2]

    @property
    def statistics(self):
        """Counters: ticks (all), clock_ticks, overruns, underruns, get_errors, put_errors, resample_short."""
        cdef media_mixer_stats_t stats
        cdef media_clock_stats_t clock
        self._require()
        media_mixer_get_stats(self._mixer, &stats)
        media_clock_get_stats(self._clock, &clock)
        return {
            "ticks": stats.ticks,
            "clock_ticks": clock.ticks,
            "overruns": clock.overruns,
            "underruns": clock.underruns,
            "get_errors": stats.get_errors,
            "put_errors": stats.put_errors,
            "resample_short": stats.resample_short,
        }

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if type == MEDIA_EVENT_DEVICE_INPUT_END and b == self._device_generation:
            self.input_finished = True
        elif type == MEDIA_EVENT_RECORDER_ERROR:
            log.warning("audio mixer output device %r stopped writing: %s", self.output_device, os.strerror(a))


# ---------------------------------------------------------------------------------------------
# Objects that occupy a slot
# ---------------------------------------------------------------------------------------------

@cython.no_gc_clear
cdef class _MixerObject:
    """What the objects that occupy a mixer slot share: the mixer, the slot, the volume, events."""

    cdef readonly AudioMixer mixer
    cdef object _event_queue
    cdef uint64_t _source
    cdef int _slot
    cdef int _volume
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._slot = -1
        self._volume = 100

    def __dealloc__(self):
        if self._event_queue is not None:
            self._event_queue.unregister(self._source)

    cdef int _bind(self, AudioMixer mixer) except -1:
        if self.mixer is not None:
            raise SIPCoreError(f"{type(self).__name__}.__init__() was already called")
        if mixer is None:
            raise ValueError("mixer argument may not be None")
        mixer._require()
        self.mixer = mixer
        self._event_queue = mixer.event_queue
        self._source = self._event_queue.register(self)
        return 0

    cdef int _require(self) except -1:
        if self.mixer is None:
            raise SIPCoreError(f"{type(self).__name__}.__init__() was not called")
        return 0

    cdef int _attach(self, media_port_t *port) except -1:
        self._slot = self.mixer._add_port(port)
        if self._volume != 100 and port.get_frame != NULL:
            self.mixer._set_gain(self._slot, MEDIA_MIXER_RX, self._volume)
        return 0

    cdef int _detach(self) except -1:
        cdef int slot = self._slot
        if slot != -1:
            self._slot = -1
            self.mixer._remove_port(slot)
        return 0

    cdef int _set_volume(self, object value) except -1:
        _check_volume(value, "volume")
        if self._slot != -1:
            self.mixer._set_gain(self._slot, MEDIA_MIXER_RX, value)
        self._volume = value
        return 0

    @property
    def slot(self):
        """The mixer slot while active, else None."""
        return None if self._slot == -1 else self._slot

    @property
    def is_active(self):
        return self._slot != -1


@cython.no_gc_clear
cdef class WaveFile(_MixerObject):
    """Plays a 16-bit PCM WAV file (mono or stereo, any rate the mixer can convert) into a slot.

    ``loop_count`` plays it that many times (0: until stopped), with ``pause_time`` seconds of
    silence between loops. When it ends or :meth:`stop` is called while playing,
    ``WaveFileDidFinishPlaying`` is posted (with an ``error`` attribute when reading failed).
    """

    cdef media_wav_player_t *_player
    cdef readonly object filename
    cdef readonly unsigned int loop_count
    cdef readonly double pause_time
    cdef int64_t _generation

    def __init__(self, AudioMixer mixer, filename, *, int loop_count=1, double pause_time=0.0):
        if filename is None:
            raise ValueError("filename argument may not be None")
        filename = os.fspath(filename)
        if loop_count < 0:
            raise ValueError("loop_count argument cannot be negative")
        if not 0.0 <= pause_time <= 3600.0:
            raise ValueError("pause_time argument must be 0..3600 seconds")
        self._bind(mixer)
        self.filename = filename
        self.loop_count = loop_count
        self.pause_time = pause_time

    def __dealloc__(self):
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)
        media_wav_player_close(self._player)
        self._player = NULL

    @property
    def volume(self):
        """Playback volume in percent (100 = as recorded, 0..200)."""
        return self._volume

    @volume.setter
    def volume(self, value):
        self._set_volume(value)

    @property
    def is_active(self):
        return self._player != NULL

    def start(self):
        """Opens the file and starts playing it (WaveFileError when it cannot be played)."""
        cdef bytes path
        cdef const char *c_path
        cdef int status, saved_errno = 0
        cdef uint32_t frame_ms, loops, pause_ms
        self._require()
        if self._player != NULL:
            raise SIPCoreError("WAV file is already playing")
        path = _fs_path(self.filename)
        c_path = path
        frame_ms = self.mixer.frame_time
        loops = self.loop_count
        pause_ms = <uint32_t>(self.pause_time * 1000.0 + 0.5)
        with nogil:
            status = media_wav_player_open(c_path, frame_ms, loops, pause_ms, &self._player, &saved_errno)
        if status != WAV_OK:
            self._player = NULL
            raise WaveFileError(self.filename, status, saved_errno)
        self._generation += 1
        media_wav_player_set_events(self._player, self.mixer._queue, self._source, MEDIA_EVENT_WAV_END,
                                    self._generation)
        try:
            self._attach(media_wav_player_port(self._player))
        except BaseException:
            media_wav_player_close(self._player)
            self._player = NULL
            raise

    def stop(self):
        """Stops playing; posts WaveFileDidFinishPlaying if it was playing."""
        self._stop(True, None)

    cdef int _stop(self, bint notify, object error) except -1:
        cdef bint was_active = self._player != NULL
        self._detach()
        media_wav_player_close(self._player)
        self._player = NULL
        self._generation += 1
        if notify and was_active:
            if error is None:
                _post_notification("WaveFileDidFinishPlaying", self)
            else:
                _post_notification("WaveFileDidFinishPlaying", self, error=error)
        return 0

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if self._player == NULL or b != self._generation:
            return  # about a playback that was already stopped
        if type == MEDIA_EVENT_WAV_END:
            self._stop(True, None)
        elif type == MEDIA_EVENT_WAV_ERROR:
            error = WaveFileError(self.filename, <int>a)
            log.warning("%s", error)
            self._stop(True, error)


@cython.no_gc_clear
cdef class RecordingWaveFile(_MixerObject):
    """Records what its slot hears into a WAV file (16-bit PCM).

    At the mixer's rate, mono, unless ``sample_rate``/``channels`` say otherwise (the mixer
    converts). The file appears complete under ``filename`` when :meth:`stop` returns (it is
    written under a temporary name until then). A write error stops the recording, is logged and
    kept in :attr:`error`.
    """

    cdef media_wav_recorder_t *_recorder
    cdef readonly object filename
    cdef readonly int sample_rate
    cdef readonly int channels
    cdef readonly object error
    cdef bint _was_started

    def __init__(self, AudioMixer mixer, filename, *, sample_rate=None, int channels=1):
        if filename is None:
            raise ValueError("filename argument may not be None")
        filename = os.fspath(filename)
        if channels not in (1, 2):
            raise ValueError("channels argument must be 1 or 2")
        self._bind(mixer)
        rate = mixer.sample_rate if sample_rate is None else sample_rate
        if not MEDIA_PORT_MIN_RATE <= rate <= MEDIA_PORT_MAX_RATE or rate * mixer.frame_time % 1000:
            raise ValueError(f"sample_rate argument must be 8000..192000 Hz in whole {mixer.frame_time} ms frames")
        self.filename = filename
        self.sample_rate = rate
        self.channels = channels

    def __dealloc__(self):
        cdef int saved_errno
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)
        if self._recorder != NULL:
            with nogil:
                media_wav_recorder_close(self._recorder, &saved_errno)
            self._recorder = NULL

    def start(self):
        cdef bytes path
        cdef const char *c_path
        cdef int status, saved_errno = 0
        cdef uint32_t rate, channels, frame_ms
        self._require()
        if self._was_started:
            raise SIPCoreError("This RecordingWaveFile was already started once")
        path = _fs_path(self.filename)
        c_path = path
        rate, channels, frame_ms = self.sample_rate, self.channels, self.mixer.frame_time
        with nogil:
            status = media_wav_recorder_open(c_path, rate, channels, frame_ms, &self._recorder, &saved_errno)
        if status != WAV_OK:
            self._recorder = NULL
            raise WaveFileError(self.filename, status, saved_errno)
        media_wav_recorder_set_events(self._recorder, self.mixer._queue, self._source, 0)
        try:
            self._attach(media_wav_recorder_port(self._recorder))
        except BaseException:
            with nogil:
                media_wav_recorder_close(self._recorder, &saved_errno)
            self._recorder = NULL
            raise
        self._was_started = True

    def stop(self):
        """Stops recording and finishes the file (WaveFileError when it cannot be completed)."""
        cdef int status, saved_errno = 0
        self._detach()
        if self._recorder == NULL:
            return
        with nogil:
            status = media_wav_recorder_close(self._recorder, &saved_errno)
        self._recorder = NULL
        if status != WAV_OK:
            raise WaveFileError(self.filename, status, saved_errno)

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if type == MEDIA_EVENT_RECORDER_ERROR and self._recorder != NULL:
            self.error = OSError(a, os.strerror(a), self.filename)
            log.warning("recording into %s stopped: %s", self.filename, self.error)


@cython.no_gc_clear
cdef class ToneGenerator(_MixerObject):
    """Plays sine tones and DTMF digits into a slot, at the mixer's rate.

    :meth:`play_tones` queues ``(freq1, freq2, duration_ms)`` tuples (a tuple with freq1 == 0
    lengthens the pause after the previous tone); :meth:`play_dtmf` queues a digit (200 ms of its
    two frequencies, then 50 ms of silence). ``ToneGeneratorDidFinishPlaying`` is posted when the
    queue has played out. ``amplitude`` is the peak of each frequency (0..32767).
    """

    cdef media_tonegen_t *_gen
    cdef int64_t _generation

    def __init__(self, AudioMixer mixer):
        cdef int status
        self._bind(mixer)
        status = media_tonegen_create(mixer.sample_rate, mixer.samples_per_frame, &self._gen)
        if status != 0:
            raise MemoryError("could not create a tone generator")
        media_tonegen_set_events(self._gen, mixer._queue, self._source)

    def __dealloc__(self):
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)
        media_tonegen_destroy(self._gen)
        self._gen = NULL

    @property
    def volume(self):
        return self._volume

    @volume.setter
    def volume(self, value):
        self._set_volume(value)

    @property
    def is_busy(self):
        """True while tones are queued or playing."""
        return self._gen != NULL and media_tonegen_busy(self._gen) != 0

    def start(self):
        """Takes a slot in the mixer (no-op when already started)."""
        self._require()
        if self._slot == -1:
            self._attach(media_tonegen_port(self._gen))

    def stop(self):
        """Leaves the mixer and drops the queued tones (no notification)."""
        if self._slot == -1:
            return
        self._generation += 1
        media_tonegen_clear(self._gen, self._generation)
        self._detach()

    cdef int _play(self, list tones) except -1:
        cdef size_t count = len(tones), i
        cdef media_tone_t *array
        cdef int status
        if self._slot == -1:
            raise SIPCoreError("ToneGenerator has not yet been started")
        if count == 0:
            return 0
        if count > MEDIA_TONE_QUEUE:
            raise SIPCoreError("Too many tones")
        array = <media_tone_t *>malloc(count * sizeof(media_tone_t))
        if array == NULL:
            raise MemoryError()
        try:
            for i in range(count):
                array[i].freq1, array[i].freq2, array[i].on_ms, array[i].off_ms, array[i].amplitude = tones[i]
            status = media_tonegen_play(self._gen, array, count)
        finally:
            free(array)
        if status == -2:
            raise SIPCoreError("Too many tones")
        if status != 0:
            raise ValueError(f"tone frequencies must be below {self.mixer.sample_rate // 2} Hz and amplitudes 0..32767")
        return 0

    def play_tones(self, tones, *, int amplitude=MEDIA_TONE_DEFAULT_AMPLITUDE):
        """Queues ``(freq1, freq2, duration_ms)`` tones (freq2 may be 0 for a single frequency)."""
        cdef list queued = []
        for freq1, freq2, duration in tones:
            if freq1 < 0 or freq2 < 0 or duration < 0:
                raise ValueError("tone frequencies and durations cannot be negative")
            if freq1 == 0 and queued:
                queued[len(queued) - 1][3] += duration
            else:
                queued.append([freq1, freq2, duration, 0, amplitude])
        self._play(queued)

    def play_dtmf(self, str digit, *, int amplitude=MEDIA_TONE_DEFAULT_AMPLITUDE):
        """Queues one DTMF digit (0-9, *, #, A-D)."""
        low, high = dtmf_frequencies(digit)
        self._play([[low, high, DTMF_ON_MS, DTMF_OFF_MS, amplitude]])

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if type == MEDIA_EVENT_TONE_END and a == self._generation and self._slot != -1:
            _post_notification("ToneGeneratorDidFinishPlaying", self)


@cython.no_gc_clear
cdef class MixerPort(_MixerObject):
    """A slot whose output is what it heard on the previous tick (one frame later).

    Useful to take what a group of slots hears and feed it somewhere else as one source.
    """

    cdef media_loopback_t *_loopback
    cdef bint _was_started

    def __init__(self, AudioMixer mixer):
        self._bind(mixer)
        self._loopback = media_loopback_create(mixer.sample_rate, mixer.samples_per_frame)
        if self._loopback == NULL:
            raise MemoryError("could not create a mixer port")

    def __dealloc__(self):
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)
        media_loopback_destroy(self._loopback)
        self._loopback = NULL

    def start(self):
        self._require()
        if self._was_started:
            raise SIPCoreError("This MixerPort was already started once")
        self._attach(media_loopback_port(self._loopback))
        self._was_started = True

    def stop(self):
        self._detach()


@cython.no_gc_clear
cdef class MemoryPort(_MixerObject):
    """A slot over memory: plays ``play`` (int16 bytes) and/or records what it hears (tests, tools).

    ``play``: None (not a source) or native-endian int16 samples, channels interleaved, played once
    (or forever with ``loop``). ``record_seconds``: None (not a sink) or how much to keep; later
    frames are counted in :attr:`dropped_frames`. Runs at ``sample_rate`` (default: the mixer's),
    the mixer converts.
    """

    cdef media_memory_port_t *_memory
    cdef readonly int sample_rate
    cdef readonly int channels

    def __init__(self, AudioMixer mixer, play=None, *, sample_rate=None, int channels=1, bint loop=False,
                 record_seconds=None):
        cdef Py_buffer view
        cdef size_t play_frames = 0, record_frames = 0
        cdef const int16_t *samples = NULL
        cdef uint32_t rate
        self._bind(mixer)
        rate = mixer.sample_rate if sample_rate is None else sample_rate
        if channels not in (1, 2):
            raise ValueError("channels argument must be 1 or 2")
        if not MEDIA_PORT_MIN_RATE <= rate <= MEDIA_PORT_MAX_RATE or rate * mixer.frame_time % 1000:
            raise ValueError(f"sample_rate argument must be 8000..192000 Hz in whole {mixer.frame_time} ms frames")
        if play is None and record_seconds is None:
            raise ValueError("a MemoryPort needs something to play or record_seconds")
        if record_seconds is not None:
            if record_seconds < 0:
                raise ValueError("record_seconds argument cannot be negative")
            record_frames = <size_t>(record_seconds * rate)
        self.sample_rate = rate
        self.channels = channels
        if play is not None:
            PyObject_GetBuffer(play, &view, PyBUF_SIMPLE)
            try:
                if view.len % (2 * channels):
                    raise ValueError(f"play must hold whole {channels}-channel int16 samples")
                play_frames = view.len // (2 * channels)
                samples = <const int16_t *>view.buf
                self._memory = media_memory_port_create(rate, channels, rate * mixer.frame_time // 1000, samples,
                                                        play_frames, loop, record_seconds is not None,
                                                        record_frames)
            finally:
                PyBuffer_Release(&view)
        else:
            self._memory = media_memory_port_create(rate, channels, rate * mixer.frame_time // 1000, NULL, 0, 0, 1,
                                                    record_frames)
        if self._memory == NULL:
            raise MemoryError("could not create a memory port")

    def __dealloc__(self):
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)
        media_memory_port_destroy(self._memory)
        self._memory = NULL

    @property
    def volume(self):
        return self._volume

    @volume.setter
    def volume(self, value):
        self._set_volume(value)

    def start(self):
        self._require()
        if self._slot == -1:
            self._attach(media_memory_port_port(self._memory))

    def stop(self):
        self._detach()

    @property
    def played_frames(self):
        return media_memory_port_played(self._memory)

    @property
    def recorded_frames(self):
        return media_memory_port_recorded(self._memory)

    @property
    def dropped_frames(self):
        return media_memory_port_dropped(self._memory)

    def take(self, max_frames=None):
        """The frames recorded so far (up to ``max_frames``) as int16 bytes; they are forgotten."""
        cdef size_t available = media_memory_port_recorded(self._memory), got
        cdef size_t limit = available if max_frames is None else min(<size_t>max_frames, available)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, limit * 2 * self.channels)
        cdef int16_t *into = <int16_t *>PyBytes_AS_STRING(out)
        with nogil:
            got = media_memory_port_take(self._memory, into, limit)
        return out if got == limit else out[: got * 2 * self.channels]


# ---------------------------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------------------------

def dtmf_frequencies(str digit):
    """``(low, high)`` in Hz of a DTMF digit (0-9, *, #, A-D; ValueError for anything else)."""
    cdef uint32_t low, high
    if len(digit) != 1 or not digit.isascii() or media_tone_dtmf(ord(digit), &low, &high) != 0:
        raise ValueError(f"{digit!r} is not a DTMF digit")
    return (low, high)


def read_wave_file(filename):
    """``(sample_rate, channels, pcm)`` of a 16-bit PCM WAV file (pcm: native-endian int16 bytes)."""
    cdef wav_reader_t reader
    cdef bytes path = _fs_path(os.fspath(filename))
    cdef const char *c_path = path
    cdef int status
    cdef long got
    cdef bytes pcm
    cdef int16_t *into
    with nogil:
        status = wav_reader_open(&reader, c_path)
    if status != WAV_OK:
        raise WaveFileError(os.fspath(filename), status, reader.saved_errno)
    try:
        pcm = PyBytes_FromStringAndSize(NULL, reader.frames * reader.channels * 2)
        into = <int16_t *>PyBytes_AS_STRING(pcm)
        with nogil:
            got = wav_reader_read(&reader, into, reader.frames)
        if got < 0:
            raise WaveFileError(os.fspath(filename), <int>got, reader.saved_errno)
        if <uint64_t>got != reader.frames:
            pcm = pcm[: got * reader.channels * 2]
        return (reader.rate, reader.channels, pcm)
    finally:
        wav_reader_close(&reader)


def write_wave_file(filename, int sample_rate, int channels, pcm):
    """Writes int16 samples (native-endian bytes-like, interleaved) as a WAV file, atomically."""
    cdef wav_writer_t writer
    cdef bytes path = _fs_path(os.fspath(filename))
    cdef const char *c_path = path
    cdef Py_buffer view
    cdef int status
    if channels not in (1, 2):
        raise ValueError("channels argument must be 1 or 2")
    PyObject_GetBuffer(pcm, &view, PyBUF_SIMPLE)
    try:
        if view.len % (2 * channels):
            raise ValueError(f"pcm must hold whole {channels}-channel int16 samples")
        with nogil:
            status = wav_writer_open(&writer, c_path, sample_rate, channels)
        if status != WAV_OK:
            raise WaveFileError(os.fspath(filename), status, writer.saved_errno)
        with nogil:
            status = wav_writer_write(&writer, <const int16_t *>view.buf, view.len // (2 * channels))
        if status != WAV_OK:
            wav_writer_abort(&writer)
            raise WaveFileError(os.fspath(filename), status, writer.saved_errno)
        with nogil:
            status = wav_writer_close(&writer)
        if status != WAV_OK:
            raise WaveFileError(os.fspath(filename), status, writer.saved_errno)
    finally:
        PyBuffer_Release(&view)


def _benchmark_copy(int samples, int copies, int iterations):
    """Nanoseconds to memcpy ``copies`` frames of ``samples`` int16, ``iterations`` times (baseline)."""
    cdef int16_t *source = <int16_t *>malloc(samples * 2)
    cdef int16_t *target = <int16_t *>malloc(samples * 2 * copies)
    cdef timespec start, end
    cdef int i, j
    if source == NULL or target == NULL:
        free(source)
        free(target)
        raise MemoryError()
    for i in range(samples):
        source[i] = <int16_t>(i * 7)
    with nogil:
        clock_gettime(CLOCK_MONOTONIC, &start)
        for i in range(iterations):
            for j in range(copies):
                memcpy(target + j * samples, source, samples * 2)
            source[i % samples] ^= target[(i * 31) % (samples * copies)]  # keep the copies observable
        clock_gettime(CLOCK_MONOTONIC, &end)
    free(source)
    free(target)
    return (end.tv_sec - start.tv_sec) * 1000000000 + (end.tv_nsec - start.tv_nsec)
