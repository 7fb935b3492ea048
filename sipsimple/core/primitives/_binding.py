"""The life cycle that Registration and Publication share: state granted by a server for a while,
refreshed before it expires, removed by ``end()``.

Operations. One is in flight at a time (RFC 3261 §10.2, RFC 3903 §4: no new request before the
previous one got its final response); later ones wait in a queue in which consecutive operations
of the same kind collapse into the newest::

    UPDATE   register() / publish(): the state the application asked for
    REFRESH  the refresh timer: the same state again (skipped while anything else is pending)
    REMOVE   end(): expires 0 (answered at once, without a request, when nothing is bound)

What each outcome does (``OUTCOMES``; "active" is ``is_registered`` / ``is_published``)::

    (UPDATE or REFRESH, success)  active; timers restarted from the granted expiry; DidSucceed
    (UPDATE or REFRESH, failure)  DidFail; refreshing stops; if still active, WillExpire is posted
                                  EXPIRY_WARNING (10 s) before the expiry
    (REMOVE, success)             inactive; DidEnd(expired=False)
    (REMOVE, failure)             DidNotEnd(code, reason); what is bound is left to expire

Before a failure is reported, a recovery may send the operation once more: 423 with Min-Expires
above the requested expiry -> once with the Min-Expires value (kept for later requests);
Publication adds 412 -> once with the full state and no SIP-If-Match.

Timers (``engine.reactor.callLater``): refresh at ``refresh_delay(granted)`` (90% of it, at least
10 s before the end, never before half); at the expiry: inactive and DidEnd(expired=True) (unless
a REMOVE is pending, whose answer reports the end).

``end()`` posts WillEnd at once; it drops queued updates and silences an update in flight (its
answer still updates what is bound, so the REMOVE that follows removes the right thing). While a
removal is pending, ``end()`` only drops the updates queued after it. Each WillEnd is followed by
exactly one DidEnd or DidNotEnd.
"""

from __future__ import annotations

import enum
import math
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from sipsimple.core.sip.credentials import BaseCredentials, FrozenCredentials
from sipsimple.core.sip.headers import BaseHeader, frozen
from sipsimple.core.sip.ids import new_call_id, new_tag

from ._client import (
    EXPIRY_WARNING,
    Authenticator,
    ClientRequest,
    EngineAPI,
    RequestTemplate,
    Result,
    check_running,
    default_engine,
    default_resolver,
    min_expires_of,
    refresh_delay,
    with_tag,
)
from .route import RouteResolver

__all__ = ["OUTCOMES", "Operation", "RefreshedBinding"]


class Operation(enum.Enum):
    UPDATE = "update"
    REFRESH = "refresh"
    REMOVE = "remove"


#: (operation, succeeded?) -> the notification suffix posted (see the module documentation).
OUTCOMES: Mapping[tuple[Operation, bool], str] = {
    (Operation.UPDATE, True): "DidSucceed",
    (Operation.REFRESH, True): "DidSucceed",
    (Operation.UPDATE, False): "DidFail",
    (Operation.REFRESH, False): "DidFail",
    (Operation.REMOVE, True): "DidEnd",
    (Operation.REMOVE, False): "DidNotEnd",
}


@dataclass
class Pending:
    """One operation: its route, its timeout, what it carries (a contact, a body)."""

    kind: Operation
    route: Any
    timeout: float | None
    payload: Any = None
    recovered: frozenset[int] = field(default_factory=frozenset)  # codes already recovered from
    silent: bool = False


class RefreshedBinding(ABC):
    """The shared machinery; subclasses say how requests look and what a success means."""

    PREFIX: ClassVar[str] = ""

    def __init__(
        self,
        from_header: BaseHeader,
        credentials: BaseCredentials | None,
        duration: int,
        extra_headers: Iterable[BaseHeader] | None,
        engine: EngineAPI | None,
        resolver: RouteResolver | None,
    ) -> None:
        if duration <= 0:
            raise ValueError("duration must be positive")
        self.from_header = frozen(from_header)
        self.credentials = None if credentials is None else FrozenCredentials.new(credentials)
        self.duration = duration
        #: the expiry asked for in requests (the duration, or a registrar's Min-Expires after a 423)
        self.expires = duration
        #: the expiry the last 2xx granted (None before the first one)
        self.expires_received: int | None = None
        self.extra_headers = [frozen(header) for header in extra_headers or ()]
        self.route_header: Any = None
        self._timeout: float | None = None  # of the last register()/publish(), used by refreshes
        self.call_id = new_call_id()
        self.cseq = 0
        self.engine = default_engine(engine)
        self._resolver = default_resolver(self.engine, resolver)
        self._from_tag = new_tag()
        self._auth = Authenticator(self.credentials)
        self._active = False
        self._expiry: float | None = None
        self._inflight: tuple[Pending, ClientRequest] | None = None
        self._queue: list[Pending] = []
        self._timers: dict[str, Any] = {}

    # -- what subclasses provide --------------------------------------------------------------

    @abstractmethod
    def _template(self, operation: Pending) -> RequestTemplate: ...

    @abstractmethod
    def _granted(self, operation: Pending, result: Result) -> int: ...

    def _accept(self, operation: Pending, result: Result) -> None:
        """Keep what a 2xx to an UPDATE/REFRESH established (the bound contact, the entity tag)."""

    def _forget(self) -> None:
        """Nothing is bound any more."""

    def _refresh_payload(self) -> Any:
        """What a REFRESH carries (taken when it starts, so it survives an expiry meanwhile)."""
        return None

    @abstractmethod
    def _success_data(self, operation: Pending, result: Result, granted: int) -> dict[str, Any]: ...

    def _failure_data(self, operation: Pending, result: Result) -> dict[str, Any]:
        data: dict[str, Any] = {"code": result.code, "reason": result.reason, "route_header": operation.route}
        if result.code == 423:
            data["min_expires"] = min_expires_of(result.response)
        return data

    def _recovery(self, operation: Pending, result: Result) -> Pending | None:
        """The operation to send instead of reporting ``result``, or None."""
        if result.code == 423 and 423 not in operation.recovered and operation.kind is not Operation.REMOVE:
            minimum = min_expires_of(result.response)
            if minimum is not None and minimum > self.expires:
                self.expires = minimum
                return replace(operation, recovered=operation.recovered | {423})
        return None

    def _removed(self, operation: Pending, result: Result) -> bool:
        """Whether the answer to a REMOVE means nothing is bound any more."""
        return result.is_success

    # -- used by the public methods -----------------------------------------------------------

    @property
    def _ending(self) -> bool:
        last = self._queue[-1] if self._queue else (self._inflight[0] if self._inflight else None)
        return last is not None and last.kind is Operation.REMOVE

    def _submit(self, operation: Pending) -> None:
        if self._inflight is None and not self._queue:
            self._start(operation)
        elif self._queue and self._queue[-1].kind is operation.kind:
            self._queue[-1] = operation
        else:
            self._queue.append(operation)

    def _update(self, payload: Any, route: Any, timeout: float | None) -> None:
        check_running(self.engine)
        self.route_header = frozen(route) if isinstance(route, BaseHeader) else route
        self._timeout = timeout
        self._submit(Pending(Operation.UPDATE, self.route_header, timeout, payload))

    def _end(self, timeout: float | None) -> None:
        if not self._active and self._inflight is None and not self._queue:
            return
        check_running(self.engine)
        # updates queued after a pending removal are dropped; that removal then does the job
        self._queue = [operation for operation in self._queue if operation.kind is Operation.REMOVE]
        if self._ending:
            return
        self._post("WillEnd")
        self._cancel_timer("refresh")
        self._cancel_timer("will_expire")
        if self._inflight is not None:
            self._inflight[0].silent = True
        self._submit(Pending(Operation.REMOVE, self.route_header, timeout))

    # -- running operations -------------------------------------------------------------------

    def _start(self, operation: Pending) -> None:
        if operation.kind is Operation.REMOVE and not self._active:
            self._post("DidEnd", expired=False)  # nothing is bound: nothing to remove
            self._next()
            return
        client = ClientRequest(
            self.engine,
            self._template(operation),
            operation.route,
            resolver=self._resolver,
            authenticator=self._auth,
            next_cseq=self._take_cseq,
            on_done=lambda result: self._done(operation, result),
            timeout=operation.timeout,
        )
        self._inflight = (operation, client)
        client.start()

    def _take_cseq(self) -> int:
        self.cseq += 1
        return self.cseq

    def _done(self, operation: Pending, result: Result) -> None:
        if self._inflight is None or self._inflight[0] is not operation:
            return
        self._inflight = None
        if operation.kind is Operation.REMOVE:
            self._remove_done(operation, result)
        elif result.is_success:
            self._update_succeeded(operation, result)
        else:
            retry = self._recovery(operation, result)
            if retry is not None:
                self._start(retry)
                return
            self._update_failed(operation, result)
        self._next()

    def _next(self) -> None:
        if self._inflight is None and self._queue:
            self._start(self._queue.pop(0))

    def _update_succeeded(self, operation: Pending, result: Result) -> None:
        granted = self._granted(operation, result)
        if granted <= 0:
            self._update_failed(
                operation, replace(result, reason=f"{result.reason} (nothing was kept: expires 0)")
            )
            return
        self._accept(operation, result)
        self.expires_received = granted
        self._activate(granted)
        if not operation.silent:
            self._post(OUTCOMES[operation.kind, True], **self._success_data(operation, result, granted))

    def _update_failed(self, operation: Pending, result: Result) -> None:
        self._cancel_timer("refresh")
        if operation.silent:
            return
        self._post(OUTCOMES[operation.kind, False], **self._failure_data(operation, result))
        if self._active and self._expiry is not None:
            delay = self._expiry - self.engine.reactor.seconds() - EXPIRY_WARNING
            if delay > 0:
                self._set_timer("will_expire", delay, self._will_expire)
            else:
                self._will_expire()

    def _remove_done(self, operation: Pending, result: Result) -> None:
        if self._removed(operation, result):
            self._deactivate()
            self._post(OUTCOMES[Operation.REMOVE, True], expired=False)
        elif not self._active:
            self._post(OUTCOMES[Operation.REMOVE, True], expired=True)  # it expired meanwhile
        else:
            self._post(OUTCOMES[Operation.REMOVE, False], code=result.code, reason=result.reason)

    # -- timers -------------------------------------------------------------------------------

    def _activate(self, granted: int) -> None:
        for name in list(self._timers):
            self._cancel_timer(name)
        self._active = True
        self._expiry = self.engine.reactor.seconds() + granted
        self._set_timer("refresh", refresh_delay(granted), self._refresh_due)
        self._set_timer("expire", granted, self._expired)

    def _deactivate(self) -> None:
        for name in list(self._timers):
            self._cancel_timer(name)
        self._active = False
        self._expiry = None
        self._forget()

    def _refresh_due(self) -> None:
        self._timers.pop("refresh", None)
        if self._active and self._inflight is None and not self._queue:
            self._start(Pending(Operation.REFRESH, self.route_header, self._timeout, self._refresh_payload()))

    def _will_expire(self) -> None:
        self._timers.pop("will_expire", None)
        if self._active and self._expiry is not None:
            left = max(0, math.ceil(self._expiry - self.engine.reactor.seconds()))
            self._post("WillExpire", expires=left)

    def _expired(self) -> None:
        self._timers.pop("expire", None)
        self._deactivate()
        if not self._ending:
            self._post("DidEnd", expired=True)

    def _set_timer(self, name: str, delay: float, function: Any) -> None:
        self._cancel_timer(name)
        self._timers[name] = self.engine.reactor.callLater(delay, function)

    def _cancel_timer(self, name: str) -> None:
        call = self._timers.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    # -- helpers ------------------------------------------------------------------------------

    def _post(self, suffix: str, **attributes: Any) -> None:
        self.engine.post(self.PREFIX + suffix, sender=self, **attributes)

    def _from(self) -> Any:
        """Our From header: the application's, with this object's tag."""
        return with_tag(self.from_header, self._from_tag)
