"""``Publication``: event state published to an event state compositor (RFC 3903).

* The Request-URI and To are the From URI (the presentity); Event is the publication's event.
  Every PUBLISH of one Publication has the same Call-ID and the next CSeq.
* ``publish(body, ...)`` without an entity tag sends the initial state (body, Expires); with one it
  modifies the state (SIP-If-Match and the body). ``publish(None, ...)`` refreshes (SIP-If-Match,
  no body). The SIP-ETag of each 2xx is kept; the granted expiry is the 2xx's Expires header
  (else the requested one).
* The publication refreshes itself at ``refresh_delay(granted)`` (90%, at least 10 s before the
  end, never before half) with SIP-If-Match and no body.
* 412 Conditional Request Failed (the compositor lost our entity): the full state is published
  again once, without SIP-If-Match. A 412 to ``end()`` means nothing is published: DidEnd.
* 423 Interval Too Brief: sent once more with the Min-Expires value (kept for later requests).
* ``end()`` sends SIP-If-Match with Expires: 0. ``publish()`` or ``end()`` while a PUBLISH is
  pending waits for its final answer (queued, RFC 3903 §4), the newest call winning.

Notifications (sender: the Publication; each has ``timestamp``): ``SIPPublicationDidSucceed``
(``code``, ``reason``, ``route_header``, ``expires``), ``SIPPublicationDidFail`` (``code``,
``reason``, ``route_header``, + ``min_expires`` for 423), ``SIPPublicationWillExpire``
(``expires``: seconds left, 10 s before the expiry after a failed refresh),
``SIPPublicationWillEnd``, ``SIPPublicationDidEnd`` (``expired``), ``SIPPublicationDidNotEnd``
(``code``, ``reason``). The common rules are in ``_binding``. All methods run on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.credentials import BaseCredentials
from sipsimple.core.sip.headers import (
    BaseHeader,
    ContentTypeHeader,
    EventHeader,
    ExpiresHeader,
    FrozenHeader,
    FrozenToHeader,
    frozen,
)

from ._binding import Operation, Pending, RefreshedBinding
from ._client import EngineAPI, RequestTemplate, Result, as_bytes, extra, granted_expires
from .route import RouteResolver

__all__ = ["Publication"]


class Publication(RefreshedBinding):
    """``Publication(from_header, event, content_type, credentials=None, duration=300,
    extra_headers=None, engine=None, resolver=None)``; see the module documentation."""

    PREFIX = "SIPPublication"

    def __init__(
        self,
        from_header: BaseHeader,
        event: str | BaseHeader,
        content_type: str | BaseHeader,
        credentials: BaseCredentials | None = None,
        duration: int = 300,
        extra_headers: Iterable[BaseHeader] | None = None,
        engine: EngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        super().__init__(from_header, credentials, duration, extra_headers, engine, resolver)
        self._event = frozen(EventHeader.parse(event) if isinstance(event, str) else event)
        self._content_type = frozen(
            ContentTypeHeader.parse(content_type) if isinstance(content_type, str) else content_type
        )
        #: the entity tag of the published state (None when nothing is published)
        self.etag: str | None = None
        #: the full state last given to publish()
        self.body: bytes | None = None

    @property
    def event(self) -> str:
        return self._event.body

    @property
    def content_type(self) -> str:
        return self._content_type.body

    @property
    def is_published(self) -> bool:
        return self._active

    def publish(self, body: bytes | str | None, route_header: Any, timeout: float | None = None) -> None:
        """Publish ``body`` (the full state), or refresh with None; see the module documentation."""
        if body is None and self.body is None:
            raise SIPCoreInvalidStateError("the first publish() needs a body")
        payload = None if body is None else as_bytes(body)
        if payload is not None:
            self.body = payload
        self._update(payload, route_header, timeout)

    def end(self, timeout: float | None = None) -> None:
        """Remove the published state (SIP-If-Match, Expires: 0)."""
        self._end(timeout)

    # -- the hooks of RefreshedBinding --------------------------------------------------------

    def _template(self, operation: Pending) -> RequestTemplate:
        uri = self.from_header.uri  # type: ignore[attr-defined]
        headers: list[tuple[str, Any]] = [
            ("From", self._from()),
            ("To", FrozenToHeader(uri, self.from_header.display_name)),  # type: ignore[attr-defined]
            ("Call-ID", self.call_id),
            ("Event", self._event),
            ("Expires", ExpiresHeader(0 if operation.kind is Operation.REMOVE else self.expires)),
        ]
        body = b""
        if operation.kind is Operation.UPDATE and operation.payload is not None:
            body = operation.payload
        elif operation.kind is not Operation.REMOVE and self.etag is None:
            body = self.body or b""  # no entity tag to refresh: publish the full state
        if self.etag is not None:
            headers.append(("SIP-If-Match", FrozenHeader("SIP-If-Match", self.etag)))
        headers.extend(extra(self.extra_headers))
        if body:
            headers.append(("Content-Type", self._content_type))
        return RequestTemplate("PUBLISH", uri, headers, body)

    def _recovery(self, operation: Pending, result: Result) -> Pending | None:
        if result.code == 412 and 412 not in operation.recovered and self.body is not None:
            self.etag = None  # the compositor does not know it: start again from the full state
            return replace(
                operation, kind=Operation.UPDATE, payload=self.body, recovered=operation.recovered | {412}
            )
        return super()._recovery(operation, result)

    def _removed(self, operation: Pending, result: Result) -> bool:
        return result.is_success or result.code == 412

    def _granted(self, operation: Pending, result: Result) -> int:
        assert result.response is not None
        granted = granted_expires(result.response, None, default=self.expires)
        return self.expires if granted is None else granted

    def _accept(self, operation: Pending, result: Result) -> None:
        assert result.response is not None
        try:
            tag = result.response.get("SIP-ETag")
        except SIPParseError:
            tag = None
        self.etag = None if tag is None else tag.body

    def _forget(self) -> None:
        self.etag = None

    def _success_data(self, operation: Pending, result: Result, granted: int) -> dict[str, Any]:
        return {
            "code": result.code,
            "reason": result.reason,
            "route_header": operation.route,
            "expires": granted,
        }

    def __repr__(self) -> str:
        state = "published" if self._active else "not published"
        return f"<Publication {self.event} for {self.from_header.uri} {state}>"  # type: ignore[attr-defined]
