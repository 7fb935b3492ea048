"""The Twisted runners on a fresh reactor against the in-process STUN server on 127.0.0.1/127.0.0.2:
a Binding request, the NAT behaviour discovery, retransmissions and timeouts on an injected clock,
cancellation and the failures a person can act on."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.defer import CancelledError
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import Clock

from sipsimple.core.nat.behaviour import Filtering, Mapping
from sipsimple.core.nat.runner import StunFailure, detect_nat_behaviour, local_address_towards, stun_binding
from sipsimple.core.nat.stun import Attribute, MessageClass, TransportAddress, parse
from sipsimple.core.nat.transaction import RetransmissionTimers
from tests.core.nat.stun_server import FakeSTUNServer
from tests.support.reactor import Loop, fresh_reactor

FAST = RetransmissionTimers(rto=0.1, rc=3, rm=2)


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        loop = Loop(reactor)
        yield loop
        loop.turn()  # a stopped UDP port closes its socket on the next reactor turn


@pytest.fixture
def server(loop: Loop) -> Iterator[FakeSTUNServer]:
    server = FakeSTUNServer(loop.reactor).start()
    yield server
    server.stop()
    loop.turn()


def test_a_binding_request_reports_the_local_port_as_its_mapped_address_on_loopback(loop, server):
    result = loop.wait(stun_binding(server.primary, reactor=loop.reactor, software="runner test"))
    assert result.local_address.host == "127.0.0.1" and result.local_address.port > 0
    assert result.mapped_address == result.local_address
    assert result.response.get(Attribute.OTHER_ADDRESS) == server.other
    request = parse(server.received[0][0])
    assert request.get(Attribute.SOFTWARE) == "runner test"
    assert server.received[0][1] == result.local_address


def test_the_discovery_finds_open_internet_on_loopback_through_the_servers_second_address(loop, server):
    behaviour = loop.wait(detect_nat_behaviour(server.primary, reactor=loop.reactor, timers=FAST))
    assert behaviour.nat_type == "Open Internet"
    assert behaviour.mapping is Mapping.ENDPOINT_INDEPENDENT
    assert behaviour.filtering is Filtering.ENDPOINT_INDEPENDENT
    assert behaviour.other_address == server.other and behaviour.mapped_address == behaviour.local_address
    asked = {to for _, _, to in server.received}
    assert server.primary in asked and TransportAddress(server.other.host, server.primary.port) in asked


def test_a_server_that_ignores_change_request_gives_no_nat_with_unknown_filtering(loop, server):
    server.honour_change = False
    behaviour = loop.wait(detect_nat_behaviour(server.primary, reactor=loop.reactor, timers=FAST))
    assert behaviour.nat_type == "No NAT" and behaviour.filtering is None


def test_retransmissions_and_the_timeout_follow_the_injected_clock(loop, server):
    server.silent = True
    clock = Clock()
    result = stun_binding(server.primary, reactor=loop.reactor, clock=clock, timers=FAST)
    outcome: list[Any] = []
    result.addBoth(outcome.append)
    loop.run_until(lambda: len(server.received) == 1, what="the first send")
    for sends, advance in ((2, 0.1), (3, 0.2)):
        clock.advance(advance)
        loop.run_until(lambda sends=sends: len(server.received) == sends, what=f"send {sends}")
    clock.advance(0.19)
    loop.turn()
    assert outcome == [] and len(server.received) == 3
    clock.advance(0.01)  # Rm x RTO = 0.2 s after the last send
    assert isinstance(outcome[0].value, StunFailure)
    assert "no response after 3 send(s)" in str(outcome[0].value)
    assert clock.getDelayedCalls() == []


def test_the_whole_run_is_bounded_by_its_timeout(loop, server):
    server.silent = True
    clock = Clock()
    result = detect_nat_behaviour(server.primary, reactor=loop.reactor, clock=clock, timeout=0.25)
    clock.advance(0.25)
    failure = loop.failure(result)
    assert isinstance(failure, StunFailure) and "no result within 0.25 s" in str(failure)
    assert clock.getDelayedCalls() == []


def test_cancelling_stops_the_timers_and_closes_the_port(loop, server):
    server.silent = True
    clock = Clock()
    readers_before = len(loop.reactor.getReaders())
    result = detect_nat_behaviour(server.primary, reactor=loop.reactor, clock=clock)
    assert len(loop.reactor.getReaders()) == readers_before + 1
    result.cancel()
    assert isinstance(loop.failure(result), CancelledError)
    loop.turn()
    assert clock.getDelayedCalls() == [] and len(loop.reactor.getReaders()) == readers_before


def test_a_server_that_is_not_an_ip_address_or_a_port_that_cannot_open_fails_with_a_reason(loop):
    failure = loop.failure(stun_binding(("stun.example.test", 3478), reactor=loop.reactor))
    assert isinstance(failure, StunFailure) and "cannot reach the STUN server" in str(failure)
    failure = loop.failure(stun_binding(("127.0.0.1", 3478), reactor=loop.reactor, interface="192.0.2.77"))
    assert isinstance(failure, StunFailure) and "cannot open a UDP port on 192.0.2.77" in str(failure)


def test_the_local_address_towards_a_server_is_the_kernels_choice():
    assert local_address_towards("127.0.0.1", 3478) == "127.0.0.1"
    assert local_address_towards("127.0.0.2", 3478) in ("127.0.0.1", "127.0.0.2")


class _IPv6Echo(DatagramProtocol):
    """Answers a Binding request with the source address, over IPv6."""

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        request = parse(datagram)
        response = request.reply(MessageClass.SUCCESS, [(Attribute.XOR_MAPPED_ADDRESS, (addr[0], addr[1]))])
        self.transport.write(bytes(response), addr)  # type: ignore[union-attr]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_a_binding_request_works_over_ipv6(loop):
    port = loop.reactor.listenUDP(0, _IPv6Echo(), interface="::1")
    try:
        result = loop.wait(stun_binding(("::1", port.getHost().port), reactor=loop.reactor))
        assert result.local_address.host == "::1" and result.mapped_address == result.local_address
    finally:
        port.stopListening()
        loop.turn()
