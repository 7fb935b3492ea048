"""Bounded polling for work done on another thread (media I/O and clock threads): no timer of ours is waited on."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    condition: Callable[[], object],
    what: str = "condition",
    timeout: float = 10.0,
    *,
    pump: Callable[[], object] | None = None,
    interval: float = 0.005,
) -> None:
    """Polls until condition() is true, failing the test after ``timeout`` s.

    ``pump``, when given, runs before every check (e.g. dispatching queued media events)."""
    deadline = time.monotonic() + timeout
    while True:
        if pump is not None:
            pump()
        if condition():
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(interval)


def wait_mixer_seconds(mixer: Any, seconds: float) -> None:
    """Waits until a running mixer's clock has ticked ``seconds`` more (50 ticks a second)."""
    target = mixer.statistics["clock_ticks"] + round(seconds * 50)
    wait_for(lambda: mixer.statistics["clock_ticks"] >= target, "the mixer's clock", seconds + 10.0)
