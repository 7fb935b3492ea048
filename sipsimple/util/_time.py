"""Time helpers: ``ISOTimestamp`` and the back-off ``ExponentialTimer``."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    from sipsimple.notification import NotificationCenter


class DelayedCall(Protocol):
    def active(self) -> bool: ...

    def cancel(self) -> None: ...


class ReactorTime(Protocol):
    """What timers need from a reactor (``twisted.internet.task.Clock`` provides it too)."""

    def callLater(self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any) -> DelayedCall: ...

    def seconds(self) -> float: ...


class ISOTimestamp(_dt.datetime):
    """A timezone-aware ``datetime`` whose string form is ISO 8601 (``2026-11-28T04:22:55.123456+00:00``).

    It accepts another datetime (naive ones are taken as local time) or an ISO 8601 string, so it can be
    stored in configuration and read back unchanged: ``ISOTimestamp(str(t)) == t``.
    """

    def __new__(cls, value: _dt.datetime | str | int | bytes, *args: Any, **kwargs: Any) -> ISOTimestamp:
        if isinstance(value, bytes):  # datetime's internal state form (used by replace() and copy)
            return super().__new__(cls, value, *args)  # type: ignore[arg-type]
        if isinstance(value, int):  # the datetime(year, month, day, ...) form
            value = _dt.datetime(value, *args, **kwargs)
        elif args or kwargs:
            raise TypeError("ISOTimestamp takes a datetime or an ISO 8601 string")
        if isinstance(value, str):
            text = value.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                value = _dt.datetime.fromisoformat(text)
            except ValueError:
                raise ValueError(f"invalid ISO 8601 timestamp {value!r}") from None
        elif not isinstance(value, _dt.datetime):
            raise TypeError(f"ISOTimestamp needs a datetime or a string, not {type(value).__name__}")
        if value.tzinfo is None:
            value = value.astimezone()
        return super().__new__(
            cls,
            value.year,
            value.month,
            value.day,
            value.hour,
            value.minute,
            value.second,
            value.microsecond,
            value.tzinfo,
            fold=value.fold,
        )

    @classmethod
    def now(cls, tz: _dt.tzinfo | None = None) -> ISOTimestamp:
        return cls(_dt.datetime.now(tz or _dt.UTC).astimezone(tz))

    @classmethod
    def utcnow(cls) -> ISOTimestamp:
        return cls(_dt.datetime.now(_dt.UTC))

    def __str__(self) -> str:
        return self.isoformat()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.isoformat()!r})"

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.isoformat(),))


class ExponentialTimer:
    """Posts ``ExponentialTimerDidTimeout`` after intervals that double each time (for retry back-off).

    ``start(base_interval, immediate=False, iterations=None, time_limit=None)``: the first expiry is after
    ``base_interval`` seconds (or at once with ``immediate``), then 2x, 4x, ... ``iterations`` bounds the
    number of expiries, ``time_limit`` caps any single interval. ``stop()`` cancels it. The reactor and
    notification center are injectable so timers can be driven by a fake clock in tests.
    """

    def __init__(
        self, reactor: ReactorTime | None = None, notification_center: NotificationCenter | None = None
    ) -> None:
        self._reactor = reactor
        self._center = notification_center
        self._call: DelayedCall | None = None
        self._interval = 0.0  # the delay after the next expiry
        self._remaining: int | None = None
        self._time_limit: float | None = None

    @property
    def active(self) -> bool:
        return self._call is not None and self._call.active()

    def start(
        self,
        base_interval: float,
        immediate: bool = False,
        iterations: int | None = None,
        time_limit: float | None = None,
    ) -> None:
        if base_interval <= 0:
            raise ValueError(f"base_interval must be positive, not {base_interval!r}")
        self.stop()
        self._remaining = iterations
        self._time_limit = time_limit
        if immediate:
            self._interval = float(base_interval)
            self._schedule(0.0)
        else:
            self._interval = 2.0 * base_interval
            self._schedule(self._capped(float(base_interval)))

    def stop(self) -> None:
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _capped(self, interval: float) -> float:
        return interval if self._time_limit is None else min(interval, self._time_limit)

    def _schedule(self, delay: float) -> None:
        if self._remaining is not None and self._remaining <= 0:
            self._call = None
            return
        if self._reactor is None:
            from twisted.internet import reactor

            self._reactor = cast(ReactorTime, reactor)
        self._call = self._reactor.callLater(delay, self._expired)

    def _expired(self) -> None:
        if self._remaining is not None:
            self._remaining -= 1
        if self._center is None:
            from sipsimple.notification import NotificationCenter

            self._center = NotificationCenter()
        self._schedule(self._capped(self._interval))
        self._interval *= 2
        from sipsimple.notification import NotificationData

        self._center.post_notification(
            "ExponentialTimerDidTimeout", sender=self, data=NotificationData(timestamp=ISOTimestamp.now())
        )
