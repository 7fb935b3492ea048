# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Audio codecs of the media engine: the Python face of the C codec layer (csrc/codec.h).

The codecs themselves are C (csrc/): PCMU, PCMA and G.722 are our own, GSM wraps libgsm,
Speex libspeex and Opus libopus. The mixer and the RTP stream call them from native threads
through the C table; this module lists them, wraps one codec state in an :class:`Encoder` or a
:class:`Decoder` (the GIL is released while C runs), and hands the C table to other extensions
in capsules (``_C_API`` for the whole interface, :func:`codec_capsule` for one codec).

PCM is bytes of native-endian signed 16-bit samples, channels interleaved. Every C status goes
through one check that raises :class:`MediaCodecError`.
"""

from collections import namedtuple

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_New
from cpython.pythread cimport (
    PyThread_acquire_lock,
    PyThread_allocate_lock,
    PyThread_free_lock,
    PyThread_release_lock,
    PyThread_type_lock,
    WAIT_LOCK,
)
from libc.stdint cimport int16_t, int64_t, uint8_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from sipsimple.core.media.pxd cimport gsm, opus, spandsp, speex
from sipsimple.core.media.pxd.media_codec cimport *

from sipsimple.core._errors import SIPCoreError

__all__ = [
    "CODEC_CAPSULE_NAME",
    "CodecInfo",
    "Decoder",
    "EDIRECTION",
    "EFMTP",
    "EFRAME",
    "EINVAL",
    "ECORRUPT",
    "ELIBRARY",
    "ENOMEM",
    "ENOSPACE",
    "Encoder",
    "MediaCodecError",
    "available_codecs",
    "codec_capsule",
    "find_codec",
    "library_versions",
]

EINVAL = MEDIA_CODEC_EINVAL
EFRAME = MEDIA_CODEC_EFRAME
ENOSPACE = MEDIA_CODEC_ENOSPACE
ECORRUPT = MEDIA_CODEC_ECORRUPT
ENOMEM = MEDIA_CODEC_ENOMEM
EDIRECTION = MEDIA_CODEC_EDIRECTION
ELIBRARY = MEDIA_CODEC_ELIBRARY
EFMTP = MEDIA_CODEC_EFMTP

_STATUS_NAMES = {
    EINVAL: "EINVAL",
    EFRAME: "EFRAME",
    ENOSPACE: "ENOSPACE",
    ECORRUPT: "ECORRUPT",
    ENOMEM: "ENOMEM",
    EDIRECTION: "EDIRECTION",
    ELIBRARY: "ELIBRARY",
    EFMTP: "EFMTP",
}

CODEC_CAPSULE_NAME = MEDIA_CODEC_CAPSULE.decode("ascii")


class MediaCodecError(SIPCoreError):
    """A codec refused: bad parameters, a PCM length that is no frame size, a corrupt payload...

    ``status`` is the negative C status (one of the module's ``E*`` constants), ``name`` its
    name and ``reason`` what went wrong.
    """

    def __init__(self, status, reason=None):
        self.status = status
        self.name = _STATUS_NAMES.get(status, "EUNKNOWN")
        self.reason = reason if reason is not None else media_codec_strerror(status).decode("ascii")
        SIPCoreError.__init__(self, f"{self.reason} ({self.name})")


cdef int check(int status, str context=None) except -1:
    """The one place C statuses become exceptions; returns the (non-negative) status."""
    if status < 0:
        reason = media_codec_strerror(status).decode("ascii")
        raise MediaCodecError(status, f"{context}: {reason}" if context else reason)
    return status


CodecInfo = namedtuple(
    "CodecInfo",
    [
        "name",
        "payload_type",
        "static_payload_type",
        "clock_rate",
        "rtp_clock_rate",
        "channels",
        "frame_durations",
        "frame_quantum",
    ],
)
CodecInfo.__doc__ = (
    "One codec: SDP encoding name, RTP payload type (static, or our default dynamic one), PCM "
    "clock rate, RTP clock rate, rtpmap channel count, supported packet durations in ms, and the "
    "PCM sample multiple encode() takes at the codec's clock rate (0: exactly one duration)."
)


cdef object info_of(const media_codec *codec):
    durations = []
    cdef int i
    for i in range(MEDIA_CODEC_MAX_DURATIONS):
        if codec.frame_durations_us[i] == 0:
            break
        durations.append(codec.frame_durations_us[i] / 1000.0)
    return CodecInfo(
        codec.name.decode("ascii"),
        codec.payload_type,
        bool(codec.static_payload_type),
        codec.clock_rate,
        codec.rtp_clock_rate,
        codec.rtp_channels,
        tuple(durations),
        codec.frame_quantum,
    )


cdef const media_codec *lookup(name, unsigned clock_rate) except NULL:
    if not isinstance(name, str):
        raise TypeError(f"codec name must be str, not {type(name).__name__}")
    cdef bytes encoded = name.encode("ascii", "replace")
    cdef const media_codec *codec = media_codec_find(encoded, clock_rate)
    if codec == NULL:
        suffix = f"/{clock_rate}" if clock_rate else ""
        raise MediaCodecError(MEDIA_CODEC_EINVAL, f"no codec {name}{suffix}")
    return codec


def available_codecs():
    """Every codec this build has, in the registry's order, as :class:`CodecInfo`."""
    return [info_of(media_codec_at(i)) for i in range(media_codec_count())]


def find_codec(name, clock_rate=0):
    """The :class:`CodecInfo` for an SDP encoding name (case-insensitive) and clock rate (PCM or
    RTP rate; 0 takes the first of that name). Raises MediaCodecError (EINVAL) if there is none."""
    return info_of(lookup(name, clock_rate))


def codec_capsule(name, clock_rate=0):
    """A PyCapsule named :data:`CODEC_CAPSULE_NAME` holding the codec's ``const media_codec *``.

    For extensions that hold a codec choice made in Python: ``PyCapsule_GetPointer(capsule,
    MEDIA_CODEC_CAPSULE)``. The table lives as long as this module (for the process).
    """
    return PyCapsule_New(<void *>lookup(name, clock_rate), MEDIA_CODEC_CAPSULE, NULL)


def library_versions():
    """The versions of the codec libraries this module runs with."""
    cdef const char *speex_version = NULL
    speex.speex_lib_ctl(speex.SPEEX_LIB_GET_VERSION_STRING, &speex_version)
    return {
        "opus": opus.opus_get_version_string().decode("ascii", "replace"),
        "speex": speex_version.decode("ascii", "replace") if speex_version != NULL else "",
        "gsm": f"{gsm.GSM_MAJOR}.{gsm.GSM_MINOR}.{gsm.GSM_PATCHLEVEL}",
        "spandsp": spandsp.SPANDSP_RELEASE_DATETIME_STRING.decode("ascii", "replace"),
    }


cdef int _optional(object value, int default) except? -2:
    if value is None:
        return default
    if isinstance(value, bool):
        return 1 if value else 0
    return value


cdef class _CodecState:
    """One C codec state (one direction), used by one thread at a time (a lock serialises)."""

    cdef media_codec_state *state
    cdef const media_codec *codec
    cdef PyThread_type_lock lock
    cdef readonly object info

    def __cinit__(self, *args, **kwargs):
        self.state = NULL
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.state != NULL:
            media_codec_destroy(self.state)
            self.state = NULL
        if self.lock != NULL:
            PyThread_free_lock(self.lock)
            self.lock = NULL

    cdef _create(self, name, clock_rate, unsigned flags, fmtp, channels, sample_rate, options):
        self.codec = lookup(name, clock_rate)
        self.info = info_of(self.codec)
        cdef media_codec_params params
        media_codec_params_init(&params, flags)
        cdef bytes fmtp_bytes
        if fmtp:
            fmtp_bytes = fmtp.encode("ascii") if isinstance(fmtp, str) else bytes(fmtp)
            check(media_codec_apply_fmtp(self.codec, &params, fmtp_bytes, len(fmtp_bytes)), f"fmtp {fmtp!r}")
        params.channels = _optional(channels, params.channels)
        params.sample_rate = _optional(sample_rate, params.sample_rate)
        params.bitrate = _optional(options.get("bitrate"), params.bitrate)
        params.complexity = _optional(options.get("complexity"), params.complexity)
        params.fec = _optional(options.get("fec"), params.fec)
        params.dtx = _optional(options.get("dtx"), params.dtx)
        params.cbr = _optional(options.get("cbr"), params.cbr)
        params.packet_loss = _optional(options.get("packet_loss"), params.packet_loss)
        params.mode = _optional(options.get("mode"), params.mode)
        cdef media_codec_state *state = NULL
        check(media_codec_create(self.codec, &params, &state), f"cannot create a {self.info.name} state")
        self.state = state

    cdef int _require(self) except -1:
        if self.state == NULL:
            raise TypeError(f"{type(self).__name__} was not initialised")
        return 0

    @property
    def name(self):
        """The SDP encoding name."""
        self._require()
        return self.info.name

    @property
    def sample_rate(self):
        """The PCM rate of this state (the codec's clock rate, or what Opus was asked for)."""
        self._require()
        return self.state.sample_rate

    @property
    def channels(self):
        """PCM channels (interleaved)."""
        self._require()
        return self.state.channels

    @property
    def frame_quantum(self):
        """PCM takes a multiple of this many samples per channel (Opus: one frame duration)."""
        self._require()
        return self.state.frame_quantum

    def samples_for(self, duration_ms):
        """Samples per channel in ``duration_ms`` of PCM at this state's rate."""
        self._require()
        samples = duration_ms * self.state.sample_rate / 1000
        if samples != int(samples):
            raise ValueError(f"{duration_ms} ms is not a whole number of samples at {self.state.sample_rate} Hz")
        return int(samples)


cdef class Encoder(_CodecState):
    """Encodes PCM into RTP payloads.

    ``Encoder(name, clock_rate=0, *, fmtp=None, channels=None, sample_rate=None, bitrate=None,
    complexity=None, fec=None, dtx=None, cbr=None, packet_loss=None, mode=None)``: ``fmtp`` is the
    remote party's fmtp for this payload type (what it wants to receive); keywords given
    explicitly override it. ``sample_rate`` other than the codec's clock rate and ``channels=2``
    are for Opus only.
    """

    def __init__(self, name, clock_rate=0, *, fmtp=None, channels=None, sample_rate=None, **options):
        unknown = set(options) - {"bitrate", "complexity", "fec", "dtx", "cbr", "packet_loss", "mode"}
        if unknown:
            raise TypeError(f"unexpected keyword arguments {sorted(unknown)}")
        if self.state != NULL:
            raise TypeError("Encoder is already initialised")
        self._create(name, clock_rate, MEDIA_CODEC_ENCODER, fmtp, channels, sample_rate, options)

    def encode(self, pcm):
        """One packet's payload for ``pcm`` (bytes-like, int16 samples, a frame size of the codec)."""
        cdef Py_buffer view
        cdef const int16_t *samples
        cdef void *aligned = NULL
        self._require()
        cdef size_t frame_bytes = 2 * self.state.channels
        cdef size_t n, cap
        cdef bytes out
        cdef uint8_t *target
        cdef int status
        PyObject_GetBuffer(pcm, &view, PyBUF_SIMPLE)
        try:
            if <size_t>view.len % frame_bytes:
                check(MEDIA_CODEC_EFRAME, f"{view.len} bytes are not whole {self.state.channels}-channel int16 samples")
            n = <size_t>view.len // frame_bytes
            samples = <const int16_t *>view.buf
            if <uintptr_t>view.buf & 1:
                aligned = malloc(view.len if view.len else 1)
                if aligned == NULL:
                    raise MemoryError()
                memcpy(aligned, view.buf, view.len)
                samples = <const int16_t *>aligned
            cap = self.codec.encoded_bound(self.state, n)
            out = PyBytes_FromStringAndSize(NULL, cap)
            target = <uint8_t *>PyBytes_AS_STRING(out)
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)
                status = media_codec_encode(self.state, samples, n, target, cap)
                PyThread_release_lock(self.lock)
            check(status, f"{self.info.name} cannot encode {n} samples")
        finally:
            free(aligned)
            PyBuffer_Release(&view)
        return out if <size_t>status == cap else out[:status]


cdef class Decoder(_CodecState):
    """Decodes RTP payloads into PCM, and conceals or recovers lost packets.

    ``Decoder(name, clock_rate=0, *, channels=None, sample_rate=None)``.
    """

    def __init__(self, name, clock_rate=0, *, channels=None, sample_rate=None):
        if self.state != NULL:
            raise TypeError("Decoder is already initialised")
        self._create(name, clock_rate, MEDIA_CODEC_DECODER, None, channels, sample_rate, {})

    def decode(self, payload):
        """The PCM in one RTP payload. A payload that is not one of this codec raises
        MediaCodecError (ECORRUPT); the caller then conceals."""
        cdef Py_buffer view
        cdef size_t cap
        cdef bytes out
        cdef int16_t *pcm
        cdef int status
        self._require()
        cdef size_t frame_bytes = 2 * self.state.channels
        PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE)
        try:
            cap = self.codec.decoded_bound(self.state, <const uint8_t *>view.buf, view.len)
            out = PyBytes_FromStringAndSize(NULL, cap * frame_bytes)
            pcm = <int16_t *>PyBytes_AS_STRING(out)
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)
                status = media_codec_decode(self.state, <const uint8_t *>view.buf, view.len, pcm, cap)
                PyThread_release_lock(self.lock)
            check(status, f"{self.info.name} cannot decode a {view.len}-byte payload")
        finally:
            PyBuffer_Release(&view)
        return out if <size_t>status == cap else out[: status * frame_bytes]

    def conceal(self, samples):
        """``samples`` (per channel) of packet-loss concealment, continuing the decoded audio."""
        cdef size_t n = self._count(samples)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n * 2 * self.state.channels)
        cdef int16_t *pcm = <int16_t *>PyBytes_AS_STRING(out)
        cdef int status
        with nogil:
            PyThread_acquire_lock(self.lock, WAIT_LOCK)
            status = media_codec_conceal(self.state, pcm, n)
            PyThread_release_lock(self.lock)
        check(status, f"{self.info.name} cannot conceal {n} samples")
        return out

    def recover(self, next_payload, samples):
        """``samples`` (per channel) lost just before ``next_payload``, rebuilt from the in-band FEC
        that packet carries (Opus); codecs without FEC conceal. Decode ``next_payload`` after."""
        cdef size_t n = self._count(samples)
        cdef bytes out = PyBytes_FromStringAndSize(NULL, n * 2 * self.state.channels)
        cdef int16_t *pcm = <int16_t *>PyBytes_AS_STRING(out)
        cdef Py_buffer view
        cdef int status
        PyObject_GetBuffer(next_payload, &view, PyBUF_SIMPLE)
        try:
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)
                status = media_codec_recover(self.state, <const uint8_t *>view.buf, view.len, pcm, n)
                PyThread_release_lock(self.lock)
            check(status, f"{self.info.name} cannot recover {n} samples")
        finally:
            PyBuffer_Release(&view)
        return out

    cdef size_t _count(self, samples) except? 0:
        self._require()
        if samples <= 0:
            check(MEDIA_CODEC_EFRAME, f"cannot conceal {samples} samples")
        if samples > 10 * self.state.sample_rate:
            check(MEDIA_CODEC_EINVAL, f"{samples} samples is more than 10 s")
        return samples


_C_API = PyCapsule_New(<void *>&media_codec_api_table, MEDIA_CODEC_API_CAPSULE, NULL)


cdef int64_t _now_ns() noexcept nogil:
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return <int64_t>now.tv_sec * 1000000000 + now.tv_nsec


def _time_codec(name, clock_rate, pcm, frame_samples, iterations):
    """For benchmarks/media_codecs.py: nanoseconds spent in C encoding ``iterations`` frames of
    ``frame_samples`` (taken in turn from ``pcm``, mono int16 bytes), then decoding as many
    packets, with the GIL released and no Python in either loop. Returns (encode_ns, decode_ns)."""
    cdef const media_codec *codec = lookup(name, clock_rate)
    cdef media_codec_params params
    cdef media_codec_state *state = NULL
    cdef bytes source = bytes(pcm)
    cdef const int16_t *samples = <const int16_t *>PyBytes_AS_STRING(source)
    cdef size_t frame = frame_samples, frames = len(source) // 2 // frame_samples
    cdef size_t count = iterations, i, slot
    cdef size_t packet_room = 4096
    cdef uint8_t *packets = NULL
    cdef int *sizes = NULL
    cdef int16_t *decoded = NULL
    cdef int status = 0
    cdef int64_t start, encode_ns = 0, decode_ns = 0
    if frames == 0 or count == 0:
        raise ValueError("pcm must hold at least one frame, and iterations must be positive")
    media_codec_params_init(&params, MEDIA_CODEC_ENCODER | MEDIA_CODEC_DECODER)
    check(media_codec_create(codec, &params, &state))
    packets = <uint8_t *>malloc(frames * packet_room)
    sizes = <int *>malloc(frames * sizeof(int))
    decoded = <int16_t *>malloc(8 * frame * sizeof(int16_t))
    try:
        if packets == NULL or sizes == NULL or decoded == NULL:
            raise MemoryError()
        with nogil:
            start = _now_ns()
            for i in range(count):
                slot = i % frames
                status = media_codec_encode(state, samples + slot * frame, frame, packets + slot * packet_room, packet_room)
                if status < 0:
                    break
                sizes[slot] = status
            encode_ns = _now_ns() - start
            if status >= 0:
                start = _now_ns()
                for i in range(count):
                    slot = i % frames
                    status = media_codec_decode(state, packets + slot * packet_room, <size_t>sizes[slot], decoded, 8 * frame)
                    if status < 0:
                        break
                decode_ns = _now_ns() - start
        check(status)
    finally:
        free(packets)
        free(sizes)
        free(decoded)
        media_codec_destroy(state)
    return encode_ns, decode_ns


cdef PyThread_type_lock *_ordered_locks(list states) except NULL:
    """The states' locks in the order they are taken (by address: two callers with overlapping
    states cannot deadlock); the caller frees the array."""
    cdef _CodecState state
    cdef PyThread_type_lock *locks
    cdef size_t i
    keys = []
    for state in states:
        state._require()
        keys.append(<uintptr_t>state.lock)
    if len(set(keys)) != len(keys):
        raise ValueError("every job needs its own codec state")
    keys.sort()
    locks = <PyThread_type_lock *>calloc(len(keys) + 1, sizeof(PyThread_type_lock))
    if locks == NULL:
        raise MemoryError()
    for i in range(len(keys)):
        locks[i] = <PyThread_type_lock><void *><uintptr_t>keys[i]
    return locks


cdef void _lock_all(PyThread_type_lock *locks, size_t count) noexcept nogil:
    cdef size_t i
    for i in range(count):
        PyThread_acquire_lock(locks[i], WAIT_LOCK)


cdef void _unlock_all(PyThread_type_lock *locks, size_t count) noexcept nogil:
    cdef size_t i
    for i in range(count):
        PyThread_release_lock(locks[i])


def encode_together(encoders, frames, caps=None):
    """Encodes ``frames[i]`` with ``encoders[i]`` (distinct encoders, codecs may differ), all in one
    media_codec_encode_batch() call with the GIL released: what the mixer does with the streams of
    one tick. Returns, per job in the order given, the payload, or the negative status the job got
    (what ``encode()`` would have raised). ``caps``: the output room per job in bytes (default: the
    codec's bound). For tests and benchmarks."""
    cdef list states = list(encoders), sources = [], outs = []
    cdef size_t count = len(states), i, n, cap
    cdef Encoder encoder
    cdef bytes source, out
    cdef media_codec_encode_job *jobs = NULL
    cdef PyThread_type_lock *locks = NULL
    cdef Py_ssize_t total = len(states)
    if len(frames) != total or (caps is not None and len(caps) != total):
        raise ValueError("one frame (and one cap) per encoder")
    locks = _ordered_locks(states)
    try:
        jobs = <media_codec_encode_job *>calloc(count + 1, sizeof(media_codec_encode_job))
        if jobs == NULL:
            raise MemoryError()
        for i in range(count):
            encoder = states[i]
            source = bytes(memoryview(frames[i]))  # (a bytes object's data is aligned for int16)
            if len(source) % (2 * encoder.state.channels):
                check(MEDIA_CODEC_EFRAME, f"{len(source)} bytes are not whole {encoder.state.channels}-channel int16 samples")
            n = len(source) // (2 * encoder.state.channels)
            cap = encoder.codec.encoded_bound(encoder.state, n) if caps is None else caps[i]
            out = PyBytes_FromStringAndSize(NULL, cap)
            sources.append(source)
            outs.append(out)
            jobs[i].state = encoder.state
            jobs[i].pcm = <const int16_t *>PyBytes_AS_STRING(source)
            jobs[i].n = n
            jobs[i].out = <uint8_t *>PyBytes_AS_STRING(out)
            jobs[i].cap = cap
            jobs[i].result = 0
            jobs[i].user = <void *>i
        with nogil:
            _lock_all(locks, count)
            media_codec_encode_batch(jobs, count)
            _unlock_all(locks, count)
        results = [None] * total
        for i in range(count):
            index = <size_t>jobs[i].user
            results[index] = jobs[i].result if jobs[i].result < 0 else outs[index][: jobs[i].result]
        return results
    finally:
        free(jobs)
        free(locks)


def decode_together(decoders, payloads, caps=None):
    """Decodes ``payloads[i]`` with ``decoders[i]`` (distinct decoders, codecs may differ), all in
    one media_codec_decode_batch() call with the GIL released. Returns, per job in the order given,
    the PCM, or the negative status the job got (what ``decode()`` would have raised). ``caps``:
    the PCM room per job in samples per channel (default: the codec's bound). For tests and
    benchmarks."""
    cdef list states = list(decoders), sources = [], outs = []
    cdef size_t count = len(states), i, cap
    cdef Decoder decoder
    cdef bytes source, out
    cdef media_codec_decode_job *jobs = NULL
    cdef PyThread_type_lock *locks = NULL
    cdef Py_ssize_t total = len(states)
    if len(payloads) != total or (caps is not None and len(caps) != total):
        raise ValueError("one payload (and one cap) per decoder")
    locks = _ordered_locks(states)
    try:
        jobs = <media_codec_decode_job *>calloc(count + 1, sizeof(media_codec_decode_job))
        if jobs == NULL:
            raise MemoryError()
        for i in range(count):
            decoder = states[i]
            source = bytes(memoryview(payloads[i]))
            if caps is None:
                cap = decoder.codec.decoded_bound(decoder.state, <const uint8_t *>PyBytes_AS_STRING(source), len(source))
            else:
                cap = caps[i]
            out = PyBytes_FromStringAndSize(NULL, 2 * cap * decoder.state.channels)
            sources.append(source)
            outs.append(out)
            jobs[i].state = decoder.state
            jobs[i].payload = <const uint8_t *>PyBytes_AS_STRING(source)
            jobs[i].len = len(source)
            jobs[i].pcm = <int16_t *>PyBytes_AS_STRING(out)
            jobs[i].cap = cap
            jobs[i].result = 0
            jobs[i].user = <void *>i
        with nogil:
            _lock_all(locks, count)
            media_codec_decode_batch(jobs, count)
            _unlock_all(locks, count)
        results = [None] * total
        for i in range(count):
            index = <size_t>jobs[i].user
            decoder = states[index]
            result = jobs[i].result
            results[index] = result if result < 0 else outs[index][: 2 * result * decoder.state.channels]
        return results
    finally:
        free(jobs)
        free(locks)


cdef extern from "g722.h" nogil:
    int g722_multi_active()


def _g722_multi_active():
    """Whether G.722 batches run several streams per SIMD pass in this build on this CPU (AVX2 and
    GCC for x86-64), rather than one stream after the other. For tests."""
    return bool(g722_multi_active())


def _time_codec_batch(name, clock_rate, pcm, frame_samples, iterations, streams):
    """For benchmarks/media_codecs.py: like _time_codec, but ``streams`` states at once, each
    iteration one media_codec_encode_batch() of a frame per stream (the streams at different
    places of ``pcm``), then as many media_codec_decode_batch() calls. Returns (encode_ns,
    decode_ns) for all iterations: divide by iterations x streams for one stream-frame."""
    cdef const media_codec *codec = lookup(name, clock_rate)
    cdef media_codec_params params
    cdef bytes source = bytes(pcm)
    cdef const int16_t *samples = <const int16_t *>PyBytes_AS_STRING(source)
    cdef size_t frame = frame_samples, frames = len(source) // 2 // frame_samples
    cdef size_t count = iterations, width = streams, i, s, slot
    cdef size_t packet_room = 4096
    cdef media_codec_state **states = NULL
    cdef media_codec_encode_job *encode_jobs = NULL
    cdef media_codec_decode_job *decode_jobs = NULL
    cdef uint8_t *packets = NULL
    cdef int16_t *decoded = NULL
    cdef int *sizes = NULL
    cdef int status = 0
    cdef int64_t start, encode_ns = 0, decode_ns = 0
    if frames == 0 or count == 0 or width == 0:
        raise ValueError("pcm must hold at least one frame, iterations and streams must be positive")
    media_codec_params_init(&params, MEDIA_CODEC_ENCODER | MEDIA_CODEC_DECODER)
    states = <media_codec_state **>calloc(width, sizeof(media_codec_state *))
    encode_jobs = <media_codec_encode_job *>calloc(width, sizeof(media_codec_encode_job))
    decode_jobs = <media_codec_decode_job *>calloc(width, sizeof(media_codec_decode_job))
    packets = <uint8_t *>malloc(width * frames * packet_room)
    decoded = <int16_t *>malloc(width * 8 * frame * sizeof(int16_t))
    sizes = <int *>calloc(width * frames, sizeof(int))
    try:
        if states == NULL or encode_jobs == NULL or decode_jobs == NULL or packets == NULL or decoded == NULL or sizes == NULL:
            raise MemoryError()
        for s in range(width):
            check(media_codec_create(codec, &params, &states[s]))
        with nogil:
            start = _now_ns()
            for i in range(count):
                for s in range(width):
                    slot = (i + 7 * s) % frames
                    encode_jobs[s].state = states[s]
                    encode_jobs[s].pcm = samples + slot * frame
                    encode_jobs[s].n = frame
                    encode_jobs[s].out = packets + (s * frames + i % frames) * packet_room
                    encode_jobs[s].cap = packet_room
                media_codec_encode_batch(encode_jobs, width)
                for s in range(width):
                    if encode_jobs[s].result < 0:
                        status = encode_jobs[s].result
                    sizes[s * frames + i % frames] = encode_jobs[s].result
            encode_ns = _now_ns() - start
            if status >= 0:
                start = _now_ns()
                for i in range(count):
                    for s in range(width):
                        decode_jobs[s].state = states[s]
                        decode_jobs[s].payload = packets + (s * frames + i % frames) * packet_room
                        decode_jobs[s].len = <size_t>sizes[s * frames + i % frames]
                        decode_jobs[s].pcm = decoded + s * 8 * frame
                        decode_jobs[s].cap = 8 * frame
                    media_codec_decode_batch(decode_jobs, width)
                    for s in range(width):
                        if decode_jobs[s].result < 0:
                            status = decode_jobs[s].result
                decode_ns = _now_ns() - start
        check(status)
    finally:
        if states != NULL:
            for s in range(width):
                media_codec_destroy(states[s])
        free(states)
        free(encode_jobs)
        free(decode_jobs)
        free(packets)
        free(decoded)
        free(sizes)
    return encode_ns, decode_ns
