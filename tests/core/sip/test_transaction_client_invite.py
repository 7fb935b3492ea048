"""Tests for sipsimple.core.sip.transaction.client_invite (RFC 3261 §17.1.1, RFC 6026)."""

from __future__ import annotations

import pytest

from sipsimple.core.sip.transaction import (
    CancelTimer,
    Culprit,
    InviteClientState,
    InviteClientTransaction,
    LocalProtocolError,
    PassToTU,
    RemoteProtocolError,
    Send,
    StartTimer,
    Stray,
    Terminated,
    TimerConfig,
    TransportError,
)

from .test_transaction_driver import AckFactory, Driver, Req, Resp


def make(reliable: bool = False, timers: TimerConfig | None = None) -> tuple[Driver, Req, AckFactory]:
    invite = Req("INVITE")
    factory = AckFactory()
    tx = InviteClientTransaction(invite, reliable=reliable, build_ack=factory, timers=timers)
    return Driver(tx), invite, factory


def test_udp_retransmits_on_timer_a_and_times_out_on_timer_b() -> None:
    """On UDP the INVITE goes out at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s; Timer B ends it at 32 s."""
    driver, invite, _ = make()
    driver.start()
    driver.advance(40)
    assert driver.send_times() == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(message is invite for message in driver.sent())
    assert [(t, a.timer) for t, a in driver.timeouts()] == [(32.0, "B")]
    assert driver.terminated_at() == 32.0
    assert driver.tx.state is InviteClientState.TERMINATED
    assert driver.passed_up() == []


def test_timer_a_doubles_without_a_cap() -> None:
    """Timer A is restarted at 1, 2, 4, 8, 16, 32 s: unlike E and G it is not capped at T2."""
    driver, _, _ = make()
    driver.start()
    driver.advance(40)
    assert driver.started("A") == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


def test_tcp_sends_once_and_times_out_at_32_seconds() -> None:
    """On a reliable transport Timer A is not used: one send, then Timeout at 64*T1."""
    driver, _, _ = make(reliable=True)
    actions = driver.start()
    assert actions == [Send(driver.tx.request), StartTimer("B", 32.0)]
    driver.advance(100)
    assert driver.send_times() == [0.0]
    assert [t for t, _ in driver.timeouts()] == [32.0]


def test_provisional_stops_retransmissions_and_timer_b() -> None:
    """A 1xx in Calling is passed up and cancels A and B: no more sends and no timeout ever."""
    driver, _, _ = make()
    driver.start()
    driver.advance(0.6)
    ringing = Resp(180)
    actions = driver.respond(ringing)
    assert actions == [CancelTimer("A"), CancelTimer("B"), PassToTU(ringing)]
    assert driver.tx.state is InviteClientState.PROCEEDING
    driver.advance(1000)
    assert driver.send_times() == [0.0, 0.5]
    assert driver.timeouts() == [] and not driver.terminated


def test_every_provisional_in_proceeding_is_passed_up() -> None:
    """Each 1xx (including a repeated one) reaches the TU in Proceeding."""
    driver, _, _ = make()
    driver.start()
    first, second, third = Resp(100), Resp(180), Resp(183)
    for response in (first, second, third):
        driver.respond(response)
    assert driver.passed_up() == [first, second, third]


@pytest.mark.parametrize("reliable", [False, True])
@pytest.mark.parametrize("provisional_first", [False, True])
def test_non_2xx_final_is_passed_up_and_acked(reliable: bool, provisional_first: bool) -> None:
    """A 3xx-6xx is passed up once and answered with an ACK built by the injected factory."""
    driver, invite, factory = make(reliable)
    driver.start()
    if provisional_first:
        driver.respond(Resp(180))
    busy = Resp(486)
    driver.respond(busy)
    assert driver.passed_up()[-1] is busy
    assert factory.calls == [(invite, busy)]
    assert driver.sent()[-1] is driver.tx.ack
    assert driver.tx.ack.method == "ACK"


def test_udp_timer_d_is_32_seconds_and_retransmitted_finals_get_the_same_ack() -> None:
    """In Completed on UDP each retransmitted final re-sends the same ACK and is not passed up;
    Timer D (32 s) then terminates the transaction."""
    driver, _, factory = make()
    driver.start()
    driver.advance(1.0)
    final = Resp(404)
    driver.respond(final)
    assert driver.tx.state is InviteClientState.COMPLETED
    assert driver.started("D") == [32.0]
    ack = driver.tx.ack
    driver.advance(2.0)
    driver.respond(Resp(404, "retransmission"))
    driver.advance(4.0)
    driver.respond(Resp(404, "retransmission"))
    acks = [(t, m) for t, m in zip(driver.send_times(), driver.sent(), strict=True) if m.method == "ACK"]
    assert [t for t, _ in acks] == [1.0, 3.0, 7.0]
    assert all(m is ack for _, m in acks)
    assert len(factory.calls) == 1
    assert driver.passed_up() == [final]
    driver.advance(100)
    assert driver.terminated_at() == 33.0


def test_tcp_timer_d_is_zero_so_the_ack_ends_the_transaction() -> None:
    """On a reliable transport Timer D is zero: ACK sent, then Terminated at once, no timer."""
    driver, _, _ = make(reliable=True)
    driver.start()
    actions = driver.respond(Resp(503))
    assert isinstance(actions[-2], Send) and actions[-2].message is driver.tx.ack
    assert isinstance(actions[-1], Terminated)
    assert "zero" in actions[-1].reason
    assert driver.started("D") == []


def test_late_provisional_in_completed_is_discarded() -> None:
    """A 1xx reordered behind the final response is neither passed up nor answered."""
    driver, _, _ = make()
    driver.start()
    driver.respond(Resp(480))
    assert driver.respond(Resp(180)) == []


def test_2xx_after_a_non_2xx_final_is_a_stray_for_the_core() -> None:
    """A 2xx from another fork arriving in Completed is given back as Stray, not passed up."""
    driver, _, _ = make()
    driver.start()
    driver.respond(Resp(486))
    ok = Resp(200)
    assert driver.respond(ok) == [Stray(ok)]


@pytest.mark.parametrize("reliable", [False, True])
def test_2xx_enters_accepted_and_retransmissions_are_passed_up(reliable: bool) -> None:
    """RFC 6026: a 2xx enters Accepted (Timer M = 64*T1); every later 2xx reaches the TU so it
    can re-ACK, the transaction sends no ACK itself, and M ends it at 32 s after the first 2xx."""
    driver, _, factory = make(reliable)
    driver.start()
    driver.advance(1.0)
    first = Resp(200)
    driver.respond(first)
    assert driver.tx.state is InviteClientState.ACCEPTED
    assert driver.started("M") == [32.0]
    retransmission, fork = Resp(200, "retransmission"), Resp(202, "another fork")
    driver.advance(1.0)
    driver.respond(retransmission)
    driver.respond(fork)
    assert driver.passed_up() == [first, retransmission, fork]
    assert factory.calls == []
    assert all(m.method == "INVITE" for m in driver.sent())
    assert driver.respond(Resp(180)) == [] and driver.respond(Resp(500)) == []
    driver.advance(100)
    assert driver.terminated_at() == 33.0


@pytest.mark.parametrize(
    "setup",
    ["calling", "proceeding", "completed", "accepted"],
)
def test_transport_failure_reports_transport_error_and_terminates(setup: str) -> None:
    """In every live state a transport failure gives TransportError, cancels timers, Terminated."""
    driver, _, _ = make()
    driver.start()
    if setup == "proceeding":
        driver.respond(Resp(180))
    elif setup == "completed":
        driver.respond(Resp(486))
    elif setup == "accepted":
        driver.respond(Resp(200))
    actions = driver.transport_failed()
    assert isinstance(actions[0], TransportError)
    assert isinstance(actions[-1], Terminated) and actions[-1].reason == "transport error"
    assert driver.due == {}


def test_responses_after_terminated_are_strays_and_late_transport_failures_are_ignored() -> None:
    """Once Terminated, a response comes back as Stray and a transport failure gives nothing."""
    driver, _, _ = make(reliable=True)
    driver.start()
    driver.respond(Resp(404))
    assert driver.terminated
    late = Resp(200)
    assert driver.respond(late) == [Stray(late)]
    assert driver.transport_failed() == []
    assert driver.tx.timer_fired("D") == []


def test_stale_and_unknown_timers_are_ignored() -> None:
    """Firing a cancelled timer, a never-started one or an unknown name gives no actions."""
    driver, _, _ = make()
    driver.start()
    driver.respond(Resp(180))  # cancels A and B
    for name in ("A", "B", "D", "G", "nonsense"):
        assert driver.tx.timer_fired(name) == []
    assert driver.tx.state is InviteClientState.PROCEEDING


def test_tu_misuse_raises_local_protocol_error_and_changes_nothing() -> None:
    """start() twice and a response before start() are the local side's errors."""
    driver, _, _ = make()
    with pytest.raises(LocalProtocolError) as caught:
        driver.tx.receive_response(Resp(200))
    assert caught.value.culprit is Culprit.LOCAL
    assert driver.tx.state is InviteClientState.INITIAL
    driver.start()
    with pytest.raises(LocalProtocolError, match="already"):
        driver.tx.start()
    assert driver.tx.state is InviteClientState.CALLING
    assert driver.tx.running_timers == {"A", "B"}


@pytest.mark.parametrize("code", [0, 99, 700, 1000, -200])
def test_status_codes_outside_100_699_are_the_remote_sides_error(code: int) -> None:
    """A response with an impossible status code raises RemoteProtocolError; nothing changes."""
    driver, _, _ = make()
    driver.start()
    with pytest.raises(RemoteProtocolError) as caught:
        driver.tx.receive_response(Resp(code))
    assert caught.value.culprit is Culprit.REMOTE
    assert driver.tx.state is InviteClientState.CALLING


def test_only_invite_can_create_an_invite_client_transaction() -> None:
    """The constructor refuses a non-INVITE request."""
    with pytest.raises(ValueError, match="INVITE"):
        InviteClientTransaction(Req("OPTIONS"), reliable=False, build_ack=AckFactory())


def test_custom_t1_changes_the_schedule() -> None:
    """With T1 = 1 s the INVITE goes out at 0, 1, 3, 7, 15, 31 s and times out at 64 s."""
    driver, _, _ = make(timers=TimerConfig(t1=1.0, t2=8.0))
    driver.start()
    driver.advance(100)
    assert driver.send_times() == [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]
    assert [t for t, _ in driver.timeouts()] == [64.0]


def test_repr_names_the_machine_method_state_and_transport() -> None:
    """repr() is useful in logs: class, method, state and reliability."""
    driver, _, _ = make()
    driver.start()
    assert repr(driver.tx) == "<InviteClientTransaction INVITE CALLING reliable=False>"
