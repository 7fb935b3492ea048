"""``Registration``: binds a contact to an address-of-record at a registrar and keeps it bound
(RFC 3261 §10).

* Every REGISTER of one Registration has the same Call-ID and the next CSeq (§10.2.4) and the same
  From tag; the Request-URI is the domain of the From URI, To is the From URI.
* Each contact carries ``;expires=`` (and the request an Expires header) with the requested
  expiry. The granted expiry is the ``expires`` of OUR contact in the 2xx's Contact list, else the
  Expires header, else the requested value.
* The registration refreshes itself at ``refresh_delay(granted)`` (90%, at least 10 s before the
  end, never before half: 300 s -> 270 s, 60 s -> 50 s) on ``engine.reactor``.
* 423 Interval Too Brief: sent once more with the registrar's Min-Expires (kept for the refreshes);
  a second failure is reported with ``min_expires``.
* A wrong password is reported once (401/403 in ``SIPRegistrationDidFail``): the digest retry
  policy answers each realm's challenge once per request.
* ``register()`` with another contact while registered sends the new contact and the old one with
  ``expires=0`` in one request. ``register()`` or ``end()`` while a REGISTER is pending waits for
  its final answer (queued; RFC 3261 §10.2), the newest call winning. ``end()`` sends
  ``expires=0`` for our contact; with nothing registered it posts DidEnd at once.

Notifications (sender: the Registration; each has ``timestamp``):

* ``SIPRegistrationDidSucceed``: ``code``, ``reason``, ``contact_header`` (ours),
  ``contact_header_list`` (every Contact of the 2xx), ``expires`` (granted), ``route_header``,
  ``hop`` (the ``Hop`` the answer came through: the candidate of the route actually used);
* ``SIPRegistrationDidFail``: ``code``, ``reason``, ``route_header``, ``hop`` (the last candidate
  tried; None when none was, e.g. the route did not resolve) (+ ``min_expires`` for 423);
  after a failed refresh the binding is kept until it expires and refreshing stops;
* ``SIPRegistrationWillExpire``: ``expires`` (seconds left), 10 s before the expiry after a failed
  refresh;
* ``SIPRegistrationWillEnd`` when ``end()`` is called; ``SIPRegistrationDidEnd``: ``expired``
  (True when the binding ran out, False after an unregistration);
  ``SIPRegistrationDidNotEnd``: ``code``, ``reason``.

The common rules (queue, timers, recovery) are in ``_binding``. All methods run on the reactor thread.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.credentials import BaseCredentials
from sipsimple.core.sip.headers import (
    BaseHeader,
    ExpiresHeader,
    FrozenToHeader,
    frozen,
    mutable,
)
from sipsimple.core.sip.uri import FrozenSIPURI

from ._binding import Operation, Pending, RefreshedBinding
from ._client import EngineAPI, RequestTemplate, Result, extra, granted_expires, match_uri
from .route import RouteResolver

__all__ = ["Registration"]


def _with_expires(contact: Any, expires: int) -> Any:
    copy = mutable(contact)
    copy.expires = expires
    return frozen(copy)


class Registration(RefreshedBinding):
    """``Registration(from_header, credentials=None, duration=300, extra_headers=None,
    engine=None, resolver=None)``; see the module documentation."""

    PREFIX = "SIPRegistration"

    def __init__(
        self,
        from_header: BaseHeader,
        credentials: BaseCredentials | None = None,
        duration: int = 300,
        extra_headers: Iterable[BaseHeader] | None = None,
        engine: EngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        super().__init__(from_header, credentials, duration, extra_headers, engine, resolver)
        #: the contact of the last register() call
        self.contact_header: Any = None
        self._bound: Any = None  # the contact the registrar has (as far as we know)

    @property
    def is_registered(self) -> bool:
        return self._active

    def register(self, contact_header: BaseHeader, route_header: Any, timeout: float | None = None) -> None:
        """Register ``contact_header`` through ``route_header`` (RouteHeader or SIP URI)."""
        self.contact_header = frozen(contact_header)
        self._update(self.contact_header, route_header, timeout)

    def end(self, timeout: float | None = None) -> None:
        """Unregister our contact (expires=0)."""
        self._end(timeout)

    # -- the hooks of RefreshedBinding --------------------------------------------------------

    @property
    def registrar_uri(self) -> FrozenSIPURI:
        """The Request-URI: the domain of the address-of-record (RFC 3261 §10.2)."""
        aor = self.from_header.uri  # type: ignore[attr-defined]
        return FrozenSIPURI(aor.host, port=aor.port, secure=aor.secure)

    def _contact(self, operation: Pending) -> Any:
        return operation.payload if operation.payload is not None else self._bound

    def _template(self, operation: Pending) -> RequestTemplate:
        aor = self.from_header
        headers: list[tuple[str, Any]] = [
            ("From", self._from()),
            ("To", FrozenToHeader(aor.uri, aor.display_name)),  # type: ignore[attr-defined]
            ("Call-ID", self.call_id),
        ]
        if operation.kind is Operation.REMOVE:
            contacts, expires = [_with_expires(self._bound, 0)], 0
        else:
            contact = self._contact(operation)
            contacts, expires = [_with_expires(contact, self.expires)], self.expires
            if self._bound is not None and not match_uri(self._bound.uri, contact.uri):
                contacts.append(_with_expires(self._bound, 0))  # the contact it replaces
        headers.append(("Contact", contacts))
        headers.append(("Expires", ExpiresHeader(expires)))
        headers.extend(extra(self.extra_headers))
        return RequestTemplate("REGISTER", self.registrar_uri, headers)

    def _granted(self, operation: Pending, result: Result) -> int:
        assert result.response is not None
        granted = granted_expires(result.response, self._contact(operation).uri, default=self.expires)
        return self.expires if granted is None else granted

    def _accept(self, operation: Pending, result: Result) -> None:
        self._bound = self._contact(operation)

    def _forget(self) -> None:
        self._bound = None

    def _refresh_payload(self) -> Any:
        return self._bound

    def _success_data(self, operation: Pending, result: Result, granted: int) -> dict[str, Any]:
        assert result.response is not None
        try:
            contacts = list(result.response.get_all("Contact"))
        except SIPParseError:
            contacts = []
        return {
            "code": result.code,
            "reason": result.reason,
            "contact_header": self._contact(operation),
            "contact_header_list": contacts,
            "expires": granted,
            "route_header": operation.route,
            "hop": result.hop,
        }

    def _failure_data(self, operation: Pending, result: Result) -> dict[str, Any]:
        return {**super()._failure_data(operation, result), "hop": result.hop}

    def __repr__(self) -> str:
        state = "registered" if self._active else "not registered"
        return f"<Registration {self.from_header.uri} {state}>"  # type: ignore[attr-defined]
