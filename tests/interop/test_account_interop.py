"""An Account inside SIPApplication against Kamailio: it registers through ``sip.outbound_proxy``
(UDP), notices that Kamailio went away, re-registers by itself once Kamailio is back, and
``SIPApplication.stop()`` leaves Kamailio's location table empty.

The application runs on its own Twisted thread with a fresh reactor; the back-off is shortened to
0.5-2 s through the AccountManager and the registration to 4 s (Kamailio's ``min_expires`` is
lowered over RPC), so the whole scenario takes seconds. Every wait is bounded. (The registrar found
through DNS, with failover, is in test_account_dns_interop.py, which uses the helpers here.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from sipsimple.account import Account, AccountManagerBase, RegistrationBackoff
from sipsimple.application import SIPApplicationBase
from sipsimple.configuration import ConfigurationManager
from sipsimple.core.engine import SIPEngine
from sipsimple.notification import Notification
from sipsimple.storage import MemoryStorage
from sipsimple.threading import TwistedThread
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import fresh_reactor
from tests.support.wait import wait_for

pytestmark = pytest.mark.interop

WAIT = 15.0


@contextmanager
def running_application(
    manager_options: dict[str, Any] | None = None,
    engine_options: dict[str, Any] | None = None,
    **options: Any,
) -> Iterator[SIPApplicationBase]:
    """A SIPApplicationBase on its own Twisted thread and fresh reactor, stopped (bounded) afterwards."""
    ConfigurationManager().stop()
    with fresh_reactor() as reactor:
        twisted_thread = TwistedThread(reactor)
        engine = SIPEngine(reactor=reactor)
        manager = AccountManagerBase(engine=engine, twisted_thread=twisted_thread, **(manager_options or {}))
        application = SIPApplicationBase(
            twisted_thread=twisted_thread,
            engine=engine,
            account_manager=manager,
            engine_options={"ip_address": "127.0.0.1", **(engine_options or {})},
            stop_timeout=5.0,
            **options,
        )
        try:
            yield application
        finally:
            application.stop()
            if twisted_thread.thread is not None:
                twisted_thread.thread.join(WAIT)
            ConfigurationManager().stop()


def start(
    application: SIPApplicationBase, recorder: NotificationRecorder, configuration: dict[str, Any]
) -> None:
    """Start ``application`` on a MemoryStorage holding ``configuration`` and wait for DidStart."""
    storage = MemoryStorage()
    storage.configuration_backend.save(configuration)
    application.start(storage)
    wait_for(lambda: recorder.named("SIPApplicationDidStart"), what="the application to start", timeout=WAIT)


UDP_ONLY = {"SIPSimpleSettings": {"sip": {"transport_list": ["udp"]}}}


@pytest.fixture
def app() -> Iterator[SIPApplicationBase]:
    backoff = RegistrationBackoff(minimum=0.5, maximum=2.0)
    options = {"backoff": backoff, "register_timeout": 2.0, "unregister_timeout": 2.0}
    with running_application(options) as application:
        yield application


def test_an_account_survives_a_kamailio_restart_and_stop_unregisters_it(app, kamailio, recorder):
    server = kamailio(features=("auth",))
    server.rpc("cfg.set_now_int", "registrar", "min_expires", 1)
    start(app, recorder, UDP_ONLY)

    def create() -> Any:
        account: Any = Account("alice@example.test")
        account.auth.password = server.users["alice"].password
        account.sip.outbound_proxy = f"127.0.0.1:{server.sip_port};transport=udp"
        account.sip.register_interval = 4  # refreshed every 2 s
        account.enabled = True
        account.save()
        return account

    account = app.twisted_thread.call_and_wait(create, timeout=WAIT)
    wait_for(
        lambda: recorder.named("SIPAccountRegistrationDidSucceed"),
        what="the first registration",
        timeout=WAIT,
    )
    contact = str(account.contact["udp"])
    assert [b.contact for b in server.location().get("alice", [])] == [contact]

    server.stop()
    wait_for(lambda: recorder.named("SIPAccountRegistrationDidFail"), what="a failed refresh", timeout=WAIT)
    succeeded = len(recorder.named("SIPAccountRegistrationDidSucceed"))
    server.restart()  # same ports, empty location table
    wait_for(
        lambda: len(recorder.named("SIPAccountRegistrationDidSucceed")) > succeeded,
        what="the account to register again by itself",
        timeout=WAIT,
    )
    wait_for(lambda: server.location().get("alice"), what="alice in the new location table", timeout=WAIT)
    assert [b.contact for b in server.location()["alice"]] == [contact]

    app.stop()
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), what="the application to end", timeout=WAIT)
    names = recorder.names()
    assert names.index("SIPAccountRegistrationDidEnd") < names.index("SIPApplicationDidEnd")
    assert server.location() == {}


def test_stop_ends_in_bounded_time_when_kamailio_is_gone(app, kamailio, recorder):
    """Kamailio dies while the account is registered: ``stop()`` still ends, its unregistration
    bounded by ``unregister_timeout`` (2 s) and not by a UDP transaction's 32 s."""
    server = kamailio(features=("auth",))
    start(app, recorder, UDP_ONLY)

    def create() -> Any:
        account: Any = Account("alice@example.test")
        account.auth.password = server.users["alice"].password
        account.sip.outbound_proxy = f"127.0.0.1:{server.sip_port};transport=udp"
        account.enabled = True
        account.save()
        return account

    app.twisted_thread.call_and_wait(create, timeout=WAIT)
    wait_for(
        lambda: recorder.named("SIPAccountRegistrationDidSucceed"), what="the registration", timeout=WAIT
    )
    server.stop()
    app.stop()
    # well inside the 32 s a UDP transaction would take: the bound is 2 s + a 1 s guard
    wait_for(lambda: recorder.named("SIPApplicationDidEnd"), timeout=10.0, what="the application to end")
    names = recorder.names()
    assert "SIPAccountRegistrationDidEnd" not in names  # nobody confirmed the removal
    assert names.index("SIPAccountDidDeactivate") < names.index("SIPApplicationDidEnd")


def test_the_bonjour_account_announces_itself_and_reports_its_neighbours(recorder):
    """With the BonjourAccount enabled (mDNS on 127.0.0.1 only), a peer publishing its own services
    is reported as a neighbour with the account as sender; the peer finds the account's contact, sees
    its display name change, and sees it go when the application stops."""
    from sipsimple.account import BonjourAccount
    from sipsimple.account.bonjour import BonjourServices
    from sipsimple.core.sip.uri import SIPURI

    with running_application(
        {"bonjour_interfaces": ["127.0.0.1"]}, dns_nameservers=["127.0.0.1"]
    ) as application:
        reactor = application.engine.reactor
        peer_sender = object()
        peer = BonjourServices(
            peer_sender,
            lambda: {"udp": SIPURI("127.0.0.1", user="peer", port=5999)},
            display_name="Peer",
            interfaces=["127.0.0.1"],
            transports=["udp"],
            reactor=reactor,
        )
        start(
            application,
            recorder,
            {**UDP_ONLY, "Accounts": {"bonjour@local": {"enabled": "true", "display_name": "Alice"}}},
        )
        account = application.twisted_thread.call_and_wait(BonjourAccount, timeout=WAIT)
        application.twisted_thread.call_and_wait(peer.start, timeout=WAIT)

        def added(sender: object, user: str) -> list[Notification]:
            neighbours = recorder.named("BonjourAccountDidAddNeighbour", sender=sender)
            return [n for n in neighbours if n.data.uri.user == user]

        contact_user = account.contact["udp"].user
        wait_for(lambda: added(account, "peer"), what="the account to see the peer", timeout=WAIT)
        wait_for(lambda: added(peer_sender, contact_user), what="the peer to see the account", timeout=WAIT)
        assert added(account, "peer")[0].data.display_name == "Peer"
        assert added(peer_sender, contact_user)[0].data.display_name == "Alice"

        def rename() -> None:
            account.display_name = "Alice B."
            account.save()

        application.twisted_thread.call_and_wait(rename, timeout=WAIT)
        wait_for(
            lambda: recorder.named(
                "BonjourAccountDidUpdateNeighbour", sender=peer_sender, display_name="Alice B."
            ),
            what="the peer to see the new display name",
            timeout=WAIT,
        )
        application.twisted_thread.call_and_wait(peer.stop, timeout=WAIT)
        application.stop()
        wait_for(lambda: recorder.named("SIPApplicationDidEnd"), what="the application to end", timeout=WAIT)
