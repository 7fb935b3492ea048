"""Late offers against SIPp on loopback (docs/session.md, "Late offer"): SIPp calls without SDP
and answers our offer in the ACK, then asks for an offer again with a re-INVITE without SDP and
answers it sendonly (``configs/sipp/late_offer_uac.xml``); and SIPp's ACK without the answer,
which we end with a BYE (``late_offer_no_answer_uac.xml``).

SIPp checks that each of our 200s carries an audio offer; the test checks the Session's
notifications and the engine's SIP trace. The fixtures (a fresh reactor turned by the test, an
engine with SIP tracing, a fake-stream SessionManager) are those of test_session_sipp_interop.py;
every wait is bounded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sipsimple.core.engine import SIPEngine
from sipsimple.session import SessionManagerBase
from sipsimple.streams import MediaStreamRegistryBase
from tests.streams.fake import FakeStream
from tests.support.accounts import Accounts, StandInAccount

from .peers.sipp import Sipp
from .test_session_sipp_interop import (  # noqa: F401  # fixtures: loop, warp, engine, account
    TRANSPORTS,
    Warp,
    account,
    assert_nothing_left,
    data,
    engine,
    finish,
    incoming,
    loop,
    names,
    requests,
    responses,
    sipp_uac,
    trace,
    warp,
)

pytestmark = pytest.mark.interop


@pytest.fixture
def manager(engine: SIPEngine, account: StandInAccount) -> Iterator[SessionManagerBase]:  # noqa: F811
    """A SessionManager taking SIPp's INVITEs to alice, proposing a fake stream for late offers."""
    registry = MediaStreamRegistryBase()
    registry.add(FakeStream)
    instance = SessionManagerBase(engine=engine, account_manager=Accounts(account), registry=registry)
    instance.late_offer_types = ("fakeaudio",)
    instance.start()
    yield instance
    instance.stop()


@pytest.mark.parametrize(("sipp_transport", "transport"), TRANSPORTS, ids=["udp", "tcp"])
def test_sipps_offerless_invite_and_reinvite_get_our_offer_and_its_answers_in_the_acks_are_applied(
    sipp: Sipp, loop: Any, warp: Warp, engine: SIPEngine, manager: SessionManagerBase,  # noqa: F811
    recorder: Any, sipp_transport: str, transport: str,
):  # fmt: skip
    """The session is announced with the proposed fake stream, our 200 carries its offer, SIPp's
    ACK answer starts it; the offerless re-INVITE gets the offer again and the sendonly answer in
    its ACK is reported as SIPp's hold. SIPp's BYE ends the session; nothing is left."""
    run = sipp_uac(sipp, engine, "late_offer_uac.xml", transport, sipp_transport)
    session = incoming(loop, manager, recorder)
    (stream,) = data(recorder, "SIPSessionNewIncoming", session)[0].streams
    assert isinstance(stream, FakeStream)
    session.accept([stream])
    loop.run_until(lambda: session.state == "connected", 10, what="the session to start")
    assert stream.calls == ["initialize outgoing", "start 0"]
    loop.run_until(lambda: data(recorder, "SIPSessionDidChangeHoldState", session), 10, what="SIPp's hold")
    (held,) = data(recorder, "SIPSessionDidChangeHoldState", session)
    assert (held.originator, held.on_hold) == ("remote", True) and stream.on_hold_by_remote
    loop.run_until(lambda: session.state == "terminated", 10, what="SIPp's BYE")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()

    received, sent = trace(recorder, received=True), trace(recorder, received=False)
    invites = requests(received, "INVITE")
    assert len(invites) == 2 and not any(invite.body for invite in invites)
    oks = responses(sent, 200, "INVITE")
    assert {ok.cseq.number for ok in oks} == {1, 2} and all(b"m=audio 40000 RTP/AVP" in ok.body for ok in oks)
    acks = requests(received, "ACK")
    assert [ack.cseq.number for ack in acks] == [1, 2] and b"a=sendonly" in acks[1].body
    assert names(recorder, session) == [
        "SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionDidStart", "SIPSessionDidChangeHoldState",
        "SIPSessionWillEnd", "SIPSessionDidEnd",
    ]  # fmt: skip
    assert data(recorder, "SIPSessionDidEnd", session)[0].originator == "remote"
    assert manager.sessions == []
    assert_nothing_left(loop, warp, engine)


@pytest.mark.parametrize(("sipp_transport", "transport"), TRANSPORTS, ids=["udp", "tcp"])
def test_sipps_ack_without_the_answer_to_our_offer_is_ended_with_a_bye_and_the_session_fails(
    sipp: Sipp, loop: Any, warp: Warp, engine: SIPEngine, manager: SessionManagerBase,  # noqa: F811
    recorder: Any, sipp_transport: str, transport: str,
):  # fmt: skip
    """RFC 3261 §13.2.1: SIPp's ACK carries no answer, so we send a BYE (SIPp waits for it and
    answers 200); the session never starts and fails with a reason that names the missing
    answer; its stream is ended."""
    run = sipp_uac(sipp, engine, "late_offer_no_answer_uac.xml", transport, sipp_transport)
    session = incoming(loop, manager, recorder)
    session.accept(session.proposed_streams)
    loop.run_until(lambda: session.state == "terminated", 10, what="the session to fail")
    result = finish(loop, run)
    assert result.ok and result.successful == 1, result.describe()
    sent = trace(recorder, received=False)
    assert len(requests(sent, "BYE")) == 1 and responses(trace(recorder, received=True), 200, "BYE")
    (failed,) = data(recorder, "SIPSessionDidFail", session)
    assert failed.code == 0 and failed.failure_reason.startswith("SDP negotiation failed")
    assert "no SDP answer" in failed.failure_reason
    assert names(recorder, session) == ["SIPSessionNewIncoming", "SIPSessionWillStart", "SIPSessionDidFail"]
    assert session.proposed_streams[0].calls == ["initialize outgoing", "end"]
    assert manager.sessions == []
    assert_nothing_left(loop, warp, engine)
