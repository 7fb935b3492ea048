"""Bounded waits for what happens elsewhere: work on another thread (media I/O and clock threads, an
application's Twisted thread, a peer process) is polled; notifications posted by a reactor the test
itself runs are waited for by turning that reactor. No timer of ours is waited on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sipsimple.notification import Notification
    from tests.support.notifications import NotificationRecorder
    from tests.support.reactor import Loop


def wait_for(
    condition: Callable[[], object],
    what: str | Callable[[], str] = "condition",
    timeout: float = 10.0,
    *,
    pump: Callable[[], object] | None = None,
    interval: float = 0.005,
) -> None:
    """Polls until condition() is true, failing the test after ``timeout`` s.

    ``what`` names what is waited for in the failure; a callable is asked only then (to include,
    say, the log of a peer as it is at that moment). ``pump``, when given, runs before every check
    (e.g. dispatching queued media events)."""
    deadline = time.monotonic() + timeout
    while True:
        if pump is not None:
            pump()
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}"
            )
        time.sleep(interval)


def wait_for_notification(
    loop: Loop,
    recorder: NotificationRecorder,
    name: str,
    /,
    *names: str,
    count: int = 1,
    sender: object = None,
    timeout: float = 10.0,
) -> Notification:
    """The ``count``-th notification called ``name`` or one of ``names`` (posted by ``sender`` when it
    is given), once it is there; ``loop``'s reactor is turned meanwhile, for at most ``timeout`` s."""
    wanted = (name, *names)

    def posted() -> list[Notification]:
        return [n for n in recorder.snapshot() if n.name in wanted and (sender is None or n.sender is sender)]

    loop.run_until(lambda: len(posted()) >= count, timeout, what=" or ".join(wanted))
    return posted()[count - 1]


def wait_mixer_seconds(mixer: Any, seconds: float) -> None:
    """Waits until a running mixer's clock has ticked ``seconds`` more (50 ticks a second)."""
    target = mixer.statistics["clock_ticks"] + round(seconds * 50)
    wait_for(lambda: mixer.statistics["clock_ticks"] >= target, "the mixer's clock", seconds + 10.0)
