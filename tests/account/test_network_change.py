"""Accounts register again, at once and with a fresh Contact, when the network conditions change or
the engine's transport under their registration moves; other transport changes leave them alone."""

from __future__ import annotations

from typing import Any

from sipsimple.account import Account
from sipsimple.notification import NotificationCenter, NotificationData
from tests.support.notifications import NotificationRecorder

from .conftest import Registrar


def make_alice(registrar: Registrar, enabled: bool = True) -> Any:
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = registrar.proxy
    account.sip.register_interval = 600
    account.enabled = enabled
    account.save()
    return account


def successes(recorder: NotificationRecorder) -> int:
    return len(recorder.named("SIPAccountRegistrationDidSucceed"))


def removals(registrar: Registrar) -> int:
    """The REGISTERs with Expires 0 the registrar accepted or challenged."""
    return sum(
        1
        for request in registrar.received
        if request.method == "REGISTER"
        and request.get("Expires") is not None
        and int(request.get("Expires")) == 0
    )


def test_network_conditions_did_change_registers_again_at_once(manager, registrar, loop, recorder):
    account = make_alice(registrar)
    loop.run_until(lambda: successes(recorder) == 1, what="the registration")
    first = account.registrar.registration
    NotificationCenter().post_notification(
        "NetworkConditionsDidChange", sender=object(), data=NotificationData()
    )
    loop.run_until(lambda: successes(recorder) == 2, what="the registration after the change")
    assert account.registrar.registration is not first
    assert removals(registrar) >= 1  # the old binding was removed before the new one was made
    assert registrar.contacts() == [str(account.contact["udp"])]
    assert recorder.named("SIPAccountRegistrationDidFail") == []


def test_a_new_udp_port_registers_the_new_contact_and_removes_the_old_one(
    manager, registrar, client, loop, recorder
):
    account = make_alice(registrar)
    loop.run_until(lambda: successes(recorder) == 1, what="the registration")
    old_contact = str(account.contact["udp"])
    assert registrar.contacts() == [old_contact]
    client.set_udp_port(0)
    new_contact = str(account.contact["udp"])
    assert new_contact != old_contact
    loop.run_until(lambda: successes(recorder) == 2, what="the registration of the new contact")
    assert registrar.contacts() == [new_contact]  # and the old one is gone
    assert len(recorder.named("SIPAccountWillRegister")) == 2  # a new Registration
    success = recorder.named("SIPAccountRegistrationDidSucceed")[-1].data
    assert str(success.contact_header.uri) == new_contact


def test_a_change_of_another_transport_leaves_a_udp_registration_alone(
    manager, registrar, client, loop, recorder
):
    account = make_alice(registrar)
    loop.run_until(lambda: successes(recorder) == 1, what="the registration")
    first = account.registrar.registration
    client.set_tcp_port(0)
    assert recorder.named("SIPEngineTransportDidChange")  # the change happened
    loop.turn(30)
    assert account.registrar.registration is first and successes(recorder) == 1
    assert registrar.count("REGISTER") == 2  # the challenge and the registration, nothing more


def test_a_failed_port_change_and_an_inactive_account_register_nothing(
    manager, registrar, client, loop, recorder
):
    import socket

    from sipsimple.core.engine import EngineError

    account = make_alice(registrar, enabled=False)
    client.set_udp_port(0)  # the account is not active: nothing to register
    loop.turn(20)
    assert registrar.count("REGISTER") == 0 and account.registrar is None
    account.enabled = True
    account.save()
    loop.run_until(lambda: successes(recorder) == 1, what="the registration")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        try:
            client.set_udp_port(taken.getsockname()[1])
        except EngineError:
            pass
        else:  # pragma: no cover - the port is ours
            raise AssertionError("binding a taken port succeeded")
    loop.turn(20)
    assert successes(recorder) == 1 and registrar.count("REGISTER") == 2


def test_an_account_that_could_not_route_registers_once_a_transport_appears(
    manager, registrar, client, loop, recorder, clock
):
    """Without an outbound proxy the route needs a listener of sip.transport_list; with none the
    registration waits for its back-off, but a listener that appears registers at once."""
    from twisted.internet.defer import succeed

    from sipsimple.configuration.settings import SIPSimpleSettings
    from sipsimple.core.primitives.route import Hop
    from sipsimple.core.sip.transport import TransportAddress

    class ToTheRegistrar:
        def resolve(self, uri: Any) -> Any:
            return succeed([Hop(TransportAddress("udp", "127.0.0.1", registrar.port))])

    settings: Any = SIPSimpleSettings()
    settings.sip.transport_list = ["udp"]
    settings.save()
    manager._runtime.resolver = ToTheRegistrar()
    client.set_udp_port(None)
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.enabled = True
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"), what="the routing failure")
    assert "listens on none" in recorder.named("SIPAccountRegistrationDidFail")[0].data.error
    client.set_udp_port(0)
    loop.run_until(lambda: successes(recorder) == 1, what="a registration without waiting for the back-off")
    assert registrar.contacts() == [str(account.contact["udp"])]


def test_a_tcp_registration_registers_again_when_the_registrar_closes_its_connection(
    manager, registrar, client, loop, recorder
):
    """RFC 5626 §4.4: the connection a TCP registration went over is its flow; when the registrar
    closes it, the binding may be gone with it, so the account registers again over a new one."""
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    tcp = registrar.engine.local_address("tcp")
    account.sip.outbound_proxy = f"127.0.0.1:{tcp.port};transport=tcp"
    account.sip.register_interval = 600
    account.enabled = True
    account.save()
    loop.run_until(lambda: successes(recorder) == 1, what="the registration over TCP")
    [connection] = [c for c in client.transports.connections if c.remote.port == tcp.port]
    registrar.engine.transports.close_connections(connection.local)  # the server drops the flow
    loop.run_until(lambda: successes(recorder) == 2, what="the registration over a new connection")
    [closed] = [n for n in recorder.named("SIPEngineTransportDidDisconnect") if n.sender is client]
    assert closed.data.remote_address == f"127.0.0.1:{tcp.port}"
    assert [c.local for c in client.transports.connections if c.remote.port == tcp.port] != [connection.local]
    assert registrar.contacts() == [str(account.contact["tcp"])]


def test_a_closed_connection_to_another_server_leaves_the_registration_alone(
    manager, registrar, client, loop, recorder
):
    account = make_alice(registrar)  # over UDP
    loop.run_until(lambda: successes(recorder) == 1, what="the registration")
    first = account.registrar.registration
    NotificationCenter().post_notification(
        "SIPEngineTransportDidDisconnect",
        sender=client,
        data=NotificationData(
            transport="tcp", local_address="127.0.0.1:1", remote_address="127.0.0.1:2", reason="gone"
        ),
    )
    loop.turn(30)
    assert account.registrar.registration is first and successes(recorder) == 1
