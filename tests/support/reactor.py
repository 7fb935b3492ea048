"""Real reactors for tests: a fresh SelectReactor per test, turned from the test thread with bounded waits."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.selectreactor import SelectReactor
from twisted.python import threadable
from twisted.python.failure import Failure

WAIT = 2.0  # seconds: the most any single loopback exchange may take


def close_reactor(reactor: SelectReactor) -> None:
    """Release the file descriptors of a reactor's waker (an unused or stopped reactor keeps them open)."""
    waker = reactor.waker
    if waker is not None:
        reactor.removeReader(waker)
        waker.connectionLost(None)
        reactor.waker = None


@contextmanager
def fresh_reactor() -> Iterator[SelectReactor]:
    """A new reactor for one test; Twisted's record of the I/O thread is restored afterwards."""
    saved_io_thread = threadable.ioThread
    reactor = SelectReactor()
    try:
        yield reactor
    finally:
        threadable.ioThread = saved_io_thread
        close_reactor(reactor)


@contextmanager
def threaded_loop() -> Iterator[Loop]:
    """A Loop on a fresh reactor whose thread pool runs (blocking work such as the system resolver's
    lookups goes there), stopped afterwards."""
    with fresh_reactor() as reactor:
        pool = reactor.getThreadPool()
        pool.start()
        try:
            yield Loop(reactor)
        finally:
            pool.stop()


class Loop:
    """Turns a reactor from the test thread until something happens (bounded in time)."""

    def __init__(self, reactor: SelectReactor) -> None:
        self.reactor = reactor

    def run_until(self, condition: Callable[[], object], timeout: float = WAIT, what: str = "") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
            self.reactor.iterate(0.002)

    def turn(self, times: int = 5) -> None:
        """Let already-queued I/O settle (used to check that something does NOT happen)."""
        for _ in range(times):
            self.reactor.iterate(0.002)

    def wait(self, deferred: Deferred[Any], timeout: float = WAIT) -> Any:
        """The result of ``deferred`` once it fires; its exception is raised."""
        outcome: list[Any] = []
        deferred.addBoth(outcome.append)
        self.run_until(lambda: outcome, timeout, what="a Deferred")
        result = outcome[0]
        if isinstance(result, Failure):
            result.raiseException()
        return result

    def failure(self, deferred: Deferred[Any], timeout: float = WAIT) -> BaseException:
        """The exception ``deferred`` fails with (the test fails if it succeeds)."""
        try:
            result = self.wait(deferred, timeout)
        except Exception as error:
            return error
        raise AssertionError(f"expected a failure, got {result!r}")
