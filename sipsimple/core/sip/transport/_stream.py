"""TCP and TLS: one protocol per connection, framing with `StreamFramer` (RFC 3261 §18.3) and answering
keep-alive pings (RFC 5626 §3.5.1). It owns no policy: it reports every event to its owner (the
transport manager), which keeps the connection table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, cast

from twisted.internet.interfaces import IAddress, IHandshakeListener, IProtocolFactory
from twisted.internet.protocol import ClientFactory, Factory, connectionDone
from twisted.internet.protocol import Protocol as TwistedProtocol
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from .._scanner import ScannedMessage, SIPScanError, StreamFramer
from ._address import Transport, TransportAddress
from ._events import logger

if TYPE_CHECKING:
    from ._connections import Connection

__all__ = [
    "PING",
    "PONG",
    "IncomingStreamFactory",
    "IncomingTLSFactory",
    "OutgoingStreamFactory",
    "StreamOwner",
    "StreamProtocol",
]

PING = b"\r\n\r\n"
PONG = b"\r\n"


class StreamOwner(Protocol):
    """What a `StreamProtocol` reports to (implemented by the transport manager)."""

    def stream_made(self, protocol: StreamProtocol) -> None: ...
    def stream_secured(self, protocol: StreamProtocol) -> None: ...
    def stream_received(
        self, protocol: StreamProtocol, messages: list[ScannedMessage], pings: int, pongs: int
    ) -> None: ...
    def stream_failed(self, protocol: StreamProtocol, data: bytes, error: SIPScanError) -> None: ...
    def stream_lost(self, protocol: StreamProtocol, reason: Failure) -> None: ...
    def stream_connect_failed(self, connection: Connection, reason: Failure) -> None: ...
    def may_accept(self, transport: Transport, peer: IAddress | None) -> bool: ...


@implementer(IHandshakeListener)
class StreamProtocol(TwistedProtocol):
    """One TCP or TLS connection. ``connection`` is its record in the table (None until registered)."""

    def __init__(self, owner: StreamOwner, transport_name: Transport, max_size: int) -> None:
        self.owner = owner
        self.transport_name: Transport = transport_name
        self.framer = StreamFramer(max_size=max_size)
        self.connection: Connection | None = None

    # -- addresses ------------------------------------------------------------------------------
    def _address(self, address: Any) -> TransportAddress:
        return TransportAddress(self.transport_name, address.host, address.port)

    def local_address(self) -> TransportAddress:
        transport: Any = self.transport
        return self._address(transport.getHost())

    def remote_address(self) -> TransportAddress:
        transport: Any = self.transport
        return self._address(transport.getPeer())

    # -- Twisted events -------------------------------------------------------------------------
    def connectionMade(self) -> None:
        self.owner.stream_made(self)

    def handshakeCompleted(self) -> None:
        self.owner.stream_secured(self)

    def dataReceived(self, data: bytes) -> None:
        framer = self.framer
        if framer.failed is not None:
            return  # closing after a framing error: ignore whatever else arrives
        pings, pongs = framer.pings, framer.pongs
        error: SIPScanError | None = None
        try:
            messages = framer.feed(data)
        except SIPScanError as scan_error:
            error = scan_error
            messages = list(scan_error.messages)
        new_pings, new_pongs = framer.pings - pings, framer.pongs - pongs
        if messages or new_pings or new_pongs:
            self.owner.stream_received(self, messages, new_pings, new_pongs)
        if error is not None:
            self.owner.stream_failed(self, data, error)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.owner.stream_lost(self, reason)

    # -- output ---------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        transport: Any = self.transport
        transport.write(data)

    def close(self) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()

    def abort(self) -> None:
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()


class OutgoingStreamFactory(ClientFactory):
    """Builds the protocol of one outgoing connection attempt, bound to its table record."""

    noisy = False

    def __init__(self, owner: StreamOwner, connection: Connection, max_size: int) -> None:
        self.owner = owner
        self.connection = connection
        self.max_size = max_size

    def buildProtocol(self, addr: IAddress | None) -> StreamProtocol:
        protocol = StreamProtocol(self.owner, self.connection.key.transport, self.max_size)
        protocol.connection = self.connection
        return protocol

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.owner.stream_connect_failed(self.connection, reason)


class IncomingStreamFactory(Factory):
    """Builds a protocol for each accepted connection, unless the owner's limit says no."""

    noisy = False

    def __init__(self, owner: StreamOwner, transport_name: Transport, max_size: int) -> None:
        self.owner = owner
        self.transport_name: Transport = transport_name
        self.max_size = max_size

    def accepts(self, addr: IAddress | None) -> bool:
        if self.owner.may_accept(self.transport_name, addr):
            return True
        logger.warning(
            "refusing a %s connection from %s: too many incoming connections", self.transport_name, addr
        )
        return False

    def buildProtocol(self, addr: IAddress | None) -> StreamProtocol | None:
        if not self.accepts(addr):
            return None
        return StreamProtocol(self.owner, self.transport_name, self.max_size)


class IncomingTLSFactory(TLSMemoryBIOFactory):
    """TLS server side over an `IncomingStreamFactory`; checks the limit before any TLS work."""

    def __init__(self, creator: Any, wrapped: IncomingStreamFactory, reactor: Any) -> None:
        super().__init__(creator, False, cast(IProtocolFactory, wrapped), clock=reactor)
        self._incoming = wrapped

    def buildProtocol(self, addr: IAddress | None) -> Any:
        if not self._incoming.accepts(addr):
            return None
        return super().buildProtocol(addr)
