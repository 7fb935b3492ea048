# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""SRTP for the media engine: the Python face of csrc/srtp_ctx.h.

An :class:`SRTPSession` is the pair of SRTP contexts of one RTP session: the outbound one
protects what we send with our key, the inbound one unprotects what the peer sends with its key
(SDES gives each side its own sending key). The RTP stream calls the same C functions from its
native threads without the GIL, through the function table in the ``_C_API`` capsule
(csrc/srtp_ctx.h ``media_srtp_api``) on the session from :meth:`SRTPSession.capsule`.

Suites: AES_CM_128_HMAC_SHA1_80 and _32 (RFC 3711, RFC 4568) on our own packet engine over
libcrypto (csrc/srtp_cm.c), AEAD_AES_128_GCM and AEAD_AES_256_GCM (RFC 7714) on libsrtp2 when its
build has them (:func:`available_suites`). ``SRTPSession(engine="libsrtp")`` runs every suite on
libsrtp instead (the cross-check of the tests and benchmarks).

Every C status goes through one check that raises :class:`SRTPError`.
"""

from collections import namedtuple

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_New
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from sipsimple.core.media.pxd.capsule cimport owner_capsule
from sipsimple.core.media.pxd.srtp cimport *

from sipsimple.core._errors import SIPCoreError

__all__ = [
    "API_CAPSULE_NAME",
    "E_ARGUMENT",
    "E_AUTH",
    "E_KEY_EXPIRED",
    "E_LIBRARY",
    "E_MALFORMED",
    "E_NO_KEY",
    "E_REPLAY",
    "E_SOURCES",
    "E_SPACE",
    "E_UNSUPPORTED",
    "MAX_RTCP_TAIL",
    "MAX_RTP_TAIL",
    "SESSION_CAPSULE_NAME",
    "SUITE_NAMES",
    "SRTPError",
    "SRTPSession",
    "SRTPStats",
    "SuiteInfo",
    "available_suites",
    "crypto_backend",
    "library_version",
    "suite_info",
    "suites",
]

E_ARGUMENT = MEDIA_SRTP_E_ARGUMENT
E_UNSUPPORTED = MEDIA_SRTP_E_UNSUPPORTED
E_NO_KEY = MEDIA_SRTP_E_NO_KEY
E_SPACE = MEDIA_SRTP_E_SPACE
E_MALFORMED = MEDIA_SRTP_E_MALFORMED
E_AUTH = MEDIA_SRTP_E_AUTH
E_REPLAY = MEDIA_SRTP_E_REPLAY
E_KEY_EXPIRED = MEDIA_SRTP_E_KEY_EXPIRED
E_LIBRARY = MEDIA_SRTP_E_LIBRARY
E_SOURCES = MEDIA_SRTP_E_SOURCES
_ENGINES = {"default": MEDIA_SRTP_ENGINE_DEFAULT, "libsrtp": MEDIA_SRTP_ENGINE_LIBSRTP}

MAX_RTP_TAIL = MEDIA_SRTP_MAX_RTP_TAIL
MAX_RTCP_TAIL = MEDIA_SRTP_MAX_RTCP_TAIL
API_CAPSULE_NAME = MEDIA_SRTP_API_CAPSULE.decode("ascii")
SESSION_CAPSULE_NAME = MEDIA_SRTP_SESSION_CAPSULE.decode("ascii")

SuiteInfo = namedtuple("SuiteInfo", "name key_length salt_length rtp_tail rtcp_tail available")
SuiteInfo.__doc__ = """A crypto suite: master key and salt octets, octets protect adds to RTP and
RTCP packets, and whether this libsrtp build runs it."""

SRTPStats = namedtuple(
    "SRTPStats",
    "rtp_protected rtcp_protected rtp_unprotected rtcp_unprotected unprotected_with_previous_key "
    "auth_failures replay_failures malformed other_failures protect_failures outbound_rekeys "
    "inbound_rekeys outbound_suite inbound_suite",
)
SRTPStats.__doc__ = """Counters of one SRTPSession. Failures are inbound packets dropped (never
fatal); protect_failures counts refused outbound packets; *_rekeys count keys that replaced another;
*_suite are suite names or None."""


class SRTPError(SIPCoreError):
    """A refusal of the SRTP layer: ``status`` is the negative C status, ``reason`` its text.

    For unprotect, ``E_AUTH`` (forged, damaged or wrong key), ``E_REPLAY`` and ``E_MALFORMED``
    mean "drop the packet"; the session has counted it.
    """

    def __init__(self, status, reason):
        self.status = status
        self.reason = reason
        SIPCoreError.__init__(self, reason)


cdef int check(int status) except -1:
    if status < 0:
        raise SRTPError(status, media_srtp_strerror(status).decode("ascii"))
    return status


check(media_srtp_init())


cdef object suite_name(int suite):
    cdef const media_srtp_suite_info *info = media_srtp_suite_info_get(suite)
    return None if info == NULL else info.name.decode("ascii")


cdef int suite_number(object name) except -1:
    if not isinstance(name, str):
        raise TypeError(f"a suite is named by a str, not {type(name).__name__}")
    cdef bytes b = name.encode("ascii", "replace")
    cdef int suite = media_srtp_suite_by_name(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
    if suite == 0:
        raise SRTPError(MEDIA_SRTP_E_ARGUMENT, f"unknown SRTP crypto suite {name!r}")
    return suite


cdef object make_info(int suite):
    cdef const media_srtp_suite_info *info = media_srtp_suite_info_get(suite)
    return SuiteInfo(info.name.decode("ascii"), info.key_length, info.salt_length, info.rtp_tail,
                     info.rtcp_tail, media_srtp_suite_available(suite) == 1)


SUITE_NAMES = tuple(suite_name(n) for n in range(1, MEDIA_SRTP_SUITE_COUNT + 1))


def suites():
    """Every suite this module knows, with its facts and whether libsrtp runs it."""
    return [make_info(n) for n in range(1, MEDIA_SRTP_SUITE_COUNT + 1)]


def available_suites():
    """Names of the suites this libsrtp build runs (found once, at import), in SUITE_NAMES order."""
    return [info.name for info in suites() if info.available]


def suite_info(name):
    """The :class:`SuiteInfo` of a suite named as SDES writes it (any case)."""
    return make_info(suite_number(name))


def library_version():
    """libsrtp's own version string."""
    return media_srtp_library_version().decode("ascii", "replace")


def crypto_backend():
    """Who does the cryptography, in words: for the AES-CM suites our engine (AES on AES-NI or
    from OpenSSL, SHA-1 from OpenSSL, with its version text), for the others libsrtp (which also
    gets AES-128-CM and HMAC-SHA1 from OpenSSL, for ``engine="libsrtp"`` sessions); or "libsrtp's
    own" when SIPSIMPLE_SRTP_CRYPTO=library was set before the first use (then every session runs
    on libsrtp with its built-in crypto)."""
    return media_srtp_crypto_backend().decode("ascii", "replace")


cdef bytes as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected a bytes-like object, not {type(data).__name__}")


cdef class SRTPSession:
    """The outbound and inbound SRTP contexts of one RTP session.

    Keys are ``master key || master salt`` (what an SDES ``inline:`` carries). Installing the key
    a direction already has changes nothing (the context keeps its rollover counter and replay
    window) and returns False; another key swaps in a new context between two packets and returns
    True. After an inbound rekey the previous inbound key is still accepted for a while, for the
    packets that were already on their way.

    The packet methods copy the packet (protect adds the trailer); the RTP stream uses the C
    functions in place instead. They release the GIL while the packet is processed.

    ``engine``: "default" (ours for the AES-CM suites, libsrtp for AEAD) or "libsrtp" (libsrtp
    for every suite); it applies to the keys installed afterwards.
    """

    cdef media_srtp_t *s

    def __cinit__(self, engine="default"):
        if engine not in _ENGINES:
            raise SRTPError(MEDIA_SRTP_E_ARGUMENT, f"unknown SRTP engine {engine!r}")
        check(media_srtp_create(&self.s))
        check(media_srtp_set_engine(self.s, _ENGINES[engine]))

    def __dealloc__(self):
        media_srtp_destroy(self.s)
        self.s = NULL

    cdef bint _set(self, int direction, object suite, object key) except -1:
        cdef int number = suite_number(suite)
        cdef bytes k = as_bytes(key)
        cdef const media_srtp_suite_info *info = media_srtp_suite_info_get(number)
        if PyBytes_GET_SIZE(k) != info.key_length + info.salt_length:
            raise SRTPError(
                MEDIA_SRTP_E_ARGUMENT,
                f"{suite} needs {info.key_length + info.salt_length} octets of key and salt, "
                f"not {PyBytes_GET_SIZE(k)}",
            )
        cdef int status
        cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(k)
        cdef size_t n = PyBytes_GET_SIZE(k)
        with nogil:
            status = media_srtp_set_key(self.s, direction, number, p, n)
        return check(status) == 1

    def set_outbound_key(self, suite, key):
        """Protect what we send with ``suite`` and our ``key``; True if the context was replaced."""
        return self._set(MEDIA_SRTP_OUTBOUND, suite, key)

    def set_inbound_key(self, suite, key):
        """Unprotect what the peer sends with ``suite`` and its ``key``; True if replaced."""
        return self._set(MEDIA_SRTP_INBOUND, suite, key)

    def clear_keys(self):
        """Back to no keys: every packet function refuses with E_NO_KEY until keys are set."""
        with nogil:
            media_srtp_clear_key(self.s, MEDIA_SRTP_OUTBOUND)
            media_srtp_clear_key(self.s, MEDIA_SRTP_INBOUND)

    @property
    def outbound_suite(self):
        """The suite of the outbound key, or None."""
        return self.stats.outbound_suite

    @property
    def inbound_suite(self):
        """The suite of the inbound key, or None."""
        return self.stats.inbound_suite

    @property
    def active(self):
        """True when both directions have a key."""
        s = self.stats
        return s.outbound_suite is not None and s.inbound_suite is not None

    def tail_room(self, bint rtcp=False):
        """Octets protect adds with the current outbound suite (the maximum when there is none)."""
        return media_srtp_tail_room(self.s, rtcp)

    cdef bytes _run(self, object packet, int which):
        cdef bytes data = as_bytes(packet)
        cdef size_t length = PyBytes_GET_SIZE(data)
        cdef size_t capacity = length + MEDIA_SRTP_MAX_RTCP_TAIL
        cdef uint8_t *buf = <uint8_t *>malloc(capacity)
        cdef int result
        if buf == NULL:
            raise MemoryError()
        memcpy(buf, PyBytes_AS_STRING(data), length)
        with nogil:
            if which == 0:
                result = media_srtp_protect_rtp(self.s, buf, length, capacity)
            elif which == 1:
                result = media_srtp_unprotect_rtp(self.s, buf, length)
            elif which == 2:
                result = media_srtp_protect_rtcp(self.s, buf, length, capacity)
            else:
                result = media_srtp_unprotect_rtcp(self.s, buf, length)
        try:
            check(result)
            return PyBytes_FromStringAndSize(<char *>buf, result)
        finally:
            free(buf)

    def protect_rtp(self, packet):
        """The SRTP packet for an RTP packet (bytes-like)."""
        return self._run(packet, 0)

    def unprotect_rtp(self, packet):
        """The RTP packet inside an SRTP packet; SRTPError (E_AUTH, E_REPLAY, ...) to drop it."""
        return self._run(packet, 1)

    def protect_rtcp(self, packet):
        """The SRTCP packet for a compound RTCP packet (encrypted, with E flag and index)."""
        return self._run(packet, 2)

    def unprotect_rtcp(self, packet):
        """The compound RTCP packet inside an SRTCP packet; SRTPError to drop it."""
        return self._run(packet, 3)

    @property
    def stats(self):
        """An :class:`SRTPStats` snapshot."""
        cdef media_srtp_stats st
        media_srtp_get_stats(self.s, &st)
        return SRTPStats(
            st.rtp_protected, st.rtcp_protected, st.rtp_unprotected, st.rtcp_unprotected,
            st.unprotected_with_previous_key, st.auth_failures, st.replay_failures, st.malformed,
            st.other_failures, st.protect_failures, st.outbound_rekeys, st.inbound_rekeys,
            suite_name(st.outbound_suite), suite_name(st.inbound_suite),
        )

    def capsule(self):
        """A capsule "sipsimple.core.media.media_srtp_t" with the C session; it keeps this object alive."""
        return owner_capsule(<void *>self.s, MEDIA_SRTP_SESSION_CAPSULE, self)


_C_API = PyCapsule_New(<void *>media_srtp_api_table(), MEDIA_SRTP_API_CAPSULE, NULL)


# ---- native loops for benchmarks/media_srtp.py (not API) --------------------------------------

cdef inline uint64_t _now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return <uint64_t>t.tv_sec * 1000000000 + <uint64_t>t.tv_nsec


def _time_round_trips(suite, key, packet, Py_ssize_t iterations, engine="default"):
    """Protect then unprotect ``iterations`` copies of ``packet`` (sequence numbers rewritten so
    the replay check passes), all in C. Returns (ns protecting, ns unprotecting, ns of the memcpy
    baseline: copying the same packet as often). For the benchmark only.
    """
    cdef SRTPSession session = SRTPSession(engine)
    session.set_outbound_key(suite, key)
    session.set_inbound_key(suite, key)
    cdef bytes data = as_bytes(packet)
    cdef size_t length = PyBytes_GET_SIZE(data)
    cdef size_t stride = (length + MEDIA_SRTP_MAX_RTCP_TAIL + 15) & ~(<size_t>15)
    cdef uint8_t *store = <uint8_t *>malloc(stride * iterations)
    cdef int *lengths = <int *>malloc(sizeof(int) * iterations)
    cdef uint8_t *copy = <uint8_t *>malloc(stride)
    cdef const uint8_t *src = <const uint8_t *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t i
    cdef uint64_t t0, t1, t2, t3
    cdef int failures = 0
    cdef volatile uint8_t sink = 0
    if store == NULL or lengths == NULL or copy == NULL:
        free(store)
        free(lengths)
        free(copy)
        raise MemoryError()
    with nogil:
        for i in range(iterations):
            memcpy(store + i * stride, src, length)
            store[i * stride + 2] = (i >> 8) & 0xFF
            store[i * stride + 3] = i & 0xFF
        t0 = _now_ns()
        for i in range(iterations):
            lengths[i] = media_srtp_protect_rtp(session.s, store + i * stride, length, stride)
        t1 = _now_ns()
        for i in range(iterations):
            if media_srtp_unprotect_rtp(session.s, store + i * stride, lengths[i]) != <int>length:
                failures += 1
        t2 = _now_ns()
        for i in range(iterations):
            memcpy(copy, src, length)
            copy[3] = i & 0xFF
            sink ^= copy[i % length]
        t3 = _now_ns()
    free(store)
    free(lengths)
    free(copy)
    if failures:
        raise SRTPError(MEDIA_SRTP_E_LIBRARY, f"{failures} packets failed to round-trip in the benchmark")
    return (t1 - t0, t2 - t1, t3 - t2)
