"""DNSLookup against dnsmasq on loopback: real NAPTR/SRV/A/AAAA/TXT answers through dnspython.

The lookups run in green threads on a fresh reactor turned by the test thread (bounded waits); the
queries run in that reactor's thread pool against dnsmasq on 127.0.0.1:<free port>.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSLookup, DNSLookupError, DNSResolver, ResolverConfiguration, Route
from sipsimple.notification import NotificationCenter
from sipsimple.threading.green import GreenHub, GreenThread
from tests.conftest import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor

from .peers.dnsmasq import A, Dnsmasq, Naptr, Srv, example_zone

pytestmark = pytest.mark.interop

WAIT = 10.0  # seconds: the most a whole lookup against dnsmasq on loopback may take
XCAP_ROOT = "http://xcap.example.test:8080/xcap-root"
ZONE = [
    *example_zone(sip_port=5070, tls_port=5071, msrp_port=2856),
    Srv("_stun._udp.example.test", "proxy.example.test", 3479),
]


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        pool = reactor.getThreadPool()
        pool.start()
        try:
            yield Loop(reactor)
        finally:
            pool.stop()


@pytest.fixture
def recorder() -> NotificationRecorder:
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    return recorder


@pytest.fixture
def make_lookup(loop: Loop, dnsmasq: Callable[..., Dnsmasq]) -> Callable[..., DNSLookup]:
    def make(records: list[Any] | None = None) -> DNSLookup:
        server = dnsmasq(records=ZONE if records is None else records)
        configuration = ResolverConfiguration(nameservers=("127.0.0.1",), port=server.port)
        return DNSLookup(DNSResolver(configuration, loop.reactor), hub=GreenHub(loop.reactor))

    return make


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
