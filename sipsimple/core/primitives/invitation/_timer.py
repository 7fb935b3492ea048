"""Session timers (RFC 4028) for an Invitation: the negotiation rules as pure functions, and
``SessionTimer``, which keeps the negotiated interval and runs the refresh and expiry timers.

Rules (section numbers of RFC 4028):

* every INVITE, re-INVITE and UPDATE we send says ``Supported: timer`` and carries
  ``Session-Expires`` (our interval, ``refresher`` when we have a preference or once it is
  negotiated) and ``Min-SE`` (§7.1, §7.4);
* a UAS answers 422 with its ``Min-SE`` when the request's interval is below its minimum (§9);
  the UAC then retries once with the larger minimum (new CSeq, same Call-ID, §7.1);
* the UAS chooses the refresher (§9, table 2): ``uas`` when the UAC does not support timers,
  the request's ``refresher`` when it has one, else its own preference (``uac`` by default);
  it may lower the interval, never below the request's ``Min-SE`` nor above its
  ``Session-Expires``; with ``Supported: timer`` from the UAC the 2xx says ``Require: timer``;
* a request without ``Session-Expires`` gets timers only if the UAS asked to refresh itself
  (``refresher='uas'``); a 2xx without ``Session-Expires`` means no session expiration (§7.2);
* the refresher refreshes at half the interval (§10); the other side sends a BYE when no refresh
  came within ``interval - min(32, interval / 3)`` (§10); every successful refresh (any 2xx to a
  re-INVITE or UPDATE with the header) renegotiates and restarts both;
* a refresh answered 408 or 481 (or timing out) ends the session (§10).

No clock and no I/O here: ``SessionTimer`` sets named one-shot timers on the ``Timers`` it is
given (the Invitation's, on ``engine.reactor``) and calls back the Invitation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ._extensions import SessionExpires, min_se_of, options, session_expires_of

__all__ = [
    "MIN_SE_FLOOR",
    "Negotiated",
    "SessionTimer",
    "SessionTimerSettings",
    "expiry_delay",
    "refresh_delay",
    "uac_outcome",
    "uas_negotiate",
    "uas_too_brief",
]

#: The smallest Session-Expires/Min-SE a UA may use (RFC 4028 §4, §5).
MIN_SE_FLOOR = 90


@dataclass(frozen=True)
class SessionTimerSettings:
    """What one side wants: ``session_expires`` and ``min_se`` in seconds, the ``refresher`` it
    asks for (``'uac'``, ``'uas'`` or None to leave the choice), and ``enabled``."""

    session_expires: int = 1800
    min_se: int = MIN_SE_FLOOR
    refresher: str | None = None
    enabled: bool = True

    def __post_init__(self) -> None:
        if self.refresher not in (None, "uac", "uas"):
            raise ValueError(f"refresher must be 'uac', 'uas' or None, not {self.refresher!r}")
        if self.min_se < MIN_SE_FLOOR:
            raise ValueError(f"min_se must be at least {MIN_SE_FLOOR} s (RFC 4028 §4)")
        if self.session_expires < self.min_se:
            raise ValueError("session_expires must not be below min_se")

    @classmethod
    def of(cls, value: SessionTimerSettings | Mapping[str, Any] | bool | None) -> SessionTimerSettings:
        """Settings from what a caller passed as ``session_timer``: None (the defaults), False
        (disabled), a mapping of the field names, or an instance."""
        if value is None or value is True:
            return cls()
        if value is False:
            return cls(enabled=False)
        if isinstance(value, SessionTimerSettings):
            return value
        return cls(**dict(value))


@dataclass(frozen=True)
class Negotiated:
    """The outcome of one negotiation: the interval and which side of that transaction
    refreshes (``'uac'`` or ``'uas'``)."""

    interval: int
    refresher: str


def refresh_delay(interval: float) -> float:
    """When the refresher sends its refresh: half the interval (RFC 4028 §10)."""
    return interval / 2


def expiry_delay(interval: float) -> float:
    """When the other side gives up on the session: ``interval - min(32, interval / 3)`` (§10)."""
    return interval - min(32.0, interval / 3)


def uas_too_brief(request: Any, settings: SessionTimerSettings) -> int | None:
    """The Min-SE to send in a 422 when ``request``'s Session-Expires is below what we accept
    (§9); None when the request is acceptable (or has no Session-Expires)."""
    se = session_expires_of(request)
    if not settings.enabled or se is None:
        return None
    floor = max(settings.min_se, min_se_of(request) or 0)
    return floor if se.interval < floor else None


def uas_negotiate(request: Any, settings: SessionTimerSettings) -> Negotiated | None:
    """The UAS's choice for the 2xx to ``request`` (§9); None: no session timer."""
    if not settings.enabled:
        return None
    peer_supports = "timer" in options(request, "Supported") | options(request, "Require")
    se = session_expires_of(request)
    floor = max(settings.min_se, min_se_of(request) or 0)
    if se is None:
        if settings.refresher != "uas":
            return None
        return Negotiated(max(settings.session_expires, floor), "uas")
    interval = min(se.interval, max(settings.session_expires, floor))
    if not peer_supports:
        refresher = "uas"
    elif se.refresher is not None:
        refresher = se.refresher
    else:
        refresher = settings.refresher or "uac"
    return Negotiated(interval, refresher)


def uac_outcome(response: Any) -> Negotiated | None:
    """What the 2xx to our request decided (§7.2): None when it has no Session-Expires."""
    se = session_expires_of(response)
    if se is None:
        return None
    return Negotiated(se.interval, se.refresher or "uac")


class SessionTimer:
    """The session timer of one Invitation (see the module documentation).

    ``on_refresh()`` is called when we must refresh, ``on_expired()`` when the peer did not
    refresh in time. Timer names on ``timers``: 'session-refresh' and 'session-expiry'."""

    def __init__(
        self,
        timers: Any,
        settings: SessionTimerSettings,
        on_refresh: Callable[[], None],
        on_expired: Callable[[], None],
    ) -> None:
        self._timers = timers
        self.settings = settings
        self._on_refresh = on_refresh
        self._on_expired = on_expired
        self.interval: int | None = None  # None: no session timer running
        self.we_refresh = False
        self.retried_422 = False
        self.peer_allows_update = False

    @property
    def running(self) -> bool:
        return self.interval is not None

    @property
    def refresher(self) -> str | None:
        """'local' or 'remote' while running, else None."""
        if self.interval is None:
            return None
        return "local" if self.we_refresh else "remote"

    # -- headers ---------------------------------------------------------------------------------

    def request_headers(self) -> list[tuple[str, str]]:
        """Session-Expires and Min-SE for a request we send (INVITE, re-INVITE, UPDATE)."""
        s = self.settings
        if not s.enabled:
            return []
        if self.interval is not None:  # a refresh keeps the refresher (§7.4): 'uac' = us
            se = SessionExpires(self.interval, "uac" if self.we_refresh else "uas")
        else:
            se = SessionExpires(s.session_expires, s.refresher)
        return [("Session-Expires", str(se)), ("Min-SE", str(s.min_se))]

    def response_headers(self, request: Any, negotiated: Negotiated | None) -> list[tuple[str, str]]:
        """The headers of our 2xx to ``request`` for the outcome ``negotiated``."""
        if negotiated is None:
            return []
        headers = [("Session-Expires", str(SessionExpires(negotiated.interval, negotiated.refresher)))]
        if "timer" in options(request, "Supported") | options(request, "Require"):
            headers.append(("Require", "timer"))
        return headers

    def take_422(self, response: Any) -> bool:
        """A 422 to our INVITE: raise our interval to its Min-SE and say whether to retry (once)."""
        floor = min_se_of(response)
        if not self.settings.enabled or self.retried_422 or floor is None:
            return False
        self.retried_422 = True
        s = self.settings
        self.settings = replace(s, min_se=max(s.min_se, floor), session_expires=max(s.session_expires, floor))
        return True

    # -- running ---------------------------------------------------------------------------------

    def start(self, negotiated: Negotiated | None, we_are_uac: bool) -> None:
        """(Re)start after a successful negotiation where we were the UAC (or the UAS)."""
        self.stop()
        if negotiated is None or not self.settings.enabled:
            return
        self.interval = negotiated.interval
        self.we_refresh = (negotiated.refresher == "uac") == we_are_uac
        if self.we_refresh:
            self._timers.set("session-refresh", refresh_delay(self.interval), self._on_refresh)
        else:
            self._timers.set("session-expiry", expiry_delay(self.interval), self._on_expired)

    def retry_later(self, delay: float) -> None:
        """The refresh could not go now (another exchange is in progress): try again later."""
        if self.interval is not None and self.we_refresh:
            self._timers.set("session-refresh", delay, self._on_refresh)

    def stop(self) -> None:
        self.interval = None
        self._timers.cancel("session-refresh")
        self._timers.cancel("session-expiry")

    def close(self) -> None:
        """Stop for good (the Invitation ended): the callbacks, bound methods of the Invitation that
        owns this timer, are let go, so the two are freed without the cyclic garbage collector."""
        self.stop()
        self._on_refresh = self._on_expired = _ended


def _ended() -> None:
    """The callback of a closed SessionTimer: it is never called (its timers were cancelled)."""
