"""Type stub for sipsimple.core.media._codecs (audio codecs over the C codec layer)."""

from array import array
from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple, final

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

_Buffer = bytes | bytearray | memoryview | array[int]  # any contiguous buffer

EINVAL: Final[int]
EFRAME: Final[int]
ENOSPACE: Final[int]
ECORRUPT: Final[int]
ENOMEM: Final[int]
EDIRECTION: Final[int]
ELIBRARY: Final[int]
EFMTP: Final[int]
CODEC_CAPSULE_NAME: Final[str]
_C_API: Final[object]

class MediaCodecError(SIPCoreError):
    status: int
    name: str
    reason: str
    def __init__(self, status: int, reason: str | None = None) -> None: ...

class CodecInfo(NamedTuple):
    name: str
    payload_type: int
    static_payload_type: bool
    clock_rate: int
    rtp_clock_rate: int
    channels: int
    frame_durations: tuple[float, ...]
    frame_quantum: int

def available_codecs() -> list[CodecInfo]: ...
def find_codec(name: str, clock_rate: int = 0) -> CodecInfo: ...
def codec_capsule(name: str, clock_rate: int = 0) -> object: ...
def library_versions() -> Mapping[str, str]: ...

class _CodecState:
    @property
    def info(self) -> CodecInfo: ...
    @property
    def name(self) -> str: ...
    @property
    def sample_rate(self) -> int: ...
    @property
    def channels(self) -> int: ...
    @property
    def frame_quantum(self) -> int: ...
    def samples_for(self, duration_ms: float) -> int: ...

@final
class Encoder(_CodecState):
    def __init__(
        self,
        name: str,
        clock_rate: int = 0,
        *,
        fmtp: str | bytes | None = None,
        channels: int | None = None,
        sample_rate: int | None = None,
        bitrate: int | None = None,
        complexity: int | None = None,
        fec: bool | None = None,
        dtx: bool | None = None,
        cbr: bool | None = None,
        packet_loss: int | None = None,
        mode: int | None = None,
    ) -> None: ...
    def encode(self, pcm: _Buffer) -> bytes: ...

@final
class Decoder(_CodecState):
    def __init__(
        self, name: str, clock_rate: int = 0, *, channels: int | None = None, sample_rate: int | None = None
    ) -> None: ...
    def decode(self, payload: _Buffer) -> bytes: ...
    def conceal(self, samples: int) -> bytes: ...
    def recover(self, next_payload: _Buffer, samples: int) -> bytes: ...

def _time_codec(
    name: str, clock_rate: int, pcm: bytes, frame_samples: int, iterations: int
) -> tuple[int, int]: ...
def _time_codec_batch(
    name: str, clock_rate: int, pcm: bytes, frame_samples: int, iterations: int, streams: int
) -> tuple[int, int]: ...
def _g722_multi_active() -> bool: ...
def encode_together(
    encoders: Sequence[Encoder], frames: Sequence[_Buffer], caps: Sequence[int] | None = None
) -> list[bytes | int]: ...
def decode_together(
    decoders: Sequence[Decoder], payloads: Sequence[_Buffer], caps: Sequence[int] | None = None
) -> list[bytes | int]: ...
