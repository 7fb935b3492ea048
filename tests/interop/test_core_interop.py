"""The request primitives (Registration, Message, Publication) against Kamailio, baresip and a
second sipsimple process.

The Engine runs in the test process on a fresh reactor that the test turns (``Loop``); every wait is
for a network event and bounded. Short registrations (Kamailio's ``min_expires`` is lowered over
RPC) let a refresh happen within seconds. TLS verifies Kamailio's certificate against the test CA,
for the name the route gives (``proxy.example.test``, resolved through a static table).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sipsimple.core import (
    SIPURI,
    ContactHeader,
    Credentials,
    FromHeader,
    Message,
    Publication,
    Registration,
    RouteHeader,
    ToHeader,
)
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import StaticResolver
from tests.support.notifications import sent_requests
from tests.support.reactor import Loop, fresh_reactor
from tests.support.wait import wait_for_notification

from .peers.certs import TestCA
from .peers.kamailio import Kamailio

pytestmark = pytest.mark.interop

REPOSITORY = Path(__file__).resolve().parents[2]
WAIT = 10.0  # seconds: the most a registration or a message through Kamailio may take here
TLS_NAME = "proxy.example.test"
ALICE = FromHeader(SIPURI("example.test", user="alice"))
BOB = ToHeader(SIPURI("example.test", user="bob"))
PIDF = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n'
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:alice@example.test">'
    b'<tuple id="t1"><status><basic>open</basic></status></tuple></presence>'
)


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop, test_ca: TestCA) -> Iterator[SIPEngine]:
    """Our engine: UDP, TCP and TLS on 127.0.0.1, verifying servers against the test CA."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(
        ip_address="127.0.0.1",
        udp_port=0,
        tcp_port=0,
        tls_port=0,
        tls_verify_server=True,
        tls_ca_file=str(test_ca.ca_cert),
        tls_cert_file=str(test_ca.cert),
        tls_privkey_file=str(test_ca.key),
        trace_sip=True,
    )
    yield engine
    loop.wait(engine.stop(), timeout=5)


@pytest.fixture
def registrar(kamailio) -> Kamailio:
    server = kamailio(features=("auth", "presence", "tls"))
    server.rpc("cfg.set_now_int", "registrar", "min_expires", 1)
    return server


RESOLVER = StaticResolver({TLS_NAME: ["127.0.0.1"], "wrong.example.test": ["127.0.0.1"]})


def route(server: Kamailio, transport: str, host: str = TLS_NAME) -> RouteHeader:
    if transport == "tls":
        return RouteHeader(SIPURI(host, port=server.tls_port, parameters={"transport": "tls"}))
    return RouteHeader(SIPURI(server.host, port=server.sip_port, parameters={"transport": transport}))


def contact(engine: SIPEngine, user: str, transport: str) -> ContactHeader:
    port = engine.local_address(transport).port
    return ContactHeader(SIPURI("127.0.0.1", user=user, port=port, parameters={"transport": transport}))


@pytest.mark.parametrize("transport", ["udp", "tcp", "tls"])
def test_registration_with_digest_auth_refreshes_and_unregisters(
    loop, engine, registrar, recorder, transport
):
    registration = Registration(
        ALICE, Credentials("alice", "secret-alice"), duration=4, engine=engine, resolver=RESOLVER
    )
    ours = contact(engine, "alice", transport)
    registration.register(ours, route(registrar, transport))

    first = wait_for_notification(
        loop, recorder, "SIPRegistrationDidSucceed", "SIPRegistrationDidFail", timeout=WAIT
    )
    assert first.name == "SIPRegistrationDidSucceed", f"{first.data.code} {first.data.reason}"
    assert 1 <= first.data.expires <= 4 and first.data.contact_header.uri == ours.uri
    assert any(c.uri == ours.uri for c in first.data.contact_header_list)
    [binding] = registrar.location()["alice"]
    assert binding.contact.startswith(f"sip:alice@127.0.0.1:{ours.uri.port}")

    refreshed = wait_for_notification(
        loop, recorder, "SIPRegistrationDidSucceed", "SIPRegistrationDidFail", count=2, timeout=WAIT
    )
    assert refreshed.name == "SIPRegistrationDidSucceed", f"{refreshed.data.code} {refreshed.data.reason}"
    assert registration.is_registered

    registration.end()
    ended = wait_for_notification(
        loop, recorder, "SIPRegistrationDidEnd", "SIPRegistrationDidNotEnd", timeout=WAIT
    )
    assert ended.name == "SIPRegistrationDidEnd" and ended.data.expired is False
    assert "alice" not in registrar.location()

    registers = sent_requests(recorder, "REGISTER")
    call_ids = {next(line for line in r.split(b"\r\n") if line.startswith(b"Call-ID:")) for r in registers}
    assert len(call_ids) == 1  # one Call-ID for the registration, refreshes and the unregistration
    assert b"expires=0" in registers[-1]


def test_a_wrong_password_fails_with_401_and_no_retry_storm(loop, engine, registrar, recorder):
    registration = Registration(ALICE, Credentials("alice", "not-her-password"), engine=engine)
    registration.register(contact(engine, "alice", "udp"), route(registrar, "udp"))
    failed = wait_for_notification(
        loop, recorder, "SIPRegistrationDidFail", "SIPRegistrationDidSucceed", timeout=WAIT
    )
    assert failed.name == "SIPRegistrationDidFail" and failed.data.code in (401, 403)
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:  # a retry storm would show within this second
        loop.turn()
    assert len(sent_requests(recorder, "REGISTER")) == 2
    assert "alice" not in registrar.location() and not registration.is_registered


def test_tls_refuses_a_certificate_that_does_not_match_the_route_name(loop, engine, registrar, recorder):
    registration = Registration(ALICE, Credentials("alice", "secret-alice"), engine=engine, resolver=RESOLVER)
    registration.register(contact(engine, "alice", "tls"), route(registrar, "tls", host="wrong.example.test"))
    failed = wait_for_notification(
        loop, recorder, "SIPRegistrationDidFail", "SIPRegistrationDidSucceed", timeout=WAIT
    )
    assert failed.name == "SIPRegistrationDidFail" and failed.data.code == 503
    assert "wrong.example.test" in failed.data.reason
    assert "alice" not in registrar.location()


def test_a_message_through_kamailio_reaches_baresip(loop, engine, registrar, recorder, baresip):
    bob = baresip(account="bob", registrar=registrar)
    message = Message(
        ALICE,
        BOB,
        route(registrar, "udp"),
        "text/plain",
        "hello baresip from sipsimple",
        Credentials("alice", "secret-alice"),
        engine=engine,
    )
    message.send(timeout=WAIT)
    done = wait_for_notification(loop, recorder, "SIPMessageDidSucceed", "SIPMessageDidFail", timeout=WAIT)
    assert done.name == "SIPMessageDidSucceed", f"{done.data.code} {done.data.reason}"
    received = bob.wait_for_message("hello baresip from sipsimple")
    assert "alice@example.test" in received.sender and received.content_type.startswith("text/plain")


BOB_PROCESS = r"""
import sys
from twisted.internet import reactor
from sipsimple.core import SIPURI, ContactHeader, Credentials, FromHeader, Registration, RouteHeader
from sipsimple.core.engine import SIPEngine
from sipsimple.notification import NotificationCenter

kamailio_port = int(sys.argv[1])
engine = SIPEngine(reactor=reactor)


class Printer:
    def handle_notification(self, notification):
        data = notification.data
        if notification.name == "SIPRegistrationDidSucceed":
            print("REGISTERED", flush=True)
        elif notification.name == "SIPRegistrationDidFail":
            print("FAILED", data.code, data.reason, flush=True)
        elif notification.name == "SIPEngineGotMessage":
            print("MESSAGE", data.body.decode(), flush=True)


def start():
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    registration = Registration(
        FromHeader(SIPURI("example.test", user="bob")), Credentials("bob", "secret-bob"), engine=engine
    )
    contact = ContactHeader(SIPURI("127.0.0.1", user="bob", port=engine.local_udp_port))
    registration.register(contact, RouteHeader(SIPURI("127.0.0.1", port=kamailio_port)))
    engine.registration = registration


NotificationCenter().add_observer(Printer())
reactor.callWhenRunning(start)
reactor.callLater(60, reactor.stop)  # never outlives a stuck test
reactor.run(installSignalHandlers=False)
"""


class LineReader:
    """Lines of a child process's stdout, read with a bounded wait."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self.process = process
        self.selector = selectors.DefaultSelector()
        self.selector.register(process.stdout, selectors.EVENT_READ)
        self.lines: list[str] = []

    def wait_for(self, prefix: str, loop: Loop, timeout: float = WAIT) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                if line.startswith(prefix):
                    return line
            if self.selector.select(timeout=0.01):
                line = self.process.stdout.readline()  # type: ignore[union-attr]
                if not line:
                    raise AssertionError(f"the bob process exited; it printed {self.lines}")
                self.lines.append(line.rstrip("\n"))
            loop.turn(1)
        raise AssertionError(f"no line starting with {prefix!r} within {timeout} s; got {self.lines}")


def test_a_message_through_kamailio_reaches_a_sipsimple_engine_in_another_process(
    loop, engine, registrar, recorder
):
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY)}
    process = subprocess.Popen(
        [sys.executable, "-c", BOB_PROCESS, str(registrar.sip_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=REPOSITORY,
        env=environment,
    )
    try:
        reader = LineReader(process)
        assert reader.wait_for("REGISTERED", loop) == "REGISTERED", reader.lines
        message = Message(
            ALICE, BOB, route(registrar, "tcp"), "text/plain", "hello bob process",
            Credentials("alice", "secret-alice"), engine=engine,
        )  # fmt: skip
        message.send(timeout=WAIT)
        done = wait_for_notification(
            loop, recorder, "SIPMessageDidSucceed", "SIPMessageDidFail", timeout=WAIT
        )
        assert done.name == "SIPMessageDidSucceed", f"{done.data.code} {done.data.reason}"
        assert reader.wait_for("MESSAGE", loop) == "MESSAGE hello bob process"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        if process.stdout is not None:
            process.stdout.close()


def presentity_rows(server: Kamailio, loop: Loop, ready, timeout: float = 3.0) -> list:
    """Alice's presentity rows once ``ready(rows)`` holds (Kamailio writes its database after it
    has answered, so a query right after the answer may still see the old state)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = server.query("SELECT etag, body FROM presentity WHERE username = 'alice'")
        if ready(rows) or time.monotonic() > deadline:
            return rows
        loop.turn(5)


def test_a_pidf_publication_is_accepted_refreshed_and_removed(loop, engine, registrar, recorder):
    publication = Publication(
        ALICE,
        "presence",
        "application/pidf+xml",
        Credentials("alice", "secret-alice"),
        duration=4,
        engine=engine,
    )
    publication.publish(PIDF, route(registrar, "udp"))
    first = wait_for_notification(
        loop, recorder, "SIPPublicationDidSucceed", "SIPPublicationDidFail", timeout=WAIT
    )
    assert first.name == "SIPPublicationDidSucceed", f"{first.data.code} {first.data.reason}"
    assert first.data.code == 200 and 1 <= first.data.expires <= 4
    etag = publication.etag
    assert etag
    rows = presentity_rows(registrar, loop, lambda rows: rows)
    assert [row[0] for row in rows] == [etag] and b"<basic>open</basic>" in bytes(rows[0][1])

    refreshed = wait_for_notification(
        loop, recorder, "SIPPublicationDidSucceed", "SIPPublicationDidFail", count=2, timeout=WAIT
    )
    assert refreshed.name == "SIPPublicationDidSucceed", f"{refreshed.data.code} {refreshed.data.reason}"
    refresh = sent_requests(recorder, "PUBLISH")[-1]
    assert f"SIP-If-Match: {etag}".encode() in refresh and refresh.endswith(b"\r\n\r\n")  # no body

    publication.end()
    ended = wait_for_notification(
        loop, recorder, "SIPPublicationDidEnd", "SIPPublicationDidNotEnd", timeout=WAIT
    )
    assert ended.name == "SIPPublicationDidEnd" and ended.data.expired is False
    assert presentity_rows(registrar, loop, lambda rows: not rows) == []
