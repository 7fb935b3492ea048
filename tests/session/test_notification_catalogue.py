"""Every Session notification of the reference (and the IMediaStream and AudioStream ones a session
carries) is observed on real calls between two SIPEngines on loopback, with exactly its documented
data attributes, each of the documented type, in the documented order.

The catalogue is a table: one row per notification (name, who sends it, its attributes and a check
of each value, attributes present only in some cases). The SIPSessionTransfer* notifications are
checked the same way in test_transfer.py, the SIPConference* ones and SIPSessionGotConferenceInfo
in test_conference_handler.py (each needs a third party or a focus). The test fails when a row's notification
is never seen, when one is posted under a name no row has (a rename), or when an attribute is
missing, extra or of the wrong type. ``ORDER`` and ``NEVER_AFTER`` state the orders the reference
and docs/session.md, docs/streams.md document.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sipsimple.core.media._stream import ManualClock
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session
from tests.session.test_bad_input import RawPeer
from tests.session.test_session_loopback import call, connected_pair, incoming, named
from tests.streams.fake import FakeStream
from tests.streams.test_audio_stream import (
    connected_call,
    run_media,
)

Check = Callable[[Any], bool]


def one_of(*values: Any) -> Check:
    return lambda value: any(value == v and type(value) is type(v) for v in values)


def kind(*types: type) -> Check:
    return lambda value: isinstance(value, types) and not (isinstance(value, bool) and bool not in types)


def code_in(low: int, high: int) -> Check:
    return lambda value: type(value) is int and low <= value <= high


def list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


TIMESTAMP = kind(datetime.datetime)
ORIGINATOR = one_of("local", "remote")
TEXT = kind(str)
MAYBE_TEXT = lambda value: value is None or isinstance(value, str)  # noqa: E731
BOOL = kind(bool)
STREAMS = lambda value: isinstance(value, list) and all(hasattr(s, "get_local_media") for s in value)  # noqa: E731
STATUS = code_in(100, 699)


@dataclass(frozen=True)
class Row:
    name: str
    sender: str  # 'session' or 'stream'
    data: dict[str, Check]  # always present (timestamp is added to every row)
    when: dict[str, tuple[Callable[[Any], bool], Check]] = field(default_factory=dict)  # present iff

    def problems(self, data: Any) -> list[str]:
        expected = {"timestamp": TIMESTAMP, **self.data}
        for attribute, (present_if, check) in self.when.items():
            if present_if(data):
                expected[attribute] = check
        found = dict(vars(data))
        problems = [f"missing {a}" for a in expected if a not in found]
        problems += [f"extra {a}" for a in found if a not in expected]
        problems += [
            f"{a}={found[a]!r} has the wrong type or value"
            for a, check in expected.items()
            if a in found and not check(found[a])
        ]
        return problems


def _theirs_invite(data: Any) -> bool:
    return getattr(data, "method", None) == "INVITE" and getattr(data, "originator", None) == "remote"


CATALOGUE: tuple[Row, ...] = (
    # -- Session (reference: SIP Sessions, notifications) -------------------------------------
    Row("SIPSessionNewIncoming", "session", {"streams": STREAMS}),
    Row("SIPSessionNewOutgoing", "session", {"streams": STREAMS}),
    Row("SIPSessionGotRingIndication", "session", {}),
    Row("SIPSessionGotProvisionalResponse", "session", {"code": code_in(101, 199), "reason": TEXT}),
    Row("SIPSessionWillStart", "session", {}),
    Row("SIPSessionDidStart", "session", {"streams": STREAMS}),
    Row(
        "SIPSessionDidFail",
        "session",
        {
            "originator": ORIGINATOR,
            "code": code_in(0, 699),
            "reason": MAYBE_TEXT,
            "failure_reason": TEXT,
            "redirect_identities": lambda v: v is None or list_of(lambda c: hasattr(c, "uri"))(v),
        },
    ),
    Row("SIPSessionWillEnd", "session", {}),
    Row("SIPSessionDidEnd", "session", {"originator": ORIGINATOR, "end_reason": TEXT}),
    Row(
        "SIPSessionDidChangeHoldState",
        "session",
        {"originator": ORIGINATOR, "on_hold": BOOL, "partial": BOOL},
    ),
    Row("SIPSessionGotProposal", "session", {"originator": ORIGINATOR, "streams": STREAMS}),
    Row(
        "SIPSessionGotRejectProposal",
        "session",
        {"originator": ORIGINATOR, "code": STATUS, "reason": MAYBE_TEXT, "streams": STREAMS},
    ),
    Row(
        "SIPSessionGotAcceptProposal",
        "session",
        {"originator": ORIGINATOR, "streams": STREAMS, "proposed_streams": STREAMS},
    ),
    Row("SIPSessionHadProposalFailure", "session", {"failure_reason": TEXT, "streams": STREAMS}),
    Row(
        "SIPSessionDidRenegotiateStreams", "session", {"action": one_of("add", "remove"), "streams": STREAMS}
    ),
    Row(
        "SIPSessionDidProcessTransaction",
        "session",
        {
            "originator": ORIGINATOR,
            "method": one_of("INVITE", "BYE", "UPDATE"),
            "code": STATUS,
            "reason": TEXT,
        },
        when={"ack_received": (_theirs_invite, one_of(True, False, "unknown"))},
    ),
    # -- IMediaStream (reference: IMediaStream, notifications; docs/streams.md) ----------------
    Row("MediaStreamDidInitialize", "stream", {}),
    Row("MediaStreamDidStart", "stream", {}),
    Row("MediaStreamDidFail", "stream", {"reason": TEXT}),
    Row("MediaStreamWillEnd", "stream", {}),
    Row("MediaStreamDidEnd", "stream", {}),
    # -- AudioStream (reference: AudioStream, notifications; docs/streams.md) -------------------
    Row(
        "AudioStreamDidChangeHoldState",
        "stream",
        {"originator": ORIGINATOR, "on_hold": BOOL, "partial": BOOL},
    ),
    Row("AudioStreamWillStartRecordingAudio", "stream", {"filename": TEXT}),
    Row("AudioStreamDidStartRecordingAudio", "stream", {"filename": TEXT}),
    Row("AudioStreamWillStopRecordingAudio", "stream", {"filename": TEXT}),
    Row("AudioStreamDidStopRecordingAudio", "stream", {"filename": TEXT}),
    Row("AudioStreamDidChangeRTPParameters", "stream", {}),
    Row("AudioStreamGotDTMF", "stream", {"digit": lambda v: isinstance(v, str) and len(v) == 1}),
    Row("AudioStreamDidTimeout", "stream", {}),
)
ROWS = {row.name: row for row in CATALOGUE}
PREFIXES = ("SIPSession", "MediaStream", "AudioStream")
#: Posted by the core or the media engine, not by a session or its streams.
NOT_OURS = frozenset({"AudioStreamPortGotDTMF"})
#: Documented in the reference, not posted yet: the core reports only the first provisional of an
#: INVITE (docs/session.md); ICE is not implemented (docs/streams.md).
NOT_YET = frozenset(
    {
        "AudioStreamICENegotiationStateDidChange",
        "AudioStreamICENegotiationDidSucceed",
        "AudioStreamICENegotiationDidFail",
    }
)

#: (first, then, relation): every ``then`` has a ``first`` before it; 'same' = the same sender,
#: 'stream-of' = ``first`` from a stream of the session that posts ``then``.
ORDER = (
    (("SIPSessionNewOutgoing", "SIPSessionNewIncoming"), "SIPSessionWillStart", "same"),
    ("SIPSessionWillStart", "SIPSessionDidStart", "same"),
    ("SIPSessionWillEnd", "SIPSessionDidEnd", "same"),
    ("SIPSessionGotProposal", "SIPSessionGotAcceptProposal", "same"),
    ("SIPSessionGotAcceptProposal", "SIPSessionDidRenegotiateStreams", "same-add"),
    ("MediaStreamDidInitialize", "MediaStreamDidStart", "same"),
    ("MediaStreamWillEnd", "MediaStreamDidEnd", "same"),
    ("MediaStreamDidEnd", "SIPSessionDidEnd", "stream-of"),
    ("AudioStreamWillStartRecordingAudio", "AudioStreamDidStartRecordingAudio", "same"),
    ("AudioStreamDidStartRecordingAudio", "AudioStreamWillStopRecordingAudio", "same"),
    ("AudioStreamWillStopRecordingAudio", "AudioStreamDidStopRecordingAudio", "same"),
)
#: (first, never): after ``first`` the same sender never posts ``never``.
NEVER_AFTER = (
    ("SIPSessionDidFail", "SIPSessionDidEnd"),
    ("SIPSessionDidFail", "SIPSessionDidStart"),
    ("SIPSessionDidEnd", "SIPSessionDidStart"),
    ("MediaStreamDidEnd", "MediaStreamDidStart"),
)


# -- the checks ---------------------------------------------------------------------------------


def catalogue_problems(notifications: list[Any], sessions: set[Any]) -> list[str]:
    """Data problems of every catalogued notification, and names nobody catalogued."""
    problems = []
    for n in notifications:
        row = ROWS.get(n.name)
        if row is None:
            if n.name.startswith(PREFIXES) and n.name not in NOT_OURS | NOT_YET:
                problems.append(f"{n.name}: not in the catalogue (renamed?)")
            continue
        is_session = n.sender in sessions
        if (row.sender == "session") != is_session:
            problems.append(f"{n.name}: sent by {n.sender!r}, expected a {row.sender}")
        problems += [f"{n.name}: {p}" for p in row.problems(n.data)]
    return problems


def order_problems(notifications: list[Any], streams_of: dict[Any, list[Any]]) -> list[str]:
    problems = []
    for firsts, then, relation in ORDER:
        first = firsts if isinstance(firsts, tuple) else (firsts,)
        for position, n in enumerate(notifications):
            if n.name != then:
                continue
            if relation == "same-add" and n.data.action != "add":
                continue
            if relation == "stream-of":
                senders = streams_of.get(n.sender, [])
                ended = {e.sender for e in notifications[:position] if e.name in first}
                missing = [s for s in senders if s not in ended]
                if missing:
                    problems.append(f"{then} of {n.sender!r} before {first} of {missing}")
                continue
            if not any(e.name in first and e.sender is n.sender for e in notifications[:position]):
                problems.append(f"{then} of {n.sender!r} without an earlier {first}")
    for first, never in NEVER_AFTER:
        for position, n in enumerate(notifications):
            if n.name == first:
                later = [e for e in notifications[position + 1 :] if e.name == never and e.sender is n.sender]
                if later:
                    problems.append(f"{never} of {n.sender!r} after its {first}")
    return problems


# -- the calls ----------------------------------------------------------------------------------


class Observed:
    """The sessions the scenarios made and the streams each one had."""

    def __init__(self) -> None:
        self.streams_of: dict[Any, list[Any]] = {}

    def add(self, session: Any, *streams: Any) -> Any:
        self.streams_of.setdefault(session, [])
        self.streams_of[session].extend(s for s in streams if s not in self.streams_of[session])
        return session


def fake_stream_calls(loop, alice, bob_engine, bob_manager, recorder, seen: Observed) -> None:
    """Rejected, redirected, 183-only and a full call with hold, proposals (rejected, accepted,
    failed, removed) and the end."""
    caller = seen.add(call(loop, alice, bob_engine, [FakeStream()]))
    seen.add(incoming(loop, bob_manager)).reject(486)
    loop.run_until(lambda: caller.state == "terminated", what="rejected")

    raw = RawPeer(loop)  # a redirect server: our core writes no Contact into a 3xx
    try:
        caller = Session(alice)
        seen.add(caller)
        caller.connect(ToHeader(SIPURI("example.test", user="bob")), [Route("127.0.0.1", raw.port, "udp")],
                       [FakeStream()])  # fmt: skip
        invite = raw.expect("the INVITE", lambda m: m.is_request and m.method == "INVITE")
        raw.respond(invite, 302, "Moved Temporarily", extra=[("Contact", "<sip:carol@example.test>")])
        loop.run_until(lambda: caller.state == "terminated", what="redirected")
        raw.expect("the ACK of the 302", lambda m: m.is_request and m.method == "ACK")
    finally:
        raw.close()
    redirect = named(recorder, "SIPSessionDidFail", caller)[0]
    assert redirect.code == 302 and [str(c.uri) for c in redirect.redirect_identities] == [
        "sip:carol@example.test"
    ]

    caller = seen.add(call(loop, alice, bob_engine, [FakeStream()]))
    callee = seen.add(incoming(loop, bob_manager))
    callee._invitation.send_response(183)
    loop.run_until(lambda: named(recorder, "SIPSessionGotProvisionalResponse", caller), what="183")
    assert not named(recorder, "SIPSessionGotRingIndication", caller), "a 183 is not a ring indication"
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="cancelled")

    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.send_ring_indication()
    loop.run_until(lambda: named(recorder, "SIPSessionGotRingIndication", caller), what="ringing")
    callee.accept(callee.proposed_streams)
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="connected")
    seen.add(caller, *caller.streams)
    seen.add(callee, *callee.streams)
    caller.hold()
    loop.run_until(lambda: len(recorder.named("SIPSessionDidChangeHoldState")) == 2, what="hold")
    caller.add_stream(FakeStream())
    loop.run_until(lambda: callee.state == "received_proposal", what="proposal")
    callee.reject_proposal()
    loop.run_until(lambda: len(recorder.named("SIPSessionGotRejectProposal")) == 2, what="reject")
    added = FakeStream()
    caller.add_stream(added)
    loop.run_until(lambda: callee.state == "received_proposal", what="proposal")
    callee.accept_proposal(callee.proposed_streams)
    loop.run_until(lambda: len(recorder.named("SIPSessionDidRenegotiateStreams")) == 2, what="accepted")
    seen.add(caller, *caller.streams)
    seen.add(callee, *callee.streams)
    broken = FakeStream()
    broken.fail_on = "initialize"
    caller.add_stream(broken)
    loop.run_until(lambda: named(recorder, "SIPSessionHadProposalFailure", caller), what="failure")
    caller.remove_stream(added)
    loop.run_until(
        lambda: len(named(recorder, "SIPSessionDidRenegotiateStreams", callee)) == 2, what="removed"
    )
    caller.end()
    loop.run_until(lambda: callee.state == "terminated" and caller.state == "terminated", what="ended")


def audio_calls(loop, alice, bob_engine, audio_manager, sides, recorder, tmp_path, seen: Observed) -> None:
    """An AudioStream call: recording, DTMF both ways, hold and unhold, end; then a call whose
    caller stream runs on a manual RTP clock, moved past its rtp_timeout."""
    caller, callee, ours, theirs = connected_call(loop, alice, bob_engine, audio_manager, sides)
    seen.add(caller, ours)
    seen.add(callee, theirs)
    ours.start_recording(tmp_path / "alice.wav")
    run_media(loop, sides, 0.2)
    ours.send_dtmf("7")
    theirs.send_dtmf("*")
    loop.run_until(
        lambda: named(recorder, "AudioStreamGotDTMF", ours) and named(recorder, "AudioStreamGotDTMF", theirs),
        5.0,
        what="the digits",
    )
    ours.stop_recording()
    caller.hold()
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", caller), what="held")
    caller.unhold()
    loop.run_until(lambda: len(named(recorder, "SIPSessionDidChangeHoldState", caller)) == 2, what="unheld")
    callee.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")

    # the I/O thread stamps arriving packets with the monotonic clock, not the transport's manual
    # one: starting the manual clock at the monotonic time keeps the two comparable
    clock = ManualClock(time.monotonic())
    caller, callee, ours, theirs = connected_call(
        loop, alice, bob_engine, audio_manager, sides, clock=clock, rtp_timeout=5
    )
    seen.add(caller, ours)
    seen.add(callee, theirs)
    clock.advance(4)
    ours._rtp._service()
    loop.turn()
    assert not named(recorder, "AudioStreamDidTimeout", ours), "the timeout fired early"
    clock.advance(60)  # past the timeout whenever the last packet came (at the clock's time)
    ours._rtp._service()
    loop.run_until(lambda: named(recorder, "AudioStreamDidTimeout", ours), what="the RTP timeout")
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")


# -- the test -----------------------------------------------------------------------------------


def test_every_session_notification_is_posted_with_its_documented_data_in_order(
    loop, alice, bob_engine, bob_manager, recorder
):
    seen = Observed()
    fake_stream_calls(loop, alice, bob_engine, bob_manager, recorder, seen)
    notifications = list(recorder.notifications)
    names = {n.name for n in notifications}
    session_rows = {row.name for row in CATALOGUE if row.name.startswith("SIPSession")}
    assert session_rows - names == set(), "never posted"
    assert catalogue_problems(notifications, set(seen.streams_of)) == []
    assert order_problems(notifications, seen.streams_of) == []


def test_every_media_and_audio_stream_notification_is_posted_with_its_documented_data(
    loop, alice, bob_engine, audio_manager, sides, recorder, tmp_path
):
    seen = Observed()
    audio_calls(loop, alice, bob_engine, audio_manager, sides, recorder, tmp_path, seen)
    notifications = list(recorder.notifications)
    names = {n.name for n in notifications}
    stream_rows = {row.name for row in CATALOGUE if row.sender == "stream"} - {"MediaStreamDidFail"}
    assert stream_rows - names == set(), "never posted"
    assert catalogue_problems(notifications, set(seen.streams_of)) == []
    assert order_problems(notifications, seen.streams_of) == []


def test_a_stream_failure_is_posted_with_its_reason_and_ends_the_stream(loop, alice, bob_engine, recorder):
    broken = FakeStream()
    broken.fail_on = "initialize"
    caller = call(loop, alice, bob_engine, [broken])
    loop.run_until(lambda: caller.state == "terminated", what="the failure")
    [failure] = [n for n in recorder.notifications if n.name == "MediaStreamDidFail"]
    assert ROWS["MediaStreamDidFail"].problems(failure.data) == []
    assert order_problems(recorder.notifications, {caller: [broken]}) == []


def test_the_catalogue_check_reports_a_missing_an_extra_and_a_mistyped_attribute():
    """The checks themselves can fail: the test above would notice a wrong notification."""
    from sipsimple.notification import NotificationData

    now = datetime.datetime.now(datetime.UTC)
    row = ROWS["SIPSessionDidEnd"]
    assert row.problems(NotificationData(timestamp=now, originator="local", end_reason="x")) == []
    assert row.problems(NotificationData(timestamp=now, originator="local")) == ["missing end_reason"]
    assert row.problems(NotificationData(timestamp=now, originator="local", end_reason="x", code=1)) == [
        "extra code"
    ]
    assert row.problems(NotificationData(timestamp=now, originator="both", end_reason="x")) == [
        "originator='both' has the wrong type or value"
    ]
    transaction = ROWS["SIPSessionDidProcessTransaction"]
    theirs = dict(timestamp=now, originator="remote", method="INVITE", code=200, reason="OK")
    assert transaction.problems(NotificationData(**theirs)) == ["missing ack_received"]
    assert transaction.problems(NotificationData(**theirs, ack_received="unknown")) == []
    ours = dict(theirs, originator="local")
    assert transaction.problems(NotificationData(**ours, ack_received=True)) == ["extra ack_received"]


def test_the_order_check_reports_an_end_before_the_streams_ended():
    from types import SimpleNamespace as N

    session, stream = object(), object()
    bad = [N(name="SIPSessionWillEnd", sender=session), N(name="SIPSessionDidEnd", sender=session),
           N(name="MediaStreamWillEnd", sender=stream), N(name="MediaStreamDidEnd", sender=stream)]  # fmt: skip
    assert order_problems(bad, {session: [stream]}) != []
    good = [bad[0], bad[2], bad[3], bad[1]]
    assert order_problems(good, {session: [stream]}) == []


def transactions(recorder, session) -> list[tuple[Any, ...]]:
    return [
        tuple(vars(d).get(a) for a in ("originator", "method", "code", "ack_received"))
        for d in named(recorder, "SIPSessionDidProcessTransaction", session)
    ]


def test_each_completed_transaction_of_a_call_is_reported_once_from_each_side(
    loop, alice, bob_engine, bob_manager, recorder
):
    """INVITE, re-INVITE and BYE, as seen by the side that sent each one and by the other side;
    ``ack_received`` only for the INVITEs the peer sent."""
    caller, callee = connected_pair(loop, alice, bob_engine, bob_manager)
    caller.hold()
    loop.run_until(lambda: len(recorder.named("SIPSessionDidChangeHoldState")) == 2, what="hold")
    callee.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")
    assert transactions(recorder, caller) == [
        ("local", "INVITE", 200, None), ("local", "INVITE", 200, None), ("remote", "BYE", 200, None),
    ]  # fmt: skip
    assert transactions(recorder, callee) == [
        ("remote", "INVITE", 200, True), ("remote", "INVITE", 200, "unknown"), ("local", "BYE", 200, None),
    ]  # fmt: skip
    names = [n.name for n in recorder.notifications if n.sender is callee and n.name.startswith("SIPSession")]
    assert names.index("SIPSessionDidProcessTransaction") < names.index("SIPSessionDidStart")
    assert names[-2:] == ["SIPSessionDidProcessTransaction", "SIPSessionDidEnd"]


def test_a_rejected_and_a_cancelled_invite_are_reported_with_their_final_response(
    loop, alice, bob_engine, bob_manager, recorder
):
    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.reject(486)
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="rejected")
    assert transactions(recorder, caller) == [("local", "INVITE", 486, None)]
    assert transactions(recorder, callee) == [("remote", "INVITE", 486, "unknown")]

    caller = call(loop, alice, bob_engine, [FakeStream()])
    callee = incoming(loop, bob_manager)
    callee.send_ring_indication()
    loop.run_until(lambda: named(recorder, "SIPSessionGotRingIndication", caller), what="ringing")
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="cancelled")
    assert transactions(recorder, caller) == [("local", "INVITE", 487, None)]
    assert transactions(recorder, callee) == [("remote", "INVITE", 487, "unknown")]
