"""The green-thread hub: greenlets scheduled by reactor callbacks on the reactor thread.

Rules the code below keeps:

* The hub is whatever greenlet runs reactor callbacks on the reactor thread (normally that thread's
  root greenlet). Every green thread is a greenlet whose parent is the hub, so when it blocks it
  switches to its parent, and when it ends control returns to the hub.
* Only the hub switches into green threads, and only from `GreenHub._run_ready`, a reactor callback.
  Waking a green thread (from a timer, a Deferred callback, or another green thread) never switches:
  it appends the wake-up to the hub's FIFO ready queue and makes sure one ``callLater(0, ...)`` is
  pending to run it. So no greenlet is ever entered from inside another green thread's stack, and
  wake-ups happen in the order they were made.
* A `_Waiter` is a one-shot slot a green thread parks on. It is settled once (value, error or
  timeout); settling before the thread parks makes the wait return without switching at all.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

import greenlet
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

if TYPE_CHECKING:
    from sipsimple.threading import TwistedThread

__all__ = [
    "GreenHub",
    "GreenThread",
    "GreenTimeout",
    "NotInGreenThreadError",
    "block_on",
    "current_hub",
    "in_green_thread",
    "sleep",
]

logger = logging.getLogger("sipsimple.threading.green")

T = TypeVar("T")


class GreenTimeout(TimeoutError):
    """A green wait (`block_on`, `Event.wait`, `Queue.get`, `GreenThread.wait`) timed out."""


class NotInGreenThreadError(RuntimeError):
    """A blocking green operation was called outside a green thread, where it would deadlock."""


class DelayedCallLike(Protocol):
    def active(self) -> bool: ...
    def cancel(self) -> None: ...


class HubReactor(Protocol):
    """What the hub needs from a reactor: timers and a way in from other threads."""

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> Any: ...
    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kw: Any) -> None: ...


class GreenHub:
    """Schedules green threads on one reactor.

    ``reactor`` provides ``callLater`` and ``callFromThread``; ``is_reactor_thread`` tells whether the
    calling thread runs that reactor (default: the thread constructing the hub, which suits fakes
    driven by the test thread). `for_twisted_thread` builds a hub for a `TwistedThread`.
    """

    def __init__(self, reactor: HubReactor, is_reactor_thread: Callable[[], bool] | None = None) -> None:
        if is_reactor_thread is None:
            ident = threading.get_ident()

            def is_reactor_thread() -> bool:
                return threading.get_ident() == ident

        self.reactor = reactor
        self.is_reactor_thread: Callable[[], bool] = is_reactor_thread
        self._ready: deque[Callable[[], None]] = deque()
        self._pending_call: Any = None

    @classmethod
    def for_twisted_thread(cls, twisted_thread: TwistedThread) -> GreenHub:
        """A hub on the reactor of ``twisted_thread``."""
        return cls(twisted_thread.reactor, twisted_thread.is_twisted_thread)

    # -- spawning -------------------------------------------------------------------------------
    def call_in_green_thread(self, func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Start ``func(*args, **kwargs)`` in a new green thread soon; returns None at once.

        Safe from any thread: off the reactor thread the start goes through ``callFromThread``.
        """
        self._submit(functools.partial(self._start, func, args, kwargs, None))

    def call_in_waitable_green_thread(
        self, func: Callable[..., T], /, *args: Any, **kwargs: Any
    ) -> GreenThread[T]:
        """Like `call_in_green_thread`, but return a `GreenThread` handle to wait for the outcome."""
        handle: GreenThread[T] = GreenThread(self)
        self._submit(functools.partial(self._start, func, args, kwargs, handle))
        return handle

    def _submit(self, entry: Callable[[], None]) -> None:
        if self.is_reactor_thread():
            self._schedule(entry)
        else:
            self.reactor.callFromThread(self._schedule, entry)

    def _start(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        handle: GreenThread[Any] | None,
    ) -> None:
        green_thread = _GreenletThread(self, func, args, kwargs, handle, parent=greenlet.getcurrent())
        green_thread.switch()

    # -- the ready queue ------------------------------------------------------------------------
    def _schedule(self, entry: Callable[[], None]) -> None:
        """Run ``entry`` soon from a reactor callback, after those already queued (reactor thread only)."""
        self._ready.append(entry)
        if self._pending_call is None:
            self._pending_call = self.reactor.callLater(0, self._run_ready)

    def _run_ready(self) -> None:
        self._pending_call = None
        if _current_green_thread() is not None:
            # Never switch from inside a green thread's stack; keep the queue armed for a proper turn.
            self._pending_call = self.reactor.callLater(0, self._run_ready)
            raise RuntimeError(
                "a reactor callback ran inside a green thread (was the reactor driven from one?)"
            )
        try:
            # Only the entries present now: what they schedule runs in a later reactor iteration, so a
            # green thread that keeps yielding cannot starve the reactor.
            for _ in range(len(self._ready)):
                entry = self._ready.popleft()
                try:
                    entry()
                except Exception:
                    logger.exception("Unhandled exception in green-thread hub entry %r", entry)
        finally:
            if self._ready and self._pending_call is None:
                self._pending_call = self.reactor.callLater(0, self._run_ready)


class _GreenletThread(greenlet.greenlet):
    """The greenlet behind one green thread."""

    def __init__(
        self,
        hub: GreenHub,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        handle: GreenThread[Any] | None,
        parent: greenlet.greenlet,
    ) -> None:
        super().__init__(parent=parent)
        self.hub = hub
        self._call: tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]] | None = (func, args, kwargs)
        self._handle = handle

    def run(self) -> None:
        assert self._call is not None
        func, args, kwargs = self._call
        self._call = None
        handle, self._handle = self._handle, None
        try:
            result = func(*args, **kwargs)
        except greenlet.GreenletExit as exc:
            if handle is not None:
                handle._finish(None, exc)
        except Exception as exc:
            if handle is not None:
                handle._finish(None, exc)  # delivered to whoever waits, not logged
            else:
                logger.exception("Unhandled exception in green thread running %s", _describe(func))
        except BaseException as exc:  # SystemExit, KeyboardInterrupt: tell waiters, then let it out
            if handle is not None:
                handle._finish(None, exc)
            raise
        else:
            if handle is not None:
                handle._finish(result, None)


def _describe(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)


def _current_green_thread() -> _GreenletThread | None:
    current = greenlet.getcurrent()
    return current if isinstance(current, _GreenletThread) else None


def _require_green_thread(operation: str) -> _GreenletThread:
    current = greenlet.getcurrent()
    if not isinstance(current, _GreenletThread):
        raise NotInGreenThreadError(
            f"{operation} can only block inside a green thread (use run_in_green_thread); "
            "here it would block the reactor or never be woken"
        )
    return current


def in_green_thread() -> bool:
    """True if the caller runs in a green thread."""
    return _current_green_thread() is not None


def current_hub() -> GreenHub | None:
    """The hub of the calling green thread, or None outside green threads."""
    current = _current_green_thread()
    return None if current is None else current.hub


class _Waiter(Generic[T]):
    """A one-shot slot one green thread parks on until something settles it."""

    __slots__ = ("_green_thread", "done", "error", "parked", "value")

    def __init__(self, green_thread: _GreenletThread) -> None:
        self._green_thread = green_thread
        self.done = False
        self.parked = False
        self.value: Any = None
        self.error: BaseException | None = None

    def resolve(self, value: T) -> bool:
        """Settle with a value; False if already settled (e.g. timed out)."""
        if self.done:
            return False
        self.done, self.value = True, value
        self._wake()
        return True

    def fail(self, error: BaseException) -> bool:
        """Settle with an exception to raise in the waiting green thread."""
        if self.done:
            return False
        self.done, self.error = True, error
        self._wake()
        return True

    def _wake(self) -> None:
        if self.parked:
            self._green_thread.hub._schedule(self._resume)

    def _resume(self) -> None:
        # Skipped if the thread stopped waiting here in the meantime (e.g. something was thrown in).
        if self.parked and not self._green_thread.dead:
            self._green_thread.switch()

    def wait(self, timeout: float | None = None) -> T:
        """Park the current green thread until settled; `GreenTimeout` after ``timeout`` seconds."""
        if not self.done:
            green_thread = self._green_thread
            if greenlet.getcurrent() is not green_thread:
                raise RuntimeError("a waiter can only be waited on by the green thread that made it")
            timer = None
            if timeout is not None:
                timer = green_thread.hub.reactor.callLater(max(timeout, 0.0), self._expire, timeout)
            self.parked = True
            try:
                green_thread.parent.switch()
            finally:
                self.parked = False
                if timer is not None and timer.active():
                    timer.cancel()
            if not self.done:
                raise RuntimeError("green thread was switched into while it was waiting")
        if self.error is not None:
            raise self.error
        return self.value

    def _expire(self, timeout: float) -> None:
        self.fail(GreenTimeout(f"timed out after {timeout} seconds"))


def block_on(deferred: Deferred[T], timeout: float | None = None) -> T:
    """Wait inside a green thread for ``deferred``; return its result or raise its failure's exception.

    Returns at once if the Deferred has already fired. After ``timeout`` seconds `GreenTimeout` is
    raised; the Deferred is left alone (not cancelled) and its later result passes through to any
    callbacks added after this call. A result delivered here is consumed (the Deferred's result
    becomes None), as with ``await``. Outside a green thread, `NotInGreenThreadError` is raised.
    """
    waiter: _Waiter[T] = _Waiter(_require_green_thread("block_on()"))

    def settle(result: object) -> object:
        if waiter.done:  # the wait timed out: not ours any more
            return result
        if isinstance(result, Failure):
            waiter.fail(cast(BaseException, result.value))
        else:
            waiter.resolve(result)  # type: ignore[arg-type]
        return None

    deferred.addBoth(settle)
    return waiter.wait(timeout)


def sleep(seconds: float = 0) -> None:
    """Suspend the current green thread for ``seconds`` of reactor time (0: just yield to the reactor)."""
    waiter: _Waiter[None] = _Waiter(_require_green_thread("sleep()"))
    timer = waiter._green_thread.hub.reactor.callLater(max(seconds, 0), waiter.resolve, None)
    try:
        waiter.wait()
    finally:
        if timer.active():
            timer.cancel()


class GreenThread(Generic[T]):
    """Handle on a waitable green thread: `wait` for its outcome, or get it `as_deferred`."""

    def __init__(self, hub: GreenHub) -> None:
        self._hub = hub
        self._done = False
        self._result: Any = None
        self._error: BaseException | None = None
        self._waiters: list[_Waiter[None]] = []
        self._finished = threading.Event()
        self._deferreds: list[Deferred[T]] = []

    def ready(self) -> bool:
        """True once the function has returned or raised."""
        return self._done

    def wait(self, timeout: float | None = None) -> T:
        """Return the function's result or raise its exception, waiting until it has finished.

        Inside a green thread this blocks only that green thread. From a plain (non-reactor) thread it
        blocks that thread. On the reactor thread outside green threads it raises
        `NotInGreenThreadError` unless the outcome is already there. `GreenTimeout` after ``timeout``.
        """
        if not self._done:
            current = _current_green_thread()
            if current is not None:
                waiter: _Waiter[None] = _Waiter(current)
                self._waiters.append(waiter)
                try:
                    waiter.wait(timeout)
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
            elif self._hub.is_reactor_thread():
                raise NotInGreenThreadError("GreenThread.wait() on the reactor thread would deadlock")
            elif not self._finished.wait(timeout):
                raise GreenTimeout(f"green thread did not finish within {timeout} seconds")
        if self._error is not None:
            raise self._error
        return self._result

    def as_deferred(self) -> Deferred[T]:
        """A new Deferred fired with the outcome (use on the reactor thread, from non-green code)."""
        deferred: Deferred[T] = Deferred()
        if self._done:
            self._fire(deferred)
        else:
            self._deferreds.append(deferred)
        return deferred

    def _fire(self, deferred: Deferred[T]) -> None:
        if self._error is not None:
            deferred.errback(Failure(self._error, type(self._error), self._error.__traceback__))
        else:
            deferred.callback(self._result)

    def _finish(self, result: Any, error: BaseException | None) -> None:
        self._result, self._error = result, error
        self._done = True
        self._finished.set()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            waiter.resolve(None)
        deferreds, self._deferreds = self._deferreds, []
        if deferreds:
            # Deferred callbacks run from the hub, like any reactor callback, not in the ending thread.
            def fire_all() -> None:
                for deferred in deferreds:
                    self._fire(deferred)

            self._hub._schedule(fire_all)

    def __repr__(self) -> str:
        state = "finished" if self._done else "running"
        return f"<{type(self).__name__} {state}>"
