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


FORKS = [("u1", 0.0), ("t1", 0.0), ("u1", 4.0)]


@pytest.mark.parametrize(("transport", "pause"), FORKS, ids=["udp", "tcp", "udp-after-timer-m"])
def test_sipp_as_a_forking_proxy_gets_both_200s_acked_and_the_second_fork_byed(
    sipp, loop, recorder, transport, pause
):
    """Fork B's 200 comes once fork A's is ACKed: straight away (the INVITE client transaction
    is Accepted and hands it up), or 4 s later with T1 = 50 ms, when Timer M (64*T1 = 3.2 s) has
    ended that transaction and the 200 reaches the Invitation as a stray response."""
    engine = SIPEngine(reactor=loop.reactor)
    engine.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True, t1=0.05 if pause else 0.5)
    try:
        run = sipp.spawn(
            "invite_fork_uas.xml", service="service", transport=transport, timeout=20,
            extra_args=["-d", str(int(pause * 1000))],
        ).wait_listening()  # fmt: skip
        invitation = call(engine, run, "udp" if transport == "u1" else "tcp")
        loop.run_until(
            lambda: invitation.state in ("connected", "disconnected"), 10, what="the call to connect"
        )
        assert invitation.state == "connected" and invitation.dialog_id.remote_tag.startswith("forkA")
        try:
            loop.run_until(
                lambda: _bye_answered(recorder, "forkB"), 10 + pause, what="fork B's BYE to be answered"
            )
        except AssertionError as error:
            raise AssertionError(f"{error}\n{_trace(recorder)}") from None
        assert invitation.state == "connected" and invitation.sdp.active_remote.media[0].port == 6000
        invitation.end()
        loop.run_until(lambda: invitation.state == "disconnected", 10, what="the BYE to be answered")
        result = finish(loop, run)
        assert result.ok and result.successful == 1, result.describe()
    finally:
        loop.wait(engine.stop())


def _bye_answered(recorder, tag: str) -> bool:
    """Whether a 200 to a BYE of the dialog with To tag ``tag`` arrived (from the SIP trace)."""
    for notification in recorder.named("SIPEngineSIPTrace"):
        data = notification.data.data
        answer = notification.data.received and data.startswith(b"SIP/2.0 200") and b"BYE" in data
        if answer and f"tag={tag}".encode() in data:
            return True
    return False


def _trace(recorder) -> str:
    """What the engine sent and received, first lines only (for failure messages)."""
    lines = []
    for notification in recorder.named("SIPEngineSIPTrace"):
        data = notification.data
        first = data.data.split(b"\r\n", 1)[0].decode(errors="replace")
        tags = [
            line
            for line in data.data.decode(errors="replace").split("\r\n")
            if line.startswith(("To:", "t:"))
        ]
        lines.append(f"{'<-' if data.received else '->'} {first} {tags}")
    return "\n".join(lines)
