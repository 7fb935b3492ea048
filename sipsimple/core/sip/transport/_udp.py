"""UDP: one `DatagramProtocol` per listening socket. Each datagram is one message (RFC 3261 §18.3)."""

from __future__ import annotations

from typing import Any

from twisted.internet.error import MessageLengthError
from twisted.internet.protocol import DatagramProtocol

from .._scanner import SIPScanError, scan
from ._address import TransportAddress
from ._errors import ConnectionFailed, MessageTooLarge
from ._events import Callbacks

__all__ = ["MAX_DATAGRAM", "UDPEndpoint"]

#: The largest UDP payload over IPv6 (65535 - 8); IPv4 allows 20 bytes less.
MAX_DATAGRAM = 65527

_BLANK = b"\r\n \t"


class UDPEndpoint(DatagramProtocol):
    """A UDP listening socket: scans what arrives, sends what the manager gives it.

    No state is kept per source: a datagram is scanned, reported and forgotten.
    """

    def __init__(self, callbacks: Callbacks, max_size: int) -> None:
        self.callbacks = callbacks
        self.max_size = max_size
        self.local: TransportAddress | None = None
        self.port: Any = None  # the IListeningPort, set by the manager

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        local = self.local
        if local is None:  # pragma: no cover - Twisted only delivers after listenUDP returned
            return
        if not datagram.strip(_BLANK):
            return  # CRLF keep-alives some user agents send over UDP: nothing to report
        source = TransportAddress("udp", addr[0], addr[1])
        if len(datagram) > self.max_size:
            error: Exception = MessageTooLarge(
                f"datagram of {len(datagram)} bytes or more exceeds the {self.max_size}-byte limit"
            )
            self.callbacks.bad_message(datagram, source, local, error)
            return
        try:
            message = scan(datagram, max_size=self.max_size)
        except SIPScanError as scan_error:
            self.callbacks.bad_message(datagram, source, local, scan_error)
            return
        self.callbacks.message(message, source, local)

    def send(self, data: bytes, destination: TransportAddress) -> TransportAddress:
        """Send one datagram; return the local address. Raises `MessageTooLarge`/`ConnectionFailed`."""
        local = self.local
        transport: Any = self.transport
        if local is None or transport is None:
            raise ConnectionFailed(f"the UDP socket for {destination} is closed")
        try:
            transport.write(data, (destination.host, destination.port))
        except MessageLengthError as error:
            raise MessageTooLarge(
                f"{len(data)} bytes do not fit in a UDP datagram to {destination}"
            ) from error
        except OSError as error:
            raise ConnectionFailed(f"cannot send to {destination}: {error.strerror or error}") from error
        self.callbacks.sent(local, destination, data)
        return local
