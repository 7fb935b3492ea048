"""IncomingReferral (RFC 3515, referee side) on a fake transport and a Clock: 400 for a REFER without
one valid Refer-To, GotRefer, accept() with 202 and the 100 Trying NOTIFY, sipfrag NOTIFYs and the
final one, end(), an unsubscribe from the referrer, and the expiry of the implicit subscription."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.primitives import IncomingReferral, install_incoming_handlers
from sipsimple.core.primitives.incoming_referral import REFER_EXPIRES

from .dialog_fakes import DialogFakeEngine, in_dialog_request, subscribe_request


@pytest.fixture
def fake() -> DialogFakeEngine:
    engine = DialogFakeEngine(incoming_events=())
    install_incoming_handlers(engine)
    return engine


def refer_request(refer_to=("<sip:carol@example.test>",), cseq=7):
    request = subscribe_request(cseq=cseq, call_id="ref-1@peer")
    request.method = "REFER"
    request.set("CSeq", f"{cseq} REFER")
    request.remove("Event")
    request.remove("Expires")
    for value in refer_to:
        request.add("Refer-To", value)
    return request


def received(fake, recorder) -> IncomingReferral:
    assert fake.deliver(refer_request()) is None
    [got] = recorder.named("SIPIncomingReferralGotRefer")
    return got.sender


@pytest.mark.parametrize(
    "refer_to", [(), ("<sip:carol@example.test>", "<sip:dave@example.test>"), ("<not a uri",)]
)
def test_a_refer_without_exactly_one_valid_refer_to_gets_400(fake, recorder, refer_to):
    response = fake.deliver(refer_request(refer_to))
    assert response.code == 400 and recorder.named("SIPIncomingReferralGotRefer") == []


def test_got_refer_carries_the_refer_to_and_the_request_data(fake, recorder):
    referral = received(fake, recorder)
    [got] = recorder.named("SIPIncomingReferralGotRefer")
    assert isinstance(referral, IncomingReferral) and referral.state == "NULL"
    assert str(got.data.refer_to_header.uri) == "sip:carol@example.test"
    assert got.data.from_header.tag == "peer-tag" and got.data.to_header.tag is None
    assert str(got.data.request_uri) == "sip:bob@127.0.0.1:5060" and "Refer-To" in got.data.headers


def test_accept_answers_202_and_notifies_100_trying_with_event_refer_id(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    response = fake.responses()[-1]
    assert response.code == 202 and response.to_header.tag
    [notify] = fake.sent("NOTIFY")
    event = notify.get("Event")
    assert (event.event, event.id) == ("refer", "7")
    assert notify.body == b"SIP/2.0 100 Trying\r\n"
    assert notify.get("Content-Type").content_type == "message/sipfrag"
    state = notify.get("Subscription-State")
    assert (state.state, state.expires) == ("active", REFER_EXPIRES)
    assert referral.state == "ACTIVE"
    fake.reply(200)
    assert recorder.named("SIPIncomingReferralNotifyDidSucceed")[0].sender is referral


def test_send_notify_reports_progress_and_a_final_code_ends_the_implicit_subscription(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    fake.reply(200)
    referral.send_notify(180)
    ringing = fake.reply(200)
    assert ringing.body == b"SIP/2.0 180 Ringing\r\n" and ringing.get("Subscription-State").state == "active"
    referral.send_notify(200, "Fine")
    final = fake.unanswered()
    state = final.get("Subscription-State")
    assert final.body == b"SIP/2.0 200 Fine\r\n" and (state.state, state.reason) == (
        "terminated",
        "noresource",
    )
    assert referral.state == "TERMINATED"
    with pytest.raises(SIPCoreInvalidStateError):
        referral.send_notify(180)
    fake.reply(200)
    [ended] = recorder.named("SIPIncomingReferralDidEnd")
    assert ended.data.originator == "local" and recorder.notifications[-1] is ended
    assert [n.data.state for n in recorder.named("SIPIncomingReferralChangedState")] == [
        "ACTIVE",
        "TERMINATED",
    ]


def test_end_sends_the_last_status_with_terminated(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    fake.reply(200)
    referral.send_notify(183, "Session Progress")
    fake.reply(200)
    referral.end()
    final = fake.reply(200)
    assert final.body == b"SIP/2.0 183 Session Progress\r\n"
    assert final.get("Subscription-State").state == "terminated"
    assert recorder.named("SIPIncomingReferralDidEnd")[0].data.originator == "local"


def test_reject_and_end_before_an_answer(fake, recorder):
    referral = received(fake, recorder)
    referral.reject(603)
    assert fake.responses()[-1].code == 603 and referral.state == "TERMINATED"
    fake.deliver(refer_request(cseq=8))
    second = recorder.named("SIPIncomingReferralGotRefer")[-1].sender
    second.end()
    assert fake.responses()[-1].code == 480


def test_an_unsubscribe_from_the_referrer_gets_the_final_notify(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    first = fake.reply(200)
    unsubscribe = in_dialog_request(
        "SUBSCRIBE", first, refer_request(), 8, (("Event", "refer;id=7"), ("Expires", "0"))
    )
    assert fake.deliver(unsubscribe).code == 200
    final = fake.reply(200)
    assert final.get("Subscription-State").reason == "timeout"
    assert recorder.named("SIPIncomingReferralGotUnsubscribe")[0].sender is referral
    assert recorder.named("SIPIncomingReferralDidEnd")[0].data.originator == "remote"


def test_the_implicit_subscription_expires(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    fake.reply(200)
    fake.clock.advance(REFER_EXPIRES)
    final = fake.reply(200)
    assert final.get("Subscription-State").reason == "timeout" and referral.state == "TERMINATED"


def test_a_notify_the_referrer_answers_481_fails_and_ends_the_referral(fake, recorder):
    referral = received(fake, recorder)
    referral.accept()
    fake.reply(481)
    [failed] = recorder.named("SIPIncomingReferralNotifyDidFail")
    assert (failed.data.code, failed.sender) == (481, referral) and failed.data.reason
    [ended] = recorder.named("SIPIncomingReferralDidEnd")
    assert ended.data.originator == "remote" and referral.state == "TERMINATED"
    with pytest.raises(SIPCoreInvalidStateError):
        referral.send_notify(200)
