"""``Message``: an out-of-dialog MESSAGE (RFC 3428), sent once.

The Request-URI is the To URI; the request goes through ``route_header`` (an outbound proxy)
with authentication, failover and the timeout rules of ``_client``. Notifications (sender: the
Message; each has ``timestamp``):

* ``SIPMessageDidSucceed``: ``code``, ``reason``, ``headers``, ``body``;
* ``SIPMessageDidFail``: ``code``, ``reason``, ``headers``, ``body`` (``{}`` and ``b""`` when the
  code was made up locally: 408 for a timeout, 503 for a transport or resolution failure).

All methods run on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip.credentials import BaseCredentials, FrozenCredentials
from sipsimple.core.sip.headers import BaseHeader, ContentTypeHeader, frozen
from sipsimple.core.sip.ids import new_call_id

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
    with_tag,
)
from .route import RouteResolver

__all__ = ["Message"]


class Message:
    """``Message(from_header, to_header, route_header, content_type, body, credentials=None,
    extra_headers=None, engine=None, resolver=None)``; ``send(timeout=None)`` once."""

    def __init__(
        self,
        from_header: BaseHeader,
        to_header: BaseHeader,
        route_header: Any,
        content_type: str | BaseHeader,
        body: bytes | str,
        credentials: BaseCredentials | None = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        engine: EngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        self.from_header = with_tag(from_header)
        self.to_header = frozen(to_header)
        self.route_header = frozen(route_header) if isinstance(route_header, BaseHeader) else route_header
        if isinstance(content_type, str):
            content_type = ContentTypeHeader.parse(content_type)
        self._content_type = frozen(content_type)
        self.body = as_bytes(body)
        self.credentials = None if credentials is None else FrozenCredentials.new(credentials)
        self.extra_headers = [frozen(header) for header in extra_headers or ()]
        self.call_id = new_call_id()
        self.cseq = 0
        self.is_sent = False
        self._engine_given = engine
        self._resolver_given = resolver
        self._client: ClientRequest | None = None

    @property
    def content_type(self) -> str:
        return self._content_type.body

    def send(self, timeout: float | None = None) -> None:
        """Send the MESSAGE; ``timeout`` (seconds) bounds the whole exchange (408 when it passes)."""
        if self.is_sent:
            raise SIPCoreInvalidStateError("a Message can be sent once")
        engine = self._engine = default_engine(self._engine_given)
        check_running(engine)
        self.is_sent = True
        headers: list[tuple[str, Any]] = [
            ("From", self.from_header),
            ("To", self.to_header),
            ("Call-ID", self.call_id),
            *extra(self.extra_headers),
            ("Content-Type", self._content_type),
        ]
        template = RequestTemplate("MESSAGE", self.to_header.uri, headers, self.body)  # type: ignore[attr-defined]
        self._client = ClientRequest(
            engine,
            template,
            self.route_header,
            resolver=default_resolver(engine, self._resolver_given),
            authenticator=Authenticator(self.credentials),
            next_cseq=self._take_cseq,
            on_done=self._done,
            timeout=timeout,
        )
        self._client.start()

    def _take_cseq(self) -> int:
        self.cseq += 1
        return self.cseq

    def _done(self, result: Result) -> None:
        name = "SIPMessageDidSucceed" if result.is_success else "SIPMessageDidFail"
        self._engine.post(
            name,
            sender=self,
            code=result.code,
            reason=result.reason,
            headers=result.headers,
            body=result.body,
        )

    def __repr__(self) -> str:
        return f"<Message to {self.to_header.uri}>"  # type: ignore[attr-defined]
