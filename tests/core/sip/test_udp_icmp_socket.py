"""ICMP errors on real loopback UDP sockets (Linux): a datagram to a port where nothing listens comes
back as an `ICMPReport` through ``on_unreachable``, with the select, poll and epoll reactors, over
IPv4 and IPv6, and the socket goes on sending and receiving."""

from __future__ import annotations

import errno
import os
import socket
import struct
import sys
from collections import deque
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.epollreactor import EPollReactor
from twisted.internet.error import MessageLengthError
from twisted.internet.pollreactor import PollReactor
from twisted.internet.selectreactor import SelectReactor
from twisted.internet.task import Clock
from twisted.python import threadable

from sipsimple.core.sip.transport import ConnectionFailed, ICMPReport, TransportAddress, TransportManager
from sipsimple.core.sip.transport._events import Callbacks
from sipsimple.core.sip.transport._udp import (
    ErrorQueuePort,
    UDPEndpoint,
    adopt_udp_socket,
    enable_error_queue,
)
from tests.support.reactor import Loop, close_reactor

from .transport.conftest import LOOPBACKS, sip_request

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="IP_RECVERR is Linux's")


@pytest.fixture(params=[SelectReactor, PollReactor, EPollReactor], ids=["select", "poll", "epoll"])
def reactor(request: pytest.FixtureRequest) -> Iterator[Any]:
    saved_io_thread = threadable.ioThread
    fresh = request.param()
    try:
        yield fresh
    finally:
        threadable.ioThread = saved_io_thread
        close_reactor(fresh)
        poller = getattr(fresh, "_poller", None)
        if hasattr(poller, "close"):
            poller.close()


@pytest.fixture
def loop(reactor: Any) -> Loop:
    return Loop(reactor)


class Peer:
    """A manager and what it heard."""

    def __init__(self, reactor: Any, host: str) -> None:
        self.messages: list[tuple[Any, TransportAddress]] = []
        self.reports: list[ICMPReport] = []
        self.manager = TransportManager(
            reactor,
            on_message=lambda message, source, local: self.messages.append((message, source)),
            on_unreachable=self.reports.append,
        )
        self.address = self.manager.listen_udp(host)


@pytest.fixture
def peers(reactor: Any, loop: Loop) -> Iterator[Any]:
    made: list[Peer] = []

    def make(host: str) -> Peer:
        made.append(Peer(reactor, host))
        return made[-1]

    yield make
    for peer in made:
        loop.wait(peer.manager.stop())


def closed_port(host: str) -> TransportAddress:
    """A UDP port on ``host`` that was free a moment ago (bound, then closed)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        port = probe.getsockname()[1]
    return TransportAddress("udp", host, port)


@pytest.mark.parametrize("host", LOOPBACKS)
def test_a_datagram_to_a_closed_port_is_reported_and_the_socket_keeps_working(loop, peers, host):
    """One report naming the closed port, the kernel as offender and the bounced request; the
    epoll/poll reactors' error-only wake-up does not close the socket: it still receives and sends."""
    alice, bob = peers(host), peers(host)
    dead = closed_port(host)
    loop.wait(alice.manager.send(sip_request(), dead, is_request=True))
    loop.run_until(lambda: alice.reports, what="the ICMP report")
    [report] = alice.reports
    assert report.destination == dead and report.failure
    assert report.description == "port unreachable" and report.offender == host
    assert report.payload.startswith(b"OPTIONS sip:bob@example.test SIP/2.0\r\n")
    assert alice.manager.listeners == (alice.address,)

    loop.wait(bob.manager.send(sip_request(call_id="to-alice"), alice.address))
    loop.run_until(lambda: alice.messages, what="bob's request")
    loop.wait(alice.manager.send(sip_request(call_id="to-bob"), bob.address))
    loop.run_until(lambda: bob.messages, what="alice's request")
    assert alice.messages[0][1] == bob.address and bob.messages[0][1] == alice.address


@pytest.mark.parametrize("host", LOOPBACKS)
def test_a_send_right_after_a_bounce_is_not_lost_and_the_report_comes_on_the_next_turn(loop, peers, host):
    """On loopback the ICMP error is pending before the first send returns; the next sendto (to a
    live peer) returns that error instead of sending. The datagram is sent again and arrives; the
    report is not delivered inside send() but on a later reactor turn."""
    alice, bob = peers(host), peers(host)
    dead = closed_port(host)
    alice.manager.send(sip_request(call_id="lost"), dead, is_request=True)
    alice.manager.send(sip_request(call_id="kept"), bob.address, is_request=True)
    assert alice.reports == []  # not from inside send
    loop.run_until(lambda: bob.messages and alice.reports, what="the request and the report")
    assert [m.get("Call-ID") for m, _ in bob.messages] == ["kept"]
    assert [r.destination for r in alice.reports] == [dead]


def test_several_bounces_give_one_report_each(loop, peers):
    """Three closed ports, three reports, in the order sent."""
    alice = peers("127.0.0.1")
    dead = [closed_port("127.0.0.1") for _ in range(3)]
    for index, destination in enumerate(dead):
        alice.manager.send(sip_request(call_id=f"c{index}"), destination, is_request=True)
    loop.run_until(lambda: len(alice.reports) >= 3, what="three reports")
    assert [r.destination for r in alice.reports] == dead


def test_a_callback_that_raises_does_not_break_the_socket(loop, reactor, caplog):
    """The report goes through the logged-exception wrapper like every callback."""
    received: list[Any] = []

    def broken(report: ICMPReport) -> None:
        raise RuntimeError("observer bug")

    manager = TransportManager(
        reactor, on_message=lambda message, source, local: received.append(message), on_unreachable=broken
    )
    try:
        address = manager.listen_udp("127.0.0.1")
        manager.send(sip_request(), closed_port("127.0.0.1"), is_request=True)
        loop.run_until(lambda: "on_unreachable callback raised" in caplog.text, what="the logged error")
        manager.send(sip_request(call_id="self"), address)
        loop.run_until(lambda: received, what="a datagram to itself")
    finally:
        loop.wait(manager.stop())
    assert received[0].get("Call-ID") == "self"


def test_the_manager_uses_the_error_queue_port_on_linux(loop, peers):
    alice = peers("127.0.0.1")
    [endpoint] = alice.manager._udp
    assert isinstance(endpoint.port, ErrorQueuePort)


def test_a_reactor_without_file_descriptors_gets_a_plain_adopted_port():
    """No IReactorFDSet (another event loop): adoptDatagramPort, as before, without the option."""

    class Adopting:
        def __init__(self) -> None:
            self.adopted: list[tuple[int, int, Any, int]] = []

        def adoptDatagramPort(self, fd: int, family: int, protocol: Any, maxPacketSize: int) -> str:
            self.adopted.append((fd, family, protocol, maxPacketSize))
            return "port"

    reactor = Adopting()
    endpoint = UDPEndpoint(None, 1000)  # type: ignore[arg-type]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        assert adopt_udp_socket(reactor, sock, endpoint, 1001) == "port"
        assert reactor.adopted == [(sock.fileno(), socket.AF_INET, endpoint, 1001)]
        assert sock.getsockopt(socket.IPPROTO_IP, 11) == 0  # IP_RECVERR left off


# -- the port's error handling against a scripted socket (no network) ------------------------------


class ScriptedSocket:
    """Stands in for the port's socket: each ``sendto``/``recvfrom`` takes the next scripted outcome
    (an errno to fail with, or data), ``recvmsg`` hands out the queued error messages, then EAGAIN."""

    def __init__(self, sends=(), receives=(), errors=()) -> None:
        self.sends, self.receives, self.errors = deque(sends), deque(receives), deque(errors)
        self.sent: list[tuple[bytes, Any]] = []
        self.error_reads = 0

    def sendto(self, data: bytes, address: Any) -> int:
        self.sent.append((data, address))
        failure = self.sends.popleft() if self.sends else None
        if failure:
            raise OSError(failure, os.strerror(failure))
        return len(data)

    def recvfrom(self, size: int) -> Any:
        outcome = self.receives.popleft() if self.receives else errno.EAGAIN
        if isinstance(outcome, int):
            raise OSError(outcome, os.strerror(outcome))
        return outcome

    def recvmsg(self, size: int, ancillary: int, flags: int) -> Any:
        assert flags == socket.MSG_ERRQUEUE
        self.error_reads += 1
        if not self.errors:
            raise BlockingIOError(errno.EAGAIN, "empty")
        return self.errors.popleft()

    def getsockopt(self, level: int, name: int) -> int:
        return 0


def refused(port: int) -> tuple[bytes, list[tuple[int, int, bytes]], int, tuple[str, int]]:
    """One error-queue message: ICMP port unreachable about a request to 127.0.0.1:``port``."""
    cmsg = struct.pack("=IBBBBII", errno.ECONNREFUSED, 2, 3, 3, 0, 0, 0) + bytes(16)
    return (
        b"OPTIONS sip:x SIP/2.0\r\n",
        [(socket.IPPROTO_IP, 11, cmsg)],
        socket.MSG_ERRQUEUE,
        ("127.0.0.1", port),
    )


def scripted_port(sock: ScriptedSocket) -> tuple[ErrorQueuePort, list[ICMPReport], list[Any], Clock]:
    reports: list[ICMPReport] = []
    received: list[Any] = []
    endpoint = UDPEndpoint(
        Callbacks(lambda message, source, local: received.append(message), on_unreachable=reports.append),
        2000,
    )
    endpoint.local = TransportAddress("udp", "127.0.0.1", 5060)
    clock = Clock()
    port = ErrorQueuePort(None, endpoint, interface="127.0.0.1", reactor=clock)
    port.socket = sock
    return port, reports, received, clock


def test_a_send_that_returns_an_earlier_error_is_sent_again_and_the_error_reported_later():
    sock = ScriptedSocket(sends=[errno.ECONNREFUSED], errors=[refused(5999)])
    port, reports, _, clock = scripted_port(sock)
    port.write(b"data", ("127.0.0.1", 5070))
    assert sock.sent == [(b"data", ("127.0.0.1", 5070))] * 2
    assert reports == []
    clock.advance(0)
    assert [r.destination.port for r in reports] == [5999]


def test_a_send_failing_twice_is_this_datagrams_own_failure():
    """EHOSTUNREACH again after the (empty) queue was read: raised, and the endpoint makes it a
    ConnectionFailed; nothing is scheduled."""
    sock = ScriptedSocket(sends=[errno.EHOSTUNREACH, errno.EHOSTUNREACH])
    port, reports, _, clock = scripted_port(sock)
    port.protocol.transport = port
    with pytest.raises(ConnectionFailed, match="No route to host"):
        port.protocol.send(b"data", TransportAddress("udp", "192.0.2.1", 5060))
    assert len(sock.sent) == 2 and clock.getDelayedCalls() == [] and reports == []


@pytest.mark.parametrize(("first", "second"), [(errno.EMSGSIZE, None), (errno.ECONNREFUSED, errno.EMSGSIZE)])
def test_a_datagram_too_large_raises_message_length_error(first, second):
    sock = ScriptedSocket(sends=[first, second])
    port, _, _, _ = scripted_port(sock)
    with pytest.raises(MessageLengthError):
        port.write(b"x" * 10, ("127.0.0.1", 5070))


def test_an_unrelated_send_error_is_raised_at_once():
    sock = ScriptedSocket(sends=[errno.EPERM])
    port, _, _, _ = scripted_port(sock)
    with pytest.raises(PermissionError):
        port.write(b"x", ("127.0.0.1", 5070))
    assert len(sock.sent) == 1 and sock.error_reads == 0


def test_receive_errors_drain_the_queue_and_reading_goes_on_but_not_forever():
    """An error from recvfrom reads the queue and the loop goes on to the data behind it; a socket
    that keeps failing is left after a few rounds (the reactor calls again if it is still ready)."""
    datagram = (sip_request(), ("127.0.0.1", 5070))
    sock = ScriptedSocket(receives=[errno.ECONNREFUSED, datagram], errors=[refused(5999)])
    port, reports, received, _ = scripted_port(sock)
    port.doRead()
    assert [r.destination.port for r in reports] == [5999] and len(received) == 1

    stuck = ScriptedSocket(receives=[errno.ECONNREFUSED] * 10)
    port, reports, received, _ = scripted_port(stuck)
    port.doRead()
    assert stuck.error_reads == 4 and len(stuck.receives) == 6 and reports == received == []


def test_a_failing_datagram_handler_is_logged_and_the_next_datagram_handled(caplog):
    sock = ScriptedSocket(receives=[(b"x", ("127.0.0.1", 1)), (b"y", ("127.0.0.1", 2))])
    port, _, _, _ = scripted_port(sock)
    seen: list[bytes] = []

    def handler(data: bytes, address: Any) -> None:
        seen.append(data)
        if data == b"x":
            raise RuntimeError("handler bug")

    port.protocol.datagramReceived = handler
    port.doRead()
    assert seen == [b"x", b"y"] and "handling a datagram" in caplog.text


def test_an_error_only_wake_up_reports_and_resumes_reading_only_while_listening():
    sock = ScriptedSocket(errors=[refused(5999)])
    port, reports, _, _ = scripted_port(sock)
    resumed: list[bool] = []
    port.startReading = lambda: resumed.append(True)
    port.connected = 0  # stopped listening meanwhile
    port.readConnectionLost(None)
    assert len(reports) == 1 and resumed == []
    port.connected = 1
    port.readConnectionLost(None)
    assert resumed == [True]


def test_errors_that_are_not_transport_failures_are_not_reported():
    """Time exceeded (RFC 3261 §18.4: ignored) stays in the log; it never reaches on_unreachable."""
    cmsg = struct.pack("=IBBBBII", errno.EHOSTUNREACH, 2, 11, 0, 0, 0, 0) + bytes(16)
    sock = ScriptedSocket(errors=[(b"", [(socket.IPPROTO_IP, 11, cmsg)], 0, ("192.0.2.1", 5060))])
    port, reports, _, _ = scripted_port(sock)
    port.readConnectionLost(None)
    assert sock.error_reads == 2 and reports == []


def test_the_option_is_set_for_both_families(monkeypatch):
    for family, level, name in (
        (socket.AF_INET, socket.IPPROTO_IP, 11),
        (socket.AF_INET6, socket.IPPROTO_IPV6, 25),
    ):
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            assert enable_error_queue(sock)
            assert sock.getsockopt(level, name) == 1
    monkeypatch.setattr(sys, "platform", "freebsd14")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        assert not enable_error_queue(sock) and sock.getsockopt(socket.IPPROTO_IP, 11) == 0
