"""Message waiting (RFC 3842) through Kamailio's presence server with ``presence_mwi``: an Account
with ``message_summary.enabled`` subscribes to its own message-summary through Kamailio (digest
authentication answered), a Publication of a message-summary body for that user (what a voicemail
server does) makes Kamailio NOTIFY, and the account posts ``SIPAccountMWIDidGetSummary`` with the
parsed summary; a second PUBLISH gives a second summary; deactivating the account unsubscribes and
Kamailio answers with the final NOTIFY.

Our Engine and the AccountManager run in the test process on a fresh reactor that the test turns
(``Loop``); every wait is for a network event and bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.account import Account, AccountManagerBase, RegistrationBackoff
from sipsimple.configuration import ConfigurationManager
from sipsimple.configuration.backend.memory import MemoryBackend
from sipsimple.core import SIPURI, Credentials, FromHeader, Publication, RouteHeader
from sipsimple.core.engine import SIPEngine
from sipsimple.payloads.messagesummary import CONTENT_TYPE, MessageCounts, MessageSummary
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop, fresh_reactor

from .peers.kamailio import Kamailio

pytestmark = pytest.mark.interop

WAIT = 10.0  # seconds: the most one exchange through Kamailio may take here

FIRST = MessageSummary(
    messages_waiting=True,
    message_account="sip:alice@example.test",
    summaries={"voice-message": MessageCounts(2, 8, 0, 2)},
)
SECOND = MessageSummary(
    messages_waiting=True,
    message_account="sip:alice@example.test",
    summaries={"voice-message": MessageCounts(3, 8, 1, 2), "fax-message": MessageCounts(1, 0)},
    optional_headers=[[("Subject", "carpool tomorrow?"), ("Priority", "normal")]],
)


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop) -> Iterator[SIPEngine]:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True)
    yield engine
    loop.wait(engine.stop(), timeout=5)


@pytest.fixture
def manager(engine: SIPEngine, loop: Loop) -> Iterator[AccountManagerBase]:
    configuration = ConfigurationManager()
    configuration.stop()
    configuration.start(MemoryBackend())
    manager = AccountManagerBase(
        engine=engine, backoff=RegistrationBackoff(minimum=0.5, maximum=2.0), unregister_timeout=3.0
    )
    manager.start()
    try:
        yield manager
    finally:
        loop.wait(manager.stop(), timeout=8)
        configuration.stop()


def sent_subscribes(recorder: NotificationRecorder) -> list[bytes]:
    return [
        n.data.data
        for n in recorder.named("SIPEngineSIPTrace")
        if not n.data.received and n.data.data.startswith(b"SUBSCRIBE ")
    ]


def summaries(recorder: NotificationRecorder, account: Any) -> list[MessageSummary]:
    return [
        n.data.message_summary for n in recorder.named("SIPAccountMWIDidGetSummary") if n.sender is account
    ]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_published_message_summary_reaches_the_subscribed_account(
    kamailio, loop, engine, manager, recorder, transport
):
    server: Kamailio = kamailio(features=("auth", "presence", "mwi"))
    account: Any = Account("alice@example.test")
    account.auth.password = server.users["alice"].password
    account.sip.outbound_proxy = f"{server.host}:{server.sip_port};transport={transport}"
    account.message_summary.enabled = True
    account.sip.subscribe_interval = 600
    account.enabled = True
    account.save()
    loop.run_until(lambda: account.mwi.subscribed, WAIT, what="the message-summary subscription")
    subscription = account.mwi.subscription
    assert subscription.state == "ACTIVE"  # presence_mwi needs no authorisation rules
    loop.run_until(lambda: recorder.named("SIPAccountRegistrationDidSucceed"), WAIT, what="the registration")
    challenged, authorised = sent_subscribes(recorder)[:2]  # Kamailio asks for credentials (407)
    assert b"Proxy-Authorization:" not in challenged and b"Proxy-Authorization:" in authorised
    assert b"\r\nEvent: message-summary\r\n" in authorised
    assert b"\r\nAccept: application/simple-message-summary\r\n" in authorised

    route = RouteHeader(SIPURI(server.host, port=server.sip_port, parameters={"transport": transport}))
    publication = Publication(
        FromHeader(account.uri),
        "message-summary",
        CONTENT_TYPE,
        credentials=Credentials("alice", server.users["alice"].password),
        duration=600,
        engine=engine,
    )
    publication.publish(FIRST.to_string(), route)
    loop.run_until(lambda: summaries(recorder, account), WAIT, what="the first summary")
    assert summaries(recorder, account)[0] == FIRST
    assert recorder.named("SIPPublicationDidSucceed")[0].sender is publication

    publication.publish(SECOND.to_string(), route)
    loop.run_until(lambda: len(summaries(recorder, account)) >= 2, WAIT, what="the second summary")
    assert summaries(recorder, account)[-1] == SECOND
    assert account.mwi.message_summary == SECOND and account.mwi.failures == 0

    loop.wait(account._deactivate_(), timeout=WAIT)
    ended = [n for n in recorder.named("SIPSubscriptionDidEnd") if n.sender is subscription]
    assert [(n.data.originator, n.data.code) for n in ended] == [("local", None)]  # the final NOTIFY came
    publication.end(timeout=5)
    loop.run_until(
        lambda: recorder.named("SIPPublicationDidEnd") or recorder.named("SIPPublicationDidNotEnd"),
        WAIT,
        what="the end of the publication",
    )
    assert recorder.named("SIPPublicationDidEnd")


def test_kamailio_without_presence_mwi_says_bad_event_and_is_not_asked_again(
    kamailio, loop, manager, recorder
):
    """Without presence_mwi Kamailio's presence module refuses the event (489 Bad Event): the
    account keeps the reason and schedules no retry (a refused SUBSCRIBE would be retried after the
    0.5 s back-off)."""
    server: Kamailio = kamailio(features=("auth", "presence"))
    account: Any = Account("alice@example.test")
    account.auth.password = server.users["alice"].password
    account.sip.outbound_proxy = f"{server.host}:{server.sip_port};transport=udp"
    account.sip.register = False
    account.message_summary.enabled = True
    account.enabled = True
    account.save()
    loop.run_until(lambda: account.mwi.unsupported, WAIT, what="the refusal")
    assert account.mwi.unsupported.startswith("489")
    loop.turn(50)
    assert [n.data.code for n in recorder.named("SIPSubscriptionDidFail")] == [489]
    assert account.mwi._retry is None and account.mwi.subscription is None


def test_the_mwi_feature_needs_presence(tmp_path):
    with pytest.raises(ValueError, match="presence"):
        Kamailio(tmp_path, features=("auth", "mwi"))
