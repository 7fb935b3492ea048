"""DNS queries off the reactor thread: dnspython's blocking resolver in the reactor's thread pool.

Why a thread pool and not dnspython's sans-IO messages over Twisted UDP: the blocking resolver
already does everything a correct client needs (per-server timeouts, an overall lifetime, trying
each nameserver, retrying over TCP when an answer is truncated, NXDOMAIN/NoAnswer/CNAME handling),
and a lookup issues a handful of queries, so a pool thread per query costs nothing worth the
re-implementation. Each query gets its own ``dns.resolver.Resolver`` (they are not shared between
threads), configured from a `ResolverConfiguration` and never from the system on its own.

A query may name the servers to ask (the authoritative servers of a domain, for the NS-first
lookups); they are asked on the configured port, so that a test can run every server on one port of
different loopback addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import dns.resolver
from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool

__all__ = ["DNSResolver", "IQueryResolver", "ResolverConfiguration"]

GOOGLE_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


@dataclass(frozen=True, slots=True)
class ResolverConfiguration:
    """The nameservers to ask (IP addresses, in order) and the port they listen on."""

    nameservers: tuple[str, ...] = field(default=GOOGLE_NAMESERVERS)
    port: int = 53

    def __post_init__(self) -> None:
        object.__setattr__(self, "nameservers", tuple(self.nameservers))
        if not self.nameservers:
            raise ValueError("a resolver configuration needs at least one nameserver")


class ConfigurationSource(Protocol):
    """Anything with a current `ResolverConfiguration` (the `DNSManager`)."""

    @property
    def configuration(self) -> ResolverConfiguration: ...


class IQueryResolver(Protocol):
    """What `DNSLookup` needs: the nameservers in use and a query returning a Deferred answer.

    ``nameservers`` given to `query` replace the configured ones for that query (same port). The
    answer is iterable over dnspython rdata objects (a ``dns.resolver.Answer``, whose ``rrset.ttl``
    is used for caching NS answers when present); failures are ``dns.exception.DNSException``.
    """

    @property
    def nameservers(self) -> list[str]: ...

    def query(
        self,
        name: str,
        rdtype: str,
        timeout: float,
        lifetime: float,
        nameservers: Sequence[str] | None = None,
    ) -> Deferred[Any]: ...


class DNSResolver:
    """Runs queries with dnspython in ``reactor.getThreadPool()``.

    ``configuration`` is a `ResolverConfiguration`, or something with a ``configuration`` property
    (the `DNSManager`), read at every query so that nameserver changes apply to the next query.
    """

    def __init__(self, configuration: ResolverConfiguration | ConfigurationSource, reactor: Any) -> None:
        self._configuration = configuration
        self.reactor = reactor

    @property
    def configuration(self) -> ResolverConfiguration:
        if isinstance(self._configuration, ResolverConfiguration):
            return self._configuration
        return self._configuration.configuration

    @property
    def nameservers(self) -> list[str]:
        return list(self.configuration.nameservers)

    def query(
        self,
        name: str,
        rdtype: str,
        timeout: float,
        lifetime: float,
        nameservers: Sequence[str] | None = None,
    ) -> Deferred[dns.resolver.Answer]:
        configuration = self.configuration
        if nameservers:
            configuration = replace(configuration, nameservers=tuple(nameservers))
        return deferToThreadPool(
            self.reactor,
            self.reactor.getThreadPool(),
            _blocking_query,
            configuration,
            name,
            rdtype,
            timeout,
            lifetime,
        )


def _blocking_query(
    configuration: ResolverConfiguration, name: str, rdtype: str, timeout: float, lifetime: float
) -> dns.resolver.Answer:
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = list(configuration.nameservers)
    resolver.port = configuration.port
    resolver.timeout = timeout
    resolver.lifetime = lifetime
    return resolver.resolve(name, rdtype, search=False)


def system_nameservers() -> Sequence[str]:
    """The nameservers of the system configuration (/etc/resolv.conf); empty if there is none."""
    try:
        return [str(server) for server in dns.resolver.Resolver(configure=True).nameservers]
    except dns.resolver.NoResolverConfiguration:
        return []
