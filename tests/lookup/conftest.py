"""Fixtures for the lookup tests: a hub on a fake reactor and a resolver answering from tables."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dns.exception
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset
import pytest
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from sipsimple.lookup import DNSLookup, NameserverCache
from sipsimple.threading.green import GreenHub

LOCAL = "192.0.2.53"  # the configured nameserver of every test


class FakeReactor(Clock):
    """A Clock whose cross-thread calls run at once (the test thread is the reactor thread)."""

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)


class TableAnswer:
    """What dnspython's Answer offers the lookup: iteration over the rdata and ``rrset.ttl``."""

    def __init__(self, rrset: dns.rrset.RRset) -> None:
        self.rrset = rrset

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rrset)


Records = dict[tuple[str, str], list[str]]


def _normal(records: Records) -> Records:
    return {(name.lower().rstrip("."), rdtype): texts for (name, rdtype), texts in records.items()}


class TableResolver:
    """Answers queries from ``{(name, type): ["rdata text", ...]}`` tables, one per nameserver.

    ``records`` is the table of the configured nameserver (`LOCAL`); ``servers`` maps other
    nameserver addresses to their tables (a query naming servers uses the first one that has a
    table; naming only unknown servers is a timeout, as for a dead server). A missing name is
    NXDOMAIN, a known name without that type is NoAnswer. ``errors`` maps (name, type) to the
    exception the configured nameserver gives, ``server_errors`` maps a server address to the
    exception it gives for every query. Every record has ``ttl`` unless ``ttls`` says otherwise.
    """

    def __init__(
        self, records: Records, *, servers: dict[str, Records] | None = None, ttl: int = 300
    ) -> None:
        self.tables: dict[str, Records] = {LOCAL: _normal(records)}
        for address, table in (servers or {}).items():
            self.tables[address] = _normal(table)
        self.errors: dict[tuple[str, str], Exception] = {}
        self.server_errors: dict[str, Exception] = {}
        self.ttl = ttl
        self.ttls: dict[tuple[str, str], int] = {}
        #: (name, type) of every query, and (name, type, servers asked) for the NS-first tests
        self.queries: list[tuple[str, str]] = []
        self.asked: list[tuple[str, str, tuple[str, ...]]] = []
        self.nameservers = [LOCAL]

    @property
    def records(self) -> Records:
        return self.tables[LOCAL]

    def query(
        self,
        name: str,
        rdtype: str,
        timeout: float,
        lifetime: float,
        nameservers: Sequence[str] | None = None,
    ) -> Deferred[Any]:
        servers = tuple(nameservers) if nameservers else (LOCAL,)
        self.queries.append((name, rdtype))
        self.asked.append((name, rdtype, servers))
        key = (name.lower().rstrip("."), rdtype)
        server = next((address for address in servers if address in self.tables), None)
        if server is None:
            return defer.fail(dns.exception.Timeout())
        if server in self.server_errors:
            return defer.fail(self.server_errors[server])
        if server == LOCAL and key in self.errors:
            return defer.fail(self.errors[key])
        table = self.tables[server]
        if key not in table:
            if any(known == key[0] for known, _ in table):
                return defer.fail(dns.resolver.NoAnswer())
            return defer.fail(dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(name)]))
        rrset = dns.rrset.from_text_list(
            key[0] + ".", self.ttls.get(key, self.ttl), dns.rdataclass.IN, rdtype, table[key]
        )
        return defer.succeed(TableAnswer(rrset))

    def asked_of(self, *servers: str) -> list[tuple[str, str]]:
        """The (name, type) of the queries sent to exactly ``servers``."""
        return [(name, rdtype) for name, rdtype, used in self.asked if used == servers]


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def hub(reactor: FakeReactor) -> GreenHub:
    return GreenHub(reactor)


@pytest.fixture
def cache(reactor: FakeReactor) -> NameserverCache:
    """A nameserver cache on the fake reactor's clock."""
    return NameserverCache(reactor.seconds)


MakeLookup = Callable[..., tuple[DNSLookup, TableResolver]]


@pytest.fixture
def make_lookup(hub: GreenHub, cache: NameserverCache) -> Iterator[MakeLookup]:
    """``make_lookup(records, seed=1, authoritative_first=False, servers=None)`` -> (lookup, resolver).

    NS-first is off unless asked for, so that the tests of the RFC 3263 rules see only their queries.
    """

    def make(
        records: Records,
        seed: int = 1,
        *,
        authoritative_first: bool = False,
        servers: dict[str, Records] | None = None,
        ttl: int = 300,
    ) -> tuple[DNSLookup, TableResolver]:
        resolver = TableResolver(records, servers=servers, ttl=ttl)
        lookup = DNSLookup(
            resolver,
            hub=hub,
            rng=random.Random(seed),
            authoritative_first=authoritative_first,
            nameserver_cache=cache,
        )
        return lookup, resolver

    yield make
