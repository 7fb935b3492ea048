"""DNSRouteResolver: the core primitives' resolver role answered with RFC 3263 lookups."""

from __future__ import annotations

from typing import Any

from twisted.python.failure import Failure
from zope.interface.verify import verifyClass

from sipsimple.core.primitives.route import Hop, IRouteResolver, ResolutionError
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import DNSRouteResolver
from tests.lookup.test_lookup import ZONE


def test_it_provides_the_route_resolver_interface() -> None:
    verifyClass(IRouteResolver, DNSRouteResolver)


def test_routes_become_hops_in_lookup_order_with_tls_names(make_lookup: Any, reactor: Any) -> None:
    lookup, _ = make_lookup(ZONE)
    results: list[Any] = []
    DNSRouteResolver(["udp", "tls"], lookup).resolve(SIPURI("example.test")).addBoth(results.append)
    reactor.advance(0)
    assert results == [
        [
            Hop(TransportAddress("udp", "192.0.2.1", 5060)),
            Hop(TransportAddress("udp", "2001:db8::1", 5060)),
            Hop(TransportAddress("udp", "192.0.2.2", 5070)),
            Hop(TransportAddress("tls", "192.0.2.1", 5061), "example.test"),
            Hop(TransportAddress("tls", "2001:db8::1", 5061), "example.test"),
        ]
    ]


def test_a_failed_lookup_is_a_resolution_error_with_the_reason(make_lookup: Any, reactor: Any) -> None:
    lookup, _ = make_lookup(ZONE)
    results: list[Any] = []
    DNSRouteResolver(["udp"], lookup).resolve(SIPURI("missing.test")).addBoth(results.append)
    reactor.advance(0)
    [failure] = results
    assert isinstance(failure, Failure) and failure.check(ResolutionError)
    assert "missing.test" in failure.getErrorMessage()
