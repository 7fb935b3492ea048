"""The callbacks a transport manager reports to, called so that no exception escapes into Twisted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from .._scanner import ScannedMessage
from ._address import TransportAddress
from ._icmp import ICMPReport

__all__ = [
    "BadMessageCallback",
    "Callbacks",
    "ConnectionEventCallback",
    "MessageCallback",
    "TraceCallback",
    "UnreachableCallback",
    "logger",
]

logger = logging.getLogger("sipsimple.core.sip.transport")

MessageCallback = Callable[[ScannedMessage, TransportAddress, TransportAddress], object]
BadMessageCallback = Callable[[bytes, TransportAddress, TransportAddress, Exception], object]
TraceCallback = Callable[[Literal["in", "out"], TransportAddress, TransportAddress, bytes], object]
ConnectionEventCallback = Callable[
    [Literal["connected", "disconnected"], TransportAddress, TransportAddress, str | None], object
]
UnreachableCallback = Callable[[ICMPReport], object]


@dataclass(slots=True)
class Callbacks:
    """Holds the user's callbacks; each ``call_*`` method logs an exception instead of raising it."""

    on_message: MessageCallback
    on_bad_message: BadMessageCallback | None = None
    on_trace: TraceCallback | None = None
    on_connection_event: ConnectionEventCallback | None = None
    on_unreachable: UnreachableCallback | None = None

    def message(self, message: ScannedMessage, source: TransportAddress, local: TransportAddress) -> None:
        if self.on_trace is not None:
            self._call("on_trace", self.on_trace, "in", local, source, message.raw)
        self._call("on_message", self.on_message, message, source, local)

    def bad_message(
        self, data: bytes, source: TransportAddress, local: TransportAddress, error: Exception
    ) -> None:
        logger.debug("bad message from %s to %s: %s", source, local, error)
        if self.on_bad_message is not None:
            self._call("on_bad_message", self.on_bad_message, data, source, local, error)

    def sent(self, local: TransportAddress, remote: TransportAddress, data: bytes) -> None:
        if self.on_trace is not None:
            self._call("on_trace", self.on_trace, "out", local, remote, data)

    def connection_event(
        self,
        kind: Literal["connected", "disconnected"],
        local: TransportAddress,
        remote: TransportAddress,
        reason: str | None,
    ) -> None:
        logger.debug("%s %s <-> %s%s", kind, local, remote, f" ({reason})" if reason else "")
        if self.on_connection_event is not None:
            self._call("on_connection_event", self.on_connection_event, kind, local, remote, reason)

    def unreachable(self, report: ICMPReport) -> None:
        if self.on_unreachable is not None:
            self._call("on_unreachable", self.on_unreachable, report)

    @staticmethod
    def _call(name: str, callback: Callable[..., object], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            logger.exception("the %s callback raised; the transport carries on", name)
