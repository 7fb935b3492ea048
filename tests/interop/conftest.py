"""Fixtures of the interop suite: real peers (Kamailio, SIPp, baresip, dnsmasq, coturn) on loopback.

Every test here is marked ``interop``; ``./run-tests`` runs them inside a private network namespace.
Each factory fixture starts peers on free ports and stops them when the test ends; a peer missing
from the machine skips the test, or fails it under ``CI=true``. When a test fails, the tail of each
peer's log is added to the report. See docs/interop.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .peers._process import stop_all
from .peers.baresip import Baresip
from .peers.certs import TestCA, make_test_ca
from .peers.coturn import Coturn
from .peers.dnsmasq import Dnsmasq
from .peers.kamailio import Kamailio
from .peers.sipp import Sipp
from .peers.stack import PeerStack

INTEROP_DIR = Path(__file__).resolve().parent
_STACK_KEY = pytest.StashKey[PeerStack]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/interop is an interop test, even if its module forgot the mark."""
    for item in items:
        if INTEROP_DIR in Path(str(item.path)).parents and item.get_closest_marker("interop") is None:
            item.add_marker(pytest.mark.interop)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    """On failure, append the log tail of every peer the test started."""
    report = yield
    stack = item.stash.get(_STACK_KEY, None)
    if report.failed and stack is not None:
        for peer in stack.peers:
            report.sections.append((f"log of {peer!r}", peer.log_tail()))
    return report


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_all()  # belt and braces: fixtures already stopped their peers


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """A throw-away CA and a server certificate for example.test/127.0.0.1, generated per session."""
    return make_test_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def peer_stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA
) -> Iterator[PeerStack]:
    """The peers of one test; all of them are stopped when it ends (a peer that crashed fails it)."""
    stack = PeerStack(tmp_path_factory, test_ca)
    request.node.stash[_STACK_KEY] = stack
    try:
        yield stack
    finally:
        problems = stack.close()
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def kamailio(peer_stack: PeerStack) -> Callable[..., Kamailio]:
    """``kamailio(features=("auth", "presence", "msrp", "tls"), ipv6=False)`` -> a started Kamailio.

    Attributes: ``sip_port`` (UDP+TCP), ``tls_port``, ``xcap_port``, ``msrp_port``, ``users``
    (alice/bob/carol -> User with ``password``), ``proxy_uri``, ``xcap_root``; methods ``location()``,
    ``rpc()``, ``query()`` (sqlite), ``options_ping()``, ``stop()``, ``start()``, ``restart()``.
    """
    return peer_stack.kamailio


@pytest.fixture
def sipp(peer_stack: PeerStack) -> Sipp:
    """``sipp(scenario, target, service=, auth=, transport="u1", calls=1, timeout=15)`` -> SippResult;
    ``sipp.spawn(...)`` runs in the background (``.wait()`` -> SippResult)."""
    return peer_stack.sipp()


@pytest.fixture
def baresip(peer_stack: PeerStack) -> Callable[..., Baresip]:
    """``baresip(account="bob", registrar=kamailio_instance)`` -> a started, registered baresip."""
    return peer_stack.baresip


@pytest.fixture
def dnsmasq(peer_stack: PeerStack) -> Callable[..., Dnsmasq]:
    """``dnsmasq(records=None, ttl=0)`` -> dnsmasq on 127.0.0.1:``.port`` (default: example_zone())."""
    return peer_stack.dnsmasq


@pytest.fixture
def coturn(peer_stack: PeerStack, tmp_path_factory: pytest.TempPathFactory) -> Callable[[], Coturn]:
    """``coturn()`` -> a started STUN server (RFC 5780) on 127.0.0.1 and 127.0.0.2: ``.primary``,
    ``.other``, ``.port``, ``.alt_port``; stopped with the test's other peers."""

    def start() -> Coturn:
        instance = Coturn(tmp_path_factory.mktemp("coturn"))
        peer_stack.peers.append(instance)  # type: ignore[arg-type]  # stopped and logged like the others
        return instance.start()

    return start
