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
from collections.abc import Callable, Iterable
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

__all__ = ["ALLOW", "Invitation", "SDPView"]

log = logging.getLogger(__name__)

E = InvitationEvent
S = InvitationState
SE = SubEvent
SS = SubState

#: The methods we accept in an INVITE dialog (the Allow header of our INVITE and 2xx).
ALLOW = "INVITE, ACK, CANCEL, BYE, OPTIONS"
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

    def _forget(self, dialog: Dialog) -> None:
        dialog.terminate()
        key = (dialog.call_id, dialog.local_tag, dialog.remote_tag or None)
        if key in self._registered:
            self._registered.discard(key)
            self.engine.unregister_dialog(*key)

    def _teardown(self) -> None:
        self._timers.cancel_all()
        self._pending_2xx = None
        if self._proposal is not None:
            self._proposal.cancel()
            self._proposal = None
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
    ) -> None:
        """Send the INVITE (with ``sdp`` as the offer, or without one: a late offer)."""
        check_running(self.engine)
        transition(self._state, E.SEND_INVITE)
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
        )
        self._move(E.SEND_INVITE, "local", method="INVITE")
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
        if self._state is S.DISCONNECTING:
            if self._cancel_wanted:
                self._cancel_wanted = False
                self._send_cancel()
            return
        self._early_media(response)
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
        self._answer_2xx(dialog, response, number)

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
    ) -> Invitation | None:
        """Take an out-of-dialog INVITE: answer what cannot be served, else post 'incoming'."""
        request: SIPRequest = transaction.request
        invitation = cls(engine, resolver=resolver, random=random)
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

    def send_response(
        self,
        code: int,
        reason: str | None = None,
        sdp: Any = None,
        extra_headers: Iterable[BaseHeader] | None = None,
    ) -> None:
        """Answer the INVITE (or the peer's pending re-INVITE): 18x, 2xx (accept) or 3xx-6xx."""
        if not 101 <= code <= 699:
            raise ValueError(f"cannot send a {code} response")
        if self._state is S.CONNECTED and self._sub_state is SS.RECEIVED_PROPOSAL:
            self._answer_proposal(code, reason, sdp, list(extra_headers or ()))
            return
        event = E.SEND_PROVISIONAL if code < 200 else E.SEND_ACCEPT if code < 300 else E.SEND_REJECT
        transition(self._state, event)
        if self.direction != "incoming":
            raise InvitationStateError("only an incoming invitation is answered", Culprit.LOCAL)
        check_running(self.engine)
        assert self._dialog is not None and self._request is not None
        body = self._response_sdp(code, sdp)
        headers: list[Any] = list(extra_headers or ())
        if 200 <= code < 300:
            headers.append(("Allow", ALLOW))
        response = self._dialog.create_response(
            self._request, code, reason, extra_headers=headers, body=body,
            content_type=SDP_TYPE if body else None,
        )  # fmt: skip
        self._transaction.send_response(response)
        if code < 200:
            self._move(event, "local", code=code, reason=response.reason)
        elif code < 300:
            self._start_2xx(self._transaction, response)
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

    def _response_sdp(self, code: int, sdp: Any) -> bytes:
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
            return str(answer).encode()
        if n.state is NegotiationState.DONE:  # answered in a provisional: repeat it
            return b"" if n.local_sdp is None or code < 200 else str(n.local_sdp).encode()
        if n.state is NegotiationState.NO_OFFER and code >= 200:
            if sdp is None:
                raise InvitationStateError("the INVITE has no offer: the 2xx needs one", Culprit.LOCAL)
            return str(n.set_local_offer(sdp)).encode()  # the answer comes in the ACK
        if n.state is NegotiationState.LOCAL_OFFER:
            return str(n.local_sdp).encode()
        return b""

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
            extra_headers=self._proposal_headers, body=body, content_type=SDP_TYPE if body else None,
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
        if self._sub_state is SS.SENDING_PROPOSAL and "glare" not in self._timers:
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

    def _answer_proposal(self, code: int, reason: str | None, sdp: Any, headers: list[Any]) -> None:
        assert self._received is not None and self._dialog is not None
        transaction, request = self._received
        n = self._negotiator
        if code < 200:
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
        else:
            self._cancel_offer()
        response = self._dialog.create_response(
            request, code, reason, extra_headers=headers, body=body, content_type=SDP_TYPE if body else None
        )
        transaction.send_response(response)
        self._received = None
        if code < 300:
            self._start_2xx(transaction, response)
        self._move_sub(SE.ANSWER_PROPOSAL, "local", code=code, reason=response.reason)


def _contact(message: SIPMessageLike) -> Any:
    try:
        contacts = message.get_all("Contact")
    except SIPParseError:
        return None
    return contacts[0] if contacts else None


def _refuse(transaction: Any, code: int, reason: str | None = None) -> None:
    from sipsimple.core.sip.message import make_response

    transaction.send_response(make_response(transaction.request, code, reason, to_tag=new_tag()))
