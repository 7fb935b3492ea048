"""RFC 3261 §18.1.1 against SIPp as a UDP-only UAS on loopback: an INVITE over the 1300-byte limit
is moved to TCP, the connect is refused (SIPp in UDP mode does not listen on TCP), and the INVITE
goes again over UDP, so the call is set up and ended. The Engine runs on a fresh reactor turned by
the test; every wait is bounded."""

from __future__ import annotations

import pytest

from sipsimple.core import Invitation
from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from tests.interop import test_invitation_interop as invitation_interop

from .peers._process import tcp_port_listening

pytestmark = pytest.mark.interop

#: PCMU first (what the SIPp scenario answers with), then enough dynamic payload types with rtpmap
#: and fmtp lines to push the INVITE well past 1300 bytes, as a long codec list does
_DYNAMIC = range(96, 116)
OFFER = FrozenSDPSession.parse(
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    f"m=audio 4000 RTP/AVP 0 {' '.join(str(pt) for pt in _DYNAMIC)}\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    + "".join(
        f"a=rtpmap:{pt} X-CODEC-{pt}/48000/2\r\na=fmtp:{pt} mode={pt};useinbandfec=1\r\n" for pt in _DYNAMIC
    )
)


# the engine fixtures and the SIPp wait of the Invitation interop tests
loop, engine = invitation_interop.loop, invitation_interop.engine
finish = invitation_interop.finish


def sent_invites(recorder) -> list:
    return [
        n.data
        for n in recorder.named("SIPEngineSIPTrace")
        if not n.data.received and n.data.data.startswith(b"INVITE ")
    ]


def test_a_large_invite_reaches_a_udp_only_sipp_over_udp_and_the_call_connects(sipp, loop, engine, recorder):
    """SIPp listens on UDP only; the INVITE (over 1300 bytes) is sent to it in one UDP datagram with
    a UDP Via after the refused TCP connect, SIPp answers 200, and our BYE ends the call."""
    run = sipp.spawn("invite_uas.xml", service="service", transport="u1", timeout=15).wait_listening()
    assert not tcp_port_listening(run.local_port)  # a UDP-only route: a TCP connect is refused
    params = {"transport": "udp"}
    invitation = Invitation(engine=engine)
    invitation.send_invite(
        SIPURI("127.0.0.1", user="service", port=run.local_port, parameters=params),
        FromHeader(SIPURI("example.test", user="alice")),
        ToHeader(SIPURI("example.test", user="service")),
        RouteHeader(SIPURI("127.0.0.1", port=run.local_port, parameters=params)),
        ContactHeader(
            SIPURI("127.0.0.1", user="alice", port=engine.local_address("udp").port, parameters=params)
        ),
        sdp=OFFER,
    )
    loop.run_until(lambda: invitation.state in ("connected", "disconnected"), 10, what="the call to connect")
    assert invitation.state == "connected", [
        n.data.__dict__ for n in recorder.named("SIPInvitationChangedState")
    ]

    [invite] = sent_invites(recorder)  # never written over TCP: only the UDP datagram was traced
    assert invite.transport == "udp" and invite.destination_port == run.local_port
    assert len(invite.data) > 1300
    assert b"\r\nVia: SIP/2.0/UDP " in invite.data

    invitation.end()
    loop.run_until(lambda: invitation.state == "disconnected", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
