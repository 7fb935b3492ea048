"""NS-first lookups: the zone walk, the nameserver cache on a Clock, and DNSLookup asking the
authoritative servers first and the configured ones when that fails."""

from __future__ import annotations

from typing import Any

import dns.flags
import dns.message
import dns.resolver
import pytest
from twisted.internet.task import Clock

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSLookup, DNSLookupError, DNSManager, NameserverCache, Route
from sipsimple.lookup._authority import NEGATIVE_TTL, Authority, answer_ttl, in_zone, zone_candidates
from sipsimple.threading.green import GreenHub
from tests.lookup.conftest import LOCAL, MakeLookup
from tests.lookup.test_lookup import outcome
from tests.support.notifications import NotificationRecorder

AUTH = "192.0.2.100"  # ns1.example.test, the authoritative server
AUTH2 = "192.0.2.101"  # ns2.example.test

# What the configured (local) nameserver knows: the delegation, and stale/wrong SIP records.
LOCAL_ZONE = {
    ("example.test", "NS"): ["ns1.example.test.", "ns2.example.test."],
    ("ns1.example.test", "A"): [AUTH],
    ("ns2.example.test", "A"): [AUTH2],
    ("example.test", "NAPTR"): ['10 10 "S" "SIP+D2U" "" _sip._udp.example.test.'],
    ("_sip._udp.example.test", "SRV"): ["10 100 5060 old.example.test."],
    ("old.example.test", "A"): ["192.0.2.66"],
    ("other.test", "A"): ["192.0.2.77"],
    ("proxy.provider.test", "A"): ["192.0.2.88"],
}
# What the authoritative server holds: the real records.
AUTH_ZONE = {
    ("example.test", "NS"): ["ns1.example.test.", "ns2.example.test."],
    ("example.test", "NAPTR"): ['10 10 "S" "SIP+D2T" "" _sip._tcp.example.test.'],
    ("_sip._tcp.example.test", "SRV"): ["10 100 5080 proxy.example.test."],
    ("proxy.example.test", "A"): ["192.0.2.1"],
    ("sip.example.test", "A"): ["192.0.2.5"],
}
REAL = [Route("192.0.2.1", 5080, "tcp")]
STALE = [Route("192.0.2.66", 5060, "udp")]


def ns_first(make_lookup: MakeLookup, local: Any = None, auth: Any = None, **options: Any) -> Any:
    return make_lookup(
        LOCAL_ZONE if local is None else local,
        authoritative_first=True,
        servers={AUTH: AUTH_ZONE if auth is None else auth},
        **options,
    )


def proxy(lookup: DNSLookup, reactor: Any, host: str = "example.test") -> Any:
    return outcome(lookup.lookup_sip_proxy(SIPURI(host), ["tcp", "udp"]), reactor)


# -- the pure parts -------------------------------------------------------------------------------


def test_zone_candidates_walk_up_but_never_to_a_top_level_domain() -> None:
    assert zone_candidates("a.b.example.test.") == ["a.b.example.test", "b.example.test", "example.test"]
    assert zone_candidates("Example.Test") == ["example.test"]
    assert zone_candidates("localhost") == []


def test_in_zone_compares_whole_labels_case_insensitively() -> None:
    assert in_zone("_sip._udp.Example.test.", "example.test")
    assert in_zone("example.test", "example.test.")
    assert not in_zone("badexample.test", "example.test")
    assert not Authority("example.test").covers("proxy.example.test")  # no servers: covers nothing
    assert Authority("example.test", ("192.0.2.1",)).covers("proxy.example.test")


def test_answer_ttl_reads_the_rrset_and_defaults_to_zero() -> None:
    class Answer:
        class rrset:  # the shape of dnspython's Answer
            ttl = 42

    assert answer_ttl(Answer()) == 42.0
    assert answer_ttl([]) == 0.0


def test_cache_entries_expire_after_their_ttl_on_the_injected_clock() -> None:
    clock = Clock()
    cache = NameserverCache(clock.seconds)
    cache.put("Example.test.", Authority("example.test", ("192.0.2.1",)), ttl=30)
    cache.put("zero.test", Authority("zero.test", ("192.0.2.2",)), ttl=0)  # TTL 0: not kept
    assert cache.get("example.test") == Authority("example.test", ("192.0.2.1",))
    assert cache.get("zero.test") is None and len(cache) == 1
    clock.advance(29.9)
    assert cache.get("EXAMPLE.TEST") is not None
    clock.advance(0.1)
    assert cache.get("example.test") is None and len(cache) == 0


# -- DNSLookup, NS-first --------------------------------------------------------------------------


def test_queries_go_to_the_authoritative_servers_found_through_ns(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    """The local server has stale NAPTR/SRV answers; the authoritative one's routes are returned."""
    lookup, resolver = ns_first(make_lookup)
    assert proxy(lookup, reactor) == REAL
    assert resolver.asked_of(LOCAL) == [
        ("example.test", "NS"),
        ("ns1.example.test", "A"),
        ("ns2.example.test", "A"),
    ]
    assert resolver.asked_of(AUTH, AUTH2)[:3] == [
        ("example.test", "NAPTR"),
        ("_sip._tcp.example.test", "SRV"),
        ("proxy.example.test", "A"),
    ]
    traces = [n.data for n in recorder.named("DNSLookupTrace")]
    assert [(t.query_type, t.query_name, t.nameservers) for t in traces[:2]] == [
        ("NS", "example.test", [LOCAL]),
        ("A", "ns1.example.test", [LOCAL]),
    ]
    assert traces[3].nameservers == [AUTH, AUTH2] and traces[3].query_type == "NAPTR"
    assert {t.context for t in traces} == {"lookup_sip_proxy"}
    assert len(traces) == len(resolver.asked)  # every query traced, NS ones included


def test_the_walk_goes_up_from_a_name_without_ns_records(make_lookup: MakeLookup, reactor: Any) -> None:
    lookup, resolver = ns_first(make_lookup)
    routes = outcome(lookup.lookup_sip_proxy(SIPURI("sip.example.test", port=5070), ["udp"]), reactor)
    assert routes == [Route("192.0.2.5", 5070, "udp")]
    assert [q for q in resolver.queries if q[1] == "NS"] == [
        ("sip.example.test", "NS"),
        ("example.test", "NS"),
    ]
    assert resolver.asked_of(AUTH, AUTH2) == [("sip.example.test", "A"), ("sip.example.test", "AAAA")]


def test_names_outside_the_zone_are_asked_of_the_configured_servers(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    auth = dict(AUTH_ZONE)
    auth[("_sip._tcp.example.test", "SRV")] = ["10 100 5080 proxy.provider.test."]
    lookup, resolver = ns_first(make_lookup, auth=auth)
    assert proxy(lookup, reactor) == [Route("192.0.2.88", 5080, "tcp")]
    assert ("proxy.provider.test", "A") in resolver.asked_of(LOCAL)


def test_the_ns_answer_is_cached_for_its_ttl_and_asked_again_afterwards(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    lookup, resolver = ns_first(make_lookup, ttl=300)
    resolver.ttls[("ns2.example.test", "A")] = 120  # the lowest TTL of the chain counts
    proxy(lookup, reactor)
    ns_queries = lambda: sum(1 for q in resolver.queries if q[1] == "NS")  # noqa: E731
    assert ns_queries() == 1
    reactor.advance(119)
    assert proxy(lookup, reactor) == REAL and ns_queries() == 1
    reactor.advance(1)
    assert proxy(lookup, reactor) == REAL and ns_queries() == 2


def test_the_cache_is_shared_by_lookups_that_share_it(
    make_lookup: MakeLookup, reactor: Any, hub: GreenHub, cache: NameserverCache
) -> None:
    first, resolver = ns_first(make_lookup)
    proxy(first, reactor)
    second = DNSLookup(resolver, hub=hub, authoritative_first=True, nameserver_cache=cache)
    before = len(resolver.queries)
    assert proxy(second, reactor) == REAL
    assert all(q[1] != "NS" for q in resolver.queries[before:])


def test_without_ns_records_the_configured_servers_are_used_and_that_is_remembered(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    local = {key: value for key, value in LOCAL_ZONE.items() if key[1] != "NS"}
    lookup, resolver = ns_first(make_lookup, local=local)
    assert proxy(lookup, reactor) == STALE
    assert [q for q in resolver.queries if q[1] == "NS"] == [("example.test", "NS")]
    assert resolver.asked_of(AUTH) == []
    proxy(lookup, reactor)
    assert sum(1 for q in resolver.queries if q[1] == "NS") == 1  # negative answer cached
    reactor.advance(NEGATIVE_TTL)
    proxy(lookup, reactor)
    assert sum(1 for q in resolver.queries if q[1] == "NS") == 2


@pytest.mark.parametrize(
    "failure",
    [
        dns.exception.Timeout(),
        dns.resolver.NoNameservers(
            request=dns.message.make_query("example.test", "NAPTR"),
            errors=[(AUTH, False, 53, "SERVFAIL", None)],
        ),
    ],
    ids=["timeout", "servfail"],
)
def test_a_failing_authoritative_server_falls_back_for_the_rest_of_the_lookup_and_a_while(
    make_lookup: MakeLookup, reactor: Any, failure: Exception
) -> None:
    lookup, resolver = ns_first(make_lookup)
    resolver.server_errors[AUTH] = failure
    assert proxy(lookup, reactor) == STALE
    assert resolver.asked_of(AUTH, AUTH2) == [("example.test", "NAPTR")]  # tried once, then given up
    assert ("example.test", "NAPTR") in resolver.asked_of(LOCAL)
    count = len(resolver.asked)
    assert proxy(lookup, reactor) == STALE
    assert all(servers == (LOCAL,) for _, _, servers in resolver.asked[count:])  # remembered
    assert all(q[1] != "NS" for q in resolver.queries[count:])


def test_a_referral_from_the_authoritative_server_falls_back(make_lookup: MakeLookup, reactor: Any) -> None:
    """An empty answer without the AA flag is not the truth about the name."""
    lookup, resolver = ns_first(make_lookup)
    referral = dns.message.make_response(dns.message.make_query("example.test", "NAPTR"))
    referral.flags &= ~dns.flags.AA
    resolver.server_errors[AUTH] = dns.resolver.NoAnswer(response=referral)
    assert proxy(lookup, reactor) == STALE


def test_an_authoritative_nxdomain_is_final(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, resolver = ns_first(make_lookup, auth={("example.test", "NS"): ["ns1.example.test."]})
    handle = lookup.lookup_sip_proxy(SIPURI("sip.example.test"), ["udp"])
    reactor.advance(0)
    with pytest.raises(DNSLookupError, match="sip.example.test does not exist"):
        handle.wait()
    assert resolver.asked_of(LOCAL) == [
        ("sip.example.test", "NS"),
        ("example.test", "NS"),
        ("ns1.example.test", "A"),
        ("ns2.example.test", "A"),
    ]  # never the SIP queries: the authoritative answer stands
    assert "sip.example.test does not exist" in recorder.named("DNSLookupDidFail")[0].data.error


def test_nameservers_without_addresses_mean_the_configured_servers(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    local = dict(LOCAL_ZONE)
    del local[("ns1.example.test", "A")], local[("ns2.example.test", "A")]
    lookup, resolver = ns_first(make_lookup, local=local)
    assert proxy(lookup, reactor) == STALE
    assert [q for q in resolver.queries if q[0].startswith("ns")] == [
        ("ns1.example.test", "A"),
        ("ns1.example.test", "AAAA"),
        ("ns2.example.test", "A"),
        ("ns2.example.test", "AAAA"),
    ]
    assert resolver.asked_of(AUTH) == []


def test_a_failed_lookup_says_the_authoritative_servers_were_given_up(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    lookup, resolver = ns_first(
        make_lookup, local={("example.test", "NS"): ["ns1.example.test."], ("ns1.example.test", "A"): [AUTH]}
    )
    resolver.server_errors[AUTH] = dns.exception.Timeout()
    handle = lookup.lookup_sip_proxy(SIPURI("example.test"), ["udp"])
    reactor.advance(0)
    with pytest.raises(
        DNSLookupError, match=r"authoritative nameservers of example\.test failed \(no answer"
    ):
        handle.wait()


def test_switched_off_there_is_no_ns_query(make_lookup: MakeLookup, reactor: Any) -> None:
    lookup, resolver = make_lookup(LOCAL_ZONE, servers={AUTH: AUTH_ZONE}, authoritative_first=False)
    assert proxy(lookup, reactor) == STALE
    assert all(q[1] != "NS" for q in resolver.queries)


def test_the_default_comes_from_the_dns_manager(hub: GreenHub) -> None:
    manager = DNSManager()
    lookup = DNSLookup(hub=hub)
    assert lookup.nameserver_cache is manager.nameserver_cache
    saved = manager.authoritative_first
    try:
        manager.authoritative_first = False
        assert lookup.authoritative_first is False
        manager.authoritative_first = True
        assert lookup.authoritative_first is True
        assert DNSLookup(hub=hub, authoritative_first=False).authoritative_first is False
    finally:
        manager.authoritative_first = saved


def test_a_nameserver_that_is_the_configured_one_is_not_asked_twice(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    local = dict(LOCAL_ZONE)
    local[("example.test", "NS")] = ["ns1.example.test."]
    local[("ns1.example.test", "A")] = [LOCAL]
    lookup, resolver = ns_first(make_lookup, local=local)
    assert proxy(lookup, reactor) == STALE
    assert all(servers == (LOCAL,) for _, _, servers in resolver.asked)
    assert len(resolver.queries) == len(set(resolver.queries))
