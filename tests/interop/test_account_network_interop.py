"""An Account inside SIPApplication against Kamailio over UDP, while the network side changes:

* ``SIPSimpleSettings().sip.udp_port`` changed at run time moves the engine's UDP listener and the
  account registers again, so Kamailio's location table holds the contact with the new port (and not
  the old one);
* the keep-alive OPTIONS (``nat_traversal.keepalive_interval`` = 1 s) reach Kamailio, which answers
  them ("200 Keepalive"), and since the address it sees does not change they cause no new
  registration.

The application runs on its own Twisted thread with a fresh reactor (``running_application`` of the
account interop tests); every wait is bounded.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from sipsimple.account import Account, RegistrationBackoff
from sipsimple.configuration.settings import SIPSimpleSettings
from tests.support.notifications import NotificationRecorder
from tests.support.wait import wait_for

from .test_account_interop import UDP_ONLY, WAIT, running_application, start

pytestmark = pytest.mark.interop


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def keepalive_answers(recorder: NotificationRecorder) -> list[Any]:
    """The answers to our OPTIONS that the engine received (from its SIP trace)."""
    traces = recorder.named("SIPEngineSIPTrace", received=True)
    return [
        t for t in traces if t.data.data.startswith(b"SIP/2.0 200 Keepalive") and b"OPTIONS" in t.data.data
    ]


def options_received(server: Any) -> int:
    """How many OPTIONS Kamailio has received (its core statistics)."""
    for line in server.rpc("stats.get_statistics", "core:"):
        name, _, value = str(line).partition("=")
        if name.strip() == "core:rcv_requests_options":
            return int(value)
    raise AssertionError("Kamailio reports no core:rcv_requests_options statistic")


def test_a_run_time_udp_port_change_moves_the_contact_and_keepalives_reach_kamailio(kamailio, recorder):
    server = kamailio(features=("auth",))
    manager_options = {
        "backoff": RegistrationBackoff(minimum=0.5, maximum=2.0),
        "register_timeout": 2.0,
        "unregister_timeout": 2.0,
    }
    with running_application(manager_options, {"trace_sip": True}) as app:
        start(app, recorder, UDP_ONLY)

        def create() -> Any:
            account: Any = Account("alice@example.test")
            account.auth.password = server.users["alice"].password
            account.sip.outbound_proxy = f"127.0.0.1:{server.sip_port};transport=udp"
            account.nat_traversal.keepalive_interval = 1
            account.enabled = True
            account.save()
            return account

        account = app.twisted_thread.call_and_wait(create, timeout=WAIT)
        wait_for(
            lambda: recorder.named("SIPAccountRegistrationDidSucceed"),
            what="the first registration",
            timeout=WAIT,
        )
        old_contact = str(account.contact["udp"])
        assert [b.contact for b in server.location().get("alice", [])] == [old_contact]

        # keep-alives: Kamailio sees them and answers; the answers change nothing
        before = options_received(server)
        wait_for(lambda: len(keepalive_answers(recorder)) >= 2, what="two keep-alive answers", timeout=WAIT)
        assert options_received(server) >= before + 2
        assert len(recorder.named("SIPAccountRegistrationDidSucceed")) == 1
        assert len(recorder.named("SIPAccountWillRegister")) == 1

        # a new UDP port at run time: the location table follows
        port = free_udp_port()
        settings: Any = SIPSimpleSettings()
        settings.sip.udp_port = port
        settings.save()
        wait_for(lambda: app.engine.local_udp_port == port, what="the UDP listener to move", timeout=WAIT)
        new_contact = f"sip:{account.contact.username}@127.0.0.1:{port}"
        wait_for(
            lambda: [b.contact for b in server.location().get("alice", [])] == [new_contact],
            what="the new contact (alone) in Kamailio's location table",
            timeout=WAIT,
        )
        assert len(recorder.named("SIPAccountWillRegister")) == 2  # a fresh Registration, at once
        answered = len(keepalive_answers(recorder))
        wait_for(
            lambda: len(keepalive_answers(recorder)) > answered,
            what="keep-alives from the new port",
            timeout=WAIT,
        )
        app.stop()
        wait_for(lambda: recorder.named("SIPApplicationDidEnd"), what="the application to end", timeout=WAIT)
    assert server.location() == {}
