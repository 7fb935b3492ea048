"""Route resolution: IP literals as they are, names through A/AAAA in the reactor's thread pool,
transport and port defaults, TLS names, and the static table."""

from __future__ import annotations

import socket

import pytest
from zope.interface.verify import verifyClass, verifyObject

from sipsimple.core.primitives import Hop, HostResolver, ResolutionError, StaticResolver
from sipsimple.core.primitives.route import IRouteResolver, route_target, route_uri
from sipsimple.core.sip.headers import RouteHeader
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:127.0.0.1", ("127.0.0.1", 5060, "udp")),
        ("sip:127.0.0.1;transport=TCP", ("127.0.0.1", 5060, "tcp")),
        ("sip:proxy.example.test:5070;transport=tls", ("proxy.example.test", 5070, "tls")),
        ("sips:proxy.example.test", ("proxy.example.test", 5061, "tls")),
        ("sip:[::1]:5080", ("::1", 5080, "udp")),
    ],
)
def test_route_target_reads_host_port_and_transport_with_rfc_3263_defaults(uri, expected):
    target = route_target(SIPURI.parse(uri))
    assert (target.host, target.port, target.transport) == expected


def test_an_unsupported_transport_is_a_resolution_error():
    with pytest.raises(ResolutionError):
        route_target(SIPURI.parse("sip:127.0.0.1;transport=sctp"))


def test_route_uri_accepts_headers_and_uris_and_refuses_other_things():
    uri = SIPURI("127.0.0.1")
    assert route_uri(RouteHeader(uri)) is uri and route_uri(uri) is uri
    with pytest.raises(ValueError):
        route_uri("sip:127.0.0.1")


def results(deferred):
    outcome = []
    deferred.addBoth(outcome.append)
    return outcome


def test_an_ip_literal_resolves_to_itself_without_a_lookup():
    def no_lookup(*args):
        raise AssertionError("no lookup expected")

    [hops] = results(
        HostResolver(reactor=None, getaddrinfo=no_lookup).resolve(SIPURI.parse("sip:[::1];transport=tcp"))
    )
    assert hops == [Hop(TransportAddress("tcp", "::1", 5060), None)]


def test_a_name_is_looked_up_in_the_thread_pool_and_keeps_its_tls_name(loop):
    calls = []

    def getaddrinfo(host, port, family, kind):
        calls.append(host)
        return [
            (socket.AF_INET6, kind, 0, "", ("fe80::1%lo", 0, 0, 1)),
            (socket.AF_INET, kind, 0, "", ("127.0.0.1", 0)),
            (socket.AF_INET, kind, 0, "", ("127.0.0.1", 0)),
        ]

    pool = loop.reactor.getThreadPool()
    pool.start()
    try:
        resolver = HostResolver(loop.reactor, getaddrinfo=getaddrinfo)
        hops = loop.wait(resolver.resolve(SIPURI.parse("sips:proxy.example.test")))
    finally:
        pool.stop()
    assert calls == ["proxy.example.test"]
    assert hops == [
        Hop(TransportAddress("tls", "fe80::1", 5061), "proxy.example.test"),
        Hop(TransportAddress("tls", "127.0.0.1", 5061), "proxy.example.test"),
    ]


def test_a_failed_lookup_is_a_resolution_error(loop):
    def getaddrinfo(*args):
        raise socket.gaierror(-2, "Name or service not known")

    pool = loop.reactor.getThreadPool()
    pool.start()
    try:
        error = loop.failure(
            HostResolver(loop.reactor, getaddrinfo).resolve(SIPURI.parse("sip:nowhere.test"))
        )
    finally:
        pool.stop()
    assert isinstance(error, ResolutionError) and "nowhere.test" in str(error)


def test_the_static_resolver_maps_names_and_refuses_unknown_ones():
    resolver = StaticResolver({"Proxy.Example.Test": ["127.0.0.2", "127.0.0.3"]})
    [hops] = results(resolver.resolve(SIPURI.parse("sip:proxy.example.test;transport=tcp")))
    assert [str(hop) for hop in hops] == [
        "tcp:127.0.0.2:5060 (proxy.example.test)",
        "tcp:127.0.0.3:5060 (proxy.example.test)",
    ]
    [failure] = results(resolver.resolve(SIPURI.parse("sip:other.example.test")))
    assert failure.check(ResolutionError)


def test_both_resolvers_implement_the_resolver_interface():
    assert verifyClass(IRouteResolver, HostResolver) and verifyClass(IRouteResolver, StaticResolver)
    assert verifyObject(IRouteResolver, StaticResolver())
