"""DNSLookup against real DNS servers on loopback, through dnspython.

* dnsmasq on 127.0.0.1:<free port>: NAPTR/SRV/A/AAAA/TXT answers and the RFC 3263 order;
* in-process `ZoneServer`s: the NS-first lookup (a "local" server on 127.0.0.1 delegating
  example.test to an authoritative one on 127.0.0.2, same port), and servers misbehaving on the
  wire (CNAME loops, garbage, truncation, SERVFAIL, silence) or answering nonsense.

The lookups run in green threads on a fresh reactor turned by the test thread (bounded waits); the
queries run in that reactor's thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import (
    DNSLookup,
    DNSLookupError,
    DNSResolver,
    NameserverCache,
    ResolverConfiguration,
    Route,
)
from sipsimple.threading.green import GreenHub, GreenThread
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, threaded_loop

from .peers.dnsmasq import A, Dnsmasq, Naptr, Srv, example_zone
from .peers.zone_server import ZoneServer

pytestmark = pytest.mark.interop

WAIT = 10.0  # seconds: the most a whole lookup against dnsmasq on loopback may take
XCAP_ROOT = "http://xcap.example.test:8080/xcap-root"
ZONE = [
    *example_zone(sip_port=5070, tls_port=5071, msrp_port=2856),
    Srv("_stun._udp.example.test", "proxy.example.test", 3479),
]


@pytest.fixture
def loop() -> Iterator[Loop]:
    with threaded_loop() as loop:
        yield loop


@pytest.fixture
def make_lookup(loop: Loop, dnsmasq: Callable[..., Dnsmasq]) -> Callable[..., DNSLookup]:
    """A lookup asking dnsmasq serving ``records``; NS-first is off unless asked for."""

    def make(records: list[Any] | None = None, authoritative_first: bool = False) -> DNSLookup:
        server = dnsmasq(records=ZONE if records is None else records)
        return lookup_on(loop, server.port, authoritative_first=authoritative_first)

    return make


def lookup_on(loop: Loop, port: int, nameserver: str = "127.0.0.1", **options: Any) -> DNSLookup:
    configuration = ResolverConfiguration(nameservers=(nameserver,), port=port)
    return DNSLookup(
        DNSResolver(configuration, loop.reactor),
        hub=GreenHub(loop.reactor),
        nameserver_cache=NameserverCache(loop.reactor.seconds),
        **options,
    )


@pytest.fixture
def zone_server() -> Iterator[Callable[..., ZoneServer]]:
    """``zone_server(records, host="127.0.0.1", port=0, start=True, **options)``; all stopped at the end."""
    servers: list[ZoneServer] = []

    def make(records: dict[Any, list[str]], *, start: bool = True, **options: Any) -> ZoneServer:
        server = ZoneServer(records, **options)
        servers.append(server)
        return server.start() if start else server

    yield make
    for server in servers:
        server.stop()


def finish(loop: Loop, handle: GreenThread[Any]) -> Any:
    loop.run_until(handle.ready, timeout=WAIT, what="the DNS lookup")
    return handle.wait()


def test_naptr_srv_and_addresses_give_udp_tcp_tls_routes_in_order(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup()
    routes = finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["udp", "tcp", "tls"]))
    assert routes == [
        Route("127.0.0.1", 5070, "udp"),
        Route("::1", 5070, "udp"),
        Route("127.0.0.2", 5070, "udp"),  # proxy2: priority 20 after proxy's 10
        Route("127.0.0.1", 5070, "tcp"),
        Route("::1", 5070, "tcp"),
        Route("127.0.0.1", 5071, "tls", "example.test"),
        Route("::1", 5071, "tls", "example.test"),
    ]
    [succeeded] = recorder.named("DNSLookupDidSucceed")
    assert succeeded.sender is lookup and succeeded.data.result == routes
    traces = [n.data for n in recorder.named("DNSLookupTrace")]
    assert (traces[0].query_type, traces[0].query_name) == ("NAPTR", "example.test")
    assert sorted(r.service for r in traces[0].answer) == [b"SIP+D2T", b"SIP+D2U", b"SIPS+D2T"]
    for trace in traces:
        assert trace.context == "lookup_sip_proxy" and trace.nameservers == ["127.0.0.1"]
        assert trace.uri == SIPURI("example.test") and trace.timestamp is not None
    assert {t.query_type for t in traces} == {"NAPTR", "SRV", "A", "AAAA"}


def test_tls_only_application_and_sips_uri_get_tls_routes(
    loop: Loop, make_lookup: Callable[..., DNSLookup]
) -> None:
    lookup = make_lookup()
    expected = [Route("127.0.0.1", 5071, "tls", "example.test"), Route("::1", 5071, "tls", "example.test")]
    assert finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["tls"])) == expected
    assert (
        finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test", secure=True), ["udp", "tls"])) == expected
    )


def test_srv_targets_come_out_by_priority_whatever_their_weight(
    loop: Loop, make_lookup: Callable[..., DNSLookup]
) -> None:
    records = [
        Srv("_sip._tcp.other.test", "low.other.test", 5080, priority=50, weight=1000),
        Srv("_sip._tcp.other.test", "high.other.test", 5090, priority=5, weight=1),
        A("low.other.test", "127.0.0.3"),
        A("high.other.test", "127.0.0.4"),
    ]
    lookup = make_lookup(records)
    for _ in range(3):
        routes = finish(loop, lookup.lookup_sip_proxy(SIPURI("other.test"), ["tcp"]))
        assert routes == [Route("127.0.0.4", 5090, "tcp"), Route("127.0.0.3", 5080, "tcp")]


def test_explicit_port_skips_naptr_and_srv(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup()
    uri = SIPURI("proxy.example.test", port=6000, parameters={"transport": "tcp"})
    routes = finish(loop, lookup.lookup_sip_proxy(uri, ["udp", "tcp"]))
    assert routes == [Route("127.0.0.1", 6000, "tcp"), Route("::1", 6000, "tcp")]
    assert {n.data.query_type for n in recorder.named("DNSLookupTrace")} == {"A", "AAAA"}


def test_ip_address_needs_no_dns(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup()
    routes = finish(loop, lookup.lookup_sip_proxy(SIPURI("127.0.0.9"), ["udp", "tcp"]))
    assert routes == [Route("127.0.0.9", 5060, "udp")]
    assert recorder.named("DNSLookupTrace") == []


def test_missing_domain_fails_with_did_fail(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup([Naptr("other.test", 10, 10, "S", "SIP+D2U", "_sip._udp.other.test")])
    handle = lookup.lookup_sip_proxy(SIPURI("missing.test"), ["udp"])
    loop.run_until(handle.ready, timeout=WAIT, what="the DNS lookup")
    with pytest.raises(DNSLookupError) as error:
        handle.wait()
    [failed] = recorder.named("DNSLookupDidFail")
    assert failed.sender is lookup and failed.data.error == str(error.value)
    assert "no SIP server found for missing.test" in failed.data.error
    assert all(n.data.error is not None and n.data.answer is None for n in recorder.named("DNSLookupTrace"))
    assert not recorder.named("DNSLookupDidSucceed")


def test_xcap_server_is_the_txt_url(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup()
    assert finish(loop, lookup.lookup_xcap_server(SIPURI("example.test", user="alice"))) == [XCAP_ROOT]
    [trace] = recorder.named("DNSLookupTrace")
    assert (trace.data.query_type, trace.data.query_name, trace.data.context) == (
        "TXT",
        "xcap.example.test",
        "lookup_xcap_server",
    )
    assert recorder.named("DNSLookupDidSucceed")[0].data.result == [XCAP_ROOT]


def test_stun_and_msrp_relay_services(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    lookup = make_lookup()
    assert finish(loop, lookup.lookup_service(SIPURI("example.test"), "stun")) == [
        ("127.0.0.1", 3479),
        ("::1", 3479),
    ]
    assert finish(loop, lookup.lookup_service(SIPURI("example.test"), "msrprelay")) == [
        ("127.0.0.1", 2856),
        ("::1", 2856),
    ]
    traces = recorder.named("DNSLookupTrace")
    assert (traces[0].data.query_type, traces[0].data.query_name) == ("SRV", "_stun._udp.example.test")
    assert {t.data.service for t in traces} == {"stun", "msrprelay"}
    assert [n.data.result for n in recorder.named("DNSLookupDidSucceed")] == [
        [("127.0.0.1", 3479), ("::1", 3479)],
        [("127.0.0.1", 2856), ("::1", 2856)],
    ]


def test_ns_first_with_dnsmasq_without_ns_records_falls_back_to_it(
    loop: Loop, make_lookup: Callable[..., DNSLookup], recorder: NotificationRecorder
) -> None:
    """dnsmasq has no NS records for example.test: after the NS query the lookup asks dnsmasq."""
    lookup = make_lookup(authoritative_first=True)
    routes = finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp"]))
    assert routes == [Route("127.0.0.1", 5070, "tcp"), Route("::1", 5070, "tcp")]
    traces = [n.data for n in recorder.named("DNSLookupTrace")]
    assert [(t.query_type, t.query_name) for t in traces[:2]] == [
        ("NS", "example.test"),
        ("NAPTR", "example.test"),
    ]
    assert {tuple(t.nameservers) for t in traces} == {("127.0.0.1",)}


# -- NS-first: a local server delegating example.test to an authoritative one ---------------------

AUTHORITATIVE = "127.0.0.2"
LOCAL_RECORDS = {
    ("example.test", "NS"): ["ns.example.test."],
    ("ns.example.test", "A"): [AUTHORITATIVE],
    # what a broken home router would answer: an old, wrong service
    ("example.test", "NAPTR"): ['10 10 "S" "SIP+D2U" "" _sip._udp.example.test.'],
    ("_sip._udp.example.test", "SRV"): ["10 100 5999 decoy.example.test."],
    ("decoy.example.test", "A"): ["127.0.0.9"],
}
AUTHORITATIVE_RECORDS = {
    ("example.test", "NS"): ["ns.example.test."],
    ("example.test", "NAPTR"): [
        '10 10 "S" "SIP+D2T" "" _sip._tcp.example.test.',
        '20 10 "S" "SIP+D2U" "" _sip._udp.example.test.',
    ],
    ("_sip._tcp.example.test", "SRV"): ["10 100 5070 proxy.example.test."],
    ("_sip._udp.example.test", "SRV"): ["10 100 5070 proxy.example.test."],
    ("proxy.example.test", "A"): ["127.0.0.1"],
}
REAL_ROUTES = [Route("127.0.0.1", 5070, "tcp"), Route("127.0.0.1", 5070, "udp")]
DECOY_ROUTES = [Route("127.0.0.9", 5999, "udp")]


def test_ns_first_asks_the_authoritative_server_of_the_delegation(
    loop: Loop, zone_server: Callable[..., ZoneServer], recorder: NotificationRecorder
) -> None:
    local = zone_server(LOCAL_RECORDS, authoritative=False)
    authoritative = zone_server(AUTHORITATIVE_RECORDS, host=AUTHORITATIVE, port=local.port)
    lookup = lookup_on(loop, local.port, authoritative_first=True)
    assert finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp", "udp"])) == REAL_ROUTES
    assert [(name, rdtype) for name, rdtype, _ in local.queried()] == [
        ("example.test", "NS"),
        ("ns.example.test", "A"),
    ]
    assert ("example.test", "NAPTR", "udp") in authoritative.queried()
    traces = [n.data for n in recorder.named("DNSLookupTrace")]
    assert [(t.query_type, t.nameservers) for t in traces[:3]] == [
        ("NS", ["127.0.0.1"]),
        ("A", ["127.0.0.1"]),
        ("NAPTR", [AUTHORITATIVE]),
    ]
    assert all(t.error is None for t in traces[:3]) and len(traces) == len(local.queried()) + len(
        authoritative.queried()
    )


def test_ns_first_falls_back_to_the_local_server_when_the_authoritative_one_is_down(
    loop: Loop, zone_server: Callable[..., ZoneServer], recorder: NotificationRecorder
) -> None:
    local = zone_server(LOCAL_RECORDS, authoritative=False)  # nothing listens on 127.0.0.2
    lookup = lookup_on(loop, local.port, authoritative_first=True)
    handle = lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp", "udp"], timeout=0.5, lifetime=1.0)
    assert finish(loop, handle) == DECOY_ROUTES
    traces = [n.data for n in recorder.named("DNSLookupTrace")]
    naptr = [(t.nameservers, t.error is None) for t in traces if t.query_type == "NAPTR"]
    assert naptr == [([AUTHORITATIVE], False), (["127.0.0.1"], True)]
    recorder.clear()
    assert finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp", "udp"])) == DECOY_ROUTES
    again = [n.data for n in recorder.named("DNSLookupTrace")]
    assert all(t.nameservers == ["127.0.0.1"] and t.query_type != "NS" for t in again)  # remembered


def test_ns_first_falls_back_when_the_authoritative_server_answers_servfail(
    loop: Loop, zone_server: Callable[..., ZoneServer]
) -> None:
    local = zone_server(LOCAL_RECORDS, authoritative=False)
    zone_server(
        AUTHORITATIVE_RECORDS, host=AUTHORITATIVE, port=local.port, faults={"example.test": "servfail"}
    )
    lookup = lookup_on(loop, local.port, authoritative_first=True)
    assert finish(loop, lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp", "udp"])) == DECOY_ROUTES


# -- servers misbehaving on the wire, and nonsense answers ---------------------------------------


def failure_of(
    loop: Loop, lookup: DNSLookup, handle: GreenThread[Any], recorder: NotificationRecorder
) -> str:
    loop.run_until(handle.ready, timeout=WAIT, what="the DNS lookup")
    with pytest.raises(DNSLookupError) as error:
        handle.wait()
    [failed] = [n for n in recorder.named("DNSLookupDidFail") if n.sender is lookup]
    assert failed.data.error == str(error.value)
    return str(error.value)


@pytest.mark.parametrize(
    ("records", "faults", "expected"),
    [
        (
            {
                ("a.example.test", "CNAME"): ["b.example.test."],
                ("b.example.test", "CNAME"): ["a.example.test."],
            },
            {},
            "(UDP) answered with a CNAME chain that loops or is too long",
        ),
        (
            {("a.example.test", "A"): ["127.0.0.1"]},
            {"a.example.test": "garble-tcp"},
            "127.0.0.1 port {port} (TCP) sent a malformed answer",
        ),
        (  # garbage over UDP is ignored (as a spoofed packet would be): it looks like silence
            {("a.example.test", "A"): ["127.0.0.1"]},
            {"a.example.test": "garble"},
            "no answer from 127.0.0.1 for A a.example.test within 0.6 s",
        ),
        (
            {("a.example.test", "A"): ["127.0.0.1"]},
            {"a.example.test": "truncate-always"},
            "the answer of 127.0.0.1 for A a.example.test was truncated, also over TCP",
        ),
        ({("a.example.test", "A"): ["127.0.0.1"]}, {"a.example.test": "servfail"}, "(UDP) answered SERVFAIL"),
        ({("a.example.test", "A"): ["127.0.0.1"]}, {"a.example.test": "drop"}, "no answer from 127.0.0.1"),
        ({("a.example.test", "A"): ["0.0.0.0"]}, {}, "0.0.0.0 (the unspecified address)"),
    ],
    ids=[
        "cname-loop",
        "garbled-over-tcp",
        "garbled-over-udp",
        "truncated-over-tcp-too",
        "servfail",
        "silence",
        "unspecified-address",
    ],
)
def test_a_misbehaving_server_gives_a_failure_a_person_can_act_on(
    loop: Loop,
    zone_server: Callable[..., ZoneServer],
    recorder: NotificationRecorder,
    records: dict[Any, list[str]],
    faults: dict[str, str],
    expected: str,
) -> None:
    server = zone_server(records, faults=faults)
    lookup = lookup_on(loop, server.port, authoritative_first=False)
    uri = SIPURI("a.example.test", port=5060)
    reason = failure_of(
        loop, lookup, lookup.lookup_sip_proxy(uri, ["udp"], timeout=0.3, lifetime=0.6), recorder
    )
    assert reason.startswith("no IP address found for a.example.test (")
    assert expected.format(port=server.port) in reason


def test_a_truncated_udp_answer_is_fetched_again_over_tcp(
    loop: Loop, zone_server: Callable[..., ZoneServer]
) -> None:
    server = zone_server({("a.example.test", "A"): ["127.0.0.1"]}, faults={"a.example.test": "truncate"})
    lookup = lookup_on(loop, server.port, authoritative_first=False)
    routes = finish(loop, lookup.lookup_sip_proxy(SIPURI("a.example.test", port=5060), ["udp"]))
    assert routes == [Route("127.0.0.1", 5060, "udp")]
    assert [q for q in server.queried() if q[1] == "A"] == [
        ("a.example.test", "A", "udp"),
        ("a.example.test", "A", "tcp"),
    ]


def test_srv_nonsense_on_the_wire_is_skipped_and_listed(
    loop: Loop, zone_server: Callable[..., ZoneServer], recorder: NotificationRecorder
) -> None:
    server = zone_server(
        {
            ("example.test", "A"): ["127.0.0.1"],  # must not be used: the SRV records exist
            ("_sip._udp.example.test", "SRV"): ["0 0 0 ."],
            ("_sip._tcp.example.test", "SRV"): ["10 1 5070 bad.example.test.", "20 1 0 proxy.example.test."],
            ("bad.example.test", "A"): ["255.255.255.255"],
            ("bad.example.test", "AAAA"): ["ff02::1"],
            ("proxy.example.test", "A"): ["127.0.0.1"],
        }
    )
    lookup = lookup_on(loop, server.port, authoritative_first=False)
    reason = failure_of(
        loop, lookup, lookup.lookup_sip_proxy(SIPURI("example.test"), ["udp", "tcp"]), recorder
    )
    assert reason.startswith("no SIP server found for example.test over udp, tcp")
    for expected in [
        "SRV _sip._udp.example.test: target '.' says the service is not offered there",
        "SRV _sip._tcp.example.test: port 0 for proxy.example.test",
        "bad.example.test (target of SRV _sip._tcp.example.test) has unusable addresses: "
        "255.255.255.255 (the broadcast address), ff02::1 (a multicast address)",
    ]:
        assert expected in reason
