"""Fixtures for the threading tests: a fake reactor on a fake clock, and fresh real reactors."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from twisted.internet.selectreactor import SelectReactor
from twisted.internet.task import Clock
from twisted.python import threadable

from sipsimple.threading import TwistedThread, set_twisted_thread
from sipsimple.threading.green import GreenHub, set_hub
from tests.support.reactor import close_reactor


class FakeReactor(Clock):
    """A `Clock` that also takes `callFromThread` calls, queued until `run_pending` drains them."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self.thread_calls: list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []

    def callFromThread(self, f: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        with self._lock:
            self.thread_calls.append((f, args, kwargs))

    def run_pending(self) -> None:
        """Run the queued cross-thread calls, then the timers due now (as one reactor turn would)."""
        while True:
            with self._lock:
                if not self.thread_calls:
                    break
                f, args, kwargs = self.thread_calls.pop(0)
            f(*args, **kwargs)
        self.advance(0)


@pytest.fixture
def reactor() -> FakeReactor:
    return FakeReactor()


@pytest.fixture
def hub(reactor: FakeReactor) -> Iterator[GreenHub]:
    """A hub on the fake reactor, installed as the default hub; the test thread is the reactor thread."""
    green_hub = GreenHub(reactor)
    set_hub(green_hub)
    try:
        yield green_hub
    finally:
        set_hub(None)


@pytest.fixture
def fresh_reactor() -> Iterator[SelectReactor]:
    """A new real reactor for this test only; Twisted's record of the I/O thread is restored after."""
    saved_io_thread = threadable.ioThread
    real_reactor = SelectReactor()
    try:
        yield real_reactor
    finally:
        threadable.ioThread = saved_io_thread
        close_reactor(real_reactor)


@pytest.fixture
def twisted_thread(fresh_reactor: SelectReactor) -> Iterator[TwistedThread]:
    """A `TwistedThread` on a fresh reactor, started, installed as the process-wide one, and stopped."""
    thread = TwistedThread(fresh_reactor)
    thread.start()
    set_twisted_thread(thread)
    try:
        yield thread
    finally:
        set_twisted_thread(None)
        assert thread.stop(timeout=5)
