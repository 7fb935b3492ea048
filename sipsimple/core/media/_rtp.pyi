"""Type stub for sipsimple.core.media._rtp (RTP/RTCP, jitter buffer, RFC 4733 telephone-events)."""

from typing import Any, Final, NamedTuple, final

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

_Bytes = bytes | bytearray | memoryview

NOT_YET: Final[int]
FRAME: Final[int]
MISSING: Final[int]
GAP: Final[int]
PUT_OK: Final[int]
PUT_DUPLICATE: Final[int]
PUT_LATE: Final[int]
PUT_TOO_BIG: Final[int]
PUT_OUT_OF_SYNC: Final[int]
PUT_RESYNC: Final[int]
RX_VALID: Final[int]
RX_PROBATION: Final[int]
RX_BAD: Final[int]
RX_RESTARTED: Final[int]
API_CAPSULE_NAME: Final[str]
_C_API: Final[Any]

class RTPError(SIPCoreError):
    status: int
    reason: str
    def __init__(self, status: int, reason: str) -> None: ...

def monotonic_ns() -> int: ...
def ntp_from_unix_ns(unix_ns: int) -> int: ...
def ntp_middle(ntp: int) -> int: ...
def round_trip_time_ns(arrival_ntp_middle: int, lsr: int, dlsr: int) -> int | None: ...
def is_rtcp(data: _Bytes) -> bool: ...
def rtcp_interval(
    members: int,
    senders: int,
    rtcp_bandwidth: float,
    we_sent: bool,
    avg_rtcp_size: float,
    initial: bool,
    min_interval: float = 5.0,
    u: float = 0.5,
) -> float: ...

@final
class RTPPacket:
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    csrcs: tuple[int, ...]
    extension: tuple[int, bytes] | None
    payload: bytes
    padding: int
    def __init__(
        self,
        payload_type: int = 0,
        sequence: int = 0,
        timestamp: int = 0,
        ssrc: int = 0,
        payload: _Bytes = b"",
        marker: bool = False,
        csrcs: tuple[int, ...] | list[int] = (),
        extension: tuple[int, bytes] | None = None,
        padding: int = 0,
    ) -> None: ...
    @staticmethod
    def parse(data: _Bytes) -> RTPPacket: ...
    def serialize(self) -> bytes: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RTPSender:
    def __init__(
        self,
        payload_type: int,
        clock_rate: int,
        ssrc: int | None = None,
        sequence: int | None = None,
        timestamp: int | None = None,
    ) -> None: ...
    def packet(self, payload: _Bytes, samples: int, now_ns: int = 0, payload_type: int = -1) -> bytes: ...
    def event_packet(
        self, payload: _Bytes, payload_type: int, marker: bool, timestamp: int, now_ns: int = 0
    ) -> bytes: ...
    def skip(self, samples: int, talkspurt: bool = True) -> None: ...
    def timestamp_at(self, now_ns: int) -> int: ...
    def capsule(self) -> Any: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def payload_type(self) -> int: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def packets_sent(self) -> int: ...
    @property
    def octets_sent(self) -> int: ...

@final
class ReportBlock:
    ssrc: int
    fraction_lost: int
    cumulative_lost: int
    highest_sequence: int
    jitter: int
    lsr: int
    dlsr: int
    def __init__(
        self,
        ssrc: int = 0,
        fraction_lost: int = 0,
        cumulative_lost: int = 0,
        highest_sequence: int = 0,
        jitter: int = 0,
        lsr: int = 0,
        dlsr: int = 0,
    ) -> None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class SenderInfo:
    ssrc: int
    ntp_timestamp: int
    rtp_timestamp: int
    packet_count: int
    octet_count: int
    def __init__(
        self,
        ssrc: int = 0,
        ntp_timestamp: int = 0,
        rtp_timestamp: int = 0,
        packet_count: int = 0,
        octet_count: int = 0,
    ) -> None: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class RTCPPacket:
    sender_info: SenderInfo | None
    reporter_ssrc: int | None
    report_blocks: list[ReportBlock]
    cnames: dict[int, str]
    bye: tuple[int, ...] | None
    bye_reason: str | None
    @property
    def skipped(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def dropped_blocks(self) -> int: ...
    def __init__(
        self,
        sender_info: SenderInfo | None = None,
        reporter_ssrc: int | None = None,
        report_blocks: tuple[ReportBlock, ...] | list[ReportBlock] = (),
        cnames: dict[int, str] | None = None,
        bye: tuple[int, ...] | list[int] | None = None,
        bye_reason: str | None = None,
    ) -> None: ...
    @staticmethod
    def parse(data: _Bytes) -> RTCPPacket: ...
    def serialize(self) -> bytes: ...
    def __eq__(self, other: object, /) -> bool: ...

@final
class ReceptionStats:
    def __init__(self, ssrc: int = 0, clock_rate: int = 8000) -> None: ...
    def update(
        self, sequence: int, timestamp: int, arrival_ns: int, payload_length: int = 0, jitter: bool = True
    ) -> int: ...
    def got_sender_report(self, ntp_timestamp: int, rtp_timestamp: int, arrival_ns: int) -> None: ...
    def report(self, now_ns: int) -> ReportBlock: ...
    def capsule(self) -> Any: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def clock_rate(self) -> int: ...
    @property
    def probation(self) -> bool: ...
    @property
    def base_sequence(self) -> int: ...
    @property
    def extended_highest_sequence(self) -> int: ...
    @property
    def received(self) -> int: ...
    @property
    def expected(self) -> int: ...
    @property
    def lost(self) -> int: ...
    @property
    def jitter(self) -> int: ...
    @property
    def bad_packets(self) -> int: ...
    @property
    def probation_packets(self) -> int: ...
    @property
    def octets(self) -> int: ...

@final
class RTCPSchedule:
    members: int
    senders: int
    we_sent: bool
    def __init__(
        self,
        now: float,
        rtcp_bandwidth: float,
        min_interval: float = 5.0,
        first_packet_size: float = 100.0,
        u: float = 0.5,
    ) -> None: ...
    def expired(self, now: float, u: float = 0.5) -> bool: ...
    def sent(self, now: float, packet_size: float, u: float = 0.5) -> None: ...
    def received(self, packet_size: float) -> None: ...
    @property
    def next_time(self) -> float: ...
    @property
    def last_time(self) -> float: ...
    @property
    def initial(self) -> bool: ...
    @property
    def avg_rtcp_size(self) -> float: ...

@final
class JitterFrame:
    @property
    def kind(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def samples(self) -> int: ...
    @property
    def sequence(self) -> int: ...
    @property
    def ssrc(self) -> int: ...
    @property
    def payload(self) -> bytes | None: ...
    @property
    def buffered_ns(self) -> int: ...
    @property
    def marker(self) -> bool: ...
    @property
    def cng(self) -> bool: ...
    @property
    def expanded(self) -> bool: ...

@final
class JitterBuffer:
    def __init__(
        self,
        clock_rate: int = 8000,
        frame_samples: int = 0,
        min_delay_ms: int = 10,
        max_delay_ms: int = 300,
        window_ms: int = 2000,
        percentile: float = 95.0,
        shrink_interval_ms: int = 100,
        capacity: int = 0,
        max_payload: int = 1500,
    ) -> None: ...
    def put(
        self,
        payload: _Bytes,
        sequence: int,
        timestamp: int,
        arrival_ns: int,
        ssrc: int = 0,
        samples: int = 0,
        marker: bool = False,
        cng: bool = False,
    ) -> int: ...
    def get(self, now_ns: int) -> JitterFrame: ...
    def reset(self) -> None: ...
    def capsule(self) -> Any: ...
    @property
    def stats(self) -> dict[str, float]: ...
    @property
    def target_delay_ms(self) -> float: ...
    @property
    def play_delay_ms(self) -> float: ...
    @property
    def config(self) -> dict[str, float]: ...

class DTMFPacket(NamedTuple):
    payload: bytes
    timestamp: int
    marker: bool
    end: bool

class DTMFEvent(NamedTuple):
    digit: str | None
    event: int
    duration: int
    duration_ms: float
    volume: int
    ended: bool
    timestamp: int

@final
class DTMFSender:
    def __init__(self, clock_rate: int = 8000, pause_ms: int = 50) -> None: ...
    def send(self, digits: str, duration_ms: int = 100, volume: int = 10) -> None: ...
    def send_event(self, event: int, duration_ms: int = 100, volume: int = 10) -> None: ...
    def tick(self, media_timestamp: int, frame_samples: int) -> DTMFPacket | None: ...
    def clear(self) -> None: ...
    def capsule(self) -> Any: ...
    @property
    def busy(self) -> bool: ...
    @property
    def queued(self) -> int: ...
    @property
    def packets(self) -> int: ...
    @property
    def events(self) -> int: ...

@final
class DTMFReceiver:
    def __init__(self, clock_rate: int = 8000, timeout_ms: int = 500) -> None: ...
    def put(self, payload: _Bytes, timestamp: int, now_ns: int) -> list[DTMFEvent]: ...
    def tick(self, now_ns: int) -> list[DTMFEvent]: ...
    def capsule(self) -> Any: ...
    @property
    def packets(self) -> int: ...
    @property
    def ignored(self) -> int: ...
    @property
    def malformed(self) -> int: ...
    @property
    def reported(self) -> int: ...
