"""Tests for sipsimple.core.sip.transaction.client_non_invite (RFC 3261 §17.1.2)."""

from __future__ import annotations

import pytest

from sipsimple.core.sip.transaction import (
    CancelTimer,
    LocalProtocolError,
    NonInviteClientState,
    NonInviteClientTransaction,
    PassToTU,
    Send,
    StartTimer,
    Stray,
    Terminated,
    TransportError,
)

from .test_transaction_driver import Driver, Req, Resp


def make(reliable: bool = False, method: str = "OPTIONS") -> Driver:
    return Driver(NonInviteClientTransaction(Req(method), reliable=reliable))


def test_udp_retransmits_with_timer_e_capped_at_t2_and_times_out_at_32_seconds() -> None:
    """On UDP the request goes out at 0, 0.5, 1.5, 3.5, 7.5, then every 4 s (T2) up to 31.5 s;
    Timer F gives Timeout at 32 s."""
    driver = make()
    driver.start()
    driver.advance(50)
    assert driver.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert [(t, a.timer) for t, a in driver.timeouts()] == [(32.0, "F")]
    assert driver.terminated_at() == 32.0
    assert driver.passed_up() == []


def test_tcp_sends_once_and_times_out_at_32_seconds() -> None:
    """On a reliable transport Timer E is not used: one send; Timer F gives Timeout at 32 s."""
    driver = make(reliable=True)
    assert driver.start() == [Send(driver.tx.request), StartTimer("F", 32.0)]
    driver.advance(50)
    assert driver.send_times() == [0.0]
    assert [t for t, _ in driver.timeouts()] == [32.0]


def test_after_a_provisional_timer_e_restarts_at_t2() -> None:
    """A 1xx at 1 s is passed up; E (due at 1.5 s) then retransmits every T2 = 4 s; F still
    times out at 32 s because a non-INVITE transaction is bounded even with provisionals."""
    driver = make()
    driver.start()
    driver.advance(1.0)
    trying = Resp(100)
    assert driver.respond(trying) == [PassToTU(trying)]
    assert driver.tx.state is NonInviteClientState.PROCEEDING
    driver.advance(50)
    assert driver.send_times() == [0.0, 0.5, 1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert [t for t, _ in driver.timeouts()] == [32.0]


@pytest.mark.parametrize("reliable, linger", [(False, 5.0), (True, 0.0)])
@pytest.mark.parametrize("code", [200, 302, 481, 503, 699])
def test_final_response_is_passed_up_once_and_timer_k_ends_completed(
    reliable: bool, linger: float, code: int
) -> None:
    """The first final response is passed up; retransmissions are absorbed; Timer K is T4 on
    UDP and zero on TCP (straight to Terminated)."""
    driver = make(reliable)
    driver.start()
    driver.advance(2.0)
    final = Resp(code)
    actions = driver.respond(final)
    assert PassToTU(final) in actions
    if not reliable:
        assert actions[:2] == [CancelTimer("E"), CancelTimer("F")]
        assert driver.tx.state is NonInviteClientState.COMPLETED
        assert driver.respond(Resp(code, "retransmission")) == []
        assert driver.respond(Resp(100, "late")) == []
    driver.advance(100)
    assert driver.passed_up() == [final]
    assert driver.terminated_at() == 2.0 + linger
    assert driver.send_times() == ([0.0, 0.5, 1.5] if not reliable else [0.0])


def test_transport_failure_reports_transport_error_and_terminates() -> None:
    """A transport failure in Trying gives TransportError, cancels E and F, then Terminated."""
    driver = make()
    driver.start()
    actions = driver.transport_failed()
    assert actions == [TransportError(), CancelTimer("E"), CancelTimer("F"), Terminated("transport error")]


def test_responses_after_terminated_are_strays() -> None:
    """A response to a terminated transaction is given back as Stray, nothing else happens."""
    driver = make(reliable=True)
    driver.start()
    driver.respond(Resp(200))
    late = Resp(200)
    assert driver.respond(late) == [Stray(late)]


def test_cancel_is_an_ordinary_non_invite_transaction() -> None:
    """CANCEL runs this machine like any other non-INVITE request."""
    driver = make(method="CANCEL")
    driver.start()
    driver.respond(Resp(200))
    assert driver.tx.state is NonInviteClientState.COMPLETED


@pytest.mark.parametrize("method", ["INVITE", "ACK"])
def test_invite_and_ack_are_refused(method: str) -> None:
    """INVITE has its own machine and ACK is never a client transaction."""
    with pytest.raises(ValueError, match=method):
        NonInviteClientTransaction(Req(method), reliable=False)


def test_transport_failure_before_start_is_a_local_error() -> None:
    """Nothing was sent before start(), so a transport failure then is the driver's bug."""
    driver = make()
    with pytest.raises(LocalProtocolError, match="before start"):
        driver.tx.transport_failed()
    assert driver.tx.state is NonInviteClientState.INITIAL
