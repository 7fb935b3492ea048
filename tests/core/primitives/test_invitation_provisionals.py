"""Every provisional response to our INVITE reaches the application, on the fake engine: the
first one moves the invitation to early, each later 18x (another code, another fork) is posted
as SIPInvitationChangedState early -> early with its code and reason; a 100 Trying, a repeated
reliable 18x (same RSeq) and a 18x after our CANCEL are not. Early SDP (RFC 3261 §13.2.1,
RFC 3262) is taken from whichever 18x carries the first answer."""

from __future__ import annotations

import pytest

from sipsimple.core.primitives.invitation._state import (
    REPORTED_LOOPS,
    TABLE,
    InvitationEvent,
    InvitationState,
)

from .test_invitation import InviteFakeEngine, call, sdp
from .test_invitation_extensions import provisional_with


@pytest.fixture
def fake() -> InviteFakeEngine:
    return InviteFakeEngine()


def early_moves(recorder, invitation) -> list[tuple[str, str, int | None, str | None]]:
    """(prev_state, state, code, reason) of each state change that lands in early."""
    return [
        (n.data.prev_state, n.data.state, n.data.code, n.data.reason)
        for n in recorder.named("SIPInvitationChangedState")
        if n.sender is invitation and n.data.state == "early"
    ]


def sdp_updates(recorder, invitation) -> list[bool]:
    return [n.data.succeeded for n in recorder.named("SIPInvitationGotSDPUpdate") if n.sender is invitation]


def test_the_reported_self_loops_are_moves_of_the_table():
    for pair in REPORTED_LOOPS:
        assert TABLE[pair] is pair[0]
    assert (InvitationState.EARLY, InvitationEvent.RECEIVE_PROVISIONAL) in REPORTED_LOOPS


def test_a_183_with_sdp_then_a_180_are_both_reported_and_the_early_answer_is_kept(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode())
    provisional_with(fake, invite, 180)
    assert early_moves(recorder, invitation) == [
        ("calling", "early", 183, "Session Progress"),
        ("early", "early", 180, "Ringing"),
    ]
    assert sdp_updates(recorder, invitation) == [True]  # the 180 carries no SDP: nothing new
    assert invitation.sdp.active_remote.media[0].port == 5000
    changed = [n.data for n in recorder.named("SIPInvitationChangedState") if n.sender is invitation]
    assert changed[-1].originator == "remote" and changed[-1].sub_state is None
    assert changed[-1].prev_sub_state is None


def test_a_180_then_a_183_with_sdp_reports_both_and_takes_the_early_media_of_the_second(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180)
    assert invitation.sdp.active_remote is None
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode())
    assert [m[2] for m in early_moves(recorder, invitation)] == [180, 183]
    assert sdp_updates(recorder, invitation) == [True]
    assert invitation.sdp.active_remote.media[0].port == 5000
    # the 2xx repeats the answer: nothing is renegotiated and the call connects
    fake.respond(invite, 200, body=str(sdp(5000)).encode())
    assert invitation.state == "connected" and sdp_updates(recorder, invitation) == [True]


def test_a_later_183_with_other_sdp_is_reported_but_does_not_replace_the_first_answer(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode())
    provisional_with(fake, invite, 183, body=str(sdp(6000, version=2)).encode())
    assert [m[2] for m in early_moves(recorder, invitation)] == [183, 183]
    assert invitation.sdp.active_remote.media[0].port == 5000  # one offer, one answer (RFC 3264)


def test_the_18x_of_a_second_fork_is_reported_with_its_code(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180, tag="fork-a")
    provisional_with(fake, invite, 182, tag="fork-b")
    assert [m[:3] for m in early_moves(recorder, invitation)] == [
        ("calling", "early", 180),
        ("early", "early", 182),
    ]
    assert set(invitation._early) == {"fork-a", "fork-b"}


def test_a_100_trying_is_not_reported(fake, recorder):
    invitation, invite = call(fake)
    fake.respond(invite, 100)
    assert invitation.state == "calling" and early_moves(recorder, invitation) == []
    provisional_with(fake, invite, 180)
    fake.respond(invite, 100)  # a late 100 changes nothing either
    assert [m[2] for m in early_moves(recorder, invitation)] == [180]


def test_an_unreliable_18x_sent_again_is_reported_again(fake, recorder):
    """Without RSeq there is no way to tell a repeated 18x from a new one (a UAS may resend
    its 18x every minute, RFC 3261 §13.3.1.1): each is passed on."""
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180)
    provisional_with(fake, invite, 180)
    assert [m[2] for m in early_moves(recorder, invitation)] == [180, 180]


def test_a_retransmitted_reliable_183_is_reported_and_pracked_once_and_the_next_rseq_again(fake, recorder):
    invitation, invite = call(fake)
    first = (("Require", "100rel"), ("RSeq", "41"))
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode(), headers=first)
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode(), headers=first)
    provisional_with(fake, invite, 183, body=str(sdp(5000)).encode(), headers=first)
    assert [m[2] for m in early_moves(recorder, invitation)] == [183]
    assert len(fake.sent("PRACK")) == 1 and sdp_updates(recorder, invitation) == [True]
    provisional_with(fake, invite, 180, headers=(("Require", "100rel"), ("RSeq", "42")))
    provisional_with(fake, invite, 180, headers=(("Require", "100rel"), ("RSeq", "42")))
    assert [m[2] for m in early_moves(recorder, invitation)] == [183, 180]
    assert [str(p.get("RAck").body).split()[0] for p in fake.sent("PRACK")] == ["41", "42"]


def test_reliable_sequences_are_counted_per_fork(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180, tag="fork-a", headers=(("Require", "100rel"), ("RSeq", "9")))
    provisional_with(fake, invite, 180, tag="fork-b", headers=(("Require", "100rel"), ("RSeq", "9")))
    assert [m[:3] for m in early_moves(recorder, invitation)] == [
        ("calling", "early", 180),
        ("early", "early", 180),
    ]
    assert sorted(p.to_header.tag for p in fake.sent("PRACK")) == ["fork-a", "fork-b"]


def test_a_provisional_after_our_cancel_is_not_reported(fake, recorder):
    invitation, invite = call(fake)
    provisional_with(fake, invite, 180)
    invitation.end()
    provisional_with(fake, invite, 183)
    assert invitation.state == "disconnecting"
    assert [m[2] for m in early_moves(recorder, invitation)] == [180]
