"""DNSResolver: queries run in the reactor's thread pool, configured from the current configuration;
servers named by a query replace the configured ones but keep the configured port."""

from __future__ import annotations

from typing import Any

import pytest
from twisted.python.failure import Failure

from sipsimple.lookup import DNSResolver, ResolverConfiguration, _resolver
from tests.lookup.conftest import FakeReactor


class InlinePool:
    """A thread pool that runs the work at once, in the calling thread."""

    def callInThreadWithCallback(self, on_result: Any, f: Any, *args: Any, **kwargs: Any) -> None:
        try:
            result = f(*args, **kwargs)
        except Exception:
            on_result(False, Failure())
        else:
            on_result(True, result)


class PoolReactor(FakeReactor):
    def getThreadPool(self) -> InlinePool:
        return InlinePool()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []

    def blocking(
        configuration: ResolverConfiguration, name: str, rdtype: str, timeout: float, lifetime: float
    ):
        seen.append((configuration, name, rdtype, timeout, lifetime))
        return ["answer"]

    monkeypatch.setattr(_resolver, "_blocking_query", blocking)
    return seen


def test_a_query_uses_the_configuration_of_the_moment(calls: list[tuple[Any, ...]]) -> None:
    class Source:
        configuration = ResolverConfiguration(("192.0.2.53",), 10053)

    resolver = DNSResolver(Source(), PoolReactor())
    results: list[Any] = []
    resolver.query("example.test", "NAPTR", 1.0, 5.0).addCallback(results.append)
    Source.configuration = ResolverConfiguration(("192.0.2.54",), 10054)
    resolver.query("example.test", "SRV", 1.0, 5.0)
    assert results == [["answer"]]
    assert [(c[0].nameservers, c[0].port, c[1], c[2]) for c in calls] == [
        (("192.0.2.53",), 10053, "example.test", "NAPTR"),
        (("192.0.2.54",), 10054, "example.test", "SRV"),
    ]
    assert resolver.nameservers == ["192.0.2.54"]


def test_servers_named_by_the_query_are_asked_on_the_configured_port(calls: list[tuple[Any, ...]]) -> None:
    resolver = DNSResolver(ResolverConfiguration(("127.0.0.1",), 10053), PoolReactor())
    resolver.query("example.test", "NAPTR", 1.0, 5.0, nameservers=["127.0.0.2", "127.0.0.3"])
    resolver.query("example.test", "NAPTR", 1.0, 5.0, nameservers=[])  # empty: the configured ones
    assert [(c[0].nameservers, c[0].port) for c in calls] == [
        (("127.0.0.2", "127.0.0.3"), 10053),
        (("127.0.0.1",), 10053),
    ]


def test_a_configuration_needs_a_nameserver() -> None:
    with pytest.raises(ValueError, match="at least one nameserver"):
        ResolverConfiguration(())
