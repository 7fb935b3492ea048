"""The Invitation: one INVITE session (RFC 3261 §13-§15, RFC 3264 via SDPNegotiator, RFC 6026).

The state rules are the tables in ``_state.py``; this module drives them with the engine: it
builds and sends the INVITE, responses, ACK, CANCEL, BYE and re-INVITEs, creates the dialogs
(one early dialog per To tag, so forks are kept apart), retransmits our 2xx until its ACK, and
posts the notifications. Everything runs on the reactor thread; timers are ``Timers`` on
``engine.reactor``, and the glare retry delay draws from an injected ``random.Random``.
"""

from __future__ import annotations

import itertools
import logging
import random as _random
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sipsimple.core._errors import SIPCoreError
from sipsimple.core.sdp import (
    FrozenSDPSession,
    NegotiationState,
    RemoteSDPNegotiationError,
    SDPNegotiationError,
    SDPNegotiator,
    SDPParseError,
)
from sipsimple.core.sip._grammar import SIPParseError
from sipsimple.core.sip.dialog import Dialog, DialogID, ProtocolError
from sipsimple.core.sip.headers import BaseHeader, frozen
from sipsimple.core.sip.ids import new_call_id, new_tag
from sipsimple.core.sip.message import SIPRequest, SIPResponse
from sipsimple.core.sip.transaction import Culprit
from sipsimple.core.sip.uri import BaseSIPURI

from .._client import (
    Authenticator,
    RequestTemplate,
    Result,
    check_running,
    default_engine,
    default_resolver,
    extra,
    headers_of,
    with_tag,
)
from .._dialog_client import DialogRequest, DialogResult, Timers, local_contact_for, timer_t1
from ..route import Hop, RouteResolver
from ._extensions import (
    KNOWN_OPTIONS,
    header_text,
    options,
    rack_of,
    replaces_for,
    replaces_of,
    rseq_of,
    session_expires_of,
)
from ._requests import InviteRequest, ReinviteRequest, resend, send_cancel, send_outside
from ._state import (
    InvitationEvent,
    InvitationState,
    InvitationStateError,
    SubEvent,
    SubState,
    sub_transition,
    transition,
)
from ._timer import (
    Negotiated,
    SessionTimer,
    SessionTimerSettings,
    uac_outcome,
    uas_negotiate,
    uas_too_brief,
)

__all__ = ["ALLOW", "Invitation", "SDPView"]

log = logging.getLogger(__name__)

E = InvitationEvent
S = InvitationState
SE = SubEvent
SS = SubState

#: The methods we accept in an INVITE dialog (the Allow header of our INVITE and 2xx).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, MESSAGE, INFO"
#: The option tags of the Supported header of our INVITE and 2xx.
SUPPORTED = "100rel, replaces, timer"
SDP_TYPE = "application/sdp"


def _sdp_of(message: SIPMessageLike) -> FrozenSDPSession | None:
    """The SDP body of ``message`` (None without one); SDPParseError when it is malformed."""
    if not message.body:
        return None
    try:
        content_type = message.content_type
    except SIPParseError as error:
        raise SDPParseError(f"malformed Content-Type: {error}") from None
    if content_type is None or content_type.content_type.lower() != SDP_TYPE:
        return None
    return FrozenSDPSession.parse(message.body)


SIPMessageLike = Any

#: Every live dialog of every Invitation, for Replaces (RFC 3891): (engine id, Call-ID, local tag,
#: remote tag) -> the Invitation that owns it.
_DIALOGS: dict[tuple[int, str, str, str], Invitation] = {}


class SDPView:
    """The SDP of an Invitation as its negotiator sees it (read only)."""

    def __init__(self, negotiator: SDPNegotiator) -> None:
        self._negotiator = negotiator

    @property
    def proposed_local(self) -> FrozenSDPSession | None:
        """Our SDP in the pending exchange (offer or answer), None when nothing is pending."""
        n = self._negotiator
        return n.local_sdp if n.state is not NegotiationState.DONE else None

    @property
    def proposed_remote(self) -> FrozenSDPSession | None:
        n = self._negotiator
        return n.remote_sdp if n.state is not NegotiationState.DONE else None

    @property
    def active_local(self) -> FrozenSDPSession | None:
        return self._negotiator.active_local

    @property
    def active_remote(self) -> FrozenSDPSession | None:
        return self._negotiator.active_remote

    @property
    def negotiator(self) -> SDPNegotiator:
        return self._negotiator


class Invitation:
    """An INVITE session; outgoing with :meth:`send_invite`, incoming from the engine hook
    (``install_invitation_handler``). See docs/sip-invitation.md."""

    def __init__(
        self,
        engine: Any = None,
        *,
        resolver: RouteResolver | None = None,
        random: _random.Random | None = None,
    ) -> None:
        self.engine: Any = default_engine(engine)
        self._resolver_given = resolver
        self._random = random if random is not None else _random.Random()
        self._state = S.NULL
        self._sub_state = SS.NORMAL
        self._negotiator = SDPNegotiator()
        self.sdp = SDPView(self._negotiator)
        self._timers = Timers(self.engine.reactor)
        self._auth = Authenticator(None)
        self.direction: str | None = None
        self.call_id: str | None = None
        self.request_uri: Any = None
        self.route_header: Any = None
        self._local_identity: Any = None
        self._remote_identity: Any = None
        self.remote_contact: Any = None
        self.transport: str | None = None
        self.peer_address: Any = None
        self._dialog: Dialog | None = None  # the confirmed dialog (UAC), or our dialog (UAS)
        self._early: dict[str, Dialog] = {}  # UAC early dialogs by remote tag
        self._registered: set[tuple[str, str, str | None]] = set()
        self._acks: dict[tuple[str, int], tuple[SIPRequest, Any, str | None]] = {}
        # UAC
        self._invite: InviteRequest | None = None
        self._cancel_wanted = False
        self._cseq = itertools.count(1)
        # UAS
        self._transaction: Any = None
        self._request: SIPRequest | None = None
        self._pending_2xx: tuple[Any, SIPResponse, int] | None = None
        self._bye_after_ack = False
        self._late_ack: tuple[Dialog, int] | None = None
        # re-INVITEs
        self._proposal: ReinviteRequest | None = None
        self._proposal_sdp: Any = None
        self._proposal_headers: list[Any] = []
        self._proposal_cancel_wanted = False
        self._received: tuple[Any, SIPRequest] | None = None
        self._stray_registered = False
        # reliable provisionals (RFC 3262)
        self._peer_100rel = False  # UAS: the INVITE had 100rel in Supported or Require
        self._peer_requires_100rel = False
        self._rseq = 0  # UAS: the RSeq of our last reliable provisional
        self._reliable: tuple[SIPResponse, int] | None = None  # UAS: (response, RSeq) awaiting PRACK
        self._offer_in_reliable = False  # UAS: our offer went in a reliable 18x (answer in PRACK)
        self._answered_reliably = False  # UAS: the offer/answer completed in a reliable 18x
        self._rseq_seen: dict[str, int] = {}  # UAC: the last RSeq PRACKed, per early dialog tag
        self._update: DialogRequest | None = None  # our UPDATE with an offer, until its answer
        #: The Invitation an incoming INVITE's Replaces header names (RFC 3891), for the session
        #: layer to end once this one is accepted; None without Replaces.
        self.replaced_invitation: Invitation | None = None
        # session timers (RFC 4028)
        self._session_timer = SessionTimer(
            self._timers, SessionTimerSettings(), self._session_refresh, self._session_expired
        )
        self._refresh: ReinviteRequest | None = None  # our quiet refresh re-INVITE, until answered

    # -- attributes ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state.value

    @property
    def sub_state(self) -> str | None:
        return self._sub_state.value if self._state is S.CONNECTED else None

    @property
    def local_identity(self) -> Any:
        return self._dialog.local_identity if self._dialog is not None else self._local_identity

    @property
    def remote_identity(self) -> Any:
        return self._dialog.remote_identity if self._dialog is not None else self._remote_identity

    @property
    def dialog_id(self) -> DialogID | None:
        return None if self._dialog is None else self._dialog.id

    @property
    def dialog(self) -> Dialog | None:
        return self._dialog

    @property
    def session_expires(self) -> int | None:
        """The negotiated session interval (RFC 4028) in seconds; None without a session timer."""
        return self._session_timer.interval

    @property
    def session_refresher(self) -> str | None:
        """Who refreshes the session: 'local', 'remote', or None without a session timer."""
        return self._session_timer.refresher

    @property
    def _resolver(self) -> RouteResolver:
        return default_resolver(self.engine, self._resolver_given)

    def __repr__(self) -> str:
        return f"<Invitation {self.direction or ''} {self._state.value} {self.call_id}>"

    # -- notifications ---------------------------------------------------------------------------

    def _post(self, name: str, **attributes: Any) -> None:
        self.engine.post(name, sender=self, **attributes)

    def _move(self, event: InvitationEvent, originator: str, **data: Any) -> None:
        target = transition(self._state, event)
        if target is self._state:
            return
        previous, previous_sub = self._state, self.sub_state
        self._state = target
        self._sub_state = SS.NORMAL
        attributes: dict[str, Any] = {"prev_state": previous.value, "state": target.value, "prev_sub_state": previous_sub,
                      "sub_state": self.sub_state, "originator": originator}  # fmt: skip
        for name in ("code", "reason", "method", "headers", "body"):
            attributes[name] = data.get(name)
        if target is S.DISCONNECTED:
            attributes["disconnect_reason"] = data.get("disconnect_reason") or "user request"
            self._teardown()
        self._post("SIPInvitationChangedState", **attributes)

    def _move_sub(self, event: SubEvent, originator: str, **data: Any) -> None:
        target = sub_transition(self._state, self._sub_state, event)
        if target is self._sub_state:
            return
        previous = self._sub_state
        self._sub_state = target
        attributes: dict[str, Any] = {"prev_state": S.CONNECTED.value, "state": S.CONNECTED.value,
                      "prev_sub_state": previous.value, "sub_state": target.value, "originator": originator}  # fmt: skip
        for name in ("code", "reason", "method", "headers", "body"):
            attributes[name] = data.get(name)
        self._post("SIPInvitationChangedState", **attributes)

    def _sdp_update(self, error: str | None = None) -> None:
        n = self._negotiator
        self._post(
            "SIPInvitationGotSDPUpdate",
            succeeded=error is None,
            error=error,
            local_sdp=n.active_local if error is None else None,
            remote_sdp=n.active_remote if error is None else None,
        )

    def _negotiate(self) -> None:
        self._negotiator.negotiate()
        self._sdp_update()

    def _cancel_offer(self) -> None:
        if self._negotiator.has_pending_offer:
            self._negotiator.cancel_offer()

    # -- dialogs ---------------------------------------------------------------------------------

    def _register(self, dialog: Dialog) -> None:
        key = (dialog.call_id, dialog.local_tag, dialog.remote_tag or None)
        if key not in self._registered:
            self._registered.add(key)
            self.engine.register_dialog(*key, self._on_request)
            if dialog.remote_tag:
                _DIALOGS[(id(self.engine), dialog.call_id, dialog.local_tag, dialog.remote_tag)] = self

    def _forget(self, dialog: Dialog) -> None:
        dialog.terminate()
        key = (dialog.call_id, dialog.local_tag, dialog.remote_tag or None)
        if key in self._registered:
            self._registered.discard(key)
            self.engine.unregister_dialog(*key)
        if dialog.remote_tag:
            _DIALOGS.pop((id(self.engine), dialog.call_id, dialog.local_tag, dialog.remote_tag), None)

    def _listen_stray(self) -> None:
        """Hear the 2xx that arrive after the INVITE client transaction ended (stray responses)."""
        register = getattr(self.engine, "register_stray_handler", None)
        if register is not None and self.call_id is not None and self._local_identity is not None:
            register(self.call_id, self._local_identity.tag, self._on_stray_response)
            self._stray_registered = True

    def _unlisten_stray(self) -> None:
        if getattr(self, "_stray_registered", False):
            self._stray_registered = False
            self.engine.register_stray_handler(self.call_id, self._local_identity.tag, None)

    def _on_stray_response(self, response: SIPResponse) -> None:
        """A response no client transaction took: a 2xx to one of our INVITEs must still be ACKed
        (again, for a retransmission) and, for a fork we did not keep, BYEd (RFC 3261 §13.2.2.4)."""
        cseq = response.cseq
        if cseq is None or cseq.method != "INVITE" or not 200 <= response.code < 300:
            return
        tag = response.to_header.tag or ""
        sent = self._acks.get((tag, cseq.number))
        if sent is not None:
            resend(self.engine, *sent)
            return
        if self._dialog is not None and tag == self._dialog.remote_tag:
            return  # a 2xx we did not ACK yet (the late-offer ACK waits for send_ack)
        request = None if self._invite is None else self._invite.last_request
        if request is None or request.cseq.number != cseq.number:
            return
        self._end_fork(request, response, tag)

    def _teardown(self) -> None:
        # stray 2xx of other forks may still come for 64*T1 (RFC 6026 Timer M)
        if getattr(self, "_stray_registered", False):
            self.engine.reactor.callLater(64 * self._t1(), self._unlisten_stray)
        self._timers.cancel_all()
        self._session_timer.stop()
        if self._refresh is not None:
            self._refresh.cancel()
            self._refresh = None
        self._pending_2xx = None
        if self._proposal is not None:
            self._proposal.cancel()
            self._proposal = None
        self._update = None
        for dialog in list(self._early.values()):
            self._forget(dialog)
        self._early.clear()
        if self._dialog is not None:
            self._forget(self._dialog)

    def _t1(self) -> float:
        return timer_t1(self.engine)

    def _t2(self) -> float:
        try:
            return float(self.engine.stack.timers.t2)
        except (AttributeError, SIPCoreError):
            return 4.0

    # == outgoing =================================================================================

    def send_invite(
        self,
        request_uri: Any,
        from_header: BaseHeader,
        to_header: BaseHeader,
        route_header: Any,
        contact_header: BaseHeader,
        sdp: Any = None,
        credentials: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        timeout: float | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> None:
        """Send the INVITE (with ``sdp`` as the offer, or without one: a late offer).

        ``session_timer`` (RFC 4028): a ``SessionTimerSettings``, a mapping of its fields
        (``session_expires``, ``min_se``, ``refresher``, ``enabled``), False to disable, or None
        for the defaults (1800 s, Min-SE 90, the callee chooses the refresher)."""
        check_running(self.engine)
        transition(self._state, E.SEND_INVITE)
        self._session_timer.settings = SessionTimerSettings.of(session_timer)
        self.direction = "outgoing"
        self.request_uri = request_uri
        self.route_header = route_header
        self.call_id = new_call_id()
        self._local_identity = with_tag(from_header)
        self._remote_identity = frozen(to_header)
        self._auth = Authenticator(credentials)
        headers: list[tuple[str, Any]] = [
            ("From", self._local_identity),
            ("To", self._remote_identity),
            ("Call-ID", self.call_id),
            ("Contact", [frozen(contact_header)]),
            ("Allow", ALLOW),
            *extra(extra_headers),
        ]
        if not any(_name_of(header) == "supported" for header in headers):
            headers.append(("Supported", SUPPORTED))
        if not any(_name_of(header) == "session-expires" for header in headers):
            headers += self._session_timer.request_headers()
        body = b""
        if sdp is not None:
            offer = self._negotiator.set_local_offer(sdp)
            body = str(offer).encode()
            headers.append(("Content-Type", SDP_TYPE))
        template = RequestTemplate("INVITE", request_uri, headers, body)
        self._invite = InviteRequest(
            self.engine,
            template,
            route_header,
            resolver=self._resolver,
            authenticator=self._auth,
            next_cseq=lambda: next(self._cseq),
            on_done=self._invite_failed,
            on_provisional=self._on_provisional,
            on_accept=self._on_accept,
            on_too_brief=self._on_422,
        )
        self._move(E.SEND_INVITE, "local", method="INVITE")
        self._listen_stray()
        if timeout is not None:
            self._timers.set("invite", timeout, self._invite_timeout)
        self._invite.start()

    def _on_provisional(self, request: SIPRequest, response: SIPResponse) -> None:
        if self._state not in (S.CALLING, S.EARLY, S.DISCONNECTING):
            return
        tag = response.to_header.tag
        if tag:
            try:
                dialog = self._early.get(tag)
                if dialog is None:
                    dialog = Dialog.from_uac(request, response, secure_transport=self._is_tls())
                    self._early[tag] = dialog
                    self._register(dialog)
                else:
                    dialog.receive_response(request, response)
                self.remote_contact = _contact(response) or self.remote_contact
            except ProtocolError as error:
                log.info("%r: unusable provisional response: %s", self, error)
        reliable = tag and "100rel" in options(response, "Require")
        if reliable:
            rseq = rseq_of(response)
            last = self._rseq_seen.get(tag)
            if rseq is None or (last is not None and rseq != last + 1):
                return  # RFC 3262 §4: a retransmission (or out of order): not reported, not PRACKed
        if self._state is S.DISCONNECTING:
            if self._cancel_wanted:
                self._cancel_wanted = False
                self._send_cancel()
            return
        self._early_media(response)
        if reliable and tag in self._early:
            assert rseq is not None
            self._rseq_seen[tag] = rseq
            self._send_prack(self._early[tag], rseq, response.cseq.number)
        self._move(
            E.RECEIVE_PROVISIONAL, "remote", code=response.code, reason=response.reason,
            headers=headers_of(response), body=response.body,
        )  # fmt: skip

    def _early_media(self, response: SIPResponse) -> None:
        """An SDP in a provisional response answers our offer (early media, RFC 3261 §13.2.1)."""
        if self._negotiator.state is not NegotiationState.LOCAL_OFFER:
            return
        try:
            sdp = _sdp_of(response)
            if sdp is None:
                return
            self._negotiator.set_remote_answer(sdp)
        except (SDPParseError, SDPNegotiationError) as error:
            log.info("%r: unusable SDP in a %d: %s", self, response.code, error)
            return
        self._negotiate()

    def _send_prack(self, dialog: Dialog, rseq: int, invite_cseq: int) -> None:
        """PRACK a reliable provisional response (RFC 3262 §4) in its early dialog."""
        DialogRequest(
            self.engine, dialog, "PRACK", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: None, extra_headers=[("RAck", f"{rseq} {invite_cseq} INVITE")],
        ).start()  # fmt: skip

    def _is_tls(self) -> bool:
        return self.transport == "tls"

    def _on_accept(self, request: SIPRequest, response: SIPResponse, hop: Hop) -> None:
        tag = response.to_header.tag or ""
        number = response.cseq.number
        if self._dialog is not None and tag == self._dialog.remote_tag:
            sent = self._acks.get((tag, number))
            if sent is not None:
                resend(self.engine, *sent)  # a retransmitted 2xx: the same ACK again
            return
        if self._dialog is not None or self._state is S.DISCONNECTED:
            self._end_fork(request, response, tag)
            return
        try:
            dialog = self._early.pop(tag, None)
            if dialog is None:
                dialog = Dialog.from_uac(request, response, secure_transport=hop.address.transport == "tls")
            else:
                dialog.receive_response(request, response)
        except ProtocolError as error:
            log.warning("%r: a 2xx that makes no dialog: %s", self, error)
            return
        self._dialog = dialog
        self._register(dialog)
        for other in list(self._early.values()):
            self._forget(other)
        self._early.clear()
        self.transport = hop.address.transport
        self.peer_address = hop.address
        self.remote_contact = _contact(response) or self.remote_contact
        self._timers.cancel("invite")
        if self._state is S.DISCONNECTING:  # the CANCEL/200 race (RFC 3261 §15): ACK, then BYE
            self._timers.cancel("cancel")
            self._send_ack(dialog, number)
            self._send_bye(dialog, (), None)
            return
        self._move(
            E.RECEIVE_ACCEPT, "remote", code=response.code, reason=response.reason,
            headers=headers_of(response), body=response.body,
        )  # fmt: skip
        self._session_timer.peer_allows_update = "UPDATE" in _allow_of(response)
        self._session_timer.start(uac_outcome(response), we_are_uac=True)
        self._answer_2xx(dialog, response, number)

    def _on_422(self, response: SIPResponse) -> bool:
        """A 422 Session Interval Too Small: retry once with its Min-SE (RFC 4028 §7.1)."""
        if self._invite is None or self._state not in (S.CALLING, S.EARLY):
            return False
        if not self._session_timer.take_422(response):
            return False
        template = self._invite.template
        template.headers = [h for h in template.headers if _name_of(h) not in ("session-expires", "min-se")]
        template.headers += self._session_timer.request_headers()
        return True

    def _answer_2xx(self, dialog: Dialog, response: SIPResponse, number: int) -> None:
        """Take the SDP of the 2xx to the initial INVITE, then ACK (or wait for send_ack)."""
        n = self._negotiator
        try:
            sdp = _sdp_of(response)
            if n.state is NegotiationState.LOCAL_OFFER:
                if sdp is None:
                    raise RemoteSDPNegotiationError("the 2xx has no SDP answer to our offer")
                n.set_remote_answer(sdp)
                self._negotiate()
            elif n.state is NegotiationState.NO_OFFER and sdp is not None:
                n.set_remote_offer(sdp)  # a late offer: the answer goes in the ACK (send_ack)
                self._late_ack = (dialog, number)
                return
        except (SDPParseError, SDPNegotiationError) as error:
            self._cancel_offer()
            self._sdp_update(str(error))
            self._send_ack(dialog, number)
            self._move(E.SEND_ACK, "local")
            self._bye(reason=f"SDP negotiation failed: {error}")
            return
        self._send_ack(dialog, number)
        self._move(E.SEND_ACK, "local")

    def send_ack(self, sdp: Any) -> None:
        """Answer the offer a 2xx carried (our INVITE had none) in the ACK, and connect."""
        if self._late_ack is None:
            raise InvitationStateError("no 2xx offer waits for an answer in the ACK", Culprit.LOCAL)
        dialog, number = self._late_ack
        answer = self._negotiator.set_local_answer(sdp)
        self._late_ack = None
        self._send_ack(dialog, number, str(answer).encode())
        self._negotiate()
        self._move(E.SEND_ACK, "local")

    def _send_ack(self, dialog: Dialog, number: int, body: bytes = b"") -> None:
        try:
            ack, next_hop = dialog.create_ack(number, body=body, content_type=SDP_TYPE if body else None)
        except ProtocolError as error:
            log.warning("%r: cannot build the ACK: %s", self, error)
            return
        key = (dialog.remote_tag, number)

        def sent(request: SIPRequest, destination: Any, tls_name: str | None) -> None:
            self._acks[key] = (request, destination, tls_name)

        send_outside(self.engine, self._resolver, ack, next_hop, sent)

    def _end_fork(self, request: SIPRequest, response: SIPResponse, tag: str) -> None:
        """A 2xx from another fork (or after the end): ACK it, then BYE it (RFC 3261 §13.2.2.4)."""
        if any(key[0] == tag for key in self._acks):
            sent = next(value for key, value in self._acks.items() if key[0] == tag)
            resend(self.engine, *sent)
            return
        try:
            dialog = Dialog.from_uac(request, response, secure_transport=self._is_tls())
        except ProtocolError as error:
            log.info("%r: unusable 2xx from another fork: %s", self, error)
            return
        self._send_ack(dialog, response.cseq.number)
        self._send_bye(dialog, (), None)

    def _invite_failed(self, result: Result) -> None:
        for dialog in list(self._early.values()):
            self._forget(dialog)
        self._early.clear()
        if self._state not in (S.CALLING, S.EARLY, S.DISCONNECTING):
            return
        self._cancel_offer()
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if self._state is S.DISCONNECTING:
            self._move(E.RECEIVE_REJECT, "local", disconnect_reason="user request", **data)
        else:
            reason = f"{result.code} {result.reason}"
            self._move(E.RECEIVE_REJECT, "remote", disconnect_reason=reason, **data)

    def _invite_timeout(self) -> None:
        if self._state in (S.CALLING, S.EARLY):
            self._end_unanswered(reason="timeout")

    def _send_cancel(self) -> None:
        current = None if self._invite is None else self._invite.current()
        if current is not None:
            send_cancel(self.engine, *current)
        # RFC 3261 §9.1: without a final response 64*T1 after the CANCEL, give up
        self._timers.set("cancel", 64 * self._t1(), self._cancel_timeout)

    def _cancel_timeout(self) -> None:
        if self._state is S.DISCONNECTING and self._dialog is None:
            self._move(E.ENDED, "local", code=408, reason="No final response to the CANCEL")

    def _end_unanswered(self, reason: str = "user request") -> None:
        assert self._invite is not None
        self._move(E.CANCEL, "local", method="CANCEL", disconnect_reason=reason)
        if self._invite.provisional_seen:
            self._send_cancel()
        else:  # a CANCEL may only follow a provisional response (RFC 3261 §9.1)
            self._cancel_wanted = True
            self._timers.set("cancel", 64 * self._t1(), self._cancel_timeout)

    # == incoming =================================================================================

    @classmethod
    def receive(
        cls,
        engine: Any,
        transaction: Any,
        *,
        resolver: RouteResolver | None = None,
        random: _random.Random | None = None,
        on_new: Callable[[Invitation], None] | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> Invitation | None:
        """Take an out-of-dialog INVITE: answer what cannot be served, else post 'incoming'.

        ``session_timer`` (as for ``send_invite``) is used for the Min-SE check (422) and, unless
        ``send_response`` is given others, for the 2xx."""
        request: SIPRequest = transaction.request
        invitation = cls(engine, resolver=resolver, random=random)
        invitation._session_timer.settings = SessionTimerSettings.of(session_timer)
        local = transaction.local
        uri = request.uri
        user = uri.user if isinstance(uri, BaseSIPURI) else None
        secure = isinstance(uri, BaseSIPURI) and uri.secure and local.transport == "tls"
        try:
            dialog = Dialog.from_uas(
                request,
                new_tag(),
                local_contact=local_contact_for(local, user, secure=secure),
                secure_transport=transaction.source.transport == "tls",
            )
        except ProtocolError as error:
            _refuse(transaction, 400, f"Bad Request - {error}"[:100])
            return None
        required = options(request, "Require")
        unknown = required - KNOWN_OPTIONS
        if unknown:  # RFC 3261 §8.2.2.3
            transaction.send_response(
                dialog.create_response(
                    request, 420, extra_headers=[("Unsupported", ", ".join(sorted(unknown)))]
                )
            )
            return None
        try:
            replaces = replaces_of(request)
        except ValueError as error:
            transaction.send_response(dialog.create_response(request, 400, f"Bad Request - {error}"[:100]))
            return None
        too_brief = uas_too_brief(request, invitation._session_timer.settings)
        if too_brief is not None:  # RFC 4028 §9
            transaction.send_response(
                dialog.create_response(request, 422, extra_headers=[("Min-SE", str(too_brief))])
            )
            return None
        if replaces is not None:
            refusal = invitation._match_replaces(replaces)
            if refusal is not None:
                transaction.send_response(dialog.create_response(request, refusal))
                return None
        invitation._peer_requires_100rel = "100rel" in required
        invitation._peer_100rel = "100rel" in required | options(request, "Supported")
        try:
            sdp = _sdp_of(request)
            if sdp is not None:
                invitation._negotiator.set_remote_offer(sdp)
        except (SDPParseError, SDPNegotiationError) as error:
            transaction.send_response(
                dialog.create_response(request, 488, f"Not Acceptable Here - {error}"[:100])
            )
            return None
        invitation.direction = "incoming"
        invitation._dialog = dialog
        invitation._transaction = transaction
        invitation._request = request
        invitation.call_id = request.call_id
        invitation.request_uri = request.uri
        invitation.remote_contact = _contact(request)
        invitation.transport = transaction.source.transport
        invitation.peer_address = transaction.source
        invitation._register(dialog)
        if hasattr(engine, "on_cancel"):
            engine.on_cancel(transaction, invitation._on_cancel)
        if on_new is not None:
            on_new(invitation)
        invitation._move(
            E.RECEIVE_INVITE, "remote", method="INVITE", headers=headers_of(request), body=request.body
        )
        return invitation

    def _match_replaces(self, replaces: Any) -> int | None:
        """Find the dialog a Replaces header names (RFC 3891 §3); the refusal code if none fits."""
        key = (id(self.engine), replaces.call_id, replaces.to_tag, replaces.from_tag)
        other = _DIALOGS.get(key)
        if other is None or other._state in (S.DISCONNECTING, S.DISCONNECTED):
            return 481 if other is None else 603
        confirmed = other._dialog is not None and other._dialog.remote_tag == replaces.from_tag
        confirmed = confirmed and other._state in (S.CONNECTING, S.CONNECTED)
        if replaces.early_only and confirmed:
            return 486
        if not confirmed and other.direction == "incoming":
            return 481  # an early dialog the peer started cannot be replaced
        self.replaced_invitation = other
        return None

    def replaces_header(self, early_only: bool = False) -> Any:
        """A Replaces header naming this invitation's dialog, for an attended transfer (REFER
        with ``Replaces`` in the Refer-To URI, RFC 3891 §7)."""
        dialog = self._dialog
        if dialog is None or not dialog.remote_tag:
            raise InvitationStateError("the invitation has no dialog to replace", Culprit.LOCAL)
        return replaces_for(dialog.call_id, dialog.local_tag, dialog.remote_tag, early_only)

    # == in-dialog MESSAGE and INFO ================================================================

    def send_message(
        self, content_type: str, body: bytes, extra_headers: Iterable[BaseHeader] | None = None
    ) -> None:
        """Send a MESSAGE in the dialog; SIPInvitationRequestDidEnd reports its outcome."""
        self._send_in_dialog("MESSAGE", content_type, body, extra_headers)

    def send_info(
        self,
        content_type: str | None = None,
        body: bytes = b"",
        extra_headers: Iterable[BaseHeader] | None = None,
    ) -> None:
        """Send an INFO in the dialog (RFC 6086); SIPInvitationRequestDidEnd reports its outcome."""
        self._send_in_dialog("INFO", content_type, body, extra_headers)

    def _send_in_dialog(
        self, method: str, content_type: str | None, body: bytes, extra_headers: Iterable[BaseHeader] | None
    ) -> None:
        check_running(self.engine)
        if self._state not in (S.CONNECTING, S.CONNECTED) or self._dialog is None:
            raise InvitationStateError(f"cannot send a {method} in state {self._state.value}", Culprit.LOCAL)

        def done(result: DialogResult) -> None:
            self._post(
                "SIPInvitationRequestDidEnd", method=method, succeeded=result.is_success,
                code=result.code, reason=result.reason, headers=result.headers, body=result.body,
            )  # fmt: skip
            if result.dialog_gone and self._state in (S.CONNECTING, S.CONNECTED):
                self._move(E.ENDED, "remote", code=result.code, reason=result.reason,
                           disconnect_reason=f"{result.code} {result.reason}")  # fmt: skip

        DialogRequest(
            self.engine, self._dialog, method, resolver=self._resolver, authenticator=self._auth,
            on_done=done, extra_headers=list(extra_headers or ()), body=body,
            content_type=content_type if body else None,
        ).start()  # fmt: skip

    def _on_message_or_info(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        if dialog is not self._dialog or self._state not in (S.CONNECTING, S.CONNECTED):
            self._respond(dialog, transaction, 481)
            return
        try:
            content_type = request.content_type
        except SIPParseError:
            self._respond(dialog, transaction, 400, "Bad Request - malformed Content-Type")
            return
        self._respond(dialog, transaction, 200)
        name = "SIPInvitationGotMessage" if request.method == "MESSAGE" else "SIPInvitationGotInfo"
        self._post(
            name,
            content_type=None if content_type is None else content_type.content_type,
            body=request.body,
            headers=headers_of(request),
        )

    def send_response(
        self,
        code: int,
        reason: str | None = None,
        sdp: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
        reliable: bool | None = None,
        session_timer: SessionTimerSettings | Mapping[str, Any] | bool | None = None,
    ) -> None:
        """Answer the INVITE (or the peer's pending re-INVITE): 18x, 2xx (accept) or 3xx-6xx.

        ``reliable`` sends a 18x reliably (RFC 3262: RSeq, resent until its PRACK); None means
        reliably when the INVITE has ``Require: 100rel``. ``session_timer`` (RFC 4028, as for
        ``send_invite``) replaces the settings given to ``install_invitation_handler`` for a 2xx
        to the INVITE; when the INVITE's Session-Expires is below their ``min_se``, a 422 with
        that Min-SE goes instead of the 2xx (RFC 4028 §9)."""
        if not 101 <= code <= 699:
            raise ValueError(f"cannot send a {code} response")
        if session_timer is not None:
            self._session_timer.settings = SessionTimerSettings.of(session_timer)
        if self._state is S.CONNECTED and self._sub_state is SS.RECEIVED_PROPOSAL:
            self._answer_proposal(code, reason, sdp, list(extra_headers or ()))
            return
        event = E.SEND_PROVISIONAL if code < 200 else E.SEND_ACCEPT if code < 300 else E.SEND_REJECT
        transition(self._state, event)
        if self.direction != "incoming":
            raise InvitationStateError("only an incoming invitation is answered", Culprit.LOCAL)
        check_running(self.engine)
        assert self._dialog is not None and self._request is not None
        if code < 200:
            reliable = self._peer_requires_100rel if reliable is None else reliable
            if reliable and not self._peer_100rel:
                raise InvitationStateError("the INVITE does not support 100rel", Culprit.LOCAL)
            if reliable and self._reliable is not None:
                raise InvitationStateError(
                    "a reliable provisional response still waits for its PRACK", Culprit.LOCAL
                )
        else:
            reliable = False
        headers: list[Any] = list(extra_headers or ())
        negotiated = None
        if 200 <= code < 300:
            too_brief = uas_too_brief(self._request, self._session_timer.settings)
            if too_brief is not None:
                code, reason, event, headers = 422, None, E.SEND_REJECT, [("Min-SE", str(too_brief))]
            else:
                negotiated = uas_negotiate(self._request, self._session_timer.settings)
                headers += self._session_timer.response_headers(self._request, negotiated)
        body = self._response_sdp(code, sdp, reliable=reliable)
        if reliable:
            self._rseq = self._rseq + 1 if self._rseq else self._random.randint(1, 2**31 - 1)
            headers += [("Require", "100rel"), ("RSeq", str(self._rseq))]
        if 200 <= code < 300:
            headers.append(("Allow", ALLOW))
            headers.append(("Supported", SUPPORTED))
        if code >= 200:
            self._stop_reliable()
        response = self._dialog.create_response(
            self._request, code, reason, extra_headers=headers, body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        self._transaction.send_response(response)
        if code < 200:
            if reliable:
                self._start_reliable(response)
            self._move(event, "local", code=code, reason=response.reason)
        elif code < 300:
            self._start_2xx(self._transaction, response)
            self._session_timer.peer_allows_update = "UPDATE" in _allow_of(self._request)
            self._session_timer.start(negotiated, we_are_uac=False)
            self._move(event, "local", code=code, reason=response.reason)
        else:
            self._cancel_offer()
            self._move(
                event,
                "local",
                code=code,
                reason=response.reason,
                disconnect_reason=f"{code} {response.reason}",
            )

    def _response_sdp(self, code: int, sdp: Any, reliable: bool = False) -> bytes:
        """The SDP body of our response to the initial INVITE, through the negotiator."""
        n = self._negotiator
        if code >= 300:
            return b""
        if n.state is NegotiationState.REMOTE_OFFER:
            if sdp is None:
                if code < 200:
                    return b""
                raise InvitationStateError(
                    "the INVITE has an offer: the 2xx needs an SDP answer", Culprit.LOCAL
                )
            answer = n.set_local_answer(sdp)
            self._negotiate()
            self._answered_reliably = reliable
            return str(answer).encode()
        if n.state is NegotiationState.DONE:  # answered in a provisional: repeat it (unreliable)
            if n.local_sdp is None or code < 200 or self._answered_reliably:
                return b""
            return str(n.local_sdp).encode()
        if n.state is NegotiationState.NO_OFFER and code < 200 and reliable and sdp is not None:
            self._offer_in_reliable = True  # RFC 3262 §5: the answer comes in the PRACK
            return str(n.set_local_offer(sdp)).encode()
        if n.state is NegotiationState.LOCAL_OFFER and self._offer_in_reliable:
            if code >= 200:
                raise InvitationStateError(
                    "our offer in a reliable provisional is not answered yet (no PRACK)", Culprit.LOCAL
                )
            return b""
        if n.state is NegotiationState.NO_OFFER and code >= 200:
            if sdp is None:
                raise InvitationStateError("the INVITE has no offer: the 2xx needs one", Culprit.LOCAL)
            return str(n.set_local_offer(sdp)).encode()  # the answer comes in the ACK
        if n.state is NegotiationState.LOCAL_OFFER:
            return str(n.local_sdp).encode()
        return b""

    # -- reliable provisionals (RFC 3262) ----------------------------------------------------------

    def _start_reliable(self, response: SIPResponse) -> None:
        """Resend the reliable 18x at T1, 2*T1, 4*T1... until its PRACK; 504 at 64*T1 (§3)."""
        self._reliable = (response, self._rseq)
        interval = [self._t1()]

        def again() -> None:
            if self._reliable is None or self._reliable[0] is not response:
                return
            try:
                self._transaction.send_response(response)
            except (ProtocolError, ValueError) as error:
                log.info("%r: cannot resend the reliable provisional: %s", self, error)
                return
            interval[0] *= 2
            self._timers.set("100rel", interval[0], again)

        self._timers.set("100rel", interval[0], again)
        self._timers.set("100rel-give-up", 64 * self._t1(), self._no_prack)

    def _stop_reliable(self) -> None:
        self._reliable = None
        self._timers.cancel("100rel")
        self._timers.cancel("100rel-give-up")

    def _no_prack(self) -> None:
        if self._reliable is not None and self._state in (S.INCOMING, S.EARLY):
            self._stop_reliable()
            self.send_response(504, "No PRACK")

    def _on_prack(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        reliable = self._reliable
        rack = rack_of(request)
        if (
            reliable is None
            or self._request is None
            or rack != (reliable[1], self._request.cseq.number, "INVITE")
        ):
            self._respond(dialog, transaction, 481, "No Matching Reliable Response")
            return
        self._stop_reliable()
        n = self._negotiator
        try:
            sdp = _sdp_of(request)
            if self._offer_in_reliable and n.state is NegotiationState.LOCAL_OFFER:
                if sdp is None:
                    raise RemoteSDPNegotiationError("the PRACK has no answer to our offer")
                n.set_remote_answer(sdp)
                self._offer_in_reliable = False
                self._answered_reliably = True
                self._respond(dialog, transaction, 200)
                self._negotiate()
                return
        except (SDPParseError, SDPNegotiationError) as error:
            self._offer_in_reliable = False
            self._cancel_offer()
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            self._sdp_update(str(error))
            return
        self._respond(dialog, transaction, 200)

    def _start_2xx(self, transaction: Any, response: SIPResponse) -> None:
        """Send our 2xx again at T1, 2*T1, ... up to T2 until its ACK; BYE at 64*T1 (§13.3.1.4)."""
        self._pending_2xx = (transaction, response, response.cseq.number)
        interval = [self._t1()]

        def again() -> None:
            if self._pending_2xx is None or self._pending_2xx[1] is not response:
                return
            try:
                transaction.send_response(response)
            except (ProtocolError, ValueError) as error:
                log.info("%r: cannot resend the 2xx: %s", self, error)
            interval[0] = min(2 * interval[0], self._t2())
            self._timers.set("2xx", interval[0], again)

        self._timers.set("2xx", interval[0], again)
        self._timers.set("no-ack", 64 * self._t1(), self._no_ack)

    def _no_ack(self) -> None:
        self._pending_2xx = None
        self._timers.cancel("2xx")
        if self._state in (S.CONNECTING, S.CONNECTED):
            self._bye(reason="no ACK for the 2xx")

    def _on_cancel(self, transaction: Any) -> None:
        if transaction is self._transaction and self._state in (S.INCOMING, S.EARLY):
            assert self._dialog is not None and self._request is not None
            self._transaction.send_response(self._dialog.create_response(self._request, 487))
            self._cancel_offer()
            self._move(E.RECEIVE_CANCEL, "remote", method="CANCEL", code=487, reason="Request Terminated")
        elif self._received is not None and transaction is self._received[0] and not transaction.answered:
            assert self._dialog is not None
            transaction.send_response(self._dialog.create_response(self._received[1], 487))
            self._received = None
            self._cancel_offer()
            self._move_sub(
                SE.ANSWER_PROPOSAL, "remote", method="CANCEL", code=487, reason="Request Terminated"
            )

    # == in-dialog requests =======================================================================

    def _dialog_for(self, request: SIPRequest) -> Dialog | None:
        tag = request.from_header.tag or ""
        if self._dialog is not None and self._dialog.remote_tag == tag:
            return self._dialog
        return self._early.get(tag)

    def _respond(
        self, dialog: Dialog, transaction: Any, code: int, reason: str | None = None, headers: Any = ()
    ) -> None:
        try:
            transaction.send_response(
                dialog.create_response(transaction.request, code, reason, extra_headers=headers)
            )
        except ProtocolError as error:
            log.info("%r: cannot answer %s: %s", self, transaction.request.method, error)

    def _on_request(self, transaction: Any) -> None:
        request: SIPRequest = transaction.request
        dialog = self._dialog_for(request)
        if dialog is None:
            if request.method != "ACK":
                _refuse(transaction, 481)
            return
        try:
            verdict = dialog.receive_request(request)
        except ProtocolError as error:
            if request.method != "ACK":
                self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        if not verdict.accepted:
            if verdict.status is not None:
                self._respond(dialog, transaction, verdict.status, verdict.reason[:100] or None)
            return
        if verdict.target_refreshed or request.method == "INVITE":
            self.remote_contact = _contact(request) or self.remote_contact
        method = request.method
        if method == "ACK":
            self._on_ack(dialog, request)
        elif method == "BYE":
            self._respond(dialog, transaction, 200)
            self._on_bye(request)
        elif method == "INVITE":
            self._on_reinvite(dialog, transaction, request)
        elif method == "OPTIONS":
            self._respond(dialog, transaction, 200, headers=[("Allow", ALLOW)])
        elif method == "PRACK":
            self._on_prack(dialog, transaction, request)
        elif method == "UPDATE":
            self._on_update(dialog, transaction, request)
        elif method in ("MESSAGE", "INFO"):
            self._on_message_or_info(dialog, transaction, request)
        else:  # PRACK, UPDATE, INFO, MESSAGE...: not served yet (see docs/sip-invitation.md)
            self._respond(dialog, transaction, 501)

    def _on_ack(self, dialog: Dialog, request: SIPRequest) -> None:
        pending = self._pending_2xx
        if pending is None or request.cseq.number != pending[2]:
            return  # a repeated ACK
        self._pending_2xx = None
        self._timers.cancel("2xx")
        self._timers.cancel("no-ack")
        n = self._negotiator
        if n.state is NegotiationState.LOCAL_OFFER:  # our offer was in the 2xx: the answer is here
            try:
                sdp = _sdp_of(request)
                if sdp is None:
                    raise RemoteSDPNegotiationError("the ACK has no SDP answer to the offer in our 2xx")
                n.set_remote_answer(sdp)
                self._negotiate()
            except (SDPParseError, SDPNegotiationError) as error:
                self._cancel_offer()
                self._sdp_update(str(error))
                if self._state is S.CONNECTING:
                    self._move(E.RECEIVE_ACK, "remote", method="ACK")
                self._bye(reason=f"SDP negotiation failed: {error}")
                return
        if self._state is S.CONNECTING:
            self._move(E.RECEIVE_ACK, "remote", method="ACK", headers=headers_of(request), body=request.body)
        if self._bye_after_ack:
            self._bye_after_ack = False
            self._send_bye(dialog, (), None)

    def _on_bye(self, request: SIPRequest) -> None:
        if self._state in (S.INCOMING, S.EARLY) and self._transaction is not None:
            # RFC 3261 §15.1.2: the INVITE still waiting for an answer gets a 487
            assert self._dialog is not None and self._request is not None
            try:
                self._transaction.send_response(self._dialog.create_response(self._request, 487))
            except ProtocolError:
                pass
            self._move(
                E.RECEIVE_CANCEL, "remote", method="BYE", headers=headers_of(request), body=request.body
            )
            return
        if self._state in (S.NULL, S.CALLING, S.DISCONNECTED):
            return
        self._move(E.RECEIVE_BYE, "remote", method="BYE", headers=headers_of(request), body=request.body)

    # == ending ===================================================================================

    def end(self, extra_headers: Iterable[BaseHeader] | None = None, timeout: float | None = None) -> None:
        """End the session: CANCEL before a final response, 603 to an unanswered incoming INVITE,
        BYE once connected. Ending an invitation that is already ending does nothing."""
        state = self._state
        if state is S.DISCONNECTING:
            return
        if state in (S.NULL, S.DISCONNECTED):
            raise InvitationStateError(f"cannot end an invitation in state {state.value}", Culprit.LOCAL)
        if self.direction == "incoming" and state in (S.INCOMING, S.EARLY):
            self.send_response(603, extra_headers=extra_headers)
            return
        if state in (S.CALLING, S.EARLY):
            self._end_unanswered()
            return
        self._bye(list(extra_headers or ()), timeout)

    def _bye(self, headers: Any = (), timeout: float | None = None, reason: str = "user request") -> None:
        """Move to DISCONNECTING and send the BYE (after the ACK when we still wait for it)."""
        if self._state not in (S.CONNECTING, S.CONNECTED):
            return
        self._move(E.BYE, "local", method="BYE", disconnect_reason=reason)
        self._disconnect_reason = reason
        assert self._dialog is not None
        if self.direction == "incoming" and self._pending_2xx is not None:
            self._bye_after_ack = True  # RFC 3261 §15: the callee waits for the ACK (or its timeout)
            self._timers.set("no-ack", 64 * self._t1(), self._bye_without_ack)
            return
        self._send_bye(self._dialog, headers, timeout)

    def _bye_without_ack(self) -> None:
        self._pending_2xx = None
        self._timers.cancel("2xx")
        if self._bye_after_ack and self._dialog is not None:
            self._bye_after_ack = False
            self._send_bye(self._dialog, (), None)

    def _send_bye(self, dialog: Dialog, headers: Any, timeout: float | None) -> None:
        main = dialog is self._dialog

        def done(result: DialogResult) -> None:
            self._forget(dialog)
            if main and self._state is S.DISCONNECTING:
                reason = getattr(self, "_disconnect_reason", "user request")
                self._move(E.ENDED, "local", code=result.code, reason=result.reason, disconnect_reason=reason)

        DialogRequest(
            self.engine, dialog, "BYE", resolver=self._resolver, authenticator=self._auth,
            on_done=done, extra_headers=headers, timeout=timeout,
        ).start()  # fmt: skip

    # == re-INVITEs ===============================================================================

    def send_reinvite(self, sdp: Any = None, extra_headers: Iterable[BaseHeader] | None = None) -> None:
        """Send a re-INVITE (``sdp`` is the new offer; without one the peer offers in its 2xx)."""
        target = sub_transition(self._state, self._sub_state, SE.SEND_PROPOSAL)
        del target
        check_running(self.engine)
        self._proposal_sdp = sdp
        self._proposal_headers = list(extra_headers or ())
        self._proposal_cancel_wanted = False
        self._move_sub(SE.SEND_PROPOSAL, "local", method="INVITE")
        self._send_proposal()

    def _send_proposal(self) -> None:
        assert self._dialog is not None
        body = b""
        if self._proposal_sdp is not None:
            body = str(self._negotiator.set_local_offer(self._proposal_sdp)).encode()
        request = ReinviteRequest(
            self.engine, self._dialog, "INVITE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._proposal_done(request, result),
            extra_headers=[*self._proposal_headers, *self._refresh_headers()], body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        request.on_provisional = self._proposal_provisional
        self._proposal = request
        request.start()

    def _proposal_provisional(self, request: ReinviteRequest) -> None:
        if request is self._proposal and self._proposal_cancel_wanted:
            self._proposal_cancel_wanted = False
            current = request.current()
            if current is not None:
                send_cancel(self.engine, *current)

    def _proposal_done(self, request: ReinviteRequest, result: DialogResult) -> None:
        if request is not self._proposal:
            return
        self._proposal = None
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.is_success and result.response is not None:
            assert self._dialog is not None and request.last_request is not None
            number = request.last_request.cseq.number
            error = None
            try:
                if self._negotiator.state is NegotiationState.LOCAL_OFFER:
                    sdp = _sdp_of(result.response)
                    if sdp is None:
                        raise RemoteSDPNegotiationError("the 2xx has no SDP answer to our offer")
                    self._negotiator.set_remote_answer(sdp)
            except (SDPParseError, SDPNegotiationError) as failure:
                error = str(failure)
            self._send_ack(self._dialog, number)
            self._on_refresh_answered(result)
            if error is None and self._negotiator.state is NegotiationState.ANSWERED:
                self._negotiate()
            elif error is not None:
                self._cancel_offer()
                self._sdp_update(error)
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)
            return
        self._cancel_offer()
        if result.dialog_gone:
            self._move(E.ENDED, "remote", disconnect_reason=f"{result.code} {result.reason}", **data)
            return
        if result.code == 491 and self._state is S.CONNECTED:
            # RFC 3261 §14.1: the owner of the Call-ID retries after 2.1-4 s, the other side 0-2 s
            low, high = (2.1, 4.0) if self.direction == "outgoing" else (0.0, 2.0)
            self._timers.set("glare", self._random.uniform(low, high), self._glare_retry)
            return
        if self._proposal_sdp is not None:
            self._sdp_update(f"{result.code} {result.reason}")
        self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)

    def _glare_retry(self) -> None:
        if self._state is S.CONNECTED and self._sub_state is SS.SENDING_PROPOSAL and self._proposal is None:
            self._send_proposal()

    def cancel_reinvite(self) -> None:
        """Withdraw our pending re-INVITE (CANCEL once a provisional arrived; the 487 ends it)."""
        if self._state is not S.CONNECTED or self._sub_state is not SS.SENDING_PROPOSAL:
            raise InvitationStateError("there is no re-INVITE of ours to cancel", Culprit.LOCAL)
        if "glare" in self._timers:
            self._timers.cancel("glare")
            self._move_sub(SE.PROPOSAL_ANSWERED, "local", code=487, reason="Request Terminated")
            return
        proposal = self._proposal
        if proposal is None:
            return
        current = proposal.current()
        if proposal.provisional_seen and current is not None:
            send_cancel(self.engine, *current)
        else:
            self._proposal_cancel_wanted = True

    def _on_reinvite(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        if dialog is not self._dialog or self._state is not S.CONNECTED:
            self._respond(dialog, transaction, 491 if self._state is S.CONNECTING else 500)
            return
        if self._refresh is not None or (
            self._sub_state is SS.SENDING_PROPOSAL and "glare" not in self._timers
        ):
            self._respond(dialog, transaction, 491)  # glare (RFC 3261 §14.2)
            return
        if self._sub_state is SS.RECEIVED_PROPOSAL or self._pending_2xx is not None:
            retry = str(int(self._random.uniform(0, 10)))
            self._respond(dialog, transaction, 500, headers=[("Retry-After", retry)])
            return
        try:
            sdp = _sdp_of(request)
            if sdp is not None and self._negotiator.state is not NegotiationState.DONE:
                raise RemoteSDPNegotiationError("an offer while another exchange is incomplete")
        except (SDPParseError, SDPNegotiationError) as error:
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            return
        if self._is_unchanged_refresh(sdp):
            self._answer_refresh(dialog, transaction, request)
            return
        if "glare" in self._timers:  # our retry waits: the peer's re-INVITE goes first
            self._timers.cancel("glare")
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", code=491, reason="Request Pending")
        if sdp is not None:
            try:
                self._negotiator.set_remote_offer(sdp)
            except SDPNegotiationError as error:
                self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
                return
        self._received = (transaction, request)
        if hasattr(self.engine, "on_cancel"):
            self.engine.on_cancel(transaction, self._on_cancel)
        self._move_sub(
            SE.RECEIVE_PROPOSAL, "remote", method="INVITE", headers=headers_of(request), body=request.body
        )

    def _is_unchanged_refresh(self, sdp: Any) -> bool:
        """A re-INVITE that only refreshes the session: a timer runs and its SDP is the one we
        have, same version (RFC 3264 §8: no change), so it is not a proposal for the user."""
        active = self._negotiator.active_remote
        if not self._session_timer.running or sdp is None or active is None:
            return False
        return (sdp.id, sdp.version) == (active.id, active.version) and self._sub_state is SS.NORMAL

    def _answer_refresh(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        negotiated = self._in_dialog_negotiation(request)
        headers: list[Any] = [("Allow", ALLOW), *self._session_timer.response_headers(request, negotiated)]
        local = self._negotiator.active_local
        body = b"" if local is None else str(local).encode()
        response = dialog.create_response(
            request, 200, extra_headers=headers, body=body, content_type=SDP_TYPE if body else None
        )
        transaction.send_response(response)
        self._start_2xx(transaction, response)
        self._session_timer.start(negotiated, we_are_uac=False)

    # == UPDATE (RFC 3311) =========================================================================

    def send_update(self, sdp: Any = None, extra_headers: Iterable[BaseHeader] | None = None) -> None:
        """Send an UPDATE: with ``sdp`` a new offer (while connected, like a re-INVITE: sub-state
        'sending_proposal' until its answer), without one a plain refresh (early or connected)."""
        check_running(self.engine)
        if sdp is not None:
            sub_transition(self._state, self._sub_state, SE.SEND_PROPOSAL)
        elif self._state not in (S.EARLY, S.CONNECTING, S.CONNECTED):
            raise InvitationStateError(f"cannot send an UPDATE in state {self._state.value}", Culprit.LOCAL)
        dialog = self._dialog if self._dialog is not None else next(iter(self._early.values()), None)
        if dialog is None:
            raise InvitationStateError("no dialog to send the UPDATE in", Culprit.LOCAL)
        body = b""
        if sdp is not None:
            body = str(self._negotiator.set_local_offer(sdp)).encode()
            self._move_sub(SE.SEND_PROPOSAL, "local", method="UPDATE")
        request = DialogRequest(
            self.engine, dialog, "UPDATE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._update_done(request, result, with_offer=bool(body)),
            extra_headers=[*(extra_headers or ()), *self._refresh_headers()], body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        if body:
            self._update = request
        request.start()

    # == session timers (RFC 4028, rules in _timer.py) ==============================================

    def _refresh_headers(self) -> list[Any]:
        """Session-Expires/Min-SE (and Supported) for our re-INVITE or UPDATE while a session
        timer runs: each such request refreshes the session (RFC 4028 §7.4)."""
        if not self._session_timer.running:
            return []
        return [("Supported", SUPPORTED), *self._session_timer.request_headers()]

    def _session_refresh(self) -> None:
        """Our refresh is due: an UPDATE without SDP when the peer allows UPDATE, else a re-INVITE
        with our current SDP unchanged (same version); no state change is posted for it."""
        if self._state is not S.CONNECTED or self._dialog is None:
            return
        busy = self._sub_state is not SS.NORMAL or self._received is not None or self._update is not None
        if busy or self._pending_2xx is not None or self._proposal is not None:
            self._session_timer.retry_later(min(2.0, self._session_timer.interval or 2.0))
            return  # the exchange in progress carries Session-Expires and refreshes on its 2xx
        if self._session_timer.peer_allows_update:
            DialogRequest(
                self.engine, self._dialog, "UPDATE", resolver=self._resolver, authenticator=self._auth,
                on_done=self._refresh_done, extra_headers=self._refresh_headers(),
            ).start()  # fmt: skip
            return
        local = self._negotiator.active_local
        body = b"" if local is None else str(local).encode()
        request = ReinviteRequest(
            self.engine, self._dialog, "INVITE", resolver=self._resolver, authenticator=self._auth,
            on_done=lambda result: self._refresh_reinvite_done(request, result),
            extra_headers=self._refresh_headers(), body=body, content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        self._refresh = request
        request.start()

    def _refresh_reinvite_done(self, request: ReinviteRequest, result: DialogResult) -> None:
        if request is not self._refresh:
            return
        self._refresh = None
        if result.is_success and result.response is not None and self._dialog is not None:
            assert request.last_request is not None
            self._send_ack(self._dialog, request.last_request.cseq.number)
        self._refresh_done(result)

    def _refresh_done(self, result: DialogResult) -> None:
        """The outcome of our refresh: a 2xx renegotiates; 408/481 (or a timeout) ends the
        session (RFC 4028 §10); another failure is retried while the interval lasts."""
        if self._state is not S.CONNECTED:
            return
        if result.is_success:
            self._on_refresh_answered(result)
            return
        reason = f"session refresh failed: {result.code} {result.reason}"
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.dialog_gone and (self._dialog is None or self._dialog.terminated):
            self._move(E.ENDED, "remote", disconnect_reason=reason, **data)
        elif result.dialog_gone or result.code in (408, 481):
            self._bye(reason=reason)
        else:
            self._session_timer.retry_later(min(32.0, (self._session_timer.interval or 90) / 4))

    def _session_expired(self) -> None:
        """No refresh came in time (RFC 4028 §10): BYE."""
        if self._state is S.CONNECTED:
            self._bye(reason="session timer expired")

    def _in_dialog_negotiation(self, request: SIPRequest) -> Any:
        """What our 2xx to the peer's re-INVITE or UPDATE says: the request's own negotiation,
        or, without Session-Expires while a timer runs, the current interval and refresher."""
        timer = self._session_timer
        if session_expires_of(request) is None and timer.interval is not None:
            return Negotiated(timer.interval, "uas" if timer.we_refresh else "uac")
        return uas_negotiate(request, timer.settings)

    def _update_done(self, request: DialogRequest, result: DialogResult, with_offer: bool) -> None:
        data = {"code": result.code, "reason": result.reason, "headers": result.headers, "body": result.body}
        if result.dialog_gone and self._state not in (S.DISCONNECTED,):
            self._update = None
            self._cancel_offer()
            self._move(E.ENDED, "remote", disconnect_reason=f"{result.code} {result.reason}", **data)
            return
        self._on_refresh_answered(result)
        if not with_offer or request is not self._update:
            return
        self._update = None
        if result.is_success and result.response is not None:
            try:
                sdp = _sdp_of(result.response)
                if sdp is None:
                    raise RemoteSDPNegotiationError("the 2xx to our UPDATE has no SDP answer")
                self._negotiator.set_remote_answer(sdp)
                self._negotiate()
            except (SDPParseError, SDPNegotiationError) as error:
                self._cancel_offer()
                self._sdp_update(str(error))
        else:
            self._cancel_offer()
            self._sdp_update(f"{result.code} {result.reason}")
        if self._state is S.CONNECTED and self._sub_state is SS.SENDING_PROPOSAL:
            self._move_sub(SE.PROPOSAL_ANSWERED, "remote", **data)

    def _on_refresh_answered(self, result: DialogResult) -> None:
        """A 2xx to our re-INVITE or UPDATE: take its Session-Expires (none: no expiration)."""
        if result.is_success and result.response is not None and self._state is S.CONNECTED:
            self._session_timer.start(uac_outcome(result.response), we_are_uac=True)

    def _on_update(self, dialog: Dialog, transaction: Any, request: SIPRequest) -> None:
        try:
            sdp = _sdp_of(request)
        except SDPParseError as error:
            self._respond(dialog, transaction, 400, f"Bad Request - {error}"[:100])
            return
        self._on_refresh_received(request)
        if sdp is None:  # a refresh (session timers) or a target refresh: nothing to negotiate
            self._respond(dialog, transaction, 200, headers=self._refresh_response_headers(request))
            return
        n = self._negotiator
        if n.state is NegotiationState.LOCAL_OFFER and self._update is not None:
            self._respond(dialog, transaction, 491)  # both UPDATEs carry offers (RFC 3311 §5.2)
            return
        if n.state is not NegotiationState.DONE or self._received is not None:
            retry = str(int(self._random.uniform(0, 10)))
            self._respond(dialog, transaction, 500, headers=[("Retry-After", retry)])
            return
        if self._state is not S.CONNECTED or dialog is not self._dialog:
            self._respond(
                dialog, transaction, 488, "Not Acceptable Here - offers in early UPDATEs are not taken"
            )
            return
        if self._sub_state is SS.SENDING_PROPOSAL:  # our re-INVITE waits for its glare retry
            self._respond(dialog, transaction, 491)
            return
        try:
            n.set_remote_offer(sdp)
        except SDPNegotiationError as error:
            self._respond(dialog, transaction, 488, f"Not Acceptable Here - {error}"[:100])
            return
        self._received = (transaction, request)
        self._move_sub(
            SE.RECEIVE_PROPOSAL, "remote", method="UPDATE", headers=headers_of(request), body=request.body
        )

    def _on_refresh_received(self, request: SIPRequest) -> None:
        pass

    def _refresh_response_headers(self, request: SIPRequest) -> list[Any]:
        """The Session-Expires of our 200 to the peer's UPDATE without SDP; restarts the timer."""
        if self._state is not S.CONNECTED:
            return []
        negotiated = self._in_dialog_negotiation(request)
        self._session_timer.start(negotiated, we_are_uac=False)
        return self._session_timer.response_headers(request, negotiated)

    def _answer_proposal(self, code: int, reason: str | None, sdp: Any, headers: list[Any]) -> None:
        assert self._received is not None and self._dialog is not None
        transaction, request = self._received
        n = self._negotiator
        if code < 200:
            if request.method == "UPDATE":
                raise ValueError("an UPDATE is answered with a final response (RFC 3311 §5.2)")
            self._respond(self._dialog, transaction, code, reason, headers)
            return
        sub_transition(self._state, self._sub_state, SE.ANSWER_PROPOSAL)
        body = b""
        if code < 300:
            if n.state is NegotiationState.REMOTE_OFFER:
                if sdp is None:
                    raise InvitationStateError(
                        "the re-INVITE has an offer: the 2xx needs an answer", Culprit.LOCAL
                    )
                body = str(n.set_local_answer(sdp)).encode()
                self._negotiate()
            else:  # no offer in the re-INVITE: ours goes in the 2xx, the answer in the ACK
                offer = sdp if sdp is not None else n.active_local
                if offer is not None:
                    body = str(n.set_local_offer(offer)).encode()
            headers.append(("Allow", ALLOW))
            negotiated = self._in_dialog_negotiation(request)
            headers += self._session_timer.response_headers(request, negotiated)
            self._session_timer.start(negotiated, we_are_uac=False)
        else:
            self._cancel_offer()
        response = self._dialog.create_response(
            request, code, reason, extra_headers=headers, body=body, content_type=SDP_TYPE if body else None
        )
        transaction.send_response(response)
        self._received = None
        if code < 300 and request.method == "INVITE":
            self._start_2xx(transaction, response)
        self._move_sub(SE.ANSWER_PROPOSAL, "local", code=code, reason=response.reason)


def _name_of(header: Any) -> str:
    return str(header[0] if isinstance(header, tuple) else header.name).lower()


def _allow_of(message: SIPMessageLike) -> set[str]:
    """The methods of the Allow headers of ``message``, upper case."""
    return {method.strip().upper() for text in header_text(message, "Allow") for method in text.split(",")}


def _contact(message: SIPMessageLike) -> Any:
    try:
        contacts = message.get_all("Contact")
    except SIPParseError:
        return None
    return contacts[0] if contacts else None


def _refuse(transaction: Any, code: int, reason: str | None = None) -> None:
    from sipsimple.core.sip.message import make_response

    transaction.send_response(make_response(transaction.request, code, reason, to_tag=new_tag()))
