"""Answers pointing to nonsense: the bad records are skipped; when nothing usable is left the lookup
fails with DNSLookupDidFail, and ``.wait()`` raises DNSLookupError, with a reason saying what to fix.

The resolver is the table of conftest; the failures a real server causes (CNAME loops, garbled or
truncated messages, SERVFAIL, timeouts) are the exceptions dnspython raises for them.
"""

from __future__ import annotations

import random
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.resolver
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSLookup, DNSLookupError, NameserverCache, Route
from sipsimple.lookup._rfc3263 import address_problem
from sipsimple.threading.green import GreenHub
from tests.lookup.conftest import LOCAL, FakeReactor, MakeLookup, TableResolver
from tests.lookup.test_lookup import outcome
from tests.support.notifications import NotificationRecorder

HOST = "example.test"


def failed(lookup: DNSLookup, handle: Any, reactor: Any, recorder: NotificationRecorder) -> str:
    """The DidFail reason, checked to be the message ``.wait()`` raises."""
    reactor.advance(0)
    with pytest.raises(DNSLookupError) as error:
        handle.wait()
    [notification] = [n for n in recorder.named("DNSLookupDidFail") if n.sender is lookup]
    assert notification.data.error == str(error.value)
    assert not [n for n in recorder.named("DNSLookupDidSucceed") if n.sender is lookup]
    return str(error.value)


def sip(lookup: DNSLookup, transports: list[str] | None = None) -> Any:
    return lookup.lookup_sip_proxy(SIPURI(HOST), transports or ["udp"])


def no_nameservers(name: str, rdtype: str, *problems: tuple[bool, object]) -> dns.resolver.NoNameservers:
    """What dnspython raises when every server failed; ``problems``: (over TCP?, what went wrong)."""
    return dns.resolver.NoNameservers(
        request=dns.message.make_query(name, rdtype),
        errors=[(LOCAL, tcp, 53, problem, None) for tcp, problem in problems],
    )


def truncated_response(name: str, rdtype: str) -> dns.message.Message:
    """An empty answer with the TC flag: what dnspython gets when a server truncates also over TCP."""
    response = dns.message.make_response(dns.message.make_query(name, rdtype))
    response.flags |= dns.flags.TC
    return response


# -- SRV ------------------------------------------------------------------------------------------


def test_srv_target_dot_means_not_offered_and_forbids_the_a_record_fallback(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, resolver = make_lookup(
        {("_sip._udp.example.test", "SRV"): ["0 0 0 ."], (HOST, "A"): ["192.0.2.9"]}
    )
    reason = failed(lookup, sip(lookup), reactor, recorder)
    assert "no SIP server found for example.test over udp" in reason
    assert "SRV _sip._udp.example.test: target '.' says the service is not offered there" in reason
    assert (HOST, "A") not in resolver.queries  # RFC 2782: decidedly not available


def test_srv_target_dot_for_one_transport_leaves_the_others(make_lookup: MakeLookup, reactor: Any) -> None:
    lookup, _ = make_lookup(
        {
            ("_sip._udp.example.test", "SRV"): ["0 0 0 ."],
            ("_sip._tcp.example.test", "SRV"): ["10 1 5070 proxy.example.test."],
            ("proxy.example.test", "A"): ["192.0.2.1"],
            (HOST, "A"): ["192.0.2.9"],
        }
    )
    assert outcome(sip(lookup, ["udp", "tcp"]), reactor) == [Route("192.0.2.1", 5070, "tcp")]


def test_srv_port_zero_is_skipped_and_named(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    zone = {
        ("_sip._udp.example.test", "SRV"): ["10 1 0 proxy.example.test.", "20 1 5062 proxy2.example.test."],
        ("proxy.example.test", "A"): ["192.0.2.1"],
        ("proxy2.example.test", "A"): ["192.0.2.2"],
    }
    lookup, _ = make_lookup(zone)
    assert outcome(sip(lookup), reactor) == [Route("192.0.2.2", 5062, "udp")]
    zone[("_sip._udp.example.test", "SRV")] = ["10 1 0 proxy.example.test."]
    lookup, _ = make_lookup(zone)
    assert "SRV _sip._udp.example.test: port 0 for proxy.example.test" in failed(
        lookup, sip(lookup), reactor, recorder
    )


def test_srv_targets_without_addresses_are_named(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, _ = make_lookup(
        {
            ("_sip._udp.example.test", "SRV"): [
                "10 1 5060 gone.example.test.",
                "20 1 5060 empty.example.test.",
            ],
            ("empty.example.test", "TXT"): ['"no address here"'],
        }
    )
    reason = failed(lookup, sip(lookup), reactor, recorder)
    assert "gone.example.test (target of SRV _sip._udp.example.test) does not exist" in reason
    assert "empty.example.test (target of SRV _sip._udp.example.test) has no A or AAAA record" in reason
    assert reason.count("gone.example.test") == 1  # the NXDOMAIN is not reported twice


# -- NAPTR ----------------------------------------------------------------------------------------


NONSENSE_NAPTR = [
    '10 10 "S" "E2U+sip" "" _sip._udp.example.test.',  # unknown service
    '10 20 "A" "SIP+D2U" "" _sip._udp.example.test.',  # flag A: no SRV step
    '10 30 "S" "SIP+D2U" "" .',  # replacement '.'
    '10 40 "S" "SIPS+D2T" "" _sips._tcp.example.test.',  # TLS, which is not in use
]


def test_naptr_nonsense_is_skipped_and_the_plain_srv_names_still_work(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    lookup, resolver = make_lookup(
        {
            (HOST, "NAPTR"): NONSENSE_NAPTR,
            ("_sip._udp.example.test", "SRV"): ["10 1 5060 proxy.example.test."],
            ("proxy.example.test", "A"): ["192.0.2.1"],
        }
    )
    assert outcome(sip(lookup), reactor) == [Route("192.0.2.1", 5060, "udp")]
    assert ("_sips._tcp.example.test", "SRV") not in resolver.queries


def test_naptr_nonsense_is_listed_when_nothing_is_left(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, _ = make_lookup({(HOST, "NAPTR"): NONSENSE_NAPTR})
    reason = failed(lookup, sip(lookup), reactor, recorder)
    for expected in [
        "NAPTR example.test E2U+sip -> _sip._udp.example.test: unknown service 'E2U+sip'",
        "flags 'A' instead of 'S'",
        "NAPTR example.test SIP+D2U -> .: replacement '.' names no SRV record",
        "SIPS+D2T -> _sips._tcp.example.test: tls is not among the transports in use (udp)",
    ]:
        assert expected in reason


# -- addresses ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("0.0.0.0", "the unspecified address"),
        ("255.255.255.255", "the broadcast address"),
        ("224.0.0.1", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("::", "the unspecified address"),
        ("ff02::1", "a multicast address"),
    ],
)
def test_unusable_addresses_are_skipped_and_named(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder, address: str, problem: str
) -> None:
    rdtype = "AAAA" if ":" in address else "A"
    lookup, _ = make_lookup(
        {
            ("_sip._udp.example.test", "SRV"): ["10 1 5060 proxy.example.test."],
            ("proxy.example.test", rdtype): [address],
        }
    )
    reason = failed(lookup, sip(lookup), reactor, recorder)
    assert (
        f"proxy.example.test (target of SRV _sip._udp.example.test) has unusable addresses: {address} ({problem}"
        in reason
    )


def test_usable_addresses_next_to_unusable_ones_are_kept(make_lookup: MakeLookup, reactor: Any) -> None:
    lookup, _ = make_lookup(
        {(HOST, "A"): ["0.0.0.0", "192.0.2.1", "255.255.255.255"], (HOST, "AAAA"): ["ff02::1"]}
    )
    assert outcome(sip(lookup), reactor) == [Route("192.0.2.1", 5060, "udp")]


def test_the_explicit_port_lookup_names_unusable_addresses_too(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, _ = make_lookup({("proxy.example.test", "A"): ["0.0.0.0"]})
    handle = lookup.lookup_sip_proxy(SIPURI("proxy.example.test", port=5060), ["udp"])
    reason = failed(lookup, handle, reactor, recorder)
    assert reason == (
        "no IP address found for proxy.example.test "
        "(proxy.example.test has unusable addresses: 0.0.0.0 (the unspecified address))"
    )


# -- what the servers do wrong --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            no_nameservers(HOST, "A", (False, dns.message.ChainTooLong())),
            f"A example.test: {LOCAL} port 53 (UDP) answered with a CNAME chain that loops or is too long",
        ),
        (
            dns.resolver.NoAnswer(response=truncated_response(HOST, "A")),
            f"the answer of {LOCAL} for A example.test was truncated, also over TCP",
        ),
        (
            no_nameservers(HOST, "A", (False, dns.message.ShortHeader())),
            f"A example.test: {LOCAL} port 53 (UDP) sent a malformed answer",
        ),
        (
            no_nameservers(HOST, "A", (False, "SERVFAIL")),
            f"A example.test: {LOCAL} port 53 (UDP) answered SERVFAIL",
        ),
        (dns.exception.Timeout(), f"no answer from {LOCAL} for A example.test within 15 s"),
    ],
    ids=["cname-loop", "truncated", "garbled", "servfail", "timeout"],
)
def test_server_failures_are_reported_in_words(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder, error: Exception, expected: str
) -> None:
    lookup, resolver = make_lookup({})
    resolver.errors[(HOST, "A")] = error
    resolver.errors[(HOST, "AAAA")] = dns.resolver.NoAnswer()
    handle = lookup.lookup_sip_proxy(SIPURI(HOST, port=5060), ["udp"])
    assert failed(lookup, handle, reactor, recorder) == f"no IP address found for example.test ({expected})"


def test_a_failing_srv_query_does_not_hide_the_working_transport(
    make_lookup: MakeLookup, reactor: Any
) -> None:
    lookup, resolver = make_lookup(
        {
            ("_sip._tcp.example.test", "SRV"): ["10 1 5070 proxy.example.test."],
            ("proxy.example.test", "A"): ["192.0.2.1"],
        }
    )
    resolver.errors[("_sip._udp.example.test", "SRV")] = no_nameservers(
        HOST, "SRV", (False, dns.message.ShortHeader())
    )
    assert outcome(sip(lookup, ["udp", "tcp"]), reactor) == [Route("192.0.2.1", 5070, "tcp")]


def test_lookup_service_with_srv_target_dot_fails_without_using_the_host(
    make_lookup: MakeLookup, reactor: Any, recorder: NotificationRecorder
) -> None:
    lookup, resolver = make_lookup(
        {("_stun._udp.example.test", "SRV"): ["0 0 0 ."], (HOST, "A"): ["192.0.2.9"]}
    )
    reason = failed(lookup, lookup.lookup_service(SIPURI(HOST), "stun"), reactor, recorder)
    assert reason.startswith("no stun server found for example.test")
    assert "SRV _stun._udp.example.test: target '.' says the service is not offered there" in reason
    assert (HOST, "A") not in resolver.queries


# -- a property over arbitrary record sets -------------------------------------------------------

ADDRESSES = st.sampled_from(
    ["192.0.2.1", "0.0.0.0", "255.255.255.255", "224.0.0.5", "2001:db8::1", "::", "ff02::2"]
)
TARGETS = st.sampled_from([".", "a.example.test.", "b.example.test.", "missing.example.test."])
SRV_TEXT = st.builds(
    lambda priority, weight, port, target: f"{priority} {weight} {port} {target}",
    st.integers(0, 3),
    st.integers(0, 3),
    st.sampled_from([0, 5060, 5080]),
    TARGETS,
)


@settings(max_examples=150, deadline=None)
@given(
    srv=st.lists(SRV_TEXT, max_size=4),
    a_addresses=st.lists(ADDRESSES, max_size=3),
    b_addresses=st.lists(ADDRESSES, max_size=3),
    host_addresses=st.lists(ADDRESSES, max_size=2),
)
def test_any_record_set_gives_usable_routes_or_a_lookup_error(
    srv: list[str], a_addresses: list[str], b_addresses: list[str], host_addresses: list[str]
) -> None:
    """Whatever the zone holds, the routes have a usable address and a non-zero port, or the lookup
    fails with DNSLookupError; nothing else escapes."""
    zone: dict[tuple[str, str], list[str]] = {}
    if srv:
        zone[("_sip._udp.example.test", "SRV")] = srv
    for name, addresses in [
        ("a.example.test", a_addresses),
        ("b.example.test", b_addresses),
        (HOST, host_addresses),
    ]:
        for rdtype in ("A", "AAAA"):
            values = sorted({a for a in addresses if (":" in a) == (rdtype == "AAAA")})
            if values:
                zone[(name, rdtype)] = values
    reactor = FakeReactor()
    lookup = DNSLookup(
        TableResolver(zone),
        hub=GreenHub(reactor),
        rng=random.Random(0),
        authoritative_first=False,
        nameserver_cache=NameserverCache(reactor.seconds),
    )
    handle = lookup.lookup_sip_proxy(SIPURI(HOST), ["udp"])
    reactor.advance(0)
    try:
        routes = handle.wait()
    except DNSLookupError as error:
        assert str(error).startswith("no SIP server found for example.test over udp")
        return
    assert routes
    for route in routes:
        assert route.port and address_problem(route.address) is None
