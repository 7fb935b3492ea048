"""The UDP keep-alive of a registered account, against the in-process registrar on loopback: an
OPTIONS every ``nat_traversal.keepalive_interval`` seconds (on a Clock), a new registration at once
when the registrar sees us from another public address or stops answering, nothing when the account
is not registered or not on UDP; TCP registrations rely on the transport's CRLF pings instead."""

from __future__ import annotations

from typing import Any

import pytest

from sipsimple.account import Account
from sipsimple.account._keepalive import RegistrationKeepAlive, public_address, verdict
from sipsimple.core.sip.headers import ViaHeader, mutable
from sipsimple.core.sip.message import make_response
from tests.support.notifications import NotificationRecorder

from .conftest import Registrar


class OptionsAnswerer:
    """Answers OPTIONS at the registrar like a registrar behind which we sit: 200, with the top Via's
    ``rport`` replaced by ``public_port`` when it is set (a NAT that mapped us to that port)."""

    def __init__(self, registrar: Registrar) -> None:
        self.requests: list[Any] = []
        self.public_port: int | None = None
        registrar.engine.register_method_handler("OPTIONS", self._answer)

    def _answer(self, transaction: Any) -> None:
        request = transaction.request
        self.requests.append(request)
        response = make_response(request, 200)
        if self.public_port is not None:
            vias = list(response.get_all("Via"))
            top = mutable(vias[0])
            top.rport = self.public_port
            response.set("Via", [top, *vias[1:]])
        transaction.send_response(response)


def make_alice(registrar: Registrar, proxy: str | None = None, keepalive: int | None = None) -> Any:
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = proxy or registrar.proxy
    account.sip.register_interval = 600
    if keepalive is not None:
        account.nat_traversal.keepalive_interval = keepalive
    account.enabled = True
    account.save()
    return account


def registered(loop: Any, recorder: NotificationRecorder, count: int = 1) -> None:
    loop.run_until(
        lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) >= count, what="a registration"
    )


def test_public_address_reads_received_and_rport_and_falls_back_to_the_sent_by():
    via = ViaHeader(
        "UDP", "10.0.0.2", 5062, {"branch": "z9hG4bKx", "rport": "40000", "received": "192.0.2.7"}
    )
    assert public_address(via) == ("192.0.2.7", 40000)
    assert public_address(ViaHeader("UDP", "10.0.0.2", 5062, {"rport": None})) == ("10.0.0.2", 5062)
    assert public_address(ViaHeader("UDP", "10.0.0.2")) == ("10.0.0.2", 5060)
    assert public_address(None) is None


def test_only_a_different_public_address_after_a_known_one_is_a_reason_to_register_again():
    assert verdict(None, ("192.0.2.7", 40000)) is None  # the first answer is the baseline
    assert verdict(("192.0.2.7", 40000), ("192.0.2.7", 40000)) is None
    assert verdict(("192.0.2.7", 40000), None) is None  # no Via: no information
    reason = verdict(("192.0.2.7", 40000), ("192.0.2.7", 40001))
    assert reason == "the public address changed from 192.0.2.7:40000 to 192.0.2.7:40001"


def test_a_udp_registration_sends_an_options_to_the_registrar_every_interval(
    manager, registrar, loop, recorder, clock
):
    answerer = OptionsAnswerer(registrar)
    account = make_alice(registrar)
    registered(loop, recorder)
    assert account.nat_traversal.keepalive_interval == 30  # the default
    clock.advance(29)
    loop.turn(10)
    assert answerer.requests == []
    clock.advance(1)
    loop.run_until(lambda: answerer.requests, what="the first keep-alive")
    options = answerer.requests[0]
    assert str(options.request_uri) == "sip:example.test"  # the registrar's domain, as REGISTER
    assert str(options.from_header.uri) == "sip:alice@example.test"
    assert "Authorization" not in options
    keepalive = account.registrar.watch.keepalive
    loop.run_until(lambda: keepalive.public_address is not None, what="the answer")
    assert keepalive.public_address == ("127.0.0.1", account.contact["udp"].port)
    clock.advance(30)
    loop.run_until(lambda: len(answerer.requests) == 2, what="the second keep-alive")
    loop.turn(10)
    assert len(recorder.named("SIPAccountWillRegister")) == 1  # answers that change nothing change nothing
    assert registrar.count("REGISTER") == 2


def test_a_new_public_address_in_the_answer_registers_again_at_once(
    manager, registrar, loop, recorder, clock
):
    answerer = OptionsAnswerer(registrar)
    account = make_alice(registrar)
    registered(loop, recorder)
    first = account.registrar.registration
    clock.advance(30)
    loop.run_until(lambda: account.registrar.watch.keepalive.public_address, what="the baseline answer")
    answerer.public_port = 40000  # the NAT mapped us to another port
    clock.advance(30)
    registered(loop, recorder, count=2)  # no clock advance: no back-off is waited for
    assert account.registrar.registration is not first
    assert "SIPAccountRegistrationDidEnd" in recorder.names()  # the old binding was removed first
    assert len(recorder.named("SIPAccountWillRegister")) == 2
    assert registrar.contacts() == [str(account.contact["udp"])]
    assert account.registrar.watch.keepalive is not None  # the new registration is kept alive too


def test_an_options_that_gets_no_answer_registers_again_at_once(
    manager, registrar, client, loop, recorder, clock, monkeypatch
):
    """The transaction layer's timeout is simulated: the OPTIONS listener hears ``timed_out``."""
    make_alice(registrar)
    registered(loop, recorder)
    send_request = client.send_request

    def lose_options(request: Any, destination: Any, listener: Any, **options: Any) -> Any:
        if request.method == "OPTIONS":
            loop.reactor.callLater(0, listener.timed_out, None)
            return None
        return send_request(request, destination, listener, **options)

    monkeypatch.setattr(client, "send_request", lose_options)
    clock.advance(30)
    registered(loop, recorder, count=2)
    assert len(recorder.named("SIPAccountWillRegister")) == 2
    assert recorder.named("SIPAccountRegistrationDidFail") == []


def test_no_options_are_sent_when_unregistered_or_switched_off(manager, registrar, loop, recorder, clock):
    answerer = OptionsAnswerer(registrar)
    account = make_alice(registrar, keepalive=0)
    registered(loop, recorder)
    clock.advance(300)
    loop.turn(10)
    assert answerer.requests == [] and account.registrar.watch.keepalive is None
    account.nat_traversal.keepalive_interval = 5  # switched on at run time
    account.save()
    clock.advance(5)
    loop.run_until(lambda: answerer.requests, what="a keep-alive with the new interval")
    account.enabled = False
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountDidDeactivate"), what="the deactivation")
    clock.advance(300)
    loop.turn(10)
    assert len(answerer.requests) == 1


def test_a_tcp_registration_sends_no_options_and_its_connection_is_pinged_by_the_transport(
    manager, registrar, client, loop, recorder, clock
):
    answerer = OptionsAnswerer(registrar)
    tcp_port = registrar.engine.local_address("tcp").port
    account = make_alice(registrar, proxy=f"127.0.0.1:{tcp_port};transport=tcp")
    registered(loop, recorder)
    clock.advance(300)
    loop.turn(10)
    assert answerer.requests == [] and account.registrar.watch.keepalive is None
    (connection,) = [c for c in client.transports.table if c.remote.port == tcp_port]
    assert connection.direction == "outgoing"  # the kind the transport pings (RFC 5626 §4.4.1)
    interval = client.transports.table.timeouts.keepalive_interval
    assert interval is not None
    assert client.transports.table.next_deadline() <= connection.last_io + interval


def test_the_keepalive_refuses_a_zero_interval_and_stops_cleanly_without_an_engine(clock):
    with pytest.raises(ValueError):
        RegistrationKeepAlive(
            engine=None,
            clock=clock,
            route=None,
            request_uri=None,
            from_header=None,
            interval=0,
            on_lost=print,
        )  # type: ignore[arg-type]
    keepalive = RegistrationKeepAlive(
        engine=None, clock=clock, route=None, request_uri=None, from_header=None, interval=5, on_lost=print
    )  # type: ignore[arg-type]
    keepalive.start()
    assert keepalive.running and clock.getDelayedCalls()
    keepalive.stop()
    assert not keepalive.running and not clock.getDelayedCalls() and keepalive.sent == 0


def test_the_options_go_to_the_server_the_registration_went_to_without_resolving_again(
    manager, registrar, loop, recorder, clock
):
    """After the registration the resolver points elsewhere (as DNS may after a failover); the
    keep-alives still reach the registrar that answered the REGISTER, and never ask the resolver."""
    from twisted.internet.defer import succeed

    from sipsimple.core.primitives.route import Hop
    from sipsimple.core.sip.transport import TransportAddress

    class ShiftingResolver:
        def __init__(self) -> None:
            self.calls = 0
            self.port = registrar.port

        def resolve(self, uri: Any) -> Any:
            self.calls += 1
            return succeed([Hop(TransportAddress("udp", "127.0.0.1", self.port))])

    resolver = manager._runtime.resolver = ShiftingResolver()
    answerer = OptionsAnswerer(registrar)
    account = make_alice(registrar)
    registered(loop, recorder)
    resolver.port = 9  # nobody there
    calls = resolver.calls
    keepalive = account.registrar.watch.keepalive
    for count in (1, 2, 3):
        clock.advance(30)
        loop.run_until(lambda count=count: keepalive.answered == count, what=f"answer {count}")
    assert len(answerer.requests) == 3 and resolver.calls == calls


def test_without_a_known_hop_the_route_is_resolved_once_and_reused(clock):
    from twisted.internet.defer import succeed

    from sipsimple.core.primitives.route import Hop
    from sipsimple.core.sip.transport import TransportAddress

    hop = Hop(TransportAddress("udp", "127.0.0.1", 5060))

    class Counting:
        calls = 0

        def resolve(self, uri: Any) -> Any:
            Counting.calls += 1
            return succeed([hop])

    keepalive = RegistrationKeepAlive(
        engine=None,
        clock=clock,
        route=None,
        request_uri=None,
        from_header=None,
        interval=5,
        on_lost=print,
        resolver=Counting(),
    )  # type: ignore[arg-type]
    once = keepalive._resolve_once()
    results: list[Any] = []
    once.resolve(None).addCallback(results.append)
    once.resolve(None).addCallback(results.append)
    assert results == [[hop], [hop]] and Counting.calls == 1
    other = Hop(TransportAddress("udp", "127.0.0.2", 5060))
    keepalive.use_hop(other)
    once.resolve(None).addCallback(results.append)
    assert results[-1] == [other] and Counting.calls == 1
