"""The STUN client transaction: the RFC 5389 §7.2.1 retransmission schedule, how responses end it,
the table covering every (state, event) pair, and a property test over random event sequences."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sipsimple.core.nat.stun import Attribute, ErrorCode, Message, MessageClass, Method
from sipsimple.core.nat.transaction import (
    ERRORS,
    FINAL,
    IGNORED,
    TABLE,
    ClientTransaction,
    Event,
    LocalProtocolError,
    RetransmissionTimers,
    State,
)


def run_until_timeout(transaction: ClientTransaction) -> list[float]:
    """Fire every deadline in turn; the times at which the request was sent."""
    transaction.start(0.0)
    sent = [0.0] * len(transaction.outgoing())
    while transaction.deadline is not None:
        now = transaction.deadline
        transaction.handle_timer(now)
        sent += [now] * len(transaction.outgoing())
    return sent


def success(transaction: ClientTransaction, **changes) -> Message:
    response = transaction.request.reply(
        MessageClass.SUCCESS, [(Attribute.XOR_MAPPED_ADDRESS, ("192.0.2.1", 7))]
    )
    for name, value in changes.items():
        setattr(response, name, value)
    return response


def test_the_default_schedule_is_the_one_rfc5389_describes():
    """RTO 500 ms, Rc 7, Rm 16: sends at 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s, timeout at 39.5 s."""
    transaction = ClientTransaction(Message())
    assert run_until_timeout(transaction) == [0.0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert transaction.state is State.TIMED_OUT and transaction.sends == 7
    assert RetransmissionTimers().timeout() == 39.5
    assert "7 send(s)" in (transaction.reason or "")


def test_a_configured_schedule_is_followed_and_the_timeout_comes_rm_rtos_after_the_last_send():
    timers = RetransmissionTimers(rto=0.1, rc=3, rm=2)
    transaction = ClientTransaction(Message(), timers=timers)
    transaction.start(10.0)
    assert transaction.outgoing() == [transaction.data] and transaction.deadline == pytest.approx(10.1)
    transaction.handle_timer(10.05)  # early: nothing happens
    assert transaction.outgoing() == [] and transaction.deadline == pytest.approx(10.1)
    for expected_deadline in (10.3, 10.5):
        transaction.handle_timer(transaction.deadline)
        assert transaction.outgoing() == [transaction.data]
        assert transaction.deadline == pytest.approx(expected_deadline)
    transaction.handle_timer(10.5)
    assert transaction.state is State.TIMED_OUT and transaction.deadline is None
    assert timers.send_times() == pytest.approx([0, 0.1, 0.3]) and timers.timeout() == pytest.approx(0.5)


def test_over_a_reliable_transport_the_request_is_sent_once_and_times_out_after_ti():
    transaction = ClientTransaction(Message(), reliable=True, timers=RetransmissionTimers(ti=5.0))
    assert run_until_timeout(transaction) == [0.0]
    assert transaction.state is State.TIMED_OUT


@pytest.mark.parametrize("bad", [{"rto": 0}, {"rc": 0}, {"rm": 0}, {"ti": -1}])
def test_nonsensical_timers_are_refused(bad):
    with pytest.raises(ValueError):
        RetransmissionTimers(**bad)


def test_a_success_response_ends_the_transaction_and_a_repeat_is_recognised_but_ignored():
    transaction = ClientTransaction(Message())
    transaction.start(0.0)
    response = success(transaction)
    assert transaction.receive(response, 0.2)
    assert transaction.state is State.SUCCEEDED and transaction.response is response
    assert transaction.deadline is None and transaction.reason is None
    assert transaction.receive(success(transaction), 0.3) and transaction.response is response
    transaction.handle_timer(100.0)  # a stale timer does nothing
    assert transaction.state is State.SUCCEEDED and transaction.outgoing() == []


def test_an_error_response_fails_the_transaction_with_its_code():
    transaction = ClientTransaction(Message())
    transaction.start(0.0)
    error = transaction.request.reply(MessageClass.ERROR, [(Attribute.ERROR_CODE, ErrorCode(420, "Unknown"))])
    assert transaction.receive(error, 0.1)
    assert transaction.state is State.FAILED and transaction.error_code == ErrorCode(420, "Unknown")
    assert transaction.reason == "error response 420 Unknown"


def test_a_success_response_with_an_unknown_comprehension_required_attribute_fails_it():
    transaction = ClientTransaction(Message())
    transaction.start(0.0)
    assert transaction.receive(success(transaction).add(0x7ABC, b"??"), 0.1)
    assert transaction.state is State.FAILED and "0x7ABC" in (transaction.reason or "")


@pytest.mark.parametrize(
    "changes",
    [
        {"transaction_id": b"x" * 12},
        {"method": Method.ALLOCATE},
        {"message_class": MessageClass.INDICATION},
        {"message_class": MessageClass.REQUEST},
    ],
)
def test_messages_that_are_not_its_responses_are_not_taken(changes):
    transaction = ClientTransaction(Message())
    transaction.start(0.0)
    assert not transaction.receive(success(transaction, **changes), 0.1)
    assert transaction.state is State.WAITING


def test_with_an_integrity_key_only_responses_that_verify_are_taken():
    key = b"password"
    transaction = ClientTransaction(Message(), integrity_key=key, fingerprint=True)
    transaction.start(0.0)
    assert transaction.data.endswith(transaction.data[-8:]) and len(transaction.data) == 20 + 24 + 8
    forged = success(transaction)
    assert not transaction.receive(forged, 0.1, forged.encode(integrity_key=b"wrong"))
    assert not transaction.receive(forged, 0.1)  # no bytes to check
    assert transaction.state is State.WAITING
    assert transaction.receive(forged, 0.2, forged.encode(integrity_key=key))
    assert transaction.state is State.SUCCEEDED


def test_cancel_ends_it_silently_and_starting_twice_or_early_events_are_the_callers_mistake():
    transaction = ClientTransaction(Message())
    with pytest.raises(LocalProtocolError):
        transaction.handle_timer(1.0)
    with pytest.raises(LocalProtocolError):
        transaction.receive(success(transaction), 0.0)
    transaction.start(0.0)
    with pytest.raises(LocalProtocolError, match="start is not allowed"):
        transaction.start(0.1)
    transaction.outgoing()
    transaction.cancel()
    assert transaction.state is State.CANCELLED and transaction.deadline is None
    transaction.cancel()
    assert transaction.state is State.CANCELLED and transaction.outgoing() == []
    with pytest.raises(ValueError):
        ClientTransaction(Message(message_class=MessageClass.SUCCESS))


def test_every_state_event_pair_is_either_a_transition_ignored_or_an_error():
    pairs = {(state, event) for state in State for event in Event}
    assert pairs == set(TABLE) | IGNORED | set(ERRORS)
    assert not (set(TABLE) & IGNORED) and not (set(TABLE) & set(ERRORS)) and not (IGNORED & set(ERRORS))
    assert all(target in State for target in TABLE.values())
    assert not any(state in FINAL for state, _ in TABLE)  # the end states are final


operations = st.lists(
    st.one_of(
        st.tuples(st.just("timer"), st.floats(0, 5)),
        st.tuples(st.just("success"), st.floats(0, 5)),
        st.tuples(st.just("error"), st.floats(0, 5)),
        st.tuples(st.just("stranger"), st.floats(0, 5)),
        st.tuples(st.just("cancel"), st.just(0.0)),
    ),
    max_size=40,
)


@settings(max_examples=400, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), operations)
def test_property_any_event_sequence_keeps_the_rules(rc, rm, steps):
    """Whatever happens after start: at most Rc sends, a deadline only while waiting (ahead of a
    served timer), end states are final, a timeout only after Rc sends and Rm RTOs of silence, responses decide the outcome."""
    timers = RetransmissionTimers(rto=0.25, rc=rc, rm=rm)
    transaction = ClientTransaction(Message(), timers=timers)
    now = 0.0
    transaction.start(now)
    sends = len(transaction.outgoing())
    last_send = now
    for kind, delta in steps:
        now += delta
        before = transaction.state
        if kind == "timer":
            transaction.handle_timer(now)
        elif kind == "success":
            assert transaction.receive(success(transaction), now)
        elif kind == "error":
            error = transaction.request.reply(
                MessageClass.ERROR, [(Attribute.ERROR_CODE, ErrorCode(500, "x"))]
            )
            assert transaction.receive(error, now)
        elif kind == "stranger":
            assert not transaction.receive(success(transaction, transaction_id=bytes(12)), now)
        else:
            transaction.cancel()
        new = len(transaction.outgoing())
        if new:
            last_send = now
        sends += new
        assert sends <= rc and transaction.sends == sends
        if before in FINAL:
            assert transaction.state is before and new == 0
        if transaction.state is State.WAITING:
            assert transaction.deadline is not None
            if kind == "timer":  # the timer was served: the next deadline lies ahead
                assert transaction.deadline > now
        else:
            assert transaction.deadline is None
        if transaction.state is State.TIMED_OUT and before is State.WAITING:
            assert sends == rc and now >= last_send + rm * timers.rto - 1e-9
        if before is State.WAITING and kind in ("success", "error"):
            assert transaction.state is (State.SUCCEEDED if kind == "success" else State.FAILED)
