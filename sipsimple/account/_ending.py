"""``BoundedEnding``: one bounded ending of a core primitive (an unregistration, an unsubscription)
and whoever waits for it.

``start(reactor, bound, end, on_over, what)`` calls ``end(bound)`` and arms a guard at ``bound`` + 1 s
that calls ``on_over`` if the primitive never reports its end; an ``end`` that raises (the engine
stopped under us: nothing can be sent any more) is logged and over at once. ``wait()`` adds a
waiter while an ending is in progress; ``finish()`` disarms the guard and hands back the waiters,
which the owner fires with ``release()`` once it has dropped the primitive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from twisted.internet.defer import Deferred

__all__ = ["BoundedEnding"]

log = logging.getLogger(__name__)


class BoundedEnding:
    def __init__(self) -> None:
        self._waiters: list[Deferred[None]] | None = None
        self._guard: Any = None

    @property
    def in_progress(self) -> bool:
        return self._waiters is not None

    def wait(self) -> Deferred[None]:
        """A Deferred fired when the ending in progress is over."""
        assert self._waiters is not None, "no ending in progress"
        waiter: Deferred[None] = Deferred()
        self._waiters.append(waiter)
        return waiter

    def start(
        self,
        reactor: Any,
        bound: float,
        end: Callable[[float], object],
        on_over: Callable[[], None],
        what: str,
    ) -> Deferred[None]:
        self._waiters = []
        waiter = self.wait()
        self._guard = reactor.callLater(bound + 1.0, on_over)
        try:
            end(bound)
        except Exception as error:
            log.warning("cannot %s: %s", what, error)
            on_over()
        return waiter

    def finish(self) -> list[Deferred[None]]:
        """Disarm the guard and end the ending; returns its waiters for ``release``."""
        if self._guard is not None and self._guard.active():
            self._guard.cancel()
        self._guard = None
        waiters, self._waiters = self._waiters or [], None
        return waiters

    @staticmethod
    def release(waiters: list[Deferred[None]]) -> None:
        for waiter in waiters:
            if not waiter.called:  # a waiter may have been cancelled by a caller's own time limit
                waiter.callback(None)
