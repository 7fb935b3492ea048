# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""The audio mixer of the media engine and the ports that live in it (reference core names).

:class:`AudioMixer` is a conference bridge in C (csrc/mixer.c): slot 0 is the sound device, the
other slots hold ports (WAV players and recorders, tone generators, RTP streams...), and audio flows
only along connections made with :meth:`AudioMixer.connect_slots`. A native clock thread ticks the
mixer once per frame (:meth:`AudioMixer.start`), or tests tick it themselves (:meth:`AudioMixer.tick`).
Neither touches Python: events for Python (a WAV file ended, a tone finished) go through the
mixer's :class:`~sipsimple.core.media._events.EventQueue` and come back on the Twisted thread as
notifications (``WaveFileDidFinishPlaying``, ``ToneGeneratorDidFinishPlaying``).

Devices: ``None`` selects the null device (silent input, discarded output); ``"file:<path>"`` a
WAV file as the input (played once, then silence) or as the output (written at the mixer's rate,
mono, finished when the device is replaced or the mixer is deallocated); ``"system_default"`` or a
device name a PortAudio sound device, whose callback then ticks the mixer (csrc/padev.c). A sound
device that cannot be opened is replaced by the null device and reported
(``AudioMixerDeviceDidFail``). :class:`SoundDeviceManager` lists the devices and refreshes the
list (``AudioDevicesDidChange``, ``DefaultAudioDeviceDidChange``).

Ports at another clock rate are converted by :class:`Resampler`'s engines: a polyphase FIR of ours
for small integer ratios (csrc/resample.c), speexdsp for the others.

Volumes are percentages: 100 leaves the signal unchanged, 0 silences it, 200 doubles it (the most).
"""

import atexit
import logging
import os
import threading
import weakref
from collections import namedtuple

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.stdint cimport int16_t, int64_t, uint32_t, uint64_t
from libc cimport errno
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from sipsimple.core.media.pxd.media_events cimport *
from sipsimple.core.media.pxd.media_mixer cimport *
from sipsimple.core.media.pxd.media_port cimport *
from sipsimple.core.media.pxd.portaudio cimport *
from sipsimple.core.media.pxd.speexdsp cimport *

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
    "Resampler",
    "SYSTEM_DEFAULT_DEVICE",
    "SoundDevice",
    "SoundDeviceChanges",
    "SoundDeviceManager",
    "SoundDeviceScan",
    "ToneGenerator",
    "WaveFile",
    "WaveFileError",
    "compare_sound_device_scans",
    "dtmf_frequencies",
    "read_wave_file",
    "sound_devices",
    "write_wave_file",
]

log = logging.getLogger("sipsimple.core.media")

FILE_DEVICE_PREFIX = "file:"
SYSTEM_DEFAULT_DEVICE = "system_default"
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


cdef tuple _device_kind(object device, str argument):
    """``("null", None)``, ``("file", path)`` or ``("portaudio", name)`` for a device argument."""
    if device is None:
        return ("null", None)
    if not isinstance(device, str):
        raise TypeError(f"{argument} must be a device name, {FILE_DEVICE_PREFIX!r}<path> or None")
    if device.startswith(FILE_DEVICE_PREFIX):
        path = device[len(FILE_DEVICE_PREFIX):]
        if not path:
            raise ValueError(f"{argument} {device!r} names no file")
        return ("file", path)
    return ("portaudio", device)


# ---------------------------------------------------------------------------------------------
# Sound devices (PortAudio)
# ---------------------------------------------------------------------------------------------

SoundDevice = namedtuple("SoundDevice", "name host_api input_channels output_channels default_sample_rate")
SoundDevice.__doc__ = "One PortAudio device: its name, host API, channel counts and preferred rate."


class SoundDeviceScan(namedtuple("SoundDeviceScan", "devices default_input default_output")):
    """What one enumeration found: ``devices`` (a tuple of :class:`SoundDevice`) and the names of
    the default input and output devices (None when there is none)."""

    __slots__ = ()

    @property
    def input_devices(self):
        """Names of the devices that can capture, in enumeration order, without repeats."""
        return _unique(device.name for device in self.devices if device.input_channels > 0)

    @property
    def output_devices(self):
        """Names of the devices that can play, in enumeration order, without repeats."""
        return _unique(device.name for device in self.devices if device.output_channels > 0)

    @property
    def names(self):
        """Names of all devices, in enumeration order, without repeats."""
        return _unique(device.name for device in self.devices)


SoundDeviceChanges = namedtuple("SoundDeviceChanges", "devices_changed default_input_changed default_output_changed")
SoundDeviceChanges.__doc__ = "What differs between two scans (compare_sound_device_scans)."

EMPTY_SCAN = SoundDeviceScan((), None, None)


def _unique(names):
    seen = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


def compare_sound_device_scans(old, new):
    """Compares two :class:`SoundDeviceScan` results (sans-IO): :class:`SoundDeviceChanges`.

    The device lists differ when a device appeared, disappeared or changed its channels, host API
    or rate (order does not matter); a default changed when its name did.
    """
    return SoundDeviceChanges(
        sorted(old.devices) != sorted(new.devices),
        old.default_input != new.default_input,
        old.default_output != new.default_output,
    )


cdef str _pa_error(PaError code):
    return Pa_GetErrorText(code).decode("utf-8", "replace")


cdef class AudioMixer


cdef class _PortAudio:
    """PortAudio's state, which is the process's: initialisation, enumeration, re-initialisation.

    Every PortAudio call from Python holds ``lock``. ``users`` are the mixers that asked for a
    PortAudio device: a re-initialisation closes their devices first and (re)opens them after.
    """

    cdef readonly object lock
    cdef readonly bint initialised
    cdef readonly object users
    cdef readonly int initialisations

    def __cinit__(self):
        self.lock = threading.RLock()
        self.users = weakref.WeakSet()

    cdef int ensure(self) except -1:
        cdef PaError err
        if self.initialised:
            return 0
        # PortAudio's JACK host API would otherwise try to start a JACK server.
        os.environ.setdefault("JACK_NO_START_SERVER", "1")
        # ALSA and JACK print pages of probing errors on a machine without sound hardware; they are
        # kept off stderr unless SIPSIMPLE_AUDIO_VERBOSE is set (the outcome is reported anyway).
        cdef int verbose = 1 if os.environ.get("SIPSIMPLE_AUDIO_VERBOSE") else 0
        with nogil:
            err = media_padev_initialize(verbose)
        if err != paNoError:
            raise SIPCoreError(f"Could not initialise PortAudio: {_pa_error(err)}")
        self.initialised = True
        self.initialisations += 1
        return 0

    cdef str _name(self, PaDeviceIndex index):
        cdef const PaDeviceInfo *info = Pa_GetDeviceInfo(index)
        return None if info == NULL else info.name.decode("utf-8", "replace")

    def scan(self):
        """The devices PortAudio knows now (:class:`SoundDeviceScan`)."""
        cdef PaDeviceIndex count, index
        cdef const PaDeviceInfo *info
        cdef const PaHostApiInfo *api
        with self.lock:
            self.ensure()
            devices = []
            count = Pa_GetDeviceCount()
            for index in range(max(count, 0)):
                info = Pa_GetDeviceInfo(index)
                if info == NULL:
                    continue
                api = Pa_GetHostApiInfo(info.hostApi)
                devices.append(SoundDevice(
                    info.name.decode("utf-8", "replace"),
                    api.name.decode("utf-8", "replace") if api != NULL else "",
                    info.maxInputChannels,
                    info.maxOutputChannels,
                    info.defaultSampleRate,
                ))
            default_input = Pa_GetDefaultInputDevice()
            default_output = Pa_GetDefaultOutputDevice()
            return SoundDeviceScan(
                tuple(devices),
                self._name(default_input) if default_input != paNoDevice else None,
                self._name(default_output) if default_output != paNoDevice else None,
            )

    cdef tuple find(self, str name, bint input):
        """``(index, None)`` of the device to open, or ``(-1, reason)``.

        A name that no device has means the default device (as in the reference SDK).
        """
        cdef PaDeviceIndex count, index
        cdef const PaDeviceInfo *info
        direction = "input" if input else "output"
        self.ensure()
        if name != SYSTEM_DEFAULT_DEVICE:
            count = Pa_GetDeviceCount()
            for index in range(max(count, 0)):
                info = Pa_GetDeviceInfo(index)
                if info != NULL and info.name.decode("utf-8", "replace") == name:
                    if (info.maxInputChannels if input else info.maxOutputChannels) > 0:
                        return (index, None)
            log.warning("there is no %s device named %r: using the default one", direction, name)
        index = Pa_GetDefaultInputDevice() if input else Pa_GetDefaultOutputDevice()
        if index == paNoDevice:
            if name == SYSTEM_DEFAULT_DEVICE:
                return (-1, f"there is no default {direction} device")
            return (-1, f"there is no {direction} device named {name!r} and no default {direction} device")
        return (index, None)

    cdef bint has_devices(self):
        return self.initialised and Pa_GetDeviceCount() > 0

    def reinitialise(self):
        """Closes the mixers' devices, re-initialises PortAudio (a fresh device scan), reopens them.

        Returns the new :class:`SoundDeviceScan`. The mixers keep ticking on their clock thread
        meanwhile; a device that is gone falls back to the null device (AudioMixerDeviceDidFail).
        """
        cdef AudioMixer mixer
        cdef PaError err
        with self.lock:
            suspended = [(mixer, mixer._suspend_portaudio()) for mixer in list(self.users)]
            if self.initialised:
                with nogil:
                    Pa_Terminate()
                self.initialised = False
            try:
                scan = self.scan()
            finally:
                for mixer, was_running in suspended:
                    mixer._resume_portaudio(was_running)
            return scan


    def shutdown(self):
        """At exit: stops and closes the mixers' devices, then terminates PortAudio."""
        cdef AudioMixer mixer
        with self.lock:
            for mixer in list(self.users):
                mixer._halt()
                mixer._close_portaudio()
            if self.initialised:
                with nogil:
                    Pa_Terminate()
                self.initialised = False


cdef _PortAudio _portaudio = _PortAudio()
atexit.register(_portaudio.shutdown)


def sound_devices():
    """The sound devices PortAudio knows now (:class:`SoundDeviceScan`; initialises PortAudio)."""
    return _portaudio.scan()


def _portaudio_enumerate(bint rescan):
    return _portaudio.reinitialise() if rescan else _portaudio.scan()


class SoundDeviceManager:
    """The sound device lists, and their refresh when devices come and go (hot-plug).

    PortAudio only sees a new or removed device after it is re-initialised: :meth:`refresh` does
    that (closing and reopening the mixers' devices around it), compares the new scan with the
    previous one and posts, through ``event_queue`` (dispatched on the Twisted thread),
    ``AudioDevicesDidChange`` (data: ``old_devices``, ``new_devices``: lists of device names) and
    ``DefaultAudioDeviceDidChange`` (data: ``changed_input``, ``changed_output``: booleans). Both
    name ``sender`` (the manager when None) as their sender.

    ``enumerate(rescan)`` returns a :class:`SoundDeviceScan`; the default one asks PortAudio
    (re-initialising it when ``rescan`` is true). Tests inject their own.
    """

    def __init__(self, event_queue=None, *, enumerate=None, sender=None):
        self.event_queue = EventQueue() if event_queue is None else event_queue
        self._enumerate = _portaudio_enumerate if enumerate is None else enumerate
        self._sender = sender
        self._pending = {}
        self._serial = 0
        self._source = self.event_queue.register(self)
        self._scan = self._enumerate(False)

    @property
    def scan(self):
        """The last :class:`SoundDeviceScan`."""
        return self._scan

    @property
    def devices(self):
        return list(self._scan.devices)

    @property
    def input_devices(self):
        return self._scan.input_devices

    @property
    def output_devices(self):
        return self._scan.output_devices

    @property
    def default_input_device(self):
        return self._scan.default_input

    @property
    def default_output_device(self):
        return self._scan.default_output

    def refresh(self):
        """Scans the devices again and posts the notifications for what changed.

        Returns the :class:`SoundDeviceChanges`. May be called from any thread; the
        notifications are posted where the event queue is dispatched.
        """
        new = self._enumerate(True)
        old, self._scan = self._scan, new
        changes = compare_sound_device_scans(old, new)
        if changes.devices_changed:
            self._post(MEDIA_EVENT_DEVICE_LIST_CHANGED, "AudioDevicesDidChange",
                       {"old_devices": old.names, "new_devices": new.names})
        if changes.default_input_changed or changes.default_output_changed:
            self._post(MEDIA_EVENT_DEFAULT_DEVICE_CHANGED, "DefaultAudioDeviceDidChange",
                       {"changed_input": changes.default_input_changed,
                        "changed_output": changes.default_output_changed})
        return changes

    def _post(self, int type, str name, dict data):
        self._serial += 1
        serial = self._serial
        self._pending[serial] = (name, data)
        if not self.event_queue.post(type, self._source, serial, 0):
            del self._pending[serial]
            log.warning("the media event queue is full: %s was not posted", name)

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        name, data = self._pending.pop(a, (None, None))
        if name is not None:
            _post_notification(name, self if self._sender is None else self._sender, **data)


# ---------------------------------------------------------------------------------------------
# AudioMixer
# ---------------------------------------------------------------------------------------------

_RESAMPLERS = {
    "auto": MEDIA_MIXER_RESAMPLER_AUTO,
    "speexdsp": MEDIA_MIXER_RESAMPLER_SPEEXDSP,
    "low-delay": MEDIA_MIXER_RESAMPLER_LOW_DELAY,
}


@cython.no_gc_clear
cdef class AudioMixer:
    """A conference mixer: ``slot_count`` slots plus the device's slot 0, at ``sample_rate`` Hz.

    ``frame_time`` is 10 or 20 ms. ``ec_tail_length`` (ms, 0 = off) sizes the echo canceller
    between the device's playback and capture. Events go to ``event_queue`` (a new
    :class:`EventQueue` when None; whoever runs the reactor must watch it, see
    :mod:`sipsimple.core.media.events`). ``resampler``: ``"auto"`` (our polyphase converter for
    small integer rate ratios, linear phase, speexdsp for the others), ``"low-delay"`` (the same
    with minimum-phase filters: about 5 ms less delay per conversion to or from 8 kHz, but the
    phase varies with frequency, so the waveform is not kept) or ``"speexdsp"`` (for every ratio;
    a baseline for benchmarks).
    """

    cdef media_mixer_t *_mixer
    cdef media_clock_t *_clock
    cdef media_port_t _null_port
    cdef media_wav_player_t *_input_file
    cdef media_wav_recorder_t *_output_file
    cdef media_padev_t *_padev
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
    cdef readonly str resampler
    cdef object _requested_input
    cdef object _requested_output
    cdef tuple _pa_names
    cdef int _input_volume
    cdef int _output_volume
    cdef bint _muted
    cdef bint _running
    cdef int64_t _device_generation
    cdef int64_t _failure_serial
    cdef dict _failures
    cdef dict _external
    cdef object __weakref__

    def __cinit__(self, *args, **kwargs):
        self._input_volume = 100
        self._output_volume = 100
        self._external = {}
        self._failures = {}
        self._pa_names = (None, None)

    def __init__(self, input_device, output_device, int sample_rate, int ec_tail_length, int slot_count=254,
                 *, int frame_time=20, event_queue=None, str resampler="auto"):
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
        if resampler not in _RESAMPLERS:
            raise ValueError(f"resampler argument must be one of {', '.join(map(repr, _RESAMPLERS))}")
        if event_queue is None:
            event_queue = EventQueue()
        self._queue = <media_event_queue_t *>PyCapsule_GetPointer(event_queue.capsule, MEDIA_EVENT_QUEUE_CAPSULE)
        self.event_queue = event_queue
        self._source = event_queue.register(self)
        _check(media_mixer_create(sample_rate, frame_time, slot_count, &self._mixer), "Could not create audio mixer")
        media_mixer_set_resampler(self._mixer, _RESAMPLERS[resampler])
        self.resampler = resampler
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
        if self._padev != NULL:
            if _portaudio is not None:
                with _portaudio.lock:
                    with nogil:
                        media_padev_close(self._padev)
            self._padev = NULL
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
        """Selects the devices of slot 0 and the echo canceller's tail (ms).

        A device is None (the null device), ``"file:<path>"`` (a WAV file), ``"system_default"``
        (PortAudio's default device) or the name of a PortAudio device. A file that cannot be
        opened raises :class:`WaveFileError` and changes nothing; a sound device that cannot be
        opened is replaced by the null device and reported with ``AudioMixerDeviceDidFail``
        (through the event queue). Works while the mixer runs: the device's callback, or the
        clock thread when no sound device is open, ticks the mixer.
        """
        cdef media_wav_player_t *new_input = NULL
        cdef media_wav_recorder_t *new_output = NULL
        cdef media_wav_player_t *old_input
        cdef media_wav_recorder_t *old_output
        cdef int status, close_status = WAV_OK, saved_errno = 0
        cdef bytes path
        cdef const char *c_path
        cdef uint32_t frame_ms
        self._require()
        if ec_tail_length < 0:
            raise ValueError("ec_tail_length argument cannot be negative")
        if ec_tail_length > 1000:
            raise ValueError("ec_tail_length argument cannot exceed 1000 (ms)")
        input_kind, input_arg = _device_kind(input_device, "input_device")
        output_kind, output_arg = _device_kind(output_device, "output_device")
        frame_ms = self.frame_time
        with _portaudio.lock:
            if input_kind == "file":
                path = _fs_path(input_arg)
                c_path = path
                with nogil:
                    status = media_wav_player_open(c_path, frame_ms, 1, 0, &new_input, &saved_errno)
                if status != WAV_OK:
                    raise WaveFileError(input_arg, status, saved_errno)
            if output_kind == "file":
                path = _fs_path(output_arg)
                c_path = path
                with nogil:
                    status = media_wav_recorder_open(c_path, self.sample_rate, 1, frame_ms, &new_output,
                                                     &saved_errno)
                if status != WAV_OK:
                    media_wav_player_close(new_input)
                    raise WaveFileError(output_arg, status, saved_errno)
                media_wav_recorder_set_events(new_output, self._queue, self._source, 0)
            self._device_generation += 1
            if new_input != NULL:
                media_wav_player_set_events(new_input, self._queue, self._source, MEDIA_EVENT_DEVICE_INPUT_END,
                                            self._device_generation)
            self._halt()
            self._close_portaudio()
            previous_output = self.output_device
            old_input, old_output = self._input_file, self._output_file
            self._input_file, self._output_file = new_input, new_output
            failures = self._open_portaudio(input_arg if input_kind == "portaudio" else None,
                                            output_arg if output_kind == "portaudio" else None)
            try:
                self._install()
            except BaseException:
                # keep nothing half-done: the null device on both sides
                self._input_file, self._output_file = NULL, NULL
                self._close_portaudio()
                self._install()
                media_wav_player_close(new_input)
                if new_output != NULL:
                    with nogil:
                        media_wav_recorder_close(new_output, &saved_errno)
                self._input_file, self._output_file = old_input, old_output
                self._install()
                raise
            media_wav_player_close(old_input)
            if old_output != NULL:
                with nogil:
                    close_status = media_wav_recorder_close(old_output, &saved_errno)
            self._requested_input = input_device
            self._requested_output = output_device
            if input_kind == "portaudio" or output_kind == "portaudio":
                _portaudio.users.add(self)  # reopened by name after a re-initialisation
            else:
                _portaudio.users.discard(self)
            self.input_finished = False
            self._set_real_devices()
            with nogil:
                status = media_mixer_set_echo_canceller(self._mixer, ec_tail_length)
            _check(status, "Could not set up the echo canceller")
            self.ec_tail_length = ec_tail_length
            if self._running:
                self._go()
        self._report(failures)
        if close_status != WAV_OK:
            raise WaveFileError(_device_kind(previous_output, "output_device")[1], close_status, saved_errno)

    cdef int _set_real_devices(self) except -1:
        """The selected devices as they read back: the names asked for (None for a sound device
        when PortAudio has no device at all, as in the reference SDK), and what is really used."""
        cdef media_padev_t *padev = self._padev
        cdef bint no_devices = not _portaudio.has_devices()
        self.input_device = self._requested_input
        self.output_device = self._requested_output
        if no_devices and _device_kind(self.input_device, "input_device")[0] == "portaudio":
            self.input_device = None
        if no_devices and _device_kind(self.output_device, "output_device")[0] == "portaudio":
            self.output_device = None
        if self._input_file != NULL:
            self.real_input_device = self.input_device
        elif padev != NULL and media_padev_capture_port(padev) != NULL:
            self.real_input_device = self._pa_names[0]
        else:
            self.real_input_device = None
        if self._output_file != NULL:
            self.real_output_device = self.output_device
        elif padev != NULL and media_padev_playback_port(padev) != NULL:
            self.real_output_device = self._pa_names[1]
        else:
            self.real_output_device = None
        return 0

    cdef int _install(self) except -1:
        """Puts the selected file, PortAudio or null ports into slot 0."""
        cdef media_port_t *capture = &self._null_port
        cdef media_port_t *playback = &self._null_port
        cdef int status
        if self._input_file != NULL:
            capture = media_wav_player_port(self._input_file)
        elif self._padev != NULL and media_padev_capture_port(self._padev) != NULL:
            capture = media_padev_capture_port(self._padev)
        if self._output_file != NULL:
            playback = media_wav_recorder_port(self._output_file)
        elif self._padev != NULL and media_padev_playback_port(self._padev) != NULL:
            playback = media_padev_playback_port(self._padev)
        with nogil:
            status = media_mixer_set_device(self._mixer, capture, playback)
        _check(status, "Could not set sound devices")
        return 0

    cdef list _open_portaudio(self, object input_name, object output_name):
        """Opens the PortAudio side(s) asked for; returns the failures, as (direction, name, reason)."""
        cdef media_padev_config_t config
        cdef media_padev_t *padev = NULL
        cdef int err, which = 0
        cdef list failures = []
        if input_name is None and output_name is None:
            return failures
        try:
            _portaudio.ensure()
        except SIPCoreError as e:
            for direction, name in (("input", input_name), ("output", output_name)):
                if name is not None:
                    failures.append((direction, name, str(e)))
            return failures
        input_index, output_index = -1, -1
        if input_name is not None:
            input_index, reason = _portaudio.find(input_name, True)
            if input_index < 0:
                failures.append(("input", input_name, reason))
        if output_name is not None:
            output_index, reason = _portaudio.find(output_name, False)
            if output_index < 0:
                failures.append(("output", output_name, reason))
        memset(&config, 0, sizeof(config))
        config.rate = self.sample_rate
        config.frame = self.samples_per_frame
        config.tick = _clock_tick
        config.tick_arg = self._mixer
        config.events = self._queue
        config.source = self._source
        config.tag = self._device_generation
        while input_index >= 0 or output_index >= 0:
            config.input_device = input_index
            config.output_device = output_index
            with nogil:
                err = media_padev_open(&config, &padev, &which)
            if err == paNoError:
                break
            reason = _pa_error(err)
            if which != MEDIA_PADEV_OUTPUT and input_index >= 0:
                failures.append(("input", input_name, reason))
                input_index = -1
            else:
                failures.append(("output", output_name, reason))
                output_index = -1
        self._padev = padev
        self._pa_names = (_portaudio._name(input_index) if input_index >= 0 else None,
                          _portaudio._name(output_index) if output_index >= 0 else None)
        return failures

    cdef int _close_portaudio(self) except -1:
        """Takes the PortAudio device out of slot 0 and closes it (the other side is kept)."""
        cdef media_padev_t *padev = self._padev
        if padev == NULL:
            return 0
        self._padev = NULL
        try:
            self._install()
        finally:
            with nogil:
                media_padev_close(padev)
        return 0

    cdef int _halt(self) except -1:
        """Stops whatever ticks the mixer (the device's callbacks or the clock thread)."""
        if self._padev != NULL:
            with nogil:
                media_padev_stop(self._padev)
        with nogil:
            media_clock_stop(self._clock)
        return 0

    cdef int _go(self) except -1:
        """Starts ticking: the device's callbacks when a sound device is open, else the clock."""
        cdef int err
        if self._padev != NULL:
            with nogil:
                err = media_padev_start(self._padev)
            if err == paNoError:
                return 0
            reason = _pa_error(err)
            failures = [(direction, name, reason) for direction, name in self._portaudio_sides()]
            self._close_portaudio()
            self._set_real_devices()
            self._report(failures)
        with nogil:
            err = media_clock_start(self._clock)
        if err != 0:
            raise OSError(-err, "Could not start the mixer clock thread")
        return 0

    cdef list _portaudio_sides(self):
        sides = []
        if self._padev != NULL and media_padev_capture_port(self._padev) != NULL:
            sides.append(("input", self._requested_input))
        if self._padev != NULL and media_padev_playback_port(self._padev) != NULL:
            sides.append(("output", self._requested_output))
        return sides

    cdef int _report(self, list failures) except -1:
        for direction, name, reason in failures:
            log.warning("audio mixer %s device %r cannot be used (%s): using the null device", direction, name,
                        reason)
            self._failure_serial += 1
            self._failures[self._failure_serial] = (direction, name, reason)
            if not self.event_queue.post(MEDIA_EVENT_DEVICE_FAILED, self._source, self._failure_serial,
                                         self._device_generation):
                del self._failures[self._failure_serial]
        return 0

    cdef object _suspend_portaudio(self):
        """Before PortAudio is re-initialised: closes the device, ticks on the clock meanwhile."""
        cdef bint was_running = self._running
        if self._padev == NULL:
            return was_running
        self._halt()
        self._close_portaudio()
        if was_running:
            self._go()
        return was_running

    cdef int _resume_portaudio(self, bint was_running) except -1:
        """After PortAudio was re-initialised: reopens the devices asked for (by name)."""
        input_kind, input_arg = _device_kind(self._requested_input, "input_device")
        output_kind, output_arg = _device_kind(self._requested_output, "output_device")
        self._halt()
        self._device_generation += 1
        failures = self._open_portaudio(input_arg if input_kind == "portaudio" else None,
                                        output_arg if output_kind == "portaudio" else None)
        self._install()
        self._set_real_devices()
        if self._running:
            self._go()
        self._report(failures)
        return 0

    @property
    def _device_tag(self):
        """The tag the current devices' events carry (tests)."""
        return self._device_generation

    @property
    def device_statistics(self):
        """The open sound device's counters (None with no PortAudio device).

        ``ticks`` run by its callbacks, ``captured`` and ``played`` samples, ``capture_underruns``
        (frames the mixer got as silence), ``capture_overflows`` (samples dropped),
        ``capture_trimmed`` and ``playback_overflows`` (frames dropped), ``duplex`` (one stream for
        both sides), the channels and the latencies (s) PortAudio reports.
        """
        cdef media_bridge_stats_t stats
        if self._padev == NULL:
            return None
        media_bridge_get_stats(media_padev_bridge(self._padev), &stats)
        return {
            "ticks": stats.ticks,
            "captured": stats.captured,
            "played": stats.played,
            "capture_underruns": stats.capture_underruns,
            "capture_overflows": stats.capture_overflows,
            "capture_trimmed": stats.capture_trimmed,
            "playback_overflows": stats.playback_overflows,
            "duplex": bool(media_padev_duplex(self._padev)),
            "input_channels": media_padev_channels(self._padev, MEDIA_PADEV_INPUT),
            "output_channels": media_padev_channels(self._padev, MEDIA_PADEV_OUTPUT),
            "input_latency": media_padev_latency(self._padev, MEDIA_PADEV_INPUT),
            "output_latency": media_padev_latency(self._padev, MEDIA_PADEV_OUTPUT),
        }

    def _simulate_device(self, callbacks, capture=None, *, int channels=1, bint playback=True,
                         capture_callbacks=None):
        """Drives the mixer as a sound device callback would, on this thread (tests and tools).

        For each size in ``callbacks`` (samples per channel), the next samples of ``capture``
        (int16 bytes, ``channels`` interleaved; None: no capture side) go into the device bridge and,
        with ``playback``, as many samples are taken out of it (else the capture drives the ticks).
        ``capture_callbacks`` gives other sizes for the capture side, step by step (an input
        device on another clock). Slot 0 holds the bridge meanwhile; the selected devices come
        back afterwards. Returns ``(played, statistics)``: the played int16 bytes (None without
        ``playback``) and the bridge's counters.
        """
        cdef media_bridge_t *bridge = NULL
        cdef media_bridge_stats_t stats
        cdef Py_buffer view
        cdef bint have_capture = capture is not None
        cdef const int16_t *captured = NULL
        cdef int16_t *played = NULL
        cdef size_t total = 0, capture_total = 0, i, count, position = 0, capture_position = 0
        cdef uint32_t *sizes
        cdef uint32_t *capture_sizes
        cdef uint32_t ch
        cdef int status
        cdef bytes out = None
        self._require()
        if channels not in (1, 2):
            raise ValueError("channels argument must be 1 or 2")
        if not have_capture and not playback:
            raise ValueError("a simulated device needs a capture or a playback side")
        if self.is_running:
            raise SIPCoreInvalidStateError("the mixer is running")
        sizes_list = [int(size) for size in callbacks]
        capture_list = sizes_list if capture_callbacks is None else [int(size) for size in capture_callbacks]
        if len(capture_list) != len(sizes_list):
            raise ValueError("capture_callbacks must have one size per callback")
        if any(size < 0 for size in sizes_list + capture_list):
            raise ValueError("callback sizes cannot be negative")
        count = len(sizes_list)
        total = sum(sizes_list)
        capture_total = sum(capture_list)
        ch = channels
        sizes = <uint32_t *>malloc((2 * count if count > 0 else 1) * sizeof(uint32_t))
        if sizes == NULL:
            raise MemoryError()
        capture_sizes = sizes + count
        for i in range(count):
            sizes[i] = sizes_list[i]
            capture_sizes[i] = capture_list[i]
        if have_capture:
            PyObject_GetBuffer(capture, &view, PyBUF_SIMPLE)
        try:
            if have_capture and <size_t>view.len < capture_total * ch * 2:
                raise ValueError(f"capture holds fewer than the {capture_total} samples the callbacks take")
            if have_capture:
                captured = <const int16_t *>view.buf
            if playback:
                out = PyBytes_FromStringAndSize(NULL, total * channels * 2)
                played = <int16_t *>PyBytes_AS_STRING(out)
            status = media_bridge_create(self.sample_rate, self.samples_per_frame, _clock_tick, self._mixer, &bridge)
            if status != 0:
                raise MemoryError("could not create a device bridge")
            media_bridge_reset(bridge, have_capture and playback)
            with nogil:
                status = media_mixer_set_device(
                    self._mixer,
                    media_bridge_capture_port(bridge) if have_capture else &self._null_port,
                    media_bridge_playback_port(bridge) if playback else &self._null_port)
            _check(status, "Could not set the simulated device")
            try:
                with nogil:
                    for i in range(count):
                        if have_capture:
                            media_bridge_capture(bridge, captured + capture_position * ch, ch, capture_sizes[i])
                            capture_position += capture_sizes[i]
                        if playback:
                            media_bridge_playback(bridge, played + position * ch, ch, sizes[i])
                        else:
                            media_bridge_pump(bridge)
                        position += sizes[i]
            finally:
                self._install()
            media_bridge_get_stats(bridge, &stats)
        finally:
            if have_capture:
                PyBuffer_Release(&view)
            free(sizes)
            media_bridge_destroy(bridge)
        return out, {
            "ticks": stats.ticks,
            "captured": stats.captured,
            "played": stats.played,
            "capture_underruns": stats.capture_underruns,
            "capture_overflows": stats.capture_overflows,
            "capture_trimmed": stats.capture_trimmed,
            "playback_overflows": stats.playback_overflows,
        }

    def reset_ec(self):
        """Forgets what the echo canceller has learnt (after the echo path changed)."""
        self._require()
        with nogil:
            media_mixer_reset_echo_canceller(self._mixer)

    # clock ---------------------------------------------------------------------------------

    def start(self):
        """Starts ticking the mixer once per frame (no-op when running).

        The sound device's callback ticks it when a PortAudio device is open; else the native
        clock thread does.
        """
        self._require()
        with _portaudio.lock:  # not while a refresh closes and reopens the devices
            if self._running and self.is_running:
                return
            self._running = True
            try:
                self._go()
            except BaseException:
                self._running = False
                raise

    def stop(self):
        """Stops ticking; returns once the last tick has finished."""
        with _portaudio.lock:
            self._running = False
            if self._clock != NULL:
                self._halt()

    @property
    def is_running(self):
        if self._clock == NULL:
            return False
        return media_clock_running(self._clock) != 0 or (self._padev != NULL and media_padev_running(self._padev) != 0)

    @property
    def _shortcuts(self):
        """Whether the mixer takes its shortcuts (csrc/mixer.c: one-source sinks, unheard sources
        not converted, conversions shared per source and rate). Off gives the same samples the
        general way: for tests and benchmarks."""
        self._require()
        return media_mixer_shortcuts(self._mixer) != 0

    @_shortcuts.setter
    def _shortcuts(self, bint on):
        self._require()
        with nogil:
            media_mixer_set_shortcuts(self._mixer, on)

    def tick(self, int count=1):
        """Runs ``count`` ticks now, on this thread (tests and tools; not while the mixer runs)."""
        cdef int i
        self._require()
        if count < 0:
            raise ValueError("count cannot be negative")
        if self.is_running:
            raise SIPCoreInvalidStateError("the mixer's clock thread or sound device is running")
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
        """Counters: ticks (all), clock_ticks, overruns, underruns, get_errors, put_errors, resample_short,
        and the shortcuts taken: unheard_frames (source frames not converted: nobody heard them),
        shared_frames (sink frames another sink's conversion served), batched_frames (decodes and
        encodes the ports left in the tick's batch, for codecs with a batch form)."""
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
            "unheard_frames": stats.unheard_frames,
            "shared_frames": stats.shared_frames,
            "batched_frames": stats.batched_frames,
        }

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if type == MEDIA_EVENT_DEVICE_INPUT_END and b == self._device_generation:
            self.input_finished = True
        elif type == MEDIA_EVENT_RECORDER_ERROR:
            log.warning("audio mixer output device %r stopped writing: %s", self.output_device, os.strerror(a))
        elif type == MEDIA_EVENT_DEVICE_FAILED:
            failure = self._failures.pop(a, None)
            if failure is not None:
                direction, device, reason = failure
                _post_notification("AudioMixerDeviceDidFail", self, direction=direction, device=device, error=reason)
        elif type == MEDIA_EVENT_DEVICE_STOPPED and b == self._device_generation and self._padev != NULL:
            # the device stopped by itself (unplugged, host error): go on with the null device
            with _portaudio.lock:
                sides = self._portaudio_sides()
                self._halt()
                self._close_portaudio()
                self._set_real_devices()
                if self._running:
                    self._go()
            for direction, device in sides:
                log.warning("audio mixer %s device %r stopped: using the null device", direction, device)
                _post_notification("AudioMixerDeviceDidFail", self, direction=direction, device=device,
                                   error="the sound device stopped working")


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

    cdef void _detach_quietly(self):
        """Leave the mixer from ``__dealloc__``: a failure is logged, never raised."""
        if self._slot != -1:
            try:
                self._detach()
            except Exception:
                log.exception("could not remove %r from its mixer", self)

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
        self._detach_quietly()
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
        self._detach_quietly()
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
        self._detach_quietly()
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
        self._detach_quietly()
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
        self._detach_quietly()
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
# Resampler
# ---------------------------------------------------------------------------------------------

_RESAMPLER_ENGINES = ("auto", "polyphase", "minimum-phase", "speexdsp")


@cython.no_gc_clear
cdef class Resampler:
    """Converts mono int16 audio from ``in_rate`` to ``out_rate``, ``in_frame`` samples at a time.

    The mixer's converters, usable on their own (tests, tools, benchmarks). ``engine``:
    ``"polyphase"`` (ours, csrc/resample.c: small integer ratios only, ValueError otherwise;
    linear phase), ``"minimum-phase"`` (ours with minimum-phase filters, the mixer's
    ``"low-delay"``), ``"speexdsp"`` (speexdsp at the mixer's quality, any ratio) or ``"auto"``
    (the first that takes the ratio, as the mixer chooses). The filter keeps its history between calls, so a
    signal cut into frames converts as if it were whole.
    """

    cdef media_resampler_t *_polyphase
    cdef SpeexResamplerState *_speex
    cdef readonly int in_rate
    cdef readonly int out_rate
    cdef readonly int in_frame
    cdef readonly int out_frame
    cdef readonly str engine

    def __init__(self, int in_rate, int out_rate, int in_frame, *, str engine="auto"):
        cdef int err = 0
        if self._polyphase != NULL or self._speex != NULL:
            raise SIPCoreError("Resampler.__init__() was already called")
        if engine not in _RESAMPLER_ENGINES:
            raise ValueError(f"engine argument must be one of {', '.join(map(repr, _RESAMPLER_ENGINES))}")
        for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
            if not <int>MEDIA_PORT_MIN_RATE <= rate <= <int>MEDIA_PORT_MAX_RATE:
                raise ValueError(f"{name} argument must be {MEDIA_PORT_MIN_RATE}..{MEDIA_PORT_MAX_RATE} Hz")
        if in_rate == out_rate:
            raise ValueError("in_rate and out_rate are the same: there is nothing to convert")
        if in_frame <= 0 or <int64_t>in_frame * out_rate % in_rate:
            raise ValueError("in_frame argument must be a positive number of samples that converts to whole samples")
        if engine == "auto":
            engine = "polyphase" if media_resampler_supports(in_rate, out_rate) else "speexdsp"
        if engine in ("polyphase", "minimum-phase"):
            if not media_resampler_supports(in_rate, out_rate):
                raise ValueError(f"the {engine} engine does not convert {in_rate} Hz to {out_rate} Hz")
            err = media_resampler_create_ex(in_rate, out_rate, in_frame, engine == "minimum-phase",
                                            &self._polyphase)
            if err == -errno.ENOMEM:
                raise MemoryError("could not create a resampler")
            if err != 0:
                raise ValueError(f"the {engine} engine cannot convert frames of {in_frame} samples at {in_rate} Hz")
        else:
            self._speex = speex_resampler_init(1, in_rate, out_rate, SPEEX_RESAMPLER_QUALITY_VOIP, &err)
            if self._speex == NULL:
                raise MemoryError("could not create a resampler")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self.in_frame = in_frame
        self.out_frame = <int>(<int64_t>in_frame * out_rate // in_rate)
        self.engine = engine

    def __dealloc__(self):
        media_resampler_destroy(self._polyphase)
        self._polyphase = NULL
        if self._speex != NULL:
            speex_resampler_destroy(self._speex)
            self._speex = NULL

    cdef int _require(self) except -1:
        if self._polyphase == NULL and self._speex == NULL:
            raise SIPCoreError("Resampler.__init__() was not called")
        return 0

    @property
    def delay(self):
        """Group delay, in input samples (how far the output lags behind the input): at DC for our
        minimum-phase converter (more towards the passband edge), speexdsp's input latency otherwise."""
        cdef media_resampler_info_t info
        self._require()
        if self._polyphase != NULL:
            media_resampler_get_info(self._polyphase, &info)
            return info.delay
        return float(speex_resampler_get_input_latency(self._speex))

    @property
    def design(self):
        """The polyphase filter's stages (None for speexdsp): a list of dicts with ``up``,
        ``down``, ``taps`` (per phase), ``shift`` (2**shift is unity), ``half`` (taps in the first of
        the two partial sums) and ``phases`` (the int16 taps of each phase, newest sample first:
        output ``k`` is ``sum(phases[k*down % up][j] * x[k*down // up - j])``), plus the
        multiply-adds a frame costs in ``macs_per_frame`` of the first entry."""
        cdef media_resampler_info_t info
        cdef uint32_t i, j, p, taps
        cdef int16_t buffer[2048]
        self._require()
        if self._polyphase == NULL:
            return None
        media_resampler_get_info(self._polyphase, &info)
        stages = []
        for i in range(info.stages):
            taps = info.taps[i]
            phases = []
            for p in range(info.up[i]):
                media_resampler_get_phase(self._polyphase, i, p, buffer)
                phases.append(tuple(buffer[j] for j in range(taps)))
            stages.append({"up": info.up[i], "down": info.down[i], "taps": taps, "shift": info.shift[i],
                           "half": info.half[i], "phases": tuple(phases)})
        stages[0]["macs_per_frame"] = info.macs_per_frame
        return stages

    def process(self, pcm):
        """Converts whole frames (int16 bytes-like, a multiple of ``in_frame`` samples) to bytes."""
        cdef Py_buffer view
        cdef size_t frames, i
        cdef uint32_t in_len, out_len
        cdef const int16_t *source
        cdef int16_t *target
        cdef bytes out
        self._require()
        PyObject_GetBuffer(pcm, &view, PyBUF_SIMPLE)
        try:
            if view.len % (2 * self.in_frame):
                raise ValueError(f"pcm must hold whole frames of {self.in_frame} int16 samples")
            frames = view.len // (2 * self.in_frame)
            out = PyBytes_FromStringAndSize(NULL, frames * self.out_frame * 2)
            source = <const int16_t *>view.buf
            target = <int16_t *>PyBytes_AS_STRING(out)
            with nogil:
                for i in range(frames):
                    if self._polyphase != NULL:
                        media_resampler_process(self._polyphase, source + i * self.in_frame,
                                                target + i * self.out_frame)
                    else:
                        in_len = self.in_frame
                        out_len = self.out_frame
                        speex_resampler_process_int(self._speex, 0, source + i * self.in_frame, &in_len,
                                                    target + i * self.out_frame, &out_len)
                        if out_len < <uint32_t>self.out_frame:
                            memset(target + i * self.out_frame + out_len, 0,
                                   (self.out_frame - out_len) * sizeof(int16_t))
        finally:
            PyBuffer_Release(&view)
        return out

    def skip(self, pcm):
        """Takes whole frames into the filter's history without converting them (our converter
        only): what follows converts exactly as if they had been processed. What the mixer does
        with a source nobody hears."""
        cdef Py_buffer view
        cdef size_t frames, i
        cdef const int16_t *source
        self._require()
        if self._polyphase == NULL:
            raise ValueError("only the polyphase engines can skip frames")
        PyObject_GetBuffer(pcm, &view, PyBUF_SIMPLE)
        try:
            if view.len % (2 * self.in_frame):
                raise ValueError(f"pcm must hold whole frames of {self.in_frame} int16 samples")
            frames = view.len // (2 * self.in_frame)
            source = <const int16_t *>view.buf
            with nogil:
                for i in range(frames):
                    media_resampler_skip(self._polyphase, source + i * self.in_frame)
        finally:
            PyBuffer_Release(&view)

    def reset(self):
        """Forgets the history: the next frame starts from silence."""
        self._require()
        if self._polyphase != NULL:
            media_resampler_reset(self._polyphase)
        else:
            speex_resampler_reset_mem(self._speex)


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
