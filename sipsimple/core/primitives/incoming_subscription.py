"""``IncomingSubscription``: the notifier side of an RFC 6665 subscription (``IncomingReferral``
shares it), and ``install_incoming_handlers`` which lets the Engine create them.

Rules of the notifier machine (``TRANSITIONS``)::

    NULL --accept_pending()--> PENDING --accept()--> ACTIVE
    NULL --accept()--> ACTIVE
    NULL --reject(code)--> TERMINATED                      (also: no answer within 64*T1 -> 408)
    PENDING / ACTIVE --end(), expiry, unsubscribe, failed NOTIFY--> TERMINATED
    push_content() keeps PENDING (the content waits for accept()) and ACTIVE (a NOTIFY is sent).

Answering the SUBSCRIBE with a 2xx (with the granted Expires: the requested one, 3600 if absent,
at most ``MAX_EXPIRES``) confirms the dialog (``Dialog.from_uas``) and is followed at once by a
NOTIFY with the current state (RFC 6665 §4.2.1.2). One NOTIFY is in flight at a time; changes
made meanwhile are sent, as one NOTIFY with the newest state, when it is answered. In the dialog:

* a refreshing SUBSCRIBE is answered 200 with the new expiry, restarts the expiry timer, posts
  GotRefreshingSubscribe and is followed by a NOTIFY with the current state;
* an unsubscribe (Expires: 0) is answered 200, posts GotUnsubscribe and is followed by the final
  NOTIFY (``terminated;reason=timeout``);
* other requests get 405, requests after the end 481.

The final NOTIFY says ``terminated;reason=timeout`` at the expiry and after an unsubscribe, and
``terminated`` with the reason given to ``end(reason)`` otherwise; it carries the content when the
subscription was active. A NOTIFY answered with an error without Retry-After, or not answered,
removes the subscription (RFC 6665 §4.2.2). DidEnd comes after the final NOTIFY's outcome, with
``originator`` "local" (reject, end) or "remote" (unsubscribe, expiry, a failed NOTIFY).

Notifications (sender: the IncomingSubscription; each has ``timestamp``):
``SIPIncomingSubscriptionGotSubscribe`` (``request_uri``, ``from_header``, ``to_header``,
``headers``, ``body``, ``content_type``, ``event``), ``SIPIncomingSubscriptionChangedState``
(``prev_state``, ``state``), ``SIPIncomingSubscriptionGotRefreshingSubscribe`` (``expires``,
``headers``), ``SIPIncomingSubscriptionGotUnsubscribe`` (``headers``),
``SIPIncomingSubscriptionNotifyDidSucceed`` / ``NotifyDidFail`` (``code``, ``reason``),
``SIPIncomingSubscriptionDidEnd`` (``originator``). All methods run on the reactor thread.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import Dialog, ProtocolError
from sipsimple.core.sip.headers import (
    ContentTypeHeader,
    ExpiresHeader,
    SubscriptionStateHeader,
    frozen,
)
from sipsimple.core.sip.ids import new_tag
from sipsimple.core.sip.message import SIPRequest, make_response
from sipsimple.core.sip.uri import BaseSIPURI

from ._client import Authenticator, as_bytes, check_running, default_resolver, headers_of
from ._dialog_client import DialogEngineAPI, DialogRequest, DialogResult, Timers, local_contact_for, timer_t1
from .route import RouteResolver

__all__ = [
    "DEFAULT_EXPIRES",
    "MAX_EXPIRES",
    "TRANSITIONS",
    "IncomingSubscription",
    "NotifierEvent",
    "NotifierState",
    "install_incoming_handlers",
]

#: The expiry granted to a SUBSCRIBE without Expires, and the most ever granted (seconds).
DEFAULT_EXPIRES = 3600
MAX_EXPIRES = 3600


class NotifierState(enum.Enum):
    NULL = "NULL"
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    TERMINATED = "TERMINATED"


class NotifierEvent(enum.Enum):
    ACCEPT_PENDING = "accept the subscription as pending"
    ACCEPT = "accept the subscription"
    PUSH = "push content"
    REJECT = "reject the subscription"
    TERMINATE = "terminate the subscription"


N, A = NotifierState, NotifierEvent

#: (state, event) -> new state; a missing pair is a local misuse (SIPCoreInvalidStateError).
TRANSITIONS: Mapping[tuple[NotifierState, NotifierEvent], NotifierState] = {
    (N.NULL, A.ACCEPT_PENDING): N.PENDING,
    (N.NULL, A.ACCEPT): N.ACTIVE,
    (N.PENDING, A.ACCEPT): N.ACTIVE,
    (N.PENDING, A.PUSH): N.PENDING,
    (N.ACTIVE, A.PUSH): N.ACTIVE,
    (N.NULL, A.REJECT): N.TERMINATED,
    (N.NULL, A.TERMINATE): N.TERMINATED,
    (N.PENDING, A.TERMINATE): N.TERMINATED,
    (N.ACTIVE, A.TERMINATE): N.TERMINATED,
}


def requested_expires(request: SIPRequest) -> int:
    """The expiry a SUBSCRIBE asks for, as granted: DEFAULT_EXPIRES without Expires, at most
    MAX_EXPIRES. SIPParseError if the header is malformed."""
    header = request.get("Expires")
    return DEFAULT_EXPIRES if header is None else min(int(header), MAX_EXPIRES)


class _Notifier(ABC):
    """What IncomingSubscription and IncomingReferral share: the dialog from the request, the
    answer, the NOTIFY queue, in-dialog SUBSCRIBEs, the expiry and the end."""

    PREFIX: ClassVar[str] = ""
    STATE_NAMES: ClassVar[Mapping[NotifierState, str]] = {state: state.value for state in NotifierState}

    def __init__(
        self, engine: DialogEngineAPI, transaction: Any, *, resolver: RouteResolver | None = None
    ) -> None:
        request: SIPRequest = transaction.request
        self.engine = engine
        self._transaction = transaction
        self._request = request
        self.request_uri = request.uri
        self.from_header = request.from_header
        self.to_header = request.to_header
        self.call_id = request.call_id
        self._resolver = default_resolver(engine, resolver)
        self._auth = Authenticator(None)
        local = transaction.local
        uri = request.uri
        secure = isinstance(uri, BaseSIPURI) and uri.secure and local.transport == "tls"
        user = uri.user if isinstance(uri, BaseSIPURI) else None
        self._dialog = Dialog.from_uas(
            request,
            new_tag(),
            local_contact=local_contact_for(local, user, secure=secure),
            secure_transport=transaction.source.transport == "tls",
        )
        self._state = N.NULL
        self._timers = Timers(engine.reactor)
        self._registered = False
        self._notifying: DialogRequest | None = None
        self._notify_queued = False
        self._final: tuple[str | None, str] | None = None  # (reason, originator) of the final NOTIFY
        self._final_sent = False
        self._was_active = False
        self.expires = 0
        limit = 64 * timer_t1(engine)
        self._timers.set("answer", limit, self._not_answered)

    @property
    def state(self) -> str:
        return self.STATE_NAMES[self._state]

    @property
    def dialog(self) -> Dialog:
        return self._dialog

    def _move(self, event: NotifierEvent) -> None:
        target = TRANSITIONS.get((self._state, event))
        if target is None:
            raise SIPCoreInvalidStateError(f"{self!r}: cannot {event.value} in state {self.state}")
        if target is N.ACTIVE:
            self._was_active = True
        if target is not self._state:
            previous = self.state
            self._state = target
            self._post("ChangedState", prev_state=previous, state=self.state)

    def _post(self, suffix: str, **attributes: Any) -> None:
        self.engine.post(self.PREFIX + suffix, sender=self, **attributes)

    # -- what subclasses provide --------------------------------------------------------------

    @abstractmethod
    def _event_header(self) -> Any: ...

    @abstractmethod
    def _notify_body(self, final: bool) -> tuple[bytes, Any]:
        """Body and Content-Type of the next NOTIFY."""

    # -- answering the request ----------------------------------------------------------------

    def _respond(self, code: int, extra_headers: list[tuple[str, Any]] | None = None) -> None:
        check_running(self.engine)
        response = self._dialog.create_response(self._request, code, extra_headers=extra_headers or ())
        self._transaction.send_response(response)
        self._timers.cancel("answer")
        if 200 <= code < 300:
            self.engine.register_dialog(
                self._dialog.call_id,
                self._dialog.local_tag,
                self._dialog.remote_tag or None,
                self._on_request,
            )
            self._registered = True

    def _reject(self, code: int) -> None:
        if not 300 <= code <= 699:
            raise ValueError(f"a rejection needs a 3xx-6xx code, not {code}")
        if self._state is not N.NULL:
            raise SIPCoreInvalidStateError(f"{self!r} was already answered")
        self._respond(code)
        self._move(A.REJECT)
        self._teardown()
        self._post("DidEnd", originator="local")

    def _not_answered(self) -> None:
        if self._state is N.NULL and self.engine.is_running:
            self._respond(408)
        self._move(A.TERMINATE)
        self._teardown()
        self._post("DidEnd", originator="local")

    def _accepted(self, expires: int) -> None:
        """The 2xx was sent: start the expiry and send the first NOTIFY (RFC 6665 §4.2.1.2)."""
        self.expires = expires
        if expires > 0:
            self._timers.set("expire", expires, self._expired)
            self._notify()
        else:  # a fetch: one NOTIFY with the state, which ends the subscription
            self._terminate("timeout", "remote")

    # -- NOTIFYs ------------------------------------------------------------------------------

    def _notify(self) -> None:
        if self._final_sent:
            return
        if self._notifying is not None:
            self._notify_queued = True
            return
        self._send_notify()

    def _subscription_state(self) -> SubscriptionStateHeader:
        if self._final is not None:
            reason = self._final[0]
            return SubscriptionStateHeader("terminated", {"reason": reason} if reason else {})
        left = self._timers.remaining("expire") or 0
        return SubscriptionStateHeader(self._state.value.lower(), {"expires": str(left)})

    def _send_notify(self) -> None:
        final = self._final is not None
        body, content_type = self._notify_body(final)
        headers: list[tuple[str, Any]] = [
            ("Event", self._event_header()),
            ("Subscription-State", self._subscription_state()),
        ]
        request = DialogRequest(
            self.engine,
            self._dialog,
            "NOTIFY",
            resolver=self._resolver,
            authenticator=self._auth,
            on_done=lambda result: self._notify_done(request, result, final),
            extra_headers=headers,
            body=body,
            content_type=content_type if body else None,
        )
        self._notifying = request
        self._notify_queued = False
        self._final_sent = final
        request.start()

    def _notify_done(self, request: DialogRequest, result: DialogResult, final: bool) -> None:
        if self._notifying is not request:
            return
        self._notifying = None
        if result.is_success:
            self._post("NotifyDidSucceed", code=result.code, reason=result.reason)
        else:
            self._post("NotifyDidFail", code=result.code, reason=result.reason)
        if final:
            self._finish()
            return
        if not result.is_success and (result.dialog_gone or not _has_retry_after(result)):
            if self._final is None:
                self._move(A.TERMINATE)
                self._final = (None, "remote")
            self._finish()  # RFC 6665 §4.2.2: the subscription is removed
            return
        if self._final is not None or self._notify_queued:
            self._send_notify()

    # -- in-dialog requests -------------------------------------------------------------------

    def _on_request(self, transaction: Any) -> None:
        request: SIPRequest | None = getattr(transaction, "request", None)
        if request is None or not hasattr(transaction, "send_response"):
            return
        if self._state is N.TERMINATED:
            transaction.send_response(make_response(request, 481, "Subscription does not exist"))
            return
        if request.method != "SUBSCRIBE":
            transaction.send_response(make_response(request, 405, headers=[("Allow", "SUBSCRIBE")]))
            return
        refusal = self._check_subscribe(request)
        if refusal is not None:
            transaction.send_response(make_response(request, *refusal))
            return
        expires = requested_expires(request)
        response = self._dialog.create_response(
            request, 200, extra_headers=[("Expires", ExpiresHeader(expires))]
        )
        transaction.send_response(response)
        headers = headers_of(request)
        if expires == 0:
            self._post("GotUnsubscribe", headers=headers)
            self._terminate("timeout", "remote")
            return
        self.expires = expires
        self._timers.set("expire", expires, self._expired)
        self._post("GotRefreshingSubscribe", expires=expires, headers=headers)
        self._notify()

    def _check_subscribe(self, request: SIPRequest) -> tuple[int, str] | None:
        try:
            event = request.get("Event")
            requested_expires(request)
        except (SIPParseError, ValueError) as error:
            return 400, str(error)[:100]
        wanted = self._event_header()
        if event is None or event.event.lower() != wanted.event.lower() or event.id != wanted.id:
            return 489, "Bad Event"
        try:
            verdict = self._dialog.receive_request(request)
        except ProtocolError as error:
            return 400, str(error)[:100]
        if not verdict.accepted:
            return verdict.status or 481, verdict.reason or "Subscription does not exist"
        return None

    # -- ending -------------------------------------------------------------------------------

    def _expired(self) -> None:
        if self._state in (N.PENDING, N.ACTIVE):
            self._terminate("timeout", "remote")

    def _terminate(self, reason: str | None, originator: str) -> None:
        """Send the final NOTIFY (after the one in flight, if any); DidEnd follows its outcome."""
        if self._final is not None:
            return
        self._timers.cancel("expire")
        self._final = (reason, originator)
        self._move(A.TERMINATE)
        if self._notifying is None:
            self._send_notify()

    def _finish(self) -> None:
        self._teardown()
        originator = self._final[1] if self._final is not None else "remote"
        self._post("DidEnd", originator=originator)

    def _teardown(self) -> None:
        self._timers.cancel_all()
        if self._notifying is not None:
            self._notifying.cancel()
            self._notifying = None
        self._dialog.terminate()
        if self._registered:
            self.engine.unregister_dialog(
                self._dialog.call_id, self._dialog.local_tag, self._dialog.remote_tag or None
            )
            self._registered = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} from {self.from_header.uri} {self.state}>"


def _has_retry_after(result: DialogResult) -> bool:
    try:
        return result.response is not None and result.response.get("Retry-After") is not None
    except SIPParseError:
        return False


class IncomingSubscription(_Notifier):
    """A received SUBSCRIBE and the subscription it asks for (created by the handler that
    ``install_incoming_handlers`` installs); see the module documentation."""

    PREFIX = "SIPIncomingSubscription"

    def __init__(
        self, engine: DialogEngineAPI, transaction: Any, *, resolver: RouteResolver | None = None
    ) -> None:
        super().__init__(engine, transaction, resolver=resolver)
        self._event = frozen(self._request.get("Event"))
        self.content_type: str | None = None
        self.content: bytes | None = None

    @property
    def event(self) -> str:
        return str(self._event.event)

    def _announce(self) -> None:
        request = self._request
        content_type = request.content_type
        self._post(
            "GotSubscribe",
            request_uri=request.uri,
            from_header=request.from_header,
            to_header=request.to_header,
            headers=headers_of(request),
            body=request.body,
            content_type=None if content_type is None else content_type.content_type,
            event=self.event,
        )

    def reject(self, code: int) -> None:
        """Refuse the subscription with ``code`` (3xx-6xx)."""
        self._reject(code)

    def accept_pending(self) -> None:
        """Accept the subscription as pending: 200, then a NOTIFY with ``pending`` and no body."""
        self._answer(A.ACCEPT_PENDING)

    def accept(self, content_type: str | None = None, content: bytes | str | None = None) -> None:
        """Accept the subscription (or make a pending one active): a NOTIFY with ``active`` and
        the content (the given one, else the last pushed)."""
        if content is not None:
            self._store(content_type, content)
        if self._state is N.NULL:
            self._answer(A.ACCEPT)
        else:
            check_running(self.engine)
            self._move(A.ACCEPT)
            self._notify()

    def push_content(self, content_type: str, content: bytes | str) -> None:
        """New state: sent at once when active, kept for accept() while pending."""
        self._move(A.PUSH)
        self._store(content_type, content)
        if self._state is N.ACTIVE:
            self._notify()

    def end(self, reason: str | None = None) -> None:
        """End the subscription: the final NOTIFY (``terminated;reason=reason``), then DidEnd.
        Before an answer this rejects with 480; after the end it does nothing."""
        if self._state is N.NULL:
            self._reject(480)
        elif self._state is not N.TERMINATED:
            check_running(self.engine)
            self._terminate(reason, "local")

    def _answer(self, event: NotifierEvent) -> None:
        try:
            expires = requested_expires(self._request)
        except (SIPParseError, ValueError):
            expires = DEFAULT_EXPIRES
        self._move_checked(event)
        self._respond(200, [("Expires", ExpiresHeader(expires))])
        self._move(event)
        self._accepted(expires)

    def _move_checked(self, event: NotifierEvent) -> None:
        if (self._state, event) not in TRANSITIONS:
            raise SIPCoreInvalidStateError(f"{self!r}: cannot {event.value} in state {self.state}")

    def _store(self, content_type: str | None, content: bytes | str) -> None:
        if content_type is None:
            raise ValueError("content needs a content type")
        ContentTypeHeader.parse(content_type)  # SIPParseError now rather than when sending
        self.content_type = content_type
        self.content = as_bytes(content)

    def _event_header(self) -> Any:
        return self._event

    def _notify_body(self, final: bool) -> tuple[bytes, Any]:
        active = self._state is N.ACTIVE or (final and self._was_active)
        if active and self.content is not None and self.content_type is not None:
            return self.content, self.content_type
        return b"", None


# -- the Engine hook --------------------------------------------------------------------------


def _refuse(transaction: Any, code: int, reason: str | None = None, headers: Any = ()) -> None:
    transaction.send_response(
        make_response(transaction.request, code, reason, to_tag=new_tag(), headers=headers)
    )


def receive_subscribe(
    engine: DialogEngineAPI, transaction: Any, resolver: RouteResolver | None = None
) -> None:
    """The handler of out-of-dialog SUBSCRIBEs: an IncomingSubscription for the events in
    ``engine.incoming_events``, 489 Bad Event (with Allow-Events) for the others."""
    request: SIPRequest = transaction.request
    supported = sorted(engine.incoming_events)
    try:
        event = request.get("Event")
        requested_expires(request)
    except (SIPParseError, ValueError) as error:
        _refuse(transaction, 400, f"Bad Request - {error}"[:100])
        return
    if event is None or event.event.lower() not in {name.lower() for name in supported}:
        _refuse(transaction, 489, headers=[("Allow-Events", ", ".join(supported))] if supported else ())
        return
    try:
        subscription = IncomingSubscription(engine, transaction, resolver=resolver)
    except ProtocolError as error:
        _refuse(transaction, 400, f"Bad Request - {error}"[:100])
        return
    subscription._announce()


def install_incoming_handlers(
    engine: DialogEngineAPI,
    *,
    subscribe: bool = True,
    refer: bool = True,
    resolver: RouteResolver | None = None,
) -> None:
    """Hand out-of-dialog SUBSCRIBE requests to ``IncomingSubscription`` and REFER requests to
    ``IncomingReferral`` (announced with ...GotSubscribe / ...GotRefer). Call it after
    ``engine.start()``: ``stop()`` forgets every handler."""
    from .incoming_referral import receive_refer

    if subscribe:
        engine.register_method_handler(
            "SUBSCRIBE", lambda transaction: receive_subscribe(engine, transaction, resolver)
        )
    if refer:
        engine.register_method_handler(
            "REFER", lambda transaction: receive_refer(engine, transaction, resolver)
        )
