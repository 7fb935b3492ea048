"""Type stub for sipsimple.core.media._srtp (SRTP session pair: our AES-CM engine, libsrtp2)."""

from typing import Any, Final, Literal, NamedTuple, final

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

_Bytes = bytes | bytearray | memoryview

E_ARGUMENT: Final[int]
E_UNSUPPORTED: Final[int]
E_NO_KEY: Final[int]
E_SPACE: Final[int]
E_MALFORMED: Final[int]
E_AUTH: Final[int]
E_REPLAY: Final[int]
E_KEY_EXPIRED: Final[int]
E_LIBRARY: Final[int]
E_SOURCES: Final[int]
MAX_RTP_TAIL: Final[int]
MAX_RTCP_TAIL: Final[int]
API_CAPSULE_NAME: Final[str]
SESSION_CAPSULE_NAME: Final[str]
SUITE_NAMES: Final[tuple[str, ...]]
_C_API: Any

class SRTPError(SIPCoreError):
    status: int
    reason: str
    def __init__(self, status: int, reason: str) -> None: ...

class SuiteInfo(NamedTuple):
    name: str
    key_length: int
    salt_length: int
    rtp_tail: int
    rtcp_tail: int
    available: bool

class SRTPStats(NamedTuple):
    rtp_protected: int
    rtcp_protected: int
    rtp_unprotected: int
    rtcp_unprotected: int
    unprotected_with_previous_key: int
    auth_failures: int
    replay_failures: int
    malformed: int
    other_failures: int
    protect_failures: int
    outbound_rekeys: int
    inbound_rekeys: int
    outbound_suite: str | None
    inbound_suite: str | None

def suites() -> list[SuiteInfo]: ...
def available_suites() -> list[str]: ...
def suite_info(name: str) -> SuiteInfo: ...
def library_version() -> str: ...
def crypto_backend() -> str: ...

@final
class SRTPSession:
    def __init__(self, engine: Literal["default", "libsrtp"] = "default") -> None: ...
    def set_outbound_key(self, suite: str, key: _Bytes) -> bool: ...
    def set_inbound_key(self, suite: str, key: _Bytes) -> bool: ...
    def clear_keys(self) -> None: ...
    @property
    def outbound_suite(self) -> str | None: ...
    @property
    def inbound_suite(self) -> str | None: ...
    @property
    def active(self) -> bool: ...
    def tail_room(self, rtcp: bool = False) -> int: ...
    def protect_rtp(self, packet: _Bytes) -> bytes: ...
    def unprotect_rtp(self, packet: _Bytes) -> bytes: ...
    def protect_rtcp(self, packet: _Bytes) -> bytes: ...
    def unprotect_rtcp(self, packet: _Bytes) -> bytes: ...
    @property
    def stats(self) -> SRTPStats: ...
    def capsule(self) -> Any: ...

def _time_round_trips(
    suite: str,
    key: _Bytes,
    packet: _Bytes,
    iterations: int,
    engine: Literal["default", "libsrtp"] = "default",
) -> tuple[int, int, int]: ...
