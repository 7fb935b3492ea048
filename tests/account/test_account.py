"""Account behaviour on loopback: activation, Contact URIs, credentials, registration against an
in-process registrar with digest auth, failure and back-off (on a Clock), re-registration after a
settings change, unregistration on deactivation."""

from __future__ import annotations

from typing import Any

import pytest

from sipsimple.account import Account, AccountRegistrar, ContactURIFactory, RegistrationBackoff
from sipsimple.core import Credentials, Registration
from sipsimple.core.sip.uri import SIPURI
from sipsimple.util import Route
from tests.support.notifications import NotificationRecorder

from .conftest import Registrar


def make_alice(registrar: Registrar, password: str = "secret-alice", enabled: bool = True) -> Any:
    account: Any = Account("alice@example.test")
    account.auth.password = password
    account.sip.outbound_proxy = registrar.proxy
    account.sip.register_interval = 600
    account.enabled = enabled
    account.save()
    return account


def of(recorder: NotificationRecorder, account: Any) -> list[str]:
    return [n.name for n in recorder.notifications if n.sender is account and n.name.startswith("SIPAccount")]


def test_contact_factory_gives_the_engine_address_per_transport_with_one_random_user(client):
    factory = ContactURIFactory(engine=client)
    assert len(factory.username) == 8 and factory.username.isalpha() and factory.username.islower()
    udp, tcp = factory["udp"], factory["tcp"]
    assert (udp.user, udp.host, udp.port) == (factory.username, "127.0.0.1", client.local_udp_port)
    assert "transport" not in udp.parameters
    assert tcp.parameters["transport"] == "tcp" and tcp.port == client.local_tcp_port
    route = SIPURI("example.test", parameters={"transport": "tcp"})
    assert factory[route] == tcp  # indexable by anything with a transport, such as a route URI
    with pytest.raises(KeyError):
        factory["tls"]  # the engine does not listen on TLS
    assert ContactURIFactory("chosen").username == "chosen"
    assert repr(ContactURIFactory("abcdefgh")) == "ContactURIFactory(username=abcdefgh)"


def test_credentials_and_uri_follow_the_settings(configuration):
    account: Any = Account("alice@example.test")
    assert account.uri == SIPURI("example.test", user="alice")
    assert isinstance(account.credentials, Credentials)
    assert (account.credentials.username, account.credentials.password) == ("alice", "")
    account.auth.password = "pw"
    account.auth.username = "alice-auth"
    account.save()
    assert (account.credentials.username, account.credentials.password) == ("alice-auth", "pw")


def test_an_enabled_account_activates_registers_and_reports_every_step(manager, registrar, loop, recorder):
    account = make_alice(registrar)
    loop.run_until(lambda: registrar.contacts(), what="a binding at the registrar")
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    assert of(recorder, account) == [
        "SIPAccountWillActivate",
        "SIPAccountWillRegister",
        "SIPAccountDidActivate",
        "SIPAccountRegistrationGotAnswer",
        "SIPAccountRegistrationDidSucceed",
    ]
    answer = recorder.named("SIPAccountRegistrationGotAnswer")[0].data
    assert (answer.code, answer.reason) == (200, "OK")
    assert isinstance(answer.registration, Registration)
    assert answer.registrar == Route("127.0.0.1", registrar.port, "udp")  # the hop actually used
    assert account.contact[answer.registrar] == account.contact["udp"]
    success = recorder.named("SIPAccountRegistrationDidSucceed")[0].data
    assert success.contact_header.uri == account.contact["udp"]
    assert [str(c.uri) for c in success.contact_header_list] == registrar.contacts()
    assert success.expires == 600
    assert success.registrar is answer.registrar
    assert all(n.data.timestamp is not None for n in recorder.notifications if n.sender is account)
    assert registrar.count("REGISTER") == 2  # the 401 challenge, then the authenticated one
    assert account.registrar.registered


def test_a_disabled_account_neither_activates_nor_registers(manager, registrar, loop, recorder):
    account = make_alice(registrar, enabled=False)
    loop.turn(20)
    assert of(recorder, account) == [] and registrar.count("REGISTER") == 0
    assert manager.has_account(account.id) and not account.is_active


def test_disabling_unregisters_and_deactivates_and_enabling_registers_again(
    manager, registrar, loop, recorder
):
    account = make_alice(registrar)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    recorder.clear()
    account.enabled = False
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountDidDeactivate"))
    assert of(recorder, account) == [
        "SIPAccountWillDeactivate",
        "SIPAccountRegistrationDidEnd",
        "SIPAccountDidDeactivate",
    ]
    assert isinstance(recorder.named("SIPAccountRegistrationDidEnd")[0].data.registration, Registration)
    assert registrar.contacts() == []
    account.enabled = True
    account.save()
    loop.run_until(lambda: registrar.contacts(), what="a new binding")
    assert account.is_active


def test_an_unregistration_the_registrar_refuses_is_reported_as_did_not_end(
    manager, registrar, loop, recorder
):
    account = make_alice(registrar)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    registrar.refuse_removal = 500
    loop.wait(account._deactivate_())
    data = recorder.named("SIPAccountRegistrationDidNotEnd")[0].data
    assert (data.code, data.reason) == (500, "Server Internal Error") or data.code == 500
    assert isinstance(data.registration, Registration)
    assert recorder.names()[-1] == "SIPAccountDidDeactivate"


def test_a_refused_registration_is_retried_after_a_growing_jittered_back_off(
    manager, registrar, loop, recorder, clock
):
    registrar.refuse = 403
    account = make_alice(registrar)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"))
    failure = recorder.named("SIPAccountRegistrationDidFail")[0].data
    assert failure.error == "403 Forbidden"
    assert failure.timeout == pytest.approx(30 * 1.1)  # minimum, stretched by jitter 0.2 * 0.5
    answer = recorder.named("SIPAccountRegistrationGotAnswer")[0].data
    assert (answer.code, answer.registrar.port) == (403, registrar.port)
    clock.advance(32)
    loop.turn(20)
    assert registrar.count("REGISTER") == 1  # nothing before the back-off ran out
    clock.advance(2)
    loop.run_until(lambda: len(recorder.named("SIPAccountRegistrationDidFail")) == 2)
    assert recorder.named("SIPAccountRegistrationDidFail")[1].data.timeout == pytest.approx(60 * 1.1)
    registrar.refuse = None  # the registrar is healthy again: the next retry registers
    clock.advance(66)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    assert account.registrar.failures == 0 and registrar.contacts()


def test_an_unreachable_registrar_fails_with_a_timeout_and_is_retried(
    manager, registrar, loop, recorder, clock
):
    manager._runtime.register_timeout = 0.3
    account: Any = Account("alice@example.test")
    account.sip.outbound_proxy = "127.0.0.1:9;transport=udp"  # nobody answers there
    account.enabled = True
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"), timeout=3)
    failure = recorder.named("SIPAccountRegistrationDidFail")[0].data
    assert failure.error.startswith(("408", "503")) and failure.timeout > 0
    assert account.registrar._retry is not None and account.registrar._retry.active()


def test_back_off_doubles_up_to_the_maximum_and_jitter_stays_in_bounds():
    backoff = RegistrationBackoff(minimum=30, maximum=1800, jitter=0.25)
    assert [backoff.delay(n, lambda: 0.0) for n in (1, 2, 3, 7, 8, 20)] == [30, 60, 120, 1800, 1800, 1800]
    assert backoff.delay(1, lambda: 1.0) == 37.5
    assert backoff.delay(7, lambda: 1.0) == 1800  # the jitter never goes past the maximum
    with pytest.raises(ValueError):
        RegistrationBackoff(minimum=0)


def test_a_password_change_registers_again_with_the_new_credentials(manager, registrar, loop, recorder):
    account = make_alice(registrar, password="wrong")
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidFail"))
    assert recorder.named("SIPAccountRegistrationGotAnswer")[-1].data.code == 401
    recorder.clear()
    account.auth.password = "secret-alice"
    account.save()
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    assert of(recorder, account)[0] == "SIPAccountWillRegister"  # a new Registration, not a retry
    assert registrar.contacts() == [str(account.contact["udp"])]


def test_an_outbound_proxy_change_moves_the_registration(manager, registrar, loop, recorder, client):
    account = make_alice(registrar)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    first = account.registrar.registration
    other = Registrar(type(client)(reactor=loop.reactor))
    other.engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    try:
        recorder.clear()
        account.sip.outbound_proxy = other.proxy
        account.save()
        loop.run_until(lambda: other.contacts(), what="a binding at the new registrar")
        assert registrar.contacts() == []  # unregistered from the old one first
        assert "SIPAccountRegistrationDidEnd" in of(recorder, account)
        assert account.registrar.registration is not first
        loop.wait(account._deactivate_())
        assert other.contacts() == []
    finally:
        loop.wait(other.engine.stop())


def test_the_registration_announces_its_refresh(manager, registrar, loop, recorder):
    registrar.max_expires = 20  # refreshed after 10 s on the engine's clock
    account = make_alice(registrar)
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"))
    registration = account.registrar.registration
    registration._refresh_due()  # what the refresh timer runs; no waiting for it
    loop.run_until(lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) == 2)
    names = of(recorder, account)
    assert names.index("SIPAccountRegistrationWillRefresh") < len(names) - 1
    assert names[-1] == "SIPAccountRegistrationDidSucceed"


def test_an_account_without_registration_activates_without_sending_anything(
    manager, registrar, loop, recorder
):
    account: Any = Account("alice@example.test")
    account.sip.register = False
    account.enabled = True
    account.save()
    assert account.is_active and isinstance(account.registrar, AccountRegistrar)
    loop.turn(20)
    assert registrar.count("REGISTER") == 0
    account.sip.register = True
    account.sip.outbound_proxy = registrar.proxy
    account.auth.password = "secret-alice"
    account.save()
    loop.run_until(lambda: registrar.contacts(), what="a binding once registration is switched on")
