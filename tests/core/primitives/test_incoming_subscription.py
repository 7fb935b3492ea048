"""IncomingSubscription (RFC 6665, notifier side) on a fake transport and a Clock: 489 for events
the engine does not accept, the GotSubscribe data, accept_pending/accept/push_content and the
NOTIFYs they send, one NOTIFY in flight at a time, refreshes, unsubscribes, the expiry, end(),
failed NOTIFYs, the answer deadline, and the state machine table."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.primitives import IncomingSubscription, install_incoming_handlers
from sipsimple.core.primitives.incoming_subscription import TRANSITIONS, NotifierEvent, NotifierState

from .dialog_fakes import PEER_CONTACT, DialogFakeEngine, in_dialog_request, subscribe_request

PIDF = b'<presence xmlns="urn:ietf:params:xml:ns:pidf" entity="sip:bob@example.test"/>'
TIMER_N = 64 * 0.5


@pytest.fixture
def fake() -> DialogFakeEngine:
    engine = DialogFakeEngine(incoming_events=("presence",))
    install_incoming_handlers(engine)
    return engine


def received(fake, recorder, **options) -> IncomingSubscription:
    """Deliver a SUBSCRIBE and return the IncomingSubscription announced for it."""
    response = fake.deliver(subscribe_request(**options))
    assert response is None, "the SUBSCRIBE waits for the application"
    [got] = recorder.named("SIPIncomingSubscriptionGotSubscribe")
    return got.sender


def notifies(fake):
    return fake.sent("NOTIFY")


def test_a_subscribe_for_an_event_the_engine_does_not_accept_gets_489_with_allow_events(fake, recorder):
    response = fake.deliver(subscribe_request(event="dialog"))
    assert response.code == 489 and response.get_raw("Allow-Events") == "presence"
    assert recorder.named("SIPIncomingSubscriptionGotSubscribe") == []
    assert fake.deliver(subscribe_request(event="presence", expires=None, call_id="x")) is None


def test_a_subscribe_without_contact_gets_400(fake, recorder):
    request = subscribe_request()
    request.remove("Contact")
    assert fake.deliver(request).code == 400


def test_got_subscribe_carries_the_request_data(fake, recorder):
    subscription = received(fake, recorder)
    [got] = recorder.named("SIPIncomingSubscriptionGotSubscribe")
    data = got.data
    assert isinstance(subscription, IncomingSubscription) and subscription.state == "NULL"
    assert (data.event, data.body, data.content_type) == ("presence", b"", None)
    assert str(data.request_uri) == "sip:bob@127.0.0.1:5060" and data.from_header.tag == "peer-tag"
    assert data.to_header.tag is None and data.headers["Expires"] is not None
    assert data.timestamp is not None


def test_accept_pending_answers_200_and_sends_a_pending_notify_without_a_body(fake, recorder):
    subscription = received(fake, recorder, expires=600)
    subscription.accept_pending()
    response = fake.responses()[-1]
    assert response.code == 200 and int(response.get("Expires")) == 600
    assert response.to_header.tag and response.get("Contact").uri.host == "127.0.0.1"
    [notify] = notifies(fake)
    assert notify.to_header.tag == "peer-tag" and notify.from_header.tag == response.to_header.tag
    assert notify.call_id == "sub-1@peer" and notify.request_uri == str(PEER_CONTACT.uri)
    state = notify.get("Subscription-State")
    assert (state.state, state.expires) == ("pending", 600) and notify.body == b""
    assert notify.get_raw("Event") == "presence"
    assert subscription.state == "PENDING"
    fake.answer(notify, 200)
    assert recorder.named("SIPIncomingSubscriptionNotifyDidSucceed")[0].data.code == 200


def test_accept_sends_an_active_notify_with_the_content(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    [notify] = notifies(fake)
    assert notify.get("Subscription-State").state == "active" and notify.body == PIDF
    assert notify.get("Content-Type").content_type == "application/pidf+xml"
    assert [
        (n.data.prev_state, n.data.state) for n in recorder.named("SIPIncomingSubscriptionChangedState")
    ] == [("NULL", "ACTIVE")]


def test_content_pushed_while_pending_is_sent_by_accept(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept_pending()
    fake.reply(200)
    subscription.push_content("application/pidf+xml", PIDF)
    assert len(notifies(fake)) == 1
    subscription.accept()
    active = fake.reply(200)
    assert active.get("Subscription-State").state == "active" and active.body == PIDF
    subscription.push_content("application/pidf+xml", b"<new/>")
    assert fake.reply(200).body == b"<new/>"
    assert len(recorder.named("SIPIncomingSubscriptionNotifyDidSucceed")) == 3


def test_one_notify_is_in_flight_and_changes_meanwhile_go_out_as_one(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    subscription.push_content("application/pidf+xml", b"<two/>")
    subscription.push_content("application/pidf+xml", b"<three/>")
    assert len(notifies(fake)) == 1
    first = fake.reply(200)
    assert len(notifies(fake)) == 2 and notifies(fake)[-1].body == b"<three/>"
    assert notifies(fake)[-1].cseq.number == first.cseq.number + 1


def test_the_expiry_sends_a_final_notify_with_reason_timeout(fake, recorder):
    subscription = received(fake, recorder, expires=60)
    subscription.accept("application/pidf+xml", PIDF)
    fake.reply(200)
    fake.clock.advance(59.99)
    assert len(notifies(fake)) == 1
    fake.clock.advance(0.01)
    final = fake.unanswered()
    state = final.get("Subscription-State")
    assert (state.state, state.reason) == ("terminated", "timeout") and final.body == PIDF
    assert subscription.state == "TERMINATED" and recorder.named("SIPIncomingSubscriptionDidEnd") == []
    fake.reply(200)
    [ended] = recorder.named("SIPIncomingSubscriptionDidEnd")
    assert ended.data.originator == "remote" and fake.dialog_handlers == {}


def test_a_refresh_restarts_the_expiry_and_is_followed_by_a_notify(fake, recorder):
    subscription = received(fake, recorder, expires=60)
    subscription.accept("application/pidf+xml", PIDF)
    first = fake.reply(200)
    fake.clock.advance(50)
    refresh = in_dialog_request(
        "SUBSCRIBE", first, subscribe_request(), 2, (("Event", "presence"), ("Expires", "120"))
    )
    response = fake.deliver(refresh)
    assert response.code == 200 and int(response.get("Expires")) == 120
    [got] = recorder.named("SIPIncomingSubscriptionGotRefreshingSubscribe")
    assert got.data.expires == 120 and got.sender is subscription
    again = fake.reply(200)
    assert again.get("Subscription-State").expires == 120 and again.body == PIDF
    fake.clock.advance(119)
    assert subscription.state == "ACTIVE"
    fake.clock.advance(1)
    assert fake.unanswered().get("Subscription-State").state == "terminated"


def test_an_unsubscribe_gets_200_and_the_final_notify(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    first = fake.reply(200)
    unsubscribe = in_dialog_request(
        "SUBSCRIBE", first, subscribe_request(), 2, (("Event", "presence"), ("Expires", "0"))
    )
    assert fake.deliver(unsubscribe).code == 200
    [unsubscribed] = recorder.named("SIPIncomingSubscriptionGotUnsubscribe")
    assert unsubscribed.sender is subscription and int(unsubscribed.data.headers["Expires"]) == 0
    final = fake.reply(200)
    assert final.get("Subscription-State").reason == "timeout"
    assert recorder.notifications[-1].name == "SIPIncomingSubscriptionDidEnd"
    assert recorder.notifications[-1].data.originator == "remote"
    assert fake.deliver(in_dialog_request("SUBSCRIBE", first, subscribe_request(), 3)).code == 481


def test_a_subscribe_in_the_dialog_for_another_event_gets_489_and_other_methods_405(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept()
    first = fake.reply(200)
    other = in_dialog_request("SUBSCRIBE", first, subscribe_request(), 2, (("Event", "dialog"),))
    assert fake.deliver(other).code == 489
    assert fake.deliver(in_dialog_request("INFO", first, subscribe_request(), 3)).code == 405
    assert subscription.state == "ACTIVE"


def test_end_sends_the_final_notify_with_the_reason_given(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    fake.reply(200)
    subscription.end("noresource")
    final = fake.reply(200)
    assert final.get("Subscription-State").reason == "noresource"
    [ended] = recorder.named("SIPIncomingSubscriptionDidEnd")
    assert ended.data.originator == "local"
    subscription.end()  # nothing more
    assert len(notifies(fake)) == 2


def test_end_during_a_notify_in_flight_sends_the_final_one_after_it(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept_pending()
    subscription.end()
    assert len(notifies(fake)) == 1
    fake.reply(200)
    final = fake.unanswered()
    assert (
        final.get("Subscription-State").state == "terminated"
        and final.get("Subscription-State").reason is None
    )
    assert final.body == b""  # it never was active


@pytest.mark.parametrize("code", [481, 408, 500])
def test_a_failed_notify_removes_the_subscription(fake, recorder, code):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    fake.reply(code)
    [failed] = recorder.named("SIPIncomingSubscriptionNotifyDidFail")
    assert failed.data.code == code and failed.data.reason and failed.sender is subscription
    [ended] = recorder.named("SIPIncomingSubscriptionDidEnd")
    assert ended.data.originator == "remote" and subscription.state == "TERMINATED"
    assert len(notifies(fake)) == 1


def test_a_failed_notify_with_retry_after_keeps_the_subscription(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept("application/pidf+xml", PIDF)
    fake.reply(503, [("Retry-After", "10")])
    assert subscription.state == "ACTIVE" and recorder.named("SIPIncomingSubscriptionDidEnd") == []


def test_an_unanswered_notify_removes_the_subscription(fake, recorder):
    subscription = received(fake, recorder)
    subscription.accept()
    fake.clock.advance(TIMER_N)
    assert recorder.named("SIPIncomingSubscriptionNotifyDidFail")[0].data.code == 408
    assert subscription.state == "TERMINATED"


def test_reject_answers_the_code_and_ends(fake, recorder):
    subscription = received(fake, recorder)
    with pytest.raises(ValueError):
        subscription.reject(200)
    subscription.reject(403)
    assert fake.responses()[-1].code == 403 and subscription.state == "TERMINATED"
    assert recorder.notifications[-1].data.originator == "local"
    with pytest.raises(SIPCoreInvalidStateError):
        subscription.accept()


def test_a_subscribe_nobody_answers_is_rejected_408_after_64_t1(fake, recorder):
    subscription = received(fake, recorder)
    fake.clock.advance(TIMER_N - 0.01)
    assert fake.responses() == []
    fake.clock.advance(0.01)
    assert fake.responses()[-1].code == 408 and subscription.state == "TERMINATED"


def test_a_fetch_with_expires_0_gets_one_final_notify_with_the_state(fake, recorder):
    subscription = received(fake, recorder, expires=0)
    subscription.accept("application/pidf+xml", PIDF)
    assert int(fake.responses()[-1].get("Expires")) == 0
    [notify] = notifies(fake)
    state = notify.get("Subscription-State")
    assert (state.state, state.reason) == ("terminated", "timeout") and notify.body == PIDF
    fake.reply(200)
    assert recorder.notifications[-1].name == "SIPIncomingSubscriptionDidEnd"


def test_the_granted_expiry_is_capped_at_an_hour(fake, recorder):
    received(fake, recorder, expires=86400).accept()
    assert int(fake.responses()[-1].get("Expires")) == 3600


def test_push_content_before_an_answer_is_a_state_error(fake, recorder):
    subscription = received(fake, recorder)
    with pytest.raises(SIPCoreInvalidStateError):
        subscription.push_content("application/pidf+xml", PIDF)
    subscription.accept()
    with pytest.raises(SIPCoreInvalidStateError):
        subscription.accept_pending()


def test_every_state_and_event_pair_moves_as_the_table_says_or_raises(fake, recorder):
    subscription = received(fake, recorder)
    for state in NotifierState:
        for event in NotifierEvent:
            subscription._state = state
            if (state, event) in TRANSITIONS:
                subscription._move(event)
                assert subscription._state is TRANSITIONS[state, event]
            else:
                with pytest.raises(SIPCoreInvalidStateError):
                    subscription._move(event)
                assert subscription._state is state
    assert [e for e in NotifierEvent if (NotifierState.TERMINATED, e) in TRANSITIONS] == []
