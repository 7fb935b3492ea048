"""Named worker threads: per-name ordering, isolation of failures, clean shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from sipsimple.threading import ThreadManager, WorkerThreadPool, call_in_thread, run_in_thread


@pytest.fixture
def pool() -> Iterator[WorkerThreadPool]:
    workers = WorkerThreadPool()
    try:
        yield workers
    finally:
        assert workers.stop(timeout=5)


def _barrier(pool: WorkerThreadPool, name: str) -> None:
    """Wait (up to 5 s) until everything queued on ``name`` so far has run."""
    reached = threading.Event()
    pool.call(name, reached.set)
    assert reached.wait(5)


def test_calls_to_one_name_run_in_order_on_one_thread(pool: WorkerThreadPool) -> None:
    """Two hundred calls to 'file-io' run in the order made, all on one thread named 'file-io'."""
    seen: list[tuple[int, str]] = []
    for n in range(200):
        pool.call("file-io", lambda n=n: seen.append((n, threading.current_thread().name)))
    _barrier(pool, "file-io")
    assert [n for n, _ in seen] == list(range(200))
    assert {name for _, name in seen} == {"file-io"}
    assert pool.names == ["file-io"]


def test_different_names_run_in_parallel_threads(pool: WorkerThreadPool) -> None:
    """A 'device-io' call blocked on an event is released by a 'file-io' call: separate threads."""
    released = threading.Event()
    finished = threading.Event()
    pool.call("device-io", lambda: released.wait(5) and finished.set())
    pool.call("file-io", released.set)
    assert finished.wait(5)
    assert sorted(thread.name for thread in pool.threads()) == ["device-io", "file-io"]


def test_an_exception_is_logged_and_the_worker_keeps_going(
    pool: WorkerThreadPool, caplog: pytest.LogCaptureFixture
) -> None:
    """A failing call is logged with its traceback on 'sipsimple.threading'; later calls still run."""
    after: list[str] = []

    def broken() -> None:
        raise OSError("disk full")

    with caplog.at_level(logging.ERROR, logger="sipsimple.threading"):
        pool.call("file-io", broken)
        pool.call("file-io", after.append, "still running")
        _barrier(pool, "file-io")
    assert after == ["still running"]
    [record] = [record for record in caplog.records if record.name == "sipsimple.threading"]
    assert record.exc_info is not None and isinstance(record.exc_info[1], OSError)
    assert "file-io" in record.getMessage()


def test_stop_drains_queued_calls_and_joins_every_worker() -> None:
    """stop() runs what was queued, ends and joins all workers: none is left in threading.enumerate()."""
    pool = WorkerThreadPool()
    gate = threading.Event()
    done: list[str] = []
    pool.call("a", gate.wait, 5)
    pool.call("a", done.append, "a")
    pool.call("b", done.append, "b")
    threads = pool.threads()
    assert all(thread.is_alive() for thread in threads)
    gate.set()
    assert pool.stop(timeout=5)
    assert sorted(done) == ["a", "b"]
    assert not any(thread in threading.enumerate() for thread in threads)
    assert pool.names == []


def test_pool_is_usable_again_after_stop(pool: WorkerThreadPool) -> None:
    """After stop(), a new call to a name starts a new worker thread for it."""
    pool.call("file-io", lambda: None)
    [first] = pool.threads()
    assert pool.stop(timeout=5)
    pool.call("file-io", lambda: None)
    [second] = pool.threads()
    assert second is not first and second.is_alive()


def test_thread_manager_is_a_singleton_behind_the_module_helpers() -> None:
    """ThreadManager() is one object; run_in_thread/call_in_thread queue on its named workers."""
    assert ThreadManager() is ThreadManager()
    ran_on: list[str] = []
    done = threading.Event()

    @run_in_thread("device-io")
    def record(tag: str) -> None:
        ran_on.append(f"{tag}@{threading.current_thread().name}")

    try:
        assert record("first") is None
        call_in_thread("device-io", done.set)
        assert done.wait(5)
        assert ran_on == ["first@device-io"]
        assert "device-io" in ThreadManager().names
    finally:
        assert ThreadManager().stop(timeout=5)
    assert not any(thread.name == "device-io" for thread in threading.enumerate())
