"""The RFC 3263/3403/2782 selection rules on hand-built records (no DNS, no reactor)."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup._rfc3263 import (
    NaptrRecord,
    SelectionError,
    SrvRecord,
    address_problem,
    naptr_problem,
    order_srv,
    plan_sip_lookup,
    select_naptr,
    sort_by_transport,
    srv_problem,
)

ALL = ["udp", "tcp", "tls"]


def uri(text: str) -> SIPURI:
    return SIPURI.parse(text)


# -- plan_sip_lookup: what RFC 3263 §4.1 allows ---------------------------------------------------


def test_ip_literal_needs_no_dns_and_defaults_to_udp() -> None:
    plan = plan_sip_lookup(uri("sip:192.0.2.1"), ALL)
    assert (plan.is_ip, plan.transports, plan.tls_name, plan.needs_dns_records) == (
        True,
        ("udp",),
        None,
        False,
    )


def test_explicit_port_means_address_records_only_with_the_uri_transport() -> None:
    plan = plan_sip_lookup(uri("sip:proxy.example.test:5080;transport=tcp"), ALL)
    assert (plan.port, plan.transports, plan.needs_dns_records) == (5080, ("tcp",), False)
    assert plan_sip_lookup(uri("sip:proxy.example.test:5080"), ALL).transports == ("udp",)


def test_domain_without_port_uses_every_supported_transport_in_the_application_order() -> None:
    plan = plan_sip_lookup(uri("sip:example.test"), ["TLS", "udp", "tls"])
    assert plan.transports == ("tls", "udp") and plan.needs_dns_records


def test_sips_allows_tls_only_and_rejects_udp() -> None:
    assert plan_sip_lookup(uri("sips:example.test"), ALL).transports == ("tls",)
    assert plan_sip_lookup(uri("sips:example.test;transport=tcp"), ALL).transports == ("tls",)
    with pytest.raises(SelectionError, match="sips needs TLS"):
        plan_sip_lookup(uri("sips:example.test;transport=udp"), ALL)
    with pytest.raises(SelectionError, match="not among the supported"):
        plan_sip_lookup(uri("sips:example.test"), ["udp", "tcp"])


def test_a_transport_parameter_must_be_supported() -> None:
    with pytest.raises(SelectionError, match="'tcp'"):
        plan_sip_lookup(uri("sip:example.test;transport=tcp"), ["udp"])


def test_unknown_or_no_supported_transports_are_reported() -> None:
    with pytest.raises(SelectionError, match="unknown transport"):
        plan_sip_lookup(uri("sip:example.test"), ["sctp"])
    with pytest.raises(SelectionError, match="no transport"):
        plan_sip_lookup(uri("sip:example.test"), [])


# -- NAPTR ----------------------------------------------------------------------------------------


def naptr(order: int, pref: int, service: str, replacement: str, flags: str = "s") -> NaptrRecord:
    return NaptrRecord(order, pref, flags, service, replacement)


def test_naptr_sorted_by_order_then_preference_and_filtered_by_transport() -> None:
    records = [
        naptr(30, 10, "SIP+D2U", "_sip._udp.example.test."),
        naptr(10, 20, "SIP+D2T", "_sip._tcp.example.test."),
        naptr(10, 10, "SIPS+D2T", "_sips._tcp.example.test."),
    ]
    assert select_naptr(records, ALL) == [
        ("tls", "_sips._tcp.example.test"),
        ("tcp", "_sip._tcp.example.test"),
        ("udp", "_sip._udp.example.test"),
    ]
    assert select_naptr(records, ("udp",)) == [("udp", "_sip._udp.example.test")]


def test_naptr_nonsense_is_skipped() -> None:
    records = [
        naptr(10, 10, "E2U+sip", "_sip._udp.example.test."),  # unknown service
        naptr(10, 10, "SIP+D2U", "_sip._udp.example.test.", flags="A"),  # not an SRV step
        naptr(10, 10, "SIP+D2T", "."),  # empty replacement
        naptr(10, 10, "SIP+D2S", "_sip._sctp.example.test."),  # SCTP: not ours
        naptr(20, 10, "sip+d2u", "_sip._udp.example.test."),  # case-insensitive service: kept
        naptr(21, 10, "SIP+D2U", "_sip._udp.example.test."),  # duplicate: kept once
    ]
    assert select_naptr(records, ALL) == [("udp", "_sip._udp.example.test")]


def test_sort_by_transport_keeps_naptr_order_within_a_transport() -> None:
    pairs = [("tls", "a"), ("udp", "b"), ("tls", "c")]
    assert sort_by_transport(pairs, ("udp", "tls")) == [("udp", "b"), ("tls", "a"), ("tls", "c")]


# -- SRV (RFC 2782) -------------------------------------------------------------------------------


def test_srv_lower_priority_value_always_comes_first() -> None:
    records = [
        SrvRecord(20, 100, 5060, "b.test."),
        SrvRecord(10, 1, 5060, "a.test."),
        SrvRecord(30, 0, 5060, "c.test."),
    ]
    for seed in range(50):
        assert [r.target for r in order_srv(records, random.Random(seed))] == [
            "a.test.",
            "b.test.",
            "c.test.",
        ]


def test_srv_weights_within_a_priority_give_proportional_first_choices() -> None:
    """Over 20000 seeded draws, weights 60/30/10 make each target first about 60/30/10 % of the time."""
    records = [SrvRecord(10, 60, 1, "a"), SrvRecord(10, 30, 2, "b"), SrvRecord(10, 10, 3, "c")]
    rng = random.Random(2024)
    draws = 20000
    firsts = Counter(order_srv(records, rng)[0].target for _ in range(draws))
    for target, share in {"a": 0.6, "b": 0.3, "c": 0.1}.items():
        assert abs(firsts[target] / draws - share) < 0.02, firsts


def test_srv_zero_weight_records_get_a_small_chance_and_every_record_is_kept() -> None:
    records = [SrvRecord(10, 0, 1, "zero"), SrvRecord(10, 99, 2, "heavy")]
    rng = random.Random(7)
    orders = [tuple(r.target for r in order_srv(records, rng)) for _ in range(10000)]
    assert set(orders) == {("heavy", "zero"), ("zero", "heavy")}
    zero_first = orders.count(("zero", "heavy")) / len(orders)
    assert 0.002 < zero_first < 0.03  # 1 chance in 100 (RFC 2782: random number in 0..sum)


def test_srv_dot_target_and_port_zero_are_skipped() -> None:
    records = [SrvRecord(0, 0, 0, "."), SrvRecord(10, 1, 0, "a.test."), SrvRecord(10, 1, 5060, "b.test.")]
    assert [r.target for r in order_srv(records, random.Random(1))] == ["b.test."]
    assert order_srv([SrvRecord(0, 0, 0, ".")], random.Random(1)) == []


# -- the nonsense rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("192.0.2.1", None),
        ("127.0.0.3", None),
        ("2001:db8::1", None),
        ("[::1]", None),
        ("0.0.0.0", "the unspecified address"),
        ("::", "the unspecified address"),
        ("255.255.255.255", "the broadcast address"),
        ("224.0.0.251", "a multicast address"),
        ("ff05::2", "a multicast address"),
        ("250.1.2.3", "a reserved address (240.0.0.0/4)"),
    ],
)
def test_address_problem(address: str, problem: str | None) -> None:
    assert address_problem(address) == problem


def test_naptr_problem_names_each_reason() -> None:
    assert naptr_problem(naptr(1, 1, "SIP+D2U", "_sip._udp.x."), ALL) is None
    assert naptr_problem(naptr(1, 1, "E2U+sip", "_sip._udp.x."), ALL) == "unknown service 'E2U+sip'"
    assert naptr_problem(naptr(1, 1, "SIP+D2U", "_sip._udp.x.", flags=""), ALL) == "flags '' instead of 'S'"
    assert naptr_problem(naptr(1, 1, "SIP+D2U", "."), ALL) == "replacement '.' names no SRV record"
    assert naptr_problem(naptr(1, 1, "SIPS+D2T", "_sips._tcp.x."), ["udp", "tcp"]) == (
        "tls is not among the transports in use (udp, tcp)"
    )


def test_srv_problem_names_each_reason() -> None:
    assert srv_problem(SrvRecord(1, 1, 5060, "a.test.")) is None
    assert srv_problem(SrvRecord(0, 0, 0, ".")) == "target '.' says the service is not offered there"
    assert srv_problem(SrvRecord(1, 1, 0, "a.test.")) == "port 0 for a.test"
