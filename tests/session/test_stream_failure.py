"""A stream that fails while its session runs (MediaStreamDidFail after the start: its RTP socket
broke, its peer vanished) is not left half-dead: the last stream ends the session, another one is
removed from it by a re-INVITE, as the reference does. Two SIPEngines on loopback, FakeStream."""

from __future__ import annotations

from tests.session.test_session_loopback import call, connected_pair, incoming, named
from tests.streams.fake import FakeStream


def test_the_failure_of_the_only_stream_ends_the_session_with_a_bye(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    (stream,) = caller.streams
    stream._post("MediaStreamDidFail", reason="the RTP socket broke")
    loop.run_until(lambda: caller.state == callee.state == "terminated", what="both ended")
    assert named(recorder, "SIPSessionDidEnd", caller)[0].originator == "local"
    assert named(recorder, "SIPSessionDidEnd", callee)[0].originator == "remote"
    assert named(recorder, "SIPSessionDidFail", caller) == []  # it had started: an end, not a failure


def test_the_failure_of_one_of_two_streams_removes_it_and_the_call_goes_on(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller = call(loop, alice, bob_engine, [FakeStream(), FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == callee.state == "connected", what="both connected")
    broken, kept = caller.streams
    broken._post("MediaStreamDidFail", reason="the RTP socket broke")
    loop.run_until(
        lambda: named(recorder, "SIPSessionDidRenegotiateStreams", callee), what="the removal at the peer"
    )
    loop.run_until(lambda: caller.state == callee.state == "connected", what="the exchange done")
    assert caller.streams == [kept]
    assert [(d.action, d.streams) for d in named(recorder, "SIPSessionDidRenegotiateStreams", caller)] == [
        ("remove", [broken])
    ]
    assert len(callee.streams) == 1
    caller.end()
    loop.run_until(lambda: caller.state == callee.state == "terminated", what="both ended")


def test_a_failure_of_a_stream_that_is_not_the_session_s_changes_nothing(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    FakeStream()._post("MediaStreamDidFail", reason="someone else's")
    loop.turn(10)
    assert caller.state == callee.state == "connected"
    caller.end()
    loop.run_until(lambda: caller.state == callee.state == "terminated", what="both ended")
