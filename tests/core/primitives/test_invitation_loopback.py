"""Two real SIPEngines on a fresh reactor calling each other over UDP and TCP: INVITE, 180, 200,
ACK, a re-INVITE putting the call on hold, BYE. Waits are bounded and only for network events."""

from __future__ import annotations

import pytest

from sipsimple.core import Invitation
from sipsimple.core.primitives import install_invitation_handler
from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI


def sdp(port: int, direction: str = "sendrecv", version: int = 1) -> FrozenSDPSession:
    text = (
        f"v=0\r\no=- 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        f"m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    )
    return FrozenSDPSession.parse(text)


def states(recorder, invitation):
    return [
        (n.data.state, n.data.sub_state)
        for n in recorder.named("SIPInvitationChangedState")
        if n.sender is invitation
    ]


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_two_engines_call_hold_and_hang_up(loop, client, server_engine, recorder, transport):
    incoming: list[Invitation] = []
    install_invitation_handler(server_engine, incoming.append)
    port = server_engine.local_address(transport).port
    params = {"transport": transport}
    caller = Invitation(engine=client)
    caller.send_invite(
        SIPURI("127.0.0.1", user="bob", port=port, parameters=params),
        FromHeader(SIPURI("example.test", user="alice")),
        ToHeader(SIPURI("example.test", user="bob")),
        RouteHeader(SIPURI("127.0.0.1", port=port, parameters=params)),
        ContactHeader(
            SIPURI("127.0.0.1", user="alice", port=client.local_address(transport).port, parameters=params)
        ),
        sdp=sdp(4000),
    )
    loop.run_until(lambda: incoming and incoming[0].state == "incoming", what="the incoming INVITE")
    callee = incoming[0]
    assert callee.sdp.proposed_remote is not None
    callee.send_response(180)
    loop.run_until(lambda: caller.state == "early", what="180 at the caller")
    callee.send_response(200, sdp=sdp(5000))
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    assert caller.sdp.active_remote.media[0].port == 5000
    assert callee.sdp.active_remote.media[0].port == 4000
    assert caller.dialog_id.call_id == callee.dialog_id.call_id
    assert caller.transport == transport

    caller.send_reinvite(sdp=sdp(4000, "sendonly"))
    loop.run_until(lambda: callee.sub_state == "received_proposal", what="the re-INVITE")
    callee.send_response(200, sdp=sdp(5000, "recvonly"))
    loop.run_until(lambda: caller.sub_state == "normal" and callee.sub_state == "normal", what="hold done")
    assert caller.sdp.active_local.media[0].direction == "sendonly"
    assert callee.sdp.active_local.media[0].direction == "recvonly"

    caller.end()
    loop.run_until(lambda: caller.state == "disconnected" and callee.state == "disconnected", what="BYE")
    assert states(recorder, caller) == [
        ("calling", None), ("early", None), ("connecting", None), ("connected", "normal"),
        ("connected", "sending_proposal"), ("connected", "normal"), ("disconnecting", None), ("disconnected", None),
    ]  # fmt: skip
    assert states(recorder, callee) == [
        ("incoming", None), ("early", None), ("connecting", None), ("connected", "normal"),
        ("connected", "received_proposal"), ("connected", "normal"), ("disconnected", None),
    ]  # fmt: skip
    updates = [n for n in recorder.named("SIPInvitationGotSDPUpdate") if n.sender is caller]
    assert [u.data.succeeded for u in updates] == [True, True]


def test_two_engines_negotiate_a_session_timer_and_the_callee_refreshes(loop, client, server_engine):
    """RFC 4028 across two real engines over UDP: the caller offers 90 s and leaves the choice,
    the callee takes the refresher role; both sides agree on the interval and who refreshes.
    (The refresh itself is timed on a Clock in test_invitation_timers.py: these engines run on a
    real reactor, so waiting 45 s here would be a sleep.)"""
    incoming: list[Invitation] = []
    install_invitation_handler(server_engine, incoming.append, session_timer={"refresher": "uas"})
    port = server_engine.local_address("udp").port
    caller = Invitation(engine=client)
    caller.send_invite(
        SIPURI("127.0.0.1", user="bob", port=port),
        FromHeader(SIPURI("example.test", user="alice")),
        ToHeader(SIPURI("example.test", user="bob")),
        RouteHeader(SIPURI("127.0.0.1", port=port)),
        ContactHeader(SIPURI("127.0.0.1", user="alice", port=client.local_address("udp").port)),
        sdp=sdp(4000),
        session_timer={"session_expires": 90},
    )
    loop.run_until(lambda: incoming and incoming[0].state == "incoming", what="the incoming INVITE")
    callee = incoming[0]
    callee.send_response(200, sdp=sdp(5000))
    loop.run_until(lambda: caller.state == "connected" and callee.state == "connected", what="both connected")
    assert (caller.session_expires, caller.session_refresher) == (90, "remote")
    assert (callee.session_expires, callee.session_refresher) == (90, "local")
    caller.end()
    loop.run_until(lambda: caller.state == "disconnected" and callee.state == "disconnected", what="BYE")
    assert caller.session_expires is None and callee.session_expires is None
