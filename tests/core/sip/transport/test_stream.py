"""TCP over real loopback sockets: framing, reuse, responses on the request's connection, keep-alive,
idle expiry, limits and failures. Connection timers run on a `Clock` the test advances."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from twisted.internet.task import Clock

from sipsimple.core.sip._scanner import SIPScanError
from sipsimple.core.sip.transport import (
    ConnectionClosed,
    ConnectionFailed,
    TransportAddress,
)

from .conftest import LOOPBACKS, Loop, ManagerFactory, sip_request, sip_response


class RawPeer:
    """A plain non-blocking socket on the other end, read while the reactor turns."""

    def __init__(self, sock: socket.socket, loop: Loop) -> None:
        self.sock = sock
        self.loop = loop
        self.received = b""
        self.eof = False
        sock.setblocking(False)

    @classmethod
    def connect(cls, address: TransportAddress, loop: Loop) -> RawPeer:
        family = socket.AF_INET6 if address.family == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.connect((address.host, address.port))  # loopback: the kernel completes it at once
        return cls(sock, loop)

    @property
    def address(self) -> TransportAddress:
        host, port = self.sock.getsockname()[:2]
        return TransportAddress("tcp", host, port)

    def _poll(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            chunk = b""
        if chunk:
            self.received += chunk
        else:
            self.eof = True

    def read_until(self, condition: object = None, what: str = "data") -> bytes:
        def ready() -> bool:
            self._poll()
            return self.eof if condition == "eof" else bool(self.received)

        self.loop.run_until(ready, what=what)
        return self.received

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def peers() -> Iterator[list[RawPeer]]:
    opened: list[RawPeer] = []
    yield opened
    for peer in opened:
        peer.close()


@pytest.fixture
def raw_server() -> Iterator[socket.socket]:
    """A listening socket nobody answers on (to see what a manager sends)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.setblocking(False)
    yield server
    server.close()


def accept(server: socket.socket, loop: Loop, peers: list[RawPeer]) -> RawPeer:
    accepted: list[socket.socket] = []

    def try_accept() -> bool:
        try:
            accepted.append(server.accept()[0])
        except BlockingIOError:
            return False
        return True

    loop.run_until(try_accept, what="an incoming connection")
    peer = RawPeer(accepted[0], loop)
    peers.append(peer)
    return peer


@pytest.mark.parametrize("host", LOOPBACKS)
def test_tcp_round_trip_and_the_response_goes_back_over_the_requests_connection(
    make_manager: ManagerFactory, loop: Loop, host: str
) -> None:
    """A request over TCP arrives from alice's ephemeral port; bob's response to that source reuses
    the incoming connection (RFC 3261 §18.2.2) rather than opening one, so alice gets it."""
    alice, alice_seen = make_manager()
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tcp(host)

    local = loop.wait(alice.send(sip_request(), bob_address, is_request=True))
    assert local.transport == "tcp" and local.host == bob_address.host
    loop.run_until(lambda: bob_seen.messages)
    _, source, received_on = bob_seen.messages[0]
    assert source == local and received_on == bob_address

    bob_local = loop.wait(bob.send(sip_response(), source))
    assert bob_local == bob_address  # written on the accepted socket
    loop.run_until(lambda: alice_seen.messages)
    assert alice_seen.messages[0][0].status_code == 200
    assert [c.direction for c in bob.connections] == ["incoming"]
    assert [c.direction for c in alice.connections] == ["outgoing"]
    assert alice_seen.kinds() == ["connected"] and bob_seen.kinds() == ["connected"]


def test_one_connection_carries_many_sends_and_sends_made_while_connecting_are_queued(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """Twenty sends issued back to back (the first before the connect completes) share one connection
    and arrive in order."""
    alice, _ = make_manager()
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    deferreds = [alice.send(sip_request(cseq=n), bob_address, is_request=True) for n in range(1, 21)]
    assert alice.connections[0].state == "connecting"
    locals_used = {loop.wait(d) for d in deferreds}
    assert len(locals_used) == 1
    loop.run_until(lambda: len(bob_seen.messages) == 20)
    assert [m.get("CSeq") for m, _, _ in bob_seen.messages] == [f"{n} OPTIONS" for n in range(1, 21)]
    assert len(alice.connections) == 1 and len(bob.connections) == 1


def test_several_messages_in_one_write_are_all_delivered(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """The framer splits a single TCP segment holding three messages into three messages."""
    bob, seen = make_manager()
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    peer.send(sip_request(cseq=1) + sip_request("INFO", b"hello", cseq=2) + sip_response(cseq=3))
    loop.run_until(lambda: len(seen.messages) == 3)
    assert [m.method for m, _, _ in seen.messages] == ["OPTIONS", "INFO", None]
    assert seen.messages[1][0].body == b"hello"
    assert seen.messages[0][1] == peer.address


def test_a_message_split_into_many_writes_is_delivered_once_complete(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """A message arriving 7 bytes at a time is delivered once, when its last byte is in."""
    bob, seen = make_manager()
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    data = sip_request("MESSAGE", b"split body")
    for offset in range(0, len(data) - 7, 7):
        peer.send(data[offset : offset + 7])
        loop.turn(1)
        assert seen.messages == []
    peer.send(data[offset + 7 :])
    loop.run_until(lambda: seen.messages)
    assert len(seen.messages) == 1 and seen.messages[0][0].body == b"split body"


def test_a_ping_on_an_incoming_connection_is_answered_with_one_pong(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """RFC 5626 §3.5.1 server side: CRLFCRLF -> CRLF, once per ping; pings are not messages."""
    bob, seen = make_manager()
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    peer.send(b"\r\n\r\n")
    assert peer.read_until(what="a pong") == b"\r\n"
    peer.send(b"\r\n\r\n\r\n\r\n")
    loop.run_until(lambda: (peer._poll(), len(peer.received) >= 6)[1], what="two more pongs")
    loop.turn()
    peer._poll()
    assert peer.received == b"\r\n" * 3
    assert seen.messages == [] and seen.bad == []


def test_an_outgoing_connection_pings_when_idle_and_the_pong_keeps_it(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """After keepalive_interval with no traffic alice pings; bob (a manager) pongs; the pong clears the
    wait so the pong timeout never closes the connection."""
    clock = Clock()
    alice, alice_seen = make_manager(clock=clock, keepalive_interval=30, pong_timeout=5)
    bob, _ = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    loop.wait(alice.send(sip_request(), bob_address, is_request=True))
    (connection,) = alice.table
    clock.advance(29)
    assert connection.pings_sent == 0
    clock.advance(1)
    assert connection.pings_sent == 1 and connection.ping_sent_at == 30
    loop.run_until(lambda: connection.ping_sent_at is None, what="the pong")
    clock.advance(5)  # past the pong timeout: nothing happens, the pong arrived
    loop.turn()
    assert connection.state.value == "open" and "disconnected" not in alice_seen.kinds()
    clock.advance(25)
    assert connection.pings_sent == 2  # every keepalive_interval of idle time


def test_a_missing_pong_closes_the_connection_and_says_why(
    make_manager: ManagerFactory, loop: Loop, raw_server: socket.socket, peers: list[RawPeer]
) -> None:
    """RFC 5626 §4.4.1: a ping unanswered for pong_timeout means the flow failed: closed and reported."""
    clock = Clock()
    alice, seen = make_manager(clock=clock, keepalive_interval=30, pong_timeout=10)
    server_address = TransportAddress("tcp", *raw_server.getsockname())
    sent = alice.send(sip_request(), server_address, is_request=True)
    server_side = accept(raw_server, loop, peers)
    loop.wait(sent)
    clock.advance(30)
    assert server_side.read_until(what="the request and a ping").endswith(b"\r\n\r\n")
    clock.advance(10)
    server_side.read_until("eof", what="the close")
    loop.run_until(lambda: "disconnected" in seen.kinds())
    assert "pong" in (seen.events[-1][3] or "")
    assert len(alice.table) == 0


def test_an_idle_incoming_connection_is_closed_after_idle_timeout(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """Messages reset the idle timer; idle_timeout of silence closes the connection and reports it."""
    clock = Clock()
    bob, seen = make_manager(clock=clock, idle_timeout=100)
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    loop.run_until(lambda: len(bob.table) == 1)
    clock.advance(60)
    peer.send(sip_request())
    loop.run_until(lambda: seen.messages)
    clock.advance(99)
    loop.turn()
    assert not peer.eof and len(bob.table) == 1
    clock.advance(1)
    peer.read_until("eof", what="the idle close")
    loop.run_until(lambda: "disconnected" in seen.kinds())
    assert "idle" in (seen.events[-1][3] or "") and len(bob.table) == 0


def test_a_framing_error_is_reported_and_closes_the_connection(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """Messages before the bad bytes are delivered; the bad bytes go to on_bad_message; then the
    connection is closed (a stream cannot resynchronise)."""
    bob, seen = make_manager()
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    bad = b"OPTIONS sip:x SIP/2.0\r\nCall-ID: no-length\r\n\r\n"  # no Content-Length on a stream
    peer.send(sip_request() + bad)
    peer.read_until("eof", what="the close")
    loop.run_until(lambda: "disconnected" in seen.kinds())
    assert len(seen.messages) == 1
    assert len(seen.bad) == 1 and isinstance(seen.bad[0][3], SIPScanError)
    assert seen.bad[0][1] == peer.address
    assert "framing error" in (seen.events[-1][3] or "")


def test_a_stream_message_above_the_limit_closes_the_connection(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """max_message_size applies to streams: a Content-Length past it is a framing error."""
    bob, seen = make_manager(max_message_size=1000)
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    peer.send(sip_request("MESSAGE", b"y" * 2000))
    peer.read_until("eof", what="the close")
    assert seen.messages == [] and len(seen.bad) == 1


def test_connecting_to_a_closed_port_fails_with_connection_failed(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """A refused connect fails every queued send with ConnectionFailed and leaves nothing behind."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    alice, seen = make_manager()
    destination = TransportAddress("tcp", "127.0.0.1", closed_port)
    first, second = alice.send(b"a", destination), alice.send(b"b", destination)
    assert isinstance(loop.failure(first), ConnectionFailed)
    assert isinstance(loop.failure(second), ConnectionFailed)
    assert len(alice.table) == 0 and alice.table.index_size == 0
    assert seen.events == []  # never connected, no local address to report


def test_new_connection_false_only_reuses(make_manager: ManagerFactory, loop: Loop) -> None:
    """With new_connection=False and no connection to reuse the send fails with ConnectionClosed."""
    alice, _ = make_manager()
    error = loop.failure(
        alice.send(sip_response(), TransportAddress("tcp", "127.0.0.1", 5), new_connection=False)
    )
    assert isinstance(error, ConnectionClosed)
    assert len(alice.table) == 0


def test_incoming_connections_beyond_the_limit_are_refused(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer]
) -> None:
    """max_incoming_connections=1: the second connection is closed at once; the first keeps working."""
    bob, seen = make_manager(max_incoming_connections=1)
    address = bob.listen_tcp("127.0.0.1")
    first = RawPeer.connect(address, loop)
    peers.append(first)
    loop.run_until(lambda: len(bob.table) == 1)
    second = RawPeer.connect(address, loop)
    peers.append(second)
    second.read_until("eof", what="the refusal")
    first.send(sip_request())
    loop.run_until(lambda: seen.messages)
    assert bob.table.incoming_count == 1


def test_an_exception_in_a_callback_does_not_break_the_connection(
    make_manager: ManagerFactory, loop: Loop, peers: list[RawPeer], caplog: pytest.LogCaptureFixture
) -> None:
    """on_message raising is logged (logger sipsimple.core.sip.transport); the next message arrives."""
    delivered: list[str | None] = []

    def flaky(message: object, source: object, local: object) -> None:
        delivered.append(message.get("Call-ID"))  # type: ignore[attr-defined]
        if len(delivered) == 1:
            raise RuntimeError("boom")

    bob, _ = make_manager(on_message=flaky)
    peer = RawPeer.connect(bob.listen_tcp("127.0.0.1"), loop)
    peers.append(peer)
    peer.send(sip_request(call_id="one"))
    loop.run_until(lambda: delivered)
    peer.send(sip_request(call_id="two"))
    loop.run_until(lambda: len(delivered) == 2)
    assert delivered == ["one", "two"] and not peer.eof
    assert any(
        r.name == "sipsimple.core.sip.transport" and "on_message" in r.getMessage() for r in caplog.records
    )


def test_the_remote_side_closing_is_reported_and_the_next_send_reconnects(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """When the peer closes, 'disconnected' is reported with a reason and the entry is dropped; a
    later send opens a fresh connection."""
    alice, seen = make_manager()
    bob, bob_seen = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    first_local = loop.wait(alice.send(sip_request(), bob_address))
    loop.run_until(lambda: bob_seen.messages)
    (incoming,) = bob.connections
    assert bob.close_connections(incoming.remote) == 1
    loop.run_until(lambda: "disconnected" in seen.kinds())
    kind, local, remote, reason = seen.events[-1]
    assert kind == "disconnected" and bob_seen.events[-1][3] == "closed by the application"
    assert (local, remote) == (first_local, bob_address) and "remote side" in (reason or "")
    second_local = loop.wait(alice.send(sip_request(cseq=2), bob_address))
    assert second_local != first_local
    loop.run_until(lambda: len(bob_seen.messages) == 2)


def test_stop_fails_queued_sends_with_connection_closed(make_manager: ManagerFactory, loop: Loop) -> None:
    """Sends still waiting for their connection when stop() is called fail with ConnectionClosed;
    stop() fires once everything is closed, and later sends fail too."""
    alice, _ = make_manager()
    bob, _ = make_manager()
    bob_address = bob.listen_tcp("127.0.0.1")
    pending = alice.send(sip_request(), bob_address)
    stopped = alice.stop()
    assert isinstance(loop.failure(pending), ConnectionClosed)
    loop.wait(stopped)
    assert len(alice.table) == 0
    assert isinstance(loop.failure(alice.send(sip_request(), bob_address)), ConnectionClosed)
