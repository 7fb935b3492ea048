"""Late offers (RFC 3261 §13.2.1, RFC 3264): an INVITE or re-INVITE without SDP asks us for the
offer, which goes in our 200; the peer's answer comes in the ACK. Also the provisional responses
to our own re-INVITE (SIPSessionGotProvisionalResponse, as the reference documents).

The far end is a ``RawPeer`` (tests/session/test_bad_input.py: a UDP socket speaking SIP written
in the test), because what is checked is what a peer may put, or fail to put, in an ACK; and once
the SDK's own Invitation, which can send an INVITE without an offer and answer in the ACK."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.core.primitives.invitation import Invitation
from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.session import Session, SessionManagerBase, streams_for_late_offer
from sipsimple.streams import MediaStreamRegistry, MediaStreamRegistryBase
from sipsimple.streams.rtp import AudioStream
from tests.session.test_bad_input import RawMessage, RawPeer, leftovers, pcmu_offer, sip
from tests.session.test_session_loopback import named, session_names
from tests.streams.fake import FakeStream
from tests.support.reactor import Loop


class LatePeer(RawPeer):
    """RawPeer with the requests of a late-offer call: an INVITE and re-INVITEs with or without
    SDP, ACKs with or without an answer, a BYE, and answers to the callee's requests."""

    def __init__(self, loop: Loop) -> None:
        super().__init__(loop)
        self.cseq = 1

    def late_invite(self, port: int, sdp: bytes = b"") -> dict[str, str]:
        call = {
            "call_id": self.unique("late-call-"),
            "from_tag": self.unique("ft"),
            "branch": self.unique("z9hG4bK-late-"),
            "uri": f"sip:bob@127.0.0.1:{port}",
            "port": str(port),
        }
        headers = [*self._headers(call, "1 INVITE"), ("Contact", f"<sip:raw@127.0.0.1:{self.port}>")]
        if sdp:
            headers.append(("Content-Type", "application/sdp"))
        self.send(sip(f"INVITE {call['uri']} SIP/2.0", headers, sdp), port)
        return call

    def ok(self, call: dict[str, str], method: str = "INVITE") -> RawMessage:
        """The 200 to our latest request of ``method`` (retransmissions of it are dropped)."""
        cseq = f"{self.cseq} {method}"
        response = self.expect(
            f"200 to {cseq}",
            lambda m: not m.is_request and m.get("cseq") == cseq and m.code == 200,
        )
        self.inbox[:] = [m for m in self.inbox if m.is_request or m.get("cseq") != cseq]
        return response

    def ack_with(self, call: dict[str, str], response: RawMessage, body: bytes = b"") -> None:
        """ACK a 2xx in the dialog (a new branch), with ``body`` as the SDP answer when given."""
        tag = re.search(r";tag=([^;>\s]+)", response.get("to"))
        assert tag is not None
        call["to_tag"] = tag.group(1)
        headers = self._headers(
            dict(call, branch=self.unique("z9hG4bK-ack-")), f"{self.cseq} ACK", call["to_tag"]
        )
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.send(sip(f"ACK {call['uri']} SIP/2.0", headers, body), int(call["port"]))

    def reinvite(self, call: dict[str, str], body: bytes = b"") -> None:
        self.cseq += 1
        headers = [
            *self._headers(
                dict(call, branch=self.unique("z9hG4bK-re-")), f"{self.cseq} INVITE", call["to_tag"]
            ),
            ("Contact", f"<sip:raw@127.0.0.1:{self.port}>"),
        ]
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.send(sip(f"INVITE {call['uri']} SIP/2.0", headers, body), int(call["port"]))

    def hang_up(self, call: dict[str, str]) -> None:
        self.cseq += 1
        headers = self._headers(
            dict(call, branch=self.unique("z9hG4bK-bye-")), f"{self.cseq} BYE", call["to_tag"]
        )
        self.send(sip(f"BYE {call['uri']} SIP/2.0", headers), int(call["port"]))

    def request(self, method: str) -> RawMessage:
        return self.expect(f"a {method} from bob", lambda m: m.is_request and m.method == method)


def answer(port: int = 41000, direction: str = "sendrecv", version: int = 1) -> bytes:
    """An SDP answer to the fake stream's one PCMU line."""
    return (
        f"v=0\r\no=raw 9 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    ).encode()


def sdp_of(message: RawMessage) -> FrozenSDPSession:
    assert message.get("content-type") == "application/sdp", message
    return FrozenSDPSession.parse(message.body)


def directions(sdp: FrozenSDPSession) -> list[str]:
    return [str(media.direction) for media in sdp.media]


@pytest.fixture
def raw(loop: Loop) -> Iterator[LatePeer]:
    peer = LatePeer(loop)
    yield peer
    peer.close()


@pytest.fixture
def manager(bob_manager: SessionManagerBase) -> SessionManagerBase:
    """bob's manager, proposing the fake stream's type for late offers."""
    bob_manager.late_offer_types = ("fakeaudio",)
    return bob_manager


def bob_port(bob_engine: Any) -> int:
    return int(bob_engine.local_address("udp").port)


def incoming(loop: Loop, manager: SessionManagerBase) -> Session:
    loop.run_until(
        lambda: manager.sessions and manager.sessions[0].state == "incoming", what="SIPSessionNewIncoming"
    )
    return manager.sessions[0]


def late_call(
    loop: Loop, raw: LatePeer, bob_engine: Any, manager: SessionManagerBase
) -> tuple[Session, dict, RawMessage]:
    """An offerless INVITE from the raw peer, accepted with the proposed streams: the session, the
    call, and our 200 (not yet ACKed)."""
    call = raw.late_invite(bob_port(bob_engine))
    session = incoming(loop, manager)
    session.accept(session.proposed_streams)
    return session, call, raw.ok(call)


def offered_call(
    loop: Loop, raw: LatePeer, bob_engine: Any, manager: SessionManagerBase, direction: str = "sendrecv"
):
    """A usual call (the raw peer offers), connected: the session and the call."""
    call = raw.late_invite(bob_port(bob_engine), pcmu_offer(extra=f"a={direction}\r\n"))
    session = incoming(loop, manager)
    session.accept(session.proposed_streams)
    raw.ack_with(call, raw.ok(call))
    loop.run_until(lambda: session.state == "connected", what="the call to start")
    return session, call


# -- the initial INVITE -------------------------------------------------------------------------------


def test_an_offerless_invite_is_offered_our_streams_in_the_200_and_starts_with_the_answer_in_the_ack(
    loop, raw, bob_engine, manager, recorder
):
    """SIPSessionNewIncoming proposes a stream of the late-offer type; accept() initialises it as
    the offering side, the 200 carries its offer, and the ACK's answer starts it."""
    call = raw.late_invite(bob_port(bob_engine))
    session = incoming(loop, manager)
    (new,) = named(recorder, "SIPSessionNewIncoming", session)
    assert [type(stream) for stream in new.streams] == [FakeStream]
    assert session.proposed_streams == new.streams
    session.send_ring_indication()
    assert raw.expect("180", lambda m: not m.is_request and m.code == 180).body == b""
    session.accept(session.proposed_streams)
    ok = raw.ok(call)
    offer = sdp_of(ok)
    assert [(m.media, m.port, directions(offer)) for m in offer.media] == [("audio", 40000, ["sendrecv"])]
    assert session.state == "accepting" and named(recorder, "SIPSessionWillStart", session)

    raw.ack_with(call, ok, answer(41000))
    loop.run_until(lambda: session.state == "connected", what="SIPSessionDidStart")
    (stream,) = session.streams
    assert stream.calls == ["initialize outgoing", "start 0"]
    assert session._invitation.sdp.active_remote.media[0].port == 41000
    assert session_names(recorder, session) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionDidStart",
    ]  # fmt: skip
    (done,) = named(recorder, "SIPSessionDidProcessTransaction", session)
    assert (done.method, done.code, done.ack_received) == ("INVITE", 200, True)

    raw.hang_up(call)
    loop.run_until(lambda: session.state == "terminated", what="the peer's BYE")
    assert named(recorder, "SIPSessionDidEnd", session)[0].originator == "remote"
    assert stream.calls[-1] == "end" and manager.sessions == []


def test_the_sdks_own_offerless_invite_is_answered_in_its_ack_and_both_sides_agree(
    loop, alice, alice_engine, bob_engine, manager, recorder
):
    """The core Invitation as a caller without an offer (its ``send_ack(sdp)`` answers): the
    session on bob's side offers, starts on alice's answer, and the two active SDPs mirror each
    other."""
    caller = Invitation(engine=alice_engine)
    contact = ContactHeader(SIPURI("127.0.0.1", user="alice", port=alice_engine.local_address("udp").port))
    target = SIPURI("127.0.0.1", user="bob", port=bob_port(bob_engine))
    caller.send_invite(
        target, FromHeader(alice.uri, "Alice"), ToHeader(SIPURI("example.test", user="bob")),
        RouteHeader(target), contact,
    )  # fmt: skip
    session = incoming(loop, manager)
    session.accept(session.proposed_streams)
    loop.run_until(lambda: caller.state == "connecting", what="bob's 200 with the offer")
    offer = caller.sdp.proposed_remote
    assert offer is not None and offer.media[0].port == 40000
    caller.send_ack(FrozenSDPSession.parse(answer(42000, "recvonly")))
    loop.run_until(lambda: session.state == "connected", what="bob's session to start")
    assert session._invitation.sdp.active_remote.media[0].port == 42000
    assert str(caller.sdp.active_remote.media[0].direction) == "sendonly"  # limited by the recvonly
    assert session.streams[0].on_hold_by_remote is False  # recvonly: the peer still listens
    caller.end()
    loop.run_until(lambda: session.state == "terminated", what="the caller's BYE")
    assert session_names(recorder, session)[-2:] == ["SIPSessionWillEnd", "SIPSessionDidEnd"]


def test_accept_takes_streams_the_application_made_as_the_reference_lets_it(
    loop, raw, bob_engine, bob_manager, recorder
):
    """With no registered stream of a late-offer type, SIPSessionNewIncoming proposes nothing (as
    the reference does for an offerless INVITE) and accept() takes the application's own streams;
    an empty list is refused."""
    assert bob_manager.late_offer_types == ("audio",)  # FakeStream's type is 'fakeaudio'
    call = raw.late_invite(bob_port(bob_engine))
    session = incoming(loop, bob_manager)
    assert named(recorder, "SIPSessionNewIncoming", session)[0].streams == []
    with pytest.raises(ValueError):
        session.accept([])
    mine = [FakeStream(), FakeStream()]
    session.accept(mine)
    ok = raw.ok(call)
    assert [m.port for m in sdp_of(ok).media] == [40000, 40000]
    two = answer(41000) + b"m=audio 0 RTP/AVP 0\r\n"  # the peer refuses the second line
    raw.ack_with(call, ok, two)
    loop.run_until(lambda: session.state == "connected", what="the session to start")
    assert session.streams == [mine[0]] and mine[1].calls == ["initialize outgoing", "end"]


def test_the_default_late_offer_is_one_audio_stream_of_the_registry():
    """What a plain application gets: one AudioStream (made without arguments; the account fills
    its settings when it is initialised). A type nobody registered gives nothing."""
    (stream,) = streams_for_late_offer(MediaStreamRegistry())
    assert isinstance(stream, AudioStream)
    assert streams_for_late_offer(MediaStreamRegistry(), ("video",)) == []
    only_fake = MediaStreamRegistryBase()
    only_fake.add(FakeStream)
    assert streams_for_late_offer(only_fake) == []
    assert [type(s) for s in streams_for_late_offer(only_fake, ("fakeaudio",))] == [FakeStream]


@pytest.mark.parametrize(
    ("ack_body", "why"),
    [
        (b"", "the ACK has no SDP answer"),
        (b"v=0\r\nthis is not SDP\r\n", "SDP negotiation failed"),
        (answer(0), "the answer in the ACK refused every stream"),
    ],
    ids=["no-sdp", "malformed-sdp", "every-stream-refused"],
)
def test_an_ack_without_a_usable_answer_ends_the_call_with_a_bye_and_the_session_fails(
    loop, raw, bob_engine, manager, recorder, ack_body, why
):
    """RFC 3261 §13.2.1: the answer to an offer in a 2xx must be in the ACK. Without one, or with
    one we cannot use, bob's side sends a BYE and the session fails (never starts) with a reason
    that says so; the streams are ended and nothing of the dialog is left."""
    session, call, ok = late_call(loop, raw, bob_engine, manager)
    raw.ack_with(call, ok, ack_body)
    bye = raw.request("BYE")
    raw.respond(bye, 200, "OK")
    loop.run_until(lambda: session.state == "terminated", what="SIPSessionDidFail")
    (failed,) = named(recorder, "SIPSessionDidFail", session)
    assert failed.code == 0 and why in failed.failure_reason
    assert failed.failure_reason.startswith("SDP negotiation failed")
    assert not named(recorder, "SIPSessionDidStart", session)
    assert session.proposed_streams[0].calls == ["initialize outgoing", "end"]
    loop.run_until(lambda: not any(leftovers(bob_engine).values()), what="the dialog to go")
    assert manager.sessions == []


# -- re-INVITEs without SDP ------------------------------------------------------------------------


def test_an_offerless_reinvite_gets_our_current_streams_and_the_acks_answer_is_applied(
    loop, raw, bob_engine, manager, recorder
):
    """The peer asks for an offer (a refresh, third-party call control): the 200 carries the
    stream's offer (the same o= version: nothing changed, RFC 3264 §8), the ACK's answer reaches the stream (``update``), and
    a hold the answer announces is posted with originator remote."""
    session, call = offered_call(loop, raw, bob_engine, manager)
    (stream,) = session.streams
    first = session._invitation.sdp.active_local
    raw.reinvite(call)
    ok = raw.ok(call)
    offer = sdp_of(ok)
    assert (offer.id, offer.version) == (first.id, first.version)  # RFC 3264 §8: nothing changed
    assert directions(offer) == ["sendrecv"] and offer.media[0].port == 40000
    raw.ack_with(call, ok, answer(41000, "sendonly"))
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", session), what="the remote hold")
    (hold,) = named(recorder, "SIPSessionDidChangeHoldState", session)
    assert (hold.originator, hold.on_hold) == ("remote", True)
    assert stream.on_hold_by_remote and session.on_hold
    assert session._invitation.sdp.active_remote.media[0].port == 41000
    assert session.state == "connected" and session.streams == [stream]
    assert not named(recorder, "SIPSessionGotProposal", session)


def test_an_offerless_reinvite_keeps_both_holds_when_the_answer_keeps_them(
    loop, raw, bob_engine, manager, recorder
):
    """The peer holds us (its offer was sendonly), we hold it too: asked for an offer, we offer
    sendonly (our hold stays in our SDP), the peer answers inactive, and no hold change is posted:
    both holds are what they were."""
    session, call = offered_call(loop, raw, bob_engine, manager, direction="sendonly")
    (stream,) = session.streams
    assert stream.on_hold_by_remote
    session.hold()
    ours = raw.request("INVITE")
    raw.respond(ours, 200, "OK", body=answer(41000, "inactive", version=2))
    raw.expect("bob's ACK", lambda m: m.is_request and m.method == "ACK")
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", session), what="our hold")
    changes = len(named(recorder, "SIPSessionDidChangeHoldState", session))

    raw.reinvite(call)
    ok = raw.ok(call)
    assert directions(sdp_of(ok)) == ["sendonly"]
    raw.ack_with(call, ok, answer(41000, "inactive", version=3))
    loop.run_until(
        lambda: stream.calls.count("start 0") == 1 and session._offer_out is None, what="the answer"
    )
    loop.turn(5)
    assert stream.on_hold_by_local and stream.on_hold_by_remote
    assert len(named(recorder, "SIPSessionDidChangeHoldState", session)) == changes
    assert session._invitation.sdp.active_remote.version == 3
    session.unhold()  # a hold change waits for nothing now: the re-INVITE goes
    raw.respond(raw.request("INVITE"), 200, "OK", body=answer(41000, "sendonly", version=4))
    loop.run_until(lambda: not stream.on_hold_by_local, what="our unhold")


def test_an_offerless_reinvite_whose_ack_has_no_answer_ends_the_call_with_a_bye(
    loop, raw, bob_engine, manager, recorder
):
    """The ACK to our offer carries no answer: bob's side sends a BYE and the running session ends
    (SIPSessionDidEnd, the reason names the missing answer)."""
    session, call = offered_call(loop, raw, bob_engine, manager)
    raw.reinvite(call)
    raw.ack_with(call, raw.ok(call))
    raw.respond(raw.request("BYE"), 200, "OK")
    loop.run_until(lambda: session.state == "terminated", what="SIPSessionDidEnd")
    (ended,) = named(recorder, "SIPSessionDidEnd", session)
    assert "SDP" in ended.end_reason and "ACK" in ended.end_reason
    assert session_names(recorder, session)[-2:] == ["SIPSessionWillEnd", "SIPSessionDidEnd"]
    assert manager.sessions == []


# -- provisional responses to our re-INVITE ---------------------------------------------------------


def test_provisional_responses_to_our_reinvite_are_posted_before_its_outcome(
    loop, raw, bob_engine, manager, recorder
):
    """The reference's SIPSessionGotProvisionalResponse covers re-INVITEs too: a 183 and a 180 to
    our hold re-INVITE are posted with their code and reason, in order, before the hold change; a
    100 Trying is not, and no ring indication is posted for a re-INVITE."""
    session, _ = offered_call(loop, raw, bob_engine, manager)
    session.hold()
    ours = raw.request("INVITE")
    raw.respond(ours, 100, "Trying")
    raw.respond(ours, 183, "Session Progress")
    raw.respond(ours, 180, "Ringing")
    loop.run_until(lambda: len(named(recorder, "SIPSessionGotProvisionalResponse", session)) == 2, what="1xx")
    raw.respond(ours, 200, "OK", body=answer(41000, "recvonly", version=2))
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", session), what="the hold")
    got = named(recorder, "SIPSessionGotProvisionalResponse", session)
    assert [(d.code, d.reason) for d in got] == [(183, "Session Progress"), (180, "Ringing")]
    assert not named(recorder, "SIPSessionGotRingIndication", session)
    after = session_names(recorder, session)[3:]  # after NewIncoming, WillStart, DidStart
    assert after == [
        "SIPSessionGotProvisionalResponse", "SIPSessionGotProvisionalResponse", "SIPSessionDidChangeHoldState",
    ]  # fmt: skip
