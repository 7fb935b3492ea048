"""The connection table: which TCP/TLS connections exist, which one a send reuses, and when each one
must ping, give up, or close. Sans-IO: no sockets, no reactor, no clock. Every method takes ``now``
(seconds on whatever clock the caller uses); `poll` returns the actions that are due, and
`next_deadline` says when to call it again.

Rules of the machine
--------------------
A connection moves through these states (transitions are `TRANSITIONS`, anything else raises
`ConnectionStateError`; only the local I/O layer drives this table, so a bad move is always a local bug):

* ``CONNECTING`` -- outgoing, TCP connect in progress. Deadline: ``connect_timeout``.
* ``HANDSHAKING`` -- TLS handshake in progress (outgoing after TCP connected; incoming TLS from the
  start). Deadline: ``tls_timeout``.
* ``OPEN`` -- usable. Deadlines: idle expiry and, for outgoing connections, keep-alive.
* ``CLOSING`` -- close requested, waiting for the socket to go. Deadline: ``close_timeout``, after
  which the connection is aborted.
* ``CLOSED`` -- gone; removed from the table.

Reuse (RFC 3261 §18, §18.2.2): `find` matches (transport, host, port) of the remote end, whichever
side opened the connection, so a response goes back over the connection its request came in on.
For TLS an outgoing connection matches only the same ``tls_name`` (the name its certificate was
checked against), and an incoming one only a send without a name (we never verified that peer).
OPEN connections are preferred over ones still being set up.

Idle expiry: a connection that carried no SIP message for ``idle_timeout`` (incoming) or
``outgoing_idle_timeout`` (outgoing) is closed. Keep-alive pings we send do not count as traffic (a
connection used once must still expire); pings a client sends us do count (RFC 5626: the client
wants its flow kept).

Keep-alive (RFC 5626 §3.5.1, §4.4.1): an OPEN outgoing connection that has neither sent nor received
a byte for ``keepalive_interval`` sends a ping (CRLFCRLF). If neither a pong nor a SIP message (which
proves the peer alive just as well) arrives within ``pong_timeout``, the flow has failed and the
connection is closed.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple

from ._address import Transport, TransportAddress

__all__ = [
    "AbortConnection",
    "Action",
    "CloseConnection",
    "Connection",
    "ConnectionKey",
    "ConnectionStateError",
    "ConnectionTable",
    "Direction",
    "Event",
    "SendPing",
    "State",
    "TRANSITIONS",
    "Timeouts",
]

Direction = Literal["outgoing", "incoming"]


class State(enum.Enum):
    CONNECTING = "connecting"
    HANDSHAKING = "handshaking"
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class Event(enum.Enum):
    TCP_CONNECTED = "tcp connected, TLS handshake starts"
    ESTABLISHED = "established"
    CLOSE = "close requested"
    LOST = "connection lost"


S, E = State, Event
TRANSITIONS: Final[dict[tuple[State, Event], State]] = {
    (S.CONNECTING, E.TCP_CONNECTED): S.HANDSHAKING,
    (S.CONNECTING, E.ESTABLISHED): S.OPEN,
    (S.HANDSHAKING, E.ESTABLISHED): S.OPEN,
    (S.CONNECTING, E.CLOSE): S.CLOSING,
    (S.HANDSHAKING, E.CLOSE): S.CLOSING,
    (S.OPEN, E.CLOSE): S.CLOSING,
    (S.CLOSING, E.CLOSE): S.CLOSING,
    (S.CONNECTING, E.LOST): S.CLOSED,
    (S.HANDSHAKING, E.LOST): S.CLOSED,
    (S.OPEN, E.LOST): S.CLOSED,
    (S.CLOSING, E.LOST): S.CLOSED,
}
del S, E

_LIVE: Final = frozenset({State.CONNECTING, State.HANDSHAKING, State.OPEN})


class ConnectionStateError(RuntimeError):
    """The I/O layer drove a connection through a move the table does not allow (a local bug)."""


class ConnectionKey(NamedTuple):
    """The remote end of a connection, plus the TLS name it was (or is to be) verified against."""

    transport: Transport
    host: str
    port: int
    tls_name: str | None = None

    @classmethod
    def for_address(cls, address: TransportAddress, tls_name: str | None = None) -> ConnectionKey:
        name = tls_name.lower() if tls_name and address.transport == "tls" else None
        return cls(address.transport, address.host, address.port, name)

    @property
    def address(self) -> TransportAddress:
        return TransportAddress(self.transport, self.host, self.port)


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Durations in seconds; None disables the timer (not allowed for the set-up timeouts)."""

    idle_timeout: float | None = 600.0
    outgoing_idle_timeout: float | None = 3600.0
    keepalive_interval: float | None = 90.0
    pong_timeout: float = 10.0
    connect_timeout: float = 10.0
    tls_timeout: float = 10.0
    close_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("idle_timeout", "outgoing_idle_timeout", "keepalive_interval"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive or None, not {value!r}")
        for name in ("pong_timeout", "connect_timeout", "tls_timeout", "close_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")


@dataclass(eq=False, slots=True)
class Connection:
    """The table's record of one connection. Read its fields; change it only through the table."""

    id: int
    key: ConnectionKey
    direction: Direction
    state: State
    created: float
    local: TransportAddress | None = None
    established_at: float | None = None
    state_deadline: float | None = None
    last_message: float = 0.0
    last_io: float = 0.0
    ping_sent_at: float | None = None
    close_reason: str | None = None
    pings_sent: int = field(default=0)

    @property
    def remote(self) -> TransportAddress:
        return self.key.address

    @property
    def usable(self) -> bool:
        """True while sends may be queued on or written to this connection."""
        return self.state in _LIVE


@dataclass(frozen=True, slots=True)
class SendPing:
    """Write a keep-alive ping (``b"\\r\\n\\r\\n"``) on ``connection``."""

    connection: Connection


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """Close ``connection`` (stop connecting, or close it gracefully); the table says it is CLOSING."""

    connection: Connection
    reason: str


@dataclass(frozen=True, slots=True)
class AbortConnection:
    """A graceful close did not finish in time: drop ``connection`` without flushing."""

    connection: Connection
    reason: str


Action = SendPing | CloseConnection | AbortConnection


class ConnectionTable:
    """Every TCP/TLS connection of one transport manager, with its timers. See the module docstring."""

    def __init__(self, timeouts: Timeouts | None = None, *, max_incoming: int | None = 1000) -> None:
        if max_incoming is not None and max_incoming < 0:
            raise ValueError("max_incoming must be >= 0 or None")
        self.timeouts = timeouts or Timeouts()
        self.max_incoming = max_incoming
        self._ids = itertools.count(1)
        self._connections: dict[int, Connection] = {}
        self._by_remote: dict[tuple[str, str, int], list[Connection]] = {}
        self._incoming = 0

    # -- inspection -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self._connections)

    def __iter__(self) -> Iterator[Connection]:
        return iter(list(self._connections.values()))

    def __contains__(self, connection: object) -> bool:
        return isinstance(connection, Connection) and self._connections.get(connection.id) is connection

    @property
    def incoming_count(self) -> int:
        return self._incoming

    @property
    def index_size(self) -> int:
        """Number of remote addresses indexed (for leak checks: never more than `len(self)`)."""
        return len(self._by_remote)

    def find(self, address: TransportAddress, tls_name: str | None = None) -> Connection | None:
        """The connection a send to ``address`` should reuse, or None (see the module docstring)."""
        if not address.is_stream:
            return None
        key = ConnectionKey.for_address(address, tls_name)
        best: Connection | None = None
        for connection in self._by_remote.get((key.transport, key.host, key.port), ()):
            if not connection.usable or not self._name_matches(connection, key.tls_name):
                continue
            if best is None or _preference(connection) >= _preference(best):
                best = connection
        return best

    @staticmethod
    def _name_matches(connection: Connection, tls_name: str | None) -> bool:
        if connection.key.transport != "tls":
            return True
        if connection.direction == "incoming":
            return tls_name is None
        return connection.key.tls_name == tls_name

    # -- life cycle -----------------------------------------------------------------------------
    def open_outgoing(self, key: ConnectionKey, now: float) -> Connection:
        """Record a connection we start to open; it is CONNECTING until `established`/`tcp_connected`."""
        connection = Connection(
            next(self._ids), key, "outgoing", State.CONNECTING, now,
            state_deadline=now + self.timeouts.connect_timeout, last_message=now, last_io=now,
        )  # fmt: skip
        self._add(connection)
        return connection

    def accept_incoming(
        self, key: ConnectionKey, now: float, local: TransportAddress | None = None
    ) -> Connection | None:
        """Record a connection the remote side opened, or return None if the limit is reached.

        A TCP connection is OPEN at once; a TLS one is HANDSHAKING until `established`.
        """
        if self.max_incoming is not None and self._incoming >= self.max_incoming:
            return None
        key = key._replace(tls_name=None)
        if key.transport == "tls":
            state, deadline, established = State.HANDSHAKING, now + self.timeouts.tls_timeout, None
        else:
            state, deadline, established = State.OPEN, None, now
        connection = Connection(
            next(self._ids), key, "incoming", state, now, local=local, established_at=established,
            state_deadline=deadline, last_message=now, last_io=now,
        )  # fmt: skip
        self._add(connection)
        self._incoming += 1
        return connection

    def tcp_connected(
        self, connection: Connection, now: float, local: TransportAddress | None = None
    ) -> None:
        """An outgoing TLS connection's TCP connect finished; its handshake has ``tls_timeout``."""
        self._move(connection, Event.TCP_CONNECTED)
        connection.local = local or connection.local
        connection.state_deadline = now + self.timeouts.tls_timeout

    def established(self, connection: Connection, now: float, local: TransportAddress | None = None) -> None:
        """The connection is usable (TCP connected, or TLS handshake done)."""
        self._move(connection, Event.ESTABLISHED)
        connection.local = local or connection.local
        connection.established_at = now
        connection.state_deadline = None
        connection.last_message = connection.last_io = now

    def close(self, connection: Connection, now: float, reason: str) -> bool:
        """Mark ``connection`` CLOSING; return False if it already was (the first reason is kept)."""
        if connection.state is State.CLOSING:
            return False
        self._move(connection, Event.CLOSE)
        connection.close_reason = reason
        connection.state_deadline = now + self.timeouts.close_timeout
        connection.ping_sent_at = None
        return True

    def lost(self, connection: Connection, now: float, reason: str | None = None) -> None:
        """The socket is gone: the connection is CLOSED and leaves the table."""
        self._move(connection, Event.LOST)
        if connection.close_reason is None:
            connection.close_reason = reason
        connection.state_deadline = None
        del self._connections[connection.id]
        bucket_key = (connection.key.transport, connection.key.host, connection.key.port)
        bucket = self._by_remote[bucket_key]
        bucket.remove(connection)
        if not bucket:
            del self._by_remote[bucket_key]
        if connection.direction == "incoming":
            self._incoming -= 1

    # -- traffic --------------------------------------------------------------------------------
    def received(
        self, connection: Connection, now: float, *, messages: int = 0, pings: int = 0, pongs: int = 0
    ) -> None:
        """Bytes arrived: ``messages`` complete SIP messages, ``pings`` CRLFCRLF, ``pongs`` CRLF."""
        connection.last_io = now
        if messages or (pings and connection.direction == "incoming"):
            connection.last_message = now
        if messages or pongs:
            connection.ping_sent_at = None

    def sent(self, connection: Connection, now: float, *, message: bool = True) -> None:
        """We wrote to the connection (a SIP message, or a pong when ``message`` is False)."""
        connection.last_io = now
        if message:
            connection.last_message = now

    # -- timers ---------------------------------------------------------------------------------
    def deadline_of(self, connection: Connection) -> float | None:
        """When `poll` next has something to do for ``connection`` (None: nothing scheduled)."""
        if connection.state is not State.OPEN:
            return connection.state_deadline
        timeouts = self.timeouts
        candidates: list[float] = []
        idle = self._idle_timeout(connection)
        if idle is not None:
            candidates.append(connection.last_message + idle)
        if connection.ping_sent_at is not None:
            candidates.append(connection.ping_sent_at + timeouts.pong_timeout)
        elif connection.direction == "outgoing" and timeouts.keepalive_interval is not None:
            candidates.append(connection.last_io + timeouts.keepalive_interval)
        return min(candidates, default=None)

    def next_deadline(self) -> float | None:
        """The earliest deadline of any connection, or None."""
        deadlines = (self.deadline_of(c) for c in self._connections.values())
        return min((d for d in deadlines if d is not None), default=None)

    def poll(self, now: float) -> list[Action]:
        """Apply every timer due at ``now`` and return what the I/O layer must do."""
        actions: list[Action] = []
        for connection in list(self._connections.values()):
            action = self._poll_one(connection, now)
            if action is not None:
                actions.append(action)
        return actions

    def _poll_one(self, connection: Connection, now: float) -> Action | None:
        timeouts = self.timeouts
        deadline = connection.state_deadline
        state = connection.state
        if state is State.CLOSING:
            if deadline is not None and now >= deadline:
                connection.state_deadline = None  # abort once
                return AbortConnection(
                    connection, f"close did not complete within {timeouts.close_timeout:g} s"
                )
            return None
        if state is State.CONNECTING and deadline is not None and now >= deadline:
            return self._close_action(
                connection, now, f"connect timed out after {timeouts.connect_timeout:g} s"
            )
        if state is State.HANDSHAKING and deadline is not None and now >= deadline:
            return self._close_action(
                connection, now, f"TLS handshake not completed within {timeouts.tls_timeout:g} s"
            )
        if state is not State.OPEN:
            return None
        if connection.ping_sent_at is not None and now >= connection.ping_sent_at + timeouts.pong_timeout:
            return self._close_action(
                connection, now, f"no keep-alive pong within {timeouts.pong_timeout:g} s (RFC 5626)"
            )
        idle = self._idle_timeout(connection)
        if idle is not None and now >= connection.last_message + idle:
            return self._close_action(connection, now, f"idle for {idle:g} s")
        interval = timeouts.keepalive_interval
        if (
            connection.direction == "outgoing"
            and interval is not None
            and connection.ping_sent_at is None
            and now >= connection.last_io + interval
        ):
            connection.ping_sent_at = connection.last_io = now
            connection.pings_sent += 1
            return SendPing(connection)
        return None

    def _close_action(self, connection: Connection, now: float, reason: str) -> CloseConnection:
        self.close(connection, now, reason)
        return CloseConnection(connection, reason)

    def _idle_timeout(self, connection: Connection) -> float | None:
        if connection.direction == "incoming":
            return self.timeouts.idle_timeout
        return self.timeouts.outgoing_idle_timeout

    # -- internals ------------------------------------------------------------------------------
    def _add(self, connection: Connection) -> None:
        self._connections[connection.id] = connection
        key = connection.key
        self._by_remote.setdefault((key.transport, key.host, key.port), []).append(connection)

    def _move(self, connection: Connection, event: Event) -> None:
        if self._connections.get(connection.id) is not connection:
            raise ConnectionStateError(
                f"connection {connection.id} is not in this table (event {event.value!r})"
            )
        new_state = TRANSITIONS.get((connection.state, event))
        if new_state is None:
            raise ConnectionStateError(
                f"local error: event {event.value!r} is not allowed for connection {connection.id} "
                f"in state {connection.state.value!r}"
            )
        connection.state = new_state


def _preference(connection: Connection) -> tuple[bool, float]:
    """OPEN before set-up; among equals, the most recently created."""
    return (connection.state is State.OPEN, connection.created)
