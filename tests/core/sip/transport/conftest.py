"""Fixtures for the transport tests: a fresh real reactor driven from the test thread, a recorder of
everything a manager reports, managers that are stopped after the test, and throwaway certificates.

The reactor is never ``run()``: `Loop.run_until` turns it with ``iterate()`` until a condition holds,
for at most a couple of seconds, so every wait on real loopback I/O is bounded. Connection timers
(idle, keep-alive, pong) run on a `twisted.internet.task.Clock` where a test needs them.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.selectreactor import SelectReactor

from sipsimple.core.sip._scanner import ScannedMessage
from sipsimple.core.sip.transport import TransportAddress, TransportManager
from tests.support.reactor import Loop, fresh_reactor

from .certs import PKI, make_pki


def _ipv6_loopback_available() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = _ipv6_loopback_available()
LOOPBACKS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param("::1", id="ipv6", marks=pytest.mark.skipif(not IPV6, reason="no IPv6 loopback")),
]


@dataclass
class Recorder:
    """Every callback a manager made, in order (the manager reports through callbacks, not
    notifications, so tests.support.notifications does not apply)."""

    messages: list[tuple[ScannedMessage, TransportAddress, TransportAddress]] = field(default_factory=list)
    bad: list[tuple[bytes, TransportAddress, TransportAddress, Exception]] = field(default_factory=list)
    traces: list[tuple[str, TransportAddress, TransportAddress, bytes]] = field(default_factory=list)
    events: list[tuple[str, TransportAddress, TransportAddress, str | None]] = field(default_factory=list)

    def on_message(self, message: ScannedMessage, source: TransportAddress, local: TransportAddress) -> None:
        self.messages.append((message, source, local))

    def on_bad_message(
        self, data: bytes, source: TransportAddress, local: TransportAddress, error: Exception
    ) -> None:
        self.bad.append((data, source, local, error))

    def on_trace(
        self, direction: str, local: TransportAddress, remote: TransportAddress, data: bytes
    ) -> None:
        self.traces.append((direction, local, remote, data))

    def on_connection_event(
        self, kind: str, local: TransportAddress, remote: TransportAddress, reason: str | None
    ) -> None:
        self.events.append((kind, local, remote, reason))

    def kinds(self) -> list[str]:
        return [event[0] for event in self.events]

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_message": self.on_message,
            "on_bad_message": self.on_bad_message,
            "on_trace": self.on_trace,
            "on_connection_event": self.on_connection_event,
        }


@pytest.fixture
def reactor() -> Iterator[SelectReactor]:
    with fresh_reactor() as fresh:
        yield fresh


@pytest.fixture
def loop(reactor: SelectReactor) -> Loop:
    return Loop(reactor)


ManagerFactory = Callable[..., tuple[TransportManager, Recorder]]


@pytest.fixture
def make_manager(reactor: SelectReactor, loop: Loop) -> Iterator[ManagerFactory]:
    """``make_manager(**options)`` -> (manager, recorder); every manager is stopped after the test."""
    managers: list[TransportManager] = []

    def factory(**options: Any) -> tuple[TransportManager, Recorder]:
        recorder = Recorder()
        callbacks = recorder.callbacks()
        callbacks.update({k: v for k, v in options.items() if k in callbacks})
        rest = {k: v for k, v in options.items() if k not in callbacks}
        manager = TransportManager(reactor, **callbacks, **rest)
        managers.append(manager)
        return manager, recorder

    yield factory
    for manager in managers:
        loop.wait(manager.stop())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


def sip_request(method: str = "OPTIONS", body: bytes = b"", *, call_id: str = "c1", cseq: int = 1) -> bytes:
    """A small, well-formed request with a correct Content-Length."""
    head = (
        f"{method} sip:bob@example.test SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{call_id}{cseq}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.test>;tag=1\r\n"
        "To: <sip:bob@example.test>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "\r\n"
    )
    return head.encode() + body


def sip_response(code: int = 200, *, call_id: str = "c1", cseq: int = 1) -> bytes:
    return (
        f"SIP/2.0 {code} OK\r\n"
        f"Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{call_id}{cseq}\r\n"
        "From: <sip:alice@example.test>;tag=1\r\n"
        "To: <sip:bob@example.test>;tag=2\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} OPTIONS\r\n"
        "Content-Length: 0\r\n"
        "\r\n"
    ).encode()
