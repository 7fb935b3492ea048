"""`StreamBarrier`: wait (bounded) until every stream of a set posted a life cycle notification.

The Session calls a stream method (initialize, start) and continues only once each stream
answered with the expected notification, or one posted MediaStreamDidFail, or the bound passed.
The barrier observes before the method is called, so a stream that posts synchronously is seen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sipsimple.notification import Notification, NotificationCenter

__all__ = ["StreamBarrier", "StreamFailure"]


class StreamFailure:
    """Why a barrier did not pass: the stream and a reason a person can act on."""

    def __init__(self, stream: Any, reason: str) -> None:
        self.stream = stream
        self.reason = reason

    def __repr__(self) -> str:
        return f"StreamFailure({self.stream!r}, {self.reason!r})"


class StreamBarrier:
    """``StreamBarrier(reactor, streams, 'MediaStreamDidStart', timeout, on_done).run(action)``
    calls ``action(stream)`` for each stream, then ``on_done(None)`` once all posted the wanted
    notification, or ``on_done(StreamFailure)`` at the first failure or at the timeout."""

    def __init__(
        self,
        reactor: Any,
        streams: Iterable[Any],
        wanted: str,
        timeout: float,
        on_done: Callable[[StreamFailure | None], None],
    ) -> None:
        self.reactor = reactor
        self.streams = list(streams)
        self.wanted = wanted
        self.timeout = timeout
        self.on_done = on_done
        self._pending = list(self.streams)
        self._timer: Any = None
        self._finished = False

    def run(self, action: Callable[[Any], None]) -> None:
        center = NotificationCenter()
        for stream in self.streams:
            center.add_observer(self, name=self.wanted, sender=stream)
            center.add_observer(self, name="MediaStreamDidFail", sender=stream)
        self._timer = self.reactor.callLater(self.timeout, self._expired)
        for stream in self.streams:
            if self._finished:
                return
            try:
                action(stream)
            except Exception as error:
                self._finish(StreamFailure(stream, f"{type(error).__name__}: {error}"))
                return
        if not self._pending:
            self._finish(None)

    def cancel(self) -> None:
        """Stop waiting; ``on_done`` is not called."""
        self._finished = True
        self._cleanup()

    def handle_notification(self, notification: Notification) -> None:
        if self._finished:
            return
        stream = notification.sender
        if notification.name == "MediaStreamDidFail":
            reason = getattr(notification.data, "reason", None) or "the stream failed"
            self._finish(StreamFailure(stream, str(reason)))
            return
        if stream in self._pending:
            self._pending.remove(stream)
        if not self._pending:
            self._finish(None)

    def _expired(self) -> None:
        self._timer = None
        if not self._finished:
            stream = self._pending[0] if self._pending else None
            self._finish(StreamFailure(stream, f"no {self.wanted} within {self.timeout:g} s"))

    def _cleanup(self) -> None:
        center = NotificationCenter()
        for stream in self.streams:
            center.discard_observer(self, name=self.wanted, sender=stream)
            center.discard_observer(self, name="MediaStreamDidFail", sender=stream)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _finish(self, failure: StreamFailure | None) -> None:
        if self._finished:
            return
        self._finished = True
        self._cleanup()
        self.on_done(failure)
