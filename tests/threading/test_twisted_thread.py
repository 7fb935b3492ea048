"""The Twisted thread on fresh real reactors: start, stop, adoption, and calls from plain threads."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from twisted.internet.defer import Deferred
from twisted.internet.error import ReactorNotRestartable
from twisted.internet.selectreactor import SelectReactor

import sipsimple.threading as sthreading
from sipsimple.threading import ReactorThreadError, TwistedThread
from sipsimple.threading.green import (
    GreenHub,
    block_on,
    run_in_green_thread,
    run_in_waitable_green_thread,
    set_hub,
)


def _other_threads() -> set[threading.Thread]:
    return set(threading.enumerate()) - {threading.current_thread()}


def test_start_runs_the_reactor_in_a_non_daemon_thread_named_twisted_and_stop_joins_it(
    fresh_reactor: SelectReactor,
) -> None:
    """start() runs the reactor in thread 'twisted'; stop() ends it and no thread is left behind."""
    before = _other_threads()
    twisted_thread = TwistedThread(fresh_reactor)
    twisted_thread.start()
    thread = twisted_thread.thread
    assert thread is not None and thread.name == "twisted" and not thread.daemon
    assert fresh_reactor.running and twisted_thread.running and not twisted_thread.adopted
    assert twisted_thread.call_and_wait(lambda: threading.current_thread().name, timeout=5) == "twisted"

    assert twisted_thread.stop(timeout=5)
    assert not thread.is_alive() and not fresh_reactor.running
    assert _other_threads() == before
    assert twisted_thread.stop() is True  # stopping again is harmless


def test_is_twisted_thread_is_true_only_on_the_reactor_thread(twisted_thread: TwistedThread) -> None:
    """is_twisted_thread() answers True in a reactor callback and False on the calling thread."""
    assert not twisted_thread.is_twisted_thread()
    assert twisted_thread.call_and_wait(twisted_thread.is_twisted_thread, timeout=5) is True
    assert twisted_thread.thread_ident == twisted_thread.call_and_wait(threading.get_ident, timeout=5)


def test_call_and_wait_returns_results_and_waits_for_deferreds(twisted_thread: TwistedThread) -> None:
    """A plain value comes back as is; a Deferred result is waited for on the reactor."""
    reactor = twisted_thread.reactor

    def later() -> Deferred[str]:
        deferred: Deferred[str] = Deferred()
        reactor.callLater(0, deferred.callback, "from the reactor")
        return deferred

    assert twisted_thread.call_and_wait(lambda x, y: x + y, 2, y=3, timeout=5) == 5
    assert twisted_thread.call_and_wait(later, timeout=5) == "from the reactor"


def test_call_and_wait_raises_the_functions_exception(twisted_thread: TwistedThread) -> None:
    """An exception raised by the function, or a failed Deferred, is raised in the calling thread."""

    def broken() -> None:
        raise LookupError("no such account")

    def failing() -> Deferred[None]:
        deferred: Deferred[None] = Deferred()
        twisted_thread.reactor.callLater(0, deferred.errback, PermissionError("denied"))
        return deferred

    with pytest.raises(LookupError, match="no such account"):
        twisted_thread.call_and_wait(broken, timeout=5)
    with pytest.raises(PermissionError, match="denied"):
        twisted_thread.call_and_wait(failing, timeout=5)


def test_call_and_wait_times_out_and_refuses_the_reactor_thread(twisted_thread: TwistedThread) -> None:
    """A Deferred that never fires gives TimeoutError; calling it on the reactor thread is refused."""
    with pytest.raises(TimeoutError):
        twisted_thread.call_and_wait(Deferred, timeout=0.05)

    def nested() -> None:
        twisted_thread.call_and_wait(lambda: None)

    with pytest.raises(ReactorThreadError):
        twisted_thread.call_and_wait(nested, timeout=5)


def test_run_in_twisted_thread_from_plain_threads_runs_on_the_reactor(twisted_thread: TwistedThread) -> None:
    """Calls made by ten plain threads through run_in_twisted_thread all run on the reactor thread."""
    ran_on: list[int] = []
    all_done = threading.Event()

    @sthreading.run_in_twisted_thread
    def record(n: int) -> None:
        ran_on.append(threading.get_ident())
        if len(ran_on) == 10:
            all_done.set()

    callers = [threading.Thread(target=record, args=(n,)) for n in range(10)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(5)
    assert all_done.wait(5)
    assert set(ran_on) == {twisted_thread.thread_ident}


def test_call_in_twisted_thread_on_the_reactor_thread_runs_synchronously(
    twisted_thread: TwistedThread,
) -> None:
    """Already on the reactor thread, call_in_twisted_thread calls the function before returning."""

    def on_reactor() -> list[str]:
        out: list[str] = []
        sthreading.call_in_twisted_thread(out.append, "now")
        return out

    assert sthreading.call_in_twisted_thread_and_wait(on_reactor, timeout=5) == ["now"]
    assert sthreading.is_twisted_thread() is False


def test_a_running_reactor_is_adopted_instead_of_starting_a_thread(fresh_reactor: SelectReactor) -> None:
    """If the application already runs the reactor, start() uses it; stop() leaves it running."""
    running = threading.Event()
    fresh_reactor.callWhenRunning(running.set)
    app_thread = threading.Thread(
        target=fresh_reactor.run, kwargs={"installSignalHandlers": False}, name="app"
    )
    app_thread.start()
    try:
        assert running.wait(5)
        twisted_thread = TwistedThread(fresh_reactor)
        twisted_thread.start()
        assert twisted_thread.adopted and twisted_thread.thread is None
        assert not any(thread.name == "twisted" for thread in threading.enumerate())
        assert twisted_thread.thread_ident == app_thread.ident
        assert twisted_thread.call_and_wait(threading.current_thread, timeout=5) is app_thread

        # Adopting from a callback on the reactor thread itself knows the thread at once.
        inner = TwistedThread(fresh_reactor)
        assert twisted_thread.call_and_wait(lambda: (inner.start(), inner.is_twisted_thread())[1], timeout=5)

        assert twisted_thread.stop(timeout=5)
        assert fresh_reactor.running and app_thread.is_alive()
    finally:
        fresh_reactor.callFromThread(fresh_reactor.stop)
        app_thread.join(5)
    assert not app_thread.is_alive()


def test_a_stopped_reactor_is_not_restarted(fresh_reactor: SelectReactor) -> None:
    """Starting a stopped TwistedThread, or a new one on a stopped reactor, fails and leaves no thread."""
    first = TwistedThread(fresh_reactor)
    first.start()
    assert first.stop(timeout=5)
    before = _other_threads()
    with pytest.raises(ReactorThreadError):
        first.start()
    with pytest.raises(ReactorNotRestartable):
        TwistedThread(fresh_reactor).start()
    assert _other_threads() == before


def test_stop_called_on_the_reactor_thread_stops_without_joining_itself(fresh_reactor: SelectReactor) -> None:
    """stop() from a reactor callback returns False (it cannot join itself) and the thread then ends."""
    twisted_thread = TwistedThread(fresh_reactor)
    twisted_thread.start()
    thread = twisted_thread.thread
    assert thread is not None
    assert twisted_thread.call_and_wait(twisted_thread.stop, timeout=5) is False
    thread.join(5)
    assert not thread.is_alive()


def test_module_functions_drive_the_installed_twisted_thread(fresh_reactor: SelectReactor) -> None:
    """start_twisted_thread/stop_twisted_thread act on the process-wide TwistedThread."""
    sthreading.set_twisted_thread(TwistedThread(fresh_reactor))
    try:
        started = sthreading.start_twisted_thread()
        assert started is sthreading.get_twisted_thread()
        assert sthreading.call_in_twisted_thread_and_wait(sthreading.is_twisted_thread, timeout=5)
        assert sthreading.stop_twisted_thread(timeout=5)
        assert not any(thread.name == "twisted" for thread in threading.enumerate())
    finally:
        sthreading.set_twisted_thread(None)


def test_green_threads_started_from_plain_threads_run_on_the_real_reactor(
    twisted_thread: TwistedThread,
) -> None:
    """run_in_green_thread from a plain thread runs on the reactor thread and can block_on Deferreds."""
    set_hub(GreenHub.for_twisted_thread(twisted_thread))
    reactor = twisted_thread.reactor
    results: list[object] = []
    done = threading.Event()

    @run_in_green_thread
    def green(tag: str) -> None:
        deferred: Deferred[str] = Deferred()
        reactor.callLater(0, deferred.callback, tag)
        results.append((block_on(deferred, timeout=5), twisted_thread.is_twisted_thread()))
        done.set()

    @run_in_waitable_green_thread
    def waitable(x: int) -> int:
        deferred: Deferred[int] = Deferred()
        reactor.callLater(0, deferred.callback, x + 1)
        return block_on(deferred)

    try:
        caller = threading.Thread(target=green, args=("hello",))
        caller.start()
        caller.join(5)
        assert done.wait(5)
        assert results == [("hello", True)]
        assert waitable(41).wait(timeout=5) == 42  # waited for from this plain thread
    finally:
        set_hub(None)


def test_default_twisted_thread_runs_the_global_reactor_and_exits_cleanly(tmp_path: Path) -> None:
    """In a fresh interpreter the default TwistedThread runs the global reactor and stops without leftovers."""
    script = textwrap.dedent(
        """
        import threading
        from sipsimple.threading import (
            call_in_twisted_thread_and_wait, is_twisted_thread, start_twisted_thread, stop_twisted_thread,
        )
        from sipsimple.threading.green import block_on, run_in_waitable_green_thread
        from twisted.internet import reactor
        from twisted.internet.task import deferLater

        start_twisted_thread()
        assert call_in_twisted_thread_and_wait(is_twisted_thread, timeout=5) is True
        assert not is_twisted_thread()

        @run_in_waitable_green_thread
        def green():
            return block_on(deferLater(reactor, 0, lambda: "green ok"))

        assert green().wait(timeout=5) == "green ok"
        assert stop_twisted_thread(timeout=5)
        leftovers = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
        assert leftovers == [], leftovers
        print("clean")
        """
    )
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        [sys.executable, "-W", "error", "-c", script],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == "clean"
