"""Referral (RFC 3515, referrer side) on a fake transport and a Clock: the REFER it sends, sipfrag
NOTIFYs parsed into the referred request's status, the implicit subscription's end by the
notifier, Timer N, end() with SUBSCRIBE Event: refer;id, and the sipfrag parser."""

from __future__ import annotations

import pytest

from sipsimple.core import SIPCoreInvalidStateError
from sipsimple.core.engine import SIPEngine
from sipsimple.core.primitives import Referral, install_incoming_handlers
from sipsimple.core.primitives.referral import parse_sipfrag_status
from sipsimple.core.sip.credentials import Credentials
from sipsimple.core.sip.headers import ContactHeader, EventHeader, ReferToHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from tests.support.reactor import WAIT
from tests.support.wait import wait_for_notification

from .conftest import ALICE, CONTACT, ROUTE
from .dialog_fakes import DialogFakeEngine, notify_for

BOB = ToHeader(SIPURI("example.test", user="bob"))
CAROL = ReferToHeader(SIPURI("example.test", user="carol"))
SIPFRAG = "message/sipfrag;version=2.0"
TIMER_N = 64 * 0.5


@pytest.fixture
def fake() -> DialogFakeEngine:
    return DialogFakeEngine()


def new_referral(fake, **options) -> Referral:
    return Referral(BOB.uri, ALICE, BOB, CAROL, CONTACT, ROUTE, engine=fake, **options)


def frag(refer, text: str, cseq: int, state: str = "active;expires=600"):
    return notify_for(refer, state, cseq, body=text.encode(), content_type=SIPFRAG)


def accepted(fake):
    referral = new_referral(fake)
    referral.send_refer()
    refer = fake.reply(202, [("Contact", "<sip:peer@127.0.0.2>")])
    return referral, refer


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"SIP/2.0 200 OK\r\n", (200, "OK")),
        (b"SIP/2.0 100 Trying", (100, "Trying")),
        (b"SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n", (486, "Busy Here")),
        (b"SIP/2.0 603\r\n", (603, "")),
        (b"INVITE sip:carol@example.test SIP/2.0\r\n", (None, None)),
        (b"", (None, None)),
        (b"SIP/2.0 99 Too Low\r\n", (None, None)),
    ],
)
def test_a_sipfrag_status_line_gives_the_code_and_reason(body, expected):
    assert parse_sipfrag_status(body) == expected


def test_the_refer_carries_refer_to_contact_and_accepts_sipfrag(fake, recorder):
    referral = new_referral(fake)
    referral.send_refer()
    request, destination = fake.requests()[0]
    assert request.method == "REFER" and request.request_uri == "sip:bob@example.test"
    assert str(request.get("Refer-To").uri) == "sip:carol@example.test"
    assert request.get("Contact").uri == CONTACT.uri and request.from_header.tag
    assert request.get_raw("Accept") == "message/sipfrag" and request.get("Event") is None
    assert str(destination) == "udp:127.0.0.2:5060" and referral.state == "REFERRING"
    with pytest.raises(SIPCoreInvalidStateError):
        referral.send_refer()


def test_sipfrag_notifies_report_the_referred_requests_progress_and_the_final_one_ends(fake, recorder):
    referral, refer = accepted(fake)
    fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 1))
    assert referral.state == "ACTIVE"
    fake.deliver(frag(refer, "SIP/2.0 180 Ringing\r\n", 2))
    fake.deliver(frag(refer, "SIP/2.0 200 OK\r\n", 3, state="terminated;reason=noresource"))
    got = recorder.named("SIPReferralGotNotify")
    assert [(n.data.code, n.data.reason) for n in got] == [(100, "Trying"), (180, "Ringing"), (200, "OK")]
    assert got[0].data.content_type == "message/sipfrag" and got[0].data.event == "refer"
    assert got[0].sender is referral and got[0].data.body == b"SIP/2.0 100 Trying\r\n"
    [ended] = recorder.named("SIPReferralDidEnd")
    assert (ended.data.originator, ended.data.reason) == ("remote", "noresource")
    assert [n.data.state for n in recorder.named("SIPReferralChangedState")] == [
        "REFERRING",
        "ACTIVE",
        "TERMINATED",
    ]
    assert recorder.notifications[-1] is ended


def test_a_notify_with_the_refer_cseq_as_event_id_matches_and_another_id_gets_489(fake, recorder):
    _referral, refer = accepted(fake)
    good = frag(refer, "SIP/2.0 100 Trying\r\n", 1)
    good.set("Event", EventHeader("refer", {"id": str(refer.cseq.number)}))
    assert fake.deliver(good).code == 200
    bad = frag(refer, "SIP/2.0 100 Trying\r\n", 2)
    bad.set("Event", EventHeader("refer", {"id": "999"}))
    assert fake.deliver(bad).code == 489


def test_a_notify_before_the_202_creates_the_dialog(fake, recorder):
    referral = new_referral(fake)
    referral.send_refer()
    refer = fake.unanswered()
    assert fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 1)).code == 200
    assert referral.state == "ACTIVE"
    fake.answer(refer, 202)
    assert referral.state == "ACTIVE" and recorder.named("SIPReferralDidFail") == []


def test_a_rejected_refer_fails(fake, recorder):
    referral = new_referral(fake)
    referral.send_refer()
    fake.reply(603)
    [failed] = recorder.named("SIPReferralDidFail")
    assert (failed.data.code, failed.data.reason) == (603, "Decline") and referral.state == "TERMINATED"


def test_a_challenged_refer_is_sent_again_with_credentials(fake, recorder, digest):
    referral = new_referral(fake, credentials=Credentials("alice", "secret-alice"))
    referral.send_refer()
    fake.reply(407, [("Proxy-Authenticate", digest.challenge())])
    again = fake.unanswered()
    assert again.get("Proxy-Authorization") is not None and again.cseq.number == 2
    fake.reply(202, [("Contact", "<sip:peer@127.0.0.2>")])
    # the NOTIFY carries the id of the REFER that was accepted
    notify = frag(again, "SIP/2.0 100 Trying\r\n", 1)
    notify.set("Event", EventHeader("refer", {"id": "2"}))
    assert fake.deliver(notify).code == 200


def test_timer_n_fails_the_referral_without_a_notify(fake, recorder):
    referral, _ = accepted(fake)
    fake.clock.advance(TIMER_N)
    [failed] = recorder.named("SIPReferralDidFail")
    assert failed.data.code == 408 and referral.state == "TERMINATED"


def test_end_sends_subscribe_refer_with_expires_0_in_the_dialog(fake, recorder):
    referral, refer = accepted(fake)
    fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 1))
    referral.end()
    unsubscribe = fake.unanswered()
    assert unsubscribe.method == "SUBSCRIBE" and int(unsubscribe.get("Expires")) == 0
    event = unsubscribe.get("Event")
    assert (event.event, event.id) == ("refer", str(refer.cseq.number))
    assert unsubscribe.to_header.tag == "srv" and unsubscribe.cseq.number == refer.cseq.number + 1
    fake.reply(200)
    fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 2, state="terminated;reason=timeout"))
    [ended] = recorder.named("SIPReferralDidEnd")
    assert (ended.data.originator, ended.data.reason) == ("local", "timeout")


def test_end_before_the_202_unsubscribes_as_soon_as_a_notify_creates_the_dialog(fake, recorder):
    referral = new_referral(fake)
    referral.send_refer()
    referral.end()
    refer = fake.unanswered()
    assert fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 1)).code == 200
    unsubscribe = fake.sent("SUBSCRIBE")[-1]
    assert int(unsubscribe.get("Expires")) == 0 and unsubscribe.get("Event").id == str(refer.cseq.number)
    fake.answer(refer, 202)
    assert len(fake.sent("SUBSCRIBE")) == 1  # the 202 sends nothing more
    fake.answer(unsubscribe, 200)
    fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 2, state="terminated;reason=timeout"))
    assert recorder.named("SIPReferralDidEnd")[0].data.originator == "local"


def test_the_expiry_of_the_implicit_subscription_without_a_final_notify_ends_it(fake, recorder):
    _referral, refer = accepted(fake)
    fake.deliver(frag(refer, "SIP/2.0 100 Trying\r\n", 1, state="active;expires=60"))
    fake.clock.advance(60)
    [ended] = recorder.named("SIPReferralDidEnd")
    assert (ended.data.originator, ended.data.code) == ("remote", 408)
    assert fake.methods() == ["REFER"]  # a referral is never sent again by itself


# -- two engines on loopback ---------------------------------------------------------------------


@pytest.fixture
def referrer(loop):
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    yield engine
    loop.wait(engine.stop())


@pytest.fixture
def referee(loop):
    """The engine that takes REFERs (IncomingReferral)."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0)
    install_incoming_handlers(engine)
    yield engine
    loop.wait(engine.stop())


def address_of(engine, user=None):
    return SIPURI("127.0.0.1", user=user, port=engine.local_address("udp").port)


def loop_referral(referrer, referee) -> Referral:
    return Referral(
        address_of(referee, "bob"),
        ALICE,
        BOB,
        CAROL,
        ContactHeader(address_of(referrer, "alice")),
        RouteHeader(address_of(referee)),
        engine=referrer,
    )


def test_a_refer_and_its_sipfrag_notifies_go_round_between_two_engines(loop, referrer, referee, recorder):
    referral = loop_referral(referrer, referee)
    referral.send_refer()
    got = wait_for_notification(loop, recorder, "SIPIncomingReferralGotRefer", timeout=WAIT)
    incoming = got.sender
    assert str(got.data.refer_to_header.uri) == "sip:carol@example.test"
    assert got.data.from_header.uri == ALICE.uri
    incoming.accept()
    trying = wait_for_notification(loop, recorder, "SIPReferralGotNotify", timeout=WAIT)
    assert (trying.data.code, trying.data.reason) == (100, "Trying") and referral.state == "ACTIVE"
    wait_for_notification(loop, recorder, "SIPIncomingReferralNotifyDidSucceed", timeout=WAIT)
    incoming.send_notify(180)
    wait_for_notification(loop, recorder, "SIPIncomingReferralNotifyDidSucceed", count=2, timeout=WAIT)
    incoming.send_notify(200)
    ended = wait_for_notification(loop, recorder, "SIPReferralDidEnd", timeout=WAIT)
    assert (ended.data.originator, ended.data.reason) == ("remote", "noresource")
    codes = [(n.data.code, n.data.reason) for n in recorder.named("SIPReferralGotNotify")]
    assert codes == [(100, "Trying"), (180, "Ringing"), (200, "OK")]
    incoming_ended = wait_for_notification(loop, recorder, "SIPIncomingReferralDidEnd", timeout=WAIT)
    assert incoming_ended.data.originator == "local"
    assert referral.state == incoming.state == "TERMINATED"


def test_the_referrer_ending_the_implicit_subscription_ends_it_on_both_sides(
    loop, referrer, referee, recorder
):
    referral = loop_referral(referrer, referee)
    referral.send_refer()
    incoming = wait_for_notification(loop, recorder, "SIPIncomingReferralGotRefer", timeout=WAIT).sender
    incoming.accept()
    wait_for_notification(loop, recorder, "SIPReferralGotNotify", timeout=WAIT)
    referral.end()
    ended = wait_for_notification(loop, recorder, "SIPReferralDidEnd", timeout=WAIT)
    assert (ended.data.originator, ended.data.reason) == ("local", "timeout")
    incoming_ended = wait_for_notification(loop, recorder, "SIPIncomingReferralDidEnd", timeout=WAIT)
    assert incoming_ended.data.originator == "remote"
    assert recorder.named("SIPIncomingReferralGotUnsubscribe")[0].sender is incoming


def test_a_rejected_refer_fails_between_two_engines(loop, referrer, referee, recorder):
    referral = loop_referral(referrer, referee)
    referral.send_refer()
    wait_for_notification(loop, recorder, "SIPIncomingReferralGotRefer", timeout=WAIT).sender.reject(603)
    failed = wait_for_notification(loop, recorder, "SIPReferralDidFail", timeout=WAIT)
    assert failed.data.code == 603 and referral.state == "TERMINATED"
