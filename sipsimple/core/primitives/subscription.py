"""``Subscription``: the subscriber side of an RFC 6665 event subscription.

Rules of the subscriber machine (``TRANSITIONS``; ``Referral`` shares it, RFC 3515)::

    NULL --subscribe()--> SUBSCRIBING --NOTIFY pending--> PENDING --NOTIFY active--> ACTIVE
    SUBSCRIBING / PENDING / ACTIVE:
        NOTIFY active / pending            -> ACTIVE / PENDING (either way, as often as it comes)
        NOTIFY terminated, re-subscribe    -> SUBSCRIBING (deactivated/timeout after an earlier
                                              NOTIFY: at once; probation: after retry-after)
        NOTIFY terminated, anything else   -> TERMINATED, DidEnd(originator="remote")
        subscription lost                  -> TERMINATED: DidFail while it was being set up (a
                                              final error to SUBSCRIBE, Timer N), DidEnd(remote,
                                              code, reason) once it was up (a refresh answered
                                              481/408/404/405/410/416/480-485/489/501/604)
        end() done                         -> TERMINATED, DidEnd(originator="local")
    TERMINATED is final: subscribe() then raises SIPCoreInvalidStateError.

The SUBSCRIBE carries Event (and its ``id``), Expires (``refresh``), Accept (the engine's
``events[event]``) and Contact. The handler for (Call-ID, our tag, any remote tag) is registered
before it is sent, because the first NOTIFY may come before the 2xx (RFC 6665 §4.1.2.4); the
dialog is created by whichever comes first (``Dialog.from_uac`` / ``Dialog.from_notify``).
NOTIFYs from another fork are answered 481. Every NOTIFY in the dialog is answered 200 (400 when it
has no usable Subscription-State, 489 for another event).

Timers (``engine.reactor``): Timer N (64*T1) after the 2xx while no NOTIFY has come -> DidFail
(408); refresh at ``refresh_delay(granted)`` of the expiry the 2xx (or the latest NOTIFY's
``expires``) granted, in the same dialog (CSeq+1, challenges answered); a 423 is retried once with
Min-Expires (initial or refresh). A refresh failing with another code leaves the subscription as
it is until it expires; at the expiry without a NOTIFY the subscription starts again, as for
``timeout``. ``end()`` sends Expires: 0 and waits for the terminating NOTIFY, at most ``timeout``
(default 64*T1); DidEnd(local) follows in every case.

Notifications (sender: the Subscription; each has ``timestamp``): ``SIPSubscriptionChangedState``
(``prev_state``, ``state``), ``SIPSubscriptionGotNotify`` (``method``, ``request_uri``,
``from_header``, ``to_header``, ``headers``, ``body``, ``content_type``, ``event``),
``SIPSubscriptionDidFail`` (``code``, ``reason``, ``min_expires``: the 423's Min-Expires or None),
``SIPSubscriptionDidEnd`` (``originator``, ``code``, ``reason``: the status that ended it, or None
and the Subscription-State reason). The state already changed when GotNotify is posted; DidFail or
DidEnd is always the last one. All methods run on the reactor thread.
"""

from __future__ import annotations

import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, cast

from sipsimple.core._errors import SIPCoreInvalidStateError
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.credentials import BaseCredentials, FrozenCredentials
from sipsimple.core.sip.dialog import Dialog, ProtocolError, notify_matches
from sipsimple.core.sip.headers import (
    BaseHeader,
    ContentTypeHeader,
    EventHeader,
    ExpiresHeader,
    FrozenToHeader,
    frozen,
)
from sipsimple.core.sip.ids import new_call_id, new_tag
from sipsimple.core.sip.message import SIPRequest, make_response
from sipsimple.core.sip.uri import BaseSIPURI, FrozenSIPURI

from ._client import (
    Authenticator,
    ClientRequest,
    RequestTemplate,
    Result,
    as_bytes,
    check_running,
    default_engine,
    default_resolver,
    extra,
    granted_expires,
    headers_of,
    min_expires_of,
    refresh_delay,
    with_tag,
)
from ._dialog_client import DialogEngineAPI, DialogRequest, DialogResult, Timers, timer_t1
from .route import RouteResolver, route_uri

__all__ = ["PROBATION_RETRY", "TERMINATING_CODES", "TRANSITIONS", "SubscriberEvent", "SubscriberState",
           "Subscription"]  # fmt: skip

log = logging.getLogger(__name__)

#: Responses to a refresh after which the subscription is gone (RFC 6665 §4.1.2.2, plus 408).
TERMINATING_CODES = frozenset({404, 405, 408, 410, 416, 480, 481, 482, 483, 484, 485, 489, 501, 604})

#: Seconds to wait before re-subscribing after ``terminated;reason=probation`` without retry-after.
PROBATION_RETRY = 30


class SubscriberState(enum.Enum):
    NULL = "NULL"
    SENT = "SENT"  # the dialog-creating request is out: SUBSCRIBING / REFERRING
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    TERMINATED = "TERMINATED"


class SubscriberEvent(enum.Enum):
    SEND = "send the dialog-creating request"
    UPDATE = "subscribe again with new content"
    NOTIFY_PENDING = "NOTIFY with Subscription-State pending"
    NOTIFY_ACTIVE = "NOTIFY with Subscription-State active"
    RETRY = "start again after a terminating NOTIFY or the expiry"
    NOTIFY_TERMINATED = "NOTIFY with Subscription-State terminated"
    LOST = "the subscription failed or was lost without a final NOTIFY"
    ENDED = "end() finished"


S, E = SubscriberState, SubscriberEvent
_LIVE = (S.SENT, S.PENDING, S.ACTIVE)

#: (state, event) -> new state; a pair that is missing is a local misuse (SIPCoreInvalidStateError).
TRANSITIONS: Mapping[tuple[SubscriberState, SubscriberEvent], SubscriberState] = {
    (S.NULL, E.SEND): S.SENT,
    **{(state, E.UPDATE): state for state in _LIVE},
    **{(state, E.NOTIFY_PENDING): S.PENDING for state in _LIVE},
    **{(state, E.NOTIFY_ACTIVE): S.ACTIVE for state in _LIVE},
    **{(state, E.RETRY): S.SENT for state in _LIVE},
    **{(state, event): S.TERMINATED for state in _LIVE for event in (E.NOTIFY_TERMINATED, E.LOST, E.ENDED)},
}


def _frozen_uri(uri: Any) -> Any:
    return FrozenSIPURI.new(uri) if isinstance(uri, BaseSIPURI) else uri


class _Subscriber(ABC):
    """What Subscription and Referral share: the dialog-creating request, NOTIFY handling, Timer N,
    the expiry, end(). Subclasses say what their requests carry."""

    PREFIX: ClassVar[str] = ""
    METHOD: ClassVar[str] = ""
    STATE_NAMES: ClassVar[Mapping[SubscriberState, str]] = {}
    RETRIES: ClassVar[bool] = False  # re-subscribe after deactivated/timeout/probation/expiry
    REFRESHES: ClassVar[bool] = False

    def __init__(
        self,
        request_uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        contact_header: BaseHeader,
        route_header: Any,
        credentials: BaseCredentials | None,
        extra_headers: Iterable[BaseHeader] | None,
        engine: DialogEngineAPI | None,
        resolver: RouteResolver | None,
    ) -> None:
        self.request_uri = _frozen_uri(request_uri)
        self.from_header = frozen(from_header)
        self.to_header = frozen(to_header)
        self.contact_header = frozen(contact_header)
        self.route_header = frozen(route_header) if isinstance(route_header, BaseHeader) else route_header
        self.credentials = None if credentials is None else FrozenCredentials.new(credentials)
        self.extra_headers = [frozen(header) for header in extra_headers or ()]
        self.engine = cast(DialogEngineAPI, default_engine(engine))
        self._resolver = default_resolver(self.engine, resolver)
        self._auth = Authenticator(self.credentials)
        self._state = S.NULL
        self._timers = Timers(self.engine.reactor)
        self._timeout: float | None = None
        self.call_id: str | None = None
        self.cseq = 0
        self._from_tag: str | None = None
        self._handler_key: tuple[str, str, None] | None = None
        self._initial: ClientRequest | None = None
        self._initial_request: SIPRequest | None = None
        self._dialog: Dialog | None = None
        self._inflight: DialogRequest | None = None
        self._notified = False
        self._ending = False
        self._unsubscribing = False

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self.STATE_NAMES[self._state]

    @property
    def dialog(self) -> Dialog | None:
        """The current dialog (None before the 2xx or the first NOTIFY, and after the end)."""
        return self._dialog

    def _move(self, event: SubscriberEvent) -> None:
        target = TRANSITIONS.get((self._state, event))
        if target is None:
            raise SIPCoreInvalidStateError(f"{self!r}: cannot {event.value} in state {self.state}")
        if target is not self._state:
            previous = self.state
            self._state = target
            self._post("ChangedState", prev_state=previous, state=self.state)

    def _post(self, suffix: str, **attributes: Any) -> None:
        self.engine.post(self.PREFIX + suffix, sender=self, **attributes)

    # -- what subclasses provide --------------------------------------------------------------

    @abstractmethod
    def _initial_headers(self) -> tuple[list[tuple[str, Any]], bytes, Any]:
        """Headers (besides From/To/Call-ID/Contact), body and Content-Type of the creating request."""

    @abstractmethod
    def _subscribe_headers(self, expires: int) -> tuple[list[tuple[str, Any]], bytes, Any]:
        """Headers, body and content type of an in-dialog SUBSCRIBE (refresh, unsubscribe)."""

    def _notify_data(self, request: SIPRequest) -> dict[str, Any]:
        return {}

    def _granted(self, granted: int) -> None:
        """A 2xx or a NOTIFY granted ``granted`` seconds."""
        if granted <= 0:
            return
        self._timers.set("expire", granted, self._expired)
        if self.REFRESHES:
            self._timers.set("refresh", refresh_delay(granted), self._refresh_due)

    @abstractmethod
    def _refresh_due(self) -> None: ...

    def _expired(self) -> None:
        if self.RETRIES:
            self._teardown()
            self._move(E.RETRY)
            self._start_dialog()
        else:
            self._lose(code=408, reason="The subscription expired without a final NOTIFY")

    def _initial_recovery(self, result: Result, recovered: frozenset[int]) -> frozenset[int] | None:
        """The codes recovered from, when the creating request is to be sent once more."""
        return None

    # -- the dialog-creating request ----------------------------------------------------------

    def _secure(self) -> bool:
        try:
            uri = route_uri(self.route_header)
        except ValueError:
            return False
        return uri.transport == "tls"

    def _start_dialog(self) -> None:
        self.call_id = new_call_id()
        self._from_tag = new_tag()
        self.cseq = 0
        self._notified = False
        self._unsubscribing = False
        self._initial_request = None
        self._handler_key = (self.call_id, self._from_tag, None)
        self.engine.register_dialog(self.call_id, self._from_tag, None, self._on_request)
        self._send_initial(frozenset())

    def _take_cseq(self) -> int:
        self.cseq += 1
        return self.cseq

    def _send_initial(self, recovered: frozenset[int]) -> None:
        headers, body, content_type = self._initial_headers()
        template_headers: list[tuple[str, Any]] = [
            ("From", with_tag(self.from_header, self._from_tag)),
            ("To", FrozenToHeader(self.to_header.uri, self.to_header.display_name)),  # type: ignore[attr-defined]
            ("Call-ID", self.call_id),
            ("Contact", [self.contact_header]),
            *headers,
        ]
        if body:
            template_headers.append(("Content-Type", content_type))
        template = RequestTemplate(self.METHOD, self.request_uri, template_headers, body)
        client = ClientRequest(
            self.engine,
            template,
            self.route_header,
            resolver=self._resolver,
            authenticator=self._auth,
            next_cseq=self._take_cseq,
            on_done=lambda result: self._initial_done(client, result, recovered),
            timeout=self._timeout,
        )
        self._initial = client
        client.start()

    def _creating_request(self) -> SIPRequest | None:
        """The latest transmission of the dialog-creating request."""
        if self._initial is not None and self._initial.last_request is not None:
            return self._initial.last_request
        return self._initial_request

    def _initial_done(self, client: ClientRequest, result: Result, recovered: frozenset[int]) -> None:
        if self._initial is not client:
            return
        self._initial = None
        if client.last_request is not None:
            self._initial_request = client.last_request
        if result.is_success:
            self._initial_succeeded(result)
            return
        retry = None if self._ending else self._initial_recovery(result, recovered)
        if retry is not None:
            self._send_initial(retry)
        elif self._ending:
            self._finish_end(result.code, result.reason)
        else:
            self._fail(result)

    def _initial_succeeded(self, result: Result) -> None:
        assert result.response is not None and self._initial_request is not None
        if self._dialog is None:
            try:
                self._dialog = Dialog.from_uac(
                    self._initial_request,
                    result.response,
                    secure_transport=self._secure(),
                    local_contact=self.contact_header,
                )
            except ProtocolError as error:
                self._fail(replace(result, reason=f"{result.reason}, but {error}"))
                return
        if self._ending:
            self._unsubscribe()
            return
        if "expire" not in self._timers:  # a NOTIFY's expires, when one came first, is newer
            self._granted(granted_expires(result.response, None, default=self._requested_expires()) or 0)
        if not self._notified:
            limit = 64 * timer_t1(self.engine)
            self._timers.set("N", limit, lambda: self._timer_n(limit, result.code))
        self._dialog_ready()

    def _requested_expires(self) -> int:
        return 0

    def _dialog_ready(self) -> None:
        """The dialog exists (a 2xx or a NOTIFY came): subclasses may send what was waiting for it."""

    def _timer_n(self, limit: float, code: int) -> None:
        self._lose(code=408, reason=f"No NOTIFY within {limit:g} s of the {code} (Timer N)")

    # -- NOTIFY -------------------------------------------------------------------------------

    def _on_request(self, transaction: Any) -> None:
        request: SIPRequest | None = getattr(transaction, "request", None)
        if request is None or not hasattr(transaction, "send_response"):
            return  # an ACK has nothing to do with a subscription
        if request.method != "NOTIFY":
            transaction.send_response(make_response(request, 405, headers=[("Allow", "NOTIFY")]))
            return
        created = self._dialog is None
        refusal = self._check_notify(request)
        if refusal is not None:
            transaction.send_response(make_response(request, *refusal))
            return
        assert self._dialog is not None
        try:
            response = self._dialog.create_response(request, 200)
        except ProtocolError:
            response = make_response(request, 200)
        transaction.send_response(response)
        self._timers.cancel("N")
        first = not self._notified
        self._notified = True
        self._handle_notify(request, request.get("Subscription-State"), first)
        if created and self._dialog is not None:  # this NOTIFY created the dialog, before the 2xx
            if self._ending:
                self._unsubscribe()
            else:
                self._dialog_ready()

    def _check_notify(self, request: SIPRequest) -> tuple[int, str] | None:
        """Take a NOTIFY into the dialog (creating it if needed); (code, reason) to refuse it."""
        try:
            state_header = request.get("Subscription-State")
        except SIPParseError as error:
            return 400, f"Bad Subscription-State: {error}"[:100]
        if state_header is None:
            return 400, "Missing Subscription-State header"
        creating = self._creating_request()
        try:
            if creating is None or not notify_matches(creating, request):
                return 489, "Bad Event"
        except SIPParseError:
            return 400, "Bad Event header"
        dialog = self._dialog
        if dialog is None:
            try:
                self._dialog = Dialog.from_notify(
                    creating, request, secure_transport=self._secure(), local_contact=self.contact_header
                )
            except ProtocolError as error:
                return 400, str(error)[:100]
            return None
        if (request.from_header.tag or "") != dialog.remote_tag:
            return 481, "Subscription does not exist"  # another fork: one dialog is enough for us
        try:
            verdict = dialog.receive_request(request)
        except ProtocolError as error:
            return 400, str(error)[:100]
        if not verdict.accepted:
            return verdict.status or 481, verdict.reason or "Subscription does not exist"
        return None

    def _handle_notify(self, request: SIPRequest, state_header: Any, first: bool) -> None:
        substate = state_header.state.lower()
        if substate in ("active", "pending"):
            self._move(E.NOTIFY_ACTIVE if substate == "active" else E.NOTIFY_PENDING)
            if state_header.expires is not None and not self._ending:
                self._granted(int(state_header.expires))
            self._post_notify(request)
            return
        if substate != "terminated":
            self._post_notify(request)  # an extension state: nothing to do but report it
            return
        reason = state_header.reason
        retry_after = state_header.retry_after
        if self._ending:
            self._teardown()
            self._move(E.ENDED)
            self._post_notify(request)
            self._post("DidEnd", originator="local", code=None, reason=reason)
        elif self.RETRIES and (reason == "probation" or (reason in ("deactivated", "timeout") and not first)):
            delay = (
                retry_after if retry_after is not None else PROBATION_RETRY if reason == "probation" else 0
            )
            self._teardown()
            self._move(E.RETRY)
            self._post_notify(request)
            if delay > 0:
                self._timers.set("retry", delay, self._start_dialog)
            else:
                self._start_dialog()
        else:
            self._teardown()
            self._move(E.NOTIFY_TERMINATED)
            self._post_notify(request)
            self._post("DidEnd", originator="remote", code=None, reason=reason)

    def _post_notify(self, request: SIPRequest) -> None:
        try:
            content_type = request.content_type
        except SIPParseError:
            content_type = None
        event = request.get("Event")
        self._post(
            "GotNotify",
            method=request.method,
            request_uri=request.uri,
            from_header=request.from_header,
            to_header=request.to_header,
            headers=headers_of(request),
            body=request.body,
            content_type=None if content_type is None else content_type.content_type,
            event=event.event,
            **self._notify_data(request),
        )

    # -- in-dialog SUBSCRIBE ------------------------------------------------------------------

    def _send_subscribe(self, expires: int, on_done: Any) -> None:
        assert self._dialog is not None
        headers, body, content_type = self._subscribe_headers(expires)
        request = DialogRequest(
            self.engine,
            self._dialog,
            "SUBSCRIBE",
            resolver=self._resolver,
            authenticator=self._auth,
            on_done=lambda result: on_done(request, result),
            extra_headers=headers,
            body=body,
            content_type=content_type if body else None,
            timeout=None if self._ending else self._timeout,
        )
        self._inflight = request
        request.start()

    # -- ending -------------------------------------------------------------------------------

    def _end(self, timeout: float | None) -> None:
        if self._state in (S.NULL, S.TERMINATED) or self._ending:
            return
        self._ending = True
        for name in ("refresh", "expire", "N", "retry"):
            self._timers.cancel(name)
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        if not self.engine.is_running:
            self._finish_end(None, "The engine is not running")
            return
        limit = timeout if timeout is not None else 64 * timer_t1(self.engine)
        self._timers.set("end", limit, lambda: self._finish_end(408, f"No final NOTIFY within {limit:g} s"))
        if self._dialog is not None and not self._dialog.terminated:
            self._unsubscribe()
        elif self._initial is None:
            self._finish_end(None, None)  # waiting to start again: nothing to end

    def _unsubscribe(self) -> None:
        if self._unsubscribing:
            return
        self._unsubscribing = True
        self._send_subscribe(0, self._unsubscribe_done)

    def _unsubscribe_done(self, request: DialogRequest, result: DialogResult) -> None:
        if self._inflight is not request:
            return
        self._inflight = None
        if not result.is_success:
            self._finish_end(result.code, result.reason)
        # else: the terminating NOTIFY ends it (or the end timer)

    def _finish_end(self, code: int | None, reason: str | None) -> None:
        self._teardown()
        self._move(E.ENDED)
        self._post("DidEnd", originator="local", code=code, reason=reason)

    def _fail(self, result: Result) -> None:
        self._teardown()
        self._move(E.LOST)
        data: dict[str, Any] = {"code": result.code, "reason": result.reason, "min_expires": None}
        if result.code == 423:
            data["min_expires"] = min_expires_of(result.response)
        self._post("DidFail", **data)

    def _lose(self, code: int, reason: str) -> None:
        """The subscription is gone without a final NOTIFY: DidFail while it was being set up,
        DidEnd(remote) once a NOTIFY had made it pending or active."""
        if self._state is S.SENT:
            self._fail(Result(code, reason))
            return
        self._teardown()
        self._move(E.LOST)
        self._post("DidEnd", originator="remote", code=code, reason=reason)

    def _teardown(self) -> None:
        """Forget the current dialog: timers, requests in flight, the dialog handler."""
        self._timers.cancel_all()
        if self._initial is not None:
            self._initial.cancel()
            self._initial = None
        if self._inflight is not None:
            self._inflight.cancel()
            self._inflight = None
        if self._dialog is not None:
            self._dialog.terminate()
            self._dialog = None
        if self._handler_key is not None:
            self.engine.unregister_dialog(*self._handler_key)
            self._handler_key = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.METHOD} {self.request_uri} {self.STATE_NAMES.get(self._state)}>"


class Subscription(_Subscriber):
    """``Subscription(request_uri, from_header, to_header, contact_header, event, route_header,
    credentials=None, refresh=300, extra_headers=None, engine=None, resolver=None)``; see the
    module documentation."""

    PREFIX = "SIPSubscription"
    METHOD = "SUBSCRIBE"
    STATE_NAMES = {S.NULL: "NULL", S.SENT: "SUBSCRIBING", S.PENDING: "PENDING", S.ACTIVE: "ACTIVE",
                   S.TERMINATED: "TERMINATED"}  # fmt: skip
    RETRIES = True
    REFRESHES = True

    def __init__(
        self,
        request_uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        contact_header: BaseHeader,
        event: str | BaseHeader,
        route_header: Any,
        credentials: BaseCredentials | None = None,
        refresh: int = 300,
        extra_headers: Iterable[BaseHeader] | None = None,
        engine: DialogEngineAPI | None = None,
        *,
        resolver: RouteResolver | None = None,
    ) -> None:
        if refresh <= 0:
            raise ValueError("refresh must be a positive number of seconds")
        super().__init__(
            request_uri, from_header, to_header, contact_header, route_header, credentials, extra_headers,
            engine, resolver,
        )  # fmt: skip
        self._event = frozen(EventHeader.parse(event) if isinstance(event, str) else event)
        self.refresh = refresh
        #: the expiry asked for (``refresh``, or a notifier's Min-Expires after a 423)
        self.expires = refresh
        self._subscribe_extra: list[tuple[str, Any]] = []
        self._content_type: Any = None
        self._body = b""
        self._update_wanted = False

    @property
    def event(self) -> str:
        return str(self._event.event)  # type: ignore[attr-defined]

    def subscribe(
        self,
        extra_headers: Iterable[BaseHeader] | None = None,
        content_type: str | BaseHeader | None = None,
        body: bytes | str | None = None,
        timeout: float | None = None,
    ) -> None:
        """Subscribe (NULL), or send the subscription again with new headers or body (in the same
        dialog once there is one). ``timeout`` bounds this SUBSCRIBE and the refreshes."""
        check_running(self.engine)
        if self._ending or self._state is S.TERMINATED:
            raise SIPCoreInvalidStateError(f"{self!r} is ending or has ended")
        payload = as_bytes(body)
        if payload and content_type is None:
            raise ValueError("a body needs a content type")
        self._subscribe_extra = extra(extra_headers)
        self._content_type = (
            None
            if content_type is None
            else frozen(
                ContentTypeHeader.parse(content_type) if isinstance(content_type, str) else content_type
            )
        )
        self._body = payload
        self._timeout = timeout
        if self._state is S.NULL:
            self._move(E.SEND)
            self._start_dialog()
            return
        self._move(E.UPDATE)
        if self._dialog is not None and self._inflight is None:
            self._refresh()
        else:
            self._update_wanted = True

    def end(self, timeout: float | None = None) -> None:
        """Unsubscribe (Expires: 0) and wait for the terminating NOTIFY, at most ``timeout``
        seconds (64*T1 by default); DidEnd(originator="local") follows."""
        self._end(timeout)

    # -- the hooks ----------------------------------------------------------------------------

    def _common_headers(self, expires: int) -> list[tuple[str, Any]]:
        headers: list[tuple[str, Any]] = [("Event", self._event), ("Expires", ExpiresHeader(expires))]
        accept = self.engine.events.get(self.event)
        if accept:
            headers.append(("Accept", ", ".join(accept)))
        return headers + extra(self.extra_headers) + self._subscribe_extra

    def _initial_headers(self) -> tuple[list[tuple[str, Any]], bytes, Any]:
        return self._common_headers(self.expires), self._body, self._content_type

    def _subscribe_headers(self, expires: int) -> tuple[list[tuple[str, Any]], bytes, Any]:
        if expires == 0:
            return self._common_headers(0), b"", None
        return self._common_headers(expires), self._body, self._content_type

    def _requested_expires(self) -> int:
        return self.expires

    def _start_dialog(self) -> None:
        self._update_wanted = False
        super()._start_dialog()

    def _initial_recovery(self, result: Result, recovered: frozenset[int]) -> frozenset[int] | None:
        minimum = min_expires_of(result.response) if result.code == 423 and 423 not in recovered else None
        if minimum is not None and minimum > self.expires:
            self.expires = minimum
            return recovered | {423}
        return None

    def _dialog_ready(self) -> None:
        if self._update_wanted and self._inflight is None:
            self._refresh()

    def _refresh_due(self) -> None:
        if self._dialog is not None and self._inflight is None and not self._ending:
            self._refresh()

    def _refresh(self, recovered: frozenset[int] = frozenset()) -> None:
        self._update_wanted = False
        self._timers.cancel("refresh")
        self._send_subscribe(
            self.expires, lambda request, result: self._refreshed(request, result, recovered)
        )

    def _refreshed(self, request: DialogRequest, result: DialogResult, recovered: frozenset[int]) -> None:
        if self._inflight is not request:
            return
        self._inflight = None
        if result.is_success:
            assert result.response is not None
            self._granted(granted_expires(result.response, None, default=self.expires) or 0)
            if self._update_wanted:
                self._refresh()
            return
        minimum = min_expires_of(result.response) if result.code == 423 and 423 not in recovered else None
        if minimum is not None and minimum > self.expires:
            self.expires = minimum
            self._refresh(recovered | {423})
        elif result.dialog_gone or result.code in TERMINATING_CODES:
            self._lose(result.code, result.reason)
        else:
            # RFC 6665 §4.1.2.2: the subscription stays valid until it expires
            log.info("%r: refresh failed with %d %s", self, result.code, result.reason)
            if self._update_wanted:
                self._refresh()
