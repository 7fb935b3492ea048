"""Subscription (RFC 6665, subscriber side) on a fake transport and a Clock: the SUBSCRIBE it sends,
the dialog from the 2xx or from a NOTIFY that comes first, NOTIFY handling and answers, refreshes
in the dialog (timing, CSeq, authentication, 423), Timer N, the Subscription-State reasons that
re-subscribe or end, end() and its bound, and the state machine table."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import Subscription, install_incoming_handlers, refresh_delay
from sipsimple.core.primitives.subscription import TRANSITIONS, SubscriberEvent, SubscriberState
from sipsimple.core.sip.auth import DigestServer
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.dialog import Dialog
from sipsimple.core.sip.headers import ContactHeader, EventHeader, MinExpiresHeader, RouteHeader, ToHeader
from sipsimple.core.sip.transport import TransportAddress
from sipsimple.core.sip.uri import SIPURI
from tests.support.reactor import WAIT
from tests.support.wait import wait_for_notification

from .conftest import ALICE, CONTACT, ROUTE
from .dialog_fakes import PEER, DialogFakeEngine, notify_for
from .servers import PASSWORDS, REALM

BOB = ToHeader(SIPURI("example.test", user="bob"))
PIDF = b'<?xml version="1.0"?><presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.test"/>'
TIMER_N = 64 * 0.5


@pytest.fixture
def fake() -> DialogFakeEngine:
    return DialogFakeEngine()


def new_subscription(fake, refresh=600, **options) -> Subscription:
    return Subscription(
        BOB.uri, ALICE, BOB, CONTACT, "presence", ROUTE, refresh=refresh, engine=fake, **options
    )


def subscribed(fake, refresh=600, granted=None) -> tuple[Subscription, object]:
    """A subscription whose SUBSCRIBE got 200 and a first NOTIFY (active, with a PIDF)."""
    subscription = new_subscription(fake, refresh)
    subscription.subscribe()
    request = fake.reply(
        200, [("Expires", str(refresh if granted is None else granted)), ("Contact", "<sip:peer@127.0.0.2>")]
    )
    response = fake.deliver(
        notify_for(
            request,
            f"active;expires={granted or refresh}",
            1,
            body=PIDF,
            content_type="application/pidf+xml",
        )
    )
    assert response is not None and response.code == 200
    return subscription, request


def test_the_subscribe_carries_event_expires_accept_contact_and_a_from_tag(fake, recorder):
    subscription = new_subscription(fake, refresh=600)
    subscription.subscribe()
    request, destination = fake.requests()[0]
    assert request.method == "SUBSCRIBE" and request.request_uri == "sip:bob@example.test"
    assert request.get_raw("Event") == "presence" and int(request.get("Expires")) == 600
    assert "application/pidf+xml" in request.get_raw("Accept")
    assert request.get("Contact").uri == CONTACT.uri
    assert request.from_header.tag and request.to_header.tag is None
    assert (
        str(request.get("Route").uri) == "sip:127.0.0.2:5060;lr" and str(destination) == "udp:127.0.0.2:5060"
    )
    assert subscription.state == "SUBSCRIBING"
    [changed] = recorder.named("SIPSubscriptionChangedState")
    assert (changed.data.prev_state, changed.data.state) == ("NULL", "SUBSCRIBING")
    assert changed.sender is subscription


def test_the_event_id_and_a_body_are_sent_when_given(fake):
    event = EventHeader("presence", {"id": "7"})
    subscription = Subscription(BOB.uri, ALICE, BOB, CONTACT, event, ROUTE, engine=fake)
    subscription.subscribe(content_type="application/simple-filter+xml", body=b"<filter/>")
    request = fake.last()
    assert request.get("Event").id == "7" and request.body == b"<filter/>"
    assert request.get("Content-Type").content_type == "application/simple-filter+xml"


def test_a_notify_is_answered_200_and_reported_with_its_data(fake, recorder):
    subscription, request = subscribed(fake)
    [got] = recorder.named("SIPSubscriptionGotNotify")
    data = got.data
    assert got.sender is subscription and data.method == "NOTIFY"
    assert (data.body, data.content_type, data.event) == (PIDF, "application/pidf+xml", "presence")
    assert str(data.request_uri) == str(CONTACT.uri)
    assert data.from_header.tag == "srv" and data.to_header.tag == request.from_header.tag
    assert data.headers["Subscription-State"].state == "active"
    assert subscription.state == "ACTIVE"
    assert [(n.data.prev_state, n.data.state) for n in recorder.named("SIPSubscriptionChangedState")] == [
        ("NULL", "SUBSCRIBING"),
        ("SUBSCRIBING", "ACTIVE"),
    ]
    # the state had changed before GotNotify was posted
    names = recorder.names()
    assert names.index("SIPSubscriptionGotNotify") > names.index("SIPSubscriptionChangedState")


def test_pending_then_active_moves_through_pending(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    request = fake.reply(200, [("Expires", "600")])
    fake.deliver(notify_for(request, "pending;expires=600", 1))
    assert subscription.state == "PENDING"
    fake.deliver(notify_for(request, "active;expires=600", 2, body=PIDF, content_type="application/pidf+xml"))
    assert subscription.state == "ACTIVE"
    states = [n.data.state for n in recorder.named("SIPSubscriptionChangedState")]
    assert states == ["SUBSCRIBING", "PENDING", "ACTIVE"]
    assert [n.data.body for n in recorder.named("SIPSubscriptionGotNotify")] == [b"", PIDF]


def test_a_notify_before_the_2xx_creates_the_dialog_and_the_2xx_changes_nothing(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    request = fake.unanswered()
    response = fake.deliver(
        notify_for(request, "active;expires=600", 1, body=PIDF, content_type="application/pidf+xml")
    )
    assert response.code == 200 and response.to_header.tag == request.from_header.tag
    assert subscription.state == "ACTIVE" and subscription.dialog is not None
    assert str(subscription.dialog.remote_target) == "sip:peer@127.0.0.2:5060"
    fake.answer(request, 200, [("Expires", "600")])
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidFail") == []
    fake.clock.advance(TIMER_N + 1)  # no Timer N: a NOTIFY already came
    assert subscription.state == "ACTIVE"


def test_the_refresh_goes_in_the_same_dialog_at_the_refresh_point_with_cseq_plus_one(fake, recorder):
    subscription, request = subscribed(fake, refresh=600, granted=300)
    fake.clock.advance(refresh_delay(300) - 0.01)
    assert fake.methods() == ["SUBSCRIBE"]
    fake.clock.advance(0.01)
    refresh = fake.unanswered()
    assert refresh.method == "SUBSCRIBE" and refresh.call_id == request.call_id
    assert refresh.cseq.number == request.cseq.number + 1
    assert refresh.from_header.tag == request.from_header.tag and refresh.to_header.tag == "srv"
    assert refresh.request_uri == "sip:peer@127.0.0.2:5060" and int(refresh.get("Expires")) == 600
    assert refresh.get("Route") is None and fake.destination_of(refresh) == PEER
    fake.reply(200, [("Expires", "120")])
    fake.clock.advance(refresh_delay(120) - 0.01)
    assert len(fake.sent("SUBSCRIBE")) == 2
    fake.clock.advance(0.01)
    assert len(fake.sent("SUBSCRIBE")) == 3 and subscription.state == "ACTIVE"


def test_the_expires_of_a_notify_moves_the_refresh_point(fake):
    _subscription, request = subscribed(fake, refresh=600)
    fake.deliver(notify_for(request, "active;expires=100", 2))
    fake.clock.advance(refresh_delay(100))
    assert len(fake.sent("SUBSCRIBE")) == 2


def test_a_challenged_refresh_is_answered_with_cseq_plus_one_in_the_dialog(fake, recorder):
    counter = itertools.count()
    digest = DigestServer(
        REALM, PASSWORDS.get, lambda: f"n{next(counter)}", fake.clock.seconds, algorithms=("MD5",)
    )
    subscription = new_subscription(fake, refresh=600, credentials=Credentials("alice", "secret-alice"))
    subscription.subscribe()
    fake.reply(407, [("Proxy-Authenticate", digest.challenge())])
    first = fake.reply(200, [("Expires", "600")])
    assert first.get("Proxy-Authorization") is not None and first.cseq.number == 2
    fake.deliver(notify_for(first, "active", 1))
    fake.clock.advance(refresh_delay(600))
    refresh = fake.reply(401, [("WWW-Authenticate", digest.challenge())])
    assert refresh.to_header.tag == "srv" and refresh.cseq.number == 3
    resent = fake.reply(200, [("Expires", "600")])
    assert resent.get("Authorization") is not None and resent.cseq.number == 4
    assert resent.call_id == first.call_id and resent.to_header.tag == "srv"
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidEnd") == []


def test_423_to_the_subscribe_is_retried_once_with_min_expires(fake, recorder):
    subscription = new_subscription(fake, refresh=30)
    subscription.subscribe()
    fake.reply(423, [("Min-Expires", MinExpiresHeader(120))])
    retry = fake.unanswered()
    assert int(retry.get("Expires")) == 120 and retry.call_id == fake.requests()[0][0].call_id
    fake.reply(423, [("Min-Expires", MinExpiresHeader(120))])
    [failed] = recorder.named("SIPSubscriptionDidFail")
    assert (failed.data.code, failed.data.min_expires) == (423, 120) and subscription.state == "TERMINATED"


def test_423_to_a_refresh_is_retried_in_the_dialog_with_min_expires(fake):
    subscription, _ = subscribed(fake, refresh=60)
    fake.clock.advance(refresh_delay(60))
    fake.reply(423, [("Min-Expires", MinExpiresHeader(300))])
    retry = fake.unanswered()
    assert int(retry.get("Expires")) == 300 and retry.to_header.tag == "srv"
    assert subscription.expires == 300


@pytest.mark.parametrize("code", [404, 489, 603])
def test_a_rejected_subscribe_fails_and_later_notifies_get_481(fake, recorder, code):
    subscription = new_subscription(fake)
    subscription.subscribe()
    request = fake.reply(code)
    [failed] = recorder.named("SIPSubscriptionDidFail")
    assert failed.data.code == code and failed.data.min_expires is None
    assert subscription.state == "TERMINATED" and recorder.names()[-1] == "SIPSubscriptionDidFail"
    assert fake.deliver(notify_for(request, "active", 1)).code == 481
    with pytest.raises(SIPCoreInvalidStateError):
        subscription.subscribe()


def test_timer_n_fails_the_subscription_when_no_notify_follows_the_2xx(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    fake.reply(200, [("Expires", "600")])
    fake.clock.advance(TIMER_N - 0.01)
    assert subscription.state == "SUBSCRIBING"
    fake.clock.advance(0.01)
    [failed] = recorder.named("SIPSubscriptionDidFail")
    assert failed.data.code == 408 and "Timer N" in failed.data.reason
    assert subscription.state == "TERMINATED" and fake.dialog_handlers == {}


@pytest.mark.parametrize(("code", "expected"), [(481, 481), (408, 408), (404, 404)])
def test_a_refresh_answered_with_a_dialog_ending_code_ends_the_subscription(fake, recorder, code, expected):
    subscription, _ = subscribed(fake, refresh=60)
    fake.clock.advance(refresh_delay(60))
    fake.reply(code)
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.code) == ("remote", expected)
    assert subscription.state == "TERMINATED" and subscription.dialog is None


def test_a_refresh_without_any_answer_ends_the_subscription_with_408(fake, recorder):
    _subscription, _ = subscribed(fake, refresh=600)
    fake.clock.advance(refresh_delay(600))
    fake.clock.advance(TIMER_N)  # Timer F
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.code) == ("remote", 408)


def test_a_refresh_failing_otherwise_keeps_the_subscription_until_the_expiry_then_resubscribes(
    fake, recorder
):
    subscription, request = subscribed(fake, refresh=60)
    fake.clock.advance(refresh_delay(60))
    fake.reply(500)
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidEnd") == []
    fake.clock.advance(60 - refresh_delay(60))
    again = fake.unanswered()
    assert again.to_header.tag is None and again.call_id != request.call_id
    assert subscription.state == "SUBSCRIBING"


@pytest.mark.parametrize("reason", ["deactivated", "timeout"])
def test_deactivated_or_timeout_resubscribes_at_once_in_a_new_dialog(fake, recorder, reason):
    subscription, request = subscribed(fake)
    response = fake.deliver(notify_for(request, f"terminated;reason={reason}", 2))
    assert response.code == 200
    again = fake.unanswered()
    assert again.to_header.tag is None and again.call_id != request.call_id
    assert again.from_header.tag != request.from_header.tag
    assert subscription.state == "SUBSCRIBING"
    changed, got = recorder.notifications[-2:]
    assert (changed.name, changed.data.prev_state, changed.data.state) == (
        "SIPSubscriptionChangedState",
        "ACTIVE",
        "SUBSCRIBING",
    )
    assert got.name == "SIPSubscriptionGotNotify" and got.data.headers["Subscription-State"].reason == reason
    assert recorder.named("SIPSubscriptionDidEnd") == [] and recorder.named("SIPSubscriptionDidFail") == []
    assert fake.deliver(notify_for(request, "active", 3)).code == 481  # the old dialog is gone


def test_a_first_notify_saying_terminated_timeout_ends_without_a_loop(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    request = fake.reply(200, [("Expires", "600")])
    fake.deliver(notify_for(request, "terminated;reason=timeout", 1))
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.reason) == ("remote", "timeout")
    assert fake.methods() == ["SUBSCRIBE"]


def test_probation_resubscribes_after_retry_after(fake, recorder):
    subscription, request = subscribed(fake)
    fake.deliver(notify_for(request, "terminated;reason=probation;retry-after=40", 2))
    assert subscription.state == "SUBSCRIBING"
    fake.clock.advance(39.99)
    assert fake.methods() == ["SUBSCRIBE"]
    fake.clock.advance(0.01)
    assert fake.methods() == ["SUBSCRIBE", "SUBSCRIBE"]


@pytest.mark.parametrize("reason", ["rejected", "noresource", "giveup"])
def test_final_reasons_end_the_subscription_as_remote(fake, recorder, reason):
    subscription, request = subscribed(fake)
    fake.deliver(
        notify_for(request, f"terminated;reason={reason}", 2, body=PIDF, content_type="application/pidf+xml")
    )
    ended = recorder.notifications[-1]
    assert ended.name == "SIPSubscriptionDidEnd" and ended.sender is subscription
    assert (ended.data.originator, ended.data.code, ended.data.reason) == ("remote", None, reason)
    assert recorder.notifications[-2].name == "SIPSubscriptionGotNotify"
    assert subscription.state == "TERMINATED" and fake.methods() == ["SUBSCRIBE"]


def test_end_unsubscribes_in_the_dialog_and_waits_for_the_terminating_notify(fake, recorder):
    subscription, request = subscribed(fake)
    subscription.end()
    unsubscribe = fake.unanswered()
    assert unsubscribe.method == "SUBSCRIBE" and int(unsubscribe.get("Expires")) == 0
    assert unsubscribe.to_header.tag == "srv" and unsubscribe.cseq.number == request.cseq.number + 1
    fake.reply(200, [("Expires", "0")])
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidEnd") == []
    fake.deliver(notify_for(request, "terminated;reason=timeout", 2))
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.code, ended.data.reason) == ("local", None, "timeout")
    assert subscription.state == "TERMINATED" and fake.dialog_handlers == {}
    fake.clock.advance(3600)
    assert fake.methods() == ["SUBSCRIBE", "SUBSCRIBE"]


def test_end_is_bounded_by_its_timeout(fake, recorder):
    subscription, _ = subscribed(fake)
    subscription.end(timeout=5)
    fake.reply(200)
    fake.clock.advance(4.99)
    assert recorder.named("SIPSubscriptionDidEnd") == []
    fake.clock.advance(0.01)
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.code) == ("local", 408)


def test_end_while_the_subscribe_is_pending_unsubscribes_once_the_dialog_exists(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    subscription.end()
    request = fake.reply(200, [("Expires", "600"), ("Contact", "<sip:peer@127.0.0.2>")])
    unsubscribe = fake.unanswered()
    assert int(unsubscribe.get("Expires")) == 0 and unsubscribe.to_header.tag == "srv"
    fake.reply(481)
    [ended] = recorder.named("SIPSubscriptionDidEnd")
    assert (ended.data.originator, ended.data.code) == ("local", 481)
    assert request.call_id == unsubscribe.call_id


def test_end_while_pending_unsubscribes_from_the_dialog_a_first_notify_creates(fake, recorder):
    subscription = new_subscription(fake)
    subscription.subscribe()
    subscription.end()
    request = fake.unanswered()
    assert fake.deliver(notify_for(request, "active", 1)).code == 200
    [unsubscribe] = [r for r in fake.sent("SUBSCRIBE") if r.to_header.tag]
    assert int(unsubscribe.get("Expires")) == 0 and unsubscribe.to_header.tag == "srv"
    fake.answer(request, 200, [("Expires", "600")])
    assert len(fake.sent("SUBSCRIBE")) == 2
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidEnd") == []


def test_end_during_a_probation_wait_ends_at_once(fake, recorder):
    subscription, request = subscribed(fake)
    fake.deliver(notify_for(request, "terminated;reason=probation", 2))
    subscription.end()
    assert recorder.notifications[-1].name == "SIPSubscriptionDidEnd"
    fake.clock.advance(3600)
    assert fake.methods() == ["SUBSCRIBE"]


def test_a_notify_from_another_fork_is_answered_481(fake):
    subscription, request = subscribed(fake)
    assert fake.deliver(notify_for(request, "active", 5, remote_tag="other-fork")).code == 481
    assert subscription.state == "ACTIVE"


def test_malformed_notifies_are_refused(fake, recorder):
    _subscription, request = subscribed(fake)
    assert fake.deliver(notify_for(request, "active", 2, with_state=False)).code == 400
    assert fake.deliver(notify_for(request, "active", 3, event=EventHeader("dialog"))).code == 489
    assert fake.deliver(notify_for(request, "active", 5)).code == 200
    assert fake.deliver(notify_for(request, "active", 4)).code == 500  # out of order
    assert len(recorder.named("SIPSubscriptionGotNotify")) == 2


def test_other_requests_in_the_dialog_get_405(fake):
    _subscription, request = subscribed(fake)
    info = notify_for(request, "active", 2)
    info.method = "INFO"
    info.set("CSeq", "2 INFO")
    response = fake.deliver(info)
    assert response.code == 405 and response.get_raw("Allow") == "NOTIFY"


def test_subscribe_again_sends_the_new_body_in_the_dialog(fake):
    subscription, _request = subscribed(fake)
    subscription.subscribe(content_type="application/simple-filter+xml", body=b"<new/>")
    update = fake.unanswered()
    assert update.to_header.tag == "srv" and update.body == b"<new/>"


def test_a_new_contact_in_a_notify_moves_the_remote_target(fake):
    subscription, request = subscribed(fake)
    moved = ContactHeader(SIPURI("127.0.0.3", user="peer", port=5070))
    fake.deliver(notify_for(request, "active", 2, contact=moved))
    subscription.subscribe()
    assert str(fake.destination_of(fake.unanswered())) == "udp:127.0.0.3:5070"


# -- the state machine -------------------------------------------------------------------------


def test_every_state_and_event_pair_moves_as_the_table_says_or_raises(fake):
    for state in SubscriberState:
        for event in SubscriberEvent:
            subscription = new_subscription(fake)
            subscription._state = state
            if (state, event) in TRANSITIONS:
                subscription._move(event)
                assert subscription._state is TRANSITIONS[state, event]
            else:
                with pytest.raises(SIPCoreInvalidStateError):
                    subscription._move(event)
                assert subscription._state is state
    assert all(TRANSITIONS.get((SubscriberState.TERMINATED, e)) is None for e in SubscriberEvent)


NOTIFY_STATES = {
    "active": "active;expires=300",
    "pending": "pending",
    "deactivated": "terminated;reason=deactivated",
    "noresource": "terminated;reason=noresource",
}
ACTIONS = st.lists(
    st.sampled_from(
        [
            "200",
            "481",
            "500",
            "notify-active",
            "notify-pending",
            "notify-deactivated",
            "notify-noresource",
            "advance-10",
            "advance-100",
            "advance-400",
            "end",
            "update",
        ]
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(ACTIONS)
def test_random_exchanges_keep_the_notifications_consistent(actions):
    """Whatever the peer and the clock do: ChangedState chains prev_state to the last state, the
    state ends TERMINATED only with exactly one DidFail or DidEnd as the last word, and nothing
    is posted after it."""
    from sipsimple.notification import NotificationCenter
    from tests.support.notifications import NotificationRecorder

    fake = DialogFakeEngine()
    recorder = NotificationRecorder()
    NotificationCenter().add_observer(recorder)
    try:
        subscription = new_subscription(fake, refresh=300)
        subscription.subscribe()
        cseq = itertools.count(1)
        for action in actions:
            if subscription.state == "TERMINATED":
                break
            pending = [r for r, _ in fake.requests() if r.get("Via").branch not in fake._answered]
            if action in ("200", "481", "500"):
                if pending:
                    fake.answer(
                        pending[-1], int(action), [("Expires", "300"), ("Contact", "<sip:peer@127.0.0.2>")]
                    )
            elif action.startswith("notify-"):
                subscribes = fake.sent("SUBSCRIBE")
                state = NOTIFY_STATES[action[7:]]
                fake.deliver(notify_for(subscribes[-1], state, next(cseq)))
            elif action.startswith("advance-"):
                fake.clock.advance(int(action[8:]))
            elif action == "end":
                subscription.end(timeout=20)
            elif action == "update" and subscription.state != "TERMINATED" and not subscription._ending:
                subscription.subscribe()
        mine = [n for n in recorder.notifications if n.sender is subscription]
        previous = "NULL"
        for notification in mine:
            if notification.name == "SIPSubscriptionChangedState":
                assert notification.data.prev_state == previous
                previous = notification.data.state
        assert previous == subscription.state
        finals = [n for n in mine if n.name in ("SIPSubscriptionDidFail", "SIPSubscriptionDidEnd")]
        if subscription.state == "TERMINATED":
            assert len(finals) == 1 and mine[-1] is finals[0]
        else:
            assert finals == []
    finally:
        NotificationCenter().remove_observer(recorder)


# -- two engines on loopback ---------------------------------------------------------------------

LOOP_PIDF = (
    b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.test"><tuple id="a"/></presence>'
)


@pytest.fixture
def watcher(loop):
    """The subscriber's engine."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def presentity(loop):
    """The notifier's engine: accepts presence subscriptions (IncomingSubscription)."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, incoming_events=("presence",))
    install_incoming_handlers(engine)
    yield engine
    loop.wait(engine.stop())


def address_of(engine, transport="udp", user=None):
    port = engine.local_address(transport).port
    parameters = {} if transport == "udp" else {"transport": transport}
    return SIPURI("127.0.0.1", user=user, port=port, parameters=parameters)


def loop_subscription(watcher, presentity, transport="udp", event="presence") -> Subscription:
    return Subscription(
        address_of(presentity, transport, "bob"),
        ALICE,
        BOB,
        ContactHeader(address_of(watcher, transport, "alice")),
        event,
        RouteHeader(address_of(presentity, transport)),
        refresh=120,
        engine=watcher,
    )


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_subscription_goes_pending_active_pushed_refreshed_and_unsubscribed_between_two_engines(
    loop, watcher, presentity, recorder, transport
):
    subscription = loop_subscription(watcher, presentity, transport)
    subscription.subscribe()
    got = wait_for_notification(loop, recorder, "SIPIncomingSubscriptionGotSubscribe", timeout=WAIT)
    incoming = got.sender
    assert got.data.event == "presence" and got.data.from_header.uri == ALICE.uri

    incoming.accept_pending()
    wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", timeout=WAIT)
    assert subscription.state == "PENDING" and incoming.state == "PENDING"

    incoming.accept("application/pidf+xml", LOOP_PIDF)
    active = wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", count=2, timeout=WAIT)
    assert subscription.state == "ACTIVE" and active.data.body == LOOP_PIDF
    assert active.data.content_type == "application/pidf+xml"

    incoming.push_content("application/pidf+xml", b"<presence/>")
    pushed = wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", count=3, timeout=WAIT)
    assert pushed.data.body == b"<presence/>"

    subscription.subscribe()  # a refresh in the dialog
    refreshed = wait_for_notification(
        loop, recorder, "SIPIncomingSubscriptionGotRefreshingSubscribe", timeout=WAIT
    )
    assert refreshed.data.expires == 120
    after_refresh = wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", count=4, timeout=WAIT)
    assert after_refresh.data.body == b"<presence/>"

    subscription.end()
    ended = wait_for_notification(loop, recorder, "SIPSubscriptionDidEnd", timeout=WAIT)
    assert (ended.data.originator, ended.data.reason) == ("local", "timeout")
    incoming_ended = wait_for_notification(loop, recorder, "SIPIncomingSubscriptionDidEnd", timeout=WAIT)
    assert incoming_ended.data.originator == "remote"
    assert recorder.named("SIPIncomingSubscriptionGotUnsubscribe")[0].sender is incoming
    assert len(recorder.named("SIPIncomingSubscriptionNotifyDidSucceed")) == 5
    assert recorder.named("SIPIncomingSubscriptionNotifyDidFail") == []
    assert subscription.state == incoming.state == "TERMINATED"
    assert [n.data.state for n in recorder.named("SIPSubscriptionChangedState")] == [
        "SUBSCRIBING",
        "PENDING",
        "ACTIVE",
        "TERMINATED",
    ]


def test_the_notifier_ending_the_subscription_ends_it_for_the_subscriber(loop, watcher, presentity, recorder):
    subscription = loop_subscription(watcher, presentity)
    subscription.subscribe()
    incoming = wait_for_notification(
        loop, recorder, "SIPIncomingSubscriptionGotSubscribe", timeout=WAIT
    ).sender
    incoming.accept("application/pidf+xml", LOOP_PIDF)
    wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", timeout=WAIT)
    incoming.end("noresource")
    ended = wait_for_notification(loop, recorder, "SIPSubscriptionDidEnd", timeout=WAIT)
    assert (ended.data.originator, ended.data.code, ended.data.reason) == ("remote", None, "noresource")
    incoming_ended = wait_for_notification(loop, recorder, "SIPIncomingSubscriptionDidEnd", timeout=WAIT)
    assert incoming_ended.data.originator == "local"
    final = recorder.named("SIPSubscriptionGotNotify")[-1]
    assert final.data.headers["Subscription-State"].state == "terminated" and final.data.body == LOOP_PIDF


def test_an_event_the_notifier_does_not_accept_fails_with_489(loop, watcher, presentity, recorder):
    subscription = loop_subscription(watcher, presentity, event="dialog")
    subscription.subscribe()
    failed = wait_for_notification(loop, recorder, "SIPSubscriptionDidFail", timeout=WAIT)
    assert (failed.data.code, failed.data.reason) == (489, "Bad Event") and subscription.state == "TERMINATED"


def test_a_notify_sent_before_the_200_establishes_the_subscription(loop, watcher, presentity, recorder):
    """A notifier that answers the SUBSCRIBE only once its NOTIFY was answered: the subscriber
    must take the NOTIFY first (RFC 6665 §4.1.2.4)."""

    class Answer:
        def __init__(self, transaction, dialog):
            self.transaction, self.dialog = transaction, dialog

        def response_received(self, transaction, response):
            if response.code >= 200:
                request = self.transaction.request
                self.transaction.send_response(
                    self.dialog.create_response(request, 200, extra_headers=[("Expires", "60")])
                )

        def timed_out(self, transaction):
            pass

        def transport_failed(self, transaction, error):
            pass

        def terminated(self, transaction):
            pass

    def notify_first(transaction):
        request = transaction.request
        dialog = Dialog.from_uas(
            request, "early-tag", local_contact=address_of(presentity), secure_transport=False
        )
        notify, next_hop = dialog.create_request(
            "NOTIFY",
            extra_headers=[("Event", "presence"), ("Subscription-State", "active;expires=60")],
            body=LOOP_PIDF,
            content_type="application/pidf+xml",
        )
        presentity.send_request(
            notify, TransportAddress("udp", next_hop.host, next_hop.port), Answer(transaction, dialog)
        )

    presentity.register_method_handler("SUBSCRIBE", notify_first)
    subscription = loop_subscription(watcher, presentity)
    subscription.subscribe()
    got = wait_for_notification(loop, recorder, "SIPSubscriptionGotNotify", timeout=WAIT)
    assert got.data.body == LOOP_PIDF and subscription.state == "ACTIVE"
    assert subscription.dialog.remote_tag == "early-tag"
    loop.run_until(lambda: subscription._initial is None, what="the 200 to the SUBSCRIBE")
    received = [
        n.data.data.split(b"\r\n", 1)[0] for n in recorder.named("SIPEngineSIPTrace") if n.data.received
    ]
    assert received[0].startswith(b"NOTIFY ") and received[1] == b"SIP/2.0 200 OK"
    assert subscription.state == "ACTIVE" and recorder.named("SIPSubscriptionDidFail") == []
