# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""RTP media streams: the engine's network I/O thread, RTP transports and the audio stream port.

Everything per packet is C (csrc/netio.c, stream_transport.c, stream_audio.c) on native threads
without the GIL: the :class:`IOThread` owns the sockets (epoll) and the RTCP/timeout timers; an
:class:`AudioStreamPort` is a mixer port that encodes and sends on the mixer's thread and decodes
what the jitter buffer gives it. Python configures them and hears back through the media event
queue (:mod:`sipsimple.core.media.events`), as notifications posted on the thread that dispatches it
(each with a ``timestamp``, as in the reference):

* ``RTPTransportDidTimeout`` (``timeout``: seconds, ``packets_received``)
* ``RTPTransportDidChangeRemoteAddress`` (``component``: 1 RTP / 2 RTCP, ``address``, ``port``,
  ``latched``: True when the transport now sends there)
* ``RTPTransportGotSTUN`` (``component``, ``data``, ``address``, ``port``)
* ``AudioStreamPortGotDTMF`` (``digit``: a one-character string or None for other events,
  ``event``, ``duration``: ms, ``ended``: False when the end packets were lost)

See docs/media-stream.md.
"""

import os
import secrets

cimport cython
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.errno cimport EADDRINUSE
from libc.stdint cimport int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from sipsimple.core.media.pxd.capsule cimport owner_capsule
from sipsimple.core.media.pxd.media_codec cimport *
from sipsimple.core.media.pxd.media_events cimport *
from sipsimple.core.media.pxd.media_port cimport *
from sipsimple.core.media.pxd.media_rtp cimport DTMF_E_FULL, dtmf_char_from_event, dtmf_event_from_char
from sipsimple.core.media.pxd.media_stream cimport *
from sipsimple.core.media.pxd.srtp cimport MEDIA_SRTP_API_CAPSULE, MEDIA_SRTP_API_VERSION, MEDIA_SRTP_SESSION_CAPSULE

from sipsimple.core._errors import SIPCoreError, SIPCoreInvalidStateError
from sipsimple.core.media import _codecs
from sipsimple.core.media._events import EventQueue
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.util import ISOTimestamp

__all__ = [
    "DIRECTIONS",
    "EVENT_ADDRESS",
    "EVENT_DTMF",
    "EVENT_NAMES",
    "EVENT_RTCP_BYE",
    "EVENT_RTP_TIMEOUT",
    "EVENT_STUN",
    "AudioStreamPort",
    "IOThread",
    "ManualClock",
    "RTPTransport",
    "RTPTransportError",
    "default_io_thread",
    "is_stun",
]

EVENT_RTP_TIMEOUT = STREAM_EVENT_RTP_TIMEOUT
EVENT_ADDRESS = STREAM_EVENT_ADDRESS
EVENT_STUN = STREAM_EVENT_STUN
EVENT_DTMF = STREAM_EVENT_DTMF
EVENT_RTCP_BYE = STREAM_EVENT_RTCP_BYE
EVENT_NAMES = {
    STREAM_EVENT_RTP_TIMEOUT: "rtp-timeout",
    STREAM_EVENT_ADDRESS: "remote-address",
    STREAM_EVENT_STUN: "stun",
    STREAM_EVENT_DTMF: "dtmf",
    STREAM_EVENT_RTCP_BYE: "rtcp-bye",
}

#: SDP direction attribute -> the C direction (bit 0: send, bit 1: receive)
DIRECTIONS = {
    "sendrecv": STREAM_SENDRECV,
    "sendonly": STREAM_SENDONLY,
    "recvonly": STREAM_RECVONLY,
    "inactive": STREAM_INACTIVE,
}
_DIRECTION_NAMES = {value: name for name, value in DIRECTIONS.items()}
_DTMF_DIGITS = "0123456789*#ABCD"

# Nominal bit rates (bit/s) for the RTCP bandwidth share when the caller gives none.
_NOMINAL_BITRATE = {"pcmu": 64000, "pcma": 64000, "g722": 64000, "gsm": 13200, "speex": 24000, "opus": 32000}

cdef const media_codec_api *_codec_api = <const media_codec_api *>PyCapsule_GetPointer(
    _codecs._C_API, MEDIA_CODEC_API_CAPSULE)
if _codec_api.version != MEDIA_CODEC_API_VERSION:
    raise ImportError("sipsimple.core.media._codecs has another codec API version")


class RTPTransportError(SIPCoreError):
    """A transport could not be created or used; ``errno`` is the OS error when there is one."""

    def __init__(self, message, errno=0):
        SIPCoreError.__init__(self, message)
        self.errno = errno


def _post_notification(name, sender, **attributes):
    data = NotificationData(timestamp=ISOTimestamp.now(), **attributes)
    NotificationCenter().post_notification(name, sender=sender, data=data)


cdef tuple _address_tuple(sockaddr_storage *addr, socklen_t length):
    cdef char host[64]
    cdef int port
    if length == 0:
        return (None, None)
    port = stream_address_parts(addr, host, sizeof(host))
    if port < 0:
        return (None, None)
    return (host.decode("ascii"), port)


cdef socklen_t _make_address(object host, object port, int family, sockaddr_storage *out) except 0:
    cdef socklen_t length
    if not isinstance(host, str):
        raise TypeError(f"address must be a str, not {type(host).__name__}")
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be 0..65535, not {port!r}")
    length = stream_make_address(host.encode("ascii", "replace"), port, family, out)
    if length == 0:
        kind = {AF_INET: "an IPv4", AF_INET6: "an IPv6"}.get(family, "an IP")
        raise ValueError(f"{host!r} is not {kind} address")
    return length


def is_stun(data):
    """The C demultiplexing test of the transports (sipsimple.core.nat.stun.is_stun semantics)."""
    cdef bytes raw = bytes(data)
    return bool(stream_is_stun(<const uint8_t *><char *>raw, len(raw)))


def _benchmark_loopback(unsigned pairs, unsigned rounds, unsigned payload=172):
    """For benchmarks/media_cpu.py: CPU ns of a plain C loop moving the same datagrams over loopback
    (``pairs`` socket pairs, ``rounds`` datagrams each way per pair). Returns (cpu_ns, datagrams)."""
    cdef uint64_t moved = 0
    cdef int64_t result
    with nogil:
        result = stream_bench_loopback(pairs, rounds, payload, &moved)
    if result < 0:
        raise OSError(-result, os.strerror(-result))
    return result, moved


# ---------------------------------------------------------------------------------------------
# Clocks and the I/O thread
# ---------------------------------------------------------------------------------------------

cdef class ManualClock:
    """A clock that moves only when told to: tests and the no-network benchmark inject it.

    Transports and streams built with a manual clock arm no timer on the I/O thread; their owner
    calls ``_service()`` after moving the clock.
    """

    cdef stream_clock_t _clock

    def __cinit__(self, *args, **kwargs):
        self._clock.manual = 1

    def __init__(self, double start=1000.0):
        if start < 0:
            raise ValueError("a clock starts at a time >= 0")
        stream_clock_set(&self._clock, <uint64_t>(start * 1e9))

    @property
    def now(self):
        """Seconds."""
        return stream_clock_now(&self._clock) / 1e9

    @property
    def now_ns(self):
        return stream_clock_now(&self._clock)

    def advance(self, double seconds):
        if seconds < 0:
            raise ValueError("a clock does not go back")
        stream_clock_set(&self._clock, stream_clock_now(&self._clock) + <uint64_t>(seconds * 1e9 + 0.5))


cdef const stream_clock_t *_clock_of(object clock) except? NULL:
    if clock is None:
        return NULL
    if not isinstance(clock, ManualClock):
        raise TypeError("clock must be a ManualClock or None")
    return &(<ManualClock>clock)._clock


@cython.no_gc_clear
cdef class IOThread:
    """The native thread (epoll) that owns the RTP sockets and the streams' timers.

    One per engine. Transports and streams post their events into ``event_queue`` (a new
    :class:`EventQueue` when None); whoever runs the reactor watches it with a
    :class:`~sipsimple.core.media.events.MediaEventReader`.
    """

    cdef netio_t *_io
    cdef readonly object event_queue
    cdef dict _cursors
    cdef object __weakref__

    def __init__(self, event_queue=None):
        cdef int status
        if self._io != NULL:
            raise SIPCoreError("IOThread.__init__() was already called")
        self.event_queue = EventQueue() if event_queue is None else event_queue
        self._cursors = {}
        with nogil:
            status = netio_create(&self._io)
        if status < 0:
            raise OSError(-status, "could not start the RTP I/O thread: " + os.strerror(-status))

    def __dealloc__(self):
        if self._io != NULL:
            with nogil:
                netio_destroy(self._io)
            self._io = NULL

    cdef netio_t *_require(self) except NULL:
        if self._io == NULL:
            raise SIPCoreInvalidStateError("the RTP I/O thread is not running")
        return self._io

    @property
    def is_running(self):
        return self._io != NULL

    def stop(self):
        """Stops and joins the thread. Every transport on it must be closed first."""
        cdef netio_stats_t stats
        if self._io == NULL:
            return
        netio_get_stats(self._io, &stats)
        if stats.handles:
            raise SIPCoreInvalidStateError(f"{stats.handles} RTP sockets or timers are still open on this thread")
        with nogil:
            netio_destroy(self._io)
        self._io = NULL

    @property
    def statistics(self):
        cdef netio_stats_t stats
        if self._io == NULL:
            return {"wakeups": 0, "reads": 0, "timers": 0, "calls": 0, "handles": 0}
        netio_get_stats(self._io, &stats)
        return {"wakeups": stats.wakeups, "reads": stats.reads, "timers": stats.timers, "calls": stats.calls,
                "handles": stats.handles}

    cdef unsigned _cursor(self, tuple key):
        return self._cursors.get(key, 0)

    cdef void _advance(self, tuple key, unsigned used):
        self._cursors[key] = used + 1


_default_io_thread = None


def default_io_thread():
    """The process's IOThread, started on first use (with its own EventQueue)."""
    global _default_io_thread
    if _default_io_thread is None or not _default_io_thread.is_running:
        _default_io_thread = IOThread()
    return _default_io_thread


# ---------------------------------------------------------------------------------------------
# RTPTransport
# ---------------------------------------------------------------------------------------------

cdef tuple _port_range(object port_range):
    if port_range is None:
        return (0, 0)
    if isinstance(port_range, (tuple, list)) and len(port_range) == 2:
        start, end = port_range
    elif isinstance(port_range, str):
        start, _, end = port_range.replace("-", ":").partition(":")
    else:
        start, end = getattr(port_range, "start", None), getattr(port_range, "end", None)
    try:
        start, end = int(start), int(end)
    except (TypeError, ValueError):
        raise ValueError(f"port_range must be a PortRange, (start, end) or None, not {port_range!r}") from None
    if not 1 <= start <= end <= 65535:
        raise ValueError(f"port_range {start}-{end} is not a range of ports")
    return (start, end)


@cython.no_gc_clear
cdef class RTPTransport:
    """The UDP sockets of one RTP stream: an RTP/RTCP pair (even/odd ports) or one rtcp-mux socket.

    ``local_address``: the numeric IPv4 or IPv6 address to bind (None: every IPv4 address).
    ``port_range``: ``SIPSimpleSettings.rtp.port_range`` (a PortRange, ``(start, end)``, ``"start:end"``)
    or None for ports the kernel chooses; ports in use are skipped, once round the range, and a
    full range raises :class:`RTPTransportError`. ``timeout``: seconds without RTP before
    ``RTPTransportDidTimeout`` (0: never; ``rtp.timeout``). ``latching``: symmetric RTP, sending to
    where RTP comes from once ``latch_packets`` packets in a row with one SSRC came from there.
    """

    cdef stream_transport_t *_t
    cdef readonly IOThread io_thread
    cdef readonly object event_queue
    cdef object _clock
    cdef uint64_t _source
    cdef int _family
    cdef readonly bint rtcp_mux
    cdef readonly bint latching
    cdef readonly object local_rtp_address
    cdef readonly object local_rtp_port
    cdef readonly object local_rtcp_port
    cdef readonly object remote_rtp_address_sdp
    cdef readonly object remote_rtp_port_sdp
    cdef readonly object remote_rtcp_port_sdp
    cdef double _timeout
    cdef stream_srtp_t *_srtp_adapter
    cdef readonly object srtp_session
    cdef object _srtp_capsule
    cdef readonly bint is_memory
    cdef object __weakref__

    def __init__(self, local_address=None, port_range=None, *, bint rtcp_mux=False, timeout=0, bint latching=True,
                 int latch_packets=3, IOThread io_thread=None, event_queue=None, clock=None):
        cdef sockaddr_storage local
        cdef socklen_t local_length
        cdef int fd_rtp = -1, fd_rtcp = -1, used
        cdef unsigned tries = 0, start, end, first
        if self._t != NULL:
            raise SIPCoreError("RTPTransport.__init__() was already called")
        if latch_packets < 1:
            raise ValueError("latch_packets must be at least 1")
        start, end = _port_range(port_range)
        if local_address is None:
            local_address = "0.0.0.0"
        local_length = _make_address(local_address, 0, AF_UNSPEC, &local)
        self._prepare(io_thread, event_queue, clock)
        key = (start, end, local_address)
        first = self.io_thread._cursor(key)
        with nogil:
            used = stream_transport_bind(<sockaddr *>&local, local_length, start, end, first, rtcp_mux, &fd_rtp,
                                         &fd_rtcp, &tries)
        if used < 0:
            what = "port" if rtcp_mux else "port pair"
            where = f"in {start}-{end}" if end else "from the kernel"
            if used == -EADDRINUSE:
                raise RTPTransportError(f"no free RTP {what} {where} on {local_address} ({tries} ports tried)", -used)
            raise RTPTransportError(f"could not bind an RTP {what} {where} on {local_address}: {os.strerror(-used)}",
                                    -used)
        if end:
            self.io_thread._advance(key, used)
        self._family = local.ss_family
        self.rtcp_mux = rtcp_mux
        self._create(fd_rtp, fd_rtcp, rtcp_mux)
        stream_transport_set_latching(self._t, latching, latch_packets)
        self.latching = latching
        self._describe_local()
        self.timeout = timeout

    cdef int _prepare(self, IOThread io_thread, object event_queue, object clock) except -1:
        if io_thread is None:
            io_thread = default_io_thread()
        io_thread._require()
        self.io_thread = io_thread
        self.event_queue = io_thread.event_queue if event_queue is None else event_queue
        _clock_of(clock)
        self._clock = clock
        self._source = self.event_queue.register(self)
        return 0

    cdef int _create(self, int fd_rtp, int fd_rtcp, bint rtcp_mux) except -1:
        cdef int status
        cdef media_event_queue_t *queue = <media_event_queue_t *>PyCapsule_GetPointer(
            self.event_queue.capsule, MEDIA_EVENT_QUEUE_CAPSULE)
        status = stream_transport_create(self.io_thread._require(), fd_rtp, fd_rtcp, rtcp_mux, queue, self._source,
                                         _clock_of(self._clock), &self._t)
        if status < 0:
            raise RTPTransportError(f"could not register the RTP sockets: {os.strerror(-status)}", -status)
        return 0

    cdef void _describe_local(self):
        cdef sockaddr_storage addr
        cdef socklen_t length
        length = stream_transport_local(self._t, STREAM_COMPONENT_RTP, &addr)
        self.local_rtp_address, self.local_rtp_port = _address_tuple(&addr, length)
        length = stream_transport_local(self._t, STREAM_COMPONENT_RTCP, &addr)
        self.local_rtcp_port = _address_tuple(&addr, length)[1]

    @classmethod
    def memory_pair(cls, *, IOThread io_thread=None, event_queue=None, clock=None):
        """Two transports without sockets, each delivering what it sends to the other at once on the
        sending thread (tests, the no-network benchmark). No latching, no addresses."""
        cdef RTPTransport a = RTPTransport.__new__(RTPTransport)
        cdef RTPTransport b = RTPTransport.__new__(RTPTransport)
        for transport in (a, b):
            (<RTPTransport>transport)._prepare(io_thread, event_queue, clock)
            (<RTPTransport>transport)._family = AF_UNSPEC
            (<RTPTransport>transport).is_memory = True
            (<RTPTransport>transport)._create(-1, -1, False)
        stream_transport_link_memory(a._t, b._t)  # either one's close (or deallocation) unlinks both
        return a, b

    def __dealloc__(self):
        if self._t != NULL:
            with nogil:
                stream_transport_destroy(self._t)
            self._t = NULL
        free(self._srtp_adapter)
        self._srtp_adapter = NULL
        if self.event_queue is not None:
            self.event_queue.unregister(self._source)

    cdef stream_transport_t *_require(self) except NULL:
        if self._t == NULL:
            raise SIPCoreError("RTPTransport.__init__() was not called or failed")
        return self._t

    # remote side ---------------------------------------------------------------------------

    def set_remote(self, address, port=None, rtcp_port=None):
        """Sends to ``address``:``port`` (RTP) and ``rtcp_port`` (default: port + 1, or port with
        rtcp-mux) from now on, e.g. from the remote SDP's c=/m=/a=rtcp lines. ``None`` forgets."""
        cdef sockaddr_storage rtp, rtcp
        cdef socklen_t rtp_length = 0, rtcp_length = 0
        cdef stream_transport_t *t = self._require()
        if self.is_memory:
            raise SIPCoreError("a memory transport has no remote address")
        if address is None:
            with nogil:
                stream_transport_set_remote(t, NULL, 0, NULL, 0)
            self.remote_rtp_address_sdp = self.remote_rtp_port_sdp = self.remote_rtcp_port_sdp = None
            return
        if rtcp_port is None:
            rtcp_port = port if self.rtcp_mux else (port + 1 if isinstance(port, int) and port < 65535 else None)
        rtp_length = _make_address(address, port, self._family, &rtp)
        if rtcp_port is not None and not self.rtcp_mux:
            rtcp_length = _make_address(address, rtcp_port, self._family, &rtcp)
        with nogil:
            stream_transport_set_remote(t, <sockaddr *>&rtp, rtp_length, <sockaddr *>&rtcp if rtcp_length else NULL,
                                        rtcp_length)
        self.remote_rtp_address_sdp = address
        self.remote_rtp_port_sdp = port
        self.remote_rtcp_port_sdp = port if self.rtcp_mux else rtcp_port

    cdef tuple _remote(self, int component):
        cdef sockaddr_storage addr
        cdef socklen_t length
        cdef stream_transport_t *t_ = self._require()
        with nogil:
            length = stream_transport_remote(t_, component, &addr)
        return _address_tuple(&addr, length)

    cdef tuple _received(self, int component):
        cdef sockaddr_storage addr
        cdef socklen_t length
        cdef stream_transport_t *t_ = self._require()
        with nogil:
            length = stream_transport_received(t_, component, &addr)
        return _address_tuple(&addr, length)

    @property
    def remote_rtp_address(self):
        """Where RTP goes now (the SDP address, or the latched one)."""
        return self._remote(STREAM_COMPONENT_RTP)[0]

    @property
    def remote_rtp_port(self):
        return self._remote(STREAM_COMPONENT_RTP)[1]

    @property
    def remote_rtcp_port(self):
        return self._remote(STREAM_COMPONENT_RTCP)[1]

    @property
    def remote_rtp_address_received(self):
        """Where RTP comes from (None before any came)."""
        return self._received(STREAM_COMPONENT_RTP)[0]

    @property
    def remote_rtp_port_received(self):
        return self._received(STREAM_COMPONENT_RTP)[1]

    @property
    def remote_rtcp_address_received(self):
        return self._received(STREAM_COMPONENT_RTCP)[0]

    @property
    def remote_rtcp_port_received(self):
        return self._received(STREAM_COMPONENT_RTCP)[1]

    # timeout -------------------------------------------------------------------------------

    @property
    def timeout(self):
        """Seconds without RTP before RTPTransportDidTimeout (0: never). Setting restarts the count."""
        return self._timeout

    @timeout.setter
    def timeout(self, value):
        cdef uint64_t ns
        if value is None:
            value = 0
        if value < 0:
            raise ValueError("timeout cannot be negative")
        ns = <uint64_t>(float(value) * 1e9)
        cdef stream_transport_t *t_ = self._require()
        with nogil:
            stream_transport_set_timeout(t_, ns)
        self._timeout = float(value)

    # sending datagrams ---------------------------------------------------------------------

    def send_datagram(self, data, address=None, port=None, int component=1):
        """Sends ``data`` as it is from the RTP (component 1) or RTCP (2) socket: STUN/ICE."""
        cdef sockaddr_storage to
        cdef socklen_t length = 0
        cdef Py_buffer view
        cdef int status
        cdef stream_transport_t *t = self._require()
        if component not in (STREAM_COMPONENT_RTP, STREAM_COMPONENT_RTCP):
            raise ValueError("component must be 1 (RTP) or 2 (RTCP)")
        if not self.is_memory:
            length = _make_address(address, port, self._family, &to)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            if view.len > STREAM_MAX_DATAGRAM:
                raise ValueError(f"a datagram is at most {STREAM_MAX_DATAGRAM} bytes")
            with nogil:
                status = stream_transport_send_to(t, component, <const uint8_t *>view.buf, view.len,
                                                  <sockaddr *>&to, length)
        finally:
            PyBuffer_Release(&view)
        if status == STREAM_E_CLOSED:
            raise SIPCoreInvalidStateError("the RTP transport is closed")
        if status < 0:
            raise RTPTransportError(f"could not send to {address}:{port}: {os.strerror(-status)}", -status)

    # SRTP ----------------------------------------------------------------------------------

    def set_srtp(self, session):
        """Protects what this transport sends and unprotects what it receives with ``session`` (a
        :class:`sipsimple.core.media._srtp.SRTPSession`, keyed by SDES), or sends plain RTP again
        (None). Takes effect between two packets; rekeying is done on the session itself."""
        cdef stream_transport_t *t = self._require()
        cdef const media_srtp_api *api
        cdef stream_srtp_t *adapter
        if session is None:
            with nogil:
                stream_transport_set_transform(t, NULL)
            self._release_srtp()
            return
        from sipsimple.core.media import _srtp

        api = <const media_srtp_api *>PyCapsule_GetPointer(_srtp._C_API, MEDIA_SRTP_API_CAPSULE)
        if api.version != MEDIA_SRTP_API_VERSION:
            raise SIPCoreError("sipsimple.core.media._srtp has another C API version")
        if self.is_closed:
            raise SIPCoreInvalidStateError("the RTP transport is closed")
        capsule = session.capsule()
        adapter = <stream_srtp_t *>malloc(sizeof(stream_srtp_t))
        if adapter == NULL:
            raise MemoryError()
        stream_srtp_init(adapter, api, <media_srtp_t *>PyCapsule_GetPointer(capsule, MEDIA_SRTP_SESSION_CAPSULE))
        with nogil:
            stream_transport_set_transform(t, &adapter.transform)
        self._release_srtp()  # the previous adapter is no longer used by any thread
        self._srtp_adapter = adapter
        self._srtp_capsule = capsule
        self.srtp_session = session

    cdef void _release_srtp(self):
        free(self._srtp_adapter)
        self._srtp_adapter = NULL
        self._srtp_capsule = None
        self.srtp_session = None

    @property
    def srtp_active(self):
        """An SRTP session with keys is installed."""
        return self.srtp_session is not None and bool(self.srtp_session.active) and not self.is_closed

    # life cycle ----------------------------------------------------------------------------

    def close(self):
        """Stops receiving and sending and closes the sockets (idempotent). Streams on it go quiet."""
        if self._t != NULL:
            with nogil:
                stream_transport_close(self._t)  # removes the transform too
        self._release_srtp()

    @property
    def is_closed(self):
        return self._t == NULL or bool(stream_transport_is_closed(self._t))

    def _service(self, now=None):
        """Runs the transport's timers at ``now`` (default: its clock); for manual clocks."""
        cdef uint64_t at = stream_clock_now(_clock_of(self._clock)) if now is None else <uint64_t>(now * 1e9)
        cdef uint64_t next_deadline
        cdef stream_transport_t *t_ = self._require()
        with nogil:
            next_deadline = stream_transport_service(t_, at)
        return None if next_deadline == NETIO_NEVER else next_deadline / 1e9

    def _set_loss(self, uint32_t every):
        """Memory transports: drop every ``every``-th RTP packet sent (0: none)."""
        if not self.is_memory:
            raise SIPCoreError("only memory transports drop packets on purpose")
        stream_transport_set_loss(self._require(), every)

    cdef stream_transport_t *_c(self) except NULL:
        return self._require()

    @property
    def statistics(self):
        cdef stream_transport_stats_t st
        cdef stream_transport_t *t_ = self._require()
        with nogil:
            stream_transport_get_stats(t_, &st)
        return {
            "rx_datagrams": st.rx_datagrams[0] + st.rx_datagrams[1],
            "rx_bytes": st.rx_bytes[0] + st.rx_bytes[1],
            "rx_rtp": st.rx_rtp,
            "rx_rtcp": st.rx_rtcp,
            "rx_stun": st.rx_stun,
            "rx_stun_dropped": st.rx_stun_dropped,
            "rx_ignored": st.rx_ignored,
            "rx_malformed": st.rx_malformed,
            "rx_transform_failed": st.rx_transform_failed,
            "rx_no_stream": st.rx_no_sink,
            "tx_datagrams": st.tx_datagrams[0] + st.tx_datagrams[1],
            "tx_bytes": st.tx_bytes[0] + st.tx_bytes[1],
            "tx_rtcp": st.tx_datagrams[1] if not self.rtcp_mux else None,
            "tx_errors": st.tx_errors,
            "tx_dropped": st.tx_dropped,
            "tx_transform_failed": st.tx_transform_failed,
            "last_errno": st.last_errno,
            "timeouts": st.timeouts,
            "latches": st.latches,
        }

    # events --------------------------------------------------------------------------------

    def _take_stun(self):
        cdef uint8_t buf[STREAM_STUN_MAX]
        cdef sockaddr_storage addr
        cdef socklen_t length = 0
        cdef int component = 0
        cdef size_t size
        if self._t == NULL:
            return None
        with nogil:
            size = stream_transport_take_stun(self._t, buf, sizeof(buf), &component, &addr, &length)
        if size == 0:
            return None
        address, port = _address_tuple(&addr, length)
        return component, PyBytes_FromStringAndSize(<char *>buf, size), address, port

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        if type == STREAM_EVENT_RTP_TIMEOUT:
            _post_notification("RTPTransportDidTimeout", self, timeout=a / 1000.0, packets_received=b)
        elif type == STREAM_EVENT_ADDRESS:
            address, port = self._received(<int>a)
            _post_notification("RTPTransportDidChangeRemoteAddress", self, component=a, address=address,
                               port=port, latched=bool(b))
        elif type == STREAM_EVENT_STUN:
            while (datagram := self._take_stun()) is not None:
                component, data, address, port = datagram
                _post_notification("RTPTransportGotSTUN", self, component=component, data=data, address=address,
                                   port=port)


# ---------------------------------------------------------------------------------------------
# AudioStreamPort
# ---------------------------------------------------------------------------------------------

cdef int _optional(object value, int default) except? -2:
    return default if value is None else int(value)


cdef int _codec_settings(stream_audio_config_t *cfg, object codec, int clock_rate, int ptime, int frame_time,
                         object sample_rate, object fmtp, dict encoder) except -1:
    """The codec, its packet duration and PCM rate, the encoder's settings (the remote's fmtp, then ours)."""
    cdef const media_codec *c = <const media_codec *>PyCapsule_GetPointer(
        _codecs.codec_capsule(codec, clock_rate), MEDIA_CODEC_CAPSULE)
    cdef bytes fmtp_bytes
    cdef int status, rate, i
    if frame_time not in (10, 20):
        raise ValueError("frame_time must be 10 or 20 (ms)")
    durations = [c.frame_durations_us[i] for i in range(MEDIA_CODEC_MAX_DURATIONS) if c.frame_durations_us[i]]
    if ptime * 1000 not in durations:
        raise ValueError(f"{c.name.decode()} sends packets of {', '.join(f'{d / 1000:g}' for d in durations)} ms, "
                         f"not {ptime}")
    rate = c.clock_rate if sample_rate is None else sample_rate
    if rate <= 0 or rate * frame_time % 1000 or rate * ptime % 1000:
        raise ValueError(f"sample_rate {rate} does not make whole {frame_time} ms frames")
    cfg.codec = c
    cfg.frame_ms = frame_time
    cfg.ptime_ms = ptime
    _codec_api.params_init(&cfg.encoder, MEDIA_CODEC_ENCODER)
    _codec_api.params_init(&cfg.decoder, MEDIA_CODEC_DECODER)
    if fmtp:
        fmtp_bytes = fmtp.encode("ascii", "replace")
        status = _codec_api.apply_fmtp(c, &cfg.encoder, fmtp_bytes, len(fmtp_bytes))
        if status < 0:
            raise _codecs.MediaCodecError(status, f"fmtp {fmtp!r}: {_codec_api.strerror(status).decode()}")
    cfg.expect_fec = cfg.encoder.fec == 1  # the peer's useinbandfec=1: it sends Opus FEC as well
    cfg.encoder.sample_rate = cfg.decoder.sample_rate = rate
    cfg.encoder.channels = cfg.decoder.channels = 1
    cfg.encoder.bitrate = _optional(encoder["bitrate"], cfg.encoder.bitrate)
    cfg.encoder.complexity = _optional(encoder["complexity"], cfg.encoder.complexity)
    cfg.encoder.fec = _optional(encoder["fec"], cfg.encoder.fec)
    cfg.encoder.dtx = _optional(encoder["dtx"], cfg.encoder.dtx)
    cfg.encoder.packet_loss = _optional(encoder["packet_loss"], cfg.encoder.packet_loss)
    return 0


cdef int _payload_types(stream_audio_config_t *cfg, tuple send, tuple receive) except -1:
    """``send``/``receive``: (codec, telephone-event, comfort noise) numbers; a receiving number
    that is None is the sending one (both sides numbered alike)."""
    names = ("payload_type", "dtmf_payload_type", "cn_payload_type")
    for prefix, numbers in (("", send), ("receive_", receive)):
        for name, value in zip(names, numbers):
            if value is not None and not 0 <= value <= 127:
                raise ValueError(f"{prefix}{name} must be 0..127")
    codec_pt, dtmf_pt, cn_pt = send
    pt = cfg.codec.payload_type if codec_pt is None else codec_pt
    rx_pt, rx_dtmf_pt, rx_cn_pt = [mine if mine is not None else theirs
                                   for mine, theirs in zip(receive, (pt, dtmf_pt, cn_pt))]
    if pt in (dtmf_pt, cn_pt) or rx_pt in (rx_dtmf_pt, rx_cn_pt) or (
            dtmf_pt is not None and dtmf_pt == cn_pt) or (rx_dtmf_pt is not None and rx_dtmf_pt == rx_cn_pt):
        raise ValueError("the codec, telephone-event and comfort noise need different payload types")
    cfg.payload_type = pt
    cfg.dtmf_payload_type = -1 if dtmf_pt is None else dtmf_pt
    cfg.cn_payload_type = -1 if cn_pt is None else cn_pt
    cfg.rx_payload_type = rx_pt
    cfg.rx_dtmf_payload_type = -1 if rx_dtmf_pt is None else rx_dtmf_pt
    cfg.rx_cn_payload_type = -1 if rx_cn_pt is None else rx_cn_pt
    cfg.dtmf_pause_ms = 50
    cfg.dtmf_timeout_ms = 500
    return 0


cdef int _rtcp_settings(stream_audio_config_t *cfg, double interval, object session_bandwidth,
                        object cname) except -1:
    cdef bytes cname_bytes
    if interval <= 0:
        raise ValueError("rtcp_interval must be positive")
    cfg.rtcp_min_interval = interval
    if session_bandwidth is None:
        bits = cfg.encoder.bitrate
        if bits <= 0:
            bits = _NOMINAL_BITRATE.get(cfg.codec.name.decode().lower(), 64000)
        session_bandwidth = 2 * (bits + 40 * 8 * 1000 // cfg.ptime_ms)  # both directions, IP/UDP/RTP headers
    cfg.rtcp_bandwidth = 0.05 * float(session_bandwidth) / 8
    if cname is None:
        cname = f"{secrets.token_hex(8)}@sipsimple"
    cname_bytes = cname.encode("utf-8")
    if not 0 < len(cname_bytes) <= 255:
        raise ValueError("cname must be 1..255 bytes in UTF-8")
    cfg.cname_length = len(cname_bytes)
    memcpy(cfg.cname, <char *>cname_bytes, len(cname_bytes))
    return 0


@cython.no_gc_clear
cdef class AudioStreamPort:
    """An RTP audio stream on a transport, as a port for an AudioMixer.

    ``codec``/``clock_rate``: the negotiated codec (SDP encoding name and RTP clock rate, or 0 for
    the first of that name); ``payload_type``: the number we send with, the peer's (default: the
    codec's); ``receive_payload_type``: the number we accept, ours (default: ``payload_type``);
    ``ptime``: ms per packet we send; ``fmtp``: the remote party's fmtp for the codec (what it wants
    to receive: Opus bitrate, FEC, DTX...); ``sample_rate``: the PCM rate of the port (default: the
    codec's; Opus may run at the mixer's rate so that nothing is resampled); ``frame_time``: the
    mixer's; ``dtmf_payload_type``: telephone-event's number (None: none); ``cn_payload_type``:
    comfort noise's (None: none), each with a ``receive_...`` twin as for the codec (RFC 3264 lets
    the two SDPs number a format differently); ``silence_detection``: send RFC 3389 comfort noise
    (SIDs) instead of packets while the input is silent (needs ``cn_payload_type``);
    ``rtcp_interval``: the minimum RTCP interval in seconds. An Opus peer whose ``fmtp`` says
    ``useinbandfec=1`` is expected to send in-band FEC: the jitter buffer then waits one packet
    longer so that a loss can be rebuilt from the next packet.

    Add it to a mixer with ``mixer.add_port(stream.port_capsule(), stream)`` and start it;
    ``stop()`` sends an RTCP BYE and leaves the transport.
    """

    cdef stream_audio_t *_s
    cdef readonly RTPTransport transport
    cdef object _event_queue
    cdef uint64_t _source
    cdef readonly str codec
    cdef readonly int clock_rate
    cdef readonly int sample_rate
    cdef readonly int payload_type
    cdef readonly int receive_payload_type
    cdef readonly object receive_dtmf_payload_type
    cdef readonly object receive_cn_payload_type
    cdef readonly bint silence_detection
    cdef readonly int ptime
    cdef readonly object fmtp
    cdef readonly object dtmf_payload_type
    cdef readonly object cn_payload_type
    cdef readonly int frame_time
    cdef readonly int samples_per_frame
    cdef readonly bint remote_bye
    cdef object __weakref__

    def __init__(self, RTPTransport transport not None, codec, int clock_rate=0, *, payload_type=None, int ptime=20,
                 fmtp=None, sample_rate=None, int frame_time=20, direction="sendrecv", dtmf_payload_type=101,
                 cn_payload_type=None, bitrate=None, complexity=None, fec=None, dtx=None, packet_loss=None,
                 double rtcp_interval=2.5, session_bandwidth=None, jitter_min_delay=None, jitter_max_delay=None,
                 cname=None, receive_payload_type=None, receive_dtmf_payload_type=None,
                 receive_cn_payload_type=None, bint silence_detection=False):
        cdef stream_audio_config_t cfg
        cdef int status, codec_status = 0
        cdef media_event_queue_t *queue
        if self._s != NULL:
            raise SIPCoreError("AudioStreamPort.__init__() was already called")
        transport._require()
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
        memset(&cfg, 0, sizeof(cfg))
        _codec_settings(&cfg, codec, clock_rate, ptime, frame_time, sample_rate, fmtp,
                        dict(bitrate=bitrate, complexity=complexity, fec=fec, dtx=dtx, packet_loss=packet_loss))
        _payload_types(&cfg, (payload_type, dtmf_payload_type, cn_payload_type),
                       (receive_payload_type, receive_dtmf_payload_type, receive_cn_payload_type))
        if silence_detection and cn_payload_type is None:
            raise ValueError("silence_detection needs a cn_payload_type")
        if silence_detection and cfg.codec.rtp_clock_rate != 8000:
            raise ValueError("comfort noise (CN/8000) goes with codecs of an 8000 Hz RTP clock; Opus has dtx")
        cfg.silence_detection = silence_detection
        _rtcp_settings(&cfg, rtcp_interval, session_bandwidth, cname)
        cfg.jitter_min_ms = 0xFFFFFFFF if jitter_min_delay is None else int(jitter_min_delay)  # STREAM_JITTER_DEFAULT
        cfg.jitter_max_ms = _optional(jitter_max_delay, 0)
        name = cfg.codec.name.decode()

        self.transport = transport
        self._event_queue = transport.event_queue
        self._source = self._event_queue.register(self)
        queue = <media_event_queue_t *>PyCapsule_GetPointer(self._event_queue.capsule, MEDIA_EVENT_QUEUE_CAPSULE)
        status = stream_audio_create(&cfg, transport._c(), transport.io_thread._require(), queue, self._source,
                                     _clock_of(transport._clock), &self._s, &codec_status)
        if status == STREAM_E_CODEC:
            raise _codecs.MediaCodecError(codec_status, f"could not create the {name} codec: "
                                          f"{_codec_api.strerror(codec_status).decode()}")
        if status < 0:
            raise SIPCoreError(f"could not create the audio stream ({status})")
        self.codec = name
        self.clock_rate = cfg.codec.rtp_clock_rate
        self.sample_rate = cfg.encoder.sample_rate
        self.payload_type = cfg.payload_type
        self.receive_payload_type = cfg.rx_payload_type
        self.receive_dtmf_payload_type = None if cfg.rx_dtmf_payload_type < 0 else cfg.rx_dtmf_payload_type
        self.receive_cn_payload_type = None if cfg.rx_cn_payload_type < 0 else cfg.rx_cn_payload_type
        self.silence_detection = silence_detection
        self.ptime = ptime
        self.fmtp = fmtp
        self.dtmf_payload_type = dtmf_payload_type
        self.cn_payload_type = cn_payload_type
        self.frame_time = frame_time
        self.samples_per_frame = self.sample_rate * frame_time // 1000
        stream_audio_set_direction(self._s, DIRECTIONS[direction])

    def __dealloc__(self):
        if self._s != NULL:
            with nogil:
                stream_audio_destroy(self._s)
            self._s = NULL
        if self._event_queue is not None:
            self._event_queue.unregister(self._source)

    cdef stream_audio_t *_require(self) except NULL:
        if self._s == NULL:
            raise SIPCoreError("AudioStreamPort.__init__() was not called or failed")
        return self._s

    def port_capsule(self):
        """A PyCapsule named "sipsimple.core.media.port" for ``AudioMixer.add_port(capsule, self)``;
        it keeps this stream alive."""
        return owner_capsule(<void *>stream_audio_port(self._require()), MEDIA_PORT_CAPSULE, self)

    def start(self):
        """Starts receiving (attaches to the transport), sending and RTCP."""
        cdef int status
        cdef stream_audio_t *s = self._require()
        if stream_audio_is_running(s):
            raise SIPCoreInvalidStateError("the audio stream is already started")
        with nogil:
            status = stream_audio_start(s)
        if status == STREAM_E_CLOSED:
            raise SIPCoreInvalidStateError("the RTP transport is closed")
        if status == STREAM_E_STATE:
            raise SIPCoreInvalidStateError("another audio stream is running on this RTP transport")

    def stop(self, bint bye=True):
        """Stops sending and receiving (an RTCP BYE first when ``bye``); idempotent."""
        if self._s != NULL:
            with nogil:
                stream_audio_stop(self._s, bye)

    @property
    def is_started(self):
        return self._s != NULL and bool(stream_audio_is_running(self._s))

    @property
    def direction(self):
        """"sendrecv", "sendonly", "recvonly" or "inactive" (hold)."""
        return _DIRECTION_NAMES[stream_audio_direction(self._require())]

    @direction.setter
    def direction(self, value):
        if value not in DIRECTIONS:
            raise ValueError(f"direction must be one of {', '.join(DIRECTIONS)}")
        stream_audio_set_direction(self._require(), DIRECTIONS[value])

    def send_dtmf(self, digit, int duration=200, int volume=10):
        """Sends one DTMF digit (0-9, *, #, A-D) as RFC 4733 telephone-events (``duration`` ms,
        ``volume`` -dBm0)."""
        cdef int event, status
        cdef stream_audio_t *s = self._require()
        if self.dtmf_payload_type is None:
            raise SIPCoreError("no telephone-event payload type was negotiated")
        if not isinstance(digit, str) or len(digit) != 1 or digit.upper() not in _DTMF_DIGITS:
            raise ValueError(f"{digit!r} is not a DTMF digit (0-9, *, #, A-D)")
        event = dtmf_event_from_char(ord(digit.upper()))
        if not stream_audio_is_running(s):
            raise SIPCoreInvalidStateError("the audio stream is not started")
        if not stream_audio_direction(s) & STREAM_SEND:
            raise SIPCoreInvalidStateError("the audio stream is not sending")
        if not 0 <= volume <= 63 or duration <= 0:
            raise ValueError("volume must be 0..63 and duration positive")
        with nogil:
            status = stream_audio_send_dtmf(s, event, duration, volume)
        if status == DTMF_E_FULL:
            raise SIPCoreError("too many DTMF digits are waiting to be sent")
        if status < 0:
            raise ValueError(f"cannot send DTMF digit {digit!r}")

    @property
    def is_sending_dtmf(self):
        return bool(stream_audio_dtmf_busy(self._require()))

    def _service(self, now=None):
        """Runs RTCP and telephone-event timeouts at ``now`` (default: the transport's clock); for
        manual clocks. Returns the next deadline in seconds, or None."""
        cdef uint64_t at = stream_clock_now(_clock_of(self.transport._clock)) if now is None else <uint64_t>(now * 1e9)
        cdef uint64_t next_deadline
        cdef stream_audio_t *s_ = self._require()
        with nogil:
            next_deadline = stream_audio_service(s_, at)
        return None if next_deadline == NETIO_NEVER else next_deadline / 1e9

    @property
    def statistics(self):
        """Counters and measurements (see docs/media-stream.md): ``codec``, ``sample_rate``,
        ``clock_rate``, ``payload_type``, ``ptime``, ``direction``, ``tx``, ``rx``, ``rtt`` (ms, or
        None before a report about us with LSR arrived), ``remote`` (what the peer reports about us),
        ``jitter_buffer``, ``rtcp``, and the transport's ``remote_address``/``received_address``."""
        cdef stream_audio_stats_t st
        cdef double unit_ms = 1000.0 / self.clock_rate
        cdef stream_audio_t *s_ = self._require()
        with nogil:
            stream_audio_get_stats(s_, &st)
        jb = st.jitter_buffer
        rtt = None
        if st.rtt_count:
            rtt = {
                "last": st.rtt_last_ns / 1e6,
                "min": st.rtt_min_ns / 1e6,
                "max": st.rtt_max_ns / 1e6,
                "average": <double>st.rtt_sum_ns / st.rtt_count / 1e6,
                "count": st.rtt_count,
            }
        remote = None
        if st.remote_report:
            remote = {
                "fraction_lost": st.remote_fraction_lost / 256.0,
                "cumulative_lost": st.remote_cumulative_lost,
                "jitter": st.remote_jitter * unit_ms,
            }
        transport = self.transport
        return {
            "codec": self.codec,
            "sample_rate": self.sample_rate,
            "clock_rate": self.clock_rate,
            "payload_type": self.payload_type,
            "receive_payload_type": self.receive_payload_type,
            "ptime": self.ptime,
            "direction": self.direction,
            "tx": {
                "ssrc": st.ssrc,
                "packets": st.tx_packets,
                "bytes": st.tx_bytes,
                "dtmf_packets": st.tx_dtmf_packets,
                "dtx_frames": st.tx_dtx_frames,
                "errors": st.tx_errors,
                "frames": st.tx_frames,
                "cn_packets": st.tx_cn_packets,
                "silent_packets": st.tx_silent_packets,
            },
            "rx": {
                "ssrc": st.rx_ssrc if st.rx_started else None,
                "packets": st.rx_packets,
                "bytes": st.rx_bytes,
                "expected": st.rx_expected,
                "lost": st.rx_lost,
                "loss_rate": (max(st.rx_lost, 0) / <double>st.rx_expected) if st.rx_expected else 0.0,
                "jitter": st.rx_jitter * unit_ms,
                "unknown_payload_type": st.rx_unknown_payload,
                "dtmf_packets": st.rx_dtmf_packets,
                "dtmf_events": st.rx_dtmf_events,
                "cn_packets": st.rx_cn_packets,
                "decoded": st.frames_decoded,
                "concealed": st.frames_concealed,
                "dtx": st.frames_dtx,
                "expanded": st.frames_expanded,
                "recovered": st.frames_recovered,
                "silent": st.frames_silent,
                "comfort_noise": st.frames_comfort_noise,
                "decode_errors": st.decode_errors,
            },
            "jitter_buffer": {
                "received": jb.received,
                "played": jb.played,
                "missing": jb.missing,
                "late": jb.late,
                "duplicates": jb.duplicates,
                "overflow": jb.overflow,
                "resyncs": jb.resyncs,
                "buffered": jb.buffered,
                "target_delay": jb.target_delay * unit_ms,
                "play_delay": jb.play_delay * unit_ms,
            },
            "rtt": rtt,
            "remote": remote,
            "rtcp": {"sent": st.rtcp_sent, "received": st.rtcp_received, "malformed": st.rtcp_malformed},
            "remote_address": None if transport.is_memory else (transport.remote_rtp_address,
                                                                transport.remote_rtp_port),
            "received_address": None if transport.is_memory else (transport.remote_rtp_address_received,
                                                                  transport.remote_rtp_port_received),
        }

    def _handle_media_event(self, int type, int64_t a, int64_t b):
        cdef char digit
        if type == STREAM_EVENT_DTMF:
            digit = dtmf_char_from_event(<uint8_t>(a & 0xff))
            _post_notification("AudioStreamPortGotDTMF", self, digit=chr(digit) if digit else None,
                               event=a & 0xff, duration=round(b * 1000.0 / self.clock_rate), ended=bool(a >> 8 & 1))
        elif type == STREAM_EVENT_RTCP_BYE:
            self.remote_bye = True
