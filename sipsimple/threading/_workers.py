"""Named worker threads: one long-lived thread with a FIFO queue per name.

Work that must not run on the reactor thread (blocking file or device I/O) is sent to a worker by
name. Calls sent to the same name run one at a time in the order they were sent; different names run
in parallel. A worker is created on first use and lives until its pool is stopped.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar, cast

__all__ = ["WorkerThreadPool", "ThreadManager"]

logger = logging.getLogger("sipsimple.threading")

_Call = tuple[Callable[..., object], tuple[Any, ...], dict[str, Any]]
_STOP = object()


class _Worker:
    """One named thread draining its own queue."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.queue: queue.SimpleQueue[_Call | object] = queue.SimpleQueue()
        # Daemon, so that a program that forgets to stop its pool can still exit; `stop` is the
        # orderly way out and drains the queue first.
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is _STOP:
                return
            func, args, kwargs = cast(_Call, item)
            try:
                func(*args, **kwargs)
            except Exception:
                logger.exception("Unhandled exception in worker thread %r calling %r", self.name, func)
            # Drop references before blocking again, so arguments are not kept alive by the worker.
            del item, func, args, kwargs


class WorkerThreadPool:
    """Owns named worker threads; see `call`, `stop`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workers: dict[str, _Worker] = {}

    def call(self, name: str, func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Queue ``func(*args, **kwargs)`` on the worker thread called ``name``, creating it if needed."""
        with self._lock:
            worker = self._workers.get(name)
            if worker is None:
                worker = self._workers[name] = _Worker(name)
                worker.thread.start()
            # Enqueued under the lock, so a concurrent stop() either sees this call before its stop
            # marker or the call goes to a fresh worker.
            worker.queue.put((func, args, kwargs))

    @property
    def names(self) -> list[str]:
        """Names of the workers currently alive in this pool."""
        with self._lock:
            return list(self._workers)

    def threads(self) -> list[threading.Thread]:
        """The worker threads currently owned by this pool."""
        with self._lock:
            return [worker.thread for worker in self._workers.values()]

    def stop(self, timeout: float | None = 5.0) -> bool:
        """Let every worker finish what was queued before this call, then end and join them.

        ``timeout`` bounds the total time spent joining. Returns True if all workers ended. The pool
        can be used again afterwards: a later call starts a new worker. Called from one of this
        pool's workers, that worker is told to stop but not joined.
        """
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
        for worker in workers:
            worker.queue.put(_STOP)
        deadline = None if timeout is None else time.monotonic() + timeout
        all_stopped = True
        for worker in workers:
            if worker.thread is threading.current_thread():
                all_stopped = False
                continue
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            worker.thread.join(remaining)
            if worker.thread.is_alive():
                logger.warning("worker thread %r did not stop within %s seconds", worker.name, timeout)
                all_stopped = False
        return all_stopped


class ThreadManager(WorkerThreadPool):
    """The process-wide worker pool used by `run_in_thread` / `call_in_thread`.

    ``ThreadManager()`` always returns the same object, as in the reference API.
    """

    _instance: ClassVar[ThreadManager | None] = None
    _instance_lock: ClassVar[threading.Lock] = threading.Lock()

    def __new__(cls) -> ThreadManager:
        with cls._instance_lock:
            if cls._instance is None:
                instance = super().__new__(cls)
                WorkerThreadPool.__init__(instance)
                cls._instance = instance
            return cls._instance

    def __init__(self) -> None:  # initialised once, in __new__
        pass
