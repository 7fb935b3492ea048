"""Sessions between two SIPEngines on loopback, with the fake stream: set-up, hold, proposals,
end from either side, rejection, 488 for offers nothing can take, route failover, cancel."""

from __future__ import annotations

from typing import Any

from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session
from tests.streams.fake import FakeStream


def route_to(engine: Any, transport: str = "udp") -> Route:
    return Route("127.0.0.1", engine.local_address(transport).port, transport)


def call(loop, alice, bob_engine, streams, routes=None) -> Session:
    session = Session(alice)
    routes = routes or [route_to(bob_engine)]
    session.connect(ToHeader(SIPURI("example.test", user="bob")), routes, streams)
    return session


def incoming(loop, bob_manager) -> Session:
    loop.run_until(
        lambda: bob_manager.sessions and bob_manager.sessions[0].state == "incoming",
        what="the incoming session",
    )
    return bob_manager.sessions[0]


def named(recorder, name, sender):
    return [n.data for n in recorder.named(name) if n.sender is sender]


def session_names(recorder, sender):
    """The session's notifications in order, without the per-transaction reports (the catalogue
    test checks those)."""
    return [
        n.name
        for n in recorder.notifications
        if n.sender is sender
        and n.name.startswith("SIPSession")
        and n.name != "SIPSessionDidProcessTransaction"
    ]


def connected_pair(loop, alice, bob_engine, bob_manager):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return caller, callee


def test_call_rings_starts_holds_unholds_and_ends_from_the_caller(
    loop, alice, bob_engine, bob_manager, recorder
):
    stream = FakeStream()
    caller = call(loop, alice, bob_engine, [stream])
    callee = incoming(loop, bob_manager)
    assert [type(s) for s in named(recorder, "SIPSessionNewIncoming", callee)[0].streams] == [FakeStream]
    callee.send_ring_indication()
    loop.run_until(lambda: named(recorder, "SIPSessionGotRingIndication", caller), what="ringing")
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    assert named(recorder, "SIPSessionDidStart", caller)[0].streams == [stream]
    assert caller.streams == [stream] and caller.proposed_streams is None
    assert caller.start_time is not None and caller.transport == "udp"
    assert str(caller.remote_identity.uri) == "sip:bob@example.test"
    assert stream.calls == ["initialize outgoing", "start 0"]

    caller.hold()
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionDidChangeHoldState", callee)) == 1, what="remote hold"
    )
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", caller), what="local hold")
    local = named(recorder, "SIPSessionDidChangeHoldState", caller)[0]
    remote = named(recorder, "SIPSessionDidChangeHoldState", callee)[0]
    assert (local.originator, local.on_hold, local.partial) == ("local", True, False)
    assert (remote.originator, remote.on_hold, remote.partial) == ("remote", True, False)
    assert caller.on_hold and callee.on_hold

    caller.unhold()
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionDidChangeHoldState", callee)) == 2, what="remote unhold"
    )
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionDidChangeHoldState", caller)) == 2, what="local unhold"
    )
    assert not caller.on_hold and not callee.on_hold

    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="both ended")
    assert named(recorder, "SIPSessionDidEnd", caller)[0].originator == "local"
    assert named(recorder, "SIPSessionDidEnd", callee)[0].originator == "remote"
    assert session_names(recorder, caller) == [
        "SIPSessionNewOutgoing", "SIPSessionGotRingIndication", "SIPSessionGotProvisionalResponse",
        "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionDidChangeHoldState",
        "SIPSessionDidChangeHoldState", "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    assert session_names(recorder, callee) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionDidChangeHoldState",
        "SIPSessionDidChangeHoldState", "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    assert stream.calls[-2:] == ["deactivate", "end"]
    assert bob_manager.sessions == []


def test_a_stream_added_by_the_caller_is_accepted_then_removed(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    extra = FakeStream()
    caller.add_stream(extra)
    assert caller.state == "sending_proposal"
    loop.run_until(lambda: callee.state == "received_proposal", what="the proposal")
    proposal = named(recorder, "SIPSessionGotProposal", callee)[0]
    assert proposal.originator == "remote" and len(proposal.streams) == 1
    callee.accept_proposal(proposal.streams)
    loop.run_until(lambda: len(caller.streams) == 2 and len(callee.streams) == 2, what="the stream added")
    accepted = named(recorder, "SIPSessionGotAcceptProposal", caller)[0]
    assert accepted.streams == [extra] and accepted.proposed_streams == [extra]
    assert named(recorder, "SIPSessionDidRenegotiateStreams", caller)[0].action == "add"
    assert caller.state == "connected"
    loop.run_until(lambda: callee.state == "connected", what="callee back to connected")

    caller.remove_stream(extra)
    loop.run_until(
        lambda: len(callee.streams) == 1 and caller.state == "connected", what="the stream removed"
    )
    removed = named(recorder, "SIPSessionDidRenegotiateStreams", callee)[-1]
    assert removed.action == "remove" and removed.streams[0] is proposal.streams[0]
    assert extra.calls[-2:] == ["deactivate", "end"]
    callee.end()
    loop.run_until(lambda: caller.state == "terminated", what="the BYE from the callee")
    assert named(recorder, "SIPSessionDidEnd", caller)[0].originator == "remote"


def test_a_rejected_proposal_is_reported_to_both_sides(loop, alice, bob_engine, bob_manager, recorder):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    extra = FakeStream()
    caller.add_stream(extra)
    loop.run_until(lambda: callee.state == "received_proposal", what="the proposal")
    callee.reject_proposal(488)
    loop.run_until(lambda: named(recorder, "SIPSessionGotRejectProposal", caller), what="the rejection")
    rejected = named(recorder, "SIPSessionGotRejectProposal", caller)[0]
    assert (rejected.originator, rejected.code, rejected.streams) == ("local", 488, [extra])
    loop.run_until(lambda: named(recorder, "SIPSessionGotRejectProposal", callee), what="callee side")
    assert named(recorder, "SIPSessionGotRejectProposal", callee)[0].originator == "remote"
    assert caller.state == "connected" and len(caller.streams) == 1 and extra.calls[-1] == "end"


def test_a_rejected_call_fails_with_the_code_and_reason(loop, alice, bob_engine, bob_manager, recorder):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.reject(486, "Busy Here")
    loop.run_until(lambda: caller.state == "terminated", what="the rejection")
    failed = named(recorder, "SIPSessionDidFail", caller)[0]
    assert (failed.originator, failed.code, failed.reason) == ("local", 486, "Busy Here")
    assert failed.failure_reason == "486 Busy Here" and failed.redirect_identities is None
    callee_failed = named(recorder, "SIPSessionDidFail", callee)[0]
    assert (callee_failed.originator, callee_failed.code, callee_failed.failure_reason) == (
        "remote",
        486,
        "user request",
    )
    assert not named(recorder, "SIPSessionDidEnd", caller)


def test_an_offer_no_stream_type_takes_is_answered_488(
    loop, alice, bob_engine, bob_manager, recorder, monkeypatch
):
    monkeypatch.setattr(FakeStream, "new_from_sdp", classmethod(lambda cls, a, s, i: None))
    caller = call(loop, alice, bob_engine, [FakeStream()])
    loop.run_until(lambda: caller.state == "terminated", what="the 488")
    assert named(recorder, "SIPSessionDidFail", caller)[0].code == 488
    assert not recorder.named("SIPSessionNewIncoming")


def test_the_next_route_is_tried_when_the_first_one_is_dead(loop, alice, bob_engine, bob_manager, recorder):
    dead = Route("127.0.0.1", 9, "tcp")  # nothing listens on the discard port on loopback
    caller = call(loop, alice, bob_engine, [FakeStream()], routes=[dead, route_to(bob_engine, "tcp")])
    callee = incoming(loop, bob_manager)
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected", what="connected over the second route")
    assert caller.transport == "tcp"
    assert not recorder.named("SIPSessionDidFail")


def test_ending_a_ringing_call_cancels_it_with_did_fail_and_no_did_end(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.send_ring_indication()
    loop.run_until(lambda: named(recorder, "SIPSessionGotRingIndication", caller), what="ringing")
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="the CANCEL")
    failed = named(recorder, "SIPSessionDidFail", caller)[0]
    assert (failed.originator, failed.code, failed.failure_reason) == ("local", 487, "user request")
    assert named(recorder, "SIPSessionDidFail", callee)[0].originator == "remote"
    assert not recorder.named("SIPSessionDidEnd")


def test_a_stream_that_fails_to_initialize_fails_the_session(loop, alice, bob_engine, recorder):
    stream = FakeStream()
    stream.fail_on = "initialize"
    caller = call(loop, alice, bob_engine, [stream])
    assert caller.state == "terminated"
    failed = named(recorder, "SIPSessionDidFail", caller)[0]
    assert failed.failure_reason == "media stream failed: cannot initialize"
    assert stream.calls == ["initialize outgoing", "end"]


def test_the_manager_stop_ends_live_sessions(loop, alice, bob_engine, bob_manager, recorder):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    bob_manager.stop()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")
    assert named(recorder, "SIPSessionDidEnd", callee)[0].originator == "local"


def test_a_stream_that_cannot_write_the_answer_fails_the_session_with_488_instead_of_hanging(
    loop, alice, bob_engine, bob_manager, recorder
):
    """Found with baresip: a stream whose get_local_media raises while the answer is built (an SRTP
    offer it cannot take) used to leave the session in 'accepting' with the INVITE unanswered."""
    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    (stream,) = callee.proposed_streams

    def refuse(remote_sdp=None, index=0):
        raise ValueError("no usable crypto line")

    stream.get_local_media = refuse
    callee.accept([stream])
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="the 488")
    failed = named(recorder, "SIPSessionDidFail", callee)[0]
    assert (failed.code, failed.failure_reason) == (488, "media stream failed: no usable crypto line")
    assert named(recorder, "SIPSessionDidFail", caller)[0].code == 488
    assert not named(recorder, "SIPSessionWillStart", callee)
