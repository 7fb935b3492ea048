"""RFC 5057 in the INVITE dialog: a failed REFER or NOTIFY ends the transfer usage and leaves the
call alone, unless the answer says the dialog itself is unusable. First the classification
table (``sipsimple.core.sip.dialog._usages``) and the Dialog that applies it, then both transfer
roles of the Invitation on the fake engine with a Clock: after each usage-terminating failure the
call is still connected, no BYE went out, and the dialog keeps working (its CSeq goes on, the
peer's requests are answered, a new transfer can start)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sipsimple.core.sip.dialog import (
    DIALOG_TERMINATING,
    USAGE_TERMINATING,
    DialogState,
    Scope,
    ends_dialog,
    failure_scope,
)
from tests.core.sip.test_dialog import answer, uac_dialog

from .test_invitation import InviteFakeEngine, connect, in_dialog, sdp
from .test_refer_in_dialog import CAROL, T1, data, offered

USAGE_ONLY = [481, 489, 405, 501, 408]
TRANSACTION_ONLY = [400, 403, 480, 486, 488, 491, 500, 503, 603]
DIALOG_ENDING = [404, 410, 416, 482, 483, 484, 485, 502, 604]


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


# -- the classification ------------------------------------------------------------------------


def test_each_failure_code_has_one_scope():
    assert not DIALOG_TERMINATING & USAGE_TERMINATING
    assert {failure_scope(code) for code in DIALOG_ENDING} == {Scope.DIALOG}
    assert {failure_scope(code) for code in USAGE_ONLY} == {Scope.USAGE}
    assert {failure_scope(code) for code in TRANSACTION_ONLY} == {Scope.TRANSACTION}
    assert failure_scope(None) is Scope.USAGE  # no response at all counts as a 408


@given(st.one_of(st.none(), st.integers(300, 699)))
def test_a_shared_dialog_ends_only_on_dialog_terminating_codes_and_a_lone_one_on_481_or_408(code):
    assert ends_dialog(code, shared_usage=True) is (failure_scope(code) is Scope.DIALOG)
    assert ends_dialog(code, shared_usage=False) is (code in (None, 408, 481))


def test_a_dialog_shared_by_usages_survives_a_481_and_a_timeout_but_not_a_404():
    dialog, _ = uac_dialog()
    notify, _ = dialog.create_request("NOTIFY")
    verdict = dialog.receive_response(notify, answer(notify, 481), shared_usage=True)
    assert not verdict.terminated and dialog.state is DialogState.CONFIRMED
    later, _ = dialog.create_request("NOTIFY")
    assert not dialog.timed_out(later, shared_usage=True).terminated
    assert dialog.state is DialogState.CONFIRMED
    gone, _ = dialog.create_request("REFER")
    assert dialog.receive_response(gone, answer(gone, 404), shared_usage=True).terminated
    assert dialog.state is DialogState.TERMINATED


def test_a_dialog_with_one_usage_still_ends_on_a_481_or_a_timeout():
    dialog, _ = uac_dialog()
    request, _ = dialog.create_request("INFO")
    assert dialog.receive_response(request, answer(request, 481)).terminated
    other, _ = uac_dialog()
    request, _ = other.create_request("INFO")
    assert other.timed_out(request).terminated


# -- referrer: our REFER fails --------------------------------------------------------------------


def assert_call_still_usable(fake, invitation, invite, next_peer_cseq: int) -> None:
    """The call is connected, no BYE went out, and the dialog still works both ways."""
    assert invitation.state == "connected" and fake.sent("BYE") == []
    assert not invitation.dialog.terminated
    assert fake.deliver(in_dialog("INFO", invite, next_peer_cseq)).code == 200
    before = invitation.dialog.local_cseq
    invitation.send_reinvite(sdp=sdp(4000, "sendonly"))
    reinvite = fake.sent("INVITE")[-1]
    assert reinvite.cseq.number == before + 1  # the CSeq space goes on after the failed request
    fake.respond(reinvite, 200, body=str(sdp(5000, "recvonly", 2)).encode())
    assert invitation.state == "connected" and invitation.sub_state == "normal"


@pytest.mark.parametrize("code", USAGE_ONLY + TRANSACTION_ONLY)
def test_a_refer_refused_with_a_usage_or_transaction_code_fails_only_the_transfer(fake, recorder, code):
    invitation, invite = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.respond(fake.sent("REFER")[-1], code)
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)
    assert [(f.role, f.code, f.originator) for f in fail] == [("referrer", code, "remote")]
    assert_call_still_usable(fake, invitation, invite, next_peer_cseq=2)
    invitation.transfer(CAROL)  # the usage is gone, so a new transfer may start
    assert invitation.transfer_state == "referring"


def test_an_unanswered_refer_fails_the_transfer_408_and_keeps_the_call(fake, recorder):
    invitation, invite = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.clock.advance(64 * T1 + 1)  # Timer F of the REFER
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)
    assert [(f.role, f.code) for f in fail] == [("referrer", 408)]
    assert_call_still_usable(fake, invitation, invite, next_peer_cseq=2)


@pytest.mark.parametrize("code", DIALOG_ENDING)
def test_a_refer_answered_with_a_dialog_terminating_code_ends_the_call_without_a_bye(fake, recorder, code):
    invitation, _ = connect(fake, recorder)
    invitation.transfer(CAROL)
    fake.respond(fake.sent("REFER")[-1], code)
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == code
    assert invitation.state == "disconnected" and fake.sent("BYE") == []
    last = [n.data for n in recorder.named("SIPInvitationChangedState") if n.sender is invitation][-1]
    assert (last.originator, last.code) == ("remote", code)


# -- referee: our NOTIFY fails --------------------------------------------------------------------


@pytest.mark.parametrize("code", USAGE_ONLY + TRANSACTION_ONLY)
def test_a_notify_refused_with_a_usage_or_transaction_code_fails_only_the_transfer(fake, recorder, code):
    invitation, invite, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.respond(fake.sent("NOTIFY")[-1], code)
    fail = data(recorder, "SIPInvitationTransferDidFail", invitation)
    assert [(f.role, f.code, f.originator) for f in fail] == [("referee", code, "remote")]
    with pytest.raises(Exception, match="no received transfer"):
        invitation.notify_transfer_progress(180)  # the usage is over: no more NOTIFYs
    assert len(fake.sent("NOTIFY")) == 1
    assert_call_still_usable(fake, invitation, invite, next_peer_cseq=3)


def test_an_unanswered_notify_fails_the_transfer_and_keeps_the_dialog_usable(fake, recorder):
    invitation, invite, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.clock.advance(64 * T1 + 1)  # Timer F of the NOTIFY
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == 408
    assert_call_still_usable(fake, invitation, invite, next_peer_cseq=3)


def test_a_final_notify_answered_481_ends_the_transfer_and_keeps_the_call(fake, recorder):
    invitation, invite, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.respond(fake.sent("NOTIFY")[-1], 200)
    invitation.notify_transfer_progress(200)
    fake.respond(fake.sent("NOTIFY")[-1], 481)
    end = data(recorder, "SIPInvitationTransferDidEnd", invitation)
    assert [(e.role, e.code) for e in end] == [("referee", 200)]
    assert_call_still_usable(fake, invitation, invite, next_peer_cseq=3)


@pytest.mark.parametrize("code", DIALOG_ENDING)
def test_a_notify_answered_with_a_dialog_terminating_code_ends_the_call_without_a_bye(fake, recorder, code):
    invitation, _, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.respond(fake.sent("NOTIFY")[-1], code)
    assert data(recorder, "SIPInvitationTransferDidFail", invitation)[0].code == code
    assert invitation.state == "disconnected" and fake.sent("BYE") == []


def test_the_peers_refer_after_a_failed_usage_starts_a_new_transfer(fake, recorder):
    """After our NOTIFY got 489 the referrer may REFER again in the same dialog."""
    from .test_refer_in_dialog import peer_refer

    invitation, invite, _ = offered(fake, recorder)
    invitation.accept_transfer()
    fake.respond(fake.sent("NOTIFY")[-1], 489)
    response = fake.deliver(peer_refer(invite, 3))
    assert response is None or response.code == 100
    assert len(data(recorder, "SIPInvitationTransferNewIncoming", invitation)) == 2
    assert invitation.incoming_transfer_state == "offered" and invitation.state == "connected"
