"""Tests for sipsimple.core.sip.transaction.server_non_invite (RFC 3261 §17.2.2)."""

from __future__ import annotations

import pytest

from sipsimple.core.sip.transaction import (
    LocalProtocolError,
    NonInviteServerState,
    NonInviteServerTransaction,
    PassToTU,
    Send,
    StartTimer,
    Stray,
    Terminated,
    TransportError,
)

from .test_transaction_driver import Driver, Req, Resp


def make(reliable: bool = False, method: str = "MESSAGE") -> Driver:
    return Driver(NonInviteServerTransaction(Req(method), reliable=reliable))


def test_start_passes_the_request_up_and_sends_nothing() -> None:
    """start() gives only PassToTU: a non-INVITE server never sends 100 Trying by itself."""
    driver = make()
    assert driver.start() == [PassToTU(driver.tx.request)]
    driver.advance(100)
    assert driver.sent() == [] and driver.tx.state is NonInviteServerState.TRYING


def test_retransmissions_in_trying_are_absorbed() -> None:
    """With no response yet, a retransmitted request gives no action and is not passed up."""
    driver = make()
    driver.start()
    assert driver.request(Req("MESSAGE")) == []
    assert driver.passed_up() == [driver.tx.request]


def test_retransmissions_in_proceeding_get_the_last_provisional() -> None:
    """In Proceeding each retransmitted request re-sends the most recent 1xx."""
    driver = make()
    driver.start()
    first, second = Resp(100), Resp(182)
    driver.tu_send(first)
    assert driver.tx.state is NonInviteServerState.PROCEEDING
    assert driver.request(Req("MESSAGE")) == [Send(first)]
    driver.tu_send(second)
    assert driver.request(Req("MESSAGE")) == [Send(second)]


@pytest.mark.parametrize("via_proceeding", [False, True])
def test_udp_final_response_is_resent_for_retransmissions_until_timer_j(via_proceeding: bool) -> None:
    """After the final response, retransmitted requests get it again; Timer J = 64*T1 = 32 s."""
    driver = make()
    driver.start()
    if via_proceeding:
        driver.tu_send(Resp(100))
    driver.advance(1.0)
    final = Resp(200)
    actions = driver.tu_send(final)
    assert actions == [Send(final), StartTimer("J", 32.0)]
    driver.advance(10.0)
    assert driver.request(Req("MESSAGE")) == [Send(final)]
    driver.advance(100)
    assert driver.terminated_at() == 33.0


def test_tcp_final_response_terminates_at_once() -> None:
    """On a reliable transport Timer J is zero: the final response ends the transaction."""
    driver = make(reliable=True)
    driver.start()
    final = Resp(404)
    actions = driver.tu_send(final)
    assert actions[0] == Send(final)
    assert isinstance(actions[-1], Terminated) and "J" in actions[-1].reason
    assert driver.started("J") == []


@pytest.mark.parametrize("second", [100, 200, 500])
def test_tu_response_after_final_is_a_local_error(second: int) -> None:
    """The TU may send nothing after its final response; the state does not change."""
    driver = make()
    driver.start()
    driver.tu_send(Resp(202))
    with pytest.raises(LocalProtocolError, match="already sent"):
        driver.tx.send_response(Resp(second))
    assert driver.tx.state is NonInviteServerState.COMPLETED
    assert driver.tx.running_timers == {"J"}


def test_ack_is_never_routed_to_a_non_invite_server_transaction() -> None:
    """An ACK delivered here is a matching bug (ACK only matches INVITE): LocalProtocolError."""
    driver = make()
    driver.start()
    with pytest.raises(LocalProtocolError, match="ACK"):
        driver.tx.receive_request(Req("ACK"))


def test_transport_failure_reports_and_terminates() -> None:
    """A transport failure in Completed: TransportError, J cancelled, Terminated."""
    driver = make()
    driver.start()
    driver.tu_send(Resp(200))
    actions = driver.transport_failed()
    assert isinstance(actions[0], TransportError)
    assert isinstance(actions[-1], Terminated)
    assert driver.due == {}


def test_requests_after_terminated_are_strays() -> None:
    """After Terminated a retransmission comes back as Stray and the TU may not answer."""
    driver = make(reliable=True)
    driver.start()
    driver.tu_send(Resp(200))
    late = Req("MESSAGE")
    assert driver.request(late) == [Stray(late)]
    with pytest.raises(LocalProtocolError, match="terminated"):
        driver.tx.send_response(Resp(200))


@pytest.mark.parametrize("method", ["INVITE", "ACK"])
def test_invite_and_ack_cannot_create_a_non_invite_server_transaction(method: str) -> None:
    """The constructor refuses INVITE (own machine) and ACK (never a transaction)."""
    with pytest.raises(ValueError, match=method):
        NonInviteServerTransaction(Req(method), reliable=False)
