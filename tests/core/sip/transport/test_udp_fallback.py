"""What the transport gives the RFC 3261 §18.1.1 retry: a refused connect is told apart from other
connect failures (`ConnectionRefused`), and ``size_switch=False`` keeps a large request on UDP."""

from __future__ import annotations

import errno
import socket

import pytest
from twisted.internet.error import ConnectError, ConnectionRefusedError, NoRouteError, TCPTimedOutError
from twisted.python.failure import Failure

from sipsimple.core.sip.transport import ConnectionFailed, ConnectionRefused, TransportAddress
from sipsimple.core.sip.transport._manager import _connect_error

from .conftest import Loop, ManagerFactory, sip_request

REMOTE = TransportAddress("tcp", "127.0.0.1", 5060)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"),
        ConnectionRefusedError(),  # without an errno, the class alone says it
        NoRouteError(errno.ENETUNREACH, "Network is unreachable"),
        ConnectError(errno.EHOSTUNREACH, "No route to host"),
        ConnectError(errno.ENOPROTOOPT, "Protocol not available"),
        ConnectError(errno.ECONNRESET, "Connection reset by peer"),
    ],
    ids=["refused", "refused-no-errno", "net-unreachable", "host-unreachable", "icmp-protocol", "reset"],
)
def test_a_connect_the_other_side_turned_down_is_a_connection_refused(error: Exception) -> None:
    """A TCP reset or an ICMP unreachable gives ConnectionRefused (still a ConnectionFailed, so
    callers that catch that are unchanged), naming the remote end."""
    result = _connect_error(REMOTE, Failure(error))
    assert isinstance(result, ConnectionRefused) and isinstance(result, ConnectionFailed)
    assert str(REMOTE) in str(result)


@pytest.mark.parametrize(
    "error",
    [TCPTimedOutError(errno.ETIMEDOUT, "Connection timed out"), ConnectError(string="User timeout")],
    ids=["tcp-timeout", "connect-timeout"],
)
def test_a_connect_that_timed_out_is_not_a_connection_refused(error: Exception) -> None:
    """Silence (a timeout) is a plain ConnectionFailed: nothing said the request cannot go there."""
    result = _connect_error(REMOTE, Failure(error))
    assert type(result) is ConnectionFailed


def bound_but_not_listening() -> socket.socket:
    """A TCP socket bound on loopback that never listens: a connect to its port gets a reset."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def test_a_real_connect_to_a_port_nobody_listens_on_fails_with_connection_refused(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """On loopback the kernel answers the SYN with a reset: the send fails with ConnectionRefused."""
    with bound_but_not_listening() as sock:
        alice, _ = make_manager()
        alice.listen_udp("127.0.0.1")
        port = sock.getsockname()[1]
        large = sip_request("MESSAGE", body=b"x" * 1500)
        failure = loop.failure(alice.send(large, TransportAddress("udp", "127.0.0.1", port), is_request=True))
    assert isinstance(failure, ConnectionRefused)
    assert len(alice.table) == 0


def test_size_switch_false_sends_a_large_request_over_udp(make_manager: ManagerFactory, loop: Loop) -> None:
    """A 1,500-byte request to a UDP destination normally goes over TCP; with size_switch=False it
    goes in one datagram (fragmented by IP, which RFC 3261 §18.1.1 then accepts)."""
    alice, _ = make_manager()
    bob, bob_seen = make_manager()
    alice.listen_udp("127.0.0.1")
    bob_udp = bob.listen_udp("127.0.0.1")
    large = sip_request("MESSAGE", body=b"x" * 1500)
    assert alice.transport_for(bob_udp, len(large), is_request=True).transport == "tcp"
    local = loop.wait(alice.send(large, bob_udp, is_request=True, size_switch=False))
    assert local.transport == "udp"
    loop.run_until(lambda: bob_seen.messages)
    message, _, received_on = bob_seen.messages[0]
    assert received_on == bob_udp and message.body == b"x" * 1500
    assert alice.connections == ()
