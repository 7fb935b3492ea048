"""RFC 3263 failover driven by ICMP (RFC 3261 §18.4), with real DNS: dnsmasq on loopback serves
example.test with one NAPTR (SIP+D2U) and two SRV targets for ``_sip._udp.example.test``:

* ``dead.example.test`` (priority 10) at a UDP port where nothing listens;
* ``live.example.test`` (priority 20): SIPp answering MESSAGE over IPv4, an in-process engine
  (the primitives' test server) over IPv6 (SIPp here binds 127.0.0.1 only).

The engine runs with T1 = 4 s. The MESSAGE is sent once to the dead target; the ICMP port
unreachable fails that attempt at once, and the MESSAGE reaches the live target before the first
retransmission would have gone. With both targets dead it fails with a 503 naming the ICMP error.
The engine's reactor is turned by the test (bounded waits); DNS queries run in its thread pool.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.core import Message
from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.headers import FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSRouteResolver
from tests.core.primitives.servers import TestServer
from tests.support.reactor import Loop, threaded_loop

from .peers.dnsmasq import AAAA, A, Naptr, Srv
from .test_dns_interop import lookup_on

pytestmark = pytest.mark.interop

DOMAIN = "example.test"
SRV_NAME = f"_sip._udp.{DOMAIN}"
T1 = 4.0
#: the most the whole exchange (DNS included) may take: under T1, when a retransmission would go
BOUND = 3.0
ALICE = FromHeader(SIPURI(DOMAIN, user="alice"))
BOB = ToHeader(SIPURI(DOMAIN, user="bob"))
ROUTE = RouteHeader(SIPURI(DOMAIN))


@pytest.fixture
def loop() -> Iterator[Loop]:
    with threaded_loop() as loop:
        yield loop


def start_engine(loop: Loop, host: str) -> SIPEngine:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address=host, udp_port=0, tcp_port=None, tls_port=None, trace_sip=True, t1=T1)
    return engine


@pytest.fixture
def engines(loop: Loop) -> Iterator[Any]:
    started: list[SIPEngine] = []

    def make(host: str) -> SIPEngine:
        started.append(start_engine(loop, host))
        return started[-1]

    yield make
    for engine in started:
        loop.wait(engine.stop())


def closed_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def zone(host: str, dead_port: int, live_port: int) -> list[Any]:
    record = AAAA if ":" in host else A
    return [
        Naptr(DOMAIN, 10, 10, "S", "SIP+D2U", SRV_NAME),
        Srv(SRV_NAME, f"dead.{DOMAIN}", dead_port, 10, 100),
        Srv(SRV_NAME, f"live.{DOMAIN}", live_port, 20, 100),
        record(f"dead.{DOMAIN}", host),
        record(f"live.{DOMAIN}", host),
    ]


def sent_messages(recorder: Any, port: int) -> int:
    return sum(
        1
        for n in recorder.named("SIPEngineSIPTrace")
        if not n.data.received and n.data.destination_port == port and n.data.data.startswith(b"MESSAGE ")
    )


def send_message(loop: Loop, engine: SIPEngine, dns_port: int, recorder: Any) -> tuple[Any, float]:
    """Send the MESSAGE through DNS; return its outcome and the seconds it took."""
    resolver = DNSRouteResolver(["udp"], lookup_on(loop, dns_port))
    message = Message(ALICE, BOB, ROUTE, "text/plain", "hello", engine=engine, resolver=resolver)
    began = time.monotonic()
    message.send(timeout=60)
    names = ("SIPMessageDidSucceed", "SIPMessageDidFail")
    loop.run_until(lambda: any(recorder.named(n) for n in names), BOUND, what="the MESSAGE's outcome")
    elapsed = time.monotonic() - began
    return next(recorder.named(n)[-1] for n in names if recorder.named(n)), elapsed


def test_a_dead_first_srv_target_is_passed_over_at_once_for_sipp(loop, engines, dnsmasq, sipp, recorder):
    """IPv4: SIPp (message_uas) is the second SRV target and gets the MESSAGE; the dead first
    target got it once, with no retransmission."""
    run = sipp.spawn("message_uas.xml", transport="u1", timeout=15).wait_listening()
    dead = closed_port("127.0.0.1")
    server = dnsmasq(records=zone("127.0.0.1", dead, run.local_port))
    client = engines("127.0.0.1")
    done, elapsed = send_message(loop, client, server.port, recorder)
    assert done.name == "SIPMessageDidSucceed", (done.data.code, done.data.reason, elapsed)
    assert sent_messages(recorder, dead) == 1
    assert sent_messages(recorder, run.local_port) == 1
    result = run.wait()
    assert result.ok, result.describe()


def test_a_dead_first_srv_target_is_passed_over_at_once_over_ipv6(loop, engines, dnsmasq, recorder):
    """IPv6 (AAAA records, ::1): an in-process engine is the second target and gets the MESSAGE."""
    live = engines("::1")
    sink = TestServer(live, proxy_auth=False)
    live_address = live.local_address("udp", ipv6=True)
    assert isinstance(live_address, TransportAddress)
    dead = closed_port("::1")
    server = dnsmasq(records=zone("::1", dead, live_address.port))
    client = engines("::1")
    done, elapsed = send_message(loop, client, server.port, recorder)
    assert done.name == "SIPMessageDidSucceed", (done.data.code, done.data.reason, elapsed)
    assert [m.body for m in sink.messages] == [b"hello"]
    assert sent_messages(recorder, dead) == 1


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"], ids=["ipv4", "ipv6"])
def test_with_every_srv_target_dead_the_message_fails_with_503_at_once(
    loop, engines, dnsmasq, recorder, host
):
    """Both targets dead: each is tried once and the MESSAGE fails with 503, its reason naming the
    ICMP error, long before Timer F (64*T1 = 256 s)."""
    first, second = closed_port(host), closed_port(host)
    server = dnsmasq(records=zone(host, first, second))
    client = engines(host)
    done, elapsed = send_message(loop, client, server.port, recorder)
    assert done.name == "SIPMessageDidFail", elapsed
    assert done.data.code == 503 and "port unreachable" in done.data.reason, done.data.reason
    assert sent_messages(recorder, first) == sent_messages(recorder, second) == 1
