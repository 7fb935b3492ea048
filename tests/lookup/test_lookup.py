"""DNSLookup against a table resolver on a fake reactor: query sequence, results, notifications."""

from __future__ import annotations

from typing import Any

import dns.exception
import pytest
from twisted.internet.defer import Deferred

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSLookup, DNSLookupError, Route
from sipsimple.threading.green import GreenHub, GreenThread, block_on
from tests.support.notifications import NotificationRecorder

ZONE = {
    ("example.test", "NAPTR"): [
        '10 10 "S" "SIPS+D2T" "" _sips._tcp.example.test.',
        '20 10 "S" "SIP+D2T" "" _sip._tcp.example.test.',
        '30 10 "S" "SIP+D2U" "" _sip._udp.example.test.',
        '40 10 "S" "E2U+sip" "" _bogus.example.test.',
    ],
    ("_sip._udp.example.test", "SRV"): ["10 60 5060 proxy.example.test.", "20 40 5070 proxy2.example.test."],
    ("_sip._tcp.example.test", "SRV"): ["10 100 5060 proxy.example.test."],
    ("_sips._tcp.example.test", "SRV"): ["10 100 5061 proxy.example.test."],
    ("proxy.example.test", "A"): ["192.0.2.1"],
    ("proxy.example.test", "AAAA"): ["2001:db8::1"],
    ("proxy2.example.test", "A"): ["192.0.2.2"],
}


def outcome(handle: GreenThread[Any], reactor: Any) -> Any:
    reactor.advance(0)
    assert handle.ready()
    return handle.wait()


def test_naptr_srv_a_chain_gives_routes_in_transport_preference_order(
    make_lookup: Any, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, resolver = make_lookup(ZONE)
    routes = outcome(lookup.lookup_sip_proxy(SIPURI("example.test"), ["udp", "tcp", "tls"]), reactor)
    assert routes == [
        Route("192.0.2.1", 5060, "udp"),
        Route("2001:db8::1", 5060, "udp"),
        Route("192.0.2.2", 5070, "udp"),
        Route("192.0.2.1", 5060, "tcp"),
        Route("2001:db8::1", 5060, "tcp"),
        Route("192.0.2.1", 5061, "tls", "example.test"),
        Route("2001:db8::1", 5061, "tls", "example.test"),
    ]
    assert resolver.queries[0] == ("example.test", "NAPTR")
    assert ("_bogus.example.test", "SRV") not in resolver.queries
    [succeeded] = recorder.named("DNSLookupDidSucceed")
    assert succeeded.sender is lookup and succeeded.data.result == routes
    assert not recorder.named("DNSLookupDidFail")
    traces = recorder.named("DNSLookupTrace")
    assert [(t.data.query_name, t.data.query_type) for t in traces] == resolver.queries
    first = traces[0].data
    assert (first.context, first.nameservers, first.error, first.uri) == (
        "lookup_sip_proxy",
        ["192.0.2.53"],
        None,
        SIPURI("example.test"),
    )
    assert len(list(first.answer)) == 4


def test_sips_uri_gives_tls_routes_only(make_lookup: Any, reactor: Any) -> None:
    lookup, resolver = make_lookup(ZONE)
    routes = outcome(
        lookup.lookup_sip_proxy(SIPURI("example.test", secure=True), ["udp", "tcp", "tls"]), reactor
    )
    assert {route.transport for route in routes} == {"tls"}
    assert ("_sip._udp.example.test", "SRV") not in resolver.queries


def test_without_naptr_the_srv_names_of_the_supported_transports_are_tried(
    make_lookup: Any, reactor: Any
) -> None:
    zone = {key: value for key, value in ZONE.items() if key[1] != "NAPTR"}
    lookup, resolver = make_lookup(zone)
    routes = outcome(lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp", "udp"]), reactor)
    assert [r.transport for r in routes] == ["tcp", "tcp", "udp", "udp", "udp"]
    assert [q for q in resolver.queries if q[1] == "SRV"] == [
        ("_sip._tcp.example.test", "SRV"),
        ("_sip._udp.example.test", "SRV"),
    ]


def test_without_naptr_and_srv_the_domain_addresses_are_used_on_default_ports(
    make_lookup: Any, reactor: Any
) -> None:
    lookup, _ = make_lookup({("example.test", "A"): ["192.0.2.9"]})
    routes = outcome(lookup.lookup_sip_proxy(SIPURI("example.test"), ["udp", "tls"]), reactor)
    assert routes == [Route("192.0.2.9", 5060, "udp"), Route("192.0.2.9", 5061, "tls", "example.test")]


def test_explicit_port_queries_addresses_only(make_lookup: Any, reactor: Any) -> None:
    lookup, resolver = make_lookup(ZONE)
    uri = SIPURI("proxy.example.test", port=5099, parameters={"transport": "tcp"})
    routes = outcome(lookup.lookup_sip_proxy(uri, ["udp", "tcp"]), reactor)
    assert routes == [Route("192.0.2.1", 5099, "tcp"), Route("2001:db8::1", 5099, "tcp")]
    assert {q[1] for q in resolver.queries} == {"A", "AAAA"}


def test_ip_literal_makes_no_query(make_lookup: Any, reactor: Any) -> None:
    lookup, resolver = make_lookup({})
    routes = outcome(lookup.lookup_sip_proxy(SIPURI("192.0.2.7", secure=True), ["tls"]), reactor)
    assert routes == [Route("192.0.2.7", 5061, "tls")] and resolver.queries == []


def test_missing_domain_fails_with_a_readable_reason(
    make_lookup: Any, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, _ = make_lookup({})
    handle = lookup.lookup_sip_proxy(SIPURI("nowhere.test"), ["udp"])
    reactor.advance(0)
    with pytest.raises(DNSLookupError, match="nowhere.test does not exist"):
        handle.wait()
    [failed] = recorder.named("DNSLookupDidFail")
    assert failed.sender is lookup and "no SIP server found for nowhere.test" in failed.data.error
    assert all(t.data.error is not None for t in recorder.named("DNSLookupTrace"))


def test_timeouts_are_named_with_the_nameservers(make_lookup: Any, reactor: Any) -> None:
    lookup, resolver = make_lookup({})
    for name, rdtype in [("example.test", "A"), ("example.test", "AAAA")]:
        resolver.errors[(name, rdtype)] = dns.exception.Timeout()
    handle = lookup.lookup_sip_proxy(SIPURI("example.test", port=5060), ["udp"])
    reactor.advance(0)
    with pytest.raises(DNSLookupError, match=r"no answer from 192\.0\.2\.53 for A example\.test"):
        handle.wait()


def test_contradictory_uri_fails_through_the_notification_too(
    make_lookup: Any, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, _ = make_lookup(ZONE)
    handle = lookup.lookup_sip_proxy(
        SIPURI("example.test", secure=True, parameters={"transport": "udp"}), ["udp"]
    )
    reactor.advance(0)
    with pytest.raises(DNSLookupError, match="sips needs TLS"):
        handle.wait()
    assert "sips needs TLS" in recorder.named("DNSLookupDidFail")[0].data.error


def test_lookup_service_uses_srv_then_falls_back_to_the_default_port(
    make_lookup: Any, reactor: Any, recorder: NotificationRecorder
) -> None:
    zone = dict(ZONE)
    zone[("_msrps._tcp.example.test", "SRV")] = ["10 100 2855 proxy.example.test."]
    lookup, _ = make_lookup(zone)
    relays = outcome(lookup.lookup_service(SIPURI("example.test"), "msrprelay"), reactor)
    assert relays == [("192.0.2.1", 2855), ("2001:db8::1", 2855)]
    assert {t.data.service for t in recorder.named("DNSLookupTrace")} == {"msrprelay"}
    stun = outcome(lookup.lookup_service(SIPURI("proxy.example.test"), "stun"), reactor)
    assert stun == [("192.0.2.1", 3478), ("2001:db8::1", 3478)]


def test_lookup_service_rejects_unknown_services(make_lookup: Any, reactor: Any) -> None:
    lookup, _ = make_lookup(ZONE)
    handle = lookup.lookup_service(SIPURI("example.test"), "turn")
    reactor.advance(0)
    with pytest.raises(DNSLookupError, match="unknown service 'turn'"):
        handle.wait()


def test_xcap_lookup_keeps_only_http_urls(make_lookup: Any, reactor: Any) -> None:
    zone = {
        ("xcap.example.test", "TXT"): ['"https://xcap.example.test/xcap-root"', '"v=spf1 -all"', '"ftp://x/"']
    }
    lookup, _ = make_lookup(zone)
    assert outcome(lookup.lookup_xcap_server(SIPURI("example.test")), reactor) == [
        "https://xcap.example.test/xcap-root"
    ]


def test_a_green_thread_can_wait_for_the_lookup(make_lookup: Any, reactor: Any, hub: GreenHub) -> None:
    """The synchronous style: a green thread calls .wait() and gets the routes."""
    lookup, _ = make_lookup(ZONE)
    pending: Deferred[None] = Deferred()

    def user() -> list[Route]:
        block_on(pending)  # the lookup is still running when wait() is called
        return lookup.lookup_sip_proxy(SIPURI("example.test"), ["tcp"]).wait()

    handle = hub.call_in_waitable_green_thread(user)
    reactor.advance(0)
    pending.callback(None)
    reactor.advance(0)
    reactor.advance(0)
    assert handle.wait() == [Route("192.0.2.1", 5060, "tcp"), Route("2001:db8::1", 5060, "tcp")]


def test_default_resolver_is_built_on_the_manager_and_the_hub_reactor(hub: GreenHub) -> None:
    lookup = DNSLookup(hub=hub)
    resolver = lookup.resolver
    assert getattr(resolver, "reactor", None) is hub.reactor
    assert resolver.nameservers  # the DNSManager's current list
