"""The message-summary (MWI) subscription of an Account, on loopback against an in-process MWI
server: a second engine whose SUBSCRIBEs are challenged (407) and then handed to the core
``IncomingSubscription``, which answers and sends the NOTIFYs the test asks for. The back-off runs
on the manager's Clock; nothing waits for a timer of the real reactor except where a bound is the
point of the test (and then it is a fraction of a second)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from sipsimple.account import Account, AccountManagerBase, AccountMWI, RegistrationBackoff
from sipsimple.core import Subscription
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives.incoming_subscription import IncomingSubscription, receive_subscribe
from sipsimple.core.sip.message import SIPRequest, make_response
from sipsimple.notification import Notification, NotificationCenter, NotificationData
from sipsimple.payloads.messagesummary import CONTENT_TYPE, MessageCounts, MessageSummary
from tests.core.primitives.servers import TestServer
from tests.support.notifications import NotificationRecorder
from tests.support.reactor import Loop

A3 = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.test\r\nVoice-Message: 2/8 (0/2)\r\n"
A9 = b"Messages-Waiting: yes\r\nMessage-Account: sip:alice@vmail.example.test\r\nVoice-Message: 4/8 (1/2)\r\n"
NONE_WAITING = b"Messages-Waiting: no\r\n"


@dataclass(eq=False)
class MWIServer(TestServer):
    """SUBSCRIBE for message-summary: 407 until authorised (alice/secret-alice), then an
    IncomingSubscription that is accepted (``pending`` False) with ``body``; ``refuse`` answers
    every SUBSCRIBE with that code instead. ``subscriptions`` are the IncomingSubscriptions, newest
    last."""

    __test__ = False
    __hash__ = object.__hash__  # an observer of the NotificationCenter

    body: bytes | None = A3
    pending: bool = False
    refuse: int | None = None
    subscriptions: list[IncomingSubscription] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.engine.register_method_handler("SUBSCRIBE", self._subscribe)  # type: ignore[attr-defined]
        NotificationCenter().add_observer(self, name="SIPIncomingSubscriptionGotSubscribe")

    @property
    def port(self) -> int:
        return self.engine.local_address("udp").port  # type: ignore[attr-defined]

    @property
    def proxy(self) -> str:
        return f"127.0.0.1:{self.port};transport=udp"

    @property
    def subscribes(self) -> list[SIPRequest]:
        return [request for request in self.received if request.method == "SUBSCRIBE"]

    @property
    def current(self) -> IncomingSubscription:
        return self.subscriptions[-1]

    def _subscribe(self, transaction: Any) -> None:
        self.received.append(transaction.request)
        if self.refuse is not None:
            transaction.send_response(make_response(transaction.request, self.refuse, to_tag="mwi"))
        elif self._authorized(transaction, proxy=True):
            receive_subscribe(self.engine, transaction)  # type: ignore[arg-type]

    def handle_notification(self, notification: Notification) -> None:
        subscription = notification.sender
        if subscription.engine is not self.engine:
            return
        self.subscriptions.append(subscription)
        if self.pending:
            subscription.accept_pending()
        elif self.body is None:
            subscription.accept()
        else:
            subscription.accept(CONTENT_TYPE, self.body)


@pytest.fixture
def server(loop: Loop) -> Iterator[MWIServer]:
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None, incoming_events={"message-summary"})
    try:
        yield MWIServer(engine)
    finally:
        loop.wait(engine.stop())


@pytest.fixture
def manager(server: MWIServer, manager: Any) -> Any:
    """The account tests' manager (back-off on ``clock``, jitter fixed at 0.5), started after the
    MWI server and so stopped before it: the accounts unsubscribe from a live server."""
    return manager


def make_alice(server: MWIServer, **settings: Any) -> Any:
    """alice, enabled, message summary on, no registration, everything sent to ``server``."""
    account: Any = Account("alice@example.test")
    account.auth.password = "secret-alice"
    account.sip.outbound_proxy = server.proxy
    account.sip.register = False
    account.sip.subscribe_interval = 600
    account.message_summary.enabled = True
    for name, value in settings.items():
        group, _, attribute = name.rpartition("__")
        setattr(getattr(account, group) if group else account, attribute, value)
    account.enabled = True
    account.save()
    return account


def summaries(recorder: NotificationRecorder, account: Any) -> list[MessageSummary]:
    return [
        n.data.message_summary for n in recorder.named("SIPAccountMWIDidGetSummary") if n.sender is account
    ]


def wait_summaries(
    loop: Loop, recorder: NotificationRecorder, account: Any, count: int
) -> list[MessageSummary]:
    loop.run_until(lambda: len(summaries(recorder, account)) >= count, what=f"{count} summaries")
    return summaries(recorder, account)


# -- subscribing and receiving ----------------------------------------------------------------


def test_an_enabled_account_subscribes_and_posts_each_parsed_summary(manager, server, loop, recorder):
    account = make_alice(server)
    first = wait_summaries(loop, recorder, account, 1)[0]
    assert first == MessageSummary.parse(A3)
    assert first.summaries["voice-message"] == MessageCounts(2, 8, 0, 2)
    notification = recorder.named("SIPAccountMWIDidGetSummary")[0]
    assert notification.data.timestamp is not None
    assert set(notification.data.__dict__) == {"timestamp", "message_summary"}
    assert isinstance(account.mwi, AccountMWI) and account.mwi.subscribed
    assert account.mwi.message_summary == first

    challenged, authorised = server.subscribes
    assert challenged.get("Proxy-Authorization") is None and authorised.get("Proxy-Authorization")
    assert str(authorised.uri) == "sip:alice@example.test"
    assert authorised.from_header.uri == account.uri
    assert authorised.get("Event").event == "message-summary"
    assert authorised.get_raw("Accept") == CONTENT_TYPE
    assert int(authorised.get("Expires")) == 600
    assert authorised.get("Contact").uri == account.contact["udp"]

    server.current.push_content(CONTENT_TYPE, A9)
    assert wait_summaries(loop, recorder, account, 2)[1].summaries["voice-message"] == MessageCounts(
        4, 8, 1, 2
    )


def test_the_voicemail_uri_is_subscribed_to_instead_of_the_account(manager, server, loop, recorder):
    account = make_alice(server, message_summary__voicemail_uri="vm@voicemail.example.test")
    wait_summaries(loop, recorder, account, 1)
    request = server.subscribes[-1]
    assert str(request.uri) == "sip:vm@voicemail.example.test"
    assert str(request.to_header.uri) == "sip:vm@voicemail.example.test"
    assert request.from_header.uri == account.uri


def test_a_pending_subscription_without_a_body_posts_nothing_until_a_summary_comes(
    manager, server, loop, recorder
):
    server.pending = True
    account = make_alice(server)
    loop.run_until(lambda: account.mwi.subscribed, what="a pending subscription")
    loop.turn(10)
    assert summaries(recorder, account) == []
    server.current.accept(CONTENT_TYPE, NONE_WAITING)
    assert wait_summaries(loop, recorder, account, 1)[0].messages_waiting is False


def test_a_refresh_keeps_the_dialog_and_the_notify_after_it_is_posted(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    subscription = account.mwi.subscription
    subscription._refresh_due()  # what the refresh timer runs; no waiting for it
    loop.run_until(lambda: recorder.named("SIPIncomingSubscriptionGotRefreshingSubscribe"))
    assert recorder.named("SIPIncomingSubscriptionGotRefreshingSubscribe")[0].data.expires == 600
    wait_summaries(loop, recorder, account, 2)  # the notifier sends its state after a refresh
    assert account.mwi.subscription is subscription and len(server.subscriptions) == 1


# -- bad bodies -------------------------------------------------------------------------------


def test_a_body_that_does_not_parse_is_logged_and_not_posted(manager, server, loop, recorder, caplog):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    with caplog.at_level(logging.WARNING, logger="sipsimple.account._mwi"):
        server.current.push_content(CONTENT_TYPE, b"Messages-Waiting: perhaps\r\n")
        loop.run_until(lambda: "does not parse" in caplog.text, what="the warning")
    assert "'yes' or 'no'" in caplog.text
    assert len(summaries(recorder, account)) == 1
    server.current.push_content("text/plain", A9)  # a summary in the wrong type is not taken either
    loop.run_until(lambda: "of type text/plain" in caplog.text, what="the second warning")
    assert len(summaries(recorder, account)) == 1 and account.mwi.subscribed
    server.current.push_content(CONTENT_TYPE, A9)
    assert wait_summaries(loop, recorder, account, 2)[1] == MessageSummary.parse(A9)


# -- failures and the back-off ----------------------------------------------------------------


def test_a_subscription_the_server_terminates_is_started_again_after_the_back_off(
    manager, server, loop, recorder, clock
):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    server.current.end(reason="noresource")
    loop.run_until(lambda: account.mwi.subscription is None, what="the subscription to end")
    assert account.mwi.failures == 1 and account.mwi._retry.active()
    clock.advance(32)
    loop.turn(20)
    assert len(server.subscriptions) == 1  # not before the back-off (30 s, jitter 0.2 * 0.5) ran out
    assert len(summaries(recorder, account)) == 2  # the final NOTIFY carried the state too
    clock.advance(2)
    loop.run_until(lambda: len(server.subscriptions) == 2, what="a new subscription")
    wait_summaries(loop, recorder, account, 3)
    assert account.mwi.failures == 0  # a summary resets the count


def test_a_refused_subscription_is_retried_with_a_growing_back_off(manager, server, loop, recorder, clock):
    server.refuse = 500
    account = make_alice(server)
    loop.run_until(lambda: account.mwi.failures == 1, what="the first failure")
    assert account.mwi._retry.getTime() - clock.seconds() == pytest.approx(30 * 1.1)
    clock.advance(34)
    loop.run_until(lambda: account.mwi.failures == 2, what="the second failure")
    assert account.mwi._retry.getTime() - clock.seconds() == pytest.approx(60 * 1.1)
    assert len(server.subscribes) == 2  # one SUBSCRIBE per attempt: no storm
    server.refuse = None
    clock.advance(67)
    wait_summaries(loop, recorder, account, 1)


@pytest.mark.parametrize("code", [489, 405])
def test_a_server_without_mwi_is_not_asked_again(manager, server, loop, recorder, clock, caplog, code):
    server.refuse = code
    with caplog.at_level(logging.WARNING, logger="sipsimple.account._mwi"):
        account = make_alice(server)
        loop.run_until(lambda: account.mwi.unsupported, what="the refusal")
    assert account.mwi.unsupported.startswith(str(code))
    assert "does not support message summaries" in caplog.text
    assert account.mwi._retry is None
    clock.advance(4000)
    loop.turn(20)
    assert len(server.subscribes) == 1 and account.mwi.active
    server.refuse = None  # a new voicemail URI is worth a try
    account.message_summary.voicemail_uri = "vm@example.test"
    account.save()
    wait_summaries(loop, recorder, account, 1)
    assert account.mwi.unsupported is None


def test_an_engine_without_the_event_gives_489_and_nothing_more(manager, loop, recorder, clock):
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None)  # no incoming message-summary
    try:
        server = MWIServer(engine, proxy_auth=False)
        account = make_alice(server)
        loop.run_until(lambda: account.mwi.unsupported, what="489 Bad Event")
        assert account.mwi.unsupported == "489 Bad Event"
    finally:
        loop.wait(manager.stop(), timeout=5)  # before the engine goes: nothing is left to end
        loop.wait(engine.stop())


# -- stopping and settings changes ------------------------------------------------------------


def test_disabling_message_summary_unsubscribes_and_enabling_subscribes_again(
    manager, server, loop, recorder
):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    account.message_summary.enabled = False
    account.save()
    loop.run_until(lambda: recorder.named("SIPIncomingSubscriptionGotUnsubscribe"), what="the unsubscribe")
    loop.run_until(lambda: account.mwi.subscription is None, what="the end of the subscription")
    assert not account.mwi.active and account.is_active
    assert server.current.state == "TERMINATED"
    assert len(summaries(recorder, account)) == 1  # the final NOTIFY of our unsubscribe is not news
    account.message_summary.enabled = True
    account.save()
    loop.run_until(lambda: len(server.subscriptions) == 2, what="a new subscription")
    wait_summaries(loop, recorder, account, 2)


def test_deactivating_the_account_unsubscribes_before_it_deactivates(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    loop.wait(account._deactivate_())
    names = recorder.names()
    assert names.index("SIPIncomingSubscriptionGotUnsubscribe") < names.index("SIPAccountDidDeactivate")
    assert server.current.state == "TERMINATED" and account.mwi is None


def test_an_unsubscription_nobody_answers_ends_within_the_bound(manager, server, loop, recorder):
    manager._runtime.unregister_timeout = 0.2
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    subscription = account.mwi.subscription
    loop.wait(server.engine.stop())
    loop.wait(account._deactivate_(), timeout=1.5)  # 0.2 s for the final NOTIFY, not 64*T1
    assert subscription.state == "TERMINATED"
    ended = [n for n in recorder.named("SIPSubscriptionDidEnd") if n.sender is subscription]
    assert ended and ended[0].data.originator == "local"


@pytest.mark.parametrize(
    ("group", "attribute", "value"),
    [
        ("message_summary", "voicemail_uri", "vm@example.test"),
        ("auth", "password", "new-secret"),  # the server learns the new password first
        ("sip", "subscribe_interval", 900),
    ],
)
def test_a_change_of_target_credentials_or_interval_subscribes_again(
    manager, server, loop, recorder, group, attribute, value
):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    first = account.mwi.subscription
    if attribute == "password":
        server.passwords["alice"] = value
    setattr(getattr(account, group), attribute, value)
    account.save()
    loop.run_until(lambda: len(server.subscriptions) == 2, what="a new subscription")
    assert recorder.named("SIPIncomingSubscriptionGotUnsubscribe")  # the old one was ended first
    assert account.mwi.subscription is not first and isinstance(account.mwi.subscription, Subscription)
    wait_summaries(loop, recorder, account, 2)
    request = server.subscribes[-1]
    if attribute == "voicemail_uri":
        assert str(request.uri) == "sip:vm@example.test"
    if attribute == "subscribe_interval":
        assert int(request.get("Expires")) == 900


def test_an_unrelated_change_leaves_the_subscription_alone(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    first = account.mwi.subscription
    account.sip.publish_interval = 60
    account.save()
    loop.turn(20)
    assert account.mwi.subscription is first and len(server.subscriptions) == 1


def test_an_outbound_proxy_change_moves_the_subscription(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    other_engine = SIPEngine(reactor=loop.reactor)
    other_engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=None, incoming_events={"message-summary"})
    try:
        other = MWIServer(other_engine, body=A9)
        account.sip.outbound_proxy = other.proxy
        account.save()
        loop.run_until(lambda: other.subscriptions, what="a subscription at the new server")
        assert server.current.state == "TERMINATED"
        assert wait_summaries(loop, recorder, account, 2)[1] == MessageSummary.parse(A9)
        assert account.mwi.route.port == other.port
        loop.wait(account._deactivate_())
    finally:
        loop.wait(other_engine.stop())


def test_an_account_with_message_summary_off_sends_no_subscribe(manager, server, loop, recorder):
    account = make_alice(server, message_summary__enabled=False)
    loop.turn(20)
    assert server.subscribes == [] and not account.mwi.active
    assert account.mwi.subscription is None


def test_without_the_event_in_the_engine_table_the_accept_header_is_added_anyway(loop, configuration, server):
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(
        ip_address="127.0.0.1", udp_port=0, tcp_port=None, events={"presence": ["application/pidf+xml"]}
    )
    manager = AccountManagerBase(engine=engine, backoff=RegistrationBackoff(minimum=30), random=lambda: 0.5)
    manager.start()
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    try:
        account = make_alice(server)
        wait_summaries(loop, recorder, account, 1)
        assert server.subscribes[-1].get_raw("Accept") == CONTENT_TYPE
    finally:
        loop.wait(manager.stop(), timeout=5)
        loop.wait(engine.stop())


def test_no_route_to_the_server_counts_as_a_failure_and_is_retried(manager, server, loop, clock):
    account = make_alice(server, sip__outbound_proxy="127.0.0.1:5061;transport=tls")  # no TLS listener
    assert account.mwi.failures == 1 and account.mwi.subscription is None
    assert account.mwi._retry.getTime() - clock.seconds() == pytest.approx(33)
    account.sip.outbound_proxy = server.proxy  # nothing waits for the retry after a change
    account.save()
    loop.run_until(lambda: server.subscriptions, what="a subscription once there is a route")


def test_stop_twice_and_start_while_stopping_end_once_and_subscribe_again(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    mwi = account.mwi
    first, second = mwi.stop(), mwi.stop()
    assert loop.wait(first) is None and loop.wait(second) is None
    assert len(recorder.named("SIPIncomingSubscriptionGotUnsubscribe")) == 1
    stopping = mwi.stop()  # nothing left to end
    assert stopping.called
    mwi.start()
    ending = mwi.stop()
    mwi.start()  # wanted again before the unsubscribe finished: it subscribes once that is over
    loop.wait(ending)
    loop.run_until(lambda: len(server.subscriptions) == 3, what="the third subscription")
    assert mwi.active and wait_summaries(loop, recorder, account, 2)  # the second one ended unannounced


def test_a_network_change_subscribes_again_from_the_new_contact(manager, server, loop, recorder, client):
    """After NetworkConditionsDidChange, or when the listener the Contact names moves, the server
    must learn the new Contact: the account subscribes again (the old subscription ended first)."""
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    first = account.mwi.subscription
    NotificationCenter().post_notification(
        "NetworkConditionsDidChange", sender=object(), data=NotificationData()
    )
    loop.run_until(lambda: len(server.subscriptions) == 2, what="a subscription after the network change")
    wait_summaries(loop, recorder, account, 2)
    assert account.mwi.subscription is not first
    NotificationCenter().post_notification(
        "SIPEngineTransportDidChange",
        sender=client,
        data=NotificationData(transport="udp", old_local_address=None, new_local_address=None),
    )
    loop.run_until(lambda: len(server.subscriptions) == 3, what="a subscription after the transport change")
    wait_summaries(loop, recorder, account, 3)
    assert server.subscribes[-1].get("Contact").uri == account.contact["udp"]


def test_a_network_change_after_stop_subscribes_nothing(manager, server, loop, recorder):
    account = make_alice(server)
    wait_summaries(loop, recorder, account, 1)
    account.message_summary.enabled = False
    account.save()
    loop.run_until(lambda: account.mwi.subscription is None, what="the unsubscription")
    NotificationCenter().post_notification(
        "NetworkConditionsDidChange", sender=object(), data=NotificationData()
    )
    loop.turn(30)
    assert len(server.subscriptions) == 1
