"""Fixtures for the lookup tests: a hub on a fake reactor and a resolver answering from a table."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import pytest
from twisted.internet import defer
from twisted.internet.defer import Deferred
from twisted.internet.task import Clock

from sipsimple.lookup import DNSLookup
from sipsimple.threading.green import GreenHub


class FakeReactor(Clock):
    """A Clock whose cross-thread calls run at once (the test thread is the reactor thread)."""

    def callFromThread(self, f: Any, *args: Any, **kwargs: Any) -> None:
        f(*args, **kwargs)


class TableResolver:
    """Answers queries from ``{(name, type): ["rdata text", ...]}``; a missing name is NXDOMAIN,
    a known name without that type is NoAnswer; ``errors`` maps (name, type) to an exception."""

    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = {
            (name.lower().rstrip("."), rdtype): texts for (name, rdtype), texts in records.items()
        }
        self.errors: dict[tuple[str, str], Exception] = {}
        self.queries: list[tuple[str, str]] = []
        self.nameservers = ["192.0.2.53"]

    def query(self, name: str, rdtype: str, timeout: float, lifetime: float) -> Deferred[Any]:
        self.queries.append((name, rdtype))
        key = (name.lower().rstrip("."), rdtype)
        if key in self.errors:
            return defer.fail(self.errors[key])
        if key not in self.records:
            if any(known == key[0] for known, _ in self.records):
                return defer.fail(dns.resolver.NoAnswer())
            return defer.fail(dns.resolver.NXDOMAIN(qnames=[dns.name.from_text(name)]))
        rdtype_value = dns.rdatatype.from_text(rdtype)
        return defer.succeed(
            [dns.rdata.from_text(dns.rdataclass.IN, rdtype_value, text) for text in self.records[key]]
        )


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def hub(reactor: FakeReactor) -> GreenHub:
    return GreenHub(reactor)


@pytest.fixture
def make_lookup(hub: GreenHub) -> Iterator[Any]:
    def make(records: dict[tuple[str, str], list[str]], seed: int = 1) -> tuple[DNSLookup, TableResolver]:
        resolver = TableResolver(records)
        return DNSLookup(resolver, hub=hub, rng=random.Random(seed)), resolver

    yield make
