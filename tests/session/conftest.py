"""Two SIPEngines on a fresh reactor, an account on each (a stand-in with the Account face the
Session uses), and a SessionManager on the callee's engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.session import SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from sipsimple.streams.rtp import AudioStream
from tests.streams.fake import FakeStream
from tests.streams.test_audio_stream import Side, both_sides
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
    return _manager(bob_engine, bob, registry)


def _manager(
    engine: SIPEngine, account: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    manager = SessionManagerBase(engine=engine, account_manager=Accounts(account), registry=registry)
    manager.start()
    return manager


# -- real audio (AudioStream on both sides) -----------------------------------------------------


@pytest.fixture
def audio_manager(
    bob_engine: SIPEngine, bob: StandInAccount, memory_configuration: Any
) -> SessionManagerBase:
    """bob's SessionManager taking AudioStream offers (the configuration its codecs come from)."""
    registry = MediaStreamRegistryBase()
    registry.add(AudioStream)
    return _manager(bob_engine, bob, registry)


@pytest.fixture
def sides(alice_engine: SIPEngine, bob_engine: SIPEngine, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    """The audio endpoints of alice (caller tone) and bob (callee tone), closed afterwards."""
    with both_sides(alice_engine, bob_engine, tmp_path) as made:
        yield made


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
    return _manager(carol_engine, carol, registry)


@pytest.fixture
def alice_manager(
    alice_engine: SIPEngine, alice: StandInAccount, registry: MediaStreamRegistryBase
) -> SessionManagerBase:
    """A manager on alice's engine, so that the sessions a transfer makes there are listed."""
    return _manager(alice_engine, alice, registry)
