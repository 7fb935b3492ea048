"""Delivering media events on the Twisted thread.

Native media threads post events into an :class:`~sipsimple.core.media._events.EventQueue` (C);
its file descriptor becomes readable once per batch. :class:`MediaEventReader` registers that
descriptor with a reactor (as an ``IReadDescriptor``) and, whenever it is readable, drains the
queue and dispatches each event on the reactor thread.

The default dispatch hands ``(type, a, b)`` to the object registered for the event's source
(:meth:`EventQueue.register`), through its ``_handle_media_event`` method; that object turns the
event into a notification. Events whose object is gone are dropped. :func:`dispatch_pending` does
the same synchronously, for code (and tests) that tick the mixer themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from twisted.internet.interfaces import IReadDescriptor
from twisted.python.failure import Failure
from zope.interface import implementer

__all__ = ["MediaEvent", "MediaEventReader", "dispatch_event", "dispatch_pending"]

log = logging.getLogger("sipsimple.core.media")

MediaEvent = tuple[int, int, int, int]  # (type, source, a, b)


class _Queue(Protocol):
    def fileno(self) -> int: ...
    def drain(self, max_events: int = ...) -> list[MediaEvent]: ...
    def target(self, source: int) -> object | None: ...


Dispatch = Callable[[Any, MediaEvent], object]


def dispatch_event(queue: _Queue, event: MediaEvent) -> bool:
    """Hands one event to the object registered for its source; False when there is none."""
    kind, source, a, b = event
    target = queue.target(source)
    handler = getattr(target, "_handle_media_event", None)
    if handler is None:
        return False
    handler(kind, a, b)
    return True


def dispatch_pending(queue: _Queue, dispatch: Dispatch = dispatch_event) -> int:
    """Drains the queue and dispatches every event; returns how many events there were.

    An exception raised by one handler is logged and does not stop the others.
    """
    count = 0
    while True:
        events = queue.drain()
        for event in events:
            try:
                dispatch(queue, event)
            except Exception:
                log.exception("media event %r could not be handled", event)
        count += len(events)
        if not events:
            return count


@implementer(IReadDescriptor)
class MediaEventReader:
    """Watches an event queue from a reactor and dispatches its events on the reactor thread.

    ``start()`` and ``stop()`` must be called on the reactor thread (or before it runs). The
    queue must outlive the reader's registration.
    """

    def __init__(self, queue: _Queue, reactor: Any = None, dispatch: Dispatch = dispatch_event) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.queue = queue
        self.reactor = reactor
        self.dispatch = dispatch
        self.running = False

    def start(self) -> None:
        if not self.running:
            self.reactor.addReader(self)
            self.running = True

    def stop(self) -> None:
        if self.running:
            self.reactor.removeReader(self)
            self.running = False

    # IReadDescriptor

    def fileno(self) -> int:
        return self.queue.fileno()

    def doRead(self) -> None:
        dispatch_pending(self.queue, self.dispatch)

    def connectionLost(self, reason: Failure) -> None:
        self.running = False

    def logPrefix(self) -> str:
        return "MediaEventReader"
