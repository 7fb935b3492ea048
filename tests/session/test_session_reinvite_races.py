"""Re-INVITE races between two Sessions on loopback (fake streams), found by the two-process
tests: hold from both sides at once (RFC 3261 §14.1 glare), a hold the peer refuses, and the
peer's exchange finishing after the session ended."""

from __future__ import annotations

from typing import Any

from sipsimple.notification import NotificationCenter
from tests.session.test_session_loopback import connected_pair, named


class QuickGlare:
    """The Invitation's random source with the glare waits scaled down 40 times (the callee's
    0-2 s becomes 0, the owner's 2.1-4 s about 50 ms), so no test waits seconds for a retry."""

    def uniform(self, low: float, high: float) -> float:
        return low / 40


def hold_changes(recorder: Any, session: Any) -> list[tuple[str, bool]]:
    return [(d.originator, d.on_hold) for d in named(recorder, "SIPSessionDidChangeHoldState", session)]


def test_hold_from_both_sides_at_once_gets_a_491_and_both_sides_end_up_held(
    loop, alice, bob_engine, bob_manager, recorder
):
    """Both re-INVITEs cross and get 491. The callee retries first; the caller's core takes that
    re-INVITE during its own retry wait and drops its own (reported as 491 in the same turn). The
    caller's Session must answer it (not 500 because its answered proposal is still pending) and
    then send its hold again."""
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    caller._invitation._random = callee._invitation._random = QuickGlare()
    caller.hold()
    callee.hold()  # same reactor turn: neither re-INVITE has reached the other side yet
    loop.run_until(
        lambda: len(hold_changes(recorder, caller)) == 2 and len(hold_changes(recorder, callee)) == 2,
        what="both holds negotiated",
    )
    assert sorted(hold_changes(recorder, caller)) == [("local", True), ("remote", True)]
    assert sorted(hold_changes(recorder, callee)) == [("local", True), ("remote", True)]
    for session in (caller, callee):
        (stream,) = session.streams
        assert session.state == "connected" and stream.on_hold_by_local and stream.on_hold_by_remote
        assert session._invitation.sdp.active_local.media[0].direction == "inactive"


def test_a_hold_the_peer_refuses_is_undone_on_our_streams(loop, alice, bob_engine, bob_manager, recorder):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    callee.streams[0].validate_update = lambda remote_sdp, index: False  # the callee answers 488
    caller.hold()
    loop.run_until(lambda: caller.state == "connected", what="the refused hold")
    assert not caller.streams[0].on_hold_by_local and not caller.on_hold
    assert hold_changes(recorder, caller) == [] and hold_changes(recorder, callee) == []
    caller.hold()  # and a later hold is sent again (the stream did not stay 'held')
    loop.run_until(lambda: caller.state == "sending_proposal", what="the second hold re-INVITE")


class EndOnAnswer:
    """Ends ``session`` in the very turn its answer to the peer's re-INVITE went out."""

    def __init__(self, session: Any) -> None:
        self.session = session

    def handle_notification(self, notification: Any) -> None:
        data = notification.data
        if data.state == "connected" and data.prev_sub_state == "received_proposal":
            self.session.end()


def test_the_peers_exchange_finishing_after_our_end_does_not_touch_the_ended_streams(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    (stream,) = callee.streams
    updates: list[str] = []
    stream.update = lambda local, remote, index: updates.append("update")
    stream.end = lambda: updates.append("end")
    NotificationCenter().add_observer(
        EndOnAnswer(callee), name="SIPInvitationChangedState", sender=callee._invitation
    )
    caller.hold()
    loop.run_until(lambda: callee.state == "terminated" and caller.state == "terminated", what="the end")
    loop.turn()
    assert updates == ["end"]
