"""Sessions between two sipsimple processes on loopback (issue 6 acceptance): each end is a
``tests.session.peer`` process with a real SIPApplication, Account and AudioStreams over the null
audio device; the test drives both over their stdin and reads their notifications."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.session.peer.driver import PeerProcess


def peer_process(user: str, *options: str) -> Iterator[PeerProcess]:
    """A peer for one test; afterwards its stderr must hold no traceback (an exception that the
    peer's reactor or notification center only logged is a failure too)."""
    with PeerProcess(user, *options) as peer:
        yield peer
    assert not peer.errors(), f"{user} logged an exception:\n{peer.errors()}"


@pytest.fixture
def alice() -> Iterator[PeerProcess]:
    yield from peer_process("alice")


@pytest.fixture
def bob() -> Iterator[PeerProcess]:
    yield from peer_process("bob", "--answer", "auto")


@pytest.fixture
def bob_answering_by_hand() -> Iterator[PeerProcess]:
    yield from peer_process("bob", "--answer", "manual")


def started(alice: PeerProcess, bob: PeerProcess, streams: int = 1) -> None:
    """Alice calls Bob (who answers by himself); both sessions started."""
    alice.ready()
    bob.ready()
    alice.command("call", uri=bob.uri, streams=streams)
    for peer in (alice, bob):
        peer.wait_for("SIPSessionDidStart", timeout=10)


def received_packets(peer: PeerProcess) -> list[int]:
    return [stream["statistics"]["rx"]["packets"] for stream in peer.state()["streams"]]


def wait_for_audio(peer: PeerProcess, more_than: list[int] | None = None, timeout: float = 5.0) -> list[int]:
    """Polls (bounded) until every stream of ``peer`` received packets, more than ``more_than``."""
    deadline = time.monotonic() + timeout
    while True:
        counts = received_packets(peer)
        floor = more_than or [0] * len(counts)
        if counts and len(counts) == len(floor) and all(c > f for c, f in zip(counts, floor, strict=True)):
            return counts
        assert time.monotonic() < deadline, f"{peer.user}: RTP received stays at {counts} (was {floor})"
        time.sleep(0.1)


def test_a_call_between_two_processes_carries_audio_both_ways_and_ends_from_the_caller(alice, bob):
    started(alice, bob)
    wait_for_audio(alice)
    wait_for_audio(bob)
    alice.command("end")
    assert alice.wait_for("SIPSessionDidEnd")["originator"] == "local"
    assert bob.wait_for("SIPSessionDidEnd")["originator"] == "remote"


def streams_of(peer: PeerProcess) -> list[dict[str, Any]]:
    return list(peer.state()["streams"])


def directions(peer: PeerProcess) -> list[str]:
    return [stream["statistics"]["direction"] for stream in streams_of(peer)]


@pytest.mark.parametrize("holder", ["caller", "callee"])
def test_hold_and_unhold_from_either_side_tell_both_sessions_and_set_the_stream_directions(
    alice, bob, holder
):
    started(alice, bob)
    held, other = (alice, bob) if holder == "caller" else (bob, alice)
    mark_held, mark_other = held.mark(), other.mark()
    held.command("hold")
    local = held.wait_for("SIPSessionDidChangeHoldState", after=mark_held)
    remote = other.wait_for("SIPSessionDidChangeHoldState", after=mark_other)
    assert (local["originator"], local["on_hold"], local["partial"]) == ("local", True, False)
    assert (remote["originator"], remote["on_hold"], remote["partial"]) == ("remote", True, False)
    assert directions(held) == ["sendonly"] and directions(other) == ["recvonly"]
    assert held.state()["on_hold"] and other.state()["on_hold"]

    mark_held, mark_other = held.mark(), other.mark()
    held.command("unhold")
    local = held.wait_for("SIPSessionDidChangeHoldState", after=mark_held)
    remote = other.wait_for("SIPSessionDidChangeHoldState", after=mark_other)
    assert (local["originator"], local["on_hold"]) == ("local", False)
    assert (remote["originator"], remote["on_hold"]) == ("remote", False)
    assert directions(held) == ["sendrecv"] and directions(other) == ["sendrecv"]
    wait_for_audio(held, more_than=received_packets(held))  # the other side's audio flows again


def test_a_second_audio_stream_is_added_by_the_caller_and_removed_by_the_callee(alice, bob):
    started(alice, bob)
    mark_alice, mark_bob = alice.mark(), bob.mark()
    added = alice.command("add_audio")
    proposal = bob.wait_for("SIPSessionGotProposal", after=mark_bob)
    assert proposal["originator"] == "remote" and len(proposal["streams"]) == 1
    bob.command("accept_proposal")
    for peer, mark, originator in ((alice, mark_alice, "local"), (bob, mark_bob, "remote")):
        accepted = peer.wait_for("SIPSessionGotAcceptProposal", after=mark)
        assert accepted["originator"] == originator and len(accepted["streams"]) == 1
        assert peer.wait_for("SIPSessionDidRenegotiateStreams", after=mark)["action"] == "add"
        assert len(streams_of(peer)) == 2
    assert alice.events("SIPSessionGotAcceptProposal", after=mark_alice)[0]["streams"] == [added]
    wait_for_audio(alice)
    wait_for_audio(bob)  # both streams carry audio both ways

    mark_alice, mark_bob = alice.mark(), bob.mark()
    removed = bob.command("remove_audio", index=1)
    for peer, mark in ((bob, mark_bob), (alice, mark_alice)):
        renegotiated = peer.wait_for("SIPSessionDidRenegotiateStreams", after=mark)
        assert renegotiated["action"] == "remove" and len(renegotiated["streams"]) == 1
        assert len(streams_of(peer)) == 1 and peer.state()["state"] == "connected"
    assert bob.events("SIPSessionDidRenegotiateStreams", after=mark_bob)[0]["streams"] == [removed]
    assert alice.events("SIPSessionDidRenegotiateStreams", after=mark_alice)[0]["streams"] == [added]
    wait_for_audio(alice, more_than=received_packets(alice))


def test_a_rejected_proposal_reaches_both_sessions_with_its_code(alice, bob):
    started(alice, bob)
    mark_alice, mark_bob = alice.mark(), bob.mark()
    alice.command("add_audio")
    bob.wait_for("SIPSessionGotProposal", after=mark_bob)
    bob.command("reject_proposal", code=488)
    local = alice.wait_for("SIPSessionGotRejectProposal", after=mark_alice)
    remote = bob.wait_for("SIPSessionGotRejectProposal", after=mark_bob)
    assert (local["originator"], local["code"]) == ("local", 488)
    assert (remote["originator"], remote["code"]) == ("remote", 488)
    for peer in (alice, bob):
        assert peer.state()["state"] == "connected" and len(streams_of(peer)) == 1
    wait_for_audio(bob, more_than=received_packets(bob))


def test_a_cancelled_proposal_ends_with_487_on_both_sides(alice, bob):
    started(alice, bob)
    mark_alice, mark_bob = alice.mark(), bob.mark()
    alice.command("add_audio")
    bob.wait_for("SIPSessionGotProposal", after=mark_bob)
    alice.command("cancel_proposal")
    local = alice.wait_for("SIPSessionGotRejectProposal", after=mark_alice)
    remote = bob.wait_for("SIPSessionGotRejectProposal", after=mark_bob)
    assert (local["originator"], local["code"]) == ("local", 487)
    assert (remote["originator"], remote["code"]) == ("remote", 487)
    assert alice.sip("out", "CANCEL", after=mark_alice) and bob.sip("out", "SIP/2.0 487", after=mark_bob)
    for peer in (alice, bob):
        state = peer.state()
        assert (
            state["state"] == "connected" and len(state["streams"]) == 1 and state["proposed_streams"] is None
        )


def test_ending_while_the_peer_considers_our_proposal_answers_that_re_invite_487(alice, bob):
    """RFC 3261 §15.1.2: the callee still answers the pending re-INVITE after the BYE."""
    started(alice, bob)
    mark_alice, mark_bob = alice.mark(), bob.mark()
    alice.command("add_audio")
    bob.wait_for("SIPSessionGotProposal", after=mark_bob)
    alice.command("end")
    assert alice.wait_for("SIPSessionDidEnd", after=mark_alice)["originator"] == "local"
    assert bob.wait_for("SIPSessionDidEnd", after=mark_bob)["originator"] == "remote"
    deadline = time.monotonic() + 5
    while not alice.sip("in", "SIP/2.0 487", after=mark_alice):
        assert time.monotonic() < deadline, "the pending re-INVITE was never answered"
        time.sleep(0.05)
    assert [r["cseq"] for r in bob.sip("out", "SIP/2.0 487", after=mark_bob)] == ["2 INVITE"]


def test_the_caller_cancels_an_unanswered_call_and_both_sessions_fail_with_487(alice, bob_answering_by_hand):
    """The callee only sent 100 Trying: the CANCEL may follow it (RFC 3261 §9.1)."""
    bob = bob_answering_by_hand
    alice.ready()
    bob.ready()
    alice.command("call", uri=bob.uri)
    bob.wait_for("SIPSessionNewIncoming")
    alice.command("end")
    local = alice.wait_for("SIPSessionDidFail")
    remote = bob.wait_for("SIPSessionDidFail")
    assert (local["originator"], local["code"], local["failure_reason"]) == ("local", 487, "user request")
    assert (remote["originator"], remote["code"]) == ("remote", 487)
    assert alice.events("SIPSessionDidEnd") == [] and bob.events("SIPSessionDidEnd") == []


def test_the_callee_rejects_a_ringing_call_with_its_code(alice, bob_answering_by_hand):
    bob = bob_answering_by_hand
    alice.ready()
    bob.ready()
    alice.command("call", uri=bob.uri)
    bob.wait_for("SIPSessionNewIncoming")
    bob.command("ring")
    alice.wait_for("SIPSessionGotRingIndication")
    bob.command("reject", code=486)
    local = alice.wait_for("SIPSessionDidFail")
    remote = bob.wait_for("SIPSessionDidFail")
    assert (local["originator"], local["code"]) == ("local", 486)
    assert (remote["originator"], remote["code"], remote["failure_reason"]) == ("remote", 486, "user request")


def test_the_callee_ends_the_call(alice, bob):
    started(alice, bob)
    bob.command("end")
    assert bob.wait_for("SIPSessionDidEnd")["originator"] == "local"
    assert alice.wait_for("SIPSessionDidEnd")["originator"] == "remote"
    assert alice.wait_for("MediaStreamDidEnd") == {} and bob.wait_for("MediaStreamDidEnd") == {}


def hold_both_at_once(alice: PeerProcess, bob: PeerProcess, hold: bool) -> bool:
    """Both processes hold (or unhold) at the same instant of the host's monotonic clock; true when a
    re-INVITE was answered 491. Returns once each side saw its own and the other's change."""
    command = "hold" if hold else "unhold"
    marks = alice.mark(), bob.mark()
    at = time.monotonic() + 0.3
    alice.command(command, at=at)
    bob.command(command, at=at)
    for peer, mark in zip((alice, bob), marks, strict=True):
        for originator in ("local", "remote"):
            change = peer.wait_for("SIPSessionDidChangeHoldState", 12, mark, originator=originator)
            assert change["on_hold"] is hold and change["partial"] is False
    return any(
        peer.sip("in", "SIP/2.0 491", after=mark) for peer, mark in zip((alice, bob), marks, strict=True)
    )


@pytest.mark.slow
def test_re_invite_glare_is_resolved_by_491_and_a_retry_and_both_sides_agree(alice, bob):
    """RFC 3261 §14.1: both sides hold at the same moment, so the re-INVITEs cross and one gets 491
    (or both do); the retry, or the hold the core dropped in favour of the peer's re-INVITE, goes
    again, and both sides end up holding and held (a=inactive each way). Two processes cannot be
    made to collide every time, so up to three rounds are tried; each must end consistent."""
    started(alice, bob)
    collided = False
    for _ in range(3):
        collided = hold_both_at_once(alice, bob, hold=True)
        for peer in (alice, bob):
            state = peer.state()
            (stream,) = state["streams"]
            assert (
                state["state"] == "connected" and stream["on_hold_by_local"] and stream["on_hold_by_remote"]
            )
            assert stream["statistics"]["direction"] == "inactive"
        if collided:
            break
        hold_both_at_once(alice, bob, hold=False)
    assert collided, "the re-INVITEs never crossed in three rounds"
    # and the session still works: both unhold, again at the same moment, and audio flows
    hold_both_at_once(alice, bob, hold=False)
    assert directions(alice) == ["sendrecv"] and directions(bob) == ["sendrecv"]
    wait_for_audio(alice, more_than=received_packets(alice))
    wait_for_audio(bob, more_than=received_packets(bob))
