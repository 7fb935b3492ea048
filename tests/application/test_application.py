"""SIPApplication on its own reactor thread (a fresh reactor per test): start and stop in order
with their notifications, configuration errors, TLS that cannot start, bounded stop, and accounts
registering and unregistering through it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sipsimple.account import Account, AccountManagerBase
from sipsimple.application import SIPApplication, SIPApplicationBase, SIPApplicationError
from sipsimple.configuration import ConfigurationError, ConfigurationManager
from sipsimple.configuration.backend import ConfigurationBackendError
from sipsimple.configuration.settings import SIPSimpleSettings
from sipsimple.core.engine import SIPEngine
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.account.conftest import Registrar
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

WAIT = 5.0


@pytest.fixture
def app() -> Iterator[SIPApplicationBase]:
    """An application whose Twisted thread runs a fresh reactor; UDP and TCP on 127.0.0.1."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        twisted_thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, unregister_timeout=0.3)
        application = SIPApplicationBase(
            twisted_thread=twisted_thread,
            engine=engine,
            account_manager=manager,
            engine_options={"ip_address": "127.0.0.1"},
            stop_timeout=2.0,
        )
        try:
            yield application
        finally:
            if application.running:
                application.stop()
            if twisted_thread.thread is not None:
                twisted_thread.thread.join(WAIT)
                assert not twisted_thread.thread.is_alive()
            ConfigurationManager().stop()


def storage_with(transports: list[str]) -> MemoryStorage:
    """A MemoryStorage whose stored settings open only ``transports``."""
    storage = MemoryStorage()
    storage.configuration_backend.save({"SIPSimpleSettings": {"sip": {"transport_list": transports}}})
    return storage


def run(app: SIPApplicationBase, function: Callable[[], Any]) -> Any:
    return app.twisted_thread.call_and_wait(function, timeout=WAIT)


def test_start_and_stop_post_their_notifications_in_order(app, recorder):
    app.start(storage_with(["udp", "tcp"]))
    assert app.running
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", WAIT)
    assert app.engine.is_running and app.engine.local_udp_port and app.engine.local_tcp_port
    assert app.engine.local_tls_port is None  # not in the transport list
    assert app.account_manager.started and app.local_nat_type is None
    app.stop()
    assert not app.running
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the end", WAIT)
    assert recorder.names("SIPApplication") == [
        "SIPApplicationWillStart",
        "SIPApplicationDidStart",
        "SIPApplicationWillEnd",
        "SIPApplicationDidEnd",
    ]
    assert all(n.data.timestamp is not None and n.sender is app for n in recorder.snapshot()
               if n.name.startswith("SIPApplication"))  # fmt: skip
    app.twisted_thread.thread.join(WAIT)
    assert not app.engine.is_running
    with pytest.raises(SIPApplicationError):
        app.start(MemoryStorage())  # a stopped application stays stopped


def test_a_configuration_that_cannot_load_propagates_and_start_can_be_called_again(app, recorder):
    class Broken:
        def load(self) -> dict[str, Any]:
            raise ConfigurationBackendError("the disk is on fire")

        def save(self, data: dict[str, Any]) -> None:
            raise AssertionError("not reached")

    broken = MemoryStorage()
    broken.configuration_backend = Broken()  # type: ignore[assignment]
    with pytest.raises(ConfigurationError, match="the disk is on fire"):
        app.start(broken)
    assert not app.running and app.twisted_thread.thread is None and recorder.names("SIPApplication") == []
    app.start(storage_with(["udp"]))
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", WAIT)
    assert app.engine.is_running


def test_tls_that_cannot_start_is_reported_and_the_engine_runs_without_it(app, recorder):
    app.start(storage_with(["tls", "udp"]))  # TLS without a certificate cannot listen
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", WAIT)
    assert recorder.names("SIPApplication") == [
        "SIPApplicationWillStart",
        "SIPApplicationFailedToStartTLS",
        "SIPApplicationDidStart",
    ]
    error = recorder.named("SIPApplicationFailedToStartTLS")[0].data.error
    assert "certificate" in str(error).lower()
    assert app.engine.is_running and app.engine.local_udp_port and app.engine.local_tls_port is None


def test_engine_options_come_from_the_settings(app):
    app.start(storage_with(["udp"]))
    settings: Any = SIPSimpleSettings()
    settings.user_agent = "probe/1"
    settings.logs.trace_sip = True
    settings.sip.udp_port = 5999
    options = app.engine_start_options()
    assert options["user_agent"] == "probe/1" and options["trace_sip"] is True
    assert (options["udp_port"], options["tcp_port"], options["tls_port"]) == (5999, None, None)
    assert options["ip_address"] == "127.0.0.1"  # engine_options win over the settings


def test_an_account_registers_through_the_application_and_stop_unregisters_it(app, recorder):
    app.start(storage_with(["udp"]))
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", WAIT)
    registrar = run(app, lambda: start_registrar(app))
    account = run(app, lambda: create_alice(registrar.proxy))
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), "a registration", WAIT)
    assert registrar.contacts() == [str(account.contact["udp"])]
    app.stop()
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the end", WAIT)
    assert registrar.contacts() == []  # unregistered before the engine stopped
    names = [n.name for n in recorder.snapshot()]
    assert names.index("SIPAccountRegistrationDidEnd") < names.index("SIPApplicationDidEnd")


def test_stop_completes_in_bounded_time_when_the_registrar_is_gone(app, recorder):
    app.start(storage_with(["udp"]))
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), "the start", WAIT)
    registrar = run(app, lambda: start_registrar(app))
    run(app, lambda: create_alice(registrar.proxy))
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), "a registration", WAIT)
    run(app, registrar.engine.stop)  # the registrar disappears; the unregistration gets no answer
    app.stop()
    # bounded by unregister_timeout (0.3 s) + 1 s, far below the 32 s of a UDP transaction timeout
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), "the end", 4)
    assert not app.engine.is_running
    assert recorder.named("SIPAccountDidDeactivate")


def test_the_public_application_is_a_singleton_with_the_reference_attributes():
    application = SIPApplication()
    assert application is SIPApplication() and isinstance(application, SIPApplicationBase)
    assert application.running is False and application.storage is None
    assert application.local_nat_type is None


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
