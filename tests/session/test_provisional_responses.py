"""An outgoing Session hears every provisional response to its INVITE: SIPSessionGotProvisionalResponse
(``code``, ``reason``) for each 18x and SIPSessionGotRingIndication for each 180, in the order they
arrived, with early SDP taken from the 18x that carries it. A repeated reliable 18x (same RSeq) is
reported once. The callee is a core Invitation on its own SIPEngine, so each test chooses exactly
which responses go on the wire."""

from __future__ import annotations

from typing import Any

import pytest

from sipsimple.core.primitives import install_invitation_handler
from sipsimple.session._sdp import answer_sdp
from tests.session.test_session_loopback import call, named
from tests.streams.fake import FakeStream


@pytest.fixture
def callee_invitations(bob_engine) -> list[Any]:
    """Every INVITE that reaches bob's engine, as a core Invitation (no SessionManager there)."""
    got: list[Any] = []
    install_invitation_handler(bob_engine, got.append)
    return got


def invited(loop, invitations):
    loop.run_until(lambda: invitations and invitations[0].state == "incoming", what="the INVITE at bob")
    return invitations[0]


def early_answer(invitation):
    """Bob's answer to the caller's offer (one FakeStream line on port 40000)."""
    return answer_sdp("127.0.0.1", invitation.sdp.proposed_remote, [FakeStream()])


def provisionals(recorder, session) -> list[tuple[int, str]]:
    return [(d.code, d.reason) for d in named(recorder, "SIPSessionGotProvisionalResponse", session)]


def early_names(recorder, session) -> list[str]:
    wanted = ("SIPSessionGotProvisionalResponse", "SIPSessionGotRingIndication", "SIPSessionWillStart",
              "SIPSessionDidStart")  # fmt: skip
    return [n.name for n in recorder.notifications if n.sender is session and n.name in wanted]


def answer_and_connect(loop, caller, invitation) -> None:
    invitation.send_response(200)  # the answer already went in the 18x: the 2xx repeats it
    loop.run_until(lambda: caller.state == "connected", what="the caller connected")


def test_a_183_with_sdp_then_a_180_are_both_reported_and_the_183_sdp_starts_the_streams(
    loop, alice, bob_engine, callee_invitations, recorder
):
    stream = FakeStream()
    caller = call(loop, alice, bob_engine, [stream])
    bob = invited(loop, callee_invitations)
    bob.send_response(183, sdp=early_answer(bob))
    loop.run_until(lambda: provisionals(recorder, caller), what="the 183 at the caller")
    assert caller._invitation.sdp.active_remote.media[0].port == FakeStream.port  # early media
    bob.send_response(180)
    loop.run_until(lambda: len(provisionals(recorder, caller)) == 2, what="the 180 at the caller")
    assert provisionals(recorder, caller) == [(183, "Session Progress"), (180, "Ringing")]
    answer_and_connect(loop, caller, bob)
    assert early_names(recorder, caller) == [
        "SIPSessionGotProvisionalResponse", "SIPSessionGotRingIndication",
        "SIPSessionGotProvisionalResponse", "SIPSessionWillStart", "SIPSessionDidStart",
    ]  # fmt: skip
    assert stream.calls == ["initialize outgoing", "start 0"]


def test_a_180_then_a_183_with_sdp_rings_once_and_takes_the_early_sdp_of_the_183(
    loop, alice, bob_engine, callee_invitations, recorder
):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    bob = invited(loop, callee_invitations)
    bob.send_response(180)
    loop.run_until(lambda: named(recorder, "SIPSessionGotRingIndication", caller), what="the ring")
    assert caller._invitation.sdp.active_remote is None
    bob.send_response(183, sdp=early_answer(bob))
    loop.run_until(lambda: len(provisionals(recorder, caller)) == 2, what="the 183 at the caller")
    assert provisionals(recorder, caller) == [(180, "Ringing"), (183, "Session Progress")]
    assert caller._invitation.sdp.active_remote.media[0].port == FakeStream.port
    assert len(named(recorder, "SIPSessionGotRingIndication", caller)) == 1  # a 183 is not a ring
    answer_and_connect(loop, caller, bob)
    assert caller.streams and named(recorder, "SIPSessionDidStart", caller)


def test_a_reliable_183_sent_again_with_the_same_rseq_is_reported_once(
    loop, alice, bob_engine, callee_invitations, recorder
):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    bob = invited(loop, callee_invitations)
    bob.send_response(183, sdp=early_answer(bob), reliable=True)
    reliable_183, rseq = bob._reliable
    loop.run_until(lambda: bob._reliable is None, what="the caller's PRACK at bob")
    bob._transaction.send_response(reliable_183)  # the very same 183 (same RSeq) once more
    bob.send_response(180, reliable=True)
    assert bob._reliable[1] == rseq + 1
    loop.run_until(lambda: bob._reliable is None, what="the PRACK of the 180")
    assert provisionals(recorder, caller) == [(183, "Session Progress"), (180, "Ringing")]
    assert len(named(recorder, "SIPSessionGotRingIndication", caller)) == 1
    answer_and_connect(loop, caller, bob)
    assert provisionals(recorder, caller) == [(183, "Session Progress"), (180, "Ringing")]
