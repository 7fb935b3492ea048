"""Fixtures of the account tests: a client engine and an in-process registrar on loopback, a
started configuration, and an AccountManager whose back-off runs on a Clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from twisted.internet.task import Clock

from sipsimple.account import AccountManagerBase, RegistrationBackoff
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.message import make_response
from tests.core.primitives.servers import TestServer
from tests.support.reactor import Loop, fresh_reactor


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def configuration() -> Iterator[ConfigurationManager]:
    manager = ConfigurationManager()
    manager.stop()
    manager.start(MemoryBackend())
    yield manager
    manager.stop()


def _engine(loop: Loop) -> SIPEngine:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    return engine


@pytest.fixture
def client(loop: Loop) -> Iterator[SIPEngine]:
    engine = _engine(loop)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def registrar(loop: Loop) -> Iterator[Registrar]:
    engine = _engine(loop)
    yield Registrar(engine)
    loop.wait(engine.stop())


class Registrar(TestServer):
    """The test registrar (digest auth, realm example.test, alice/secret-alice) with switches:
    ``refuse`` answers every REGISTER with that code, ``refuse_removal`` answers unregistrations
    with that code."""

    __test__ = False

    def __init__(self, engine: SIPEngine) -> None:
        super().__init__(engine)
        self.refuse: int | None = None
        self.refuse_removal: int | None = None
        engine.register_method_handler("REGISTER", self._handle)

    @property
    def port(self) -> int:
        return self.engine.local_address("udp").port  # type: ignore[attr-defined]

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.port};transport=udp"

    def contacts(self, aor: str = "sip:alice@example.test") -> list[str]:
        return sorted(self.bindings.get(aor, {}))

    def _handle(self, transaction: Any) -> None:
        request = transaction.request
        expires = request.get("Expires")
        removal = expires is not None and int(expires) == 0
        code = self.refuse_removal if removal else self.refuse
        if code is not None:
            self.received.append(request)
            transaction.send_response(make_response(request, code))
            return
        self._register(transaction)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def manager(
    configuration: ConfigurationManager, client: SIPEngine, registrar: Registrar, clock: Clock, loop: Loop
) -> Iterator[Any]:
    """A started AccountManager on the client engine; its back-off timers run on ``clock``, its
    jitter is fixed at 0.5 (the middle of the range). It stops before the registrar does."""
    manager = AccountManagerBase(
        engine=client,
        clock=clock,
        backoff=RegistrationBackoff(minimum=30, maximum=1800, jitter=0.2),
        random=lambda: 0.5,
        unregister_timeout=2.0,
    )
    manager.start()
    yield manager
    loop.wait(manager.stop(), timeout=5)
