"""block_on(): waiting for Deferreds inside green threads, driven by a fake clock."""

from __future__ import annotations

import pytest
from twisted.internet.defer import Deferred, fail, succeed

from sipsimple.threading.green import (
    GreenHub,
    GreenTimeout,
    NotInGreenThreadError,
    block_on,
    call_in_green_thread,
)

from .conftest import FakeReactor


def test_already_fired_deferred_returns_without_yielding(reactor: FakeReactor, hub: GreenHub) -> None:
    """block_on(succeed(x)) returns x at once: the waiting thread finishes before the next one starts."""
    order: list[object] = []

    def waiter() -> None:
        order.append(block_on(succeed(5)))

    call_in_green_thread(waiter)
    call_in_green_thread(order.append, "next thread")
    reactor.advance(0)
    assert order == [5, "next thread"]
    assert reactor.getDelayedCalls() == []


def test_deferred_fired_later_by_a_clock_callback(reactor: FakeReactor, hub: GreenHub) -> None:
    """The green thread stays parked until a timer fires the Deferred, then gets its result."""
    got: list[object] = []
    deferred: Deferred[str] = Deferred()
    reactor.callLater(3, deferred.callback, "late")
    call_in_green_thread(lambda: got.append(block_on(deferred)))
    reactor.advance(0)
    reactor.advance(2)
    assert got == []
    reactor.advance(1)
    assert got == ["late"]


def test_deferred_fired_from_another_green_thread_resumes_waiter_later(
    reactor: FakeReactor, hub: GreenHub
) -> None:
    """Firing from green thread B does not switch into waiter A inside B: B runs on, A resumes after."""
    order: list[object] = []
    deferred: Deferred[int] = Deferred()

    def waiter() -> None:
        order.append(("A got", block_on(deferred)))

    def firer() -> None:
        deferred.callback(7)
        order.append("B continues after firing")

    call_in_green_thread(waiter)
    call_in_green_thread(firer)
    reactor.advance(0)
    assert order == ["B continues after firing", ("A got", 7)]


def test_failing_deferred_reraises_its_exception(reactor: FakeReactor, hub: GreenHub) -> None:
    """A failure is raised in the waiting green thread as the original exception, and consumed."""
    caught: list[BaseException] = []
    deferred: Deferred[None] = Deferred()

    def waiter() -> None:
        try:
            block_on(deferred)
        except ValueError as exc:
            caught.append(exc)

    call_in_green_thread(waiter)
    reactor.advance(0)
    deferred.errback(ValueError("no route"))
    reactor.advance(0)
    assert [str(exc) for exc in caught] == ["no route"]
    assert deferred.result is None  # consumed: no "Unhandled error in Deferred" later


def test_already_failed_deferred_raises_at_once(reactor: FakeReactor, hub: GreenHub) -> None:
    """block_on(fail(exc)) raises exc without waiting for the reactor."""
    caught: list[BaseException] = []

    def waiter() -> None:
        try:
            block_on(fail(KeyError("gone")))
        except KeyError as exc:
            caught.append(exc)

    call_in_green_thread(waiter)
    reactor.advance(0)
    assert len(caught) == 1


def test_timeout_raises_and_cancels_its_timer(reactor: FakeReactor, hub: GreenHub) -> None:
    """With a timeout the wait ends in GreenTimeout (a TimeoutError) and no delayed call is left."""
    outcome: list[object] = []
    deferred: Deferred[str] = Deferred()

    def waiter() -> None:
        try:
            block_on(deferred, timeout=5)
        except TimeoutError as exc:
            outcome.append(exc)

    call_in_green_thread(waiter)
    reactor.advance(0)
    reactor.advance(4.9)
    assert outcome == []
    reactor.advance(0.1)
    assert len(outcome) == 1 and isinstance(outcome[0], GreenTimeout)
    assert reactor.getDelayedCalls() == []
    # The abandoned Deferred is untouched: a late result passes through to later callbacks.
    deferred.callback("too late")
    assert deferred.result == "too late"
    assert len(outcome) == 1


def test_result_before_timeout_cancels_the_timeout_timer(reactor: FakeReactor, hub: GreenHub) -> None:
    """When the Deferred fires before the timeout, the result is returned and the timer is cancelled."""
    got: list[object] = []
    deferred: Deferred[str] = Deferred()
    reactor.callLater(1, deferred.callback, "in time")
    call_in_green_thread(lambda: got.append(block_on(deferred, timeout=10)))
    reactor.advance(0)
    reactor.advance(1)
    assert got == ["in time"]
    assert reactor.getDelayedCalls() == []


def test_block_on_outside_a_green_thread_raises_a_clear_error(hub: GreenHub) -> None:
    """Called on the hub (not in a green thread), block_on raises instead of deadlocking the reactor."""
    deferred: Deferred[str] = Deferred()
    with pytest.raises(NotInGreenThreadError, match="green thread"):
        block_on(deferred)
    deferred.callback("untouched")
    assert deferred.result == "untouched"  # no callback was left on it
