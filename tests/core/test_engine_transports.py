"""Run-time transport changes of the Engine over real loopback sockets: ``set_udp_port``,
``set_tcp_port``, ``set_tls_options`` and ``set_ip_address`` move listeners (new socket first), a
failed bind keeps the old one, connections a replaced TCP listener accepted keep working, and every
change is posted as ``SIPEngineTransportDidChange``."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sipsimple.core.engine import EngineError, SIPEngine
from sipsimple.core.sip.headers import CSeqHeader, FromHeader, ToHeader
from sipsimple.core.sip.message import SIPRequest
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from tests.core.sip.transport.certs import PKI, SERVER_NAME, make_pki
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor


class Answers:
    """A client transaction listener that keeps the final outcome (a code, 408 or 503)."""

    def __init__(self) -> None:
        self.codes: list[int] = []

    def response_received(self, transaction: Any, response: Any) -> None:
        if response.code >= 200:
            self.codes.append(response.code)

    def timed_out(self, transaction: Any) -> None:
        self.codes.append(408)

    def transport_failed(self, transaction: Any, error: Any) -> None:
        self.codes.append(503)

    def terminated(self, transaction: Any) -> None:
        pass


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def make_engine(loop: Loop) -> Iterator[Any]:
    """``make_engine(**start_options)`` -> a started engine on 127.0.0.1 (stopped afterwards)."""
    engines: list[SIPEngine] = []

    def make(**options: Any) -> SIPEngine:
        engine = SIPEngine(reactor=loop.reactor)
        engine.start(**{"ip_address": "127.0.0.1", "udp_port": 0, "tcp_port": 0, **options})
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        loop.wait(engine.stop())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(Path(tmp_path_factory.mktemp("pki")))


def options_to(
    loop: Loop, client: SIPEngine, address: TransportAddress, *, tls_name: str | None = None
) -> int:
    """Send an OPTIONS from ``client`` to ``address``; the final code (408/503 made up locally)."""
    request = SIPRequest("OPTIONS", SIPURI(address.host, port=address.port))
    request.add("From", FromHeader(SIPURI("example.test", user="bob"), parameters={"tag": "b1"}))
    request.add("To", ToHeader(SIPURI("example.test", user="alice")))
    request.add("Call-ID", f"{random.getrandbits(64):x}@test")
    request.add("CSeq", CSeqHeader(1, "OPTIONS"))
    answers = Answers()
    client.send_request(request, address, answers, tls_name=tls_name)
    loop.run_until(lambda: answers.codes, timeout=3, what="a final answer")
    return answers.codes[0]


def changes(recorder: NotificationRecorder, engine: SIPEngine) -> list[tuple[str, str | None, str | None]]:
    return [
        (n.data.transport, n.data.old_local_address, n.data.new_local_address)
        for n in recorder.named("SIPEngineTransportDidChange")
        if n.sender is engine
    ]


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_new_udp_port_replaces_the_listener_and_the_old_port_is_released(make_engine, loop, recorder):
    server, client = make_engine(), make_engine()
    old = server.local_address("udp")
    wanted = free_port()
    server.set_udp_port(wanted)
    new = server.local_address("udp")
    assert new == TransportAddress("udp", "127.0.0.1", wanted) and server.local_udp_port == wanted
    assert [a for a in server.transports.listeners if a.transport == "udp"] == [new]
    assert changes(recorder, server) == [("udp", f"127.0.0.1:{old.port}", f"127.0.0.1:{wanted}")]
    assert options_to(loop, client, new) == 200  # the new socket serves requests
    loop.turn(5)  # the old socket closes on the next reactor turns
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", old.port))  # would fail if the old socket were still open


def test_a_port_that_cannot_be_bound_raises_and_keeps_the_old_listener(make_engine, loop, recorder):
    server, client = make_engine(), make_engine()
    old = server.local_address("udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(EngineError, match="cannot listen for udp"):
            server.set_udp_port(taken.getsockname()[1])
    assert server.local_address("udp") == old
    assert changes(recorder, server) == []
    assert options_to(loop, client, old) == 200


def test_none_stops_a_transport_zero_brings_it_back_and_the_same_port_changes_nothing(make_engine, recorder):
    server = make_engine()
    tcp = server.local_address("tcp")
    server.set_tcp_port(tcp.port)  # already there: nothing happens
    assert server.local_address("tcp") == tcp and changes(recorder, server) == []
    server.set_udp_port(None)
    assert server.local_address("udp") is None and server.local_udp_port is None
    server.set_udp_port(None)  # off stays off without a notification
    server.set_udp_port(0)
    assert server.local_udp_port
    kinds = [(transport, old is None, new is None) for transport, old, new in changes(recorder, server)]
    assert kinds == [("udp", False, True), ("udp", True, False)]


def test_connections_the_old_tcp_listener_accepted_stay_open_after_it_is_replaced(make_engine, loop):
    server, client = make_engine(), make_engine()
    old = server.local_address("tcp")
    assert options_to(loop, client, old) == 200
    assert len(server.transports.connections) == 1
    server.set_tcp_port(0)
    assert server.local_address("tcp") != old
    assert options_to(loop, client, old) == 200  # the client reuses its open connection
    assert len(client.transports.connections) == 1
    client.transports.close_connections(old)
    loop.run_until(lambda: not client.transports.connections, what="the connection to close")
    assert options_to(loop, client, old) == 503  # nobody accepts new connections there any more
    assert options_to(loop, client, server.local_address("tcp")) == 200


def test_tls_options_add_a_listener_swap_its_certificate_in_place_and_refuse_a_bad_one(
    make_engine, loop, recorder, pki, tmp_path
):
    server = make_engine()
    client = make_engine(tls_ca_file=str(pki.ca_certificate), tls_verify_server=True)
    server.set_tls_options(
        port=0, cert_file=str(pki.self_signed_certificate), privkey_file=str(pki.self_signed_key)
    )
    tls = server.local_address("tls")
    assert tls is not None and changes(recorder, server) == [("tls", None, f"127.0.0.1:{tls.port}")]
    assert options_to(loop, client, tls, tls_name=SERVER_NAME) == 503  # not signed by the client's CA

    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(EngineError, match="TLS settings"):
        server.set_tls_options(port=tls.port, cert_file=str(bad))
    assert server.local_address("tls") == tls

    server.set_tls_options(
        port=tls.port, cert_file=str(pki.server_certificate), privkey_file=str(pki.server_key)
    )
    assert server.local_address("tls") == tls and len(changes(recorder, server)) == 1  # same socket
    assert options_to(loop, client, tls, tls_name=SERVER_NAME) == 200  # the next connection has the new one

    with pytest.raises(EngineError, match="certificate"):
        server.set_tls_options(port=free_port(socket.SOCK_STREAM))  # a TLS listener needs a certificate
    assert server.local_address("tls") == tls
    server.set_tls_options(port=None)
    assert server.local_address("tls") is None
    assert changes(recorder, server)[-1] == ("tls", f"127.0.0.1:{tls.port}", None)


def test_set_ip_address_moves_every_listener_or_none_of_them(make_engine, loop, recorder):
    server, client = make_engine(), make_engine()
    before = server.transports.listeners
    with pytest.raises(EngineError):
        server.set_ip_address("192.0.2.55")  # not an address of this host: nothing can bind
    assert server.transports.listeners == before and server.ip_address == "127.0.0.1"
    server.set_ip_address("127.0.0.2")
    assert server.ip_address == "127.0.0.2"
    assert {(a.transport, a.host) for a in server.transports.listeners} == {
        ("udp", "127.0.0.2"),
        ("tcp", "127.0.0.2"),
    }
    assert sorted(transport for transport, _, _ in changes(recorder, server)) == ["tcp", "udp"]
    assert options_to(loop, client, server.local_address("udp")) == 200
    server.set_ip_address("127.0.0.2")  # the same address: nothing to do
    assert len(changes(recorder, server)) == 2
