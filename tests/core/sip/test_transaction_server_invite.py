"""Tests for sipsimple.core.sip.transaction.server_invite (RFC 3261 §17.2.1, RFC 6026)."""

from __future__ import annotations

import pytest

from sipsimple.core.sip.transaction import (
    CancelTimer,
    InviteServerState,
    InviteServerTransaction,
    LocalProtocolError,
    PassToTU,
    Send,
    StartTimer,
    Stray,
    Terminated,
    TimerConfig,
    TransportError,
)

from .test_transaction_driver import Driver, ProvisionalFactory, Req, Resp


def make(reliable: bool = False, timers: TimerConfig | None = None) -> tuple[Driver, ProvisionalFactory]:
    factory = ProvisionalFactory()
    tx = InviteServerTransaction(Req("INVITE"), reliable=reliable, build_provisional=factory, timers=timers)
    return Driver(tx), factory


def test_start_passes_the_invite_up_and_arms_the_trying_timer() -> None:
    """start() hands the INVITE to the TU and starts the 200 ms trying timer; nothing is sent."""
    driver, _ = make()
    assert driver.start() == [PassToTU(driver.tx.request), StartTimer("trying", 0.2)]
    assert driver.tx.state is InviteServerState.PROCEEDING


def test_100_trying_is_sent_after_200_ms_when_the_tu_is_silent() -> None:
    """With no answer from the TU, the transaction sends the factory's 100 at 0.2 s."""
    driver, factory = make()
    driver.start()
    driver.advance(0.19)
    assert driver.sent() == []
    driver.advance(0.01)
    assert driver.send_times() == [0.2]
    assert factory.calls == [(driver.tx.request, 100)]
    assert driver.tx.last_response is driver.sent()[0]


@pytest.mark.parametrize("code", [180, 200, 486])
def test_no_100_trying_when_the_tu_answers_within_200_ms(code: int) -> None:
    """Any response from the TU before 200 ms cancels the trying timer: no 100 is ever sent."""
    driver, factory = make()
    driver.start()
    driver.advance(0.1)
    answer = Resp(code)
    actions = driver.tu_send(answer)
    assert actions[:2] == [CancelTimer("trying"), Send(answer)]
    driver.advance(0.5)
    assert factory.calls == []
    assert driver.sent()[0] is answer


def test_disabled_trying_timer_sends_no_100() -> None:
    """With TimerConfig(trying=None) the transaction never sends 100 by itself."""
    driver, factory = make(timers=TimerConfig(trying=None))
    assert driver.start() == [PassToTU(driver.tx.request)]
    driver.advance(10)
    assert factory.calls == [] and driver.sent() == []


def test_retransmitted_invite_in_proceeding_gets_the_last_response() -> None:
    """Before any response a retransmitted INVITE is absorbed; afterwards it gets the last one."""
    driver, _ = make()
    driver.start()
    assert driver.request(Req("INVITE")) == []
    ringing = Resp(180)
    driver.tu_send(ringing)
    assert driver.request(Req("INVITE")) == [Send(ringing)]
    session_progress = Resp(183)
    driver.tu_send(session_progress)
    assert driver.request(Req("INVITE")) == [Send(session_progress)]
    assert driver.passed_up() == [driver.tx.request]


def test_udp_non_2xx_is_retransmitted_on_timer_g_until_timer_h() -> None:
    """A 486 at t=1 is re-sent at T1 doubling up to T2 (1.5, 2.5, 4.5, 8.5, 12.5, ... 32.5) and
    Timer H gives Timeout at 33 s when no ACK comes."""
    driver, _ = make()
    driver.start()
    driver.advance(1.0)
    busy = Resp(486)
    driver.tu_send(busy)
    assert driver.tx.state is InviteServerState.COMPLETED
    driver.advance(100)
    assert driver.send_times() == [0.2, 1.0, 1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert all(m is busy for m in driver.sent()[1:])
    assert [(t, a.timer) for t, a in driver.timeouts()] == [(33.0, "H")]
    assert driver.terminated_at() == 33.0


def test_tcp_non_2xx_is_sent_once_and_timer_h_still_applies() -> None:
    """On a reliable transport Timer G is not used; Timer H still waits 64*T1 for the ACK."""
    driver, _ = make(reliable=True)
    driver.start()
    driver.tu_send(Resp(404))
    driver.advance(100)
    assert driver.send_times() == [0.0]
    assert [t for t, _ in driver.timeouts()] == [32.0]


def test_retransmitted_invite_in_completed_gets_the_final_response_again() -> None:
    """In Completed a retransmitted INVITE is answered with the non-2xx final response."""
    driver, _ = make()
    driver.start()
    final = Resp(603)
    driver.tu_send(final)
    assert driver.request(Req("INVITE")) == [Send(final)]


@pytest.mark.parametrize("reliable, linger", [(False, 5.0), (True, 0.0)])
def test_ack_confirms_and_timer_i_ends_confirmed(reliable: bool, linger: float) -> None:
    """The ACK cancels G and H and enters Confirmed (not passed up); Timer I is T4 on UDP and
    zero on TCP; ACKs and INVITEs in Confirmed are absorbed."""
    driver, _ = make(reliable)
    driver.start()
    driver.tu_send(Resp(480))
    driver.advance(2.0)
    actions = driver.run(driver.tx.receive_request(Req("ACK")))
    assert not any(isinstance(a, PassToTU) for a in actions)
    assert driver.timeouts() == []
    if reliable:
        assert isinstance(actions[-1], Terminated)
    else:
        assert driver.tx.state is InviteServerState.CONFIRMED
        assert driver.request(Req("ACK")) == [] and driver.request(Req("INVITE")) == []
        sends = len(driver.sent())
        driver.advance(100)
        assert len(driver.sent()) == sends  # G was cancelled
    assert driver.terminated_at() == 2.0 + linger


@pytest.mark.parametrize("reliable", [False, True])
def test_2xx_enters_accepted_for_timer_l(reliable: bool) -> None:
    """RFC 6026: after a 2xx, retransmitted INVITEs are absorbed (the TU retransmits the 2xx),
    2xx retransmissions from the TU are sent, an ACK is passed up, and Timer L (32 s) ends it."""
    driver, _ = make(reliable)
    driver.start()
    ok = Resp(200)
    driver.tu_send(ok)
    assert driver.tx.state is InviteServerState.ACCEPTED
    assert driver.started("L") == [32.0]
    assert driver.request(Req("INVITE")) == []
    again = Resp(200, "TU retransmission")
    assert driver.tu_send(again) == [Send(again)]
    ack = Req("ACK")
    assert driver.request(ack) == [PassToTU(ack)]
    driver.advance(100)
    assert driver.terminated_at() == 32.0
    assert driver.timeouts() == []


@pytest.mark.parametrize("second", [100, 180, 200, 486])
def test_tu_response_after_a_non_2xx_final_is_a_local_error(second: int) -> None:
    """After a 3xx-6xx the TU may send nothing more: LocalProtocolError, state unchanged."""
    driver, _ = make()
    driver.start()
    driver.tu_send(Resp(500))
    with pytest.raises(LocalProtocolError, match="already sent"):
        driver.tx.send_response(Resp(second))
    assert driver.tx.state is InviteServerState.COMPLETED
    assert driver.tx.running_timers == {"G", "H"}


@pytest.mark.parametrize("second", [180, 486])
def test_tu_non_2xx_after_a_2xx_is_a_local_error(second: int) -> None:
    """In Accepted only 2xx may follow; a 1xx or a 3xx-6xx from the TU raises."""
    driver, _ = make()
    driver.start()
    driver.tu_send(Resp(200))
    with pytest.raises(LocalProtocolError):
        driver.tx.send_response(Resp(second))
    assert driver.tx.state is InviteServerState.ACCEPTED


def test_tu_status_code_outside_range_is_a_local_error() -> None:
    """A TU response with status 700 is rejected before it reaches the table."""
    driver, _ = make()
    driver.start()
    with pytest.raises(LocalProtocolError, match="outside"):
        driver.tx.send_response(Resp(700))


def test_ack_before_a_final_response_is_a_stray() -> None:
    """An ACK in Proceeding acknowledges nothing of ours and is given back as Stray."""
    driver, _ = make()
    driver.start()
    ack = Req("ACK")
    assert driver.request(ack) == [Stray(ack)]


def test_a_request_of_another_method_is_a_routing_error() -> None:
    """A BYE delivered to an INVITE server transaction is the local matcher's bug."""
    driver, _ = make()
    driver.start()
    with pytest.raises(LocalProtocolError, match="routed"):
        driver.tx.receive_request(Req("BYE"))


def test_transport_failure_in_completed_reports_and_terminates() -> None:
    """A transport failure while re-sending the final response: TransportError, timers
    cancelled, Terminated."""
    driver, _ = make()
    driver.start()
    driver.tu_send(Resp(486))
    actions = driver.transport_failed()
    assert actions == [TransportError(), CancelTimer("G"), CancelTimer("H"), Terminated("transport error")]


def test_after_terminated_requests_are_strays_and_tu_responses_are_errors() -> None:
    """After Timer L: an INVITE is Stray and a TU 2xx raises (the TU sends those directly)."""
    driver, _ = make()
    driver.start()
    driver.tu_send(Resp(200))
    driver.advance(40)
    assert driver.terminated
    invite = Req("INVITE")
    assert driver.request(invite) == [Stray(invite)]
    with pytest.raises(LocalProtocolError, match="terminated"):
        driver.tx.send_response(Resp(200))


def test_events_before_start_are_local_errors() -> None:
    """The TU cannot answer, and the transport cannot deliver, before start()."""
    driver, _ = make()
    with pytest.raises(LocalProtocolError, match="start"):
        driver.tx.send_response(Resp(180))
    with pytest.raises(LocalProtocolError, match="start"):
        driver.tx.receive_request(Req("INVITE"))


def test_only_invite_can_create_an_invite_server_transaction() -> None:
    """The constructor refuses a non-INVITE request."""
    with pytest.raises(ValueError):
        InviteServerTransaction(Req("BYE"), reliable=False, build_provisional=ProvisionalFactory())
