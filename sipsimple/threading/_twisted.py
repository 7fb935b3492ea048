"""The Twisted thread: the one thread that runs the reactor and owns all middleware state.

`TwistedThread` wraps a reactor (the global one unless another is given) and either runs it in a
dedicated non-daemon thread named ``'twisted'`` or, when the application is already running that
reactor itself, adopts it and starts nothing. Either way it knows which thread is the reactor thread,
which is what `run_in_twisted_thread` and the green-thread hub need to decide whether a call can be
made directly or has to be handed over with ``callFromThread``.

A reactor can run once per object: Twisted's reactors are not restartable after ``stop()``.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.error import ReactorNotRunning
from twisted.python import threadable
from twisted.python.failure import Failure

__all__ = ["TwistedThread", "ReactorThreadError"]

logger = logging.getLogger("sipsimple.threading")

T = TypeVar("T")

_INIT, _RUNNING, _ADOPTED, _STOPPED = "init", "running", "adopted", "stopped"


class ReactorThreadError(RuntimeError):
    """An operation that would deadlock (or cannot work) on the calling thread was requested."""


class TwistedThread:
    """Runs a reactor in a thread named 'twisted', or adopts a reactor the application already runs.

    ``reactor`` defaults to the global ``twisted.internet.reactor``, imported on first use so that an
    application can install another reactor first. Tests pass a fresh reactor instance (for example
    ``SelectReactor()``) or a fake that has ``callFromThread``.
    """

    thread_name = "twisted"

    def __init__(self, reactor: Any = None) -> None:
        self._reactor = reactor
        self._lock = threading.Lock()
        self._state = _INIT
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        self._startup_error: BaseException | None = None

    # -- introspection --------------------------------------------------------------------------
    @property
    def reactor(self) -> Any:
        """The reactor this object drives (resolved lazily to the global reactor)."""
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = reactor
        return self._reactor

    @property
    def thread(self) -> threading.Thread | None:
        """The thread started by `start`, or None if nothing was started (not yet, or adopted)."""
        return self._thread

    @property
    def thread_ident(self) -> int | None:
        """``threading.get_ident()`` of the reactor thread, if known."""
        if self._ident is not None:
            return self._ident
        if self._state == _INIT and self._is_global_reactor():
            # Nobody called start(): an application running the global reactor itself is still
            # recognised, because Twisted records the thread that last started a reactor.
            return cast(int | None, threadable.ioThread)
        return None

    @property
    def adopted(self) -> bool:
        """True if `start` found the reactor already running and used it instead of a new thread."""
        return self._state == _ADOPTED

    @property
    def running(self) -> bool:
        """True between a successful `start` and `stop`."""
        return self._state in (_RUNNING, _ADOPTED)

    def is_twisted_thread(self) -> bool:
        """Return True if the calling thread is the one running the reactor."""
        ident = self.thread_ident
        return ident is not None and ident == threading.get_ident()

    # -- life cycle -----------------------------------------------------------------------------
    def start(self, timeout: float | None = 5.0) -> None:
        """Start the reactor thread, or adopt the reactor if it is already running.

        Returns once the reactor is running (waiting at most ``timeout`` seconds); an error raised by
        ``reactor.run`` (e.g. ``ReactorNotRestartable``) is re-raised here. Calling `start` again
        while running does nothing.
        """
        with self._lock:
            if self._state in (_RUNNING, _ADOPTED):
                return
            if self._state == _STOPPED:
                raise ReactorThreadError("this TwistedThread was stopped; reactors cannot be restarted")
            reactor = self.reactor
            if getattr(reactor, "running", False):
                self._adopt(reactor, timeout)
                return
            started = threading.Event()
            thread = threading.Thread(target=self._run, args=(started,), name=self.thread_name, daemon=False)
            self._thread = thread
            self._state = _RUNNING
            thread.start()
            self._ident = thread.ident
        if not started.wait(timeout):
            logger.warning("the reactor did not report running within %s seconds", timeout)
        if self._startup_error is not None:
            thread.join(timeout)
            with self._lock:
                self._state, self._ident = _STOPPED, None
            raise self._startup_error

    def _adopt(self, reactor: Any, timeout: float | None) -> None:
        self._state = _ADOPTED
        if threadable.ioThread == threading.get_ident() and getattr(reactor, "_registerAsIOThread", False):
            # Called from a reactor callback: this thread is the reactor thread.
            self._ident = threading.get_ident()
            return
        learned = threading.Event()

        def learn() -> None:
            self._ident = threading.get_ident()
            learned.set()

        reactor.callFromThread(learn)
        # If this wait times out we were most likely called on the reactor thread of a reactor that
        # does not register itself with Twisted; `learn` then runs as soon as we return.
        learned.wait(timeout)

    def _run(self, started: threading.Event) -> None:
        reactor = self.reactor
        try:
            reactor.callWhenRunning(started.set)
            reactor.run(installSignalHandlers=False)
        except BaseException as exc:  # reported to start(), never left to threading.excepthook
            self._startup_error = exc
            logger.error("the reactor failed to run: %r", exc)
        finally:
            started.set()

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Stop the reactor thread and join it; return True if no thread is left running.

        An adopted reactor belongs to the application and is left running. Called on the reactor
        thread itself, this stops the reactor but cannot join its own thread and returns False.
        """
        with self._lock:
            state, thread = self._state, self._thread
            if state == _INIT:
                return True
            self._state = _STOPPED
        if state != _RUNNING or thread is None:
            self._ident = None  # an adopted reactor keeps running, but is no longer ours
            return True
        reactor = self.reactor
        if threading.get_ident() == thread.ident:
            _stop_if_running(reactor)
            return False
        reactor.callFromThread(_stop_if_running, reactor)
        thread.join(timeout)
        if thread.is_alive():
            return False
        self._ident = None  # thread identifiers are reused once a thread is gone
        return True

    # -- calls ----------------------------------------------------------------------------------
    def call(self, func: Callable[..., object], /, *args: object, **kwargs: object) -> None:
        """Call ``func`` on the reactor thread: directly if already there, else via ``callFromThread``."""
        if self.is_twisted_thread():
            func(*args, **kwargs)
        else:
            self.reactor.callFromThread(func, *args, **kwargs)

    def call_and_wait(
        self,
        func: Callable[..., T | Deferred[T]],
        /,
        *args: object,
        timeout: float | None = None,
        **kwargs: object,
    ) -> T:
        """Run ``func`` on the reactor thread and block the calling thread for its result.

        If ``func`` returns a Deferred, its result is waited for. The result is returned, or the
        exception raised; ``TimeoutError`` after ``timeout`` seconds. Must not be called on the
        reactor thread (that would deadlock): `ReactorThreadError` is raised there.
        """
        if self.is_twisted_thread():
            raise ReactorThreadError("call_and_wait() called on the reactor thread would deadlock")
        done = threading.Event()
        outcome: list[object] = []
        abandoned = False

        def deliver(result: object) -> None:
            if abandoned:
                if isinstance(result, Failure):
                    logger.error(
                        "%r failed after its caller stopped waiting: %s", func, result.getBriefTraceback()
                    )
                return
            outcome.append(result)
            done.set()

        def invoke() -> None:
            maybeDeferred(func, *args, **kwargs).addBoth(deliver)

        self.reactor.callFromThread(invoke)
        if not done.wait(timeout):
            abandoned = True
            if not outcome:
                raise TimeoutError(
                    f"{func!r} did not complete on the reactor thread within {timeout} seconds"
                )
        result = outcome[0]
        if isinstance(result, Failure):
            error: BaseException = cast(BaseException, result.value)
            raise error
        return cast(T, result)

    def _is_global_reactor(self) -> bool:
        installed = sys.modules.get("twisted.internet.reactor")
        return self._reactor is None or self._reactor is installed

    def __repr__(self) -> str:
        return f"<{type(self).__name__} state={self._state} ident={self._ident}>"


def _stop_if_running(reactor: Any) -> None:
    try:
        reactor.stop()
    except ReactorNotRunning:  # somebody stopped it before us
        pass
