"""The sans-IO connection table on a fake clock (plain numbers): reuse, set-up timeouts, idle expiry,
keep-alive schedule, pong timeout, limits, and the state machine over every (state, event) pair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.transport._connections import (
    TRANSITIONS,
    AbortConnection,
    CloseConnection,
    Connection,
    ConnectionKey,
    ConnectionStateError,
    ConnectionTable,
    Event,
    SendPing,
    State,
    Timeouts,
)

PEER = TransportAddress("tcp", "192.0.2.10", 5060)
TLS_PEER = TransportAddress("tls", "192.0.2.10", 5061)
LOCAL = TransportAddress("tcp", "192.0.2.1", 40000)


def table(**timeouts: float | None) -> ConnectionTable:
    defaults: dict[str, float | None] = {
        "idle_timeout": 600, "outgoing_idle_timeout": 3600, "keepalive_interval": 90,
        "pong_timeout": 10, "connect_timeout": 10, "tls_timeout": 10, "close_timeout": 5,
    }  # fmt: skip
    defaults.update(timeouts)
    return ConnectionTable(Timeouts(**defaults))  # type: ignore[arg-type]


def open_outgoing(
    t: ConnectionTable, address: TransportAddress = PEER, now: float = 0.0, name: str | None = None
) -> Connection:
    connection = t.open_outgoing(ConnectionKey.for_address(address, name), now)
    if address.transport == "tls":
        t.tcp_connected(connection, now, LOCAL)
    t.established(connection, now, LOCAL)
    return connection


def incoming(t: ConnectionTable, address: TransportAddress = PEER, now: float = 0.0) -> Connection:
    connection = t.accept_incoming(ConnectionKey.for_address(address), now, LOCAL)
    assert connection is not None
    if address.transport == "tls":
        t.established(connection, now)
    return connection


# -- reuse ----------------------------------------------------------------------------------------
def test_find_returns_an_outgoing_connection_for_the_same_remote_end() -> None:
    t = table()
    connection = open_outgoing(t)
    assert t.find(PEER) is connection
    assert t.find(TransportAddress("tcp", "192.0.2.10", 5061)) is None
    assert t.find(PEER.with_transport("tls")) is None
    assert t.find(PEER.with_transport("udp")) is None  # datagrams never use the table


def test_find_returns_a_connection_the_remote_side_opened() -> None:
    """RFC 3261 §18.2.2: a response to the source of a request reuses the incoming connection."""
    t = table()
    connection = incoming(t, TransportAddress("tcp", "192.0.2.10", 51234))
    assert t.find(TransportAddress("tcp", "192.0.2.10", 51234)) is connection
    assert t.find(TransportAddress("tcp", "192.0.2.10", 5060)) is None  # the listening port is another end


def test_ipv6_spellings_of_one_address_find_the_same_connection() -> None:
    t = table()
    connection = open_outgoing(t, TransportAddress("tcp", "2001:db8::1", 5060))
    assert t.find(TransportAddress("tcp", "2001:0db8:0:0::0001", 5060)) is connection


def test_tls_reuse_requires_the_same_name_and_incoming_tls_only_matches_no_name() -> None:
    """An outgoing TLS connection was verified for one name: only that name (any case) reuses it. An
    incoming TLS connection was never verified, so only a send without a name may use it."""
    t = table()
    verified = open_outgoing(t, TLS_PEER, name="sip.example.test")
    assert t.find(TLS_PEER, "SIP.Example.Test") is verified
    assert t.find(TLS_PEER, "other.example.test") is None
    assert t.find(TLS_PEER) is None
    remote_opened = incoming(t, TransportAddress("tls", "192.0.2.20", 40000))
    assert t.find(TransportAddress("tls", "192.0.2.20", 40000)) is remote_opened
    assert t.find(TransportAddress("tls", "192.0.2.20", 40000), "sip.example.test") is None


def test_an_open_connection_is_preferred_to_one_still_connecting_and_closing_ones_are_skipped() -> None:
    t = table()
    connecting = t.open_outgoing(ConnectionKey.for_address(PEER), 0)
    assert t.find(PEER) is connecting
    established = open_outgoing(t, now=1)
    assert t.find(PEER) is established
    t.close(established, 2, "test")
    assert t.find(PEER) is connecting
    t.close(connecting, 2, "test")
    assert t.find(PEER) is None


# -- set-up timeouts ------------------------------------------------------------------------------
def test_a_connect_that_does_not_complete_is_given_up_after_connect_timeout() -> None:
    t = table(connect_timeout=10)
    connection = t.open_outgoing(ConnectionKey.for_address(PEER), 100)
    assert t.next_deadline() == 110
    assert t.poll(109.9) == []
    (action,) = t.poll(110)
    assert isinstance(action, CloseConnection) and "connect timed out" in action.reason
    assert connection.state is State.CLOSING


def test_a_tls_handshake_gets_tls_timeout_once_tcp_is_connected() -> None:
    t = table(connect_timeout=10, tls_timeout=3)
    connection = t.open_outgoing(ConnectionKey.for_address(TLS_PEER, "sip.example.test"), 0)
    t.tcp_connected(connection, 4, LOCAL)
    assert connection.state is State.HANDSHAKING and t.deadline_of(connection) == 7
    (action,) = t.poll(7)
    assert isinstance(action, CloseConnection) and "TLS handshake" in action.reason


def test_an_incoming_tls_connection_must_finish_its_handshake_in_time() -> None:
    t = table(tls_timeout=3)
    connection = t.accept_incoming(ConnectionKey.for_address(TLS_PEER), 0, LOCAL)
    assert connection is not None and connection.state is State.HANDSHAKING
    assert isinstance(t.poll(3)[0], CloseConnection)


def test_a_close_that_hangs_is_aborted_once_after_close_timeout() -> None:
    t = table(close_timeout=5)
    connection = open_outgoing(t)
    assert t.close(connection, 10, "bye")
    assert not t.close(connection, 11, "again")  # already closing: the first reason stays
    assert connection.close_reason == "bye"
    assert t.poll(14.9) == []
    (action,) = t.poll(15)
    assert isinstance(action, AbortConnection)
    assert t.poll(100) == [] and t.next_deadline() is None


# -- idle expiry ----------------------------------------------------------------------------------
def test_an_idle_incoming_connection_expires_and_messages_reset_the_timer() -> None:
    t = table(idle_timeout=600)
    connection = incoming(t)
    t.received(connection, 50, messages=1)
    assert t.poll(649.9) == []
    (action,) = t.poll(650)
    assert isinstance(action, CloseConnection) and action.reason == "idle for 600 s"


def test_pings_from_the_client_keep_an_incoming_connection_alive() -> None:
    """RFC 5626: a client that pings wants its flow kept, so its pings count as traffic."""
    t = table(idle_timeout=100)
    connection = incoming(t)
    for now in (60, 120, 180):
        t.received(connection, now, pings=1)
        t.sent(connection, now, message=False)  # our pong
        assert t.poll(now) == []
    assert t.deadline_of(connection) == 280


def test_our_own_pings_do_not_keep_an_unused_outgoing_connection_open() -> None:
    """Keep-alive exchanges are not traffic for idle expiry: a connection used once still expires."""
    t = table(outgoing_idle_timeout=300, keepalive_interval=90)
    connection = open_outgoing(t)
    now = 0.0
    actions: list[object] = []
    while not any(isinstance(a, CloseConnection) for a in actions):
        now = t.next_deadline() or 0.0
        actions = list(t.poll(now))
        if any(isinstance(a, SendPing) for a in actions):
            t.received(connection, now + 0.01, pongs=1)
    assert now == 300 and connection.pings_sent == 3
    assert actions == [CloseConnection(connection, "idle for 300 s")]


def test_idle_expiry_can_be_turned_off() -> None:
    t = table(idle_timeout=None, outgoing_idle_timeout=None, keepalive_interval=None)
    open_outgoing(t)
    incoming(t, TransportAddress("tcp", "192.0.2.11", 1))
    assert t.next_deadline() is None and t.poll(10**9) == []


# -- keep-alive -----------------------------------------------------------------------------------
def test_the_keepalive_schedule_follows_idle_time() -> None:
    """A ping after keepalive_interval without bytes either way; traffic pushes the next one back."""
    t = table(keepalive_interval=90)
    connection = open_outgoing(t)
    assert t.deadline_of(connection) == 90
    t.sent(connection, 30)  # a message pushes the ping to 120
    assert t.poll(119) == []
    assert t.poll(120) == [SendPing(connection)]
    assert connection.ping_sent_at == 120 and t.deadline_of(connection) == 130  # the pong deadline
    t.received(connection, 121, pongs=1)
    assert connection.ping_sent_at is None and t.deadline_of(connection) == 211


def test_a_missing_pong_closes_the_connection() -> None:
    t = table(keepalive_interval=90, pong_timeout=10)
    connection = open_outgoing(t)
    assert t.poll(90) == [SendPing(connection)]
    assert t.poll(99.9) == []
    (action,) = t.poll(100)
    assert isinstance(action, CloseConnection) and "pong" in action.reason
    assert connection.state is State.CLOSING


def test_a_sip_message_counts_as_a_pong() -> None:
    t = table(keepalive_interval=90, pong_timeout=10)
    connection = open_outgoing(t)
    t.poll(90)
    t.received(connection, 95, messages=1)
    assert t.poll(100) == [] and connection.state is State.OPEN


def test_incoming_connections_are_never_pinged() -> None:
    t = table(keepalive_interval=90, idle_timeout=None)
    incoming(t)
    assert t.poll(10_000) == [] and t.next_deadline() is None


# -- limits and bookkeeping -----------------------------------------------------------------------
def test_incoming_connections_beyond_the_limit_are_refused_and_freed_slots_reused() -> None:
    t = ConnectionTable(max_incoming=2)
    first = incoming(t, TransportAddress("tcp", "192.0.2.1", 1))
    incoming(t, TransportAddress("tcp", "192.0.2.1", 2))
    assert t.accept_incoming(ConnectionKey.for_address(TransportAddress("tcp", "192.0.2.1", 3)), 0) is None
    open_outgoing(t)  # outgoing connections do not count
    assert t.incoming_count == 2
    t.close(first, 1, "bye")
    assert t.accept_incoming(ConnectionKey.for_address(TransportAddress("tcp", "192.0.2.1", 3)), 1) is None
    t.lost(first, 2)
    assert (
        t.accept_incoming(ConnectionKey.for_address(TransportAddress("tcp", "192.0.2.1", 3)), 2) is not None
    )


def test_lost_connections_leave_no_trace() -> None:
    t = table()
    connections = [open_outgoing(t), incoming(t), incoming(t, TLS_PEER)]
    for connection in connections:
        t.lost(connection, 1, "gone")
    assert len(t) == 0 and t.index_size == 0 and t.incoming_count == 0 and t.find(PEER) is None
    assert connections[0].state is State.CLOSED and connections[0].close_reason == "gone"


def test_timeouts_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Timeouts(keepalive_interval=0)
    with pytest.raises(ValueError):
        Timeouts(connect_timeout=-1)
    with pytest.raises(ValueError):
        ConnectionTable(max_incoming=-1)


# -- the state machine ----------------------------------------------------------------------------
def connection_in(t: ConnectionTable, state: State) -> Connection:
    connection = t.open_outgoing(ConnectionKey.for_address(TLS_PEER, "x.test"), 0)
    if state is State.CONNECTING:
        return connection
    t.tcp_connected(connection, 0, LOCAL)
    if state is State.HANDSHAKING:
        return connection
    if state is State.CLOSED:
        t.lost(connection, 0)
        return connection
    t.established(connection, 0)
    if state is State.CLOSING:
        t.close(connection, 0, "test")
    return connection


DRIVERS = {
    Event.TCP_CONNECTED: lambda t, c: t.tcp_connected(c, 1, LOCAL),
    Event.ESTABLISHED: lambda t, c: t.established(c, 1, LOCAL),
    Event.CLOSE: lambda t, c: t.close(c, 1, "test"),
    Event.LOST: lambda t, c: t.lost(c, 1),
}


@given(st.sampled_from(list(State)), st.sampled_from(list(Event)))
def test_every_state_event_pair_follows_the_transition_table(state: State, event: Event) -> None:
    """Allowed moves land in the table's target state; every other move raises ConnectionStateError
    and leaves the connection as it was."""
    t = table()
    connection = connection_in(t, state)
    target = TRANSITIONS.get((state, event))
    if target is None:
        with pytest.raises(ConnectionStateError):
            DRIVERS[event](t, connection)
        assert connection.state is state
    else:
        DRIVERS[event](t, connection)
        assert connection.state is target
        assert (connection in t) == (target is not State.CLOSED)


OPERATIONS = st.lists(
    st.tuples(
        st.sampled_from(["out", "in", "established", "close", "lost", "traffic", "poll"]),
        st.integers(0, 5),
        st.floats(0, 200, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=200)
@given(OPERATIONS)
def test_bookkeeping_stays_consistent_under_any_sequence_of_events(
    operations: list[tuple[str, int, float]],
) -> None:
    """Whatever happens, counters and indexes agree with the connections actually in the table,
    poll only acts on live connections, and closed connections are gone."""
    t = ConnectionTable(
        Timeouts(idle_timeout=50, outgoing_idle_timeout=80, keepalive_interval=20), max_incoming=3
    )
    now = 0.0
    for name, index, step in operations:
        now += step
        live = list(t)
        target = live[index % len(live)] if live else None
        if name == "out":
            t.open_outgoing(ConnectionKey.for_address(TransportAddress("tcp", "192.0.2.1", index + 1)), now)
        elif name == "in":
            t.accept_incoming(ConnectionKey.for_address(TransportAddress("tcp", "192.0.2.2", index + 1)), now)
        elif target is None:
            continue
        elif name == "established" and target.state is State.CONNECTING:
            t.established(target, now, LOCAL)
        elif name == "close" and target.state is not State.CLOSING:
            t.close(target, now, "test")
        elif name == "lost":
            t.lost(target, now)
        elif name == "traffic":
            t.received(target, now, messages=1)
        elif name == "poll":
            for action in t.poll(now):
                assert action.connection in t
        assert t.incoming_count == sum(c.direction == "incoming" for c in t) <= 3
        assert t.index_size <= len(t)
        assert all(c.state is not State.CLOSED for c in t)
        deadline = t.next_deadline()
        assert deadline is None or deadline == min(d for c in t if (d := t.deadline_of(c)) is not None)
