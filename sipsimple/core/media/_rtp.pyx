# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""RTP machinery of the media engine: the Python face of csrc/rtp.h, rtcp.h, jbuf.h and dtmf.h.

The C code is codec-agnostic and sans-IO: packets are bytes in and out, times are passed in as
nanoseconds of the caller's monotonic clock, randomness (the RTCP interval) is passed in too. The
RTP stream calls the same C functions from its native threads without the GIL, through the
function table this module exports in the ``_C_API`` capsule (csrc/rtp_api.h), or on the C
structs of the objects below, which each hand out a capsule (``capsule()``) that keeps the object
alive.

* :class:`RTPPacket` parses and serialises one RTP packet (RFC 3550 §5.1); :class:`RTPSender` is
  the sending side of a session (random SSRC, sequence and timestamp, marker on talk spurts).
* :class:`RTCPPacket` is one compound RTCP packet (SR/RR/SDES CNAME/BYE; others are skipped);
  :class:`ReceptionStats` is RFC 3550 Appendix A for one source; :class:`RTCPSchedule` and
  :func:`rtcp_interval` the transmission interval (A.7).
* :class:`JitterBuffer` is the adaptive jitter buffer.
* :class:`DTMFSender` and :class:`DTMFReceiver` are RFC 4733 telephone-events.

Every C status goes through one check that raises :class:`RTPError`.
"""

from collections import namedtuple

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.pycapsule cimport PyCapsule_New
from cpython.ref cimport PyObject
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy
from posix.time cimport CLOCK_MONOTONIC, clock_gettime, timespec

from sipsimple.core.media.pxd.capsule cimport owner_capsule
from sipsimple.core.media.pxd.media_rtp cimport *

from sipsimple.core._errors import SIPCoreError

__all__ = [
    "API_CAPSULE_NAME",
    "FRAME",
    "GAP",
    "MISSING",
    "NOT_YET",
    "PUT_DUPLICATE",
    "PUT_LATE",
    "PUT_OK",
    "PUT_OUT_OF_SYNC",
    "PUT_RESYNC",
    "PUT_TOO_BIG",
    "RX_BAD",
    "RX_PROBATION",
    "RX_RESTARTED",
    "RX_VALID",
    "DTMFEvent",
    "DTMFPacket",
    "DTMFReceiver",
    "DTMFSender",
    "JitterBuffer",
    "JitterFrame",
    "RTCPPacket",
    "RTCPSchedule",
    "RTPError",
    "RTPPacket",
    "RTPSender",
    "ReceptionStats",
    "ReportBlock",
    "SenderInfo",
    "is_rtcp",
    "monotonic_ns",
    "ntp_from_unix_ns",
    "ntp_middle",
    "round_trip_time_ns",
    "rtcp_interval",
]

NOT_YET = JBUF_NOT_YET
FRAME = JBUF_FRAME
MISSING = JBUF_MISSING
GAP = JBUF_GAP

PUT_OK = JBUF_PUT_OK
PUT_DUPLICATE = JBUF_PUT_DUPLICATE
PUT_LATE = JBUF_PUT_LATE
PUT_TOO_BIG = JBUF_PUT_TOO_BIG
PUT_OUT_OF_SYNC = JBUF_PUT_OUT_OF_SYNC
PUT_RESYNC = JBUF_PUT_RESYNC

RX_VALID = RTCP_RX_VALID
RX_PROBATION = RTCP_RX_PROBATION
RX_BAD = RTCP_RX_BAD
RX_RESTARTED = RTCP_RX_RESTARTED

API_CAPSULE_NAME = MEDIA_RTP_API_CAPSULE.decode("ascii")

_KIND_NAMES = {JBUF_NOT_YET: "NOT_YET", JBUF_FRAME: "FRAME", JBUF_MISSING: "MISSING", JBUF_GAP: "GAP"}


class RTPError(SIPCoreError):
    """An RTP, RTCP or telephone-event packet or argument the C layer refused.

    ``status`` is the negative C status code, ``reason`` the text that goes with it.
    """

    def __init__(self, status, reason):
        self.status = status
        self.reason = reason
        SIPCoreError.__init__(self, reason)


cdef int check_rtp(int status) except -1:
    if status < 0:
        raise RTPError(status, rtp_strerror(status).decode("ascii"))
    return status


cdef int check_rtcp(int status) except -1:
    if status < 0:
        raise RTPError(status, rtcp_strerror(status).decode("ascii"))
    return status


cdef bytes as_bytes(object data):
    if type(data) is bytes:
        return <bytes>data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError(f"expected a bytes-like object, not {type(data).__name__}")


# ---- clocks and NTP ------------------------------------------------------------------------

def monotonic_ns():
    """CLOCK_MONOTONIC in nanoseconds: the clock the media threads use."""
    cdef timespec now
    clock_gettime(CLOCK_MONOTONIC, &now)
    return <int64_t>now.tv_sec * 1000000000 + now.tv_nsec


def ntp_from_unix_ns(uint64_t unix_ns):
    """The 64-bit NTP timestamp (32.32 seconds since 1900) of a Unix time in nanoseconds."""
    return rtcp_ntp_from_unix_ns(unix_ns)


def ntp_middle(uint64_t ntp):
    """The middle 32 bits of an NTP timestamp, as LSR carries it (16.16 seconds)."""
    return rtcp_ntp_middle(ntp)


def round_trip_time_ns(uint32_t arrival_ntp_middle, uint32_t lsr, uint32_t dlsr):
    """RFC 3550 §6.4.1 round trip A - LSR - DLSR in nanoseconds, or None when LSR is 0."""
    cdef int64_t rtt = rtcp_rtt_ns(arrival_ntp_middle, lsr, dlsr)
    return None if rtt < 0 else rtt


def is_rtcp(data):
    """True if ``data`` is RTCP rather than RTP on a multiplexed port (RFC 5761 §4)."""
    cdef bytes b = as_bytes(data)
    return bool(rtp_is_rtcp(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b)))


def rtcp_interval(unsigned members, unsigned senders, double rtcp_bandwidth, bint we_sent,
                  double avg_rtcp_size, bint initial, double min_interval=RTCP_MIN_INTERVAL, double u=0.5):
    """RFC 3550 A.7 interval in seconds; ``u`` in [0, 1) is the caller's uniform random number."""
    return rtcp_interval_c(members, senders, rtcp_bandwidth, we_sent, avg_rtcp_size, initial, min_interval, u)


# ---- RTP -----------------------------------------------------------------------------------

cdef class RTPPacket:
    """One RTP packet (RFC 3550 §5.1).

    ``extension`` is None or ``(profile, data)`` with data a multiple of 4 bytes; ``padding`` is the
    number of padding bytes including the count byte (0: none). ``serialize(parse(x)) == x`` for
    any valid packet whose padding bytes are zeros.
    """

    cdef public int payload_type
    cdef public bint marker
    cdef public uint16_t sequence
    cdef public uint32_t timestamp
    cdef public uint32_t ssrc
    cdef public tuple csrcs
    cdef public object extension
    cdef public bytes payload
    cdef public int padding

    def __init__(self, int payload_type=0, uint16_t sequence=0, uint32_t timestamp=0, uint32_t ssrc=0,
                 payload=b"", bint marker=False, csrcs=(), extension=None, int padding=0):
        self.payload_type = payload_type
        self.sequence = sequence
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.payload = as_bytes(payload)
        self.marker = marker
        self.csrcs = tuple(csrcs)
        self.extension = extension
        self.padding = padding

    @staticmethod
    def parse(data):
        """Parse one packet; raises :class:`RTPError` for anything RFC 3550 §5.1 does not allow."""
        cdef bytes b = as_bytes(data)
        cdef const uint8_t *p = <const uint8_t *>PyBytes_AS_STRING(b)
        cdef rtp_header_t h
        cdef RTPPacket pkt = RTPPacket.__new__(RTPPacket)
        check_rtp(rtp_parse(p, PyBytes_GET_SIZE(b), &h))
        pkt.payload_type = h.payload_type
        pkt.marker = h.marker
        pkt.sequence = h.sequence
        pkt.timestamp = h.timestamp
        pkt.ssrc = h.ssrc
        pkt.csrcs = tuple([h.csrc[i] for i in range(h.csrc_count)])
        if h.extension:
            pkt.extension = (h.extension_profile,
                             PyBytes_FromStringAndSize(<const char *>p + h.extension_offset,
                                                       4 * h.extension_words))
        else:
            pkt.extension = None
        pkt.payload = PyBytes_FromStringAndSize(<const char *>p + h.payload_offset, h.payload_length)
        pkt.padding = h.padding_length
        return pkt

    def serialize(self):
        """The packet as bytes; raises :class:`RTPError` for out-of-range fields."""
        cdef rtp_header_t h
        cdef bytes ext = b""
        cdef Py_ssize_t n, i
        cdef int size
        if not 0 <= self.payload_type <= 127 or len(self.csrcs) > RTP_MAX_CSRC or not 0 <= self.padding <= 255:
            check_rtp(RTP_E_ARGUMENT)
        h.payload_type = self.payload_type
        h.marker = self.marker
        h.sequence = self.sequence
        h.timestamp = self.timestamp
        h.ssrc = self.ssrc
        h.csrc_count = len(self.csrcs)
        for i in range(h.csrc_count):
            h.csrc[i] = self.csrcs[i]
        h.extension = self.extension is not None
        h.extension_profile = 0
        h.extension_words = 0
        if h.extension:
            profile, ext = self.extension[0], as_bytes(self.extension[1])
            if len(ext) % 4 or len(ext) > 4 * 0xffff or not 0 <= profile <= 0xffff:
                check_rtp(RTP_E_ARGUMENT)
            h.extension_profile = profile
            h.extension_words = len(ext) // 4
        h.padding_length = self.padding
        n = rtp_header_size(&h) + len(self.payload) + self.padding
        out = PyBytes_FromStringAndSize(NULL, n)
        size = check_rtp(rtp_build(<uint8_t *>PyBytes_AS_STRING(out), n, &h,
                                   <const uint8_t *>PyBytes_AS_STRING(ext),
                                   <const uint8_t *>PyBytes_AS_STRING(self.payload), len(self.payload)))
        return out

    def __eq__(self, other):
        if not isinstance(other, RTPPacket):
            return NotImplemented
        return self._key() == (<RTPPacket>other)._key()

    def __hash__(self):
        return hash(self._key())

    cdef tuple _key(self):
        return (self.payload_type, self.marker, self.sequence, self.timestamp, self.ssrc, self.csrcs,
                self.extension, self.payload, self.padding)

    def __repr__(self):
        return (f"RTPPacket(payload_type={self.payload_type}, sequence={self.sequence}, "
                f"timestamp={self.timestamp}, ssrc={self.ssrc:#010x}, marker={self.marker}, "
                f"csrcs={self.csrcs}, extension={self.extension!r}, payload=<{len(self.payload)} bytes>, "
                f"padding={self.padding})")


cdef class RTPSender:
    """The sending side of an RTP session: SSRC, sequence numbers, timestamps, SR counters.

    SSRC, first sequence number and first timestamp are random unless given. ``packet()`` writes a
    media packet and advances the timestamp by its samples; ``skip()`` advances it without sending
    (DTX, or media replaced by telephone-events); ``event_packet()`` sends with an explicit
    timestamp (RFC 4733 events keep their start timestamp).
    """

    cdef rtp_sender_t s

    def __init__(self, int payload_type, uint32_t clock_rate, ssrc=None, sequence=None, timestamp=None):
        if not 0 <= payload_type <= 127 or clock_rate == 0:
            check_rtp(RTP_E_ARGUMENT)
        rtp_sender_init(&self.s, payload_type, clock_rate)
        if ssrc is not None or sequence is not None or timestamp is not None:
            rtp_sender_init_with(&self.s, payload_type, clock_rate,
                                 self.s.ssrc if ssrc is None else ssrc,
                                 self.s.sequence if sequence is None else sequence,
                                 self.s.timestamp if timestamp is None else timestamp)

    def packet(self, payload, uint32_t samples, uint64_t now_ns=0, int payload_type=-1):
        """The next media packet carrying ``payload`` worth ``samples`` RTP clock units."""
        cdef bytes b = as_bytes(payload)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
        if payload_type > 127:
            check_rtp(RTP_E_ARGUMENT)
        out = PyBytes_FromStringAndSize(NULL, RTP_HEADER_SIZE + n)
        check_rtp(rtp_sender_write(&self.s, <uint8_t *>PyBytes_AS_STRING(out), RTP_HEADER_SIZE + n, payload_type,
                                   <const uint8_t *>PyBytes_AS_STRING(b), n, samples, now_ns))
        return out

    def event_packet(self, payload, int payload_type, bint marker, uint32_t timestamp, uint64_t now_ns=0):
        """A packet with an explicit timestamp (telephone-events); the media timestamp is unchanged."""
        cdef bytes b = as_bytes(payload)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(b)
        if not 0 <= payload_type <= 127:
            check_rtp(RTP_E_ARGUMENT)
        out = PyBytes_FromStringAndSize(NULL, RTP_HEADER_SIZE + n)
        check_rtp(rtp_sender_write_at(&self.s, <uint8_t *>PyBytes_AS_STRING(out), RTP_HEADER_SIZE + n,
                                      payload_type, marker, timestamp, <const uint8_t *>PyBytes_AS_STRING(b), n,
                                      now_ns))
        return out

    def skip(self, uint32_t samples, bint talkspurt=True):
        """Nothing sent for ``samples``; the next media packet starts a talk spurt if ``talkspurt``."""
        rtp_sender_skip(&self.s, samples, talkspurt)

    def timestamp_at(self, uint64_t now_ns):
        """The RTP timestamp corresponding to ``now_ns`` (for a sender report)."""
        return rtp_sender_timestamp_at(&self.s, now_ns)

    def capsule(self):
        """A capsule "sipsimple.core.media.rtp_sender_t" with this sender's C struct."""
        return owner_capsule(&self.s, b"sipsimple.core.media.rtp_sender_t", self)

    @property
    def ssrc(self):
        return self.s.ssrc

    @property
    def sequence(self):
        """Sequence number of the next packet."""
        return self.s.sequence

    @property
    def timestamp(self):
        """Timestamp of the next media packet."""
        return self.s.timestamp

    @property
    def payload_type(self):
        return self.s.payload_type

    @property
    def clock_rate(self):
        return self.s.clock_rate

    @property
    def packets_sent(self):
        return self.s.packets_sent

    @property
    def octets_sent(self):
        return self.s.octets_sent


# ---- RTCP ----------------------------------------------------------------------------------

cdef class ReportBlock:
    """One reception report block (RFC 3550 §6.4.1). ``cumulative_lost`` is signed (24 bits)."""

    cdef public uint32_t ssrc
    cdef public uint8_t fraction_lost
    cdef public int cumulative_lost
    cdef public uint32_t highest_sequence
    cdef public uint32_t jitter
    cdef public uint32_t lsr
    cdef public uint32_t dlsr

    def __init__(self, uint32_t ssrc=0, uint8_t fraction_lost=0, int cumulative_lost=0,
                 uint32_t highest_sequence=0, uint32_t jitter=0, uint32_t lsr=0, uint32_t dlsr=0):
        self.ssrc = ssrc
        self.fraction_lost = fraction_lost
        self.cumulative_lost = cumulative_lost
        self.highest_sequence = highest_sequence
        self.jitter = jitter
        self.lsr = lsr
        self.dlsr = dlsr

    cdef void to_c(self, rtcp_report_block_t *b):
        b.ssrc = self.ssrc
        b.fraction_lost = self.fraction_lost
        b.cumulative_lost = self.cumulative_lost
        b.highest_sequence = self.highest_sequence
        b.jitter = self.jitter
        b.lsr = self.lsr
        b.dlsr = self.dlsr

    @staticmethod
    cdef ReportBlock from_c(const rtcp_report_block_t *b):
        cdef ReportBlock r = ReportBlock.__new__(ReportBlock)
        r.ssrc = b.ssrc
        r.fraction_lost = b.fraction_lost
        r.cumulative_lost = b.cumulative_lost
        r.highest_sequence = b.highest_sequence
        r.jitter = b.jitter
        r.lsr = b.lsr
        r.dlsr = b.dlsr
        return r

    cdef tuple _key(self):
        return (self.ssrc, self.fraction_lost, self.cumulative_lost, self.highest_sequence, self.jitter,
                self.lsr, self.dlsr)

    def __eq__(self, other):
        if not isinstance(other, ReportBlock):
            return NotImplemented
        return self._key() == (<ReportBlock>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return ("ReportBlock(ssrc=%#010x, fraction_lost=%d, cumulative_lost=%d, highest_sequence=%d, "
                "jitter=%d, lsr=%#010x, dlsr=%d)" % self._key())


cdef class SenderInfo:
    """The sender information of an SR (RFC 3550 §6.4.1)."""

    cdef public uint32_t ssrc
    cdef public uint64_t ntp_timestamp
    cdef public uint32_t rtp_timestamp
    cdef public uint32_t packet_count
    cdef public uint32_t octet_count

    def __init__(self, uint32_t ssrc=0, uint64_t ntp_timestamp=0, uint32_t rtp_timestamp=0,
                 uint32_t packet_count=0, uint32_t octet_count=0):
        self.ssrc = ssrc
        self.ntp_timestamp = ntp_timestamp
        self.rtp_timestamp = rtp_timestamp
        self.packet_count = packet_count
        self.octet_count = octet_count

    cdef tuple _key(self):
        return (self.ssrc, self.ntp_timestamp, self.rtp_timestamp, self.packet_count, self.octet_count)

    def __eq__(self, other):
        if not isinstance(other, SenderInfo):
            return NotImplemented
        return self._key() == (<SenderInfo>other)._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return ("SenderInfo(ssrc=%#010x, ntp_timestamp=%#018x, rtp_timestamp=%d, packet_count=%d, "
                "octet_count=%d)" % self._key())


cdef class RTCPPacket:
    """One compound RTCP packet (RFC 3550 §6.1): what an RTCP datagram carries.

    ``sender_info`` (an SR) or ``reporter_ssrc`` alone (an RR), the ``report_blocks`` of all SR/RR
    packets, ``cnames`` (SSRC -> CNAME from SDES), ``bye`` (SSRCs leaving, or None) and
    ``bye_reason``. ``skipped`` counts APP/XR/feedback/unknown packets the parser stepped over,
    ``dropped_blocks`` the report blocks beyond the 96 kept.
    ``serialize()`` writes SR or RR (more than 31 blocks continue in further RRs), one SDES per
    CNAME, then BYE: ``serialize(parse(x)) == x`` for packets laid out that way.
    """

    cdef public object sender_info
    cdef public object reporter_ssrc
    cdef public list report_blocks
    cdef public dict cnames
    cdef public object bye
    cdef public object bye_reason
    cdef readonly unsigned skipped
    cdef readonly unsigned packets
    cdef readonly unsigned dropped_blocks

    def __init__(self, sender_info=None, reporter_ssrc=None, report_blocks=(), cnames=None, bye=None,
                 bye_reason=None):
        self.sender_info = sender_info
        self.reporter_ssrc = sender_info.ssrc if sender_info is not None and reporter_ssrc is None else reporter_ssrc
        self.report_blocks = list(report_blocks)
        self.cnames = dict(cnames or {})
        self.bye = None if bye is None else tuple(bye)
        self.bye_reason = bye_reason

    @staticmethod
    def parse(data):
        """Parse a compound packet; raises :class:`RTPError` when it is malformed."""
        cdef bytes b = as_bytes(data)
        cdef rtcp_compound_t c
        cdef RTCPPacket pkt = RTCPPacket.__new__(RTCPPacket)
        cdef unsigned i
        check_rtcp(rtcp_parse(<const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), &c))
        pkt.packets = c.packets
        pkt.skipped = c.skipped
        pkt.dropped_blocks = c.blocks_dropped
        pkt.sender_info = None
        pkt.reporter_ssrc = None
        if c.has_sender_info:
            pkt.sender_info = SenderInfo(c.sender_info.ssrc, c.sender_info.ntp_timestamp,
                                         c.sender_info.rtp_timestamp, c.sender_info.packet_count,
                                         c.sender_info.octet_count)
        if c.has_reporter:
            pkt.reporter_ssrc = c.reporter_ssrc
        pkt.report_blocks = [ReportBlock.from_c(&c.blocks[i]) for i in range(c.block_count)]
        pkt.cnames = {}
        for i in range(c.cname_count):
            pkt.cnames[c.cnames[i].ssrc] = c.cnames[i].cname[:c.cnames[i].length].decode("utf-8", "surrogateescape")
        pkt.bye = tuple([c.bye_ssrcs[i] for i in range(c.bye_count)]) if c.has_bye else None
        pkt.bye_reason = (c.bye_reason[:c.bye_reason_length].decode("utf-8", "surrogateescape")
                          if c.has_bye and c.bye_reason_length else None)
        return pkt

    def serialize(self):
        """The compound packet as bytes; raises :class:`RTPError` for out-of-range fields."""
        cdef list blocks = self.report_blocks
        cdef Py_ssize_t nblocks = len(blocks), bound, start, count, k
        cdef rtcp_writer_t w
        cdef rtcp_report_block_t cblocks[31]
        cdef rtcp_sender_info_t si
        cdef uint32_t ssrcs[31]
        cdef uint8_t *buf
        cdef bytes text
        cdef SenderInfo info
        if self.sender_info is None and self.reporter_ssrc is None and nblocks:
            check_rtcp(RTCP_E_ARGUMENT)  # report blocks need a reporter
        bye = self.bye or ()
        if len(bye) > RTCP_MAX_BYE:
            check_rtcp(RTCP_E_ARGUMENT)
        bound = 28 + 8 * (nblocks // 31 + 1) + 24 * nblocks + 272 * len(self.cnames) + 4 + 4 * len(bye) + 260
        buf = <uint8_t *>malloc(bound)
        if buf == NULL:
            raise MemoryError()
        try:
            rtcp_writer_init(&w, buf, bound)
            start = 0
            if self.sender_info is not None or self.reporter_ssrc is not None:
                while True:
                    count = min(31, nblocks - start)
                    for k in range(count):
                        (<ReportBlock?>blocks[start + k]).to_c(&cblocks[k])
                    if start == 0 and self.sender_info is not None:
                        info = <SenderInfo?>self.sender_info
                        si.ssrc = info.ssrc
                        si.ntp_timestamp = info.ntp_timestamp
                        si.rtp_timestamp = info.rtp_timestamp
                        si.packet_count = info.packet_count
                        si.octet_count = info.octet_count
                        check_rtcp(rtcp_write_sr(&w, &si, cblocks, count))
                    else:
                        reporter = self.reporter_ssrc if self.reporter_ssrc is not None else self.sender_info.ssrc
                        check_rtcp(rtcp_write_rr(&w, reporter, cblocks, count))
                    start += count
                    if start >= nblocks:
                        break
            for ssrc, cname in self.cnames.items():
                text = cname.encode("utf-8", "surrogateescape")
                check_rtcp(rtcp_write_sdes_cname(&w, ssrc, text, len(text)))
            if self.bye is not None:
                for k in range(len(bye)):
                    ssrcs[k] = bye[k]
                text = b"" if self.bye_reason is None else self.bye_reason.encode("utf-8", "surrogateescape")
                check_rtcp(rtcp_write_bye(&w, ssrcs, len(bye), text, len(text)))
            return PyBytes_FromStringAndSize(<const char *>buf, w.len)
        finally:
            free(buf)

    def __eq__(self, other):
        if not isinstance(other, RTCPPacket):
            return NotImplemented
        o = <RTCPPacket>other
        return (self.sender_info == o.sender_info and self.reporter_ssrc == o.reporter_ssrc
                and self.report_blocks == o.report_blocks and self.cnames == o.cnames
                and self.bye == o.bye and self.bye_reason == o.bye_reason)

    def __repr__(self):
        return (f"RTCPPacket(sender_info={self.sender_info!r}, reporter_ssrc={self.reporter_ssrc!r}, "
                f"report_blocks={self.report_blocks!r}, cnames={self.cnames!r}, bye={self.bye!r}, "
                f"bye_reason={self.bye_reason!r})")


cdef class ReceptionStats:
    """Reception statistics for one source, RFC 3550 A.1 (sequence numbers, probation), A.3 (loss)
    and A.8 (interarrival jitter), plus the LSR/DLSR bookkeeping of the sender reports received.

    ``update()`` returns RX_VALID, RX_PROBATION (a new source needs 2 packets in sequence), RX_BAD
    (a jump of 3000 or more, not counted; the next packet in sequence after it restarts the source:
    RX_RESTARTED).
    """

    cdef rtcp_rx_stats_t st

    def __init__(self, uint32_t ssrc=0, uint32_t clock_rate=8000):
        if clock_rate == 0:
            check_rtcp(RTCP_E_ARGUMENT)
        rtcp_rx_init(&self.st, ssrc, clock_rate)

    def update(self, uint16_t sequence, uint32_t timestamp, uint64_t arrival_ns, size_t payload_length=0,
               bint jitter=True):
        """Account one RTP packet arriving at ``arrival_ns``; returns an RX_* code."""
        return rtcp_rx_update(&self.st, sequence, timestamp, arrival_ns, payload_length,
                              0 if jitter else RTCP_RX_NO_JITTER)

    def got_sender_report(self, uint64_t ntp_timestamp, uint32_t rtp_timestamp, uint64_t arrival_ns):
        """An SR from this source arrived at ``arrival_ns`` (feeds LSR/DLSR of the next report)."""
        rtcp_rx_got_sr(&self.st, ntp_timestamp, rtp_timestamp, arrival_ns)

    def report(self, uint64_t now_ns):
        """The report block about this source at ``now_ns``; starts a new fraction-lost interval."""
        cdef rtcp_report_block_t b
        rtcp_rx_report(&self.st, now_ns, &b)
        return ReportBlock.from_c(&b)

    def capsule(self):
        """A capsule "sipsimple.core.media.rtcp_rx_stats_t" with the C struct."""
        return owner_capsule(&self.st, b"sipsimple.core.media.rtcp_rx_stats_t", self)

    @property
    def ssrc(self):
        return self.st.ssrc

    @property
    def clock_rate(self):
        return self.st.clock_rate

    @property
    def probation(self):
        """True while the source is not yet validated."""
        return not self.st.started or self.st.probation > 0

    @property
    def base_sequence(self):
        return self.st.base_seq

    @property
    def extended_highest_sequence(self):
        return rtcp_rx_extended_max(&self.st)

    @property
    def received(self):
        return self.st.received

    @property
    def expected(self):
        return rtcp_rx_expected(&self.st) if self.st.started and not self.st.probation else 0

    @property
    def lost(self):
        """Cumulative packets lost (expected - received; negative with duplicates), unclamped."""
        return rtcp_rx_lost(&self.st) if self.st.started and not self.st.probation else 0

    @property
    def jitter(self):
        """Interarrival jitter in RTP timestamp units (A.8)."""
        return rtcp_rx_jitter(&self.st)

    @property
    def bad_packets(self):
        return self.st.bad_packets

    @property
    def probation_packets(self):
        return self.st.probation_packets

    @property
    def octets(self):
        return self.st.octets


cdef class RTCPSchedule:
    """RFC 3550 A.7 transmission scheduling with timer reconsideration (times in seconds).

    ``members``, ``senders`` and ``we_sent`` are updated by the caller as the session goes on.
    """

    cdef rtcp_schedule_t s

    def __init__(self, double now, double rtcp_bandwidth, double min_interval=RTCP_MIN_INTERVAL,
                 double first_packet_size=100.0, double u=0.5):
        rtcp_schedule_init(&self.s, now, rtcp_bandwidth, min_interval, first_packet_size, u)

    def expired(self, double now, double u=0.5):
        """At ``next_time``: True to send now (then call :meth:`sent`), else ``next_time`` moved on."""
        return bool(rtcp_schedule_expired(&self.s, now, u))

    def sent(self, double now, double packet_size, double u=0.5):
        """A compound packet of ``packet_size`` octets (with UDP/IP headers) was sent at ``now``."""
        rtcp_schedule_sent(&self.s, now, packet_size, u)

    def received(self, double packet_size):
        """A compound packet was received: it counts into the average RTCP size."""
        self.s.avg_rtcp_size = rtcp_average_size(self.s.avg_rtcp_size, packet_size)

    @property
    def next_time(self):
        return self.s.tn

    @property
    def last_time(self):
        return self.s.tp

    @property
    def initial(self):
        return bool(self.s.initial)

    @property
    def avg_rtcp_size(self):
        return self.s.avg_rtcp_size

    @property
    def members(self):
        return self.s.members

    @members.setter
    def members(self, unsigned value):
        self.s.members = value if value else 1

    @property
    def senders(self):
        return self.s.senders

    @senders.setter
    def senders(self, unsigned value):
        self.s.senders = value

    @property
    def we_sent(self):
        return bool(self.s.we_sent)

    @we_sent.setter
    def we_sent(self, bint value):
        self.s.we_sent = value


# ---- jitter buffer -------------------------------------------------------------------------

cdef class JitterFrame:
    """What :meth:`JitterBuffer.get` gives: ``kind`` is NOT_YET, FRAME, MISSING or GAP.

    FRAME carries ``payload``, ``sequence`` and ``buffered_ns`` (time spent in the buffer);
    MISSING asks the caller to conceal ``samples`` of audio; GAP is silence the sender chose.
    ``expanded`` marks a MISSING/GAP inserted to grow the delay.
    """

    cdef readonly int kind
    cdef readonly uint32_t flags
    cdef readonly uint32_t timestamp
    cdef readonly uint32_t samples
    cdef readonly uint16_t sequence
    cdef readonly uint32_t ssrc
    cdef readonly object payload
    cdef readonly uint64_t buffered_ns

    @property
    def marker(self):
        return bool(self.flags & JBUF_F_MARKER)

    @property
    def cng(self):
        return bool(self.flags & JBUF_F_CNG)

    @property
    def expanded(self):
        return bool(self.flags & JBUF_F_EXPAND)

    def __repr__(self):
        return (f"JitterFrame({_KIND_NAMES.get(self.kind, self.kind)}, timestamp={self.timestamp}, "
                f"samples={self.samples}, sequence={self.sequence}, flags={self.flags:#x}, "
                f"payload={self.payload!r})")


cdef class JitterBuffer:
    """The adaptive jitter buffer (csrc/jbuf.h): ``put()`` packets as they arrive, ``get()`` audio
    when the playout needs it; both take the caller's clock in nanoseconds.

    ``frame_samples`` is the packet duration in RTP units (0: 20 ms); ``percentile`` in percent.
    ``min_delay_ms`` is a floor of the target delay: 10 ms by default, a margin against a loaded
    machine's scheduling stalls; 0 is the low-latency setting (docs/media-rtp.md, "Minimum delay").
    """

    cdef jbuf_t *jb
    cdef uint8_t *out
    cdef size_t out_cap
    cdef jbuf_config_t cfg

    def __init__(self, uint32_t clock_rate=8000, uint32_t frame_samples=0, uint32_t min_delay_ms=10,
                  uint32_t max_delay_ms=300, uint32_t window_ms=2000, double percentile=95.0,
                  uint32_t shrink_interval_ms=100, uint32_t capacity=0, uint32_t max_payload=1500):
        cdef jbuf_config_t c
        if clock_rate == 0 or not 0.0 <= percentile <= 100.0:
            raise RTPError(JBUF_E_ARGUMENT, "bad jitter buffer configuration")
        jbuf_config_default(&c, clock_rate, frame_samples)
        c.min_delay_ms = min_delay_ms
        c.max_delay_ms = max_delay_ms
        c.window_ms = window_ms
        c.percentile = <uint32_t>(percentile * 10.0 + 0.5)
        c.shrink_interval_ms = shrink_interval_ms
        c.capacity = capacity
        c.max_payload = max_payload
        if self.jb != NULL:
            jbuf_destroy(self.jb)
        free(self.out)
        self.out = NULL
        self.jb = jbuf_create(&c)
        if self.jb == NULL:
            raise RTPError(JBUF_E_ARGUMENT, "bad jitter buffer configuration")
        jbuf_get_config(self.jb, &self.cfg)
        self.out_cap = c.max_payload
        self.out = <uint8_t *>malloc(self.out_cap)
        if self.out == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.jb != NULL:
            jbuf_destroy(self.jb)
        free(self.out)

    cdef jbuf_t *_ptr(self) except NULL:
        if self.jb == NULL or self.out == NULL:
            raise RTPError(JBUF_E_ARGUMENT, "jitter buffer not initialised")
        return self.jb

    def put(self, payload, uint16_t sequence, uint32_t timestamp, uint64_t arrival_ns, uint32_t ssrc=0,
            uint32_t samples=0, bint marker=False, bint cng=False):
        """Insert a packet; returns PUT_OK, PUT_DUPLICATE, PUT_LATE, PUT_TOO_BIG, PUT_OUT_OF_SYNC or
        PUT_RESYNC (accepted after a flush)."""
        cdef bytes b = as_bytes(payload)
        cdef uint32_t flags = (JBUF_F_MARKER if marker else 0) | (JBUF_F_CNG if cng else 0)
        return jbuf_put(self._ptr(), <const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), sequence,
                        timestamp, ssrc, samples, flags, arrival_ns)

    def get(self, uint64_t now_ns):
        """The next piece of audio to play at ``now_ns``, as a :class:`JitterFrame`."""
        cdef jbuf_frame_t f
        cdef int kind = jbuf_get(self._ptr(), now_ns, self.out, self.out_cap, &f)
        cdef JitterFrame r = JitterFrame.__new__(JitterFrame)
        if kind < 0:
            raise RTPError(kind, "payload larger than the output buffer")
        r.kind = kind
        r.flags = f.flags
        r.timestamp = f.timestamp
        r.samples = f.samples
        r.sequence = f.sequence
        r.ssrc = f.ssrc
        r.buffered_ns = f.buffered_ns
        r.payload = PyBytes_FromStringAndSize(<const char *>self.out, f.length) if kind == JBUF_FRAME else None
        return r

    def reset(self):
        """Forget buffered packets and jitter history (statistics stay)."""
        jbuf_reset(self._ptr())

    def capsule(self):
        """A capsule "sipsimple.core.media.jbuf_t" with the C buffer (thread-safe: it has a mutex)."""
        return owner_capsule(self._ptr(), b"sipsimple.core.media.jbuf_t", self)

    @property
    def stats(self):
        """Counters and delays: a dict (delays in milliseconds)."""
        cdef jbuf_stats_t s
        jbuf_get_stats(self._ptr(), &s)
        rate = self.cfg.clock_rate / 1000.0
        return {
            "received": s.received,
            "played": s.played,
            "missing": s.missing,
            "expanded": s.expanded,
            "gaps": s.gaps,
            "late": s.late,
            "duplicates": s.duplicates,
            "shrunk": s.shrunk,
            "overflow": s.overflow,
            "too_big": s.too_big,
            "out_of_sync": s.out_of_sync,
            "resyncs": s.resyncs,
            "catchups": s.catchups,
            "buffered": s.buffered,
            "target_delay_ms": s.target_delay / rate,
            "play_delay_ms": s.play_delay / rate,
            "jitter_percentile_ms": s.jitter_percentile / rate,
        }

    @property
    def target_delay_ms(self):
        cdef jbuf_stats_t s
        jbuf_get_stats(self._ptr(), &s)
        return s.target_delay * 1000.0 / self.cfg.clock_rate

    @property
    def play_delay_ms(self):
        """now - base - timestamp at the last get() once playing: the delay the buffer adds."""
        cdef jbuf_stats_t s
        jbuf_get_stats(self._ptr(), &s)
        return s.play_delay * 1000.0 / self.cfg.clock_rate

    @property
    def config(self):
        return {
            "clock_rate": self.cfg.clock_rate,
            "frame_samples": self.cfg.frame_samples,
            "min_delay_ms": self.cfg.min_delay_ms,
            "max_delay_ms": self.cfg.max_delay_ms,
            "window_ms": self.cfg.window_ms,
            "percentile": self.cfg.percentile / 10.0,
            "shrink_interval_ms": self.cfg.shrink_interval_ms,
            "capacity": self.cfg.capacity,
            "max_payload": self.cfg.max_payload,
        }


# ---- RFC 4733 telephone-events --------------------------------------------------------------

DTMFPacket = namedtuple("DTMFPacket", "payload timestamp marker end")
DTMFPacket.__doc__ = "A telephone-event payload to send with the event's start timestamp and marker."

_DTMFEventBase = namedtuple("_DTMFEventBase", "digit event duration duration_ms volume ended timestamp")


class DTMFEvent(_DTMFEventBase):
    """A received digit: ``digit`` ("0"-"9", "*", "#", "A"-"D", or None for other events), the
    event code, the duration in RTP units and ms, the volume (-dBm0), whether an end packet
    arrived (``ended``) and the event's RTP timestamp."""

    __slots__ = ()


cdef object _event(const dtmf_event_t *e, uint32_t clock_rate):
    cdef char c = dtmf_char_from_event(e.event)
    return DTMFEvent(chr(c) if c else None, e.event, e.duration, e.duration * 1000.0 / clock_rate,
                     e.volume, bool(e.ended), e.timestamp)


cdef class DTMFSender:
    """RFC 4733 sender: queue digits with :meth:`send`, then call :meth:`tick` once per packet
    interval; it returns a :class:`DTMFPacket` to send instead of audio, or None."""

    cdef dtmf_sender_t s

    def __init__(self, uint32_t clock_rate=8000, uint32_t pause_ms=50):
        if clock_rate == 0:
            raise RTPError(DTMF_E_ARGUMENT, "clock rate must not be 0")
        dtmf_sender_init(&self.s, clock_rate, pause_ms)

    def send(self, digits, uint32_t duration_ms=100, int volume=10):
        """Queue the digits of a string ("0"-"9", "*", "#", "A"-"D")."""
        events = []
        for ch in digits:
            code = dtmf_event_from_char(ord(ch) if len(ch) == 1 and ord(ch) < 128 else 0)
            if code < 0:
                raise RTPError(DTMF_E_ARGUMENT, f"{ch!r} is not a DTMF digit")
            events.append(code)
        if not 0 <= volume <= DTMF_MAX_VOLUME:
            raise RTPError(DTMF_E_ARGUMENT, "volume must be 0..63 (-dBm0)")
        if self.s.q_len + len(events) > DTMF_MAX_QUEUE:
            raise RTPError(DTMF_E_FULL, f"more than {DTMF_MAX_QUEUE} events queued")
        for code in events:
            dtmf_sender_queue(&self.s, code, duration_ms, volume)

    def send_event(self, int event, uint32_t duration_ms=100, int volume=10):
        """Queue any telephone-event code (0..255)."""
        if not 0 <= event <= 255 or not 0 <= volume <= DTMF_MAX_VOLUME:
            raise RTPError(DTMF_E_ARGUMENT, "event must be 0..255 and volume 0..63")
        status = dtmf_sender_queue(&self.s, event, duration_ms, volume)
        if status == DTMF_E_FULL:
            raise RTPError(DTMF_E_FULL, f"more than {DTMF_MAX_QUEUE} events queued")

    def tick(self, uint32_t media_timestamp, uint32_t frame_samples):
        """One packet interval: a :class:`DTMFPacket` to send, or None (send audio)."""
        cdef dtmf_packet_t pkt
        if dtmf_sender_tick(&self.s, media_timestamp, frame_samples, &pkt) != DTMF_TX_PACKET:
            return None
        return DTMFPacket(PyBytes_FromStringAndSize(<const char *>pkt.payload, DTMF_PAYLOAD_SIZE),
                          pkt.timestamp, bool(pkt.marker), bool(pkt.end))

    def clear(self):
        """Drop queued digits (one being sent still ends properly)."""
        dtmf_sender_clear(&self.s)

    def capsule(self):
        """A capsule "sipsimple.core.media.dtmf_sender_t" with the C struct."""
        return owner_capsule(&self.s, b"sipsimple.core.media.dtmf_sender_t", self)

    @property
    def busy(self):
        return bool(dtmf_sender_busy(&self.s))

    @property
    def queued(self):
        return self.s.q_len

    @property
    def packets(self):
        return self.s.packets

    @property
    def events(self):
        return self.s.events


cdef class DTMFReceiver:
    """RFC 4733 receiver: :meth:`put` each telephone-event payload with its RTP timestamp; it
    returns the events that finished (each digit once); :meth:`tick` reports an event whose end
    packets were all lost, ``timeout_ms`` after its last packet."""

    cdef dtmf_receiver_t r

    def __init__(self, uint32_t clock_rate=8000, uint32_t timeout_ms=500):
        if clock_rate == 0:
            raise RTPError(DTMF_E_ARGUMENT, "clock rate must not be 0")
        dtmf_receiver_init(&self.r, clock_rate, timeout_ms)

    def put(self, payload, uint32_t timestamp, uint64_t now_ns):
        cdef bytes b = as_bytes(payload)
        cdef dtmf_event_t out[2]
        cdef int n = dtmf_receiver_put(&self.r, <const uint8_t *>PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b),
                                       timestamp, now_ns, out)
        if n < 0:
            raise RTPError(n, "telephone-event payload shorter than 4 bytes")
        return [_event(&out[i], self.r.clock_rate) for i in range(n)]

    def tick(self, uint64_t now_ns):
        cdef dtmf_event_t e
        if dtmf_receiver_tick(&self.r, now_ns, &e):
            return [_event(&e, self.r.clock_rate)]
        return []

    def capsule(self):
        """A capsule "sipsimple.core.media.dtmf_receiver_t" with the C struct."""
        return owner_capsule(&self.r, b"sipsimple.core.media.dtmf_receiver_t", self)

    @property
    def packets(self):
        return self.r.packets

    @property
    def ignored(self):
        """Packets of events already reported (retransmitted ends) or older ones."""
        return self.r.ignored

    @property
    def malformed(self):
        return self.r.malformed

    @property
    def reported(self):
        return self.r.reported


# ---- the C function table -------------------------------------------------------------------

cdef media_rtp_api _api
_api.version = MEDIA_RTP_API_VERSION
_api.rtp_parse = rtp_parse
_api.rtp_is_rtcp = rtp_is_rtcp
_api.rtp_build = rtp_build
_api.rtp_sender_init = rtp_sender_init
_api.rtp_sender_write = rtp_sender_write
_api.rtp_sender_write_at = rtp_sender_write_at
_api.rtp_sender_skip = rtp_sender_skip
_api.rtp_sender_timestamp_at = rtp_sender_timestamp_at
_api.rtp_strerror = rtp_strerror
_api.rtcp_parse = rtcp_parse
_api.rtcp_writer_init = rtcp_writer_init
_api.rtcp_write_sr = rtcp_write_sr
_api.rtcp_write_rr = rtcp_write_rr
_api.rtcp_write_sdes_cname = rtcp_write_sdes_cname
_api.rtcp_write_bye = rtcp_write_bye
_api.rtcp_clock_init = rtcp_clock_init
_api.rtcp_clock_ntp = rtcp_clock_ntp
_api.rtcp_rtt_ns = rtcp_rtt_ns
_api.rtcp_rx_init = rtcp_rx_init
_api.rtcp_rx_update = rtcp_rx_update
_api.rtcp_rx_got_sr = rtcp_rx_got_sr
_api.rtcp_rx_report = rtcp_rx_report
_api.rtcp_schedule_init = rtcp_schedule_init
_api.rtcp_schedule_expired = rtcp_schedule_expired
_api.rtcp_schedule_sent = rtcp_schedule_sent
_api.rtcp_strerror = rtcp_strerror
_api.jbuf_config_default = jbuf_config_default
_api.jbuf_create = jbuf_create
_api.jbuf_destroy = jbuf_destroy
_api.jbuf_reset = jbuf_reset
_api.jbuf_put = jbuf_put
_api.jbuf_get = jbuf_get
_api.jbuf_get_stats = jbuf_get_stats
_api.dtmf_sender_init = dtmf_sender_init
_api.dtmf_sender_queue = dtmf_sender_queue
_api.dtmf_sender_tick = dtmf_sender_tick
_api.dtmf_receiver_init = dtmf_receiver_init
_api.dtmf_receiver_put = dtmf_receiver_put
_api.dtmf_receiver_tick = dtmf_receiver_tick

_C_API = PyCapsule_New(<void *>&_api, MEDIA_RTP_API_CAPSULE, NULL)


# ---- native loops for benchmarks/media_rtp.py (not API) --------------------------------------

def _native_receive(list packets, list arrivals, uint64_t frame_ns=20000000, uint32_t clock_rate=8000,
                    uint32_t frame_samples=160):
    """Parse + ReceptionStats + JitterBuffer put, and a get every ``frame_ns``, all in C.

    Returns (nanoseconds spent in the C loop, frames returned by get). For the benchmark only.
    """
    cdef Py_ssize_t n = len(packets), i
    cdef const uint8_t **bufs = <const uint8_t **>malloc(n * sizeof(uint8_t *))
    cdef size_t *lens = <size_t *>malloc(n * sizeof(size_t))
    cdef uint64_t *times = <uint64_t *>malloc(n * sizeof(uint64_t))
    cdef jbuf_config_t c
    cdef jbuf_t *jb
    cdef rtp_header_t h
    cdef rtcp_rx_stats_t st
    cdef jbuf_frame_t f
    cdef uint8_t out[1500]
    cdef uint64_t next_get, start, end, frames = 0
    cdef timespec t0, t1
    if bufs == NULL or lens == NULL or times == NULL:
        free(bufs); free(lens); free(times)
        raise MemoryError()
    for i in range(n):
        data = <bytes?>packets[i]
        bufs[i] = <const uint8_t *>PyBytes_AS_STRING(data)
        lens[i] = PyBytes_GET_SIZE(data)
        times[i] = arrivals[i]
    jbuf_config_default(&c, clock_rate, frame_samples)
    jb = jbuf_create(&c)
    rtcp_rx_init(&st, 0, clock_rate)
    next_get = times[0] if n else 0
    with nogil:
        clock_gettime(CLOCK_MONOTONIC, &t0)
        for i in range(n):
            while next_get <= times[i]:
                if jbuf_get(jb, next_get, out, sizeof(out), &f) == JBUF_FRAME:
                    frames += 1
                next_get += frame_ns
            if rtp_parse(bufs[i], lens[i], &h) == RTP_OK:
                rtcp_rx_update(&st, h.sequence, h.timestamp, times[i], h.payload_length, 0)
                jbuf_put(jb, bufs[i] + h.payload_offset, h.payload_length, h.sequence, h.timestamp, h.ssrc,
                         0, JBUF_F_MARKER if h.marker else 0, times[i])
        clock_gettime(CLOCK_MONOTONIC, &t1)
    jbuf_destroy(jb)
    free(bufs); free(lens); free(times)
    return (<int64_t>(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec), frames)


def _native_rtcp_stats(list packets, list arrivals, uint32_t clock_rate=8000):
    """Parse + ReceptionStats.update in C for each packet, a report block every 250 packets;
    returns the nanoseconds spent. For the benchmark only."""
    cdef Py_ssize_t n = len(packets), i
    cdef rtp_header_t h
    cdef rtcp_rx_stats_t st
    cdef rtcp_report_block_t b
    cdef timespec t0, t1
    cdef list keep = packets
    rtcp_rx_init(&st, 0, clock_rate)
    clock_gettime(CLOCK_MONOTONIC, &t0)
    for i in range(n):
        data = <bytes>keep[i]
        if rtp_parse(<const uint8_t *>PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data), &h) == RTP_OK:
            rtcp_rx_update(&st, h.sequence, h.timestamp, <uint64_t>arrivals[i], h.payload_length, 0)
        if i % 250 == 249:
            rtcp_rx_report(&st, <uint64_t>arrivals[i], &b)
    clock_gettime(CLOCK_MONOTONIC, &t1)
    return <int64_t>(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec)
