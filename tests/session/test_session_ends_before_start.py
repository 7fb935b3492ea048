"""The Session when the peer hangs up an answered call before the session started (a BYE before
the ACK, RFC 3261 §15): an end (WillEnd, DidEnd), not a failure. The Invitation is a stand-in
that records what the Session asks of it and posts the notifications a real one would; time is a
``Clock``."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from twisted.internet.task import Clock

from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.notification import NotificationCenter, NotificationData
from sipsimple.session import Session
from tests.streams.fake import FakeStream

OFFER = FrozenSDPSession.parse(
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


class StandInEngine:
    def __init__(self) -> None:
        self.reactor = Clock()

    def local_address(self, transport: str) -> Any:
        return SimpleNamespace(host="127.0.0.1", port=5060)


class StandInInvitation:
    """What the Session reads and calls on an incoming Invitation."""

    transport = "udp"
    local_identity = None
    remote_identity = None

    def __init__(self) -> None:
        self.state = "incoming"
        self.sdp = SimpleNamespace(proposed_remote=OFFER, active_local=None, active_remote=None)
        self.responses: list[int] = []
        self.ended = False

    def send_response(self, code: int, reason: str | None = None, **options: Any) -> None:
        self.responses.append(code)

    def end(self) -> None:
        self.ended = True

    def post(self, prev_state: str, state: str, **attributes: Any) -> None:
        values = {"prev_sub_state": None, "sub_state": None, "code": None, "reason": None, "method": None,
                  "headers": None, "body": None, "disconnect_reason": None, **attributes}  # fmt: skip
        self.state = state
        NotificationCenter().post_notification(
            "SIPInvitationChangedState",
            sender=self,
            data=NotificationData(prev_state=prev_state, state=state, **values),
        )


def accepted_session() -> tuple[Session, StandInInvitation, FakeStream]:
    """An incoming session we accepted: our 200 is out, the peer's ACK has not come."""
    invitation = StandInInvitation()
    stream = FakeStream()
    session = Session(SimpleNamespace(), engine=StandInEngine())
    session._init_incoming(invitation, [stream], [stream], {})
    session.accept([stream])
    assert invitation.responses == [200] and session.state == "accepting"
    invitation.post("incoming", "connecting")
    return session, invitation, stream


def session_names(recorder: Any, session: Session) -> list[str]:
    return [n.name for n in recorder.notifications if n.sender is session and n.name.startswith("SIPSession")
            and n.name != "SIPSessionDidProcessTransaction"]  # fmt: skip


def test_a_bye_before_the_ack_ends_the_accepted_session_instead_of_failing_it(recorder):
    session, invitation, stream = accepted_session()
    invitation.post("connecting", "disconnected", originator="remote", method="BYE",
                    disconnect_reason="user request")  # fmt: skip
    assert session.state == "terminated"
    assert session_names(recorder, session) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    ended = next(n.data for n in recorder.named("SIPSessionDidEnd") if n.sender is session)
    assert (ended.originator, ended.end_reason) == ("remote", "user request")
    assert stream.calls[-1] == "end" and session.start_time is None


def test_a_missing_ack_still_fails_the_accepted_session(recorder):
    """Only a BYE is an end: the call dropped for want of an ACK never was a call."""
    session, invitation, _ = accepted_session()
    invitation.post("connecting", "disconnected", originator="local", disconnect_reason="no ACK for the 2xx")
    assert session_names(recorder, session)[-1] == "SIPSessionDidFail"
    failed = next(n.data for n in recorder.named("SIPSessionDidFail") if n.sender is session)
    assert failed.failure_reason == "no ACK for the 2xx"
