"""The middleware Session against SIPp on loopback (issue 6, "SIPp scenarios"): reliable
provisionals (183 + PRACK, both directions), re-INVITE glare (491 and our retry), the CANCEL/200
race (both directions), forking with two 200s, session timers (we refresh, SIPp refreshes, SIPp
never refreshes and we BYE at expiry) and a BYE before the ACK.

Each test drives a Session with the fake stream (SIPp sends no RTP) on a fresh reactor turned by
the test, and checks both what SIPp saw (its exit status and counters, or a check_it in the
scenario) and what we sent and received (the engine's SIP trace), plus the Session's
notifications. Every wait is bounded; the scenarios are ``configs/sipp/session_*.xml`` (and
``invite_fork_uas.xml``). Timers of 32 s and more (RFC 4028 intervals, Timer L/M) are passed by
moving our reactor's clock forward (``Warp``), never by sleeping."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.core.sip.headers import ToHeader
from sipsimple.core.sip.message import SIPMessage, parse_message
from sipsimple.core.sip.uri import SIPURI
from sipsimple.lookup import Route
from sipsimple.session import Session, SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from tests.streams.fake import FakeStream
from tests.support.accounts import Accounts, StandInAccount
from tests.support.reactor import Loop, fresh_reactor

from .peers.sipp import Sipp, SippResult, SippRun

pytestmark = pytest.mark.interop

TRANSPORTS = [("u1", "udp"), ("t1", "tcp")]
#: Runs a test once over UDP and once over TCP (SIPp's transport mode, ours).
over_udp_and_tcp = pytest.mark.parametrize(("sipp_transport", "transport"), TRANSPORTS, ids=["udp", "tcp"])


@pytest.fixture
def loop() -> Iterator[Loop]:
    with fresh_reactor() as reactor:
        yield Loop(reactor)


class Warp:
    """Moves our reactor's clock forward on demand (the session timers run on ``reactor.seconds``):
    the RFC 4028 intervals of 90 s are tested in a second of real time, against a SIPp that
    keeps its own real clock. Installed before the engine starts, so that every timer of the
    test sees the same clock."""

    def __init__(self, reactor: Any) -> None:
        self.offset = 0.0
        real = reactor.seconds
        reactor.seconds = lambda: real() + self.offset

    def advance(self, loop: Loop, seconds: float) -> None:
        """Jump ``seconds`` ahead and let the timers that became due run."""
        self.offset += seconds
        loop.turn(10)


@pytest.fixture
def warp(loop: Loop) -> Warp:
    return Warp(loop.reactor)


@pytest.fixture
def engine(loop: Loop, warp: Warp) -> Iterator[SIPEngine]:
    instance = SIPEngine(reactor=loop.reactor)
    instance.start(ip_address="127.0.0.1", udp_port=0, tcp_port=0, trace_sip=True)
    yield instance
    loop.wait(instance.stop())


@pytest.fixture
def account(engine: SIPEngine) -> StandInAccount:
    return StandInAccount("alice", engine)


@pytest.fixture
def manager(engine: SIPEngine, account: StandInAccount) -> Iterator[SessionManagerBase]:
    """A SessionManager taking SIPp's INVITEs to alice (fake streams only)."""
    registry = MediaStreamRegistryBase()
    registry.add(FakeStream)
    instance = SessionManagerBase(engine=engine, account_manager=Accounts(account), registry=registry)
    instance.start()
    yield instance
    instance.stop()


# -- helpers ---------------------------------------------------------------------------------------


def finish(loop: Loop, run: SippRun, timeout: float = 20.0) -> SippResult:
    """Turn our reactor until SIPp exits (it may still be talking to us), then collect its result."""
    popen = run.process.popen
    assert popen is not None
    loop.run_until(lambda: popen.poll() is not None, timeout, what="SIPp to finish")
    return run.wait()


def call(account: StandInAccount, engine: SIPEngine, run: SippRun, transport: str) -> Session:
    """A Session from alice to SIPp's ``service`` user, with one fake stream."""
    session = Session(account, engine=engine)
    route = Route("127.0.0.1", run.local_port, transport)
    session.connect(
        ToHeader(SIPURI("127.0.0.1", user="service", port=run.local_port)), [route], [FakeStream()]
    )
    return session


def sipp_uac(sipp: Sipp, engine: SIPEngine, scenario: str, transport: str, sipp_transport: str) -> SippRun:
    """SIPp running ``scenario`` as a caller to alice at our engine."""
    port = engine.local_address(transport).port
    return sipp.spawn(scenario, ("127.0.0.1", port), service="alice", transport=sipp_transport)


def incoming(loop: Loop, manager: SessionManagerBase, recorder: Any, timeout: float = 10.0) -> Session:
    """The session SIPp's INVITE created (waits for it)."""
    try:
        loop.run_until(lambda: manager.sessions, timeout, what="SIPp's INVITE")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{describe(recorder)}") from None
    return manager.sessions[0]


def names(recorder: Any, session: Session) -> list[str]:
    """The SIPSession* notifications ``session`` posted, in order (without the per-transaction
    SIPSessionDidProcessTransaction, which other tests check)."""
    return [
        n.name
        for n in recorder.notifications
        if n.sender is session
        and n.name.startswith("SIPSession")
        and n.name != "SIPSessionDidProcessTransaction"
    ]


def data(recorder: Any, name: str, session: Session) -> list[Any]:
    return [n.data for n in recorder.named(name) if n.sender is session]


def trace(recorder: Any, *, received: bool | None = None) -> list[SIPMessage]:
    """The SIP messages the engine sent (received=False) or received (True), parsed, in order."""
    messages = []
    for notification in recorder.named("SIPEngineSIPTrace"):
        if received is None or notification.data.received == received:
            messages.append(parse_message(notification.data.data))
    return messages


def requests(messages: list[SIPMessage], method: str) -> list[Any]:
    return [m for m in messages if getattr(m, "method", None) == method]


def responses(messages: list[SIPMessage], code: int, method: str | None = None) -> list[Any]:
    return [
        m
        for m in messages
        if getattr(m, "code", None) == code and (method is None or m.cseq.method == method)
    ]


def assert_nothing_left(loop: Loop, warp: Warp, engine: SIPEngine) -> None:
    """No dialog stays registered on the engine, and once 64*T1 passed on our clock (Timer
    L/M/J/K, the stray-2xx listening) no transaction or stray handler is left either."""
    assert engine._dialog_handlers == {}
    warp.advance(loop, 64 * 0.5 + 1)
    assert engine.stack.transaction_count == 0 and engine._stray_handlers == {}


def describe(recorder: Any) -> str:
    """What the engine sent and received, first lines only (for failure messages)."""
    lines = []
    for notification in recorder.named("SIPEngineSIPTrace"):
        first = notification.data.data.split(b"\r\n", 1)[0].decode(errors="replace")
        lines.append(f"{'<-' if notification.data.received else '->'} {first}")
    return "\n".join(lines)


# -- 1. reliable provisional responses (RFC 3262) -------------------------------------------------


@over_udp_and_tcp
def test_a_reliable_183_from_sipp_is_pracked_and_the_session_starts_on_its_answer(
    sipp: Sipp, loop: Loop, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp requires 100rel: our PRACK names RSeq 1 and the INVITE's CSeq (SIPp checks the RAck
    shape, we check the numbers), the SDP answer of the 183 is the one the session starts with
    (the 200 has none), and our BYE ends it."""
    run = sipp.spawn("session_100rel_uas.xml", service="service", transport=sipp_transport).wait_listening()
    session = call(account, engine, run, transport)
    loop.run_until(lambda: session.state in ("connected", "terminated"), 10, what="the session to start")
    assert session.state == "connected", describe(recorder)
    stream = session.streams[0]
    assert stream.calls == ["initialize outgoing", "start 0"]
    assert session._invitation.sdp.active_remote.media[0].port == 6000  # from the 183
    session.end()
    loop.run_until(lambda: session.state == "terminated", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()

    sent = trace(recorder, received=False)
    (invite,) = requests(sent, "INVITE")
    (prack,) = requests(sent, "PRACK")
    rack = (prack.get_raw("RAck") or "").split()
    assert rack == ["1", str(invite.cseq.number), "INVITE"]
    # every 18x is reported: the reliable 183, then the (unreliable) 180 that rings
    assert names(recorder, session) == [
        "SIPSessionNewOutgoing", "SIPSessionGotProvisionalResponse", "SIPSessionGotRingIndication",
        "SIPSessionGotProvisionalResponse", "SIPSessionWillStart", "SIPSessionDidStart",
        "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    provisionals = data(recorder, "SIPSessionGotProvisionalResponse", session)
    assert [(p.code, p.reason) for p in provisionals] == [(183, "Session Progress"), (180, "Ringing")]
    (ended,) = data(recorder, "SIPSessionDidEnd", session)
    assert ended.originator == "local"


@over_udp_and_tcp
def test_our_ringing_is_reliable_and_resent_until_sipp_pracks_it_when_its_invite_requires_100rel(
    sipp: Sipp, loop: Loop, engine: SIPEngine, manager: SessionManagerBase, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp's INVITE says Require: 100rel; send_ring_indication() gives a 180 with Require: 100rel
    and an RSeq that is resent (same RSeq) while SIPp holds back its PRACK for 1.2 s, and no more
    once the PRACK is answered; the session is then accepted and SIPp's BYE ends it."""
    run = sipp_uac(sipp, engine, "session_100rel_uac.xml", transport, sipp_transport)
    session = incoming(loop, manager, recorder)
    session.send_ring_indication()
    loop.run_until(lambda: responses(trace(recorder, received=False), 200, "PRACK"), 10, what="the PRACK")
    loop.turn(20)
    sent = trace(recorder, received=False)
    ringing = responses(sent, 180)
    (prack,) = requests(trace(recorder, received=True), "PRACK")
    rseqs = {m.get_raw("RSeq").strip() for m in ringing}
    assert len(rseqs) == 1 and all("100rel" in (m.get_raw("Require") or "") for m in ringing)
    assert (prack.get_raw("RAck") or "").split() == [rseqs.pop(), "1", "INVITE"]
    assert len(ringing) >= 2, describe(recorder)  # resent at T1 (0.5 s) over TCP too (RFC 3262 §3)

    session.accept(session.proposed_streams)
    loop.run_until(lambda: session.state == "terminated", 10, what="SIPp's BYE")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    assert len(responses(trace(recorder, received=False), 180)) == len(ringing)  # none after the PRACK
    assert names(recorder, session) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionWillEnd",
        "SIPSessionDidEnd",
    ]  # fmt: skip
    (ended,) = data(recorder, "SIPSessionDidEnd", session)
    assert ended.originator == "remote"


# -- 4. forking -----------------------------------------------------------------------------------


@over_udp_and_tcp
def test_a_session_through_a_forking_proxy_keeps_the_first_200_and_byes_the_second_fork(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp plays a forking proxy (configs/sipp/invite_fork_uas.xml): fork A answers first and the
    session starts with fork A's SDP; fork B's later 200 is ACKed and BYEd by the core (SIPp
    checks the BYE's To tag) without a second DidStart; the session then ends with fork A."""
    run = sipp.spawn("invite_fork_uas.xml", service="service", transport=sipp_transport).wait_listening()
    session = call(account, engine, run, transport)
    loop.run_until(lambda: session.state in ("connected", "terminated"), 10, what="the session to start")
    assert session.state == "connected", describe(recorder)

    def fork_b_byed() -> bool:
        return any(
            "forkB" in (m.get_raw("To") or "") for m in responses(trace(recorder, received=True), 200, "BYE")
        )

    loop.run_until(fork_b_byed, 10, what="fork B's BYE to be answered")
    assert session.state == "connected" and session.streams[0].calls == ["initialize outgoing", "start 0"]
    assert session._invitation.sdp.active_remote.media[0].port == 6000  # fork A's answer
    session.end()
    loop.run_until(lambda: session.state == "terminated", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    assert names(recorder, session) == [
        "SIPSessionNewOutgoing", "SIPSessionGotRingIndication", "SIPSessionGotProvisionalResponse",
        "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    acks = requests(trace(recorder, received=False), "ACK")
    assert sorted("forkA" in (a.get_raw("To") or "") for a in acks) == [False, True]
    assert_nothing_left(loop, warp, engine)


# -- 6. a BYE before the ACK ----------------------------------------------------------------------


@over_udp_and_tcp
def test_a_bye_before_the_ack_ends_our_session_and_stops_our_200_retransmissions(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, manager: SessionManagerBase, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp answers our 200 with a BYE and never ACKs: the session ends (DidEnd, originator
    remote), the BYE gets 200, and for the next 3 s SIPp receives nothing more from us (no 200
    resent, no BYE of ours: the scenario would fail); the dialog is gone from the engine."""
    run = sipp_uac(sipp, engine, "session_bye_before_ack_uac.xml", transport, sipp_transport)
    session = incoming(loop, manager, recorder)
    invitation = session._invitation
    session.accept(session.proposed_streams)
    loop.run_until(lambda: session.state == "terminated", 10, what="SIPp's BYE")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    sent = trace(recorder, received=False)
    assert len(responses(sent, 200, "BYE")) == 1
    bye_at = next(i for i, m in enumerate(sent) if getattr(m, "code", None) == 200 and m.cseq.method == "BYE")
    assert not [m for m in sent[bye_at:] if getattr(m, "code", None) == 200 and m.cseq.method == "INVITE"]
    assert not requests(sent, "BYE")
    assert invitation.state == "disconnected"
    assert not invitation._timers._calls and not invitation._registered  # no 2xx timer, no dialog left
    assert names(recorder, session) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    (ended,) = data(recorder, "SIPSessionDidEnd", session)
    assert (ended.originator, ended.end_reason) == ("remote", "user request")
    assert session.streams == [] and session.proposed_streams[0].calls[-1] == "end"
    assert manager.sessions == []
    assert_nothing_left(loop, warp, engine)


# -- 3. the CANCEL race ---------------------------------------------------------------------------


@over_udp_and_tcp
def test_a_200_crossing_our_cancel_is_acked_and_byed_and_the_session_fails_with_487(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """We end() the session while SIPp rings; SIPp answers the INVITE 200 after our CANCEL: the
    core ACKs and BYEs that dialog (SIPp waits for both), the session never starts and fails with
    487 'user request' as docs/session.md promises, and no dialog stays registered."""
    run = sipp.spawn(
        "session_cancel_race_uas.xml", service="service", transport=sipp_transport
    ).wait_listening()
    session = call(account, engine, run, transport)
    loop.run_until(lambda: data(recorder, "SIPSessionGotRingIndication", session), 10, what="ringing")
    invitation = session._invitation
    session.end()
    loop.run_until(lambda: session.state == "terminated", 10, what="the session to fail")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    sent = [getattr(m, "method", None) for m in trace(recorder, received=False)]
    assert [m for m in sent if m] == ["INVITE", "CANCEL", "ACK", "BYE"]
    assert names(recorder, session) == [
        "SIPSessionNewOutgoing", "SIPSessionGotRingIndication", "SIPSessionGotProvisionalResponse",
        "SIPSessionDidFail",
    ]  # fmt: skip
    (failed,) = data(recorder, "SIPSessionDidFail", session)
    assert (failed.originator, failed.code, failed.failure_reason) == ("local", 487, "user request")
    assert session.start_time is None and session.streams == []
    loop.run_until(lambda: invitation.state == "disconnected", 5, what="the BYE to be answered")
    assert not invitation._registered  # the raced dialog was BYEd and forgotten
    assert_nothing_left(loop, warp, engine)


@over_udp_and_tcp
def test_sipp_cancelling_our_ringing_session_gets_487_and_the_session_fails(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, manager: SessionManagerBase, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp CANCELs while our session rings: the CANCEL gets 200, the INVITE 487 (SIPp expects
    both and ACKs), our session posts DidFail (originator remote) and leaves the manager."""
    run = sipp_uac(sipp, engine, "session_cancel_uac.xml", transport, sipp_transport)
    session = incoming(loop, manager, recorder)
    session.send_ring_indication()
    loop.run_until(lambda: session.state == "terminated", 10, what="SIPp's CANCEL")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    sent = trace(recorder, received=False)
    assert len(responses(sent, 200, "CANCEL")) == 1 and len(responses(sent, 487, "INVITE")) >= 1
    assert names(recorder, session) == ["SIPSessionNewIncoming", "SIPSessionDidFail"]
    (failed,) = data(recorder, "SIPSessionDidFail", session)
    assert (failed.originator, failed.code, failed.failure_reason) == ("remote", 487, "user request")
    assert manager.sessions == []
    assert_nothing_left(loop, warp, engine)


# -- 5. session timers (RFC 4028) -----------------------------------------------------------------

WITH_UPDATE = "INVITE, ACK, BYE, CANCEL, UPDATE"
WITHOUT_UPDATE = "INVITE, ACK, BYE, CANCEL"


def sent_after(recorder: Any, count: int) -> list[Any]:
    """What the engine sent after its first ``count`` messages."""
    return trace(recorder, received=False)[count:]


@pytest.mark.parametrize(
    ("sipp_transport", "transport", "allow", "method"),
    [("u1", "udp", WITH_UPDATE, "UPDATE"), ("u1", "udp", WITHOUT_UPDATE, "INVITE"),
     ("t1", "tcp", WITH_UPDATE, "UPDATE")],
    ids=["udp-update", "udp-reinvite", "tcp-update"],
)  # fmt: skip
def test_we_refresh_the_session_at_half_the_interval_sipp_chose(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str, allow: str, method: str,
):  # fmt: skip
    """SIPp's 200 says Session-Expires: 90;refresher=uac: nothing is sent at 44 s (our clock),
    the refresh goes by 46 s (an UPDATE when SIPp allows it, else a re-INVITE with our SDP
    unchanged), carries Session-Expires 90;refresher=uac (SIPp checks it), is answered and
    restarts the timer (nothing more by 44 s after it); the session posts nothing for it."""
    run = sipp.spawn("session_timer_refresh_uas.xml", service="service", transport=sipp_transport,
                     keys={"allow": allow}).wait_listening()  # fmt: skip
    session = call(account, engine, run, transport)
    loop.run_until(lambda: session.state in ("connected", "terminated"), 10, what="the session to start")
    assert session.state == "connected", describe(recorder)
    assert session._invitation.session_expires == 90
    assert session._invitation.session_refresher == "local"
    before = len(trace(recorder, received=False))
    warp.advance(loop, 44)
    assert sent_after(recorder, before) == []
    warp.advance(loop, 2)
    loop.run_until(
        lambda: responses(trace(recorder, received=True), 200, method), 5, what="the refresh's 200"
    )
    (refresh,) = requests(sent_after(recorder, before), method)
    assert (refresh.get_raw("Session-Expires") or "").replace(" ", "") == "90;refresher=uac"
    if method == "INVITE":
        invite = requests(trace(recorder, received=False), "INVITE")[0]
        assert refresh.body == invite.body  # the same SDP, same version: no renegotiation
        loop.run_until(lambda: len(requests(trace(recorder, received=False), "ACK")) == 2, 5, what="the ACK")
    after = len(trace(recorder, received=False))
    warp.advance(loop, 44)
    assert sent_after(recorder, after) == []
    session.end()
    loop.run_until(lambda: session.state == "terminated", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    assert names(recorder, session) == [
        "SIPSessionNewOutgoing", "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionWillEnd",
        "SIPSessionDidEnd",
    ]  # fmt: skip


@over_udp_and_tcp
def test_a_refresh_from_sipp_restarts_our_expiry_and_without_another_we_bye_at_expiry(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp is the refresher (Session-Expires: 90;refresher=uas): its re-INVITE at 40 s (our
    clock) is answered at once with Session-Expires 90;refresher=uac (SIPp checks it) and not
    announced; it moves our expiry from 60 s to 100 s (RFC 4028 §10: 90 - min(32, 90/3)): no BYE
    at 80 s, a BYE by 101 s; the session ends with end_reason 'session timer expired'."""
    run = sipp.spawn(
        "session_timer_uas_refresher.xml", service="service", transport=sipp_transport
    ).wait_listening()
    session = call(account, engine, run, transport)
    loop.run_until(lambda: session.state in ("connected", "terminated"), 10, what="the session to start")
    assert session.state == "connected", describe(recorder)
    assert session._invitation.session_refresher == "remote"
    warp.advance(loop, 40)
    assert not requests(trace(recorder, received=False), "BYE")
    loop.run_until(lambda: len(requests(trace(recorder, received=True), "ACK")) == 1, 5, what="the refresh")
    warp.advance(loop, 40)
    assert not requests(trace(recorder, received=False), "BYE") and session.state == "connected"
    warp.advance(loop, 21)
    loop.run_until(lambda: session.state == "terminated", 5, what="our BYE at the expiry")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    assert names(recorder, session) == [
        "SIPSessionNewOutgoing", "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionWillEnd",
        "SIPSessionDidEnd",
    ]  # fmt: skip
    (ended,) = data(recorder, "SIPSessionDidEnd", session)
    assert (ended.originator, ended.end_reason) == ("local", "session timer expired")


@over_udp_and_tcp
def test_when_sipp_never_refreshes_we_bye_at_the_expiry(
    sipp: Sipp, loop: Loop, warp: Warp, engine: SIPEngine, account: StandInAccount, recorder: Any,
    sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp takes the refresher role and never refreshes: no BYE at 59 s (our clock), a BYE by
    61 s (90 - min(32, 90/3) = 60, RFC 4028 §10), SIPp answers it, and the session ends with
    originator local and end_reason 'session timer expired'."""
    run = sipp.spawn(
        "session_timer_uas_silent.xml", service="service", transport=sipp_transport
    ).wait_listening()
    session = call(account, engine, run, transport)
    loop.run_until(lambda: session.state in ("connected", "terminated"), 10, what="the session to start")
    assert session.state == "connected", describe(recorder)
    warp.advance(loop, 59)
    assert not requests(trace(recorder, received=False), "BYE") and session.state == "connected"
    warp.advance(loop, 2)
    loop.run_until(lambda: session.state == "terminated", 5, what="our BYE at the expiry")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    (ended,) = data(recorder, "SIPSessionDidEnd", session)
    assert (ended.originator, ended.end_reason) == ("local", "session timer expired")
    assert not requests(trace(recorder, received=True), "INVITE")


# -- 2. re-INVITE glare ---------------------------------------------------------------------------


GLARE = [("uac", "u1", "udp"), ("uac", "t1", "tcp"), ("uas", "u1", "udp"), ("uas", "t1", "tcp")]


@pytest.mark.parametrize(("role", "sipp_transport", "transport"), GLARE, ids=lambda value: value)
def test_crossing_re_invites_get_491_both_ways_and_our_hold_is_retried_and_succeeds(
    sipp: Sipp, loop: Loop, engine: SIPEngine, account: StandInAccount, manager: SessionManagerBase,
    recorder: Any, role: str, sipp_transport: str, transport: str,
):  # fmt: skip
    """SIPp calls us (role uac) or answers our call (uas); we hold() and SIPp sends its own
    re-INVITE as soon as ours arrives. We answer SIPp's 491 (ours is out), SIPp answers ours 491;
    we resend our re-INVITE after the RFC 3261 §14.1 delay, measured here: 0-2 s when SIPp owns
    the Call-ID, 2.1-4 s when we do. SIPp accepts it and the session reports the hold; SIPp's own
    proposal is never announced. Our BYE ends the call."""
    if role == "uac":
        run = sipp_uac(sipp, engine, "session_glare_uac.xml", transport, sipp_transport)
        session = incoming(loop, manager, recorder)
        session.accept(session.proposed_streams)
        low, high = 0.0, 2.0
    else:
        run = sipp.spawn(
            "session_glare_uas.xml", service="service", transport=sipp_transport
        ).wait_listening()
        session = call(account, engine, run, transport)
        low, high = 2.1, 4.0
    loop.run_until(lambda: session.state == "connected", 10, what="the session to start")
    loop.run_until(lambda: requests(trace(recorder), "ACK"), 5, what="the ACK")
    session.hold()
    loop.run_until(lambda: responses(trace(recorder, received=True), 491), 5, what="SIPp's 491")
    refused_at = time.monotonic()
    loop.run_until(lambda: len(requests(trace(recorder, received=False), "INVITE")) == (2 if role == "uac" else 3),
                   6, what="our retry")  # fmt: skip
    delay = time.monotonic() - refused_at
    assert low - 0.1 <= delay <= high + 0.5, delay
    loop.run_until(lambda: data(recorder, "SIPSessionDidChangeHoldState", session), 5, what="the hold")
    (held,) = data(recorder, "SIPSessionDidChangeHoldState", session)
    assert (held.originator, held.on_hold, held.partial) == ("local", True, False)
    assert session.on_hold and session.state == "connected"
    assert responses(trace(recorder, received=False), 491, "INVITE")  # SIPp's re-INVITE was refused
    session.end()
    loop.run_until(lambda: session.state == "terminated", 10, what="the BYE to be answered")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    first, retry = requests(trace(recorder, received=False), "INVITE")[-2:]
    assert retry.cseq.number > first.cseq.number and b"a=sendonly" in retry.body
    start = ["SIPSessionNewIncoming"] if role == "uac" else ["SIPSessionNewOutgoing"]
    assert names(recorder, session) == [
        *start, "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionDidChangeHoldState",
        "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
