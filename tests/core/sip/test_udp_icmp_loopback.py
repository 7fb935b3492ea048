"""Fail fast on a dead UDP port (RFC 3261 §18.4) between real engines on loopback, IPv4 and IPv6.

The client engine runs with T1 = 2 s, so its first retransmission would come 2 s after the request
and Timer F after 128 s. Each request below is sent once to a port where nothing listens; the ICMP
port unreachable fails that attempt before any retransmission, and the request goes on to the next
target (RFC 3263 §4.3), an in-process server, or ends with a 503 naming the ICMP error. Waits are
bounded below T1, so a request that waited for its timers would fail the test.
"""

from __future__ import annotations

import sys

import pytest
from twisted.internet import defer

from sipsimple.core import Message, Publication, Registration, Request, Subscription
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import Hop
from sipsimple.core.sip.headers import ContactHeader, RouteHeader
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from tests.core.primitives.conftest import ALICE, BOB
from tests.core.primitives.servers import TestServer
from tests.support.reactor import Loop, fresh_reactor

from .test_udp_icmp_socket import closed_port
from .transport.conftest import LOOPBACKS

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="IP_RECVERR is Linux's")

T1 = 2.0
#: the most a failed attempt may take: well under T1, when the first retransmission would go
FAST = 1.5
ROUTE = RouteHeader(SIPURI("proxy.example.test"))


class Hops:
    """A resolver that gives fixed candidates, as DNS would for two SRV targets."""

    def __init__(self, *addresses: TransportAddress) -> None:
        self.hops = [Hop(address) for address in addresses]

    def resolve(self, uri):
        return defer.succeed(list(self.hops))


@pytest.fixture
def loop():
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture(params=LOOPBACKS)
def host(request) -> str:
    return request.param


def start_engine(loop: Loop, host: str) -> SIPEngine:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address=host, udp_port=0, tcp_port=None, tls_port=None, trace_sip=True, t1=T1)
    return engine


@pytest.fixture
def client(loop, host):
    engine = start_engine(loop, host)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def server_engine(loop, host):
    engine = start_engine(loop, host)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def server(server_engine) -> TestServer:
    return TestServer(server_engine, proxy_auth=False)


def udp_address(engine: SIPEngine, host: str) -> TransportAddress:
    address = engine.local_address("udp", ipv6=":" in host)
    assert address is not None
    return address


def sent_to(recorder, address: TransportAddress, method: str) -> int:
    """How many times ``method`` went out to ``address`` (the engines' SIP trace)."""
    return sum(
        1
        for n in recorder.named("SIPEngineSIPTrace")
        if not n.data.received
        and (n.data.destination_ip, n.data.destination_port) == (address.host, address.port)
        and n.data.data.startswith(method.encode() + b" ")
    )


def outcome(loop, recorder, *names):
    loop.run_until(lambda: any(recorder.named(name) for name in names), FAST, what=" or ".join(names))
    return next(recorder.named(name)[-1] for name in names if recorder.named(name))


def test_a_message_to_a_dead_first_target_reaches_the_second_at_once(loop, client, server, recorder, host):
    dead = closed_port(host)
    message = Message(
        ALICE, BOB, ROUTE, "text/plain", "hello", engine=client,
        resolver=Hops(dead, udp_address(server.engine, host)),
    )  # fmt: skip
    message.send(timeout=30)
    done = outcome(loop, recorder, "SIPMessageDidSucceed", "SIPMessageDidFail")
    assert done.name == "SIPMessageDidSucceed", done.data.reason
    assert [m.body for m in server.messages] == [b"hello"]
    assert sent_to(recorder, dead, "MESSAGE") == 1  # no retransmission to the dead port


def test_a_message_with_only_a_dead_target_fails_with_503_naming_the_icmp_error(loop, client, recorder, host):
    dead = closed_port(host)
    message = Message(ALICE, BOB, ROUTE, "text/plain", "hello", engine=client, resolver=Hops(dead))
    message.send(timeout=30)
    failed = outcome(loop, recorder, "SIPMessageDidFail", "SIPMessageDidSucceed")
    assert failed.name == "SIPMessageDidFail"
    assert failed.data.code == 503
    assert "port unreachable" in failed.data.reason and dead.hostport in failed.data.reason
    assert sent_to(recorder, dead, "MESSAGE") == 1


def test_an_options_request_to_a_dead_port_fails_at_once(loop, client, recorder, host):
    dead = closed_port(host)
    uri = SIPURI(dead.host, user="bob", port=dead.port)
    request = Request("OPTIONS", uri, ALICE, BOB, ROUTE, engine=client, resolver=Hops(dead))
    request.send(timeout=30)
    failed = outcome(loop, recorder, "SIPRequestDidFail", "SIPRequestDidSucceed")
    assert failed.name == "SIPRequestDidFail" and failed.data.code == 503
    assert "unreachable" in failed.data.reason
    assert sent_to(recorder, dead, "OPTIONS") == 1


def test_a_registration_with_a_dead_registrar_fails_promptly(loop, client, recorder, host):
    dead = closed_port(host)
    registration = Registration(ALICE, engine=client, resolver=Hops(dead))
    local = udp_address(client, host)
    contact = ContactHeader(SIPURI(local.host, user="alice", port=local.port))
    registration.register(contact, ROUTE, timeout=30)
    failed = outcome(loop, recorder, "SIPRegistrationDidFail", "SIPRegistrationDidSucceed")
    assert failed.name == "SIPRegistrationDidFail" and failed.data.code == 503
    assert "port unreachable" in failed.data.reason
    assert sent_to(recorder, dead, "REGISTER") == 1


def test_a_publication_to_a_dead_compositor_fails_promptly(loop, client, recorder, host):
    dead = closed_port(host)
    publication = Publication(ALICE, "presence", "application/pidf+xml", engine=client, resolver=Hops(dead))
    publication.publish(b"<presence/>", ROUTE, timeout=30)
    failed = outcome(loop, recorder, "SIPPublicationDidFail", "SIPPublicationDidSucceed")
    assert failed.name == "SIPPublicationDidFail" and failed.data.code == 503
    assert "port unreachable" in failed.data.reason
    assert sent_to(recorder, dead, "PUBLISH") == 1


def test_a_subscription_to_a_dead_notifier_fails_promptly(loop, client, recorder, host):
    dead = closed_port(host)
    local = udp_address(client, host)
    subscription = Subscription(
        SIPURI("example.test", user="bob"),
        ALICE,
        BOB,
        ContactHeader(SIPURI(local.host, user="alice", port=local.port)),
        "presence",
        ROUTE,
        engine=client,
        resolver=Hops(dead),
    )
    subscription.subscribe(timeout=30)
    failed = outcome(loop, recorder, "SIPSubscriptionDidFail", "SIPSubscriptionDidStart")
    assert failed.name == "SIPSubscriptionDidFail" and failed.data.code == 503
    assert "port unreachable" in failed.data.reason
    assert sent_to(recorder, dead, "SUBSCRIBE") == 1
