"""Green threads on the reactor thread, built on greenlet (no eventlet).

A green thread is a greenlet run by the hub on the reactor thread. It may block — `block_on` a
Deferred, `sleep`, wait on an `Event`, a `Queue` or a `Command` — and only it is suspended; the
reactor goes on serving everything else and resumes it from a callback. See docs/threading.md.

The module-level functions use the hub of the calling green thread, or else the default hub, which
runs on the process-wide `TwistedThread` (`sipsimple.threading.get_twisted_thread()`); `set_hub`
replaces it (tests install a hub built on a fake reactor).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from ._hub import (
    GreenHub,
    GreenThread,
    GreenTimeout,
    NotInGreenThreadError,
    block_on,
    current_hub,
    in_green_thread,
    sleep,
)
from ._sync import Command, Event, InterruptCommand, Queue

__all__ = [
    "Command",
    "Event",
    "GreenHub",
    "GreenThread",
    "GreenTimeout",
    "InterruptCommand",
    "NotInGreenThreadError",
    "Queue",
    "block_on",
    "call_in_green_thread",
    "call_in_waitable_green_thread",
    "current_hub",
    "get_hub",
    "in_green_thread",
    "run_in_green_thread",
    "run_in_waitable_green_thread",
    "set_hub",
    "sleep",
]

P = ParamSpec("P")
T = TypeVar("T")

_hub_lock = threading.Lock()
_installed_hub: GreenHub | None = None
_default_hub: tuple[object, GreenHub] | None = None  # (the TwistedThread it was made for, hub)


def get_hub() -> GreenHub:
    """The hub used outside green threads: the one given to `set_hub`, or one on the Twisted thread."""
    global _default_hub
    from sipsimple.threading import get_twisted_thread

    with _hub_lock:
        if _installed_hub is not None:
            return _installed_hub
        twisted_thread = get_twisted_thread()
        if _default_hub is None or _default_hub[0] is not twisted_thread:
            _default_hub = (twisted_thread, GreenHub.for_twisted_thread(twisted_thread))
        return _default_hub[1]


def set_hub(hub: GreenHub | None) -> None:
    """Use ``hub`` for green threads started outside green threads (None: back to the default)."""
    global _installed_hub
    with _hub_lock:
        _installed_hub = hub


def _hub() -> GreenHub:
    return current_hub() or get_hub()


def call_in_green_thread(func: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
    """Start ``func(*args, **kwargs)`` in a new green thread; returns None before it runs. Any thread."""
    _hub().call_in_green_thread(func, *args, **kwargs)


def call_in_waitable_green_thread(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> GreenThread[T]:
    """Start ``func`` in a new green thread and return a `GreenThread` handle for its outcome."""
    return _hub().call_in_waitable_green_thread(func, *args, **kwargs)


def run_in_green_thread(func: Callable[P, object]) -> Callable[P, None]:
    """Decorator: each call starts the function in a new green thread and returns None at once.

    An exception escaping the function is logged (logger ``sipsimple.threading.green``).
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
        _hub().call_in_green_thread(func, *args, **kwargs)

    return wrapper


def run_in_waitable_green_thread(func: Callable[P, T]) -> Callable[P, GreenThread[T]]:
    """Decorator: each call starts the function in a new green thread and returns its `GreenThread`.

    The outcome is delivered through the handle (``wait()`` / ``as_deferred()``), not logged.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> GreenThread[T]:
        return _hub().call_in_waitable_green_thread(func, *args, **kwargs)

    return wrapper
