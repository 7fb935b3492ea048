"""Fixtures of the primitive tests: a fake engine on a Clock, and two real engines on loopback."""

from __future__ import annotations

import itertools

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.auth import DigestServer
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from tests.support.reactor import Loop, fresh_reactor

from .fakes import FakeEngine
from .servers import PASSWORDS, REALM, TestServer

ALICE = FromHeader(SIPURI("example.test", user="alice"), "Alice")
BOB = ToHeader(SIPURI("example.test", user="bob"))
CONTACT = ContactHeader(SIPURI("127.0.0.1", user="alice", port=5060))
ROUTE = RouteHeader(SIPURI("127.0.0.2", port=5060))


@pytest.fixture
def fake() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def digest(fake: FakeEngine) -> DigestServer:
    """A digest server on the fake engine's clock (challenges for the fake tests)."""
    counter = itertools.count()
    return DigestServer(
        REALM, PASSWORDS.get, lambda: f"n{next(counter)}", fake.clock.seconds, algorithms=("MD5",)
    )


@pytest.fixture
def loop():
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def client(loop):
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def server_engine(loop):
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def server(server_engine) -> TestServer:
    return TestServer(server_engine)
