"""Bad input to sessions: a malformed SDP offer or answer, an offer with no codec in common, a
re-INVITE that changes or drops the SRTP keys, a re-INVITE adding a stream type nobody handles, and
the unknown SDP lines RFC 4566 says a receiver must tolerate.

The far end is either a sipsimple Session (two SIPEngines on one fresh reactor, AudioStreams on
null-device mixers, as in tests/streams/test_audio_stream.py) or a ``RawPeer``: a plain UDP socket
speaking SIP written by hand in the test, for what a correct stack never sends.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from sipsimple.core.primitives.invitation._base import _DIALOGS
from sipsimple.core.sdp import SDPAttribute, SDPMediaStream
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session
from sipsimple.streams.rtp import AudioStream
from tests.session.test_session_loopback import named
from tests.streams.test_audio_stream import (
    connected_call,
    run_media,
)
from tests.support.reactor import Loop

COMPACT = {
    "v": "via",
    "f": "from",
    "t": "to",
    "i": "call-id",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}


class RawMessage:
    """A received SIP message: start line, headers (lower-case names, in order), body."""

    def __init__(self, data: bytes, source: tuple[str, int]) -> None:
        head, _, self.body = data.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        self.start = lines[0]
        self.source = source
        self.headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            self.headers.append((COMPACT.get(name, name), value.strip()))

    def all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]

    def get(self, name: str) -> str:
        return self.all(name)[0]

    @property
    def is_request(self) -> bool:
        return not self.start.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        return self.start.split()[0] if self.is_request else self.get("cseq").split()[1]

    @property
    def code(self) -> int:
        return int(self.start.split()[1])

    def __repr__(self) -> str:
        return f"<RawMessage {self.start!r} {self.get('cseq')!r}>"


def sip(start: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    lines = [start, *(f"{name}: {value}" for name, value in headers), f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class RawPeer:
    """A UDP socket on 127.0.0.1 that sends what the test wrote and reads what comes back."""

    def __init__(self, loop: Loop) -> None:
        self.loop = loop
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.inbox: list[RawMessage] = []
        self._counter = 0

    def close(self) -> None:
        self.sock.close()

    def unique(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self.port}x{self._counter}"

    def send(self, data: bytes, port: int) -> None:
        self.sock.sendto(data, ("127.0.0.1", port))

    def drain(self) -> None:
        while True:
            try:
                data, source = self.sock.recvfrom(65536)
            except BlockingIOError:
                return
            self.inbox.append(RawMessage(data, source))

    def expect(self, what: str, match: Any, timeout: float = 2.0) -> RawMessage:
        """Turn the reactor until a message ``match(message)`` accepts arrives; it is taken out."""
        found: list[RawMessage] = []

        def arrived() -> bool:
            self.drain()
            for message in self.inbox:
                if match(message):
                    self.inbox.remove(message)
                    found.append(message)
                    return True
            return False

        self.loop.run_until(arrived, timeout, what=what)
        return found[0]

    # -- the caller's side ------------------------------------------------------------------------

    def invite(self, port: int, sdp: bytes, user: str = "bob") -> dict[str, str]:
        """Sends an INVITE with ``sdp``; returns the dialog pieces the later requests need."""
        call = {
            "call_id": self.unique("raw-call-"),
            "from_tag": self.unique("ft"),
            "branch": self.unique("z9hG4bK-raw-"),
            "uri": f"sip:{user}@127.0.0.1:{port}",
            "port": str(port),
        }
        headers = [
            *self._headers(call, "1 INVITE"),
            ("Contact", f"<sip:raw@127.0.0.1:{self.port}>"),
            ("Content-Type", "application/sdp"),
        ]
        self.send(sip(f"INVITE {call['uri']} SIP/2.0", headers, sdp), port)
        return call

    def _headers(self, call: dict[str, str], cseq: str, to_tag: str | None = None) -> list[tuple[str, str]]:
        to = "<sip:bob@example.test>" + (f";tag={to_tag}" if to_tag else "")
        return [
            ("Via", f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={call['branch']};rport"),
            ("Max-Forwards", "70"),
            ("From", f"<sip:raw@example.test>;tag={call['from_tag']}"),
            ("To", to),
            ("Call-ID", call["call_id"]),
            ("CSeq", cseq),
        ]

    def final(self, call: dict[str, str], timeout: float = 2.0) -> RawMessage:
        return self.expect(
            f"a final response to {call['call_id']}",
            lambda m: not m.is_request and m.get("call-id") == call["call_id"] and m.code >= 200,
            timeout,
        )

    def ack(self, call: dict[str, str], response: RawMessage) -> None:
        """ACK a final response (a non-2xx in its transaction, a 2xx in the dialog with a new branch)."""
        to_tag = re.search(r";tag=([^;>\s]+)", response.get("to")).group(1)  # type: ignore[union-attr]
        call["to_tag"] = to_tag
        if response.code >= 300:
            headers = self._headers(call, "1 ACK", to_tag)
        else:
            headers = self._headers(dict(call, branch=self.unique("z9hG4bK-ack-")), "1 ACK", to_tag)
        self.send(sip(f"ACK {call['uri']} SIP/2.0", headers), int(call["port"]))

    def bye(self, call: dict[str, str]) -> None:
        headers = self._headers(dict(call, branch=self.unique("z9hG4bK-bye-")), "2 BYE", call["to_tag"])
        self.send(sip(f"BYE {call['uri']} SIP/2.0", headers), int(call["port"]))

    def cancel(self, call: dict[str, str]) -> None:
        self.send(sip(f"CANCEL {call['uri']} SIP/2.0", self._headers(call, "1 CANCEL")), int(call["port"]))

    # -- the callee's side ------------------------------------------------------------------------

    def respond(
        self, request: RawMessage, code: int, reason: str, to_tag: str = "rawtag", extra=(), body=b""
    ) -> None:
        headers = [("Via", via) for via in request.all("via")]
        to = (
            request.get("to")
            if code == 100 or ";tag=" in request.get("to")
            else f"{request.get('to')};tag={to_tag}"
        )
        headers += [("From", request.get("from")), ("To", to), ("Call-ID", request.get("call-id")),
                    ("CSeq", request.get("cseq")), *extra]  # fmt: skip
        if body:
            headers.append(("Content-Type", "application/sdp"))
        self.sock.sendto(sip(f"SIP/2.0 {code} {reason}", headers, body), request.source)


def pcmu_offer(port: int = 40000, extra: str = "") -> bytes:
    return (
        "v=0\r\no=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n{extra}"
    ).encode()


def leftovers(engine: Any) -> dict[str, Any]:
    """What the engine and the Invitation layer still hold for dialogs (empty: nothing leaked)."""
    return {
        "dialog handlers": dict(engine._dialog_handlers),
        "invitations": [key for key in _DIALOGS if key[0] == id(engine)],
    }


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def raw(loop) -> Iterator[RawPeer]:
    peer = RawPeer(loop)
    yield peer
    peer.close()


def rx_packets(stream: AudioStream) -> int:
    return int(stream.statistics["rx"]["packets"])  # type: ignore[index]


def keeps_receiving(loop, sides, stream: AudioStream, seconds: float = 0.4) -> bool:
    """True when ``stream`` receives more packets over ``seconds`` of mixer time."""
    before = rx_packets(stream)
    run_media(loop, sides, seconds)
    return rx_packets(stream) > before + 5


# -- malformed SDP ------------------------------------------------------------------------------

MALFORMED = {
    "no v= line": b"o=raw 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
    "a line that is not type=value": pcmu_offer(extra="this is not an SDP line\r\n"),
    "a bad port": pcmu_offer().replace(b"m=audio 40000", b"m=audio port"),
    "binary garbage": b"\x00\xff\xfe garbage \x01\r\n",
}


@pytest.mark.parametrize("what", sorted(MALFORMED))
def test_a_malformed_sdp_offer_is_refused_488_before_any_session_exists(
    what, loop, raw, bob_engine, audio_manager, recorder
):
    """RFC 3261 §21.4.26 / RFC 3264 §6: an offer we cannot read is a session description we cannot
    accept: 488 (not 400: the SIP message itself is well formed), with the parser's reason in the
    reason phrase. Nothing is announced and nothing is kept."""
    invite = raw.invite(bob_engine.local_address("udp").port, MALFORMED[what])
    response = raw.final(invite)
    raw.ack(invite, response)
    assert response.code == 488 and response.start.startswith("SIP/2.0 488 Not Acceptable Here - ")
    loop.turn()
    assert not recorder.named("SIPSessionNewIncoming") and audio_manager.sessions == []
    assert leftovers(bob_engine) == {"dialog handlers": {}, "invitations": []}


def test_a_malformed_sdp_answer_is_acked_then_byed_and_the_session_fails_with_the_reason(
    loop, raw, alice, sides, recorder, memory_configuration
):
    caller_side, _ = sides
    stream = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"])
    session = Session(alice)
    session.connect(
        ToHeader(SIPURI("example.test", user="bob")), [Route("127.0.0.1", raw.port, "udp")], [stream]
    )
    invite = raw.expect("the INVITE", lambda m: m.is_request and m.method == "INVITE")
    raw.respond(
        invite, 200, "OK", extra=[("Contact", f"<sip:raw@127.0.0.1:{raw.port}>")], body=b"v=0\r\ngarbage\r\n"
    )
    raw.expect("the ACK", lambda m: m.is_request and m.method == "ACK")
    bye = raw.expect("the BYE", lambda m: m.is_request and m.method == "BYE")
    raw.respond(bye, 200, "OK")
    loop.run_until(lambda: session.state == "terminated", what="the session's end")
    [failed] = named(recorder, "SIPSessionDidFail", session)
    assert failed.originator == "local" and "SDP" in failed.failure_reason, failed.failure_reason
    assert not named(recorder, "SIPSessionDidStart", session) and not named(
        recorder, "SIPSessionDidEnd", session
    )
    assert named(recorder, "MediaStreamDidEnd", stream), "the stream was not ended"


def test_an_offer_with_no_common_codec_gets_488_and_the_caller_fails_with_code_and_reason(
    loop, alice, bob, bob_engine, audio_manager, sides, recorder
):
    bob.rtp = SimpleNamespace(audio_codec_list=["PCMA"], encryption=None)  # type: ignore[attr-defined]
    caller_side, _ = sides
    stream = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"])
    session = Session(alice)
    session.connect(
        ToHeader(SIPURI("example.test", user="bob")),
        [Route("127.0.0.1", bob_engine.local_address("udp").port, "udp")],
        [stream],
    )
    loop.run_until(lambda: session.state == "terminated", what="the 488")
    [failed] = named(recorder, "SIPSessionDidFail", session)
    assert (failed.originator, failed.code, failed.reason) == ("local", 488, "Not Acceptable Here")
    assert failed.failure_reason == "488 Not Acceptable Here"
    assert not recorder.named("SIPSessionNewIncoming") and audio_manager.sessions == []
    loop.turn()
    assert leftovers(bob_engine) == {"dialog handlers": {}, "invitations": []}


# -- re-INVITEs that change the media -----------------------------------------------------------


def srtp(mode: str) -> SimpleNamespace:
    return SimpleNamespace(
        audio_codec_list=["PCMU"], encryption=SimpleNamespace(enabled=True, key_negotiation=mode)
    )


def srtp_call(
    loop, alice, bob_engine, manager, sides, mode: str
) -> tuple[Any, Any, AudioStream, AudioStream]:
    """connected_call over TCP: the crypto lines make the INVITE too large for UDP (RFC 3261
    §18.1.1), and the loopback route names one transport."""
    caller_side, callee_side = sides
    ours = AudioStream(mixer=caller_side.mixer, bridge=caller_side.bridge, codecs=["PCMU"], srtp_mode=mode)
    caller = Session(alice)
    route = Route("127.0.0.1", bob_engine.local_address("tcp").port, "tcp")
    caller.connect(ToHeader(SIPURI("example.test", user="bob")), [route], [ours])
    loop.run_until(lambda: manager.sessions and manager.sessions[0].state == "incoming", what="the call")
    callee = manager.sessions[0]
    (theirs,) = callee.proposed_streams
    theirs.mixer, theirs.bridge = callee_side.mixer, callee_side.bridge
    callee.accept([theirs])
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    return caller, callee, ours, theirs


def test_a_re_invite_with_new_srtp_keys_rekeys_both_ways_and_audio_keeps_flowing(
    loop, alice, bob, bob_engine, audio_manager, sides, recorder
):
    """RFC 4568 §7.1.4: a new key in a re-offer replaces the inbound context; the answerer keeps
    its own key; SRTP stays on and packets keep being authenticated on both sides."""
    bob.rtp = srtp("sdes_mandatory")  # type: ignore[attr-defined]
    caller, callee, ours, theirs = srtp_call(loop, alice, bob_engine, audio_manager, sides, "sdes_mandatory")
    assert ours.srtp_active and theirs.srtp_active
    assert keeps_receiving(loop, sides, ours) and keeps_receiving(loop, sides, theirs)
    old_ours, old_theirs = ours._audio.srtp_keys, theirs._audio.srtp_keys  # type: ignore[union-attr]
    rekeyed = ours._audio.get_local_media  # type: ignore[union-attr]
    ours._audio.get_local_media = lambda *a, **k: rekeyed(*a, **k, rekey=True)  # type: ignore[union-attr]
    caller.hold()  # the re-offer carries a new key of ours
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", caller), what="the rekeyed hold")
    del ours._audio.get_local_media  # type: ignore[union-attr]
    new_ours, new_theirs = ours._audio.srtp_keys, theirs._audio.srtp_keys  # type: ignore[union-attr]
    assert new_ours.local_key != old_ours.local_key and new_theirs.remote_key == new_ours.local_key
    assert new_theirs.local_key == old_theirs.local_key, "the answerer kept its key"
    assert ours.srtp_active and theirs.srtp_active
    assert keeps_receiving(loop, sides, theirs), "the callee cannot decrypt the new key"
    for stream in (ours, theirs):  # at the start, and for the new key
        assert len(named(recorder, "AudioStreamDidChangeRTPParameters", stream)) == 2
    caller.unhold()
    loop.run_until(lambda: len(named(recorder, "SIPSessionDidChangeHoldState", caller)) == 2, what="unhold")
    assert keeps_receiving(loop, sides, ours) and keeps_receiving(loop, sides, theirs)
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")


def without_crypto(media: SDPMediaStream) -> SDPMediaStream:
    return SDPMediaStream(
        media.media, media.port, "RTP/AVP", formats=list(media.formats), connection=media.connection,
        attributes=[SDPAttribute(a.name, a.value) for a in media.attributes if a.name != "crypto"],
    )  # fmt: skip


def test_a_re_invite_dropping_the_keys_is_refused_488_when_srtp_is_mandatory_and_the_call_stays_up(
    loop, alice, bob, bob_engine, audio_manager, sides, recorder
):
    bob.rtp = srtp("sdes_mandatory")  # type: ignore[attr-defined]
    caller, callee, ours, theirs = srtp_call(loop, alice, bob_engine, audio_manager, sides, "opportunistic")
    assert ours.srtp_active and theirs.srtp_active
    plain = ours._audio.get_local_media  # type: ignore[union-attr]
    ours._audio.get_local_media = lambda *a, **k: without_crypto(plain(*a, **k))  # type: ignore[union-attr]
    caller.hold()
    loop.run_until(
        lambda: any(d.code == 488 for d in named(recorder, "SIPSessionDidProcessTransaction", caller)),
        what="the 488",
    )
    del ours._audio.get_local_media  # type: ignore[union-attr]
    loop.turn()
    assert caller.state == "connected" and callee.state == "connected"
    assert not named(recorder, "SIPSessionDidChangeHoldState", caller), "a refused hold was reported"
    assert not ours.on_hold and ours._audio.direction == "sendrecv", "the refused hold was not undone"
    assert theirs.srtp_active and ours.srtp_active
    assert keeps_receiving(loop, sides, ours) and keeps_receiving(loop, sides, theirs)
    caller.hold()  # the same re-INVITE with its keys: accepted
    loop.run_until(lambda: named(recorder, "SIPSessionDidChangeHoldState", caller), what="the hold")
    invites = [
        d.code for d in named(recorder, "SIPSessionDidProcessTransaction", caller) if d.method == "INVITE"
    ]
    assert invites == [200, 488, 200]
    assert theirs.srtp_active and keeps_receiving(loop, sides, theirs)
    assert len(named(recorder, "AudioStreamDidChangeRTPParameters", theirs)) == 1, (
        "nothing changed but the direction"
    )
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")


class VideoStream:
    """An outgoing-only stream whose m= line is video: no stream type of the callee takes it."""

    type = "video"
    priority = 1
    hold_supported = False
    on_hold_by_local = on_hold_by_remote = on_hold = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def _post(self, name: str) -> None:
        from sipsimple.notification import NotificationCenter, NotificationData

        NotificationCenter().post_notification(name, sender=self, data=NotificationData())

    def get_local_media(self, remote_sdp: Any = None, index: int = 0) -> SDPMediaStream:
        return SDPMediaStream(
            "video", 41000, "RTP/AVP", formats=["96"], attributes=[SDPAttribute("rtpmap", "96 VP8/90000")]
        )

    def initialize(self, session: Any, direction: str) -> None:
        self._post("MediaStreamDidInitialize")

    def start(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        self._post("MediaStreamDidStart")

    def end(self) -> None:
        self.calls.append("end")
        self._post("MediaStreamWillEnd")
        self._post("MediaStreamDidEnd")

    def deactivate(self) -> None:
        pass

    def validate_update(self, remote_sdp: Any, stream_index: int) -> bool:
        return True

    def update(self, local_sdp: Any, remote_sdp: Any, stream_index: int) -> None:
        pass


def test_a_re_invite_adding_a_stream_type_nobody_handles_gets_a_port_zero_line_and_the_call_goes_on(
    loop, alice, bob_engine, audio_manager, sides, recorder
):
    caller, callee, ours, theirs = connected_call(
        loop, alice, bob_engine, audio_manager, sides, codecs=["PCMU"]
    )
    video = VideoStream()
    caller.add_stream(video)
    loop.run_until(lambda: named(recorder, "SIPSessionGotRejectProposal", caller), what="the refusal")
    answer = caller._invitation.sdp.active_remote
    assert [(m.media, m.port == 0) for m in answer.media] == [("audio", False), ("video", True)]
    assert named(recorder, "SIPSessionGotRejectProposal", caller)[0].streams == [video]
    assert video.calls == ["end"] and caller.streams == [ours] and callee.streams == [theirs]
    assert not named(recorder, "SIPSessionGotProposal", callee), (
        "the callee was asked about a stream it cannot take"
    )
    assert caller.state == "connected" and callee.state == "connected"
    assert keeps_receiving(loop, sides, ours) and keeps_receiving(loop, sides, theirs)
    caller.end()
    loop.run_until(lambda: caller.state == "terminated" and callee.state == "terminated", what="ended")


# -- what RFC 4566 says to tolerate --------------------------------------------------------------

TOLERATED = (
    "a=x-unknown-attribute:with some value\r\n"  # §5.13: unknown attributes are ignored
    "a=another-flag\r\n"
    "a=rtpmap:96 NOSUCHCODEC/8000\r\n"  # a codec we lack, beside one we have
    "i=a media title\r\n"
    "b=AS:64\r\n"
)


def test_unknown_attributes_and_codecs_in_an_offer_are_ignored_and_the_call_is_answered(
    loop, raw, bob_engine, audio_manager, sides, recorder
):
    _, callee_side = sides
    offer = pcmu_offer(raw.port + 2, TOLERATED).replace(b"RTP/AVP 0", b"RTP/AVP 96 0")
    offer = offer.replace(b"t=0 0\r\n", b"t=0 0\r\na=session-level-unknown:1\r\n")
    invite = raw.invite(bob_engine.local_address("udp").port, offer)
    loop.run_until(lambda: audio_manager.sessions, what="the incoming session")
    [session] = audio_manager.sessions
    [stream] = session.proposed_streams
    stream.mixer, stream.bridge = callee_side.mixer, callee_side.bridge
    session.accept([stream])
    ok = raw.final(invite)
    raw.ack(invite, ok)
    loop.run_until(lambda: session.state == "connected", what="connected")
    assert ok.code == 200 and b"m=audio" in ok.body and b"PCMU/8000" in ok.body
    assert b"NOSUCHCODEC" not in ok.body and b"unknown" not in ok.body
    assert stream.codec == "PCMU"
    raw.bye(invite)
    raw.expect("the 200 to the BYE", lambda m: not m.is_request and m.method == "BYE")
    loop.run_until(lambda: session.state == "terminated", what="ended")
    assert named(recorder, "SIPSessionDidEnd", session)[0].originator == "remote"
