"""Media streams for SIP sessions: the `IMediaStream` interface the Session drives, the
`MediaStreamRegistry` of stream types used for incoming offers, and the `MediaStreamRegistrar`
metaclass. See docs/streams.md."""

from __future__ import annotations

from ._interface import IMediaStream, InvalidStreamError, MediaStreamError, UnknownStreamError
from ._registry import MediaStreamRegistrar, MediaStreamRegistry, MediaStreamRegistryBase

__all__ = [
    "IMediaStream",
    "InvalidStreamError",
    "MediaStreamError",
    "MediaStreamRegistrar",
    "MediaStreamRegistry",
    "MediaStreamRegistryBase",
    "UnknownStreamError",
]

from . import rtp  # noqa: F401  # registers AudioStream (it needs the names above)
