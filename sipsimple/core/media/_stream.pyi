"""Type stub for sipsimple.core.media._stream (RTP transports and the audio stream port)."""

from typing import Any, Final, final

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.media._events import EventQueue
from sipsimple.core.media._srtp import SRTPSession

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

EVENT_RTP_TIMEOUT: Final[int]
EVENT_ADDRESS: Final[int]
EVENT_STUN: Final[int]
EVENT_DTMF: Final[int]
EVENT_RTCP_BYE: Final[int]
EVENT_NAMES: Final[dict[int, str]]
DIRECTIONS: Final[dict[str, int]]

class RTPTransportError(SIPCoreError):
    errno: int
    def __init__(self, message: str, errno: int = 0) -> None: ...

def is_stun(data: bytes | bytearray | memoryview) -> bool: ...
def default_io_thread() -> IOThread: ...
def _benchmark_loopback(pairs: int, rounds: int, payload: int = 172) -> tuple[int, int]: ...

@final
class ManualClock:
    def __init__(self, start: float = 1000.0) -> None: ...
    @property
    def now(self) -> float: ...
    @property
    def now_ns(self) -> int: ...
    def advance(self, seconds: float) -> None: ...

@final
class IOThread:
    event_queue: EventQueue
    def __init__(self, event_queue: EventQueue | None = None) -> None: ...
    @property
    def is_running(self) -> bool: ...
    def stop(self) -> None: ...
    @property
    def statistics(self) -> dict[str, int]: ...

@final
class RTPTransport:
    io_thread: IOThread
    event_queue: EventQueue
    rtcp_mux: bool
    latching: bool
    is_memory: bool
    local_rtp_address: str | None
    local_rtp_port: int | None
    local_rtcp_port: int | None
    remote_rtp_address_sdp: str | None
    remote_rtp_port_sdp: int | None
    remote_rtcp_port_sdp: int | None
    def __init__(
        self,
        local_address: str | None = None,
        port_range: Any = None,
        *,
        rtcp_mux: bool = False,
        timeout: float = 0,
        latching: bool = True,
        latch_packets: int = 3,
        io_thread: IOThread | None = None,
        event_queue: EventQueue | None = None,
        clock: ManualClock | None = None,
    ) -> None: ...
    @classmethod
    def memory_pair(
        cls,
        *,
        io_thread: IOThread | None = None,
        event_queue: EventQueue | None = None,
        clock: ManualClock | None = None,
    ) -> tuple[RTPTransport, RTPTransport]: ...
    def set_remote(
        self, address: str | None, port: int | None = None, rtcp_port: int | None = None
    ) -> None: ...
    @property
    def remote_rtp_address(self) -> str | None: ...
    @property
    def remote_rtp_port(self) -> int | None: ...
    @property
    def remote_rtcp_port(self) -> int | None: ...
    @property
    def remote_rtp_address_received(self) -> str | None: ...
    @property
    def remote_rtp_port_received(self) -> int | None: ...
    @property
    def remote_rtcp_address_received(self) -> str | None: ...
    @property
    def remote_rtcp_port_received(self) -> int | None: ...
    @property
    def timeout(self) -> float: ...
    @timeout.setter
    def timeout(self, value: float | None) -> None: ...
    def send_datagram(
        self,
        data: bytes | bytearray | memoryview,
        address: str | None = None,
        port: int | None = None,
        component: int = 1,
    ) -> None: ...
    srtp_session: SRTPSession | None
    def set_srtp(self, session: SRTPSession | None) -> None: ...
    @property
    def srtp_active(self) -> bool: ...
    def close(self) -> None: ...
    @property
    def is_closed(self) -> bool: ...
    @property
    def statistics(self) -> dict[str, Any]: ...
    def _service(self, now: float | None = None) -> float | None: ...
    def _set_loss(self, every: int) -> None: ...
    def _take_stun(self) -> tuple[int, bytes, str | None, int | None] | None: ...
    def _handle_media_event(self, type: int, a: int, b: int) -> None: ...

@final
class AudioStreamPort:
    transport: RTPTransport
    codec: str
    clock_rate: int
    sample_rate: int
    payload_type: int
    receive_payload_type: int
    ptime: int
    fmtp: str | None
    dtmf_payload_type: int | None
    cn_payload_type: int | None
    receive_dtmf_payload_type: int | None
    receive_cn_payload_type: int | None
    silence_detection: bool
    frame_time: int
    samples_per_frame: int
    remote_bye: bool
    def __init__(
        self,
        transport: RTPTransport,
        codec: str,
        clock_rate: int = 0,
        *,
        payload_type: int | None = None,
        ptime: int = 20,
        fmtp: str | None = None,
        sample_rate: int | None = None,
        frame_time: int = 20,
        direction: str = "sendrecv",
        dtmf_payload_type: int | None = 101,
        cn_payload_type: int | None = None,
        bitrate: int | None = None,
        complexity: int | None = None,
        fec: bool | None = None,
        dtx: bool | None = None,
        packet_loss: int | None = None,
        rtcp_interval: float = 2.5,
        session_bandwidth: int | None = None,
        jitter_min_delay: int | None = None,
        jitter_max_delay: int | None = None,
        cname: str | None = None,
        receive_payload_type: int | None = None,
        receive_dtmf_payload_type: int | None = None,
        receive_cn_payload_type: int | None = None,
        silence_detection: bool = False,
    ) -> None: ...
    def port_capsule(self) -> object: ...
    def start(self) -> None: ...
    def stop(self, bye: bool = True) -> None: ...
    @property
    def is_started(self) -> bool: ...
    @property
    def direction(self) -> str: ...
    @direction.setter
    def direction(self, value: str) -> None: ...
    def send_dtmf(self, digit: str, duration: int = 200, volume: int = 10) -> None: ...
    @property
    def is_sending_dtmf(self) -> bool: ...
    def _service(self, now: float | None = None) -> float | None: ...
    @property
    def statistics(self) -> dict[str, Any]: ...
    def _handle_media_event(self, type: int, a: int, b: int) -> None: ...
