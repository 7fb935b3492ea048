"""Green synchronisation: `Event`, `Queue`, and the `Command` messages of green-thread workers.

These objects belong to the reactor thread: create, send, put and wait on them there only. Waiting
blocks the calling green thread, never the reactor.
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from ._hub import _require_green_thread, _Waiter

__all__ = ["Command", "Event", "InterruptCommand", "Queue"]

T = TypeVar("T")


class Event(Generic[T]):
    """A one-shot value or exception that any number of green threads can wait for.

    `send` (or `send_exception`) fires it once and wakes every waiter, in the order they started
    waiting; later waits return at once. `reset` makes it wait-able again.
    """

    def __init__(self) -> None:
        self._sent = False
        self._value: Any = None
        self._error: BaseException | None = None
        self._waiters: list[_Waiter[T]] = []

    def ready(self) -> bool:
        """True once sent (and not reset since)."""
        return self._sent

    def send(self, value: T | None = None) -> None:
        """Fire the event with ``value``; RuntimeError if it was already sent and not reset."""
        self._fire(value, None)

    def send_exception(self, exception: BaseException | type[BaseException]) -> None:
        """Fire the event so that every waiter raises ``exception`` (an instance or a class)."""
        if isinstance(exception, type):
            exception = exception()
        self._fire(None, exception)

    def _fire(self, value: Any, error: BaseException | None) -> None:
        if self._sent:
            raise RuntimeError("this Event has already been sent; reset() it before sending again")
        self._sent, self._value, self._error = True, value, error
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if error is None:
                waiter.resolve(value)
            else:
                waiter.fail(error)

    def wait(self, timeout: float | None = None) -> T:
        """Return the sent value (or raise the sent exception), blocking the green thread until then.

        `GreenTimeout` after ``timeout`` seconds. Outside a green thread this only works if the event
        is already sent (`NotInGreenThreadError` otherwise).
        """
        if not self._sent:
            waiter: _Waiter[T] = _Waiter(_require_green_thread("Event.wait()"))
            self._waiters.append(waiter)
            try:
                return waiter.wait(timeout)
            finally:
                self._discard(waiter)  # still listed only if the wait timed out or was interrupted
        if self._error is not None:
            raise self._error
        return self._value

    def _discard(self, waiter: _Waiter[T]) -> None:
        try:
            self._waiters.remove(waiter)
        except ValueError:
            pass

    def reset(self) -> None:
        """Forget the sent value so that the event can be sent again; waiting threads keep waiting."""
        self._sent, self._value, self._error = False, None, None

    def __repr__(self) -> str:
        state = "sent" if self._sent else f"{len(self._waiters)} waiting"
        return f"<{type(self).__name__} {state}>"


class Queue(Generic[T]):
    """An unbounded FIFO queue between green threads; `get` blocks the green thread while empty.

    Items go to waiting getters in the order those started waiting.
    """

    def __init__(self) -> None:
        self._items: deque[T] = deque()
        self._getters: deque[_Waiter[T]] = deque()

    def put(self, item: T) -> None:
        """Add ``item``, handing it straight to the longest-waiting getter if there is one."""
        while self._getters:
            if self._getters.popleft().resolve(item):
                return
        self._items.append(item)

    def _put_back(self, item: T) -> None:
        while self._getters:
            if self._getters.popleft().resolve(item):
                return
        self._items.appendleft(item)

    def get(self, timeout: float | None = None) -> T:
        """Remove and return the oldest item, waiting (in a green thread) while the queue is empty.

        `GreenTimeout` after ``timeout`` seconds; no item is lost to a timed-out getter.
        """
        if self._items:
            return self._items.popleft()
        waiter: _Waiter[T] = _Waiter(_require_green_thread("Queue.get()"))
        self._getters.append(waiter)
        try:
            return waiter.wait(timeout)
        except BaseException:
            if waiter.done and waiter.error is None:
                # An item was handed over but this thread is leaving by another exception.
                self._put_back(waiter.value)
            raise
        finally:
            if waiter in self._getters:
                self._getters.remove(waiter)

    wait = get

    def qsize(self) -> int:
        """Number of items waiting to be got."""
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} items={len(self._items)} getters={len(self._getters)}>"


class InterruptCommand(Exception):
    """Raised inside a green-thread worker to abandon the command it is processing."""


class Command:
    """A message for a green-thread worker's command queue, with an `Event` for the reply.

    The keyword arguments become attributes. The worker answers with `signal` or `signal_error`;
    the sender gets the answer with `wait`.
    """

    def __init__(
        self, name: str, event: Event[Any] | None = None, timestamp: datetime | None = None, **kwargs: Any
    ) -> None:
        for key in kwargs:
            if hasattr(Command, key):
                raise TypeError(f"Command attribute {key!r} would hide a Command method")
        self.name = name
        self.event: Event[Any] = event if event is not None else Event()
        self.timestamp = timestamp if timestamp is not None else datetime.now(UTC)
        self.__dict__.update(kwargs)

    def __getattr__(self, name: str) -> Any:  # only reached for missing attributes; keeps mypy open
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def signal(self, result: Any = None) -> None:
        """Report success to the sender: `wait` returns ``result``."""
        self.event.send(result)

    def signal_error(self, exception: BaseException | type[BaseException]) -> None:
        """Report failure to the sender: `wait` raises ``exception``."""
        self.event.send_exception(exception)

    def wait(self, timeout: float | None = None) -> Any:
        """Block the calling green thread until the command is signalled; return or raise the outcome."""
        return self.event.wait(timeout)

    def __repr__(self) -> str:
        extra = {
            key: value for key, value in self.__dict__.items() if key not in ("name", "event", "timestamp")
        }
        details = "".join(f", {key}={value!r}" for key, value in extra.items())
        return f"{type(self).__name__}({self.name!r}{details})"
