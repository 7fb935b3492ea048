"""Two SIPEngines on a fresh reactor, an account on each (a stand-in with the Account face the
Session uses), and a SessionManager on the callee's engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.session import SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from tests.streams.fake import FakeStream
from tests.support.accounts import Accounts, StandInAccount
from tests.support.reactor import Loop, fresh_reactor


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


def _engine(loop: Loop) -> SIPEngine:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    return engine


@pytest.fixture
def alice_engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = _engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def bob_engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = _engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def registry() -> MediaStreamRegistryBase:
    registry = MediaStreamRegistryBase()
    registry.add(FakeStream)
    return registry


@pytest.fixture
def alice(alice_engine: SIPEngine) -> StandInAccount:
    return StandInAccount("alice", alice_engine)


@pytest.fixture
def bob(bob_engine: SIPEngine) -> StandInAccount:
    return StandInAccount("bob", bob_engine)


@pytest.fixture
def bob_manager(
    bob_engine: SIPEngine, bob: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    manager = SessionManagerBase(engine=bob_engine, account_manager=Accounts(bob), registry=registry)
    manager.start()
    return manager


# -- a third endpoint (the transfer tests) ------------------------------------------------------


@pytest.fixture
def carol_engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = _engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def carol(carol_engine: SIPEngine) -> StandInAccount:
    return StandInAccount("carol", carol_engine)


@pytest.fixture
def carol_manager(
    carol_engine: SIPEngine, carol: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    manager = SessionManagerBase(engine=carol_engine, account_manager=Accounts(carol), registry=registry)
    manager.start()
    return manager


@pytest.fixture
def alice_manager(
    alice_engine: SIPEngine, alice: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    """A manager on alice's engine, so that the sessions a transfer makes there are listed."""
    manager = SessionManagerBase(engine=alice_engine, account_manager=Accounts(alice), registry=registry)
    manager.start()
    return manager
