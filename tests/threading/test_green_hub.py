"""The green-thread hub on a fake reactor: scheduling, sleeping, errors, waitable green threads."""

from __future__ import annotations

import logging
import random
import threading

import pytest
from twisted.python.failure import Failure

from sipsimple.threading.green import (
    GreenHub,
    GreenThread,
    GreenTimeout,
    NotInGreenThreadError,
    call_in_green_thread,
    current_hub,
    in_green_thread,
    run_in_green_thread,
    run_in_waitable_green_thread,
    set_hub,
    sleep,
)

from .conftest import FakeReactor


def test_thousand_sleeping_green_threads_wake_in_deadline_order(reactor: FakeReactor, hub: GreenHub) -> None:
    """1000 green threads sleeping different fake-clock durations all finish, earliest deadline first."""
    durations = random.Random(1234).sample(range(1, 1001), 1000)
    woken: list[int] = []

    def sleeper(seconds: int) -> None:
        sleep(seconds)
        woken.append(seconds)

    for seconds in durations:
        call_in_green_thread(sleeper, seconds)
    reactor.advance(0)  # start them all; each is now parked on its timer
    assert woken == []
    assert len(reactor.getDelayedCalls()) == 1000

    for step in range(1, 11):
        reactor.advance(100)
        assert woken == list(range(1, step * 100 + 1))
    assert reactor.getDelayedCalls() == []


def test_green_threads_start_after_the_call_returns_and_in_call_order(
    reactor: FakeReactor, hub: GreenHub
) -> None:
    """Starting a green thread returns None before it runs; threads start in the order requested."""
    started: list[int] = []
    results = [call_in_green_thread(started.append, n) for n in range(5)]
    assert results == [None] * 5
    assert started == []
    reactor.advance(0)
    assert started == [0, 1, 2, 3, 4]


def test_sleep_zero_lets_other_green_threads_run(reactor: FakeReactor, hub: GreenHub) -> None:
    """sleep(0) yields: two threads that each sleep(0) between two steps interleave."""
    steps: list[str] = []

    def worker(name: str) -> None:
        steps.append(f"{name}1")
        sleep(0)
        steps.append(f"{name}2")

    call_in_green_thread(worker, "a")
    call_in_green_thread(worker, "b")
    reactor.advance(0)
    assert steps == ["a1", "b1", "a2", "b2"]


def test_sleep_is_measured_on_the_injected_clock(reactor: FakeReactor, hub: GreenHub) -> None:
    """A green thread sleeping 30 s wakes when the fake clock reaches 30 s, not earlier."""
    woke_at: list[float] = []

    @run_in_green_thread
    def nap() -> None:
        sleep(30)
        woke_at.append(reactor.seconds())

    nap()
    reactor.advance(0)
    reactor.advance(29.5)
    assert woke_at == []
    reactor.advance(0.5)
    assert woke_at == [30.0]


def test_exception_in_green_thread_is_logged_and_hub_keeps_serving(
    reactor: FakeReactor, hub: GreenHub, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception escaping a green thread is logged with its traceback; other green threads go on."""
    done: list[str] = []

    def fails_at_once() -> None:
        raise ZeroDivisionError("first")

    def fails_after_sleeping() -> None:
        sleep(1)
        raise KeyError("second")

    def keeps_working(name: str) -> None:
        sleep(2)
        done.append(name)

    with caplog.at_level(logging.ERROR, logger="sipsimple.threading.green"):
        call_in_green_thread(keeps_working, "before")
        call_in_green_thread(fails_at_once)
        call_in_green_thread(fails_after_sleeping)
        call_in_green_thread(keeps_working, "after")
        reactor.advance(0)
        reactor.advance(1)
        reactor.advance(1)

    assert done == ["before", "after"]
    errors = [record for record in caplog.records if record.name == "sipsimple.threading.green"]
    assert [type(record.exc_info[1]) for record in errors if record.exc_info] == [ZeroDivisionError, KeyError]
    assert "fails_at_once" in errors[0].getMessage()
    assert "Traceback" in caplog.text


def test_start_from_another_thread_goes_through_call_from_thread(reactor: FakeReactor, hub: GreenHub) -> None:
    """run_in_green_thread called off the reactor thread hands over with callFromThread, then runs."""
    ran_on: list[int] = []

    @run_in_green_thread
    def record() -> None:
        ran_on.append(threading.get_ident())

    caller = threading.Thread(target=record)
    caller.start()
    caller.join(5)
    assert len(reactor.thread_calls) == 1
    assert ran_on == []
    reactor.run_pending()
    assert ran_on == [threading.get_ident()]


def test_green_threads_started_inside_a_green_thread_use_its_hub(reactor: FakeReactor) -> None:
    """A green thread started from a green thread runs on the same hub even if the default differs."""
    own_hub = GreenHub(reactor)
    hubs: list[GreenHub | None] = []

    def child() -> None:
        hubs.append(current_hub())

    def parent() -> None:
        hubs.append(current_hub())
        call_in_green_thread(child)

    set_hub(None)  # the default hub would be the global reactor's; it must not be used
    own_hub.call_in_green_thread(parent)
    reactor.advance(0)
    assert hubs == [own_hub, own_hub]


def test_blocking_calls_outside_a_green_thread_raise_instead_of_deadlocking(hub: GreenHub) -> None:
    """sleep() on the hub itself is refused with NotInGreenThreadError."""
    assert not in_green_thread()
    with pytest.raises(NotInGreenThreadError):
        sleep(1)


def test_waitable_green_thread_returns_result_to_a_waiting_green_thread(
    reactor: FakeReactor, hub: GreenHub
) -> None:
    """wait() in another green thread blocks until the function returns and gives its result."""
    got: list[int] = []

    @run_in_waitable_green_thread
    def compute(x: int) -> int:
        sleep(5)
        return x * 2

    @run_in_green_thread
    def consumer() -> None:
        handle = compute(21)
        assert isinstance(handle, GreenThread)
        got.append(handle.wait())

    consumer()
    reactor.advance(0)
    reactor.advance(4)
    assert got == []
    reactor.advance(1)
    assert got == [42]


def test_waitable_green_thread_reraises_in_waiter_and_does_not_log(
    reactor: FakeReactor, hub: GreenHub, caplog: pytest.LogCaptureFixture
) -> None:
    """The exception of a waitable green thread is raised by wait() and is not logged as unhandled."""
    caught: list[BaseException] = []

    @run_in_waitable_green_thread
    def broken() -> None:
        raise ValueError("bad input")

    @run_in_green_thread
    def consumer() -> None:
        try:
            broken().wait()
        except ValueError as exc:
            caught.append(exc)

    consumer()
    reactor.advance(0)
    assert [str(exc) for exc in caught] == ["bad input"]
    assert caplog.records == []


def test_waitable_handle_wait_times_out_on_the_fake_clock(reactor: FakeReactor, hub: GreenHub) -> None:
    """handle.wait(timeout) raises GreenTimeout when the thread outlives the timeout, leaving no timer."""
    outcome: list[object] = []

    @run_in_waitable_green_thread
    def slow() -> str:
        sleep(10)
        return "late"

    @run_in_green_thread
    def impatient() -> None:
        handle = slow()
        try:
            handle.wait(timeout=3)
        except GreenTimeout:
            outcome.append("timeout")
        outcome.append(handle.wait())

    impatient()
    reactor.advance(0)
    reactor.advance(3)
    assert outcome == ["timeout"]
    reactor.advance(7)
    assert outcome == ["timeout", "late"]
    assert reactor.getDelayedCalls() == []


def test_waitable_handle_offers_deferreds_for_non_green_callers(reactor: FakeReactor, hub: GreenHub) -> None:
    """as_deferred() fires with the result, or fails with the exception, for code outside green threads."""
    results: list[object] = []

    @run_in_waitable_green_thread
    def later(value: object) -> object:
        sleep(1)
        if isinstance(value, Exception):
            raise value
        return value

    ok, bad = later("fine"), later(RuntimeError("broken"))
    ok.as_deferred().addCallback(results.append)
    bad.as_deferred().addErrback(lambda failure: results.append(failure.value))
    reactor.advance(0)
    assert not ok.ready()
    reactor.advance(1)
    assert ok.ready() and bad.ready()
    assert results[0] == "fine"
    assert isinstance(results[1], RuntimeError)
    # A Deferred asked for after the end fires at once; wait() works from the hub once finished.
    ok.as_deferred().addCallback(results.append)
    assert results[-1] == "fine"
    assert ok.wait() == "fine"
    failures: list[Failure] = []
    bad.as_deferred().addErrback(failures.append)
    assert failures[0].check(RuntimeError)


def test_waiting_for_an_unfinished_handle_on_the_hub_is_refused(reactor: FakeReactor, hub: GreenHub) -> None:
    """handle.wait() on the reactor thread outside green threads raises instead of deadlocking."""

    @run_in_waitable_green_thread
    def never_started() -> None:
        pass

    handle = never_started()
    with pytest.raises(NotInGreenThreadError):
        handle.wait()
    reactor.advance(0)
    assert handle.wait() is None
