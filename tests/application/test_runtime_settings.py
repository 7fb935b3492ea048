"""SIPApplication while it runs (its own reactor thread, a fresh reactor per test): SIPSimpleSettings
changes restart only the transports they touch, accounts register again over a moved transport,
failures are reported and the application keeps running, the resolver follows the transport list,
and a change of the host's IP address (a scripted NetworkMonitor on a Clock) moves the listeners and
registers the accounts again."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from twisted.internet.task import Clock

from sipsimple.account import Account, AccountManagerBase
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.settings import SIPSimpleSettings
from sipsimple.core.engine import SIPEngine
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from sipsimple.util._network import NetworkMonitor
from tests.account.conftest import Registrar
from tests.core.sip.transport.certs import make_pki
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

from .test_application import WAIT


class Probe:
    """The host's IP address as the test says it is."""

    def __init__(self, address: str) -> None:
        self.address = address

    def __call__(self) -> str:
        return self.address


@pytest.fixture
def make_app() -> Iterator[Callable[..., SIPApplicationBase]]:
    """``make_app(transports, engine_options=..., monitor=...)`` -> a started application whose
    accounts unregister within 0.3 s; stopped (bounded) afterwards."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        started: list[SIPApplicationBase] = []

        def make(
            transports: list[str],
            *,
            engine_options: dict[str, Any] | None = None,
            monitor: NetworkMonitor | None = None,
            settings: dict[str, Any] | None = None,
        ) -> SIPApplicationBase:
            twisted_thread = TwistedThread(reactor)
            engine = SIPEngine(reactor=reactor)
            manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, unregister_timeout=0.3)
            application = SIPApplicationBase(
                twisted_thread=twisted_thread,
                engine=engine,
                account_manager=manager,
                engine_options={"ip_address": "127.0.0.1"} if engine_options is None else engine_options,
                stop_timeout=2.0,
                network_monitor=monitor,
            )
            storage = MemoryStorage()
            sip = {"transport_list": transports, **(settings or {}).get("sip", {})}
            storage.configuration_backend.save(
                {"SIPSimpleSettings": {**(settings or {}), "sip": sip}, "Accounts": {}}
            )
            application.start(storage)
            started.append(application)
            wait_for(lambda: application.running and application._state == "running", "the start", WAIT)
            return application

        try:
            yield make
        finally:
            for application in started:
                application.stop()
                if application.twisted_thread.thread is not None:
                    application.twisted_thread.thread.join(WAIT)
                    assert not application.twisted_thread.thread.is_alive()
            ConfigurationManager().stop()


def run(app: SIPApplicationBase, function: Callable[[], Any]) -> Any:
    return app.twisted_thread.call_and_wait(function, timeout=WAIT)


def save(**changes: Any) -> None:
    """Change SIPSimpleSettings (dotted names) and save, as an application thread would."""
    settings: Any = SIPSimpleSettings()
    for dotted, value in changes.items():
        group, name = dotted.split("__")
        setattr(getattr(settings, group), name, value)
    settings.save()


def start_registrar(app: SIPApplicationBase) -> Registrar:
    engine = SIPEngine(reactor=app.engine.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)
    return Registrar(engine)


def create_alice(proxy: str) -> Any:
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = proxy
    account.enabled = True
    account.save()
    return account


def changed_transports(recorder: NotificationRecorder, app: SIPApplicationBase) -> list[str]:
    return [n.data.transport for n in recorder.named("SIPEngineTransportDidChange") if n.sender is app.engine]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_new_udp_port_moves_only_udp_and_the_account_registers_its_new_contact(make_app, recorder):
    app = make_app(["udp", "tcp"])
    registrar = run(app, lambda: start_registrar(app))
    account = run(app, lambda: create_alice(registrar.proxy))
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), "the registration", WAIT)
    tcp = app.engine.local_address("tcp")
    port = free_port()
    save(sip__udp_port=port)
    wait_for(lambda: app.engine.local_udp_port == port, "the UDP listener to move", WAIT)
    wait_for(lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) == 2, "a new registration", WAIT)
    assert registrar.contacts() == [f"sip:{account.contact.username}@127.0.0.1:{port}"]
    assert changed_transports(recorder, app) == ["udp"] and app.engine.local_address("tcp") == tcp
    run(app, registrar.engine.stop)


def test_a_port_that_cannot_be_bound_is_reported_and_the_old_listener_stays(make_app, recorder):
    app = make_app(["udp"])
    udp = app.engine.local_address("udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        save(sip__udp_port=port)
        wait_for(lambda: recorder.named("SIPApplicationFailedToChangeTransport"), "the failure", WAIT)
    failure = recorder.named("SIPApplicationFailedToChangeTransport")[0]
    assert failure.sender is app and (failure.data.transport, failure.data.port) == ("udp", port)
    assert "cannot listen for udp" in str(failure.data.error)
    assert app.running and app.engine.local_address("udp") == udp


def test_the_transport_list_turns_transports_on_and_off_and_the_resolver_follows(make_app, recorder):
    app = make_app(["udp", "tcp"])
    udp = app.engine.local_address("udp")
    assert app.account_manager.resolver.supported_transports == ["udp", "tcp"]
    save(sip__transport_list=["udp"])
    wait_for(lambda: app.engine.local_address("tcp") is None, "TCP to stop", WAIT)
    assert app.engine.local_address("udp") == udp  # untouched: neither its port nor its state changed
    wait_for(lambda: app.account_manager.resolver.supported_transports == ["udp"], "the resolver", WAIT)
    save(sip__transport_list=["tcp", "udp"])
    wait_for(lambda: app.engine.local_address("tcp") is not None, "TCP to start again", WAIT)
    wait_for(
        lambda: app.account_manager.resolver.supported_transports == ["tcp", "udp"], "the resolver", WAIT
    )
    assert changed_transports(recorder, app) == ["tcp", "tcp"]


def test_tls_starts_when_a_certificate_arrives_and_a_bad_one_is_reported(make_app, recorder, tmp_path):
    pki = make_pki(Path(tmp_path))
    combined = tmp_path / "combined.pem"
    combined.write_bytes(pki.server_certificate.read_bytes() + pki.server_key.read_bytes())
    app = make_app(["tls", "udp"])
    wait_for(lambda: recorder.named("SIPApplicationFailedToStartTLS"), "TLS failing at start", WAIT)
    assert app.engine.local_address("tls") is None
    save(tls__certificate=str(combined))
    wait_for(lambda: app.engine.local_address("tls") is not None, "TLS to start", WAIT)
    tls = app.engine.local_address("tls")
    bad = tmp_path / "bad.pem"
    bad.write_text("no certificate here")
    save(tls__certificate=str(bad))
    wait_for(lambda: len(recorder.named("SIPApplicationFailedToStartTLS")) == 2, "the bad certificate", WAIT)
    assert "certificate" in str(recorder.named("SIPApplicationFailedToStartTLS")[1].data.error).lower()
    assert app.running and app.engine.local_address("tls") == tls  # the old one keeps serving
    save(tls__certificate=str(combined), tls__verify_server=False)  # same port: the socket stays
    wait_for(lambda: app.engine.transports.tls_configuration.verify_server is False, "the new options", WAIT)
    assert app.engine.local_address("tls") == tls


def test_a_new_host_address_moves_the_listeners_and_the_account_registers_from_there(make_app, recorder):
    clock = Clock()
    probe = Probe("127.0.0.1")
    monitor = NetworkMonitor(clock=clock, probe=probe, interval=5)
    app = make_app(["udp"], engine_options={}, monitor=monitor)
    assert monitor.sender is app  # an injected monitor posts for the application
    assert app.engine.ip_address == "127.0.0.1"  # the monitor's address, nothing was pinned
    registrar = run(app, lambda: start_registrar(app))
    account = run(app, lambda: create_alice(registrar.proxy))
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), "the registration", WAIT)
    probe.address = "127.0.0.2"
    run(app, lambda: clock.advance(5))
    change = recorder.named("SystemIPAddressDidChange")[0].data
    assert (change.old_ip_address, change.new_ip_address) == ("127.0.0.1", "127.0.0.2")
    assert app.engine.local_address("udp").host == "127.0.0.2"
    wait_for(lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) == 2, "a new registration", WAIT)
    assert registrar.contacts() == [str(account.contact["udp"])]
    assert account.contact["udp"].host == "127.0.0.2"
    run(app, registrar.engine.stop)


def test_a_pinned_address_stays_but_a_network_change_still_registers_again(make_app, recorder):
    clock = Clock()
    probe = Probe("10.1.1.1")
    app = make_app(["udp"], monitor=NetworkMonitor(clock=clock, probe=probe, interval=5))
    registrar = run(app, lambda: start_registrar(app))
    run(app, lambda: create_alice(registrar.proxy))
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), "the registration", WAIT)
    probe.address = "10.1.1.2"
    run(app, lambda: clock.advance(5))
    assert recorder.named("NetworkConditionsDidChange")
    wait_for(lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) == 2, "a new registration", WAIT)
    assert app.engine.ip_address == "127.0.0.1"  # engine_options pinned it
    run(app, registrar.engine.stop)
