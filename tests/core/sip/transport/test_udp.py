"""UDP over real loopback sockets: round trips, bad and over-size datagrams, the UDP->TCP switch."""

from __future__ import annotations

import random
import socket

import pytest

from sipsimple.core.sip._scanner import SIPScanError
from sipsimple.core.sip.transport import (
    ConnectionFailed,
    MessageTooLarge,
    TransportAddress,
)

from .conftest import LOOPBACKS, Loop, ManagerFactory, sip_request, sip_response


@pytest.mark.parametrize("host", LOOPBACKS)
def test_udp_request_and_response_round_trip_between_two_managers(
    make_manager: ManagerFactory, loop: Loop, host: str
) -> None:
    """A request sent over UDP arrives with its source address; the answer sent back to that source
    arrives from the listener's address (the same socket sends and receives, RFC 3261 §18)."""
    alice, alice_seen = make_manager()
    bob, bob_seen = make_manager()
    alice_address = alice.listen_udp(host)
    bob_address = bob.listen_udp(host)
    assert alice_address.transport == "udp" and alice_address.port != 0

    local = loop.wait(alice.send(sip_request(), bob_address, is_request=True))
    assert local == alice_address
    loop.run_until(lambda: bob_seen.messages)
    message, source, received_on = bob_seen.messages[0]
    assert message.method == "OPTIONS" and message.get("Call-ID") == "c1"
    assert source == alice_address  # the request came from alice's listening socket
    assert received_on == bob_address

    loop.wait(bob.send(sip_response(), source))
    loop.run_until(lambda: alice_seen.messages)
    response, source, _ = alice_seen.messages[0]
    assert response.status_code == 200 and source == bob_address
    assert [t[0] for t in alice_seen.traces] == ["out", "in"]
    assert alice_seen.traces[0][3] == sip_request()


def test_a_bad_datagram_is_reported_and_the_next_good_one_still_arrives(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """A datagram that does not scan goes to on_bad_message with the scanner's error and is dropped;
    the socket keeps working."""
    bob, seen = make_manager()
    bob_address = bob.listen_udp("127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"THIS IS NOT SIP\r\n\r\n", (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.bad)
        client.sendto(sip_request(), (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.messages)
        client_port = client.getsockname()[1]
    data, source, local, error = seen.bad[0]
    assert data == b"THIS IS NOT SIP\r\n\r\n"
    assert source == TransportAddress("udp", "127.0.0.1", client_port) and local == bob_address
    assert isinstance(error, SIPScanError)
    assert len(seen.messages) == 1 and len(seen.bad) == 1


def test_crlf_keepalive_datagrams_are_ignored_silently(make_manager: ManagerFactory, loop: Loop) -> None:
    """CRLF keep-alives over UDP are neither messages nor errors."""
    bob, seen = make_manager()
    bob_address = bob.listen_udp("127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"\r\n\r\n", (bob_address.host, bob_address.port))
        client.sendto(sip_request(), (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.messages)
    assert seen.bad == [] and len(seen.messages) == 1


def test_an_over_size_datagram_is_dropped_and_reported(make_manager: ManagerFactory, loop: Loop) -> None:
    """A datagram above max_message_size (even one the kernel cut short) is dropped via on_bad_message."""
    bob, seen = make_manager(max_message_size=1000)
    bob_address = bob.listen_udp("127.0.0.1")
    big = sip_request(body=b"x" * 3000)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(big, (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.bad)
        client.sendto(sip_request(), (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.messages)
    assert isinstance(seen.bad[0][3], MessageTooLarge)
    assert len(seen.messages) == 1


def test_sending_more_than_the_message_limit_fails_with_message_too_large(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """Outgoing messages are held to max_message_size too."""
    alice, seen = make_manager(max_message_size=500)
    alice.listen_udp("127.0.0.1")
    error = loop.failure(alice.send(b"x" * 501, TransportAddress("udp", "127.0.0.1", 9)))
    assert isinstance(error, MessageTooLarge)
    assert seen.traces == []


def test_udp_send_without_a_listener_of_that_family_fails(make_manager: ManagerFactory, loop: Loop) -> None:
    """UDP is only sent from a listening socket (so answers come back to it): none of that family -> error."""
    alice, _ = make_manager()
    alice.listen_udp("127.0.0.1")
    error = loop.failure(alice.send(sip_request(), TransportAddress("udp", "::1", 5060)))
    assert isinstance(error, ConnectionFailed) and "IPv6" in str(error)


def test_a_large_udp_request_is_sent_over_tcp_to_the_same_host_and_port(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """RFC 3261 §18.1.1: a 2,000-byte request for a UDP destination goes over TCP to the same
    host/port; the local address returned says TCP. Responses and small requests stay on UDP."""
    alice, _ = make_manager()
    bob, bob_seen = make_manager()
    alice.listen_udp("127.0.0.1")
    bob_udp = bob.listen_udp("127.0.0.1")
    bob.listen_tcp("127.0.0.1", bob_udp.port)
    request = sip_request("MESSAGE", body=b"x" * 2000)
    assert alice.transport_for(bob_udp, len(request), is_request=True).transport == "tcp"

    local = loop.wait(alice.send(request, bob_udp, is_request=True))
    assert local.transport == "tcp"
    loop.run_until(lambda: bob_seen.messages)
    message, source, received_on = bob_seen.messages[0]
    assert received_on.transport == "tcp" and received_on.port == bob_udp.port
    assert message.body == b"x" * 2000 and source == local

    small = loop.wait(alice.send(sip_request(), bob_udp, is_request=True))
    assert small.transport == "udp"
    not_a_request = alice.transport_for(bob_udp, len(request), is_request=False)
    assert not_a_request.transport == "udp"


def test_the_udp_tcp_switch_threshold_is_configurable(make_manager: ManagerFactory) -> None:
    """udp_tcp_switch_threshold moves or disables the switch."""
    destination = TransportAddress("udp", "127.0.0.1", 5060)
    low, _ = make_manager(udp_tcp_switch_threshold=100)
    off, _ = make_manager(udp_tcp_switch_threshold=None)
    assert low.transport_for(destination, 101, is_request=True).transport == "tcp"
    assert low.transport_for(destination, 100, is_request=True).transport == "udp"
    assert off.transport_for(destination, 60000, is_request=True).transport == "udp"


def test_ten_thousand_malformed_datagrams_leave_no_state_behind(
    make_manager: ManagerFactory, loop: Loop
) -> None:
    """Resilience: 10,000 random datagrams are each reported and dropped, a valid message still
    arrives afterwards, and the manager's bookkeeping is exactly what it was (no per-source state)."""
    bob, seen = make_manager()
    bob_address = bob.listen_udp("127.0.0.1")
    before = (len(bob.table), bob.table.index_size, len(bob._links), len(bob.listeners))
    rng = random.Random(5060)
    total = 10_000
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        sent = 0
        while sent < total:
            batch = min(100, total - sent)  # small batches: the receive buffer never overflows
            for _ in range(batch):
                payload = b"\x00" + rng.randbytes(rng.randint(0, 300))  # a NUL never starts valid SIP
                client.sendto(payload, (bob_address.host, bob_address.port))
            sent += batch
            loop.run_until(lambda sent=sent: len(seen.bad) >= sent, what=f"{sent} bad datagrams")
        client.sendto(sip_request(call_id="survivor"), (bob_address.host, bob_address.port))
        loop.run_until(lambda: seen.messages)
    assert len(seen.bad) == total
    assert seen.messages[0][0].get("Call-ID") == "survivor"
    after = (len(bob.table), bob.table.index_size, len(bob._links), len(bob.listeners))
    assert after == before
