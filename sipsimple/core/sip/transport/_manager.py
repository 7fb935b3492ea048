"""`TransportManager`: the thin Twisted layer that ties the listeners, the connection table and the
callbacks together. All policy (reuse, idle expiry, keep-alive, set-up timeouts, limits) is in
`ConnectionTable`; this module turns its actions into socket calls and socket events into table
events. Every method runs on the reactor thread.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from dataclasses import dataclass, field, replace
from typing import Any

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectError, ConnectionDone, ConnectionRefusedError, NotConnectingError
from twisted.internet.interfaces import IAddress, IOpenSSLServerConnectionCreator
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.failure import Failure
from zope.interface import implementer

from .._scanner import ScannedMessage, SIPScanError
from ._address import Transport, TransportAddress
from ._connections import (
    AbortConnection,
    Action,
    CloseConnection,
    Connection,
    ConnectionKey,
    ConnectionTable,
    Direction,
    SendPing,
    State,
    Timeouts,
)
from ._errors import ConnectionClosed, ConnectionFailed, ConnectionRefused, MessageTooLarge, TransportError
from ._events import (
    BadMessageCallback,
    Callbacks,
    ConnectionEventCallback,
    MessageCallback,
    TraceCallback,
    UnreachableCallback,
    logger,
)
from ._stream import (
    PING,
    PONG,
    IncomingStreamFactory,
    IncomingTLSFactory,
    OutgoingStreamFactory,
    StreamProtocol,
)
from ._tls import PathLike, TLSConfiguration, TLSConfigurationError, classify_tls_failure
from ._udp import MAX_DATAGRAM, UDPEndpoint, adopt_udp_socket

__all__ = ["ConnectionInfo", "TransportManager"]

#: SO_RCVBUF asked for on a UDP socket: a burst the reactor is late for waits in the kernel
#: instead of being dropped (the default, ~200 KB, holds a few hundred INVITEs)
UDP_RECEIVE_BUFFER = 2 * 1024 * 1024

#: why a connect fails at once, the remote end or a router having said no: a TCP reset (nothing
#: listens), a reset, an ICMP port/protocol/host/network unreachable (Linux's mapping of them)
_REFUSED_ERRNOS = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ENOPROTOOPT,
        errno.EPROTONOSUPPORT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
    }
)


def _connect_error(remote: TransportAddress, reason: Failure) -> ConnectionFailed:
    """The error for a connect that failed: `ConnectionRefused` when the other side turned it down
    (see ``_REFUSED_ERRNOS``), `ConnectionFailed` for anything else (a timeout above all)."""
    value = reason.value
    refused = isinstance(value, ConnectionRefusedError) or (
        isinstance(value, ConnectError) and value.osError in _REFUSED_ERRNOS
    )
    kind = ConnectionRefused if refused else ConnectionFailed
    return kind(f"cannot connect to {remote}: {reason.getErrorMessage()}")


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """A snapshot of one TCP/TLS connection (see `TransportManager.connections`)."""

    remote: TransportAddress
    local: TransportAddress | None
    direction: Direction
    state: str
    tls_name: str | None


@dataclass(eq=False)
class _Link:
    """The I/O side of one table entry: its protocol or connector, and sends waiting for it to open."""

    connection: Connection
    protocol: StreamProtocol | None = None
    connector: Any = None
    pending: list[tuple[bytes, Deferred[TransportAddress]]] = field(default_factory=list)
    error: TransportError | None = None  # what pending sends fail with when we closed it ourselves


@implementer(IOpenSSLServerConnectionCreator)
class _ListenerCreator:
    """The TLS server side of one listener; `TransportManager.configure_tls` swaps what it delegates
    to, so a new certificate serves the next connections without closing the socket."""

    def __init__(self, creator: Any) -> None:
        self.creator = creator

    def serverConnectionForTLS(self, tlsProtocol: Any) -> Any:
        return self.creator.serverConnectionForTLS(tlsProtocol)


class TransportManager:
    """Moves SIP messages between the SIP core and UDP, TCP and TLS sockets (RFC 3261 §18).

    ``reactor`` provides the sockets; ``clock`` (default: the reactor) drives the connection timers
    only, so tests can pass a `twisted.internet.task.Clock`. Timeouts are in seconds and None turns
    the timer off: ``idle_timeout`` for connections the remote side opened, ``outgoing_idle_timeout``
    for ours, ``keepalive_interval`` between CRLF pings on our connections (RFC 5626), ``pong_timeout``
    for the answer. ``udp_tcp_switch_threshold`` (None: never) is the request size above which a UDP
    destination is reached over TCP instead (RFC 3261 §18.1.1).

    ``on_unreachable(report)`` hears of the ICMP errors (Linux only) that make a UDP datagram we sent
    undeliverable (RFC 3261 §18.4): an `ICMPReport` naming its destination. A UDP send has succeeded
    long before; the SIP stack uses it to fail the transactions waiting on that destination.
    """

    def __init__(
        self,
        reactor: Any,
        *,
        on_message: MessageCallback,
        on_bad_message: BadMessageCallback | None = None,
        on_trace: TraceCallback | None = None,
        on_connection_event: ConnectionEventCallback | None = None,
        on_unreachable: UnreachableCallback | None = None,
        clock: Any = None,
        idle_timeout: float | None = 600.0,
        outgoing_idle_timeout: float | None = 3600.0,
        keepalive_interval: float | None = 90.0,
        pong_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        max_message_size: int = 65535,
        max_incoming_connections: int | None = 1000,
        udp_tcp_switch_threshold: int | None = 1300,
        tls_verify_server: bool = True,
        tls_ca_list: PathLike | None = None,
        tls_certificate: PathLike | None = None,
        tls_private_key: PathLike | None = None,
        tls_timeout: float = 10.0,
    ) -> None:
        if not 0 < max_message_size <= 0xFFFFFFFF:
            raise ValueError(f"max_message_size must be positive, not {max_message_size!r}")
        self._reactor = reactor
        self._clock = clock if clock is not None else reactor
        self._callbacks = Callbacks(on_message, on_bad_message, on_trace, on_connection_event, on_unreachable)
        timeouts = Timeouts(
            idle_timeout=idle_timeout,
            outgoing_idle_timeout=outgoing_idle_timeout,
            keepalive_interval=keepalive_interval,
            pong_timeout=pong_timeout,
            connect_timeout=connect_timeout,
            tls_timeout=tls_timeout,
        )
        self._table = ConnectionTable(timeouts, max_incoming=max_incoming_connections)
        self._tls = TLSConfiguration(tls_verify_server, tls_ca_list, tls_certificate, tls_private_key)
        self.max_message_size = max_message_size
        self.udp_tcp_switch_threshold = udp_tcp_switch_threshold
        self._udp: list[UDPEndpoint] = []
        self._stream_ports: list[tuple[TransportAddress, Any]] = []
        self._tls_creators: dict[TransportAddress, _ListenerCreator] = {}  # listeners on the manager's files
        self._closing_ports: list[Deferred[Any]] = []  # listeners stop_listening is closing
        self._links: dict[int, _Link] = {}
        self._wakeup: Any = None  # IDelayedCall
        self._wakeup_at: float | None = None
        self._stopping = False
        self._closed_waiters: list[Deferred[None]] = []

    # -- inspection -----------------------------------------------------------------------------
    @property
    def listeners(self) -> tuple[TransportAddress, ...]:
        """The bound address of every listening socket, in the order they were opened."""
        udp = tuple(e.local for e in self._udp if e.local is not None)
        return udp + tuple(address for address, _ in self._stream_ports)

    @property
    def connections(self) -> tuple[ConnectionInfo, ...]:
        """A snapshot of every TCP/TLS connection, being set up, open or closing."""
        return tuple(
            ConnectionInfo(c.remote, c.local, c.direction, c.state.value, c.key.tls_name) for c in self._table
        )

    @property
    def table(self) -> ConnectionTable:
        """The sans-IO connection table (read it; do not drive it)."""
        return self._table

    # -- listening ------------------------------------------------------------------------------
    def listen_udp(self, host: str, port: int = 0) -> TransportAddress:
        """Open a UDP socket on ``host`` (an IP literal); return its bound address."""
        self._check_listen(host)
        endpoint = UDPEndpoint(self._callbacks, self.max_message_size)
        # One byte more than the limit, so that a datagram that was cut short is seen to be too large.
        packet_size = min(self.max_message_size, MAX_DATAGRAM) + 1
        endpoint.port = self._bind_udp(host, port, endpoint, packet_size)
        bound = endpoint.port.getHost()
        endpoint.local = TransportAddress("udp", bound.host, bound.port)
        self._udp.append(endpoint)
        return endpoint.local

    def _bind_udp(self, host: str, port: int, endpoint: UDPEndpoint, packet_size: int) -> Any:
        """Bind the socket ourselves and hand it to the reactor, so a failed bind leaks no socket.
        On Linux the port reports ICMP errors (see `adopt_udp_socket`)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            with contextlib.suppress(OSError):  # best effort: the kernel caps it at net.core.rmem_max
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_RECEIVE_BUFFER)
            sock.bind((host, port))
            sock.setblocking(False)
            return adopt_udp_socket(self._reactor, sock, endpoint, packet_size)
        finally:
            sock.close()  # the reactor keeps its own duplicate of the descriptor

    def listen_tcp(self, host: str, port: int = 0) -> TransportAddress:
        """Accept TCP connections on ``host`` (an IP literal); return the bound address."""
        self._check_listen(host)
        factory = IncomingStreamFactory(self, "tcp", self.max_message_size)
        return self._listen_stream("tcp", host, port, factory)

    def listen_tls(
        self,
        host: str,
        port: int = 0,
        certificate: PathLike | None = None,
        private_key: PathLike | None = None,
    ) -> TransportAddress:
        """Accept TLS connections; the certificate/key default to the manager's ``tls_certificate``/
        ``tls_private_key``. Raises `TLSConfigurationError` (a ValueError) if there are none."""
        self._check_listen(host)
        creator = _ListenerCreator(self._tls.server_creator(certificate, private_key))
        incoming = IncomingStreamFactory(self, "tls", self.max_message_size)
        factory = IncomingTLSFactory(creator, incoming, self._reactor)
        address = self._listen_stream("tls", host, port, factory)
        if certificate is None:
            self._tls_creators[address] = creator
        return address

    def _listen_stream(self, transport: Transport, host: str, port: int, factory: Any) -> TransportAddress:
        listening = self._reactor.listenTCP(port, factory, interface=host)
        bound = listening.getHost()
        address = TransportAddress(transport, bound.host, bound.port)
        self._stream_ports.append((address, listening))
        return address

    def stop_listening(self, address: TransportAddress) -> Deferred[None]:
        """Close the listening socket bound to ``address`` (one of `listeners`); it is gone from
        `listeners` at once and the Deferred fires when the socket is closed. Connections it accepted
        stay open and are served to their end. Raises `KeyError` when nothing listens there."""
        port: Any = None
        for endpoint in self._udp:
            if endpoint.local == address:
                self._udp.remove(endpoint)
                port = endpoint.port
                break
        for index, (bound, listening) in enumerate(self._stream_ports):
            if port is None and bound == address:
                del self._stream_ports[index]
                port = listening
                break
        if port is None:
            raise KeyError(f"nothing listens on {address}")
        self._tls_creators.pop(address, None)
        closed: Deferred[Any] = Deferred()  # for stop(), which waits for these sockets too
        self._closing_ports.append(closed)

        def done(result: Any) -> Any:
            self._closing_ports.remove(closed)
            closed.callback(None)
            return result

        closing: Deferred[Any] = defer.maybeDeferred(port.stopListening)
        return closing.addBoth(done).addCallback(lambda _: None)

    @property
    def tls_configuration(self) -> TLSConfiguration:
        """The TLS settings in use (see `configure_tls`)."""
        return self._tls

    def configure_tls(
        self,
        *,
        verify_server: bool = True,
        ca_list: PathLike | None = None,
        certificate: PathLike | None = None,
        private_key: PathLike | None = None,
        timeout: float | None = None,
    ) -> None:
        """Use new TLS settings from now on: for the next outgoing connections and for the next
        connections every TLS listener opened without its own files accepts (connections already set up
        keep theirs). ``timeout`` (None: unchanged) is the handshake limit. When such a listener exists
        the certificate is loaded at once, so a bad one raises `TLSConfigurationError` and nothing
        changes."""
        configuration = TLSConfiguration(verify_server, ca_list, certificate, private_key)
        server = configuration.server_creator() if self._tls_creators else None
        self._tls = configuration
        for creator in self._tls_creators.values():
            creator.creator = server
        if timeout is not None:
            self._table.timeouts = replace(self._table.timeouts, tls_timeout=timeout)

    def _check_listen(self, host: str) -> None:
        if self._stopping:
            raise RuntimeError("the transport manager is stopped")
        if TransportAddress("udp", host, 0).family is None:
            raise ValueError(f"listen on an IP address, not {host!r}")

    # -- sending --------------------------------------------------------------------------------
    def transport_for(
        self, destination: TransportAddress, size: int, *, is_request: bool = False
    ) -> TransportAddress:
        """Where `send` would send ``size`` bytes for ``destination``: the same address, or its TCP twin
        for a large request to a UDP destination (RFC 3261 §18.1.1). The Engine calls this before it
        writes the Via header, so the Via names the transport really used."""
        threshold = self.udp_tcp_switch_threshold
        if destination.transport == "udp" and is_request and threshold is not None and size > threshold:
            return destination.with_transport("tcp")
        return destination

    def send(
        self,
        data: bytes,
        destination: TransportAddress,
        *,
        tls_name: str | None = None,
        is_request: bool = False,
        new_connection: bool = True,
        size_switch: bool = True,
    ) -> Deferred[TransportAddress]:
        """Send one SIP message; the Deferred fires with the local address used (whose transport says
        whether a UDP request went over TCP) or fails with a `TransportError`.

        ``destination.host`` must be an IP literal (DNS is the caller's job, RFC 3263); ``tls_name``
        is the SIP domain a TLS server certificate must be valid for (default: the IP address). TCP/TLS
        reuse a connection to the same remote end, including one the remote side opened. With
        ``new_connection=False`` no connection is opened: without one to reuse the send fails with
        `ConnectionClosed` (for responses, RFC 3261 §18.2.2, which then go to the Via sent-by).
        ``size_switch=False`` keeps a large request on UDP (the retry of RFC 3261 §18.1.1 after the
        TCP connection it was moved to was refused).
        """
        if destination.family is None:
            raise ValueError(f"send to an IP address, not {destination.host!r} (resolve it first)")
        data = bytes(data)
        if self._stopping:
            return defer.fail(ConnectionClosed("the transport manager is stopped"))
        if len(data) > self.max_message_size:
            return defer.fail(
                MessageTooLarge(f"{len(data)} bytes exceed the {self.max_message_size}-byte message limit")
            )
        target = self.transport_for(destination, len(data), is_request=is_request and size_switch)
        if target.transport == "udp":
            return self._send_udp(data, target)
        return self._send_stream(data, target, tls_name, new_connection)

    def _send_udp(self, data: bytes, destination: TransportAddress) -> Deferred[TransportAddress]:
        family = destination.family
        endpoint = next((e for e in self._udp if e.local is not None and e.local.family == family), None)
        if endpoint is None:
            return defer.fail(ConnectionFailed(f"no IPv{family} UDP listener to send to {destination} from"))
        try:
            local = endpoint.send(data, destination)
        except TransportError as error:
            return defer.fail(error)
        return defer.succeed(local)

    def _send_stream(
        self, data: bytes, destination: TransportAddress, tls_name: str | None, new_connection: bool
    ) -> Deferred[TransportAddress]:
        connection = self._table.find(destination, tls_name)
        if connection is None:
            if not new_connection:
                return defer.fail(ConnectionClosed(f"no open connection to {destination}"))
            try:
                connection = self._connect(destination, tls_name)
            except TransportError as error:
                return defer.fail(error)
        link = self._links[connection.id]
        deferred: Deferred[TransportAddress] = Deferred()
        if connection.state is State.OPEN:
            self._write(link, data, deferred)
        else:
            link.pending.append((data, deferred))
        return deferred

    def _connect(self, destination: TransportAddress, tls_name: str | None) -> Connection:
        key = ConnectionKey.for_address(destination, tls_name)
        factory: Any
        creator: Any = None
        if destination.transport == "tls":
            try:
                creator = self._tls.client_creator(key.tls_name or destination.host)
            except (TLSConfigurationError, ValueError) as error:
                raise ConnectionFailed(f"cannot set up TLS to {destination}: {error}") from error
        connection = self._table.open_outgoing(key, self._now())
        link = self._links[connection.id] = _Link(connection)
        factory = OutgoingStreamFactory(self, connection, self.max_message_size)
        if destination.transport == "tls":
            factory = TLSMemoryBIOFactory(creator, True, factory, clock=self._reactor)
        timeout = self._table.timeouts.connect_timeout
        link.connector = self._reactor.connectTCP(
            destination.host, destination.port, factory, timeout=timeout
        )
        self._schedule()
        return connection

    def _write(self, link: _Link, data: bytes, deferred: Deferred[TransportAddress]) -> None:
        connection = link.connection
        assert link.protocol is not None and connection.local is not None
        link.protocol.write(data)
        self._table.sent(connection, self._now())
        self._callbacks.sent(connection.local, connection.remote, data)
        deferred.callback(connection.local)

    # -- stream events (StreamOwner) ------------------------------------------------------------
    def may_accept(self, transport: Transport, peer: IAddress | None) -> bool:
        table = self._table
        return not self._stopping and (
            table.max_incoming is None or table.incoming_count < table.max_incoming
        )

    def stream_made(self, protocol: StreamProtocol) -> None:
        now = self._now()
        local = protocol.local_address()
        connection = protocol.connection
        if connection is None:  # the remote side opened it
            connection = self._table.accept_incoming(
                ConnectionKey.for_address(protocol.remote_address()), now, local
            )
            if connection is None:
                protocol.abort()
                return
            protocol.connection = connection
            link = self._links[connection.id] = _Link(connection, protocol)
            if connection.state is State.OPEN:
                self._opened(link)
        else:
            link = self._links[connection.id]
            link.protocol = protocol
            if connection.state is State.CLOSING:  # given up on while connecting
                protocol.abort()
                return
            if connection.key.transport == "tls":
                self._table.tcp_connected(connection, now, local)
            else:
                self._table.established(connection, now, local)
                self._opened(link)
        self._schedule()

    def stream_secured(self, protocol: StreamProtocol) -> None:
        connection = protocol.connection
        if connection is None or connection.state is not State.HANDSHAKING:
            return
        self._table.established(connection, self._now())
        self._opened(self._links[connection.id])
        self._schedule()

    def _opened(self, link: _Link) -> None:
        connection = link.connection
        assert connection.local is not None
        self._callbacks.connection_event("connected", connection.local, connection.remote, None)
        pending, link.pending = link.pending, []
        for data, deferred in pending:
            if connection.state is not State.OPEN:  # a callback closed it
                deferred.errback(ConnectionClosed(f"the connection to {connection.remote} closed"))
            else:
                self._write(link, data, deferred)

    def stream_received(
        self, protocol: StreamProtocol, messages: list[ScannedMessage], pings: int, pongs: int
    ) -> None:
        connection = protocol.connection
        if connection is None or connection not in self._table:
            return
        now = self._now()
        self._table.received(connection, now, messages=len(messages), pings=pings, pongs=pongs)
        if pings and connection.state is State.OPEN:
            protocol.write(PONG * pings)
            self._table.sent(connection, now, message=False)
        assert connection.local is not None
        for message in messages:
            self._callbacks.message(message, connection.remote, connection.local)

    def stream_failed(self, protocol: StreamProtocol, data: bytes, error: SIPScanError) -> None:
        connection = protocol.connection
        if connection is None or connection not in self._table:
            return
        assert connection.local is not None
        self._callbacks.bad_message(data, connection.remote, connection.local, error)
        self._close(connection, f"framing error: {error.reason}", None)

    def stream_lost(self, protocol: StreamProtocol, reason: Failure) -> None:
        connection = protocol.connection
        if connection is None or connection not in self._table:
            return
        error = self._links[connection.id].error or self._loss_error(connection, reason)
        self._forget(connection, connection.close_reason or str(error), error)

    def stream_connect_failed(self, connection: Connection, reason: Failure) -> None:
        if connection not in self._table:
            return
        error = self._links[connection.id].error or _connect_error(connection.remote, reason)
        self._forget(connection, connection.close_reason or str(error), error)

    def _loss_error(self, connection: Connection, reason: Failure) -> TransportError:
        remote = connection.remote
        if connection.established_at is None:
            if connection.key.transport == "tls":
                tls_error = classify_tls_failure(reason, connection.key.tls_name or remote.host)
                if tls_error is not None and connection.direction == "outgoing":
                    return tls_error
                if tls_error is not None:  # a client gave up on our certificate, or spoke no TLS
                    return ConnectionFailed(f"TLS handshake with {remote} failed: {reason.getErrorMessage()}")
            return ConnectionFailed(
                f"the connection to {remote} closed during set-up: {reason.getErrorMessage()}"
            )
        if reason.check(ConnectionDone):
            return ConnectionClosed(f"the connection to {remote} was closed by the remote side")
        return ConnectionClosed(f"the connection to {remote} was lost: {reason.getErrorMessage()}")

    def _forget(self, connection: Connection, reason: str, error: TransportError) -> None:
        """The connection is gone: drop it from the table, fail what waited for it, report it."""
        link = self._links.pop(connection.id)
        self._table.lost(connection, self._now(), reason)
        for _, deferred in link.pending:
            deferred.errback(error)
        link.pending = []
        if connection.local is not None:
            self._callbacks.connection_event("disconnected", connection.local, connection.remote, reason)
        self._schedule()
        self._check_all_closed()

    # -- closing --------------------------------------------------------------------------------
    def close_connections(self, remote: TransportAddress, reason: str = "closed by the application") -> int:
        """Close every TCP/TLS connection to ``remote`` (either direction); return how many."""
        matching = [c for c in self._table if c.remote == remote and c.state is not State.CLOSING]
        for connection in matching:
            self._close(connection, reason, None)
        return len(matching)

    def _close(self, connection: Connection, reason: str, error: TransportError | None) -> None:
        if connection not in self._table:
            return
        established = connection.established_at is not None
        if not self._table.close(connection, self._now(), reason):
            return
        link = self._links[connection.id]
        if link.error is None:
            link.error = error or (ConnectionClosed(reason) if established else ConnectionFailed(reason))
        self._shut(link, abort=not established)
        self._schedule()

    @staticmethod
    def _shut(link: _Link, *, abort: bool) -> None:
        if link.protocol is None:
            try:
                link.connector.stopConnecting()
            except NotConnectingError:  # pragma: no cover - connected in the same reactor turn
                pass
        elif abort:
            link.protocol.abort()
        else:
            link.protocol.close()

    def stop(self) -> Deferred[None]:
        """Close every listener and connection; the Deferred fires when all of them are closed.

        Queued sends fail with `ConnectionClosed`, and so does every later send. Calling it again
        returns another Deferred for the same moment.
        """
        closing: list[Deferred[Any]] = []
        if not self._stopping:
            self._stopping = True
            for endpoint in self._udp:
                closing.append(defer.maybeDeferred(endpoint.port.stopListening))
            for _, listening in self._stream_ports:
                closing.append(defer.maybeDeferred(listening.stopListening))
            closing.extend(self._closing_ports)  # listeners stop_listening closes, if not yet closed
            self._udp, self._stream_ports = [], []
            self._tls_creators.clear()
            stopped = ConnectionClosed("the transport manager stopped")
            for connection in self._table:
                if connection.state is State.CLOSING:  # already closing (idle, error): hurry it
                    self._shut(self._links[connection.id], abort=True)
                else:
                    self._close(connection, str(stopped), stopped)
        all_closed: Deferred[None] = Deferred()
        self._closed_waiters.append(all_closed)
        self._check_all_closed()
        closing.append(all_closed)
        result: Deferred[None] = defer.gatherResults(closing, consumeErrors=True).addCallback(lambda _: None)
        return result

    def _check_all_closed(self) -> None:
        if self._stopping and not len(self._table):
            self._cancel_wakeup()
            waiters, self._closed_waiters = self._closed_waiters, []
            for waiter in waiters:
                waiter.callback(None)

    # -- timers ---------------------------------------------------------------------------------
    def _now(self) -> float:
        return float(self._clock.seconds())

    def _schedule(self) -> None:
        """Keep one timer, at the table's earliest deadline. Traffic only moves deadlines later, so
        it does not reschedule: the timer then fires early, finds nothing due, and moves on."""
        deadline = self._table.next_deadline()
        if deadline == self._wakeup_at and self._wakeup is not None:
            return
        self._cancel_wakeup()
        if deadline is not None:
            self._wakeup_at = deadline
            self._wakeup = self._clock.callLater(max(0.0, deadline - self._now()), self._on_wakeup)

    def _cancel_wakeup(self) -> None:
        if self._wakeup is not None and self._wakeup.active():
            self._wakeup.cancel()
        self._wakeup = self._wakeup_at = None

    def _on_wakeup(self) -> None:
        self._wakeup = self._wakeup_at = None
        for action in self._table.poll(self._now()):
            try:
                self._apply(action)
            except Exception:
                logger.exception("applying %r failed", action)
        self._schedule()

    def _apply(self, action: Action) -> None:
        connection = action.connection
        link = self._links.get(connection.id)
        if link is None:
            return
        if isinstance(action, SendPing):
            if link.protocol is not None:
                link.protocol.write(PING)
        elif isinstance(action, CloseConnection):
            established = connection.established_at is not None
            if link.error is None:
                link.error = (
                    ConnectionClosed(action.reason) if established else ConnectionFailed(action.reason)
                )
            logger.info("closing the connection to %s: %s", connection.remote, action.reason)
            self._shut(link, abort=not established)
        elif isinstance(action, AbortConnection):
            logger.info("aborting the connection to %s: %s", connection.remote, action.reason)
            self._shut(link, abort=True)

    def __repr__(self) -> str:
        listeners = ", ".join(str(a) for a in self.listeners)
        return f"<{type(self).__name__} listeners=[{listeners}] connections={len(self._table)}>"
