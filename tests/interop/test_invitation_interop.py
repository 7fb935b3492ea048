"""The Invitation against SIPp on loopback: SIPp answers our call and we hang up. (Forking with two
2xx is covered on the fake engine in tests/core/primitives/test_invitation.py; a SIPp forking
scenario is future work: its second 200 did not reliably reach the engine.)
The Engine runs on a fresh reactor turned by the test; every wait is bounded."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sipsimple.core import Invitation
from sipsimple.core.engine import SIPEngine
from sipsimple.core.sdp import FrozenSDPSession
from sipsimple.core.sip.headers import ContactHeader, FromHeader, RouteHeader, ToHeader
from sipsimple.core.sip.uri import SIPURI
from tests.support.reactor import Loop, fresh_reactor

from .peers.sipp import SippResult, SippRun

pytestmark = pytest.mark.interop

OFFER = FrozenSDPSession.parse(
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


@pytest.fixture
def engine(loop: Loop) -> Iterator[SIPEngine]:
    instance = SIPEngine(reactor=loop.reactor)
    instance.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True)
    yield instance
    loop.wait(instance.stop())


def finish(loop: Loop, run: SippRun, timeout: float = 20.0) -> SippResult:
    popen = run.process.popen
    assert popen is not None
    loop.run_until(lambda: popen.poll() is not None, timeout, what="SIPp to finish")
    return run.wait()


def call(engine: SIPEngine, run: SippRun, transport: str) -> Invitation:
    params = {"transport": transport}
    invitation = Invitation(engine=engine)
    invitation.send_invite(
        SIPURI("127.0.0.1", user="service", port=run.local_port, parameters=params),
        FromHeader(SIPURI("example.test", user="alice")),
        ToHeader(SIPURI("example.test", user="service")),
        RouteHeader(SIPURI("127.0.0.1", port=run.local_port, parameters=params)),
        ContactHeader(
            SIPURI("127.0.0.1", user="alice", port=engine.local_address(transport).port, parameters=params)
        ),
        sdp=OFFER,
    )
    return invitation


@pytest.mark.parametrize("transport", ["u1", "t1"], ids=["udp", "tcp"])
def test_sipp_answers_our_call_and_our_bye_ends_it(sipp, loop, engine, recorder, transport):
    run = sipp.spawn("invite_uas.xml", service="service", transport=transport, timeout=15).wait_listening()
    invitation = call(engine, run, "udp" if transport == "u1" else "tcp")
    loop.run_until(lambda: invitation.state in ("connected", "disconnected"), 10, what="the call to connect")
    assert invitation.state == "connected"
    assert invitation.sdp.active_remote is not None
    invitation.end()
    loop.run_until(lambda: invitation.state == "disconnected", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    states = [n.data.state for n in recorder.named("SIPInvitationChangedState") if n.sender is invitation]
    assert states == ["calling", "early", "connecting", "connected", "disconnecting", "disconnected"]
