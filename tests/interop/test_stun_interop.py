"""Our STUN code against coturn on 127.0.0.1/127.0.0.2 (RFC 5780 enabled): the codec reads what
coturn writes and coturn accepts what we write, a Binding request maps to the local socket, the NAT
behaviour discovery reports no NAT ("Open Internet") on loopback, and SIPApplication sets
``local_nat_type`` from an account's STUN server."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sipsimple.account import AccountManagerBase
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationManager
from sipsimple.core.engine import SIPEngine
from sipsimple.core.nat.behaviour import Filtering, Mapping
from sipsimple.core.nat.runner import detect_nat_behaviour, stun_binding
from sipsimple.core.nat.stun import (
    Attribute,
    Change,
    Message,
    MessageClass,
    TransportAddress,
    is_stun,
    parse,
    verify_fingerprint,
)
from sipsimple.core.nat.transaction import RetransmissionTimers
from sipsimple.notification import NotificationCenter
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor
from tests.support.wait import wait_for

from .peers.coturn import Coturn
from .peers.dnsmasq import A, Dnsmasq, Srv

pytestmark = pytest.mark.interop

FAST = RetransmissionTimers(rto=0.2, rc=3, rm=3)  # an unanswered test gives up after 1.4 s


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        loop = Loop(reactor)
        yield loop
        loop.turn()  # a stopped UDP port closes its socket on the next reactor turn


def exchange(
    request: bytes, to: tuple[str, int], timeout: float = 2.0
) -> tuple[bytes, tuple[str, int], tuple[str, int]]:
    """Send ``request`` from a fresh socket on 127.0.0.1; (response, its source, our address)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(timeout)
        sock.sendto(request, to)
        data, source = sock.recvfrom(4096)
        return data, source, sock.getsockname()


def test_coturns_binding_response_parses_and_maps_our_socket(coturn: Callable[[], Coturn]):
    server = coturn()
    request = Message().add(Attribute.SOFTWARE, "sipsimple interop")
    data, source, ours = exchange(request.encode(fingerprint=True), server.primary)
    assert is_stun(data) and source == server.primary
    response = parse(data)
    assert response.message_class is MessageClass.SUCCESS
    assert response.transaction_id == request.transaction_id
    assert response.get(Attribute.XOR_MAPPED_ADDRESS) == ours
    assert response.get(Attribute.OTHER_ADDRESS) == server.other
    assert response.get(Attribute.RESPONSE_ORIGIN) == server.primary
    assert response.get(Attribute.MAPPED_ADDRESS) == ours  # the RFC 3489 attribute as well
    assert Attribute.FINGERPRINT in response and verify_fingerprint(data)  # asked for by ours
    assert bytes(parse(data)) == data  # what coturn wrote, we write back byte for byte


@pytest.mark.parametrize(
    ("change", "answers_from"),
    [(Change.IP | Change.PORT, "other"), (Change.PORT, "port"), (Change.IP, "ip")],
)
def test_coturn_honours_our_change_request(coturn: Callable[[], Coturn], change, answers_from):
    server = coturn()
    expected = {
        "other": server.other,
        "port": (server.primary[0], server.alt_port),
        "ip": (server.other[0], server.port),
    }[answers_from]
    request = Message().add(Attribute.CHANGE_REQUEST, change)
    data, source, ours = exchange(bytes(request), server.primary)
    response = parse(data)
    assert source == expected and response.get(Attribute.RESPONSE_ORIGIN) == expected
    assert response.get(Attribute.XOR_MAPPED_ADDRESS) == ours


def test_an_unknown_comprehension_required_attribute_gets_a_420_that_we_can_read(
    coturn: Callable[[], Coturn],
):
    server = coturn()
    request = Message().add(0x7FF1, b"what?")
    data, _, _ = exchange(bytes(request), server.primary)
    response = parse(data)
    assert response.message_class is MessageClass.ERROR
    assert response.get(Attribute.ERROR_CODE).code == 420
    assert 0x7FF1 in response.get(Attribute.UNKNOWN_ATTRIBUTES)


def test_a_binding_request_through_the_runner_maps_to_the_local_port(
    coturn: Callable[[], Coturn], loop: Loop
):
    server = coturn()
    result = loop.wait(stun_binding(server.primary, reactor=loop.reactor, timers=FAST), timeout=10)
    assert result.local_address.host == "127.0.0.1"
    assert result.mapped_address == result.local_address
    assert result.response.get(Attribute.OTHER_ADDRESS) == server.other


def test_nat_behaviour_discovery_on_loopback_reports_no_nat_and_open_internet(
    coturn: Callable[[], Coturn], loop: Loop
):
    server = coturn()
    behaviour = loop.wait(detect_nat_behaviour(server.primary, reactor=loop.reactor, timers=FAST), timeout=20)
    assert behaviour.nat_type == "Open Internet" and behaviour.behind_nat is False
    assert behaviour.mapping is Mapping.ENDPOINT_INDEPENDENT
    assert behaviour.filtering is Filtering.ENDPOINT_INDEPENDENT
    assert behaviour.other_address == TransportAddress(*server.other)


def run_application(
    account: dict[str, Any], **options: Any
) -> tuple[SIPApplicationBase, NotificationRecorder]:
    """Start an application with alice@example.test as its default account, wait for the NAT type,
    stop it (bounded); returns the stopped application and what it posted."""
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder, name="SIPApplicationDidDetectNATType")
    NotificationCenter().add_observer(recorder, name="SIPApplicationDidEnd")
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        twisted_thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, unregister_timeout=1.0)
        app = SIPApplicationBase(
            twisted_thread=twisted_thread,
            engine=engine,
            account_manager=manager,
            engine_options={"ip_address": "127.0.0.1"},
            stop_timeout=3.0,
            dns_nameservers=["127.0.0.1"],  # nothing here may query beyond loopback
            **options,
        )
        storage = MemoryStorage()
        storage.configuration_backend.save(
            {
                "Accounts": {
                    "alice@example.test": {"enabled": "true", "sip": {"register": "false"}, **account}
                },
                "SIPSimpleSettings": {
                    "default_account": "alice@example.test",
                    "sip": {"transport_list": ["udp"]},
                },
            }
        )
        try:
            app.start(storage)
            wait_for(lambda: recorder.named("SIPApplicationDidDetectNATType"), "the NAT type", 30)
        finally:
            app.stop()
            wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the application to end", 10)
            if twisted_thread.thread is not None:
                twisted_thread.thread.join(5)
            ConfigurationManager().stop()
    return app, recorder


def test_the_application_sets_local_nat_type_from_the_default_accounts_stun_server(
    coturn: Callable[[], Coturn],
):
    server = coturn()
    stun_server_list = [f"{server.primary[0]}:{server.primary[1]}"]
    app, recorder = run_application({"nat_traversal": {"stun_server_list": stun_server_list}})
    assert app.local_nat_type == "Open Internet"
    data = recorder.named("SIPApplicationDidDetectNATType")[0].data
    assert data.nat_type == "Open Internet" and data.behaviour.server == server.primary


def test_without_a_configured_server_the_application_finds_one_through_dns_srv(
    coturn: Callable[[], Coturn], dnsmasq: Callable[..., Dnsmasq]
):
    server = coturn()
    zone = dnsmasq(
        records=[
            Srv("_stun._udp.example.test", "stun.example.test", server.port),
            A("stun.example.test", "127.0.0.1"),
        ]
    )
    app, recorder = run_application({}, dns_port=zone.port)
    assert app.local_nat_type == "Open Internet"
    assert recorder.named("SIPApplicationDidDetectNATType")[0].data.behaviour.server == server.primary
