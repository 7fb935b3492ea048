"""REFER inside an INVITE dialog (RFC 3515, RFC 5057) on the fake engine with a Clock: the
transfer usage's table and helpers, then both roles of the Invitation driver against a scripted
peer: NOTIFY matching, 405 refusals, Timer N, the referee's NOTIFY queue, refusals of bad
REFERs, retransmissions, unsubscribe, and a BYE in the middle of a transfer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.primitives.invitation._transfer_state import (
    TABLE,
    TransferEvent,
    TransferState,
    TransferStateError,
    event_matches,
    refer_to_for,
    sipfrag,
    subscription_state,
    transfer_transition,
)
from sipsimple.core.sip.dialog import DialogID
from sipsimple.core.sip.headers import EventHeader, ReferToHeader, ReplacesHeader, SubscriptionStateHeader
from sipsimple.core.sip.transaction import Culprit
from sipsimple.core.sip.uri import SIPURI

from .dialog_fakes import PEER
from .test_invitation import InviteFakeEngine, connect, in_dialog

T1 = 0.5
CAROL = SIPURI("127.0.0.3", user="carol", port=5062)


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


# -- the table and the helpers ------------------------------------------------------------------


@given(st.sampled_from(list(TransferState)), st.sampled_from(list(TransferEvent)))
def test_every_state_event_pair_either_follows_the_table_or_is_refused(state, event):
    if (state, event) in TABLE:
        assert transfer_transition(state, event) is TABLE[(state, event)]
    else:
        with pytest.raises(TransferStateError) as raised:
            transfer_transition(state, event, Culprit.REMOTE)
        assert raised.value.culprit is Culprit.REMOTE


def test_terminated_is_final_and_only_null_starts_a_transfer():
    assert not [pair for pair in TABLE if pair[0] is TransferState.TERMINATED]
    starts = {event for (state, event) in TABLE if state is TransferState.NULL}
    assert starts == {TransferEvent.SEND_REFER, TransferEvent.RECEIVE_REFER}


def test_a_blind_refer_to_carries_only_the_target():
    header = refer_to_for(CAROL)
    assert header.uri == CAROL and dict(header.uri.headers) == {}


def test_an_attended_refer_to_carries_replaces_naming_the_dialog_from_the_peer_side():
    header = refer_to_for(CAROL, DialogID("c1@h", "ours", "theirs"))
    parsed = ReferToHeader.parse(str(header).split(":", 1)[1].strip())
    replaces = ReplacesHeader.parse(parsed.uri.headers["Replaces"])
    # the target sees the dialog from the other end: its to-tag is our remote tag
    assert (replaces.call_id, replaces.to_tag, replaces.from_tag) == ("c1@h", "theirs", "ours")
    assert CAROL.headers == {}  # the target given is not changed


def test_notify_events_match_our_refer_by_cseq_or_without_an_id():
    assert event_matches(EventHeader("refer", {"id": "7"}), 7)
    assert event_matches(EventHeader("refer"), 7)
    assert event_matches(EventHeader("refer", {"id": "3"}), None)  # before the 202 names the CSeq
    assert not event_matches(EventHeader("refer", {"id": "8"}), 7)
    assert not event_matches(EventHeader("presence"), 7)
    assert not event_matches(None, 7)


def test_the_sipfrag_and_subscription_state_of_our_notifies():
    assert sipfrag(180, "Ringing") == b"SIP/2.0 180 Ringing\r\n"
    assert str(subscription_state(None, 60)).endswith("active;expires=60")
    assert str(subscription_state("noresource", 60)).endswith("terminated;reason=noresource")


# -- helpers playing the peer -------------------------------------------------------------------


def peer_notify(invite, cseq, refer_cseq, status, state, event=True):
    request = in_dialog("NOTIFY", invite, cseq)
    if event:
        request.add("Event", EventHeader("refer", {"id": str(refer_cseq)}))
    if state is not None:
        request.add("Subscription-State", SubscriptionStateHeader.parse(state))
    request.add("Content-Type", "message/sipfrag;version=2.0")
    request.body = status
    return request


def peer_refer(invite, cseq, target="<sip:carol@127.0.0.3:5062>", referred_by="<sip:peer@example.test>"):
    request = in_dialog("REFER", invite, cseq)
    if target is not None:
        request.add("Refer-To", target)
    if referred_by is not None:
        request.add("Referred-By", referred_by)
    return request


def data(recorder, name, sender):
    return [n.data for n in recorder.named(name) if n.sender is sender]


def transfer_names(recorder, sender):
    return [n.name for n in recorder.notifications if n.sender is sender and "Transfer" in n.name]


# -- referrer -------------------------------------------------------------------------------------


def test_a_transfer_sends_refer_then_reports_the_notifies_until_the_final_one(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.transfer(CAROL)
    refer = fake.sent("REFER")[-1]
    assert refer.get("Refer-To").uri == CAROL
    assert "alice@example.test" in str(refer.get("Referred-By"))
    fake.respond(refer, 202)
    assert invitation.transfer_state == "active"
    cseq = refer.cseq.number
    assert (
        fake.deliver(peer_notify(invite, 2, cseq, b"SIP/2.0 100 Trying\r\n", "active;expires=60")).code == 200
    )
    assert (
        fake.deliver(peer_notify(invite, 3, cseq, b"SIP/2.0 180 Ringing\r\n", "active;expires=60")).code
        == 200
    )
    final = peer_notify(invite, 4, cseq, b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource")
    assert fake.deliver(final).code == 200
    assert [(d.code, d.final) for d in data(recorder, "SIPInvitationTransferGotNotify", invitation)] == [
        (100, False), (180, False), (200, True)
    ]  # fmt: skip
    end = data(recorder, "SIPInvitationTransferDidEnd", invitation)[0]
    assert (end.role, end.originator, end.code, end.reason) == ("referrer", "remote", 200, "OK")
    assert invitation.transfer_state == "terminated" and invitation.state == "connected"
    late = peer_notify(invite, 5, cseq, b"SIP/2.0 200 OK\r\n", "terminated;reason=noresource")
    assert fake.deliver(late).code == 481  # the subscription is over


def test_an_attended_transfer_puts_replaces_in_the_refer_to(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.transfer(CAROL, DialogID("other@h", "l-tag", "r-tag"))
    uri = fake.sent("REFER")[-1].get("Refer-To").uri
    assert ReplacesHeader.parse(uri.headers["Replaces"]).call_id == "other@h"


@pytest.mark.parametrize("code", [405, 501, 603])
def test_a_refused_refer_fails_the_transfer_with_the_code_and_keeps_the_call(fake, recorder, code):
    invitation, _ = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.respond(fake.sent("REFER")[-1], code)
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)[0]
    assert (fail.role, fail.code) == ("referrer", code)
    assert data(recorder, "SIPInvitationTransferDidStart", invitation) == []
    assert invitation.state == "connected"


def test_without_a_notify_within_64_t1_of_the_202_the_transfer_fails_408(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.respond(fake.sent("REFER")[-1], 202)
    fake.clock.advance(64 * T1 - 0.1)
    assert data(recorder, "SIPInvitationTransferDidFail", invitation) == []
    fake.clock.advance(0.2)
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == 408


def test_a_notify_before_the_202_starts_the_transfer_once(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.transfer(CAROL)
    refer = fake.sent("REFER")[-1]
    fake.deliver(peer_notify(invite, 2, refer.cseq.number, b"SIP/2.0 100 Trying\r\n", "active;expires=60"))
    fake.respond(refer, 202)
    assert transfer_names(recorder, invitation) == [
        "SIPInvitationTransferNewOutgoing", "SIPInvitationTransferDidStart", "SIPInvitationTransferGotNotify"
    ]  # fmt: skip


def test_notifies_that_are_not_about_our_refer_are_refused(fake, recorder):
    invitation, invite = connect(fake, recorder)
    assert fake.deliver(peer_notify(invite, 2, 1, b"SIP/2.0 100 Trying\r\n", "active")).code == 481
    invitation.transfer(CAROL)
    refer = fake.sent("REFER")[-1]
    fake.respond(refer, 202)
    other = peer_notify(invite, 3, refer.cseq.number + 5, b"SIP/2.0 100 Trying\r\n", "active")
    assert fake.deliver(other).code == 481
    no_event = peer_notify(invite, 4, refer.cseq.number, b"", "active", event=False)
    assert fake.deliver(no_event).code == 489
    no_state = peer_notify(invite, 5, refer.cseq.number, b"SIP/2.0 100 Trying\r\n", None)
    assert fake.deliver(no_state).code == 400
    assert data(recorder, "SIPInvitationTransferGotNotify", invitation) == []


def test_one_transfer_at_a_time_and_only_when_connected(fake, recorder):
    invitation, _ = connect(fake, recorder)
    invitation.transfer(CAROL)
    with pytest.raises(Exception, match="already in progress"):
        invitation.transfer(CAROL)


def test_a_bye_during_our_transfer_fails_it_with_481(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.respond(fake.sent("REFER")[-1], 202)
    assert fake.deliver(in_dialog("BYE", invite, 2)).code == 200
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)[0]
    assert (fail.code, fail.role) == (481, "referrer")
    assert invitation.state == "disconnected"
    fake.clock.advance(64 * T1 + 1)  # no timer of the transfer is left to fire
    assert len(data(recorder, "SIPInvitationTransferDidFail", invitation)) == 1


# -- referee ----------------------------------------------------------------------------------------


def offered(fake, recorder):
    invitation, invite = connect(fake, recorder)
    refer = peer_refer(invite, 2)
    response = fake.deliver(refer)
    assert response is None or response.code == 100  # no answer before the owner decides
    return invitation, invite, refer


def answer_last_notify(fake, code=200):
    notify = fake.sent("NOTIFY")[-1]
    fake.respond(notify, code)
    return notify


def test_a_refer_is_offered_accepted_with_202_and_progress_is_notified_in_order(fake, recorder):
    invitation, invite, refer = offered(fake, recorder)
    new = data(recorder, "SIPInvitationTransferNewIncoming", invitation)[0]
    assert new.refer_to.uri == SIPURI("127.0.0.3", user="carol", port=5062)
    assert new.referred_by == "<sip:peer@example.test>"
    invitation.accept_transfer()
    assert fake.response_to(refer).code == 202
    first = fake.sent("NOTIFY")[-1]
    assert first.body == b"SIP/2.0 100 Trying\r\n"
    assert first.get("Event").id == str(refer.cseq.number)
    assert first.get("Subscription-State").state == "active"
    assert first.call_id == invite.call_id  # the session's dialog, not a new one
    invitation.notify_transfer_progress(180)
    invitation.notify_transfer_progress(200)  # queued behind the NOTIFYs in flight
    assert len(fake.sent("NOTIFY")) == 1
    answer_last_notify(fake)
    second = answer_last_notify(fake)
    assert second.body == b"SIP/2.0 200 OK\r\n"  # only the newest status goes after the queue
    assert str(second.get("Subscription-State")).endswith("terminated;reason=noresource")
    assert data(recorder, "SIPInvitationTransferDidEnd", invitation) != []
    end = data(recorder, "SIPInvitationTransferDidEnd", invitation)[0]
    assert (end.role, end.originator, end.code) == ("referee", "local", 200)
    assert len(fake.sent("NOTIFY")) == 2


def test_a_retransmitted_refer_is_offered_once(fake, recorder):
    invitation, _, refer = offered(fake, recorder)
    fake.deliver(refer)  # the same Via branch: the transaction absorbs it
    assert len(data(recorder, "SIPInvitationTransferNewIncoming", invitation)) == 1


def test_a_rejected_refer_gets_the_code_and_fails_locally(fake, recorder):
    invitation, _, refer = offered(fake, recorder)
    invitation.reject_transfer(603)
    assert fake.response_to(refer).code == 603
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)[0]
    assert (fail.role, fail.originator, fail.code, fail.reason) == ("referee", "local", 603, "Decline")
    assert fake.sent("NOTIFY") == []


def test_an_unanswered_refer_gets_408_before_the_referrer_gives_up(fake, recorder):
    invitation, _, refer = offered(fake, recorder)
    fake.clock.advance(32 * T1 + 0.1)
    assert fake.response_to(refer).code == 408
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == 408


@pytest.mark.parametrize(
    ("target", "code"),
    [(None, 400), ("<tel:+15551234>", 400)],
)
def test_a_refer_without_a_sip_refer_to_is_refused(fake, recorder, target, code):
    invitation, invite = connect(fake, recorder)
    assert fake.deliver(peer_refer(invite, 2, target=target)).code == code
    assert data(recorder, "SIPInvitationTransferNewIncoming", invitation) == []


def test_a_second_refer_while_one_runs_gets_491(fake, recorder):
    invitation, invite, _ = offered(fake, recorder)
    assert fake.deliver(peer_refer(invite, 3)).code == 491
    assert len(data(recorder, "SIPInvitationTransferNewIncoming", invitation)) == 1


def test_an_unsubscribe_ends_the_implicit_subscription_with_a_timeout_notify(fake, recorder):
    invitation, invite, refer = offered(fake, recorder)
    invitation.accept_transfer()
    answer_last_notify(fake)
    subscribe = in_dialog("SUBSCRIBE", invite, 3)
    subscribe.add("Event", EventHeader("refer", {"id": str(refer.cseq.number)}))
    subscribe.add("Expires", "0")
    assert fake.deliver(subscribe).code == 200
    last = answer_last_notify(fake)
    assert str(last.get("Subscription-State")).endswith("terminated;reason=timeout")
    assert data(recorder, "SIPInvitationTransferDidEnd", invitation)[0].role == "referee"


def test_the_implicit_subscription_expires_with_a_final_notify(fake, recorder):
    invitation, _, _ = offered(fake, recorder)
    invitation.accept_transfer()
    answer_last_notify(fake)
    fake.clock.advance(600 + 1)
    last = answer_last_notify(fake)
    assert str(last.get("Subscription-State")).endswith("terminated;reason=timeout")


def test_a_notify_answered_481_fails_the_transfer_and_keeps_the_call(fake, recorder):
    invitation, _, _ = offered(fake, recorder)
    invitation.accept_transfer()
    answer_last_notify(fake, 481)
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)[0]
    assert (fail.code, fail.originator) == (481, "remote")
    assert invitation.state == "connected"  # RFC 5057: only the transfer usage is gone


def test_a_bye_while_the_referred_call_is_set_up_fails_the_transfer(fake, recorder):
    invitation, invite, _ = offered(fake, recorder)
    invitation.accept_transfer()
    answer_last_notify(fake)
    fake.deliver(in_dialog("BYE", invite, 3))
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == 481
    with pytest.raises(Exception, match="no received transfer"):
        invitation.notify_transfer_progress(200)


def test_progress_before_the_accept_is_a_local_misuse(fake, recorder):
    invitation, _, _ = offered(fake, recorder)
    with pytest.raises(Exception, match="no received transfer"):
        invitation.notify_transfer_progress(180)
    with pytest.raises(ValueError):
        invitation.reject_transfer(200)


def test_a_refer_from_an_unknown_dialog_gets_481(fake, recorder):
    _, invite = connect(fake, recorder)
    stranger = peer_refer(invite, 2)
    stranger.to_header.parameters["tag"] = "not-ours"
    response = fake.deliver(stranger, PEER)
    assert response.code == 481


def test_an_unanswered_notify_times_out_fails_the_transfer_and_keeps_the_call(fake, recorder):
    invitation, _, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.clock.advance(64 * T1 + 1)  # the NOTIFY's transaction gives up (Timer F)
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)[0]
    assert (fail.code, fail.role) == (408, "referee")
    assert invitation.state == "connected"  # RFC 5057: the timeout ends the transfer usage only
