"""From a route (an outbound proxy's ``RouteHeader`` or ``SIPURI``) to the addresses to send to.

This is the resolution seam of the request primitives. A primitive asks its resolver for the
``Hop`` candidates of its route and tries them in order (the next one after a 503, a transport
failure or a timeout):

* ``HostResolver`` (the default) does what needs no DNS records beyond addresses: an IP literal is
  its own single candidate; a host name becomes one candidate per A/AAAA address, looked up with
  ``socket.getaddrinfo`` in the reactor's thread pool. The transport is the URI's ``transport``
  parameter (``udp`` by default, ``tls`` for ``sips:``), the port the URI's or 5060 (5061 for TLS),
  and a TLS connection must present a certificate for the URI's host name.
* ``StaticResolver`` maps host names to fixed addresses (tests, embedded use, a hosts file).

Full RFC 3263 (NAPTR, SRV and their priorities) belongs to ``sipsimple.lookup``: anything with a
``resolve(uri) -> Deferred[list[Hop]]`` method can be given to a primitive as its ``resolver``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from zope.interface import Interface, implementer

from sipsimple.core.sip.transport import TRANSPORTS, Transport, TransportAddress
from sipsimple.core.sip.transport._address import ip_family
from sipsimple.core.sip.uri import BaseSIPURI

__all__ = [
    "HostResolver",
    "Hop",
    "IRouteResolver",
    "ResolutionError",
    "RouteResolver",
    "StaticResolver",
    "route_target",
    "route_uri",
]

DEFAULT_PORTS: Mapping[str, int] = {"udp": 5060, "tcp": 5060, "tls": 5061}


class ResolutionError(Exception):
    """A route could not be turned into any address (unknown host, unsupported transport...)."""


@dataclass(frozen=True, slots=True)
class Hop:
    """One place to send a request to: the transport address, and the name its TLS certificate
    must be valid for (None: the IP address itself)."""

    address: TransportAddress
    tls_name: str | None = None

    def __str__(self) -> str:
        return str(self.address) if self.tls_name is None else f"{self.address} ({self.tls_name})"


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """What a route URI says before any lookup: host (name or IP literal), port, transport."""

    host: str
    port: int
    transport: Transport

    @property
    def is_ip(self) -> bool:
        return ip_family(self.host) is not None

    @property
    def tls_name(self) -> str | None:
        return None if self.is_ip else self.host


class IRouteResolver(Interface):
    """The pluggable role of a resolver (implementations are checked with ``verifyClass``)."""

    def resolve(uri):  # zope.interface style: no self
        """A Deferred firing with the ordered ``Hop`` candidates for the route URI ``uri``, or
        failing with ResolutionError."""


class RouteResolver(Protocol):
    """The same role for type checkers: turns a route URI into the ordered candidates to try."""

    def resolve(self, uri: BaseSIPURI) -> Deferred[list[Hop]]: ...


def route_uri(route: Any) -> BaseSIPURI:
    """The SIP URI of a route given as a (Frozen)RouteHeader or as a (Frozen)SIPURI."""
    uri = getattr(route, "uri", route)
    if not isinstance(uri, BaseSIPURI):
        raise ValueError(f"a route must be a SIP URI or a RouteHeader with one, not {route!r}")
    return uri


def route_target(uri: BaseSIPURI) -> RouteTarget:
    """Host, port and transport of a route URI (RFC 3263 §4.1/§4.2 without NAPTR/SRV)."""
    transport = uri.transport
    if transport not in TRANSPORTS:
        raise ResolutionError(f"transport {transport!r} of {uri} is not supported")
    port = uri.port if uri.port is not None else DEFAULT_PORTS[transport]
    return RouteTarget(uri.host, port, transport)


def _hops(target: RouteTarget, addresses: Iterable[str]) -> list[Hop]:
    hops: list[Hop] = []
    for address in addresses:
        hop = Hop(TransportAddress(target.transport, address, target.port), target.tls_name)
        if hop not in hops:
            hops.append(hop)
    return hops


@implementer(IRouteResolver)
class HostResolver:
    """The default resolver: IP literals as they are, host names through A/AAAA (``getaddrinfo``).

    The lookup runs in ``reactor.getThreadPool()`` so it never blocks the reactor; ``getaddrinfo``
    can be replaced (tests). Addresses keep the order the system resolver gives (RFC 6724).
    """

    def __init__(self, reactor: Any, getaddrinfo: Callable[..., Sequence[Any]] = socket.getaddrinfo) -> None:
        self.reactor = reactor
        self._getaddrinfo = getaddrinfo

    def resolve(self, uri: BaseSIPURI) -> Deferred[list[Hop]]:
        try:
            target = route_target(uri)
        except ResolutionError as error:
            return defer.fail(error)
        if target.is_ip:
            return defer.succeed(_hops(target, [target.host]))
        deferred: Deferred[list[str]] = deferToThreadPool(
            self.reactor, self.reactor.getThreadPool(), self._lookup, target.host
        )
        return deferred.addCallback(lambda addresses: _hops(target, addresses))

    def _lookup(self, host: str) -> list[str]:
        try:
            infos = self._getaddrinfo(host, None, 0, socket.SOCK_DGRAM)
        except OSError as error:
            raise ResolutionError(f"cannot resolve {host}: {error}") from error
        addresses = [str(info[4][0]).partition("%")[0] for info in infos]
        if not addresses:
            raise ResolutionError(f"{host} has no address")
        return addresses


@implementer(IRouteResolver)
class StaticResolver:
    """Host names resolved from a fixed table (``{"proxy.example.test": ["127.0.0.1"]}``); IP
    literals resolve to themselves and unknown names fail."""

    def __init__(self, hosts: Mapping[str, Sequence[str]] | None = None) -> None:
        self.hosts = {name.lower(): list(addresses) for name, addresses in (hosts or {}).items()}

    def resolve(self, uri: BaseSIPURI) -> Deferred[list[Hop]]:
        try:
            target = route_target(uri)
            if target.is_ip:
                return defer.succeed(_hops(target, [target.host]))
            addresses = self.hosts.get(target.host.lower())
            if not addresses:
                raise ResolutionError(f"{target.host} is not in the static host table")
        except ResolutionError as error:
            return defer.fail(error)
        return defer.succeed(_hops(target, addresses))
