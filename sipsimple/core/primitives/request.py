"""``Request``: any out-of-dialog request, sent once, with authentication, failover and expiry.

States (``state``)::

    INIT --send()--> IN_PROGRESS --2xx with expires > 0--> EXPIRING --expiry or end()--> TERMINATED
                          |--other final answer, 2xx without expires, or end()-------> TERMINATED

Notifications (sender: the Request; each has ``timestamp``):

* ``SIPRequestDidSucceed``: ``code``, ``reason``, ``headers``, ``body``, ``expires`` — ``expires``
  is what the 2xx granted (the ``expires`` of the Contact matching ``contact_header``, else the
  Expires header) or 0;
* ``SIPRequestDidFail``: ``code``, ``reason``, plus ``headers`` and ``body`` when a response came
  (408 for a timeout and 503 for a transport or resolution failure are made up locally and have
  neither);
* ``SIPRequestWillExpire``: ``expires`` (seconds left), posted at the refresh point of the granted
  expiry (``refresh_delay``: 90%, at least 10 s before the end, never before half);
* ``SIPRequestDidEnd``: the last notification of every Request that was sent.

``end()`` before ``send()`` only makes the Request unusable; during IN_PROGRESS it stops waiting
for the answer (no DidFail is posted; a non-INVITE transaction cannot be cancelled) and posts
DidEnd. All methods run on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip.credentials import BaseCredentials, FrozenCredentials
from sipsimple.core.sip.headers import BaseHeader, ContentTypeHeader, frozen
from sipsimple.core.sip.ids import new_call_id
from sipsimple.core.sip.uri import BaseSIPURI, FrozenSIPURI

from ._client import (
    Authenticator,
    ClientRequest,
    EngineAPI,
    RequestTemplate,
    Result,
    as_bytes,
    check_running,
    default_engine,
    default_resolver,
    extra,
    granted_expires,
    refresh_delay,
    with_tag,
)
from .route import RouteResolver

__all__ = ["Request"]


class Request:
    """``Request(method, uri, from_header, to_header, route_header, credentials=None,
    contact_header=None, call_id=None, cseq=None, extra_headers=None, content_type=None,
    body=None, engine=None, resolver=None)``; see the module documentation."""

    def __init__(
        self,
        method: str,
        uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        route_header: Any,
        credentials: BaseCredentials | None = None,
        contact_header: BaseHeader | None = None,
        call_id: str | None = None,
        cseq: int | None = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        content_type: str | BaseHeader | None = None,
        body: bytes | str | None = None,
        engine: EngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        self.method = method
        self.uri = FrozenSIPURI.new(uri) if isinstance(uri, BaseSIPURI) else uri
        self.request_uri = self.uri
        self.from_header = with_tag(from_header)
        self.to_header = frozen(to_header)
        self.route_header = frozen(route_header) if isinstance(route_header, BaseHeader) else route_header
        self.credentials = None if credentials is None else FrozenCredentials.new(credentials)
        self.contact_header = None if contact_header is None else frozen(contact_header)
        self.call_id = call_id or new_call_id()
        self.cseq = 1 if cseq is None else cseq
        self.extra_headers = [frozen(header) for header in extra_headers or ()]
        if isinstance(content_type, str):
            content_type = ContentTypeHeader.parse(content_type)
        self._content_type = None if content_type is None else frozen(content_type)
        self.body = None if body is None else as_bytes(body)
        if self.body and self._content_type is None:
            raise ValueError("a Request with a body needs a content_type")
        self.state = "INIT"
        self._engine_given = engine
        self._resolver_given = resolver
        self._client: ClientRequest | None = None
        self._next_cseq = self.cseq
        self._expiry: float | None = None
        self._timers: list[Any] = []

    @property
    def content_type(self) -> str | None:
        return None if self._content_type is None else self._content_type.body

    @property
    def expires_in(self) -> int:
        """Seconds until the granted expiry (EXPIRING), else 0."""
        if self.state != "EXPIRING" or self._expiry is None:
            return 0
        return max(0, round(self._expiry - self._engine.reactor.seconds()))

    def send(self, timeout: float | None = None) -> None:
        """Send the request; ``timeout`` (seconds) bounds the whole exchange (408 when it passes)."""
        if self.state != "INIT":
            raise SIPCoreInvalidStateError(f"a Request can be sent once (it is {self.state})")
        self._engine = default_engine(self._engine_given)
        check_running(self._engine)
        headers: list[tuple[str, Any]] = [
            ("From", self.from_header),
            ("To", self.to_header),
            ("Call-ID", self.call_id),
        ]
        if self.contact_header is not None:
            headers.append(("Contact", self.contact_header))
        headers.extend(extra(self.extra_headers))
        if self._content_type is not None and self.body is not None:
            headers.append(("Content-Type", self._content_type))
        template = RequestTemplate(self.method, self.uri, headers, self.body or b"")
        self.state = "IN_PROGRESS"
        self._client = ClientRequest(
            self._engine,
            template,
            self.route_header,
            resolver=default_resolver(self._engine, self._resolver_given),
            authenticator=Authenticator(self.credentials),
            next_cseq=self._take_cseq,
            on_done=self._done,
            timeout=timeout,
        )
        self._client.start()

    def end(self) -> None:
        """Stop: see the module documentation."""
        if self.state == "INIT":
            self.state = "TERMINATED"
        elif self.state in ("IN_PROGRESS", "EXPIRING"):
            if self._client is not None:
                self._client.cancel()
            self._terminate()

    # -- internals ----------------------------------------------------------------------------

    def _take_cseq(self) -> int:
        self.cseq = self._next_cseq
        self._next_cseq += 1
        return self.cseq

    def _done(self, result: Result) -> None:
        if result.is_success:
            assert result.response is not None
            contact_uri = None if self.contact_header is None else self.contact_header.uri  # type: ignore[attr-defined]
            expires = granted_expires(result.response, contact_uri, default=0) or 0
            self._engine.post(
                "SIPRequestDidSucceed",
                sender=self,
                code=result.code,
                reason=result.reason,
                headers=result.headers,
                body=result.body,
                expires=expires,
            )
            if expires > 0 and self.state == "IN_PROGRESS":
                self._start_expiring(expires)
                return
        else:
            attributes: dict[str, Any] = {"code": result.code, "reason": result.reason}
            if result.response is not None:
                attributes.update(headers=result.headers, body=result.body)
            self._engine.post("SIPRequestDidFail", sender=self, **attributes)
        if self.state == "IN_PROGRESS":
            self._terminate()

    def _start_expiring(self, expires: int) -> None:
        self.state = "EXPIRING"
        reactor = self._engine.reactor
        self._expiry = reactor.seconds() + expires
        self._timers = [
            reactor.callLater(refresh_delay(expires), self._will_expire),
            reactor.callLater(expires, self._terminate),
        ]

    def _will_expire(self) -> None:
        if self.state == "EXPIRING":
            self._engine.post("SIPRequestWillExpire", sender=self, expires=self.expires_in)

    def _terminate(self) -> None:
        for call in self._timers:
            if call.active():
                call.cancel()
        self._timers = []
        self.state = "TERMINATED"
        self._engine.post("SIPRequestDidEnd", sender=self)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.uri} {self.state}>"
