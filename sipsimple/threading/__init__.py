"""Threads of the SDK: the Twisted thread, named worker threads, and (in `.green`) green threads.

All middleware state lives on the Twisted (reactor) thread. Code running elsewhere reaches it with
`call_in_twisted_thread` / `run_in_twisted_thread`, or `call_in_twisted_thread_and_wait` when a plain
thread needs the result. Blocking work goes the other way, to named worker threads, with
`call_in_thread` / `run_in_thread`. See docs/threading.md.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from twisted.internet.defer import Deferred

from ._twisted import ReactorThreadError, TwistedThread
from ._workers import ThreadManager, WorkerThreadPool

__all__ = [
    "ReactorThreadError",
    "ThreadManager",
    "TwistedThread",
    "WorkerThreadPool",
    "call_in_thread",
    "call_in_twisted_thread",
    "call_in_twisted_thread_and_wait",
    "get_twisted_thread",
    "is_twisted_thread",
    "run_in_thread",
    "run_in_twisted_thread",
    "set_twisted_thread",
    "start_twisted_thread",
    "stop_twisted_thread",
]

P = ParamSpec("P")
T = TypeVar("T")

_default_lock = threading.Lock()
_default_twisted_thread: TwistedThread | None = None


def get_twisted_thread() -> TwistedThread:
    """The process-wide `TwistedThread` (on the global reactor unless `set_twisted_thread` was used)."""
    global _default_twisted_thread
    with _default_lock:
        if _default_twisted_thread is None:
            _default_twisted_thread = TwistedThread()
        return _default_twisted_thread


def set_twisted_thread(twisted_thread: TwistedThread | None) -> None:
    """Make ``twisted_thread`` the process-wide one (None: a new one on the global reactor, lazily)."""
    global _default_twisted_thread
    with _default_lock:
        _default_twisted_thread = twisted_thread


def start_twisted_thread(timeout: float | None = 5.0) -> TwistedThread:
    """Start the process-wide reactor thread (or adopt a running reactor); see `TwistedThread.start`."""
    twisted_thread = get_twisted_thread()
    twisted_thread.start(timeout)
    return twisted_thread


def stop_twisted_thread(timeout: float | None = 5.0) -> bool:
    """Stop and join the process-wide reactor thread; True if it is gone. See `TwistedThread.stop`."""
    return get_twisted_thread().stop(timeout)


def is_twisted_thread() -> bool:
    """True if the calling thread runs the process-wide reactor."""
    return get_twisted_thread().is_twisted_thread()


def call_in_twisted_thread(func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
    """Call ``func`` on the reactor thread: at once if already there, otherwise via ``callFromThread``."""
    get_twisted_thread().call(func, *args, **kwargs)


def call_in_twisted_thread_and_wait(
    func: Callable[..., T | Deferred[T]], /, *args: Any, timeout: float | None = None, **kwargs: Any
) -> T:
    """From a plain thread, run ``func`` on the reactor thread and return its result or raise its error.

    A Deferred result is waited for. ``TimeoutError`` after ``timeout`` seconds; `ReactorThreadError`
    if called on the reactor thread.
    """
    return get_twisted_thread().call_and_wait(func, *args, timeout=timeout, **kwargs)


def run_in_twisted_thread(func: Callable[P, object]) -> Callable[P, None]:
    """Decorator: calling the function runs it on the reactor thread (see `call_in_twisted_thread`).

    The call returns None; when made off the reactor thread it returns before the function runs.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        get_twisted_thread().call(func, *args, **kwargs)

    return wrapper


def call_in_thread(thread_name: str, func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
    """Queue ``func(*args, **kwargs)`` on the named worker thread of `ThreadManager` ('file-io', ...)."""
    ThreadManager().call(thread_name, func, *args, **kwargs)


def run_in_thread(thread_name: str) -> Callable[[Callable[P, object]], Callable[P, None]]:
    """Decorator factory: calling the decorated function queues it on the named worker thread."""

    def decorator(func: Callable[P, object]) -> Callable[P, None]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            ThreadManager().call(thread_name, func, *args, **kwargs)

        return wrapper

    return decorator
